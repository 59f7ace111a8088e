#!/usr/bin/env lush89
;; sweep.lsp: runs a training script once per seed, and per value of each of
;; its options given as a comma list, through GNU parallel (or writes a Slurm
;; job array), then prints the errors of each setting over the seeds and
;; writes sweep.csv and sweep.svg. See lib/sweep.lsp.
;;
;;   lush89 scripts/sweep.lsp [--seeds 1-8] [--jobs N] [--sshloginfile FILE]
;;                            [--slurm] [--out DIR] -- SCRIPT [SCRIPT OPTIONS]
;;   lush89 scripts/sweep.lsp --gather DIR

(libload "sweep")

(sweep-main (cdr argv) (car argv))
