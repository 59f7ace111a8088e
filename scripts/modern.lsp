#!/usr/bin/env lush89
;; modern.lsp: the 1989 net with Karpathy's four cumulative modern changes
;; (see lib/modern.lsp): `--change N` (1 to 4, default 4) picks how many.
;; Same eval lines, outputs and final table as scripts/lecun1989.lsp.
;;
;;   lush89 scripts/modern.lsp [--change N] [--passes N] [--lr X] [--seed N]
;;                             [--out DIR] [--quiet] [--data digits|mnist|fashion|DIR]
;;                             [--batch N] [--threads N] [--resume DIR]

(libload "modern")

(modern-main (cdr argv))
