/* fuzz_read.c: libFuzzer on the reader, the printer and the evaluator:
   any bytes, NUL included, read as forms and evaluated in one session
   must give values or Lisp errors, and each form read must print as text
   that reads back equal. A crash, a sanitizer report, a form that does
   not read back, or an input that Ctrl-C could not stop is a finding. Every
   input gets 50 ms of CPU time, after which it is interrupted as by Ctrl-C, so
   that (while t ()) is a Break, not a hang. Builtins that reach outside the
   process (files, the shell, stdin, exit) are unbound, and the heap is bounded,
   so that fuzzed code can neither harm the machine nor exhaust it. */
#include <fcntl.h>
#include <gc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "init.h"
#include "interp.h"

#define CPU_SECONDS 0.05

static const char *const unbound[] = {
    "exit",
    "sys",
    "sleep",
    "read-line",
    "read-lines",
    "read-file",
    "open-read",
    "open-write",
    "open-append",
    "write-file",
    "append-file",
    "delete-file",
    "delete-directory",
    "rename-file",
    "mkdir-p",
    "directory-files",
    "load",
    "libload",
    "load-matrix",
    "save-matrix",
    "save-png",
    "save-png-grid",
    "json-read",
    "nn-save",
    "nn-load",
    "nn-export",
    "nn-import",
    "getenv",
};

static void on_cpu_time(int sig) {
  (void)sig;
  lu_interrupted = 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  char base;
  GC_INIT();
  GC_set_max_heap_size(GC_get_heap_size() + (512u << 20));
  lu_error_init(&base);
  lu_init_in_tree();
  for (size_t i = 0; i < sizeof unbound / sizeof *unbound; i++)
    lu_intern(unbound[i])->sym.value = NULL;
  int null = open("/dev/null", O_WRONLY);
  dup2(null, 1); /* what fuzzed code prints */
  struct sigaction sa = {0};
  sa.sa_handler = on_cpu_time;
  sigaction(SIGVTALRM, &sa, NULL);
  return 0;
}

typedef struct {
  const char *text;
  size_t len;
} Job;

typedef struct {
  LuValue *form;
  const char *text; /* form printed */
  bool same;        /* read back equal */
} Trip;

static void print_read(void *ud) {
  Trip *t = ud;
  t->text = lu_repr(t->form, true);
  LuReader r;
  lu_reader_init(&r, t->text, strlen(t->text), "printed");
  LuValue *back = NULL;
  t->same = lu_read(&r, &back) == LU_READ_OK && lu_equal(t->form, back);
}

/* A form the reader made prints as text that reads back equal. An error
   on the way (a form nested too deep to print, a Break) proves nothing;
   a syntax error in the printed text, or another form, is a finding. The
   one exception: text that starts with #! (a symbol so named) reads as a
   script's first line, which the reader skips. */
static void round_trip(LuValue *form) {
  Trip t = {form, NULL, false};
  LuValue *err;
  bool ok = lu_pcall(print_read, &t, &err);
  if (ok ? t.same || strncmp(t.text, "#!", 2) == 0
         : !t.text || err->err->is_break ||
               !strstr(err->err->message->str.s, "syntax error"))
    return;
  fprintf(stderr, "printed form does not read back: %s\n", t.text);
  abort();
}

static void read_eval(void *ud) {
  Job *j = ud;
  LuReader r;
  lu_reader_init(&r, j->text, j->len, "fuzz");
  LuValue *form;
  while (lu_read(&r, &form) == LU_READ_OK) {
    round_trip(form);
    lu_eval_toplevel(form, &r.start);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    abort();
  memcpy(text, data, size);
  text[size] = 0;
  Job j = {text, size};
  struct itimerval t = {{0, 0}, {0, (long)(CPU_SECONDS * 1e6)}};
  setitimer(ITIMER_VIRTUAL, &t, NULL);
  LuValue *err;
  lu_pcall(read_eval, &j, &err);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_VIRTUAL, &off, NULL);
  lu_interrupted = 0;
  free(text);
  return 0;
}
