;; lecun1989.lsp: the network of LeCun et al. 1989, "Backpropagation
;; Applied to Handwritten Zip Code Recognition", built from the native
;; backprop simulator (see nn.lsp).
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
;;
;; Then the paper's training recipe (lecun1989-recipe, lecun1989-main for
;; scripts/lecun1989.lsp: MSE, SGD 0.03 or SDLM, 23 passes) and the REPL
;; entry points:
;;   (setq data (mnist-load))              the digits (see data.lsp)
;;   (setq net (lecun1989-net))            a fresh net
;;   (lecun1989-train net data)            one pass, then the eval lines
;;   (digit-show 3)                        test digit 3 in the terminal
;;   (lecun1989-show net data 3)           it, its label and the prediction
;;   (lecun1989-predict net x)             the class for one 1x16x16 image
;;   (lecun1989-load "out/lecun1989/params.idx")   a saved net

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

;; ---- The 1989 recipe (see train.lsp for the generic runner) --------------------

(libload "train")

(defvar lecun1989-sdlm-eta 0.0003
  "SDLM's global rate eta: each parameter moves by eta/(mu + h) times its
gradient, h its averaged diagonal second derivative.")

(defvar lecun1989-sdlm-mu 0.01
  "SDLM's mu, which keeps the rate bounded where the curvature h is small.")

(defvar lecun1989-sdlm-count 500
  "How many training examples SDLM's Hessian estimate averages over, before
every pass.")

(de lecun1989-recipe (data &optional optimizer rate passes)
  "The recipe of the 1989 paper on DATA (fitted to 16x16 inputs, see
train-data), as the PyTorch reproduction runs it: a fresh
(lecun1989-net), the mean squared error against +1/-1 targets, one example
at a time in fixed order, PASSES passes (default 23). OPTIMIZER is \"sgd\"
(the default: plain SGD, RATE default 0.03) or \"sdlm\" (the paper's
stochastic diagonal Levenberg-Marquardt, eta RATE default
lecun1989-sdlm-eta, mu lecun1989-sdlm-mu, its Hessian estimated on the first
lecun1989-sdlm-count examples before each pass). Draws the initial
weights from the generator: seed it first. Returns the recipe (see
train-run), without an out folder."
  (let* ((sdlm (equal optimizer "sdlm"))
         (rate (or rate (if sdlm lecun1989-sdlm-eta 0.03)))
         (net (lecun1989-net t))
         (opt (if sdlm (nn-sdlm rate lecun1989-sdlm-mu) (nn-sgd rate))))
    (train-recipe 'name (if sdlm "lecun1989 sdlm" "lecun1989")
                  'net net 'opt opt 'cost 'mse 'data data
                  'passes (or passes 23)
                  'references train-references
                  'before-pass
                  (when sdlm
                    (lambda (pass)
                      (let ((count (min lecun1989-sdlm-count (data-count data 'train))))
                        (nn-sdlm-estimate net opt (data-inputs data 'train 0 count)
                                          (narrow (train-targets data 'train 'mse) 0 count) count 'mse)))))))

(de lecun1989-main (args)
  "The command line of scripts/lecun1989.lsp: parses ARGS (see the script),
loads the data (--data, resized to 16x16), runs the 1989 recipe, writes
the outputs and prints the final table. Returns the recipe."
  (let* ((opts (train-options
                args (concat "usage: lush89 scripts/lecun1989.lsp [OPTION]...\n"
                             "The 1989 recipe; outputs go to out/lecun1989 (out/lecun1989-sdlm with\n"
                             "--optimizer sdlm) unless --out says otherwise.")
                '(("passes" 23) ("out" ()))
                `(("optimizer" ("sgd" "sdlm") "sgd"
                   ,(sprintf "sgd: plain SGD, --lr default 0.03; sdlm: the paper's diagonal Levenberg-Marquardt, --lr is its eta, default %g, mu %g"
                            lecun1989-sdlm-eta lecun1989-sdlm-mu)))))
         (data (train-data opts '(1 16 16)))
         (sdlm (equal (hget opts "optimizer") "sdlm")))
    (unless (hget opts "out")
      (hset opts "out" (if sdlm "out/lecun1989-sdlm" "out/lecun1989")))
    (seed (hget opts "seed"))
    (let ((r (train-configure (lecun1989-recipe data (hget opts "optimizer")
                                                (hget opts "lr") (hget opts "passes"))
                              opts)))
      (train-header r (if sdlm
                          (sprintf "lecun1989: MSE, SDLM eta %g mu %g (Hessian from %d examples per pass)"
                                   (nn-rate (hget r 'opt)) lecun1989-sdlm-mu lecun1989-sdlm-count)
                        (sprintf "lecun1989: MSE, SGD rate %g" (nn-rate (hget r 'opt)))))
      (train-run r))))

;; ---- At the REPL ----------------------------------------------------------------

(de lecun1989-train (net data &optional rate passes)
  "Trains NET (a lecun1989-net) on DATA (see mnist-load) for PASSES passes
(default 1) as the 1989 recipe does: mean squared error, plain SGD at RATE
(default 0.03), one example at a time in fixed order, then prints the eval
lines of both splits. Returns NET. Ctrl-C stops it between examples."
  (let ((r (train-recipe 'name "lecun1989" 'net net 'opt (nn-sgd (or rate 0.03))
                         'data data 'passes (or passes 1) 'quiet t)))
    (for (pass 1 (hget r 'passes))
      (train-pass r pass)
      (train-eval r 'train)
      (train-eval r 'test))
    net))

(de lecun1989-predict (net x)
  "The class NET predicts for the image X (a [1 16 16] or [16 16] tensor,
e.g. (select (hget data 'test-inputs) 0 i)): the index of its largest
output."
  (idx-indexmax (nn-fprop net (idx-reshape (copy-matrix x) 1 16 16))))

(de lecun1989-show (net data i)
  "Draws test digit I of DATA with idx-show and prints its label and what
NET predicts, with NET's 10 outputs. Returns the predicted class."
  (let* ((x (select (data-inputs data 'test i 1) 0 0))
         (p (lecun1989-predict net x))
         (y (nn-fprop net x)))
    (idx-show (select x 0 0) -1 1)
    (printf "test digit %d: label %d, predicted %d%s\noutputs:" i
            ((train-labels data 'test) i) p
            (if (= p ((train-labels data 'test) i)) "" " (wrong)"))
    (for (k 0 9) (printf " %d:%.2f" k (y k)))
    (printf "\n")
    p))

(de lecun1989-load (file)
  "A lecun1989-net holding the parameters saved in FILE (the params.idx a
run writes to its out folder, or any nn-save of a lecun1989-net)."
  (nn-load (lecun1989-net t) file))
