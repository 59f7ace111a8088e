#!/usr/bin/env lush89
;; lenet5.lsp: LeNet-5 and its recipe as LeCun, Bottou, Bengio and Haffner
;; built them ("Gradient-Based Learning Applied to Document Recognition",
;; 1998; the net and the recipe are in lib/lenet5.lsp): 32x32 inputs,
;; C1-S2-C3-S4-C5-F6 with trainable subsampling and Table I's C3
;; connections, 1.7159 tanh(2/3 x), an RBF output layer with fixed 7x12
;; codes of the digits and the paper's loss, SDLM with the paper's schedule
;; (Hessian re-estimated on 500 examples before every pass), 20 passes one
;; example at a time. Prints the eval lines after each pass and a table
;; beside the paper's 0.95% test error on MNIST, and writes its outputs to
;; --out.
;;
;;   lush89 scripts/lenet5.lsp [--passes N] [--lr X] [--seed N] [--out DIR] [--quiet]
;;                             [--data digits|mnist|fashion|DIR] [--batch N]
;;                             [--threads N] [--resume DIR]
;;
;; --data picks the images, padded with the background to 32x32 as the
;; paper pads MNIST's 28x28: by default MNIST ($MNIST_DIR) when MNIST_DIR
;; is set, else Fashion-MNIST; `digits` is the 1989 split of real MNIST
;; digits. --lr is the schedule's first rate (0.0005); the later ones scale
;; with it. After every pass --out holds a checkpoint; --resume DIR
;; continues a killed run whose --out was DIR.

(libload "lenet5")

(when (script-main-p "lenet5.lsp")
  (lenet5-main (cdr argv)))
