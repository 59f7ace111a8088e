;; sweep.lsp: lib/sweep.lsp: seeds and comma lists, settings and the job
;; list, eval lines, statistics, gathering fake run folders, the Slurm
;; script (checked by bash -n, then run task by task), and one tiny sweep
;; through GNU parallel of a fake training script that only prints eval
;; lines (skipped, saying so, without parallel). Works in a fresh folder.

;; By path: (libload "sweep") would find this file, beside the loading one.
(libload "../../lib/sweep")

(defvar sw-dir (sprintf "%s/lush89-sweep-%.0f" (or (getenv "TMPDIR") "/tmp") (* 1e9 (clock))))
(mkdir-p sw-dir)
(de sw-file (name) (concat sw-dir "/" name))
(de sw-near (a b) (< (abs (- a b)) 1e-9))

;; ---- seeds

(assert (equal (sweep-parse-seeds "1-8") '(1 2 3 4 5 6 7 8)))
(assert (equal (sweep-parse-seeds "5") '(5)))
(assert (equal (sweep-parse-seeds "1-3,7,0") '(1 2 3 7 0)))
(assert-error (sweep-parse-seeds "8-1") "runs backwards")
(assert-error (sweep-parse-seeds "1,2,1") "seed 1 appears twice")
(assert-error (sweep-parse-seeds "1-3,2") "seed 2 appears twice")
(assert-error (sweep-parse-seeds "a") "--seeds a: expected an integer >= 0")
(assert-error (sweep-parse-seeds "1-") "expected an integer >= 0")
(assert-error (sweep-parse-seeds "") "expected an integer >= 0")
(assert-error (sweep-parse-seeds "1.5") "expected an integer >= 0")
(assert-error (sweep-parse-seeds "0-99999999") "more than")

;; ---- the script's options and settings

(assert (equal (sweep-script-items '("--lr" "0.01,0.03" "--quiet" "--passes" "1" "word"))
               '(("--lr" ("0.01" "0.03")) ("--quiet" ()) ("--passes" ("1")) (() ("word")))))
(assert (equal (sweep-script-items '("--lr" "-1")) '(("--lr" ("-1")))))
(assert-error (sweep-script-items '("--seed" "3")) "sets --seed of each run")
(assert-error (sweep-script-items '("--out" "x")) "sets --out of each run")
(assert-error (sweep-script-items '("--lr" "0.1,")) "--lr 0.1,: an empty value")
(assert-error (sweep-script-items '("--lr" ",0.1")) "an empty value")

(setq sw-items (sweep-script-items '("--a" "1,2" "--q" "--b" "x,y,z" "--c" "k")))
(setq sw-settings (sweep-settings sw-items))
(assert (= (length sw-settings) 6))
(assert (equal (mapcar sweep-setting-args sw-settings)
               '(("--a" "1" "--q" "--b" "x" "--c" "k") ("--a" "1" "--q" "--b" "y" "--c" "k")
                 ("--a" "1" "--q" "--b" "z" "--c" "k") ("--a" "2" "--q" "--b" "x" "--c" "k")
                 ("--a" "2" "--q" "--b" "y" "--c" "k") ("--a" "2" "--q" "--b" "z" "--c" "k"))))
(assert (equal (sweep-setting-dir (car sw-settings)) "a-1_b-x"))
(assert (equal (sweep-setting-label "scripts/x.lsp" (car sw-settings)) "x --a 1 --q --b x --c k"))
(assert (equal (sweep-settings ()) '((() ()))))
(assert (equal (sweep-setting-dir (car (sweep-settings (sweep-script-items '("--c" "k"))))) ""))
(assert (equal (sweep-slug "a/b c,d.e-f_g") "a_b_c_d.e-f_g"))
(assert (equal (sweep-base-name "scripts/lecun1989.lsp") "lecun1989"))
(assert (equal (sweep-default-out "scripts/modern.lsp" (sweep-script-items '("--change" "1,2" "--quiet")))
               "out/sweep-modern-change-1_2-quiet"))

;; ---- the sweep's command line

(setq sw-script (sw-file "fake.lsp"))
;; A fake training script: eval lines whose errors follow from --seed and
;; --lr, (seed+lr)/pass % on train and twice that on test; --fail N makes
;; seed N fail after its first pass.
(write-file sw-script
            "(let ((args (cdr argv)) (seed 0) (lr 1) (passes 3) (fail -1))
  (while args
    (let ((a (car args)) (v (cadr args)))
      (cond ((equal a \"--seed\") (setq seed (string->number v)))
            ((equal a \"--lr\") (setq lr (string->number v)))
            ((equal a \"--fail\") (setq fail (string->number v)))
            ((equal a \"--passes\") (setq passes (string->number v))))
      (setq args (cddr args))))
  (for (p 1 passes)
    (printf \"pass %d\\n\" p)
    (printf \"eval: split train. loss 1.0e-02. error %.2f%%. misses: 1\\n\" (/ (+ seed lr) p))
    (printf \"eval: split test . loss 2.0e-02. error %.2f%%. misses: 2\\n\" (/ (* 2 (+ seed lr)) p))
    (when (= seed fail) (error \"failing on purpose\"))))
")

(let ((o (sweep-parse-args (list "--" sw-script "--lr" "1,2"))))
  (assert (equal (hget o "seeds") '(1 2 3 4 5 6 7 8)))
  (assert (null (hget o "jobs")))
  (assert (null (hget o "slurm")))
  (assert (equal (hget o "script") sw-script))
  (assert (equal (hget o "items") '(("--lr" ("1" "2"))))))
(let ((o (sweep-parse-args (list "--seeds" "3-4" "--jobs" "2" "--slurm" "--out" "o" sw-script "--lr" "1"))))
  (assert (equal (hget o "seeds") '(3 4)))
  (assert (= (hget o "jobs") 2))
  (assert (hget o "slurm"))
  (assert (equal (hget o "out") "o"))
  (assert (equal (hget o "items") '(("--lr" ("1"))))))
(assert (equal (hget (sweep-parse-args '("--gather" "d")) "gather") "d"))
(assert (equal (hget (sweep-parse-args '("--run" "d" "7")) "run") '("d" 7)))
(assert (hget (sweep-parse-args '("--help")) "help"))
(assert-error (sweep-parse-args '("--bogus")) "sweep: unknown option --bogus")
(assert-error (sweep-parse-args '("--jobs")) "sweep: --jobs needs a value")
(assert-error (sweep-parse-args (list "--jobs" "0" "--" sw-script)) "--jobs: expected at least 1")
(assert-error (sweep-parse-args (list "--jobs" "two" "--" sw-script)) "--jobs: expected an integer")
(assert-error (sweep-parse-args (list "--seeds" "2-1" "--" sw-script)) "runs backwards")
(assert-error (sweep-parse-args '()) "no SCRIPT")
(assert-error (sweep-parse-args '("--jobs" "2" "--")) "no SCRIPT")
(assert-error (sweep-parse-args '("--" "no/such/script.lsp")) "SCRIPT no/such/script.lsp: no such file")
(assert-error (sweep-parse-args (list "--sshloginfile" (sw-file "nope") "--" sw-script))
              "--sshloginfile")
(write-file (sw-file "hosts") ":\n")
(assert-error (sweep-parse-args (list "--sshloginfile" (sw-file "hosts") "--slurm" "--" sw-script))
              "do not go together")
(assert-error (sweep-parse-args (list "--gather" "d" "--" sw-script)) "take no SCRIPT")
(assert-error (sweep-parse-args '("--run" "d")) "--run needs a value")
(assert-error (sweep-parse-args '("--run" "d" "x")) "TASK: expected an integer")
(assert-error (sweep-parse-args (list "--" sw-script "--seed" "1")) "sets --seed")

;; ---- the job list

(setq sw-jobs (sweep-jobs "/bin/lush89" "s/fake.lsp" (sweep-script-items '("--lr" "1,2" "--q"))
                          '(3 5) "/o"))
(assert (= (length sw-jobs) 4))
(assert (equal (mapcar car sw-jobs) '(1 2 3 4)))
(assert (equal (mapcar (lambda (j) (nth 3 j)) sw-jobs)
               '("lr-1/seed-3" "lr-1/seed-5" "lr-2/seed-3" "lr-2/seed-5")))
(assert (equal (nth 1 (car sw-jobs)) "fake --lr 1 --q"))
(assert (= (nth 2 (cadr sw-jobs)) 5))
(assert (equal (nth 4 (car sw-jobs))
               "'/bin/lush89' 's/fake.lsp' '--lr' '1' '--q' '--seed' '3' '--out' '/o/lr-1/seed-3'"))
(assert (equal (nth 3 (car (sweep-jobs "l" "s.lsp" () '(1) "/o"))) "seed-1"))
(assert-error (sweep-jobs "l" "s.lsp" (sweep-script-items '("--x" "a/b,a_b")) '(1) "/o")
              "share the folder x-a_b")
(assert-error (sweep-jobs "l" "s.lsp" (sweep-script-items '("--x" "1,2,3")) (range 4000) "/o")
              "12000 runs")
(assert (equal (sweep-command '("a b" "it's")) "'a b' 'it'\\''s'"))

;; ---- eval lines and curves

(assert (equal (sweep-eval-line "eval: split train. loss 4.073383e-03. error 0.62%. misses: 45")
               '("train" 0.62)))
(assert (equal (sweep-eval-line "eval: split test . loss 2.838382e-02. error 4.09%. misses: 82")
               '("test" 4.09)))
(assert (equal (sweep-eval-line "eval: split test . loss nan. error 90.20%. misses: 1810")
               '("test" 90.2)))
(assert (null (sweep-eval-line "pass 1/23: 0.10 s, 70000 examples/s")))
(assert (null (sweep-eval-line "eval: split test . loss 1. error x%. misses: 1")))
(assert (null (sweep-eval-line "")))
(assert (equal (sweep-curve '("header" "eval: split train. loss 1e-1. error 5.00%. misses: 1"
                              "eval: split test . loss 1e-1. error 7.50%. misses: 1" "noise"
                              "eval: split train. loss 1e-1. error 2.00%. misses: 1"
                              "eval: split test . loss 1e-1. error 6.00%. misses: 1"
                              "eval: split train. loss 1e-1. error 1.00%. misses: 1"))
               '((1 5 7.5) (2 2 6))))

;; ---- statistics

(let ((s (sweep-stats '(1 2 3 4))))
  (assert (sw-near (car s) 2.5))
  (assert (sw-near (cadr s) (sqrt (/ (+ 2.25 0.25 0.25 2.25) 3))))
  (assert (equal (cddr s) '(1 4))))
(assert (equal (sweep-stats '(7)) '(7 0 7 7)))
(assert (equal (sweep-band '(((1 9 8) (2 9 4)) ((1 9 6)))) '((1 7 6 8) (2 4 4 4))))

;; ---- gathering fake run folders

(de sw-fake-run (dir job status errors)
  "Writes the folder of JOB in DIR as a run would: STATUS (\"EXIT SECONDS\"
or () for a run that did not end) and its test errors per pass ERRORS."
  (mkdir-p (concat dir "/" (nth 3 job)))
  (when status (write-file (sweep-run-file dir job "sweep-status.txt") status))
  (write-file (sweep-run-file dir job "stdout.txt")
              (join (all ((e errors))
                      (sprintf "eval: split train. loss 1e-2. error %.2f%%. misses: 1\neval: split test . loss 1e-2. error %.2f%%. misses: 2\n"
                               (/ e 2) e))
                    "")))

(let* ((dir (sw-file "gather"))
       (jobs (sweep-write-jobs dir (sweep-jobs "l" "s.lsp" (sweep-script-items '("--lr" "1,2"))
                                               '(1 2 3) dir))))
  (assert (equal (sweep-read-jobs dir) jobs))
  (sw-fake-run dir (nth 0 jobs) "0 1.5" '(9 5 4))
  (sw-fake-run dir (nth 1 jobs) "0 2.5" '(8 6 3))
  (sw-fake-run dir (nth 2 jobs) "1 0.5" '(7))            ; failed
  (sw-fake-run dir (nth 3 jobs) "0 1" '(6 2))
  (sw-fake-run dir (nth 4 jobs) () '(5))                 ; did not end
  (sw-fake-run dir (nth 5 jobs) "0 1" ())                ; no eval lines
  (let* ((runs (mapcar (lambda (j) (sweep-read-run dir j)) jobs))
         (sums (sweep-summaries runs))
         (a (car sums)) (b (cadr sums)))
    (assert (equal (car runs) '("s --lr 1" 1 0 1.5 ((1 4.5 9) (2 2.5 5) (3 2 4)))))
    (assert (= (length sums) 2))
    (assert (equal (hget a 'label) "s --lr 1"))
    (assert (= (hget a 'runs) 2))
    (assert (= (length (hget a 'failed)) 1))
    (assert (= (hget a 'passes) 3))
    (assert (equal (hget a 'test) (sweep-stats '(4 3))))
    (assert (equal (hget a 'train) (sweep-stats '(2 1.5))))
    (assert (sw-near (hget a 'seconds) 4))
    (assert (equal (hget a 'band) '((1 8.5 8 9) (2 5.5 5 6) (3 3.5 3 4))))
    (assert (= (hget b 'runs) 1))
    (assert (= (length (hget b 'failed)) 2))
    (assert (equal (hget b 'test) '(2 0 2 2)))
    (assert (sweep-failed-p sums)))
  (sweep-report dir "fake")
  (let ((csv (csv-read (concat dir "/sweep.csv"))))
    (assert (equal (car csv) sweep-csv-columns))
    (assert (equal (car (cadr csv)) '("s --lr 1" 2 1 3 1.75 0.3536 1.5 2 3.5 0.7071 3 4 4)))
    (assert (equal (cadr (cadr csv)) '("s --lr 2" 1 2 2 1 0 1 1 2 0 2 2 1))))
  (let ((svg (read-file (concat dir "/sweep.svg"))))
    (assert (search "<svg" svg))
    (assert (search "</svg>" svg))
    (assert (= 2 (- (length (split svg "<polygon")) 1)))
    (assert (search "s --lr 1 (3.50 ± 0.71%)" svg)))
  ;; a new sweep in the same folder forgets the old runs' outcomes
  (sweep-write-jobs dir jobs)
  (assert (not (file-exists (sweep-run-file dir (car jobs) "sweep-status.txt"))))
  (assert (= 0 (hget (car (sweep-summaries (mapcar (lambda (j) (sweep-read-run dir j)) jobs)))
                     'runs))))

;; a sweep with no run that ended well: table and CSV, no picture
(let* ((dir (sw-file "none"))
       (jobs (sweep-write-jobs dir (sweep-jobs "l" "s.lsp" () '(1) dir))))
  (sw-fake-run dir (car jobs) "2 0.1" ())
  (assert (sweep-failed-p (sweep-report dir)))
  (assert (equal (cadr (csv-read (concat dir "/sweep.csv"))) '(("s" 0 1 0 "" "" "" "" "" "" "" "" 0))))
  (assert (not (file-exists (concat dir "/sweep.svg")))))
(assert-error (sweep-read-jobs (sw-file "nope")) "no runs.csv")
(mkdir-p (sw-file "bad"))
(write-file (sw-file "bad/runs.csv") "a,b\n1,2\n")
(assert-error (sweep-read-jobs (sw-file "bad")) "expected the columns")

;; ---- GNU parallel missing

(let ((keep sweep-parallel))
  (setq sweep-parallel "lush89-no-such-parallel")
  (assert-error (sweep-require-parallel) "sudo apt-get install parallel, or make deps")
  (setq sweep-parallel keep))

;; ---- the Slurm script

(let ((file (sw-file "t.sbatch")))
  (write-file file (sweep-sbatch "/x/lush89" "/x/sweep.lsp" "/o/d" 6 2 "/x" "sweep-a b"))
  (assert (= 0 (sys (concat "bash -n " (data-shell-quote file)))))
  (assert (member "#SBATCH --array=1-6%2" (read-lines file)))
  (assert (member "exec '/x/lush89' '/x/sweep.lsp' '--run' '/o/d' \"$SLURM_ARRAY_TASK_ID\""
                  (read-lines file))))
(assert (search "#SBATCH --array=1-3\n" (sweep-sbatch "l" "s" "d" 3 () "/" "n")))

;; ---- the command line, end to end

(de sw-run (args log)
  "Runs ./lush89 scripts/sweep.lsp with the shell words ARGS, its output
into the file LOG; returns the exit status."
  (sys (sprintf "./lush89 scripts/sweep.lsp %s > %s 2>&1" args (data-shell-quote log))))

(assert (= 2 (sw-run "--bogus" (sw-file "bad.log"))))
(assert (search "sweep: unknown option --bogus" (read-file (sw-file "bad.log"))))
(assert (search "usage: lush89 scripts/sweep.lsp" (read-file (sw-file "bad.log"))))
(assert (= 0 (sw-run "--help" (sw-file "help.log"))))
(assert (search "--sshloginfile FILE" (read-file (sw-file "help.log"))))

;; --slurm writes the array; running its tasks as Slurm would, then --gather
(let* ((dir (sw-file "slurm"))
       (log (sw-file "slurm.log")))
  (assert (= 0 (sw-run (sprintf "--slurm --seeds 1-3 --out %s -- %s --passes 2 --fail 3"
                                (data-shell-quote dir) (data-shell-quote sw-script))
                       log)))
  (assert (search "sbatch " (read-file log)))
  (assert (search (concat "--gather " dir) (read-file log)))
  (assert (= 0 (sys (concat "bash -n " (data-shell-quote (concat dir "/sweep.sbatch"))))))
  (assert (member "#SBATCH --array=1-3" (read-lines (concat dir "/sweep.sbatch"))))
  (assert (not (file-exists (concat dir "/seed-1"))))        ; nothing ran
  (for (task 1 3)
    (sys (sprintf "SLURM_ARRAY_TASK_ID=%d bash %s > /dev/null 2>&1"
                  task (data-shell-quote (concat dir "/sweep.sbatch")))))
  (assert (= 1 (sw-run (concat "--gather " (data-shell-quote dir)) log)))
  (assert (search "failed: fake --passes 2 --fail 3, seed 3: exit status 1" (read-file log)))
  (assert (search "failing on purpose" (read-file (concat dir "/seed-3/stderr.txt"))))
  (assert (equal (cadr (csv-read (concat dir "/sweep.csv")))
                 (list (append (list "fake --passes 2 --fail 3" 2 1 2)
                               (mapcar sweep-round (append (sweep-stats '(1 1.5))
                                                           (sweep-stats '(2 3))))
                               (list (nth 12 (car (cadr (csv-read (concat dir "/sweep.csv")))))))))))

;; a tiny sweep through GNU parallel: 2 seeds x 2 rates of the fake script
(if (not (data-have-command "parallel"))
    (printf "sweep.lsp: the sweep through GNU parallel is skipped: parallel is not installed (sudo apt-get install parallel)\n")
  (let* ((dir (sw-file "par"))
         (log (sw-file "par.log"))
         (final (lambda (seed lr) (/ (round (* 100 (/ (* 2 (+ seed lr)) 3))) 100))))
    (assert (= 0 (sw-run (sprintf "--seeds 1-2 --jobs 2 --out %s -- %s --lr 1,2"
                                  (data-shell-quote dir) (data-shell-quote sw-script))
                         log)))
    (assert (search "run 4/4" (read-file log)))
    (assert (file-exists (concat dir "/lr-2/seed-1/stdout.txt")))
    (assert (file-exists (concat dir "/joblog.tsv")))
    (assert (file-exists (concat dir "/sweep.svg")))
    (let ((rows (cadr (csv-read (concat dir "/sweep.csv")))))
      (assert (equal (mapcar car rows) '("fake --lr 1" "fake --lr 2")))
      (assert (equal (mapcar (lambda (r) (nth 1 r)) rows) '(2 2)))
      (assert (sw-near (nth 8 (car rows)) (sweep-round (/ (+ (final 1 1) (final 2 1)) 2))))
      (assert (sw-near (nth 11 (cadr rows)) (final 2 2))))))

(sys (concat "rm -rf " (data-shell-quote sw-dir)))

;; runs sharing a machine share its cores: LUSH89_THREADS per run
(let ((old (nn-threads)))
  (nn-threads 4)
  (assert (= 2 (sweep-threads 2 ())))
  (assert (= 1 (sweep-threads 8 ())))
  (assert (= 1 (sweep-threads () ())))
  (assert (= 1 (sweep-threads 2 "hosts")))
  (assert (search "'env' 'LUSH89_THREADS=4' '/l'"
                  (sweep-parallel-command "/l" "/s.lsp" "/d" 3 1 () "/c")))
  (nn-threads old))
