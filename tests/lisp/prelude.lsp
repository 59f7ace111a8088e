;; prelude.lsp: the Lisp definitions loaded at start-up.

(let ((l ()))
  (push 1 l)
  (push 2 l)
  (assert (equal l '(2 1)))
  (assert (= (pop l) 2))
  (assert (equal l '(1)))
  (assert (= (pop l) 1))
  (assert (not l))
  (assert (not (pop l))))
