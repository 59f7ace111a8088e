;; lenet5.lsp: LeNet-5 of lib/lenet5.lsp against the paper: the layers'
;; output shapes and parameter counts, Table I's C3 connections (as the
;; paper prints them, and as the net computes), the output codes, the
;; second derivatives the SDLM estimate starts from, the rate schedule, and
;; scripts/lenet5.lsp for one pass on a small synthetic folder of IDX
;; files, whose confusion matrix takes the smallest output as the
;; prediction.

(libload "../../lib/lenet5")
(setq data-verbose ())

(defvar l5-dir (sprintf "%s/lush89-lenet5-%.0f" (or (getenv "TMPDIR") "/tmp")
                        (* 1e9 (clock))))
(mkdir-p l5-dir)

(seed 7)
(defvar l5-net (lenet5-net t))

;; ---- layers: output shapes and parameters, against the paper's text
(de l5-params (m)
  "The parameters of module M: its weights and biases."
  (let ((w (nn-weights m)))
    (if w (+ (idx-nelem w) (idx-nelem (nn-biases m))) 0)))

(let ((mods (nn-modules l5-net)))
  (assert (= 13 (length mods)))
  (assert (equal (nn-shape l5-net 0) '(1 32 32)))
  ;; (module-index params output-shape): C1 S2 C3 S4 C5 F6 RBF
  (each ((row '((0 156 (6 28 28)) (2 12 (6 14 14)) (4 1516 (16 10 10))
                (6 32 (16 5 5)) (8 48120 (120 1 1)) (10 10164 (84)) (12 0 (10)))))
    (assert (= (cadr row) (l5-params (nth (car row) mods))))
    (assert (equal (nth 2 row) (nn-shape l5-net (+ 1 (car row))))))
  (assert (= 60000 (nn-nparams l5-net)))
  ;; 1.7159 tanh(2/3 x) after every layer but the output
  (each ((i '(1 3 5 7 9 11)))
    (assert (equal (sprintf "%l" (nth i mods)) "#<nn-module stanh 0 params>"))))

;; ---- Table I, as printed in the paper: rows S2 maps, columns C3 maps
(defvar l5-table-i
  '("X   XXX  XXXX XX"
    "XX   XXX  XXXX X"
    "XXX   XXX  X XXX"
    " XXX  XXXX  X XX"
    "  XXX  XXXX XX X"
    "   XXX  XXXX XXX"))

(let ((pairs ()))
  (each ((row l5-table-i) (i (range 6)))
    (for (o 0 15)
      (when (equal "X" (substring row o (+ o 1)))
        (setq pairs (cons (list i o) pairs)))))
  (assert (= 60 (length pairs)))
  (assert (= 60 (length (lenet5-c3-table))))
  (each ((p pairs)) (assert (member p (lenet5-c3-table)))))

;; and as the C3 module computes: a change in S2 map i moves exactly the
;; C3 maps Table I connects to it
(let* ((c3 (nn-seq '(6 14 14) (nn-conv 16 5 1 (lenet5-c3-table))))
       (x (idx-rand (float-matrix 6 14 14) -1 1))
       (y (copy-matrix (nn-fprop (nn-init c3 2.4 0.1) x))))
  (for (i 0 5)
    (let ((x2 (copy-matrix x)))
      (idx-addm0 (select x2 0 i) 0.5 (select x2 0 i))
      (let ((y2 (nn-fprop c3 x2)))
        (for (o 0 15)
          (assert (eq (equal "X" (substring (nth i l5-table-i) o (+ o 1)))
                      (> (idx-sup (idx-abs (idx-sub (select y2 0 o) (select y 0 o)))) 0)))))))
  (assert (= 1500 (idx-nelem (nn-weights (car (nn-modules c3)))))))

;; ---- the output codes: ten 7x12 +1/-1 bitmaps, as drawn in the source
(let ((codes (lenet5-codes)))
  (assert (equal (idx-shape codes) '(10 84)))
  (assert (= 84 (* 7 12)))
  (assert (= 840 (idx-sumsqr codes)))                            ; all +-1
  (assert (= 1 (idx-sup codes)))
  (assert (= -1 (idx-inf codes)))
  ;; code 1's bottom stroke (row 10 of 12) and code 7's top bar (row 1)
  (assert (equal (matrix->list (narrow (select codes 0 1) 0 7 70)) '(-1 1 1 1 1 1 -1)))
  (assert (equal (matrix->list (narrow (select codes 0 7) 0 7 7)) '(1 1 1 1 1 1 1)))
  (for (k 0 9)
    (assert (> (idx-sum (select codes 0 k)) -84))                ; some ink
    (for (l 0 9)
      (unless (= k l)
        (assert (> (idx-sumsqr (idx-sub (select codes 0 k) (select codes 0 l))) 0)))))
  ;; the RBF layer's output k is 0 at code k, and the smallest there
  (let ((rbf (nn-seq '(84) (nn-rbf codes))))
    (for (k 0 9)
      (let ((y (nn-fprop rbf (select codes 0 k))))
        (assert (= 0 (y k)))
        (assert (= k (idx-indexmin y)))))))

;; ---- the second derivatives at F6's outputs: 2 plus the log-sum's
;; Gauss-Newton terms, by a plain loop; the loss is the 'rbf cost's
(let* ((codes (lenet5-codes))
       (cost (lenet5-ddx codes))
       (rbf (nn-seq '(84) (nn-rbf codes)))
       (x (idx-add (idx-rand (float-matrix 84) -0.15 0.15) (select codes 0 3)))
       (ddx (float-matrix 84))
       (y (copy-matrix (nn-fprop rbf x)))
       (z (exp (- lenet5-rbf-j))))
  (for (i 0 9) (setq z (+ z (exp (- (y i))))))
  (let ((loss (cost x [2] () ddx)))
    (assert (< (abs (- loss (car (nn-evaluate rbf (idx-reshape (copy-matrix x) 1 84) [2] 'rbf))))
               1e-4))
    (assert (> (/ (exp (- (y 3))) z) 0.01))                      ; the log-sum counts here
    (for (k 0 83)
      (let ((want 2))
        (for (i 0 9)
          (let ((q (/ (exp (- (y i))) z)) (g (* 2 (- (x k) (codes i k)))))
            (setq want (+ want (* q (- 1 q) g g)))))
        (assert (< (abs (- (ddx k) want)) (* 1e-4 want))))))
  ;; far from every code, only the 2 is left
  (let ((far (idx-fill (float-matrix 84) 5)))
    (cost far [0] () ddx)
    (assert (< (idx-sup (idx-abs (idx-addm0 ddx -2))) 1e-6))))

;; ---- the schedule: 2 passes at 0.0005, 3 at 0.0002, 3 at 0.0001, 4 at
;; 0.00005, then 0.00001; --lr scales it
(assert (equal (all ((p (range 1 16))) (lenet5-rate p))
               '(0.0005 0.0005 0.0002 0.0002 0.0002 0.0001 0.0001 0.0001
                 0.00005 0.00005 0.00005 0.00005 0.00001 0.00001 0.00001)))
(assert (< (abs (- (lenet5-rate 3 0.001) 0.0004)) 1e-12))
(assert (equal (lenet5-hessian-window 1 7291) '(0 500)))
(assert (equal (lenet5-hessian-window 2 7291) '(500 500)))
(assert (equal (lenet5-hessian-window 3 600) '(0 500)))      ; back to the first
(assert (equal (lenet5-hessian-window 16 7291) '(500 500)))    ; 14 windows
(assert (equal (lenet5-hessian-window 1 200) '(0 200)))

;; ---- the prediction of the 'rbf cost is the smallest output
(assert (= 2 (train-predicted 'rbf [3 1 0.5 2])))
(assert (= 2 (train-predicted 'lenet5 [3 1 0.5 2])))
(assert (= 0 (train-predicted 'ce [3 1 0.5 2])))
(assert (= 0 (train-predicted 'mse [3 1 0.5 2])))

;; ---- scripts/lenet5.lsp, one pass on a folder of small IDX files: ten
;; classes of 28x28 byte images, class k a bright bar at row k*2+4
(de l5-split (n)
  "N images and labels: (IMAGES LABELS)."
  (let ((images (ubyte-matrix n 28 28)) (labels (ubyte-matrix n)))
    (idx-copy (idx-rand (float-matrix n 28 28) 0 40) images)
    (for (i 0 (- n 1))
      (let ((k (mod (* 7 i) 10)))
        (labels i k)
        (idx-fill (narrow (narrow (select images 0 i) 0 2 (+ 4 (* 2 k))) 1 20 4) 250)))
    (list images labels)))

(let ((data (concat l5-dir "/data")) (out (concat l5-dir "/out")))
  (mkdir-p data)
  (each ((prefix '("train" "t10k")) (n '(300 100)))
    (let ((split (l5-split n)))
      (save-matrix (car split) (concat data "/" prefix "-images-idx3-ubyte"))
      (save-matrix (cadr split) (concat data "/" prefix "-labels-idx1-ubyte"))))
  (let* ((r (lenet5-main (list "--data" data "--passes" "1" "--quiet" "--out" out)))
         (counts (hget r 'confusion))
         (misses (train-last r "test_misses"))
         (right 0))
    (assert (equal (hget r 'cost) 'rbf))
    (assert (= 0.0005 (nn-rate (hget r 'opt))))
    (for (k 0 9) (setq right (+ right (counts k k))))
    ;; the confusion matrix agrees with nn-evaluate, which counts a miss
    ;; when the smallest output is not the label's
    (assert (= 100 (idx-sum counts)))
    (assert (= right (- 100 misses)))
    (assert (< (train-last r "test_error") 50))                   ; it learned
    (assert (file-exists (concat out "/confusion.csv")))
    (assert (file-exists (concat out "/params.idx")))
    ;; SDLM's rates came from the estimate: not all 1, none above 1/mu
    (assert (< (idx-inf (nn-rates (hget r 'net))) 1))
    (assert (<= (idx-sup (nn-rates (hget r 'net))) (/ 1 lenet5-sdlm-mu)))))

(data-remove l5-dir)
