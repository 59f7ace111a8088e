/* test_lib.c: the base library's C-level checks. The random generator
   against PCG32's published reference outputs; sprintf against C's own
   snprintf over a grid of directives; what print, prin and pretty write to
   standard output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "interp.h"
#include "lutest.h"

/* ---- Helpers --------------------------------------------------------- */

typedef struct {
  const char *src;
  LuValue *value;
} Eval;

static void eval_call(void *ud) {
  Eval *e = ud;
  e->value = lu_eval_string(e->src, "<test>");
}

/* Evaluates src; returns its value, or fails the test on a Lisp error. */
static LuValue *eval(const char *src) {
  Eval e = {src, NULL};
  LuValue *err;
  if (!lu_pcall(eval_call, &e, &err))
    fail_msg("%s raised: %s", src, err->err->message->str.s);
  return e.value;
}

/* Evaluates src, which must raise; returns the message. */
static const char *eval_error(const char *src) {
  Eval e = {src, NULL};
  LuValue *err;
  if (lu_pcall(eval_call, &e, &err))
    fail_msg("%s raised no error", src);
  return err->err->message->str.s;
}

/* Runs src with standard output going to a file; returns what it wrote. */
static char *captured(const char *src) {
  char path[] = "/tmp/lush89-test-lib-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stdout);
  int saved = dup(1);
  dup2(fd, 1);
  Eval e = {src, NULL};
  LuValue *err;
  bool ok = lu_pcall(eval_call, &e, &err);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  off_t n = lseek(fd, 0, SEEK_END);
  char *out = calloc((size_t)n + 1, 1);
  assert_true(pread(fd, out, (size_t)n, 0) == n);
  close(fd);
  unlink(path);
  if (!ok)
    fail_msg("%s raised: %s", src, err->err->message->str.s);
  return out;
}

/* ---- Random numbers -------------------------------------------------- */

/* The first outputs of the PCG32 reference (pcg32_srandom_r(42, 54)), as
   published with the PCG demo programs and reproduced by other ports. */
static const uint32_t pcg_ref_42[] = {2707161783u, 2068313097u, 3122475824u,
                                      2211639955u, 3215226955u, 3421331566u};

static void test_pcg32_reference(void **state) {
  (void)state;
  lu_seed(42);
  for (int i = 0; i < 6; i++)
    assert_int_equal(lu_rand_u32(), pcg_ref_42[i]);
  lu_seed(42); /* a seed restarts the sequence */
  assert_int_equal(lu_rand_u32(), pcg_ref_42[0]);
  lu_seed(43);
  assert_int_not_equal(lu_rand_u32(), pcg_ref_42[0]);
}

static void test_seed_builtin(void **state) {
  (void)state;
  eval("(seed 42)");
  assert_int_equal(lu_rand_u32(), pcg_ref_42[0]);
  assert_int_equal(lu_rand_u32(), pcg_ref_42[1]);
}

static void test_uniform(void **state) {
  (void)state;
  /* 27 bits of the first output and 26 of the second, over 2^53 */
  lu_seed(42);
  double want = ((pcg_ref_42[0] >> 5) * 67108864.0 + (pcg_ref_42[1] >> 6)) /
                9007199254740992.0;
  assert_true(lu_rand_uniform() == want);
  double sum = 0, lo = 1, hi = 0;
  int n = 1000000;
  for (int i = 0; i < n; i++) {
    double u = lu_rand_uniform();
    sum += u;
    lo = u < lo ? u : lo;
    hi = u > hi ? u : hi;
  }
  assert_true(lo >= 0 && lo < 1e-4);
  assert_true(hi < 1 && hi > 1 - 1e-4);
  assert_true(fabs(sum / n - 0.5) < 0.002); /* sd 0.00029 */
}

static void test_normal(void **state) {
  (void)state;
  lu_seed(5);
  double first = lu_rand_normal(); /* leaves its pair cached */
  lu_seed(5);                      /* which a seed must forget */
  assert_true(lu_rand_normal() == first);
  int n = 200000, inside = 0;
  double s = 0, s2 = 0, s4 = 0;
  for (int i = 0; i < n; i++) {
    double x = lu_rand_normal();
    assert_true(isfinite(x));
    s += x;
    s2 += x * x;
    s4 += x * x * x * x;
    inside += fabs(x) < 1;
  }
  assert_true(fabs(s / n) < 0.012);     /* sd 0.0022 */
  assert_true(fabs(s2 / n - 1) < 0.02); /* sd 0.0032 */
  assert_true(fabs(s4 / n - 3) < 0.15); /* kurtosis 3; sd ~0.022 */
  assert_true(fabs((double)inside / n - 0.682689) < 0.006); /* sd 0.001 */
}

/* ---- sprintf against C ----------------------------------------------- */

/* Checks (sprintf fmt x) against snprintf(fmt, x) for every combination of
   the given flags, widths and precisions with conversion conv. */
static void check_against_c(const char *conv, const double *xs, int nx,
                            bool integer) {
  static const char *flags[] = {"", "-", "+", " ", "0", "#", "-+", "+0"};
  static const char *widths[] = {"", "1", "8", "12"};
  static const char *precs[] = {"", ".0", ".3", ".10"};
  for (size_t f = 0; f < sizeof flags / sizeof *flags; f++)
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
      for (size_t p = 0; p < sizeof precs / sizeof *precs; p++)
        for (int i = 0; i < nx; i++) {
          char fmt[32], cfmt[32], want[256], src[128];
          snprintf(fmt, sizeof fmt, "%%%s%s%s%s", flags[f], widths[w], precs[p],
                   conv);
          snprintf(cfmt, sizeof cfmt, "%%%s%s%s%s%s", flags[f], widths[w],
                   precs[p], integer ? "ll" : "", conv);
          if (integer)
            snprintf(want, sizeof want, cfmt, (long long)xs[i]);
          else
            snprintf(want, sizeof want, cfmt, xs[i]);
          snprintf(src, sizeof src, "(sprintf \"%s\" %.17g)", fmt, xs[i]);
          LuValue *got = eval(src);
          if (strcmp(got->str.s, want) != 0)
            fail_msg("%s gave \"%s\", C gives \"%s\"", src, got->str.s, want);
        }
}

static void test_sprintf_integers(void **state) {
  (void)state;
  static const double xs[] = {0,      1,   -1,           42,
                              -12345, 255, 4294967296.0, -9007199254740992.0};
  const char *convs[] = {"d", "i", "x", "X", "o", "u"};
  for (size_t c = 0; c < sizeof convs / sizeof *convs; c++)
    check_against_c(convs[c], xs, 8, true);
}

static void test_sprintf_floats(void **state) {
  (void)state;
  static const double xs[] = {
      0, -0.0, 1, -2.5, 3.14159265358979, 1e-7, 123456789.125, -6.02e23, 0.1};
  const char *convs[] = {"f", "e", "E", "g", "G", "F"};
  for (size_t c = 0; c < sizeof convs / sizeof *convs; c++)
    check_against_c(convs[c], xs, 9, false);
}

static void test_sprintf_values(void **state) {
  (void)state;
  assert_string_equal(
      eval("(sprintf \"%s|%l|%5s|%-5s|%.2s|%%\" \"ab\" \"ab\" 'x 12 \"xyz\")")
          ->str.s,
      "ab|\"ab\"|    x|12   |xy|%");
  assert_string_equal(eval("(sprintf \"%l\" '(a \"b\\n\" 1.5))")->str.s,
                      "(a \"b\\n\" 1.5)");
  assert_string_equal(eval("(sprintf \"%c%c\" 79 \"K\")")->str.s, "OK");
  assert_string_equal(eval("(sprintf \"%*.*f\" 7 2 3.14159)")->str.s,
                      "   3.14");
  assert_non_null(strstr(eval_error("(sprintf \"%d\" 0.5)"),
                         "sprintf: %d needs an integer, got 0.5"));
  assert_non_null(
      strstr(eval_error("(sprintf \"%y\" 1)"), "unknown directive %y"));
  assert_non_null(strstr(eval_error("(sprintf \"%s %s\" 1)"), "too few"));
  assert_non_null(strstr(eval_error("(sprintf \"%s\" 1 2)"),
                         "1 more arguments than directives"));
}

/* ---- Printing to stdout ---------------------------------------------- */

static void test_print_prin(void **state) {
  (void)state;
  char *out = captured("(print \"a\" 1 '(b \"c\")) (print) "
                       "(prin \"x=\" 3 \" \" '(\"q\") \"\\n\") "
                       "(printf \"%d-%s\\n\" 7 \"z\")");
  assert_string_equal(out, "\"a\" 1 (b \"c\")\n\nx=3 (q)\n7-z\n");
  free(out);
  free(captured("(setq printed (print 1 2))"));
  assert_int_equal(LU_NUM(eval("printed")), 2); /* print returns its last */
}

static void test_pretty(void **state) {
  (void)state;
  char *out = captured(
      "(pretty '(de long-function-name (alpha beta gamma) (let ((sum (+ "
      "alpha beta gamma)) (product (* alpha beta gamma))) (list sum "
      "product))))");
  assert_string_equal(
      out, "(de long-function-name\n"
           "  (alpha beta gamma)\n"
           "  (let ((sum (+ alpha beta gamma)) (product (* alpha beta "
           "gamma)))\n"
           "    (list sum product)))\n");
  free(out);
  out = captured("(pretty (range 40))");
  assert_string_equal(out, "(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 "
                           "20 21 22 23 24 25 26 27 28\n"
                           " 29 30 31 32 33 34 35 36 37 38 39)\n");
  free(out);
  out = captured("(pretty '(a \"s\" . 3))");
  assert_string_equal(out, "(a \"s\" . 3)\n");
  free(out);
  /* a function shows its definition */
  out = captured("(de sq (x) \"Squares.\" (* x x)) (pretty sq)");
  assert_string_equal(out, "(de sq (x) \"Squares.\" (* x x))\n");
  free(out);
  /* a circular list prints flat, its loop once, as print shows it */
  out = captured("(let ((l (range 40))) (rplacd (nthcdr 39 l) l) (pretty l))");
  assert_non_null(strstr(out, "38 39 0 1 2"));
  assert_non_null(strstr(out, "39 ...)\n"));
  free(out);
  /* a large nested value: every line within 79 columns, and reading the
     text back gives the same value */
  out = captured("(pretty (mapcar (lambda (i) (list 'item i (range i) "
                 "\"label\")) (range 25)))");
  int col = 0;
  for (char *p = out; *p; p++) {
    col = *p == '\n' ? 0 : col + 1;
    assert_true(col <= 79);
  }
  LuValue *text = lu_cstring(out);
  lu_set_global("pretty-text", text);
  assert_true(eval("(equal (read pretty-text) (mapcar (lambda (i) (list "
                   "'item i (range i) \"label\")) (range 25)))") == lu_t);
  free(out);
}

/* Ports dropped without close are closed by their finalizers when the
   process runs out of descriptors: 2000 opens under a limit of 64. */
static void test_port_finalizer(void **state) {
  (void)state;
  struct rlimit old, low;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  low = old;
  low.rlim_cur = 64;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  Eval e = {"(repeat 2000 (open-read \"/dev/null\"))", NULL};
  LuValue *err;
  bool ok = lu_pcall(eval_call, &e, &err);
  setrlimit(RLIMIT_NOFILE, &old);
  if (!ok)
    fail_msg("dropped ports were not reclaimed: %s", err->err->message->str.s);
}

int main(void) {
  char base;
  lt_start(&base);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pcg32_reference),
      cmocka_unit_test(test_seed_builtin),
      cmocka_unit_test(test_uniform),
      cmocka_unit_test(test_normal),
      cmocka_unit_test(test_sprintf_integers),
      cmocka_unit_test(test_sprintf_floats),
      cmocka_unit_test(test_sprintf_values),
      cmocka_unit_test(test_print_prin),
      cmocka_unit_test(test_pretty),
      cmocka_unit_test(test_port_finalizer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
