/* test_cli.c: the command line, by running ./lush89 as a child
   process: -e, -p, FILE ARGS and argv, -i, -q, --help, --version; exit
   statuses 0, 1, 2 and (exit N); the uncaught-error report (first line
   FILE:LINE:COL: error: MESSAGE, then the backtrace); the #! line; the
   load path (beside the loading file, LUSH89_PATH, lib/, .lsp added) and
   libload; bad input of every kind (exit 1 with a message, never a
   signal); Ctrl-C on a script; and the REPL on a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>

#include "lutest.h"

static char *dir; /* a fresh folder per test */

static int make_dir(void **state) {
  (void)state;
  dir = lt_tempdir();
  return 0;
}

static int remove_dir(void **state) {
  (void)state;
  lt_rmtree(dir);
  free(dir);
  return 0;
}

/* dir/name, as a static buffer (one at a time). */
static const char *at(const char *name) {
  static char path[4][4096];
  static int i;
  i = (i + 1) % 4;
  snprintf(path[i], sizeof path[i], "%s/%s", dir, name);
  return path[i];
}

static void put(const char *name, const char *text) {
  lt_write(dir, name, text, strlen(text));
}

static LtProc run_in(const char *cwd, const char *const *args) {
  LtOpts o = {.cwd = cwd};
  return lt_run_opts(args, &o);
}

#define ARGS(...) ((const char *[]){"", __VA_ARGS__, NULL})

/* The first line of stderr must be exactly `first`. */
static void assert_report(const LtProc *p, const char *first) {
  char *line = lt_first_line(p->err);
  assert_string_equal(line, first);
  free(line);
}

/* ---- modes ------------------------------------------------------------ */

static void test_e(void **state) {
  (void)state;
  LtProc p = lt_run(ARGS("-e", "(print (+ 1 2)) (+ 5 5)"));
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "3\n"); /* values are not printed */
  assert_string_equal(p.err, "");
  lt_free(&p);
  p = lt_run(ARGS("-e", "(print (cdr argv))", "a", "b c"));
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "(\"a\" \"b c\")\n");
  lt_free(&p);
  p = lt_run(ARGS("-e", ""));
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "");
  lt_free(&p);
  p = lt_run(ARGS("-e", "(printf \"%s|%d\\n\" \"raw\" 7)"));
  assert_string_equal(p.out, "raw|7\n");
  lt_free(&p);
}

static void test_p(void **state) {
  (void)state;
  LtProc p = lt_run(ARGS("-p", "(+ 1 2)"));
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "3\n");
  lt_free(&p);
  p = lt_run(ARGS("-p", "(list 1 \"a\\nb\" 'c 0.5)"));
  assert_string_equal(p.out, "(1 \"a\\nb\" c 0.5)\n"); /* readably */
  lt_free(&p);
  p = lt_run(ARGS("-p", "(setq x 2) (* x 10)"));
  assert_string_equal(p.out, "20\n"); /* the last value */
  lt_free(&p);
  p = lt_run(ARGS("-p", "()"));
  assert_string_equal(p.out, "()\n");
  lt_free(&p);
}

static void test_file_and_argv(void **state) {
  (void)state;
  put("s.lsp", "(print argv)\n(print (length argv))\n");
  LtProc p = run_in(dir, ARGS("s.lsp", "x", "-e", "--help"));
  lt_assert_exit(&p, 0); /* options after FILE belong to the script */
  assert_string_equal(p.out, "(\"s.lsp\" \"x\" \"-e\" \"--help\")\n4\n");
  lt_free(&p);
  p = lt_run(ARGS(at("s.lsp")));
  lt_assert_exit(&p, 0);
  lt_assert_contains(p.out, "s.lsp\")\n1\n");
  lt_free(&p);
  /* an empty script and a comment-only one */
  put("empty.lsp", "");
  put("comment.lsp", ";; nothing\n");
  p = lt_run(ARGS(at("empty.lsp")));
  lt_assert_exit(&p, 0);
  lt_free(&p);
  p = lt_run(ARGS(at("comment.lsp")));
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "");
  lt_free(&p);
}

static void test_i(void **state) {
  (void)state;
  put("init.lsp", "(setq x 41)\n(de twice (n) (* 2 n))\n");
  LtOpts o = {.input = "(+ x 1)\n(twice x)\n"};
  LtProc p = lt_run_opts(ARGS("-i", at("init.lsp")), &o);
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "= 42\n= 82\n");
  lt_free(&p);
}

static void test_q_and_banner(void **state) {
  (void)state;
  LtOpts o = {.input = "(+ 1 2)\n"};
  LtProc p = lt_run_opts(ARGS("-q"), &o);
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "= 3\n");
  lt_free(&p);
  const char *none[] = {"", NULL};
  LtProc b = lt_run_opts(none, &o);
  lt_assert_exit(&b, 0);
  lt_assert_contains(b.out, "= 3\n");
  lt_free(&b);
}

static void test_help_version(void **state) {
  (void)state;
  LtProc p = lt_run(ARGS("--help"));
  lt_assert_exit(&p, 0);
  lt_assert_contains(p.out, "usage");
  lt_assert_contains(p.out, "-e EXPR");
  lt_assert_contains(p.out, "-p EXPR");
  lt_assert_contains(p.out, "-i FILE");
  lt_assert_contains(p.out, "--version");
  lt_free(&p);
  p = lt_run(ARGS("--version"));
  lt_assert_exit(&p, 0);
  lt_assert_contains(p.out, "lush89");
  assert_true(strchr(p.out, '\n') == p.out + p.out_len - 1); /* one line */
  lt_free(&p);
}

/* help shows usage, documentation and the definition site, for Lisp
   definitions and C builtins alike. */
static void test_help_output(void **state) {
  (void)state;
  put("h.lsp", ";; a library\n(de my-fn (a &optional b)\n  \"Does "
               "things.\"\n  a)\n(defvar my-var 3 \"A variable.\")\n"
               "(dm my-mac (x) \"A macro.\" x)\n");
  LtProc p = run_in(dir, ARGS("-e", "(load \"h\") (help 'my-fn) (help "
                                    "'my-var) (help 'my-mac) (help 'car) "
                                    "(help 'if) (help 'no-such-name)"));
  lt_assert_exit(&p, 0);
  const char *o = p.out;
  const char *want[] = {"(my-fn a &optional b)",
                        "Does things.",
                        "h.lsp:2",
                        "my-var",
                        "A variable.",
                        "h.lsp:5",
                        "(my-mac x)",
                        "A macro.",
                        "h.lsp:6",
                        "(car LIST)",
                        "list.c",
                        "(if COND THEN ELSE...)",
                        "no-such-name"};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    const char *hit = strstr(o, want[i]);
    if (!hit)
      fail_msg("help output lacks \"%s\" (in order); it is:\n%s", want[i],
               p.out);
    o = hit + strlen(want[i]);
  }
  lt_free(&p);
}

/* ---- exit statuses ---------------------------------------------------- */

static void test_misuse(void **state) {
  (void)state;
  const char *const *cases[] = {ARGS("-x"), ARGS("--nope"), ARGS("-e"),
                                ARGS("-p"), ARGS("-i"),     ARGS("-q", "-z")};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    LtProc p = lt_run(cases[i]);
    lt_assert_exit(&p, 2);
    assert_true(p.err_len > 0);
    lt_assert_contains(p.err, "usage");
    lt_free(&p);
  }
}

static void test_exit(void **state) {
  (void)state;
  LtProc p = lt_run(ARGS("-e", "(exit 3)"));
  lt_assert_exit(&p, 3);
  lt_free(&p);
  p = lt_run(ARGS("-e", "(exit)"));
  lt_assert_exit(&p, 0);
  lt_free(&p);
  p = lt_run(ARGS("-e", "(printf \"before\") (exit 4) (print 'after)"));
  lt_assert_exit(&p, 4);
  assert_string_equal(p.out, "before"); /* flushed, and nothing after */
  lt_free(&p);
  put("x.lsp", "(de f () (exit 9))\n(print 1)\n(f)\n(print 2)\n");
  p = lt_run(ARGS(at("x.lsp")));
  lt_assert_exit(&p, 9);
  assert_string_equal(p.out, "1\n");
  lt_free(&p);
  p = lt_run(ARGS("-e", "(exit 256)"));
  lt_assert_exit(&p, 1);
  lt_free(&p);
  /* exit from the REPL too */
  LtOpts o = {.input = "(+ 1 1)\n(exit 5)\n(+ 2 2)\n"};
  p = lt_run_opts(ARGS("-q"), &o);
  lt_assert_exit(&p, 5);
  assert_string_equal(p.out, "= 2\n");
  lt_free(&p);
}

/* ---- error reports ---------------------------------------------------- */

static void test_error_report(void **state) {
  (void)state;
  put("s.lsp", "(print 'start)\n(de f (x)\n  (list (car x)))\n(f 3)\n");
  LtProc p = run_in(dir, ARGS("s.lsp"));
  lt_assert_exit(&p, 1);
  assert_string_equal(p.out, "start\n"); /* output before the error kept */
  assert_report(&p, "s.lsp:3:9: error: car: argument 1: expected list, got 3");
  /* then the backtrace, innermost first */
  const char *bt = strchr(p.err, '\n') + 1;
  const char *car = strstr(bt, "(car x)"), *f = strstr(bt, "(f 3)");
  assert_non_null(car);
  assert_non_null(f);
  assert_true(car < f);
  lt_assert_contains(bt, "s.lsp:4:1");
  lt_free(&p);
  /* -e and -p use <expr> */
  p = lt_run(ARGS("-e", "(+ 1 2)\n  (error \"bad %d\" 7)"));
  lt_assert_exit(&p, 1);
  assert_report(&p, "<expr>:2:3: error: bad 7");
  lt_free(&p);
  p = lt_run(ARGS("-p", "(list\n (car 'q))"));
  lt_assert_exit(&p, 1);
  assert_report(&p, "<expr>:2:2: error: car: argument 1: expected list, got q");
  assert_string_equal(p.out, "");
  lt_free(&p);
  /* an error in a loaded file names that file */
  put("inner.lsp", "\n\n  (undefined-fn 1)\n");
  put("outer.lsp", "(load \"inner\")\n");
  p = lt_run(ARGS(at("outer.lsp")));
  lt_assert_exit(&p, 1);
  char *line = lt_first_line(p.err);
  lt_assert_contains(line,
                     "inner.lsp:3:3: error: unbound symbol: undefined-fn");
  free(line);
  lt_free(&p);
}

static void test_shebang(void **state) {
  (void)state;
  put("run.lsp", "#!/usr/bin/env lush89\n(print (cdr argv))\n(car 1)\n");
  assert_int_equal(chmod(at("run.lsp"), 0755), 0);
  /* run the script itself, lush89 found through PATH */
  char path[8192], bindir[4096];
  snprintf(bindir, sizeof bindir, "%s", lt_binary());
  *strrchr(bindir, '/') = 0;
  snprintf(path, sizeof path, "PATH=%s:%s", bindir, getenv("PATH"));
  const char *env[] = {path, NULL};
  LtOpts o = {.program = at("run.lsp"), .env = env};
  LtProc p = lt_run_opts(ARGS("arg1"), &o);
  lt_assert_exit(&p, 1);
  assert_string_equal(p.out, "(\"arg1\")\n");
  char *line = lt_first_line(p.err);
  lt_assert_contains(line, "run.lsp:3:1: error: car:"); /* lines counted */
  free(line);
  lt_free(&p);
}

/* ---- the load path ---------------------------------------------------- */

static void test_load_beside(void **state) {
  (void)state;
  assert_int_equal(mkdir(at("a"), 0755), 0);
  assert_int_equal(mkdir(at("a/sub"), 0755), 0);
  put("a/main.lsp", "(print (load \"helper\"))\n(load \"helper.lsp\")\n"
                    "(load \"sub/deep\")\n");
  put("a/helper.lsp", "(print 'helper) 'helper-value");
  put("a/sub/deep.lsp", "(load \"leaf\")\n");
  put("a/sub/leaf.lsp", "(print 'leaf)\n");
  put("helper.lsp", "(print 'wrong-helper-in-cwd)\n");
  /* run from dir: "helper" is found beside a/main.lsp, not in the cwd */
  LtProc p = run_in(dir, ARGS("a/main.lsp"));
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "helper\nhelper-value\nhelper\nleaf\n");
  lt_free(&p);
  /* -e loads from the current folder */
  p = run_in(dir, ARGS("-e", "(load \"helper\")"));
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "wrong-helper-in-cwd\n");
  lt_free(&p);
}

static void test_load_path_var(void **state) {
  (void)state;
  assert_int_equal(mkdir(at("p1"), 0755), 0);
  assert_int_equal(mkdir(at("p2"), 0755), 0);
  assert_int_equal(mkdir(at("s"), 0755), 0);
  put("p1/both.lsp", "(print 'p1)\n");
  put("p2/both.lsp", "(print 'p2)\n");
  put("p2/only2.lsp", "(print 'only2)\n");
  put("p2/mine.lsp", "(print 'from-path)\n");
  put("s/mine.lsp", "(print 'beside)\n");
  put("p1/prelude.lsp", "(print 'shadowed-prelude)\n");
  put("s/main.lsp", "(load \"both\") (load \"only2\") (load \"mine\")\n"
                    "(load \"prelude\")\n");
  char var[8300];
  snprintf(var, sizeof var, "LUSH89_PATH=%s::%s", at("p1"), at("p2"));
  const char *env[] = {var, NULL};
  LtOpts o = {.env = env};
  LtProc p = lt_run_opts(ARGS(at("s/main.lsp")), &o);
  lt_assert_exit(&p, 0);
  /* p1 before p2; beside before LUSH89_PATH; LUSH89_PATH before lib/ */
  assert_string_equal(p.out, "p1\nonly2\nbeside\nshadowed-prelude\n");
  lt_free(&p);
}

static void test_load_lib(void **state) {
  (void)state;
  /* lib/ is found from anywhere, LUSH89_PATH unset */
  const char *env[] = {"LUSH89_PATH", NULL};
  LtOpts o = {.cwd = dir, .env = env};
  LtProc p = lt_run_opts(ARGS("-p", "(progn (load \"prelude\") (libload "
                                    "\"prelude.lsp\") 'ok)"),
                         &o);
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "ok\n");
  lt_free(&p);
  p = lt_run_opts(ARGS("-e", "(load \"no-such-file-anywhere\")"), &o);
  lt_assert_exit(&p, 1);
  lt_assert_contains(p.err, "cannot find no-such-file-anywhere");
  lt_free(&p);
}

static void test_libload_once(void **state) {
  (void)state;
  assert_int_equal(mkdir(at("d"), 0755), 0);
  put("d/count.lsp", "(setq n (+ n 1))\n");
  put("main.lsp", "(setq n 0)\n"
                  "(libload \"d/count\") (libload \"d/count.lsp\")\n"
                  "(libload \"./d/count\") (libload \"d/../d/count\")\n"
                  "(print n)\n"
                  "(load \"d/count\") (load \"d/count\")\n"
                  "(print n)\n");
  LtProc p = run_in(dir, ARGS("main.lsp"));
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "1\n3\n");
  lt_free(&p);
}

/* ---- bad input -------------------------------------------------------- */

/* Runs text as a script: exit status 1, an error message on stderr whose
   first line holds `message`, never a signal or a hang. */
static LtProc assert_bad_script(const char *text, size_t len,
                                const char *message) {
  lt_write(dir, "bad.lsp", text, len);
  LtOpts o = {.timeout = 20};
  LtProc p = lt_run_opts(ARGS(at("bad.lsp")), &o);
  lt_assert_exit(&p, 1);
  char *line = lt_first_line(p.err);
  lt_assert_contains(line, "error");
  lt_assert_contains(line, message);
  free(line);
  return p;
}

static void assert_bad(const char *text, const char *message) {
  LtProc p = assert_bad_script(text, strlen(text), message);
  lt_free(&p);
}

static void test_bad_input(void **state) {
  (void)state;
  assert_bad("(+ 1 2", "bad.lsp:1:1: error: syntax error");
  assert_bad("(print 1)\n  (list (+ 1 2)\n",
             "bad.lsp:2:3: error: syntax error");
  assert_bad("(+ 1 2))", "bad.lsp:1:8: error: syntax error");
  assert_bad("(print \"abc)\n", "bad.lsp:1:1: error: syntax error");
  assert_bad("(print \"a\\qb\")", "syntax error");
  assert_bad("(no-such-function 1)", "bad.lsp:1:1: error: unbound symbol");
  assert_bad("(car 1 2)", "wrong number of arguments");
  assert_bad("(de f (a) a) (f)", "wrong number of arguments");
  assert_bad("(de f (n) (if (= n 0) 0 (+ 1 (f (- n 1))))) (f 100000)",
             "recursion too deep");
  assert_bad("(float-matrix 1000000 1000000)", "requested");
  assert_bad("(\"not a function\" 1)", "not a function");
  assert_bad("(1 . 2)", "error");
  assert_bad("(let ((x)) (incr x))", "error");
}

/* A bare symbol at top level is reported with its location. */
static void test_unbound_toplevel(void **state) {
  (void)state;
  assert_bad("(+ 1 2)\n  foo", "bad.lsp:2:3: error: unbound symbol: foo");
}

/* -p: an error while printing the value is located at the expression. */
static void test_p_print_error(void **state) {
  (void)state;
  LtProc p = lt_run(ARGS("-p", "(let ((x ())) (repeat 1000000 (setq x "
                               "(list x))) x)"));
  lt_assert_exit(&p, 1);
  char *line = lt_first_line(p.err);
  lt_assert_contains(line, "too deep");
  assert_memory_equal(line, "<expr>:1:1: error: ", 19);
  free(line);
  lt_free(&p);
}

static void test_bad_input_deep_parens(void **state) {
  (void)state;
  enum { N = 200000 };
  char *text = malloc(N + 1);
  memset(text, '\'', N);
  text[N] = '\n';
  LtProc p = assert_bad_script(text, N + 1, "error");
  lt_free(&p);
  memset(text, '(', N);
  p = assert_bad_script(text, N + 1, "error");
  free(text);
  /* with its location, like every error */
  char *line = lt_first_line(p.err);
  lt_free(&p);
  char where[4200];
  snprintf(where, sizeof where, "%s:1:", at("bad.lsp"));
  assert_memory_equal(line, where, strlen(where));
  free(line);
}

/* Malformed special forms, dotted bodies and lambda lists: an error (or,
   where harmless, a value), never a crash. One child each, so that one
   crash does not hide the others. */
static void test_malformed_forms(void **state) {
  (void)state;
  static const char *const forms[] = {
      "(defclass)",
      "(defclass . 3)",
      "(defclass c . 3)",
      "(defclass c object (a . 3)) (new c)",
      "(defmethod)",
      "(defmethod . 3)",
      "(defmethod object)",
      "(defmethod object . 3)",
      "(defmethod object m (x) . 3) (==> (new object) m 1)",
      "(==>)",
      "(==> . 3)",
      "(==> (new object) . 3)",
      "(progn . 3)",
      "(progn 1 . 3)",
      "(eval '(progn . 3))",
      "((lambda (x) . 3) 1)",
      "(de f () . 3) (f)",
      "(dm m () . 3) (m)",
      "(de f (&optional (a . 3)) a) (f)",
      "(de f (&optional (a)) a) (f)",
      "(let ((x 1)) . 3)",
      "(let* ((x 1)) . 3)",
      "(when t . 3)",
      "(unless () . 3)",
      "(while t . 3)",
      "(repeat 1 . 3)",
      "(for (i 1 1) . 3)",
      "(each ((x '(1))) . 3)",
      "(all ((x '(1))) . 3)",
      "(unwind-protect 1 . 3)",
      "(time . 3)",
      "(try (error \"x\") (catch e . 3))",
      "(if () 1 . 3)",
      "(if () 1 2 . 3)",
      "(cond (t . 3))",
      "(cond (1 . 3))",
      "(selectq 1 (t . 3))",
      "(selectq 1 (1 . 3))",
      "(let)",
      "(let 3)",
      "(let ((3 1)) 1)",
      "(for)",
      "(for (i))",
      "(each ((x)))",
      "(each ((x 3)) x)",
      "(try (catch))",
      "(quasiquote)",
      "`(1 ,@3)",
      "`(1 ,@'(2 . 3) 4)",
      "(de)",
      "(de f 3)",
      "(lambda 3)",
      "(incr 3)",
      "(setq a . 3)",
      "(list . 3)",
      "(car . 3)",
      "(macroexpand '(f . 3))",
      "(apply car '(1 . 2))",
      "(mapcar car '(1 . 2))",
      "(double-matrix '(1 . 2) 3)",
      "(nn-seq '(1 . 2))",
  };
  LtOpts o = {.timeout = 5};
  int crashes = 0;
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
    LtProc p = lt_run_opts(ARGS("-e", forms[i]), &o);
    if (p.timed_out || !WIFEXITED(p.status) || WEXITSTATUS(p.status) > 1) {
      print_error("%s: %s %d\n", forms[i],
                  p.timed_out ? "timed out" : "killed by signal",
                  WIFSIGNALED(p.status) ? WTERMSIG(p.status) : 0);
      crashes++;
    } else if (WEXITSTATUS(p.status) == 1) {
      lt_assert_contains(p.err, "error");
    }
    lt_free(&p);
  }
  assert_int_equal(crashes, 0);
}

/* Circular lists given where a list is expected: a value (printing shows
   the loop once), an error, or a loop that Ctrl-C (a real SIGINT here)
   breaks; never a hang. */
static void test_circular_interruptible(void **state) {
  (void)state;
  static const char *const forms[] = {
      "(length c1)",         "(equal c1 c2)",     "(sort c1 <)",
      "(mapcar 1+ c1)",      "(apply + c1)",      "(reverse c1)",
      "(sprintf \"%l\" c1)", "(each ((x c1)) x)", "(eval c1)",
      "(float-matrix c1)",   "(list->matrix c1)", "(idx-transpose [1 2] c1)",
  };
  LtOpts o = {.timeout = 2, .sigint_after = 0.3};
  int hangs = 0;
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
    char src[512];
    snprintf(src, sizeof src,
             "(setq c1 (list 1 2) c2 (list 1 2)) (rplacd (cdr c1) c1) "
             "(rplacd (cdr c2) c2) %s",
             forms[i]);
    LtProc p = lt_run_opts(ARGS("-e", src), &o);
    if (p.timed_out || !WIFEXITED(p.status) || WEXITSTATUS(p.status) > 1) {
      print_error("%s: %s\n", forms[i],
                  p.timed_out ? "ignored Ctrl-C" : "did not exit with 0 or 1");
      hangs++;
    }
    lt_free(&p);
  }
  assert_int_equal(hangs, 0);
}

/* A few fixed-seed random files: any bytes, and text made of the reader's
   own characters. */
static void test_random_bytes(void **state) {
  (void)state;
  uint64_t s = 88172645463325252u;
  static const char alphabet[] = "()()[]\"\\;'`,@. \n\tabcxyz0123456789-+e#";
  for (int file = 0; file < 8; file++) {
    char text[4000];
    for (size_t i = 0; i < sizeof text; i++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      if (file < 2)
        text[i] = (char)(s >> 24); /* NUL bytes included */
      else if (file < 4)
        text[i] = (char)(1 + (s >> 24) % 255);
      else
        text[i] = alphabet[(s >> 24) % (sizeof alphabet - 1)];
    }
    LtProc p = assert_bad_script(text, sizeof text, "error");
    lt_free(&p);
  }
}

/* Memory runs out (the child is limited to 1 GB of address space): an
   error that try catches and the session survives, never a crash (not
   under AddressSanitizer: see LT_ASAN; the cgroup test covers it). */
static void test_out_of_memory(void **state) {
  (void)state;
  if (LT_ASAN)
    skip();
  /* growing a 1 GB heap takes a while on a loaded machine */
  LtOpts o = {.timeout = 120, .mem_limit_mb = 1024};
  LtProc p = lt_run_opts(
      ARGS("-e", "(print (try (length (range 1e8)) (catch e 'caught)))"
                 "(print (+ 1 2))"
                 "(setq l (range 1e8))"),
      &o);
  lt_assert_exit(&p, 1);
  assert_string_equal(p.out, "caught\n3\n");
  lt_assert_contains(p.err, "error");
  lt_free(&p);
}

/* In a memory cgroup of 300 MB (v1, where the test may make one; skipped
   elsewhere), tensors kept past the limit are an "out of memory" error,
   not a kill by the kernel. */
static void test_cgroup_memory(void **state) {
  (void)state;
  char dir[128];
  snprintf(dir, sizeof dir, "/sys/fs/cgroup/memory/lush89-test-%d",
           (int)getpid());
  if (mkdir(dir, 0755) != 0)
    skip();
  char cmd[4800];
  snprintf(cmd, sizeof cmd,
           "echo 314572800 > %s/memory.limit_in_bytes && echo $$ > "
           "%s/cgroup.procs && exec %s -e '(setq l ()) (print (try (repeat 30 "
           "(setq l (cons (float-matrix 5000000) l))) (catch e "
           "(error-message e))))'",
           dir, dir, lt_binary());
  LtOpts o = {.program = "/bin/sh", .timeout = 30};
  LtProc p = lt_run_opts(ARGS("-c", cmd), &o);
  rmdir(dir);
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "\"out of memory\"\n");
  lt_free(&p);
}

/* ---- signals ---------------------------------------------------------- */

static void test_sigint_script(void **state) {
  (void)state;
  LtOpts o = {.timeout = 5, .sigint_after = 0.3};
  LtProc p = lt_run_opts(ARGS("-e", "(print 'looping) (while t ())"), &o);
  lt_assert_exit(&p, 1);
  assert_string_equal(p.out, "looping\n");
  lt_assert_contains(p.err, "*** Break");
  lt_free(&p);
  /* try does not catch it; unwind-protect cleans up */
  p = lt_run_opts(ARGS("-e", "(try (unwind-protect (while t ()) "
                             "(print 'cleanup)) (catch e (print 'caught)))"),
                  &o);
  lt_assert_exit(&p, 1);
  assert_string_equal(p.out, "cleanup\n");
  lt_free(&p);
}

/* ---- the REPL on a pipe ----------------------------------------------- */

static void test_repl_pipe(void **state) {
  (void)state;
  LtOpts o = {.input = "(+ 1 2)\n"
                       "(car 3)\n"
                       "(de f (x) (* x 2))\n"
                       "(f\n 21)\n"
                       "\"s\" 'sym (list 1\n"
                       "2)\n"
                       ")\n"
                       "(f 5)\n"
                       "undefined-variable\n"
                       "(f 6)"};
  LtProc p = lt_run_opts(ARGS("-q"), &o);
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "= 3\n= f\n= 42\n= \"s\"\n= sym\n= (1 2)\n"
                             "= 10\n= 12\n");
  lt_assert_contains(p.err, "car: argument 1: expected list, got 3");
  lt_assert_contains(p.err, "syntax error");
  lt_assert_contains(p.err, "unbound symbol: undefined-variable");
  lt_free(&p);
  /* an unfinished form at the end of input is reported */
  LtOpts o2 = {.input = "(+ 1 2)\n(list 1\n"};
  p = lt_run_opts(ARGS("-q"), &o2);
  assert_string_equal(p.out, "= 3\n");
  lt_assert_contains(p.err, "syntax error");
  lt_free(&p);
}

/* A form of 40,000 lines through a pipe is read once, when it ends, not
   again at every line (that took minutes): the time limit is a hang
   check, far above the fraction of a second it takes. */
static void test_repl_pipe_long_form(void **state) {
  (void)state;
  size_t n = 40000;
  char *src = malloc(n * 2 + 16), *end = src;
  end += sprintf(end, "(length '(");
  for (size_t i = 0; i < n; i++)
    end += sprintf(end, "a\n");
  sprintf(end, "))\n");
  LtOpts o = {.input = src, .timeout = 20};
  LtProc p = lt_run_opts(ARGS("-q"), &o);
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "= 40000\n");
  lt_free(&p);
  free(src);
}

/* A NUL byte piped into the REPL is a syntax error; the next line is
   read as usual. */
static void test_repl_pipe_nul(void **state) {
  (void)state;
  LtOpts o = {.program = "/bin/sh", .timeout = 10};
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "printf '(a \\000 b)\\n(+ 1 2)\\n' | %s -q",
           lt_binary());
  LtProc p = lt_run_opts(ARGS("-c", cmd), &o);
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, "= 3\n");
  lt_assert_contains(p.err, "syntax error: NUL byte");
  lt_free(&p);
}

/* A small ulimit -s neither crashes start-up nor makes every evaluation
   "recursion too deep": the interpreter's stack is its own. */
static void test_small_stack(void **state) {
  (void)state;
  static const char *const limits[] = {"64", "256"};
  for (int i = 0; i < 2; i++) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd,
             "ulimit -s %s && %s -p '(progn (de f (n) (if (= n 0) 0 (+ 1 (f "
             "(- n 1))))) (list (f 5000) (try (f 100000000) (catch e "
             "(error-message e)))))'",
             limits[i], lt_binary());
    LtOpts o = {.program = "/bin/sh", .timeout = 20};
    LtProc p = lt_run_opts(ARGS("-c", cmd), &o);
    lt_assert_exit(&p, 0);
    assert_string_equal(p.out, "(5000 \"recursion too deep\")\n");
    lt_free(&p);
  }
}

/* Errors in piped input name the line of the stream they are on. */
static void test_repl_pipe_lines(void **state) {
  (void)state;
  LtOpts o = {.input = "(+ 1 2)\n\n  (car 3)\n"};
  LtProc p = lt_run_opts(ARGS("-q"), &o);
  char *line = lt_first_line(p.err);
  assert_string_equal(line, "<stdin>:3:3: error: car: argument 1: expected "
                            "list, got 3");
  free(line);
  lt_free(&p);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)
  const struct CMUnitTest tests[] = {
      T(test_e),
      T(test_repl_pipe_long_form),
      T(test_repl_pipe_nul),
      T(test_small_stack),
      T(test_p),
      T(test_file_and_argv),
      T(test_i),
      T(test_q_and_banner),
      T(test_help_version),
      T(test_help_output),
      T(test_misuse),
      T(test_exit),
      T(test_error_report),
      T(test_shebang),
      T(test_load_beside),
      T(test_load_path_var),
      T(test_load_lib),
      T(test_libload_once),
      T(test_bad_input),
      T(test_unbound_toplevel),
      T(test_p_print_error),
      T(test_bad_input_deep_parens),
      T(test_malformed_forms),
      T(test_circular_interruptible),
      T(test_random_bytes),
      T(test_out_of_memory),
      T(test_cgroup_memory),
      T(test_sigint_script),
      T(test_repl_pipe),
      T(test_repl_pipe_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
