;; obd.lsp: pruning by Optimal Brain Damage and by magnitude (lib/obd.lsp):
;; the saliency against a hand computation on a one-unit net, the schedule
;; of live counts, which parameters a deletion takes, a pruning of a small
;; net on toy data whose deleted weights stay exactly zero through
;; retraining, the live ones by layer, how far a method prunes, and
;; scripts/obd.lsp's outputs on a short run over the digits (obd.csv's
;; columns and rows, obd.svg).

(libload "../../lib/obd")
(setq data-verbose ())

(de ob-near (a b) (< (abs (- a b)) (* 1e-5 (+ 1 (abs b)))))

;; ---- the saliency of y = tanh(w x + b) under the MSE, by hand:
;; ddy = 2 (one output), ddx through tanh = (1 - y^2)^2 ddy, then
;; h_w = mean x^2 (1 - y^2)^2 2, h_b = mean (1 - y^2)^2 2; s = h u^2 / 2
(let* ((net (nn-seq '(1) (nn-linear 1) (nn-tanh)))
       (xs [[0.5] [-1] [2]]) (ts [[1] [0] [-1]])
       (w 0.7) (b -0.3) (hw 0) (hb 0))
  ((nn-params net) 0 w)
  ((nn-params net) 1 b)
  (for (e 0 2)
    (let* ((x (xs e 0)) (y (tanh (+ (* w x) b))) (d (- 1 (* y y))) (g (* 2 d d)))
      (setq hw (+ hw (/ (* x x g) 3)) hb (+ hb (/ g 3)))))
  (let ((h (obd-hessian net xs ts 'mse)) (s (obd-saliency net xs ts 'mse)))
    (assert (ob-near (h 0) hw))
    (assert (ob-near (h 1) hb))
    (assert (ob-near (s 0) (* hw w w 0.5)))
    (assert (ob-near (s 1) (* hb b b 0.5)))
    (assert (= 2 (idx-sum (nn-rates net)))) ; the estimate's rate factors are undone
    (assert (ob-near ((obd-magnitude net) 0) w))
    (assert (ob-near ((obd-magnitude net) 1) (- b)))))

;; ---- the schedule: 20% of the live ones a step, down to 5%
(assert (equal (obd-schedule 100 0.2 0.05) '(100 80 64 51 41 33 26 21 17 14 11 9 7 6 5)))
(assert (equal (obd-schedule 10 0.5 0.3) '(10 5 3)))
(assert (equal (obd-schedule 4 0.01 0.5) '(4 3 2))) ; at least one a step
(assert (equal (obd-schedule 7 0.5 1) '(7)))
(assert (equal (obd-schedule 3 0.9 0.01) '(3 1)))  ; at least one is kept
(assert-error (obd-schedule 10 1 0.5) "step 1 is not a fraction")
(assert-error (obd-schedule 10 0 0.5) "not a fraction")
(assert-error (obd-schedule 10 0.2 1.5) "keep 1.5 is not a fraction")

;; ---- a deletion takes the least-scored live parameters
(let ((net (nn-seq '(2) (nn-linear 2))))           ; 6 parameters
  (idx-copy [1 -2 3 -4 5 -6] (nn-params net))
  (assert (equal (matrix->list (obd-delete net [6 5 4 3 2 1] 2)) '(1 1 1 1 0 0)))
  (assert (equal (matrix->list (nn-params net)) '(1 -2 3 -4 0 0)))
  ;; the deleted ones no longer count, whatever their score
  (assert (equal (matrix->list (obd-delete net [6 5 4 3 0 0] 1)) '(1 1 1 0 0 0)))
  (assert (equal (matrix->list (obd-delete net [1 1 1 1 1 1] 2)) '(0 0 1 0 0 0))) ; ties: lower index
  (assert-error (obd-delete net [1 1 1 1 1 1] 2) "2 parameters to delete, 1 live"))

;; obd-layers gives up on a flat vector that is not its modules' in order
(let ((inner (nn-seq '(2) (nn-linear 2))))
  (assert (null (obd-layers (nn-seq '(2) inner (nn-linear 1)) (float-matrix 9)))))
(let ((m (nn-linear 2)))
  (assert (null (obd-layers (nn-seq '(2) m m) (float-matrix 6)))))

;; ---- how far a method prunes: rows (kept params obd-train obd-test ...)
(let ((rows '((1 100 0 4 0 4) (0.8 80 0 4.4 0 4.4) (0.6 60 0 4.5 0 4.6) (0.4 40 0 5 0 4))))
  (assert (= 60 (obd-reach rows 3 0.5)))
  (assert (= 80 (obd-reach rows 5 0.5)))     ; a later recovery does not count
  (assert (= 40 (obd-reach rows 3 2))))

;; ---- pruning a small net on toy data: ten classes of 12x12 images, class
;; k a bright bar at row k + 1, plus noise
(de ob-split (n)
  (let ((images (ubyte-matrix n 12 12)) (labels (int-matrix n)))
    (idx-copy (idx-rand (float-matrix n 12 12) 0 60) images)
    (for (i 0 (- n 1))
      (labels i (mod i 10))
      (idx-fill (narrow (select images 0 i) 0 1 (+ 1 (mod i 10))) 250))
    (list images labels)))

(seed 3)
(let* ((data (data-fit (data-table "toy" "made here" (data-digit-names 10)
                                   (ob-split 60) (ob-split 30))
                       '(1 12 12)))
       (net (nn-seq '(1 12 12) (nn-linear 12) (nn-tanh) (nn-linear 10) (nn-tanh)))
       (r (progn (nn-init net 2.4 0)
                 (train-recipe 'name "toy" 'net net 'opt (nn-sgd 0.05 0.5) 'data data
                               'passes 3 'quiet t 'no-table t)))
       (total (nn-nparams net))
       (schedule (obd-schedule total 0.5 0.1)))
  (train-run r)
  (let* ((start (copy-matrix (nn-params net)))
         (rows (obd-prune r 'obd schedule 2))
         (mask (nn-mask net)))
    (assert (equal (mapcar car rows) schedule))
    (assert (= (length (cdr (car rows))) 2))
    (assert (= (idx-sum mask) (last schedule)))
    ;; the live ones by layer: the two linear modules, 12 (144 + 1) and
    ;; 10 (12 + 1) parameters
    (let ((layers (obd-layers net mask)))
      (assert (equal (mapcar car layers) '(1 3)))
      (assert (equal (mapcar (lambda (l) (nth 2 l)) layers) '(1740 130)))
      (assert (= (+ (cadr (car layers)) (cadr (cadr layers))) (last schedule)))
      (assert (= (cadr (cadr layers)) (idx-sum (narrow mask 0 130 1740)))))
    ;; every deleted parameter is exactly zero after the retraining, and
    ;; the live ones moved
    (let ((zeros 0) (moved 0))
      (for (k 0 (- total 1))
        (if (= 0 (mask k))
            (when (= 0 ((nn-params net) k)) (incr zeros))
          (unless (= (start k) ((nn-params net) k)) (incr moved))))
      (assert (= zeros (- total (last schedule))))
      (assert (= moved (last schedule))))
    ;; magnitude from the same start: its first row is the same net
    (nn-mask net ())
    (idx-copy start (nn-params net))
    (let ((mag (obd-prune r 'magnitude schedule 1)))
      (assert (equal (car mag) (car rows)))
      (assert (= (idx-sum (nn-mask net)) (last schedule)))
      (let ((csv (obd-rows total rows mag)))
        (assert (equal (car csv) (list 1 total (nth 1 (car rows)) (nth 2 (car rows))
                                       (nth 1 (car mag)) (nth 2 (car mag)))))
        (assert (ob-near (car (last csv)) (/ (last schedule) total)))))))

;; ---- the script: a short run on the digits in a child process
(let* ((out (sprintf "%s/lush89-obd-%.0f" (or (getenv "TMPDIR") "/tmp") (* 1e9 (clock))))
       (log (concat out ".log")))
  (assert (= 0 (sys (sprintf "./lush89 scripts/obd.lsp --quiet --passes 1 --step 0.5 --keep 0.2 --retrain 1 --out %s >%s 2>&1"
                             out log))))
  (let ((lines (read-lines (concat out "/obd.csv")))
        (printed (read-lines log)))
    (assert (equal (car lines)
                   "kept,params,obd_train_error,obd_test_error,mag_train_error,mag_test_error"))
    (assert (= 4 (length (cdr lines))))  ; 9760 4880 2440 1952
    (assert (equal 0 (search "1,9760," (cadr lines))))
    (assert (equal 0 (search "0.2,1952," (last lines))))
    (assert (filter (lambda (l) (search "OBD: down to " l)) printed))
    (assert (filter (lambda (l) (search "magnitude: down to " l)) printed)))
  (assert (search "parameters kept" (read-file (concat out "/obd.svg"))))
  ;; the saved start reloads, and --params starts from it without training
  (assert (= 0 (sys (sprintf "./lush89 scripts/obd.lsp --quiet --params %s/start.idx --step 0.5 --keep 0.5 --retrain 1 --out %s/again >%s 2>&1"
                             out out log))))
  (assert (equal (cadr (read-lines (concat out "/obd.csv")))
                 (cadr (read-lines (concat out "/again/obd.csv")))))
  (assert (/= 0 (sys (sprintf "./lush89 scripts/obd.lsp --step 2 --out %s/bad >%s 2>&1" out log))))
  (assert (/= 0 (sys (sprintf "./lush89 scripts/obd.lsp --bogus >%s 2>&1" log)))))
