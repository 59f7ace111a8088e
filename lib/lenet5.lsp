;; lenet5.lsp: LeNet-5 as LeCun, Bottou, Bengio and Haffner built it
;; ("Gradient-Based Learning Applied to Document Recognition", 1998), and
;; the paper's recipe for scripts/lenet5.lsp.
;;
;; Input 1x32x32. C1: 6 maps 28x28, 5x5 kernels. S2: 6 maps 14x14, each
;; unit the mean of a 2x2 window times a trainable coefficient plus a
;; trainable bias (nn-subsample). C3: 16 maps 10x10, 5x5 kernels over the S2
;; maps that Table I of the paper connects to each (60 kernels). S4: 16 maps
;; 5x5. C5: 120 maps 1x1, 5x5 kernels over all of S4. F6: 84 units. After
;; every layer but the last 1.7159 tanh(2/3 x) (nn-stanh). Output: ten
;; Euclidean RBF units, y_i = sum_j (x_j - c_ij)^2, whose centers are fixed
;; +1/-1 7x12 pictures of the digits (lenet5-codes): the smallest output is
;; the predicted class, and the paper's loss (cost 'rbf) trains the net.
;; 60,000 trainable parameters, 340,908 connections.
;;
;; The recipe: SDLM, its global rate 0.0005 for 2 passes, 0.0002 for 3,
;; 0.0001 for 3, 0.00005 for 4, then 0.00001; mu 0.02; the diagonal
;; Hessian re-estimated on 500 training examples before each pass; 20
;; passes, one example at a time in fixed order; weights uniform in
;; +-2.4/sqrt(F), F the fan-in of their unit (see lenet5-init).
;;
;; At the REPL:
;;   (setq net (lenet5-net))                 a fresh net (seed first)
;;   (lenet5-predict net x)                  the class of one 1x32x32 image
;;   (lenet5-show-codes)                     the ten output codes, drawn

(libload "train")

(defvar lenet5-bitmaps
  '(("......." "..###.." ".#...#." "#.....#" "#.....#" "#.....#"   ; 0
     "#.....#" "#.....#" "#.....#" ".#...#." "..###.." ".......")
    ("......." "...#..." "..##..." ".#.#..." "...#..." "...#..."   ; 1
     "...#..." "...#..." "...#..." "...#..." ".#####." ".......")
    ("......." "..###.." ".#...#." "#.....#" "......#" ".....#."   ; 2
     "....#.." "...#..." "..#...." ".#....." "#######" ".......")
    ("......." ".####.." "#....#." "......#" ".....#." "..###.."   ; 3
     ".....#." "......#" "......#" "#....#." ".####.." ".......")
    ("......." "....##." "...#.#." "..#..#." ".#...#." "#....#."   ; 4
     "#######" ".....#." ".....#." ".....#." ".....#." ".......")
    ("......." "#######" "#......" "#......" "#####.." ".....#."   ; 5
     "......#" "......#" "......#" "#....#." ".####.." ".......")
    ("......." "..###.." ".#....." "#......" "#......" "#.###.."   ; 6
     "##...#." "#.....#" "#.....#" ".#...#." "..###.." ".......")
    ("......." "#######" "......#" ".....#." "....#.." "....#.."   ; 7
     "...#..." "...#..." "..#...." "..#...." "..#...." ".......")
    ("......." "..###.." ".#...#." "#.....#" ".#...#." "..###.."   ; 8
     ".#...#." "#.....#" "#.....#" ".#...#." "..###.." ".......")
    ("......." "..###.." ".#...#." "#.....#" "#.....#" ".#...##"   ; 9
     "..###.#" "......#" "......#" ".....#." "..###.." "......."))
  "The output codes of LeNet-5 drawn as text, one list of 12 rows of 7
characters per class: # ink (+1), . background (-1). The paper's codes are
stylized 7x12 bitmaps of the digits; these are drawn after them.")

(de lenet5-codes ()
  "The RBF centers of LeNet-5's output layer: float [10 84], row k the
bitmap of class k in lenet5-bitmaps, row by row, +1 ink and -1 background."
  (let ((codes (float-matrix 10 84)))
    (each ((rows lenet5-bitmaps) (k (range 10)))
      (each ((row rows) (r (range 12)))
        (for (c 0 6)
          (codes k (+ (* 7 r) c) (if (equal (substring row c (+ c 1)) "#") 1 -1)))))
    codes))

(de lenet5-show-codes ()
  "Draws the ten output codes in the terminal (idx-show), one under the
other."
  (each ((k (range 10)))
    (printf "class %d\n" k)
    (idx-show (idx-reshape (copy-matrix (select (lenet5-codes) 0 k)) 12 7) -1 1)))

(de lenet5-c3-table ()
  "The S2 -> C3 connection table of the paper's Table I, as (in out) pairs
sorted by output map: C3 maps 0-5 see three contiguous S2 maps (cyclically:
map j sees j, j+1, j+2), maps 6-11 four contiguous ones, maps 12-14 the
discontinuous quadruples {0,1,3,4}, {1,2,4,5}, {0,2,3,5}, and map 15 all
six. 60 pairs."
  (let ((inputs (append (all ((j (range 6))) (all ((d (range 3))) (mod (+ j d) 6)))
                        (all ((j (range 6))) (all ((d (range 4))) (mod (+ j d) 6)))
                        '((0 1 3 4) (1 2 4 5) (0 2 3 5) (0 1 2 3 4 5))))
        (pairs ()))
    (each ((ins inputs) (out (range 16)))
      (each ((i (sort ins <)))
        (setq pairs (cons (list i out) pairs))))
    (reverse pairs)))

(de lenet5-init (net)
  "Initialises NET, a lenet5-net: weights uniform in [-2.4/sqrt(F),
2.4/sqrt(F)], F the fan-in of their unit (25 in C1, 25 per connected map in
C3, 400 in C5, 120 in F6; S2's and S4's coefficients as weights of fan-in
4), biases 0: the 1989 recipe's rule (nn-init). The paper draws in
[-2.4/F, 2.4/F]; from weights that small the second derivatives of the
early layers are far below mu, SDLM gives them its largest rate, eta/mu,
and the net saturates within a few examples. Draws from the generator
(seed N). Returns NET."
  (nn-init net 2.4 0))

(de lenet5-body (&optional rbf)
  "The layers of LeNet-5 from C1 to F6's squashing (see the top of
lenet5.lsp) in a net, with the RBF output layer when RBF is true. Not
initialised."
  (apply nn-seq
         (append (list '(1 32 32)
                       (nn-conv 6 5 1)                         ; C1
                       (nn-stanh)
                       (nn-subsample 2)                        ; S2
                       (nn-stanh)
                       (nn-conv 16 5 1 (lenet5-c3-table))      ; C3
                       (nn-stanh)
                       (nn-subsample 2)                        ; S4
                       (nn-stanh)
                       (nn-conv 120 5 1)                       ; C5
                       (nn-stanh)
                       (nn-linear 84)                          ; F6
                       (nn-stanh))
                 (when rbf (list (nn-rbf (lenet5-codes)))))))  ; output

(de lenet5-net (&optional quiet)
  "LeNet-5 (see the top of lenet5.lsp), initialised by lenet5-init. Prints
its table of layers unless QUIET."
  (let ((net (lenet5-init (lenet5-body t))))
    (unless quiet (nn-summary net))
    net))

(de lenet5-predict (net x)
  "The class NET (a lenet5-net) gives the image X (a [1 32 32] tensor): the
index of its smallest output."
  (idx-indexmin (nn-fprop net x)))

;; ---- The second derivatives ---------------------------------------------------
;;
;; The paper's loss, y_D + log(exp(-j) + sum_i exp(-y_i)) with y_i = sum_k
;; (x_k - c_ik)^2 the RBF outputs on F6's outputs x, has second derivative 2
;; in every x_k through its first term, the squared distance to the right
;; code. Backpropagated second derivatives that start at the RBF outputs
;; (the Gauss-Newton form of nn-sdlm-estimate with the 'rbf cost) miss it,
;; and it is most of the curvature: without it SDLM's rates are eta/mu for
;; every parameter and the net saturates within a pass. So the estimate
;; starts at F6's outputs, on a twin of the net without its RBF layer
;; holding the same parameters, with lenet5-ddx as the cost.

(defvar lenet5-rbf-j 1
  "The paper's constant j of the loss: the penalty of a rubbish class (as
the 'rbf cost's).")

(de lenet5-ddx (codes)
  "A Lisp cost (see nn-train-pass) for a net ending at F6, whose targets
are classes ([1] each): the paper's loss of an RBF layer of centers CODES
([K M], +1/-1) on top of it, for nn-sdlm-estimate. Its second derivatives
with respect to F6's outputs x are 2 (the right code's squared distance)
plus the Gauss-Newton terms of the log-sum, sum_i w_i (2 (x_k - c_ik))^2
with w_i = q_i (1 - q_i), q_i = exp(-y_i) / (exp(-j) + sum_l exp(-y_l)).
As c_ik^2 = 1, that sum is 4 (W x_k^2 - 2 x_k (C'w)_k + W), W = sum_i w_i.
Returns the loss; no first derivatives."
  (let* ((m (idx-dim codes 1))
         (ct (copy-matrix (idx-transpose codes)))
         (y (float-matrix (idx-dim codes 0))))
    (lambda (x target dx ddx)
      ;; y_i = |x|^2 - 2 (C x)_i + M
      (idx-addm0 (idx-dotm0 (idx-m2dotm1 codes x) -2) (+ (idx-sumsqr x) m) y)
      (let* ((e (idx-exp (idx-dotm0 y -1)))
             (z (+ (exp (- lenet5-rbf-j)) (idx-sum e)))
             (q (idx-dotm0 e (/ 1 z)))
             (class (target 0)))
        (when ddx
          (let* ((w (idx-mul q (idx-addm0 (idx-dotm0 q -1) 1)))
                 (big-w (idx-sum w)))
            ;; 2 + 4 (W x^2 - 2 x (C'w) + W)
            (idx-addm0 (idx-dotm0 (idx-sub (idx-dotm0 (idx-mul x x) big-w)
                                           (idx-dotm0 (idx-mul x (idx-m2dotm1 ct w)) 2))
                                  4)
                       (+ 2 (* 4 big-w)) ddx)))
        (+ (y class) (log z))))))

(de lenet5-estimate (net opt twin cost inputs classes count)
  "SDLM's estimate for NET (a lenet5-net) and its optimizer OPT: copies
NET's parameters into TWIN (a (lenet5-body) without the RBF layer), runs
nn-sdlm-estimate on TWIN with COST (a lenet5-ddx) on the first COUNT of
INPUTS and CLASSES ([N 1]), and copies the second derivatives and rate
factors back into NET. Returns the mean second derivative."
  (idx-copy (nn-params net) (nn-params twin))
  (prog1 (nn-sdlm-estimate twin opt inputs classes count cost)
    (idx-copy (nn-hessian twin) (nn-hessian net))
    (idx-copy (nn-rates twin) (nn-rates net))))

;; ---- The recipe ------------------------------------------------------------

(defvar lenet5-schedule '((2 0.0005) (3 0.0002) (3 0.0001) (4 0.00005) (() 0.00001))
  "The paper's global rates: (PASSES RATE) rows in order, () for all the
passes after.")

(defvar lenet5-sdlm-mu 0.02 "SDLM's mu in the paper's LeNet-5 recipe.")

(defvar lenet5-sdlm-count 500
  "How many training examples the Hessian estimate of every pass averages
over.")

(defvar lenet5-references '(("paper (LeCun et al. 1998), MNIST" 0.35 0.95))
  "The paper's result, shown beside a run in the final table: 0.35%
training error after 19 passes, 0.95% test error, on MNIST without
distortions.")

(de lenet5-rate (pass &optional first)
  "The global rate of pass PASS (1-based) in lenet5-schedule, every rate
scaled so that the first is FIRST (default the paper's 0.0005)."
  (let ((rows lenet5-schedule) (left pass))
    (while (and (car (car rows)) (> left (car (car rows))))
      (setq left (- left (car (car rows))) rows (cdr rows)))
    (* (cadr (car rows)) (/ (or first 0.0005) 0.0005))))

(de lenet5-hessian-window (pass n)
  "The examples the Hessian estimate of pass PASS averages over: (START
COUNT), lenet5-sdlm-count of the N training examples, the next window of
them every pass, back to the first after the last whole one."
  (let* ((count (min lenet5-sdlm-count n))
         (windows (div n count)))
    (list (* count (mod (- pass 1) windows)) count)))

(de lenet5-before-pass (net opt data first)
  "The before-pass function of the recipe (see train-run): sets OPT's rate
to the schedule's (lenet5-rate, FIRST the first rate), then re-estimates
NET's diagonal Hessian (lenet5-estimate) on a window of DATA's training
examples (lenet5-hessian-window)."
  (let ((twin (lenet5-body)) (cost (lenet5-ddx (lenet5-codes)))
        (labels (train-labels data 'train)))
    (lambda (pass)
      (nn-set-rate opt (lenet5-rate pass first))
      (let* ((w (lenet5-hessian-window pass (data-count data 'train)))
             (start (car w)) (count (cadr w))
             (classes (float-matrix count 1)))
        (idx-copy (narrow labels 0 count start) (select classes 1 0))
        (lenet5-estimate net opt twin cost (data-inputs data 'train start count)
                         classes count)))))

(de lenet5-recipe (data &optional rate passes)
  "The paper's recipe on DATA (fitted to 32x32 inputs, see train-data): a
fresh (lenet5-net), the RBF loss against the classes, SDLM with the
paper's schedule (lenet5-rate; RATE, default 0.0005, replaces its first
rate and scales the others), one example at a time in fixed order, PASSES
passes (default 20). Draws the initial weights from the generator: seed it
first. Returns the recipe (see train-run), without an out folder."
  (let* ((net (lenet5-net t))
         (opt (nn-sdlm (lenet5-rate 1 rate) lenet5-sdlm-mu)))
    (train-recipe 'name "lenet5" 'net net 'opt opt 'cost 'rbf 'data data
                  'passes (or passes 20)
                  'references lenet5-references
                  'before-pass (lenet5-before-pass net opt data rate))))

(de lenet5-default-data ()
  "The default --data of scripts/lenet5.lsp: \"mnist\" when MNIST_DIR is
set, else \"fashion\"."
  (if (data-env-dir "MNIST_DIR") "mnist" "fashion"))

(de lenet5-main (args)
  "The command line of scripts/lenet5.lsp: parses ARGS (see the script),
loads the data (--data, padded to 32x32), runs the paper's recipe, writes
the outputs and prints the final table beside the paper's result. Returns
the recipe."
  (let* ((opts (train-options
                args (concat "usage: lush89 scripts/lenet5.lsp [OPTION]...\n"
                             "LeNet-5 and its recipe (LeCun et al. 1998); outputs go to out/lenet5\n"
                             "unless --out says otherwise. --lr is the first rate of the schedule\n"
                             "0.0005, 0.0002, 0.0001, 0.00005, 0.00001; the later ones scale with it.")
                (list '("passes" 20) '("lr" 0.0005) '("out" "out/lenet5")
                      (list "data" (lenet5-default-data)))))
         (data (train-data opts '(1 32 32) 'pad)))
    (seed (hget opts "seed"))
    (let ((r (train-configure (lenet5-recipe data (hget opts "lr") (hget opts "passes")) opts)))
      (hset r 'references lenet5-references)
      (train-header r (sprintf "lenet5: RBF loss, SDLM rate %g (then the paper's schedule) mu %g, Hessian from %d examples per pass"
                               (hget opts "lr") lenet5-sdlm-mu lenet5-sdlm-count))
      (train-run r))))
