/* safetensors.c: safetensors files, the named-tensor format of the
   Hugging Face safetensors library that PyTorch, JAX and others read: an
   8-byte little-endian header length N, N bytes of JSON mapping each
   tensor's name to its dtype, shape and data_offsets [begin, end] (bytes
   into the data), with an optional "__metadata__" object of strings, then
   the data, little-endian, row-major. Owns reading and writing such files
   as lists of named tensors (save-safetensors, load-safetensors); what the
   names mean is the business of the callers. The reader is as strict as
   the reference one: the tensors must cover the data exactly, without
   holes or overlaps. */
#include "io.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A longer header is refused, as the reference reader does. */
#define MAX_HEADER ((size_t)100 << 20)
/* The writer pads the header with spaces so that the data starts at a
   multiple of this. */
#define ALIGN 8

/* The dtypes lush89 reads, by their safetensors names, and the element
   types it reads them as: I64 (PyTorch's counters, such as batch norm's
   num_batches_tracked) as double, exact up to 2^53. Writing uses the
   first row of an element type. */
static const struct {
  const char *name;
  LuElem elem;
  bool i64;
} dtypes[] = {{"F32", LU_FLOAT, false},
              {"F64", LU_DOUBLE, false},
              {"I32", LU_INT, false},
              {"U8", LU_UBYTE, false},
              {"I64", LU_DOUBLE, true}};

static const char *dtype_name(LuElem e) {
  for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
    if (dtypes[i].elem == e)
      return dtypes[i].name;
  abort(); /* every element type has a row */
}

/* ---- Writing ---------------------------------------------------------- */

/* Appends s as a JSON string. */
static void json_quote(LuBuf *b, const char *s) {
  lu_buf_puts(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      lu_buf_printf(b, "\\%c", c);
    else if (c < 0x20)
      lu_buf_printf(b, "\\u%04x", c);
    else
      lu_buf_add(b, s, 1);
  }
  lu_buf_puts(b, "\"");
}

typedef struct {
  const LuNamedTensor *t;
  int n;
  const char *const *meta;
  int nmeta;
} Save;

/* The 8-byte length and the JSON header, padded with spaces to ALIGN. */
static LuBuf save_header(const Save *sv) {
  LuBuf b;
  lu_buf_init(&b);
  lu_buf_add(&b, "\0\0\0\0\0\0\0\0{", 9);
  if (sv->nmeta) {
    lu_buf_puts(&b, "\"__metadata__\":{");
    for (int i = 0; i < sv->nmeta; i++) {
      lu_buf_puts(&b, i ? "," : "");
      json_quote(&b, sv->meta[2 * i]);
      lu_buf_puts(&b, ":");
      json_quote(&b, sv->meta[2 * i + 1]);
    }
    lu_buf_puts(&b, sv->n ? "}," : "}");
  }
  size_t at = 0;
  for (int i = 0; i < sv->n; i++) {
    const LuTensor *t = sv->t[i].t;
    size_t size = (size_t)lu_tensor_nelem(t) * lu_elem_size(t->st->elem);
    lu_buf_puts(&b, i ? "," : "");
    json_quote(&b, sv->t[i].name);
    lu_buf_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[",
                  dtype_name(t->st->elem));
    for (int d = 0; d < t->ndim; d++)
      lu_buf_printf(&b, d ? ",%ld" : "%ld", t->dim[d]);
    lu_buf_printf(&b, "],\"data_offsets\":[%zu,%zu]}", at, at + size);
    at += size;
  }
  lu_buf_puts(&b, "}");
  while (b.len % ALIGN)
    lu_buf_puts(&b, " ");
  uint64_t n = b.len - 8;
  for (int i = 0; i < 8; i++)
    b.s[i] = (char)(n >> (8 * i));
  return b;
}

/* LuWriteBody: the header, then each tensor's data, little-endian. */
static void save_body(LuSink *s, void *ud) {
  const Save *sv = ud;
  LuBuf head = save_header(sv);
  if (sv->n == 0)
    lu_io_sink_write(s, head.s, head.len);
  for (int i = 0; i < sv->n; i++)
    lu_matrix_write_data(s, sv->t[i].t, true, i ? NULL : head.s,
                         i ? 0 : head.len);
}

void lu_safetensors_save(const char *who, const char *path,
                         const LuNamedTensor *t, int n, const char *const *meta,
                         int nmeta) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(t[i].name, t[j].name) == 0)
        lu_error("%s: %s: two tensors are named \"%s\"", who, path, t[i].name);
  Save sv = {t, n, meta, nmeta};
  lu_io_save(who, path, lu_io_ends_with(path, ".gz"), save_body, &sv);
}

/* ---- Reading ---------------------------------------------------------- */

/* What the header says of one tensor, and where its data is. */
typedef struct {
  const char *name;
  LuElem elem;
  bool i64; /* stored as int64, read as double */
  int ndim;
  long dim[LU_MAXDIM];
  size_t begin, end;
} Entry;

typedef struct {
  const char *who, *path;
  Entry *e;
  int n;
} Header;

__attribute__((format(printf, 3, 4))) static noreturn void
bad(const Header *h, const char *name, const char *fmt, ...) {
  char what[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (name)
    lu_error("%s: %s: tensor \"%.80s\": %s", h->who, h->path, name, what);
  lu_error("%s: %s: %s", h->who, h->path, what);
}

/* v as a size: a number that is a non-negative integer below 2^53. */
static bool size_of(LuValue *v, size_t *out) {
  if (!LU_IS(v, LU_NUMBER))
    return false;
  double x = LU_NUM(v);
  if (!(x >= 0 && x < 9007199254740992.0) || x != (double)(size_t)x)
    return false;
  *out = (size_t)x;
  return true;
}

/* The field key of a tensor's object, which must be there. */
static LuValue *field(const Header *h, const char *name, LuValue *obj,
                      const char *key) {
  LuValue *v = lu_hash_get(obj, lu_string(key, strlen(key)));
  if (!v)
    bad(h, name, "no \"%s\"", key);
  return v;
}

static void read_dtype(const Header *h, Entry *e, LuValue *v) {
  if (!LU_IS(v, LU_STRING))
    bad(h, e->name, "the dtype is not a string");
  for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
    if (strcmp(v->str.s, dtypes[i].name) == 0) {
      e->elem = dtypes[i].elem;
      e->i64 = dtypes[i].i64;
      return;
    }
  bad(h, e->name,
      "dtype %.20s is not supported (only F32, F64, I32, I64 and U8)",
      v->str.s);
}

/* The shape, checked so that its strides do not overflow even when a
   dimension is 0; returns the number of elements. */
static size_t read_shape(const Header *h, Entry *e, LuValue *v) {
  if (!LU_ISNIL(v) && !LU_IS(v, LU_CONS))
    bad(h, e->name, "the shape is not a list");
  size_t n = 1, span = 1;
  for (; LU_IS(v, LU_CONS); v = LU_CDR(v)) {
    size_t d;
    if (!size_of(LU_CAR(v), &d))
      bad(h, e->name, "the shape has %s, not a size",
          lu_repr_limit(LU_CAR(v), 40));
    if (e->ndim == LU_MAXDIM)
      bad(h, e->name, "more than %d dimensions", LU_MAXDIM);
    if (__builtin_mul_overflow(n, d, &n) ||
        __builtin_mul_overflow(span, d ? d : 1, &span) || span > LONG_MAX)
      bad(h, e->name, "the shape overflows");
    e->dim[e->ndim++] = (long)d;
  }
  return n;
}

/* Reads entry e (named name) from its header object obj. */
static void read_entry(const Header *h, Entry *e, LuValue *obj) {
  if (!LU_IS(obj, LU_HASH))
    bad(h, e->name, "expected an object, got %s", lu_repr_limit(obj, 40));
  read_dtype(h, e, field(h, e->name, obj, "dtype"));
  size_t n = read_shape(h, e, field(h, e->name, obj, "shape"));
  LuValue *off = field(h, e->name, obj, "data_offsets");
  if (!LU_IS(off, LU_CONS) || !LU_IS(LU_CDR(off), LU_CONS) ||
      !LU_ISNIL(LU_CDR(LU_CDR(off))) || !size_of(LU_CAR(off), &e->begin) ||
      !size_of(LU_CAR(LU_CDR(off)), &e->end) || e->begin > e->end)
    bad(h, e->name, "data_offsets %s are not [begin, end]",
        lu_repr_limit(off, 60));
  size_t size;
  if (__builtin_mul_overflow(n, lu_elem_size(e->elem), &size) ||
      e->end - e->begin != size)
    bad(h, e->name,
        "data_offsets [%zu, %zu] hold %zu bytes, its shape %s of "
        "%s needs %zu",
        e->begin, e->end, e->end - e->begin, lu_io_dims_text(e->ndim, e->dim),
        e->i64 ? "I64" : dtype_name(e->elem), size);
}

/* Turns the n int64 values at p, read into a double tensor's storage,
   into doubles. */
static void i64_to_double(unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++, p += 8) {
    int64_t v;
    memcpy(&v, p, 8);
    double d = (double)v;
    memcpy(p, &d, 8);
  }
}

/* lu_hash_each: the values of __metadata__ are strings. */
static bool check_meta(LuValue *k, LuValue *v, void *ud) {
  if (!LU_IS(v, LU_STRING))
    bad(ud, NULL, "__metadata__ \"%.40s\" is not a string", k->str.s);
  return true;
}

/* lu_hash_each: one key of the header. */
static bool read_key(LuValue *k, LuValue *v, void *ud) {
  Header *h = ud;
  const char *name = k->str.s;
  if (strlen(name) != k->str.len)
    bad(h, NULL, "a tensor name holds a 0 byte");
  if (strcmp(name, "__metadata__") == 0) {
    if (!LU_IS(v, LU_HASH))
      bad(h, NULL, "__metadata__ is not an object");
    lu_hash_each(v, check_meta, h);
    return true;
  }
  Entry *e = &h->e[h->n++];
  e->name = name;
  read_entry(h, e, v);
  return true;
}

static int by_offset(const void *a, const void *b) {
  const Entry *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

/* Checks that the entries cover [0, size) exactly, in order of their
   data (which they are then in). */
static void check_cover(Header *h, size_t size) {
  qsort(h->e, (size_t)h->n, sizeof *h->e, by_offset);
  size_t at = 0;
  for (int i = 0; i < h->n; i++) {
    Entry *e = &h->e[i];
    if (e->begin < at)
      bad(h, e->name, "its data [%zu, %zu] overlaps that of \"%.80s\"",
          e->begin, e->end, h->e[i - 1].name);
    if (e->begin > at)
      bad(h, e->name, "%zu bytes of data before it belong to no tensor",
          e->begin - at);
    at = e->end;
  }
  if (at > size)
    bad(h, h->e[h->n - 1].name,
        "truncated: its data ends at byte %zu, the file has %zu bytes of "
        "data",
        at, size);
  if (at < size)
    bad(h, NULL, "%zu bytes after the last tensor's data", size - at);
}

typedef struct {
  const char *text;
  size_t len;
  LuValue *value;
} ParseJob;

static void parse_job(void *ud) {
  ParseJob *job = ud;
  job->value = lu_json_parse(job->text, job->len, "header");
}

/* Parses the JSON text of the header into h's entries. A JSON error
   is raised again as "WHO: PATH: header:LINE:COL: what". */
static void parse_header(Header *h, const unsigned char *p, size_t len) {
  if (len < 2 || p[0] != '{')
    bad(h, NULL, "the header does not start with '{'");
  char *text = lu_alloc_atomic(len + 1, h->who);
  memcpy(text, p, len);
  text[len] = 0;
  ParseJob job = {text, len, NULL};
  LuValue *err;
  if (!lu_pcall(parse_job, &job, &err)) {
    const char *msg = err->err->message->str.s;
    const char *prefix = "json-read: ";
    if (strncmp(msg, prefix, strlen(prefix)) != 0)
      lu_rethrow(err);
    bad(h, NULL, "%s", msg + strlen(prefix));
  }
  if (!LU_IS(job.value, LU_HASH))
    bad(h, NULL, "the header is not a JSON object");
  h->e = lu_alloc(sizeof(Entry) * (lu_hash_count(job.value) + 1));
  lu_hash_each(job.value, read_key, h);
}

LuNamedTensor *lu_safetensors_load(const char *who, const char *path, int *n) {
  size_t len;
  const unsigned char *p = lu_io_read_all(who, path, &len);
  Header h = {who, path, NULL, 0};
  if (len < 8)
    bad(&h, NULL, "not a safetensors file (%zu bytes)", len);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = hlen << 8 | p[i];
  if (hlen > len - 8 || hlen > MAX_HEADER)
    bad(&h, NULL, "a header of %llu bytes, the file has %zu after the length",
        (unsigned long long)hlen, len - 8);
  parse_header(&h, p + 8, (size_t)hlen);
  const unsigned char *data = p + 8 + hlen;
  check_cover(&h, len - 8 - (size_t)hlen);
  LuNamedTensor *out = lu_alloc(sizeof *out * (size_t)(h.n + 1));
  for (int i = 0; i < h.n; i++) {
    Entry *e = &h.e[i];
    LuTensor *t = lu_tensor_make(e->elem, e->ndim, e->dim, NULL, NULL, 0);
    unsigned char *dst = lu_tensor_data(t);
    size_t size = lu_elem_size(e->elem);
    for (size_t b = 0; b < e->end - e->begin; b++) /* little-endian bytes */
      dst[__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
              ? b
              : b - b % size + size - 1 - b % size] = data[e->begin + b];
    if (e->i64)
      i64_to_double(dst, (e->end - e->begin) / 8);
    out[i] = (LuNamedTensor){e->name, t};
  }
  *n = h.n;
  return out;
}

/* ---- Lisp ------------------------------------------------------------- */

LU_DEFUN(save_safetensors, "(save-safetensors TENSORS FILE)",
         "Writes TENSORS, a list of (NAME . TENSOR) pairs (NAME a string; "
         "tensors of any type and layout), as the safetensors file FILE: "
         "dtypes F32, F64, I32 and U8, data in the order of the list. "
         "Atomic. Returns FILE. See load-safetensors and nn-export.") {
  (void)argc;
  LuValue *l = lu_arg_list(argv, 0);
  const char *path = lu_arg_str(argv, 1);
  long n = lu_length(l);
  LuNamedTensor *t = lu_alloc(sizeof *t * (size_t)(n + 1));
  for (long i = 0; i < n; i++, l = LU_CDR(l)) {
    LuValue *pair = LU_CAR(l);
    if (!LU_IS(pair, LU_CONS) || !LU_IS(LU_CAR(pair), LU_STRING) ||
        !LU_IS(LU_CDR(pair), LU_CDATA) ||
        LU_CDR(pair)->cdata.ctype != &lu_tensor_ctype)
      lu_error("save-safetensors: element %ld: expected (NAME . TENSOR), got "
               "%s",
               i + 1, lu_repr_limit(pair, 60));
    t[i] = (LuNamedTensor){LU_CAR(pair)->str.s, LU_CDR(pair)->cdata.ptr};
  }
  lu_safetensors_save("save-safetensors", path, t, (int)n, NULL, 0);
  return argv[1];
}

LU_DEFUN(load_safetensors, "(load-safetensors FILE)",
         "Reads the safetensors file FILE (dtypes F32, F64, I32, U8, and I64 "
         "as double): a list of (NAME . TENSOR) pairs in the order of their "
         "data. A "
         "malformed file is an error naming it (and the tensor).") {
  (void)argc;
  int n;
  LuNamedTensor *t =
      lu_safetensors_load("load-safetensors", lu_arg_str(argv, 0), &n);
  LuValue *l = lu_nil;
  for (int i = n - 1; i >= 0; i--)
    l = lu_cons(lu_cons(lu_string(t[i].name, strlen(t[i].name)),
                        lu_tensor_value(t[i].t)),
                l);
  return l;
}

static LuBuiltin *const safetensors_builtins[] = {
    &save_safetensors_builtin, &load_safetensors_builtin, NULL};

void lu_safetensors_open(void) {
  lu_register(safetensors_builtins);
}
