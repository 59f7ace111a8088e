#!/usr/bin/env lush89
;; obd.lsp: Optimal Brain Damage (LeCun, Denker and Solla, 1990) on the
;; 1989 net. Trains it with its recipe (or loads --params), then deletes
;; in steps a fraction of its live parameters, those of least saliency
;; s_k = h_kk u_k^2 / 2 (h_kk the diagonal second derivative averaged over
;; the training set), retraining after each step, until --keep of them are
;; left; beside it, the same schedule deleting the smallest |u_k|, from the
;; same starting net. Deleted parameters stay exactly zero (nn-mask).
;;
;;   lush89 scripts/obd.lsp [--step X] [--keep X] [--retrain N]
;;                          [--params FILE] [--passes N] [--lr X] [--seed N]
;;                          [--optimizer sgd|sdlm] [--data NAME] [--out DIR]
;;                          [--quiet] [--threads N]
;;
;; Defaults: 20% of the live parameters a step, 2 retraining passes after
;; each, down to 5% of them. Writes to --out (default out/obd): obd.csv
;; (kept,params,obd_train_error,obd_test_error,mag_train_error,
;; mag_test_error: one row per step, errors in percent, the unpruned net
;; first), obd.svg (test error against parameters kept, log scale) and
;; start.idx (the starting net), and prints the table, then the live
;; parameters of each layer at the last step by both methods.

(libload "obd")

(obd-main (cdr argv))
