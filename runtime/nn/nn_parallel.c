/* nn_parallel.c: the simulator's threads. A pool of workers, made on
   first use, runs one job at a time: the items of the job are taken in
   turn by the caller and the workers. Jobs are handed out and finished
   through atomic counters. A thread that waits (a worker for the next
   job, the caller for the last item) spins some microseconds, since
   jobs often follow each other closely, then sleeps on a condition
   variable, so that on a loaded machine idle threads give their core
   away. (nn-threads) sets how many threads take part; LUSH89_THREADS
   gives the default, else every core. */
#include "nn_impl.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static struct {
  pthread_mutex_t lock; /* taken only to sleep, and to wake sleepers */
  pthread_cond_t go, done;
  int nthreads;        /* threads taking part, the caller included */
  int nworkers;        /* workers made so far */
  atomic_uint job;     /* generation: bumped when a job is handed out */
  atomic_int wanted;   /* workers that may still join the job */
  atomic_uint busy;    /* workers joining or in the job */
  atomic_int sleeping; /* threads asleep on go or done */
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

/* How long a waiting thread spins before it sleeps, in nanoseconds:
   about the CPU time a sleep and its wake-up through the kernel take
   in a virtual machine (bench/pool.sh). Most waits of a training pass
   end sooner; spinning longer gained nothing measurable on a quiet
   machine and took more from other processes on a loaded one. */
#define SPIN_NS 20000L

/* One turn of a bounded spin: pauses the core, then says whether less
   than SPIN_NS has passed since the first turn (*start 0 before it). */
static bool spin(long *start) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  long now = t.tv_sec * 1000000000L + t.tv_nsec;
  if (!*start)
    *start = now;
  return now - *start < SPIN_NS;
}

/* Waits while *word is value: spins, then sleeps on cond. Whoever
   changes the word then calls wake(cond). */
static void wait_while(atomic_uint *word, unsigned value,
                       pthread_cond_t *cond) {
  long start = 0;
  while (atomic_load(word) == value && spin(&start))
    ;
  if (atomic_load(word) == value) {
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.sleeping, 1); /* before the last look at word */
    while (atomic_load(word) == value)
      pthread_cond_wait(cond, &pool.lock);
    atomic_fetch_sub(&pool.sleeping, 1);
    pthread_mutex_unlock(&pool.lock);
  }
}

/* Wakes the threads asleep on cond after a change of their word. A
   sleeper counts itself before its last look at the word, and the word
   changes before this look at the count: one of the two sees the other. */
static void wake(pthread_cond_t *cond) {
  if (atomic_load(&pool.sleeping) > 0) {
    pthread_mutex_lock(&pool.lock);
    pthread_cond_broadcast(cond);
    pthread_mutex_unlock(&pool.lock);
  }
}

static void take_items(void) {
  long i;
  while ((i = atomic_fetch_add(&pool.next, 1)) < pool.nitems)
    pool.fn(pool.arg, i);
}

/* A worker counts itself busy, then joins the job while workers are
   wanted: the caller stops wanting them, then waits until none is busy,
   so it waits for every worker that joined. A worker late for its job
   may join the next one, which is as good. */
static void *worker(void *unused) {
  (void)unused;
  in_job = true;
  unsigned seen = 0;
  for (;;) {
    wait_while(&pool.job, seen, &pool.go);
    seen = atomic_load(&pool.job);
    atomic_fetch_add(&pool.busy, 1);
    int w = atomic_load(&pool.wanted);
    while (w > 0 && !atomic_compare_exchange_weak(&pool.wanted, &w, w - 1))
      ;
    if (w > 0)
      take_items();
    if (atomic_fetch_sub(&pool.busy, 1) == 1)
      wake(&pool.done);
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
  pool.fn = fn, pool.arg = arg, pool.nitems = nitems;
  atomic_store(&pool.next, 0);
  atomic_store(&pool.wanted, helpers < pool.nworkers ? helpers : pool.nworkers);
  atomic_fetch_add(&pool.job, 1);
  wake(&pool.go);
  in_job = true;
  take_items();
  in_job = false;
  atomic_store(&pool.wanted, 0); /* later workers are not waited for */
  for (unsigned b; (b = atomic_load(&pool.busy)) > 0;)
    wait_while(&pool.busy, b, &pool.done);
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
