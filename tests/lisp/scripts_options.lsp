;; scripts_options.lsp: every training script in scripts/ takes the options
;; of lib/train.lsp, --batch and --threads among them: each is run as a
;; child process on its option parsing only (--help, or a bad value that
;; stops it before any data is read), which is cheap.

(libload "../../lib/data")

(defvar so-dir (sprintf "%s/lush89-scripts-options-%.0f" (or (getenv "TMPDIR") "/tmp")
                        (* 1e9 (clock))))
(mkdir-p so-dir)

;; sweep.lsp is not a training script: it runs one, passing its options on.
(defvar so-scripts
  (filter (lambda (name) (and (search ".lsp" name) (not (equal name "sweep.lsp"))))
          (directory-files "scripts")))

(de so-run (script args)
  "Runs scripts/SCRIPT with the command-line ARGS (a string): (STATUS
OUTPUT), OUTPUT both streams."
  (let* ((log (concat so-dir "/" script ".log"))
         (status (sys (sprintf "./lush89 scripts/%s %s >%s 2>&1" script args log))))
    (list status (read-file log))))

(assert (>= (length so-scripts) 8))
(assert (member "lecun1989.lsp" so-scripts))

(each ((script so-scripts))
  ;; both options parse, with their values, before --help ends the run
  (let ((run (so-run script "--batch 2 --threads 1 --help")))
    (assert (= 0 (car run)))
    (assert (search "--batch N" (cadr run)))
    (assert (search "--threads N" (cadr run)))
    (assert (search "LUSH89_THREADS" (cadr run))))
  ;; and are checked before anything else happens
  (let ((run (so-run script "--threads 0")))
    (assert (/= 0 (car run)))
    (assert (search "--threads 0: training needs at least 1 thread" (cadr run))))
  (let ((run (so-run script "--batch 0")))
    (assert (/= 0 (car run)))
    (assert (search "--batch 0: a batch holds at least 1 example" (cadr run))))
  (let ((run (so-run script "--threads")))
    (assert (= 2 (car run)))
    (assert (search "--threads needs a value" (cadr run)))))

(data-remove so-dir)
