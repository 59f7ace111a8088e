/* test_read.c: cmocka tests of the reader (interp/read.c) through
   lu_reader_init and lu_read: numbers, strings and their escapes, symbols,
   lists, dotted pairs, the quote family, comments, the #! line, [...]
   literals, the file/line/col every list carries, the INCOMPLETE status
   (and its rewind to the form's start), and syntax errors with their
   location. Expected forms are built by hand from the C constructors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "lutest.h"

/* ---- helpers ---------------------------------------------------------- */

typedef struct {
  LuReader *r;
  LuValue *form;
  LuReadStatus st;
} ReadCall;

static void read_call(void *ud) {
  ReadCall *c = ud;
  c->st = lu_read(c->r, &c->form);
}

/* One lu_read on r; a syntax error is returned in *err (else *err is
   NULL). */
static LuReadStatus read_next(LuReader *r, LuValue **form, LuValue **err) {
  ReadCall c = {r, NULL, LU_READ_EOF};
  *err = NULL;
  *form = NULL;
  if (!lu_pcall(read_call, &c, err))
    return LU_READ_EOF;
  *form = c.form;
  return c.st;
}

static LuReader reader(const char *src) {
  LuReader r;
  lu_reader_init(&r, src, strlen(src), "t.lsp");
  return r;
}

/* The one form src holds; fails on anything else. */
static LuValue *read1(const char *src) {
  LuReader r = reader(src);
  LuValue *form = NULL, *err;
  LuReadStatus st = read_next(&r, &form, &err);
  if (err)
    fail_msg("reading %s raised: %s", src, err->err->message->str.s);
  if (st != LU_READ_OK)
    fail_msg("reading %s: status %d, expected a form", src, (int)st);
  LuValue *more;
  if (read_next(&r, &more, &err) != LU_READ_EOF || err)
    fail_msg("%s holds more than one form", src);
  return form;
}

/* Every form of src, as a list. */
static LuValue *read_all(const char *src) {
  LuReader r = reader(src);
  LuValue *forms = lu_nil, *form, *err;
  LuReadStatus st;
  while ((st = read_next(&r, &form, &err)) == LU_READ_OK)
    forms = lu_cons(form, forms);
  if (err)
    fail_msg("reading %s raised: %s", src, err->err->message->str.s);
  assert_int_equal(st, LU_READ_EOF);
  return lu_nreverse(forms);
}

/* The syntax error reading src raises; its message must contain msg and
   its location be line:col of t.lsp (col 0: any column). */
static void assert_syntax_error(const char *src, const char *msg, int line,
                                int col) {
  LuReader r = reader(src);
  LuValue *form, *err;
  LuReadStatus st;
  while ((st = read_next(&r, &form, &err)) == LU_READ_OK)
    ;
  if (!err)
    fail_msg("reading %s raised no error (status %d)", src, (int)st);
  lt_assert_contains(err->err->message->str.s, "syntax error");
  lt_assert_contains(err->err->message->str.s, msg);
  LuValue *w = err->err->where;
  if (col == 0 && w != lu_nil)
    col = (int)LU_NUM(LU_CAR(LU_CDR(LU_CDR(w))));
  lt_assert_where(err, "t.lsp", line, col);
}

static void assert_incomplete(const char *src) {
  LuReader r = reader(src);
  LuValue *form, *err;
  LuReadStatus st = read_next(&r, &form, &err);
  if (err)
    fail_msg("reading %s raised: %s", src, err->err->message->str.s);
  if (st != LU_READ_INCOMPLETE)
    fail_msg("reading %s: status %d, expected LU_READ_INCOMPLETE", src,
             (int)st);
  assert_int_equal(r.pos, 0);
  assert_int_equal(r.line, 1);
  assert_int_equal(r.col, 1);
}

static LuValue *num(double x) {
  return lu_number(x);
}
static LuValue *sym(const char *s) {
  return lu_intern(s);
}
static LuValue *str(const char *s) {
  return lu_cstring(s);
}

static void assert_form(const char *src, LuValue *expected) {
  LuValue *got = read1(src);
  if (!lu_equal(got, expected))
    fail_msg("%s read as %s, expected %s", src, lu_repr(got, true),
             lu_repr(expected, true));
}

static void assert_number(const char *src, double x) {
  LuValue *v = read1(src);
  if (v->type != LU_NUMBER)
    fail_msg("%s read as %s, expected the number %.17g", src, lu_repr(v, true),
             x);
  assert_memory_equal(&v->num, &x, sizeof x); /* bit for bit */
}

static void assert_symbol(const char *src) {
  LuValue *v = read1(src);
  if (v->type != LU_SYMBOL)
    fail_msg("%s read as a %s, expected a symbol", src, lu_type_name(v));
  assert_string_equal(v->sym.name, src);
}

static void assert_loc(LuValue *form, int line, int col) {
  assert_int_equal(form->type, LU_CONS);
  if (!form->cons.loc)
    fail_msg("%s carries no location", lu_repr(form, true));
  assert_string_equal(form->cons.loc->file, "t.lsp");
  assert_int_equal(form->cons.loc->line, line);
  assert_int_equal(form->cons.loc->col, col);
}

/* ---- atoms ------------------------------------------------------------ */

static void test_numbers(void **state) {
  (void)state;
  assert_number("0", 0);
  assert_number("42", 42);
  assert_number("-7", -7);
  assert_number("+3", 3);
  assert_number("007", 7);
  assert_number("3.25", 3.25);
  assert_number(".5", 0.5);
  assert_number("-.5", -0.5);
  assert_number("+.5", 0.5);
  assert_number("1.", 1);
  assert_number("1e3", 1000);
  assert_number("1E-2", 0.01);
  assert_number("2.5e+2", 250);
  assert_number("0.1", 0.1);
  assert_number("-0.0", -0.0);
  assert_number("1.7976931348623157e308", 1.7976931348623157e308);
  assert_number("5e-324", 5e-324);
  /* a token longer than the reader's small buffer */
  char big[200] = "1";
  memset(big + 1, '0', 120);
  assert_number(big, 1e120);
  assert_number("123456789012345678901234567890", 1.2345678901234568e29);
}

static void test_symbols(void **state) {
  (void)state;
  const char *syms[] = {"a",   "foo-bar", "Foo",   "-",     "+",   "1+",
                        "1-",  "...",     "&rest", "==>",   "a.b", "nan",
                        "inf", "-inf",    "+nan",  "1e",    "e5",  "-x",
                        "t",   "#x",      "->",    "a->b",  "?",   "*x*",
                        "x/y", "<=",      "%",     "1.2.3", ".x",  "a\\b"};
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++)
    assert_symbol(syms[i]);
  assert_ptr_equal(read1("abc"), read1("abc"));     /* interned */
  assert_ptr_not_equal(read1("Abc"), read1("abc")); /* case-sensitive */
  char big[300];
  memset(big, 'x', 250);
  big[250] = 0;
  assert_symbol(big);
  assert_ptr_equal(read1("nil"), sym("nil"));
  assert_ptr_equal(read1("t"), lu_t);
}

static void test_strings(void **state) {
  (void)state;
  assert_form("\"\"", str(""));
  assert_form("\"abc\"", str("abc"));
  assert_form("\"a b;c(d)'e\"", str("a b;c(d)'e"));
  assert_form("\"a\\nb\"", str("a\nb"));
  assert_form("\"\\t\\r\\e\"", str("\t\r\x1b"));
  assert_form("\"q\\\"q\"", str("q\"q"));
  assert_form("\"back\\\\slash\"", str("back\\slash"));
  assert_form("\"\\x41\\x7a\\x7F\\xff\"", str("Az\x7f\xff"));
  assert_form("\"ab\\\ncd\"", str("abcd")); /* an escaped newline joins */
  assert_form("\"two\nlines\"", str("two\nlines"));
  assert_form("\"caf\xc3\xa9\"", str("caf\xc3\xa9")); /* UTF-8 kept */
  LuValue *nul = read1("\"a\\0b\"");
  assert_int_equal(nul->type, LU_STRING);
  assert_int_equal(nul->str.len, 3);
  assert_memory_equal(nul->str.s, "a\0b", 3);
  /* a string ends a symbol or a number */
  LuValue *l = read1("(ab\"cd\"12\"x\")");
  assert_true(lu_equal(l, lu_list(4, sym("ab"), str("cd"), num(12), str("x"))));
}

static void test_string_errors(void **state) {
  (void)state;
  LuReader r = reader("\"\\q\"");
  LuValue *form, *err;
  read_next(&r, &form, &err);
  assert_non_null(err);
  lt_assert_contains(err->err->message->str.s, "unknown escape");
  /* at the escape: its backslash or its letter */
  LuValue *w = err->err->where;
  assert_true(w != lu_nil);
  assert_int_equal((int)LU_NUM(LU_CAR(LU_CDR(w))), 1);
  int col = (int)LU_NUM(LU_CAR(LU_CDR(LU_CDR(w))));
  assert_true(col == 2 || col == 3);
  assert_syntax_error("(a\n \"\\xg1\")", "\\x", 2, 0);
  assert_syntax_error("\"\\x4\"", "\\x", 1, 0);
}

/* ---- lists ------------------------------------------------------------ */

static void test_lists(void **state) {
  (void)state;
  assert_ptr_equal(read1("()"), lu_nil);
  assert_ptr_equal(read1("(  \n )"), lu_nil);
  assert_form("(1 2 3)", lu_list(3, num(1), num(2), num(3)));
  assert_form(
      "( a\t(b c)\r\n() \f\"s\" )",
      lu_list(4, sym("a"), lu_list(2, sym("b"), sym("c")), lu_nil, str("s")));
  assert_form("((((x))))",
              lu_list(1, lu_list(1, lu_list(1, lu_list(1, sym("x"))))));
  assert_form("(a(b)c)", lu_list(3, sym("a"), lu_list(1, sym("b")), sym("c")));
  /* a long flat list is read without deep recursion */
  LuBuf b;
  lu_buf_init(&b);
  lu_buf_puts(&b, "(");
  for (int i = 0; i < 100000; i++)
    lu_buf_printf(&b, "%d ", i);
  lu_buf_puts(&b, ")");
  LuValue *l = read1(b.s);
  assert_int_equal(lu_length(l), 100000);
  /* and a reasonably deep one too */
  lu_buf_init(&b);
  for (int i = 0; i < 5000; i++)
    lu_buf_puts(&b, "(");
  lu_buf_puts(&b, "x");
  for (int i = 0; i < 5000; i++)
    lu_buf_puts(&b, ")");
  l = read1(b.s);
  for (int i = 0; i < 5000; i++) {
    assert_int_equal(l->type, LU_CONS);
    l = LU_CAR(l);
  }
  assert_ptr_equal(l, sym("x"));
}

static void test_dotted(void **state) {
  (void)state;
  assert_form("(1 . 2)", lu_cons(num(1), num(2)));
  assert_form("(a b . c)", lu_cons(sym("a"), lu_cons(sym("b"), sym("c"))));
  assert_form("(1 . (2 3))", lu_list(3, num(1), num(2), num(3)));
  assert_form("(1 . ())", lu_list(1, num(1)));
  assert_form("((a . b) . (c . d))", lu_cons(lu_cons(sym("a"), sym("b")),
                                             lu_cons(sym("c"), sym("d"))));
  assert_form("(a .b)", lu_list(2, sym("a"), sym(".b")));
  assert_form("(a . \"s\")", lu_cons(sym("a"), str("s")));
  assert_form("(x .5)", lu_list(2, sym("x"), num(0.5)));
  assert_syntax_error("(. a)", "misplaced '.'", 1, 2);
  assert_syntax_error("(a . b c)", "more than one form after '.'", 1, 8);
  assert_syntax_error("(a . b . c)", "more than one form after '.'", 1, 8);
  assert_syntax_error("(a .)", "unexpected ')'", 1, 5);
  assert_syntax_error("[1 . 2]", "misplaced '.'", 1, 4);
}

static void test_quotes(void **state) {
  (void)state;
  LuValue *q = sym("quote"), *qq = sym("quasiquote"), *uq = sym("unquote"),
          *uqs = sym("unquote-splicing");
  assert_form("'x", lu_list(2, q, sym("x")));
  assert_form("' x", lu_list(2, q, sym("x")));
  assert_form("''x", lu_list(2, q, lu_list(2, q, sym("x"))));
  assert_form("'(1 2)", lu_list(2, q, lu_list(2, num(1), num(2))));
  assert_form("'()", lu_list(2, q, lu_nil));
  assert_form("`(a ,b ,@c)",
              lu_list(2, qq,
                      lu_list(3, sym("a"), lu_list(2, uq, sym("b")),
                              lu_list(2, uqs, sym("c")))));
  assert_form("`(a . ,b)",
              lu_list(2, qq, lu_cons(sym("a"), lu_list(2, uq, sym("b")))));
  assert_form("(a'b)", lu_list(2, sym("a"), lu_list(2, q, sym("b"))));
  assert_form("',@x", lu_list(2, q, lu_list(2, uqs, sym("x"))));
  assert_form("'\"s\"", lu_list(2, q, str("s")));
  assert_syntax_error("(a ')", "unexpected ')'", 1, 5);
}

static void test_comments(void **state) {
  (void)state;
  assert_number("; a comment\n42", 42);
  assert_number("42 ; trailing", 42);
  assert_form("(1 ; one ) not closed\n 2)", lu_list(2, num(1), num(2)));
  assert_form("(a;b\nc)", lu_list(2, sym("a"), sym("c")));
  assert_form("\"a;b\"", str("a;b"));
  assert_ptr_equal(read_all("; only\n;; comments\n   \n"), lu_nil);
  assert_ptr_equal(read_all(""), lu_nil);
  assert_ptr_equal(read_all(" \t\r\n\f"), lu_nil);
}

static void test_shebang(void **state) {
  (void)state;
  LuValue *forms = read_all("#!/usr/bin/env lush89 (not a form\n(a)\n 7");
  assert_int_equal(lu_length(forms), 2);
  assert_true(lu_equal(LU_CAR(forms), lu_list(1, sym("a"))));
  assert_loc(LU_CAR(forms), 2, 1);
  assert_true(lu_equal(LU_CAR(LU_CDR(forms)), num(7)));
  assert_ptr_equal(read_all("#!/bin/lush89"), lu_nil);
  /* only a first line is skipped */
  forms = read_all("1\n#!x");
  assert_int_equal(lu_length(forms), 2);
  assert_ptr_equal(LU_CAR(LU_CDR(forms)), sym("#!x"));
  assert_syntax_error("#!lush89\n  )", "unexpected ')'", 2, 3);
}

static void test_idx_literals(void **state) {
  (void)state;
  LuValue *il = sym("idx-literal");
  assert_form("[1 2 3]", lu_list(4, il, num(1), num(2), num(3)));
  assert_form("[]", lu_list(1, il));
  assert_form("[[1 2] [3 4]]", lu_list(3, il, lu_list(3, il, num(1), num(2)),
                                       lu_list(3, il, num(3), num(4))));
  assert_form("[a (b) \"c\"]",
              lu_list(4, il, sym("a"), lu_list(1, sym("b")), str("c")));
  assert_form("'[1]", lu_list(2, sym("quote"), lu_list(2, il, num(1))));
}

/* Brackets end atoms, and must match. */
static void test_brackets_delimit(void **state) {
  (void)state;
  LuValue *forms = read_all("a[1]b");
  assert_int_equal(lu_length(forms), 3);
  assert_ptr_equal(LU_CAR(forms), sym("a"));
  assert_ptr_equal(LU_CAR(LU_CDR(LU_CDR(forms))), sym("b"));
  assert_syntax_error("(1 2]", "']' closes a '('", 1, 5);
  assert_syntax_error("[1 2)", "')' closes a '['", 1, 5);
  assert_syntax_error("]", "unexpected ']'", 1, 1);
  assert_syntax_error("(a)\n\n    )", "unexpected ')'", 3, 5);
}

/* ---- locations -------------------------------------------------------- */

static void test_locations(void **state) {
  (void)state;
  LuValue *forms = read_all("(a)\n  (b\n (c)) \"x\ny\" (d\t(e))\n'f\n[1]");
  assert_int_equal(lu_length(forms), 6);
  LuValue *a = LU_CAR(forms), *b = LU_CAR(LU_CDR(forms));
  assert_loc(a, 1, 1);
  assert_loc(b, 2, 3);
  assert_loc(LU_CAR(LU_CDR(b)), 3, 2); /* (c) */
  LuValue *d = LU_CAR(LU_CDR(LU_CDR(LU_CDR(forms))));
  assert_loc(d, 4, 4);                 /* after the two-line string */
  assert_loc(LU_CAR(LU_CDR(d)), 4, 7); /* a tab is one column */
  LuValue *f = LU_CAR(LU_CDR(LU_CDR(LU_CDR(LU_CDR(forms)))));
  assert_loc(f, 5, 1); /* 'f is (quote f), at its quote mark */
  assert_loc(LU_CAR(lu_nreverse(forms)), 6, 1);
  /* CRLF line ends count once */
  forms = read_all("1\r\n2\r\n (x)");
  assert_loc(LU_CAR(LU_CDR(LU_CDR(forms))), 3, 2);
  /* the file name is kept */
  LuReader r;
  lu_reader_init(&r, "\n(z)", 4, "dir/other.lsp");
  LuValue *form, *err;
  assert_int_equal(read_next(&r, &form, &err), LU_READ_OK);
  assert_string_equal(form->cons.loc->file, "dir/other.lsp");
  assert_int_equal(form->cons.loc->line, 2);
}

/* ---- unfinished forms ------------------------------------------------- */

static void test_incomplete(void **state) {
  (void)state;
  const char *cases[] = {"(",    "(a (b)",  "\"abc",   "\"abc\\",  "'",
                         "`",    ",@",      "(a . ",   "(a . b",   "[1 2",
                         "[[1]", "(a ; c)", "(\"x)\"", "'(a\n\nb", "(((((("};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    assert_incomplete(cases[i]);
}

/* The text ends just after \x: the string is unfinished. */
static void test_incomplete_hex_escape(void **state) {
  (void)state;
  assert_incomplete("\"ab\\x");
  assert_incomplete("\"ab\\x4");
}

static void test_incomplete_rewinds(void **state) {
  (void)state;
  const char *src = "(a) \n  (b (c)";
  LuReader r = reader(src);
  LuValue *form, *err;
  assert_int_equal(read_next(&r, &form, &err), LU_READ_OK);
  assert_true(lu_equal(form, lu_list(1, sym("a"))));
  assert_int_equal(read_next(&r, &form, &err), LU_READ_INCOMPLETE);
  assert_null(err);
  assert_int_equal(r.pos, 7); /* at "(b", not at the end */
  assert_int_equal(r.line, 2);
  assert_int_equal(r.col, 3);
  /* reading again gives the same answer: nothing was consumed */
  assert_int_equal(read_next(&r, &form, &err), LU_READ_INCOMPLETE);
  assert_int_equal(r.pos, 7);
  /* the completed text reads from the same place with the same location */
  const char *more = "(a) \n  (b (c)\n )";
  LuReader r2 = reader(more);
  r2.pos = r.pos, r2.line = r.line, r2.col = r.col;
  assert_int_equal(read_next(&r2, &form, &err), LU_READ_OK);
  assert_true(lu_equal(form, lu_list(2, sym("b"), lu_list(1, sym("c")))));
  assert_loc(form, 2, 3);
  assert_int_equal(read_next(&r2, &form, &err), LU_READ_EOF);
}

/* ---- errors ----------------------------------------------------------- */

static void test_syntax_errors(void **state) {
  (void)state;
  assert_syntax_error(")", "unexpected ')'", 1, 1);
  assert_syntax_error("  \n\t)", "unexpected ')'", 2, 2);
  assert_syntax_error("(a b) )", "unexpected ')'", 1, 7);
  assert_syntax_error("(a\n  (b ]", "']' closes a '('", 2, 6);
  /* an error inside an unfinished form is still a syntax error */
  assert_syntax_error("(a ] (", "']' closes a '('", 1, 4);
}

/* 200,000 open parentheses: an error, with a location, never a crash. */
/* A NUL byte is refused wherever it stands, never looped on. */
static void test_nul_byte(void **state) {
  (void)state;
  static const char *const srcs[] = {"(a \0 b)", "\0",  "ab\0",
                                     "\"a\0b\"", "'\0", "[1 \0]"};
  static const size_t lens[] = {7, 1, 3, 5, 2, 5};
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
    LuReader r;
    lu_reader_init(&r, srcs[i], lens[i], "t.lsp");
    LuValue *form, *err;
    while (read_next(&r, &form, &err) == LU_READ_OK)
      ;
    if (!err)
      fail_msg("source %zu: the NUL byte raised no error", i);
    lt_assert_contains(err->err->message->str.s, "syntax error: NUL byte");
  }
}

/* A number beyond a double's range is an error, not inf; one below its
   smallest reads as 0 or a subnormal. */
static void test_number_range(void **state) {
  (void)state;
  assert_syntax_error("(1 1e400)", "number out of range", 1, 4);
  assert_syntax_error("-1e999", "number out of range", 1, 1);
  assert_true(LU_NUM(read1("1e-400")) == 0);
  assert_true(LU_NUM(read1("1.7976931348623157e308")) > 1e308);
}

static void test_too_deep(void **state) {
  (void)state;
  enum { N = 200000 };
  char *src = lu_alloc_atomic(2 * N + 2, "test");
  memset(src, '(', N);
  memset(src + N, ')', N);
  src[2 * N] = 0;
  LuReader r = reader(src);
  LuValue *form, *err;
  read_next(&r, &form, &err);
  if (!err)
    fail_msg("200,000 nested lists read without an error");
  lt_assert_contains(err->err->message->str.s, "too deep");
  /* the interpreter goes on */
  assert_true(lu_equal(read1("(1)"), lu_list(1, num(1))));
  assert_true(err->err->where != lu_nil);
}

/* The same for a chain of quote marks, which nest without brackets. */
static void test_too_deep_quotes(void **state) {
  (void)state;
  enum { N = 200000 };
  char *src = lu_alloc_atomic(N + 2, "test");
  memset(src, '\'', N);
  src[N] = 'x';
  src[N + 1] = 0;
  LuReader r = reader(src);
  LuValue *form, *err;
  read_next(&r, &form, &err);
  if (!err)
    fail_msg("200,000 nested quotes read without an error");
  lt_assert_contains(err->err->message->str.s, "too deep");
}

int main(void) {
  int base;
  lt_start(&base);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_nul_byte),
      cmocka_unit_test(test_number_range),
      cmocka_unit_test(test_symbols),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_string_errors),
      cmocka_unit_test(test_lists),
      cmocka_unit_test(test_dotted),
      cmocka_unit_test(test_quotes),
      cmocka_unit_test(test_comments),
      cmocka_unit_test(test_shebang),
      cmocka_unit_test(test_idx_literals),
      cmocka_unit_test(test_brackets_delimit),
      cmocka_unit_test(test_locations),
      cmocka_unit_test(test_incomplete),
      cmocka_unit_test(test_incomplete_hex_escape),
      cmocka_unit_test(test_incomplete_rewinds),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_too_deep),
      cmocka_unit_test(test_too_deep_quotes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
