/* test_gc.c: memory stays bounded under Boehm GC. Runs ./lush89 on loops
   that cons 10 million short lists (and other short-lived values) and
   checks the child's peak resident set, from wait4's rusage, stays under
   100 MB: a bound on memory, not a timing. A last case checks that live
   data is kept: the GC must not free what is still reachable. The
   last ones count the bytes the collector hands out in this process: a
   loop doing arithmetic on floats allocates (nearly) nothing per step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gc.h>

#include "lutest.h"

enum { LIMIT_KB = 100 * 1024 };

/* Runs the forms of src with ./lush89 -p, expects the printed value and a
   peak RSS under the limit. */
static void assert_bounded(const char *src, const char *value) {
  LtOpts o = {.timeout = 60};
  LtProc p = lt_run_opts((const char *[]){"", "-p", src, NULL}, &o);
  lt_assert_exit(&p, 0);
  assert_string_equal(p.out, value);
  if (p.maxrss_kb >= LIMIT_KB)
    fail_msg("peak RSS %ld KB (limit %d KB) for %s", p.maxrss_kb, LIMIT_KB,
             src);
  print_message("peak RSS %ld KB\n", p.maxrss_kb);
  lt_free(&p);
}

static void test_short_lists(void **state) {
  (void)state;
  assert_bounded("(let ((n 0)) (repeat 10000000 (setq l (list 1 2 3)) "
                 "(incr n)) (list n l))",
                 "(10000000 (1 2 3))\n");
}

/* Fresh numbers (beyond the cached small integers), strings and a closure
   in every list, through a tail-recursive loop. (The closure is made in
   gc-thunk so that it does not capture the previous list: that would keep
   them all alive.) */
static void test_mixed_garbage(void **state) {
  (void)state;
  assert_bounded("(de gc-thunk (i) (lambda () i)) "
                 "(de gc-loop (i last) (if (= i 0) last "
                 "(gc-loop (- i 1) (list (* i 1.5) (gc-thunk i) "
                 "(if (= (mod i 1000) 0) (sprintf \"s%d\" i) \"k\"))))) "
                 "(car (gc-loop 3000000 ()))",
                 "1.5\n");
}

/* What is reachable survives many collections. */
static void test_live_data_kept(void **state) {
  (void)state;
  assert_bounded("(setq keep (range 100000)) (setq h (htable)) "
                 "(for (i 1 1000) (hset h (sprintf \"k%d\" i) (list i))) "
                 "(repeat 3000000 (list 1 2 3)) "
                 "(list (apply + keep) (car (hget h \"k777\")))",
                 "(4999950000 777)\n");
}

/* Bytes allocated while src runs, after a first run of warm (which
   compiles what it defines). */
static size_t bytes_of(const char *warm, const char *src) {
  lt_eval(warm);
  size_t before = GC_get_total_bytes();
  lt_eval(src);
  return GC_get_total_bytes() - before;
}

/* A million steps of a float loop, in a function and at top level, and
   a non-tail recursion on numbers: under 0.05 byte per step (a boxed
   number would be 32). */
static void test_float_loops_allocate_nothing(void **state) {
  (void)state;
  lt_eval("(de gc-floats (n) (let ((s 0)) (for (i 1 n) "
          "(setq s (+ s (* i 0.5)))) s))");
  size_t b = bytes_of("(gc-floats 10)", "(gc-floats 1000000)");
  print_message("float loop: %zu bytes for 1e6 steps\n", b);
  assert_true(b < 50000);
  b = bytes_of("1", "(let ((x 0.5) (i 0)) (while (< i 1000000) "
                    "(setq x (* x 1.0000001)) (incr i)) x)");
  print_message("while loop: %zu bytes for 1e6 steps\n", b);
  assert_true(b < 50000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_short_lists),
      cmocka_unit_test(test_mixed_garbage),
      cmocka_unit_test(test_live_data_kept),
      cmocka_unit_test(test_float_loops_allocate_nothing),
  };
  int base;
  lt_start(&base);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
