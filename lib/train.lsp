;; train.lsp: the generic training recipe shared by scripts/lecun1989.lsp,
;; scripts/modern.lsp and the new architectures: command-line options, passes
;; of per-example training (the C pass of the simulator, or the Lisp loop of
;; nn.lsp), the eval lines, a progress bar on a terminal, per-pass metrics,
;; the outputs written to --out and the final table.
;;
;; A run is described by a recipe, a hash table with symbol keys:
;;   name      a short name, e.g. "lecun1989" (titles, the final table)
;;   net       the net to train
;;   opt       its optimizer (nn-sgd, nn-sdlm, nn-adamw)
;;   cost      'mse (targets: the +1/-1 rows) or 'ce (targets: the classes)
;;   passes    how many passes over the training set
;;   data      the digits, as mnist-load returns them (see train-data)
;;   out       the folder that receives the outputs, or () for none
;;   quiet     t: no net table, no progress bar, no per-pass timing lines
;;   loop      'c (default): nn-train-pass; 'lisp: nn-train-loop, slower
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
        (t "DIR")))

(de train-usage-exit (usage specs why)
  "Prints WHY and the usage message to standard error, then exits with
status 2 (misuse)."
  (eprintf "%s\n%s" why (train-usage-text usage specs))
  (exit 2))

(de train-option-value (kind text)
  "TEXT converted for an option of KIND ('int, 'number, 'string or a list of
allowed strings), or the symbol bad."
  (let ((n (string->number text)))
    (cond ((eq kind 'int) (if (and n (integerp n) (>= n 0)) n 'bad))
          ((eq kind 'number) (if (and n (> n 0)) n 'bad))
          ((consp kind) (if (member text kind) text 'bad))
          (t text))))

(de train-parse-args (args specs usage)
  "Parses the command-line strings ARGS against SPECS, a list of
(NAME KIND DEFAULT DOC): NAME without its leading --; KIND 'int (a count
>= 0), 'number (> 0), 'string, 'flag (no value; t when given) or a list of
the allowed strings. Returns a hash table from each NAME to its value.
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
    ("out" string () "folder for the outputs")
    ("loop" ("c" "lisp") "c" "per-example loop: the C pass, or the Lisp one")
    ("quiet" flag () "only the eval lines and the final table"))
  "The options every training script takes (see train-parse-args); scripts
add theirs and set the defaults of passes, lr and out.")

(de train-options (args usage defaults &optional extra)
  "Parses ARGS against train-common-options plus the EXTRA specs, the
defaults of the common options replaced by DEFAULTS, an alist ((NAME
VALUE)...). Returns the options' hash table (see train-parse-args)."
  (train-parse-args
   args
   (append (all ((s train-common-options))
             (let ((d (assoc (car s) defaults)))
               (if d (list (car s) (cadr s) (cadr d) (nth 3 s)) s)))
           extra)
   usage))

;; ---- Data -----------------------------------------------------------------

(de train-data (&optional quiet)
  "The prepared digits (see mnist-load in data.lsp: fetched and prepared
when missing), as the hash table mnist-load returns: train-inputs,
test-inputs ([N 1 16 16] in [-1,1]), train-targets, test-targets ([N 10],
+1 at the class, -1 elsewhere), train-labels, test-labels (int [N]). QUIET
silences the data steps."
  (let ((verbose data-verbose))
    (when quiet (setq data-verbose ()))
    (unwind-protect (mnist-load)
      (setq data-verbose verbose))))

(de train-inputs (data split)
  "The inputs of SPLIT ('train or 'test) of DATA."
  (hget data (if (eq split 'train) 'train-inputs 'test-inputs)))

(de train-targets (data split cost)
  "The targets of SPLIT ('train or 'test) of DATA for COST: the +1/-1 rows
for 'mse, the classes for 'ce."
  (hget data (if (eq cost 'mse)
                 (if (eq split 'train) 'train-targets 'test-targets)
               (if (eq split 'train) 'train-labels 'test-labels))))

(de train-labels (data split)
  "The classes of SPLIT ('train or 'test) of DATA."
  (hget data (if (eq split 'train) 'train-labels 'test-labels)))

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
  "Examples per call of nn-train-pass while a progress bar is drawn.")

(de train-index (n)
  "The int vector 0, 1, ..., N-1: the fixed order of the examples."
  (let ((v (int-matrix n)))
    (for (i 0 (- n 1)) (v i i))
    v))

(de train-pass (r pass)
  "Trains recipe R's net for pass PASS over the training set, one example at
a time in fixed order. Draws the progress bar on a terminal unless quiet.
Returns (mean-loss errors seconds) of the training examples as seen during
the pass."
  (let* ((net (hget r 'net)) (opt (hget r 'opt)) (cost (hget r 'cost))
         (data (hget r 'data))
         (x (train-inputs data 'train)) (tg (train-targets data 'train cost))
         (n (idx-dim x 0))
         (bar (and (not (hget r 'quiet)) (train-tty-p)))
         (start (clock)))
    (if (eq (hget r 'loop) 'lisp)
        (append (nn-train-loop net opt x tg cost) (list (- (clock) start)))
      (if (not bar)
          (append (nn-train-pass net opt x tg cost) (list (- (clock) start)))
        (let ((order (train-index n)) (loss 0) (errors 0) (done 0))
          (while (< done n)
            (let* ((k (min train-chunk (- n done)))
                   (res (nn-train-pass net opt x tg cost (narrow order 0 k done))))
              (setq loss (+ loss (* k (car res)))
                    errors (+ errors (cadr res))
                    done (+ done k))
              (train-bar pass (hget r 'passes) done n (- (clock) start))))
          (train-bar-clear)
          (list (/ loss n) errors (- (clock) start)))))))

(de train-eval (r split)
  "Evaluates recipe R's net on SPLIT ('train or 'test), prints the eval line
    eval: split train. loss 4.073383e-03. error 0.62%. misses: 45
and returns (loss error-percent misses)."
  (let* ((data (hget r 'data)) (cost (hget r 'cost))
         (x (train-inputs data split))
         (res (nn-evaluate (hget r 'net) x (train-targets data split cost) cost))
         (misses (cadr res))
         (err (/ (* 100 misses) (idx-dim x 0))))
    (printf "eval: split %-5s. loss %e. error %.2f%%. misses: %d\n"
            (symbol->string split) (car res) err misses)
    (list (car res) err misses)))

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
          (/ (idx-dim (train-inputs (hget r 'data) 'train) 0) (max (nth 2 tr) 1e-9))
          (nn-rate (hget r 'opt)) (car tr)))

(de train-run (r)
  "Runs recipe R (see the top of train.lsp): for each pass, calls its
before-pass function, trains, prints the eval lines of both splits (and,
unless quiet, a line of timing); then writes the outputs and prints the
final table. The metrics rows (see train-columns), one per pass, go to R's
key metrics, and to out/metrics.csv after every pass. Returns R."
  (let ((rows ()) (start (clock)) (out (hget r 'out)))
    (when out (mkdir-p out))
    (hset r 'metrics ())
    (for (pass 1 (hget r 'passes))
      (when (hget r 'before-pass) ((hget r 'before-pass) pass))
      (let ((tr (train-pass r pass)))
        (unless (hget r 'quiet) (train-pass-line r pass tr))
        (let ((etr (train-eval r 'train))
              (ete (train-eval r 'test)))
          (setq rows (cons (list pass (car etr) (cadr etr) (car ete) (cadr ete)
                                 (nth 2 tr) (nth 2 etr) (nth 2 ete)
                                 (nn-rate (hget r 'opt)) (car tr))
                           rows))
          (hset r 'metrics (reverse rows))
          (when out
            (csv-write (concat out "/metrics.csv") train-columns (hget r 'metrics)))
          (flush))))
    (hset r 'seconds (- (clock) start))
    (when out (train-write-outputs r))
    (unless (hget r 'no-table) (train-table r))
    r))

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
K K], or a fully connected layer's weights on a 16x16 input, one [16 16]
image per unit. () for other first layers."
  (let ((found ()))
    (each ((m (nn-modules net)))
      (let ((w (and (null found) (try (nn-weights m) (catch e ()))))) ; Lisp modules have none
        (when w (setq found w))))
    (cond ((null found) ())
          ((= 3 (idx-ndim found)) found)
          ((= 256 (idx-dim found 1)) (idx-reshape found (idx-dim found 0) 16 16))
          (t ()))))

(de train-write-outputs (r)
  "Writes recipe R's outputs into its folder out: params.idx (the trained
flat parameter vector, see nn-save), metrics.csv, curves.svg (learning
curves), h1-kernels.png (the first layer's kernels) and misclassified.png
(the test digits the net gets wrong, true→predicted). Sets R's key outputs
to the list of the files' names."
  (let* ((out (hget r 'out)) (net (hget r 'net)) (data (hget r 'data))
         (file (lambda (name) (concat out "/" name)))
         (kernels (train-first-layer-images net))
         (names (list "params.idx" "metrics.csv" "curves.svg")))
    (nn-save net (file "params.idx"))
    (plot-curves (file "curves.svg") (hget r 'metrics)
                 (sprintf "%s: error and loss per pass" (hget r 'name)))
    (when kernels
      (plot-kernels (file "h1-kernels.png") kernels (if (> (idx-dim kernels 0) 12) 10 6))
      (setq names (append names (list "h1-kernels.png"))))
    (when (> (plot-misclassified (file "misclassified.png") (train-inputs data 'test)
                                 (train-labels data 'test)
                                 (nn-predict net (train-inputs data 'test)) 20 200)
             0)
      (setq names (append names (list "misclassified.png"))))
    (hset r 'outputs names)))

;; ---- Scripts of new architectures ----------------------------------------------

(de script-main-p (name)
  "t when the program lush89 runs is the script NAME (the first element of
argv ends with NAME): a script guards its main call with it, so that tests
can load its definitions without running it."
  (let ((prog (car argv)))
    (and (stringp prog) (>= (strlen prog) (strlen name))
         (string= name (substring prog (- (strlen prog) (strlen name)))))))

(de train-main (args name make-net &optional defaults)
  "The command line of a script training a new architecture as the 1989
recipe trains its net: the mean squared error against the +1/-1 targets,
plain SGD, one example at a time in fixed order. ARGS are the script's
arguments (train-common-options); NAME names the run and the default out
folder out/NAME; MAKE-NET, a function of no argument, makes the net (after
(seed --seed)). DEFAULTS, an alist ((OPTION VALUE)...), replaces the
defaults of passes (23) and lr (0.03). Returns the recipe."
  (let* ((opts (train-options args (sprintf "usage: lush89 scripts/%s.lsp [OPTION]..." name)
                              (append defaults
                                      (list (list "passes" 23) (list "lr" 0.03)
                                            (list "out" (concat "out/" name))))))
         (data (train-data (hget opts "quiet"))))
    (seed (hget opts "seed"))
    (let ((r (train-configure (train-recipe 'name name 'net (make-net)
                                            'opt (nn-sgd (hget opts "lr")) 'cost 'mse
                                            'data data 'passes (hget opts "passes")
                                            'references train-references)
                              opts)))
      (train-header r (sprintf "%s: MSE, SGD rate %g" name (hget opts "lr")))
      (train-run r))))
(de train-configure (r opts)
  "Sets recipe R's out, quiet and loop from the parsed options OPTS (see
train-options). Returns R."
  (hset r 'out (hget opts "out"))
  (hset r 'quiet (hget opts "quiet"))
  (hset r 'loop (if (equal (hget opts "loop") "lisp") 'lisp 'c))
  r)

(de train-header (r what)
  "Unless R is quiet, prints what is about to run: WHAT, the data set's
sizes, the passes and the net's table."
  (unless (hget r 'quiet)
    (let ((data (hget r 'data)))
      (printf "%s; %d training and %d test digits, %d passes, one example at a time\n"
              what (idx-dim (train-inputs data 'train) 0)
              (idx-dim (train-inputs data 'test) 0) (hget r 'passes))
      (nn-summary (hget r 'net))
      (printf "\n"))))
