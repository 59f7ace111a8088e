;; sweep.lsp: studies of seeds and settings as many runs of one training
;; script, fanned out by GNU parallel (local cores, or machines of an
;; --sshloginfile) or by a Slurm job array: no scheduler of our own. Owns the
;; sweep's command line, the job list and the folder it lives in, running one
;; task, gathering every run's eval lines, the statistics per setting, the
;; table, sweep.csv and sweep.svg. scripts/sweep.lsp calls sweep-main.
;;
;; A sweep's folder DIR holds
;;   runs.csv        the job list: task,setting,seed,dir,command (task from 1;
;;                   dir relative to DIR; command the shell line of the run)
;;   joblog.tsv      GNU parallel's --joblog
;;   sweep.sbatch    with --slurm: the job array, one task per row of runs.csv
;;   DIR/<dir>/      one run: the script's own --out, plus stdout.txt,
;;                   stderr.txt and sweep-status.txt ("EXIT SECONDS")
;;   sweep.csv       one row per setting (see sweep-csv-columns)
;;   sweep.svg       test error per pass per setting: mean and min-max band
;; Every task, under parallel or Slurm, is the same command:
;;   lush89 scripts/sweep.lsp --run DIR TASK

(libload "plot")
(libload "data")

(defvar sweep-parallel "parallel"
  "The command that runs the tasks: GNU parallel.")

(defvar sweep-max-runs 10000
  "The most runs one sweep may hold: a typo in --seeds must not make a
million folders.")

(defvar sweep-usage
  "usage: lush89 scripts/sweep.lsp [OPTION]... -- SCRIPT [SCRIPT OPTION]...
       lush89 scripts/sweep.lsp --gather DIR
Runs SCRIPT once per seed, and per value of each script option given as a
comma list (e.g. --lr 0.01,0.03), through GNU parallel; each run gets its own
--seed and --out under the sweep's folder, its output kept there. Then prints
the final train and test errors of each setting over the seeds (mean ± sd,
min, max) and writes sweep.csv and sweep.svg into the sweep's folder.
  --seeds LIST         seeds: A-B, N or a comma list of them (default 1-8)
  --jobs N             runs at a time (default: one per core; with --slurm,
                       the job array's limit of tasks at a time)
  --sshloginfile FILE  run on the machines of FILE (GNU parallel's format;
                       they must see the same files at the same paths)
  --slurm              write sweep.sbatch, a Slurm job array, instead of running
  --out DIR            the sweep's folder (default out/sweep-SCRIPT-OPTIONS)
  --gather DIR         only gather the runs in DIR (after --slurm)
  --run DIR TASK       run task TASK of DIR/runs.csv (what each job runs)
"
  "The usage message of scripts/sweep.lsp.")

;; ---- Small helpers ------------------------------------------------------------

(de sweep-int (text what)
  "TEXT as an integer >= 0; raises naming WHAT when it is not one."
  (let ((n (and (stringp text) (string->number text))))
    (unless (and n (integerp n) (>= n 0))
      (error "sweep: %s: expected an integer >= 0, got %l" what text))
    n))

(de sweep-slug (text)
  "TEXT with every character other than a letter, a digit, . _ or - written
_: safe as a folder name."
  (join (all ((i (range (strlen text))))
          (let ((c (substring text i (+ i 1))))
            (if (search c "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
                c
              "_")))
        ""))

(de sweep-base-name (path)
  "The name of the file PATH without its folder and its .lsp."
  (let* ((name (last (split path "/")))
         (n (strlen name)))
    (if (and (> n 4) (string= ".lsp" (substring name (- n 4))))
        (substring name 0 (- n 4))
      name)))

(de sweep-shell-output (command)
  "The standard output of the shell COMMAND, without its last line end, or
() when the command fails."
  (let ((tmp (sprintf "%s/lush89-sweep-%.0f.tmp" (or (getenv "TMPDIR") "/tmp")
                      (* 1e9 (clock)))))
    (unwind-protect
        (and (= 0 (sys (concat command " > " (data-shell-quote tmp))))
             (string-trim (read-file tmp)))
      (when (file-exists tmp) (delete-file tmp)))))

(de sweep-absolute (path cwd)
  "PATH made absolute against the folder CWD."
  (if (equal 0 (search "/" path)) path (concat cwd "/" path)))

;; ---- The command line ------------------------------------------------------------

(de sweep-parse-seeds (text)
  "The seeds of TEXT, a comma list of N or A-B (A <= B, both included), as a
list of integers in order, e.g. \"1-3,7\" -> (1 2 3 7). Raises on a bad or
repeated seed and on more than sweep-max-runs seeds."
  (let ((seeds ()))
    (each ((part (split text ",")))
      (let* ((dash (search "-" part))
             (from (sweep-int (if dash (substring part 0 dash) part) (concat "--seeds " text)))
             (to (if dash (sweep-int (substring part (+ dash 1)) (concat "--seeds " text)) from)))
        (when (> from to)
          (error "sweep: --seeds %s: the range %s runs backwards" text part))
        (when (> (- to from) sweep-max-runs)
          (error "sweep: --seeds %s: more than %d seeds" text sweep-max-runs))
        (for (s from to)
          (when (member s seeds) (error "sweep: --seeds %s: seed %d appears twice" text s))
          (push s seeds))))
    (reverse seeds)))

(de sweep-option-p (arg)
  "t when the command-line string ARG is an option: --NAME."
  (and (> (strlen arg) 2) (equal 0 (search "--" arg))))

(de sweep-script-items (args)
  "The script's command-line strings ARGS as a list of items (NAME VALUES):
an option --NAME followed by a value gives (\"--NAME\" VALUES), VALUES the
value split at its commas; an option followed by another option or by
nothing is a flag, (\"--NAME\" ()); any other word W is (() (W)). Raises
on --seed and --out (the sweep sets them) and on an empty value in a comma
list."
  (let ((items ()))
    (while args
      (let ((arg (pop args)))
        (cond ((not (sweep-option-p arg)) (push (list () (list arg)) items))
              ((member arg '("--seed" "--out"))
               (error "sweep: the sweep sets %s of each run: use --seeds and the sweep's --out" arg))
              ((or (null args) (sweep-option-p (car args))) (push (list arg ()) items))
              (t (let* ((text (pop args)) (values (split text ",")))
                   (when (member "" values)
                     (error "sweep: %s %s: an empty value in the comma list" arg text))
                   (push (list arg values) items))))))
    (reverse items)))

(de sweep-parse-args (args)
  "Parses the sweep's command-line strings ARGS (see sweep-usage) into a
hash table: \"seeds\" (a list), \"jobs\", \"sshloginfile\", \"slurm\", \"out\",
\"gather\" (a folder), \"run\" (a list (DIR TASK)), \"script\" and \"items\"
(see sweep-script-items); \"help\" t for --help. Raises a clear error on an
unknown option, a missing or bad value, or options that do not go together."
  (let ((o (htable "seeds" "1-8")) (script-args ()))
    (while args
      (let* ((arg (pop args))
             (value (lambda ()
                      (when (null args) (error "sweep: %s needs a value" arg))
                      (pop args))))
        (cond ((equal arg "--") (setq script-args args args ()))
              ((or (equal arg "--help") (equal arg "-h")) (hset o "help" t))
              ((equal arg "--slurm") (hset o "slurm" t))
              ((member arg '("--seeds" "--jobs" "--sshloginfile" "--out" "--gather"))
               (hset o (substring arg 2) (value)))
              ((equal arg "--run") (hset o "run" (list (value) (value))))
              ((sweep-option-p arg) (error "sweep: unknown option %s" arg))
              (t (setq script-args (cons arg args) args ())))))
    (hset o "seeds" (sweep-parse-seeds (hget o "seeds")))
    (when (hget o "jobs")
      (hset o "jobs" (sweep-int (hget o "jobs") "--jobs"))
      (when (= 0 (hget o "jobs")) (error "sweep: --jobs: expected at least 1")))
    (let ((f (hget o "sshloginfile")))
      (when (and f (not (file-exists f))) (error "sweep: --sshloginfile %s: no such file" f))
      (when (and f (hget o "slurm")) (error "sweep: --slurm and --sshloginfile do not go together")))
    (when (hget o "run")
      (hset o "run" (list (car (hget o "run"))
                          (sweep-int (cadr (hget o "run")) "--run DIR TASK: TASK"))))
    (cond ((hget o "help") o)
          ((or (hget o "gather") (hget o "run"))
           (when script-args (error "sweep: --gather and --run take no SCRIPT"))
           o)
          ((null script-args) (error "sweep: no SCRIPT: give it after --"))
          (t (let ((script (car script-args)))
               (unless (file-exists script) (error "sweep: SCRIPT %s: no such file" script))
               (hset o "script" script)
               (hset o "items" (sweep-script-items (cdr script-args)))
               o)))))

;; ---- Settings and the job list ----------------------------------------------------

(de sweep-settings (items)
  "The settings of the script ITEMS (see sweep-script-items): one per
combination of the values of its comma lists, the first list varying
slowest. A setting is (ARGS VARIED): ARGS the script's command-line
strings, VARIED the list of (NAME VALUE) of the options that vary."
  (if (null items)
      (list (list () ()))
    (let* ((item (car items)) (name (car item)) (values (cadr item))
           (rest (sweep-settings (cdr items))))
      (mapcan (lambda (v)
                (all ((s rest))
                  (list (append (if name (list name v) (list v)) (car s))
                        (if (cdr values) (cons (list name v) (cadr s)) (cadr s)))))
              (or values '(()))))))

(de sweep-setting-args (setting)
  "SETTING's command-line strings, a flag's missing value left out."
  (filter stringp (car setting)))

(de sweep-setting-label (script setting)
  "The name of SETTING in the table: SCRIPT's base name and its options."
  (join (cons (sweep-base-name script) (sweep-setting-args setting)) " "))

(de sweep-setting-dir (setting)
  "The folder of SETTING's runs, relative to the sweep's: the options that
vary, e.g. \"lr-0.01\", or \"\" when nothing varies."
  (join (all ((v (cadr setting)))
          (sweep-slug (concat (substring (car v) 2) "-" (cadr v))))
        "_"))

(de sweep-default-out (script items)
  "The sweep's folder when --out is not given: out/sweep-NAME, NAME from
SCRIPT's base name and its options."
  (concat "out/sweep-"
          (sweep-slug (join (cons (sweep-base-name script)
                                  (mapcan (lambda (item)
                                            (append (if (car item) (list (substring (car item) 2)) ())
                                                    (if (cadr item) (list (join (cadr item) ",")) ())))
                                          items))
                            "-"))))

(de sweep-command (words)
  "The shell command line of WORDS, each quoted."
  (join (mapcar data-shell-quote words) " "))

(de sweep-jobs (lush89 script items seeds out)
  "The job list: one (TASK LABEL SEED DIR COMMAND) per setting of ITEMS and
seed of SEEDS, setting by setting, TASK counting from 1. DIR is the run's
folder relative to OUT (the sweep's absolute folder); COMMAND the shell line
running SCRIPT with LUSH89, the setting's options, --seed and --out. Raises
on more than sweep-max-runs runs and on two settings sharing a folder."
  (let* ((settings (sweep-settings items))
         (dirs (mapcar sweep-setting-dir settings))
         (task 0))
    (when (> (* (length settings) (length seeds)) sweep-max-runs)
      (error "sweep: %d runs: at most %d" (* (length settings) (length seeds)) sweep-max-runs))
    (each ((d dirs) (k (range (length dirs))))
      (when (member d (nthcdr (+ k 1) dirs))
        (error "sweep: two settings would share the folder %s" d)))
    (mapcan (lambda (setting dir)
              (all ((s seeds))
                (let ((rundir (concat dir (if (equal dir "") "" "/") "seed-" (number->string s))))
                  (incr task)
                  (list task (sweep-setting-label script setting) s rundir
                        (sweep-command (append (list lush89 script) (sweep-setting-args setting)
                                               (list "--seed" (number->string s)
                                                     "--out" (concat out "/" rundir))))))))
            settings dirs)))

(defvar sweep-job-columns '("task" "setting" "seed" "dir" "command")
  "The columns of runs.csv, one row per job (see sweep-jobs).")

(de sweep-write-jobs (dir jobs)
  "Writes the job list JOBS to DIR/runs.csv (creating DIR) and removes the
sweep-status.txt that an earlier sweep in DIR left in their folders, so
that gathering never takes an old run for a new one. Returns JOBS."
  (mkdir-p dir)
  (csv-write (concat dir "/runs.csv") sweep-job-columns jobs)
  (each ((job jobs))
    (let ((old (sweep-run-file dir job "sweep-status.txt")))
      (when (file-exists old) (delete-file old))))
  jobs)

(de sweep-read-jobs (dir)
  "The job list of the sweep in DIR, from DIR/runs.csv. Raises when it is
missing or not a job list."
  (let ((file (concat dir "/runs.csv")))
    (unless (file-exists file)
      (error "sweep: %s: no runs.csv: not the folder of a sweep" dir))
    (let ((csv (csv-read file)))
      (unless (equal (car csv) sweep-job-columns)
        (error "sweep: %s: expected the columns %s" file (join sweep-job-columns ",")))
      (all ((row (cadr csv)))
        (cons (car row) (cons (sprintf "%s" (cadr row)) (cddr row)))))))

;; ---- One run ----------------------------------------------------------------------

(de sweep-eval-line (line)
  "The split and error (percent) of LINE when it is an eval line
    eval: split train. loss 4.073383e-03. error 0.62%. misses: 45
as (SPLIT ERROR), SPLIT \"train\" or \"test\"; () for any other line."
  (let ((fields (split line ". ")))
    (when (and (equal 0 (search "eval: split " line)) (>= (length fields) 3)
               (equal 0 (search "error " (nth 2 fields))))
      (let* ((err (nth 2 fields))
             (pct (search "%" err))
             (value (and pct (string->number (substring err 6 pct)))))
        (and value (list (string-trim (substring (car fields) 12)) value))))))

(de sweep-curve (lines)
  "The errors per pass in the text LINES of a run: a list of (PASS
TRAIN-ERROR TEST-ERROR), a pass being a train eval line and the test eval
line after it."
  (let ((rows ()) (train ()))
    (each ((line lines))
      (let ((e (sweep-eval-line line)))
        (cond ((null e))
              ((equal (car e) "train") (setq train (cadr e)))
              ((and (equal (car e) "test") train)
               (push (list (+ 1 (length rows)) train (cadr e)) rows)
               (setq train ())))))
    (reverse rows)))

(de sweep-run-file (dir job name)
  "The file NAME in the folder of JOB of the sweep in DIR."
  (concat dir "/" (nth 3 job) "/" name))

(de sweep-read-run (dir job)
  "The outcome of JOB of the sweep in DIR: (LABEL SEED EXIT SECONDS CURVE),
EXIT and SECONDS () when the run has not ended, CURVE as sweep-curve gives
from its stdout.txt."
  (let* ((status-file (sweep-run-file dir job "sweep-status.txt"))
         (status (and (file-exists status-file) (split (string-trim (read-file status-file)) " ")))
         (out (sweep-run-file dir job "stdout.txt")))
    (list (nth 1 job) (nth 2 job)
          (and status (string->number (car status)))
          (and status (string->number (cadr status)))
          (if (file-exists out) (sweep-curve (read-lines out)) ()))))

(de sweep-run-ok (run)
  "t when RUN (see sweep-read-run) ended with exit status 0 and eval lines."
  (and (equal (nth 2 run) 0) (nth 4 run)))

(de sweep-run-task (dir task)
  "Runs task TASK of the sweep in DIR: the job's command, its standard
output and error into stdout.txt and stderr.txt of its folder, then
sweep-status.txt (\"EXIT SECONDS\"). Prints one line saying how it went.
Returns the command's exit status."
  (let* ((jobs (sweep-read-jobs dir))
         (job (assoc task jobs)))
    (unless job (error "sweep: %s has no task %d (tasks 1 to %d)" dir task (length jobs)))
    (mkdir-p (concat dir "/" (nth 3 job)))
    (let ((status-file (sweep-run-file dir job "sweep-status.txt"))
          (start (clock)))
      (when (file-exists status-file) (delete-file status-file))
      (let ((code (sys (sprintf "%s > %s 2> %s" (nth 4 job)
                                (data-shell-quote (sweep-run-file dir job "stdout.txt"))
                                (data-shell-quote (sweep-run-file dir job "stderr.txt"))))))
        (write-file status-file (sprintf "%d %.3f\n" code (- (clock) start)))
        (let ((run (sweep-read-run dir job)))
          (printf "run %d/%d %s, seed %d: %s\n" task (length jobs) (nth 1 job) (nth 2 job)
                  (if (sweep-run-ok run)
                      (sprintf "test error %.2f%% after %d passes, %.1f s"
                               (nth 2 (last (nth 4 run))) (length (nth 4 run)) (nth 3 run))
                    (sprintf "FAILED (exit %d): see %s" code
                             (sweep-run-file dir job "stderr.txt")))))
        code))))

;; ---- Statistics ---------------------------------------------------------------------

(de sweep-stats (values)
  "(MEAN SD MIN MAX) of the non-empty list of numbers VALUES; SD is the
sample standard deviation (divided by n-1), 0 for a single value."
  (let* ((n (length values))
         (mean (/ (reduce + values) n))
         (ss (reduce + (mapcar (lambda (v) (* (- v mean) (- v mean))) values))))
    (list mean (if (> n 1) (sqrt (/ ss (- n 1))) 0)
          (apply min values) (apply max values))))

(de sweep-band (curves)
  "The test error per pass over CURVES (see sweep-curve): a list of (PASS
MEAN MIN MAX), for each pass that some curve reaches."
  (let ((passes (apply max (mapcar length curves))))
    (all ((p (range 1 (+ passes 1))))
      (let ((s (sweep-stats (mapcan (lambda (c) (let ((row (nth (- p 1) c)))
                                                  (if row (list (nth 2 row)) ())))
                                    curves))))
        (list p (car s) (nth 2 s) (nth 3 s))))))

(de sweep-summaries (runs)
  "One summary per setting of RUNS (see sweep-read-run), in their order: a
hash table with label, runs (how many ended well), failed (the runs that
did not, as outcomes), passes, train and test (the final errors' (MEAN SD
MIN MAX), () without a good run), seconds (the good runs' total wall time)
and band (see sweep-band)."
  (let ((labels ()))
    (each ((r runs)) (unless (member (car r) labels) (push (car r) labels)))
    (all ((label (reverse labels)))
      (let* ((mine (filter (lambda (r) (equal (car r) label)) runs))
             (good (filter sweep-run-ok mine))
             (curves (mapcar (lambda (r) (nth 4 r)) good))
             (finals (mapcar last curves)))
        (htable 'label label 'runs (length good)
                'failed (filter (lambda (r) (not (sweep-run-ok r))) mine)
                'passes (if good (apply max (mapcar length curves)) 0)
                'train (and good (sweep-stats (mapcar cadr finals)))
                'test (and good (sweep-stats (mapcar (lambda (f) (nth 2 f)) finals)))
                'seconds (reduce + (mapcar (lambda (r) (nth 3 r)) good) 0)
                'band (and good (sweep-band curves)))))))

;; ---- Reports: the table, sweep.csv, sweep.svg --------------------------------------

(defvar sweep-csv-columns
  '("setting" "runs" "failed" "passes"
    "train_error_mean" "train_error_sd" "train_error_min" "train_error_max"
    "test_error_mean" "test_error_sd" "test_error_min" "test_error_max" "seconds")
  "The columns of sweep.csv, one row per setting: the setting (the script's
name and options), the runs that ended well and those that did not, the
passes of its runs, the final train and test errors in percent over its good
runs (mean, sample standard deviation, min, max; empty without a good run)
and the total wall time of its good runs in seconds.")

(de sweep-round (x)
  "X rounded to 4 decimals."
  (/ (round (* x 10000)) 10000))

(de sweep-csv-rows (summaries)
  "The rows of sweep.csv (see sweep-csv-columns) of SUMMARIES."
  (all ((s summaries))
    (append (list (hget s 'label) (hget s 'runs) (length (hget s 'failed)) (hget s 'passes))
            (mapcar (lambda (x) (if x (sweep-round x) ""))
                    (append (or (hget s 'train) '(() () () ())) (or (hget s 'test) '(() () () ()))))
            (list (sweep-round (hget s 'seconds))))))

(de sweep-table (summaries)
  "Prints the table of SUMMARIES: a row per setting with its good runs and
passes, its final train and test errors (mean ± sd, min, max over the seeds)
and the total time of its runs; then a line per failed run."
  (let ((w (apply max (cons 7 (mapcar (lambda (s) (strlen (hget s 'label))) summaries))))
        (head " mean ±   sd    min    max")
        (stat (lambda (st) (if st
                               (sprintf "%5.2f ± %4.2f %6.2f %6.2f" (car st) (cadr st) (nth 2 st) (nth 3 st))
                             (sprintf "%-26s" "    -")))))
    (printf "%-*s %4s %6s   %-26s   %s\n" w "" "" "" "    train error (%)" "    test error (%)")
    (printf "%-*s %4s %6s   %s   %s %9s\n" w "setting" "runs" "passes" head head "time (s)")
    (each ((s summaries))
      (printf "%-*s %4d %6d   %s   %s %9.1f\n" w (hget s 'label) (hget s 'runs) (hget s 'passes)
              (stat (hget s 'train)) (stat (hget s 'test)) (hget s 'seconds)))
    (each ((s summaries))
      (each ((r (hget s 'failed)))
        (printf "failed: %s, seed %d: %s\n" (car r) (nth 1 r)
                (cond ((null (nth 2 r)) "did not end (no sweep-status.txt)")
                      ((/= 0 (nth 2 r)) (sprintf "exit status %d" (nth 2 r)))
                      (t "no eval lines in its stdout.txt")))))))

(de sweep-plot (file summaries &optional title)
  "Writes FILE, an SVG of the test error per pass of the settings of
SUMMARIES with good runs (the first six: one per colour of plot-colors):
the mean over the seeds as a line, their min-max as a band of the same
colour. Returns FILE."
  (let* ((shown (all ((s (filter (lambda (s) (hget s 'band)) summaries)) (c plot-colors)) s))
         (bands (mapcar (lambda (s) (hget s 'band)) shown))
         (rows (apply append bands))
         (x0 78) (y0 (if title 48 24)) (w 520) (h 300)
         (xs (plot-linear-scale 1 (apply max (mapcar car rows)) 8 1))
         (ys (plot-linear-scale 0 (apply max (mapcar (lambda (r) (nth 3 r)) rows)) 6))
         (px (lambda (x) (+ x0 (* w (plot-scale-fraction xs x)))))
         (py (lambda (y) (- (+ y0 h) (* h (plot-scale-fraction ys y)))))
         (points (lambda (band k) (join (all ((r band)) (sprintf "%.1f,%.1f" (px (car r)) (py (nth k r)))) " ")))
         (width (+ x0 w 24)) (height (+ y0 h 52)))
    (svg-write file width height title
               (append
                (sweep-axes x0 y0 w h xs ys px py)
                (all ((band bands) (color plot-colors))
                  (sprintf "<polygon fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" points=\"%s %s\"/>\n"
                           color (points band 3) (points (reverse band) 2)))
                (all ((band bands) (color plot-colors))
                  (sprintf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"%s\"/>\n"
                           color (points band 1)))
                (svg-legend (+ x0 w) y0
                            (all ((s shown))
                              (let ((st (hget s 'test)))
                                (list (sprintf "%s (%.2f ± %.2f%%)" (hget s 'label) (car st) (cadr st))
                                      ()))))))))

(de sweep-axes (x0 y0 w h xs ys px py)
  "The SVG elements of the frame, grid, ticks and labels of a panel of
W x H at X0 Y0: XS the pass scale, YS the test error's, PX and PY mapping
values to the picture."
  (append
   (all ((tick (nth 3 ys)))
     (concat (svg-line x0 (py (car tick)) (+ x0 w) (py (car tick)) "#dddddd")
             (svg-text (- x0 7) (+ (py (car tick)) 4) "end" 11 (cadr tick))))
   (all ((tick (nth 3 xs)))
     (concat (svg-line (px (car tick)) (+ y0 h) (px (car tick)) (+ y0 h 4) "#000000")
             (svg-text (px (car tick)) (+ y0 h 17) "middle" 11 (cadr tick))))
   (list (sprintf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#000000\"/>\n"
                  x0 y0 w h)
         (svg-text (+ x0 (/ w 2)) (+ y0 h 36) "middle" 12 "pass")
         (svg-text (- x0 48) (+ y0 (/ h 2)) "middle" 12 "test error (%), mean and min-max over seeds"
                   (sprintf " transform=\"rotate(-90 %d %d)\"" (- x0 48) (+ y0 (/ h 2)))))))

(de sweep-report (dir &optional title)
  "Gathers the runs of the sweep in DIR: prints the table, writes
DIR/sweep.csv and DIR/sweep.svg (TITLE on top; no picture when no run
ended well) and says where they went. Returns the summaries."
  (let* ((runs (mapcar (lambda (job) (sweep-read-run dir job)) (sweep-read-jobs dir)))
         (summaries (sweep-summaries runs))
         (files (list "sweep.csv")))
    (sweep-table summaries)
    (csv-write (concat dir "/sweep.csv") sweep-csv-columns (sweep-csv-rows summaries))
    (when (filter (lambda (s) (hget s 'band)) summaries)
      (sweep-plot (concat dir "/sweep.svg") summaries (or title (sprintf "sweep %s" dir)))
      (setq files (append files (list "sweep.svg"))))
    (printf "outputs in %s/: %s\n" dir (join files " "))
    summaries))

(de sweep-failed-p (summaries)
  "t when a run of SUMMARIES did not end well."
  (filter (lambda (s) (hget s 'failed)) summaries))

;; ---- Running the sweep -----------------------------------------------------------------

(de sweep-require-parallel ()
  "Raises, saying how to install it, when GNU parallel is missing."
  (unless (data-have-command sweep-parallel)
    (error "sweep: GNU parallel (%s) is not installed: sudo apt-get install parallel, or make deps"
           sweep-parallel)))

(de sweep-lush89 ()
  "The absolute path of the running lush89 (Linux: /proc), else \"lush89\"."
  (or (sweep-shell-output "readlink -f /proc/$PPID/exe") "lush89"))

(de sweep-threads (jobs sshloginfile)
  "The simulator's threads for each run (LUSH89_THREADS) when JOBS run at
once: this machine's threads (nn-threads) shared among JOBS, at least one;
one when JOBS is () (one run per core) or the runs go to the machines of
SSHLOGINFILE. Runs sharing cores would otherwise each use them all."
  (if (and jobs (not sshloginfile)) (max 1 (floor (/ (nn-threads) jobs))) 1))

(de sweep-parallel-command (lush89 sweep dir ntasks jobs sshloginfile cwd)
  "The shell line running tasks 1 to NTASKS of the sweep in DIR with GNU
parallel, each as LUSH89 SWEEP --run DIR TASK with LUSH89_THREADS set by
sweep-threads; JOBS at a time when not (), on the machines of
SSHLOGINFILE (working in CWD) when not ()."
  (concat (sweep-command (append (list sweep-parallel "--will-cite" "--quote"
                                       "--joblog" (concat dir "/joblog.tsv"))
                                 (if jobs (list "--jobs" (number->string jobs)) ())
                                 (if sshloginfile
                                     (list "--sshloginfile" sshloginfile "--workdir" cwd)
                                   ())
                                 (list "env" (sprintf "LUSH89_THREADS=%d"
                                                      (sweep-threads jobs sshloginfile))
                                       lush89 sweep "--run" dir "{}" ":::")))
          " "
          (join (mapcar number->string (range 1 (+ ntasks 1))) " ")))

(de sweep-sbatch (lush89 sweep dir ntasks jobs cwd name)
  "The text of a Slurm batch script: a job array named NAME of tasks 1 to
NTASKS (JOBS at a time when not ()), working in CWD, each running LUSH89
SWEEP --run DIR with its task number."
  (concat "#!/bin/bash\n"
          "# A Slurm job array: one task per run of " dir "/runs.csv.\n"
          "# Submit it with sbatch; when every task has ended, gather with\n"
          "#   lush89 scripts/sweep.lsp --gather " dir "\n"
          "#SBATCH --job-name=" (sweep-slug name) "\n"
          (sprintf "#SBATCH --array=1-%d%s\n" ntasks (if jobs (sprintf "%%%d" jobs) ""))
          "#SBATCH --ntasks=1\n"
          "# Each run uses the cores Slurm gives its task (its CPU affinity).\n"
          "#SBATCH --chdir=" cwd "\n"
          "#SBATCH --output=" dir "/slurm-%A_%a.txt\n"
          "exec " (sweep-command (list lush89 sweep "--run" dir)) " \"$SLURM_ARRAY_TASK_ID\"\n"))

(de sweep-start (o given)
  "Runs the sweep the parsed options O describe (see sweep-parse-args), GIVEN
being the path of scripts/sweep.lsp as it was run: writes the job list, then either the
Slurm script (--slurm) or runs every task through GNU parallel and reports.
Returns the exit status: 0, or 1 when a run failed."
  (let* ((cwd (or (sweep-shell-output "pwd") "."))
         (script (hget o "script")) (items (hget o "items"))
         (out (or (hget o "out") (sweep-default-out script items)))
         (dir (sweep-absolute out cwd))
         (lush89 (sweep-lush89))
         (sweep (sweep-absolute given cwd))
         (jobs (sweep-write-jobs dir (sweep-jobs lush89 (sweep-absolute script cwd) items
                                                 (hget o "seeds") dir)))
         (n (length jobs)))
    (if (hget o "slurm")
        (let ((file (concat out "/sweep.sbatch")))
          (write-file file (sweep-sbatch lush89 sweep dir n (hget o "jobs") cwd
                                         (concat "sweep-" (sweep-base-name script))))
          (printf "wrote %s: a Slurm job array of %d runs (%s/runs.csv). Submit it, then gather:\n  sbatch %s\n  lush89 %s --gather %s\n"
                  file n out file given out)
          0)
      (sweep-require-parallel)
      (printf "sweep: %d runs of %s in %s, %s at a time\n" n script out
              (if (hget o "jobs") (number->string (hget o "jobs")) "one per core"))
      (flush)
      (let ((start (clock)))
        (sys (sweep-parallel-command lush89 sweep dir n (hget o "jobs")
                                     (and (hget o "sshloginfile")
                                          (sweep-absolute (hget o "sshloginfile") cwd))
                                     cwd))
        (printf "\n")
        (let ((summaries (sweep-report out (concat "sweep of " script))))
          (printf "wall time %.1f s for %d runs\n" (- (clock) start) n)
          (if (sweep-failed-p summaries) 1 0))))))

(de sweep-main (args &optional sweep)
  "The command line of scripts/sweep.lsp (see sweep-usage); SWEEP is the
script's path (default scripts/sweep.lsp). A bad command line prints the
message and the usage to standard error and exits 2; otherwise exits 0, or 1
when a run failed."
  (let ((o (try (sweep-parse-args args)
                (catch e
                  (eprintf "%s\n%s" (error-message e) sweep-usage)
                  (exit 2)))))
    (cond ((hget o "help") (printf "%s" sweep-usage) (exit 0))
          ((hget o "run") (exit (min 255 (apply sweep-run-task (hget o "run")))))
          ((hget o "gather")
           (exit (if (sweep-failed-p (sweep-report (hget o "gather"))) 1 0)))
          (t (exit (sweep-start o (or sweep "scripts/sweep.lsp")))))))
