/* matrix.c: matrix files. Owns the IDX format (the MNIST format: magic
   00 00 TYPE NDIM, big-endian dims and data) and the classic Lush binary
   matrix format, read plain or gzip; the table of other matrix formats
   chosen by extension; and load-matrix and save-matrix. */
#include "io.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Classic Lush matrix magics, written in native byte order. */
#define LUSH_FLOAT 0x1E3D4C51
#define LUSH_DOUBLE 0x1E3D4C53
#define LUSH_INT 0x1E3D4C54
#define LUSH_UBYTE 0x1E3D4C55

static const bool host_little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

/* ---- Reading -------------------------------------------------------- */

static uint32_t load_u32(const unsigned char *p, bool swap) {
  uint32_t x;
  memcpy(&x, p, 4);
  return swap ? __builtin_bswap32(x) : x;
}

/* Decodes n elements of IDX type code into dst (our element type for it),
   swapping bytes when swap. */
static void decode(int code, bool swap, const unsigned char *src, size_t n,
                   void *dst) {
  int32_t *di = dst;
  switch (code) {
  case LU_IDX_UBYTE:
    memcpy(dst, src, n);
    break;
  case LU_IDX_SBYTE:
    for (size_t i = 0; i < n; i++)
      di[i] = (int8_t)src[i];
    break;
  case LU_IDX_SHORT:
    for (size_t i = 0; i < n; i++) {
      uint16_t x;
      memcpy(&x, src + 2 * i, 2);
      di[i] = (int16_t)(swap ? __builtin_bswap16(x) : x);
    }
    break;
  case LU_IDX_INT:
  case LU_IDX_FLOAT: {
    uint32_t *d = dst;
    for (size_t i = 0; i < n; i++)
      d[i] = load_u32(src + 4 * i, swap);
    break;
  }
  case LU_IDX_DOUBLE: {
    uint64_t *d = dst;
    for (size_t i = 0; i < n; i++) {
      uint64_t x;
      memcpy(&x, src + 8 * i, 8);
      d[i] = swap ? __builtin_bswap64(x) : x;
    }
    break;
  }
  }
}

/* Bytes per element of IDX type code; 0 for a code IDX does not define. */
static size_t code_size(int code) {
  switch (code) {
  case LU_IDX_UBYTE:
  case LU_IDX_SBYTE:
    return 1;
  case LU_IDX_SHORT:
    return 2;
  case LU_IDX_INT:
  case LU_IDX_FLOAT:
    return 4;
  case LU_IDX_DOUBLE:
    return 8;
  default:
    return 0;
  }
}

static LuElem code_elem(int code) {
  switch (code) {
  case LU_IDX_UBYTE:
    return LU_UBYTE;
  case LU_IDX_FLOAT:
    return LU_FLOAT;
  case LU_IDX_DOUBLE:
    return LU_DOUBLE;
  default:
    return LU_INT;
  }
}

static const char *code_name(int code) {
  switch (code) {
  case LU_IDX_SBYTE:
    return "signed byte";
  case LU_IDX_SHORT:
    return "short";
  default:
    return lu_elem_name(code_elem(code));
  }
}

/* Parses an IDX header (big-endian, magic 00 00 TYPE NDIM). */
static void idx_header(const char *path, const unsigned char *buf, size_t len,
                       LuMatrixHeader *h) {
  h->code = buf[2];
  h->ndim = buf[3];
  h->swap = host_little;
  if (!code_size(h->code))
    lu_error("load-matrix: %s: unknown IDX type code 0x%02X", path, h->code);
  if (h->ndim > LU_MAXDIM)
    lu_error("load-matrix: %s: %d dimensions (at most %d)", path, h->ndim,
             LU_MAXDIM);
  h->data = 4 + 4 * (size_t)h->ndim;
  if (len < h->data)
    lu_error("load-matrix: %s: truncated header", path);
  for (int i = 0; i < h->ndim; i++)
    h->dim[i] = load_u32(buf + 4 + 4 * i, h->swap);
}

/* Parses a classic Lush header: int magic, int ndim, max(ndim,3) int dims,
   in the writer's byte order (swap when the magic reads reversed). */
static void lush_header(const char *path, const unsigned char *buf, size_t len,
                        LuMatrixHeader *h) {
  uint32_t magic = load_u32(buf, false);
  h->swap = (magic >> 24) != (LUSH_FLOAT >> 24);
  if (h->swap)
    magic = __builtin_bswap32(magic);
  h->code = magic == LUSH_FLOAT    ? LU_IDX_FLOAT
            : magic == LUSH_DOUBLE ? LU_IDX_DOUBLE
            : magic == LUSH_INT    ? LU_IDX_INT
                                   : LU_IDX_UBYTE;
  if (len < 8)
    lu_error("load-matrix: %s: truncated header", path);
  int32_t ndim = (int32_t)load_u32(buf + 4, h->swap);
  if (ndim < 0 || ndim > LU_MAXDIM)
    lu_error("load-matrix: %s: %d dimensions (at most %d)", path, (int)ndim,
             LU_MAXDIM);
  h->ndim = ndim;
  int stored = ndim < 3 ? 3 : ndim;
  h->data = 8 + 4 * (size_t)stored;
  if (len < h->data)
    lu_error("load-matrix: %s: truncated header", path);
  for (int i = 0; i < ndim; i++) {
    int32_t d = (int32_t)load_u32(buf + 8 + 4 * i, h->swap);
    if (d < 0)
      lu_error("load-matrix: %s: negative dimension %d", path, (int)d);
    h->dim[i] = d;
  }
}

static bool is_lush_magic(uint32_t m) {
  uint32_t s = __builtin_bswap32(m);
  return m == LUSH_FLOAT || m == LUSH_DOUBLE || m == LUSH_INT ||
         m == LUSH_UBYTE || s == LUSH_FLOAT || s == LUSH_DOUBLE ||
         s == LUSH_INT || s == LUSH_UBYTE;
}

/* The largest header: a Lush file's magic, ndim and 8 dims. */
#define MAX_HEADER (8 + 4 * LU_MAXDIM)
/* Bytes decoded at a time. */
#define STAGE 65536

/* Parses the header at the start of buf (len bytes, possibly data after
   it) into h. */
static void parse_header(const char *path, const unsigned char *buf, size_t len,
                         LuMatrixHeader *h) {
  if (len < 4)
    lu_error("load-matrix: %s: truncated header (%zu bytes)", path, len);
  if (buf[0] == 0 && buf[1] == 0)
    idx_header(path, buf, len, h);
  else if (is_lush_magic(load_u32(buf, false)))
    lush_header(path, buf, len, h);
  else
    lu_error("load-matrix: %s: wrong magic %02X %02X %02X %02X (%s)", path,
             buf[0], buf[1], buf[2], buf[3],
             buf[0] == 0x1f && buf[1] == 0x8b
                 ? "gzip data: name the file .gz"
                 : "not an IDX or Lush matrix file");
}

/* The number of elements h's dims describe; *bytes gets their size in the
   file. Raises when either overflows, and when the strides would: those
   skip 0 dims, so 0x2^32x2^32 holds no element yet is refused. */
static size_t data_size(const LuSource *s, const LuMatrixHeader *h,
                        size_t *bytes) {
  size_t n = 1, span = 1;
  for (int i = 0; i < h->ndim; i++)
    if (__builtin_mul_overflow(n, (size_t)h->dim[i], &n) ||
        __builtin_mul_overflow(span, (size_t)(h->dim[i] ? h->dim[i] : 1),
                               &span) ||
        span > LONG_MAX)
      lu_error("%s: %s: dims %s overflow (too large to index)", s->who, s->path,
               lu_io_dims_text(h->ndim, h->dim));
  if (__builtin_mul_overflow(n, code_size(h->code), bytes))
    lu_error("%s: %s: dims %s overflow (too large to index)", s->who, s->path,
             lu_io_dims_text(h->ndim, h->dim));
  return n;
}

static noreturn void size_mismatch(const LuSource *s, const LuMatrixHeader *h,
                                   size_t need, size_t have) {
  lu_error("%s: %s: dims %s of %s need %zu data bytes, the file has "
           "%zu (%s)",
           s->who, s->path, lu_io_dims_text(h->ndim, h->dim),
           code_name(h->code), need, have,
           have < need ? "truncated" : "trailing garbage");
}

LuTensor *lu_matrix_read_data(LuSource *s, const LuMatrixHeader *h,
                              const unsigned char *pending, size_t npending) {
  size_t bytes, n = data_size(s, h, &bytes);
  size_t es = code_size(h->code);
  if (s->exact && s->size - h->data != bytes)
    size_mismatch(s, h, bytes, s->size - h->data);
  if (bytes > s->limit - h->data)
    lu_error("%s: %s: dims %s of %s need %zu data bytes, more than the file "
             "can hold (truncated)",
             s->who, s->path, lu_io_dims_text(h->ndim, h->dim),
             code_name(h->code), bytes);
  LuTensor *t =
      lu_tensor_make(code_elem(h->code), h->ndim, h->dim, NULL, NULL, 0);
  unsigned char *dst = lu_tensor_data(t);
  size_t des = lu_elem_size(code_elem(h->code));
  unsigned char *stage = lu_alloc_atomic(STAGE, s->who);
  size_t have = npending < STAGE ? npending : STAGE;
  if (have) /* pending may be NULL then */
    memcpy(stage, pending, have);
  for (size_t done = 0; done < n;) {
    size_t k = n - done < STAGE / es ? n - done : STAGE / es;
    if (have < k * es)
      have += lu_io_read(s, stage + have, k * es - have);
    if (have < k * es)
      size_mismatch(s, h, bytes, done * es + have);
    decode(h->code, h->swap, stage, k, dst + done * des);
    have -= k * es;
    memmove(stage, stage + k * es, have);
    done += k;
  }
  /* Whatever follows is an error: read at most a stage of it, so that a
     small compressed file never inflates without bound. */
  have += lu_io_read(s, stage + have, STAGE - have);
  if (have == STAGE)
    lu_error("%s: %s: dims %s of %s need %zu data bytes, the file has more "
             "than %zu (trailing garbage)",
             s->who, s->path, lu_io_dims_text(h->ndim, h->dim),
             code_name(h->code), bytes, bytes + have - 1);
  if (have)
    size_mismatch(s, h, bytes, bytes + have);
  return t;
}

/* LuReadBody: reads an IDX or Lush matrix file into a new tensor
   (*(LuTensor **)ud). */
static void matrix_body(LuSource *s, void *ud) {
  unsigned char head[MAX_HEADER];
  size_t got = lu_io_read(s, head, sizeof head);
  LuMatrixHeader h;
  parse_header(s->path, head, got, &h);
  *(LuTensor **)ud = lu_matrix_read_data(s, &h, head + h.data, got - h.data);
}

/* Reads an IDX or classic Lush matrix file. */
static LuTensor *idx_load(const char *path) {
  LuTensor *t = NULL;
  lu_io_with_source("load-matrix", path, matrix_body, &t);
  return t;
}

/* ---- Writing -------------------------------------------------------- */

static int elem_code(LuElem e) {
  switch (e) {
  case LU_FLOAT:
    return LU_IDX_FLOAT;
  case LU_DOUBLE:
    return LU_IDX_DOUBLE;
  case LU_INT:
    return LU_IDX_INT;
  case LU_UBYTE:
    break;
  }
  return LU_IDX_UBYTE;
}

static void store_be32(unsigned char *p, uint32_t x) {
  if (host_little)
    x = __builtin_bswap32(x);
  memcpy(p, &x, 4);
}

/* Copies n elements of es bytes (step bytes apart) into out, reversing
   the bytes of each when swap. Inlined with a constant es below, so that
   the compiler turns the reversal into one byte-swap instruction. */
static inline void copy_swapped(size_t es, bool swap, const unsigned char *p,
                                long n, long step, unsigned char *out) {
  for (long i = 0; i < n; i++, out += es, p += step)
    if (swap)
      for (size_t k = 0; k < es; k++)
        out[k] = p[es - 1 - k];
    else
      memcpy(out, p, es);
}

static void encode_row(size_t es, bool swap, const unsigned char *p, long n,
                       long step, unsigned char *out) {
  if (es == 4)
    copy_swapped(4, swap, p, n, step, out);
  else if (es == 8)
    copy_swapped(8, swap, p, n, step, out);
  else
    copy_swapped(1, false, p, n, step, out);
}

typedef struct {
  LuSink *sink;
  LuElem e;
  bool swap;
  unsigned char *buf; /* STAGE bytes */
  size_t used;
} Writer;

/* LuRunFn: encodes a run into the staging buffer, flushing it when full. */
static void write_run(void *ud, long n, char *const *run, const long *s) {
  Writer *w = ud;
  size_t es = lu_elem_size(w->e);
  const unsigned char *p = (const unsigned char *)run[0];
  long step = s[0] * (long)es;
  while (n > 0) {
    long room = (long)((STAGE - w->used) / es);
    if (room == 0) {
      lu_io_sink_write(w->sink, w->buf, w->used);
      w->used = 0;
      lu_poll();
      continue;
    }
    long k = n < room ? n : room;
    encode_row(es, w->swap, p, k, step, w->buf + w->used);
    w->used += (size_t)k * es;
    p += k * step;
    n -= k;
  }
}

void lu_matrix_write_data(LuSink *s, const LuTensor *t, bool little,
                          const void *head, size_t n) {
  lu_io_sink_write(s, head, n);
  Writer w = {s, t->st->elem, little != host_little,
              lu_alloc_atomic(STAGE, s->who), 0};
  lu_tensor_walk(1, (LuTensor *[]){(LuTensor *)t}, write_run, &w);
  lu_io_sink_write(s, w.buf, w.used);
}

/* LuWriteBody: the IDX header, then the data in row-major order. */
static void idx_body(LuSink *s, void *ud) {
  const LuTensor *t = ud;
  unsigned char h[4 + 4 * LU_MAXDIM] = {
      0, 0, (unsigned char)elem_code(t->st->elem), (unsigned char)t->ndim};
  for (int i = 0; i < t->ndim; i++)
    store_be32(h + 4 + 4 * i, (uint32_t)t->dim[i]);
  lu_matrix_write_data(s, t, false, h, 4 + 4 * (size_t)t->ndim);
}

/* Writes t as IDX. */
static void idx_save(const LuTensor *t, const char *path) {
  for (int i = 0; i < t->ndim; i++)
    if (t->dim[i] > (long)UINT32_MAX)
      lu_error("save-matrix: %s: dimension %d is %ld, more than IDX holds",
               path, i, t->dim[i]);
  lu_io_save("save-matrix", path, lu_io_ends_with(path, ".gz"), idx_body,
             (void *)t);
}

/* ---- Other formats, by extension ------------------------------------- */

#define MAX_FORMATS 8

static const LuMatrixFormat *formats[MAX_FORMATS];
static int nformats;

void lu_matrix_add_format(const LuMatrixFormat *format) {
  if (nformats == MAX_FORMATS)
    abort(); /* a fixed table sized for the formats we build in */
  formats[nformats++] = format;
}

/* The registered format whose suffix (or suffix + ".gz") ends path; NULL
   for IDX. */
static const LuMatrixFormat *format_of(const char *path) {
  for (int i = 0; i < nformats; i++) {
    const char *suffix = formats[i]->suffix;
    size_t n = strlen(path), k = strlen(suffix);
    if (lu_io_ends_with(path, suffix) ||
        (lu_io_ends_with(path, ".gz") && n >= k + 3 &&
         strncmp(path + n - k - 3, suffix, k) == 0))
      return formats[i];
  }
  return NULL;
}

LuTensor *lu_matrix_load(const char *path) {
  const LuMatrixFormat *f = format_of(path);
  return f ? f->load(path) : idx_load(path);
}

void lu_matrix_save(const LuTensor *t, const char *path) {
  const LuMatrixFormat *f = format_of(path);
  if (f)
    f->save(t, path);
  else
    idx_save(t, path);
}

/* ---- Builtins -------------------------------------------------------- */

LU_DEFUN(load_matrix, "(load-matrix FILE)",
         "Reads a tensor from FILE: IDX (the MNIST format: magic 00 00 TYPE "
         "NDIM, big-endian dims and data; types ubyte, signed byte, short, "
         "int, float, double; signed bytes and shorts load as int), or a "
         "classic Lush binary matrix file; a NumPy array when FILE ends in "
         ".npy (C order; dtypes f4, f8, i4, u1, and i1 and i2 as int). "
         "Gzip-compressed when FILE ends in .gz. A malformed file is an "
         "error naming what is wrong.") {
  (void)argc;
  return lu_tensor_value(lu_matrix_load(lu_arg_str(argv, 0)));
}

LU_DEFUN(save_matrix, "(save-matrix M FILE)",
         "Writes tensor M to FILE as IDX (float, double, int or ubyte), or "
         "as a NumPy array when FILE ends in .npy; gzip-compressed when FILE "
         "ends in .gz. Atomic: the data goes to a temporary file in the same "
         "folder, renamed over FILE when complete; a failed save leaves no "
         "file behind. Returns FILE.") {
  (void)argc;
  lu_matrix_save(lu_arg_tensor(argv, 0), lu_arg_str(argv, 1));
  return argv[1];
}

static LuBuiltin *const matrix_builtins[] = {&load_matrix_builtin,
                                             &save_matrix_builtin, NULL};

void lu_matrix_open(void) {
  lu_register(matrix_builtins);
}
