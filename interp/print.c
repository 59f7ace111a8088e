/* print.c: the printer. Values to text, readably (strings quoted and
   escaped, as `read` reads them back) or raw. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

void lu_print_number(LuBuf *b, double x) {
  if (isnan(x)) {
    lu_buf_puts(b, "nan");
    return;
  }
  if (isinf(x)) {
    lu_buf_puts(b, x > 0 ? "inf" : "-inf");
    return;
  }
  if (x == floor(x) && fabs(x) < 1e16) {
    lu_buf_printf(b, "%.0f", x == 0 ? 0.0 : x); /* no "-0" */
    return;
  }
  char s[40];
  /* 15 digits is the shortest for most doubles; subnormals hold fewer. */
  for (int prec = fabs(x) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, x);
    if (strtod(s, NULL) == x)
      break;
  }
  lu_buf_puts(b, s);
}

/* One printing: the buffer, the mode, and the length past which lists
   stop printing (lu_repr_limit's bound). It lives on the C stack, so an
   error or Ctrl-C in the middle of printing leaves nothing behind. */
typedef struct {
  LuBuf *b;
  bool readably;
  size_t limit;
} Printer;

static void print_value(Printer *p, LuValue *v);

/* Writes v quoted and escaped, stopping once b is longer than limit. */
static void print_string(LuBuf *b, LuValue *v, size_t limit) {
  lu_buf_puts(b, "\"");
  for (size_t i = 0; i < v->str.len && b->len <= limit; i++) {
    unsigned char c = (unsigned char)v->str.s[i];
    switch (c) {
    case '"':
      lu_buf_puts(b, "\\\"");
      break;
    case '\\':
      lu_buf_puts(b, "\\\\");
      break;
    case '\n':
      lu_buf_puts(b, "\\n");
      break;
    case '\t':
      lu_buf_puts(b, "\\t");
      break;
    case '\r':
      lu_buf_puts(b, "\\r");
      break;
    default:
      if (c < 32 || c == 127)
        lu_buf_printf(b, "\\x%02x", c);
      else
        lu_buf_add(b, (const char *)&c, 1);
    }
  }
  lu_buf_puts(b, "\"");
}

/* Quote forms print as they were written. */
static const char *quote_prefix(LuValue *v) {
  if (!LU_IS(LU_CDR(v), LU_CONS) || !LU_ISNIL(LU_CDR(LU_CDR(v))))
    return NULL;
  LuValue *h = LU_CAR(v);
  return h == lu_s_quote              ? "'"
         : h == lu_s_quasiquote       ? "`"
         : h == lu_s_unquote          ? ","
         : h == lu_s_unquote_splicing ? ",@"
                                      : NULL;
}

/* A list whose cdrs loop back (Floyd's tortoise and hare follow it) prints
   its elements up to the second time round, then " ...)": printing ends,
   and the text shows where the loop is. */
static void print_list(Printer *p, LuValue *v) {
  LuBuf *b = p->b;
  const char *q = quote_prefix(v);
  if (q) {
    lu_buf_puts(b, q);
    print_value(p, LU_CAR(LU_CDR(v)));
    return;
  }
  lu_buf_puts(b, "(");
  LuValue *slow = v;
  bool looped = false;
  for (long n = 0; LU_IS(v, LU_CONS); v = LU_CDR(v), n++) {
    lu_poll();
    if (b->len > p->limit || looped) {
      lu_buf_puts(b, " ...");
      v = lu_nil;
      break;
    }
    if (n > 0)
      lu_buf_puts(b, " ");
    print_value(p, LU_CAR(v));
    if (n & 1) {
      slow = LU_CDR(slow);
      looped = slow == LU_CDR(v);
    }
  }
  if (!LU_ISNIL(v)) {
    lu_buf_puts(b, " . ");
    print_value(p, v);
  }
  lu_buf_puts(b, ")");
}

static void print_value(Printer *p, LuValue *v) {
  lu_check_stack();
  LuBuf *b = p->b;
  switch (LU_TYPE(v)) {
  case LU_NIL:
    lu_buf_puts(b, "()");
    break;
  case LU_NUMBER:
    lu_print_number(b, LU_NUM(v));
    break;
  case LU_STRING:
    if (p->readably)
      print_string(b, v, p->limit);
    else
      lu_buf_add(b, v->str.s, v->str.len);
    break;
  case LU_SYMBOL:
    lu_buf_puts(b, v->sym.name);
    break;
  case LU_CONS:
    print_list(p, v);
    break;
  case LU_BUILTIN:
    lu_buf_printf(b, "#<%s %s>", lu_type_name(v), v->builtin->name);
    break;
  case LU_CLOSURE:
  case LU_MACRO:
    if (!LU_ISNIL(v->fn->name))
      lu_buf_printf(b, "#<%s %s>", lu_type_name(v), v->fn->name->sym.name);
    else
      lu_buf_printf(b, "#<%s>", LU_IS(v, LU_MACRO) ? "macro" : "lambda");
    break;
  case LU_CLASS:
    lu_buf_printf(b, "#<class %s>", v->klass->name->sym.name);
    break;
  case LU_OBJECT:
    lu_buf_printf(b, "#<%s>", v->obj->klass->klass->name->sym.name);
    break;
  case LU_HASH:
    lu_buf_printf(b, "#<htable %zu>", lu_hash_count(v));
    break;
  case LU_ERROR:
    lu_buf_puts(b, "#<error ");
    print_string(b, v->err->message, p->limit);
    lu_buf_puts(b, ">");
    break;
  case LU_CDATA:
    v->cdata.ctype->print(b, v, p->readably);
    break;
  case LU_ENV:
    lu_buf_puts(b, "#<environment>");
    break;
  }
}

void lu_print_to(LuBuf *b, LuValue *v, bool readably) {
  Printer p = {b, readably, SIZE_MAX};
  print_value(&p, v);
}

const char *lu_repr(LuValue *v, bool readably) {
  LuBuf b;
  lu_buf_init(&b);
  lu_print_to(&b, v, readably);
  return b.s;
}

const char *lu_repr_limit(LuValue *v, size_t max) {
  LuBuf b;
  lu_buf_init(&b);
  Printer p = {&b, true, max};
  print_value(&p, v);
  if (b.len <= max)
    return b.s;
  LuBuf cut;
  lu_buf_init(&cut);
  lu_buf_printf(&cut, "%.*s...", (int)max, b.s);
  return cut.s;
}
