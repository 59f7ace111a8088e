/* lutest.h: helpers shared by the interpreter's cmocka suites (test_read,
   test_print, test_eval, test_error, test_gc, test_cli, test_repl):
   in-process start-up, evaluating source text and catching its error, and
   running ./lush89 as a child process with a time limit. Include it after
   <cmocka.h>. Every helper is static inline so that a suite may use any
   subset of them without an unused-function warning. */
#ifndef LUTEST_H
#define LUTEST_H

#include <errno.h>
#include <fcntl.h>
#include <gc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "interp.h"

/* ---- in-process interpreter ------------------------------------------- */

/* Starts the interpreter as main does; stack_base is a local of main. */
static inline void lt_start(void *stack_base) {
  GC_INIT();
  lu_error_init(stack_base);
  lu_init_in_tree();
}

typedef struct {
  const char *src;
  LuValue *value;
} LtEval;

static inline void lt_eval_call(void *ud) {
  LtEval *e = ud;
  e->value = lu_eval_string(e->src, "<test>");
}

/* Evaluates every form of src (file name "<test>"); returns the last
   value, or NULL with the error in *err. */
static inline LuValue *lt_try(const char *src, LuValue **err) {
  LtEval e = {src, NULL};
  *err = NULL;
  return lu_pcall(lt_eval_call, &e, err) ? e.value : NULL;
}

/* Evaluates src; an error fails the test with its message. */
static inline LuValue *lt_eval(const char *src) {
  LuValue *err;
  LuValue *v = lt_try(src, &err);
  if (!v)
    fail_msg("%s raised: %s", src, err->err->message->str.s);
  return v;
}

/* The value of src, printed readably. */
static inline const char *lt_show(const char *src) {
  return lu_repr(lt_eval(src), true);
}

/* Evaluates src, which must raise; returns the error value. */
static inline LuValue *lt_error(const char *src) {
  LuValue *err;
  LuValue *v = lt_try(src, &err);
  if (v)
    fail_msg("%s raised no error; it returned %s", src, lu_repr(v, true));
  return err;
}

/* The message of the error src raises. */
static inline const char *lt_message(const char *src) {
  return lt_error(src)->err->message->str.s;
}

/* Fails unless haystack contains needle. */
#define lt_assert_contains(haystack, needle)                                   \
  do {                                                                         \
    const char *h_ = (haystack), *n_ = (needle);                               \
    if (!h_ || !strstr(h_, n_))                                                \
      fail_msg("expected \"%s\" to contain \"%s\"", h_ ? h_ : "(null)", n_);   \
  } while (0)

/* Fails unless msg, an error message, mentions both part1 and part2;
   msg NULL (no error) fails too. */
static inline void lt_expect_error(const char *msg, const char *part1,
                                   const char *part2) {
  if (!msg)
    fail_msg("no error; expected one mentioning '%s'", part2);
  if (!strstr(msg, part1) || !strstr(msg, part2))
    fail_msg("error '%s' does not mention '%s' and '%s'", msg, part1, part2);
}

/* Fails unless the error's location is (file line col). */
static inline void lt_assert_where(LuValue *err, const char *file, int line,
                                   int col) {
  LuValue *w = err->err->where;
  if (w == lu_nil)
    fail_msg("error \"%s\" has no location (expected %s:%d:%d)",
             err->err->message->str.s, file, line, col);
  assert_string_equal(LU_CAR(w)->str.s, file);
  assert_int_equal((int)LU_NUM(LU_CAR(LU_CDR(w))), line);
  assert_int_equal((int)LU_NUM(LU_CAR(LU_CDR(LU_CDR(w)))), col);
}

/* ---- ./lush89 as a child process -------------------------------------- */

/* AddressSanitizer reserves terabytes of shadow memory at start-up: a
   child under an address-space limit cannot even start. */
#if defined(__SANITIZE_ADDRESS__)
#define LT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LT_ASAN 1
#endif
#endif
#ifndef LT_ASAN
#define LT_ASAN 0
#endif

typedef struct {
  const char *program;    /* what to run; NULL: ./lush89 */
  const char *input;      /* written to stdin, then closed; NULL: empty */
  const char *cwd;        /* folder to run in; NULL: the current one */
  const char *const *env; /* "NAME=VALUE" sets, "NAME" unsets; NULL-ended */
  double timeout;         /* seconds before SIGKILL; 0: 20 */
  double sigint_after;    /* seconds before a SIGINT; 0: none */
  long mem_limit_mb;      /* the child's address-space limit; 0: none */
} LtOpts;

typedef struct {
  int status;      /* as from wait4 */
  bool timed_out;  /* killed by the time limit */
  char *out, *err; /* NUL-terminated, malloc'ed */
  size_t out_len, err_len;
  long maxrss_kb; /* the child's peak resident set */
} LtProc;

/* The absolute path of ./lush89, so that a child may run elsewhere. */
static inline const char *lt_binary(void) {
  static char path[4096];
  if (!path[0] && !realpath("./lush89", path))
    fail_msg("./lush89 not found: run the tests from the top of the tree");
  return path;
}

static inline double lt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline void lt_append(char **buf, size_t *len, const char *s, size_t n) {
  *buf = realloc(*buf, *len + n + 1);
  assert_non_null(*buf);
  memcpy(*buf + *len, s, n);
  *len += n;
  (*buf)[*len] = 0;
}

static inline void lt_child(char *const argv[], const LtOpts *o, int in[2],
                            int out[2], int err[2]) {
  dup2(in[0], 0);
  dup2(out[1], 1);
  dup2(err[1], 2);
  close(in[0]), close(in[1]), close(out[0]), close(out[1]);
  close(err[0]), close(err[1]);
  signal(SIGINT, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  for (const char *const *e = o->env; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (eq) {
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
      setenv(name, eq + 1, 1);
    } else {
      unsetenv(*e);
    }
  }
  if (o->cwd && chdir(o->cwd) != 0)
    _exit(126);
  if (o->mem_limit_mb > 0) {
    struct rlimit rl = {(rlim_t)o->mem_limit_mb << 20,
                        (rlim_t)o->mem_limit_mb << 20};
    setrlimit(RLIMIT_AS, &rl);
  }
  execv(argv[0], argv);
  _exit(127);
}

/* Runs o->program (./lush89 by default) with the arguments args[1...]
   (args is NULL-ended; args[0] is ignored) and o's input, folder and
   environment; collects stdout, stderr, the wait status and peak RSS.
   Never waits longer than the time limit. */
static inline LtProc lt_run_opts(const char *const *args, const LtOpts *o) {
  int n = 0;
  while (args[n])
    n++;
  char **argv = calloc((size_t)n + 2, sizeof *argv);
  argv[0] = (char *)(o->program ? o->program : lt_binary());
  for (int i = 1; i < n + 1; i++)
    argv[i] = (char *)args[i];
  int in[2], out[2], err[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(out), 0);
  assert_int_equal(pipe(err), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    lt_child(argv, o, in, out, err);
  free(argv);
  close(in[0]), close(out[1]), close(err[1]);
  signal(SIGPIPE, SIG_IGN);
  LtProc p = {0};
  p.out = calloc(1, 1);
  p.err = calloc(1, 1);
  const char *input = o->input ? o->input : "";
  size_t in_len = strlen(input), in_pos = 0;
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  if (in_len == 0)
    close(in[1]), in[1] = -1;
  double start = lt_now(), limit = o->timeout > 0 ? o->timeout : 20;
  bool sent_int = o->sigint_after <= 0;
  int open_fds = 2;
  while (open_fds > 0) {
    double t = lt_now() - start;
    if (t > limit) {
      p.timed_out = true;
      break;
    }
    if (!sent_int && t >= o->sigint_after) {
      kill(pid, SIGINT);
      sent_int = true;
    }
    struct pollfd fds[3] = {
        {out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    if (poll(fds, 3, 20) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char chunk[65536];
      ssize_t r = read(fds[i].fd, chunk, sizeof chunk);
      if (r > 0) {
        if (i == 0)
          lt_append(&p.out, &p.out_len, chunk, (size_t)r);
        else
          lt_append(&p.err, &p.err_len, chunk, (size_t)r);
      } else if (r == 0 || errno != EINTR) {
        close(fds[i].fd);
        if (i == 0)
          out[0] = -1;
        else
          err[0] = -1;
        open_fds--;
      }
    }
    if (in[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in[1], input + in_pos, in_len - in_pos);
      if (w > 0)
        in_pos += (size_t)w;
      if (w < 0 || in_pos == in_len)
        close(in[1]), in[1] = -1;
    }
  }
  struct rusage ru;
  pid_t done;
  while (((done = wait4(pid, &p.status, WNOHANG, &ru)) == 0 ||
          (done < 0 && errno == EINTR)) &&
         !p.timed_out) {
    if (lt_now() - start > limit)
      p.timed_out = true;
    else
      usleep(2000);
  }
  if (done <= 0) { /* over the time limit */
    kill(pid, SIGKILL);
    while (wait4(pid, &p.status, 0, &ru) < 0 && errno == EINTR)
      ;
  }
  p.maxrss_kb = ru.ru_maxrss;
  const int fds[] = {in[1], out[0], err[0]};
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  return p;
}

/* Runs ./lush89 with the given arguments (a NULL-ended list whose first
   entry is ignored) and no input. */
static inline LtProc lt_run(const char *const *args) {
  LtOpts o = {0};
  return lt_run_opts(args, &o);
}

/* Fails unless the child exited normally with the given status. */
static inline void lt_assert_exit(const LtProc *p, int code) {
  if (p->timed_out)
    fail_msg("timed out; stderr: %s", p->err);
  if (WIFSIGNALED(p->status))
    fail_msg("killed by signal %d; stderr: %.500s", WTERMSIG(p->status),
             p->err);
  if (WEXITSTATUS(p->status) != code)
    fail_msg("exit status %d, expected %d; stdout: %.300s stderr: %.500s",
             WEXITSTATUS(p->status), code, p->out, p->err);
}

/* The first line of s, as a malloc'ed string. */
static inline char *lt_first_line(const char *s) {
  return strndup(s, strcspn(s, "\n"));
}

static inline void lt_free(LtProc *p) {
  free(p->out);
  free(p->err);
}

/* A fresh private folder under $TMPDIR or /tmp, as a malloc'ed path. */
static inline char *lt_tempdir(void) {
  const char *base = getenv("TMPDIR");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/lush89-test-XXXXXX", base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

/* Writes n bytes to dir/name. */
static inline void lt_write(const char *dir, const char *name, const char *s,
                            size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(s, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* Removes the folder made by lt_tempdir and everything in it. */
static inline void lt_rmtree(const char *dir) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

#endif
