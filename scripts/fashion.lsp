;; fashion.lsp: a small modern convolutional net on Fashion-MNIST (28x28
;; clothes, 10 classes, 60,000 training and 10,000 test images):
;;   input 1x28x28 -> random flip, random shift of up to 1 pixel (training)
;;   -> conv 3x3: W maps -> maxpool 2 -> batchnorm -> relu: Wx14x14
;;   -> conv 3x3: 2W maps -> maxpool 2 -> batchnorm -> relu: 2Wx7x7
;;   -> conv 3x3: 4W maps -> maxpool 2 -> batchnorm -> relu: 4Wx3x3
;;   -> linear 128 -> relu -> dropout 0.25 -> linear 10
;;   W = 16 (--width): 98,666 parameters, 2.06 million multiply-adds.
;; Each batch norm follows its pooling (as max pooling commutes with the
;; increasing map that batch norm applies with a positive scale, this is
;; the usual conv-batchnorm-relu-pool at a quarter of the normalisation's
;; cost). Augmentation, as layers of the net that act in training only: a
;; random horizontal flip and a random shift, drawn per example from the
;; generator, so that a resumed run draws them as the uninterrupted one.
;; Trained by softmax cross-entropy and AdamW, its rate following half a
;; cosine from --lr down to --lr/20 over the passes, the examples shuffled
;; every pass, in mini-batches (--batch, default 64) on every core; 18
;; passes by default. Same eval lines, outputs and final table as the other
;; scripts.
;;
;;   lush89 scripts/fashion.lsp [--passes N] [--lr X] [--width N] [--seed N] [--out DIR]
;;                              [--quiet] [--data fashion|mnist|digits|DIR] [--batch N]
;;                              [--threads N] [--resume DIR]

(libload "train")

(de fashion-net (width)
  "The net at the top of fashion.lsp with WIDTH maps in its first
convolution (2 WIDTH and 4 WIDTH in the next two), its weights drawn from
the generator (seed it first)."
  (nn-seq '(1 28 28)
    (nn-random-flip) (nn-random-shift 1)
    (nn-conv width 3 1 () 1 -1) (nn-maxpool 2) (nn-batchnorm) (nn-relu)
    (nn-conv (* 2 width) 3 1 () 1) (nn-maxpool 2) (nn-batchnorm) (nn-relu)
    (nn-conv (* 4 width) 3 1 () 1) (nn-maxpool 2) (nn-batchnorm) (nn-relu)
    (nn-linear 128) (nn-relu) (nn-dropout 0.25)
    (nn-linear 10)))

(de fashion-schedule (opt rate passes)
  "A before-pass function (see train-run) setting OPT's rate for pass p of
PASSES along half a cosine, from RATE at the first pass to RATE/20 at the
last."
  (lambda (pass)
    (let ((alpha (if (> passes 1) (/ (- pass 1) (- passes 1)) 0)))
      (nn-set-rate opt (* rate (+ 0.05 (* 0.475 (+ 1 (cos (* 3.141592653589793 alpha))))))))))

(de fashion-recipe (data rate passes width)
  "The recipe (see train-run) of fashion.lsp on DATA (fitted to 28x28): a
fresh (fashion-net WIDTH), AdamW on the cosine schedule from RATE over
PASSES shuffled passes. Seed the generator first."
  (let ((opt (nn-adamw rate)))
    (train-recipe 'name "fashion" 'net (fashion-net width) 'opt opt 'cost 'ce
                  'data data 'passes passes 'shuffle t
                  'before-pass (fashion-schedule opt rate passes))))

(de fashion-main (args)
  "The command line of scripts/fashion.lsp: parses ARGS (see the script),
trains on --data (default fashion) and prints the eval lines, the
confusion matrix and the final table. The rate defaults to 3e-3 for
mini-batches and to 5e-4 one example at a time. Returns the recipe."
  (let* ((opts (train-options args "usage: lush89 scripts/fashion.lsp [OPTION]..."
                              (list '("passes" 18) '("out" "out/fashion") '("data" "fashion")
                                    (list "batch" (if (train-batch-supported) 64 1)))
                              '(("width" int 16 "maps of the first convolution"))))
         (rate (or (hget opts "lr") (if (> (hget opts "batch") 1) 3e-3 5e-4)))
         (data (progn
                 (when (< (hget opts "width") 1)
                   (error "--width %d: the first convolution needs at least 1 map"
                          (hget opts "width")))
                 (train-data opts '(1 28 28)))))
    (seed (hget opts "seed"))
    (let ((r (train-configure (fashion-recipe data rate (hget opts "passes") (hget opts "width"))
                              opts)))
      (train-header r (sprintf "fashion: cross-entropy, AdamW %g on a cosine to %g"
                               rate (/ rate 20)))
      (train-run r))))

(when (script-main-p "fashion.lsp")
  (fashion-main (cdr argv)))
