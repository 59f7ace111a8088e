;; flip.lsp: the random-flip module (nn-random-flip): its derivatives
;; against finite differences, evaluation as the identity, and in training
;; each output either the input or its mirror, both drawn over many
;; examples.

(libload "nn")

(de check-ok (errs) (and (< (car errs) 5e-3) (< (cadr errs) 5e-3)))

(de all-true (l) (not (member () l)))

(de mirror (x)
  "X with its last dimension reversed, element by element."
  (let* ((shape (idx-shape x))
         (w (last shape))
         (flat (idx-reshape (copy-matrix x) (list (/ (idx-nelem x) w) w)))
         (out (copy-matrix flat)))
    (for (r 0 (- (idx-dim flat 0) 1))
      (for (j 0 (- w 1))
        (out r j (flat r (- w 1 j)))))
    (idx-reshape out shape)))

;; derivatives, in training mode: bprop and bbprop are the transposes
(seed 5)
(assert (check-ok (nn-check-module (nn-random-flip) '(2 5 6))))
(assert (check-ok (nn-check-module (nn-random-flip) '(7))))
(let ((n (nn-seq '(3 4) (nn-random-flip) (nn-linear 3))))
  (assert (all-true (all ((i (range 4)))
                      (let ((errs (nn-bbcheck n (idx-rand (float-matrix 3 4) -1 1)
                                              (idx-rand (float-matrix 3) -1 1))))
                        (and (< (car errs) 1e-3) (< (cadr errs) 1e-3)))))))

;; evaluation passes the input through, and so does the gradient
(let ((n (nn-seq '(2 3 4) (nn-random-flip))) (x (idx-rand (float-matrix 2 3 4) -1 1)))
  (nn-mode n 'eval)
  (assert (all-true (all ((i (range 10))) (equal x (nn-fprop n x)))))
  (let ((dy (idx-rand (float-matrix 2 3 4) -1 1)))
    (assert (equal dy (nn-bprop n dy)))))

;; training: each output is x or its mirror, with the gradient mirrored
;; alike, and over many draws both occur, about as often
(let* ((n (nn-seq '(2 3 5) (nn-random-flip)))
       (x (idx-rand (float-matrix 2 3 5) -1 1))
       (dy (idx-rand (float-matrix 2 3 5) -1 1))
       (same 0) (mirrored 0))
  (assert (not (equal x (mirror x))))
  (repeat 400
    (let ((y (copy-matrix (nn-fprop n x))) (dx (nn-bprop n dy)))
      (cond ((and (equal y x) (equal dx dy)) (incr same))
            ((and (equal y (mirror x)) (equal dx (mirror dy))) (incr mirrored)))))
  (assert (= 400 (+ same mirrored)))
  (assert (< 140 same 260)))

;; the draws come from the generator: a seed repeats them
(de draws (s)
  (seed s)
  (let ((n (nn-seq '(4) (nn-random-flip))))
    (all ((i (range 1 20))) (nn-fprop n [1 2 3 4]) ((nn-fprop n [1 2 3 4]) 0))))
(assert (equal (draws 3) (draws 3)))

;; help and shapes
(let ((file (sprintf "%s/lush89-flip-help-%d.txt" (or (getenv "TMPDIR") "/tmp")
                     (floor (* 1000000 (clock))))))
  (assert (= 0 (sys (concat "./lush89 -e \"(help 'nn-random-flip)\" >" file))))
  (let ((text (read-file file)))
    (assert (search "(nn-random-flip)" text))
    (assert (search "mirrors its input along its last dimension" text))
    (assert (search "nn_shift.c" text)))
  (delete-file file))
(assert (equal '(1 4 4) (nn-shape (nn-seq '(1 4 4) (nn-random-flip)))))
(assert-error (nn-seq '(0) (nn-random-flip)) "")
(assert-error (nn-random-flip 1) "")
