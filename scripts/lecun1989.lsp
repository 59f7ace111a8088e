#!/usr/bin/env lush89
;; lecun1989.lsp: the 1989 recipe of LeCun et al., "Backpropagation Applied
;; to Handwritten Zip Code Recognition": prepares the digits when missing,
;; trains the 9,760-parameter net 23 passes with the mean squared error and
;; plain SGD (rate 0.03, one example at a time in fixed order), prints the
;; eval lines after each pass and a table beside the paper's results, and
;; writes its outputs to --out. `--optimizer sdlm` trains with the paper's
;; stochastic diagonal Levenberg-Marquardt instead.
;;
;;   lush89 scripts/lecun1989.lsp [--passes N] [--lr X] [--seed N]
;;                                [--optimizer sgd|sdlm] [--out DIR] [--quiet]
;;                                [--data digits|mnist|fashion|DIR] [--batch N]
;;                                [--threads N] [--resume DIR]
;;
;; --data picks the images (resized to 16x16): the digits of the paper's
;; split (the default), MNIST ($MNIST_DIR), Fashion-MNIST or a folder of IDX
;; files. After every pass --out holds a checkpoint; --resume DIR continues
;; a killed run whose --out was DIR. At the end, the test split's confusion
;; matrix is printed and written to confusion.csv.

(libload "lecun1989")

(lecun1989-main (cdr argv))
