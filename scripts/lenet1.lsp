#!/usr/bin/env lush89
;; lenet1.lsp: a new architecture with a layer written in Lisp. The shape of
;; LeNet-1 (LeCun et al. 1990), the 1989 net's successor: convolutions with
;; stride 1, each followed by a 2x2 averaging ("subsampling") layer, instead
;; of stride-2 convolutions. Sized for the 16x16 digits:
;;   input 1x16x16 -> conv 5x5 pad 2: 4 maps 16x16 -> tanh -> avg-pool: 4x8x8
;;   -> conv 5x5 pad 2: 12 maps 8x8 -> tanh -> avg-pool: 12x4x4 -> linear 10
;;   -> tanh;  3,246 parameters (a third of the 1989 net's).
;; The pooling layer is a Lisp class with fprop, bprop and bbprop methods,
;; plugged into nn-seq beside the C modules. Same recipe, eval lines, outputs
;; and final table as scripts/lecun1989.lsp.
;;
;;   lush89 scripts/lenet1.lsp [--passes N] [--lr X] [--seed N] [--out DIR] [--quiet]
;;                             [--data digits|mnist|fashion|DIR] [--batch N] [--threads N]
;;                             [--resume DIR]

(libload "train")

;; 2x2 average pooling over the last two dimensions (of even sizes).
(defclass avg-pool ())

(defmethod avg-pool windows (m)
  "The four views of M ([C H W]) holding the top-left, top-right,
bottom-left and bottom-right element of each 2x2 window: each [C H/2 W/2]."
  (let ((w (unfold (unfold m 1 2 2) 2 2 2)))
    (list (select (select w 4 0) 3 0) (select (select w 4 1) 3 0)
          (select (select w 4 0) 3 1) (select (select w 4 1) 3 1))))

(defmethod avg-pool fprop (x)
  (let ((v (==> this windows x)))
    (idx-dotm0 (idx-add (idx-add (nth 0 v) (nth 1 v)) (idx-add (nth 2 v) (nth 3 v)))
               0.25)))

(defmethod avg-pool spread (x d k)
  "A new tensor shaped as X with K times D's elements in each window."
  (let ((out (apply float-matrix (idx-shape x))))
    (each ((view (==> this windows out)))
      (idx-dotm0 d k view))
    out))

(defmethod avg-pool bprop (x y dy)
  (==> this spread x dy 0.25))

(defmethod avg-pool bbprop (x y ddy)
  (==> this spread x ddy 0.0625))

(de lenet1-net ()
  "The LeNet-1-shaped net (see the top of lenet1.lsp), initialised as the
1989 net (weights uniform in +-2.4/sqrt(fan-in), biases 0)."
  (let ((net (nn-seq '(1 16 16)
               (nn-conv 4 5 1 () 2 -1) (nn-tanh) (new avg-pool)
               (nn-conv 12 5 1 () 2 -1) (nn-tanh) (new avg-pool)
               (nn-linear 10) (nn-tanh))))
    (nn-init net 2.4 0)
    net))

(when (script-main-p "lenet1.lsp")
  (train-main (cdr argv) "lenet1" lenet1-net))
