/* nn_linear.c: the fully connected module (nn-linear): y[nout] =
   w[nout][nin] x[nin] + b[nout] over its flattened input; its kernels,
   optimised and reference, and the vectorised dot product they use. */
#include "nn_impl.h"
#include "nn_simd.h"

/* ---- Kernels ------------------------------------------------------------- */

/* The dot product of a and b in a fixed order: two vector partial sums
   (by FMAs where the machine has them) over alternate vectors, one more
   vector into the first, their lanes summed, then the scalar tail.
   dot_rows keeps exactly this order. */
float lu_nn_dot(const float *a, const float *b, long n) {
  vf s0 = {}, s1 = {};
  long i = 0;
  for (; i + 2 * VL <= n; i += 2 * VL) {
    s0 = vfma(vload(a + i), vload(b + i), s0);
    s1 = vfma(vload(a + i + VL), vload(b + i + VL), s1);
  }
  for (; i + VL <= n; i += VL)
    s0 = vfma(vload(a + i), vload(b + i), s0);
  float s = vsum(s0 + s1);
  for (; i < n; i++)
    s += a[i] * b[i];
  return s;
}

/* out[r] = lu_nn_dot(w + r n, x, n) for R rows at once, each summed in
   lu_nn_dot's order (so the results are the same to the bit), x loaded
   once for the R rows. */
INLINE void dot_rows(int R, const float *w, const float *x, long n,
                     float *out) {
  vf s0[4] = {{0}}, s1[4] = {{0}};
  long i = 0;
  for (; i + 2 * VL <= n; i += 2 * VL) {
    vf x0 = vload(x + i), x1 = vload(x + i + VL);
    for (int r = 0; r < R; r++) {
      s0[r] = vfma(vload(w + r * n + i), x0, s0[r]);
      s1[r] = vfma(vload(w + r * n + i + VL), x1, s1[r]);
    }
  }
  for (; i + VL <= n; i += VL)
    for (int r = 0; r < R; r++)
      s0[r] = vfma(vload(w + r * n + i), vload(x + i), s0[r]);
  for (int r = 0; r < R; r++) {
    float s = vsum(s0[r] + s1[r]);
    for (long j = i; j < n; j++)
      s += w[r * n + j] * x[j];
    out[r] = s;
  }
}

void lu_nn_linear_fprop(int nin, int nout, const float *w, const float *b,
                        const float *x, float *s, LuSquash f, float *y) {
  int o = 0;
  for (; o + 4 <= nout; o += 4)
    dot_rows(4, w + (long)o * nin, x, nin, s + o);
  for (; o < nout; o++)
    dot_rows(1, w + (long)o * nin, x, nin, s + o);
  for (o = 0; o < nout; o++)
    s[o] = b[o] + s[o];
  if (f != LU_SQ_NONE)
    lu_nn_squash(f, s, y, nout);
}

/* The SGD step of st on one vector of parameters w (their factors at
   rate, unless st->rate is NULL) whose gradients are g: the optimizer's
   formula, w - lr rate (g + decay w), operation for operation. */
INLINE vf sgd_vec(const LuSgdStep *st, vf w, vf g, const float *rate) {
  vf r = st->rate ? vload(rate) : vsplat(1.0f);
  return w - vsplat(st->lr) * r * (g + vsplat(st->decay) * w);
}

INLINE float sgd_one(const LuSgdStep *st, float w, float g, const float *rate) {
  return w - st->lr * (st->rate ? *rate : 1.0f) * (g + st->decay * w);
}

/* Columns i0.. (V vectors of them) of the backward pass: dw[o][i] +=
   x[i] d[o] and dx[i] = sum over o of w[o][i] d[o] (x and w squared when
   SQ), the sums kept in registers and added in the order of o. With st,
   w[o][i] takes st's step on the gradient x[i] d[o] instead (after dx
   has read it): dw is not touched. */
INLINE void linear_back_cols(bool SQ, int V, int nin, int nout, float *w,
                             const float *x, const float *ds, float *dx,
                             float *dw, const LuSgdStep *st, long i0) {
  vf xv[4], acc[4] = {{0}};
  for (int v = 0; v < V; v++) {
    xv[v] = vload(x + i0 + v * VL);
    xv[v] = SQ ? xv[v] * xv[v] : xv[v];
  }
  for (int o = 0; o < nout; o++) {
    vf d = vsplat(ds[o]);
    long at = (long)o * nin + i0;
    for (int v = 0; v < V; v++) {
      vf wv = vload(w + at + v * VL);
      if (dx)
        acc[v] = vfma(SQ ? wv * wv : wv, d, acc[v]);
      if (st)
        vstore(w + at + v * VL,
               sgd_vec(st, wv, vfma(xv[v], d, (vf){}), st->rate + at + v * VL));
      else
        vstore(dw + at + v * VL, vfma(xv[v], d, vload(dw + at + v * VL)));
    }
  }
  for (int v = 0; dx && v < V; v++)
    vstore(dx + i0 + v * VL, acc[v]);
}

/* The backward pass, by blocks of 4 vectors of columns so that w and dw
   are each streamed once; the last columns (fewer than a vector) one by
   one in the same order. With st, the step of linear_back_cols, the
   biases' too (w's nout nin floats are followed by them, and so are
   their factors). */
INLINE void linear_back(bool SQ, int nin, int nout, float *w, const float *x,
                        const float *ds, float *dx, float *dw, float *db,
                        const LuSgdStep *st) {
  long nw = (long)nout * nin;
  for (int o = 0; o < nout; o++)
    if (st)
      w[nw + o] = sgd_one(st, w[nw + o], 0.0f + ds[o], st->rate + nw + o);
    else
      db[o] += ds[o];
  long i = 0;
  for (; i + 4 * VL <= nin; i += 4 * VL)
    linear_back_cols(SQ, 4, nin, nout, w, x, ds, dx, dw, st, i);
  for (; i + VL <= nin; i += VL)
    linear_back_cols(SQ, 1, nin, nout, w, x, ds, dx, dw, st, i);
  for (; i < nin; i++) {
    float xi = SQ ? x[i] * x[i] : x[i], sum = 0;
    for (int o = 0; o < nout; o++) {
      long at = (long)o * nin + i;
      float wi = w[at];
      sum += (SQ ? wi * wi : wi) * ds[o];
      if (st)
        w[at] = sgd_one(st, wi, 0.0f + xi * ds[o], st->rate + at);
      else
        dw[at] += xi * ds[o];
    }
    if (dx)
      dx[i] = sum;
  }
}

void lu_nn_linear_bprop(int nin, int nout, const float *w, const float *x,
                        const float *ds, float *dx, float *dw, float *db) {
  linear_back(false, nin, nout, (float *)w, x, ds, dx, dw, db, NULL);
}

void lu_nn_linear_bprop_step(int nin, int nout, float *w, const float *x,
                             const float *ds, float *dx, const LuSgdStep *st) {
  linear_back(false, nin, nout, w, x, ds, dx, NULL, NULL, st);
}

void lu_nn_linear_bbprop(int nin, int nout, const float *w, const float *x,
                         const float *dds, float *ddx, float *ddw, float *ddb) {
  linear_back(true, nin, nout, (float *)w, x, dds, ddx, ddw, ddb, NULL);
}

void lu_nn_ref_linear_fprop(int nin, int nout, const float *w, const float *b,
                            const float *x, float *s) {
  for (int o = 0; o < nout; o++) {
    float sum = b[o];
    for (int i = 0; i < nin; i++)
      sum += w[(long)o * nin + i] * x[i];
    s[o] = sum;
  }
}

void lu_nn_ref_linear_bprop(int nin, int nout, const float *w, const float *x,
                            const float *ds, float *dx, float *dw, float *db) {
  for (int i = 0; dx && i < nin; i++) {
    float sum = 0;
    for (int o = 0; o < nout; o++)
      sum += w[(long)o * nin + i] * ds[o];
    dx[i] = sum;
  }
  for (int o = 0; o < nout; o++) {
    db[o] += ds[o];
    for (int i = 0; i < nin; i++)
      dw[(long)o * nin + i] += x[i] * ds[o];
  }
}
/* ---- The module ---------------------------------------------------------- */

typedef struct {
  int nin, nout;
} Linear;

static Linear *lin_of(const NnModule *m) {
  return m->data;
}

static void linear_setup(NnModule *m, const NnShape *in, NnShape *out) {
  if (in->n > 100000000)
    lu_error("nn-seq: linear: input %s too large", lu_nn_shape_cstr(in));
  lin_of(m)->nin = (int)in->n;
  m->nw = (long)lin_of(m)->nin * lin_of(m)->nout;
  m->np = m->nw + lin_of(m)->nout;
  m->macs = m->nw;
  m->conns = m->np;
  m->steps = true;
  long d = lin_of(m)->nout;
  *out = lu_nn_shape_make(1, &d);
}

static void linear_fprop(NnCtx *c, const float *x, float *y) {
  NnModule *m = c->m;
  int nin = lin_of(m)->nin, nout = lin_of(m)->nout;
  if (!c->ref) {
    lu_nn_linear_fprop(nin, nout, c->w, c->w + m->nw, x, y, m->fuse, c->y2);
    return;
  }
  lu_nn_ref_linear_fprop(nin, nout, c->w, c->w + m->nw, x, y);
  if (m->fuse != LU_SQ_NONE)
    lu_nn_ref_squash(m->fuse, y, c->y2, nout);
}

static void linear_bprop(NnCtx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
  (void)y;
  NnModule *m = c->m;
  if (c->sgd)
    lu_nn_linear_bprop_step(lin_of(m)->nin, lin_of(m)->nout, c->w, x, dy, dx,
                            c->sgd);
  else
    (c->ref ? lu_nn_ref_linear_bprop : lu_nn_linear_bprop)(
        lin_of(m)->nin, lin_of(m)->nout, c->w, x, dy, dx, c->dw, c->dw + m->nw);
}

static void linear_bbprop(NnCtx *c, const float *x, const float *y,
                          const float *ddy, float *ddx) {
  (void)y;
  NnModule *m = c->m;
  lu_nn_linear_bbprop(lin_of(m)->nin, lin_of(m)->nout, c->w, x, ddy, ddx,
                      c->ddw, c->ddw + m->nw);
}

static void linear_init(NnModule *m, float *w, double a, double bias) {
  double r = a / sqrt((double)lin_of(m)->nin);
  for (long i = 0; i < m->nw; i++)
    w[i] = (float)((2 * lu_rand_uniform() - 1) * r);
  for (long i = m->nw; i < m->np; i++)
    w[i] = (float)bias;
}

/* Weights [NOUT inputs], biases [NOUT]. */
static int linear_params(const NnModule *m, NnShape shape[NN_MAXPARAMS]) {
  long w[2] = {lin_of(m)->nout, lin_of(m)->nin};
  shape[0] = lu_nn_shape_make(2, w);
  shape[1] = lu_nn_shape_make(1, w);
  return 2;
}

static const NnOps linear_ops = {.kind = "linear",
                                 .flags = NN_FUSES_SQUASH,
                                 .setup = linear_setup,
                                 .fprop = linear_fprop,
                                 .bprop = linear_bprop,
                                 .bbprop = linear_bbprop,
                                 .init = linear_init,
                                 .params = linear_params};

LU_DEFUN(nn_linear, "(nn-linear NOUT)",
         "A fully connected module with NOUT outputs. It flattens its input "
         "(in row-major order); weights are laid out [NOUT][inputs], then "
         "the NOUT biases.") {
  (void)argc;
  NnModule *m = lu_nn_module_new(&linear_ops, sizeof(Linear));
  lin_of(m)->nout = lu_nn_arg_range(argv, 0, 1, 10000000);
  return m->self;
}

static LuBuiltin *const linear_builtins[] = {&nn_linear_builtin, NULL};

void lu_nn_linear_open(void) {
  lu_register(linear_builtins);
}
