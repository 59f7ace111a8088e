;; nn.lsp: helpers over the native backprop simulator (runtime/nn/).
;;
;; The simulator in brief: module constructors (nn-conv, nn-linear, nn-tanh,
;; nn-stanh, nn-relu, nn-logsoftmax, nn-softmax, nn-dropout,
;; nn-random-shift, nn-random-flip) make modules; (nn-seq SHAPE MODULE...) makes a net
;; of them, which owns the states and one flat parameter vector; nets nest
;; as modules, and (nn-residual m...) and (nn-concat m...) branch. Then:
;;   (nn-fprop net x) -> output       (nn-bprop net dy) -> input gradient
;;   (nn-params net) (nn-grads net) (nn-hessian net) (nn-rates net): views
;;   (nn-mse y target dy ddy) (nn-cross-entropy y class dy ddy): costs
;;   (nn-sgd rate [momentum decay]) (nn-sdlm eta mu) (nn-adamw rate ...)
;;   (nn-update net opt), (nn-train-pass net opt inputs targets [cost order])
;;   (nn-evaluate net inputs targets [cost]) (nn-predict net inputs)
;;   (nn-gradcheck net x target) (nn-bbcheck net x target)
;; A Lisp object with methods (fprop x) -> y and (bprop x y dy) -> dx (and
;; optionally (bbprop x y ddy) -> ddx) is a module too: see nn-square below.
;; Its trainable weights are (nn-parameter d...) tensors kept in its slots;
;; its bprop adds into their (nn-grad p), and they join the net's flat vector.

(de nn-pack (tensors)
  "A new float vector holding the elements of the list of TENSORS one after
the other, each in row-major order (see nn-unpack)."
  (let ((packed (float-matrix (apply + (mapcar idx-nelem tensors)))) (at 0))
    (each ((m tensors))
      (idx-copy m (idx-reshape (narrow packed 0 (idx-nelem m) at) (idx-shape m)))
      (incr at (idx-nelem m)))
    packed))

(de nn-unpack (packed tensors)
  "Copies the vector PACKED, as nn-pack made it, back into the list of
TENSORS, which must hold as many elements in all. Returns TENSORS."
  (let ((at 0))
    (each ((m tensors))
      (idx-copy (idx-reshape (narrow packed 0 (idx-nelem m) at) (idx-shape m)) m)
      (incr at (idx-nelem m)))
    tensors))

(de nn-buffer-tensors (net)
  "The tensors of NET's buffers (see nn-buffers), in order."
  (mapcar cdr (nn-buffers net)))

(de nn-save (net file)
  "Saves NET's flat parameter vector to FILE as an IDX float vector (gzip
when FILE ends in .gz), followed by the values of its buffers (nn-buffers:
batch norm's running averages) when it has any. Returns FILE."
  (save-matrix (if (nn-buffers net)
                   (nn-pack (cons (nn-params net) (nn-buffer-tensors net)))
                 (nn-params net))
               file))

(de nn-load (net file)
  "Loads NET's parameters and buffers from FILE, an IDX vector saved by
nn-save, after checking that it holds as many values as NET has (parameters,
then buffers), all finite (a NaN or an infinity is an error, and NET is left
as it was). A file of the parameters alone, as nn-save wrote before it kept
buffers, loads too: the buffers (batch norm's running averages) stay as they
are, with a note on standard error. A masked net (nn-mask) keeps its deleted
parameters at zero. Returns NET."
  (let* ((m (load-matrix file)) (mask (nn-mask net))
         (buffers (nn-buffer-tensors net))
         (nb (apply + (mapcar idx-nelem buffers)))
         (n (nn-nparams net)))
    (unless (member (idx-nelem m) (list n (+ n nb)))
      (error "nn-load: %s holds %d values (shape %l), the net has %d parameters%s"
             file (idx-nelem m) (idx-shape m) n
             (if (> nb 0) (sprintf " and %d values of buffers" nb) "")))
    (let ((s (idx-sumsqr m)))             ; NaN or inf when any value is
      (unless (and (= s s) (< s (/ 1 0)))
        (error "nn-load: %s holds values that are not finite (NaN or infinite)" file)))
    (if (= (idx-nelem m) (+ n nb))
        (nn-unpack (idx-reshape m (list (+ n nb))) (cons (nn-params net) buffers))
      (idx-copy (idx-reshape m (list n)) (nn-params net))
      (eprintf "nn-load: %s holds the parameters but not the buffers (batch norm's running averages): the net keeps its own\n"
               file))
    (when mask (nn-mask net mask))
    net))

(de nn-onehot (labels n &optional on off)
  "The [N n] float matrix of targets for the class numbers in the tensor
LABELS (N of them): ON (default 1) at each label's column, OFF (default -1)
elsewhere, as the 1989 net's tanh outputs want."
  (let* ((on (or on 1)) (off (or off -1))
         (count (idx-nelem labels))
         (flat (idx-reshape (copy-matrix labels) (list count)))
         (m (float-matrix count n)))
    (idx-fill m off)
    (for (i 0 (- count 1))
      (m i (flat i) on))
    m))

(de nn-labels (targets)
  "The class numbers of the rows of TARGETS ([N n]): each row's index of
its largest element, as an [N] float vector."
  (let* ((count (idx-dim targets 0))
         (v (float-matrix count)))
    (for (i 0 (- count 1))
      (v i (idx-indexmax (select targets 0 i))))
    v))

(de nn-train-loop (net opt inputs targets &optional cost order)
  "The Lisp version of nn-train-pass, one example at a time through
nn-fprop, a cost, nn-bprop and nn-update: slower, but every step is there
to change or inspect. COST is 'mse (TARGETS [N outputs...]) or 'ce
(TARGETS a vector of classes). Returns (mean-loss errors)."
  (let* ((cost (or cost 'mse))
         (count (if order (idx-nelem order) (idx-dim inputs 0)))
         (dy (apply float-matrix (nn-shape net)))
         (mode (nn-mode net 'train))
         (loss 0) (errors 0))
    (for (k 0 (- count 1))
      (let* ((e (if order (order k) k))
             (y (nn-fprop net (select inputs 0 e)))
             (target (if (eq cost 'mse) (select targets 0 e) (targets e))))
        (nn-clear-grads net)
        (setq loss (+ loss (if (eq cost 'mse)
                               (nn-mse y target dy)
                             (nn-cross-entropy y target dy))))
        (unless (= (idx-indexmax y)
                   (if (eq cost 'mse) (idx-indexmax target) target))
          (incr errors))
        (nn-bprop net dy)
        (nn-update net opt)))
    (nn-mode net mode)
    (nn-clear-grads net)
    (list (if (> count 0) (/ loss count) 0) errors)))

(de nn-error-rate (net inputs targets &optional cost)
  "The fraction of examples of INPUTS that NET misclassifies against
TARGETS (see nn-evaluate)."
  (/ (cadr (nn-evaluate net inputs targets cost)) (idx-dim inputs 0)))

(de nn-check-module (module shape &optional cost)
  "Checks MODULE's bprop against finite differences: puts it alone in a
net for inputs of SHAPE, draws a random input and target, and returns
nn-gradcheck's (param-error input-error). The module then belongs to that
net."
  (let* ((net (nn-seq shape module))
         (x (idx-rand (apply float-matrix shape) -1 1))
         (target (idx-rand (apply float-matrix (nn-shape net)) -1 1)))
    (nn-gradcheck net x (if (eq cost 'ce) 0 target) cost)))

;; An example of a module written in Lisp: y = x^2 element-wise. Any object
;; with these methods goes into nn-seq beside the C modules.
(defclass nn-square ())

(defmethod nn-square fprop (x)
  (idx-mul x x))

(defmethod nn-square bprop (x y dy)
  (idx-mul (idx-add x x) dy))

(defmethod nn-square bbprop (x y ddy)
  (let ((d (idx-add x x)))
    (idx-mul (idx-mul d d) ddy)))

;; An example of a Lisp module with parameters: a per-channel affine map,
;; y[c] = scale[c] x[c] + shift[c] over the first dimension of its input
;; (planes of images, elements of vectors). Its parameters are made by
;; nn-parameter; bprop adds into their nn-grad, bbprop into their nn-ddgrad.
(defclass nn-affine () (scale ()) (shift ()))

(defmethod nn-affine nn-affine (channels)
  (setq scale (nn-parameter channels))
  (setq shift (nn-parameter channels))
  (idx-fill scale 1))

(defmethod nn-affine fprop (x)
  (let ((y (copy-matrix x)))
    (for (c 0 (- (idx-dim x 0) 1))
      (let ((yc (select y 0 c)))
        (idx-addm0 (idx-dotm0 (select x 0 c) (scale c)) (shift c) yc)))
    y))

(defmethod nn-affine bprop (x y dy)
  (let ((dx (copy-matrix dy)) (gs (nn-grad scale)) (gb (nn-grad shift)))
    (for (c 0 (- (idx-dim x 0) 1))
      (let ((dyc (select dy 0 c)))
        (gs c (+ (gs c) (idx-dot (select x 0 c) dyc)))
        (gb c (+ (gb c) (idx-sum dyc)))
        (idx-dotm0 dyc (scale c) (select dx 0 c))))
    dx))

(defmethod nn-affine bbprop (x y ddy)
  (let ((ddx (copy-matrix ddy)) (hs (nn-ddgrad scale)) (hb (nn-ddgrad shift)))
    (for (c 0 (- (idx-dim x 0) 1))
      (let ((xc (select x 0 c)) (ddc (select ddy 0 c)))
        (hs c (+ (hs c) (idx-dot (idx-mul xc xc) ddc)))
        (hb c (+ (hb c) (idx-sum ddc)))
        (idx-dotm0 ddc (* (scale c) (scale c)) (select ddx 0 c))))
    ddx))
