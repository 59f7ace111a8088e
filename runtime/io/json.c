/* json.c: the JSON reader (json-read). Parses a whole file in memory into
   hash tables, lists, strings and numbers, with errors giving
   FILE:LINE:COL. */
#include "io.h"

#include <gc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting is an error, not a deep C recursion. */
#define JSON_MAX_DEPTH 1000
/* Slots in the cache of numbers shared within one parse. */
#define JSON_CACHE 1024

typedef struct {
  const char *src, *end, *name;
  const char *p;
  int depth;
  LuValue *numbers[JSON_CACHE]; /* recently made numbers, by value */
} Json;

/* Raises "json-read: NAME:LINE:COL: what" for the position at. */
__attribute__((format(printf, 3, 4))) static noreturn void
json_fail(const Json *j, const char *at, const char *fmt, ...) {
  int line = 1, col = 1;
  for (const char *q = j->src; q < at; q++) {
    if (*q == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  lu_error("json-read: %s:%d:%d: %s", j->name, line, col, what);
}

static void json_ws(Json *j) {
  while (j->p < j->end &&
         (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
    j->p++;
}

/* True (and skips it) when the next character is c. */
static bool json_eat(Json *j, char c) {
  if (j->p < j->end && *j->p == c) {
    j->p++;
    return true;
  }
  return false;
}

static bool is_digit(const Json *j, const char *q) {
  return q < j->end && *q >= '0' && *q <= '9';
}

static LuValue *json_value(Json *j);

static LuValue *json_word(Json *j, const char *word, LuValue *v) {
  size_t n = strlen(word);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
    json_fail(j, j->p, "invalid literal (expected %s)", word);
  j->p += n;
  return v;
}

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A number value for x, shared with an equal one made earlier in this
   parse when the cache still holds it: data files repeat a few values
   (pixels, zeros) hundreds of thousands of times, and numbers are never
   mutated. Equal means the same bits, so -0 stays apart from 0. */
static LuValue *json_intern(Json *j, double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  LuValue **slot =
      &j->numbers[(bits * 0x9E3779B97F4A7C15ull) >> 54 & (JSON_CACHE - 1)];
  if (*slot) {
    double y = LU_NUM(*slot);
    if (memcmp(&y, &x, sizeof x) == 0)
      return *slot;
  }
  return *slot = lu_number(x);
}

/* Checks JSON's number grammar. When the digits fit in 53 bits and the
   power of ten in 10^±22, one IEEE multiplication or division of two exact
   values gives the correctly rounded result (Clinger's fast path);
   otherwise strtod does the work. */
static LuValue *json_number(Json *j) {
  const char *start = j->p, *q = j->p;
  const uint64_t limit = (1ULL << 53) - 9;
  bool neg = *q == '-', exact = true;
  uint64_t m = 0;
  long scale = 0;
  q += neg;
  if (!is_digit(j, q))
    json_fail(j, q, "invalid number");
  if (*q == '0') {
    q++;
  } else {
    for (; is_digit(j, q); q++) {
      exact = exact && m <= limit / 10;
      m = m * 10 + (uint64_t)(*q - '0');
    }
  }
  if (q < j->end && *q == '.') {
    if (!is_digit(j, ++q))
      json_fail(j, q, "invalid number: digits expected after '.'");
    for (; is_digit(j, q); q++, scale--) {
      exact = exact && m <= limit / 10;
      m = m * 10 + (uint64_t)(*q - '0');
    }
  }
  if (q < j->end && (*q == 'e' || *q == 'E')) {
    q++;
    long sign = 1, e = 0;
    if (q < j->end && (*q == '+' || *q == '-'))
      sign = *q++ == '-' ? -1 : 1;
    if (!is_digit(j, q))
      json_fail(j, q, "invalid number: digits expected in the exponent");
    for (; is_digit(j, q); q++)
      e = e < 100000 ? e * 10 + (*q - '0') : e;
    scale += sign * e;
  }
  j->p = q;
  double x;
  if (exact && scale >= -22 && scale <= 22) {
    x = (double)m;
    x = scale < 0 ? x / pow10_exact[-scale] : x * pow10_exact[scale];
    x = neg ? -x : x;
  } else {
    x = strtod(start, NULL);
  }
  return json_intern(j, x);
}

/* The four hex digits at q as a number; raises at the first character
   that is not one (end counts as not one). */
static int hex4(const Json *j, const char *q, const char *end) {
  int v = 0;
  for (int i = 0; i < 4; i++, q++) {
    int c = q < end ? *q : 0, d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if ((c | 32) >= 'a' && (c | 32) <= 'f')
      d = (c | 32) - 'a' + 10;
    else
      json_fail(j, q, "invalid \\u escape");
    v = v * 16 + d;
  }
  return v;
}

/* Writes code point cp into out as UTF-8; returns the bytes written (1-4). */
static size_t utf8_put(char *out, unsigned cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes \uXXXX at q (pointing at the 'u'; end is the string's end) into
   out, joining a surrogate pair; a lone surrogate becomes U+FFFD. Returns
   the position after the escape. */
static const char *json_unicode(const Json *j, const char *q, const char *end,
                                char *out, size_t *n) {
  unsigned cp = (unsigned)hex4(j, q + 1, end);
  q += 5;
  if (cp >= 0xD800 && cp < 0xDC00 && end - q >= 6 && q[0] == '\\' &&
      q[1] == 'u') {
    unsigned lo = (unsigned)hex4(j, q + 2, end);
    if (lo >= 0xDC00 && lo < 0xE000) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      q += 6;
    }
  }
  if (cp >= 0xD800 && cp < 0xE000)
    cp = 0xFFFD;
  *n += utf8_put(out + *n, cp);
  return q;
}

/* A string; the decoded text is never longer than the source text. */
static LuValue *json_string(Json *j) {
  const char *start = ++j->p, *q = start;
  bool escaped = false;
  for (; q < j->end && *q != '"'; q++) {
    if ((unsigned char)*q < 0x20)
      json_fail(j, q, "control character in a string");
    if (*q == '\\') {
      escaped = true;
      q++;
    }
  }
  if (q >= j->end)
    json_fail(j, start - 1, "unterminated string");
  j->p = q + 1;
  if (!escaped)
    return lu_string(start, (size_t)(q - start));
  char *out = lu_alloc_atomic((size_t)(q - start) + 1, "json-read");
  size_t n = 0;
  static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
  for (const char *r = start; r < q;) {
    if (*r != '\\') {
      out[n++] = *r++;
      continue;
    }
    const char *c = strchr(plain, r[1]);
    if (r[1] == 'u') {
      r = json_unicode(j, r + 1, q, out, &n);
    } else if (c && r[1]) {
      out[n++] = decoded[c - plain];
      r += 2;
    } else {
      json_fail(j, r, "invalid escape");
    }
  }
  return lu_string(out, n);
}

static void json_enter(Json *j) {
  if (++j->depth > JSON_MAX_DEPTH)
    json_fail(j, j->p, "nested deeper than %d levels", JSON_MAX_DEPTH);
  lu_check_stack();
}

/* An array, as a list built front to back. */
static LuValue *json_array(Json *j) {
  json_enter(j);
  j->p++;
  LuValue *head = lu_nil, *tail = NULL;
  json_ws(j);
  if (!json_eat(j, ']')) {
    do {
      LuValue *cell = lu_cons(json_value(j), lu_nil);
      if (tail)
        LU_CDR(tail) = cell;
      else
        head = cell;
      tail = cell;
      json_ws(j);
      lu_poll();
    } while (json_eat(j, ','));
    if (!json_eat(j, ']'))
      json_fail(j, j->p, "expected ',' or ']'");
  }
  j->depth--;
  return head;
}

/* An object, as a hash table with string keys; a repeated key keeps its
   last value. */
static LuValue *json_object(Json *j) {
  json_enter(j);
  j->p++;
  LuValue *h = lu_hash_new();
  json_ws(j);
  if (!json_eat(j, '}')) {
    do {
      json_ws(j);
      if (j->p >= j->end || *j->p != '"')
        json_fail(j, j->p, "expected a string key");
      LuValue *key = json_string(j);
      json_ws(j);
      if (!json_eat(j, ':'))
        json_fail(j, j->p, "expected ':'");
      lu_hash_set(h, key, json_value(j));
      json_ws(j);
    } while (json_eat(j, ','));
    if (!json_eat(j, '}'))
      json_fail(j, j->p, "expected ',' or '}'");
  }
  j->depth--;
  return h;
}

/* Parses one JSON value at j->p (after white space), chosen by its first
   character; raises on anything that cannot start a value. */
static LuValue *json_value(Json *j) {
  json_ws(j);
  if (j->p >= j->end)
    json_fail(j, j->p, "unexpected end of input, expected a value");
  switch (*j->p) {
  case '{':
    return json_object(j);
  case '[':
    return json_array(j);
  case '"':
    return json_string(j);
  case 't':
    return json_word(j, "true", lu_t);
  case 'f':
    return json_word(j, "false", lu_nil);
  case 'n':
    return json_word(j, "null", lu_nil);
  default:
    if (*j->p == '-' || is_digit(j, j->p))
      return json_number(j);
    if ((unsigned char)*j->p > 0x20 && (unsigned char)*j->p < 0x7F)
      json_fail(j, j->p, "unexpected character '%c'", *j->p);
    json_fail(j, j->p, "unexpected byte 0x%02X", (unsigned char)*j->p);
  }
}

typedef struct {
  Json *j;
  LuValue *value;
} JsonJob;

static void json_job(void *ud) {
  JsonJob *job = ud;
  Json *j = job->j;
  job->value = json_value(j);
  json_ws(j);
  if (j->p < j->end)
    json_fail(j, j->p, "unexpected text after the value");
}

/* Everything the parser allocates stays alive (its only garbage is the
   decoding buffer of escaped strings), so collecting during the parse
   would only re-mark the growing result: the collector is paused, which
   makes a 2 MB file of numbers about twice as fast. */
LuValue *lu_json_parse(const char *text, size_t len, const char *name) {
  Json *j = lu_alloc(sizeof *j); /* zeroed: an empty number cache */
  j->src = j->p = text;
  j->end = text + len;
  j->name = name;
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
    j->p += 3; /* a UTF-8 byte order mark */
  JsonJob job = {j, NULL};
  LuValue *err = NULL;
  GC_disable();
  bool ok = lu_pcall(json_job, &job, &err);
  GC_enable();
  if (!ok)
    lu_rethrow(err);
  return job.value;
}

LU_DEFUN(json_read, "(json-read FILE)",
         "Reads the JSON file FILE (gzip when it ends in .gz): objects become "
         "hash tables with string keys, arrays lists, numbers numbers, "
         "strings strings, true t, false and null (). Malformed JSON is an "
         "error giving FILE:LINE:COL.") {
  (void)argc;
  const char *path = lu_arg_str(argv, 0);
  size_t len;
  const char *text = (const char *)lu_io_read_all("json-read", path, &len);
  return lu_json_parse(text, len, path);
}

static LuBuiltin *const json_builtins[] = {&json_read_builtin, NULL};

void lu_json_open(void) {
  lu_register(json_builtins);
}
