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

/* lu_repr_limit's bound: lists stop printing past this length. */
static size_t print_limit = SIZE_MAX;

static void print_string(LuBuf *b, LuValue *v) {
  lu_buf_puts(b, "\"");
  for (size_t i = 0; i < v->str.len; i++) {
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
  if (v->cons.cdr->type != LU_CONS || v->cons.cdr->cons.cdr != lu_nil)
    return NULL;
  LuValue *h = v->cons.car;
  return h == lu_s_quote              ? "'"
         : h == lu_s_quasiquote       ? "`"
         : h == lu_s_unquote          ? ","
         : h == lu_s_unquote_splicing ? ",@"
                                      : NULL;
}

static void print_list(LuBuf *b, LuValue *v, bool readably) {
  const char *q = quote_prefix(v);
  if (q) {
    lu_buf_puts(b, q);
    lu_print_to(b, v->cons.cdr->cons.car, readably);
    return;
  }
  lu_buf_puts(b, "(");
  for (bool first = true; v->type == LU_CONS; v = v->cons.cdr) {
    lu_poll(); /* a circular list prints until Ctrl-C, or the limit */
    if (b->len > print_limit) {
      lu_buf_puts(b, " ...");
      v = lu_nil;
      break;
    }
    if (!first)
      lu_buf_puts(b, " ");
    first = false;
    lu_print_to(b, v->cons.car, readably);
  }
  if (v != lu_nil) {
    lu_buf_puts(b, " . ");
    lu_print_to(b, v, readably);
  }
  lu_buf_puts(b, ")");
}

void lu_print_to(LuBuf *b, LuValue *v, bool readably) {
  lu_check_stack();
  switch (v->type) {
  case LU_NIL:
    lu_buf_puts(b, "()");
    break;
  case LU_NUMBER:
    lu_print_number(b, v->num);
    break;
  case LU_STRING:
    if (readably)
      print_string(b, v);
    else
      lu_buf_add(b, v->str.s, v->str.len);
    break;
  case LU_SYMBOL:
    lu_buf_puts(b, v->sym.name);
    break;
  case LU_CONS:
    print_list(b, v, readably);
    break;
  case LU_BUILTIN:
    lu_buf_printf(b, "#<%s %s>", lu_type_name(v), v->builtin->name);
    break;
  case LU_CLOSURE:
  case LU_MACRO:
    if (v->fn->name != lu_nil)
      lu_buf_printf(b, "#<%s %s>", lu_type_name(v), v->fn->name->sym.name);
    else
      lu_buf_printf(b, "#<%s>", v->type == LU_MACRO ? "macro" : "lambda");
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
    print_string(b, v->err->message);
    lu_buf_puts(b, ">");
    break;
  case LU_CDATA:
    v->cdata.ctype->print(b, v, readably);
    break;
  case LU_ENV:
    lu_buf_puts(b, "#<environment>");
    break;
  }
}

const char *lu_repr(LuValue *v, bool readably) {
  LuBuf b;
  lu_buf_init(&b);
  lu_print_to(&b, v, readably);
  return b.s;
}

const char *lu_repr_limit(LuValue *v, size_t max) {
  size_t saved = print_limit;
  print_limit = max;
  const char *s = lu_repr(v, true);
  print_limit = saved;
  if (strlen(s) <= max)
    return s;
  LuBuf b;
  lu_buf_init(&b);
  lu_buf_printf(&b, "%.*s...", (int)max, s);
  return b.s;
}
