/* test_error.c: cmocka tests of the one error path (interp/error.c and
   its users): lu_pcall, lu_error's message, location and backtrace,
   arity messages from usage lines, the argument checkers' message form,
   recursion too deep as an error the interpreter survives, allocations too
   large, unwind-protect, Ctrl-C (lu_interrupted) as a "*** Break" that try
   does not catch, and lu_report's output. Test builtins defined here with
   LU_DEFUN exercise the checkers exactly as runtime modules use them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lutest.h"

/* ---- builtins for the tests ------------------------------------------- */

LU_DEFUN(t_num, "(t-num X)", "lu_arg_num") {
  return lu_number(lu_arg_num(argv, 0));
}
LU_DEFUN(t_int, "(t-int X)", "lu_arg_int") {
  return lu_number((double)lu_arg_int(argv, 0));
}
LU_DEFUN(t_str, "(t-str X)", "lu_arg_str") {
  return lu_cstring(lu_arg_str(argv, 0));
}
LU_DEFUN(t_sym, "(t-sym X)", "lu_arg_sym") {
  return lu_arg_sym(argv, 0);
}
LU_DEFUN(t_list, "(t-list X)", "lu_arg_list") {
  return lu_arg_list(argv, 0);
}
LU_DEFUN(t_hash, "(t-hash X Y)", "lu_arg_type, second argument") {
  return lu_arg_type(argv, 1, LU_HASH);
}
LU_DEFUN(t_opt, "(t-opt A [B C])", "one to three arguments") {
  return lu_number(argc + 10 * lu_arg_given(argv, argc, 1));
}
LU_DEFUN(t_nested, "(t-nested A [B [C]])", "one to three arguments") {
  (void)argv;
  return lu_number(argc);
}
LU_DEFUN(t_rest, "(t-rest A B...)", "one or more arguments") {
  (void)argv;
  return lu_number(argc);
}
LU_DEFUN(t_none, "(t-none)", "no argument") {
  (void)argv;
  return lu_t;
}
LU_DEFUN(t_interrupt, "(t-interrupt)", "as if Ctrl-C were pressed") {
  (void)argv;
  lu_interrupted = 1;
  return lu_t;
}
LU_DEFUN(t_alloc, "(t-alloc N)", "allocates N bytes") {
  lu_alloc_atomic((size_t)lu_arg_num(argv, 0), "t-alloc");
  return lu_t;
}
LU_DEFUN(t_alloc_ptr, "(t-alloc-ptr N)", "allocates N bytes with lu_alloc") {
  lu_alloc((size_t)lu_arg_num(argv, 0));
  return lu_t;
}

static LuBuiltin *const test_builtins[] = {
    &t_num_builtin,       &t_int_builtin,
    &t_str_builtin,       &t_sym_builtin,
    &t_list_builtin,      &t_hash_builtin,
    &t_opt_builtin,       &t_nested_builtin,
    &t_rest_builtin,      &t_none_builtin,
    &t_interrupt_builtin, &t_alloc_builtin,
    &t_alloc_ptr_builtin, NULL};

static void register_builtins(void *ud) {
  (void)ud;
  lu_register(test_builtins);
}

static void assert_message(const char *src, const char *msg) {
  assert_string_equal(lt_message(src), msg);
}

/* ---- lu_pcall and lu_error -------------------------------------------- */

static void raise_it(void *ud) {
  lu_error("raised %s %d", (char *)ud, 42);
}
static void fine(void *ud) {
  *(int *)ud = 7;
}

static void nested(void *ud) {
  LuValue *err;
  bool ok = lu_pcall(raise_it, "inner", &err);
  assert_false(ok);
  *(LuValue **)ud = err;
  lu_error("outer");
}

static void test_pcall(void **state) {
  (void)state;
  int x = 0;
  LuValue *err = NULL;
  assert_true(lu_pcall(fine, &x, &err));
  assert_int_equal(x, 7);
  assert_false(lu_pcall(raise_it, "here", &err));
  assert_int_equal(err->type, LU_ERROR);
  assert_string_equal(err->err->message->str.s, "raised here 42");
  assert_false(err->err->is_break);
  LuValue *inner = NULL;
  assert_false(lu_pcall(nested, &inner, &err));
  assert_string_equal(inner->err->message->str.s, "raised inner 42");
  assert_string_equal(err->err->message->str.s, "outer");
  /* the frame stack and the current builtin are restored */
  assert_null(lu_frame);
  assert_null(lu_current);
  lt_message("(list 1 (car 3))");
  assert_null(lu_frame);
  assert_null(lu_current);
  /* a long message is kept whole enough to be useful */
  char big[700];
  memset(big, 'm', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_false(lu_pcall(raise_it, big, &err));
  assert_true(strlen(err->err->message->str.s) >= 200);
}

static void test_location_and_backtrace(void **state) {
  (void)state;
  LuValue *err = lt_error("(de bt-f () (list (car 3)))\n(bt-f)");
  assert_string_equal(err->err->message->str.s,
                      "car: argument 1: expected list, got 3");
  lt_assert_where(err, "<test>", 1, 19);
  LuValue *tr = err->err->trace;
  assert_int_equal(lu_length(tr), 2);
  lt_assert_contains(LU_CAR(tr)->str.s, "(car 3)");
  lt_assert_contains(LU_CAR(tr)->str.s, "<test>:1:19");
  lt_assert_contains(LU_CAR(LU_CDR(tr))->str.s, "(bt-f)");
  lt_assert_contains(LU_CAR(LU_CDR(tr))->str.s, "<test>:2:1");
  /* innermost first; the tail call to bt-c replaced its caller's frame */
  err = lt_error("(de bt-a () (list (bt-b)))\n"
                 "(de bt-b () (list (bt-c)))\n"
                 "(de bt-c () (car 3))\n"
                 "(bt-a)");
  lt_assert_where(err, "<test>", 3, 13);
  tr = err->err->trace;
  assert_int_equal(lu_length(tr), 3);
  assert_memory_equal(LU_CAR(tr)->str.s, "(car 3)", 7);
  assert_memory_equal(LU_CAR(LU_CDR(tr))->str.s, "(bt-b)", 6);
  assert_memory_equal(LU_CAR(LU_CDR(LU_CDR(tr)))->str.s, "(bt-a)", 6);
  /* an unbound symbol: the list form around it */
  err = lt_error("(de bt-u ()\n  (+ 1 no-such-var))\n(bt-u)");
  assert_string_equal(err->err->message->str.s, "unbound symbol: no-such-var");
  lt_assert_where(err, "<test>", 2, 3);
  /* a form a macro made has no location: the nearest written one */
  err = lt_error("(dm bt-m () (list 'car 3))\n(list\n (bt-m))");
  lt_assert_contains(err->err->message->str.s, "expected list, got 3");
  assert_true(err->err->where != lu_nil);
}

/* A symbol evaluated at top level still has a location: its own. */
static void test_toplevel_symbol_location(void **state) {
  (void)state;
  LuValue *err = lt_error("(+ 1 2)\n  no-such-var-2");
  assert_string_equal(err->err->message->str.s,
                      "unbound symbol: no-such-var-2");
  lt_assert_where(err, "<test>", 2, 3);
}

static void test_long_backtrace(void **state) {
  (void)state;
  LuValue *err = lt_error("(de bt-r (n) (if (= n 0) (car 3) "
                          "(list (bt-r (- n 1)))))\n(bt-r 500)");
  LuValue *tr = err->err->trace;
  long n = lu_length(tr);
  assert_true(n >= 5 && n <= 60); /* the middle is elided */
  assert_memory_equal(LU_CAR(tr)->str.s, "(car 3)", 7);
  bool elided = false;
  for (LuValue *l = tr; l != lu_nil; l = LU_CDR(l))
    elided |= strstr(LU_CAR(l)->str.s, "more") != NULL;
  assert_true(elided);
  /* the outermost call is kept */
  while (LU_CDR(tr) != lu_nil)
    tr = LU_CDR(tr);
  lt_assert_contains(LU_CAR(tr)->str.s, "(bt-r 500)");
  /* a very long call is shortened */
  err = lt_error("(car \"a very long string, longer than any line of a "
                 "backtrace should be, by far: 0123456789012345678901234\")");
  assert_true(strlen(LU_CAR(err->err->trace)->str.s) < 120);
}

/* ---- messages --------------------------------------------------------- */

static void test_arity_messages(void **state) {
  (void)state;
  const char *m = lt_message("(car 1 2)");
  lt_assert_contains(m, "car: wrong number of arguments (2 given)");
  lt_assert_contains(m, "(car LIST)");
  m = lt_message("(de ar-f (a b) a) (ar-f 1)");
  lt_assert_contains(m, "ar-f: wrong number of arguments (1 given)");
  lt_assert_contains(m, "(ar-f a b)");
  lt_assert_contains(lt_message("(cons 1)"),
                     "cons: wrong number of arguments (1 given)");
  /* usage lines give the arity */
  lt_assert_contains(lt_message("(t-opt)"), "t-opt: wrong number");
  assert_string_equal(lt_show("(t-opt 1)"), "1");
  assert_string_equal(lt_show("(t-opt 1 2)"), "12");
  assert_string_equal(lt_show("(t-opt 1 () 3)"), "3");
  lt_assert_contains(lt_message("(t-opt 1 2 3 4)"), "(4 given)");
  assert_string_equal(lt_show("(t-nested 1 2 3)"), "3");
  lt_assert_contains(lt_message("(t-nested 1 2 3 4)"), "(4 given)");
  lt_assert_contains(lt_message("(t-nested)"), "(0 given)");
  lt_assert_contains(lt_message("(t-rest)"), "(0 given)");
  assert_string_equal(lt_show("(t-rest 1)"), "1");
  assert_string_equal(lt_show("(t-rest 1 2 3 4 5 6 7 8 9 10)"), "10");
  assert_string_equal(lt_show("(t-none)"), "t");
  lt_assert_contains(lt_message("(t-none 1)"), "(1 given)");
}

static void test_checker_messages(void **state) {
  (void)state;
  assert_message("(car 3)", "car: argument 1: expected list, got 3");
  assert_message("(+ 1 \"a\")", "+: argument 2: expected number, got \"a\"");
  assert_message("(t-num 'x)", "t-num: argument 1: expected number, got x");
  assert_message("(t-int 1.5)", "t-int: argument 1: expected integer, got 1.5");
  assert_message("(t-int \"1\")",
                 "t-int: argument 1: expected number, got \"1\"");
  assert_message("(t-str 1)", "t-str: argument 1: expected string, got 1");
  assert_message("(t-sym \"s\")",
                 "t-sym: argument 1: expected symbol, got \"s\"");
  assert_message("(t-list 'a)", "t-list: argument 1: expected list, got a");
  assert_message("(t-hash 1 '(1 2))",
                 "t-hash: argument 2: expected htable, got (1 2)");
  assert_string_equal(lt_show("(t-int 1e15)"), "1000000000000000");
  assert_string_equal(lt_show("(t-list ())"), "()");
  assert_string_equal(lt_show("(t-str \"\")"), "\"\"");
  /* a long value is shortened in the message */
  const char *m = lt_message("(t-num (range 1000))");
  lt_assert_contains(m, "t-num: argument 1: expected number, got (0 1 2");
  assert_true(strlen(m) < 200);
  /* the builtin's own name, also when called through apply or mapcar */
  assert_message("(apply t-num '(x))",
                 "t-num: argument 1: expected number, got x");
  assert_message("(mapcar t-str '(\"a\" 2))",
                 "t-str: argument 1: expected string, got 2");
}

static void test_error_builtin(void **state) {
  (void)state;
  assert_message("(error \"plain\")", "plain");
  assert_message("(error \"n=%d s=%s\" 3 \"x\")", "n=3 s=x");
  assert_message("(error 'sym)", "sym");
  assert_message("(error '(1 \"s\"))", "(1 \"s\")");
  assert_string_equal(lt_show("(try (error \"x\") (catch e (error-where e)))"),
                      "(\"<test>\" 1 6)");
  assert_string_equal(
      lt_show("(try (list 1\n  (error \"x\")) (catch e (error-where e)))"),
      "(\"<test>\" 2 3)");
  assert_string_equal(lt_show("(try (car 3) (catch e (length (error-backtrace "
                              "e))))"),
                      "1");
  /* an error in a handler goes on */
  assert_message("(try (error \"a\") (catch e (error \"b: %s\" "
                 "(error-message e))))",
                 "b: a");
  /* nested try: the inner one catches */
  assert_string_equal(lt_show("(try (list (try (error \"in\") (catch e "
                              "'inner))) (catch e 'outer))"),
                      "(inner)");
  /* try without catch does not swallow the error */
  assert_message("(try (error \"kept\"))", "kept");
  lt_assert_contains(lt_message("(error-message 3)"), "expected error");
}

/* ---- limits ----------------------------------------------------------- */

static void test_recursion_too_deep(void **state) {
  (void)state;
  lt_eval("(de deep (n) (if (= n 0) 0 (+ 1 (deep (- n 1)))))");
  for (int i = 0; i < 3; i++) { /* again and again: nothing is left broken */
    LuValue *err = lt_error("(deep 100000)");
    lt_assert_contains(err->err->message->str.s, "recursion too deep");
    assert_true(err->err->where != lu_nil);
    assert_string_equal(lt_show("(deep 1000)"), "1000");
  }
  /* through builtins that call back into Lisp */
  lt_assert_contains(lt_message("(de deep-map (n) (if (= n 0) 0 (car (mapcar "
                                "deep-map (list (- n 1)))))) (deep-map "
                                "100000)"),
                     "recursion too deep");
  lt_assert_contains(lt_message("(de deep-eval (n) (if (= n 0) 0 (eval (list "
                                "'deep-eval (- n 1))))) (deep-eval 100000)"),
                     "recursion too deep");
  lt_assert_contains(lt_message("(dm deep-mac (n) (if (= n 0) 0 (list '+ 1 "
                                "(list 'deep-mac (- n 1))))) (deep-mac "
                                "100000)"),
                     "recursion too deep");
  lt_assert_contains(lt_message("(de deep-try (n) (if (= n 0) 0 (+ 1 (try "
                                "(deep-try (- n 1)) (catch e (error "
                                "(error-message e))))))) (deep-try 100000)"),
                     "recursion too deep");
  /* deep data */
  lt_eval("(setq deep-a ()) (setq deep-b ())"
          "(repeat 1000000 (setq deep-a (list deep-a) deep-b (list deep-b)))");
  lt_assert_contains(lt_message("(equal deep-a deep-b)"), "too deep");
  lt_assert_contains(lt_message("(sprintf \"%l\" deep-a)"), "too deep");
  assert_string_equal(lt_show("(+ 1 2)"), "3");
}

static void test_allocation_too_large(void **state) {
  (void)state;
  const char *m = lt_message("(t-alloc 1e18)");
  lt_assert_contains(m, "t-alloc: ");
  lt_assert_contains(m, "requested");
  m = lt_message("(t-alloc-ptr 1e18)");
  lt_assert_contains(m, "t-alloc-ptr: ");
  lt_assert_contains(m, "requested");
  assert_string_equal(lt_show("(t-alloc 1000)"), "t");
}

/* ---- unwind-protect --------------------------------------------------- */

static void test_unwind_protect(void **state) {
  (void)state;
  lt_eval("(setq up-log ())"
          "(de up-note (x) (setq up-log (cons x up-log)))");
  /* normal exit: BODY's value, cleanup once, in order */
  assert_string_equal(lt_show("(unwind-protect (progn (up-note 'body) 5) "
                              "(up-note 'c1) (up-note 'c2))"),
                      "5");
  assert_string_equal(lt_show("up-log"), "(c2 c1 body)");
  /* an error: cleanup runs, the same error goes on */
  lt_eval("(setq up-log ())");
  LuValue *err = lt_error("(unwind-protect (error \"boom %d\" 1) "
                          "(up-note 'cleanup))");
  assert_string_equal(err->err->message->str.s, "boom 1");
  assert_string_equal(lt_show("up-log"), "(cleanup)");
  /* nested: inner cleanup first */
  lt_eval("(setq up-log ())");
  lt_error("(unwind-protect (unwind-protect (car 1) (up-note 'inner)) "
           "(up-note 'outer))");
  assert_string_equal(lt_show("up-log"), "(outer inner)");
  /* an error in the cleanup replaces the body's */
  assert_message("(unwind-protect (error \"a\") (error \"b\"))", "b");
  /* caught by an enclosing try, after the cleanup ran */
  lt_eval("(setq up-log ())");
  assert_string_equal(lt_show("(try (unwind-protect (error \"x\") "
                              "(up-note 'ran)) (catch e up-log))"),
                      "(ran)");
  /* a cleanup can see the body's scope */
  assert_string_equal(
      lt_show("(let ((v 1)) (unwind-protect (setq v 2) (setq up-log v)) "
              "up-log)"),
      "2");
}

/* ---- Ctrl-C ----------------------------------------------------------- */

static void test_break(void **state) {
  (void)state;
  lu_interrupted = 1;
  LuValue *err = lt_error("(try (+ 1 2) (catch e 'caught))");
  assert_true(err->err->is_break);
  assert_string_equal(err->err->message->str.s, "*** Break");
  assert_int_equal(lu_interrupted, 0); /* the flag was consumed */
  assert_string_equal(lt_show("(+ 1 2)"), "3");
  /* polled in every loop: while, repeat, for, each, tail recursion */
  const char *loops[] = {
      "(progn (t-interrupt) (while t ()))",
      "(progn (t-interrupt) (repeat 1e15 ()))",
      "(progn (t-interrupt) (for (i 1 1e15) ()))",
      "(let ((l (list 1))) (rplacd l l) (t-interrupt) (each ((x l)) ()))",
      "(progn (de brk-loop () (brk-loop)) (t-interrupt) (brk-loop))",
      "(try (progn (t-interrupt) (while t ())) (catch e 'caught))",
      ("(try (try (progn (t-interrupt) (while t ())) (catch e 'inner)) "
       "(catch e 'outer))"),
  };
  for (size_t i = 0; i < sizeof loops / sizeof *loops; i++) {
    err = lt_error(loops[i]);
    if (!err->err->is_break)
      fail_msg("%s: %s, not a Break", loops[i], err->err->message->str.s);
    assert_int_equal(lu_interrupted, 0);
  }
  /* unwind-protect cleanups still run */
  lt_eval("(setq brk-log ())");
  err = lt_error("(unwind-protect (progn (t-interrupt) (while t ())) "
                 "(setq brk-log 'cleaned))");
  assert_true(err->err->is_break);
  assert_string_equal(lt_show("brk-log"), "cleaned");
  /* printing a circular list stops too */
  err = lt_error("(let ((l (list 1 2))) (rplacd (cdr l) l) (t-interrupt) "
                 "(sprintf \"%l\" l))");
  assert_true(err->err->is_break);
}

/* equal on two circular lists must be interruptible as well. Run in a
   child sent a real SIGINT, so that a loop that never polls cannot stall
   the suite. */
static void test_break_equal(void **state) {
  (void)state;
  LtOpts o = {.timeout = 4, .sigint_after = 0.5};
  LtProc p =
      lt_run_opts((const char *[]){"", "-e",
                                   "(let ((a (list 1 2)) (b (list 1 2)))"
                                   "  (rplacd (cdr a) a) (rplacd (cdr b) b)"
                                   "  (equal a b))",
                                   NULL},
                  &o);
  if (p.timed_out)
    fail_msg("(equal a b) on two circular lists ignored Ctrl-C");
  lt_assert_exit(&p, 1);
  lt_assert_contains(p.err, "*** Break");
  lt_free(&p);
}

/* ---- lu_report -------------------------------------------------------- */

static void test_report(void **state) {
  (void)state;
  LuValue *err = lt_error("(de rp-f ()\n  (list (car 'x)))\n(rp-f)");
  char path[] = "/tmp/lush89-report-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  lu_report(err);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char buf[4096] = {0};
  assert_true(pread(fd, buf, sizeof buf - 1, 0) > 0);
  close(fd);
  unlink(path);
  char *first = lt_first_line(buf);
  assert_string_equal(first,
                      "<test>:2:9: error: car: argument 1: expected list, "
                      "got x");
  free(first);
  const char *rest = strchr(buf, '\n') + 1;
  lt_assert_contains(rest, "(car 'x)");
  lt_assert_contains(rest, "(rp-f)");
  assert_true(strstr(rest, "(car 'x)") < strstr(rest, "(rp-f)"));
}

int main(void) {
  int base;
  lt_start(&base);
  LuValue *err;
  if (!lu_pcall(register_builtins, NULL, &err))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pcall),
      cmocka_unit_test(test_location_and_backtrace),
      cmocka_unit_test(test_toplevel_symbol_location),
      cmocka_unit_test(test_long_backtrace),
      cmocka_unit_test(test_arity_messages),
      cmocka_unit_test(test_checker_messages),
      cmocka_unit_test(test_error_builtin),
      cmocka_unit_test(test_recursion_too_deep),
      cmocka_unit_test(test_allocation_too_large),
      cmocka_unit_test(test_unwind_protect),
      cmocka_unit_test(test_break),
      cmocka_unit_test(test_break_equal),
      cmocka_unit_test(test_report),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
