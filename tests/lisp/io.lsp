;; io.lsp: load-matrix, save-matrix (IDX and .npy), save-png, save-png-grid,
;; idx-show and json-read as a Lisp user sees them. Byte-level formats and every corrupt
;; file are tested in tests/c/test_io.c. Works in a fresh temporary folder.

(defvar io-dir (sprintf "%s/lush89-io-%d" (or (getenv "TMPDIR") "/tmp")
                        (floor (* 1000000 (clock)))))
(mkdir-p io-dir)
(de io-file (name) (concat io-dir "/" name))

;; ---- IDX round trips: every type, plain and gzip, views

(each ((type '(float double int ubyte)))
  (let ((m (list->matrix '((1 2 3) (250 5 6)) type)))
    (each ((name '("m.idx" "m.idx.gz")))
      (save-matrix m (io-file name))
      (let ((back (load-matrix (io-file name))))
        (assert (eq (idx-type back) type))
        (assert (equal (idx-shape back) '(2 3)))
        (assert (equal (matrix->list back) '((1 2 3) (250 5 6))))))))

(let ((m [[0.5 -1.25] [3 4]]))
  (assert (equal (save-matrix m (io-file "f.idx")) (io-file "f.idx")))
  (assert (equal (load-matrix (io-file "f.idx")) m))
  ;; a transposed view is saved in its own row-major order
  (save-matrix (idx-transpose m) (io-file "t.idx.gz"))
  (assert (equal (matrix->list (load-matrix (io-file "t.idx.gz")))
                 '((0.5 3) (-1.25 4))))
  ;; saving over a file replaces it and leaves no temporary file behind
  (save-matrix [7] (io-file "f.idx"))
  (assert (equal (matrix->list (load-matrix (io-file "f.idx"))) '(7))))

(let ((big (float-matrix 3 4 5)))
  (idx-randn big)
  (save-matrix big (io-file "big.idx.gz"))
  (assert (equal (load-matrix (io-file "big.idx.gz")) big)))

;; ---- saves never damage what was there: links stay links, modes stay

(sys (concat "ln -s f.idx '" (io-file "link.idx") "'"))
(sys (concat "chmod 600 '" (io-file "f.idx") "'"))
(save-matrix [5 6] (io-file "link.idx"))
(assert (equal (matrix->list (load-matrix (io-file "f.idx"))) '(5 6)))
(assert (= 0 (sys (concat "test -L '" (io-file "link.idx") "'"))))
(assert (= 0 (sys (concat "test $(stat -c %a '" (io-file "f.idx") "') = 600"))))
(sys (concat "mkfifo '" (io-file "fifo") "'"))
(assert-error (save-matrix [1] (io-file "fifo")) "is a FIFO, not a regular file")
(assert-error (write-file io-dir "x") "is a directory, not a regular file")

;; ---- bad files and bad arguments

(assert-error (load-matrix (io-file "missing.idx")) "missing.idx: No such file")
(write-file (io-file "text.idx") "hello, world")
(assert-error (load-matrix (io-file "text.idx")) "wrong magic")
(write-file (io-file "text.idx.gz") "hello, world")
(assert-error (load-matrix (io-file "text.idx.gz")) "not a gzip file")
(assert-error (load-matrix 3) "argument 1: expected string")
(assert-error (save-matrix '(1 2) (io-file "x.idx")) "expected tensor")
(assert-error (save-matrix [1 2] (io-file "no/such/dir/x.idx"))
              "cannot create a temporary file")

;; ---- NumPy .npy: round trips, and numpy itself where it is installed

(each ((type '(float double int ubyte)))
  (let ((m (list->matrix '((1 2 3) (250 5 6)) type)))
    (each ((name '("m.npy" "m.npy.gz")))
      (save-matrix m (io-file name))
      (let ((back (load-matrix (io-file name))))
        (assert (eq (idx-type back) type))
        (assert (equal (matrix->list back) '((1 2 3) (250 5 6))))))))
(save-matrix (idx-transpose [[0.5 -1.25] [3 4]]) (io-file "t.npy"))
(assert (equal (matrix->list (load-matrix (io-file "t.npy")))
               '((0.5 3) (-1.25 4))))
(write-file (io-file "text.npy") "hello, world")
(assert-error (load-matrix (io-file "text.npy")) "not a .npy file")

(defvar io-python
  (if (= 0 (sys "python3 -c 'import numpy' 2>/dev/null")) "python3"
    (if (= 0 (sys "/usr/bin/python3 -c 'import numpy' 2>/dev/null"))
        "/usr/bin/python3")))

(when io-python
  (let ((m (float-matrix 2 3 4)))
    (idx-randn m)
    (save-matrix m (io-file "r.npy"))
    (save-matrix (list->matrix '((1 2 255)) 'ubyte) (io-file "u.npy"))
    (save-matrix (list->matrix '(-7 65536) 'int) (io-file "i.npy"))
    (save-matrix (list->matrix '(0.1 -2.5e300) 'double) (io-file "d.npy"))
    ;; numpy reads ours and writes the same bytes for the same arrays; ours
    ;; read numpy's big-endian, small-integer and scalar arrays
    (write-file (io-file "check.py") (concat "
import numpy as np, sys
d = sys.argv[1] + '/'
r = np.load(d + 'r.npy')
assert r.dtype == np.float32 and r.shape == (2, 3, 4)
want = {'u': np.array([[1, 2, 255]], np.uint8),
        'i': np.array([-7, 65536], np.int32),
        'd': np.array([0.1, -2.5e300])}
for k, a in list(want.items()) + [('r', r)]:
    b = np.load(d + k + '.npy')
    assert b.dtype == a.dtype and b.shape == a.shape and (b == a).all(), k
    np.save(d + k + '-np.npy', a)
    assert open(d + k + '.npy', 'rb').read() == open(d + k + '-np.npy', 'rb').read(), k
np.save(d + 'be.npy', np.array([[1.5, -2], [3, 1e300]], '>f8'))
np.save(d + 'be4.npy', np.array([1, -2, 70000], '>i4'))
np.save(d + 'i2.npy', np.array([-32768, 7], '<i2'))
np.save(d + 'i1.npy', np.array([-128, 127], 'i1'))
np.save(d + 'sc.npy', np.float32(3.25))
np.save(d + 'f.npy', np.asfortranarray(np.zeros((2, 3), np.float32)))
np.save(d + 'i8.npy', np.zeros(3, np.int64))
print('numpy agrees')
"))
    (assert (= 0 (sys (concat io-python " " (io-file "check.py") " " io-dir))))
    (assert (equal (load-matrix (io-file "r-np.npy")) m))
    (assert (equal (matrix->list (load-matrix (io-file "be.npy")))
                   '((1.5 -2) (3 1e300))))
    (assert (eq (idx-type (load-matrix (io-file "be.npy"))) 'double))
    (assert (equal (matrix->list (load-matrix (io-file "be4.npy")))
                   '(1 -2 70000)))
    (assert (equal (matrix->list (load-matrix (io-file "i2.npy"))) '(-32768 7)))
    (assert (equal (matrix->list (load-matrix (io-file "i1.npy"))) '(-128 127)))
    (assert (= (idx-ndim (load-matrix (io-file "sc.npy"))) 0))
    (assert-error (load-matrix (io-file "f.npy")) "Fortran order")
    (assert-error (load-matrix (io-file "i8.npy")) "dtype '<i8' is not supported")))

;; ---- pictures

(let ((digit (float-matrix 16 16)))
  (for (i 4 11) (digit i 7 1) (digit i 8 1))
  (assert (equal (save-png digit (io-file "d.png")) (io-file "d.png")))
  (assert (equal (substring (read-file (io-file "d.png")) 1 4) "PNG"))
  (save-png digit (io-file "d2.png") 1 0)
  (assert (file-exists (io-file "d2.png")))
  (assert-error (save-png digit (io-file "d3.png") 0) "give both LO and HI")
  (assert-error (save-png (float-matrix 2 2 2) (io-file "d3.png"))
                "1-D or 2-D")
  (assert (null (file-exists (io-file "d3.png"))))
  (assert (null (idx-show digit)))
  (assert (null (idx-show (select digit 0 5) -1 1)))
  (assert-error (idx-show (float-matrix 2 2 2)) "1-D or 2-D"))

(let ((stack (float-matrix 10 16 16)))
  (idx-rand stack)
  (save-png-grid stack (io-file "grid.png") 5)
  (save-png-grid (list (select stack 0 0) [[1 2] [3 4]]) (io-file "grid2.png")
                 4 0 1)
  (assert (file-exists (io-file "grid.png")))
  (assert (file-exists (io-file "grid2.png")))
  (assert-error (save-png-grid (list (select stack 0 0) 3) (io-file "g3.png")
                               2)
                "image 2: expected a 1-D or 2-D tensor, got 3")
  (assert-error (save-png-grid (list stack) (io-file "g3.png") 2)
                "image 1: expected a 1-D or 2-D tensor, got [float 10x16x16]")
  (assert-error (save-png-grid stack (io-file "g3.png") 0)
                "argument 3: expected a positive column count"))

;; ---- JSON

(write-file (io-file "a.json")
            "{\"data\": [0, 0.2, -1.5e2, 3], \"label\": \"caf\\u00e9\",
  \"ok\": true, \"no\": false, \"none\": null, \"nested\": {\"x\": [[1], []]}}")
(let ((h (json-read (io-file "a.json"))))
  (assert (hash-table-p h))
  (assert (= (hcount h) 6))
  (assert (equal (hget h "data") '(0 0.2 -150 3)))
  (assert (equal (hget h "label") "café"))
  (assert (eq (hget h "ok") t))
  (assert (null (hget h "no")))
  (assert (null (hget h "none")))
  (assert (equal (hget (hget h "nested") "x") '((1) ()))))

(write-file (io-file "bad.json") "[1,\n  2,\n  3")
(assert-error (json-read (io-file "bad.json")) "bad.json:3:4: expected ',' or ']'")
(write-file (io-file "bad2.json") "{\"a\": tru}")
(assert-error (json-read (io-file "bad2.json")) "bad2.json:1:7: invalid literal")
(assert-error (json-read (io-file "none.json")) "none.json: No such file")

(sys (concat "rm -rf '" io-dir "'"))
