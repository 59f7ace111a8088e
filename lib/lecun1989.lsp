;; lecun1989.lsp: the network of LeCun et al. 1989, "Backpropagation
;; Applied to Handwritten Zip Code Recognition", built from the native
;; backprop simulator (see nn.lsp and SPEC section 6).
;;
;; Input 1x16x16. H1: 12 maps 8x8, 5x5 kernels stride 2 over the input
;; padded by 2 with -1, one bias per unit. H2: 12 maps 4x4, 5x5 stride 2
;; over H1 padded by 2 with -1, each map fed by 8 of the 12 H1 planes, one
;; bias per unit. H3: 30 units fully connected. Output: 10 units fully
;; connected. tanh after every layer. 9,760 parameters, 64,660 connections.
;;
;; Flat parameter order (nn-params): H1 weights [12][5][5], H1 biases
;; [12][8][8], H2 weights [12][8][5][5] (each output map's 8 kernels in
;; ascending input-plane order), H2 biases [12][4][4], H3 weights [30][192]
;; (input index = plane*16 + row*4 + col), H3 biases [30], output weights
;; [10][30], output biases [10].

(libload "nn")

(de lecun1989-h2-table ()
  "The H1 -> H2 connection table of the 1989 net, as (in out) pairs: output
maps 0-3 see H1 planes 0-7, maps 4-7 planes 4-11, maps 8-11 planes 0-3 and
8-11."
  (let ((pairs ()))
    (for (o 0 11)
      (for (i 0 11)
        (when (cond ((< o 4) (< i 8))
                    ((< o 8) (>= i 4))
                    (t (or (< i 4) (>= i 8))))
          (setq pairs (cons (list i o) pairs)))))
    (reverse pairs)))

(de lecun1989-init (net)
  "Initialises NET, a lecun1989-net, as in the paper's recipe: weights
uniform in [-2.4/sqrt(F), 2.4/sqrt(F)] for fan-in F, biases 0 except the
output biases, -1. Draws from the generator (seed N) seeds. Returns NET."
  (nn-init net 2.4 0)
  (idx-fill (nn-biases (nth 6 (nn-modules net))) -1)
  net)

(de lecun1989-net (&optional quiet)
  "The 1989 zip-code network (see the top of lecun1989.lsp), initialised by
lecun1989-init. Prints its table of layers, parameters, connections and
multiply-adds unless QUIET."
  (let ((net (nn-seq '(1 16 16)
               (nn-conv 12 5 2 () 2 -1 'unit)          ; H1
               (nn-tanh)
               (nn-conv 12 5 2 (lecun1989-h2-table) 2 -1 'unit) ; H2
               (nn-tanh)
               (nn-linear 30)                          ; H3
               (nn-tanh)
               (nn-linear 10)                          ; output
               (nn-tanh))))
    (lecun1989-init net)
    (unless quiet (nn-summary net))
    net))
