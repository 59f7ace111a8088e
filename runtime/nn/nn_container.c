/* nn_container.c: modules made of nets. A net placed among the modules of
   nn-seq runs as a module ("net"); (nn-residual MODULE...) computes
   y = x + f(x), f the MODULEs in sequence; (nn-concat MODULE...) feeds
   the same input to each MODULE (a branch) and concatenates their outputs
   along the first dimension. Each holds nets ("branches") whose parameters
   and work buffers are ranges of the container's: the outer net lays them
   out (see the nets field of NnOps), so every optimizer, check and save
   sees them, and each thread runs the branches in its own scratch. */
#include "nn_impl.h"

#include <string.h>

typedef struct {
  LuNet **net; /* the branches, built by setup (a nested net: given) */
  int nnet;
  LuValue **mods; /* residual, concat: the module values, until setup */
  int nmods;
  LuNet *given; /* a net placed as a module */
} Container;

static Container *box(const NnModule *m) {
  return m->data;
}

static int container_nets(const NnModule *m, LuNet ***nets) {
  *nets = box(m)->net;
  return box(m)->nnet;
}

static bool is_residual(const NnModule *m) {
  return !strcmp(m->ops->kind, "residual");
}

/* Sizes common to every container, from its branches. */
static void container_sizes(NnModule *m) {
  Container *b = box(m);
  m->np = m->ns = m->macs = m->conns = 0;
  for (int i = 0; i < b->nnet; i++) {
    LuNet *n = b->net[i];
    m->np += n->nparams;
    m->ns += n->worksize;
    m->lisp |= n->has_lisp;
    m->whole |= n->whole;
    for (int j = 0; j < n->nmod; j++)
      m->macs += n->mod[j]->macs, m->conns += n->mod[j]->conns;
  }
}

/* Branch i's work area for the first example, in the container's
   scratch. */
static float *branch_work(NnCtx *c, int i) {
  float *w = c->scratch;
  for (int j = 0; j < i; j++)
    w += box(c->m)->net[j]->worksize;
  return w;
}

/* The pass of the branches: the container's examples (one, or the whole
   batch), their gradients where the container's go. */
static NnPass branch_pass(const NnCtx *c) {
  NnPass p = *c->pass;
  p.eager = NULL; /* the container steps its branches' parameters */
  if (c->nb == 1) {
    p.nb = 1, p.ex0 = c->ex, p.nslice = 1;
    p.grad[0] = c->gbase;
  }
  return p;
}

/* Copies n floats of each of nb examples, ws floats apart, from src to
   dst; adds them instead when add. */
static void copy_examples(float *dst, const float *src, long n, long nb,
                          long ws, bool add) {
  for (long b = 0; b < nb; b++, dst += ws, src += ws)
    for (long j = 0; j < n; j++)
      dst[j] = add ? dst[j] + src[j] : src[j];
}

/* Runs every branch forward on x; the outputs stay in the branches'
   states. */
static void branches_fprop(NnCtx *c, const float *x) {
  Container *b = box(c->m);
  NnPass p = branch_pass(c);
  for (int i = 0; i < b->nnet; i++) {
    LuNet *n = b->net[i];
    float *w = branch_work(c, i);
    copy_examples(lu_nn_x(n, w, 0), x, c->m->in.n, c->nb, c->ws, false);
    lu_nn_fprop(n, w, &p);
  }
}

/* Runs every branch backward from its part of d (the output gradient,
   or second derivatives when second), then sets dx to the sum of the
   branches' input gradients, plus d itself when skip (the residual's
   identity path). */
static void branches_back(NnCtx *c, const float *d, float *dx, bool second,
                          bool skip) {
  Container *b = box(c->m);
  NnPass p = branch_pass(c);
  long at = 0, nin = c->m->in.n;
  int k = second ? 2 : 1;
  for (int i = 0; i < b->nnet; i++) {
    LuNet *n = b->net[i];
    float *w = branch_work(c, i);
    long nout = n->shape[n->nmod].n;
    float *out = lu_nn_x(n, w, n->nmod) + k * n->stride[n->nmod];
    copy_examples(out, d + at, nout, c->nb, c->ws, false);
    at += nout;
    lu_nn_back(n, w, &p, second, dx != NULL);
  }
  if (!dx)
    return;
  for (long e = 0; e < c->nb; e++)
    if (skip)
      memcpy(dx + e * c->ws, d + e * c->ws, sizeof(float) * (size_t)nin);
    else
      memset(dx + e * c->ws, 0, sizeof(float) * (size_t)nin);
  for (int i = 0; i < b->nnet; i++) {
    LuNet *n = b->net[i];
    const float *g = lu_nn_x(n, branch_work(c, i), 0) + k * n->stride[0];
    copy_examples(dx, g, nin, c->nb, c->ws, true);
  }
}

/* y: the branches' outputs one after the other, plus x for a residual. */
static void container_fprop(NnCtx *c, const float *x, float *y) {
  Container *b = box(c->m);
  branches_fprop(c, x);
  long at = 0;
  for (int i = 0; i < b->nnet; i++) {
    LuNet *n = b->net[i];
    long nout = n->shape[n->nmod].n;
    copy_examples(y + at, lu_nn_x(n, branch_work(c, i), n->nmod), nout, c->nb,
                  c->ws, false);
    at += nout;
  }
  if (is_residual(c->m))
    copy_examples(y, x, c->m->out.n, c->nb, c->ws, true);
}

static void container_bprop(NnCtx *c, const float *x, const float *y,
                            const float *dy, float *dx) {
  (void)x, (void)y;
  branches_back(c, dy, dx, false, is_residual(c->m));
}

/* The Gauss-Newton diagonal of a residual is taken as the sum of its two
   paths' (the cross term 2 f' ddy is dropped, as between the outputs of
   any module). */
static void container_bbprop(NnCtx *c, const float *x, const float *y,
                             const float *ddy, float *ddx) {
  (void)x, (void)y;
  branches_back(c, ddy, ddx, true, is_residual(c->m));
}

/* ---- A net as a module --------------------------------------------------- */

static void net_setup(NnModule *m, const NnShape *in, NnShape *out) {
  LuNet *n = box(m)->given;
  if (!lu_nn_shape_fits(&n->shape[0], in->dim, in->ndim))
    lu_error("nn-seq: module %d (a net for inputs %s) gets %s", m->index + 1,
             lu_nn_shape_cstr(&n->shape[0]), lu_nn_shape_cstr(in));
  *out = n->shape[n->nmod];
  container_sizes(m);
}

static void net_describe(NnModule *m, LuBuf *b) {
  LuNet *n = box(m)->given;
  lu_buf_printf(b, "net of %d modules, %s -> %s", n->nmod,
                lu_nn_shape_cstr(&n->shape[0]),
                lu_nn_shape_cstr(&n->shape[n->nmod]));
}

static const NnOps net_ops = {.kind = "net",
                              .flags = NN_BACK_ALWAYS,
                              .setup = net_setup,
                              .fprop = container_fprop,
                              .bprop = container_bprop,
                              .bbprop = container_bbprop,
                              .describe = net_describe,
                              .nets = container_nets};

NnModule *lu_nn_net_module(LuNet *n) {
  if (n->outer)
    lu_error("nn-seq: the net %s is already inside another",
             lu_repr_limit(n->self, 60));
  NnModule *m = lu_nn_module_new(&net_ops, sizeof(Container));
  box(m)->given = n;
  box(m)->net = lu_alloc(sizeof(LuNet *));
  box(m)->net[0] = n;
  box(m)->nnet = 1;
  m->obj = n->self; /* what nn-modules lists */
  n->outer = m;
  return m;
}

/* ---- Residual and concatenation ------------------------------------------ */

/* The branches of a residual (one net of all the modules) or of a concat
   (one net per module), for inputs of shape in. */
static void build_branches(NnModule *m, const NnShape *in, bool one) {
  Container *b = box(m);
  b->nnet = one ? 1 : b->nmods;
  b->net = lu_alloc(sizeof(LuNet *) * (size_t)b->nnet);
  for (int i = 0; i < b->nnet; i++)
    b->net[i] =
        lu_nn_build(in, one ? b->nmods : 1, b->mods + (one ? 0 : i), true);
}

static void residual_setup(NnModule *m, const NnShape *in, NnShape *out) {
  build_branches(m, in, true);
  LuNet *f = box(m)->net[0];
  const NnShape *fo = &f->shape[f->nmod];
  if (!lu_nn_shape_fits(in, fo->dim, fo->ndim))
    lu_error("nn-seq: residual: its modules turn %s into %s; y = x + f(x) "
             "needs the same shape",
             lu_nn_shape_cstr(in), lu_nn_shape_cstr(fo));
  *out = *in;
  container_sizes(m);
  m->conns += in->n;
}

/* The outputs must agree in every dimension after the first. */
static void concat_setup(NnModule *m, const NnShape *in, NnShape *out) {
  build_branches(m, in, false);
  Container *b = box(m);
  const NnShape *first = &b->net[0]->shape[b->net[0]->nmod];
  *out = *first;
  for (int i = 1; i < b->nnet; i++) {
    const NnShape *o = &b->net[i]->shape[b->net[i]->nmod];
    bool same = o->ndim == first->ndim;
    for (int d = 1; same && d < o->ndim; d++)
      same = o->dim[d] == first->dim[d];
    if (!same)
      lu_error("nn-seq: concat: branch %d outputs %s, branch 1 %s: they can "
               "only differ in their first dimension",
               i + 1, lu_nn_shape_cstr(o), lu_nn_shape_cstr(first));
    out->dim[0] += o->dim[0];
    out->n += o->n;
  }
  container_sizes(m);
}

static void list_describe(NnModule *m, LuBuf *b) {
  int k = box(m)->nmods;
  lu_buf_printf(b, "%s of %d %s%s", m->ops->kind, k,
                is_residual(m) ? "module" : "branch",
                k == 1           ? ""
                : is_residual(m) ? "s"
                                 : "es");
}

static const NnOps residual_ops = {.kind = "residual",
                                   .flags = NN_BACK_ALWAYS,
                                   .setup = residual_setup,
                                   .fprop = container_fprop,
                                   .bprop = container_bprop,
                                   .bbprop = container_bbprop,
                                   .describe = list_describe,
                                   .nets = container_nets};

static const NnOps concat_ops = {.kind = "concat",
                                 .flags = NN_BACK_ALWAYS,
                                 .setup = concat_setup,
                                 .fprop = container_fprop,
                                 .bprop = container_bprop,
                                 .bbprop = container_bbprop,
                                 .describe = list_describe,
                                 .nets = container_nets};

static LuValue *list_new(const NnOps *ops, int argc, LuValue **argv) {
  if (argc < 1)
    lu_error("%s: needs at least one module", lu_caller());
  NnModule *m = lu_nn_module_new(ops, sizeof(Container));
  box(m)->mods = lu_alloc(sizeof(LuValue *) * (size_t)argc);
  memcpy(box(m)->mods, argv, sizeof(LuValue *) * (size_t)argc);
  box(m)->nmods = argc;
  return m->self;
}

LU_DEFUN(nn_residual, "(nn-residual MODULE...)",
         "A module computing y = x + f(x), f the MODULEs in sequence "
         "(nn-modules, nets or Lisp objects, as in nn-seq); f must keep the "
         "shape of its input. Its bbprop adds the second derivatives of "
         "the two paths.") {
  return list_new(&residual_ops, argc, argv);
}

LU_DEFUN(nn_concat, "(nn-concat MODULE...)",
         "A module that feeds its input to each MODULE (a branch: an "
         "nn-module, a net or a Lisp object) and concatenates their outputs "
         "along the first dimension (the planes of images, the elements of "
         "vectors); the outputs must agree in their other dimensions.") {
  return list_new(&concat_ops, argc, argv);
}

static LuBuiltin *const container_builtins[] = {&nn_residual_builtin,
                                                &nn_concat_builtin, NULL};

void lu_nn_container_open(void) {
  lu_register(container_builtins);
}
