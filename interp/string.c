/* string.c: string builtins (concat, substring, search, case, split, join,
   trimming, comparison, conversions) and printf/sprintf. Strings are
   immutable byte sequences: every builtin returns a new string, and indexes
   and lengths count bytes. */
#include "interp.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers --------------------------------------------------------- */

static LuValue *arg_string(LuValue **argv, int i) {
  return lu_arg_type(argv, i, LU_STRING);
}

/* Argument i as a byte index into a string of length len: an integer in
   [0, len]. */
static size_t arg_index(LuValue **argv, int i, size_t len) {
  long k = lu_arg_int(argv, i);
  if (k < 0 || (size_t)k > len) {
    char what[64];
    snprintf(what, sizeof what, "index from 0 to %zu", len);
    lu_arg_error(i, what, argv[i]);
  }
  return (size_t)k;
}

static LuValue *buf_string(LuBuf *b) {
  return lu_string(b->s, b->len);
}

/* The first occurrence of needle in hay at or after start, or -1. */
static long find_bytes(LuValue *hay, LuValue *needle, size_t start) {
  const char *h = hay->str.s, *n = needle->str.s;
  size_t hl = hay->str.len, nl = needle->str.len;
  if (nl == 0)
    return (long)start;
  for (size_t i = start; i + nl <= hl; i++) {
    const char *p = memchr(h + i, n[0], hl - nl + 1 - i);
    if (!p)
      return -1;
    i = (size_t)(p - h);
    if (memcmp(p, n, nl) == 0)
      return (long)i;
  }
  return -1;
}

/* memcmp order, a proper prefix first: the order of string<. */
static int compare_strings(LuValue **argv) {
  LuValue *a = arg_string(argv, 0), *b = arg_string(argv, 1);
  size_t n = a->str.len < b->str.len ? a->str.len : b->str.len;
  int c = memcmp(a->str.s, b->str.s, n);
  if (c != 0)
    return c;
  return (a->str.len > b->str.len) - (a->str.len < b->str.len);
}

static LuValue *map_bytes(LuValue **argv, int (*f)(int)) {
  LuValue *s = arg_string(argv, 0);
  char *out = lu_alloc_atomic(s->str.len + 1, lu_caller());
  for (size_t i = 0; i < s->str.len; i++)
    out[i] = (char)f((unsigned char)s->str.s[i]);
  return lu_string(out, s->str.len);
}

/* ---- printf ---------------------------------------------------------- */

/* One directive's flags, width and precision, as parsed by parse_spec. */
typedef struct {
  char flags[8]; /* subset of "-+ #0", NUL-terminated */
  int width;     /* -1 when absent */
  int prec;      /* -1 when absent */
  char conv;
} Spec;

#define MAX_FIELD 1000000 /* a width or precision beyond is surely a bug */

/* The arguments being formatted, consumed left to right. */
typedef struct {
  LuValue **argv;
  int argc, next;
} Args;

static LuValue *next_arg(Args *a, char conv) {
  if (a->next >= a->argc)
    lu_error("%s: too few arguments for the directives (at %%%c)", lu_caller(),
             conv);
  return a->argv[a->next++];
}

/* Reads a width or precision: digits, or * taking an integer argument. */
static int parse_field(const char **p, Args *a) {
  long n = 0;
  if (**p == '*') {
    (*p)++;
    LuValue *v = next_arg(a, '*');
    if (!LU_IS(v, LU_NUMBER) || LU_NUM(v) != trunc(LU_NUM(v)) ||
        fabs(LU_NUM(v)) > MAX_FIELD)
      lu_error("%s: * needs an integer up to %d, got %s", lu_caller(),
               MAX_FIELD, lu_repr_limit(v, 60));
    return (int)LU_NUM(v);
  }
  while (isdigit((unsigned char)**p)) {
    n = n * 10 + (**p - '0');
    if (n > MAX_FIELD)
      lu_error("%s: field width or precision above %d", lu_caller(), MAX_FIELD);
    (*p)++;
  }
  return (int)n;
}

/* Parses a directive after its '%'; leaves *p after the conversion. */
static Spec parse_spec(const char **p, const char *end, Args *a) {
  Spec s = {{0}, -1, -1, 0};
  size_t nf = 0;
  while (*p < end && **p && strchr("-+ #0", **p)) {
    if (nf < sizeof s.flags - 1 && !strchr(s.flags, **p))
      s.flags[nf++] = **p;
    (*p)++;
  }
  if (*p < end && (**p == '*' || isdigit((unsigned char)**p))) {
    s.width = parse_field(p, a);
    if (s.width < 0) { /* as in C, a negative * width means left-justify */
      s.width = -s.width;
      if (!strchr(s.flags, '-') && nf < sizeof s.flags - 1)
        s.flags[nf++] = '-';
    }
  }
  if (*p < end && **p == '.') {
    (*p)++;
    s.prec = parse_field(p, a);
  }
  if (*p >= end)
    lu_error("%s: format ends inside a directive", lu_caller());
  s.conv = *(*p)++;
  return s;
}

/* Appends text, cut to the precision and padded with spaces to the width. */
static void add_padded(LuBuf *b, const Spec *s, const char *text, size_t n) {
  if (s->prec >= 0 && (size_t)s->prec < n)
    n = (size_t)s->prec;
  size_t pad = s->width > 0 && (size_t)s->width > n ? s->width - n : 0;
  bool left = strchr(s->flags, '-') != NULL;
  if (!left)
    for (size_t i = 0; i < pad; i++)
      lu_buf_add(b, " ", 1);
  lu_buf_add(b, text, n);
  if (left)
    for (size_t i = 0; i < pad; i++)
      lu_buf_add(b, " ", 1);
}

/* Builds the C format "%<flags>*[.*]<mod><conv>" for one numeric directive. */
static void c_format(char *out, const Spec *s, const char *mod) {
  snprintf(out, 32, "%%%s*%s%s%c", s->flags, s->prec >= 0 ? ".*" : "", mod,
           s->conv);
}

/* An integer directive: the value must be an integral number that fits a
   long long (all integers a double holds exactly fit). */
static void format_int(LuBuf *b, const Spec *s, LuValue *v) {
  if (!LU_IS(v, LU_NUMBER) || LU_NUM(v) != trunc(LU_NUM(v)) ||
      fabs(LU_NUM(v)) >= 9.2e18)
    lu_error("%s: %%%c needs an integer, got %s", lu_caller(), s->conv,
             lu_repr_limit(v, 60));
  long long x = (long long)LU_NUM(v);
  char fmt[32];
  c_format(fmt, s, "ll");
  int w = s->width < 0 ? 0 : s->width;
  if (s->prec >= 0)
    lu_buf_printf(b, fmt, w, s->prec, x);
  else
    lu_buf_printf(b, fmt, w, x);
}

static void format_float(LuBuf *b, const Spec *s, LuValue *v) {
  if (!LU_IS(v, LU_NUMBER))
    lu_error("%s: %%%c needs a number, got %s", lu_caller(), s->conv,
             lu_repr_limit(v, 60));
  char fmt[32];
  c_format(fmt, s, "");
  int w = s->width < 0 ? 0 : s->width;
  if (s->prec >= 0)
    lu_buf_printf(b, fmt, w, s->prec, LU_NUM(v));
  else
    lu_buf_printf(b, fmt, w, LU_NUM(v));
}

/* %c: a character code 0..255, or the first byte of a string. */
static void format_char(LuBuf *b, const Spec *s, LuValue *v) {
  char c;
  if (LU_IS(v, LU_NUMBER) && LU_NUM(v) >= 0 && LU_NUM(v) <= 255 &&
      LU_NUM(v) == trunc(LU_NUM(v)))
    c = (char)(int)LU_NUM(v);
  else if (LU_IS(v, LU_STRING) && v->str.len > 0)
    c = v->str.s[0];
  else
    lu_error("%s: %%c needs a character code 0..255 or a non-empty string, "
             "got %s",
             lu_caller(), lu_repr_limit(v, 60));
  Spec whole = *s;
  whole.prec = -1;
  add_padded(b, &whole, &c, 1);
}

/* %s prints raw (strings without quotes), %l readably (as `read` reads). */
static void format_value(LuBuf *b, const Spec *s, LuValue *v) {
  if (s->conv == 's' && LU_IS(v, LU_STRING)) {
    add_padded(b, s, v->str.s, v->str.len);
    return;
  }
  LuBuf t;
  lu_buf_init(&t);
  lu_print_to(&t, v, s->conv == 'l');
  add_padded(b, s, t.s, t.len);
}

/* Appends fmt expanded with argv[0..argc-1] to b. Directives: %d %i %o %u
   %x %X (integers), %f %F %e %E %g %G (numbers), %c, %s, %l (any value,
   readably), %%; flags -+ #0, width and precision as in C, * taking an
   argument. Raises on an unknown directive, a mistyped argument, or too
   few or too many arguments. */
static void format_to(LuBuf *b, LuValue *fmt, LuValue **argv, int argc) {
  Args a = {argv, argc, 0};
  const char *p = fmt->str.s, *end = p + fmt->str.len;
  while (p < end) {
    const char *pct = memchr(p, '%', (size_t)(end - p));
    if (!pct) {
      lu_buf_add(b, p, (size_t)(end - p));
      break;
    }
    lu_buf_add(b, p, (size_t)(pct - p));
    p = pct + 1;
    Spec s = parse_spec(&p, end, &a);
    switch (s.conv) {
    case '%':
      lu_buf_add(b, "%", 1);
      break;
    case 'd':
    case 'i':
    case 'o':
    case 'u':
    case 'x':
    case 'X':
      format_int(b, &s, next_arg(&a, s.conv));
      break;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G':
      format_float(b, &s, next_arg(&a, s.conv));
      break;
    case 'c':
      format_char(b, &s, next_arg(&a, s.conv));
      break;
    case 's':
    case 'l':
      format_value(b, &s, next_arg(&a, s.conv));
      break;
    default:
      lu_error("%s: unknown directive %%%c in format", lu_caller(), s.conv);
    }
  }
  if (a.next < argc)
    lu_error("%s: %d more arguments than directives", lu_caller(),
             argc - a.next);
}

/* printf and eprintf: (FORMAT ARG...) formatted onto f. */
static void print_formatted(FILE *f, LuValue **argv, int argc) {
  LuBuf b;
  lu_buf_init(&b);
  format_to(&b, arg_string(argv, 0), argv + 1, argc - 1);
  fwrite(b.s, 1, b.len, f);
}

LU_DEFUN(printf_, "(printf FORMAT ARG...)",
         "Writes FORMAT to standard output with each directive replaced by "
         "the next ARG, as C's printf: %d %i %o %u %x %X take integers, %f "
         "%e %g %F %E %G numbers, %c a character code, %s any value printed "
         "raw, %l any value printed readably (as read reads it back), %% a "
         "%; flags, width and precision as in C (* takes them from an "
         "argument). Returns ().") {
  print_formatted(stdout, argv, argc);
  return lu_nil;
}

LU_DEFUN(eprintf, "(eprintf FORMAT ARG...)",
         "Like printf, but writes to standard error (flushing standard "
         "output first, so the two stay in order). Returns ().") {
  fflush(stdout);
  print_formatted(stderr, argv, argc);
  return lu_nil;
}

LU_DEFUN(sprintf_, "(sprintf FORMAT ARG...)",
         "Returns the string printf would write: (sprintf \"%05.1f|%-3s|\" "
         "3.14159 \"a\") is \"003.1|a  |\".") {
  LuBuf b;
  lu_buf_init(&b);
  format_to(&b, arg_string(argv, 0), argv + 1, argc - 1);
  return buf_string(&b);
}

/* ---- Building strings ------------------------------------------------ */

LU_DEFUN(concat, "(concat STR...)",
         "Returns the concatenation of the strings STR....") {
  LuBuf b;
  lu_buf_init(&b);
  for (int i = 0; i < argc; i++) {
    LuValue *s = arg_string(argv, i);
    lu_buf_add(&b, s->str.s, s->str.len);
  }
  return buf_string(&b);
}

LU_DEFUN(substring, "(substring STR START [END])",
         "Returns the bytes of STR from index START (from 0) up to END "
         "excluded (default: the end of STR).") {
  LuValue *s = arg_string(argv, 0);
  size_t start = arg_index(argv, 1, s->str.len);
  size_t end = argc > 2 ? arg_index(argv, 2, s->str.len) : s->str.len;
  if (end < start)
    lu_error("substring: END %zu is before START %zu", end, start);
  return lu_string(s->str.s + start, end - start);
}

LU_DEFUN(strlen_, "(strlen STR)", "Returns the number of bytes of STR.") {
  return lu_number((double)arg_string(argv, 0)->str.len);
}

LU_DEFUN(upcase, "(upcase STR)",
         "Returns STR with ASCII letters made upper case.") {
  return map_bytes(argv, toupper);
}

LU_DEFUN(downcase, "(downcase STR)",
         "Returns STR with ASCII letters made lower case.") {
  return map_bytes(argv, tolower);
}

LU_DEFUN(string_trim, "(string-trim STR)",
         "Returns STR without its leading and trailing white space.") {
  LuValue *s = arg_string(argv, 0);
  size_t lo = 0, hi = s->str.len;
  while (lo < hi && isspace((unsigned char)s->str.s[lo]))
    lo++;
  while (hi > lo && isspace((unsigned char)s->str.s[hi - 1]))
    hi--;
  return lu_string(s->str.s + lo, hi - lo);
}

LU_DEFUN(chr, "(chr CODE)",
         "Returns the one-byte string whose byte is CODE, from 0 to 255.") {
  long c = lu_arg_int(argv, 0);
  if (c < 0 || c > 255)
    lu_arg_error(0, "character code from 0 to 255", argv[0]);
  char ch = (char)c;
  return lu_string(&ch, 1);
}

LU_DEFUN(ord, "(ord STR)",
         "Returns the code (0 to 255) of the first byte of the non-empty "
         "string STR.") {
  LuValue *s = arg_string(argv, 0);
  if (s->str.len == 0)
    lu_arg_error(0, "non-empty string", argv[0]);
  return lu_number((unsigned char)s->str.s[0]);
}

/* ---- Searching, splitting, joining ----------------------------------- */

LU_DEFUN(search, "(search SUB STR [START])",
         "Returns the index of the first occurrence of SUB in STR at or "
         "after START (default 0), or () when there is none.") {
  LuValue *sub = arg_string(argv, 0), *s = arg_string(argv, 1);
  size_t start = argc > 2 ? arg_index(argv, 2, s->str.len) : 0;
  long k = find_bytes(s, sub, start);
  return k < 0 ? lu_nil : lu_number((double)k);
}

/* Splits on runs of white space, dropping empty fields. */
static LuValue *split_words(LuValue *s) {
  LuValue *acc = lu_nil;
  size_t i = 0, n = s->str.len;
  while (i < n) {
    while (i < n && isspace((unsigned char)s->str.s[i]))
      i++;
    size_t start = i;
    while (i < n && !isspace((unsigned char)s->str.s[i]))
      i++;
    if (i > start)
      acc = lu_cons(lu_string(s->str.s + start, i - start), acc);
  }
  return lu_nreverse(acc);
}

LU_DEFUN(split, "(split STR [SEP])",
         "Returns the list of the pieces of STR between occurrences of the "
         "string SEP, keeping empty pieces: (split \"a,,b\" \",\") is (\"a\" "
         "\"\" \"b\"). Without SEP, splits on runs of white space and drops "
         "empty pieces: (split \" a  b \") is (\"a\" \"b\").") {
  LuValue *s = arg_string(argv, 0);
  if (argc < 2)
    return split_words(s);
  LuValue *sep = arg_string(argv, 1);
  if (sep->str.len == 0)
    lu_arg_error(1, "non-empty separator", argv[1]);
  LuValue *acc = lu_nil;
  size_t start = 0;
  long k;
  while ((k = find_bytes(s, sep, start)) >= 0) {
    acc = lu_cons(lu_string(s->str.s + start, (size_t)k - start), acc);
    start = (size_t)k + sep->str.len;
  }
  acc = lu_cons(lu_string(s->str.s + start, s->str.len - start), acc);
  return lu_nreverse(acc);
}

LU_DEFUN(join, "(join LIST [SEP])",
         "Returns the strings of LIST concatenated with SEP (default \"\") "
         "between them: (join '(\"a\" \"b\") \", \") is \"a, b\".") {
  LuValue *sep = argc > 1 ? arg_string(argv, 1) : NULL;
  LuBuf b;
  lu_buf_init(&b);
  long n = lu_arg_proper(argv, 0, "proper list of strings");
  LuValue *l = argv[0];
  for (long i = 0; i < n; i++, l = LU_CDR(l)) {
    LuValue *s = LU_CAR(l);
    if (!LU_IS(s, LU_STRING))
      lu_error("join: list element %s is not a string", lu_repr_limit(s, 60));
    if (sep && i > 0)
      lu_buf_add(&b, sep->str.s, sep->str.len);
    lu_buf_add(&b, s->str.s, s->str.len);
  }
  return buf_string(&b);
}

/* ---- Comparing ------------------------------------------------------- */

LU_DEFUN(string_eq, "(string= A B)",
         "Returns t when strings A and B have the same bytes, else ().") {
  return LU_BOOL(compare_strings(argv) == 0);
}

LU_DEFUN(string_lt, "(string< A B)",
         "Returns t when string A sorts before B (byte order, a prefix "
         "first), else ().") {
  return LU_BOOL(compare_strings(argv) < 0);
}

LU_DEFUN(string_gt, "(string> A B)",
         "Returns t when string A sorts after B, else ().") {
  return LU_BOOL(compare_strings(argv) > 0);
}

LU_DEFUN(string_le, "(string<= A B)",
         "Returns t when string A sorts before B or equals it, else ().") {
  return LU_BOOL(compare_strings(argv) <= 0);
}

LU_DEFUN(string_ge, "(string>= A B)",
         "Returns t when string A sorts after B or equals it, else ().") {
  return LU_BOOL(compare_strings(argv) >= 0);
}

/* ---- Conversions ----------------------------------------------------- */

LU_DEFUN(string_to_number, "(string->number STR)",
         "Returns the number written in STR (surrounding white space "
         "allowed, e.g. \" -1.5e3\"), or () when STR is not a number.") {
  LuValue *s = arg_string(argv, 0);
  if (strlen(s->str.s) != s->str.len)
    return lu_nil; /* an embedded NUL would end strtod early */
  const char *p = s->str.s;
  while (isspace((unsigned char)*p))
    p++;
  if (*p == '\0')
    return lu_nil;
  char *end;
  double x = strtod(p, &end);
  while (isspace((unsigned char)*end))
    end++;
  return *end == '\0' ? lu_number(x) : lu_nil;
}

LU_DEFUN(number_to_string, "(number->string X)",
         "Returns the shortest text that reads back as the number X: \"3\", "
         "\"0.1\".") {
  LuBuf b;
  lu_buf_init(&b);
  lu_print_number(&b, lu_arg_num(argv, 0));
  return buf_string(&b);
}

LU_DEFUN(symbol_to_string, "(symbol->string SYM)",
         "Returns the name of the symbol SYM as a string.") {
  return lu_cstring(lu_arg_sym(argv, 0)->sym.name);
}

LU_DEFUN(string_to_symbol, "(string->symbol STR)",
         "Returns the symbol named STR, creating it if needed.") {
  LuValue *s = arg_string(argv, 0);
  if (strlen(s->str.s) != s->str.len || s->str.len == 0)
    lu_arg_error(0, "non-empty string without NUL bytes", argv[0]);
  return lu_intern(s->str.s);
}

static LuBuiltin *const string_builtins[] = {&printf__builtin,
                                             &eprintf_builtin,
                                             &sprintf__builtin,
                                             &concat_builtin,
                                             &substring_builtin,
                                             &strlen__builtin,
                                             &upcase_builtin,
                                             &downcase_builtin,
                                             &string_trim_builtin,
                                             &chr_builtin,
                                             &ord_builtin,
                                             &search_builtin,
                                             &split_builtin,
                                             &join_builtin,
                                             &string_eq_builtin,
                                             &string_lt_builtin,
                                             &string_gt_builtin,
                                             &string_le_builtin,
                                             &string_ge_builtin,
                                             &string_to_number_builtin,
                                             &number_to_string_builtin,
                                             &symbol_to_string_builtin,
                                             &string_to_symbol_builtin,
                                             NULL};

void lu_string_open(void) {
  lu_register(string_builtins);
}
