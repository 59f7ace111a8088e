;; fashion.lsp: scripts/fashion.lsp: its net's size, its rate schedule, and
;; on a slice of Fashion-MNIST (skipped when its folder is absent) one pass
;; of its recipe in mini-batches, and a run killed after its first pass and
;; resumed, which ends exactly as the uninterrupted one (the flips, shifts
;; and dropout draw from the generator; batch norm's running averages are
;; in the checkpoint).

(load "../../scripts/fashion.lsp")
(setq data-verbose ())

(defvar fs-dir (sprintf "%s/lush89-fashion-%.0f" (or (getenv "TMPDIR") "/tmp")
                        (* 1e9 (clock))))
(mkdir-p fs-dir)

;; ---- the net's size, layer by layer

(let ((conv (lambda (in out k) (+ (* in out k k) out)))
      (bn (lambda (c) (* 2 c))))
  (assert (= (+ (conv 1 4 3) (bn 4) (conv 4 8 3) (bn 8) (conv 8 16 3) (bn 16)
                (+ (* 16 3 3 128) 128) (+ (* 128 10) 10))
             (nn-nparams (fashion-net 4))))
  (assert (= 98666 (nn-nparams (fashion-net 16)))))
(assert (equal '(10) (nn-shape (fashion-net 4))))
(assert (null (script-main-p "fashion.lsp")))

;; ---- the schedule: half a cosine from the rate to a twentieth of it

(let* ((opt (nn-adamw 1))
       (schedule (fashion-schedule opt 1 5)))
  (schedule 1)
  (assert (< (abs (- 1 (nn-rate opt))) 1e-6))
  (schedule 3)
  (assert (< (abs (- 0.525 (nn-rate opt))) 1e-6))
  (schedule 5)
  (assert (< (abs (- 0.05 (nn-rate opt))) 1e-6)))

;; ---- on a slice of Fashion-MNIST

(de fs-loss (r)
  "The mean loss of recipe R's net on its test split."
  (let ((data (hget r 'data)))
    (car (nn-evaluate (hget r 'net) (data-inputs data 'test) (hget data 'test-labels) 'ce))))

(de fs-run (data passes &rest pairs)
  "Runs, quietly, the recipe of fashion.lsp (seed 8, width 4, batches of 8)
on DATA for PASSES passes, PAIRS adding keys. Returns it."
  (seed 8)
  (let ((r (fashion-recipe data 2e-3 passes 4)))
    (hset r 'batch 8)
    (hset r 'quiet t)
    (hset r 'no-table t)
    (while pairs
      (hset r (car pairs) (cadr pairs))
      (setq pairs (cddr pairs)))
    (train-run r)))

(if (not (data-folder-p fashion-default-dir))
    (printf "fashion.lsp: Fashion-MNIST tests skipped: %s is missing (apt-get install dataset-fashion-mnist)\n"
            fashion-default-dir)
  (let* ((data (data-fit (data-slice (data-load "fashion") 300 100) '(1 28 28)))
         (loss0 (progn (seed 8) (fs-loss (fashion-recipe data 2e-3 1 4))))
         (one (fs-run data 1)))
    (assert (= 1 (length (hget one 'metrics))))
    (assert (< (fs-loss one) loss0))
    (assert (equal (hget one 'class-names) fashion-classes))
    ;; killed after pass 1, resumed to 2: as the uninterrupted run
    (let ((straight (fs-run data 2 'out (concat fs-dir "/straight"))))
      (fs-run data 1 'out (concat fs-dir "/killed"))
      (let ((resumed (fs-run data 2 'out (concat fs-dir "/killed") 'resume t)))
        (assert (equal (all ((row (hget straight 'metrics))) (list (nth 1 row) (nth 3 row)))
                       (all ((row (hget resumed 'metrics))) (list (nth 1 row) (nth 3 row)))))
        (assert (equal (nn-params (hget straight 'net)) (nn-params (hget resumed 'net))))
        (assert (equal (mapcar cdr (nn-buffers (hget straight 'net)))
                       (mapcar cdr (nn-buffers (hget resumed 'net)))))))))

(data-remove fs-dir)
