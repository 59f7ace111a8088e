;; eager.lsp: at batch 1, nn-train-pass updates each module's parameters
;; as soon as its bprop is done (plain SGD inside the linear kernels,
;; without writing the gradients; the other optimizers module by module),
;; and falls back to one step per example where parameters are shared.
;; Every case must be bit-identical to the Lisp loop of nn-fprop,
;; nn-bprop, nn-update and nn-clear-grads: linear modules of awkward
;; sizes, a convolution that covers its input, containers, a module given
;; twice, SDLM's rate factors, masks.

(libload "nn")

(de eg-nets ()
  "Fresh nets, each with its input shape and number of classes."
  (list (list '(70) 4 (nn-seq '(70) (nn-linear 37) (nn-tanh) (nn-linear 4)))
        (list '(2 5 5) 3
              (nn-seq '(2 5 5) (nn-conv 3 2 1) (nn-tanh) (nn-conv 17 4 1)
                      (nn-tanh) (nn-linear 3)))
        (list '(3) 5
              (nn-seq '(3) (nn-linear 6) (nn-residual (nn-linear 6) (nn-tanh))
                      (nn-linear 5)))
        (let ((shared (nn-linear 6)))
          (list '(6) 6 (nn-seq '(6) shared (nn-tanh) shared (nn-tanh))))))

(de eg-same (a b)
  "t when the tensors A and B hold exactly the same numbers."
  (= 0 (idx-sup (idx-abs (idx-sub a b)))))

(de eg-data (shape classes)
  "Nine random inputs of SHAPE and their classes."
  (list (idx-rand (apply float-matrix (cons 9 shape)) -1 1)
        (list->matrix (all ((i (range 9))) (mod (* 5 i) classes)))))

(de eg-loop (net opt xs labels)
  "The reference: per example nn-fprop, the cross-entropy, nn-bprop,
nn-update, nn-clear-grads."
  (let ((dy (float-matrix (idx-dim (nn-fprop net (select xs 0 0)) 0))))
    (for (e 0 (- (idx-dim xs 0) 1))
      (nn-cross-entropy (nn-fprop net (select xs 0 e)) (labels e) dy)
      (nn-bprop net dy)
      (nn-update net opt)
      (nn-clear-grads net))))

(de eg-prepare (net mask sdlm xs labels)
  "Initialises NET (seed 5); with MASK, masks every third parameter; with
SDLM, sets the rate factors by nn-sdlm-estimate."
  (seed 5)
  (nn-init net 1 0.1)
  (when mask
    (nn-mask net (let ((m (float-matrix (nn-nparams net))))
                   (for (i 0 (- (nn-nparams net) 1)) (m i (if (= 0 (mod i 3)) 0 1)))
                   m)))
  (when sdlm (nn-sdlm-estimate net sdlm xs labels 9 'ce)))

(each ((make-opt (list (lambda () (nn-sgd 0.1))
                       (lambda () (nn-sgd 0.1 0 0.01))
                       (lambda () (nn-sgd 0.1 0.9))
                       (lambda () (nn-adamw 0.01))
                       (lambda () (nn-sdlm 0.05 0.02))))
       (sdlm '(() () () () t)))
  (each ((mask '(() t)))
    (let ((k 0))
      (each ((spec (eg-nets)))
        (let* ((data (eg-data (car spec) (cadr spec)))
               (a (caddr spec)) (b (caddr (nth k (eg-nets))))
               (oa (make-opt)) (ob (make-opt)))
          (eg-prepare a mask (and sdlm oa) (car data) (cadr data))
          (eg-prepare b mask (and sdlm ob) (car data) (cadr data))
          (repeat 2 (nn-train-pass a oa (car data) (cadr data) 'ce))
          (repeat 2 (eg-loop b ob (car data) (cadr data)))
          (assert (eg-same (nn-params a) (nn-params b)))
          (assert (= 0 (idx-sup (idx-abs (nn-grads a))))))
        (setq k (+ k 1))))))

;; a pass that fails before any update counts no AdamW step
(each ((batch '(1 2)))
  (let ((net (nn-init (nn-seq '(3) (nn-linear 2)) 1 0)) (o (nn-adamw 0.01)))
    (assert-error (nn-train-pass net o (idx-rand (float-matrix 4 3) -1 1)
                                 (float-matrix 4 2) (lambda (y tg dy ddy) (error "stop"))
                                 () batch)
                  "stop")
    (assert (= 0 ((nth 2 (nn-optimizer-state o net)) 0)))))
