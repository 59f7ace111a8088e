/* read.c: the reader. Text to forms: numbers, strings, symbols, lists,
   dotted pairs, quote and quasiquote, ; comments, a #! first line, and
   [...] tensor literals, read as (idx-literal ...). Every list carries the
   file, line and column of its opening bracket. */
#include <gc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

/* Raised when the text ends inside a form; caught by lu_read. */
static const char incomplete_msg[] = "unfinished form";

const char *lu_file_name(const char *name) {
  static LuValue *names;
  if (!names) {
    names = lu_hash_new();
  }
  LuValue *key = lu_cstring(name);
  LuValue *v = lu_hash_get(names, key);
  if (!v) {
    v = key;
    lu_hash_set(names, key, v);
  }
  return v->str.s;
}

void lu_reader_init(LuReader *r, const char *src, size_t len,
                    const char *file) {
  r->src = src;
  r->len = len;
  r->pos = 0;
  r->line = 1;
  r->col = 1;
  r->file = lu_file_name(file);
  if (len >= 2 && src[0] == '#' && src[1] == '!')
    while (r->pos < len && src[r->pos] != '\n')
      r->pos++;
}

static int peek(LuReader *r) {
  return r->pos < r->len ? (unsigned char)r->src[r->pos] : -1;
}

static int next(LuReader *r) {
  int c = peek(r);
  if (c < 0)
    return c;
  r->pos++;
  if (c == '\n') {
    r->line++;
    r->col = 1;
  } else {
    r->col++;
  }
  return c;
}

static LuLoc *here(LuReader *r) {
  LuLoc *loc = lu_alloc(sizeof *loc);
  loc->file = r->file;
  loc->line = r->line;
  loc->col = r->col;
  return loc;
}

noreturn static void syntax_error(const LuLoc *at, const char *msg) {
  lu_error_at(at, "syntax error: %s", msg);
}

static void skip_space(LuReader *r) {
  for (;;) {
    int c = peek(r);
    if (c == ';')
      while (peek(r) >= 0 && peek(r) != '\n')
        next(r);
    else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')
      next(r);
    else
      return;
  }
}

/* NUL ends a token too: read_form then refuses it. */
static bool delimiter(int c) {
  return c <= 0 || strchr(" \t\n\r\f()[]\";'`,", c) != NULL;
}

static LuValue *read_form(LuReader *r);

/* Reads until the closing bracket; `[` lists become (idx-literal ...). */
static LuValue *read_list(LuReader *r, int close, LuLoc *loc) {
  LuValue *head = lu_nil, **tail = &head;
  if (close == ']') {
    head = lu_cons_at(lu_s_idx_literal, lu_nil, loc);
    tail = &head->cons.cdr;
  }
  for (;;) {
    skip_space(r);
    int c = peek(r);
    if (c < 0)
      lu_error(incomplete_msg);
    if (c == ')' || c == ']') {
      if (c != close)
        syntax_error(here(r),
                     c == ')' ? "')' closes a '['" : "']' closes a '('");
      next(r);
      return head;
    }
    if (c == '.' &&
        delimiter(r->pos + 1 < r->len ? (unsigned char)r->src[r->pos + 1]
                                      : -1)) {
      LuLoc *dot = here(r);
      next(r);
      if (head == lu_nil || close == ']')
        syntax_error(dot, "misplaced '.'");
      *tail = read_form(r);
      skip_space(r);
      if (peek(r) < 0)
        lu_error(incomplete_msg);
      if (peek(r) != close)
        syntax_error(here(r), "more than one form after '.'");
      next(r);
      return head;
    }
    *tail = lu_cons_at(read_form(r), lu_nil, head == lu_nil ? loc : NULL);
    tail = &(*tail)->cons.cdr;
  }
}

static LuValue *read_string(LuReader *r, LuLoc *loc) {
  LuBuf b;
  lu_buf_init(&b);
  for (;;) {
    int c = next(r);
    if (c < 0)
      lu_error(incomplete_msg);
    if (c == 0)
      syntax_error(loc, "NUL byte in a string (write \\0)");
    if (c == '"')
      return lu_string(b.s, b.len);
    if (c == '\\') {
      LuLoc *at = here(r);
      c = next(r);
      switch (c) {
      case 'n':
        c = '\n';
        break;
      case 't':
        c = '\t';
        break;
      case 'r':
        c = '\r';
        break;
      case 'e':
        c = 27;
        break;
      case '0':
        c = 0;
        break;
      case '"':
      case '\\':
        break;
      case '\n':
        continue; /* a line continued */
      case 'x': {
        char hex[3] = {0};
        for (int i = 0; i < 2; i++) {
          int h = next(r);
          if (h < 0)
            lu_error(incomplete_msg);
          hex[i] = (char)h;
        }
        char *end;
        c = (int)strtol(hex, &end, 16);
        if (end != hex + 2)
          syntax_error(at, "\\x needs two hex digits");
        break;
      }
      case -1:
        lu_error(incomplete_msg);
      default:
        syntax_error(at, "unknown escape in string");
      }
    }
    char ch = (char)c;
    lu_buf_add(&b, &ch, 1);
  }
}

/* A token is a number when strtod reads all of it, else a symbol. A
   number too large for a double is an error, not inf. */
static LuValue *read_atom(LuReader *r, LuLoc *loc) {
  size_t start = r->pos;
  while (!delimiter(peek(r)))
    next(r);
  size_t n = r->pos - start;
  char small[64];
  char *tok = n < sizeof small ? small : lu_alloc_atomic(n + 1, "read");
  memcpy(tok, r->src + start, n);
  tok[n] = 0;
  char c = tok[0];
  if ((c >= '0' && c <= '9') || ((c == '-' || c == '+' || c == '.') && n > 1)) {
    char *end;
    double x = strtod(tok, &end);
    if (*end == 0 && !strpbrk(tok, "nNiI")) { /* no nan, inf symbols */
      if (isinf(x))
        syntax_error(loc, "number out of range");
      return lu_number(x);
    }
  }
  return lu_intern(tok);
}

static LuValue *read_quote(LuReader *r, LuValue *sym, LuLoc *loc) {
  skip_space(r);
  if (peek(r) < 0)
    lu_error(incomplete_msg);
  return lu_cons_at(sym, lu_cons(read_form(r), lu_nil), loc);
}

static LuValue *read_form(LuReader *r) {
  lu_check_stack();
  skip_space(r);
  LuLoc *loc = here(r);
  int c = next(r);
  switch (c) {
  case -1:
    lu_error(incomplete_msg);
  case '(':
    return read_list(r, ')', loc);
  case '[':
    return read_list(r, ']', loc);
  case ')':
  case ']':
    syntax_error(loc, c == ')' ? "unexpected ')'" : "unexpected ']'");
  case 0:
    syntax_error(loc, "NUL byte");
  case '"':
    return read_string(r, loc);
  case '\'':
    return read_quote(r, lu_s_quote, loc);
  case '`':
    return read_quote(r, lu_s_quasiquote, loc);
  case ',':
    if (peek(r) == '@') {
      next(r);
      return read_quote(r, lu_s_unquote_splicing, loc);
    }
    return read_quote(r, lu_s_unquote, loc);
  default:
    r->pos--;
    r->col--;
    return read_atom(r, loc);
  }
}

typedef struct {
  LuReader *r;
  LuValue *form;
} ReadCall;

static void read_call(void *ud) {
  ReadCall *rc = ud;
  rc->form = read_form(rc->r);
}

bool lu_read_caught(LuReader *r, LuValue **out, LuReadStatus *st,
                    LuValue **err) {
  skip_space(r);
  *st = LU_READ_EOF;
  if (peek(r) < 0)
    return true;
  LuReader start = *r;
  r->start = (LuLoc){r->file, r->line, r->col};
  ReadCall rc = {r, NULL};
  if (lu_pcall(read_call, &rc, err)) {
    *out = rc.form;
    *st = LU_READ_OK;
    return true;
  }
  if (strcmp((*err)->err->message->str.s, incomplete_msg) == 0) {
    *r = start;
    *st = LU_READ_INCOMPLETE;
    return true;
  }
  if ((*err)->err->where ==
      lu_nil) /* e.g. nesting too deep: where we stopped */
    (*err)->err->where = lu_loc_list(here(r));
  return false;
}

LuReadStatus lu_read(LuReader *r, LuValue **out) {
  LuReadStatus st;
  LuValue *err;
  if (!lu_read_caught(r, out, &st, &err))
    lu_rethrow(err);
  return st;
}
