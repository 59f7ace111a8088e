#!/usr/bin/env lush89
;; lenet1.lsp: a new architecture in a few lines. The shape of LeNet-1
;; (LeCun et al. 1990), the 1989 net's successor: convolutions with
;; stride 1, each followed by a 2x2 averaging ("subsampling") layer, instead
;; of stride-2 convolutions. Sized for the 16x16 digits:
;;   input 1x16x16 -> conv 5x5 pad 2: 4 maps 16x16 -> tanh -> avg-pool: 4x8x8
;;   -> conv 5x5 pad 2: 12 maps 8x8 -> tanh -> avg-pool: 12x4x4 -> linear 10
;;   -> tanh;  3,246 parameters (a third of the 1989 net's).
;; The pooling is the simulator's (nn-avgpool 2); scripts/resnet.lsp shows
;; a layer written in Lisp. Same recipe, eval lines, outputs and final
;; table as scripts/lecun1989.lsp.
;;
;;   lush89 scripts/lenet1.lsp [--passes N] [--lr X] [--seed N] [--out DIR] [--quiet]
;;                             [--data digits|mnist|fashion|DIR] [--batch N] [--threads N]
;;                             [--resume DIR]

(libload "train")

(de lenet1-net ()
  "The LeNet-1-shaped net (see the top of lenet1.lsp), initialised as the
1989 net (weights uniform in +-2.4/sqrt(fan-in), biases 0)."
  (let ((net (nn-seq '(1 16 16)
               (nn-conv 4 5 1 () 2 -1) (nn-tanh) (nn-avgpool 2)
               (nn-conv 12 5 1 () 2 -1) (nn-tanh) (nn-avgpool 2)
               (nn-linear 10) (nn-tanh))))
    (nn-init net 2.4 0)
    net))

(when (script-main-p "lenet1.lsp")
  (train-main (cdr argv) "lenet1" lenet1-net))
