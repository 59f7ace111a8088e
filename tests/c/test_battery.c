/* test_battery.c: every builtin, found in the symbol table (a new one is
   covered without a change here), called with wrong and right arities and
   a set of bad values: (), t, numbers (nan, inf, -1, huge...), strings,
   symbols, circular, deep and long lists, tensors of odd shapes (0-size,
   0-d, 8-d, views), functions (one cutting the lists it gets), macros,
   hash tables, objects, errors, ports, net modules. Each call must return
   or raise a Lisp error: never a signal, never a hang. Each builtin runs
   in a child process of its own; each call has a time limit after which
   it is interrupted as by Ctrl-C (a Break is an answer), and a child that
   stops making progress is killed and reported as hanging. A failure
   names the call, to reproduce it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gc.h>
#include <sys/mman.h>
#include <sys/time.h>

#include "lutest.h"

/* The values, as Lisp source (which is also how a failure names them). */
static const char *const value_src[] = {
    "()",
    "t",
    "0",
    "1",
    "3",
    "-1",
    "0.5",
    "-0.0",
    "1e-320",
    "2147483648",
    "1e15",
    "-1e15",
    "1e300",
    "(- (* 1e308 10) (* 1e308 10))", /* nan */
    "(* 1e308 10)",                  /* inf */
    "(* -1e308 10)",                 /* -inf */
    "\"\"",
    "\"a\"",
    "\"%s%d%l%\"",
    "(sprintf \"%5000s\" \"x\")",
    "'foo",
    "'&rest",
    "'(1 2 3)",
    "'(1 . 2)",
    "'((a . 1) (b . 2))",
    "'((1 2) (3 4))",
    "'(\"a\" \"b\")",
    "(let ((l (list 1 2 3))) (rplacd (cddr l) l) l)",
    "(let ((l ())) (repeat 100000 (setq l (list l))) l)",
    "(range 100000)",
    "[1 2 3]",
    "[[1 2] [3 4]]",
    "(float-matrix)",
    "(float-matrix 0)",
    "(float-matrix 1 0 3)",
    "(int-matrix 2 3)",
    "(ubyte-matrix 3 1)",
    "(double-matrix 2 2 2)",
    "(matrix 1 1 1 1 1 1 1 1)",
    "(idx-transpose (float-matrix 3 4) 0 1)",
    "(narrow (float-matrix 4 4) 1 2 1)",
    "car",
    "+",
    "(lambda (x) x)",
    "(lambda () 1)",
    "(lambda (&rest r) r)",
    "(lambda (x) (error \"boom\"))",
    /* cuts the lists it is given: builtins walking them must not crash */
    "(lambda (&rest r) (each ((x r)) (when (consp x) (rplacd x 5))) (car r))",
    "(progn (dm battery-mac (x) x) battery-mac)",
    "(htable 1 2 \"a\" '(3))",
    "(progn (defclass battery-c object (a 1)) (new battery-c))",
    "battery-c",
    "(try (error \"x\") (catch e e))",
    "(open-read \"/dev/null\")",
    "(nn-tanh)",
    "(nn-seq '(4) (nn-linear 2))",
};
#define NVALUES (sizeof value_src / sizeof *value_src)
static LuValue *values[NVALUES];

/* Builtins not called, each for its reason. */
static const char *const skipped[] = {
    "exit", /* ends the process, by design */
    "sys",  /* runs its argument as a shell command */
};

/* What a child is doing, in memory shared with the parent: the call that
   crashed or hung is named from here. */
typedef struct {
  long calls;  /* calls started so far */
  int argc;    /* the current call */
  int args[8]; /* its arguments, as indexes into values */
  int breaks;  /* calls interrupted so far */
} Progress;
static Progress *progress; /* the child's, in shared memory */

#define CALL_SECONDS 0.05 /* then the call is interrupted */
#define MAX_BREAKS 20     /* interrupted calls, then the builtin is done */
#define STALL_SECONDS 4   /* then the child is killed as hanging */
#define MAX_ARITY 8

static void on_alarm(int sig) {
  (void)sig;
  lu_interrupted = 1;
}

static bool listed(const char *const *list, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (list[i] && strcmp(list[i], name) == 0)
      return true;
  return false;
}

typedef struct {
  LuValue *fn;
  int argc;
  LuValue **argv;
} Call;

/* A function gets the values; a special form gets them as its forms. */
static void call_one(void *ud) {
  Call *c = ud;
  if (c->fn->builtin->special) {
    LuValue *form = lu_nil;
    for (int i = c->argc; i-- > 0;)
      form = lu_cons(c->argv[i], form);
    lu_eval(lu_cons(c->fn, form), lu_nil);
  } else {
    lu_apply(c->fn, c->argc, c->argv);
  }
}

/* Calls fn with the values whose indexes are args[0..argc), under the
   time limit. */
static void try_call(LuValue *fn, int argc, const int *args) {
  LuValue *argv[MAX_ARITY];
  progress->argc = argc;
  for (int i = 0; i < argc; i++) {
    progress->args[i] = args[i];
    argv[i] = values[args[i]];
  }
  progress->calls++;
  struct itimerval t = {{0, 0}, {0, (long)(CALL_SECONDS * 1e6)}};
  setitimer(ITIMER_REAL, &t, NULL);
  Call c = {fn, argc, argv};
  LuValue *err;
  if (!lu_pcall(call_one, &c, &err) && err->err->is_break)
    progress->breaks++;
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  lu_interrupted = 0;
}

/* Every arity from 0 to one past the most (4 for any number), and for
   each: every value at each position with the others rotating through
   the set, then every value at all positions at once. A builtin that
   loops until interrupted (while, repeat...) has shown it can be, after
   MAX_BREAKS such calls: the rest would only take time. */
static void battery(LuValue *fn) {
  const LuBuiltin *b = fn->builtin;
  int top = b->max < 0 ? 4 : b->max + 1;
  if (top > MAX_ARITY)
    top = MAX_ARITY;
  int args[MAX_ARITY];
  for (int n = 0; n <= top; n++) {
    for (int at = 0; at < n; at++)
      for (int v = 0; v < (int)NVALUES; v++) {
        for (int j = 0; j < n; j++)
          args[j] = j == at ? v : (v + 7 * j + 3) % (int)NVALUES;
        try_call(fn, n, args);
        if (progress->breaks >= MAX_BREAKS)
          return;
      }
    for (int v = 0; n > 0 && v < (int)NVALUES; v++) {
      for (int j = 0; j < n; j++)
        args[j] = v;
      try_call(fn, n, args);
    }
    if (n == 0)
      try_call(fn, 0, args);
  }
}

/* The child's side: a folder of its own for files builtins write, no
   terminal, a bounded heap. Exits 0 when every call answered. */
static noreturn void run_child(LuValue *fn, const char *dir) {
  if (chdir(dir) != 0)
    _exit(3);
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  GC_set_max_heap_size(GC_get_heap_size() + (1u << 30));
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  battery(fn);
  _exit(0);
}

/* "(name v1 v2 ...)" for the call a child was making. */
static void describe(char *out, size_t size, const char *name,
                     const Progress *p) {
  size_t n = (size_t)snprintf(out, size, "(%s", name);
  for (int i = 0; i < p->argc && n < size; i++)
    n += (size_t)snprintf(out + n, size - n, " %s", value_src[p->args[i]]);
  if (n < size)
    snprintf(out + n, size - n, ")");
}

/* A child running one builtin's battery, and how it goes. */
typedef struct {
  pid_t pid; /* 0: the slot is free */
  LuValue *fn;
  long seen; /* progress->calls when last looked at */
  double since;
} Slot;

#define SLOTS 2 /* children at a time */

static pid_t start_child(LuValue *fn, const char *dir, Progress *p) {
  memset(p, 0, sizeof *p);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    progress = p;
    run_child(fn, dir);
  }
  return pid;
}

/* Looks at the child in slot s: returns true once it is over (it exited,
   died, or stalled and was killed), having counted its calls and printed
   its failure; *failed is then whether it counts as one. */
static bool child_over(Slot *s, Progress *p, long *calls, bool *failed) {
  int status = 0;
  bool stalled = false;
  if (waitpid(s->pid, &status, WNOHANG) == 0) {
    if (p->calls != s->seen) {
      s->seen = p->calls;
      s->since = lt_now();
      return false;
    }
    if (lt_now() - s->since <= STALL_SECONDS)
      return false;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    stalled = true;
  }
  *calls += p->calls;
  *failed = false;
  if (!stalled && WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return true;
  const char *name = s->fn->builtin->name;
  char call[2048];
  describe(call, sizeof call, name, p);
  if (stalled)
    print_message("hangs: %s\n", call);
  else if (WIFSIGNALED(status))
    print_message("signal %d: %s\n", WTERMSIG(status), call);
  else
    print_message("exit %d: %s\n", WEXITSTATUS(status), call);
  *failed = true;
  return true;
}

/* Runs the batteries of the n builtins fns, SLOTS at a time; returns the
   number of failures. */
static int run_all(LuValue **fns, size_t n, const char *dir, long *calls) {
  Progress *shared = mmap(NULL, SLOTS * sizeof *shared, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(shared != MAP_FAILED);
  Slot slots[SLOTS] = {{0}};
  int failures = 0, running = 0;
  size_t next = 0;
  while (next < n || running > 0) {
    for (int i = 0; i < SLOTS; i++) {
      Slot *s = &slots[i];
      bool failed;
      if (s->pid && child_over(s, &shared[i], calls, &failed)) {
        failures += failed;
        s->pid = 0;
        running--;
      }
      if (!s->pid && next < n) {
        *s = (Slot){start_child(fns[next], dir, &shared[i]), fns[next], -1,
                    lt_now()};
        next++;
        running++;
      }
    }
    usleep(2000);
  }
  munmap(shared, SLOTS * sizeof *shared);
  return failures;
}

typedef struct {
  LuValue **v;
  size_t n, cap;
} Builtins;

static void collect(LuValue *sym, void *ud) {
  Builtins *b = ud;
  LuValue *v = sym->sym.value;
  if (!v || !LU_IS(v, LU_BUILTIN) || strcmp(v->builtin->name, sym->sym.name))
    return;
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 256;
    b->v = realloc(b->v, b->cap * sizeof *b->v);
  }
  b->v[b->n++] = v;
}

static int by_name(const void *x, const void *y) {
  return strcmp((*(LuValue *const *)x)->builtin->name,
                (*(LuValue *const *)y)->builtin->name);
}

static void test_every_builtin(void **state) {
  (void)state;
  for (size_t i = 0; i < NVALUES; i++)
    values[i] = lt_eval(value_src[i]);
  Builtins b = {0};
  lu_symbols_each(collect, &b);
  qsort(b.v, b.n, sizeof *b.v, by_name);
  assert_true(b.n > 100);
  size_t n = 0;
  for (size_t i = 0; i < b.n; i++)
    if (!listed(skipped, sizeof skipped / sizeof *skipped,
                b.v[i]->builtin->name))
      b.v[n++] = b.v[i];
  char *dir = lt_tempdir();
  long calls = 0;
  int failures = run_all(b.v, n, dir, &calls);
  print_message("%zu builtins, %ld calls\n", b.n, calls);
  lt_rmtree(dir);
  free(dir);
  free(b.v);
  assert_int_equal(failures, 0);
}

int main(void) {
  int stack_base;
  lt_start(&stack_base);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_builtin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
