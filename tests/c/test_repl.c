/* test_repl.c: the interactive REPL, driven through a
   pseudo-terminal (forkpty): the "? " prompt, a form and its "= VALUE",
   an error then a form (definitions kept), a form over two lines, Ctrl-C
   inside (while t ()) giving "*** Break" and a new prompt, Ctrl-C at the
   prompt, Tab completion of a bound name, history kept in
   $HOME/.lush89_history across sessions, and Ctrl-D quitting. Every read
   waits with poll() and a timeout of a few seconds, never forever. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pty.h>
#include <sys/stat.h>

#include "lutest.h"

typedef struct {
  int fd;
  pid_t pid;
  char *out; /* everything the terminal showed */
  size_t len;
  size_t mark; /* expect() searches from here */
} Pty;

static char *home; /* a fresh HOME per test */

static int make_home(void **state) {
  (void)state;
  home = lt_tempdir();
  return 0;
}

static int remove_home(void **state) {
  (void)state;
  lt_rmtree(home);
  free(home);
  return 0;
}

static Pty start(void) {
  Pty p = {0};
  p.out = calloc(1, 1);
  struct winsize ws = {.ws_row = 24, .ws_col = 80};
  const char *bin = lt_binary();
  p.pid = forkpty(&p.fd, NULL, NULL, &ws);
  assert_true(p.pid >= 0);
  if (p.pid == 0) {
    setenv("HOME", home, 1);
    setenv("TERM", "dumb", 1);
    unsetenv("INPUTRC");
    unsetenv("LUSH89_PATH");
    signal(SIGINT, SIG_DFL);
    execl(bin, "lush89", (char *)NULL);
    _exit(127);
  }
  return p;
}

/* Reads what is available within ms milliseconds; false at end of file. */
static bool pump(Pty *p, int ms) {
  struct pollfd pfd = {p->fd, POLLIN, 0};
  if (poll(&pfd, 1, ms) <= 0)
    return true;
  char chunk[4096];
  ssize_t n = read(p->fd, chunk, sizeof chunk);
  if (n <= 0)
    return false; /* EIO once the child is gone */
  lt_append(&p->out, &p->len, chunk, (size_t)n);
  return true;
}

/* Waits up to seconds for text to appear after the mark; moves the mark
   past it. Fails the test, showing the screen, when it does not. */
static void expect(Pty *p, const char *text, double seconds) {
  double end = lt_now() + seconds;
  for (;;) {
    const char *hit = strstr(p->out + p->mark, text);
    if (hit) {
      p->mark = (size_t)(hit - p->out) + strlen(text);
      return;
    }
    if (lt_now() > end || !pump(p, 20))
      fail_msg("waited for \"%s\"; the terminal shows:\n%s", text,
               p->out + p->mark);
  }
}

/* Reads for a while and returns the new text (for "nothing happens"). */
static const char *settle(Pty *p, double seconds) {
  size_t from = p->len;
  double end = lt_now() + seconds;
  while (lt_now() < end && pump(p, 20))
    ;
  p->mark = p->len;
  return p->out + from;
}

static void send(Pty *p, const char *keys) {
  size_t n = strlen(keys);
  assert_int_equal(write(p->fd, keys, n), (ssize_t)n);
}

/* Waits for the child to exit on its own; returns its wait status. */
static int finish(Pty *p, double seconds) {
  double end = lt_now() + seconds;
  int status = 0;
  pid_t r;
  while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && lt_now() < end)
    pump(p, 20);
  if (r == 0) {
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    close(p->fd);
    fail_msg("the REPL did not exit; the terminal shows:\n%s", p->out);
  }
  close(p->fd);
  free(p->out);
  return status;
}

/* Ctrl-D at an empty prompt: the REPL exits with status 0. Callers wait
   for the prompt first: during an evaluation the terminal is in cooked
   mode, where a Ctrl-D would be taken by the line discipline. */
static void quit(Pty *p) {
  send(p, "\x04");
  int status = finish(p, 5);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- tests ------------------------------------------------------------ */

static void test_prompt_and_value(void **state) {
  (void)state;
  Pty p = start();
  expect(&p, "? ", 5);
  send(&p, "(+ 1 2)\r");
  expect(&p, "= 3", 5);
  expect(&p, "? ", 5);
  send(&p, "(list \"s\" 'x 0.5)\r");
  expect(&p, "= (\"s\" x 0.5)", 5); /* readably */
  expect(&p, "? ", 5);
  quit(&p);
}

static void test_error_then_form(void **state) {
  (void)state;
  Pty p = start();
  expect(&p, "? ", 5);
  send(&p, "(de sq (x) (* x x))\r");
  expect(&p, "= sq", 5);
  send(&p, "(car 3)\r");
  expect(&p, "car: argument 1: expected list, got 3", 5);
  expect(&p, "? ", 5);
  send(&p, "(sq 12)\r");
  expect(&p, "= 144", 5); /* the session goes on, sq kept */
  send(&p, "no-such-var\r");
  expect(&p, "unbound symbol: no-such-var", 5);
  send(&p, "(sq 3)\r");
  expect(&p, "= 9", 5);
  expect(&p, "? ", 5);
  quit(&p);
}

static void test_two_lines(void **state) {
  (void)state;
  Pty p = start();
  expect(&p, "? ", 5);
  send(&p, "(+ 1\r");
  const char *mid = settle(&p, 0.5);
  assert_null(strstr(mid, "= ")); /* nothing evaluated yet */
  assert_null(strstr(mid, "error"));
  send(&p, "   2)\r");
  expect(&p, "= 3", 5);
  expect(&p, "? ", 5);
  /* two forms on one line, then one over three lines */
  send(&p, "1 2\r");
  expect(&p, "= 1", 5);
  expect(&p, "= 2", 5);
  send(&p, "(list\r'a\r'b)\r");
  expect(&p, "= (a b)", 5);
  expect(&p, "? ", 5);
  quit(&p);
}

static void test_ctrl_c(void **state) {
  (void)state;
  Pty p = start();
  expect(&p, "? ", 5);
  send(&p, "(setq kept 7)\r");
  expect(&p, "= 7", 5);
  send(&p, "(while t ())\r");
  settle(&p, 0.3);
  send(&p, "\x03");
  expect(&p, "*** Break", 5);
  expect(&p, "? ", 5);
  send(&p, "(+ kept 1)\r");
  expect(&p, "= 8", 5);
  /* try does not catch it */
  send(&p, "(try (while t ()) (catch e 'caught))\r");
  settle(&p, 0.3);
  send(&p, "\x03");
  expect(&p, "*** Break", 5);
  expect(&p, "? ", 5);
  send(&p, "(+ kept 2)\r");
  expect(&p, "= 9", 5);
  assert_null(strstr(p.out, "= caught"));
  /* at the prompt: the line typed so far is dropped */
  send(&p, "(+ 100");
  settle(&p, 0.2);
  send(&p, "\x03");
  settle(&p, 0.3);
  send(&p, "(+ 5 5)\r");
  expect(&p, "= 10", 5);
  expect(&p, "? ", 5);
  quit(&p);
}

static void test_tab_completion(void **state) {
  (void)state;
  Pty p = start();
  expect(&p, "? ", 5);
  send(&p, "(apro\t");
  expect(&p, "apropos", 5);
  send(&p, "\"apropo\")\r");
  expect(&p, "= (apropos)", 5);
  /* user definitions complete too */
  send(&p, "(de my-unique-fn-xyz () 42)\r");
  expect(&p, "= my-unique-fn-xyz", 5);
  send(&p, "(my-unique-f\t");
  expect(&p, "my-unique-fn-xyz", 5);
  send(&p, ")\r");
  expect(&p, "= 42", 5);
  expect(&p, "? ", 5);
  quit(&p);
}

static void test_history(void **state) {
  (void)state;
  Pty p = start();
  expect(&p, "? ", 5);
  send(&p, "(* 6 7)\r");
  expect(&p, "= 42", 5);
  expect(&p, "? ", 5);
  quit(&p);
  char path[4200];
  snprintf(path, sizeof path, "%s/.lush89_history", home);
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("no history file %s", path);
  char buf[4096] = {0};
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  assert_true(n > 0);
  lt_assert_contains(buf, "(* 6 7)");
  /* a new session recalls it with Ctrl-P */
  p = start();
  expect(&p, "? ", 5);
  send(&p, "\x10\r");
  expect(&p, "= 42", 5);
  expect(&p, "? ", 5);
  quit(&p);
}

static void test_ctrl_d(void **state) {
  (void)state;
  Pty p = start();
  expect(&p, "? ", 5);
  send(&p, "(setq x 1)\r");
  expect(&p, "= 1", 5);
  expect(&p, "? ", 5);
  quit(&p);
}

/* Ctrl-D with a form still open says so rather than dropping it. */
static void test_ctrl_d_unfinished(void **state) {
  (void)state;
  Pty p = start();
  expect(&p, "? ", 5);
  send(&p, "(list 1\r");
  expect(&p, "  ", 5);
  send(&p, "\x04");
  expect(&p, "unfinished form", 5);
  int status = finish(&p, 5);
  assert_true(WIFEXITED(status));
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, make_home, remove_home)
  const struct CMUnitTest tests[] = {
      T(test_prompt_and_value), T(test_error_then_form),   T(test_two_lines),
      T(test_ctrl_c),           T(test_tab_completion),    T(test_history),
      T(test_ctrl_d),           T(test_ctrl_d_unfinished),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
