/* system.c: printing (print, prin, pretty), reading a form from a string,
   whole-file and line I/O, ports (a C-backed "port" type over a FILE), and
   the process interface: getenv, sys, exit, clock, date, sleep. File errors
   raise "NAME: FILE: reason". (write-file, an atomic save, lives with the
   other saves in the runtime's io.) */
#include "interp.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

noreturn static void file_error(const char *path) {
  lu_error("%s: %s: %s", lu_caller(), path, strerror(errno));
}

static LuValue *print_args(LuValue **argv, int argc, bool readably,
                           const char *sep, const char *end) {
  LuBuf b;
  lu_buf_init(&b);
  for (int i = 0; i < argc; i++) {
    if (i > 0)
      lu_buf_puts(&b, sep);
    lu_print_to(&b, argv[i], readably);
  }
  lu_buf_puts(&b, end);
  fwrite(b.s, 1, b.len, stdout);
  return argc > 0 ? argv[argc - 1] : lu_nil;
}

/* ---- Printing -------------------------------------------------------- */

LU_DEFUN(print, "(print X...)",
         "Writes the X... readably (strings in quotes) to standard output, "
         "separated by spaces, then a newline. Returns the last X, or ().") {
  return print_args(argv, argc, true, " ", "\n");
}

LU_DEFUN(prin, "(prin X...)",
         "Writes the X... raw (strings without quotes) to standard output, "
         "with no separator and no newline: (prin \"x=\" 3 \"\\n\"). "
         "Returns the last X, or ().") {
  return print_args(argv, argc, false, "", "");
}

#define PRETTY_WIDTH 79

/* Subtracts from *budget the printed width of v, stopping early once it is
   negative: so a huge value costs only the width to measure. */
static void measure(LuValue *v, long *budget) {
  if (!LU_IS(v, LU_CONS)) {
    *budget -= (long)strlen(lu_repr(v, true));
    return;
  }
  *budget -= 1;
  for (; LU_IS(v, LU_CONS) && *budget >= 0; v = LU_CDR(v)) {
    measure(LU_CAR(v), budget);
    *budget -= 1; /* a space or the closing paren */
  }
  if (!LU_ISNIL(v) && *budget >= 0) {
    *budget -= 3; /* " . " */
    measure(v, budget);
  }
}

static bool fits(LuValue *v, long width) {
  measure(v, &width);
  return width >= 0;
}

static void newline(LuBuf *b, int indent) {
  lu_buf_puts(b, "\n");
  for (int i = 0; i < indent; i++)
    lu_buf_puts(b, " ");
}

static bool all_atoms(LuValue *l) {
  for (; LU_IS(l, LU_CONS); l = LU_CDR(l))
    if (LU_IS(LU_CAR(l), LU_CONS))
      return false;
  return LU_ISNIL(l);
}

/* Appends v pretty-printed with its first line starting at column col:
   a value that fits in the width prints flat; a list of atoms fills lines;
   a list headed by a symbol keeps the symbol and its first argument on the
   first line and puts each further element on its own line, indented by
   2 ((let ((x 1)) / body...)); any other list puts each element on its own
   line, aligned. A circular list prints flat, its loop once, as print
   shows it: laid out, it would never end. */
static void pretty_to(LuBuf *b, LuValue *v, int col) {
  lu_check_stack();
  lu_poll();
  if (!LU_IS(v, LU_CONS) || fits(v, PRETTY_WIDTH - col) || lu_circular(v)) {
    lu_print_to(b, v, true);
    return;
  }
  LuValue *head = LU_CAR(v), *rest = LU_CDR(v);
  if (head == lu_s_quote && LU_IS(rest, LU_CONS) && LU_ISNIL(LU_CDR(rest))) {
    lu_buf_puts(b, "'");
    pretty_to(b, LU_CAR(rest), col + 1);
    return;
  }
  lu_buf_puts(b, "(");
  if (all_atoms(v)) {
    int x = col + 1;
    for (bool first = true; LU_IS(v, LU_CONS); v = LU_CDR(v), first = false) {
      const char *s = lu_repr(LU_CAR(v), true);
      int n = (int)strlen(s);
      if (!first && x + 1 + n > PRETTY_WIDTH) {
        newline(b, col + 1);
        x = col + 1;
      } else if (!first) {
        lu_buf_puts(b, " ");
        x++;
      }
      lu_buf_puts(b, s);
      x += n;
    }
    lu_buf_puts(b, ")");
    return;
  }
  int inner = col + 1;
  if (LU_IS(head, LU_SYMBOL) && LU_IS(rest, LU_CONS)) {
    lu_buf_puts(b, head->sym.name);
    lu_buf_puts(b, " ");
    pretty_to(b, LU_CAR(rest), col + 2 + (int)strlen(head->sym.name));
    rest = LU_CDR(rest);
    inner = col + 2;
  } else {
    pretty_to(b, head, inner);
  }
  for (; LU_IS(rest, LU_CONS); rest = LU_CDR(rest)) {
    newline(b, inner);
    pretty_to(b, LU_CAR(rest), inner);
  }
  if (!LU_ISNIL(rest)) {
    newline(b, inner);
    lu_buf_puts(b, ". ");
    pretty_to(b, rest, inner + 2);
  }
  lu_buf_puts(b, ")");
}

LU_DEFUN(pretty, "(pretty X)",
         "Writes X readably to standard output over as many lines as it "
         "needs to fit 79 columns, lists indented, then a newline; a "
         "function or macro shows its definition, (de NAME ...) or (dm NAME "
         "...). Returns ().") {
  LuBuf b;
  lu_buf_init(&b);
  LuValue *x = argv[0];
  if (LU_IS(x, LU_CLOSURE) || LU_IS(x, LU_MACRO))
    x = lu_fn_source(x); /* as in Lush: a function shows its source */
  pretty_to(&b, x, 0);
  lu_buf_puts(&b, "\n");
  fwrite(b.s, 1, b.len, stdout);
  return lu_nil;
}

LU_DEFUN(read_, "(read STR)",
         "Returns the first form written in the string STR, unevaluated: "
         "(read \"(a 1)\") is (a 1). Raises when STR holds no form or an "
         "unfinished one.") {
  LuValue *s = lu_arg_type(argv, 0, LU_STRING);
  LuReader r;
  lu_reader_init(&r, s->str.s, s->str.len, "<string>");
  LuValue *form;
  switch (lu_read(&r, &form)) {
  case LU_READ_OK:
    return form;
  case LU_READ_EOF:
    lu_error("read: the string holds no form");
  case LU_READ_INCOMPLETE:
    break;
  }
  lu_error("read: the string ends inside a form");
}

/* ---- Whole files ----------------------------------------------------- */

LuValue *lu_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    file_error(path);
  LuBuf b;
  lu_buf_init(&b);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    lu_buf_add(&b, chunk, n);
  int failed = ferror(f) ? errno : 0;
  fclose(f);
  if (failed) {
    errno = failed;
    file_error(path);
  }
  return lu_string(b.s, b.len);
}

LU_DEFUN(read_file, "(read-file FILE)",
         "Returns the whole contents of FILE as a string.") {
  return lu_read_file(lu_arg_str(argv, 0));
}

LU_DEFUN(read_lines, "(read-lines FILE)",
         "Returns the lines of FILE as a list of strings, without their "
         "line ends (\\n or \\r\\n); a final line end adds no empty line.") {
  LuValue *text = lu_read_file(lu_arg_str(argv, 0));
  const char *s = text->str.s, *end = s + text->str.len;
  LuValue *acc = lu_nil;
  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *stop = nl ? nl : end;
    size_t n = (size_t)(stop - s);
    if (nl && n > 0 && s[n - 1] == '\r')
      n--;
    acc = lu_cons(lu_string(s, n), acc);
    s = nl ? nl + 1 : end;
  }
  return lu_nreverse(acc);
}

LU_DEFUN(append_file, "(append-file FILE STR)",
         "Appends the string STR to FILE, creating it if needed. Returns "
         "STR.") {
  const char *path = lu_arg_str(argv, 0);
  LuValue *s = lu_arg_type(argv, 1, LU_STRING);
  FILE *f = fopen(path, "ab");
  if (!f)
    file_error(path);
  bool ok = fwrite(s->str.s, 1, s->str.len, f) == s->str.len;
  int saved = errno;
  if (fclose(f) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    errno = saved;
    file_error(path);
  }
  return argv[1];
}

LU_DEFUN(file_exists, "(file-exists FILE)",
         "Returns t when FILE exists (a file or a directory), else ().") {
  struct stat st;
  return LU_BOOL(stat(lu_arg_str(argv, 0), &st) == 0);
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

LU_DEFUN(mkdir_p, "(mkdir-p DIR)",
         "Creates the directory DIR and any missing parents, as mkdir -p. "
         "Returns DIR.") {
  const char *dir = lu_arg_str(argv, 0);
  size_t n = strlen(dir);
  char *p = lu_alloc_atomic(n + 1, "mkdir-p");
  memcpy(p, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != '\0')
      continue;
    char c = p[i];
    p[i] = '\0';
    if (mkdir(p, 0777) != 0 && !(errno == EEXIST && is_dir(p))) {
      if (errno == EEXIST)
        lu_error("mkdir-p: %s exists and is not a directory", p);
      file_error(p);
    }
    p[i] = c;
  }
  return argv[0];
}

LU_DEFUN(rename_file, "(rename-file FROM TO)",
         "Renames FROM to TO (atomically, within one file system), replacing "
         "TO if it exists. Returns TO.") {
  const char *from = lu_arg_str(argv, 0), *to = lu_arg_str(argv, 1);
  if (rename(from, to) != 0)
    lu_error("rename-file: cannot rename %s to %s: %s", from, to,
             strerror(errno));
  return argv[1];
}

LU_DEFUN(delete_file, "(delete-file FILE)",
         "Deletes FILE (not a directory). Returns t, or () when it did not "
         "exist.") {
  const char *path = lu_arg_str(argv, 0);
  if (unlink(path) == 0)
    return lu_t;
  if (errno == ENOENT)
    return lu_nil;
  file_error(path);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

LU_DEFUN(delete_directory, "(delete-directory DIR)",
         "Deletes DIR and everything in it, as rm -r (symbolic links are "
         "removed, not followed). Returns t, or () when it did not exist.") {
  const char *dir = lu_arg_str(argv, 0);
  struct stat st;
  if (lstat(dir, &st) != 0) {
    if (errno == ENOENT)
      return lu_nil;
    file_error(dir);
  }
  if (!S_ISDIR(st.st_mode))
    lu_error("delete-directory: %s is not a directory", dir);
  if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    file_error(dir);
  return lu_t;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

LU_DEFUN(directory_files, "(directory-files DIR)",
         "Returns the names of the entries of directory DIR (without . and "
         "..), sorted.") {
  const char *path = lu_arg_str(argv, 0);
  DIR *d = opendir(path);
  if (!d)
    file_error(path);
  size_t n = 0, cap = 64;
  char **names = lu_alloc(cap * sizeof *names);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (n == cap) {
      char **more = lu_alloc(2 * cap * sizeof *names);
      memcpy(more, names, cap * sizeof *names);
      names = more;
      cap *= 2;
    }
    size_t len = strlen(e->d_name);
    names[n] = lu_alloc_atomic(len + 1, "directory-files");
    memcpy(names[n++], e->d_name, len + 1);
  }
  closedir(d);
  qsort(names, n, sizeof *names, compare_names);
  LuValue *l = lu_nil;
  while (n > 0)
    l = lu_cons(lu_cstring(names[--n]), l);
  return l;
}

/* ---- Ports ----------------------------------------------------------- */

/* An open file for line I/O. fp is NULL once closed; the GC finalizer
   closes a port that was dropped while open (a safety net, not the
   contract: close ports explicitly). */
typedef struct {
  FILE *fp;
  const char *name;
  const char *mode;
} Port;

static void port_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  Port *p = v->cdata.ptr;
  lu_buf_printf(b, "#<port %s %s%s>", p->mode, p->name, p->fp ? "" : " closed");
}

static const LuCType port_ctype = {"port", port_print, NULL, NULL};

static void port_finalize(void *obj, void *ud) {
  (void)ud;
  Port *p = obj;
  if (p->fp)
    fclose(p->fp);
}

/* Opens argument 0 with fopen's mode. When the process is out of file
   descriptors, collects garbage first so the finalizers of dropped ports
   give theirs back, and tries again. */
static LuValue *open_port(LuValue **argv, const char *mode) {
  const char *path = lu_arg_str(argv, 0);
  FILE *f = fopen(path, mode);
  if (!f && (errno == EMFILE || errno == ENFILE)) {
    GC_gcollect();
    GC_invoke_finalizers();
    f = fopen(path, mode);
  }
  if (!f)
    file_error(path);
  Port *p = lu_alloc(sizeof *p);
  p->fp = f;
  size_t n = strlen(path);
  char *name = lu_alloc_atomic(n + 1, "port");
  memcpy(name, path, n + 1);
  p->name = name;
  p->mode = mode[0] == 'r' ? "read" : mode[0] == 'w' ? "write" : "append";
  GC_REGISTER_FINALIZER(p, port_finalize, NULL, NULL, NULL);
  return lu_cdata(&port_ctype, p);
}

/* Argument i as an open port. */
static Port *arg_open_port(LuValue **argv, int i) {
  Port *p = lu_arg_cdata(argv, i, &port_ctype);
  if (!p->fp)
    lu_error("%s: port %s is closed", lu_caller(), p->name);
  return p;
}

LU_DEFUN(open_read, "(open-read FILE)",
         "Opens FILE for reading; returns a port for read-line and close.") {
  return open_port(argv, "rb");
}

LU_DEFUN(open_write, "(open-write FILE)",
         "Creates or empties FILE and opens it for writing; returns a port "
         "for write-string and close.") {
  return open_port(argv, "wb");
}

LU_DEFUN(open_append, "(open-append FILE)",
         "Opens FILE for writing at its end, creating it if needed; returns "
         "a port for write-string and close.") {
  return open_port(argv, "ab");
}

LU_DEFUN(read_line, "(read-line [PORT])",
         "Returns the next line of PORT (default: standard input) without "
         "its line end (\\n or \\r\\n), or () at the end of the file.") {
  Port *p = argc > 0 ? arg_open_port(argv, 0) : NULL;
  FILE *f = p ? p->fp : stdin;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  /* A signal (Ctrl-C) interrupts a read from a terminal or a pipe: break
     if it was Ctrl-C, else read on. */
  for (;;) {
    errno = 0;
    n = getline(&line, &cap, f);
    if (n >= 0 || !ferror(f))
      break;
    int saved = errno;
    clearerr(f);
    if (saved != EINTR || lu_interrupted) {
      free(line);
      lu_poll();
      errno = saved;
      file_error(p ? p->name : "<stdin>");
    }
  }
  if (n < 0) {
    free(line);
    return lu_nil;
  }
  if (n > 0 && line[n - 1] == '\n')
    n--;
  if (n > 0 && line[n - 1] == '\r')
    n--;
  LuValue *s = lu_string(line, (size_t)n);
  free(line);
  return s;
}

LU_DEFUN(write_string, "(write-string PORT STR)",
         "Writes the string STR to PORT, raw. Returns STR.") {
  Port *p = arg_open_port(argv, 0);
  LuValue *s = lu_arg_type(argv, 1, LU_STRING);
  if (fwrite(s->str.s, 1, s->str.len, p->fp) != s->str.len)
    file_error(p->name);
  return argv[1];
}

LU_DEFUN(flush, "(flush [PORT])",
         "Sends what was written to PORT (default: standard output) to its "
         "file now. Returns ().") {
  Port *p = argc > 0 ? arg_open_port(argv, 0) : NULL;
  if (fflush(p ? p->fp : stdout) != 0)
    file_error(p ? p->name : "<stdout>");
  return lu_nil;
}

LU_DEFUN(close_, "(close PORT)",
         "Closes PORT; closing it again does nothing. Raises when buffered "
         "output cannot be written. Returns ().") {
  Port *p = lu_arg_cdata(argv, 0, &port_ctype);
  if (!p->fp)
    return lu_nil;
  FILE *f = p->fp;
  p->fp = NULL;
  if (fclose(f) != 0)
    file_error(p->name);
  return lu_nil;
}

/* ---- Process --------------------------------------------------------- */

LU_DEFUN(isatty_, "(isatty [FD])",
         "t when file descriptor FD (default 1, standard output) is a "
         "terminal.") {
  return LU_BOOL(isatty(argc > 0 ? (int)lu_arg_int(argv, 0) : 1));
}

LU_DEFUN(getenv_, "(getenv NAME)",
         "Returns the value of the environment variable NAME as a string, "
         "or () when it is not set.") {
  const char *v = getenv(lu_arg_str(argv, 0));
  return v ? lu_cstring(v) : lu_nil;
}

LU_DEFUN(sys, "(sys CMD)",
         "Runs the shell command CMD (after flushing standard output) and "
         "returns its exit status; 128+N when signal N killed it. Ctrl-C in "
         "the command also interrupts the Lisp program.") {
  const char *cmd = lu_arg_str(argv, 0);
  fflush(NULL);
  int status = system(cmd);
  if (status < 0)
    lu_error("sys: cannot run a shell: %s", strerror(errno));
  if (WIFSIGNALED(status)) {
    if (WTERMSIG(status) == SIGINT)
      lu_break();
    return lu_number(128 + WTERMSIG(status));
  }
  return lu_number(WEXITSTATUS(status));
}

LU_DEFUN(exit_, "(exit [N])",
         "Flushes standard output and ends lush89 with exit status N "
         "(default 0, from 0 to 255).") {
  long n = argc > 0 ? lu_arg_int(argv, 0) : 0;
  if (n < 0 || n > 255)
    lu_arg_error(0, "exit status from 0 to 255", argv[0]);
  fflush(NULL);
  exit((int)n);
}

LU_DEFUN(clock_, "(clock)",
         "Returns the seconds elapsed since an arbitrary fixed moment, from "
         "a monotonic clock: subtract two readings to time something.") {
  (void)argv;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return lu_number((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
}

LU_DEFUN(date, "(date)",
         "Returns the local date and time as a string \"YYYY-MM-DD "
         "HH:MM:SS\".") {
  (void)argv;
  time_t now = time(NULL);
  struct tm tm;
  char s[64];
  localtime_r(&now, &tm);
  strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S", &tm);
  return lu_cstring(s);
}

LU_DEFUN(sleep_, "(sleep SECONDS)",
         "Waits SECONDS (a number, fractions allowed); Ctrl-C interrupts "
         "it. Returns ().") {
  double s = lu_arg_num(argv, 0);
  if (!(s >= 0 && s < 1e9))
    lu_arg_error(0, "number of seconds from 0 to 1e9", argv[0]);
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    lu_poll();
  return lu_nil;
}

static LuBuiltin *const system_builtins[] = {&print_builtin,
                                             &prin_builtin,
                                             &pretty_builtin,
                                             &read__builtin,
                                             &read_file_builtin,
                                             &read_lines_builtin,
                                             &append_file_builtin,
                                             &file_exists_builtin,
                                             &mkdir_p_builtin,
                                             &rename_file_builtin,
                                             &delete_file_builtin,
                                             &delete_directory_builtin,
                                             &directory_files_builtin,
                                             &open_read_builtin,
                                             &open_write_builtin,
                                             &open_append_builtin,
                                             &read_line_builtin,
                                             &write_string_builtin,
                                             &flush_builtin,
                                             &close__builtin,
                                             &getenv__builtin,
                                             &isatty__builtin,
                                             &sys_builtin,
                                             &exit__builtin,
                                             &clock__builtin,
                                             &date_builtin,
                                             &sleep__builtin,
                                             NULL};

void lu_system_open(void) {
  lu_register(system_builtins);
}
