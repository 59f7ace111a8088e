;; harness.lsp: runs one Lisp test suite: lush89 tests/harness.lsp SUITE.lsp
;; A suite is top-level forms using (assert EXPR) and (assert-error EXPR [TEXT]).
;; Prints "SUITE: ok N, failed M" and exits 1 when anything failed.

(defvar test-passed 0)
(defvar test-failed 0)

(de test-fail (form where why)
  (incr test-failed)
  (printf "%s:%s: FAILED %l: %s\n"
          (if where (car where) "?") (if where (cadr where) "?") form why))

(dm assert (form)
  "Passes when FORM evaluates to a value other than ()."
  `(let ((outcome (try (if ,form 'pass 'false) (catch e (error-message e)))))
     (if (eq outcome 'pass)
         (incr test-passed)
       (test-fail ',form ',(form-where form)
                  (if (eq outcome 'false) "returned ()"
                    (concat "raised: " outcome))))))

(dm assert-error (form &optional text)
  "Passes when FORM raises an error whose message contains TEXT."
  `(let ((outcome (try ,form 'no-error (catch e (error-message e)))))
     (cond ((eq outcome 'no-error)
            (test-fail ',form ',(form-where form) "raised no error"))
           ((and ,text (not (search ,text outcome)))
            (test-fail ',form ',(form-where form)
                       (concat "raised another error: " outcome)))
           (t (incr test-passed)))))

(let ((suite (cadr argv)))
  (try (load suite)
       (catch e
         (incr test-failed)
         (printf "%s: stopped by an error outside any assert: %s %l\n"
                 suite (error-message e) (error-where e))))
  (printf "%s: ok %d, failed %d\n" suite test-passed test-failed)
  (exit (if (> test-failed 0) 1 0)))
