/* test_print.c: cmocka tests of the printer (interp/print.c): numbers
   (integral ones without a point, others as the shortest text that reads
   back to the same double, -0, inf and nan), strings readably and raw,
   symbols, the quote family, dotted lists, the #<...> forms, and
   read(print(x)) == x over many values, some random. Expected texts are
   written by hand or checked against strtod and printf here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>

#include "lutest.h"

/* ---- helpers ---------------------------------------------------------- */

static const char *num_text(double x) {
  LuBuf b;
  lu_buf_init(&b);
  lu_print_number(&b, x);
  return b.s;
}

static void assert_prints(LuValue *v, bool readably, const char *text) {
  assert_string_equal(lu_repr(v, readably), text);
}

/* Significant digits written in a number's text: those of the mantissa
   from its first non-zero digit to its last. */
static int digits(const char *s) {
  int first = -1, last = -1, i = 0;
  for (; *s && *s != 'e' && *s != 'E'; s++) {
    if (*s < '0' || *s > '9')
      continue;
    if (*s != '0') {
      if (first < 0)
        first = i;
      last = i;
    }
    i++;
  }
  return first < 0 ? 1 : last - first + 1;
}

/* The fewest significant digits that read back to x, found by trying
   every precision of printf's %e from 1 to 17. */
static int fewest_digits(double x) {
  for (int p = 1; p <= 17; p++) {
    char s[64];
    snprintf(s, sizeof s, "%.*e", p - 1, x);
    if (strtod(s, NULL) == x)
      return p;
  }
  return 17;
}

/* The printed text of a finite x reads back to x bit for bit (-0 aside),
   uses no more digits than needed, and an integral x below 1e16 has no
   decimal point and no exponent. */
static void assert_shortest(double x) {
  const char *s = num_text(x);
  char *end;
  double y = strtod(s, &end);
  if (*end || y != x)
    fail_msg("%.17g printed as \"%s\", which reads back as %.17g", x, s, y);
  if (x != 0 && digits(s) != fewest_digits(x))
    fail_msg("%.17g printed as \"%s\": %d digits, %d are enough", x, s,
             digits(s), fewest_digits(x));
  if (x == floor(x) && fabs(x) < 1e16 && strpbrk(s, ".eE"))
    fail_msg("integral %.17g printed as \"%s\"", x, s);
}

/* read(print(v)), failing on an error or a status other than OK. */
static LuValue *reread(LuValue *v) {
  LuBuf b;
  lu_buf_init(&b);
  lu_print_to(&b, v, true);
  LuReader r;
  lu_reader_init(&r, b.s, b.len, "<print>");
  LuValue *form = NULL, *err;
  LuReadStatus st;
  if (!lu_read_caught(&r, &form, &st, &err))
    fail_msg("reading back %s raised %s", b.s, err->err->message->str.s);
  if (st != LU_READ_OK)
    fail_msg("reading back %s: status %d", b.s, (int)st);
  return form;
}

static void assert_round_trip(LuValue *v) {
  LuValue *w = reread(v);
  if (!lu_equal(v, w))
    fail_msg("%s read back as %s", lu_repr(v, true), lu_repr(w, true));
}

/* A fixed-seed generator, so that failures repeat (xorshift64*). */
static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t next_u64(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717u;
}

/* ---- numbers ---------------------------------------------------------- */

static void test_integral(void **state) {
  (void)state;
  assert_string_equal(num_text(0), "0");
  assert_string_equal(num_text(3), "3");
  assert_string_equal(num_text(-10), "-10");
  assert_string_equal(num_text(1000), "1000");
  assert_string_equal(num_text(1025), "1025"); /* past the cached ones */
  assert_string_equal(num_text(-123456789), "-123456789");
  assert_string_equal(num_text(1e15), "1000000000000000");
  assert_string_equal(num_text(9007199254740992.0), "9007199254740992");
  assert_string_equal(num_text(3.0), "3");
  assert_string_equal(num_text(-2.0), "-2");
  /* -0 prints as an integer that reads back equal to 0 */
  const char *z = num_text(-0.0);
  assert_true(strcmp(z, "0") == 0 || strcmp(z, "-0") == 0);
  /* very large integral values: still round trips */
  assert_shortest(1e16);
  assert_shortest(1e300);
  assert_shortest(-1.2345678901234568e+17);
}

static void test_fractions(void **state) {
  (void)state;
  assert_string_equal(num_text(0.1), "0.1");
  assert_string_equal(num_text(3.5), "3.5");
  assert_string_equal(num_text(-0.25), "-0.25");
  assert_string_equal(num_text(1.0 / 3), "0.3333333333333333");
  assert_string_equal(num_text(2.0 / 3), "0.6666666666666666");
  assert_string_equal(num_text(0.1 + 0.2), "0.30000000000000004");
  assert_string_equal(num_text(1e-3), "0.001");
  assert_string_equal(num_text(123.456), "123.456");
  double samples[] = {0.1,
                      0.2,
                      0.7,
                      1.1,
                      1e-7,
                      1.5e-10,
                      6.02214076e23,
                      2.5e-300,
                      M_PI,
                      M_E,
                      1.0 / 7,
                      1e21 + 0.0,
                      DBL_MAX,
                      -DBL_MAX,
                      DBL_MIN,
                      DBL_EPSILON,
                      1 + DBL_EPSILON,
                      4.35,
                      0.3,
                      100.5};
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++)
    assert_shortest(samples[i]);
}

/* Random bit patterns: every finite double prints shortest and exact. */
static void test_random_doubles(void **state) {
  (void)state;
  for (int i = 0; i < 20000; i++) {
    uint64_t bits = next_u64();
    double x;
    memcpy(&x, &bits, sizeof x);
    if (isfinite(x) && fpclassify(x) != FP_SUBNORMAL)
      assert_shortest(x);
    assert_shortest((double)((int64_t)bits >> (bits % 64))); /* integral */
  }
}

/* Subnormal numbers too: 5e-324 is the shortest text of the smallest. */
static void test_subnormals(void **state) {
  (void)state;
  assert_shortest(1e-310);
  assert_shortest(5e-324);
  assert_shortest(1.5e-323);
}

static void test_special(void **state) {
  (void)state;
  assert_string_equal(num_text(INFINITY), "inf");
  assert_string_equal(num_text(-INFINITY), "-inf");
  assert_string_equal(num_text(NAN), "nan");
  assert_string_equal(num_text(-NAN), "nan");
  assert_prints(lu_number(1e308 * 10), true, "inf");
}

/* ---- other values ----------------------------------------------------- */

static void test_strings(void **state) {
  (void)state;
  LuValue *s = lu_cstring("a\"b\\c\nd\te\rf");
  assert_prints(s, true, "\"a\\\"b\\\\c\\nd\\te\\rf\"");
  assert_prints(s, false, "a\"b\\c\nd\te\rf");
  assert_prints(lu_cstring(""), true, "\"\"");
  assert_prints(lu_cstring(""), false, "");
  assert_prints(lu_cstring("\x01\x1b\x7f"), true, "\"\\x01\\x1b\\x7f\"");
  assert_prints(lu_cstring("caf\xc3\xa9"), true, "\"caf\xc3\xa9\"");
  /* NUL bytes: escaped readably, kept raw */
  LuValue *nul = lu_string("a\0b", 3);
  assert_prints(nul, true, "\"a\\x00b\"");
  LuBuf b;
  lu_buf_init(&b);
  lu_print_to(&b, nul, false);
  assert_int_equal(b.len, 3);
  assert_memory_equal(b.s, "a\0b", 3);
  /* inside lists too */
  assert_prints(lu_list(2, lu_cstring("x y"), lu_intern("z")), true,
                "(\"x y\" z)");
  assert_prints(lu_list(2, lu_cstring("x y"), lu_intern("z")), false,
                "(x y z)");
}

static void test_symbols_and_lists(void **state) {
  (void)state;
  assert_prints(lu_nil, true, "()");
  assert_prints(lu_t, true, "t");
  assert_prints(lu_intern("Foo-bar"), true, "Foo-bar");
  assert_prints(lu_list(3, lu_number(1), lu_nil, lu_list(1, lu_number(2))),
                true, "(1 () (2))");
  assert_prints(lu_cons(lu_number(1), lu_number(2)), true, "(1 . 2)");
  assert_prints(lu_cons(lu_number(1), lu_cons(lu_number(2), lu_intern("c"))),
                true, "(1 2 . c)");
  assert_prints(lu_cons(lu_cons(lu_intern("a"), lu_intern("b")),
                        lu_cons(lu_intern("c"), lu_intern("d"))),
                true, "((a . b) c . d)");
  assert_prints(lu_cons(lu_nil, lu_nil), true, "(())");
  assert_prints(lu_cons(lu_number(0.5), lu_cstring("s")), true,
                "(0.5 . \"s\")");
}

static void test_quote_forms(void **state) {
  (void)state;
  LuValue *q = lu_intern("quote"), *qq = lu_intern("quasiquote"),
          *uq = lu_intern("unquote"), *uqs = lu_intern("unquote-splicing"),
          *x = lu_intern("x");
  assert_prints(lu_list(2, q, x), true, "'x");
  assert_prints(lu_list(2, q, lu_list(2, q, x)), true, "''x");
  assert_prints(
      lu_list(2, qq, lu_list(3, x, lu_list(2, uq, x), lu_list(2, uqs, x))),
      true, "`(x ,x ,@x)");
  assert_prints(lu_list(2, q, lu_cstring("s")), true, "'\"s\"");
  /* not quote forms: printed as lists */
  assert_prints(lu_list(3, q, x, x), true, "(quote x x)");
  assert_prints(lu_list(1, q), true, "(quote)");
  assert_prints(lu_cons(q, x), true, "(quote . x)");
  assert_prints(lu_list(2, x, q), true, "(x quote)");
}

static void test_opaque_values(void **state) {
  (void)state;
  lt_eval("(de test-print-f (x) x) (dm test-print-m (x) x)"
          "(defclass test-print-c object (a 1))");
  lt_assert_contains(lt_show("car"), "car");
  lt_assert_contains(lt_show("if"), "if");
  lt_assert_contains(lt_show("test-print-f"), "test-print-f");
  lt_assert_contains(lt_show("test-print-m"), "test-print-m");
  lt_assert_contains(lt_show("test-print-c"), "test-print-c");
  lt_assert_contains(lt_show("(new test-print-c)"), "test-print-c");
  lt_assert_contains(lt_show("(try (error \"boom\") (catch e e))"), "boom");
  const char *opaque[] = {"car",
                          "if",
                          "test-print-f",
                          "test-print-m",
                          "(lambda (x) x)",
                          "test-print-c",
                          "(new test-print-c)",
                          "(htable)",
                          "(try (error \"boom\") (catch e e))"};
  for (size_t i = 0; i < sizeof opaque / sizeof *opaque; i++)
    assert_memory_equal(lt_show(opaque[i]), "#<", 2);
}

/* ---- read(print(x)) == x ---------------------------------------------- */

static LuValue *random_value(int depth) {
  switch (next_u64() % (depth > 3 ? 4 : 6)) {
  case 0: {
    uint64_t bits = next_u64();
    double x;
    memcpy(&x, &bits, sizeof x);
    return lu_number(isfinite(x) ? x : (double)(int32_t)bits);
  }
  case 1: {
    char s[16];
    size_t n = next_u64() % sizeof s;
    for (size_t i = 0; i < n; i++)
      s[i] = (char)(next_u64() % 256); /* every byte, NUL included */
    return lu_string(s, n);
  }
  case 2: {
    static const char *names[] = {"a",   "foo-bar", "&rest", "1+",
                                  "==>", "Sym",     "x.y",   "nil"};
    return lu_intern(names[next_u64() % 8]);
  }
  case 3:
    return lu_number((double)(int64_t)(next_u64() % 2000001) - 1000000);
  default: {
    LuValue *l = lu_nil;
    for (int n = (int)(next_u64() % 5); n > 0; n--)
      l = lu_cons(random_value(depth + 1), l);
    if (l != lu_nil && next_u64() % 4 == 0) { /* dotted */
      LuValue *last = l;
      while (LU_CDR(last) != lu_nil)
        last = LU_CDR(last);
      last->cons.cdr = random_value(4);
    }
    return l;
  }
  }
}

static void test_round_trip(void **state) {
  (void)state;
  LuValue *fixed[] = {
      lu_nil,
      lu_t,
      lu_number(0.1),
      lu_number(-1e-300),
      lu_number(123456789.125),
      lu_cstring("tab\there \"quoted\" back\\slash\n"),
      lu_list(2, lu_intern("quote"), lu_intern("x")),
      lu_list(3, lu_intern("a"), lu_cons(lu_number(1), lu_number(2)),
              lu_list(2, lu_intern("quasiquote"),
                      lu_list(2, lu_intern("unquote"), lu_intern("b")))),
  };
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
    assert_round_trip(fixed[i]);
  for (int i = 0; i < 3000; i++)
    assert_round_trip(random_value(0));
  /* numbers bit for bit */
  for (int i = 0; i < 3000; i++) {
    uint64_t bits = next_u64();
    double x;
    memcpy(&x, &bits, sizeof x);
    if (!isfinite(x) || x == 0)
      continue;
    LuValue *w = reread(lu_number(x));
    assert_int_equal(w->type, LU_NUMBER);
    assert_memory_equal(&w->num, &x, sizeof x);
  }
}

/* Long and deep structures: a long list prints, a very deep one raises an
   error instead of overflowing the C stack. */
static void test_big_structures(void **state) {
  (void)state;
  LuValue *l = lu_nil;
  for (int i = 0; i < 1000000; i++)
    l = lu_cons(lu_number(i % 10), l);
  const char *s = lu_repr(l, true);
  assert_int_equal(strlen(s), 2 * 1000000 + 1);
  LuValue *err;
  LuValue *v = lt_try("(let ((x ())) (repeat 1000000 (setq x (list x)))"
                      "  (sprintf \"%l\" x))",
                      &err);
  assert_null(v);
  lt_assert_contains(err->err->message->str.s, "too deep");
  assert_string_equal(lt_show("(+ 1 2)"), "3"); /* and all is well */
}

static void repr_limited(void *ud) {
  lu_repr_limit(ud, 10);
}

/* Printing cut short, for a message, by Ctrl-C: later printing is whole
   (the cut once stuck for the rest of the session). */
static void test_limit_after_break(void **state) {
  (void)state;
  LuValue *l = lt_eval("(range 100)"), *err;
  lu_interrupted = 1;
  assert_false(lu_pcall(repr_limited, l, &err));
  assert_true(err->err->is_break);
  assert_int_equal(strlen(lu_repr(l, true)), 291);
}

/* Lists whose cdrs loop print their loop once, then " ...)"; a car loop
   nests until the depth guard raises, caught. */
static void test_circular(void **state) {
  (void)state;
  assert_string_equal(lt_show("(let ((l (list 1 2 3))) (rplacd (cddr l) l) "
                              "(sprintf \"%l\" l))"),
                      "\"(1 2 3 1 2 3 ...)\"");
  assert_string_equal(lt_show("(let ((l (list 1))) (rplacd l l) "
                              "(sprintf \"%l\" l))"),
                      "\"(1 1 ...)\"");
  lt_assert_contains(lt_message("(let ((l (list 1))) (rplaca l l) "
                                "(sprintf \"%l\" l))"),
                     "recursion too deep");
  lt_assert_contains(lt_message("(let ((l (list 1 2))) (rplacd (cdr l) l) "
                                "(+ l 1))"),
                     "(1 2 1 2 ...)");
}

int main(void) {
  int base;
  lt_start(&base);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_integral),
      cmocka_unit_test(test_fractions),
      cmocka_unit_test(test_random_doubles),
      cmocka_unit_test(test_subnormals),
      cmocka_unit_test(test_special),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_symbols_and_lists),
      cmocka_unit_test(test_quote_forms),
      cmocka_unit_test(test_opaque_values),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_big_structures),
      cmocka_unit_test(test_limit_after_break),
      cmocka_unit_test(test_circular),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
