;; core.lsp: the language from Lisp: every special form,
;; closures and lexical scope, &optional and &rest, macros, quasiquote,
;; objects (slots as variables, inheritance, constructors), errors (try,
;; catch, error-message, unwind-protect), help and apropos, and the
;; stability of sort. Names are prefixed core- to stay clear of the harness.

;; ---- values and truth
(assert (eq () nil))
(assert (null ()))
(assert (eq t 't))
(assert (if 0 t ()))                     ; 0 and "" are true: only () is false
(assert (if "" t ()))
(assert (not (not 'x)))
(assert (eq (quote core-sym) 'core-sym))
(assert (not (eq 'Core-Sym 'core-sym)))  ; symbols are case-sensitive
(assert (equal '(1 "two" (3 . 4)) (list 1 "two" (cons 3 4))))
(assert (= 1e3 1000))
(assert (equal (sprintf "%l" 0.1) "0.1"))
(assert (equal (sprintf "%l" 3) "3"))
(assert (equal (sprintf "%l" (/ 10 4)) "2.5"))

;; ---- defining
(de core-sq (x) "Squares X." (* x x))
(assert (= (core-sq 9) 81))
(assert (eq (de core-tmp () 1) 'core-tmp))
(de core-opt (a &optional b (c (* a 10)) &rest r) (list a b c r))
(assert (equal (core-opt 1) '(1 () 10 ())))
(assert (equal (core-opt 1 2 3 4 5) '(1 2 3 (4 5))))
(assert-error (core-opt) "wrong number of arguments")
(de core-two (a b) (list a b))
(assert-error (core-two 1 2 3) "core-two: wrong number of arguments (3 given)")
(assert (equal ((lambda (&rest xs) xs) 1 2 3) '(1 2 3)))
(assert (equal ((lambda (x) (list x x)) 'y) '(y y)))
(defvar core-v 5 "A variable.")
(assert (= core-v 5))
(defvar core-v-unset)
(assert (null core-v-unset))

;; ---- control
(setq core-a 1 core-b (+ core-a 1))     ; pairs in turn
(assert (= core-b 2))
(assert (= (let ((x 1) (y 2)) (+ x y)) 3))
(assert (= (let ((core-a 10) (y core-a)) y) 1))   ; let: inits see the outside
(assert (= (let* ((core-a 10) (y core-a)) y) 10)) ; let*: in order
(assert (= core-a 1))
(assert (= (progn 1 2 3) 3))
(assert (= (prog1 1 2 3) 1))
(assert (= (if t 1 2) 1))
(assert (= (if () 1 2 3) 3))
(assert (null (if () 1)))
(assert (= (when t 1 2) 2))
(assert (null (when () 1)))
(assert (= (unless () 1 2) 2))
(assert (null (unless t 1)))
(assert (eq (cond ((= 1 2) 'a) ((= 1 1) 'b) (t 'c)) 'b))
(assert (= (cond ((+ 2 3))) 5))
(assert (null (cond (() 1))))
(assert (eq (selectq 3 (1 'one) ((2 3) 'few) (t 'many)) 'few))
(assert (eq (selectq 'z (a 1) (t 'other)) 'other))
(assert (null (selectq 9 (1 'one))))
(assert (eq (and) t))
(assert (= (and 1 2) 2))
(assert (null (and 1 () (error "not reached"))))
(assert (null (or)))
(assert (= (or () 4 (error "not reached")) 4))
(assert (eq (not ()) t))
(assert (null (not 5)))
(assert (= (let ((i 0)) (while (< i 10) (incr i)) i) 10))
(assert (null (while ())))
(assert (= (let ((n 0)) (repeat 4 (incr n 2)) n) 8))
(assert (equal (let ((l ())) (for (i 1 4) (setq l (cons i l))) l) '(4 3 2 1)))
(assert (equal (let ((l ())) (for (i 6 0 -2) (setq l (cons i l))) l) '(0 2 4 6)))
(assert (= (let ((s 0)) (each ((x '(1 2 3)) (y '(10 20 30))) (setq s (+ s (* x y)))) s)
           140))
(assert (equal (all ((x '(1 2 3))) (+ x 1)) '(2 3 4)))
(assert (equal (all ((x '(a b c)) (i '(1 2))) (list x i)) '((a 1) (b 2))))
(assert (= (let ((x 5)) (incr x) (incr x 10) x) 16))
(assert (= (let ((x 5)) (decr x) (decr x 0.5) x) 3.5))
(assert-error (let ((x "s")) (incr x)) "not a number")
(assert-error (for (i 1 10 0) ()) "STEP")

;; ---- quasiquote
(setq core-l '(2 3))
(assert (equal `(1 ,@core-l 4) '(1 2 3 4)))
(assert (equal `(x ,(car core-l) (y ,(cadr core-l))) '(x 2 (y 3))))
(assert (equal `(a . ,core-l) '(a 2 3)))
(assert (equal `(,@core-l) core-l))
(assert (not (eq `(,@core-l) core-l)))  ; spliced lists are copied
(assert (equal `("s" ,(+ 1 1)) '("s" 2)))

;; ---- closures and lexical scope
(de core-make-counter ()
  (let ((n 0))
    (lambda () (incr n))))
(setq core-c1 (core-make-counter) core-c2 (core-make-counter))
(core-c1)
(core-c1)
(assert (= (core-c1) 3))
(assert (= (core-c2) 1))
(setq core-dyn 'global)
(de core-see-dyn () core-dyn)
(assert (eq (let ((core-dyn 'local)) (core-see-dyn)) 'global)) ; not dynamic
(de core-adder (n) (lambda (x) (+ x n)))
(assert (= ((core-adder 5) 10) 15))
(assert (equal (mapcar (core-adder 1) '(1 2 3)) '(2 3 4)))
(let ((f core-sq))                      ; one namespace
  (assert (= (f 4) 16)))
(setq core-fn (lambda (x) (* 3 x)))
(assert (= (core-fn 3) 9))
(assert (= ((if t + *) 2 3) 5))
;; a shared variable between two closures
(de core-pair ()
  (let ((v 0))
    (list (lambda () v) (lambda (x) (setq v x)))))
(let ((p (core-pair)))
  ((cadr p) 42)
  (assert (= ((car p)) 42)))

;; each iteration of a loop binds its variable afresh, as a call would:
;; closures made in the body keep their own value
(assert (equal (mapcar (lambda (f) (f)) (all ((x '(1 2 3))) (lambda () x)))
               '(1 2 3)))
(assert (equal (let ((fs ()))
                 (for (i 1 3) (setq fs (cons (lambda () i) fs)))
                 (mapcar (lambda (f) (f)) fs))
               '(3 2 1)))
(assert (equal (let ((fs ()))
                 (each ((x '(a b))) (setq fs (cons (lambda () x) fs)))
                 (mapcar (lambda (f) (f)) fs))
               '(b a)))

;; ---- macros
(dm core-unless2 (c &rest body) `(if ,c () ,@body))
(assert (= (core-unless2 () 1 2) 2))
(assert (null (core-unless2 t (error "not reached"))))
(dm core-form-of (x) (list 'quote x))   ; arguments arrive unevaluated
(assert (equal (core-form-of (+ 1 2)) '(+ 1 2)))
(assert (equal (macroexpand '(core-unless2 a b)) '(if a () b)))
(dm core-inc2 (v) `(setq ,v (+ ,v 2)))
(assert (= (let ((k 1)) (core-inc2 k) k) 3)) ; expansion in the caller's scope

;; ---- tail calls: a loop of 1,000,000 calls
(de core-loop (n acc) (if (= n 0) acc (core-loop (- n 1) (+ acc 2))))
(assert (= (core-loop 1000000 0) 2000000))
(de core-count-down (n) (cond ((= n 0) 'done) (t (core-count-down (- n 1)))))
(assert (eq (core-count-down 1000000) 'done))

;; ---- errors
(assert (equal (try (error "bad %s %d" "thing" 3) (catch e (error-message e)))
               "bad thing 3"))
(assert (= (try (+ 1 2) (catch e 0)) 3))
(assert (equal (try (car 'x) (catch e (error-message e)))
               "car: argument 1: expected list, got x"))
(assert (equal (car (try (car 'x) (catch e (error-where e)))) (car (form-where '(here)))))
(assert (consp (try (list (car 'x)) (catch e (error-backtrace e)))))
(assert-error (error "plain message") "plain message")
(assert-error (try (error "first") (catch e (error "second"))) "second")
(assert-error (undefined-core-function 1) "unbound symbol: undefined-core-function")
(assert-error (core-sq) "wrong number of arguments")
(assert-error ("str" 1) "not a function")
(setq core-cleaned ())
(assert (= (unwind-protect 7 (setq core-cleaned 'yes)) 7))
(assert (eq core-cleaned 'yes))
(setq core-cleaned ())
(assert-error (unwind-protect (error "inside") (setq core-cleaned 'yes)) "inside")
(assert (eq core-cleaned 'yes))
(assert (eq (try (unwind-protect (car 1) (setq core-cleaned 'again))
                 (catch e core-cleaned))
            'again))
(de core-deep (n) (if (= n 0) 0 (+ 1 (core-deep (- n 1)))))
(assert-error (core-deep 100000) "recursion too deep")
(assert (= (core-deep 1000) 1000))      ; and all is well after it

;; ---- objects
(defclass core-pt object (x 0) (y 0))
(defmethod core-pt core-pt (a b) (setq x a y b))
(defmethod core-pt norm2 () (+ (* x x) (* y y)))
(defmethod core-pt scale (k) (setq x (* k x) y (* k y)) this)
(defmethod core-pt describe () (list 'pt x y))
(setq core-p (new core-pt 3 4))
(assert (= (==> core-p norm2) 25))
(assert (eq (==> core-p scale 2) core-p))  ; this is the object
(assert (= (getslot core-p 'x) 6))
(assert (equal (==> core-p describe) '(pt 6 8)))
(defclass core-pt3 core-pt (z 1))
(defmethod core-pt3 norm2 () (+ (* x x) (* y y) (* z z)))   ; override
(setq core-q (new core-pt3 1 2))          ; the inherited constructor
(assert (= (==> core-q norm2) 6))
(assert (equal (==> core-q describe) '(pt 1 2)))            ; inherited method
(assert (is-a core-q core-pt))
(assert (not (is-a core-p core-pt3)))
(assert (eq (classof core-q) core-pt3))
(setslot core-q 'z 5)
(assert (= (==> core-q norm2) 30))
(defclass core-plain object (items (list 'fresh)))
(assert (not (eq (getslot (new core-plain) 'items) (getslot (new core-plain) 'items))))
(assert-error (==> core-p no-such-method) "no-such-method")
(assert-error (new core-plain 1) "constructor")
(assert-error (getslot core-p 'w) "no slot w")
(setq x 'outside)
(assert (= (==> (new core-pt 1 1) norm2) 2))  ; slots shadow globals in methods
(assert (eq x 'outside))

;; ---- hash tables
(let ((h (htable)))
  (hset h "k" 1)
  (hset h '(1 2) 'list-key)
  (assert (= (hget h (concat "" "k")) 1))
  (assert (eq (hget h (list 1 2)) 'list-key))
  (assert (= (hcount h) 2)))

;; ---- help and apropos
(assert (null (help 'core-sq)))
(assert (null (help 'car)))
(assert (member 'core-sq (apropos "core-s")))
(assert (member 'apropos (apropos "aprop")))
(assert (null (apropos "no-symbol-has-this-name-xyz")))
(let ((names (apropos "core-")))
  (assert (equal names (sort names (lambda (a b) (string< (symbol->string a)
                                                          (symbol->string b)))))))

;; ---- sort is stable
(setq core-pairs '((1 a) (0 b) (1 c) (0 d) (2 e) (1 f)))
(assert (equal (sort core-pairs (lambda (p q) (< (car p) (car q))))
               '((0 b) (0 d) (1 a) (1 c) (1 f) (2 e))))
(assert (equal core-pairs '((1 a) (0 b) (1 c) (0 d) (2 e) (1 f))))  ; untouched
(let* ((items (all ((i (range 2000))) (list (mod (* i 7) 10) i)))
       (sorted (sort items (lambda (p q) (< (car p) (car q)))))
       (ok t)
       (prev (car sorted)))
  (assert (= (length sorted) 2000))
  (each ((s (cdr sorted)))
    (when (or (< (car s) (car prev))
              (and (= (car s) (car prev)) (< (cadr s) (cadr prev))))
      (setq ok ()))
    (setq prev s))
  (assert ok))

;; ---- redefinitions take effect: functions, macros, inline arithmetic
(de core-callee () 1)
(de core-caller () (core-callee))
(assert (= (core-caller) 1))
(de core-callee () 2)
(assert (= (core-caller) 2))
(dm core-mac () 10)
(de core-mac-user () (core-mac))
(assert (= (core-mac-user) 10))
(dm core-mac () 20)
(assert (= (core-mac-user) 20))
(de core-plus (a b) (+ a b))
(assert (= (core-plus 1 2) 3))
(let ((saved +))
  (setq + (lambda (a b) (list a b)))
  (assert (equal (try (core-plus 1 2) (catch e e)) '(1 2)))
  (setq + saved))
(assert (= (core-plus 1 2) 3))
(assert-error (core-plus 1 "a") "+: argument 2: expected number")
(assert (equal (eval (list 'let '((x 2)) (list '* 'x 3.5))) 7))

;; ---- numbers computed in compiled code are ordinary numbers outside it
(de core-float-sum (n) (let ((s 0)) (for (i 1 n) (setq s (+ s (* i 0.5)))) s))
(assert (= (core-float-sum 1000) 250250))
(let ((l ()) (x 0.1))
  (repeat 3 (setq x (* x 3)) (setq l (cons x l)))
  (assert (equal (mapcar numberp l) '(t t t)))
  (assert (equal (sprintf "%l" (car l)) "2.7")))
(assert (equal (all ((x '(1 2 3))) (* x 1.5)) '(1.5 3 4.5)))
(assert (equal (let ((x 2.5)) `(a ,(* x 2) ,@(list (+ x 1)))) '(a 5 3.5)))
(assert (= (apply (lambda (&rest r) (car r)) (list (* 2 0.25))) 0.5))
(setq core-g (* 3 0.5))
(assert (= core-g 1.5))
(let ((x 1e300)) (assert (= (* x 10) 1e301)))  ; beyond what travels unboxed

;; ---- user code changing the lists the evaluator walks
(let* ((params (list 'a 'b))
       (f (eval (list 'lambda params '(list a b)))))
  (rplacd params 5)                     ; the lambda list, after the fact
  (assert (equal (f 1 2) '(1 2))))
(let ((l (list 1 2 3)) (n 0))
  (each ((x l)) (rplacd (cdr l) 5) (incr n))  ; the list each walks
  (assert (= n 2)))
(let ((l (list 1 2 3)))
  (assert (equal (all ((x l)) (rplacd (cdr l) 7) x) '(1 2))))

;; ---- circular and deeply nested code: an error, never a hang or a crash
(let ((p (list 'a)))
  (rplacd p p)
  (assert-error (eval (list 'lambda p 'a)) "circular"))
(let ((b (list 1)))
  (rplacd b b)
  (assert-error (eval (cons 'progn b)) "circular")
  (assert-error (eval (cons 'lambda (cons () b))) "circular"))
(let ((x (list 'car 1)))
  (rplaca (cdr x) x)                    ; a form that contains itself
  (assert-error (eval x) "too deep"))
(let ((x 1))
  (repeat 200000 (setq x (list x)))
  (assert-error (eval (list 'quasiquote x)) "too deep"))
(let ((x 1))
  (repeat 100 (setq x (list x)))
  (assert (equal (eval (list 'quasiquote x)) x)))

;; ---- a backtrace says when tail calls were elided
(de core-tail (n) (if (= n 0) (car 'x) (core-tail (- n 1))))
(let ((trace (try (core-tail 5) (catch e (error-backtrace e)))))
  (assert (search "(car 'x)" (car trace)))
  (assert (search "tail calls elided" (cadr trace))))
