;; net.lsp: the backprop simulator as a Lisp user sees it: the 1989 net
;; against a forward pass written here from the paper's description, every
;; module's bprop (and, for linear modules, bbprop) against finite
;; differences, costs and optimizers against their formulas, the C passes
;; against the Lisp loop, thread-count independence, and the errors.
;; Kernels are tested one by one in tests/c/test_net.c.

(libload "lecun1989")

(de close (a b tol) (< (abs (- a b)) tol))

(de max-diff (a b)
  "The largest |a - b| over two tensors of as many elements."
  (idx-sup (idx-abs (idx-sub (idx-reshape (copy-matrix a) (list (idx-nelem a)))
                             (idx-reshape (copy-matrix b) (list (idx-nelem b)))))))

(de rand-tensor (shape) (idx-rand (apply float-matrix shape) -1 1))

;; ---- The 1989 net: sizes, table, flat order, initialisation

(seed 7)
(defvar net (lecun1989-net t))
(defvar mods (nn-modules net))

(assert (= (nn-nparams net) 9760))
(assert (equal (nn-shape net 0) '(1 16 16)))
(assert (equal (nn-shape net) '(10)))
(assert (equal (nn-shape net 2) '(12 8 8)))
(assert (equal (nn-shape net 4) '(12 4 4)))
(assert (= (length mods) 8))
(assert (= (length (lecun1989-h2-table)) 96))
;; each H2 map sees 8 planes; each H1 plane feeds 8 maps
(for (o 0 11)
  (assert (= 8 (length (filter (lambda (p) (= (cadr p) o)) (lecun1989-h2-table))))))
;; the summary prints and returns (params connections mult-adds)
(assert (equal (nn-summary net) '(9760 64660 63660)))

;; views land where SPEC section 6 says
(defvar h1 (nth 0 mods))
(defvar h2 (nth 2 mods))
(defvar h3 (nth 4 mods))
(defvar out (nth 6 mods))
(assert (equal (idx-shape (nn-weights h1)) '(12 5 5)))
(assert (equal (idx-shape (nn-biases h1)) '(12 8 8)))
(assert (equal (idx-shape (nn-weights h2)) '(96 5 5)))
(assert (equal (idx-shape (nn-biases h2)) '(12 4 4)))
(assert (equal (idx-shape (nn-weights h3)) '(30 192)))
(assert (equal (idx-shape (nn-biases h3)) '(30)))
(assert (equal (idx-shape (nn-weights out)) '(10 30)))
(assert (equal (idx-shape (nn-biases out)) '(10)))
(assert (null (nn-weights (nth 1 mods))))
(let ((p (nn-params net)))
  (assert (= (idx-nelem p) 9760))
  (assert (= ((nn-weights h1) 1 2 3) (p (+ 25 10 3))))
  (assert (= ((nn-biases h1) 2 3 4) (p (+ 300 128 24 4))))
  (assert (= ((nn-weights h2) 9 4 1) (p (+ 1068 225 20 1))))
  (assert (= ((nn-biases h2) 11 3 3) (p (+ 3468 191))))
  (assert (= ((nn-weights h3) 29 191) (p (+ 3660 5759))))
  (assert (= ((nn-biases h3) 5) (p (+ 9420 5))))
  (assert (= ((nn-weights out) 9 29) (p (+ 9450 299))))
  (assert (= ((nn-biases out) 0) (p 9750)))
  ;; views: writing the flat vector changes the module's weights
  (let ((keep (p 9451)))
    (p 9451 0.25)
    (assert (= ((nn-weights out) 0 1) 0.25))
    (p 9451 keep)))

;; initialisation: U(-2.4/sqrt(F), 2.4/sqrt(F)), biases 0, output biases -1
(de bound-ok (w fan)
  (let ((b (/ 2.4 (sqrt fan))))
    (and (<= (idx-sup (idx-abs w)) b) (> (idx-sup (idx-abs w)) (* 0.9 b)))))
(assert (bound-ok (nn-weights h1) 25))
(assert (bound-ok (nn-weights h2) 200))
(assert (bound-ok (nn-weights h3) 192))
(assert (bound-ok (nn-weights out) 30))
(assert (= 0 (idx-sup (idx-abs (nn-biases h1)))))
(assert (= 0 (idx-sup (idx-abs (nn-biases h3)))))
(assert (= -1 (idx-sup (nn-biases out)) (idx-inf (nn-biases out))))

;; ---- The forward pass, written here from the description

(de ref-conv (x w b table nout)
  "5x5 stride-2 convolution of x [nin h w] padded by 2 with -1, kernels w
[conn 5 5] in TABLE order, one bias per unit b [nout oh ow], then tanh."
  (let* ((xp (idx-pad x 2 -1))
         (oh (/ (idx-dim x 1) 2))
         (y (copy-matrix b))
         (c 0))
    (each ((pair table))
      (let ((i (car pair)) (o (cadr pair)))
        (for (oy 0 (- oh 1))
          (for (ox 0 (- oh 1))
            (let ((s (y o oy ox)))
              (for (ky 0 4)
                (for (kx 0 4)
                  (setq s (+ s (* (w c ky kx) (xp i (+ (* 2 oy) ky) (+ (* 2 ox) kx)))))))
              (y o oy ox s)))))
      (incr c))
    (idx-tanh y)))

(de ref-full (x w b)
  "tanh(w x + b) with x flattened."
  (let* ((v (idx-reshape (copy-matrix x) (list (idx-nelem x))))
         (y (copy-matrix b)))
    (for (o 0 (- (idx-dim w 0) 1))
      (y o (+ (y o) (idx-dot (select w 0 o) v))))
    (idx-tanh y)))

(de ref-lecun1989 (x)
  (let* ((full (all ((o (range 12))) (all ((i (range 1))) (list i o))))
         (t1 (apply append full))
         (a1 (ref-conv x (nn-weights h1) (nn-biases h1) t1 12))
         (a2 (ref-conv a1 (nn-weights h2) (nn-biases h2) (lecun1989-h2-table) 12))
         (a3 (ref-full a2 (nn-weights h3) (nn-biases h3))))
    (ref-full a3 (nn-weights out) (nn-biases out))))

(defvar x1 (rand-tensor '(1 16 16)))
(defvar y1 (nn-fprop net x1))
(assert (equal (idx-shape y1) '(10)))
(assert (< (max-diff y1 (ref-lecun1989 x1)) 1e-5))
;; an image without the plane dimension fits too
(assert (< (max-diff y1 (nn-fprop net (idx-reshape (copy-matrix x1) '(16 16)))) 1e-7))
;; inputs of any element type and layout
(let ((wide (float-matrix 1 16 32)) (dbl (double-matrix 1 16 16)))
  (idx-copy x1 (narrow wide 2 16 5))
  (assert (< (max-diff y1 (nn-fprop net (narrow wide 2 16 5))) 1e-7))
  (idx-copy x1 dbl)
  (assert (< (max-diff y1 (nn-fprop net dbl)) 1e-7)))
;; the reference kernels agree with the optimised ones
(nn-reference t)
(assert (< (max-diff y1 (nn-fprop net x1)) 1e-5))
(nn-reference ())
;; nn-fprop returns a new tensor: the next pass does not change it
(let ((keep (copy-matrix y1)))
  (nn-fprop net (rand-tensor '(1 16 16)))
  (assert (= 0 (max-diff keep y1))))

;; ---- Gradients against finite differences

(let ((errs (nn-gradcheck net x1 (rand-tensor '(10)))))
  (assert (< (car errs) 5e-3))
  (assert (< (cadr errs) 5e-3)))
(assert (< (car (nn-gradcheck net x1 3 'ce)) 5e-3))

(de check-ok (errs) (and (< (car errs) 5e-3) (< (cadr errs) 5e-3)))

(seed 11)
(assert (check-ok (nn-check-module (nn-conv 4 3 1 () 1 0.5) '(3 6 7))))
(assert (check-ok (nn-check-module (nn-conv 3 3 2 '((0 0) (2 0) (1 1) (0 2)) 0 0 'unit) '(3 7 7))))
(assert (check-ok (nn-check-module (nn-linear 5) '(2 3))))
(assert (check-ok (nn-check-module (nn-tanh) '(7))))
(assert (check-ok (nn-check-module (nn-stanh) '(7))))
(assert (check-ok (nn-check-module (nn-relu) '(7))))
(assert (check-ok (nn-check-module (nn-logsoftmax) '(6))))
(assert (check-ok (nn-check-module (nn-softmax) '(6))))
(assert (check-ok (nn-check-module (nn-dropout 0.3) '(20))))
(assert (check-ok (nn-check-module (nn-random-shift 2) '(2 5 6))))
(assert (check-ok (nn-check-module (nn-random-shift 1 'wrap) '(5 5))))
(assert (check-ok (nn-check-module (new nn-square) '(4))))
;; a Lisp module between C modules
(let ((n (nn-seq '(6) (nn-linear 5) (nn-tanh) (new nn-square) (nn-linear 3))))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(6)) (rand-tensor '(3))))))
;; the check can fail: a wrong gradient is caught
(defclass bad-square ())
(defmethod bad-square fprop (x) (idx-mul x x))
(defmethod bad-square bprop (x y dy) (idx-mul x dy))
(let ((errs (nn-check-module (new bad-square) '(4))))
  (assert (> (cadr errs) 0.1)))

;; bbprop against second differences, where Gauss-Newton is exact: one
;; linear module (after element-wise linear ones) under MSE
(de bbcheck-ok (errs) (and (< (car errs) 1e-3) (< (cadr errs) 1e-3)))
(let ((n (nn-seq '(2 6 6) (nn-conv 3 3 3 () 0 0 'unit))))
  (assert (bbcheck-ok (nn-bbcheck n (rand-tensor '(2 6 6)) (rand-tensor '(3 2 2))))))
(let ((n (nn-seq '(3 5 5) (nn-conv 2 2 2 '((0 0) (1 0) (2 1)) 1 0.5))))
  (assert (bbcheck-ok (nn-bbcheck n (rand-tensor '(3 5 5)) (rand-tensor '(2 3 3))))))
(let ((n (nn-seq '(5) (nn-dropout 0.5) (nn-linear 3))))
  (assert (bbcheck-ok (nn-bbcheck n (rand-tensor '(5)) (rand-tensor '(3))))))
(let ((n (nn-seq '(2 3) (nn-linear 3))))
  (assert (bbcheck-ok (nn-bbcheck n (rand-tensor '(2 3)) (rand-tensor '(3))))))
;; elsewhere it is an approximation, and the check sees it: through a
;; squashing function, and for the input of two stacked linear modules
(let ((n (nn-seq '(5) (nn-linear 4) (nn-tanh))))
  (nn-init n 3)
  (assert (> (car (nn-bbcheck n (rand-tensor '(5)) (rand-tensor '(4)))) 1e-2)))
(let ((n (nn-seq '(5) (nn-linear 4) (nn-linear 3))))
  (assert (> (cadr (nn-bbcheck n (rand-tensor '(5)) (rand-tensor '(3)))) 1e-2)))

;; Every module's bbprop against its definition, the Gauss-Newton diagonal
;; sum_j (dy_j/dv)^2 ddy_j, with the Jacobian taken by central differences
(de fd-gn (net x values ddy)
  "For each element v of the flat view VALUES that NET reads, sum_j
(dy_j/dv)^2 ddy_j by central differences of (nn-fprop NET X)."
  (let ((out (float-matrix (idx-nelem values))) (eps 1e-3))
    (for (i 0 (- (idx-nelem values) 1))
      (let ((keep (values i)))
        (values i (+ keep eps))
        (let ((yp (nn-fprop net x)))
          (values i (- keep eps))
          (let ((d (idx-sub yp (nn-fprop net x))))
            (values i keep)
            (out i (/ (idx-sum (idx-mul (idx-mul d d) ddy)) (* 4 eps eps)))))))
    out))

(de rel-err (a b)
  (/ (max-diff a b) (max 1e-6 (idx-sup (idx-abs a)) (idx-sup (idx-abs b)))))

(de gn-ok (module shape &optional mode)
  "MODULE alone in a net for SHAPE (in MODE, default 'train): its bbprop's
input and parameter second derivatives against fd-gn."
  (let* ((net (nn-seq shape module))
         (mode (nn-mode net (or mode 'train)))
         (x (rand-tensor shape))
         (xflat (idx-reshape x (list (idx-nelem x))))
         (ddy (idx-rand (apply float-matrix (nn-shape net)) 0.5 1.5))
         (gx (fd-gn net x xflat ddy))
         (gp (fd-gn net x (nn-params net) ddy)))
    (nn-fprop net x)
    (nn-clear-hessian net)
    (let ((ddx (nn-bbprop net ddy)))
      (and (< (rel-err ddx gx) 1e-3)
           (or (= 0 (nn-nparams net)) (< (rel-err (nn-hessian net) gp) 1e-3))))))

(assert (gn-ok (nn-conv 3 3 2 '((0 0) (1 0) (1 1) (0 2)) 1 0.5) '(2 5 5)))
(assert (gn-ok (nn-conv 2 3 1 () 0 0 'unit) '(2 4 4)))
(assert (gn-ok (nn-linear 4) '(5)))
(assert (gn-ok (nn-tanh) '(6)))
(assert (gn-ok (nn-stanh) '(6)))
(assert (gn-ok (nn-relu) '(6)))
(assert (gn-ok (nn-logsoftmax) '(5)))
(assert (gn-ok (nn-softmax) '(5)))
(assert (gn-ok (new nn-square) '(4)))
(assert (gn-ok (nn-dropout 0.5) '(6) 'eval))
(assert (gn-ok (nn-random-shift 1) '(3 3) 'eval))
;; and it can fail: a module whose bbprop is not the square of its bprop
(defclass bad-bb ())
(defmethod bad-bb fprop (x) (idx-mul x x))
(defmethod bad-bb bprop (x y dy) (idx-mul (idx-add x x) dy))
(defmethod bad-bb bbprop (x y ddy) (idx-mul (idx-add x x) ddy))
(assert (not (gn-ok (new bad-bb) '(4))))

;; ---- Costs

(let ((dy (float-matrix 2)) (ddy (float-matrix 2)))
  (assert (= 2.5 (nn-mse [1 2] [0 0] dy ddy)))
  (assert (equal (matrix->list dy) '(1 2)))
  (assert (equal (matrix->list ddy) '(1 1))))
(let ((dy (float-matrix 2)) (ddy (float-matrix 2)))
  (assert (close (nn-cross-entropy [0 0] 0 dy ddy) (log 2) 1e-9))
  (assert (equal (matrix->list dy) '(-0.5 0.5)))
  (assert (equal (matrix->list ddy) '(0.25 0.25))))

;; ---- Optimizers against their formulas

;; one parameter w, one bias b: y = w x + b, loss (y - t)^2
(de tiny-net ()
  (let ((n (nn-seq '(1) (nn-linear 1))))
    (idx-copy [0.5 0.25] (nn-params n))
    n))

(let ((n (tiny-net)) (opt (nn-sgd 0.1)) (dy (float-matrix 1)))
  (nn-mse (nn-fprop n [2]) [1] dy)   ; y = 1.25, dy = 0.5
  (nn-bprop n dy)                     ; dw = 1, db = 0.5
  (assert (equal (matrix->list (nn-grads n)) '(1 0.5)))
  (nn-update n opt)
  (assert (< (max-diff (nn-params n) [0.4 0.2]) 1e-7))
  (nn-set-rate opt 0.5)
  (assert (= (nn-rate opt) 0.5))
  (nn-clear-grads n)
  (assert (= 0 (idx-sup (idx-abs (nn-grads n))))))

(let ((n (tiny-net)) (opt (nn-sgd 0.1 0.9 0.01)) (dy (float-matrix 1)))
  (nn-mse (nn-fprop n [2]) [1] dy)
  (nn-bprop n dy)
  (nn-update n opt)                   ; v = g + 0.01 w
  (assert (< (max-diff (nn-params n) [(- 0.5 (* 0.1 1.005)) (- 0.25 (* 0.1 0.5025))]) 1e-7))
  (nn-update n opt)                   ; v = 0.9 v + g + 0.01 w
  (let ((w1 (- 0.5 (* 0.1 1.005))))
    (assert (close ((nn-params n) 0) (- w1 (* 0.1 (+ (* 0.9 1.005) 1 (* 0.01 w1)))) 1e-6))))

(let ((n (tiny-net)) (opt (nn-adamw 0.1 0.9 0.999 1e-8 0.5)) (dy (float-matrix 1)))
  (nn-mse (nn-fprop n [2]) [1] dy)
  (nn-bprop n dy)
  (nn-update n opt)                   ; first step: mhat/sqrt(vhat) = sign(g)
  (assert (close ((nn-params n) 0) (- 0.5 (* 0.1 (+ (* 0.5 0.5) 1))) 1e-6))
  (assert (close ((nn-params n) 1) (- 0.25 (* 0.1 (+ (* 0.5 0.25) 1))) 1e-6)))

;; SDLM: for y = w x + b under MSE, h_w = 2 x^2 and h_b = 2, averaged
(let* ((n (tiny-net)) (opt (nn-sdlm 0.5 0.1))
       (xs [[1] [2] [3]]) (ts [[0] [0] [0]]))
  (nn-sdlm-estimate n opt xs ts 3)
  (assert (< (max-diff (nn-hessian n) [(/ 28 3) 2]) 1e-5))
  (assert (< (max-diff (nn-rates n) [(/ 1 (+ 0.1 (/ 28 3))) (/ 1 2.1)]) 1e-6))
  (let ((w ((nn-params n) 0)) (dy (float-matrix 1)))
    (nn-mse (nn-fprop n [1]) [0] dy)
    (nn-bprop n dy)
    (nn-update n opt)
    (assert (close ((nn-params n) 0) (- w (* 0.5 ((nn-rates n) 0) ((nn-grads n) 0))) 1e-6))))

;; ---- Passes in C against the Lisp loop; threads

(seed 3)
(defvar data-x (idx-rand (float-matrix 40 1 16 16) -1 1))
(defvar data-labels (float-matrix 40))
(for (i 0 39) (data-labels i (mod i 10)))
(defvar data-y (nn-onehot data-labels 10))
(assert (= 1 (data-y 13 3)))
(assert (= -1 (data-y 13 4)))
(assert (equal (matrix->list (nn-labels (narrow data-y 0 3))) '(0 1 2)))

(let* ((a (lecun1989-net t)) (b (lecun1989-net t)))
  (idx-copy (nn-params a) (nn-params b))
  (let ((ra (nn-train-pass a (nn-sgd 0.02) data-x data-y))
        (rb (nn-train-loop b (nn-sgd 0.02) data-x data-y)))
    (assert (close (car ra) (car rb) 1e-5))
    (assert (= (cadr ra) (cadr rb)))
    (assert (< (max-diff (nn-params a) (nn-params b)) 1e-5)))
  ;; cross-entropy and an order, the same way
  (let* ((order (int-matrix 5)))
    (idx-copy [4 0 9 9 2] order)
    (let ((ra (nn-train-pass a (nn-sgd 0.02) data-x data-labels 'ce order))
          (rb (nn-train-loop b (nn-sgd 0.02) data-x data-labels 'ce order)))
      (assert (close (car ra) (car rb) 1e-5))
      (assert (< (max-diff (nn-params a) (nn-params b)) 1e-5))))
  ;; training lowers the loss on what it sees
  (let ((before (car (nn-evaluate a data-x data-y))))
    (repeat 5 (nn-train-pass a (nn-sgd 0.02) data-x data-y))
    (assert (< (car (nn-evaluate a data-x data-y)) before))))

(let* ((threads (nn-threads))
       (big (idx-rand (float-matrix 300 1 16 16) -1 1))
       (labels (float-matrix 300)))
  (for (i 0 299) (labels i (mod (* 7 i) 10)))
  (nn-threads 1)
  (let ((one (nn-evaluate net big labels 'ce)) (p1 (nn-predict net big)))
    (nn-threads 2)
    (assert (equal one (nn-evaluate net big labels 'ce)))
    (assert (= 0 (max-diff p1 (nn-predict net big))))
    (nn-threads 5)
    (assert (equal one (nn-evaluate net big labels 'ce)))
    (assert (equal (idx-shape p1) '(300 10)))
    (assert (< (max-diff (select p1 0 17) (nn-fprop net (select big 0 17))) 1e-7))
    ;; the mean loss and the errors, from the outputs
    (let ((loss 0) (errors 0))
      (for (i 0 299)
        (let ((y (select p1 0 i)))
          (setq loss (+ loss (nn-cross-entropy y (labels i))))
          (unless (= (idx-indexmax y) (labels i)) (incr errors))))
      (assert (close (car one) (/ loss 300) 1e-6))
      (assert (= (cadr one) errors))))
  (nn-threads threads))

;; ---- Modes, dropout, shifts

(let ((n (nn-seq '(100) (nn-dropout 0.5))) (x (idx-fill (float-matrix 100) 1)))
  (assert (eq (nn-mode n) 'train))
  (let ((y (nn-fprop n x)))
    (assert (> (idx-sum y) 0))
    (assert (< (idx-sum y) 200))
    (assert (= 2 (idx-sup y))))
  (nn-mode n 'eval)
  (assert (= 0 (max-diff x (nn-fprop n x)))))

(let ((n (nn-seq '(3 3) (nn-random-shift 1 0))) (x [[1 2 3] [4 5 6] [7 8 9]]))
  (nn-mode n 'eval)
  (assert (= 0 (max-diff x (nn-fprop n x))))
  (nn-mode n 'train)
  ;; every shift keeps the pixels of x that stay inside, in order
  (repeat 20
    (let ((s (idx-sum (nn-fprop n x))))
      (assert (member s '(45 39 33 27 24 12 28 16 20 30 21))))))

;; ---- Saving and loading

(let* ((file (sprintf "%s/lush89-net-%d.idx" (or (getenv "TMPDIR") "/tmp")
                      (floor (* 1000000 (clock)))))
       (a (lecun1989-net t)) (b (lecun1989-net t)))
  (nn-save a file)
  (nn-load b file)
  (assert (= 0 (max-diff (nn-params a) (nn-params b))))
  (assert-error (nn-load (tiny-net) file) "holds 9760 values")
  (each ((bad (list (/ 0 0) (/ 1 0) (/ -1 0))))
    (let ((p (copy-matrix (nn-params (tiny-net)))) (n (tiny-net)))
      (p 1 bad)
      (save-matrix p file)
      (assert-error (nn-load n file) "not finite")
      (assert (equal (matrix->list (nn-params n)) '(0.5 0.25)))))
  (sys (concat "rm -f " file)))

;; ---- Errors name the module and the shapes

(assert-error (nn-fprop net (float-matrix 3 3)) "expected a tensor of shape [1 16 16], got [3 3]")
(assert-error (nn-bprop net (float-matrix 3)) "[10]")
(assert-error (nn-bprop (nn-seq '(2) (nn-linear 2)) [1 1]) "no nn-fprop")
(assert-error (nn-seq '(2 5 5) (nn-conv 2 3 1 '((0 0) (2 1)))) "input plane 2")
(assert-error (nn-conv 2 3 1 '((0 5))) "output plane 5")
(assert-error (nn-seq '(2 5 5) (nn-conv 2 3 1 '((0 0) (0 0)))) "twice")
(assert-error (nn-seq '(1 3 3) (nn-conv 2 5 1)) "larger than the padded input")
(assert-error (nn-seq '(4) (nn-conv 2 5 1)) "[4]")
(assert-error (nn-seq '(1000 1000 1000) (nn-conv 2 5 1)) "too large")
(assert-error (nn-seq '(2) (nn-random-shift 1)) "random-shift")
(let ((m (nn-linear 2)))
  (assert-error (nn-weights m) "not in a net")
  (nn-seq '(3) m)
  (assert-error (nn-seq '(3) m) "already belongs"))
(assert-error (nn-seq '(3)) "at least one module")
(assert-error (nn-seq '(0 2) (nn-tanh)) "positive sizes")
(assert-error (nn-dropout 1) "probability")
(assert-error (nn-train-pass net (nn-sgd 0.1) data-x data-labels) "targets")
(assert-error (nn-train-pass net (nn-sgd 0.1) data-x data-y 'hinge) "'mse or 'ce")
(assert-error (nn-evaluate net data-x (float-matrix 40)) "targets")
(assert-error (nn-evaluate net data-x (idx-fill (float-matrix 40) 10) 'ce) "not a class")
(assert-error (nn-train-pass net (nn-sgd 0.1) data-x data-y 'mse [0 40]) "ORDER element 1")
(assert-error (nn-sdlm-estimate net (nn-sgd 0.1) data-x data-y 5) "nn-sdlm")
(assert-error (nn-mse [1 2] [1 2 3]) "2 elements")
(assert-error (nn-cross-entropy [1 2] 2) "out of range")
(let ((opt (nn-sgd 0.1 0.9)))
  (nn-update (tiny-net) opt)
  (assert-error (nn-update (tiny-net) opt) "another net"))
(let ((n (nn-seq '(2) (new bad-square))))
  (nn-fprop n [1 2])
  (assert-error (nn-bbprop n [1 1]) "no bbprop method"))

;; ---- Optimizer state: views that save and restore a run bit-exactly
(de train-steps (n opt k)
  (let ((dy (float-matrix 1)))
    (repeat k
      (nn-clear-grads n)
      (nn-mse (nn-fprop n [2]) [1] dy)
      (nn-bprop n dy)
      (nn-update n opt))))

(assert (null (nn-optimizer-state (nn-adamw 0.1))))
(assert (null (nn-optimizer-state (nn-sdlm 0.1 0.1) (tiny-net))))
(let* ((n (tiny-net)) (opt (nn-sgd 0.1 0.9)) (st (nn-optimizer-state opt n)))
  (assert (= 1 (length st)))
  (assert (equal (idx-shape (car st)) '(2)))
  (assert (= 0 (idx-sup (idx-abs (car st)))))
  (train-steps n opt 1)
  (assert (> (idx-sup (idx-abs (car st))) 0)))  ; a view: follows the updates
(let* ((a (tiny-net)) (b (tiny-net)) (oa (nn-adamw 0.05)) (ob (nn-adamw 0.05)))
  (train-steps a oa 3)
  (let ((saved (all ((s (nn-optimizer-state oa))) (copy-matrix s))))
    (assert (= 3 (length saved)))
    (assert (= 3 ((nth 2 saved) 0)))         ; the step count
    (idx-copy (nn-params a) (nn-params b))
    (each ((s saved) (d (nn-optimizer-state ob b))) (idx-copy s d)))
  (train-steps a oa 4)
  (train-steps b ob 4)
  (assert (equal (matrix->list (nn-params a)) (matrix->list (nn-params b)))))

;; ---- An optimizer and a cost written in Lisp drive the C pass
(defclass plain-sgd ())
(defmethod plain-sgd step (w g r rate)
  (idx-sub w (idx-mul (idx-mul g r) (idx-fill (copy-matrix g) rate)) w))
(de lisp-mse (y target dy ddy)
  (nn-mse y target dy ddy))
(let ((a (tiny-net)) (b (tiny-net)) (xs [[1] [2] [-1]]) (ts [[0] [1] [0.5]]))
  (let ((ra (nn-train-pass a (nn-sgd 0.1) xs ts))
        (rb (nn-train-pass b (nn-lisp-optimizer (new plain-sgd) 0.1) xs ts lisp-mse)))
    (assert (close (car ra) (car rb) 1e-6))
    (assert (< (max-diff (nn-params a) (nn-params b)) 1e-6))
    (assert (= 0 (idx-sup (idx-abs (nn-grads b)))))
    (assert (equal (nn-evaluate a xs ts) (nn-evaluate b xs ts lisp-mse)))))
(assert-error (nn-lisp-optimizer 3 0.1) "step method")
(assert-error (nn-train-pass (tiny-net) (nn-sgd 0.1) [[1]] [[1]] (lambda (y tg dy ddy) 'x))
              "not a number")

;; ---- Bad rates and orders are errors that name them
(assert-error (nn-sgd (/ 0 0)) "finite")
(assert-error (nn-adamw 0.1 (/ 1 0)) "finite")
(assert-error (nn-set-rate (nn-sgd 0.1) (/ -1 0)) "finite")
(let ((n (tiny-net)) (xs [[1] [2] [3]]) (ts [[0] [0] [0]]))
  (assert-error (nn-train-pass n (nn-sgd 0.1) xs ts 'mse [0 1 2 0]) "ORDER must be a vector of at most 3")
  (assert-error (nn-train-pass n (nn-sgd 0.1) xs ts 'mse [[0 1]]) "ORDER must be")
  (assert-error (nn-train-pass n (nn-sgd 0.1) xs ts 'mse [0.5]) "ORDER element 0")
  (assert-error (nn-train-pass n (nn-sgd 0.1) xs ts 'mse [-1]) "ORDER element 0")
  (assert (= 2 (length (nn-train-pass n (nn-sgd 0.1) xs ts 'mse (int-matrix 0))))))

;; ---- A check that stops midway leaves every weight as it was
(defclass fails-later () (calls 0))
(defmethod fails-later fprop (x)
  (setq calls (+ calls 1))
  (when (> calls 4) (error "fails-later: enough"))
  (copy-matrix x))
(defmethod fails-later bprop (x y dy) (copy-matrix dy))
(let* ((n (nn-seq '(3) (nn-linear 3) (new fails-later)))
       (keep (copy-matrix (nn-params n))))
  (assert-error (nn-gradcheck n [1 2 3] [0 0 0]) "enough")
  (assert (equal (matrix->list keep) (matrix->list (nn-params n)))))

;; ---- A Lisp module's output shape is checked like any other
(defclass empty-out ())
(defmethod empty-out fprop (x) (float-matrix 0 5))
(defmethod empty-out bprop (x y dy) (copy-matrix x))
(assert-error (nn-seq '(3) (new empty-out) (nn-random-shift 1)) "module 1 (lisp) outputs [0 5]")

;; ---- Lisp modules with parameters: in the flat vectors, trained, checked
(defclass affine () (scale ()) (shift ()))
(defmethod affine affine (n)
  (setq scale (nn-parameter n))
  (setq shift (nn-parameter n))
  (idx-fill scale 1))
(defmethod affine scale () scale)
(defmethod affine shift () shift)
(defmethod affine fprop (x) (idx-add (idx-mul scale x) shift))
(defmethod affine bprop (x y dy)
  (idx-add (nn-grad scale) (idx-mul x dy) (nn-grad scale))
  (idx-add (nn-grad shift) dy (nn-grad shift))
  (idx-mul scale dy))
(defmethod affine bbprop (x y ddy)
  (idx-add (nn-ddgrad scale) (idx-mul (idx-mul x x) ddy) (nn-ddgrad scale))
  (idx-add (nn-ddgrad shift) ddy (nn-ddgrad shift))
  (idx-mul (idx-mul scale scale) ddy))

(seed 5)
(let* ((a (new affine 4))
       (n (nn-seq '(4) (nn-linear 4) (nn-tanh) a (nn-linear 3))))
  (assert (= (nn-nparams n) (+ 20 8 15)))
  (assert (equal (matrix->list (narrow (nn-params n) 0 4 20)) '(1 1 1 1)))
  ;; P is a view into the flat vector, both ways
  (idx-fill (narrow (nn-params n) 0 4 20) 0.5)
  (assert (= 0.5 ((==> a scale) 2)))
  ((==> a shift) 1 0.25)
  (assert (= 0.25 ((nn-params n) 25)))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(4)) (rand-tensor '(3)))))
  (assert (> (idx-sup (idx-abs (narrow (nn-grads n) 0 8 20))) 0))
  (assert (equal (matrix->list (nn-grad (==> a scale))) (matrix->list (narrow (nn-grads n) 0 4 20))))
  ;; every optimizer moves it
  (each ((opt (list (nn-sgd 0.1) (nn-adamw 0.01) (nn-sgd 0.1 0.9))))
    (let ((keep (copy-matrix (==> a scale))))
      (nn-train-pass n opt (rand-tensor '(5 4)) (rand-tensor '(5 3)))
      (assert (> (max-diff keep (==> a scale)) 0))))
  ;; nn-init covers it: 1-D parameters are biases
  (nn-init n 1 0.125)
  (assert (= 0.125 (idx-inf (==> a scale)) (idx-sup (==> a shift))))
  (assert-error (nn-seq '(4) a) "belongs to another net"))
(let ((n (nn-seq '(4) (new affine 4))))
  (assert (bbcheck-ok (nn-bbcheck n (rand-tensor '(4)) (rand-tensor '(4))))))
;; used twice: one set of weights, summed gradients
(let* ((a (new affine 3)) (n (nn-seq '(3) a (nn-tanh) a)))
  (assert (= 6 (nn-nparams n)))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(3)) (rand-tensor '(3))))))
(assert-error (nn-grad [1 2]) "nn-parameter")
(assert-error (nn-parameter 0 2) "positive sizes")
;; a float tensor in a slot but no parameter: a warning names the slot
(assert (= 0 (sys (concat "./lush89 -e \"(defclass frozen () (w [1 2])) "
                          "(defmethod frozen fprop (x) x) (nn-seq '(2) (new frozen))\" "
                          "2>&1 | grep -q 'warning: .*slots w but declares no parameter'"))))

;; ---- Containers: nets nest, residuals, concatenations
(seed 9)
(let* ((inner (nn-seq '(4) (nn-linear 3) (nn-tanh)))
       (w (nn-weights (car (nn-modules inner))))
       (n (nn-seq '(4) inner (nn-linear 2))))
  (assert (= 23 (nn-nparams n)))
  (assert (eq inner (car (nn-modules n))))
  (assert (equal (nn-summary n) '(23 23 18)))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(4)) (rand-tensor '(2)))))
  ;; the inner net's parameters are a range of the outer's: views stay valid
  (idx-fill (narrow (nn-params n) 0 12 0) 0.5)
  (assert (= 0.5 (idx-sup w) (idx-inf w)))
  (assert (= 0.5 ((nn-params inner) 3)))
  ;; the inner net computes the same as the outer's first module
  (let ((x (rand-tensor '(4))))
    (nn-fprop n x)
    (assert (< (max-diff (nn-state n 1) (nn-fprop inner x)) 1e-7)))
  (assert-error (nn-seq '(4) inner) "already inside another"))
(assert-error (nn-seq '(5) (nn-seq '(4) (nn-linear 3))) "a net for inputs [4]) gets [5]")

(let ((n (nn-seq '(4) (nn-residual (nn-linear 4) (nn-tanh) (new affine 4))
                 (nn-concat (nn-linear 2) (nn-seq '(4) (nn-linear 3) (nn-relu)) (new nn-square)))))
  (assert (equal (nn-shape n) '(9)))
  (assert (= (nn-nparams n) (+ 20 8 10 15)))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(4)) (rand-tensor '(9)))))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(4)) 3 'ce))))
;; y = x + f(x) and the concatenation, against their definitions
(let* ((f (nn-seq '(2 3 3) (nn-conv 2 3 1 () 1)))
       (g (nn-seq '(2 3 3) (nn-conv 3 1 1)))
       (x (rand-tensor '(2 3 3)))
       (fx (nn-fprop f x)) (gx (nn-fprop g x))
       (r (nn-seq '(2 3 3) (nn-residual f)))
       (c (nn-seq '(2 3 3) (nn-concat g (nn-tanh)))))
  (idx-copy (idx-sub (nn-params r) (nn-params r)) (nn-params r))
  (assert (= 0 (max-diff (nn-fprop r x) x)))
  (idx-copy (idx-rand (copy-matrix (nn-params r)) -1 1) (nn-params r))
  (assert (< (max-diff (nn-fprop r x) (idx-add x (nn-fprop f x))) 1e-6))
  (let ((y (nn-fprop c x)))
    (assert (equal (idx-shape y) '(5 3 3)))
    (assert (< (max-diff (narrow y 0 3 0) (nn-fprop g x)) 1e-6))
    (assert (< (max-diff (narrow y 0 2 3) (idx-tanh x)) 1e-6)))
  (assert (check-ok (nn-gradcheck c x (rand-tensor '(5 3 3))))))
;; bbprop: exact where Gauss-Newton is (disjoint linear branches under MSE;
;; the residual's parameters)
(let ((n (nn-seq '(4) (nn-concat (nn-linear 2) (nn-linear 3)))))
  (assert (bbcheck-ok (nn-bbcheck n (rand-tensor '(4)) (rand-tensor '(5))))))
(let ((n (nn-seq '(4) (nn-residual (nn-linear 4)))))
  (assert (< (car (nn-bbcheck n (rand-tensor '(4)) (rand-tensor '(4)))) 1e-3)))
(assert-error (nn-seq '(4) (nn-residual (nn-linear 3))) "turn [4] into [3]")
(assert-error (nn-seq '(2 4 4) (nn-concat (nn-conv 1 3 1) (nn-tanh))) "can only differ in their first")
(assert-error (nn-residual) "at least one module")
(assert-error (nn-seq '(4) 7) "expected an nn-module, a net or a Lisp object")
;; containers train in the C pass; evaluation gives the same on any thread count
(let* ((n (nn-seq '(1 6 6) (nn-concat (nn-conv 2 3 1 () 1) (nn-residual (nn-conv 1 3 1 () 1)))
                  (nn-tanh) (nn-linear 3)))
       (xs (rand-tensor '(40 1 6 6))) (ts (rand-tensor '(40 3)))
       (before (car (nn-evaluate n xs ts))))
  (repeat 20 (nn-train-pass n (nn-sgd 0.05) xs ts))
  (assert (< (car (nn-evaluate n xs ts)) before))
  (let ((threads (nn-threads)))
    (nn-threads 1)
    (let ((one (nn-predict n xs)))
      (nn-threads 2)
      (assert (= 0 (max-diff one (nn-predict n xs)))))
    (nn-threads threads)))

;; ---- A C module used twice: one set of weights, gradients summed
(let* ((l (nn-linear 4)) (sq (nn-tanh))
       (n (nn-seq '(4) l sq l sq)))
  (assert (= 20 (nn-nparams n)))
  (assert (equal (nn-summary n) '(20 40 32)))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(4)) (rand-tensor '(4)))))
  ;; the output is f(f(x)) with f one module alone
  (let* ((x (rand-tensor '(4))) (f (nn-seq '(4) (nn-linear 4) (nn-tanh))))
    (idx-copy (nn-params n) (nn-params f))
    (assert (< (max-diff (nn-fprop n x) (nn-fprop f (nn-fprop f x))) 1e-6))))
(let ((c (nn-conv 2 3 1 () 1)))
  (assert (check-ok (nn-gradcheck (nn-seq '(2 5 5) c (nn-relu) c) (rand-tensor '(2 5 5))
                                  (rand-tensor '(2 5 5))))))
(let ((c (nn-conv 2 3 1)))
  (assert-error (nn-seq '(2 7 7) c c) "is module 1 again, made for inputs [2 7 7], but gets [2 5 5]"))
(let ((r (nn-residual (nn-linear 2))))
  (assert-error (nn-seq '(2) r r) "a container cannot"))

;; ---- nn-affine, the library's Lisp layer with parameters
(seed 3)
(let* ((a (new nn-affine 2))
       (n (nn-seq '(1 6 6) (nn-conv 2 3 1) a (nn-tanh) (nn-linear 3))))
  (assert (= (nn-nparams n) (+ 20 4 99)))
  (idx-copy (idx-rand (float-matrix 4) 0.5 1.5) (narrow (nn-params n) 0 4 20))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(1 6 6)) (rand-tensor '(3)))))
  (let ((xs (rand-tensor '(30 1 6 6))) (ts (rand-tensor '(30 3))))
    (let ((before (car (nn-evaluate n xs ts))) (keep (copy-matrix (nn-params n))))
      (repeat 10 (nn-train-pass n (nn-sgd 0.05) xs ts))
      (assert (< (car (nn-evaluate n xs ts)) before))
      (assert (> (max-diff (narrow keep 0 4 20) (narrow (nn-params n) 0 4 20)) 0)))))
(let ((n (nn-seq '(3 2 2) (new nn-affine 3))))
  (assert (bbcheck-ok (nn-bbcheck n (rand-tensor '(3 2 2)) (rand-tensor '(3 2 2))))))

;; ---- A Lisp module shared across containers is one set of weights
(let* ((a (new affine 3))
       (n (nn-seq '(3) a (nn-concat a (nn-residual (nn-tanh) a)) (nn-linear 2))))
  (assert (= (nn-nparams n) (+ 6 14)))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(3)) (rand-tensor '(2)))))
  (idx-fill (narrow (nn-params n) 0 3 0) 2)
  (assert (= 2 ((==> a scale) 1))))
(let* ((a (new affine 3)) (n (nn-seq '(3) (nn-seq '(3) a) a)))
  (assert (= 6 (nn-nparams n)))
  (assert (check-ok (nn-gradcheck n (rand-tensor '(3)) (rand-tensor '(3))))))
(let ((a (new affine 3)))
  (nn-seq '(3) a)
  (assert-error (nn-seq '(3) (nn-concat a)) "belongs to another net"))
