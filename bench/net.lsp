;; net.lsp: speed of the backprop simulator on the 1989 net (make bench).
;; Prints microseconds per SGD step (fprop, MSE, bprop, update) in the C
;; training pass, per forward pass in the batched evaluation (1 thread and
;; (nn-threads) threads), and per step of the Lisp training loop; and the
;; effective GFLOP/s, counting a multiply-add as 2 FLOP: 181,540 per
;; training step, 63,660 per forward pass; then a training step of the same
;; net with a Lisp layer with parameters (nn-affine) after H1, against the
;; plain net, side by side. Random digits: the speed does not
;; depend on the data. Each figure is the best of several runs, since other
;; processes share the machine.

(libload "lecun1989")

(defvar bench-n 7291)
(defvar bench-runs 5)

(seed 1)
(defvar bench-net (lecun1989-net t))
(defvar bench-x (idx-rand (float-matrix bench-n 1 16 16) -1 1))
(defvar bench-labels (float-matrix bench-n))
(for (i 0 (- bench-n 1))
  (bench-labels i (floor (* 10 (rand)))))
(defvar bench-y (nn-onehot bench-labels 10))

(de bench-best (f)
  "The smallest wall time of bench-runs calls of F, in seconds."
  (let ((best ()))
    (repeat bench-runs
      (let ((t0 (clock)))
        (f)
        (let ((dt (- (clock) t0)))
          (when (or (null best) (< dt best)) (setq best dt)))))
    best))

(de bench-report (what us macs)
  (printf "%-34s %8.2f us  %6.2f GFLOP/s\n" what us (/ (* 2 macs) (* us 1000))))

(let ((opt (nn-sgd 0.01)))
  (bench-report "SGD step (C pass, 1 thread)"
                (/ (* 1e6 (bench-best (lambda () (nn-train-pass bench-net opt bench-x bench-y))))
                   bench-n)
                181540))

(let ((threads (nn-threads)))
  (nn-threads 1)
  (bench-report "forward (evaluation, 1 thread)"
                (/ (* 1e6 (bench-best (lambda () (nn-evaluate bench-net bench-x bench-y))))
                   bench-n)
                63660)
  (nn-threads threads)
  (bench-report (sprintf "forward (evaluation, %d threads)" threads)
                (/ (* 1e6 (bench-best (lambda () (nn-evaluate bench-net bench-x bench-y))))
                   bench-n)
                63660))

(let* ((opt (nn-sgd 0.01))
       (count 500)
       (x (narrow bench-x 0 count))
       (y (narrow bench-y 0 count)))
  (bench-report "SGD step (Lisp loop)"
                (/ (* 1e6 (bench-best (lambda () (nn-train-loop bench-net opt x y))))
                   count)
                181540))

;; The 1989 net with nn-affine (a per-plane scale and shift written in Lisp,
;; 24 parameters) after H1's squashing: the price of a Lisp layer with
;; parameters in the C training pass.
(let* ((count 500)
       (x (narrow bench-x 0 count))
       (y (narrow bench-y 0 count))
       (plain (nn-seq '(1 16 16) (lecun1989-net t)))
       (lisp (nn-seq '(1 16 16)
                     (nn-seq '(1 16 16) (nn-conv 12 5 2 () 2 -1 'unit) (nn-tanh))
                     (new nn-affine 12)
                     (nn-seq '(12 8 8) (nn-conv 12 5 2 (lecun1989-h2-table) 2 -1 'unit)
                             (nn-tanh) (nn-linear 30) (nn-tanh) (nn-linear 10) (nn-tanh))))
       (opt (nn-sgd 0.01)))
  (bench-report "SGD step, nested (C pass)"
                (/ (* 1e6 (bench-best (lambda () (nn-train-pass plain opt x y)))) count)
                181540)
  (bench-report "SGD step, nested + Lisp layer"
                (/ (* 1e6 (bench-best (lambda () (nn-train-pass lisp opt x y)))) count)
                181540))
