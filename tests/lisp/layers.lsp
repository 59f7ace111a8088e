;; layers.lsp: the pooling, subsampling, batch-normalisation, sigmoid,
;; leaky-relu and RBF modules and the 'rbf cost: outputs against small
;; examples computed here, bprop against finite differences, bbprop against
;; second differences where Gauss-Newton is exact and against its formula
;; elsewhere, shape errors, and short trainings. Their kernels on batches
;; are tested in tests/c/test_layers.c.

(libload "nn")

(de max-diff (a b)
  "The largest |a - b| over two tensors of as many elements."
  (idx-sup (idx-abs (idx-sub (idx-reshape (copy-matrix a) (list (idx-nelem a)))
                             (idx-reshape (copy-matrix b) (list (idx-nelem b)))))))

(de near (a b) (< (max-diff a b) 1e-5))
(de rand-tensor (shape) (idx-rand (apply float-matrix shape) -1 1))
(de check-ok (errs) (and (< (car errs) 5e-3) (< (cadr errs) 5e-3)))
(de bbcheck-ok (errs) (and (< (car errs) 1e-3) (< (cadr errs) 1e-3)))

(de run (module shape x)
  "MODULE alone in a net for SHAPE, run forward on X."
  (nn-fprop (nn-seq shape module) x))

;; ---- Pooling: values

(defvar img [[[1 2 3 4] [8 7 6 5] [9 -1 0 2] [3 3 -4 1]]])
(assert (near (run (nn-maxpool 2) '(1 4 4) img) [[[8 6] [9 2]]]))
(assert (near (run (nn-avgpool 2) '(1 4 4) img) [[[4.5 4.5] [3.5 -0.25]]]))
;; stride 1, overlapping windows; [H W] input
(assert (near (run (nn-maxpool 3 1) '(4 4) (select img 0 0)) [[9 7] [9 7]]))
(assert (near (run (nn-avgpool 3 1) '(4 4) (select img 0 0))
              (idx-dotm0 [[35 28] [31 19]] (/ 1 9))))
;; rows and columns left over are dropped: 5x5 by 2 is 2x2
(assert (equal (nn-shape (nn-seq '(3 5 5) (nn-maxpool 2))) '(3 2 2)))
(assert (equal (nn-shape (nn-seq '(3 7 5) (nn-avgpool 3 2))) '(3 3 2)))
;; every plane on its own
(let ((x (rand-tensor '(2 3 4 4))))
  (assert (near (select (select (run (nn-maxpool 2) '(2 3 4 4) x) 0 1) 0 2)
                (run (nn-maxpool 2) '(4 4) (select (select x 0 1) 0 2)))))
;; the gradient goes to the first largest element of each window
(let ((n (nn-seq '(2 2) (nn-maxpool 2))))
  (nn-fprop n [[5 5] [1 5]])
  (assert (near (nn-bprop n [[3]]) [[3 0] [0 0]])))
;; overlapping windows add up
(let ((n (nn-seq '(3 3) (nn-maxpool 2 1))))
  (nn-fprop n [[0 0 0] [0 9 0] [0 0 0]])
  (assert (near (nn-bprop n [[1 2] [3 4]]) [[0 0 0] [0 10 0] [0 0 0]])))

;; the optimised kernels (windows that tile) and the reference ones agree
(let* ((x (rand-tensor '(3 8 9))) (dy (rand-tensor '(3 4 4)))
       (n (nn-seq '(3 8 9) (nn-maxpool 2))) (y (nn-fprop n x)) (dx (nn-bprop n dy)))
  (nn-reference t)
  (assert (= 0 (max-diff y (nn-fprop n x))))
  (assert (= 0 (max-diff dx (nn-bprop n dy))))
  (nn-reference ()))

;; ---- Subsampling: values and parameters

(let* ((m (nn-subsample 2))
       (n (nn-seq '(2 2 4) m))
       (x [[[1 2 3 4] [5 6 7 8]] [[0 0 4 4] [4 4 0 0]]]))
  (assert (equal (idx-shape (nn-weights m)) '(2)))
  (assert (equal (idx-shape (nn-biases m)) '(2)))
  (assert (= (nn-nparams n) 4))
  (idx-copy [2 -1] (nn-weights m))
  (idx-copy [0.5 3] (nn-biases m))
  ;; means (3.5 5.5) and (2 2)
  (assert (near (nn-fprop n x) [[[7.5 11.5]] [[1 1]]]))
  (nn-clear-grads n)
  (assert (near (nn-bprop n [[[1 2]]  [[4 0]]])
                [[[0.5 0.5 1 1] [0.5 0.5 1 1]] [[-1 -1 0 0] [-1 -1 0 0]]]))
  ;; coefficients: sum of dy times the means; biases: sum of dy
  (assert (near (nn-grads n) [14.5 8 3 4])))
;; the coefficients start uniform in +-A/K (fan-in K^2), the biases at BIAS
(let* ((m (nn-subsample 4)) (n (nn-seq '(50 4 4) m)))
  (nn-init n 2 0.25)
  (assert (<= (idx-sup (idx-abs (nn-weights m))) 0.5))
  (assert (> (idx-sup (idx-abs (nn-weights m))) 0.4))
  (assert (near (nn-biases m) (idx-fill (float-matrix 50) 0.25))))

;; ---- Element-wise: values

(let ((x [-2 -0.5 0 1 3]))
  (assert (near (run (nn-sigmoid) '(5) x)
                [(/ 1 (+ 1 (exp 2))) (/ 1 (+ 1 (exp 0.5))) 0.5
                 (/ 1 (+ 1 (exp -1))) (/ 1 (+ 1 (exp -3)))]))
  (assert (near (run (nn-leaky-relu) '(5) x) [-0.02 -0.005 0 1 3]))
  (assert (near (run (nn-leaky-relu 0.5) '(5) x) [-1 -0.25 0 1 3])))

;; ---- RBF: values

(defvar centers [[0 0 0] [1 2 3] [-1 1 0] [1 1 1]])
(assert (near (run (nn-rbf centers) '(3) [1 1 1]) [3 5 5 0]))
(assert (near (run (nn-rbf centers) '(3 1) [[0] [2] [0]]) [4 10 2 3]))
(let* ((m (nn-rbf centers t)) (n (nn-seq '(3) m)))
  (assert (equal (idx-shape (nn-weights m)) '(4 3)))
  (assert (null (nn-biases m)))
  (assert (near (nn-weights m) centers))
  (idx-copy (float-matrix 4 3) (nn-weights m))
  (assert (near (nn-fprop n [1 2 2]) [9 9 9 9]))
  ;; nn-init puts the centers given back
  (nn-init n 1)
  (assert (near (nn-weights m) centers)))
(assert (= 0 (nn-nparams (nn-seq '(3) (nn-rbf centers)))))

;; ---- The 'rbf cost: LeNet-5's y_D + log(exp(-1) + sum_i exp(-y_i))

(de rbf-loss (y c)
  (+ (y c) (log (+ (exp -1) (idx-sum (idx-exp (idx-neg y)))))))

(let* ((n (nn-seq '(3) (nn-rbf centers)))
       (x [1 1 0.5])
       (y (nn-fprop n x))
       (xs (idx-reshape (copy-matrix x) '(1 3))))
  (for (c 0 3)
    (assert (< (abs (- (car (nn-evaluate n xs (idx-fill (float-matrix 1) c) 'rbf))
                       (rbf-loss y c)))
               1e-5)))
  ;; the prediction is the smallest penalty: center 3 (1 1 1)
  (assert (= 0 (cadr (nn-evaluate n xs [3] 'lenet5))))
  (assert (= 1 (cadr (nn-evaluate n xs [1] 'rbf))))
  (assert-error (nn-evaluate n xs [4] 'rbf) "not a class"))

;; ---- Gradients against finite differences

(seed 5)
(assert (check-ok (nn-check-module (nn-maxpool 2) '(2 4 5))))
(assert (check-ok (nn-check-module (nn-maxpool 3 1) '(2 5 5))))
(assert (check-ok (nn-check-module (nn-maxpool 2 3) '(6 8))))
(assert (check-ok (nn-check-module (nn-avgpool 2) '(2 4 4))))
(assert (check-ok (nn-check-module (nn-avgpool 3 2) '(2 7 5))))
(assert (check-ok (nn-check-module (nn-subsample 2) '(3 4 6))))
(assert (check-ok (nn-check-module (nn-subsample 3) '(6 3))))
(assert (check-ok (nn-check-module (nn-batchnorm) '(3 4 4))))
(assert (check-ok (nn-check-module (nn-batchnorm) '(2 5))))
(assert (check-ok (nn-check-module (nn-batchnorm) '(6))))
(assert (check-ok (nn-check-module (nn-sigmoid) '(7))))
(assert (check-ok (nn-check-module (nn-leaky-relu) '(7))))
(assert (check-ok (nn-check-module (nn-leaky-relu -0.3) '(2 4))))
(assert (check-ok (nn-check-module (nn-rbf (rand-tensor '(4 6))) '(2 3))))
(assert (check-ok (nn-check-module (nn-rbf (rand-tensor '(4 6)) t) '(6))))
;; batch normalisation in evaluation mode, after its running averages moved
(let ((n (nn-seq '(3 2 2) (nn-batchnorm))))
  (nn-fprop n (rand-tensor '(3 2 2)))
  (nn-mode n 'eval)
  (assert (check-ok (nn-gradcheck n (rand-tensor '(3 2 2)) (rand-tensor '(3 2 2))))))
;; the 'rbf cost, and the smooth modules in one net (a larger step: the
;; float outputs' rounding would hide the small input gradients)
(let ((n (nn-seq '(6) (nn-rbf (rand-tensor '(4 6)) t))))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(6)) 2 'rbf))))
(let ((n (nn-seq '(3 4 6) (nn-batchnorm) (nn-subsample 2) (nn-sigmoid)
                 (nn-avgpool 2 1) (nn-linear 4) (nn-rbf (rand-tensor '(3 4)) t))))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(3 4 6)) 1 'rbf 3e-2))))
;; the check can fail: the cost's gradient is wrong for another cost
(let ((n (nn-seq '(6) (nn-rbf (rand-tensor '(4 6))))))
  (assert (not (check-ok (nn-gradcheck n (rand-tensor '(6)) [2]
                                       (lambda (y tg dy ddy)
                                         (nn-cross-entropy y 2 dy ddy)
                                         (rbf-loss y 2)))))))

;; ---- Second derivatives: exact where the module is linear in what is
;; checked (pooling and subsampling per value, leaky relu away from 0,
;; batch normalisation in evaluation mode)

(de spread-tensor (shape)
  "A tensor of SHAPE whose values are 0.3 apart and at least 0.15 from 0,
in a random order: steps of 0.1 change no window's largest element and no
sign."
  (let* ((x (apply float-matrix shape)) (n (idx-nelem x))
         (f (idx-reshape x (list n))))
    (for (i 0 (- n 1))
      (f i (+ 0.15 (* 0.3 (- i (/ (- n (mod n 2)) 2))))))
    (for (i (- n 1) 1 -1)
      (let ((j (random-int (+ i 1))) (v (f i)))
        (f i (f j))
        (f j v)))
    x))

(de bb (net x) (nn-bbcheck net x (rand-tensor (nn-shape net))))
(assert (bbcheck-ok (bb (nn-seq '(2 4 5) (nn-maxpool 2)) (spread-tensor '(2 4 5)))))
(assert (bbcheck-ok (bb (nn-seq '(5 5) (nn-maxpool 3 1)) (spread-tensor '(5 5)))))
(assert (bbcheck-ok (bb (nn-seq '(2 5 5) (nn-avgpool 3 1)) (rand-tensor '(2 5 5)))))
(assert (bbcheck-ok (bb (nn-seq '(3 4 6) (nn-subsample 2)) (rand-tensor '(3 4 6)))))
(assert (bbcheck-ok (bb (nn-seq '(7) (nn-leaky-relu 0.2)) (spread-tensor '(7)))))
(let ((n (nn-seq '(3 2 2) (nn-batchnorm))))
  (nn-mode n 'eval)
  (idx-copy [2 -1 0.5 0 1 2] (nn-params n))
  (assert (bbcheck-ok (bb n (rand-tensor '(3 2 2))))))

;; and their formulas elsewhere: the squared slopes times ddy
(de bbprop-of (net x ddy)
  (nn-fprop net x)
  (nn-clear-hessian net)
  (nn-bbprop net ddy))

(let* ((x (rand-tensor '(6))) (ddy (idx-rand (float-matrix 6) 0.5 1.5))
       (y (run (nn-sigmoid) '(6) x))
       (k (idx-mul y (idx-sub (idx-fill (float-matrix 6) 1) y))))
  (assert (near (bbprop-of (nn-seq '(6) (nn-sigmoid)) x ddy)
                (idx-mul (idx-mul k k) ddy))))
;; RBF: ddx_j = sum_i 4 (x_j - c_ij)^2 ddy_i, the centers' the same terms
(let* ((c (rand-tensor '(3 4))) (m (nn-rbf c t)) (n (nn-seq '(4) m))
       (x (rand-tensor '(4))) (ddy [0.5 1 2])
       (want-x (float-matrix 4)) (want-c (float-matrix 3 4)))
  (for (i 0 2)
    (for (j 0 3)
      (let ((g (* 2 (- (x j) (c i j)))))
        (want-c i j (* g g (ddy i)))
        (want-x j (+ (want-x j) (* g g (ddy i)))))))
  (assert (near (bbprop-of n x ddy) want-x))
  (assert (near (nn-hessian n) want-c)))
;; batch normalisation in training: the statistics taken as constants,
;; ddx = (scale / sqrt(var + eps))^2 ddy, ddscale = sum xhat^2 ddy
(let* ((n (nn-seq '(2 3) (nn-batchnorm)))
       (x [[1 2 6] [0 0 3]]) (ddy [[1 1 1] [2 2 2]]))
  (idx-copy [3 0.5 0 0] (nn-params n))
  (let ((ddx (bbprop-of n x ddy)))
    ;; channel 0: mean 3, var (/ 14 3); channel 1: mean 1, var 2
    (assert (near ddx [[(/ 9 (+ (/ 14 3) 1e-5)) (/ 9 (+ (/ 14 3) 1e-5)) (/ 9 (+ (/ 14 3) 1e-5))]
                       [(/ 0.5 (+ 2 1e-5)) (/ 0.5 (+ 2 1e-5)) (/ 0.5 (+ 2 1e-5))]]))
    (assert (< (abs (- ((nn-hessian n) 0) 3)) 1e-4))
    (assert (< (abs (- ((nn-hessian n) 1) 6)) 1e-4))
    (assert (near (narrow (nn-hessian n) 0 2 2) [3 6]))))

;; ---- Batch normalisation: the modes and the running averages

(let* ((m (nn-batchnorm)) (n (nn-seq '(2 3) m))
       (x [[1 2 6] [0 0 3]]))
  (assert (equal (idx-shape (nn-weights m)) '(2)))
  (assert (near (nn-params n) [1 1 0 0]))
  (idx-copy [2 1 0.5 -1] (nn-params n))
  ;; training: each channel over its values, the variance biased
  (let ((s0 (sqrt (+ (/ 14 3) 1e-5))) (s1 (sqrt (+ 2 1e-5))))
    (assert (near (nn-fprop n x)
                  [[(+ 0.5 (/ -4 s0)) (+ 0.5 (/ -2 s0)) (+ 0.5 (/ 6 s0))]
                   [(- (/ -1 s1) 1) (- (/ -1 s1) 1) (- (/ 2 s1) 1)]])))
  ;; the running averages moved by 0.1 towards the means and the unbiased
  ;; variances (7 and 3)
  (assert (near (car (nn-batchnorm-stats m)) [0.3 0.1]))
  (assert (near (cadr (nn-batchnorm-stats m)) [1.6 1.2]))
  ;; evaluation: the running averages
  (nn-mode n 'eval)
  (let ((s0 (sqrt (+ 1.6 1e-5))) (s1 (sqrt (+ 1.2 1e-5))))
    (assert (near (nn-fprop n x)
                  [[(+ 0.5 (/ (* 2 0.7) s0)) (+ 0.5 (/ (* 2 1.7) s0)) (+ 0.5 (/ (* 2 5.7) s0))]
                   [(- (/ -0.1 s1) 1) (- (/ -0.1 s1) 1) (- (/ 2.9 s1) 1)]])))
  (assert (near (car (nn-batchnorm-stats m)) [0.3 0.1]))
  ;; nn-init: scale 1, shift 0, running averages 0 and 1
  (nn-init n 2 0.5)
  (assert (near (nn-params n) [1 1 0 0]))
  (assert (near (cadr (nn-batchnorm-stats m)) [1 1])))
;; a vector has one value per feature: the running averages in both modes
(let ((n (nn-seq '(3) (nn-batchnorm))))
  (assert (near (nn-fprop n [1 2 3]) (idx-dotm0 [1 2 3] (/ 1 (sqrt (+ 1 1e-5))))))
  (assert (near (car (nn-batchnorm-stats (car (nn-modules n)))) [0 0 0])))
(assert-error (nn-batchnorm-stats (nn-batchnorm)) "not in a net")
(assert-error (nn-batchnorm-stats (nn-maxpool 2)) "nn-batchnorm")

;; ---- Shapes and arguments: clear errors

(assert-error (nn-seq '(3 2 2) (nn-maxpool 3)) "does not fit")
(assert-error (nn-seq '(2 5) (nn-avgpool 2 1) (nn-avgpool 2)) "does not fit")
(assert-error (nn-seq '(7) (nn-maxpool 2)) "2 or more dimensions")
(assert-error (nn-seq '(3 4 5) (nn-subsample 2)) "not multiples of 2")
(assert-error (nn-seq '(3 4 5) (nn-subsample 6)) "does not fit")
(assert-error (nn-maxpool 0) "argument 1")
(assert-error (nn-avgpool 2 0) "argument 2")
(assert-error (nn-subsample 'a) "argument 1")
(assert-error (nn-leaky-relu "x") "argument 1")
(assert-error (nn-rbf [1 2 3]) "[N M]")
(assert-error (nn-rbf (float-matrix 0 3)) "[N M]")
(assert-error (nn-seq '(4) (nn-rbf centers)) "4 elements, the centers 3 columns")
(assert-error (nn-evaluate (nn-seq '(3) (nn-rbf centers)) [[1 2 3]] [1] 'rbg) "or 'rbf")

;; ---- The summary describes each module

(assert (equal (nn-summary (nn-seq '(2 4 4) (nn-subsample 2) (nn-maxpool 2 1)
                                   (nn-batchnorm) (nn-sigmoid) (nn-leaky-relu)
                                   (nn-rbf (float-matrix 3 2) t)))
               ;; subsample: 4 params, 8 outputs x (4 + 1) connections
               (list (+ 4 4 6) (+ 40 4 6) (+ 32 8 2 2 2 6))))

;; ---- Training: a small LeNet-5-shaped net learns two classes of
;; patterns, with the RBF output and its cost

(seed 9)
(let* ((n (nn-seq '(1 8 8) (nn-conv 2 3 1 () 1) (nn-leaky-relu) (nn-subsample 2)
                  (nn-batchnorm) (nn-maxpool 2) (nn-linear 4) (nn-sigmoid)
                  (nn-rbf [[0 0 1 1] [1 1 0 0]])))
       (xs (float-matrix 20 1 8 8)) (ys (float-matrix 20)))
  (for (e 0 19)
    (let ((c (mod e 2)))
      (ys e c)
      ;; noise, and a bar down column 1 or 5
      (let ((img (select xs 0 e)))
        (idx-copy (rand-tensor '(1 8 8)) img)
        (for (r 0 7) (img 0 r (+ 1 (* 4 c)) 2)))))
  (let ((before (nn-evaluate n xs ys 'rbf)))
    (repeat 15 (nn-train-pass n (nn-sgd 0.05) xs ys 'rbf))
    (let ((after (nn-evaluate n xs ys 'rbf)))
      (assert (< (car after) (car before)))
      (assert (= 0 (cadr after))))))
