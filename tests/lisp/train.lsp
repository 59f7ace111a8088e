;; train.lsp: what lib/train.lsp adds to every run, on a small synthetic
;; dataset of bytes (no network, no data/): training and evaluation on
;; splits converted a chunk at a time against the same on floats, the
;; confusion matrix (table, confusion.csv, confusion.svg), the checkpoint of
;; every pass and a resumed run that ends exactly as the uninterrupted one
;; (with random shifts and dropout drawing from the generator), and the
;; options --data, --batch, --threads and --resume.

(libload "../../lib/train")
(setq data-verbose ())

(defvar tr-dir (sprintf "%s/lush89-train-%.0f" (or (getenv "TMPDIR") "/tmp")
                        (* 1e9 (clock))))
(mkdir-p tr-dir)
(de tr-file (name) (concat tr-dir "/" name))

;; Ten classes of 20x20 byte images: class k has a bright bar at row k+4
;; over a dark background, plus noise.
(de tr-split (n)
  (let ((images (ubyte-matrix n 20 20)) (labels (int-matrix n))
        (noise (idx-rand (float-matrix n 20 20) 0 60)))
    (idx-copy noise images)
    (for (i 0 (- n 1))
      (let ((k (mod i 10)))
        (labels i k)
        (idx-fill (narrow (select images 0 i) 0 1 (+ k 4)) 250)))
    (list images labels)))

(seed 3)
(defvar tr-data (data-table "toy" "made here" '("a" "b" "c" "d" "e" "f" "g" "h" "i" "j")
                            (tr-split 80) (tr-split 40)))

(de tr-net ()
  "A small net drawing from the generator while training: a random shift
and dropout."
  (let ((net (nn-seq '(1 16 16) (nn-random-shift 1) (nn-linear 24) (nn-tanh)
                     (nn-dropout 0.25) (nn-linear 10) (nn-tanh))))
    (nn-init net 2.4 0)
    net))

(de tr-recipe (passes &rest pairs)
  "A quiet recipe training a fresh (tr-net) (seed 5) with plain SGD on the
toy data for PASSES passes; PAIRS add keys."
  (seed 5)
  (let ((r (train-recipe 'name "toy" 'net (tr-net) 'opt (nn-sgd 0.05)
                         'data (data-fit tr-data '(1 16 16)) 'passes passes 'quiet t)))
    (while pairs
      (hset r (car pairs) (cadr pairs))
      (setq pairs (cddr pairs)))
    r))

(de tr-same (a b)
  "t when the tensors A and B hold exactly the same numbers."
  (and (equal (idx-shape a) (idx-shape b)) (= 0 (idx-sup (idx-abs (idx-sub a b))))))

;; ---- splits converted a chunk at a time train and evaluate as floats do

(let* ((whole (train-run (tr-recipe 2)))
       (budget data-float-budget) (chunk train-chunk) (eval-chunk train-eval-chunk)
       (lazy (progn (setq data-float-budget 0 train-chunk 7 train-eval-chunk 9)
                    (prog1 (tr-recipe 2)
                      (setq data-float-budget budget)))))
  (assert (hget (hget whole 'data) 'train-inputs))
  (assert (null (hget (hget lazy 'data) 'train-inputs)))
  (train-run lazy)
  (setq train-chunk chunk train-eval-chunk eval-chunk)
  (assert (tr-same (nn-params (hget whole 'net)) (nn-params (hget lazy 'net))))
  (each ((column '("train_misses" "test_misses")))
    (assert (= (train-last whole column) (train-last lazy column))))
  (assert (< (abs (- (train-last whole "test_loss") (train-last lazy "test_loss"))) 1e-6))
  (assert (tr-same (hget whole 'test-outputs) (hget lazy 'test-outputs))))

;; shuffled every pass: the same order for floats and for bytes by chunks,
;; another than the fixed one
(let* ((whole (train-run (tr-recipe 2 'shuffle t)))
       (budget data-float-budget) (chunk train-chunk)
       (lazy (progn (setq data-float-budget 0 train-chunk 7)
                    (prog1 (tr-recipe 2 'shuffle t)
                      (setq data-float-budget budget)))))
  (train-run lazy)
  (setq train-chunk 11 train-tty t)
  (let ((chunked (train-run (tr-recipe 2 'shuffle t 'quiet ()))))
    (setq train-tty 'unknown train-chunk chunk)
    (assert (tr-same (nn-params (hget whole 'net)) (nn-params (hget chunked 'net)))))
  (assert (tr-same (nn-params (hget whole 'net)) (nn-params (hget lazy 'net))))
  (assert (not (tr-same (nn-params (hget whole 'net))
                        (nn-params (hget (train-run (tr-recipe 2)) 'net))))))

;; chunks hold whole batches: by chunks of 7 (the bar drawn) in batches of
;; 3, a pass is the same as in one call
(let* ((chunk train-chunk)
       (whole (train-run (tr-recipe 2 'shuffle t 'batch 3)))
       (chunked (progn (setq train-chunk 7 train-tty t)
                       (train-run (tr-recipe 2 'shuffle t 'batch 3 'quiet ())))))
  (setq train-tty 'unknown)
  (assert (= 6 (train-chunk-size whole)))
  (setq train-chunk 2)
  (assert (= 3 (train-chunk-size whole)))
  (setq train-chunk chunk)
  (assert (tr-same (nn-params (hget whole 'net)) (nn-params (hget chunked 'net)))))

;; the Lisp loop trains on bytes by chunks as on floats
(let* ((floats (train-run (tr-recipe 2 'shuffle t 'loop 'lisp)))
       (budget data-float-budget) (chunk train-chunk)
       (bytes (progn (setq data-float-budget 0 train-chunk 7)
                     (prog1 (tr-recipe 2 'shuffle t 'loop 'lisp)
                       (setq data-float-budget budget)))))
  (train-run bytes)
  (setq train-chunk chunk)
  (assert (null (hget (hget bytes 'data) 'train-inputs)))
  (assert (tr-same (nn-params (hget floats 'net)) (nn-params (hget bytes 'net)))))

;; ---- a split held as bytes is converted a chunk at a time, never whole

;; A 60,000-image training set stays bytes even at 16x16.
(assert (> (* 4 60000 16 16) data-float-budget))

;; Every conversion of a whole run (training, evaluation, the confusion
;; matrix, the outputs) is noted: none holds more than a chunk (nor the
;; misclassified examples shown, at most 8 here).
(defvar tr-converted ())
(defvar tr-convert data-convert)
(de data-convert (images size &optional geometry out)
  "data-convert, noting how many images each call converts."
  (setq tr-converted (cons (idx-dim images 0) tr-converted))
  (tr-convert images size geometry out))
(let* ((budget data-float-budget) (chunk train-chunk) (eval-chunk train-eval-chunk)
       (most train-misclassified-most)
       (r (progn (setq data-float-budget 0 train-chunk 7 train-eval-chunk 9
                       train-misclassified-most 8)
                 (prog1 (tr-recipe 2 'shuffle t 'out (tr-file "chunks"))
                   (setq data-float-budget budget)))))
  (setq tr-converted ())
  (train-run r)
  (setq train-chunk chunk train-eval-chunk eval-chunk train-misclassified-most most)
  (assert (member "misclassified.png" (hget r 'outputs)))
  (assert (null (hget (hget r 'data) 'train-inputs)))
  (assert (null (hget (hget r 'data) 'test-inputs)))
  ;; 2 passes of training and of evaluating both splits, and the test split
  ;; once more for the confusion matrix
  (assert (>= (apply + tr-converted) (+ (* 2 80) (* 2 (+ 80 40)) 40)))
  (assert (<= (apply max tr-converted) 9)))
(setq data-convert tr-convert)

;; ---- the confusion matrix

(let* ((out (tr-file "confusion"))
       (r (train-run (tr-recipe 3 'out out)))
       (counts (hget r 'confusion))
       (misses (train-last r "test_misses")))
  (assert (equal (idx-shape counts) '(10 10)))
  ;; every test example once; the diagonal is what the eval line counts right
  (assert (= 40 (idx-sum counts)))
  (let ((right 0))
    (for (i 0 9) (incr right (counts i i)))
    (assert (= right (- 40 misses))))
  ;; its rows against the net's outputs, example by example
  (let ((expected (int-matrix 10 10)) (labels (hget tr-data 'test-labels)))
    (for (i 0 39)
      (let ((p (idx-indexmax (select (nn-predict (hget r 'net) (hget (hget r 'data) 'test-inputs)) 0 i))))
        (expected (labels i) p (+ 1 (expected (labels i) p)))))
    (assert (tr-same (copy-matrix counts) expected)))
  ;; confusion.csv: a header row, then per true class its name and counts
  (let ((rows (csv-read (concat out "/confusion.csv"))))
    (assert (equal (car rows) '("true" "a" "b" "c" "d" "e" "f" "g" "h" "i" "j")))
    (assert (= 10 (length (cadr rows))))
    (assert (equal (car (nth 3 (cadr rows))) "d"))
    (assert (equal (cdr (nth 3 (cadr rows))) (matrix->list (select counts 0 3)))))
  (let ((svg (read-file (concat out "/confusion.svg"))))
    (assert (search "</svg>" svg))
    (assert (search ">j</text>" svg)))
  (assert (member "confusion.csv" (hget r 'outputs)))
  (assert (member "confusion.svg" (hget r 'outputs))))

;; ---- checkpoints and resuming

(defvar tr-straight (train-run (tr-recipe 3 'out (tr-file "straight"))))
(assert (equal (sort (directory-files (tr-file "straight/checkpoint")) string<)
               '("state.lsp" "tensors-3.idx")))
(let ((state (checkpoint-state (tr-file "straight")))
      (packed (load-matrix (tr-file "straight/checkpoint/tensors-3.idx")))
      (n (nn-nparams (hget tr-straight 'net))))
  (assert (= 3 (checkpoint-fact state 'pass)))
  (assert (equal "toy" (checkpoint-fact state 'data)))
  (assert (= 3 (length (checkpoint-fact state 'metrics))))
  ;; the parameters, then plain SGD's one buffer (its velocity)
  (assert (equal (checkpoint-fact state 'buffers) (list (list n))))
  (assert (= (* 2 n) (idx-nelem packed)))
  (assert (tr-same (narrow packed 0 n 0) (nn-params (hget tr-straight 'net)))))

;; killed after pass 1 (a run of 1 pass), then resumed to 3; shuffled too
(let ((straight (train-run (tr-recipe 3 'shuffle t 'out (tr-file "shuffled-a"))))
      (part (train-run (tr-recipe 1 'shuffle t 'out (tr-file "shuffled-b")))))
  (assert (tr-same (nn-params (hget straight 'net))
                   (nn-params (hget (train-run (tr-recipe 3 'shuffle t 'out (tr-file "shuffled-b")
                                                          'resume t))
                                    'net)))))
(train-run (tr-recipe 1 'out (tr-file "killed")))
(defvar tr-resumed (train-run (tr-recipe 3 'out (tr-file "killed") 'resume t)))
(assert (tr-same (nn-params (hget tr-straight 'net)) (nn-params (hget tr-resumed 'net))))
(assert (equal (all ((row (hget tr-straight 'metrics))) (append (list (car row)) (nthcdr 6 row)))
               (all ((row (hget tr-resumed 'metrics))) (append (list (car row)) (nthcdr 6 row)))))
(each ((column '("train_loss" "test_loss" "test_error")))
  (assert (= (train-last tr-straight column) (train-last tr-resumed column))))
(assert (= 3 (length (metrics-read (tr-file "killed/metrics.csv")))))
(assert (equal (sort (directory-files (tr-file "killed/checkpoint")) string<)
               '("state.lsp" "tensors-3.idx")))

;; the generator continues as in the uninterrupted run
(let ((after-straight (rand-state)))
  (train-run (tr-recipe 3 'out (tr-file "killed") 'resume t))
  (assert (equal after-straight (rand-state))))

;; the optimizers' state is part of the checkpoint: momentum and AdamW
;; resume to the same parameters too, and differ without their state
(each ((make (list (lambda () (nn-sgd 0.02 0.9)) (lambda () (nn-adamw 0.003)))))
  (let* ((name (sprintf "opt-%d" (length (directory-files tr-dir))))
         (straight (train-run (tr-recipe 3 'opt (make) 'out (tr-file (concat name "-a")))))
         (part (train-run (tr-recipe 1 'opt (make) 'out (tr-file (concat name "-b")))))
         (resumed (train-run (tr-recipe 3 'opt (make) 'out (tr-file (concat name "-b")) 'resume t))))
    (assert (= (apply + (mapcar idx-nelem (cons (nn-params (hget straight 'net))
                                                (nn-optimizer-state (hget straight 'opt)))))
               (idx-nelem (load-matrix (tr-file (concat name "-b/checkpoint/tensors-3.idx"))))))
    (assert (tr-same (nn-params (hget straight 'net)) (nn-params (hget resumed 'net))))
    ;; without the optimizer's state the run ends elsewhere
    (let* ((file (tr-file (concat name "-a/checkpoint/tensors-3.idx")))
           (packed (load-matrix file))
           (n (nn-nparams (hget straight 'net))))
      (idx-clear (narrow packed 0 (- (idx-nelem packed) n) n))
      (save-matrix packed file))
    (let ((cleared (train-run (tr-recipe 4 'opt (make) 'out (tr-file (concat name "-a")) 'resume t)))
          (kept (train-run (tr-recipe 4 'opt (make) 'out (tr-file (concat name "-b")) 'resume t))))
      (assert (not (tr-same (nn-params (hget cleared 'net)) (nn-params (hget kept 'net))))))))
;; tensors written by a run killed before its state file are not used
(save-matrix (float-matrix 3) (tr-file "killed/checkpoint/tensors-4.idx"))
(assert (= 3 (checkpoint-fact (checkpoint-state (tr-file "killed")) 'pass)))
(let ((r (tr-recipe 4 'out (tr-file "killed") 'resume t)))
  (train-run r)
  (assert (equal (sort (directory-files (tr-file "killed/checkpoint")) string<)
                 '("state.lsp" "tensors-4.idx"))))

(assert-error (train-run (tr-recipe 3 'out (tr-file "none") 'resume t)) "none: no such folder")
;; a run killed before its first checkpoint starts again
(mkdir-p (tr-file "empty"))
(let ((r (train-run (tr-recipe 3 'out (tr-file "empty") 'resume t))))
  (assert (tr-same (nn-params (hget tr-straight 'net)) (nn-params (hget r 'net)))))
(let ((r (tr-recipe 3 'out (tr-file "none") 'resume 'optional)))
  (train-run r)
  (assert (= 3 (length (hget r 'metrics)))))
(let ((r (tr-recipe 3 'out (tr-file "killed") 'resume t)))
  (hset r 'name "other")
  (assert-error (train-run r) "holds a checkpoint of toy on toy, not of other on toy"))
(let ((r (tr-recipe 3 'out (tr-file "killed") 'resume t)))
  (hset r 'net (nn-seq '(1 16 16) (nn-linear 10)))
  (assert-error (train-run r) "parameters"))

;; ---- options

(let ((o (train-options () "usage" ())))
  (assert (equal "digits" (hget o "data")))
  (assert (= 1 (hget o "batch")))
  (assert (null (hget o "threads")))
  (assert (null (hget o "resume"))))

(let* ((o (train-options (list "--resume" (tr-file "killed") "--threads" "1") "usage"
                         '(("out" "elsewhere"))))
       (threads (nn-threads))
       (r (train-configure (tr-recipe 3) o)))
  (assert (equal (tr-file "killed") (hget r 'out)))
  (assert (eq t (hget r 'resume)))
  (assert (= 1 (nn-threads)))
  (nn-threads threads)
  ;; the published results are the digits'
  (assert (null (hget r 'references))))

(assert (= 2 (hget (train-configure (tr-recipe 1) (train-options '("--batch" "2") "usage" ()))
                   'batch)))
(assert-error (train-options '("--batch" "0") "usage" ()) "at least 1")
(assert-error (train-options '("--batch" "2" "--loop" "lisp") "usage" ()) "--loop lisp trains one example")
(assert-error (train-options '("--threads" "0") "usage" ()) "--threads 0: training needs at least 1 thread")
(assert (= 3 (hget (train-options '("--threads" "3") "usage" ()) "threads")))
(assert (search "--data NAME" (train-usage-text "u" train-common-options)))
(assert (search "--threads N" (train-usage-text "u" train-common-options)))
(assert (search "--params FILE" (train-usage-text "u" '(("params" file () "a saved net")))))
(assert (search "--out DIR" (train-usage-text "u" '(("out" string () "a folder")))))

;; a script on a folder of IDX files, resumed in a child process: the last
;; eval lines are those of the uninterrupted run
(let ((dir (tr-file "idx")))
  (mkdir-p dir)
  (save-matrix (hget tr-data 'train-images) (concat dir "/train-images-idx3-ubyte"))
  (save-matrix (hget tr-data 'train-labels) (concat dir "/train-labels-idx1-ubyte.gz"))
  (save-matrix (hget tr-data 'test-images) (concat dir "/t10k-images-idx3-ubyte.gz"))
  (save-matrix (hget tr-data 'test-labels) (concat dir "/t10k-labels-idx1-ubyte"))
  (de tr-script (args log)
    (sys (sprintf "./lush89 scripts/mlp.lsp --quiet --data %s %s >%s 2>&1" dir args log)))
  (de tr-evals (log)
    (filter (lambda (l) (equal 0 (search "eval: " l))) (read-lines log)))
  (assert (= 0 (tr-script (concat "--passes 3 --out " (tr-file "s-all")) (tr-file "all.log"))))
  (assert (= 0 (tr-script (concat "--passes 2 --out " (tr-file "s-part")) (tr-file "part.log"))))
  (assert (= 0 (tr-script (concat "--passes 3 --resume " (tr-file "s-part")) (tr-file "rest.log"))))
  (assert (= 6 (length (tr-evals (tr-file "all.log")))))
  (assert (equal (tr-evals (tr-file "rest.log")) (nthcdr 4 (tr-evals (tr-file "all.log")))))
  (assert (tr-same (load-matrix (tr-file "s-all/params.idx")) (load-matrix (tr-file "s-part/params.idx"))))
  (assert (equal (read-file (tr-file "s-all/confusion.csv")) (read-file (tr-file "s-part/confusion.csv"))))
  (assert (search "confusion matrix (test)" (read-file (tr-file "all.log"))))
  ;; --batch and --threads reach the run: its header says so
  (assert (= 0 (sys (sprintf "./lush89 scripts/lenet1.lsp --data %s --passes 1 --batch 4 --threads 1 --out %s >%s 2>&1"
                             dir (tr-file "s-batch") (tr-file "batch.log")))))
  (assert (search "batches of 4, 1 thread\n" (read-file (tr-file "batch.log"))))
  (assert (= 1 (tr-script (concat "--resume " (tr-file "nowhere")) (tr-file "bad.log"))))
  (assert (search "nowhere: no such folder" (read-file (tr-file "bad.log")))))

(data-remove tr-dir)
