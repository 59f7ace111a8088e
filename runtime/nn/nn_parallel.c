/* nn_parallel.c: the simulator's threads. A pool of workers, made on
   first use, runs one job at a time: the items of the job are taken in
   turn by the caller and the workers. Workers wait on a condition
   variable between jobs and the caller waits for the last item the same
   way, so that on a loaded machine idle threads give their core away
   instead of spinning. (nn-threads) sets how many threads take part;
   LUSH89_THREADS gives the default, else every core. */
#include "nn_impl.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static struct {
  pthread_mutex_t lock;
  pthread_cond_t go, done;
  int nthreads;      /* threads taking part, the caller included */
  int nworkers;      /* workers made so far */
  unsigned long job; /* generation: a worker runs each job once */
  int wanted;        /* workers still to join the job */
  int busy;          /* workers in the job */
  void (*fn)(void *, long);
  void *arg;
  long nitems;
  atomic_long next; /* the next item to take */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .go = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER,
          .nthreads = 1};

/* Set on the workers: a job run from inside a job stays on its thread. */
static _Thread_local bool in_job;

static void take_items(void) {
  long i;
  while ((i = atomic_fetch_add(&pool.next, 1)) < pool.nitems)
    pool.fn(pool.arg, i);
}

static void *worker(void *unused) {
  (void)unused;
  in_job = true;
  unsigned long seen = 0;
  pthread_mutex_lock(&pool.lock);
  for (;;) {
    while (pool.job == seen || pool.wanted == 0) {
      if (pool.job != seen)
        seen = pool.job; /* enough workers joined that job: skip it */
      pthread_cond_wait(&pool.go, &pool.lock);
    }
    seen = pool.job;
    pool.wanted--;
    pool.busy++;
    pthread_mutex_unlock(&pool.lock);
    take_items();
    pthread_mutex_lock(&pool.lock);
    if (--pool.busy == 0)
      pthread_cond_signal(&pool.done);
  }
  return NULL;
}

/* Makes workers until there are n (fewer when the system refuses). */
static void grow(int n) {
  while (pool.nworkers < n) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
      return;
    pthread_detach(t);
    pool.nworkers++;
  }
}

void lu_nn_parallel(long nitems, bool serial, void (*fn)(void *arg, long item),
                    void *arg) {
  int helpers = pool.nthreads - 1;
  if (helpers > nitems - 1)
    helpers = (int)(nitems - 1);
  if (serial || in_job || helpers <= 0) {
    for (long i = 0; i < nitems; i++)
      fn(arg, i);
    return;
  }
  grow(helpers);
  pthread_mutex_lock(&pool.lock);
  pool.fn = fn, pool.arg = arg, pool.nitems = nitems;
  atomic_store(&pool.next, 0);
  pool.wanted = helpers < pool.nworkers ? helpers : pool.nworkers;
  pool.job++;
  pthread_cond_broadcast(&pool.go);
  pthread_mutex_unlock(&pool.lock);
  in_job = true;
  take_items();
  in_job = false;
  pthread_mutex_lock(&pool.lock);
  pool.wanted = 0; /* workers that have not woken yet are not waited for */
  while (pool.busy > 0)
    pthread_cond_wait(&pool.done, &pool.lock);
  pthread_mutex_unlock(&pool.lock);
}

int lu_nn_threads(void) {
  return pool.nthreads;
}

LU_DEFUN(nn_threads_fn, "(nn-threads [N])",
         "The number of threads the simulator's passes use (nn-train-pass "
         "with BATCH > 1, nn-evaluate, nn-predict, nn-fprop of a batch); "
         "with N (1 to 16), sets it. The default is $LUSH89_THREADS, else "
         "the number of cores the process may run on. Results do not "
         "depend on it.") {
  if (lu_arg_given(argv, argc, 0)) {
    long t = lu_arg_int(argv, 0);
    if (t < 1 || t > NN_MAXTHREADS)
      lu_arg_error(0, "a number of threads in [1, 16]", argv[0]);
    pool.nthreads = (int)t;
  }
  return lu_number(pool.nthreads);
}

static LuBuiltin *const parallel_builtins[] = {&nn_threads_fn_builtin, NULL};

/* The cores this process may run on: its CPU affinity, which taskset,
   cgroups and Slurm set, else the cores online. */
static long cores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  return sysconf(_SC_NPROCESSORS_ONLN);
}

/* The default count: LUSH89_THREADS when it is a number, else the cores;
   within [1, 16]. */
void lu_nn_parallel_open(void) {
  const char *env = getenv("LUSH89_THREADS");
  char *end = NULL;
  long n = env ? strtol(env, &end, 10) : 0;
  if (!env || end == env || *end)
    n = cores();
  pool.nthreads = n < 1 ? 1 : n > NN_MAXTHREADS ? NN_MAXTHREADS : (int)n;
  lu_register(parallel_builtins);
}
