/* pool.c: what a job of the simulator's thread pool (lu_nn_parallel)
   costs. bench/pool.sh builds it against the objects of the last build
   and runs it from the top of the tree:

     pool-bench [THREADS]            (2 or more, default 2)

   For each gap (microseconds of work on the calling thread between two
   jobs, as a trainer does between its jobs) it runs jobs of two items of
   20 us each and prints, per job: the CPU time of the process beyond the
   work done (what waiting threads burn); the time from the call until a
   worker starts an item, and from the end of the worker's item until the
   call returns (medians and 90th percentiles). Last, the CPU time the
   process uses while it sleeps after the jobs: about zero, since idle
   threads give their core away. */
#include <gc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "interp.h"
#include "nn_impl.h"

#define WORK 20.0 /* microseconds of one item */
#define MAXJOBS 4000

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec +
         r.ru_stime.tv_usec;
}

static void busy(double us) {
  double end = now_us() + us;
  while (now_us() < end)
    ;
}

static void work_item(void *arg, long i) {
  (void)arg, (void)i;
  busy(WORK);
}

/* A job whose first thread in waits for a second one to start the
   other item; the second works WORK us, and says when it started and
   ended and whether it is a worker. */
typedef struct {
  atomic_int in;
  double start, end;
  bool by_worker;
} Meet;

static pthread_t main_thread;

static void meet_item(void *arg, long i) {
  (void)i;
  Meet *m = arg;
  if (atomic_fetch_add(&m->in, 1) == 0) {
    while (atomic_load(&m->in) < 2)
      ;
    return;
  }
  m->start = now_us();
  busy(WORK);
  m->end = now_us();
  m->by_worker = !pthread_equal(pthread_self(), main_thread);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The p-th percentile of the n values of v (sorts v), NAN when n is 0. */
static double pct(double *v, int n, int p) {
  if (n == 0)
    return NAN;
  qsort(v, n, sizeof *v, by_value);
  return v[(long)n * p / 100];
}

static void run_gap(double gap) {
  static double go[MAXJOBS], back[MAXJOBS];
  int n = (int)(300e3 / (gap + 2 * WORK));
  n = n > MAXJOBS ? MAXJOBS : n < 200 ? 200 : n;
  double c0 = cpu_us();
  for (int k = 0; k < n; k++) {
    busy(gap);
    lu_nn_parallel(2, false, work_item, NULL);
  }
  double cpu = (cpu_us() - c0) / n - gap - 2 * WORK;
  int nback = 0;
  for (int k = 0; k < n; k++) {
    Meet m = {0};
    busy(gap);
    double t0 = now_us();
    lu_nn_parallel(2, false, meet_item, &m);
    double t1 = now_us();
    go[k] = m.start - t0;
    if (m.by_worker)
      back[nback++] = t1 - m.end;
  }
  printf("gap %5.0f us: cpu +%5.1f us  start %6.1f us (p90 %6.1f)  return "
         "%6.1f us (p90 %6.1f)\n",
         gap, cpu, pct(go, n, 50), pct(go, n, 90), pct(back, nback, 50),
         pct(back, nback, 90));
}

int main(int argc, char **argv) {
  int base;
  main_thread = pthread_self();
  setenv("LUSH89_THREADS", argc > 1 ? argv[1] : "2", 1);
  GC_INIT();
  lu_error_init(&base);
  lu_init_in_tree();
  if (lu_nn_threads() < 2) {
    fprintf(stderr, "pool-bench: THREADS must be 2 or more\n");
    return 1;
  }
  printf("%d threads, jobs of 2 items of %.0f us\n", lu_nn_threads(), WORK);
  static const double gaps[] = {0, 5, 20, 50, 200, 1000};
  for (size_t g = 0; g < sizeof gaps / sizeof *gaps; g++)
    run_gap(gaps[g]);
  double c0 = cpu_us();
  usleep(500000);
  printf("idle 0.5 s: cpu %.0f us\n", cpu_us() - c0);
  return 0;
}
