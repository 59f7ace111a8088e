;; export.lsp: nn-export and nn-import (a net's parameters as a safetensors
;; file), save-safetensors and load-safetensors, and every kind of broken
;; file. bench/torch_export.py checks the files against PyTorch. Works in a
;; fresh temporary folder.

(libload "lecun1989")

(defvar ex-dir (sprintf "%s/lush89-export-%d" (or (getenv "TMPDIR") "/tmp")
                        (floor (* 1000000 (clock)))))
(mkdir-p ex-dir)
(de ex-file (name) (concat ex-dir "/" name))

(de names-shapes (file)
  "The (name shape) of each tensor of FILE, in order."
  (all ((p (load-safetensors file))) (list (car p) (idx-shape (cdr p)))))

(de same-params (a b)
  (= 0 (idx-sup (idx-abs (idx-sub (nn-params a) (nn-params b))))))

;; ---- save-safetensors, load-safetensors: every type, any layout

(let ((ts (list (cons "f" [[1.5 -2] [3 4]])
                (cons "d" (list->matrix '(1e300 -0.25) 'double))
                (cons "i" (list->matrix '((-7) (2147483647)) 'int))
                (cons "u" (list->matrix '(0 255 9) 'ubyte))
                (cons "t" (idx-transpose [[1 2 3] [4 5 6]]))
                (cons "empty" (float-matrix 0 3))
                (cons "quote\"back\\slash" [7]))))
  (save-safetensors ts (ex-file "all.safetensors"))
  (let ((back (load-safetensors (ex-file "all.safetensors"))))
    (assert (equal (mapcar car back) (mapcar car ts)))
    (each ((p back))
      (let ((want (cdr (assoc (car p) ts))))
        (assert (eq (idx-type (cdr p)) (idx-type want)))
        (assert (equal (idx-shape (cdr p)) (idx-shape want)))
        (assert (equal (matrix->list (cdr p)) (matrix->list want))))))
  ;; gzip by the name
  (save-safetensors ts (ex-file "all.safetensors.gz"))
  (assert (equal (load-safetensors (ex-file "all.safetensors.gz"))
                 (load-safetensors (ex-file "all.safetensors")))))
(save-safetensors () (ex-file "none.safetensors"))
(assert (equal (load-safetensors (ex-file "none.safetensors")) ()))
(assert-error (save-safetensors (list (cons "a" [1]) (cons "a" [2])) (ex-file "x"))
              "two tensors are named \"a\"")
(assert-error (save-safetensors (list (cons 'a [1])) (ex-file "x"))
              "element 1: expected (NAME . TENSOR)")

;; ---- The 1989 net: names, PyTorch's shapes, values in place

(seed 1)
(defvar net (lecun1989-net t))
(idx-rand (nn-params net) -1 1)
(nn-export net (ex-file "net.safetensors"))
(assert (equal (names-shapes (ex-file "net.safetensors"))
               '(("c1.weight" (12 1 5 5)) ("c1.bias" (12 8 8))
                 ("c2.weight" (12 12 5 5)) ("c2.bias" (12 4 4))
                 ("l3.weight" (30 192)) ("l3.bias" (30))
                 ("l4.weight" (10 30)) ("l4.bias" (10)))))
(let* ((f (load-safetensors (ex-file "net.safetensors")))
       (w2 (cdr (assoc "c2.weight" f)))
       (h2 (nn-weights (nth 2 (nn-modules net)))))
  ;; output map 0 sees planes 0-7: its kernels are connections 0-7
  (assert (equal (select (select w2 0 0) 0 3) (select h2 0 3)))
  ;; map 4 sees planes 4-11: connection 4*8 + 0 is plane 4
  (assert (equal (select (select w2 0 4) 0 4) (select h2 0 32)))
  ;; map 0 has no kernel for planes 8-11: zeros
  (assert (= 0 (idx-sup (idx-abs (narrow (select w2 0 0) 0 4 8)))))
  (assert (equal (cdr (assoc "l4.bias" f)) (nn-biases (nth 6 (nn-modules net)))))
  (assert (equal (cdr (assoc "c1.bias" f)) (nn-biases (car (nn-modules net))))))

;; the metadata PyTorch tools look for
(assert (search "\"__metadata__\":{\"format\":\"pt\"}"
                (car (read-lines (ex-file "net.safetensors")))))

;; a round trip into another net of the same shape
(seed 2)
(defvar net2 (lecun1989-net t))
(assert (not (same-params net net2)))
(assert (eq net2 (nn-import net2 (ex-file "net.safetensors"))))
(assert (same-params net net2))
(let ((x (float-matrix 1 16 16)))
  (idx-rand x -1 1)
  (assert (equal (nn-fprop net x) (nn-fprop net2 x))))

;; ---- nn-import refuses any other file, naming the tensor, net untouched

(defvar good (load-safetensors (ex-file "net.safetensors")))
(de with-tensor (name value)
  "GOOD with tensor NAME replaced by VALUE (removed when VALUE is ())."
  (let ((l ()))
    (each ((p good))
      (cond ((not (equal (car p) name)) (setq l (cons p l)))
            (value (setq l (cons (cons name value) l)))))
    (reverse l)))
(de import-error (tensors)
  "The message of nn-import on a file of TENSORS, which must fail and
leave net2 as it was."
  (save-safetensors tensors (ex-file "bad.safetensors"))
  (let* ((before (copy-matrix (nn-params net2)))
         (msg (try (progn (nn-import net2 (ex-file "bad.safetensors")) "no error")
                   (catch e (error-message e)))))
    (unless (equal before (nn-params net2)) (setq msg "changed the net"))
    msg))

(idx-fill (nn-params net2) 0.5)
(assert (search "bad.safetensors: no tensor \"l3.bias\" ([30])"
                (import-error (with-tensor "l3.bias" ()))))
(assert (search "tensor \"extra\" is not a parameter of the net"
                (import-error (append good (list (cons "extra" [1]))))))
(assert (search "tensor \"c1.bias\" is double, expected F32"
                (import-error (with-tensor "c1.bias" (double-matrix 12 8 8)))))
(assert (search "tensor \"l4.weight\" has shape [30 10], the net's [10 30]"
                (import-error (with-tensor "l4.weight" (float-matrix 30 10)))))
(let ((w (copy-matrix (cdr (assoc "c2.weight" good)))))
  (w 0 9 2 3 0.5)
  (assert (search "tensor \"c2.weight\" holds 0.5 at [0 9 2 3], where the module has no connection"
                  (import-error (with-tensor "c2.weight" w)))))
(assert (search "nn-import: " (import-error (with-tensor "l3.bias" (float-matrix 31)))))
;; the helper itself sees a net that changed
(assert (equal "changed the net" (import-error good)))

;; ---- Every module kind: generic names from kinds and parameter shapes

(defclass affine () (scale ()) (shift ()))
(defmethod affine affine (n)
  (setq scale (nn-parameter n))
  (setq shift (nn-parameter n))
  (idx-fill scale 1))
(defmethod affine fprop (x) (idx-add (idx-mul scale x) shift))
(defmethod affine bprop (x y dy) (idx-mul scale dy))

;; a module of every kind; the linear module after the affine one is the
;; one before it again when TIE (shared weights, written once)
(de kinds-net (tie)
  (let ((lin (nn-linear 6)))
    (nn-seq '(2 12 12)
      (nn-conv 4 3 1 '((0 0) (1 1) (0 2) (1 3)) 1 0 'unit)
      (nn-relu)
      (nn-subsample 2)
      (nn-batchnorm)
      (nn-seq '(4 6 6) (nn-conv 3 3 1) (nn-maxpool 2))
      (nn-residual (nn-conv 3 1 1) (nn-tanh))
      (nn-concat (nn-linear 5) (nn-seq '(3 2 2) (nn-tanh) (nn-linear 1))
                 (nn-linear 2))
      (nn-linear 6) lin (nn-tanh) (new affine 6) (if tie lin (nn-linear 6))
      (nn-rbf (float-matrix 3 6) t))))

(seed 3)
(let ((n (kinds-net t)))
  (idx-rand (nn-params n) -1 1)
  (nn-export n (ex-file "kinds.safetensors"))
  (assert (equal (names-shapes (ex-file "kinds.safetensors"))
                 '(("c1.weight" (4 2 3 3)) ("c1.bias" (4 12 12))
                   ("s2.weight" (4)) ("s2.bias" (4))
                   ("b3.weight" (4)) ("b3.bias" (4))
                   ("b3.running_mean" (4)) ("b3.running_var" (4))
                   ("n4.c1.weight" (3 4 3 3)) ("n4.c1.bias" (3))
                   ("r5.c1.weight" (3 3 1 1)) ("r5.c1.bias" (3))
                   ("c6.1.l1.weight" (5 12)) ("c6.1.l1.bias" (5))
                   ("c6.2.n1.l1.weight" (1 12)) ("c6.2.n1.l1.bias" (1))
                   ("c6.3.l1.weight" (2 12)) ("c6.3.l1.bias" (2))
                   ("l7.weight" (6 8)) ("l7.bias" (6))
                   ("l8.weight" (6 6)) ("l8.bias" (6))
                   ("l9.scale" (6)) ("l9.shift" (6))
                   ("r10.weight" (3 6)))))
  ;; every parameter is in the file exactly once: the sum of the values
  ;; (zeros of absent connections and the buffers aside) is the flat
  ;; vector's
  (let ((s 0))
    (each ((p (load-safetensors (ex-file "kinds.safetensors"))))
      (unless (assoc (car p) (nn-buffers n))
        (setq s (+ s (idx-sum (cdr p))))))
    (assert (< (abs (- s (idx-sum (nn-params n)))) 1e-3)))
  (assert-error (nn-import (kinds-net ()) (ex-file "kinds.safetensors"))
                "tensor \"r10.weight\" is not a parameter of the net")
  (let ((m (kinds-net t)))
    (assert (not (same-params n m)))
    (nn-import m (ex-file "kinds.safetensors"))
    (assert (same-params n m))))

;; ---- Broken files: clear errors naming the file, never a crash

(de le64 (n)
  "N as 8 little-endian bytes."
  (let ((s ""))
    (repeat 8 (setq s (concat s (chr (mod n 256)))) (setq n (floor (/ n 256))))
    s))
(de bytes-error (bytes)
  "The message of load-safetensors on a file holding BYTES; it must name
the file."
  (let* ((file (ex-file "raw.safetensors"))
         (msg (progn (write-file file bytes)
                     (try (progn (load-safetensors file) "no error")
                          (catch e (error-message e))))))
    (if (or (search file msg) (equal msg "no error"))
        msg
      "the message does not name the file")))
(de raw-error (header data)
  "bytes-error on a file of the JSON text HEADER and the bytes DATA."
  (bytes-error (concat (le64 (strlen header)) header data)))
(defvar zeros8 (concat (chr 0) (chr 0) (chr 0) (chr 0) (chr 0) (chr 0) (chr 0) (chr 0)))
(de one-f32 (offsets)
  (sprintf "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":%s}}" offsets))

(write-file (ex-file "ok.safetensors") (concat (le64 (strlen (one-f32 "[0,8]"))) (one-f32 "[0,8]") zeros8))
(assert (equal (mapcar car (load-safetensors (ex-file "ok.safetensors"))) '("a")))
(assert (equal "no error" (raw-error (one-f32 "[0,8]") zeros8)))
(each ((case (list
              (list (one-f32 "[0,8]") "" "truncated: its data ends at byte 8, the file has 0")
              (list (one-f32 "[0,8]") (concat zeros8 "x") "1 bytes after the last tensor's data")
              (list (one-f32 "[4,12]") zeros8 "4 bytes of data before it belong to no tensor")
              (list (one-f32 "[0,4]") zeros8 "hold 4 bytes, its shape 2 of F32 needs 8")
              (list (one-f32 "[8,0]") zeros8 "are not [begin, end]")
              (list (one-f32 "[0,8,9]") zeros8 "are not [begin, end]")
              (list (one-f32 "[0,-8]") zeros8 "are not [begin, end]")
              (list (one-f32 "[0,8.5]") zeros8 "are not [begin, end]")
              (list (concat "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}")
                    zeros8 "tensor \"b\": its data [2, 6] overlaps that of \"a\"")
              (list "{\"a\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}" zeros8
                    "tensor \"a\": dtype BF16 is not supported")
              (list "{\"a\":{\"dtype\":7,\"shape\":[4],\"data_offsets\":[0,8]}}" zeros8
                    "the dtype is not a string")
              (list "{\"a\":{\"shape\":[4],\"data_offsets\":[0,8]}}" zeros8 "no \"dtype\"")
              (list "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}" zeros8
                    "the shape has -2, not a size")
              (list "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,8],\"data_offsets\":[0,8]}}" zeros8
                    "more than 8 dimensions")
              (list "{\"a\":{\"dtype\":\"U8\",\"shape\":[0,4294967296,4294967296],\"data_offsets\":[0,0]}}" ""
                    "the shape overflows")
              (list "{\"a\":[1,2]}" zeros8 "tensor \"a\": expected an object")
              (list "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]" zeros8
                    "header:1:")
              (list "[1]" "" "does not start with '{'")
              (list "{\"__metadata__\":{\"k\":1}}" "" "__metadata__ \"k\" is not a string")
              (list "{\"__metadata__\":[]}" "" "__metadata__ is not an object")
              (list (concat "{\"a" (chr 92) "u0000b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}") ""
                    "holds a 0 byte"))))
  (let ((msg (raw-error (car case) (cadr case))))
    (assert (search (caddr case) msg))))
(assert (search "not a safetensors file (3 bytes)" (bytes-error "abc")))
(assert (search "a header of 1000 bytes, the file has 2" (bytes-error (concat (le64 1000) "{}"))))
(let ((ff (chr 255)))
  (assert (search "a header of 18446744073709551615 bytes"
                  (bytes-error (concat ff ff ff ff ff ff ff ff "{}")))))
(assert-error (load-safetensors (ex-file "missing.safetensors")) "missing.safetensors: No such file")
;; nn-import names itself
(write-file (ex-file "short.safetensors") "abc")
(assert-error (nn-import net (ex-file "short.safetensors"))
              "nn-import: ")
(assert-error (nn-export net (ex-file "no/such/dir/x.safetensors")) "nn-export: ")
(assert-error (nn-export [1 2] (ex-file "x.safetensors")) "nn-export: argument 1")

(sys (concat "rm -rf " ex-dir))
