/* npy.c: NumPy .npy files, the matrix format chosen by the extension .npy
   (or .npy.gz). Owns the .npy header: the magic "\x93NUMPY", a version, and
   a Python dict literal giving the dtype, the order and the shape. The data
   that follows is read and written by matrix.c. Reads versions 1 to 3,
   C order, dtypes f4, f8, i4, u1, i1 and i2 in either byte order (i1 and
   i2 load as int); writes version 1.0, little-endian, C order. */
#include "io.h"

#include <stdarg.h>
#include <string.h>

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
/* A longer header is refused unread, as NumPy itself does by default
   (it allows 10,000 bytes). */
#define MAX_HEADER_TEXT 100000
/* Headers are padded so that the data starts at a multiple of this. */
#define ALIGN 64

/* ---- Reading ---------------------------------------------------------- */

/* A cursor over the header text, for messages: the file it came from. */
typedef struct {
  const LuSource *s;
  const char *start, *p, *end;
} Scan;

__attribute__((format(printf, 2, 3))) static noreturn void
bad_header(const Scan *c, const char *fmt, ...) {
  char what[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  lu_error("%s: %s: bad .npy header: %s", c->s->who, c->s->path, what);
}

static void skip_space(Scan *c) {
  while (c->p < c->end &&
         (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

/* True (and skips it) when the next non-space character is ch. */
static bool eat(Scan *c, char ch) {
  skip_space(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

static void expect(Scan *c, char ch) {
  if (!eat(c, ch))
    bad_header(c, "expected '%c' at byte %ld of the dict", ch,
               (long)(c->p - c->start));
}

/* A quoted Python string without escapes; *len gets its length. */
static const char *string(Scan *c, size_t *len) {
  skip_space(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
    bad_header(c, "expected a quoted string");
  char quote = *c->p++;
  const char *start = c->p;
  while (c->p < c->end && *c->p != quote && *c->p != '\\')
    c->p++;
  if (c->p >= c->end || *c->p != quote)
    bad_header(c, "unterminated or escaped string");
  *len = (size_t)(c->p++ - start);
  return start;
}

/* True or False. */
static bool boolean(Scan *c) {
  skip_space(c);
  size_t left = (size_t)(c->end - c->p);
  if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
    c->p += 4;
    return true;
  }
  if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
    c->p += 5;
    return false;
  }
  bad_header(c, "fortran_order is neither True nor False");
}

/* A tuple of non-negative integers: (), (N,), (N, M, ...). */
static void shape(Scan *c, LuMatrixHeader *h) {
  expect(c, '(');
  h->ndim = 0;
  while (!eat(c, ')')) {
    skip_space(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
      bad_header(c, "the shape is not a tuple of integers");
    long d = 0;
    for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++)
      if (__builtin_mul_overflow(d, 10, &d) ||
          __builtin_add_overflow(d, *c->p - '0', &d))
        bad_header(c, "a dimension overflows");
    if (c->p < c->end && *c->p == 'L') /* Python 2's long integers */
      c->p++;
    if (h->ndim == LU_MAXDIM)
      bad_header(c, "more than %d dimensions", LU_MAXDIM);
    h->dim[h->ndim++] = d;
    if (!eat(c, ',')) {
      expect(c, ')');
      break;
    }
  }
}

/* Sets h's type code and byte order from a dtype string such as "<f4". */
static void dtype(Scan *c, const char *d, size_t len, LuMatrixHeader *h) {
  static const struct {
    const char *kind;
    int code;
  } kinds[] = {{"f4", LU_IDX_FLOAT}, {"f8", LU_IDX_DOUBLE},
               {"i4", LU_IDX_INT},   {"u1", LU_IDX_UBYTE},
               {"i1", LU_IDX_SBYTE}, {"i2", LU_IDX_SHORT}};
  h->code = 0;
  if (len == 3 && strchr("<>|=", d[0]))
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
      if (memcmp(d + 1, kinds[i].kind, 2) == 0)
        h->code = kinds[i].code;
  if (!h->code || (d[0] == '|' && d[2] != '1'))
    lu_error("%s: %s: dtype '%.*s' is not supported (only f4, f8, i4, u1, "
             "i1 and i2)",
             c->s->who, c->s->path, (int)(len < 40 ? len : 40), d);
  bool big =
      d[0] == '>' || (d[0] == '=' && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
  h->swap = big != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) && d[2] != '1';
}

/* Parses the header dict: the keys descr, fortran_order and shape, each
   once, in any order, with an optional trailing comma. */
static void parse_dict(Scan *c, LuMatrixHeader *h) {
  bool seen[3] = {false, false, false};
  expect(c, '{');
  while (!eat(c, '}')) {
    size_t n;
    const char *key = string(c, &n);
    expect(c, ':');
    int k = n == 5 && memcmp(key, "descr", 5) == 0             ? 0
            : n == 13 && memcmp(key, "fortran_order", 13) == 0 ? 1
            : n == 5 && memcmp(key, "shape", 5) == 0           ? 2
                                                               : -1;
    if (k < 0 || seen[k])
      bad_header(c, "%s key '%.*s'", k < 0 ? "unknown" : "repeated",
                 (int)(n < 40 ? n : 40), key);
    seen[k] = true;
    if (k == 0) {
      const char *d = string(c, &n);
      dtype(c, d, n, h);
    } else if (k == 1 && boolean(c)) {
      lu_error("%s: %s: Fortran order (column-major) is not supported: save "
               "the array with numpy.ascontiguousarray",
               c->s->who, c->s->path);
    } else if (k == 2) {
      shape(c, h);
    }
    if (!eat(c, ',')) {
      expect(c, '}');
      break;
    }
  }
  skip_space(c);
  if (c->p < c->end)
    bad_header(c, "text after the dict");
  if (!seen[0] || !seen[1] || !seen[2])
    bad_header(c, "missing key '%s'",
               !seen[0]   ? "descr"
               : !seen[1] ? "fortran_order"
                          : "shape");
}

static uint32_t load_le(const unsigned char *p, int n) {
  uint32_t x = 0;
  for (int i = n - 1; i >= 0; i--)
    x = x << 8 | p[i];
  return x;
}

/* LuReadBody: the magic, version and header length, the header text, then
   the data (*(LuTensor **)ud). */
static void npy_body(LuSource *s, void *ud) {
  unsigned char pre[12];
  size_t got = lu_io_read(s, pre, 10);
  if (got < 10 || memcmp(pre, MAGIC, MAGIC_LEN) != 0)
    lu_error("%s: %s: not a .npy file (%s)", s->who, s->path,
             got < MAGIC_LEN ? "too short" : "no \\x93NUMPY magic");
  int major = pre[6];
  if (major < 1 || major > 3)
    lu_error("%s: %s: .npy format version %d.%d is not supported", s->who,
             s->path, major, pre[7]);
  size_t prelen = major == 1 ? 10 : 12;
  if (major > 1 && lu_io_read(s, pre + 10, 2) < 2)
    lu_error("%s: %s: truncated header", s->who, s->path);
  size_t hlen = load_le(pre + 8, major == 1 ? 2 : 4);
  if (hlen > MAX_HEADER_TEXT)
    lu_error("%s: %s: a .npy header of %zu bytes (at most %d)", s->who, s->path,
             hlen, MAX_HEADER_TEXT);
  char *text = lu_alloc_atomic(hlen + 1, s->who);
  if (lu_io_read(s, text, hlen) < hlen)
    lu_error("%s: %s: truncated header", s->who, s->path);
  LuMatrixHeader h = {.data = prelen + hlen};
  Scan c = {s, text, text, text + hlen};
  parse_dict(&c, &h);
  *(LuTensor **)ud = lu_matrix_read_data(s, &h, NULL, 0);
}

LuTensor *lu_npy_load(const char *path) {
  LuTensor *t = NULL;
  lu_io_with_source("load-matrix", path, npy_body, &t);
  return t;
}

/* ---- Writing ---------------------------------------------------------- */

static const char *descr(LuElem e) {
  switch (e) {
  case LU_FLOAT:
    return "<f4";
  case LU_DOUBLE:
    return "<f8";
  case LU_INT:
    return "<i4";
  case LU_UBYTE:
    break;
  }
  return "|u1";
}

/* LuWriteBody: a version 1.0 header padded with spaces and a newline to a
   multiple of 64 bytes, then the data, little-endian. */
static void npy_write(LuSink *s, void *ud) {
  const LuTensor *t = ud;
  LuBuf b;
  lu_buf_init(&b);
  lu_buf_add(&b, MAGIC "\x01\x00__", MAGIC_LEN + 4);
  lu_buf_printf(&b, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                descr(t->st->elem));
  for (int i = 0; i < t->ndim; i++)
    lu_buf_printf(&b, i ? ", %ld" : "%ld", t->dim[i]);
  lu_buf_puts(&b, t->ndim == 1 ? ",), }" : "), }");
  while ((b.len + 1) % ALIGN)
    lu_buf_puts(&b, " ");
  lu_buf_puts(&b, "\n");
  size_t hlen = b.len - MAGIC_LEN - 4; /* under 1K: 8 dims of 20 digits */
  b.s[MAGIC_LEN + 2] = (char)(hlen & 0xFF);
  b.s[MAGIC_LEN + 3] = (char)(hlen >> 8);
  lu_matrix_write_data(s, t, true, b.s, b.len);
}

void lu_npy_save(const LuTensor *t, const char *path) {
  lu_io_save("save-matrix", path, lu_io_ends_with(path, ".gz"), npy_write,
             (void *)t);
}

static const LuMatrixFormat npy_format = {".npy", lu_npy_load, lu_npy_save};

void lu_npy_open(void) {
  lu_matrix_add_format(&npy_format);
}
