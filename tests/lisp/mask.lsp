;; mask.lsp: parameter masks (nn-mask): masked parameters are zeroed when
;; the mask is set and stay exactly zero through every optimizer (SGD with
;; momentum and decay, SDLM, AdamW, a Lisp optimizer, the Lisp loop's
;; nn-update), nn-init and nets inside containers, while the live ones
;; train; the mask's checks; nn-summary's count of live parameters.

(libload "../../lib/nn")

(de mk-net ()
  (seed 7)
  (nn-seq '(4) (nn-linear 5) (nn-tanh) (nn-linear 3) (nn-tanh)))

(defvar mk-xs (progn (seed 3) (idx-rand (float-matrix 20 4) -1 1)))
(defvar mk-ts (idx-rand (float-matrix 20 3) -0.8 0.8))

(de mk-mask (net)
  "A mask deleting every third parameter of NET."
  (let ((m (float-matrix (nn-nparams net))))
    (for (i 0 (- (nn-nparams net) 1))
      (m i (if (= 0 (mod i 3)) 0 1)))
    m))

(de mk-masked-max (net mask)
  "The largest magnitude of NET's parameters where MASK is 0."
  (let ((worst 0))
    (for (i 0 (- (nn-nparams net) 1))
      (when (= 0 (mask i)) (setq worst (max worst (abs ((nn-params net) i))))))
    worst))

(de mk-live-moved (net before mask)
  "t when every live parameter of NET differs from its value in BEFORE."
  (let ((ok t))
    (for (i 0 (- (nn-nparams net) 1))
      (when (and (= 1 (mask i)) (= ((nn-params net) i) (before i)))
        (setq ok ())))
    ok))

(de mk-train (opt &optional passes train)
  "A masked net trained PASSES passes (default 3) with OPT by TRAIN (default
nn-train-pass); returns (masked-max live-moved)."
  (let* ((net (mk-net)) (mask (mk-mask net)))
    (assert (> (mk-masked-max net mask) 0)) ; the mask has something to zero
    (nn-mask net mask)
    (assert (= 0 (mk-masked-max net mask)))
    (let ((before (copy-matrix (nn-params net))))
      (for (p 1 (or passes 3))
        ((or train nn-train-pass) net opt mk-xs mk-ts))
      (list (mk-masked-max net mask) (mk-live-moved net before mask)))))

;; ---- every optimizer keeps the masked parameters at exactly 0
(assert (equal (mk-train (nn-sgd 0.1)) '(0 t)))
(assert (equal (mk-train (nn-sgd 0.1 0.9 0.01)) '(0 t)))
(assert (equal (mk-train (nn-adamw 0.01 0.9 0.999 1e-8 0.1)) '(0 t)))
(assert (equal (mk-train (nn-sgd 0.1 0.9) 3 nn-train-loop) '(0 t)))
(let* ((net (mk-net)) (opt (nn-sdlm 0.05 0.01)) (mask (mk-mask net)))
  (nn-mask net mask)
  (nn-sdlm-estimate net opt mk-xs mk-ts 20)
  (let ((before (copy-matrix (nn-params net))))
    (nn-train-pass net opt mk-xs mk-ts)
    (assert (= 0 (mk-masked-max net mask)))
    (assert (mk-live-moved net before mask))))
(defclass mk-sgd ())
(defmethod mk-sgd step (w g r rate)
  (idx-sub w (idx-mul (idx-mul g r) (idx-fill (copy-matrix g) rate)) w))
(assert (equal (mk-train (nn-lisp-optimizer (new mk-sgd) 0.1)) '(0 t)))

;; without the mask the same training moves those parameters
(let* ((net (mk-net)) (mask (mk-mask net)))
  (nn-mask net mask)
  (nn-mask net ())
  (assert (null (nn-mask net)))
  (nn-train-pass net (nn-sgd 0.1) mk-xs mk-ts)
  (assert (> (mk-masked-max net mask) 0)))

;; nn-init draws only the live parameters
(let* ((net (mk-net)) (mask (mk-mask net)))
  (nn-mask net mask)
  (nn-init net 1 0.5)
  (assert (= 0 (mk-masked-max net mask)))
  (assert (mk-live-moved net (idx-fill (copy-matrix (nn-params net)) 0) mask)))

;; a mask on a net inside a container holds when the outer net trains
(let* ((inner (nn-seq '(4) (nn-linear 4) (nn-tanh)))
       (outer (nn-seq '(4) inner (nn-linear 3)))
       (mask (mk-mask inner)))
  (nn-mask inner mask)
  (nn-train-pass outer (nn-sgd 0.1 0.5) mk-xs mk-ts)
  (assert (= 0 (mk-masked-max inner mask)))
  (assert (> (idx-sup (idx-abs (nn-params outer))) 0)))

;; ---- what nn-mask returns, and its checks
(let* ((net (mk-net)) (mask (mk-mask net)))
  (assert (null (nn-mask net)))
  (assert (equal (matrix->list (nn-mask net mask)) (matrix->list mask)))
  (let ((copy (nn-mask net)))
    (idx-fill copy 1) ; a copy: writing it does not unmask anything
    (assert (= (idx-sum (nn-mask net)) (idx-sum mask))))
  (assert-error (nn-mask net (float-matrix 3)) "nn-mask: expected a tensor of shape [43]")
  (assert-error (nn-mask net 3) "nn-mask: argument 2: expected")
  (assert-error (nn-mask 3) "nn-mask: argument 1")
  (let ((bad (copy-matrix mask)))
    (bad 5 0.5)
    (assert-error (nn-mask net bad) "element 5 of the mask is 0.5, not 0 or 1")
    (bad 5 (/ 0 0))
    (assert-error (nn-mask net bad) "element 5 of the mask")
    (bad 5 -1)
    (assert-error (nn-mask net bad) "element 5 of the mask is -1")
    ;; a refused mask leaves the one before
    (assert (= (idx-sum (nn-mask net)) (idx-sum mask))))
  (assert (= 43 (idx-nelem (nn-mask net (idx-fill (int-matrix 43) 1)))))
  (assert (= 43 (idx-sum (nn-mask net))))) ; any tensor type of 0s and 1s

;; ---- nn-summary counts the live parameters
(let* ((dir (or (getenv "TMPDIR") "/tmp"))
       (script (sprintf "%s/lush89-mask-%.0f.lsp" dir (* 1e9 (clock))))
       (log (concat script ".log")))
  (write-file script
              (concat "(seed 7)\n"
                      "(setq n (nn-seq '(4) (nn-linear 5) (nn-tanh) (nn-linear 3)))\n"
                      "(nn-summary n)\n"
                      "(setq m (float-matrix (nn-nparams n)))\n"
                      "(idx-fill (narrow m 0 30 0) 1)\n"
                      "(nn-mask n m)\n"
                      "(nn-summary n)\n"))
  (assert (= 0 (sys (sprintf "./lush89 %s >%s 2>&1" script log))))
  (let ((live (filter (lambda (l) (search "live" l)) (read-lines log))))
    (assert (= 1 (length live))) ; only the masked net's summary has it
    (assert (search "30 of 43 (69.77%)" (car live)))))

;; nn-load into a masked net keeps the deleted parameters at zero
(let* ((full (mk-net)) (net (mk-net)) (mask (mk-mask net))
       (file (sprintf "%s/lush89-mask-load-%.0f.idx" (or (getenv "TMPDIR") "/tmp")
                      (* 1e9 (clock)))))
  (nn-init full 1 0.5)
  (nn-save full file)
  (nn-mask net mask)
  (nn-load net file)
  (assert (= 0 (mk-masked-max net mask)))
  (assert (> (idx-sup (nn-params net)) 0)))
