;; scripts.lsp: tests of scripts/resnet.lsp: its net's size, the Lisp layer
;; with parameters (checked against finite differences, trained: its gains
;; move and the loss falls), and one pass of its recipe on toy digits.
;; scripts/fashion.lsp is tested in fashion.lsp.

(load "../../scripts/resnet.lsp")

;; N examples of ten classes on SIZExSIZE images: class k is a fixed random
;; pattern (one per class, drawn once) plus noise. A dataset table as
;; data-fit makes them (inputs, targets, labels of both splits).
(de toy-patterns (size)
  (seed 21)
  (idx-rand (float-matrix 10 1 size size) -1 1))

(de toy-split (patterns n)
  (let* ((shape (cdr (idx-shape patterns)))
         (x (idx-rand (apply float-matrix (cons n shape)) -0.6 0.6))
         (labels (int-matrix n)))
    (for (i 0 (- n 1))
      (labels i (mod i 10))
      (idx-add (select x 0 i) (select patterns 0 (mod i 10)) (select x 0 i)))
    (list x (nn-onehot labels 10) labels)))

(de toy-data (size)
  (let ((patterns (toy-patterns size)) (d (htable)))
    (each ((key '(train-inputs train-targets train-labels test-inputs test-targets test-labels))
           (value (append (toy-split patterns 200) (toy-split patterns 100))))
      (hset d key value))
    d))

(de toy-loss (r)
  "The mean loss of recipe R's net on its test split."
  (let ((data (hget r 'data)))
    (car (nn-evaluate (hget r 'net) (hget data 'test-inputs) (hget data 'test-labels) 'ce))))

(de run-quietly (r)
  (hset r 'quiet t)
  (hset r 'no-table t)
  (train-run r))

;; ---- resnet.lsp: the net's size, layer by layer

(seed 3)
(let ((conv (lambda (in out k) (+ (* in out k k) out)))
      (bn (lambda (c) (* 2 c))))
  (assert (= (+ (conv 1 8 3) (bn 8)
                (conv 8 8 3) (bn 8) (conv 8 8 3) (bn 8) 8           ; block, 8 gains
                (conv 8 8 3) (bn 8) (conv 8 8 1) (bn 8)             ; the two branches
                (conv 16 16 3) (bn 16) (conv 16 16 3) (bn 16) 16    ; block, 16 gains
                (+ (* 16 4 4 10) 10))
             (nn-nparams (resnet-net)))))
(assert (null (script-main-p "resnet.lsp")))

;; ---- layer-scale, the Lisp layer with parameters

;; values against their definition
(let* ((ls (new layer-scale 3 0.5))
       (x (idx-rand (float-matrix 3 2 2) -1 1))
       (y (==> ls fprop x)))
  ((==> ls gains) 2 -2)
  (setq y (==> ls fprop x))
  (assert (< (abs (- (y 0 1 1) (* 0.5 (x 0 1 1)))) 1e-6))
  (assert (< (abs (- (y 2 0 1) (* -2 (x 2 0 1)))) 1e-6)))

;; bprop against finite differences, for its gains and its input; bbprop
;; (exact for a linear layer)
(seed 4)
(let ((check (nn-check-module (new layer-scale 3 0.7) '(3 4 4))))
  (assert (< (car check) 1e-2))
  (assert (< (cadr check) 1e-2)))
(let* ((net (nn-seq '(2 3 3) (new layer-scale 2 1.5)))
       (check (nn-bbcheck net (idx-rand (float-matrix 2 3 3) -1 1)
                          (idx-rand (float-matrix 2 3 3) -1 1))))
  (assert (= 2 (nn-nparams net)))
  (assert (< (car check) 1e-2))
  (assert (< (cadr check) 1e-2)))

;; trained by the C pass in a residual block: its gains move, the loss falls
(seed 5)
(let* ((ls (new layer-scale 4 0.1))
       (net (nn-seq '(1 8 8) (nn-conv 4 3 1 () 1) (nn-relu)
                    (nn-residual (nn-conv 4 3 1 () 1) ls) (nn-linear 10)))
       (data (toy-data 8))
       (before (copy-matrix (==> ls gains)))
       (loss0 (car (nn-evaluate net (hget data 'test-inputs) (hget data 'test-labels) 'ce)))
       (opt (nn-adamw 1e-2)))
  (assert (= (+ (* 4 (+ 9 1)) (* 4 (+ (* 4 9) 1)) 4 (* 4 8 8 10) 10) (nn-nparams net)))
  (repeat 3 (nn-train-pass net opt (hget data 'train-inputs) (hget data 'train-labels) 'ce))
  (assert (> (idx-sup (idx-abs (idx-sub (==> ls gains) before))) 1e-3))
  (assert (< (car (nn-evaluate net (hget data 'test-inputs) (hget data 'test-labels) 'ce))
             (* 0.5 loss0))))

;; ---- resnet.lsp: one pass of its recipe on toy digits

(seed 6)
(let* ((r (resnet-recipe (toy-data 16) 2e-3 1))
       (loss0 (toy-loss r)))
  (run-quietly r)
  (assert (= 1 (length (hget r 'metrics))))
  (assert (< (toy-loss r) loss0))
  (assert (= 2e-3 (nn-rate (hget r 'opt)))))
