;; batch.lsp: nn-train-pass with a BATCH (its 7th argument): batch 1 is
;; bit-identical to the pass without it; a batch of B makes one optimizer
;; step on the gradient averaged over B consecutive examples (the last,
;; shorter batch over its own size), as a Lisp loop of nn-fprop, nn-bprop
;; and nn-update does, for every optimizer, both costs and a mask; bad
;; BATCH values are errors naming it.

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
