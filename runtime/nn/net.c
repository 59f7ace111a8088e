/* net.c: nets of the backprop simulator, and their Lisp builtins.
   (nn-seq SHAPE MODULE...) builds a net: it infers every module's input
   shape, lays all parameters out in one flat vector (values, gradients,
   second derivatives, per-parameter rate factors; each module's weights are
   a range of it) and owns the intermediate states (x, dx, ddx), kept with
   the modules' scratch in a work area per example of a batch (the
   passes are in nn_pass.c). The flat vectors as views; the list of
   module families to open. */
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
    int k = lu_nn_inner(m, &inner);
    for (int b = 0; b < k; b++)
      lu_nn_init_params(inner[b], a, bias, lisp);
  }
}

static void net_move(LuNet *n, LuNet *outer, long p, long s);

/* Marks n and every net inside it. */
static void rates_set_inside(LuNet *n) {
  n->rates_set = true;
  for (int i = 0; i < n->nmod; i++) {
    LuNet **inner;
    int k = lu_nn_inner(n->mod[i], &inner);
    for (int b = 0; b < k; b++)
      rates_set_inside(inner[b]);
  }
}

void lu_nn_rates_set(LuNet *n) {
  while (n->outer && n->outer->net)
    n = n->outer->net;
  rates_set_inside(n);
}

/* Whether net x is inside one of n's containers, at any depth. */
static bool net_contains(LuNet *n, const LuNet *x) {
  for (int i = 0; i < n->nmod; i++) {
    LuNet **inner;
    int k = lu_nn_inner(n->mod[i], &inner);
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
    int k = lu_nn_inner(m, &inner);
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
    int k = lu_nn_inner(m, &inner);
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
  outer->rates_set |= n->rates_set;
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

/* Whether n may run the steps of its modules that batch for several
   examples at once: when no two steps add into the same parameters, so
   that every gradient is still summed example after example. */
static bool net_batches(const LuNet *n) {
  bool any = false;
  for (int i = 0; i < n->nmod; i++) {
    if (n->mod[i]->tie || n->mod[i]->nlparam || n->mod[i]->lisp)
      return false;
    any |= n->mod[i]->batch;
  }
  return any;
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
  n->batch = net_batches(n);
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

static LuValue *param_view(LuNet *n, int which, long off, const NnShape *s) {
  return lu_tensor_value(lu_nn_view(n->pvec[which], off, s));
}

static LuValue *flat_view(LuValue **argv, int which) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  if (which == 3) /* the caller may write into the rates */
    lu_nn_rates_set(n);
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
  int i = lu_arg_given(argv, argc, 1) ? lu_nn_arg_range(argv, 1, 0, n->nmod)
                                      : n->nmod;
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
    int k = lu_nn_inner(m, &inner);
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

static LuBuiltin *const net_builtins[] = {&nn_seq_builtin,
                                          &nn_params_builtin,
                                          &nn_grads_builtin,
                                          &nn_hessian_builtin,
                                          &nn_rates_builtin,
                                          &nn_nparams_builtin,
                                          &nn_clear_grads_builtin,
                                          &nn_clear_hessian_builtin,
                                          &nn_nmodules_builtin,
                                          &nn_modules_builtin,
                                          &nn_shape_builtin,
                                          &nn_weights_builtin,
                                          &nn_biases_builtin,
                                          &nn_init_builtin,
                                          &nn_mode_builtin,
                                          &nn_summary_builtin,
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
  lu_nn_pass_open();
}
