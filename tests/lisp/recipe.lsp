;; recipe.lsp: tests of lib/train.lsp and lib/modern.lsp on tiny synthetic
;; digits (no network, no data/): options, the eval numbers against an
;; independent computation, the C pass against the Lisp loop, the progress
;; bar's chunks, the outputs, the final table, the modern nets and schedule,
;; SDLM, and the scripts' exit statuses.

(libload "modern")

;; Ten classes of 16x16 images: class k has a bright bar at row k+3 over a
;; -1 background, plus small noise. Returns a data table like mnist-load's.
(de recipe-toy-split (n)
  (let ((x (idx-fill (float-matrix n 1 16 16) -1))
        (labels (int-matrix n)))
    (for (i 0 (- n 1))
      (let ((k (mod i 10)))
        (labels i k)
        (idx-fill (narrow (select (select x 0 i) 0 0) 0 1 (+ k 3)) 1)))
    (idx-add x (idx-rand (float-matrix n 1 16 16) -0.2 0.2) x)
    (list x (nn-onehot labels 10) labels)))

(de recipe-toy-data ()
  (seed 7)
  (let ((tr (recipe-toy-split 60)) (te (recipe-toy-split 30)) (d (htable)))
    (each ((key '(train-inputs train-targets train-labels test-inputs test-targets test-labels))
           (value (append tr te)))
      (hset d key value))
    d))

(defvar toy (recipe-toy-data))

(de starts-with (s prefix)
  (equal 0 (search prefix s)))

(de recipe-tmp (name)
  (concat (or (getenv "TMPDIR") "/tmp") "/lush89-recipe-test-" name))

;; ---- options

(defvar specs '(("passes" int 23 "passes")
                ("lr" number () "rate")
                ("opt" ("sgd" "sdlm") "sgd" "optimizer")
                ("quiet" flag () "quiet")))

(let ((o (train-parse-args () specs "usage")))
  (assert (= 23 (hget o "passes")))
  (assert (null (hget o "lr")))
  (assert (equal "sgd" (hget o "opt")))
  (assert (null (hget o "quiet"))))

(let ((o (train-parse-args '("--passes" "5" "--lr" "0.5" "--opt" "sdlm" "--quiet")
                           specs "usage")))
  (assert (= 5 (hget o "passes")))
  (assert (= 0.5 (hget o "lr")))
  (assert (equal "sdlm" (hget o "opt")))
  (assert (eq t (hget o "quiet"))))

(assert (eq 'bad (train-option-value 'int "2.5")))
(assert (eq 'bad (train-option-value 'int "-1")))
(assert (eq 'bad (train-option-value 'number "0")))
(assert (eq 'bad (train-option-value 'number "x")))
(assert (eq 'bad (train-option-value '("a" "b") "c")))
(assert (= 3 (train-option-value 'int "3")))

;; train-options replaces the common defaults and adds the extra specs.
(let ((o (train-options '("--seed" "9") "usage" '(("passes" 7) ("out" "o"))
                        '(("change" ("1" "2") "2" "which")))))
  (assert (= 7 (hget o "passes")))
  (assert (= 9 (hget o "seed")))
  (assert (equal "o" (hget o "out")))
  (assert (equal "2" (hget o "change")))
  (assert (equal "c" (hget o "loop"))))

(let ((text (train-usage-text "usage: x" specs)))
  (assert (search "--passes N" text))
  (assert (search "--opt sgd|sdlm" text))
  (assert (search "--quiet " text)))

;; The scripts: bad options exit 2 with the usage message, --help exits 0.
(de recipe-status (cmd)
  (sys (concat "./lush89 " cmd " >" (recipe-tmp "status.txt") " 2>&1")))

(assert (= 2 (recipe-status "scripts/lecun1989.lsp --bogus")))
(let ((text (join (read-lines (recipe-tmp "status.txt")) "\n")))
  (assert (search "unknown option --bogus" text))
  (assert (search "usage: lush89 scripts/lecun1989.lsp" text)))
(assert (= 2 (recipe-status "scripts/lecun1989.lsp --passes")))
(assert (= 2 (recipe-status "scripts/lecun1989.lsp --passes two")))
(assert (= 2 (recipe-status "scripts/lecun1989.lsp --optimizer adam")))
(assert (= 2 (recipe-status "scripts/lecun1989.lsp --lr -1")))
(assert (= 0 (recipe-status "scripts/lecun1989.lsp --help")))
(assert (search "--optimizer sgd|sdlm" (join (read-lines (recipe-tmp "status.txt")) "\n")))
(assert (= 2 (recipe-status "scripts/modern.lsp --change 5")))
(assert (= 0 (recipe-status "scripts/modern.lsp --help")))

;; ---- the eval numbers, computed independently from nn-predict

(seed 3)
(defvar net (lecun1989-net t))
(defvar r (train-recipe 'name "toy" 'net net 'opt (nn-sgd 0.03) 'data toy
                        'passes 1 'quiet t))

(let* ((res (train-eval r 'test))
       (y (nn-predict net (hget toy 'test-inputs)))
       (tg (hget toy 'test-targets))
       (labels (hget toy 'test-labels))
       (mse (/ (idx-sumsqr (idx-sub y tg)) (idx-nelem y)))
       (misses 0))
  (for (i 0 29)
    (unless (= (idx-indexmax (select y 0 i)) (labels i)) (incr misses)))
  (assert (< (abs (- (car res) mse)) 1e-6))
  (assert (= misses (nth 2 res)))
  (assert (< (abs (- (cadr res) (/ (* 100 misses) 30))) 1e-9)))

;; ---- the C pass and the Lisp loop train alike

(de recipe-params-after (loop tty)
  (seed 11)
  (let ((r (train-recipe 'name "toy" 'net (lecun1989-net t) 'opt (nn-sgd 0.03)
                         'data toy 'passes 1 'quiet () 'loop loop)))
    (setq train-tty tty)
    (let ((res (train-pass r 1)))
      (setq train-tty 'unknown)
      (list (copy-matrix (nn-params (hget r 'net))) res))))

(let ((c (recipe-params-after 'c ()))
      (lisp (recipe-params-after 'lisp ()))
      (bar (progn (setq train-chunk 7)
                  (prog1 (recipe-params-after 'c t) (setq train-chunk 512)))))
  (assert (< (idx-sup (idx-abs (idx-sub (car c) (car lisp)))) 1e-5))
  (assert (< (abs (- (car (cadr c)) (car (cadr lisp)))) 1e-5))
  (assert (= (cadr (cadr c)) (cadr (cadr lisp))))
  ;; the chunked pass behind the progress bar is the same pass
  (assert (< (idx-sup (idx-abs (idx-sub (car c) (car bar)))) 1e-6))
  (assert (< (abs (- (car (cadr c)) (car (cadr bar)))) 1e-6))
  (assert (= (cadr (cadr c)) (cadr (cadr bar)))))


;; ---- a whole run: learning, metrics, outputs, table

(defvar out (recipe-tmp "out"))
(sys (concat "rm -rf " out))
(seed 5)
(defvar run (train-run (train-recipe 'name "toy" 'net (lecun1989-net t)
                                     'opt (nn-sgd 0.03) 'data toy 'passes 4
                                     'quiet t 'out out
                                     'references '(("paper" 0.14 5.00)))))

(assert (= 4 (length (hget run 'metrics))))
(assert (= 4 (train-last run "pass")))
(assert (equal '(1 2 3 4) (mapcar car (hget run 'metrics))))
;; the toy classes are easy: the loss falls and the test error ends low
(assert (< (train-last run "train_loss") (nth 1 (car (hget run 'metrics)))))
(assert (<= (train-last run "test_error") 20))
(assert (= 0.03 (train-last run "rate")))
(each ((f '("params.idx" "metrics.csv" "curves.svg" "h1-kernels.png")))
  (assert (file-exists (concat out "/" f))))
(assert (member "params.idx" (hget run 'outputs)))
(let ((rows (metrics-read (concat out "/metrics.csv"))))
  (assert (= 4 (length rows)))
  (assert (= (train-last run "test_error") (nth 4 (last rows))))
  (assert (= (length train-columns) (length (car rows)))))
(let ((saved (load-matrix (concat out "/params.idx"))))
  (assert (= 9760 (idx-nelem saved)))
  (assert (= 0 (idx-sup (idx-abs (idx-sub saved (nn-params (hget run 'net))))))))
(assert (equal '(12 5 5) (idx-shape (train-first-layer-images (hget run 'net)))))

;; the output of a run in a child process, on a pipe: eval lines in the
;; contract's form, no control characters, the final table. The child gets
;; its own copy of the toy data (noise-free).
(write-file (recipe-tmp "run.lsp")
            (join (list "(libload \"lecun1989\")"
                        "(de toy-split (n)"
                        "  (let ((x (idx-fill (float-matrix n 1 16 16) -1)) (labels (int-matrix n)))"
                        "    (for (i 0 (- n 1)) (let ((k (mod i 10))) (labels i k)"
                        "      (idx-fill (narrow (select (select x 0 i) 0 0) 0 1 (+ k 3)) 1)))"
                        "    (list x (nn-onehot labels 10) labels)))"
                        "(defvar toy (htable))"
                        "(each ((key '(train-inputs train-targets train-labels test-inputs test-targets test-labels))"
                        "       (value (append (toy-split 60) (toy-split 30))))"
                        "  (hset toy key value))"
                        "(seed 5)"
                        "(train-run (train-recipe 'name \"toy\" 'net (lecun1989-net t) 'opt (nn-sgd 0.03)"
                        "                         'data toy 'passes 2 'references '((\"paper\" 0.14 5.00))))")
                  "\n"))
(let ((lines ()))
  (assert (= 0 (sys (concat "./lush89 " (recipe-tmp "run.lsp") " >" (recipe-tmp "run.txt") " 2>&1"))))
  (setq lines (read-lines (recipe-tmp "run.txt")))
  (let ((evals (filter (lambda (l) (starts-with l "eval: split ")) lines)))
    (assert (= 4 (length evals)))
    (assert (starts-with (nth 0 evals) "eval: split train. loss "))
    (assert (starts-with (nth 1 evals) "eval: split test . loss "))
    (each ((l evals))
      ;; eval: split train. loss 4.073383e-03. error 0.62%. misses: 45
      (let ((words (reverse (split l))))
        (assert (integerp (string->number (nth 0 words))))
        (assert (equal "misses:" (nth 1 words)))
        (assert (search "%." (nth 2 words)))
        (assert (equal "error" (nth 3 words)))
        (assert (search "e-0" (nth 4 words)))
        (assert (equal "loss" (nth 5 words))))))
  ;; on a pipe: no control characters, no bar
  (each ((l lines)) (assert (null (search "\r" l))))
  (assert (filter (lambda (l) (search "lush89 toy (this run)" l)) lines))
  (assert (filter (lambda (l) (starts-with l "paper ")) lines))
  (assert (filter (lambda (l) (starts-with l "wall time ")) lines)))

;; ---- the modern nets, schedule and SDLM

(each ((n '(1 2 3 4)))
  (seed 1)
  (let ((m (modern-net n)))
    (assert (= 9760 (nn-nparams m)))
    (assert (equal '(10) (nn-shape m)))))
(assert-error (modern-net 5) "no change 5")
(seed 1)
(let ((m (modern-net 4)))
  (assert (= 9 (nn-nmodules m)))
  (assert (equal '(-1 -1) (list ((nn-biases (last (nn-modules m))) 0)
                                ((nn-biases (last (nn-modules m))) 9))))
  ;; no squashing on the output: some outputs leave [-1, 1] for large inputs
  (assert (> (idx-sup (idx-abs (nn-fprop m (idx-fill (float-matrix 1 16 16) 30)))) 0)))
(seed 1)
(assert (= 7 (nn-nmodules (modern-net 1))))
(assert (= 8 (nn-nmodules (modern-net 3))))

(let* ((opt (nn-adamw 3e-4))
       (f (modern-linear-decay opt 3e-4 46)))
  (f 1)
  (assert (< (abs (- (nn-rate opt) 3e-4)) 1e-12))
  (f 46)
  (assert (< (abs (- (nn-rate opt) 1e-4)) 1e-12))
  (f 24)
  (assert (< (abs (- (nn-rate opt) (- 3e-4 (* 23 (/ 2e-4 45))))) 1e-12)))

(let ((r (modern-recipe toy 2)))
  (assert (= 46 (hget r 'passes)))
  (assert (eq 'ce (hget r 'cost)))
  (assert (= 3e-4 (nn-rate (hget r 'opt)))))
(let ((r (modern-recipe toy 1 0.5 3)))
  (assert (= 3 (hget r 'passes)))
  (assert (= 0.5 (nn-rate (hget r 'opt))))
  (assert (null (hget r 'before-pass))))

;; a modern run trains with the cross-entropy against the classes
(seed 2)
(let ((r (modern-recipe toy 4 3e-3 3)))
  (hset r 'quiet t)
  (train-run r)
  (assert (< (train-last r "train_loss") 2.3))
  (assert (< (abs (- (train-last r "rate") 1e-3)) 1e-12)))

;; SDLM: the Hessian estimate before each pass sets per-parameter rates,
;; estimated on fewer examples than the training set holds
(seed 4)
(setq lecun1989-sdlm-count (- (data-count toy 'train) 1))
(let* ((r (lecun1989-recipe toy "sdlm" () 1))
       (net (hget r 'net)))
  (assert (= lecun1989-sdlm-eta (nn-rate (hget r 'opt))))
  (assert (= 1 (idx-inf (nn-rates net))))
  (hset r 'quiet t)
  (train-run r)
  (assert (< (idx-sup (nn-rates net)) (+ 1e-3 (/ 1 lecun1989-sdlm-mu))))
  (assert (> (idx-sup (nn-rates net)) (idx-inf (nn-rates net)))))
(setq lecun1989-sdlm-count 500)


;; ---- the new architectures' scripts load without running

(load "../../scripts/mlp.lsp")
(load "../../scripts/lenet1.lsp")
(seed 6)
(assert (= 31260 (nn-nparams (mlp-net))))
(assert (= 3246 (nn-nparams (lenet1-net))))
(assert (script-main-p "harness.lsp"))
(assert (null (script-main-p "lenet1.lsp")))

;; ---- the REPL entry points of lecun1989.lsp

(seed 8)
(let* ((net (lecun1989-net t))
       (x (select (hget toy 'test-inputs) 0 4))
       (y (nn-fprop net x))
       (file (recipe-tmp "net.idx")))
  (assert (= (idx-indexmax y) (lecun1989-predict net x)))
  (assert (= (idx-indexmax y) (lecun1989-predict net (select x 0 0))))
  (assert (eq net (lecun1989-train net toy 0.03 2)))
  (assert (< (nn-error-rate net (hget toy 'train-inputs) (hget toy 'train-targets)) 0.5))
  (nn-save net file)
  (let ((back (lecun1989-load file)))
    (assert (= 0 (idx-sup (idx-abs (idx-sub (nn-params back) (nn-params net))))))
    (assert (= (lecun1989-predict net x) (lecun1989-show back toy 4)))))
(assert-error (lecun1989-load (recipe-tmp "missing.idx")))

(sys (concat "rm -rf " (recipe-tmp "*")))
