;; lenet1_cpool.lsp: scripts/lenet1.lsp's net with the C average-pooling
;; module (nn-avgpool 2) in place of its Lisp pooling layer, trained by the
;; same recipe: for timing a pass against scripts/lecun1989.lsp's, run
;; side by side (the wall time per pass is on the last lines of each):
;;
;;   lush89 bench/lenet1_cpool.lsp --passes 2 --out /tmp/lenet1-cpool
;;   lush89 scripts/lecun1989.lsp --passes 2 --out /tmp/lecun1989

(libload "train")

(de lenet1-cpool-net ()
  "LeNet-1's shape (see scripts/lenet1.lsp) with C pooling, initialised as
the 1989 net (weights uniform in +-2.4/sqrt(fan-in), biases 0)."
  (let ((net (nn-seq '(1 16 16)
               (nn-conv 4 5 1 () 2 -1) (nn-tanh) (nn-avgpool 2)
               (nn-conv 12 5 1 () 2 -1) (nn-tanh) (nn-avgpool 2)
               (nn-linear 10) (nn-tanh))))
    (nn-init net 2.4 0)
    net))

(train-main (cdr argv) "lenet1-cpool" lenet1-cpool-net)
