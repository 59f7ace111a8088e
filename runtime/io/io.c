/* io.c: streams and saves, shared by every file format. Owns reading whole
   files (plain or gzip), the one atomic save (temporary file, fsync,
   rename) that every writer uses, and write-file. Every failure is a Lisp
   error naming the file; files are always closed and temporary files
   removed before the error propagates. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool lu_io_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

const char *lu_io_dims_text(int ndim, const long *dim) {
  LuBuf b;
  lu_buf_init(&b);
  if (ndim == 0)
    lu_buf_puts(&b, "scalar");
  for (int i = 0; i < ndim; i++)
    lu_buf_printf(&b, i ? "x%ld" : "%ld", dim[i]);
  return b.s;
}

/* ---- Reading files ---------------------------------------------------- */

/* Raises for the last failure on s's stream; zlib's messages lose the
   "<fd:N>: " it puts in front. */
static noreturn void source_fail(LuSource *s) {
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
size_t lu_io_read(LuSource *s, void *out, size_t n) {
  unsigned char *dst = out;
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
static const char *source_open(LuSource *s, int fd) {
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
  s->exact = S_ISREG(st.st_mode) && !lu_io_ends_with(s->path, ".gz");
  if (!lu_io_ends_with(s->path, ".gz")) {
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

typedef struct {
  LuSource *source;
  LuReadBody body;
  void *ud;
} ReadJob;

static void read_job(void *ud) {
  ReadJob *job = ud;
  job->body(job->source, job->ud);
}

/* Opens path and runs body(source, ud) on it under lu_pcall; the file is
   closed whatever happens, then body's error (or "WHO: PATH: reason" for
   a file that cannot be opened) propagates. */
void lu_io_with_source(const char *who, const char *path, LuReadBody body,
                       void *ud) {
  LuSource s = {who, path, NULL, NULL, false, 0, 0};
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

/* LuReadBody: the whole content. The buffer starts at the expected size;
   once it is full, a small probe tells the end from more data, so an
   exact estimate costs no second allocation. */
static void slurp(LuSource *s, void *ud) {
  Bytes *b = ud;
  size_t cap = s->size + 1 > 65536 ? s->size + 1 : 65536;
  b->buf = lu_alloc_atomic(cap, s->who);
  b->len = lu_io_read(s, b->buf, cap - 1);
  for (;;) {
    unsigned char probe[4096];
    size_t got = b->len < cap - 1 ? 0 : lu_io_read(s, probe, sizeof probe);
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
        got + lu_io_read(s, b->buf + b->len + got, cap - 1 - b->len - got);
  }
  b->buf[b->len] = 0;
}

/* Returns the whole content of path (decompressed when it ends in .gz) in
   GC memory with a 0 byte after the last one; *len gets the size. Raises
   "WHO: PATH: reason" on any failure. */
unsigned char *lu_io_read_all(const char *who, const char *path, size_t *len) {
  Bytes b = {NULL, 0};
  lu_io_with_source(who, path, slurp, &b);
  *len = b.len;
  return b.buf;
}

/* ---- Atomic saves ----------------------------------------------------- */

/* Writes n bytes to s; false on failure (then lu_io_sink_why tells why). */
bool lu_io_sink_put(LuSink *s, const void *p, size_t n) {
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

const char *lu_io_sink_why(LuSink *s) {
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
void lu_io_sink_write(LuSink *s, const void *p, size_t n) {
  if (!lu_io_sink_put(s, p, n))
    lu_error("%s: %s: write failed: %s", s->who, s->path, lu_io_sink_why(s));
}

typedef struct {
  LuSink *sink;
  LuWriteBody body;
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
static bool sink_open(LuSink *s, int fd, bool gz) {
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
static const char *sink_close(LuSink *s) {
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
void lu_io_save(const char *who, const char *path, bool gz, LuWriteBody body,
                void *ud) {
  char *tmp = temp_name(who, path);
  int fd = mkstemp(tmp);
  if (fd < 0)
    lu_error("%s: %s: cannot create a temporary file: %s", who, path,
             strerror(errno));
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  LuSink sink = {NULL, NULL, who, path};
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

static void text_body(LuSink *s, void *ud) {
  const LuValue *str = ud;
  lu_io_sink_write(s, str->str.s, str->str.len);
}

LU_DEFUN(write_file, "(write-file FILE STR)",
         "Replaces the contents of FILE with the string STR, atomically (a "
         "crash leaves the old file or the new one, never part of one). "
         "Returns STR.") {
  LuValue *s = lu_arg_type(argv, 1, LU_STRING);
  lu_io_save("write-file", lu_arg_str(argv, 0), false, text_body, s);
  return argv[1];
}

static LuBuiltin *const io_builtins[] = {&write_file_builtin, NULL};

void lu_io_open(void) {
  lu_register(io_builtins);
}
