/* test_eval.c: cmocka tests of the evaluator (interp/eval.c, object.c and
   the hash tables of value.c): every special form, closures and lexical
   scope, &optional and &rest, macros, tail calls in every tail position
   (1,000,000 iterations must not grow the C stack), objects, hash tables
   through lu_hash_*, lu_apply and lu_send from C. Expected values are
   worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lutest.h"

/* Fails unless src evaluates to a value that prints as text. */
#define assert_eval(src, text) assert_string_equal(lt_show(src), text)

/* ---- special forms ---------------------------------------------------- */

static void test_quote_and_atoms(void **state) {
  (void)state;
  assert_eval("(quote (a b))", "(a b)");
  assert_eval("'x", "x");
  assert_eval("42", "42");
  assert_eval("\"s\"", "\"s\"");
  assert_eval("()", "()");
  assert_eval("t", "t");
  assert_eval("nil", "()");
  assert_eval("(quote)", "()");
}

static void test_conditionals(void **state) {
  (void)state;
  assert_eval("(if t 1 2)", "1");
  assert_eval("(if () 1 2)", "2");
  assert_eval("(if 0 1 2)", "1"); /* only () is false */
  assert_eval("(if \"\" 1 2)", "1");
  assert_eval("(if () 1)", "()");
  assert_eval("(if () 1 2 3 4)", "4"); /* any number of else forms */
  assert_eval("(progn (setq n 0) (if () 1 (incr n) (incr n)) n)", "2");
  assert_eval("(when t 1 2 3)", "3");
  assert_eval("(when () 1)", "()");
  assert_eval("(unless () 1 2)", "2");
  assert_eval("(unless t 1)", "()");
  assert_eval("(cond (() 1) (t 2) (t 3))", "2");
  assert_eval("(cond ((+ 1 2)))", "3"); /* a clause with only a test */
  assert_eval("(cond (() 1))", "()");
  assert_eval("(cond)", "()");
  assert_eval("(cond ((= 1 1) 'a 'b))", "b");
  assert_eval("(selectq 2 (1 'one) ((2 3) 'two-or-three) (t 'other))",
              "two-or-three");
  assert_eval("(selectq 'x (1 'one) (t 'other))", "other");
  assert_eval("(selectq 'b (a 1) (b 2))", "2");
  assert_eval("(selectq \"s\" (\"s\" 'str))", "str");
  assert_eval("(selectq 9 (1 'one))", "()");
  assert_eval("(selectq (+ 1 1) (2 'a 'b))", "b");
}

static void test_and_or_not(void **state) {
  (void)state;
  assert_eval("(and)", "t");
  assert_eval("(and 1 2 3)", "3");
  assert_eval("(and 1 () 3)", "()");
  assert_eval("(or)", "()");
  assert_eval("(or () 2 3)", "2");
  assert_eval("(or () ())", "()");
  assert_eval("(progn (setq n 0) (and () (incr n)) (or 1 (incr n)) n)", "0");
  assert_eval("(not ())", "t");
  assert_eval("(not 0)", "()");
}

static void test_sequencing(void **state) {
  (void)state;
  assert_eval("(progn)", "()");
  assert_eval("(progn 1 2 3)", "3");
  assert_eval("(prog1 1 2 3)", "1");
  assert_eval("(progn (setq p 1) (prog1 p (setq p 2)))", "1");
  assert_eval("(progn (setq a 1 b (+ a 1) c (* b 10)) (list a b c))",
              "(1 2 20)");
  assert_eval("(setq q1 5)", "5");
  assert_eval("(setq)", "()");
}

static void test_let(void **state) {
  (void)state;
  assert_eval("(let ((x 1) (y 2)) (+ x y))", "3");
  assert_eval("(let () 5)", "5");
  assert_eval("(let (x (y)) (list x y))", "(() ())");
  assert_eval("(progn (setq lx 10) (let ((lx 1) (ly lx)) ly))", "10");
  assert_eval("(progn (setq lx 10) (let* ((lx 1) (ly lx)) ly))", "1");
  assert_eval("(let ((x 1)) (let ((x 2)) x))", "2");
  assert_eval("(progn (setq lz 1) (let ((lz 2)) (setq lz 3)) lz)", "1");
  assert_eval("(let ((x 1)) (setq x 2) x)", "2");
}

static void test_loops(void **state) {
  (void)state;
  assert_eval("(let ((i 0) (s 0)) (while (< i 5) (incr i) (setq s (+ s i))) "
              "s)",
              "15");
  assert_eval("(while ())", "()");
  assert_eval("(let ((n 0)) (repeat 7 (incr n)) n)", "7");
  assert_eval("(let ((n 0)) (repeat 0 (incr n)) n)", "0");
  assert_eval("(let ((l ())) (for (i 1 5) (setq l (cons i l))) l)",
              "(5 4 3 2 1)"); /* end included */
  assert_eval("(let ((l ())) (for (i 10 1 -3) (setq l (cons i l))) l)",
              "(1 4 7 10)");
  assert_eval("(let ((l ())) (for (i 0 1 0.25) (setq l (cons i l))) l)",
              "(1 0.75 0.5 0.25 0)");
  assert_eval("(let ((n 0)) (for (i 5 1) (incr n)) n)", "0");
  assert_eval("(for (i 1 3) (* i 10))", "30");
  assert_eval("(let ((s 0)) (each ((x '(1 2 3))) (setq s (+ s x))) s)", "6");
  assert_eval("(all ((x '(1 2 3))) (* x x))", "(1 4 9)");
  assert_eval("(all ((x '(1 2 3)) (y '(10 20))) (+ x y))", "(11 22)");
  assert_eval("(all ((x ())) x)", "()");
  assert_eval("(each ((x '(1 2))) (* x 5))", "10");
  assert_eval("(let ((i 1)) (incr i) (incr i 10) (decr i 2) (decr i) i)", "9");
  assert_eval("(let ((x 0.5)) (incr x 0.25))", "0.75");
}

static void test_definitions(void **state) {
  (void)state;
  assert_eval("(de test-sq (x) \"Squares.\" (* x x))", "test-sq");
  assert_eval("(test-sq 7)", "49");
  assert_eval("(de test-doc-only () \"just a string\")", "test-doc-only");
  assert_eval("(test-doc-only)", "\"just a string\""); /* body, not doc */
  assert_eval("(de test-empty ())", "test-empty");
  assert_eval("(test-empty)", "()");
  assert_eval("(defvar test-v 3)", "test-v");
  assert_eval("test-v", "3");
  assert_eval("(defvar test-v2)", "test-v2");
  assert_eval("test-v2", "()");
  assert_eval("(progn (de test-re () 1) (de test-re () 2) (test-re))", "2");
  assert_eval("((lambda (x y) (- x y)) 10 4)", "6");
  assert_eval("((lambda () 1 2))", "2");
  assert_eval("(boundp 'test-v)", "t");
  assert_eval("(boundp 'test-never-bound)", "()");
}

static void test_params(void **state) {
  (void)state;
  lt_eval("(de test-p (a &optional b (c (+ a 1)) &rest r) (list a b c r))");
  assert_eval("(test-p 1)", "(1 () 2 ())");
  assert_eval("(test-p 1 2)", "(1 2 2 ())");
  assert_eval("(test-p 1 2 3)", "(1 2 3 ())");
  assert_eval("(test-p 1 2 3 4 5)", "(1 2 3 (4 5))");
  assert_eval("(test-p 1 () ())", "(1 () () ())"); /* given (): no default */
  assert_eval("((lambda (&rest r) r))", "()");
  assert_eval("((lambda (&rest r) r) 1 2)", "(1 2)");
  assert_eval("((lambda (a . r) (list a r)) 1 2 3)", "(1 (2 3))");
  assert_eval("((lambda (&optional (a 5) (b a)) (list a b)))", "(5 5)");
  lt_assert_contains(lt_message("(test-p)"), "wrong number of arguments");
  lt_assert_contains(lt_message("((lambda (a) a) 1 2)"),
                     "wrong number of arguments (2 given)");
  lt_assert_contains(lt_message("(de test-bad (1) 1)"), "must be a symbol");
  lt_assert_contains(lt_message("(lambda (&rest) 1)"), "&rest");
  lt_assert_contains(lt_message("(lambda (&rest a b) 1)"), "&rest");
}

static void test_quasiquote(void **state) {
  (void)state;
  assert_eval("(let ((b 2) (c '(3 4))) `(a ,b ,@c d))", "(a 2 3 4 d)");
  assert_eval("(let ((c '(3 4))) `(a . ,c))", "(a 3 4)");
  assert_eval("`(1 ,@() 2)", "(1 2)");
  assert_eval("`x", "x");
  assert_eval("`,(+ 1 2)", "3");
  assert_eval("`(1 (2 ,(+ 1 2)))", "(1 (2 3))");
  assert_eval("`(1 `(2 ,(3 ,(+ 1 3))))", "(1 `(2 ,(3 4)))");
  assert_eval("(let ((l (list 1 2))) (eq (cadr `(a ,l)) l))", "t");
  /* splicing copies: the spliced list is not modified */
  assert_eval("(let ((l (list 1 2))) `(,@l 3) l)", "(1 2)");
}

static void test_closures(void **state) {
  (void)state;
  lt_eval("(de test-counter () (let ((n 0)) (lambda () (incr n))))"
          "(setq test-c1 (test-counter) test-c2 (test-counter))");
  assert_eval("(progn (test-c1) (test-c1) (test-c1))", "3");
  assert_eval("(test-c2)", "1"); /* its own n */
  assert_eval("(let ((x 1)) (let ((f (lambda () x))) (setq x 2) (f)))", "2");
  /* lexical, not dynamic */
  lt_eval("(setq test-x 'global) (de test-get-x () test-x)");
  assert_eval("(let ((test-x 'local)) (test-get-x))", "global");
  assert_eval("(let ((y 5)) (de test-get-y () y)) (test-get-y)", "5");
  /* make-adder */
  assert_eval("(let ((add (lambda (n) (lambda (x) (+ x n))))) "
              "  (list ((add 1) 10) ((add 2) 10)))",
              "(11 12)");
  /* one namespace: a variable holding a function is called directly */
  assert_eval("(let ((f car)) (f '(1 2)))", "1");
  assert_eval("(progn (setq test-g (lambda (x) (* 2 x))) (test-g 4))", "8");
  assert_eval("(let ((car cdr)) (car '(1 2)))", "(2)");
  assert_eval("((if t + -) 5 3)", "8");
  assert_eval("(funcall (lambda (a b) (list b a)) 1 2)", "(2 1)");
}

static void test_macros(void **state) {
  (void)state;
  lt_eval("(dm test-swap (a b) `(let ((tmp ,a)) (setq ,a ,b ,b tmp)))");
  assert_eval("(let ((x 1) (y 2)) (test-swap x y) (list x y))", "(2 1)");
  lt_eval("(dm test-quoted (x) (list 'quote x))");
  assert_eval("(test-quoted (a b c))", "(a b c)"); /* forms, unevaluated */
  assert_eval("(macroexpand '(test-swap p q))",
              "(let ((tmp p)) (setq p q q tmp))");
  assert_eval("(macroexpand '(car x))", "(car x)");
  /* the expansion runs in the caller's scope */
  lt_eval("(dm test-twice (x) `(progn ,x ,x))");
  assert_eval("(let ((n 0)) (test-twice (incr n)) n)", "2");
  /* a macro that defines a function */
  lt_eval("(dm test-defconst (name v) `(de ,name () ,v))"
          "(test-defconst test-seven 7)");
  assert_eval("(test-seven)", "7");
  /* recursive expansion */
  lt_eval("(dm test-my-and (&rest xs) (if (null xs) t (if (null (cdr xs)) "
          "(car xs) `(if ,(car xs) (test-my-and ,@(cdr xs)) ()))))");
  assert_eval("(test-my-and 1 2 3)", "3");
  assert_eval("(test-my-and 1 () 3)", "()");
  assert_eval("(test-my-and)", "t");
}

static void test_errors_and_cleanup(void **state) {
  (void)state;
  assert_eval("(try (error \"bad %d\" 3) (catch e (error-message e)))",
              "\"bad 3\"");
  assert_eval("(try (+ 1 2) (catch e 'no))", "3");
  assert_eval("(try 1 2 (catch e 'no))", "2");
  assert_eval("(try (car 5) (catch e (list 'caught (error-message e))))",
              "(caught \"car: argument 1: expected list, got 5\")");
  assert_eval("(progn (setq up 0) (list (unwind-protect 5 (setq up 1)) up))",
              "(5 1)");
  assert_eval("(progn (setq up 0) (try (unwind-protect (error \"x\") "
              "(setq up 1)) (catch e up)))",
              "1");
  assert_eval("(eval '(+ 1 2))", "3");
  assert_eval("(let ((x 1)) (eval '(boundp 'x)))", "()"); /* global scope */
  LuValue *t = lt_eval("(time (repeat 1000 ()))");
  assert_int_equal(t->type, LU_NUMBER);
  assert_true(LU_NUM(t) >= 0 && LU_NUM(t) < 10);
}

/* t and nil are constants: neither can be set, bound or defined. */
static void test_constants(void **state) {
  (void)state;
  const char *forms[] = {"(setq t 4)",          "(let ((t 1)) t)",
                         "(de t () 1)",         "(setq nil 4)",
                         "(let ((nil 3)) nil)", "(de nil () 1)",
                         "(defvar nil 3)",      "(lambda (nil) 1)"};
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
    LuValue *err;
    LuValue *v = lt_try(forms[i], &err);
    /* restore, so that a failure here does not break the other tests */
    lu_set_global("nil", lu_nil);
    lu_set_global("t", lu_t);
    if (v)
      fail_msg("%s raised no error", forms[i]);
  }
}

/* ---- tail calls ------------------------------------------------------- */

/* Each of these loops 1,000,000 times through a different tail position;
   with a growing C stack any of them would hit "recursion too deep". */
static void test_tail_calls(void **state) {
  (void)state;
  assert_eval("(progn (de tl-if (n acc) (if (= n 0) acc (tl-if (- n 1) (+ acc "
              "1)))) (tl-if 1000000 0))",
              "1000000");
  assert_eval("(progn (de tl-cond (n) (cond ((= n 0) 'done) (t (tl-cond (- n "
              "1))))) (tl-cond 1000000))",
              "done");
  assert_eval("(progn (de tl-when (n) (when (> n 0) (tl-when (- n 1)))) "
              "(tl-when 1000000))",
              "()");
  assert_eval("(progn (de tl-unless (n) (unless (= n 0) (tl-unless (- n 1)))) "
              "(tl-unless 1000000))",
              "()");
  assert_eval("(progn (de tl-let (n) (let ((m (- n 1))) (if (< m 0) 'ok "
              "(tl-let m)))) (tl-let 1000000))",
              "ok");
  assert_eval("(progn (de tl-let* (n) (let* ((m (- n 1))) (if (< m 0) 'ok "
              "(tl-let* m)))) (tl-let* 1000000))",
              "ok");
  assert_eval("(progn (de tl-progn (n) (progn 1 (if (= n 0) 'ok (tl-progn (- "
              "n 1))))) (tl-progn 1000000))",
              "ok");
  assert_eval("(progn (de tl-and (n) (and t (if (= n 0) 'ok (tl-and (- n "
              "1))))) (tl-and 1000000))",
              "ok");
  assert_eval("(progn (de tl-or (n) (or () (if (= n 0) 'ok (tl-or (- n 1))))) "
              "(tl-or 1000000))",
              "ok");
  assert_eval("(progn (de tl-sel (n) (selectq n (0 'ok) (t (tl-sel (- n 1))))) "
              "(tl-sel 1000000))",
              "ok");
  assert_eval("(progn (de tl-even (n) (if (= n 0) t (tl-odd (- n 1)))) "
              "(de tl-odd (n) (if (= n 0) () (tl-even (- n 1)))) "
              "(list (tl-even 1000000) (tl-even 1000001)))",
              "(t ())");
  assert_eval("(progn (setq tl-f (lambda (n) (if (= n 0) 'ok (tl-f (- n 1))))) "
              "(tl-f 1000000))",
              "ok");
  /* a macro in tail position expands and loops too */
  assert_eval("(progn (dm tl-m (n) `(tl-mac (- ,n 1))) (de tl-mac (n) (if (< "
              "n 0) 'ok (tl-m n))) (tl-mac 1000000))",
              "ok");
  /* a try handler's body is in tail position of the try */
  assert_eval("(progn (de tl-try (n) (if (= n 0) 'ok (try (error \"x\") "
              "(catch e (tl-try (- n 1)))))) (tl-try 100000))",
              "ok");
}

/* Non-tail recursion works to a reasonable depth. */
static void test_deep_recursion_works(void **state) {
  (void)state;
  /* AddressSanitizer's red zones make each C frame several times larger */
  assert_eval(LT_ASAN ? "(progn (de rec-sum (n) (if (= n 0) 0 (+ n (rec-sum "
                        "(- n 1))))) (rec-sum 3000))"
                      : "(progn (de rec-sum (n) (if (= n 0) 0 (+ n (rec-sum "
                        "(- n 1))))) (rec-sum 10000))",
              LT_ASAN ? "4501500" : "50005000");
}

/* ---- sources ---------------------------------------------------------- */

/* lu_fn_source gives back the definition, for pretty. */
static void test_fn_source(void **state) {
  (void)state;
  lt_eval("(de src-f (a &optional b) \"Doc.\" (list a b))"
          "(dm src-m (x) x)");
  assert_string_equal(lu_repr(lu_fn_source(lt_eval("src-f")), true),
                      "(de src-f (a &optional b) \"Doc.\" (list a b))");
  assert_string_equal(lu_repr(lu_fn_source(lt_eval("src-m")), true),
                      "(dm src-m (x) x)");
  assert_string_equal(lu_repr(lu_fn_source(lt_eval("(lambda (y) y)")), true),
                      "(lambda (y) y)");
}

/* ---- objects ---------------------------------------------------------- */

static void test_objects(void **state) {
  (void)state;
  lt_eval("(defclass pt object (x 0) (y 0))"
          "(defmethod pt pt (a b) (setq x a y b))"
          "(defmethod pt norm2 () (+ (* x x) (* y y)))"
          "(defmethod pt move (dx) (setq x (+ x dx)) this)"
          "(defclass pt3 pt (z 0))"
          "(defmethod pt3 norm2 () (+ (* x x) (* y y) (* z z)))"
          "(defmethod pt3 setz (v) (setq z v) this)");
  assert_eval("(==> (new pt 3 4) norm2)", "25");
  assert_eval("(let ((p (new pt 1 2))) (==> p move 10) (getslot p 'x))", "11");
  assert_eval("(let ((p (new pt 1 2))) (eq (==> p move 1) p))", "t");
  /* the subclass inherits slots, methods and the constructor */
  assert_eval("(let ((p (new pt3 1 2))) (==> p setz 2) (==> p norm2))", "9");
  assert_eval("(let ((p (new pt3 1 2))) (==> p move 1) (getslot p 'x))", "2");
  assert_eval("(is-a (new pt3 0 0) pt)", "t");
  assert_eval("(is-a (new pt 0 0) pt3)", "()");
  assert_eval("(is-a 5 pt)", "()");
  assert_eval("(eq (classof (new pt 0 0)) pt)", "t");
  assert_eval("(let ((p (new pt 1 2))) (setslot p 'y 7) (getslot p 'y))", "7");
  /* slot defaults are evaluated by each new */
  lt_eval("(defclass bag object (items (list 'a)))");
  assert_eval("(let ((a (new bag)) (b (new bag))) (eq (getslot a 'items) "
              "(getslot b 'items)))",
              "()");
  /* a slot shadows a global of the same name inside methods only */
  lt_eval("(setq x 'global-x)");
  assert_eval("(==> (new pt 5 6) norm2)", "61");
  assert_eval("x", "global-x");
  /* a closure made in a method keeps the object */
  lt_eval("(defmethod pt getter () (lambda () x))");
  assert_eval("(let* ((p (new pt 8 9)) (g (==> p getter))) (==> p move 1) "
              "(g))",
              "9");
  /* errors */
  lt_assert_contains(lt_message("(==> (new pt 0 0) nope)"), "nope");
  lt_assert_contains(lt_message("(==> 3 norm2)"), "not an object");
  lt_assert_contains(lt_message("(getslot (new pt 0 0) 'w)"), "no slot w");
  lt_assert_contains(lt_message("(new bag 1)"), "constructor");
  lt_assert_contains(lt_message("(defclass q nosuch)"), "not a class");
  lt_assert_contains(lt_message("(new pt 1)"), "wrong number of arguments");
}

static void test_send_from_c(void **state) {
  (void)state;
  lt_eval("(defclass acc object (total 0))"
          "(defmethod acc add (n) (setq total (+ total n)))");
  LuValue *obj = lt_eval("(new acc)");
  LuValue *add = lu_intern("add");
  assert_true(lu_responds(obj, add));
  assert_false(lu_responds(obj, lu_intern("sub")));
  assert_false(lu_responds(lu_number(1), add));
  LuValue *args[] = {lu_number(5)};
  lu_send(obj, add, 1, args);
  LuValue *r = lu_send(obj, add, 1, args);
  assert_int_equal(r->type, LU_NUMBER);
  assert_true(LU_NUM(r) == 10);
}

/* ---- lu_apply --------------------------------------------------------- */

typedef struct {
  LuValue *fn;
  int argc;
  LuValue **argv;
  LuValue *result;
} ApplyCall;

static void apply_call(void *ud) {
  ApplyCall *a = ud;
  a->result = lu_apply(a->fn, a->argc, a->argv);
}

/* lu_apply under lu_pcall: the result, or NULL with the error in *err. */
static LuValue *apply(LuValue *fn, int argc, LuValue **argv, LuValue **err) {
  ApplyCall a = {fn, argc, argv, NULL};
  return lu_pcall(apply_call, &a, err) ? a.result : NULL;
}

static void test_apply(void **state) {
  (void)state;
  LuValue *err;
  LuValue *nums[] = {lu_number(1), lu_number(2), lu_number(3)};
  LuValue *r = apply(lu_global("+"), 3, nums, &err);
  assert_non_null(r);
  assert_true(LU_NUM(r) == 6);
  r = apply(lu_global("list"), 0, NULL, &err);
  assert_ptr_equal(r, lu_nil);
  r = apply(lt_eval("(lambda (a &rest r) (cons r a))"), 3, nums, &err);
  assert_string_equal(lu_repr(r, true), "((2 3) . 1)");
  r = apply(lt_eval("(lambda (x) (* x 2))"), 1, nums + 2, &err);
  assert_true(LU_NUM(r) == 6);
  assert_null(apply(lu_global("car"), 2, nums, &err));
  lt_assert_contains(err->err->message->str.s, "wrong number of arguments");
  assert_null(apply(lu_global("car"), 1, nums, &err));
  lt_assert_contains(err->err->message->str.s,
                     "car: argument 1: expected list, got 1");
  assert_null(apply(lu_global("if"), 1, nums, &err));
  lt_assert_contains(err->err->message->str.s, "special form");
  assert_null(apply(lu_number(3), 0, NULL, &err));
  lt_assert_contains(err->err->message->str.s, "not a function");
  assert_null(apply(lt_eval("(lambda (a b) a)"), 1, nums, &err));
  lt_assert_contains(err->err->message->str.s, "wrong number of arguments");
  /* from Lisp */
  assert_eval("(apply + 1 2 '(3 4))", "10");
  assert_eval("(apply list '())", "()");
}

/* ---- hash tables ------------------------------------------------------ */

static bool collect(LuValue *k, LuValue *v, void *ud) {
  LuValue **acc = ud;
  *acc = lu_cons(lu_cons(k, v), *acc);
  return true;
}

static bool stop_after_two(LuValue *k, LuValue *v, void *ud) {
  (void)k, (void)v;
  return ++*(int *)ud < 2;
}

static const char *entries(LuValue *h) {
  LuValue *acc = lu_nil;
  lu_hash_each(h, collect, &acc);
  return lu_repr(lu_nreverse(acc), true);
}

static void test_hash_basics(void **state) {
  (void)state;
  LuValue *h = lu_hash_new();
  assert_int_equal(lu_hash_count(h), 0);
  assert_null(lu_hash_get(h, lu_number(1)));
  assert_false(lu_hash_remove(h, lu_number(1)));
  lu_hash_set(h, lu_cstring("b"), lu_number(1));
  lu_hash_set(h, lu_number(2), lu_number(2));
  lu_hash_set(h, lu_list(2, lu_intern("x"), lu_number(1)), lu_number(3));
  lu_hash_set(h, lu_intern("sym"), lu_number(4));
  assert_int_equal(lu_hash_count(h), 4);
  /* keys compare with equal: fresh copies find the entries */
  assert_true(LU_NUM(lu_hash_get(h, lu_cstring("b"))) == 1);
  assert_true(LU_NUM(lu_hash_get(h, lu_number(2.0))) == 2);
  assert_true(
      LU_NUM(lu_hash_get(h, lu_list(2, lu_intern("x"), lu_number(1)))) == 3);
  assert_true(LU_NUM(lu_hash_get(h, lu_intern("sym"))) == 4);
  assert_null(lu_hash_get(h, lu_cstring("B")));
  assert_null(lu_hash_get(h, lu_list(2, lu_intern("x"), lu_number(2))));
  /* overwrite keeps the place and the count */
  lu_hash_set(h, lu_cstring("b"), lu_number(10));
  assert_int_equal(lu_hash_count(h), 4);
  assert_string_equal(entries(h),
                      "((\"b\" . 10) (2 . 2) ((x 1) . 3) (sym . 4))");
  /* removal keeps the others in order; a re-added key goes last */
  assert_true(lu_hash_remove(h, lu_number(2)));
  assert_false(lu_hash_remove(h, lu_number(2)));
  assert_null(lu_hash_get(h, lu_number(2)));
  assert_int_equal(lu_hash_count(h), 3);
  lu_hash_set(h, lu_number(2), lu_number(20));
  assert_string_equal(entries(h),
                      "((\"b\" . 10) ((x 1) . 3) (sym . 4) (2 . 20))");
  int seen = 0;
  lu_hash_each(h, stop_after_two, &seen);
  assert_int_equal(seen, 2);
  /* -0 and 0 are equal, so they are one key */
  lu_hash_set(h, lu_number(0.0), lu_intern("zero"));
  lu_hash_set(h, lu_number(-0.0), lu_intern("minus-zero"));
  assert_int_equal(lu_hash_count(h), 5);
  assert_ptr_equal(lu_hash_get(h, lu_number(0)), lu_intern("minus-zero"));
}

static void test_hash_many(void **state) {
  (void)state;
  LuValue *h = lu_hash_new();
  enum { N = 3000, M = 500 };
  for (int i = 0; i < N; i++) {
    char k[32];
    snprintf(k, sizeof k, "key%d", i);
    lu_hash_set(h, lu_cstring(k), lu_number(i));
    if (i < M)
      lu_hash_set(h, lu_number(i + 0.5), lu_number(-i));
  }
  assert_int_equal(lu_hash_count(h), N + M);
  for (int i = 0; i < N; i++) {
    char k[32];
    snprintf(k, sizeof k, "key%d", i);
    assert_true(LU_NUM(lu_hash_get(h, lu_cstring(k))) == i);
    if (i < M)
      assert_true(LU_NUM(lu_hash_get(h, lu_number(i + 0.5))) == -i);
  }
  for (int i = 0; i < M; i += 2)
    assert_true(lu_hash_remove(h, lu_number(i + 0.5)));
  assert_int_equal(lu_hash_count(h), N + M / 2);
  for (int i = 0; i < M; i++)
    assert_true((lu_hash_get(h, lu_number(i + 0.5)) == NULL) == (i % 2 == 0));
  assert_true(LU_NUM(lu_hash_get(h, lu_cstring("key2999"))) == 2999);
}

/* Integer keys are the common case (indices, labels): 100,000 of them
   insert, look up and remove in well under the time limit. Run in a child
   so that a quadratic table cannot stall the suite. */
static void test_hash_scaling(void **state) {
  (void)state;
  LtOpts o = {.timeout = 4};
  LtProc p = lt_run_opts(
      (const char *[]){"", "-p",
                       "(let ((h (htable)) (ok t)) "
                       "  (for (i 1 100000) (hset h i (* 2 i)))"
                       "  (for (i 1 100000) (unless (= (hget h i) (* 2 i)) "
                       "                      (setq ok ())))"
                       "  (for (i 1 100000) (hrem h i))"
                       "  (list ok (hcount h)))",
                       NULL},
      &o);
  if (p.timed_out)
    fail_msg("100,000 integer keys took more than 4 s");
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "(t 0)\n");
  lt_free(&p);
}

int main(void) {
  int base;
  lt_start(&base);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quote_and_atoms),
      cmocka_unit_test(test_conditionals),
      cmocka_unit_test(test_and_or_not),
      cmocka_unit_test(test_sequencing),
      cmocka_unit_test(test_let),
      cmocka_unit_test(test_loops),
      cmocka_unit_test(test_definitions),
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_quasiquote),
      cmocka_unit_test(test_closures),
      cmocka_unit_test(test_macros),
      cmocka_unit_test(test_errors_and_cleanup),
      cmocka_unit_test(test_constants),
      cmocka_unit_test(test_tail_calls),
      cmocka_unit_test(test_deep_recursion_works),
      cmocka_unit_test(test_fn_source),
      cmocka_unit_test(test_objects),
      cmocka_unit_test(test_send_from_c),
      cmocka_unit_test(test_apply),
      cmocka_unit_test(test_hash_basics),
      cmocka_unit_test(test_hash_many),
      cmocka_unit_test(test_hash_scaling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
