/* main.c: the command line. Starts the GC and the interpreter, then runs
   a script, an expression or the REPL. */
#include <gc.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "init.h"
#include "interp.h"

static const char usage[] =
    "usage: lush89                    REPL\n"
    "       lush89 FILE [ARG...]      run a script; argv is (\"FILE\" \"ARG\" "
    "...)\n"
    "       lush89 -e EXPR [ARG...]   evaluate the forms in EXPR\n"
    "       lush89 -p EXPR [ARG...]   evaluate EXPR and print its value\n"
    "       lush89 -i FILE [ARG...]   run FILE, then stay in the REPL\n"
    "       lush89 -q                 REPL without the banner\n"
    "       lush89 --help | --version\n";

/* lib/ beside the binary (a build tree), else ../share/lush89/lib (an
   installed one), else lib/ in the current folder. */
static void find_libdir(void) {
  static char exe[PATH_MAX], lib[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return;
  exe[n] = 0;
  const char *dir = dirname(exe);
  const char *tries[] = {"%s/lib", "%s/../share/lush89/lib"};
  for (int i = 0; i < 2; i++) {
    char prelude[PATH_MAX + 80];
    snprintf(lib, sizeof lib, tries[i], dir);
    snprintf(prelude, sizeof prelude, "%s/prelude.lsp", lib);
    if (access(prelude, R_OK) == 0) {
      lu_libdir = lib;
      return;
    }
  }
}

typedef struct {
  int mode; /* 'f' file, 'e' -e, 'p' -p, 'i' -i */
  const char *what;
} Run;

/* Errors outside any form (a missing file, printing -p's value) are
   located at the start of the file or expression. */
static void run(void *ud) {
  Run *r = ud;
  LuLoc start = {r->mode == 'e' || r->mode == 'p' ? "<expr>" : r->what, 1, 1};
  LuFrame f = {lu_frame, lu_cons_at(lu_nil, lu_nil, &start), NULL, NULL};
  lu_frame = &f;
  if (r->mode == 'e')
    lu_eval_string(r->what, "<expr>");
  else if (r->mode == 'p')
    printf("%s\n", lu_repr(lu_eval_string(r->what, "<expr>"), true));
  else
    lu_load_file(r->what);
  lu_frame = f.up;
  fflush(stdout);
}

/* argv: (FIRST REST...) */
static void set_argv(const char *first, char **rest, int n) {
  LuValue *l = lu_nil;
  for (int i = n; i-- > 0;)
    l = lu_cons(lu_cstring(rest[i]), l);
  lu_set_global("argv", first ? lu_cons(lu_cstring(first), l) : l);
}

int main(int argc, char **argv) {
  GC_INIT();
  GC_expand_hp(4u << 20); /* fewer collections while the heap is small */

  int stack_base;
  lu_error_init(&stack_base);
  lu_catch_sigint();
  find_libdir();
  LuValue *err;
  if (!lu_pcall(lu_init, NULL, &err)) {
    lu_report(err);
    return 1;
  }
  bool banner = true;
  Run r = {0, NULL};
  int i = 1;
  for (; i < argc && !r.mode; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    } else if (!strcmp(a, "--version")) {
      puts("lush89 0.1");
      return 0;
    } else if (!strcmp(a, "-q")) {
      banner = false;
    } else if (!strcmp(a, "-e") || !strcmp(a, "-p") || !strcmp(a, "-i")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "lush89: %s needs an argument\n%s", a, usage);
        return 2;
      }
      r.mode = a[1];
      r.what = argv[++i];
      /* like python -c: argv is ("-e" ARG...); -i FILE: ("FILE" ARG...) */
      set_argv(r.mode == 'i' ? r.what : a, argv + i + 1, argc - i - 1);
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "lush89: unknown option %s\n%s", a, usage);
      return 2;
    } else {
      r.mode = 'f';
      r.what = a;
      set_argv(a, argv + i + 1, argc - i - 1);
    }
  }
  if (!r.mode) {
    set_argv(NULL, NULL, 0);
    lu_repl(banner);
    return 0;
  }
  bool ok = lu_pcall(run, &r, &err);
  if (!ok)
    lu_report(err);
  if (r.mode == 'i') { /* as python -i: the REPL even after an error */
    lu_repl(false);
    return 0;
  }
  return ok ? 0 : 1;
}
