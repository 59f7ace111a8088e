;; lenet5.lsp: the training benchmark. A LeNet-5-shaped net on
;; Fashion-MNIST ($FASHION_MNIST_DIR, default
;; /usr/share/datasets/fashion-mnist):
;;
;;   conv 6@5x5 -> tanh -> avgpool 2 -> conv 16@5x5 (all 6 inputs) -> tanh
;;   -> avgpool 2 -> conv 120@5x5 -> tanh -> linear 84 -> tanh -> linear 10
;;                                                        (61,706 parameters)
;;
;; the 60,000 training images padded 28->32 with -1 and scaled to [-1,1]
;; (kept as bytes, converted a chunk at a time), the cross-entropy, SGD at
;; rate 0.01 one example at a time, or 0.05 with momentum 0.9 for batches
;; (--batch B > 1, nn-train-pass's BATCH), a new shuffled order every pass.
;; After each pass it prints
;;
;;   time: pass 1 train 2.345 s eval 0.456 s (25586 examples/s)
;;
;; (examples/s: training examples per second of training) and the eval lines
;; of both splits, after a first line naming the data, the batch and the
;; threads. bench/torch_lenet5.py is the same in PyTorch; bench/run.sh
;; runs both side by side.
;;
;;   lush89 bench/lenet5.lsp [--batch B] [--threads T] [--passes P] [--limit N]
;;
;; --limit N trains and evaluates on the first N images of each split;
;; --threads sets the threads (default: $LUSH89_THREADS, else all cores).

(libload "train")

(de bench-lenet5-net ()
  "The benchmark's net (see the top of bench/lenet5.lsp), initialised by
(nn-init net 1 0) from the generator."
  (nn-init (nn-seq '(1 32 32)
             (nn-conv 6 5 1) (nn-tanh) (nn-avgpool 2)
             (nn-conv 16 5 1) (nn-tanh) (nn-avgpool 2)
             (nn-conv 120 5 1) (nn-tanh)
             (nn-linear 84) (nn-tanh)
             (nn-linear 10))
           1 0))

(de bench-lenet5-main (args)
  "Parses ARGS (see the top of bench/lenet5.lsp), loads Fashion-MNIST and
runs the passes, printing the time line and the eval lines of each."
  (let* ((opts (train-options
                args "usage: lush89 bench/lenet5.lsp [--batch B] [--threads T] [--passes P] [--limit N]"
                '(("passes" 1) ("data" "fashion"))
                '(("limit" int () "use only the first N images of each split"))))
         (batch (hget opts "batch"))
         (limit (hget opts "limit"))
         (data (let ((all (train-data opts)))
                 (data-fit (if limit (data-slice all limit limit) all) '(1 32 32) 'pad))))
    (seed (hget opts "seed"))
    (let ((r (train-configure
              (train-recipe 'name "bench lenet5" 'net (bench-lenet5-net)
                            'opt (if (= batch 1)
                                     (nn-sgd (or (hget opts "lr") 0.01))
                                   (nn-sgd (or (hget opts "lr") 0.05) 0.9))
                            'cost 'ce 'data data 'shuffle t
                            'passes (hget opts "passes"))
              opts)))
      (hset r 'quiet t)
      (printf "lenet5: %s, %d training and %d test images, batch %d, %d thread%s\n"
              (hget data 'name) (data-count data 'train) (data-count data 'test)
              batch (nn-threads) (if (= 1 (nn-threads)) "" "s"))
      (for (pass 1 (hget r 'passes))
        (let* ((seconds (nth 2 (train-pass r pass)))
               (start (clock))
               (evals (all ((split '(train test))) (cons split (train-evaluate r split))))
               (eval-seconds (- (clock) start)))
          (printf "time: pass %d train %.3f s eval %.3f s (%.0f examples/s)\n"
                  pass seconds eval-seconds (/ (data-count data 'train) (max seconds 1e-9)))
          (each ((e evals)) (train-eval-line (car e) (cdr e)))
          (flush)))
      r)))

(bench-lenet5-main (cdr argv))
