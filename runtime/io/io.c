/* io.c: streams and saves, shared by every file format. Owns reading whole
   files (plain or gzip), the one atomic save (temporary file, fsync,
   rename) that every writer uses, and write-file. Every failure is a Lisp
   error naming the file; files are always closed and temporary files
   removed before the error propagates. */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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

/* LuReadBody: the whole content. The buffer starts at the expected size
   (for gzip, the trailer's claim, believed up to 16 MB: the memory used
   follows the data really inflated, not what a forged trailer says); once
   it is full, a small probe tells the end from more data, so an exact
   estimate costs no second allocation. */
static void slurp(LuSource *s, void *ud) {
  Bytes *b = ud;
  size_t guess = s->exact || s->size < (16u << 20) ? s->size : (16u << 20);
  size_t cap = guess + 1 > 65536 ? guess + 1 : 65536;
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

/* Symbolic links a save follows, as many as the kernel does for a path. */
#define MAX_LINKS 40
/* In the name of every temporary file of a save, so that one left by a
   killed process is recognisable (and removed by the next save). */
#define TEMP_TAG ".lush89-tmp."

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

/* A copy of the first n bytes of s, in GC memory. */
static char *gc_strndup(const char *s, size_t n, const char *who) {
  char *p = lu_alloc_atomic(n + 1, who);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* The file a save to path writes: path itself, or the end of the chain of
   symbolic links that starts there (it need not exist: a dangling link
   gets its target created), so that links stay links. Raises on a loop. */
static char *save_target(const char *who, const char *path) {
  char *cur = gc_strndup(path, strlen(path), who);
  for (int hops = 0;; hops++) {
    struct stat st;
    if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
      return cur;
    if (hops == MAX_LINKS)
      lu_error("%s: %s: too many levels of symbolic links", who, path);
    char link[PATH_MAX];
    ssize_t n = readlink(cur, link, sizeof link);
    if (n < 0 || n == (ssize_t)sizeof link)
      lu_error("%s: %s: cannot read the symbolic link %s: %s", who, path, cur,
               n < 0 ? strerror(errno) : "too long");
    const char *slash = link[0] == '/' ? NULL : strrchr(cur, '/');
    size_t dirlen = slash ? (size_t)(slash - cur) + 1 : 0;
    char *next = lu_alloc_atomic(dirlen + (size_t)n + 1, who);
    memcpy(next, cur, dirlen);
    memcpy(next + dirlen, link, (size_t)n);
    next[dirlen + (size_t)n] = 0;
    cur = next;
  }
}

static const char *file_kind(mode_t m) {
  return S_ISDIR(m)    ? "a directory"
         : S_ISFIFO(m) ? "a FIFO"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISSOCK(m) ? "a socket"
                       : "a special file";
}

/* Where a save puts its temporary files: the target's folder ("" for the
   current one) and the prefix ".NAME.lush89-tmp." of their names (NAME cut
   so that the whole name stays under the 255-byte limit). */
typedef struct {
  char *dir, *prefix;
} TempPlace;

static TempPlace temp_place(const char *who, const char *target) {
  const char *slash = strrchr(target, '/');
  const char *base = slash ? slash + 1 : target;
  size_t baselen = strlen(base) < 200 ? strlen(base) : 200;
  TempPlace t = {gc_strndup(target, (size_t)(base - target), who), NULL};
  size_t n = baselen + sizeof TEMP_TAG + 1;
  t.prefix = lu_alloc_atomic(n, who);
  snprintf(t.prefix, n, ".%.*s" TEMP_TAG, (int)baselen, base);
  return t;
}

/* Removes the temporary files of earlier saves to the same target whose
   process is gone (killed mid-save), and any of this process: saves do
   not nest, so none of ours is in progress. Best effort. */
static void remove_stale(const TempPlace *t) {
  DIR *d = opendir(t->dir[0] ? t->dir : ".");
  if (!d)
    return;
  size_t k = strlen(t->prefix);
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, t->prefix, k) != 0)
      continue;
    char *end;
    long pid = strtol(e->d_name + k, &end, 10);
    if (end == e->d_name + k || *end != '.' || pid <= 0)
      continue;
    if (pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
      unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

/* Best effort: makes the rename itself durable. */
static void sync_dir(const char *dir) {
  int fd = open(dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* The mode and owner the saved file gets: those of the file it replaces,
   else 0666 & ~umask. Raises when target exists and is not a regular
   file: a save never replaces a folder, FIFO or device. */
static int prepare_mode(const char *who, const char *path, const char *target,
                        struct stat *st) {
  if (stat(target, st) != 0) {
    mode_t mask = umask(0);
    umask(mask);
    st->st_mode = S_IFREG | (0666 & ~mask);
    return 0;
  }
  if (!S_ISREG(st->st_mode))
    lu_error("%s: %s: is %s, not a regular file: not replaced", who, path,
             file_kind(st->st_mode));
  return 1;
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

/* Saves path atomically (see io.h): the content goes to a temporary file
   beside the target, which gets the old file's mode (and owner, where
   allowed), is synced and renamed over the target; then the folder is
   synced so that the rename survives a crash. */
void lu_io_save(const char *who, const char *path, bool gz, LuWriteBody body,
                void *ud) {
  char *target = save_target(who, path);
  struct stat st;
  int existed = prepare_mode(who, path, target, &st);
  TempPlace place = temp_place(who, target);
  remove_stale(&place);
  size_t n = strlen(place.dir) + strlen(place.prefix) + 32;
  char *tmp = lu_alloc_atomic(n, who);
  snprintf(tmp, n, "%s%s%ld.XXXXXX", place.dir, place.prefix, (long)getpid());
  int fd = mkstemp(tmp);
  if (fd < 0)
    lu_error("%s: %s: cannot create a temporary file: %s", who, path,
             strerror(errno));
  fchmod(fd, st.st_mode & 0777);
  if (existed && fchown(fd, st.st_uid, st.st_gid) != 0)
    fchown(fd, (uid_t)-1, st.st_gid); /* not allowed: keep the group at least */
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
  if (rename(tmp, target) != 0) {
    why = strerror(errno);
    unlink(tmp);
    lu_error("%s: %s: cannot rename the temporary file: %s", who, path, why);
  }
  sync_dir(place.dir);
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
