/* io.c: files. Owns reading whole files (plain or gzip), the IDX and classic
   Lush matrix formats, atomic saves (temporary file, fsync, rename), PNG
   output through libpng, terminal pictures (idx-show) and the JSON reader.
   Every failure is a Lisp error naming the file; files are always closed
   and temporary files removed before the error propagates. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <gc.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
#define IDX_SBYTE 0x09
#define IDX_SHORT 0x0B
#define IDX_INT 0x0C
#define IDX_FLOAT 0x0D
#define IDX_DOUBLE 0x0E

/* Classic Lush matrix magics, written in native byte order. */
#define LUSH_FLOAT 0x1E3D4C51
#define LUSH_DOUBLE 0x1E3D4C53
#define LUSH_INT 0x1E3D4C54
#define LUSH_UBYTE 0x1E3D4C55

/* libpng's default limit on each side, also applied before allocating. */
#define PNG_MAX_SIDE 1000000L

static const bool host_little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- Reading files ---------------------------------------------------- */

/* An open input file: plain, or gzip when its name ends in .gz. */
typedef struct {
  const char *who, *path;
  FILE *f; /* exactly one of f and gz is set */
  gzFile gz;
  bool exact;   /* size is the real size (a plain file) */
  size_t size;  /* the file's size; for gzip, an estimate of the content's */
  size_t limit; /* the most content the file can hold */
} Source;

/* Raises for the last failure on s's stream; zlib's messages lose the
   "<fd:N>: " it puts in front. */
static noreturn void source_fail(Source *s) {
  if (s->f)
    lu_error("%s: %s: read error: %s", s->who, s->path, strerror(errno));
  int code;
  const char *msg = gzerror(s->gz, &code);
  const char *colon = strstr(msg, ": ");
  msg = colon ? colon + 2 : msg;
  if (code == Z_ERRNO)
    lu_error("%s: %s: read error: %s", s->who, s->path, strerror(errno));
  if (code == Z_BUF_ERROR)
    lu_error("%s: %s: truncated gzip stream (%s)", s->who, s->path, msg);
  lu_error("%s: %s: corrupt gzip stream (%s)", s->who, s->path, msg);
}

/* Reads n bytes into dst, fewer only at the end of the content. Raises on
   a read error or a truncated or corrupt gzip stream; polls for Ctrl-C. */
static size_t source_read(Source *s, unsigned char *dst, size_t n) {
  size_t total = 0;
  while (total < n) {
    size_t want = n - total < (1u << 20) ? n - total : (1u << 20);
    long got = s->gz ? gzread(s->gz, dst + total, (unsigned)want)
                     : (long)fread(dst + total, 1, want, s->f);
    if (got < 0)
      source_fail(s);
    if (got == 0)
      break;
    total += (size_t)got;
    lu_poll();
  }
  int code = Z_OK;
  if (total < n && (s->f ? ferror(s->f) : (gzerror(s->gz, &code), code)))
    source_fail(s);
  return total;
}

/* Opens fd (path's) as s. The content of a .gz file must start with the
   gzip magic. Takes ownership of fd; returns NULL, or the reason it failed
   with fd closed. */
static const char *source_open(Source *s, int fd) {
  struct stat st;
  const char *why = fstat(fd, &st) != 0   ? strerror(errno)
                    : S_ISDIR(st.st_mode) ? "is a directory"
                                          : NULL;
  if (why) {
    close(fd);
    return why;
  }
  s->size = (size_t)st.st_size;
  s->limit = S_ISREG(st.st_mode) ? s->size : SIZE_MAX;
  s->exact = S_ISREG(st.st_mode) && !ends_with(s->path, ".gz");
  if (!ends_with(s->path, ".gz")) {
    s->f = fdopen(fd, "rb");
    if (!s->f) {
      close(fd);
      return strerror(errno);
    }
    return NULL;
  }
  unsigned char head[2] = {0, 0}, tail[4] = {0, 0, 0, 0};
  if (pread(fd, head, 2, 0) != 2 || head[0] != 0x1f || head[1] != 0x8b) {
    close(fd);
    return "not a gzip file (the name ends in .gz)";
  }
  /* Deflate expands at most 1032 times, so a forged header cannot make us
     allocate much more than the file could hold. The trailer's ISIZE is
     the content's size mod 2^32: an estimate only. */
  s->limit = S_ISREG(st.st_mode) ? (size_t)st.st_size * 1032 + 65536 : SIZE_MAX;
  s->size = 0;
  if (st.st_size >= 4 && pread(fd, tail, 4, st.st_size - 4) == 4) {
    size_t isize =
        tail[0] | tail[1] << 8 | tail[2] << 16 | (size_t)tail[3] << 24;
    s->size = isize < s->limit ? isize : s->limit;
  }
  s->gz = gzdopen(fd, "rb");
  if (!s->gz) {
    close(fd);
    return "cannot start gzip decompression";
  }
  gzbuffer(s->gz, 1 << 17);
  return NULL;
}

typedef void (*ReadBody)(Source *s, void *ud);
typedef struct {
  Source *source;
  ReadBody body;
  void *ud;
} ReadJob;

static void read_job(void *ud) {
  ReadJob *job = ud;
  job->body(job->source, job->ud);
}

/* Opens path and runs body(source, ud) on it under lu_pcall; the file is
   closed whatever happens, then body's error (or "WHO: PATH: reason" for
   a file that cannot be opened) propagates. */
static void with_source(const char *who, const char *path, ReadBody body,
                        void *ud) {
  Source s = {who, path, NULL, NULL, false, 0, 0};
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    lu_error("%s: %s: %s", who, path, strerror(errno));
  const char *why = source_open(&s, fd);
  if (why)
    lu_error("%s: %s: %s", who, path, why);
  ReadJob job = {&s, body, ud};
  LuValue *err = NULL;
  bool ok = lu_pcall(read_job, &job, &err);
  if (s.f)
    fclose(s.f);
  else
    gzclose(s.gz);
  if (!ok)
    lu_rethrow(err);
}

typedef struct {
  unsigned char *buf; /* GC memory, NUL-terminated */
  size_t len;
} Bytes;

/* ReadBody: the whole content. The buffer starts at the expected size;
   once it is full, a small probe tells the end from more data, so an
   exact estimate costs no second allocation. */
static void slurp(Source *s, void *ud) {
  Bytes *b = ud;
  size_t cap = s->size + 1 > 65536 ? s->size + 1 : 65536;
  b->buf = lu_alloc_atomic(cap, s->who);
  b->len = source_read(s, b->buf, cap - 1);
  for (;;) {
    unsigned char probe[4096];
    size_t got = b->len < cap - 1 ? 0 : source_read(s, probe, sizeof probe);
    if (got == 0)
      break;
    if (cap > SIZE_MAX / 2)
      lu_error("%s: %s: file too large", s->who, s->path);
    unsigned char *bigger = lu_alloc_atomic(cap * 2, s->who);
    memcpy(bigger, b->buf, b->len);
    memcpy(bigger + b->len, probe, got);
    b->buf = bigger;
    cap *= 2;
    b->len +=
        got + source_read(s, b->buf + b->len + got, cap - 1 - b->len - got);
  }
  b->buf[b->len] = 0;
}

/* Returns the whole content of path (decompressed when it ends in .gz) in
   GC memory with a 0 byte after the last one; *len gets the size. Raises
   "WHO: PATH: reason" on any failure. */
static unsigned char *read_all(const char *who, const char *path, size_t *len) {
  Bytes b = {NULL, 0};
  with_source(who, path, slurp, &b);
  *len = b.len;
  return b.buf;
}

/* ---- Atomic saves ----------------------------------------------------- */

typedef struct {
  FILE *f; /* exactly one of f and gz is set */
  gzFile gz;
  const char *who, *path;
} Sink;

/* Writes n bytes to s; false on failure (then sink_why tells why). */
static bool sink_put(Sink *s, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    size_t k = n < (1u << 30) ? n : (1u << 30);
    if (s->f ? fwrite(c, 1, k, s->f) != k
             : gzwrite(s->gz, c, (unsigned)k) != (int)k)
      return false;
    c += k;
    n -= k;
  }
  return true;
}

static const char *sink_why(Sink *s) {
  const char *why = strerror(errno);
  if (s->gz) {
    int code;
    const char *msg = gzerror(s->gz, &code);
    if (code != Z_ERRNO)
      why = msg;
  }
  return why;
}

/* Writes n bytes to s; raises "WHO: PATH: write failed: why". */
static void sink_write(Sink *s, const void *p, size_t n) {
  if (!sink_put(s, p, n))
    lu_error("%s: %s: write failed: %s", s->who, s->path, sink_why(s));
}

typedef void (*WriteBody)(Sink *s, void *ud);
typedef struct {
  Sink *sink;
  WriteBody body;
  void *ud;
} SaveJob;

static void save_job(void *ud) {
  SaveJob *job = ud;
  job->body(job->sink, job->ud);
}

/* The temporary file's name: ".NAME.XXXXXX" beside path. */
static char *temp_name(const char *who, const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t dirlen = (size_t)(base - path);
  size_t n = strlen(path) + 16;
  char *tmp = lu_alloc_atomic(n, who);
  snprintf(tmp, n, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
  return tmp;
}

/* Best effort: makes the rename itself durable. */
static void sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, (size_t)(slash - path) + 1) : NULL;
  int fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY);
  free(dir);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* Opens the sink on a duplicate of fd, so that fd stays open for fsync.
   Returns false with nothing left open on failure. */
static bool sink_open(Sink *s, int fd, bool gz) {
  int dupfd = dup(fd);
  if (dupfd < 0)
    return false;
  if (gz)
    s->gz = gzdopen(dupfd, "wb");
  else
    s->f = fdopen(dupfd, "wb");
  if (!s->gz && !s->f) {
    close(dupfd);
    return false;
  }
  return true;
}

/* Closes the sink; returns NULL or why it failed. */
static const char *sink_close(Sink *s) {
  if (s->f)
    return fclose(s->f) == 0 ? NULL : strerror(errno);
  int code = gzclose(s->gz);
  if (code == Z_OK)
    return NULL;
  return code == Z_ERRNO ? strerror(errno) : "gzip stream error";
}

/* Writes path atomically: body(sink, ud) writes the content (gzip when gz)
   into a temporary file in path's folder, which is flushed, fsync'd and
   renamed over path. body may raise (and Ctrl-C may strike): the temporary
   file is then removed and the error propagates, so path is either the old
   file or the complete new one, and a failed save leaves no file behind. */
static void save_atomic(const char *who, const char *path, bool gz,
                        WriteBody body, void *ud) {
  char *tmp = temp_name(who, path);
  int fd = mkstemp(tmp);
  if (fd < 0)
    lu_error("%s: %s: cannot create a temporary file: %s", who, path,
             strerror(errno));
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  Sink sink = {NULL, NULL, who, path};
  if (!sink_open(&sink, fd, gz)) {
    const char *why = strerror(errno);
    close(fd);
    unlink(tmp);
    lu_error("%s: %s: cannot write: %s", who, path, why);
  }
  SaveJob job = {&sink, body, ud};
  LuValue *err = NULL;
  bool ok = lu_pcall(save_job, &job, &err);
  const char *why = sink_close(&sink);
  if (ok && !why && fsync(fd) != 0)
    why = strerror(errno);
  close(fd);
  if (!ok || why) {
    unlink(tmp);
    if (!ok)
      lu_rethrow(err);
    lu_error("%s: %s: write failed: %s", who, path, why);
  }
  if (rename(tmp, path) != 0) {
    why = strerror(errno);
    unlink(tmp);
    lu_error("%s: %s: cannot rename the temporary file: %s", who, path, why);
  }
  sync_dir(path);
}

/* ---- IDX and Lush matrix files: reading ------------------------------- */

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
  case IDX_UBYTE:
    memcpy(dst, src, n);
    break;
  case IDX_SBYTE:
    for (size_t i = 0; i < n; i++)
      di[i] = (int8_t)src[i];
    break;
  case IDX_SHORT:
    for (size_t i = 0; i < n; i++) {
      uint16_t x;
      memcpy(&x, src + 2 * i, 2);
      di[i] = (int16_t)(swap ? __builtin_bswap16(x) : x);
    }
    break;
  case IDX_INT:
  case IDX_FLOAT: {
    uint32_t *d = dst;
    for (size_t i = 0; i < n; i++)
      d[i] = load_u32(src + 4 * i, swap);
    break;
  }
  case IDX_DOUBLE: {
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

/* A parsed header: the element type in the file (as an IDX code), byte
   order, dims, and where the data starts. */
typedef struct {
  int code;
  bool swap;
  int ndim;
  long dim[LU_MAXDIM];
  size_t data;
} Header;

/* Bytes per element of IDX type code; 0 for a code IDX does not define. */
static size_t code_size(int code) {
  switch (code) {
  case IDX_UBYTE:
  case IDX_SBYTE:
    return 1;
  case IDX_SHORT:
    return 2;
  case IDX_INT:
  case IDX_FLOAT:
    return 4;
  case IDX_DOUBLE:
    return 8;
  default:
    return 0;
  }
}

static LuElem code_elem(int code) {
  switch (code) {
  case IDX_UBYTE:
    return LU_UBYTE;
  case IDX_FLOAT:
    return LU_FLOAT;
  case IDX_DOUBLE:
    return LU_DOUBLE;
  default:
    return LU_INT;
  }
}

static const char *code_name(int code) {
  switch (code) {
  case IDX_SBYTE:
    return "signed byte";
  case IDX_SHORT:
    return "short";
  default:
    return lu_elem_name(code_elem(code));
  }
}

/* "60000x28x28"; "scalar" for 0 dims. */
static const char *dims_text(int ndim, const long *dim) {
  LuBuf b;
  lu_buf_init(&b);
  if (ndim == 0)
    lu_buf_puts(&b, "scalar");
  for (int i = 0; i < ndim; i++)
    lu_buf_printf(&b, i ? "x%ld" : "%ld", dim[i]);
  return b.s;
}

/* Parses an IDX header (big-endian, magic 00 00 TYPE NDIM). */
static void idx_header(const char *path, const unsigned char *buf, size_t len,
                       Header *h) {
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
                        Header *h) {
  uint32_t magic = load_u32(buf, false);
  h->swap = (magic >> 24) != (LUSH_FLOAT >> 24);
  if (h->swap)
    magic = __builtin_bswap32(magic);
  h->code = magic == LUSH_FLOAT    ? IDX_FLOAT
            : magic == LUSH_DOUBLE ? IDX_DOUBLE
            : magic == LUSH_INT    ? IDX_INT
                                   : IDX_UBYTE;
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
                         Header *h) {
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
   file. Raises when either overflows. */
static size_t data_size(const char *path, const Header *h, size_t *bytes) {
  size_t n = 1;
  for (int i = 0; i < h->ndim; i++)
    if (__builtin_mul_overflow(n, (size_t)h->dim[i], &n) || n > LONG_MAX)
      lu_error("load-matrix: %s: dims %s overflow", path,
               dims_text(h->ndim, h->dim));
  if (__builtin_mul_overflow(n, code_size(h->code), bytes))
    lu_error("load-matrix: %s: dims %s overflow", path,
             dims_text(h->ndim, h->dim));
  return n;
}

static noreturn void size_mismatch(const char *path, const Header *h,
                                   size_t need, size_t have) {
  lu_error("load-matrix: %s: dims %s of %s need %zu data bytes, the file has "
           "%zu (%s)",
           path, dims_text(h->ndim, h->dim), code_name(h->code), need, have,
           have < need ? "truncated" : "trailing garbage");
}

/* ReadBody: reads an IDX or Lush matrix file into a new tensor
   (*(LuTensor **)ud). Checks the header, that the dims' product and byte
   size do not overflow, and that the file has (plain) or can hold (gzip)
   that much data, before allocating the tensor; the data is then decoded
   straight into it a stage at a time, and a gzip file's content checked
   for the exact size as it goes. */
static void matrix_body(Source *s, void *ud) {
  unsigned char head[MAX_HEADER];
  size_t got = source_read(s, head, sizeof head);
  Header h;
  parse_header(s->path, head, got, &h);
  size_t bytes, n = data_size(s->path, &h, &bytes);
  size_t es = code_size(h.code);
  if (s->exact && s->size - h.data != bytes)
    size_mismatch(s->path, &h, bytes, s->size - h.data);
  if (bytes > s->limit - h.data)
    lu_error("load-matrix: %s: dims %s of %s need %zu data bytes, more than "
             "the file can hold (truncated)",
             s->path, dims_text(h.ndim, h.dim), code_name(h.code), bytes);
  LuTensor *t = lu_tensor_make(code_elem(h.code), h.ndim, h.dim, NULL, NULL, 0);
  unsigned char *dst = lu_tensor_data(t);
  size_t des = lu_elem_size(code_elem(h.code));
  unsigned char *stage = lu_alloc_atomic(STAGE, "load-matrix");
  size_t pending = got - h.data; /* data bytes read with the header */
  memcpy(stage, head + h.data, pending);
  for (size_t done = 0; done < n;) {
    size_t k = n - done < STAGE / es ? n - done : STAGE / es;
    if (pending < k * es)
      pending += source_read(s, stage + pending, k * es - pending);
    if (pending < k * es)
      size_mismatch(s->path, &h, bytes, done * es + pending);
    decode(h.code, h.swap, stage, k, dst + done * des);
    pending -= k * es;
    memmove(stage, stage + k * es, pending);
    done += k;
  }
  size_t extra = pending;
  while ((got = source_read(s, stage, STAGE)) > 0)
    extra += got;
  if (extra)
    size_mismatch(s->path, &h, bytes, bytes + extra);
  *(LuTensor **)ud = t;
}

LuTensor *lu_io_load_matrix(const char *path) {
  LuTensor *t = NULL;
  with_source("load-matrix", path, matrix_body, &t);
  return t;
}

/* ---- IDX: writing ----------------------------------------------------- */

static int elem_code(LuElem e) {
  switch (e) {
  case LU_FLOAT:
    return IDX_FLOAT;
  case LU_DOUBLE:
    return IDX_DOUBLE;
  case LU_INT:
    return IDX_INT;
  case LU_UBYTE:
    break;
  }
  return IDX_UBYTE;
}

static void store_be32(unsigned char *p, uint32_t x) {
  if (host_little)
    x = __builtin_bswap32(x);
  memcpy(p, &x, 4);
}

/* Encodes n elements (step bytes apart) as big-endian IDX data into out. */
static void encode_row(LuElem e, const unsigned char *p, long n, long step,
                       unsigned char *out) {
  switch (e) {
  case LU_UBYTE:
    for (long i = 0; i < n; i++)
      out[i] = p[i * step];
    break;
  case LU_FLOAT:
  case LU_INT:
    for (long i = 0; i < n; i++) {
      uint32_t x;
      memcpy(&x, p + i * step, 4);
      store_be32(out + 4 * i, x);
    }
    break;
  case LU_DOUBLE:
    for (long i = 0; i < n; i++) {
      uint64_t x;
      memcpy(&x, p + i * step, 8);
      if (host_little)
        x = __builtin_bswap64(x);
      memcpy(out + 8 * i, &x, 8);
    }
    break;
  }
}

typedef struct {
  Sink *sink;
  LuElem e;
  unsigned char *buf; /* IDX_STAGE bytes */
  size_t used;
} IdxWriter;

#define IDX_STAGE 65536

/* LuRunFn: encodes a run into the staging buffer, flushing it when full. */
static void idx_run(void *ud, long n, char *const *run, const long *s) {
  IdxWriter *w = ud;
  LuElem e = w->e;
  size_t es = lu_elem_size(e);
  const unsigned char *p = (const unsigned char *)run[0];
  long step = s[0] * (long)es;
  while (n > 0) {
    long room = (long)((IDX_STAGE - w->used) / es);
    if (room == 0) {
      sink_write(w->sink, w->buf, w->used);
      w->used = 0;
      lu_poll();
      continue;
    }
    long k = n < room ? n : room;
    encode_row(e, p, k, step, w->buf + w->used);
    w->used += (size_t)k * es;
    p += k * step;
    n -= k;
  }
}

/* WriteBody: the IDX header, then the data in row-major order. */
static void idx_body(Sink *s, void *ud) {
  const LuTensor *t = ud;
  IdxWriter w = {s, t->st->elem, lu_alloc_atomic(IDX_STAGE, "save-matrix"),
                 4 + 4 * (size_t)t->ndim};
  unsigned char *h = w.buf;
  h[0] = h[1] = 0;
  h[2] = (unsigned char)elem_code(t->st->elem);
  h[3] = (unsigned char)t->ndim;
  for (int i = 0; i < t->ndim; i++)
    store_be32(h + 4 + 4 * i, (uint32_t)t->dim[i]);
  lu_tensor_walk(1, (LuTensor *[]){(LuTensor *)t}, idx_run, &w);
  sink_write(s, w.buf, w.used);
}

void lu_io_save_matrix(const LuTensor *t, const char *path) {
  for (int i = 0; i < t->ndim; i++)
    if (t->dim[i] > (long)UINT32_MAX)
      lu_error("save-matrix: %s: dimension %d is %ld, more than IDX holds",
               path, i, t->dim[i]);
  save_atomic("save-matrix", path, ends_with(path, ".gz"), idx_body, (void *)t);
}

/* ---- Images: ranges, shades, PNG -------------------------------------- */

/* A 2-D view for drawing: h rows of w elements, strides in elements. */
typedef struct {
  LuElem elem;
  const unsigned char *base;
  long h, w, hmod, wmod;
} Image;

/* A 1-D tensor is one row; a 2-D tensor is itself. Raises otherwise. */
static Image image_of(const char *who, const LuTensor *t) {
  Image im = {t->st->elem, lu_tensor_data(t), 1, 0, 0, 0};
  if (t->ndim == 1) {
    im.w = t->dim[0];
    im.wmod = t->mod[0];
  } else if (t->ndim == 2) {
    im.h = t->dim[0];
    im.w = t->dim[1];
    im.hmod = t->mod[0];
    im.wmod = t->mod[1];
  } else {
    lu_error("%s: expected a 1-D or 2-D tensor, got %s %s", who,
             lu_elem_name(t->st->elem), dims_text(t->ndim, t->dim));
  }
  return im;
}

/* Row i of im as doubles into out (im.w of them). */
static void image_row(const Image *im, long i, double *out) {
  long es = (long)lu_elem_size(im->elem);
  lu_tensor_kconvert(LU_DOUBLE, im->w, out, 1, im->elem,
                     im->base + i * im->hmod * es, im->wmod);
}

/* The smallest and largest values of im, NaNs ignored; 0 and 0 when there
   is no number at all. */
static void image_range(const Image *im, double *row, double *lo, double *hi) {
  double a = INFINITY, b = -INFINITY;
  for (long i = 0; i < im->h; i++) {
    image_row(im, i, row);
    for (long j = 0; j < im->w; j++) {
      a = row[j] < a ? row[j] : a;
      b = row[j] > b ? row[j] : b;
    }
  }
  *lo = a <= b ? a : 0;
  *hi = a <= b ? b : 0;
}

/* Maps x from [lo, hi] to a level in 0..top, clipped (lo > hi inverts).
   NaN maps to 0; so does a constant image (x == lo == hi), while a given
   range with lo == hi thresholds: values above it map to top. */
static int shade(double x, double lo, double hi, int top) {
  double f = (x - lo) / (hi - lo);
  if (!(f > 0))
    return 0;
  return f >= 1 ? top : (int)(f * top + 0.5);
}

typedef struct {
  char msg[256];
  Sink *sink;
} PngCtx;

static void pic_fail(png_structp png, png_const_charp msg) {
  PngCtx *c = png_get_error_ptr(png);
  snprintf(c->msg, sizeof c->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void pic_quiet(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static void pic_out(png_structp png, png_bytep data, size_t n) {
  PngCtx *c = png_get_io_ptr(png);
  if (!sink_put(c->sink, data, n)) {
    char why[200];
    snprintf(why, sizeof why, "write failed: %s", sink_why(c->sink));
    png_error(png, why);
  }
}

static void pic_flush(png_structp png) {
  (void)png;
}

/* An 8-bit grayscale picture: h rows of w bytes. */
typedef struct {
  const unsigned char *pix;
  long h, w;
} Picture;

/* WriteBody: encodes the picture as a PNG. libpng reports errors by
   longjmp to png_jmpbuf; they become a Lisp error once libpng's structures
   are freed. Nothing here polls, so no Lisp error crosses libpng. */
static void pic_body(Sink *s, void *ud) {
  const Picture *pic = ud;
  PngCtx ctx = {"", s};
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, pic_fail, pic_quiet);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    lu_error("%s: %s: libpng could not start", s->who, s->path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    lu_error("%s: %s: %s", s->who, s->path, ctx.msg);
  }
  png_set_write_fn(png, &ctx, pic_out, pic_flush);
  png_set_IHDR(png, info, (png_uint_32)pic->w, (png_uint_32)pic->h, 8,
               PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (long i = 0; i < pic->h; i++)
    png_write_row(png, pic->pix + i * pic->w);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
}

/* Raises unless a picture of h x w pixels can be written. */
static void check_picture(const char *who, const char *path, long h, long w) {
  if (h < 1 || w < 1 || h > PNG_MAX_SIDE || w > PNG_MAX_SIDE)
    lu_error("%s: %s: cannot write a picture of %ldx%ld pixels (each side "
             "1 to %ld)",
             who, path, h, w, PNG_MAX_SIDE);
}

/* Draws im into dst (rows stride bytes apart), scaled from [lo, hi] to
   0..255; row is scratch for im->w doubles. */
static void draw_image(const Image *im, double lo, double hi,
                       unsigned char *dst, long stride, double *row) {
  for (long i = 0; i < im->h; i++) {
    image_row(im, i, row);
    for (long j = 0; j < im->w; j++)
      dst[i * stride + j] = (unsigned char)shade(row[j], lo, hi, 255);
    lu_poll();
  }
}

void lu_io_save_png(const LuTensor *t, const char *path, const double *range) {
  Image im = image_of("save-png", t);
  check_picture("save-png", path, im.h, im.w);
  unsigned char *pix = lu_alloc_atomic((size_t)(im.h * im.w), "save-png");
  double *row = lu_alloc_atomic((size_t)im.w * sizeof(double), "save-png");
  double lo, hi;
  if (range) {
    lo = range[0];
    hi = range[1];
  } else {
    image_range(&im, row, &lo, &hi);
  }
  draw_image(&im, lo, hi, pix, im.w, row);
  Picture pic = {pix, im.h, im.w};
  save_atomic("save-png", path, false, pic_body, &pic);
}

/* ---- Grids of images -------------------------------------------------- */

static bool is_tensor(LuValue *v) {
  return LU_IS(v, LU_CDATA) && v->cdata.ctype == &lu_tensor_ctype;
}

/* The images of save-png-grid: the elements of a list of 1-D or 2-D
   tensors, or the 2-D slices (last two dims) of a tensor, in row-major
   order. Sets *count. */
static Image *grid_images(LuValue *images, long *count) {
  if (is_tensor(images)) {
    const LuTensor *t = images->cdata.ptr;
    if (t->ndim < 2)
      lu_error("save-png-grid: expected a list of images or a tensor of 2 or "
               "more dims, got a %s tensor",
               dims_text(t->ndim, t->dim));
    int lead = t->ndim - 2;
    long n = 1;
    for (int d = 0; d < lead; d++)
      n *= t->dim[d];
    long es = (long)lu_elem_size(t->st->elem);
    Image *ims = lu_alloc((size_t)(n > 0 ? n : 1) * sizeof(Image));
    long idx[LU_MAXDIM] = {0};
    for (long k = 0; k < n; k++) {
      long off = 0;
      for (int d = 0; d < lead; d++)
        off += idx[d] * t->mod[d];
      ims[k] = (Image){
          t->st->elem,  (const unsigned char *)lu_tensor_data(t) + off * es,
          t->dim[lead], t->dim[lead + 1],
          t->mod[lead], t->mod[lead + 1]};
      for (int d = lead - 1; d >= 0 && ++idx[d] == t->dim[d]; d--)
        idx[d] = 0;
    }
    *count = n;
    return ims;
  }
  if (!LU_IS(images, LU_CONS))
    lu_arg_error(0, "a list of tensors or a tensor", images);
  long n = lu_length(images);
  Image *ims = lu_alloc((size_t)n * sizeof(Image));
  LuValue *v = images;
  for (long k = 0; k < n; k++, v = LU_CDR(v)) {
    LuValue *x = LU_CAR(v);
    const LuTensor *t = is_tensor(x) ? x->cdata.ptr : NULL;
    if (!t || t->ndim < 1 || t->ndim > 2)
      lu_error("save-png-grid: image %ld: expected a 1-D or 2-D tensor, got "
               "%.60s",
               k + 1, lu_repr(x, true));
    ims[k] = image_of("save-png-grid", t);
  }
  *count = n;
  return ims;
}

/* Pixels across count cells of size cell with their borders; LONG_MAX
   when that overflows. */
static long grid_side(long count, long cell) {
  long side;
  if (__builtin_mul_overflow(count, cell + 1, &side) || side == LONG_MAX)
    return LONG_MAX;
  return side + 1;
}

/* Tiles n images in cols columns, each cell as large as the largest image,
   with a 1-pixel mid-gray (128) border around and between cells; each
   image is scaled by range, or by its own min and max. */
static void save_grid(LuValue *images, const char *path, long cols,
                      const double *range) {
  long n, h = 0, w = 0;
  Image *ims = grid_images(images, &n);
  if (n == 0)
    lu_error("save-png-grid: %s: no images", path);
  for (long k = 0; k < n; k++) {
    h = ims[k].h > h ? ims[k].h : h;
    w = ims[k].w > w ? ims[k].w : w;
  }
  cols = cols < n ? cols : n;
  long ch = grid_side((n + cols - 1) / cols, h), cw = grid_side(cols, w);
  check_picture("save-png-grid", path, ch, cw);
  unsigned char *pix = lu_alloc_atomic((size_t)(ch * cw), "save-png-grid");
  memset(pix, 128, (size_t)(ch * cw));
  double *row =
      lu_alloc_atomic((size_t)(w + 1) * sizeof(double), "save-png-grid");
  for (long k = 0; k < n; k++) {
    double lo, hi;
    if (range) {
      lo = range[0];
      hi = range[1];
    } else {
      image_range(&ims[k], row, &lo, &hi);
    }
    long y0 = 1 + k / cols * (h + 1), x0 = 1 + k % cols * (w + 1);
    draw_image(&ims[k], lo, hi, pix + y0 * cw + x0, cw, row);
  }
  Picture pic = {pix, ch, cw};
  save_atomic("save-png-grid", path, false, pic_body, &pic);
}

/* ---- Terminal pictures ------------------------------------------------ */

/* Prints a header "TYPE DIMS min A max B", then one line per row with a
   shade block per pixel (two columns per pixel up to 80 pixels wide, so
   pixels look square), scaled from [lo, hi]; NaN shows as '?'. */
static void show(const LuTensor *t, const double *range) {
  static const char *const shades[] = {" ", "\u2591", "\u2592", "\u2593",
                                       "\u2588"};
  Image im = image_of("idx-show", t);
  double *row =
      lu_alloc_atomic((size_t)(im.w + 1) * sizeof(double), "idx-show");
  double mn, mx;
  image_range(&im, row, &mn, &mx);
  double lo = range ? range[0] : mn, hi = range ? range[1] : mx;
  int reps = im.w <= 80 ? 2 : 1;
  LuBuf b;
  lu_buf_init(&b);
  lu_buf_printf(&b, "%s %s min %g max %g\n", lu_elem_name(im.elem),
                dims_text(t->ndim, t->dim), mn, mx);
  for (long i = 0; i < im.h; i++) {
    image_row(&im, i, row);
    for (long j = 0; j < im.w; j++) {
      const char *s = isnan(row[j]) ? "?" : shades[shade(row[j], lo, hi, 4)];
      for (int r = 0; r < reps; r++)
        lu_buf_puts(&b, s);
    }
    lu_buf_puts(&b, "\n");
    lu_poll();
  }
  fputs(b.s, stdout);
  fflush(stdout);
}

/* ---- JSON --------------------------------------------------------------- */

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
  if (*slot && memcmp(&(*slot)->num, &x, sizeof x) == 0)
    return *slot;
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
LuValue *lu_io_json_parse(const char *text, size_t len, const char *name) {
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

/* ---- Builtins ----------------------------------------------------------- */

/* Optional LO HI at argv[i] and argv[i+1]: both or neither. Returns range
   filled in, or NULL when absent. */
static const double *arg_range(LuValue **argv, int argc, int i, double *range) {
  bool lo = lu_arg_given(argv, argc, i), hi = lu_arg_given(argv, argc, i + 1);
  if (!lo && !hi)
    return NULL;
  if (!lo || !hi)
    lu_error("%s: give both LO and HI, or neither", lu_caller());
  range[0] = lu_arg_num(argv, i);
  range[1] = lu_arg_num(argv, i + 1);
  return range;
}

LU_DEFUN(load_matrix, "(load-matrix FILE)",
         "Reads a tensor from FILE: IDX (the MNIST format: magic 00 00 TYPE "
         "NDIM, big-endian dims and data; types ubyte, signed byte, short, "
         "int, float, double; signed bytes and shorts load as int), or a "
         "classic Lush binary matrix file. Gzip-compressed when FILE ends "
         "in .gz. A malformed file is an error naming what is wrong.") {
  (void)argc;
  return lu_tensor_value(lu_io_load_matrix(lu_arg_str(argv, 0)));
}

LU_DEFUN(save_matrix, "(save-matrix M FILE)",
         "Writes tensor M to FILE as IDX (float, double, int or ubyte), "
         "gzip-compressed when FILE ends in .gz. Atomic: the data goes to a "
         "temporary file in the same folder, renamed over FILE when "
         "complete; a failed save leaves no file behind. Returns FILE.") {
  (void)argc;
  lu_io_save_matrix(lu_arg_tensor(argv, 0), lu_arg_str(argv, 1));
  return argv[1];
}

LU_DEFUN(save_png, "(save-png M FILE [LO HI])",
         "Writes the 2-D (or 1-D) tensor M to FILE as an 8-bit grayscale PNG, "
         "values scaled from [LO, HI] (default: M's min and max) to black.."
         "white and clipped; LO > HI inverts. Atomic like save-matrix. "
         "Returns FILE.") {
  double range[2];
  lu_io_save_png(lu_arg_tensor(argv, 0), lu_arg_str(argv, 1),
                 arg_range(argv, argc, 2, range));
  return argv[1];
}

LU_DEFUN(save_png_grid, "(save-png-grid IMAGES FILE COLS [LO HI])",
         "Writes many images to FILE as one grayscale PNG, tiled in COLS "
         "columns with a 1-pixel mid-gray border. IMAGES is a list of 2-D "
         "tensors, or a tensor whose last two dims are the images (a 3-D "
         "stack of digits, or 4-D filters shown one row per output map "
         "when COLS is the second dim). Each image is scaled by [LO, HI], or "
         "by its own min and max. Returns FILE.") {
  double range[2];
  long cols = lu_arg_int(argv, 2);
  if (cols < 1)
    lu_arg_error(2, "a positive column count", argv[2]);
  save_grid(argv[0], lu_arg_str(argv, 1), cols,
            arg_range(argv, argc, 3, range));
  return argv[1];
}

LU_DEFUN(idx_show, "(idx-show M [LO HI])",
         "Draws the 2-D (or 1-D) tensor M in the terminal with shade blocks, "
         "under a header giving its type, shape, min and max. Values are "
         "scaled from [LO, HI] (default: M's min and max); NaN shows as ?.") {
  double range[2];
  show(lu_arg_tensor(argv, 0), arg_range(argv, argc, 1, range));
  return lu_nil;
}

LU_DEFUN(json_read, "(json-read FILE)",
         "Reads the JSON file FILE (gzip when it ends in .gz): objects become "
         "hash tables with string keys, arrays lists, numbers numbers, "
         "strings strings, true t, false and null (). Malformed JSON is an "
         "error giving FILE:LINE:COL.") {
  (void)argc;
  const char *path = lu_arg_str(argv, 0);
  size_t len;
  const char *text = (const char *)read_all("json-read", path, &len);
  return lu_io_json_parse(text, len, path);
}

static LuBuiltin *const io_builtins[] = {&load_matrix_builtin,
                                         &save_matrix_builtin,
                                         &save_png_builtin,
                                         &save_png_grid_builtin,
                                         &idx_show_builtin,
                                         &json_read_builtin,
                                         NULL};

void lu_io_open(void) {
  lu_register(io_builtins);
}
