/* main.c: the command line. Starts the GC and the interpreter, then runs
   a script, an expression or the REPL. */
#define GC_THREADS /* pthread_create registers the thread with the GC */
#include <gc.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "init.h"
#include "interp.h"

/* The interpreter's stack is ulimit -s's size, kept from 8 MB to 64 MB
   (only touched pages are used); other threads get at least 8 MB. */
#define STACK_MIN (8u << 20)
#define STACK_MAX (64u << 20)
#define THREAD_STACK (8u << 20)

static size_t interp_stack(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur < STACK_MIN)
    return STACK_MIN;
  return rl.rlim_cur > STACK_MAX ? STACK_MAX : (size_t)rl.rlim_cur;
}

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

/* The command line, run on the interpreter's own thread. */
static int lush_main(int argc, char **argv) {
  int stack_base;
  lu_error_init(&stack_base);
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

typedef struct {
  int argc;
  char **argv;
  int status;
} Main;

static void *interp_thread(void *ud) {
  Main *m = ud;
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &sigint, NULL);
  m->status = lush_main(m->argc, m->argv);
  return NULL;
}

/* Threads that others start (the GC's markers, the net's workers) get at
   least THREAD_STACK, whatever ulimit -s says. */
static void default_thread_stack(void) {
  pthread_attr_t attr;
  size_t size = 0;
  if (pthread_getattr_default_np(&attr) != 0)
    return;
  pthread_attr_getstacksize(&attr, &size);
  if (size < THREAD_STACK) {
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    pthread_setattr_default_np(&attr);
  }
  pthread_attr_destroy(&attr);
}

/* The interpreter runs on a thread with a stack of its own, so that the
   depth it allows does not depend on ulimit -s (a 64 KB stack once
   crashed it at start-up). Ctrl-C goes to that thread: the main thread
   blocks SIGINT and only waits. */
int main(int argc, char **argv) {
  default_thread_stack();
  GC_INIT();
  GC_expand_hp(4u << 20); /* fewer collections while the heap is small */
  /* Past the process's limit the kernel would kill it: the GC fails the
     allocation instead (an "out of memory" error), leaving an eighth for
     stacks, libraries and malloc. */
  GC_set_max_heap_size(lu_memory_limit() / 8 * 7);
  lu_catch_sigint();
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigint, NULL);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, interp_stack());
  Main m = {argc, argv, 0};
  pthread_t th;
  if (pthread_create(&th, &attr, interp_thread, &m) != 0) {
    perror("lush89: cannot start the interpreter's thread");
    return 1;
  }
  pthread_join(th, NULL);
  return m.status;
}
