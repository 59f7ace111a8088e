/* repl.c: loading files and strings, and the REPL: GNU Readline on a
   terminal (history, Tab completion, Ctrl-C back to the prompt), plain
   form-by-form reading on a pipe. */
#include <errno.h>
#include <gc.h>
#include <limits.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interp.h"

const char *lu_libdir = "lib";
static const char *loading; /* the file being loaded, for relative loads */
static LuValue *loaded;     /* libload: real paths already loaded */

/* ---- loading ---- */

typedef struct {
  LuReader *r;
  LuValue *last;
} LoadCall;

LuValue *lu_eval_toplevel(LuValue *form, const LuLoc *at) {
  if (LU_IS(form, LU_CONS))
    return lu_eval(form, lu_nil);
  LuLoc *loc = lu_alloc(sizeof *loc);
  *loc = *at;
  LuFrame f = {lu_frame, lu_cons_at(form, lu_nil, loc), NULL, NULL};
  lu_frame = &f;
  LuValue *v = lu_eval(form, lu_nil);
  lu_frame = f.up;
  return v;
}

static void eval_all(void *ud) {
  LoadCall *c = ud;
  LuValue *form;
  LuReadStatus st;
  while ((st = lu_read(c->r, &form)) == LU_READ_OK)
    c->last = lu_eval_toplevel(form, &c->r->start);
  if (st == LU_READ_INCOMPLETE) { /* report it at the form's start */
    LuLoc *at = lu_alloc(sizeof *at);
    *at = (LuLoc){c->r->file, c->r->line, c->r->col};
    lu_error_at(at, "syntax error: unfinished form (a missing ')' or '\"')");
  }
}

LuValue *lu_eval_string(const char *src, const char *file) {
  LuReader r;
  lu_reader_init(&r, src, strlen(src), file);
  LoadCall c = {&r, lu_nil};
  const char *saved = loading;
  loading = r.file;
  LuValue *err;
  bool ok = lu_pcall(eval_all, &c, &err);
  loading = saved;
  if (!ok)
    lu_rethrow(err);
  return c.last;
}

LuValue *lu_load_file(const char *path) {
  LuValue *text = lu_read_file(path);
  if (strlen(text->str.s) != text->str.len)
    lu_error("load: %s is not a text file (it holds NUL bytes)", path);
  return lu_eval_string(text->str.s, path);
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Tries dir/name, adding .lsp when name has no extension. The file being
   loaded does not count: scripts/x.lsp can (libload "x") the library. */
static char *try_dir(const char *dir, size_t dirlen, const char *name) {
  const char *base = strrchr(name, '/');
  bool has_ext = strchr(base ? base : name, '.') != NULL;
  LuBuf b;
  lu_buf_init(&b);
  if (dirlen)
    lu_buf_printf(&b, "%.*s/", (int)dirlen, dir);
  lu_buf_printf(&b, "%s%s", name, has_ext ? "" : ".lsp");
  if (!is_file(b.s))
    return NULL;
  char self[PATH_MAX], found[PATH_MAX];
  if (loading && realpath(loading, self) && realpath(b.s, found) &&
      strcmp(self, found) == 0)
    return NULL;
  return b.s;
}

/* Beside the loading file, then LUSH89_PATH, then lib/. */
static char *find_file(const char *name) {
  if (name[0] == '/')
    return try_dir("", 0, name);
  const char *slash = loading ? strrchr(loading, '/') : NULL;
  char *p = slash ? try_dir(loading, (size_t)(slash - loading), name)
                  : try_dir("", 0, name);
  const char *path = getenv("LUSH89_PATH");
  while (!p && path && *path) {
    size_t n = strcspn(path, ":");
    p = n ? try_dir(path, n, name) : NULL;
    path += n + (path[n] == ':');
  }
  return p ? p : try_dir(lu_libdir, strlen(lu_libdir), name);
}

LuValue *lu_load_named(const char *name, bool once) {
  char *path = find_file(name);
  if (!path)
    lu_error("%s: cannot find %s (looked beside %s, in LUSH89_PATH and in %s)",
             lu_caller(), name, loading ? loading : "the current folder",
             lu_libdir);
  if (once) {
    char real[PATH_MAX];
    LuValue *key = lu_cstring(realpath(path, real) ? real : path);
    if (lu_hash_get(loaded, key))
      return lu_nil;
    lu_hash_set(loaded, key, lu_t);
  }
  return lu_load_file(path);
}

LU_DEFUN(load, "(load FILE)",
         "Loads FILE (.lsp added when missing), looking beside the loading "
         "file, then in LUSH89_PATH, then in lib/. Returns the last value.") {
  return lu_load_named(lu_arg_str(argv, 0), false);
}

LU_DEFUN(libload, "(libload FILE)",
         "Like load, but loads each file only once.") {
  return lu_load_named(lu_arg_str(argv, 0), true);
}

/* ---- the REPL ---- */

typedef struct {
  LuValue *form;
  const LuLoc *at;
} EvalPrint;

static void eval_print(void *ud) {
  EvalPrint *e = ud;
  LuValue *v = lu_eval_toplevel(e->form, e->at);
  fflush(stdout);
  printf("= %s\n", lu_repr(v, true));
  fflush(stdout);
}

/* Evaluates every complete form of text, whose first line is line;
   returns how many bytes it used: the rest is an unfinished form to
   complete with more input. An error drops the rest of the text. */
static size_t eval_text(const char *text, size_t len, int line) {
  LuReader r;
  lu_reader_init(&r, text, len, "<stdin>");
  r.line = line;
  for (;;) {
    LuValue *form, *err;
    LuReadStatus st;
    if (!lu_read_caught(&r, &form, &st, &err)) {
      lu_report(err);
      return len;
    }
    if (st != LU_READ_OK)
      return st == LU_READ_EOF ? len : r.pos;
    EvalPrint e = {form, &r.start};
    if (!lu_pcall(eval_print, &e, &err))
      lu_report(err);
  }
}

static LuBuf pending;        /* text read but not yet evaluated */
static int pending_line = 1; /* the line of stdin it starts on */
static bool eof;

/* How far the pending text goes, brackets, strings and comments counted.
   Each piece of input is scanned once, so a form of many lines is read
   once, when it may be complete, not again at every line. */
typedef struct {
  long depth;
  bool string, escape, comment;
  bool ready; /* a form may have ended since the reader last ran */
} Scan;
static Scan scan;

static void scan_text(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (scan.comment) {
      scan.comment = c != '\n';
      continue;
    }
    if (scan.string) {
      if (scan.escape)
        scan.escape = false;
      else if (c == '\\')
        scan.escape = true;
      else if (c == '"')
        scan.string = false;
      continue;
    }
    if (c == ';')
      scan.comment = true;
    else if (c == '"')
      scan.string = true;
    else if (c == '(' || c == '[')
      scan.depth++;
    else if (c == ')' || c == ']')
      scan.depth--;
    if (scan.depth <= 0 && !scan.string && !strchr(" \t\r\n\f;", c))
      scan.ready = true;
  }
}

/* Forgets the pending text: an error or Ctrl-C dropped it; its lines still
   count. */
static void drop_pending(size_t used) {
  for (size_t i = 0; i < used; i++)
    pending_line += pending.s[i] == '\n';
  LuBuf rest;
  lu_buf_init(&rest);
  lu_buf_add(&rest, pending.s + used, pending.len - used);
  pending = rest;
  scan = (Scan){0};
  scan_text(pending.s, pending.len);
  scan.ready = false; /* the reader has just found it unfinished */
}

/* Adds text to the pending input and evaluates the complete forms. */
static void feed(const char *text, size_t n) {
  lu_buf_add(&pending, text, n);
  scan_text(text, n);
  if (scan.ready)
    drop_pending(eval_text(pending.s, pending.len, pending_line));
}

/* At the end of input, an unfinished form is reported, not dropped
   silently. */
static void finish(void) {
  if (strspn(pending.s, " \t\r\n") == pending.len)
    return;
  LuValue *err;
  LuReader r;
  lu_reader_init(&r, pending.s, pending.len, "<stdin>");
  r.line = pending_line;
  LoadCall c = {&r, lu_nil};
  if (!lu_pcall(eval_all, &c, &err))
    lu_report(err);
  drop_pending(pending.len);
}

static char history_file[PATH_MAX];

static void on_line(char *line) {
  if (!line) {
    eof = true;
    return;
  }
  if (*line)
    add_history(line);
  rl_callback_handler_remove(); /* the terminal as the program expects */
  feed(line, strlen(line));
  feed("\n", 1);
  free(line);
  bool open = strspn(pending.s, " \t\r\n") < pending.len;
  rl_callback_handler_install(open ? "  " : "? ", on_line);
}

typedef struct {
  const char *prefix;
  size_t n;
  LuValue *found;
} Completion;

static void complete_one(LuValue *sym, void *ud) {
  Completion *c = ud;
  if (sym->sym.value && strncmp(sym->sym.name, c->prefix, c->n) == 0)
    c->found = lu_cons(sym, c->found);
}

static char *complete_next(const char *text, int state) {
  static LuValue *left;
  if (state == 0) {
    Completion c = {text, strlen(text), lu_nil};
    lu_symbols_each(complete_one, &c);
    left = c.found;
  }
  if (left == lu_nil)
    return NULL;
  const char *name = LU_CAR(left)->sym.name;
  left = LU_CDR(left);
  return strdup(name);
}

static char **complete(const char *text, int start, int end) {
  (void)start, (void)end;
  rl_attempted_completion_over = 1; /* names, not file names */
  return rl_completion_matches(text, complete_next);
}

static void save_history(void) {
  if (*history_file) {
    write_history(history_file);
    history_truncate_file(history_file, 2000);
  }
}

static void interactive(void) {
  const char *home = getenv("HOME");
  if (home) {
    snprintf(history_file, sizeof history_file, "%s/.lush89_history", home);
    read_history(history_file);
    atexit(save_history);
  }
  rl_readline_name = "lush89";
  rl_catch_signals = 0;
  rl_basic_word_break_characters = " \t\n()[]'`,\";";
  rl_attempted_completion_function = complete;
  rl_callback_handler_install("? ", on_line);
  while (!eof) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fileno(rl_instream), &fds);
    int r = select(fileno(rl_instream) + 1, &fds, NULL, NULL, NULL);
    if (r < 0 && errno == EINTR) {
      if (lu_interrupted) { /* Ctrl-C at the prompt: drop the input */
        lu_interrupted = 0;
        drop_pending(pending.len);
        rl_free_line_state();
        rl_callback_sigcleanup();
        rl_crlf();
        rl_callback_handler_install("? ", on_line);
      }
      continue;
    }
    if (r > 0)
      rl_callback_read_char();
  }
  rl_callback_handler_remove();
  printf("\n");
  finish();
}

/* Forms from a pipe: no prompt, values printed as on a terminal. */
static void piped(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) > 0)
    feed(line, (size_t)n);
  free(line);
  finish();
}

void lu_repl(bool banner) {
  lu_buf_init(&pending);
  if (banner && isatty(0))
    printf("lush89 0.1: Lisp with tensors and a backprop simulator. "
           "(help 'name), (apropos \"str\"), Ctrl-D quits.\n");
  if (isatty(0))
    interactive();
  else
    piped();
}

static LuBuiltin *const repl_builtins[] = {&load_builtin, &libload_builtin,
                                           NULL};

void lu_repl_open(void) {
  loaded = lu_hash_new();
  lu_register(repl_builtins);
}
