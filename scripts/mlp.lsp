#!/usr/bin/env lush89
;; mlp.lsp: a new architecture, as a user writes one: a perceptron with two
;; hidden layers (256-100-50-10, tanh units, 31,260 parameters: three times
;; the 1989 net's, and no weight sharing), trained on the same digits with the
;; same recipe, eval lines, outputs and final table as scripts/lecun1989.lsp.
;;
;;   lush89 scripts/mlp.lsp [--passes N] [--lr X] [--seed N] [--out DIR] [--quiet]
;;                          [--data digits|mnist|fashion|DIR] [--batch N] [--threads N]
;;                          [--resume DIR]

(libload "train")

(de mlp-net ()
  "The two-hidden-layer perceptron, initialised as the 1989 net (weights
uniform in +-2.4/sqrt(fan-in), biases 0)."
  (let ((net (nn-seq '(1 16 16)
               (nn-linear 100) (nn-tanh)
               (nn-linear 50) (nn-tanh)
               (nn-linear 10) (nn-tanh))))
    (nn-init net 2.4 0)
    net))

(when (script-main-p "mlp.lsp")
  (train-main (cdr argv) "mlp" mlp-net))
