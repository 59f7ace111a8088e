;; loops.lsp: for, each and all reuse their bindings only while no closure
;; holds them (eval.c, LU_ENV_CAPTURED).

(de call-all (fs) (mapcar (lambda (f) (f)) fs))

;; a closure made directly in the body, and one made under a let
(let ((fs ()))
  (for (i 1 3) (setq fs (cons (lambda () i) fs)))
  (assert (equal (call-all fs) '(3 2 1))))
(let ((fs ()))
  (for (i 1 3) (let ((j (* 10 i))) (setq fs (cons (lambda () (+ i j)) fs))))
  (assert (equal (call-all fs) '(33 22 11))))
;; only some passes make a closure
(let ((fs ()))
  (for (i 1 6) (when (evenp i) (setq fs (cons (lambda () i) fs))))
  (assert (equal (call-all fs) '(6 4 2))))
(let ((fs ()))
  (each ((x '(1 2 3 4)) (y '(a b c d)))
    (when (oddp x) (setq fs (cons (lambda () (list x y)) fs))))
  (assert (equal (call-all fs) '((3 c) (1 a)))))
(assert (equal (call-all (all ((x '(1 2 3))) (lambda () x))) '(1 2 3)))
;; without closures the values are right too
(assert (equal (all ((x '(1 2 3)) (y '(4 5 6))) (+ x y)) '(5 7 9)))
(let ((s 0)) (for (i 1 100) (incr s i)) (assert (= s 5050)))
