/* nn_pass.c: passes through a net over a batch of examples: each
   module's view of a pass (NnCtx), the examples' generators, the steps of
   a pass spread over the threads slice by slice (lu_nn_run), the slices'
   gradients and their sum, and the Lisp side of single passes: nn-fprop,
   nn-bprop, nn-bbprop, the states they leave (nn-state, nn-state-grad),
   and nn-reference. */
#include "nn_impl.h"

#include <stdatomic.h>
#include <string.h>

/* Whether nets use the reference kernels (nn-reference). */
static bool use_reference;

/* Module i's parameters, states and scratch in the work area ex of one
   example of pass p, its gradients in gbase (laid out as p->top's). */
static NnCtx ctx_of(LuNet *n, int i, float *ex, const NnPass *p, float *gbase) {
  NnModule *m = n->mod[i];
  long g = (n->pdw - p->top->pdw) + m->poff;
  NnCtx c = {.net = n,
             .m = m,
             .w = n->pw + m->poff,
             .dw = gbase ? gbase + g : NULL,
             .ddw = gbase ? gbase + g : NULL,
             .scratch = ex + m->soff,
             .train = p->train,
             .replay = p->replay,
             .ref = use_reference,
             .y2 = i + 2 <= n->nmod ? ex + n->xoff[i + 2] : NULL,
             .nb = m->whole && p->train ? p->nb : 1,
             .ws = p->ws,
             .pass = p,
             .ex = p->ex0,
             .gbase = gbase};
  return c;
}

/* splitmix64: the examples' generators, one 64-bit state each. */
static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

uint32_t lu_nn_rand(NnCtx *c) {
  if (!c->pass || !c->pass->rng)
    return lu_rand_u32();
  return (uint32_t)(splitmix(&c->pass->rng[c->ex]) >> 32);
}

/* ---- Passes through the net -------------------------------------------------
 */

/* The steps of a pass, for one example: k < nmod runs module k forward,
   k == nmod the cost hook, k > nmod module 2 nmod - k backward. A run
   goes through steps [from, to) for the examples of a slice, group at a
   time (see NnPass). */
typedef struct {
  LuNet *n;
  float *work;
  const NnPass *p;
  const NnHooks *h;
  int from, to, group;
  bool load, second, input;
  unsigned long id; /* this run's number, for the threads' claims */
  atomic_int sets;  /* sets of areas claimed so far (see area_set) */
} Run;

/* Whether step k of pass p runs once for the whole batch: whole-batch
   modules do in training; in evaluation their examples are independent. */
static bool whole_step(const LuNet *n, const NnPass *p, int k) {
  return p->train && k != n->nmod &&
         n->mod[k < n->nmod ? k : 2 * n->nmod - k]->whole;
}

/* Whether step k of the run goes once through a group's examples: fprop
   and bprop of modules that batch (second derivatives go one by one). */
static bool batch_step(const Run *r, int k) {
  LuNet *n = r->n;
  if (k == n->nmod || (k > n->nmod && r->second))
    return false;
  return n->mod[k < n->nmod ? k : 2 * n->nmod - k]->batch;
}

/* Whether the examples of a group take turns with one copy of what they
   do not keep (see NnPass), so that they need less of the cache. */
static bool take_turns(const Run *r) {
  return r->p->shared && r->group > 1;
}

/* Whether the gradient of state j is made and used by steps that go
   example after example (see take_turns). */
static bool passing_grad(const Run *r, int j) {
  return take_turns(r) && j > 0 && j < r->n->nmod &&
         !batch_step(r, 2 * r->n->nmod - j) &&
         !batch_step(r, 2 * r->n->nmod - j + 1);
}

/* Whether state j is the sum before a squash that the module before it
   applies, made by a step that goes example after example: no backward
   step reads it (see NN_SQUASHING), so examples take turns with it. */
static bool passing_sum(const Run *r, int j) {
  LuNet *n = r->n;
  return take_turns(r) && j < n->nmod && n->mod[j]->fused &&
         !n->mod[j - 1]->batch;
}

/* Step k for the ne examples from b of the run, in their work areas from
   ex (for the whole batch when b is -1), their gradients into gbase;
   what the examples of a group take turns with in gex (see NnPass). */
static void step(const Run *r, int k, float *ex, float *gex, long b, long ne,
                 float *gbase) {
  LuNet *n = r->n;
  if (k == n->nmod) {
    if (r->h && r->h->cost)
      r->h->cost(r->h->arg, ex, b);
    return;
  }
  bool fwd = k < n->nmod;
  int i = fwd ? k : 2 * n->nmod - k;
  NnModule *m = n->mod[i];
  NnCtx c = ctx_of(n, i, ex, r->p, gbase);
  c.ex += b > 0 ? b : 0;
  if (ne > 1)
    c.nb = ne;
  if (m->redo_scratch && gex && take_turns(r)) {
    c.scratch = gex + m->soff;
    c.shared_scratch = true;
  }
  float *x = (gex && passing_sum(r, i) ? gex : ex) + n->xoff[i];
  float *y = (gex && passing_sum(r, i + 1) ? gex : ex) + n->xoff[i + 1];
  if (fwd) {
    if (!m->fused)
      m->ops->fprop(&c, x, y);
    return;
  }
  long d = r->second ? 2 : 1;
  float *dx = (passing_grad(r, i) ? gex : ex) + n->xoff[i] + d * n->stride[i];
  float *dy = (passing_grad(r, i + 1) ? gex : ex) + n->xoff[i + 1] +
              d * n->stride[i + 1];
  if (i == 0 && !r->input)
    dx = NULL;
  if (!dx && !(m->ops->flags & NN_BACK_ALWAYS) && m->np == 0)
    return; /* no parameters and no input gradient wanted */
  const NnEager *e = r->second ? NULL : r->p->eager;
  long g = c.dw ? c.dw - gbase : 0;
  LuSgdStep st;
  if (e && e->fuse && m->steps && !c.ref) { /* the module steps itself */
    st = e->sgd;
    st.rate = st.rate ? st.rate + g : NULL;
    c.sgd = &st;
  }
  (r->second ? m->ops->bbprop : m->ops->bprop)(&c, x, y, dy, dx);
  if (e && !c.sgd && m->np > 0) /* its gradients are complete: step them */
    lu_nn_opt_range(e->opt, r->p->top, g, g + m->np);
}

/* The work area of example b of the group from b0: its own, or when the
   pass shares them, its place among the group's areas in set (of group
   areas, one set per thread). */
static float *area(const Run *r, long b, long b0, int set) {
  const NnPass *p = r->p;
  if (!p->shared)
    return r->work + b * p->ws;
  return r->work + (set * p->group + (b - b0)) * p->ws;
}

/* The set of areas a thread claimed, and in which run. */
typedef struct {
  unsigned long run;
  int set;
} Claim;

static atomic_ulong nruns;
static _Thread_local Claim claim;

/* The set of areas of the calling thread in run r of a shared pass: its
   first slice of the run claims the next one, so that the examples of
   every slice it runs go through the same areas, which stay in its
   cache. At most one set per thread is claimed (lu_nn_pass makes as
   many), and per slice. */
static int area_set(Run *r) {
  if (claim.run != r->id) {
    claim.run = r->id;
    claim.set = atomic_fetch_add(&r->sets, 1);
  }
  return claim.set;
}

/* The run's steps for the examples [b0, b1) of slice s, in areas of set:
   each step that batches once for all of them (when there are several),
   the steps between example after example. */
static void run_group(const Run *r, long b0, long b1, int s, int set) {
  bool many = b1 - b0 > 1, load = r->load;
  float *g = r->p->grad[s];
  for (int k = r->from; k < r->to || load;) {
    int e = k;
    while (e < r->to && !(many && batch_step(r, e)))
      e++;
    for (long b = b0; b < b1 && (e > k || load); b++) {
      float *ex = area(r, b, b0, set);
      if (load)
        r->h->load(r->h->arg, ex, b);
      for (int j = k; j < e; j++)
        step(r, j, ex, area(r, b0, b0, set), b, 1, g);
    }
    load = false;
    if (e < r->to)
      step(r, e++, area(r, b0, b0, set), NULL, b0, b1 - b0, g);
    k = e;
  }
}

/* The run's steps for the examples of slice s, in order, group by group. */
static void run_slice(void *arg, long s) {
  Run *r = arg;
  const NnPass *p = r->p;
  int set = p->shared ? area_set(r) : 0;
  long end = (s + 1) * p->nb / p->nslice;
  for (long b = s * p->nb / p->nslice; b < end && !lu_interrupted;
       b += r->group)
    run_group(r, b, b + r->group < end ? b + r->group : end, (int)s, set);
}

void lu_nn_run(LuNet *n, float *work, const NnPass *p, const NnHooks *h,
               bool fwd, bool back, bool second, bool input) {
  Run r = {.n = n,
           .work = work,
           .p = p,
           .h = h,
           .group = n->batch ? p->group : 1,
           .load = fwd && h && h->load,
           .second = second,
           .input = input};
  int to = back ? 2 * n->nmod + 1 : n->nmod + 1;
  Claim outer = claim; /* of a run this one is nested in (Lisp code) */
  for (int k = fwd ? 0 : n->nmod + 1; k < to || r.load;) {
    if (lu_interrupted && p->nb > 1) /* the slices stopped: so does this */
      break;
    int e = k;
    while (e < to && !whole_step(n, p, e))
      e++;
    if (e == k && !r.load) { /* a module that needs the whole batch */
      step(&r, k++, work, NULL, -1, 1, p->grad[0]);
      continue;
    }
    r.from = k, r.to = e;
    if (p->nb == 1)
      run_group(&r, 0, 1, 0, 0);
    else {
      r.id = atomic_fetch_add(&nruns, 1) + 1;
      atomic_store(&r.sets, 0);
      lu_nn_parallel(p->nslice, p->serial, run_slice, &r);
    }
    r.load = false;
    k = e;
  }
  claim = outer;
}

void lu_nn_fprop(LuNet *n, float *work, const NnPass *p) {
  lu_nn_run(n, work, p, NULL, true, false, false, false);
}

void lu_nn_back(LuNet *n, float *work, const NnPass *p, bool second,
                bool input) {
  lu_nn_run(n, work, p, NULL, false, true, second, input);
}

/* The gradient vectors of slices 1.. of a batch of nb on n, zeroed. */
static void slice_grads(LuNet *n, NnPass *p) {
  long need = (p->nslice - 1) * (n->nparams + 16);
  if (n->sgrad && n->sgrad_dirty) /* a pass stopped before its reduce */
    memset(lu_tensor_data(n->sgrad), 0,
           sizeof(float) * (size_t)lu_tensor_nelem(n->sgrad));
  if (need && (!n->sgrad || lu_tensor_nelem(n->sgrad) < need))
    n->sgrad = lu_tensor_make(LU_FLOAT, 1, &need, NULL, NULL, 0);
  for (int s = 1; s < p->nslice; s++)
    p->grad[s] =
        (float *)lu_tensor_data(n->sgrad) + (s - 1) * (n->nparams + 16);
  n->sgrad_dirty = need > 0;
}

/* Per-example generators for a training batch, seeded from one draw of
   the global generator. */
static uint64_t *batch_rng(LuNet *n, long nb) {
  if (!n->rng || n->nrng < nb) {
    n->rng = lu_alloc_atomic(sizeof(uint64_t) * (size_t)nb, "nn");
    n->nrng = nb;
  }
  uint64_t base = (uint64_t)lu_rand_u32() << 32 | lu_rand_u32();
  for (long b = 0; b < nb; b++) {
    uint64_t s = base + (uint64_t)b;
    n->rng[b] = splitmix(&s);
  }
  return n->rng;
}

/* What lu_nn_reduce does on each range. */
typedef struct {
  const NnPass *p;
  void (*then)(void *arg, long beg, long end);
  void *arg;
} Reduce;

/* The reduction of parameters [c P / 16, (c + 1) P / 16), for every
   slice in order, each slice's vector left zeroed for the next pass;
   then the range's follow-up. */
static void reduce_chunk(void *arg, long c) {
  const Reduce *r = arg;
  const NnPass *p = r->p;
  long np = p->top->nparams, beg = c * np / 16, end = (c + 1) * np / 16;
  for (int s = 1; s < p->nslice; s++) {
    float *g = p->grad[s];
    for (long i = beg; i < end; i++) {
      p->grad[0][i] += g[i];
      g[i] = 0;
    }
  }
  if (r->then)
    r->then(r->arg, beg, end);
}

void lu_nn_reduce(LuNet *n, const NnPass *p,
                  void (*then)(void *arg, long beg, long end), void *arg) {
  Reduce r = {.p = p, .then = then, .arg = arg};
  if (p->nslice > 1)
    lu_nn_parallel(16, false, reduce_chunk, &r);
  else if (then)
    then(arg, 0, n->nparams);
  n->sgrad_dirty = false;
}

NnPass lu_nn_pass(LuNet *n, long nb, bool train, float *grad, bool keep) {
  NnPass p = {.top = n,
              .ws = n->worksize,
              .nb = nb,
              .train = train,
              .serial = n->has_lisp,
              .nslice = nb < NN_SLICES ? (int)nb : NN_SLICES,
              .group = 1,
              .shared = !keep && !(train && n->whole)};
  long most = (nb + p.nslice - 1) / p.nslice; /* in a slice */
  if (n->batch && most > 1)
    p.group = most < NN_GROUP ? (int)most : NN_GROUP;
  /* shared: a set of group areas for each thread that can claim one */
  int sets = p.serial ? 1 : lu_nn_threads();
  sets = sets < p.nslice ? sets : p.nslice;
  lu_nn_slots(n, p.shared ? (long)sets * p.group : nb);
  p.buf = n->work;
  p.grad[0] = grad;
  if (grad)
    slice_grads(n, &p);
  if (train && nb > 1)
    p.rng = batch_rng(n, nb);
  return p;
}
/* ---- Passes from Lisp ------------------------------------------------------
 */

/* The examples in x for inputs (or outputs) of shape s: -1 for one
   example, B for a batch [B s...]. A tensor with one dimension more than
   s is a batch; else one that fits s is one example. Raises naming who. */
static long batch_of(const char *who, const LuTensor *x, const NnShape *s) {
  bool rest = x->ndim >= 1 && x->dim[0] >= 1 &&
              lu_nn_shape_fits(s, x->dim + 1, x->ndim - 1);
  if (rest && x->ndim == s->ndim + 1)
    return x->dim[0];
  if (lu_nn_shape_fits(s, x->dim, x->ndim))
    return -1;
  if (rest)
    return x->dim[0];
  NnShape xs = lu_nn_shape_make(x->ndim, x->dim);
  lu_error("%s: expected a tensor of shape %s, got %s (or a batch [B %s)", who,
           lu_nn_shape_cstr(s), lu_nn_shape_cstr(&xs), lu_nn_shape_cstr(s) + 1);
}

/* Reads x (nb examples as batch_of says) into state i (which: 0 x, 1 dx,
   2 ddx) of the examples of n's work buffer. */
static void read_state(LuNet *n, const LuTensor *x, long nb, int i, int which) {
  float *w = lu_nn_slots(n, nb < 0 ? 1 : nb);
  long off = n->xoff[i] + which * n->stride[i];
  if (nb < 0)
    lu_nn_read(x, 0, x->offset, w + off);
  for (long b = 0; b < nb; b++)
    lu_nn_read_example(x, b, w + b * n->worksize + off);
}

/* A view of state i (which: 0 x, 1 dx, 2 ddx) of the last pass: of its
   one example, or of its batch when it had nb >= 1 examples. */
static LuTensor *state_of(LuNet *n, int i, int which, long nb) {
  lu_nn_slots(n, 1);
  long off = n->xoff[i] + which * n->stride[i];
  return lu_nn_view_batch(n->work, off, nb < 0 ? 0 : nb, n->worksize,
                          &n->shape[i]);
}

static LuValue *state_copy(LuNet *n, int i, int which, long nb) {
  LuTensor *v = state_of(n, i, which, nb);
  LuTensor *t = lu_tensor_make(LU_FLOAT, v->ndim, v->dim, NULL, NULL, 0);
  lu_tensor_copy(t, v);
  return lu_tensor_value(t);
}

LU_DEFUN(nn_fprop, "(nn-fprop NET X)",
         "Runs NET forward on the tensor X, one example of the net's input "
         "shape (size-1 dimensions may differ) or a batch [B input-shape...] "
         "of them, in the net's mode, and returns a new tensor holding the "
         "output (or the batch [B output-shape...] of outputs; in training "
         "mode batch normalisation uses the batch's statistics). The "
         "states stay in the net for nn-bprop and nn-state. A batch runs "
         "over (nn-threads) threads.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  LuTensor *x = lu_arg_tensor(argv, 1);
  long nb = batch_of("nn-fprop", x, &n->shape[0]);
  NnPass p = lu_nn_pass(n, nb < 0 ? 1 : nb, n->train, NULL, true);
  read_state(n, x, nb, 0, 0);
  lu_nn_fprop(n, lu_tensor_data(n->work), &p);
  lu_poll();
  n->fresh = nb;
  return state_copy(n, n->nmod, 0, nb);
}

static LuValue *back_builtin(LuValue **argv, bool second, const char *who) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  if (!n->fresh)
    lu_error("%s: no nn-fprop on this net yet", who);
  LuTensor *d = lu_arg_tensor(argv, 1);
  long nb = batch_of(who, d, &n->shape[n->nmod]);
  if (nb != n->fresh)
    lu_error("%s: the last nn-fprop ran %ld example%s, but %s has %ld", who,
             n->fresh < 0 ? 1 : n->fresh, n->fresh == 1 ? "" : "s",
             lu_repr_limit(argv[1], 60), nb < 0 ? 1 : nb);
  read_state(n, d, nb, n->nmod, second ? 2 : 1);
  NnPass p =
      lu_nn_pass(n, nb < 0 ? 1 : nb, n->train, second ? n->pddw : n->pdw, true);
  lu_nn_back(n, lu_tensor_data(n->work), &p, second, true);
  lu_nn_reduce(n, &p, NULL, NULL);
  lu_poll();
  return state_copy(n, 0, second ? 2 : 1, nb);
}

LU_DEFUN(nn_bprop, "(nn-bprop NET DY)",
         "Back-propagates the output gradient DY (or a batch of them, after "
         "an nn-fprop of a batch of as many) through NET, as left by the "
         "last nn-fprop: adds the parameter gradients, summed over a "
         "batch, into (nn-grads NET) and returns a new tensor holding the "
         "gradient with respect to the input (or the batch of them).") {
  (void)argc;
  return back_builtin(argv, false, "nn-bprop");
}

LU_DEFUN(nn_bbprop, "(nn-bbprop NET DDY)",
         "Back-propagates the output second derivatives DDY (or a batch of "
         "them, as nn-bprop) through NET (the Gauss-Newton diagonal "
         "approximation of the Hessian): adds the parameters' second "
         "derivatives into (nn-hessian NET) and returns a new tensor of the "
         "input's.") {
  (void)argc;
  return back_builtin(argv, true, "nn-bbprop");
}

static int state_index(LuValue **argv, LuNet *n) {
  return lu_nn_arg_range(argv, 1, 0, n->nmod);
}

/* State I (argument 1) of NET, or its gradient when grad: a view of the
   work buffer, of the last nn-fprop's batch when it ran one. */
static LuValue *state_view(LuValue **argv, bool grad) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  int i = state_index(argv, n);
  return lu_tensor_value(state_of(n, i, grad ? 1 : 0, n->fresh));
}

LU_DEFUN(nn_state, "(nn-state NET I)",
         "State I of NET as left by the last passes: 0 is the input, I the "
         "output of module I (1-based), (nn-nmodules NET) the output; "
         "after an nn-fprop of a batch, [B state-shape...]. A view: "
         "the next pass overwrites it.") {
  (void)argc;
  return state_view(argv, false);
}

LU_DEFUN(nn_state_grad, "(nn-state-grad NET I)",
         "The gradient of state I of NET (see nn-state) as left by the last "
         "nn-bprop. A view.") {
  (void)argc;
  return state_view(argv, true);
}

LU_DEFUN(nn_reference, "(nn-reference [FLAG])",
         "Whether nets use the plain reference kernels instead of the "
         "optimised ones (for tests and debugging); with FLAG, sets it.") {
  if (argc > 0)
    use_reference = !LU_ISNIL(argv[0]);
  return LU_BOOL(use_reference);
}

static LuBuiltin *const pass_builtins[] = {&nn_fprop_builtin,
                                           &nn_bprop_builtin,
                                           &nn_bbprop_builtin,
                                           &nn_state_builtin,
                                           &nn_state_grad_builtin,
                                           &nn_reference_builtin,
                                           NULL};

void lu_nn_pass_open(void) {
  lu_register(pass_builtins);
}
