;; modern.lsp: the 1989 net trained with the four cumulative changes of
;; Karpathy's 2022 reproduction ("what would 33 years of progress change?"),
;; all on the same 9,760-parameter topology as (lecun1989-net):
;;   1. no tanh on the output, softmax cross-entropy, SGD rate 0.01, 23 passes
;;   2. AdamW rate 3e-4 decayed linearly to 1e-4, 46 passes
;;   3. plus a random shift of up to 1 pixel in x and y while training, 60 passes
;;   4. plus ReLU hidden units and dropout 0.25 on H2's output, 80 passes
;; (modern-recipe data N) makes the recipe of change N for train-run.

(libload "lecun1989")

(defvar modern-changes
  '((1 "softmax cross-entropy, SGD 0.01" 23 0.01)
    (2 "+ AdamW 3e-4 -> 1e-4" 46 3e-4)
    (3 "+ random shift of 1 pixel" 60 3e-4)
    (4 "+ ReLU, dropout 0.25 on H2" 80 3e-4))
  "The modern changes: (N description passes rate), each including the ones
before it.")

(defvar modern-references
  '(("paper (LeCun et al. 1989)" 0.14 5.00)
    ("PyTorch 1989 recipe (Karpathy 2022)" 0.62 4.09))
  "The published results the final table shows beside the variants.")

(de modern-change (n)
  "The entry of modern-changes for change N; raises for another N."
  (or (assoc n modern-changes)
      (error "modern-change: no change %l: the changes are 1 to 4" n)))

(de modern-net (n)
  "The 1989 topology as change N (1 to 4) modifies it: the output without
tanh; from change 3 a random shift of up to 1 pixel before H1 (training
only); at change 4 ReLU instead of tanh on H1, H2 and H3 and dropout 0.25 on
H2's output. Initialised as the 1989 net (nn-init 2.4, output biases -1)
from the generator: seed it first."
  (modern-change n)
  (let* ((act (lambda () (if (= n 4) (nn-relu) (nn-tanh))))
         (out (nn-linear 10))
         (net (apply nn-seq
                     (append (list '(1 16 16))
                             (when (>= n 3) (list (nn-random-shift 1)))
                             (list (nn-conv 12 5 2 () 2 -1 'unit) (act)
                                   (nn-conv 12 5 2 (lecun1989-h2-table) 2 -1 'unit) (act))
                             (when (= n 4) (list (nn-dropout 0.25)))
                             (list (nn-linear 30) (act) out)))))
    (nn-init net 2.4 0)
    (idx-fill (nn-biases out) -1)
    net))

(de modern-linear-decay (opt rate passes)
  "A before-pass function (see train-run) setting OPT's rate for pass p of
PASSES to RATE decayed linearly to RATE/3 at the last pass, as the PyTorch
reproduction does."
  (lambda (pass)
    (let ((alpha (if (> passes 1) (/ (- pass 1) (- passes 1)) 0)))
      (nn-set-rate opt (+ (* (- 1 alpha) rate) (* alpha (/ rate 3)))))))

(de modern-recipe (data n &optional rate passes)
  "The recipe (see train-run) of modern change N (1 to 4) on DATA, a fresh
(modern-net N) trained with the cross-entropy against the classes, one
example at a time in fixed order. RATE and PASSES replace the change's own
(see modern-changes). Seed the generator first."
  (let* ((change (modern-change n))
         (rate (or rate (nth 3 change)))
         (passes (or passes (nth 2 change)))
         (opt (if (= n 1) (nn-sgd rate) (nn-adamw rate))))
    (train-recipe 'name (sprintf "modern change %d" n)
                  'net (modern-net n) 'opt opt 'cost 'ce 'data data
                  'passes passes
                  'references modern-references
                  'before-pass (when (> n 1) (modern-linear-decay opt rate passes)))))

(de modern-main (args)
  "The command line of scripts/modern.lsp: parses ARGS (see the script),
loads the data (--data, resized to 16x16), runs the chosen change (or all four, one
after the other, --change all), writes the outputs of each to its folder
and prints the final table of the variants run. Returns the list of
recipes."
  (let* ((opts (train-options
                args (concat "usage: lush89 scripts/modern.lsp [OPTION]...\n"
                             "The 1989 net with modern changes 1 to N (lib/modern.lsp); passes and\n"
                             "rate default to the change's own; outputs go to out/modernN.")
                '(("out" ()))
                '(("change" ("1" "2" "3" "4" "all") "4"
                   "how many of the cumulative modern changes (see lib/modern.lsp), or all: each in turn"))))
         (changes (if (equal (hget opts "change") "all")
                      '(1 2 3 4)
                    (list (string->number (hget opts "change")))))
         (data (train-data opts '(1 16 16)))
         (runs (all ((n changes))
                 (seed (hget opts "seed"))
                 (let ((r (train-configure (modern-recipe data n (hget opts "lr")
                                                          (hget opts "passes"))
                                           opts)))
                   (unless (hget r 'out) (hset r 'out (sprintf "out/modern%d" n)))
                   (when (cdr changes)
                     (when (hget r 'resume) (hset r 'resume 'optional))
                     (when (or (hget opts "out") (hget opts "resume"))
                       (hset r 'out (sprintf "%s/modern%d" (hget r 'out) n))))
                   (hset r 'no-table (cdr changes))
                   (train-header r (sprintf "modern change %d (%s)" n (cadr (modern-change n))))
                   (train-run r)))))
    (when (cdr runs) (train-table runs))
    runs))
