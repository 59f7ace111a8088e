/* net.c: nets of the backprop simulator, and their Lisp builtins.
   (nn-seq SHAPE MODULE...) builds a net: it infers every module's input
   shape, lays all parameters out in one flat vector (values, gradients,
   second derivatives, per-parameter rate factors; each module's weights are
   a range of it) and owns the intermediate states (x, dx, ddx), kept with
   the modules' scratch in one work buffer per thread. The passes through
   a net; the states and flat vectors as views; the list of module families
   to open. */
#include "nn_impl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static LuValue *shape_list(const NnShape *s) {
  LuValue *l = lu_nil;
  for (int i = s->ndim - 1; i >= 0; i--)
    l = lu_cons(lu_number((double)s->dim[i]), l);
  return l;
}

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

/* ---- Nets
 * ----------------------------------------------------------------------- */

static void net_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  LuNet *n = v->cdata.ptr;
  lu_buf_printf(b, "#<nn-net %s -> %s, %d modules, %ld params>",
                lu_nn_shape_cstr(&n->shape[0]),
                lu_nn_shape_cstr(&n->shape[n->nmod]), n->nmod, n->nparams);
}

const LuCType lu_nn_net_ctype = {"nn-net", net_print, NULL, NULL};

static long round16(long n) {
  return (n + 15) / 16 * 16;
}

/* Lays out states and scratch in a work buffer: state i's x, dx and ddx
   each rounded up to 16 floats plus 16 of slack, so vector reads past a
   state's end stay inside the buffer. */
static void net_layout(LuNet *n) {
  long at = 0;
  n->xoff = lu_alloc_atomic(sizeof(long) * (size_t)(n->nmod + 1), "nn-seq");
  n->stride = lu_alloc_atomic(sizeof(long) * (size_t)(n->nmod + 1), "nn-seq");
  for (int i = 0; i <= n->nmod; i++) {
    n->xoff[i] = at;
    n->stride[i] = round16(n->shape[i].n) + 16;
    at += 3 * n->stride[i];
  }
  long p = 0;
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    m->soff = at;
    at += round16(m->ns) + 16;
    m->poff = m->tie ? m->tie->poff : p;
    p += m->tie ? 0 : m->np;
  }
  n->worksize = at + 64;
  n->nparams = p;
}

static LuTensor *float_vector(long n) {
  return lu_tensor_make(LU_FLOAT, 1, &n, NULL, NULL, 0);
}

static void net_place_inner(LuNet *n);

float *lu_nn_slots(LuNet *n, long nb) {
  if (n->outer && nb > 1)
    lu_error("%s: a net inside another runs its batches as part of the outer "
             "net",
             lu_caller());
  if (!n->work || n->cap < nb) {
    long cap = nb > 1 ? nb : 1;
    if (cap > (LONG_MAX - 64) / n->worksize)
      lu_error("%s: a batch of %ld examples is too large", lu_caller(), nb);
    LuTensor *t = float_vector(cap * n->worksize + 64);
    if (n->work) /* keep example 0's states, and the scratch kept by kernels */
      memcpy(lu_tensor_data(t), lu_tensor_data(n->work),
             sizeof(float) * (size_t)(n->cap * n->worksize));
    n->work = t;
    n->cap = cap;
    net_place_inner(n);
  }
  return lu_tensor_data(n->work);
}

/* Fuses each squash that follows a conv or linear module into it. */
static void net_fuse(LuNet *n) {
  for (int i = 0; i + 1 < n->nmod; i++) {
    NnModule *a = n->mod[i], *b = n->mod[i + 1];
    if ((a->ops->flags & NN_FUSES_SQUASH) && (b->ops->flags & NN_SQUASHING)) {
      a->fuse = b->squash;
      b->fused = true;
    }
  }
}

/* Initialises the parameters of every module; those made by nn-parameter
   too when lisp is true (a net being built keeps their values). */
void lu_nn_init_params(LuNet *n, double a, double bias, bool lisp) {
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    if (m->ops->init && !m->tie)
      m->ops->init(m, n->pw + m->poff, a, bias);
    for (int j = 0; lisp && j < m->nlparam; j++)
      if (m->lpoff[j] >= 0)
        lu_nn_param_init(m->lparam[j], a, bias);
    LuNet **inner;
    int k = m->ops->nets ? m->ops->nets(m, &inner) : 0;
    for (int b = 0; b < k; b++)
      lu_nn_init_params(inner[b], a, bias, lisp);
  }
}

static void net_move(LuNet *n, LuNet *outer, long p, long s);

/* Whether net x is inside one of n's containers, at any depth. */
static bool net_contains(LuNet *n, const LuNet *x) {
  for (int i = 0; i < n->nmod; i++) {
    LuNet **inner;
    int k = n->mod[i]->ops->nets ? n->mod[i]->ops->nets(n->mod[i], &inner) : 0;
    for (int b = 0; b < k; b++)
      if (inner[b] == x || net_contains(inner[b], x))
        return true;
  }
  return false;
}

/* Gives each parameter made by nn-parameter to the first module of n that
   uses it: its range grows by the parameter's size (lpoff), the later
   users share it (lpoff -1), as do the users of a parameter already in a
   net inside n. A branch of a container may also share a parameter of
   another branch: check_shared checks, once the whole net is
   built, that it is inside. */
static void net_own_params(LuNet *n, bool branch) {
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    for (int j = 0; j < m->nlparam; j++) {
      NnParam *p = m->lparam[j];
      bool seen = p->net && (branch || net_contains(n, p->net));
      for (int a = 0; a <= i && !seen; a++)
        for (int b = 0; b < (a == i ? j : n->mod[a]->nlparam) && !seen; b++)
          seen = n->mod[a]->lparam[b] == p;
      if (!seen && p->net)
        lu_error("nn-seq: module %d (%s) uses a parameter that belongs to "
                 "another net",
                 i + 1, m->ops->kind);
      m->lpoff[j] = seen ? -1 : m->np;
      m->np += seen ? 0 : p->n;
    }
  }
}

/* Raises unless every parameter the modules of top (at any depth) share
   is in top's flat vectors: one kept in another net would never be
   trained with this one. */
static void check_shared(LuNet *top, LuNet *n) {
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    for (int j = 0; j < m->nlparam; j++) {
      LuNet *at = m->lparam[j]->net;
      if (at != top && !net_contains(top, at))
        lu_error("nn-seq: module %d (%s) uses a parameter that belongs to "
                 "another net",
                 i + 1, m->ops->kind);
    }
    LuNet **inner;
    int k = m->ops->nets ? m->ops->nets(m, &inner) : 0;
    for (int b = 0; b < k; b++)
      check_shared(top, inner[b]);
  }
}

/* Points the parameters made by nn-parameter at n's flat vectors, and the
   flat vectors and work buffer of the nets inside n's containers at their
   ranges of n's (of its first example). */
static void net_place_inner(LuNet *n) {
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    for (int j = 0; j < m->nlparam; j++)
      if (m->lpoff[j] >= 0) {
        long at = m->poff + m->lpoff[j];
        lu_nn_param_move(m->lparam[j], n->pw + at, n->pdw + at, n->pddw + at);
        m->lparam[j]->net = n;
      }
    LuNet **inner;
    int k = m->ops->nets ? m->ops->nets(m, &inner) : 0;
    long p = m->poff, s = m->soff;
    for (int b = 0; b < k; b++) {
      net_move(inner[b], n, p, s);
      p += inner[b]->nparams;
      s += inner[b]->worksize;
    }
  }
}

/* Moves the flat vectors of n (a net inside a container of outer) to
   outer's, from parameter p on, keeping their contents, and its work
   buffer of thread 0 to outer's, from float s on: the storages are
   pointed there, so views made before stay valid. Then the same for
   everything inside n. */
static void net_move(LuNet *n, LuNet *outer, long p, long s) {
  float *to[4] = {outer->pw + p, outer->pdw + p, outer->pddw + p,
                  outer->prate + p};
  for (int k = 0; k < 4; k++) {
    LuStorage *st = n->pvec[k]->st;
    memmove(to[k], st->data, sizeof(float) * (size_t)n->nparams);
    st->data = to[k];
  }
  n->pw = to[0], n->pdw = to[1], n->pddw = to[2], n->prate = to[3];
  n->work->st->data = lu_nn_slots(outer, 1) + s;
  net_place_inner(n);
}

/* Every state has at least one element in every dimension: the modules
   divide by their input's sizes. Raises naming module i. */
static void check_output(NnModule *m, int i, const NnShape *out) {
  bool ok = out->ndim >= 1 && out->n <= 1e10;
  for (int d = 0; d < out->ndim; d++)
    ok = ok && out->dim[d] >= 1;
  if (!ok)
    lu_error("nn-seq: module %d (%s) outputs %s: every dimension must be at "
             "least 1",
             i + 1, m->ops->kind, lu_nn_shape_cstr(out));
}

/* Module value v (argument i of the caller) as a module: an nn-module, a
   net (run by a container module) or a Lisp object. */
static NnModule *module_arg(LuValue *v, int i) {
  if (LU_IS(v, LU_OBJECT))
    return lu_nn_lisp_module(v);
  if (LU_IS(v, LU_CDATA) && v->cdata.ctype == &lu_nn_net_ctype)
    return lu_nn_net_module(v->cdata.ptr);
  if (LU_IS(v, LU_CDATA) && v->cdata.ctype == &lu_nn_module_ctype)
    return v->cdata.ptr;
  lu_error("nn-seq: module %d: expected an nn-module, a net or a Lisp object, "
           "got %s",
           i + 1, lu_repr_limit(v, 60));
}

/* Module first used again as module i, for inputs in: a copy of it that
   runs on its own states and scratch but with first's parameters (shared
   weights, gradients summed). Sets out. Raises when in is not first's
   input shape, or first is a container. */
static NnModule *tie(NnModule *first, int i, const NnShape *in, NnShape *out) {
  if (first->ops->nets)
    lu_error("nn-seq: module %d (%s) appears twice: a container cannot", i + 1,
             first->ops->kind);
  if (in->ndim != first->in.ndim ||
      memcmp(in->dim, first->in.dim, sizeof(long) * (size_t)in->ndim))
    lu_error("nn-seq: module %d (%s) is module %d again, made for inputs %s, "
             "but gets %s",
             i + 1, first->ops->kind, first->index + 1,
             lu_nn_shape_cstr(&first->in), lu_nn_shape_cstr(in));
  NnModule *m = lu_alloc(sizeof *m);
  *m = *first;
  m->tie = first;
  m->fuse = LU_SQ_NONE;
  m->fused = false;
  *out = first->out;
  return m;
}

LuNet *lu_nn_build(const NnShape *in, int nmod, LuValue **mods, bool branch) {
  if (nmod < 1)
    lu_error("nn-seq: a net needs at least one module");
  LuNet *n = lu_alloc(sizeof *n);
  n->nmod = nmod;
  n->mod = lu_alloc(sizeof(NnModule *) * (size_t)n->nmod);
  n->shape = lu_alloc_atomic(sizeof(NnShape) * (size_t)(n->nmod + 1), "nn-seq");
  n->shape[0] = *in;
  n->train = true;
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = module_arg(mods[i], i);
    if (m->net)
      lu_error("nn-seq: module %d (%s) already belongs to a net", i + 1,
               m->ops->kind);
    NnModule *first = NULL;
    for (int j = 0; j < i && !first; j++)
      if (n->mod[j] == m || n->mod[j]->tie == m)
        first = m;
    if (first)
      m = tie(first, i, &n->shape[i], &n->shape[i + 1]);
    n->mod[i] = m;
    m->index = i;
    m->in = n->shape[i];
    if (!first)
      m->ops->setup(m, &n->shape[i], &n->shape[i + 1]);
    check_output(m, i, &n->shape[i + 1]);
    m->out = n->shape[i + 1];
    n->has_lisp |= m->lisp;
    m->whole |= (m->ops->flags & NN_WHOLE_BATCH) != 0;
    n->whole |= m->whole;
  }
  net_own_params(n, branch);
  net_layout(n);
  for (int i = 0; i < 4; i++)
    n->pvec[i] = float_vector(n->nparams + 64);
  n->pw = lu_tensor_data(n->pvec[0]);
  n->pdw = lu_tensor_data(n->pvec[1]);
  n->pddw = lu_tensor_data(n->pvec[2]);
  n->prate = lu_tensor_data(n->pvec[3]);
  for (long i = 0; i < n->nparams; i++)
    n->prate[i] = 1;
  net_fuse(n);
  lu_nn_slots(n, 1);
  for (int i = 0; i < n->nmod; i++)
    n->mod[i]->net = n;
  net_place_inner(n);
  lu_nn_init_params(n, 1, 0, false);
  n->self = lu_cdata(&lu_nn_net_ctype, n);
  return n->self->cdata.ptr;
}

LU_DEFUN(nn_seq, "(nn-seq SHAPE MODULE...)",
         "Builds a net: the MODULEs in sequence, for inputs of SHAPE (a list "
         "such as (1 16 16)). Each module is an nn-module, a net (nets nest: "
         "its input shape must fit the state before it), or a Lisp object "
         "with fprop and bprop methods (see nn.lsp). The net owns the "
         "intermediate states and one flat parameter vector (see nn-params), "
         "initialised as by (nn-init net 1 0), except that parameters made "
         "by nn-parameter keep their values. A module belongs to one net.") {
  NnShape in = lu_nn_shape_arg(argv, 0);
  LuNet *n = lu_nn_build(&in, argc - 1, argv + 1, false);
  check_shared(n, n);
  return n->self;
}

LuNet *lu_nn_arg_net(LuValue **argv, int i) {
  return lu_arg_cdata(argv, i, &lu_nn_net_ctype);
}

/* ---- Passes through the net -------------------------------------------------
 */

/* The steps of a pass, for one example: k < nmod runs module k forward,
   k == nmod the cost hook, k > nmod module 2 nmod - k backward. A run
   goes through steps [from, to) for the examples of a slice. */
typedef struct {
  LuNet *n;
  float *work;
  const NnPass *p;
  const NnHooks *h;
  int from, to;
  bool load, second, input;
} Run;

/* Whether step k of pass p runs once for the whole batch: whole-batch
   modules do in training; in evaluation their examples are independent. */
static bool whole_step(const LuNet *n, const NnPass *p, int k) {
  return p->train && k != n->nmod &&
         n->mod[k < n->nmod ? k : 2 * n->nmod - k]->whole;
}

/* Step k for example b of the run, in its work area ex (for the whole
   batch when b is -1), its gradients into gbase. */
static void step(const Run *r, int k, float *ex, long b, float *gbase) {
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
  float *x = ex + n->xoff[i], *y = ex + n->xoff[i + 1];
  if (fwd) {
    if (!m->fused)
      m->ops->fprop(&c, x, y);
    return;
  }
  long d = r->second ? 2 : 1;
  float *dx = i > 0 || r->input ? x + d * n->stride[i] : NULL;
  if (!dx && !(m->ops->flags & NN_BACK_ALWAYS) && m->np == 0)
    return; /* no parameters and no input gradient wanted */
  (r->second ? m->ops->bbprop : m->ops->bprop)(&c, x, y,
                                               y + d * n->stride[i + 1], dx);
}

/* The run's steps for example b of slice s: in its own work area, or in
   the slice's when the pass shares them. */
static void run_example(const Run *r, long b, int s) {
  const NnPass *p = r->p;
  float *ex = r->work + (p->shared ? s : b) * p->ws;
  if (r->load)
    r->h->load(r->h->arg, ex, b);
  for (int k = r->from; k < r->to; k++)
    step(r, k, ex, b, p->grad[s]);
}

/* The run's steps for the examples of slice s, in order. */
static void run_slice(void *arg, long s) {
  const Run *r = arg;
  const NnPass *p = r->p;
  long end = (s + 1) * p->nb / p->nslice;
  for (long b = s * p->nb / p->nslice; b < end && !lu_interrupted; b++)
    run_example(r, b, (int)s);
}

void lu_nn_run(LuNet *n, float *work, const NnPass *p, const NnHooks *h,
               bool fwd, bool back, bool second, bool input) {
  Run r = {.n = n,
           .work = work,
           .p = p,
           .h = h,
           .load = fwd && h && h->load,
           .second = second,
           .input = input};
  int to = back ? 2 * n->nmod + 1 : n->nmod + 1;
  for (int k = fwd ? 0 : n->nmod + 1; k < to || r.load;) {
    int e = k;
    while (e < to && !whole_step(n, p, e))
      e++;
    if (e == k && !r.load) { /* a module that needs the whole batch */
      step(&r, k++, work, -1, p->grad[0]);
      continue;
    }
    r.from = k, r.to = e;
    if (p->nb == 1)
      run_example(&r, 0, 0);
    else
      lu_nn_parallel(p->nslice, p->serial, run_slice, &r);
    r.load = false;
    k = e;
  }
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
  if (need && (!n->sgrad || lu_tensor_nelem(n->sgrad) < need))
    n->sgrad = float_vector(need);
  else if (need && n->sgrad_dirty) /* a pass stopped before its reduce */
    memset(lu_tensor_data(n->sgrad), 0, sizeof(float) * (size_t)need);
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

/* The reduction of parameters [c P / 16, (c + 1) P / 16), for every
   slice in order, each slice's vector left zeroed for the next pass. */
static void reduce_chunk(void *arg, long c) {
  const NnPass *p = arg;
  long np = p->top->nparams, beg = c * np / 16, end = (c + 1) * np / 16;
  for (int s = 1; s < p->nslice; s++) {
    float *g = p->grad[s];
    for (long i = beg; i < end; i++) {
      p->grad[0][i] += g[i];
      g[i] = 0;
    }
  }
}

void lu_nn_reduce(LuNet *n, const NnPass *p) {
  if (p->nslice > 1)
    lu_nn_parallel(16, false, reduce_chunk, (void *)p);
  n->sgrad_dirty = false;
}

NnPass lu_nn_pass(LuNet *n, long nb, bool train, float *grad, bool keep) {
  NnPass p = {.top = n,
              .ws = n->worksize,
              .nb = nb,
              .train = train,
              .serial = n->has_lisp,
              .nslice = nb < NN_SLICES ? (int)nb : NN_SLICES,
              .shared = !keep && !(train && n->whole)};
  lu_nn_slots(n, p.shared ? p.nslice : nb);
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
  lu_nn_reduce(n, &p);
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

static LuValue *param_view(LuNet *n, int which, long off, const NnShape *s) {
  return lu_tensor_value(lu_nn_view(n->pvec[which], off, s));
}

static LuValue *flat_view(LuValue **argv, int which) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  NnShape s = lu_nn_shape_make(1, &n->nparams);
  return param_view(n, which, 0, &s);
}

LU_DEFUN(nn_params, "(nn-params NET)",
         "The flat vector of NET's parameters: a float tensor viewing them, "
         "so writing into it changes the net.") {
  (void)argc;
  return flat_view(argv, 0);
}

LU_DEFUN(nn_grads, "(nn-grads NET)",
         "The flat vector of NET's parameter gradients (a view), accumulated "
         "by nn-bprop and cleared by nn-clear-grads.") {
  (void)argc;
  return flat_view(argv, 1);
}

LU_DEFUN(nn_hessian, "(nn-hessian NET)",
         "The flat vector of NET's parameter second derivatives (a view), "
         "accumulated by nn-bbprop.") {
  (void)argc;
  return flat_view(argv, 2);
}

LU_DEFUN(nn_rates, "(nn-rates NET)",
         "The flat vector of NET's per-parameter rate factors (a view): each "
         "update moves a parameter by the optimizer's rate times its "
         "factor. All 1 unless set, e.g. by nn-sdlm-estimate.") {
  (void)argc;
  return flat_view(argv, 3);
}

LU_DEFUN(nn_nparams, "(nn-nparams NET)", "The number of parameters of NET.") {
  (void)argc;
  return lu_number((double)lu_nn_arg_net(argv, 0)->nparams);
}

/* Sets one of NET's flat vectors (see flat_view) to 0; returns NET. */
static LuValue *clear_flat(LuValue **argv, int which) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  memset(lu_tensor_data(n->pvec[which]), 0, sizeof(float) * (size_t)n->nparams);
  return argv[0];
}

LU_DEFUN(nn_clear_grads, "(nn-clear-grads NET)",
         "Sets NET's parameter gradients to 0. Returns NET.") {
  (void)argc;
  return clear_flat(argv, 1);
}

LU_DEFUN(nn_clear_hessian, "(nn-clear-hessian NET)",
         "Sets NET's parameter second derivatives to 0. Returns NET.") {
  (void)argc;
  return clear_flat(argv, 2);
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

LU_DEFUN(nn_nmodules, "(nn-nmodules NET)", "The number of modules of NET.") {
  (void)argc;
  return lu_number(lu_nn_arg_net(argv, 0)->nmod);
}

LU_DEFUN(nn_modules, "(nn-modules NET)",
         "The list of NET's modules, in order (Lisp modules as the objects "
         "they are).") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  LuValue *l = lu_nil;
  for (int i = n->nmod - 1; i >= 0; i--)
    l = lu_cons(n->mod[i]->obj ? n->mod[i]->obj : n->mod[i]->self, l);
  return l;
}

LU_DEFUN(nn_shape, "(nn-shape NET [I])",
         "The shape of state I of NET as a list (default: the output; 0 is "
         "the input).") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  int i = lu_arg_given(argv, argc, 1) ? state_index(argv, n) : n->nmod;
  return shape_list(&n->shape[i]);
}

static NnModule *arg_placed_module(LuValue **argv, int i) {
  NnModule *m = lu_arg_cdata(argv, i, &lu_nn_module_ctype);
  if (!m->net)
    lu_error("%s: the %s module is not in a net yet (see nn-seq)", lu_caller(),
             m->ops->kind);
  return m;
}

/* A view of parameter tensor k (0: weights, 1: biases) of the module in
   argument 0, as its ops describe them; () when it has none. */
static LuValue *module_param(LuValue **argv, int k) {
  NnModule *m = arg_placed_module(argv, 0);
  NnShape shape[NN_MAXPARAMS];
  int np = m->np && m->ops->params ? m->ops->params(m, shape) : 0;
  if (k >= np)
    return lu_nil;
  long off = m->poff;
  for (int i = 0; i < k; i++)
    off += shape[i].n;
  return param_view(m->net, 0, off, &shape[k]);
}

LU_DEFUN(nn_weights, "(nn-weights MODULE)",
         "A view of MODULE's weights in its net's flat vector: [connections "
         "K K] for a convolution, [NOUT inputs] for a fully connected "
         "module; () for a module without parameters.") {
  (void)argc;
  return module_param(argv, 0);
}

LU_DEFUN(nn_biases, "(nn-biases MODULE)",
         "A view of MODULE's biases in its net's flat vector: [NOUT], or "
         "[NOUT rows cols] for a convolution with one bias per unit; () for "
         "a module without parameters.") {
  (void)argc;
  return module_param(argv, 1);
}

LU_DEFUN(nn_init, "(nn-init NET A [BIAS])",
         "Initialises NET's parameters: each weight uniform in [-A/sqrt(F), "
         "A/sqrt(F)] with F the fan-in of the unit it feeds, each bias BIAS "
         "(default 0). Draws from the generator that (seed N) seeds. "
         "Returns NET.") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  double a = lu_arg_num(argv, 1);
  double b = lu_arg_given(argv, argc, 2) ? lu_arg_num(argv, 2) : 0;
  lu_nn_init_params(n, a, b, true);
  lu_nn_mask_apply(n);
  return argv[0];
}

LU_DEFUN(nn_mode, "(nn-mode NET [MODE])",
         "NET's mode, 'train or 'eval; with MODE, sets it first. In "
         "training mode dropout and random shifts act; nn-train-pass always "
         "trains and nn-evaluate always evaluates, whatever the mode.") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  if (lu_arg_given(argv, argc, 1)) {
    const char *s = lu_arg_sym(argv, 1)->sym.name;
    if (strcmp(s, "train") && strcmp(s, "eval"))
      lu_arg_error(1, "'train or 'eval", argv[1]);
    n->train = !strcmp(s, "train");
  }
  return lu_intern(n->train ? "train" : "eval");
}

static void module_describe(NnModule *m, LuBuf *b) {
  if (m->ops->describe)
    m->ops->describe(m, b);
  else
    lu_buf_puts(b, m->ops->kind);
}

/* The rows of n's modules; those inside a container follow its row,
   indented by depth, and are not added to the totals (the container's row
   counts them). */
static void summary_rows(LuNet *n, int depth, long *tp, long *tc, long *tm) {
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    LuBuf b;
    lu_buf_init(&b);
    lu_buf_printf(&b, "%*s", 2 * depth, "");
    module_describe(m, &b);
    if (m->tie)
      lu_buf_printf(&b, " = %d", m->tie->index + 1);
    long np = m->tie ? 0 : m->np; /* shared weights count once */
    char layer[16] = "";
    if (depth == 0)
      snprintf(layer, sizeof layer, "%d", i + 1);
    printf("%-5s %-42s %-12s %8ld %12ld %12ld\n", layer, b.s,
           lu_nn_shape_cstr(&n->shape[i + 1]), np, m->conns, m->macs);
    if (depth == 0)
      *tp += np, *tc += m->conns, *tm += m->macs;
    LuNet **inner;
    int k = m->ops->nets ? m->ops->nets(m, &inner) : 0;
    for (int j = 0; j < k; j++)
      summary_rows(inner[j], depth + 1, tp, tc, tm);
  }
}

LU_DEFUN(nn_summary, "(nn-summary NET)",
         "Prints NET's table: for each module its output shape, parameters, "
         "connections (weighted links, biases included) and multiply-adds "
         "per forward pass (the modules inside a container indented below "
         "it), then the totals. Returns the list (params connections "
         "mult-adds).") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  long tp = 0, tc = 0, tm = 0;
  printf("%-5s %-42s %-12s %8s %12s %12s\n", "layer", "module", "output",
         "params", "connections", "mult-adds");
  printf("%-5s %-42s %-12s\n", "", "input", lu_nn_shape_cstr(&n->shape[0]));
  summary_rows(n, 0, &tp, &tc, &tm);
  printf("%-5s %-42s %-12s %8ld %12ld %12ld\n", "", "total", "", tp, tc, tm);
  lu_nn_mask_summary(n);
  fflush(stdout);
  return lu_list(3, lu_number((double)tp), lu_number((double)tc),
                 lu_number((double)tm));
}

LU_DEFUN(nn_reference, "(nn-reference [FLAG])",
         "Whether nets use the plain reference kernels instead of the "
         "optimised ones (for tests and debugging); with FLAG, sets it.") {
  if (argc > 0)
    use_reference = !LU_ISNIL(argv[0]);
  return LU_BOOL(use_reference);
}

static LuBuiltin *const net_builtins[] = {&nn_seq_builtin,
                                          &nn_fprop_builtin,
                                          &nn_bprop_builtin,
                                          &nn_bbprop_builtin,
                                          &nn_params_builtin,
                                          &nn_grads_builtin,
                                          &nn_hessian_builtin,
                                          &nn_rates_builtin,
                                          &nn_nparams_builtin,
                                          &nn_clear_grads_builtin,
                                          &nn_clear_hessian_builtin,
                                          &nn_state_builtin,
                                          &nn_state_grad_builtin,
                                          &nn_nmodules_builtin,
                                          &nn_modules_builtin,
                                          &nn_shape_builtin,
                                          &nn_weights_builtin,
                                          &nn_biases_builtin,
                                          &nn_init_builtin,
                                          &nn_mode_builtin,
                                          &nn_summary_builtin,
                                          &nn_reference_builtin,
                                          NULL};

/* The module families, then the costs, optimizers, passes and checks. */
static void (*const families[])(void) = {
    lu_nn_squash_open,     lu_nn_conv_open,  lu_nn_linear_open,
    lu_nn_dropout_open,    lu_nn_shift_open, lu_nn_softmax_open,
    lu_nn_container_open,  lu_nn_pool_open,  lu_nn_batchnorm_open,
    lu_nn_activation_open, lu_nn_rbf_open,   lu_nn_export_open,
};

void lu_net_open(void) {
  lu_register(net_builtins);
  lu_nn_param_open();
  for (size_t i = 0; i < sizeof families / sizeof *families; i++)
    families[i]();
  lu_nn_cost_open();
  lu_nn_optim_open();
  lu_nn_mask_open();
  lu_nn_train_open();
  lu_nn_check_open();
  lu_nn_parallel_open();
}
