;; train.lsp: the generic training recipe shared by scripts/lecun1989.lsp,
;; scripts/modern.lsp and the new architectures: command-line options, the
;; data (--data), passes of training (the C pass of the simulator, or the
;; Lisp loop of nn.lsp), the eval lines, a progress bar on a terminal,
;; per-pass metrics and checkpoints, resuming a killed run, the confusion
;; matrix, the outputs written to --out and the final table.
;;
;; A run is described by a recipe, a hash table with symbol keys:
;;   name      a short name, e.g. "lecun1989" (titles, the final table)
;;   net       the net to train
;;   opt       its optimizer (nn-sgd, nn-sdlm, nn-adamw)
;;   cost      'mse (targets: the +1/-1 rows), 'ce (targets: the classes) or
;;             'rbf (LeNet-5's loss; the classes; the smallest output wins)
;;   passes    how many passes over the training set
;;   data      a dataset fitted to the net (data-fit, see train-data), or
;;             any table of train-inputs, train-targets, train-labels and
;;             the same for test
;;   out       the folder that receives the outputs, or () for none
;;   quiet     t: no net table, no progress bar, no per-pass timing lines
;;   loop      'c (default): nn-train-pass; 'lisp: nn-train-loop, slower
;;   batch     examples per optimizer step (default 1)
;;   shuffle   t: a new random order of the training examples every pass
;;             (data-permutation, from the generator); (): fixed order
;;   resume    t: continue from the last checkpoint in out (an error when
;;             there is none); 'optional: when there is one
;;   before-pass  () or a function of the pass number (1-based) called
;;             before each pass: learning-rate schedules, SDLM's estimate
;;   references  rows (label train-error% test-error%) shown beside this
;;             run in the final table
;;   no-table  t: train-run prints no final table (see train-table)
;; (train-run RECIPE) runs it and returns it, its per-pass metrics under the
;; key metrics. The 1989 recipe is in lecun1989.lsp, the modern ones in
;; modern.lsp; train-main runs a new architecture from a script.

(libload "nn")
(libload "data")
(libload "plot")
(libload "checkpoint")

(defvar train-references
  '(("paper (LeCun et al. 1989)" 0.14 5.00)
    ("PyTorch (Karpathy 2022, his digits)" 0.62 4.09))
  "The published results of the 1989 recipe, shown beside a run in the
final table: (label train-error% test-error%) rows.")

;; ---- Command-line options -----------------------------------------------

(de train-usage-text (usage specs)
  "The usage message of a script: USAGE (the first line), then one line per
option of SPECS (see train-parse-args)."
  (concat usage "\n"
          (join (all ((s specs))
                  (sprintf "  %-22s %s\n"
                           (concat "--" (car s)
                                   (selectq (cadr s)
                                     (flag "")
                                     (t (concat " " (train-kind-name (cadr s))))))
                           (concat (nth 3 s)
                                   (if (and (nth 2 s) (not (eq (cadr s) 'flag)))
                                       (sprintf " (default %s)" (nth 2 s))
                                     ""))))
                "")))

(de train-kind-name (kind)
  "The placeholder shown for an option of KIND in a usage message."
  (cond ((consp kind) (join kind "|"))
        ((eq kind 'int) "N")
        ((eq kind 'number) "X")
        ((eq kind 'name) "NAME")
        ((eq kind 'file) "FILE")
        (t "DIR")))

(de train-usage-exit (usage specs why)
  "Prints WHY and the usage message to standard error, then exits with
status 2 (misuse)."
  (eprintf "%s\n%s" why (train-usage-text usage specs))
  (exit 2))

(de train-option-value (kind text)
  "TEXT converted for an option of KIND ('int, 'number, a list of allowed
strings, or any other kind: TEXT as it is), or the symbol bad."
  (let ((n (string->number text)))
    (cond ((eq kind 'int) (if (and n (integerp n) (>= n 0)) n 'bad))
          ((eq kind 'number) (if (and n (> n 0)) n 'bad))
          ((consp kind) (if (member text kind) text 'bad))
          (t text))))

(de train-parse-args (args specs usage)
  "Parses the command-line strings ARGS against SPECS, a list of
(NAME KIND DEFAULT DOC): NAME without its leading --; KIND 'int (a count
>= 0), 'number (> 0), 'string (a folder), 'file (a file), 'name (a
string), 'flag (no value; t when given) or a list of the allowed strings.
Returns a hash table from each NAME to its value.
--help prints the usage message (USAGE then the options) and exits 0; an
unknown option, a missing or bad value exits 2 after the usage message."
  (let ((opts (htable)))
    (each ((s specs)) (hset opts (car s) (nth 2 s)))
    (while args
      (let* ((arg (car args))
             (name (if (and (> (strlen arg) 2) (= 0 (search "--" arg)))
                       (substring arg 2)))
             (spec (assoc name specs)))
        (setq args (cdr args))
        (cond ((or (equal arg "--help") (equal arg "-h"))
               (printf "%s" (train-usage-text usage specs))
               (exit 0))
              ((null spec)
               (train-usage-exit usage specs (sprintf "unknown option %s" arg)))
              ((eq (cadr spec) 'flag) (hset opts name t))
              ((null args)
               (train-usage-exit usage specs (sprintf "%s needs a value" arg)))
              (t
               (let ((v (train-option-value (cadr spec) (car args))))
                 (when (eq v 'bad)
                   (train-usage-exit usage specs
                                     (sprintf "bad value for %s: %s" arg (car args))))
                 (hset opts name v)
                 (setq args (cdr args)))))))
    opts))

(defvar train-common-options
  '(("passes" int () "passes over the training set")
    ("lr" number () "learning rate")
    ("seed" int 1337 "seed of the initial weights and random draws")
    ("data" name "digits"
     "digits, mnist ($MNIST_DIR), fashion ($FASHION_MNIST_DIR) or a folder of IDX files")
    ("out" string () "folder for the outputs and the checkpoint of every pass")
    ("resume" string () "continue the killed run whose --out was DIR, writing there")
    ("batch" int 1 "examples per optimizer step (the gradient is averaged over them)")
    ("threads" int () "threads training and evaluating (default: $LUSH89_THREADS, else all cores)")
    ("loop" ("c" "lisp") "c" "per-example loop: the C pass, or the Lisp one")
    ("quiet" flag () "only the eval lines and the final table"))
  "The options every training script takes (see train-parse-args); scripts
add theirs and set the defaults of passes, lr and out.")

(de train-options (args usage defaults &optional extra)
  "Parses ARGS against train-common-options plus the EXTRA specs, the
defaults of the common options replaced by DEFAULTS, an alist ((NAME
VALUE)...). Returns the options' hash table (see train-parse-args).
Raises for a --batch below 1 or one the Lisp loop (--loop lisp, one
example at a time) would ignore, and for --threads 0."
  (let* ((opts (train-parse-args
                args
                (append (all ((s train-common-options))
                          (let ((d (assoc (car s) defaults)))
                            (if d (list (car s) (cadr s) (cadr d) (nth 3 s)) s)))
                        extra)
                usage))
         (batch (hget opts "batch")))
    (when (and batch (< batch 1))
      (error "--batch %d: a batch holds at least 1 example" batch))
    (when (and batch (> batch 1) (equal (hget opts "loop") "lisp"))
      (error "--batch %d: --loop lisp trains one example at a time (--batch 1)" batch))
    (when (equal (hget opts "threads") 0)
      (error "--threads 0: training needs at least 1 thread"))
    opts))

;; ---- Data -----------------------------------------------------------------

(de train-inputs (data split)
  "The float inputs of SPLIT ('train or 'test) of DATA, all of them at once
(see data-inputs: a split held as bytes is converted now, whole; training
and evaluation convert a chunk at a time instead)."
  (data-inputs data split))

(de train-targets (data split cost)
  "The targets of SPLIT ('train or 'test) of DATA for COST: the +1/-1 rows
for 'mse, the classes for 'ce."
  (hget data (data-key split (if (eq cost 'mse) 'targets 'labels))))

(de train-labels (data split)
  "The classes of SPLIT ('train or 'test) of DATA."
  (data-labels data split))

;; ---- Progress -------------------------------------------------------------

(defvar train-tty 'unknown
  "Whether a progress bar is drawn: t or () to force it, 'unknown to ask
(isatty) whether standard output is a terminal.")

(de train-tty-p ()
  "t when the progress bar is drawn (see train-tty)."
  (if (eq train-tty 'unknown) (isatty) train-tty))

(de train-bar (pass passes done total elapsed)
  "Redraws the one-line progress bar of pass PASS/PASSES: DONE of TOTAL
examples after ELAPSED seconds."
  (let* ((width 24)
         (full (if (> total 0) (div (* width done) total) width)))
    (printf "\rpass %d/%d [%s%s] %d/%d examples  %.1f s  %.0f examples/s "
            pass passes
            (join (all ((i (range full))) "#") "")
            (join (all ((i (range (- width full)))) ".") "")
            done total elapsed (if (> elapsed 0) (/ done elapsed) 0))
    (flush)))

(de train-bar-clear ()
  "Erases the progress bar line."
  (printf "\r\e[K")
  (flush))

;; ---- One pass ---------------------------------------------------------------

(defvar train-chunk 512
  "Examples per call of the training pass on a split held as bytes (each
chunk converted to floats just before), or while a progress bar is drawn;
rounded down to whole batches (see train-chunk-size).")

(de train-batch-supported ()
  "t when this build's nn-train-pass takes a BATCH (its 7th argument):
probed by the arity check, which runs before any argument is looked at.
Every build since batches came does; scripts/fashion.lsp still asks."
  (let ((message (try (progn (nn-train-pass () () () () () () 2) "")
                      (catch e (error-message e)))))
    (null (search "wrong number of arguments" message))))

;; A split converted once (data-fit) is trained on in one call of the C
;; pass, which follows a shuffled order itself; a split held as bytes, or
;; any split while the progress bar is drawn, goes by chunks of whole
;; batches, so that every batch is the same as in one call.

(de train-step (r x tg &optional order)
  "Trains recipe R's net on inputs X and targets TG, in ORDER (an int
vector of example indices; default: X's order), with R's loop: the C pass
(nn-train-pass, in R's batches) or the Lisp one (nn-train-loop, one
example at a time). Returns (mean-loss errors)."
  (let ((net (hget r 'net)) (opt (hget r 'opt)) (cost (hget r 'cost)))
    (if (eq (hget r 'loop) 'lisp)
        (nn-train-loop net opt x tg cost order)
      (nn-train-pass net opt x tg cost order (hget r 'batch 1)))))

(de train-chunk-size (r)
  "Examples per chunk of a pass of recipe R: train-chunk rounded down to
whole batches, at least one batch."
  (let ((batch (hget r 'batch 1)))
    (* batch (max 1 (div train-chunk batch)))))

(de train-pass (r pass)
  "Trains recipe R's net for pass PASS over the training set, in fixed
order or, when R shuffles, in a new random order: in one call on a split
converted once (unless the progress bar is drawn: on a terminal, unless
quiet), else by chunks (train-chunk-size), each converted from bytes (into
one buffer, reused) when the split is held as bytes. Returns (mean-loss
errors seconds) of the training examples as seen during the pass."
  (let* ((data (hget r 'data))
         (tg (train-targets data 'train (hget r 'cost)))
         (n (data-count data 'train))
         (order (and (hget r 'shuffle) (data-permutation n)))
         (whole (hget data 'train-inputs))
         (bar (and (not (hget r 'quiet)) (train-tty-p)))
         (chunk (train-chunk-size r))
         (buf (unless whole (float-matrix chunk 1 (hget data 'size) (hget data 'size))))
         (start (clock)))
    (if (and whole (not bar))
        (append (train-step r whole tg order) (list (- (clock) start)))
      (let ((loss 0) (errors 0) (done 0))
        (while (< done n)
          (let* ((k (min chunk (- n done)))
                 (res (if (and whole order)
                          (train-step r whole tg (narrow order 0 k done))
                        (train-step r (data-inputs data 'train done k order
                                                   (and buf (narrow buf 0 k 0)))
                                    (if order (data-gather tg order done k) (narrow tg 0 k done))))))
            (setq loss (+ loss (* k (car res)))
                  errors (+ errors (cadr res))
                  done (+ done k))
            (when bar (train-bar pass (hget r 'passes) done n (- (clock) start)))))
        (when bar (train-bar-clear))
        (list (/ loss n) errors (- (clock) start))))))

(defvar train-eval-chunk 1024
  "Examples per call of nn-evaluate and nn-predict on a split held as
bytes.")

(de train-chunks (data split fn)
  "Calls (FN INPUTS START COUNT) on SPLIT of DATA: once on all its inputs
when they are floats, else on chunks of train-eval-chunk examples
converted one after the other into one buffer (FN must not keep INPUTS).
Returns the list of FN's values."
  (let ((n (data-count data split)))
    (if (hget data (data-key split 'inputs))
        (list (fn (data-inputs data split) 0 n))
      (let ((buf (float-matrix (min n train-eval-chunk) 1 (hget data 'size) (hget data 'size))))
        (all ((start (range 0 n train-eval-chunk)))
          (let ((k (min train-eval-chunk (- n start))))
            (fn (data-inputs data split start k () (narrow buf 0 k 0)) start k)))))))

(de train-evaluate (r split)
  "Evaluates recipe R's net on SPLIT ('train or 'test) of its data, a chunk
at a time when the split is held as bytes (see train-chunks): (loss
error-percent misses), the loss the mean over the examples."
  (let* ((data (hget r 'data)) (cost (hget r 'cost))
         (tg (train-targets data split cost))
         (n (data-count data split))
         (parts (train-chunks data split
                              (lambda (x start k)
                                (cons k (nn-evaluate (hget r 'net) x (narrow tg 0 k start) cost)))))
         (misses (reduce (lambda (sum p) (+ sum (nth 2 p))) parts 0)))
    (list (if (cdr parts)
              (/ (reduce (lambda (sum p) (+ sum (* (car p) (cadr p)))) parts 0) n)
            (cadr (car parts)))
          (/ (* 100 misses) n)
          misses)))

(de train-eval-line (split res)
  "Prints the eval line of SPLIT for RES, what train-evaluate returned:
    eval: split train. loss 4.073383e-03. error 0.62%. misses: 45"
  (printf "eval: split %-5s. loss %e. error %.2f%%. misses: %d\n"
          (symbol->string split) (car res) (cadr res) (nth 2 res)))

(de train-eval (r split)
  "Evaluates recipe R's net on SPLIT ('train or 'test) (see
train-evaluate), prints the eval line (see train-eval-line) and returns
(loss error-percent misses)."
  (let ((res (train-evaluate r split)))
    (train-eval-line split res)
    res))

(de train-predict (r split)
  "The outputs of recipe R's net on SPLIT of its data, float [N outputs]
(see nn-predict), computed a chunk at a time when the split is held as
bytes."
  (let* ((data (hget r 'data))
         (parts (train-chunks data split (lambda (x start k) (nn-predict (hget r 'net) x))))
         (n (data-count data split))
         (out (apply float-matrix (cons n (cdr (idx-shape (car parts))))))
         (at 0))
    (each ((p parts))
      (idx-copy p (narrow out 0 (idx-dim p 0) at))
      (incr at (idx-dim p 0)))
    out))

;; ---- The run ----------------------------------------------------------------

(de train-recipe (&rest pairs)
  "A recipe (see the top of train.lsp) from KEY VALUE pairs, with the
defaults: cost 'mse, passes 23, loop 'c."
  (let ((r (htable 'cost 'mse 'passes 23 'loop 'c)))
    (while pairs
      (hset r (car pairs) (cadr pairs))
      (setq pairs (cddr pairs)))
    r))

(defvar train-columns
  (append metrics-columns '("train_misses" "test_misses" "rate" "running_loss"))
  "The columns of a run's metrics rows and of its metrics.csv: plot.lsp's
metrics-columns (pass, losses and errors in percent, seconds of training),
then the misses of both splits, the learning rate and the mean loss seen
while training.")

(de train-pass-line (r pass tr)
  "Prints the plain line closing pass PASS of recipe R, TR being what
train-pass returned."
  (printf "pass %d/%d: %.2f s, %.0f examples/s, rate %g, running loss %e\n"
          pass (hget r 'passes) (nth 2 tr)
          (/ (data-count (hget r 'data) 'train) (max (nth 2 tr) 1e-9))
          (nn-rate (hget r 'opt)) (car tr)))

(de train-resume (r)
  "Restores recipe R's net, optimizer and generator from the checkpoint in
its out folder (see checkpoint-load) and returns the checkpoint's state;
() when the folder holds none (a run killed during its first pass: it
starts again, with a note on standard error). Raises when the folder is
missing (unless R's resume is 'optional), or when its checkpoint is of
another run."
  (let* ((out (hget r 'out))
         (state (and out (checkpoint-load out (hget r 'net) (hget r 'opt)))))
    (cond (state
           (unless (and (equal (checkpoint-fact state 'name) (hget r 'name))
                        (equal (checkpoint-fact state 'data) (hget (hget r 'data) 'name)))
             (error "train-resume: %s holds a checkpoint of %s on %s, not of %s on %s"
                    out (checkpoint-fact state 'name) (checkpoint-fact state 'data)
                    (hget r 'name) (hget (hget r 'data) 'name)))
           state)
          ((eq (hget r 'resume) 'optional) ())
          ((data-folder-p out)
           (eprintf "%s holds no checkpoint: %s starts at pass 1\n" out (hget r 'name))
           ())
          (t (error "train-resume: --resume %s: no such folder" out)))))

(de train-run (r)
  "Runs recipe R (see the top of train.lsp): continues from its last
checkpoint when R resumes; for each pass, calls its before-pass function,
trains, prints the eval lines of both splits (and, unless quiet, a line of
timing) and, with an out folder, writes metrics.csv and the pass's
checkpoint; then prints the confusion matrix of the test split, writes the
outputs and prints the final table. The metrics rows (see train-columns),
one per pass, go to R's key metrics. Returns R."
  (let* ((out (hget r 'out)) (start (clock))
         (state (and (hget r 'resume) (train-resume r)))
         (before (if state (checkpoint-fact state 'seconds) 0)))
    (when out (mkdir-p out))
    (hset r 'metrics (and state (checkpoint-fact state 'metrics)))
    (for (pass (if state (+ 1 (checkpoint-fact state 'pass)) 1) (hget r 'passes))
      (when (hget r 'before-pass) ((hget r 'before-pass) pass))
      (let* ((tr (train-pass r pass))
             (etr (progn (unless (hget r 'quiet) (train-pass-line r pass tr))
                         (train-eval r 'train)))
             (ete (train-eval r 'test)))
        (hset r 'metrics (append (hget r 'metrics)
                                 (list (list pass (car etr) (cadr etr) (car ete) (cadr ete)
                                             (nth 2 tr) (nth 2 etr) (nth 2 ete)
                                             (nn-rate (hget r 'opt)) (car tr)))))
        (when out
          (csv-write (concat out "/metrics.csv") train-columns (hget r 'metrics))
          (checkpoint-save out pass (hget r 'net) (hget r 'opt)
                           (list (list 'name (hget r 'name))
                                 (list 'data (hget (hget r 'data) 'name))
                                 (list 'metrics (hget r 'metrics))
                                 (list 'seconds (+ before (- (clock) start))))))
        (flush)))
    (hset r 'seconds (+ before (- (clock) start)))
    (train-confusion r)
    (when out (train-write-outputs r))
    (unless (hget r 'no-table) (train-table r))
    r))

;; ---- The confusion matrix -------------------------------------------------------

(de train-predicted (cost output)
  "The class one example's OUTPUT (a vector) predicts under COST: the index
of its smallest element for LeNet-5's RBF loss ('rbf or 'lenet5, whose
outputs are penalties), of its largest for any other cost."
  (if (memq cost '(rbf lenet5)) (idx-indexmin output) (idx-indexmax output)))

(de train-predictions (r outputs)
  "The classes the rows of OUTPUTS ([N K], recipe R's net's outputs)
predict under R's cost (see train-predicted): int [N]."
  (let ((p (int-matrix (idx-dim outputs 0))))
    (for (i 0 (- (idx-dim outputs 0) 1))
      (p i (train-predicted (hget r 'cost) (select outputs 0 i))))
    p))

(de train-confusion (r)
  "Computes recipe R's confusion matrix on the test split and prints it as a
table: rows the true class, columns the predicted one (numbered, see
train-predictions), counts, and each true class's error. Sets R's keys
test-outputs (the net's outputs, see train-predict), test-predictions
(int [N]) and confusion (int [K K]). Returns the counts."
  (let* ((data (hget r 'data))
         (outputs (train-predict r 'test))
         (predicted (train-predictions r outputs))
         (labels (train-labels data 'test))
         (names (data-classes data))
         (k (max (length names) (idx-dim outputs 1)))
         (names (append names (all ((i (range (length names) k))) (number->string i))))
         (counts (int-matrix k k)))
    (for (i 0 (- (idx-dim outputs 0) 1))
      (let ((truth (labels i)) (p (predicted i)))
        (counts truth p (+ 1 (counts truth p)))))
    (hset r 'test-outputs outputs)
    (hset r 'test-predictions predicted)
    (hset r 'confusion counts)
    (hset r 'class-names names)
    (printf "\nconfusion matrix (test): rows true class, columns predicted\n%-14s" "")
    (for (j 0 (- k 1)) (printf " %5d" j))
    (printf "   error\n")
    (for (i 0 (- k 1))
      (let ((total (idx-sum (select counts 0 i))))
        (printf "%-14s" (if (equal (nth i names) (number->string i))
                            (nth i names)
                          (sprintf "%d %s" i (nth i names))))
        (for (j 0 (- k 1)) (printf " %5d" (counts i j)))
        (printf (if (> total 0) "  %5.2f%%\n" "  %s\n")
                (if (> total 0) (* 100 (/ (- total (counts i i)) total)) "-"))))
    counts))

(de train-confusion-rows (counts names)
  "The rows of confusion.csv for COUNTS ([K K]) and class NAMES: one per
true class, its name then its counts per predicted class."
  (all ((i (range (idx-dim counts 0))))
    (cons (nth i names) (matrix->list (select counts 0 i)))))

(de train-last (r column)
  "The value of COLUMN (a name of train-columns) in recipe R's last pass."
  (let ((row (last (hget r 'metrics))))
    (nth (- (length train-columns) (length (member column train-columns))) row)))

;; ---- The final table --------------------------------------------------------

(de train-table (runs)
  "Prints the final table of RUNS, a recipe that has run or a list of them:
the train and test errors of each beside the reference rows of the first,
then each run's wall time and where its outputs went."
  (let* ((runs (if (listp runs) runs (list runs)))
         (single (null (cdr runs)))
         (rows (append (all ((r runs))
                         (list (sprintf "lush89 %s%s" (hget r 'name) (if single " (this run)" ""))
                               (train-last r "train_error") (train-last r "test_error")))
                       (hget (car runs) 'references))))
    (printf "\n%-40s %12s %12s\n" "" "train error" "test error")
    (each ((row rows))
      (printf "%-40s %11.2f%% %11.2f%%\n" (car row) (cadr row) (nth 2 row)))
    (each ((r runs))
      (printf "wall time %s%.2f s for %d passes (%.3f s per pass, evaluation of both splits included)\n"
              (if single "" (concat (hget r 'name) ": "))
              (hget r 'seconds) (hget r 'passes) (/ (hget r 'seconds) (hget r 'passes))))
    (each ((r runs))
      (when (hget r 'out)
        (printf "outputs in %s/: %s\n" (hget r 'out) (join (hget r 'outputs) " "))))))

;; ---- Outputs ----------------------------------------------------------------

(de train-first-layer-images (net)
  "Pictures of the weights of NET's first layer with parameters, as a tensor
whose last two dimensions are images: a convolution's kernels [connections
K K], or a fully connected layer's weights on a square input image, one
image per unit. () for other first layers."
  (let ((found ()) (size (nth 2 (nn-shape net 0))))
    (each ((m (nn-modules net)))
      (let ((w (and (null found) (try (nn-weights m) (catch e ()))))) ; Lisp modules have none
        (when w (setq found w))))
    (cond ((null found) ())
          ((= 3 (idx-ndim found)) found)
          ((and size (= (* size size) (idx-dim found 1)))
           (idx-reshape found (idx-dim found 0) size size))
          (t ()))))

(defvar train-misclassified-most 200
  "The most test examples misclassified.png shows.")

(de train-misclassified (r most)
  "The indices of the first MOST test examples recipe R's net misclassifies
(its test-predictions against the labels, see train-confusion), int [K]:
only they are converted for misclassified.png."
  (let* ((labels (train-labels (hget r 'data) 'test))
         (predicted (hget r 'test-predictions))
         (wrong (int-matrix (min most (idx-dim labels 0))))
         (k 0) (i 0))
    (while (and (< k (idx-dim wrong 0)) (< i (idx-dim labels 0)))
      (when (/= (labels i) (predicted i))
        (wrong k i)
        (incr k))
      (incr i))
    (narrow wrong 0 k 0)))

(de train-write-outputs (r)
  "Writes recipe R's outputs into its folder out: params.idx (the trained
flat parameter vector, see nn-save), metrics.csv, curves.svg (learning
curves), confusion.csv and confusion.svg (the confusion matrix of the test
split, see train-confusion: a header row, then one row per true class,
its name and its counts per predicted class), h1-kernels.png (the first
layer's kernels) and misclassified.png (test images the net gets wrong,
true→predicted). Sets R's key outputs to the list of the files' names."
  (let* ((out (hget r 'out)) (net (hget r 'net)) (data (hget r 'data))
         (file (lambda (name) (concat out "/" name)))
         (kernels (train-first-layer-images net))
         (classes (hget r 'class-names))
         (names (list "params.idx" "metrics.csv" "curves.svg" "confusion.csv" "confusion.svg")))
    (nn-save net (file "params.idx"))
    (plot-curves (file "curves.svg") (hget r 'metrics)
                 (sprintf "%s: error and loss per pass" (hget r 'name)))
    (csv-write (file "confusion.csv") (cons "true" classes)
               (train-confusion-rows (hget r 'confusion) classes))
    (plot-confusion (file "confusion.svg") (hget r 'confusion) classes
                    (sprintf "%s on %s: test confusion matrix" (hget r 'name)
                             (or (hget data 'name) "the test split")))
    (when kernels
      (plot-kernels (file "h1-kernels.png") kernels (if (> (idx-dim kernels 0) 12) 10 6))
      (setq names (append names (list "h1-kernels.png"))))
    (let* ((wrong (train-misclassified r train-misclassified-most))
           (k (idx-dim wrong 0)))
      (when (> k 0)
        (plot-misclassified (file "misclassified.png") (data-inputs data 'test 0 k wrong)
                            (data-gather (train-labels data 'test) wrong 0 k)
                            (data-gather (hget r 'test-predictions) wrong 0 k) 20 k)
        (setq names (append names (list "misclassified.png")))))
    (hset r 'outputs names)))


;; ---- Scripts -----------------------------------------------------------------

(de script-main-p (name)
  "t when the program lush89 runs is the script NAME (the first element of
argv ends with NAME): a script guards its main call with it, so that tests
can load its definitions without running it."
  (let ((prog (car argv)))
    (and (stringp prog) (>= (strlen prog) (strlen name))
         (string= name (substring prog (- (strlen prog) (strlen name)))))))

(de train-data (opts &optional shape geometry)
  "The dataset the parsed options OPTS name (--data, see data-load), quiet
with --quiet; fitted to a net of input SHAPE when given (see data-fit;
GEOMETRY forces 'native, 'pad or 'resize). Loading the digits seeds the
generator: seed it afterwards."
  (let ((verbose data-verbose))
    (when (hget opts "quiet") (setq data-verbose ()))
    (unwind-protect
        (let ((data (data-load (hget opts "data"))))
          (if shape (data-fit data shape geometry) data))
      (setq data-verbose verbose))))

(de train-main (args name make-net &optional defaults)
  "The command line of a script training a new architecture as the 1989
recipe trains its net: the mean squared error against the +1/-1 targets,
plain SGD, one example at a time in fixed order. ARGS are the script's
arguments (train-common-options); NAME names the run and the default out
folder out/NAME; MAKE-NET, a function of no argument, makes the net (after
(seed --seed)); the data are fitted to its input shape. DEFAULTS, an alist
((OPTION VALUE)...), replaces the defaults of passes (23) and lr (0.03).
Returns the recipe."
  (let* ((opts (train-options args (sprintf "usage: lush89 scripts/%s.lsp [OPTION]..." name)
                              (append defaults
                                      (list (list "passes" 23) (list "lr" 0.03)
                                            (list "out" (concat "out/" name))))))
         (dataset (train-data opts)))
    (seed (hget opts "seed"))
    (let* ((net (make-net))
           (r (train-configure (train-recipe 'name name 'net net
                                             'opt (nn-sgd (hget opts "lr")) 'cost 'mse
                                             'data (data-fit dataset (nn-shape net 0))
                                             'passes (hget opts "passes")
                                             'references train-references)
                               opts)))
      (train-header r (sprintf "%s: MSE, SGD rate %g" name (hget opts "lr")))
      (train-run r))))

(de train-configure (r opts)
  "Sets recipe R's out, quiet, loop, batch and resume from the parsed
options OPTS (see train-options), and the simulator's threads (nn-threads)
from --threads. --resume DIR makes DIR the out folder. Drops R's reference
rows unless it trains on the digits (the published results are theirs).
Returns R."
  (let ((threads (hget opts "threads")))
    (when threads (nn-threads threads))
    (hset r 'batch (hget opts "batch"))
    (hset r 'out (or (hget opts "resume") (hget opts "out")))
    (hset r 'resume (and (hget opts "resume") t))
    (hset r 'quiet (hget opts "quiet"))
    (hset r 'loop (if (equal (hget opts "loop") "lisp") 'lisp 'c))
    (unless (equal (hget (hget r 'data) 'name) "digits") (hset r 'references ()))
    r))

(de train-header (r what)
  "Unless R is quiet, prints what is about to run: WHAT, the data set and
its sizes, the passes, the batch, the threads and the net's table."
  (unless (hget r 'quiet)
    (let ((data (hget r 'data)) (batch (hget r 'batch 1)))
      (printf "%s; data %s: %d training and %d test images at %dx%d (%s), %d passes, %s, %d %s\n"
              what (hget data 'name) (data-count data 'train) (data-count data 'test)
              (hget data 'size) (hget data 'size) (hget data 'geometry) (hget r 'passes)
              (if (= batch 1) "one example at a time" (sprintf "batches of %d" batch))
              (nn-threads) (if (= 1 (nn-threads)) "thread" "threads"))
      (nn-summary (hget r 'net))
      (printf "\n"))))
