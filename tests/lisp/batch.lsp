;; batch.lsp: nn-train-pass with a BATCH (its 7th argument): batch 1 is
;; bit-identical to the pass without it; a batch of B makes one optimizer
;; step on the gradient averaged over B consecutive examples (the last,
;; shorter batch over its own size), as a Lisp loop of nn-fprop, nn-bprop
;; and nn-update does, for every optimizer, both costs and a mask; bad
;; BATCH values are errors naming it.

(libload "nn")

(de bt-net ()
  "A small net with fixed random parameters (seed 7)."
  (let ((n (nn-seq '(6) (nn-linear 5) (nn-tanh) (nn-linear 3))))
    (seed 7)
    (nn-init n 1 0.1)
    n))

(seed 11)
(defvar bt-xs (idx-rand (float-matrix 11 6) -1 1))
(defvar bt-ts (idx-rand (float-matrix 11 3) -1 1))
(defvar bt-classes (let ((c (int-matrix 11))) (for (i 0 10) (c i (mod (* 7 i) 3))) c))
(defvar bt-order (let ((o (int-matrix 11))) (for (i 0 10) (o i (mod (* 4 i) 11))) o))

(de bt-same (a b)
  "t when the tensors A and B hold exactly the same numbers."
  (and (equal (idx-shape a) (idx-shape b)) (= 0 (idx-sup (idx-abs (idx-sub a b))))))

(de bt-diff (a b)
  "The largest absolute difference between the tensors A and B."
  (idx-sup (idx-abs (idx-sub a b))))

(de bt-cost-grad (cost y target dy)
  "The loss of output Y against TARGET under COST ('mse or 'ce), filling DY."
  (if (eq cost 'ce) (nn-cross-entropy y target dy) (nn-mse y target dy)))

(de bt-loop (net opt xs ts cost order batch)
  "The reference: the examples of XS in ORDER, BATCH at a time; for each
batch, the gradients of its examples summed by nn-bprop, divided by the
batch's size, and one nn-update. Returns the mean loss."
  (let ((dy (float-matrix 3)) (k 0) (steps (idx-dim order 0)) (loss 0))
    (while (< k steps)
      (let ((end (min steps (+ k batch))))
        (nn-clear-grads net)
        (for (j k (- end 1))
          (let ((e (order j)))
            (setq loss (+ loss (bt-cost-grad cost (nn-fprop net (select xs 0 e))
                                             (if (eq cost 'ce) (ts e) (select ts 0 e)) dy)))
            (nn-bprop net dy)))
        (let ((g (nn-grads net)))
          (idx-div g (idx-fill (copy-matrix g) (- end k)) g))
        (nn-update net opt)
        (setq k end)))
    (/ loss steps)))

;; ---- batch 1 is today's pass, bit for bit
(each ((make-opt (list (lambda () (nn-sgd 0.1 0.9 0.01))
                       (lambda () (nn-adamw 0.01)))))
  (let ((a (bt-net)) (b (bt-net)) (c (bt-net)))
    (let ((ra (nn-train-pass a (make-opt) bt-xs bt-ts () bt-order))
          (rb (nn-train-pass b (make-opt) bt-xs bt-ts () bt-order 1))
          (rc (nn-train-pass c (make-opt) bt-xs bt-ts () () ())))
      (assert (not (bt-same (nn-params a) (nn-params (bt-net))))) ; it trained
      (assert (bt-same (nn-params a) (nn-params b)))
      (assert (equal ra rb))
      (assert (numberp (car rc))))))

;; ---- a batch of B is the Lisp loop that averages B gradients per step
(defclass bt-sgd ())
(defmethod bt-sgd step (w g r rate)
  (idx-sub w (idx-mul (idx-mul g r) (idx-fill (copy-matrix g) rate)) w))

(each ((make-opt (list (lambda () (nn-sgd 0.1))
                       (lambda () (nn-sgd 0.1 0.9 0.01))
                       (lambda () (nn-adamw 0.01))
                       (lambda () (nn-lisp-optimizer (new bt-sgd) 0.1)))))
  (each ((cost '(mse ce mse)) (batch '(4 2 11)))
    (let ((a (bt-net)) (b (bt-net)) (oa (make-opt)) (ob (make-opt))
          (ts (if (eq cost 'ce) bt-classes bt-ts)))
      (let ((ra (nn-train-pass a oa bt-xs ts cost bt-order batch))
            (lb (bt-loop b ob bt-xs ts cost bt-order batch)))
        (assert (< (bt-diff (nn-params a) (nn-params b)) 1e-6))
        (assert (< (abs (- (car ra) lb)) 1e-5))
        (assert (= 0 (idx-sup (idx-abs (nn-grads a))))))
      ;; a second pass continues from the optimizer's state
      (nn-train-pass a oa bt-xs ts cost bt-order batch)
      (bt-loop b ob bt-xs ts cost bt-order batch)
      (assert (< (bt-diff (nn-params a) (nn-params b)) 1e-6)))))

;; batch B is not batch 1: the steps are fewer and averaged
(let ((a (bt-net)) (b (bt-net)))
  (nn-train-pass a (nn-sgd 0.1) bt-xs bt-ts () () 1)
  (nn-train-pass b (nn-sgd 0.1) bt-xs bt-ts () () 4)
  (assert (> (bt-diff (nn-params a) (nn-params b)) 1e-4)))

;; by hand: y = w x + b, loss (y - t)^2, w = 0.5, b = 0.25; x 2 -> t 1 gives
;; (dw db) = (1 0.5), x 1 -> t 0 gives (1.5 1.5): one step on the mean
(let ((n (nn-seq '(1) (nn-linear 1))))
  (idx-copy [0.5 0.25] (nn-params n))
  (nn-train-pass n (nn-sgd 0.1) [[2] [1]] [[1] [0]] () () 2)
  (assert (< (bt-diff (nn-params n) [(- 0.5 (* 0.1 1.25)) (- 0.25 (* 0.1 1))]) 1e-7)))

;; a batch larger than the data is one batch: the loss is the untrained net's
(let ((a (bt-net)) (b (bt-net)))
  (let ((before (nn-evaluate a bt-xs bt-ts))
        (ra (nn-train-pass a (nn-sgd 0.1) bt-xs bt-ts () () 1000000))
        (rb (nn-train-pass b (nn-sgd 0.1) bt-xs bt-ts () () 11)))
    (assert (< (abs (- (car before) (car ra))) 1e-6))
    (assert (bt-same (nn-params a) (nn-params b)))
    (assert (equal ra rb))))

;; a mask holds with batches as without
(let* ((n (bt-net)) (mask (idx-fill (copy-matrix (nn-params n)) 1)))
  (for (i 0 (- (nn-nparams n) 1) 3) (mask i 0))
  (nn-mask n mask)
  (let ((before (copy-matrix (nn-params n))))
    (nn-train-pass n (nn-sgd 0.1 0.9) bt-xs bt-ts () bt-order 3)
    (assert (= 0 (idx-sup (idx-abs (idx-mul (nn-params n) (idx-sub (idx-fill (copy-matrix mask) 1) mask))))))
    (assert (> (bt-diff (nn-params n) before) 0))))

;; ---- bad batches
(each ((bad (list 0 -1 1.5 "2" (list 2) (/ 1 0) 1e19)))
  (assert-error (nn-train-pass (bt-net) (nn-sgd 0.1) bt-xs bt-ts () () bad) "BATCH"))
(assert-error (nn-train-pass (bt-net) (nn-sgd 0.1) bt-xs bt-ts () () 0) "argument 7")

;; ---- every module takes a batch [B ...]: outputs, input gradients and
;; summed parameter gradients equal those of its examples one at a time

(de bt-rand (shape)
  "A new float tensor of SHAPE (a list), uniform in [-1, 1]."
  (idx-rand (apply float-matrix shape) -1 1))

(de bt-singles (net xs rs)
  "Runs NET on each example of XS one at a time, back-propagating the
matching example of RS: (outputs input-gradients parameter-gradients), the
first two stacked as batches, the last summed."
  (let* ((nb (idx-dim xs 0))
         (ys (apply float-matrix (cons nb (nn-shape net))))
         (dxs (copy-matrix xs)))
    (nn-clear-grads net)
    (for (i 0 (- nb 1))
      (idx-copy (nn-fprop net (select xs 0 i)) (select ys 0 i))
      (idx-copy (nn-bprop net (select rs 0 i)) (select dxs 0 i)))
    (list ys dxs (copy-matrix (nn-grads net)))))

(de bt-batched (net xs rs)
  "The same as bt-singles with the whole batch in one nn-fprop and one
nn-bprop."
  (nn-clear-grads net)
  (let* ((ys (nn-fprop net xs))
         (dxs (nn-bprop net rs)))
    (list ys dxs (copy-matrix (nn-grads net)))))

(de bt-close (a b tol)
  "t when every number of A is within TOL of B's, relative to B's largest
(or to 1); t for empty tensors of the same shape."
  (and (equal (idx-shape a) (idx-shape b))
       (or (= 0 (apply * (idx-shape b)))
           (<= (bt-diff a b) (* tol (max 1 (idx-sup (idx-abs b))))))))

(de bt-check-batch (shape modules modes)
  "Builds a net of MODULES for inputs of SHAPE and checks, in each of the
MODES, that a batch of 3 gives what its examples give one at a time."
  (let ((net (apply nn-seq (cons shape modules))))
    (seed 5)
    (nn-init net 1 0.1)
    (let ((xs (bt-rand (cons 3 shape)))
          (rs (bt-rand (cons 3 (nn-shape net)))))
      (each ((mode modes))
        (nn-mode net mode)
        (let ((s (bt-singles net xs rs)) (b (bt-batched net xs rs)))
          (assert (equal (idx-shape (car b)) (cons 3 (nn-shape net))))
          (assert (bt-close (car b) (car s) 1e-6))
          (assert (bt-close (cadr b) (cadr s) 1e-6))
          (assert (bt-close (nth 2 b) (nth 2 s) 1e-5)))))))

(seed 3)
(defvar bt-centers (bt-rand '(3 4)))
(each ((case (list (list '(1 6 6) (list (nn-conv 2 3 1)) '(train eval))
                   (list '(2 7 7) (list (nn-conv 3 3 2 () 1)) '(train eval))
                   (list '(5) (list (nn-linear 4)) '(train eval))
                   (list '(2 3 3) (list (nn-tanh)) '(train))
                   (list '(2 3 3) (list (nn-stanh)) '(train))
                   (list '(2 3 3) (list (nn-relu)) '(train))
                   (list '(2 3 3) (list (nn-sigmoid)) '(train))
                   (list '(2 3 3) (list (nn-leaky-relu 0.1)) '(train))
                   (list '(2 4 4) (list (nn-maxpool 2)) '(train))
                   (list '(2 4 4) (list (nn-avgpool 2)) '(train))
                   (list '(2 4 4) (list (nn-subsample 2)) '(train))
                   (list '(2 3 3) (list (nn-batchnorm)) '(eval))
                   (list '(2 3 3) (list (nn-dropout 0.5)) '(eval))
                   (list '(2 5 5) (list (nn-random-shift 1)) '(eval))
                   (list '(5) (list (nn-softmax)) '(train))
                   (list '(5) (list (nn-logsoftmax)) '(train))
                   (list '(4) (list (nn-rbf bt-centers t)) '(train))
                   (list '(2 4 4) (list (nn-residual (nn-conv 2 3 1 () 1) (nn-relu))) '(train))
                   (list '(4) (list (nn-concat (nn-linear 2) (nn-linear 3))) '(train))
                   (list '(4) (list (nn-seq '(4) (nn-linear 3) (nn-tanh))) '(train))
                   (list '(2 3 3) (list (new nn-affine 2)) '(train))
                   (list '(2 3 3) (list (new nn-square)) '(train))
                   (list '(1 6 6) (list (nn-conv 2 3 1) (nn-tanh) (nn-maxpool 2)
                                        (nn-linear 3)) '(train eval)))))
  (apply bt-check-batch case))

;; A batch of one example takes the same shapes as one example.
(let ((net (nn-seq '(3) (nn-linear 2))))
  (assert (equal (idx-shape (nn-fprop net (float-matrix 1 3))) '(1 2)))
  (assert (equal (idx-shape (nn-fprop net (float-matrix 3))) '(2)))
  (assert (equal (idx-shape (nn-state net 0)) '(3)))
  (nn-fprop net (float-matrix 4 3))
  (assert (equal (idx-shape (nn-state net 1)) '(4 2)))
  (assert-error (nn-bprop net (float-matrix 2)) "ran 4 examples")
  (assert-error (nn-fprop net (float-matrix 4 5)) "expected a tensor of shape [3]"))

;; ---- batch normalisation in training normalises over the batch

(let* ((net (nn-seq '(2 3) (nn-batchnorm)))
       (xs (bt-rand '(4 2 3)))
       (ys (nn-fprop net xs)))
  (for (c 0 1)
    (let ((sum 0) (sq 0))
      (for (b 0 3) (for (s 0 2) (setq sum (+ sum (ys b c s))) (setq sq (+ sq (* (ys b c s) (ys b c s))))))
      (assert (< (abs (/ sum 12)) 1e-6))          ; mean 0 over batch and positions
      (assert (< (abs (- (/ sq 12) 1)) 1e-3))))   ; variance 1 (eps 1e-5)
  ;; the running averages moved once, towards the batch's mean
  (let ((mean (car (nn-batchnorm-stats (car (nn-modules net))))) (m0 0))
    (for (b 0 3) (for (s 0 2) (setq m0 (+ m0 (xs b 0 s)))))
    (assert (< (abs (- (mean 0) (* 0.1 (/ m0 12)))) 1e-6)))
  ;; the input gradient through the batch statistics, against central
  ;; differences of sum(r y) over the batch
  (let* ((rs (bt-rand '(4 2 3)))
         (dx (nn-bprop net rs))
         (loss (lambda () (idx-sum (idx-mul (nn-fprop net xs) rs))))
         (worst 0))
    (for (b 0 3)
      (for (s 0 2)
        (let ((keep (xs b 1 s)))
          (xs b 1 s (+ keep 1e-2))
          (let ((lp (loss)))
            (xs b 1 s (- keep 1e-2))
            (let ((lm (loss)))
              (xs b 1 s keep)
              (setq worst (max worst (abs (- (/ (- lp lm) 2e-2) (dx b 1 s))))))))))
    (assert (< worst 1e-2))))

;; ---- threads: the same numbers for 1, 2 or 3 threads

(de bt-conv-net ()
  "A net with every kind of step a batch meets: convolutions, batch norm
(statistics over the whole batch), dropout and shifts (draws per
example), a residual holding batch norm, pooling, a linear layer."
  (seed 9)
  (nn-init (nn-seq '(1 8 8)
             (nn-random-shift 1) (nn-conv 4 3 1 () 1) (nn-batchnorm) (nn-relu)
             (nn-residual (nn-conv 4 3 1 () 1) (nn-batchnorm)) (nn-maxpool 2)
             (nn-dropout 0.2) (nn-linear 3))
           1 0))

(seed 4)
(defvar bt-images (bt-rand '(40 1 8 8)))
(defvar bt-labels (let ((c (int-matrix 40))) (for (i 0 39) (c i (mod i 3))) c))

(de bt-threaded (threads batch)
  "Trains bt-conv-net on (nn-threads THREADS) in batches of BATCH for two
passes and evaluates it: (params loss-and-errors evaluation predictions)."
  (let ((old (nn-threads)) (net (bt-conv-net)) (opt (nn-sgd 0.05 0.9)) (r ()))
    (nn-threads threads)
    (seed 21)
    (nn-train-pass net opt bt-images bt-labels 'ce () batch)
    (setq r (nn-train-pass net opt bt-images bt-labels 'ce () batch))
    (let ((out (list (copy-matrix (nn-params net)) r
                     (nn-evaluate net bt-images bt-labels 'ce)
                     (nn-predict net bt-images))))
      (nn-threads old)
      out)))

(each ((batch '(16 7)))
  (let ((one (bt-threaded 1 batch)))
    (assert (not (bt-same (car one) (nn-params (bt-conv-net))))) ; it trained
    (each ((threads '(2 3)))
      (let ((other (bt-threaded threads batch)))
        (assert (bt-same (car one) (car other)))
        (assert (equal (cadr one) (cadr other)))
        (assert (equal (nth 2 one) (nth 2 other)))
        (assert (bt-same (nth 3 one) (nth 3 other)))))))

;; nn-threads: the default from LUSH89_THREADS, and its bounds
(assert (= 0 (sys "test \"$(LUSH89_THREADS=3 ./lush89 -e '(print (nn-threads))')\" = 3")))
(assert (= 0 (sys "test \"$(LUSH89_THREADS=x ./lush89 -e '(print (nn-threads))')\" -ge 1")))
(assert-error (nn-threads 17) "a number of threads in [1, 16]")

;; A pass that allocates its buffers (the first batch of 64 on a new net)
;; while the example order is held only by the C code: the collection must
;; see it (an -O3 build once kept only a pointer before the order's start,
;; and crashed).
(let ((x (idx-rand (float-matrix 64 1 16 16) -1 1))
      (tg (int-matrix 64)))
  (for (i 1 3)
    (let ((net (nn-seq '(1 16 16) (nn-conv 16 3 1 () 1 -1) (nn-linear 10))))
      (assert (numberp (car (nn-train-pass net (nn-sgd 1e-3) x tg 'ce () 64)))))))
;; the default follows the cores the process may run on
(assert (= 0 (sys "test \"$(taskset -c 0 ./lush89 -e '(print (nn-threads))')\" = 1")))

;; the optimizers skip the rate factors while they are all 1; one written
;; through nn-rates still counts: set in a net before it goes inside
;; another, or in the net around it afterwards
(de bt-rate-moves (set-before)
  "Trains a net around an inner net whose first rate is 0 (set before or
after nesting): (first-weight-moved second-weight-moved)."
  (let* ((inner (nn-seq '(3) (nn-linear 2)))
         (_ (when set-before ((nn-rates inner) 0 0)))
         (net (nn-seq '(3) inner (nn-linear 2)))
         (x (idx-rand (float-matrix 4 3) -1 1))
         (tg (idx-rand (float-matrix 4 2) -1 1)))
    (unless set-before ((nn-rates net) 0 0))
    (let ((w0 ((nn-params net) 0)) (w1 ((nn-params net) 1)))
      (nn-train-pass net (nn-sgd 0.1) x tg)
      (list (not (= w0 ((nn-params net) 0))) (not (= w1 ((nn-params net) 1)))))))
(assert (equal (bt-rate-moves t) '(() t)))
(assert (equal (bt-rate-moves ()) '(() t)))

;; ---- the examples of a slice go through linear layers together (and
;; convolutions that cover their input), with the same bits as a net
;; that runs them one at a time: the same modules inside a container
(de bt-grouped-modules ()
  "Stride-1 conv, pool, a conv as large as its input, linear layers."
  (list (nn-conv 3 3 1) (nn-tanh) (nn-avgpool 2) (nn-conv 7 4 1) (nn-tanh)
        (nn-linear 5) (nn-tanh) (nn-linear 3)))

(de bt-grouped-net (wrap)
  "bt-grouped-modules with fixed parameters, inside an nn-seq when WRAP."
  (let* ((inner (apply nn-seq (cons '(1 10 10) (bt-grouped-modules))))
         (net (if wrap (nn-seq '(1 10 10) inner) inner)))
    (seed 9)
    (nn-init net 1 0.1)
    net))

(seed 4)
(let ((xs (idx-rand (float-matrix 70 1 10 10) -1 1))
      (cs (let ((c (int-matrix 70))) (for (i 0 69) (c i (mod (* 7 i) 3))) c)))
  (each ((batch '(13 16 64 64)) (threads '(2 1 1 3)))
    (let ((a (bt-grouped-net ())) (b (bt-grouped-net t)) (old (nn-threads)))
      (assert (bt-same (nn-params a) (nn-params b)))
      (nn-threads threads)
      (let ((ra (nn-train-pass a (nn-sgd 0.05 0.9) xs cs 'ce () batch))
            (rb (progn (nn-threads old)
                       (nn-train-pass b (nn-sgd 0.05 0.9) xs cs 'ce () batch))))
        (assert (not (bt-same (nn-params a) (nn-params (bt-grouped-net ())))))
        (assert (bt-same (nn-params a) (nn-params b)))
        (assert (equal ra rb)))))
  ;; nn-fprop and nn-bprop of a batch, whose examples keep their states
  (let ((a (bt-grouped-net ())) (b (bt-grouped-net t))
        (x (narrow xs 0 21)) (r (idx-rand (float-matrix 21 3) -1 1)))
    (assert (bt-same (nn-fprop a x) (nn-fprop b x)))
    (assert (bt-same (nn-bprop a r) (nn-bprop b r)))
    (assert (not (bt-same (nn-grads a) (idx-fill (copy-matrix (nn-grads a)) 0))))
    (assert (bt-same (nn-grads a) (nn-grads b)))))

;; a pass run from inside a slice (a Lisp cost predicting with another
;; net) leaves the outer pass's work areas alone
(let* ((other (progn (seed 3) (nn-init (nn-seq '(4) (nn-linear 4)) 1 0)))
       (ox (idx-rand (float-matrix 16 4) -1 1))
       (xs (idx-rand (float-matrix 16 50) -1 1))
       (ts (idx-rand (float-matrix 16 3) -1 1))
       (make (lambda () (seed 5) (nn-init (nn-seq '(50) (nn-linear 40) (nn-tanh) (nn-linear 3)) 1 0.1)))
       (a (make)) (b (make))
       (nested (lambda (y tg dy ddy) (nn-predict other ox) (nn-mse y tg dy))))
  (repeat 2 (nn-train-pass a (nn-sgd 0.01) xs ts nested () 16))
  (repeat 2 (nn-train-pass b (nn-sgd 0.01) xs ts () () 16))
  (assert (bt-same (nn-params a) (nn-params b))))

;; a pass stopped midway (an error in its cost) leaves no gradient behind
;; for the next batches, even after a pass of one example in between
(each ((between '(1 2)))
  (let* ((a (bt-net)) (b (bt-net)) (calls 0)
         (failing (lambda (y tg dy ddy)
                    (incr calls)
                    (when (= calls 6) (error "stop"))
                    (nn-mse y tg dy))))
    (assert-error (nn-train-pass a (nn-sgd 0.1) bt-xs bt-ts failing () 8) "stop")
    (nn-train-pass a (nn-sgd 0) bt-xs bt-ts () [0 1] between)
    (nn-train-pass a (nn-sgd 0.1) bt-xs bt-ts () () 8)
    (nn-train-pass b (nn-sgd 0.1) bt-xs bt-ts () () 8)
    (assert (bt-same (nn-params a) (nn-params b)))))
