/* nn_linear.c: the fully connected module (nn-linear): y[nout] =
   w[nout][nin] x[nin] + b[nout] over its flattened input; its kernels,
   optimised and reference, and the vectorised dot product they use. */
#include "nn_batch.h"
#include "nn_impl.h"
#include "nn_simd.h"

/* ---- Kernels ------------------------------------------------------------- */

/* The dot product of a and b in a fixed order: two vector partial sums
   (by FMAs where the machine has them) over alternate vectors, one more
   vector into the first, their lanes summed, then the scalar tail.
   dot_block keeps exactly this order. */
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

/* out[e os + r] = lu_nn_dot(w + r n, x + e xs, n) for R rows and E
   examples at once, each summed in lu_nn_dot's order (so the results are
   the same to the bit), each x vector loaded once for the R rows and each
   w vector once for the E examples. */
INLINE void dot_block(int R, int E, const float *w, const float *x, long xs,
                      long n, float *out, long os) {
  vf s0[4][2] = {{{0}}}, s1[4][2] = {{{0}}};
  long i = 0;
  for (; i + 2 * VL <= n; i += 2 * VL)
    for (int e = 0; e < E; e++) {
      vf x0 = vload(x + e * xs + i), x1 = vload(x + e * xs + i + VL);
      for (int r = 0; r < R; r++) {
        s0[r][e] = vfma(vload(w + r * n + i), x0, s0[r][e]);
        s1[r][e] = vfma(vload(w + r * n + i + VL), x1, s1[r][e]);
      }
    }
  for (; i + VL <= n; i += VL)
    for (int e = 0; e < E; e++)
      for (int r = 0; r < R; r++)
        s0[r][e] = vfma(vload(w + r * n + i), vload(x + e * xs + i), s0[r][e]);
  for (int e = 0; e < E; e++)
    for (int r = 0; r < R; r++) {
      float s = vsum(s0[r][e] + s1[r][e]);
      for (long j = i; j < n; j++)
        s += w[r * n + j] * x[e * xs + j];
      out[e * os + r] = s;
    }
}

/* s[o] = b[o] + s[o], then y = f(s) unless f is LU_SQ_NONE. */
static void bias_squash(int nout, const float *b, float *s, LuSquash f,
                        float *y) {
  for (int o = 0; o < nout; o++)
    s[o] = b[o] + s[o];
  if (f != LU_SQ_NONE)
    lu_nn_squash(f, s, y, nout);
}

void lu_nn_linear_fprop(int nin, int nout, const float *w, const float *b,
                        const float *x, float *s, LuSquash f, float *y) {
  int o = 0;
  for (; o + 4 <= nout; o += 4)
    dot_block(4, 1, w + (long)o * nin, x, 0, nin, s + o, 0);
  for (; o < nout; o++)
    dot_block(1, 1, w + (long)o * nin, x, 0, nin, s + o, 0);
  bias_squash(nout, b, s, f, y);
}

/* By blocks of 4 rows and 2 examples: a block of w is read from memory
   once, then from the first level of the cache for the other examples. */
void lu_nn_linear_fprop_batch(int nin, int nout, const float *w, const float *b,
                              int ne, const float *x, long ws, float *s,
                              LuSquash f, float *y) {
  int o = 0;
  for (; o + 4 <= nout; o += 4) {
    const float *wo = w + (long)o * nin;
    int e = 0;
    for (; e + 2 <= ne; e += 2)
      dot_block(4, 2, wo, x + e * ws, ws, nin, s + e * ws + o, ws);
    for (; e < ne; e++)
      dot_block(4, 1, wo, x + e * ws, ws, nin, s + e * ws + o, ws);
  }
  for (; o < nout; o++)
    for (int e = 0; e < ne; e++)
      dot_block(1, 1, w + (long)o * nin, x + e * ws, ws, nin, s + e * ws + o,
                ws);
  for (int e = 0; e < ne; e++) /* y is NULL without f */
    bias_squash(nout, b, s + e * ws, f, y ? y + e * ws : NULL);
}

/* The SGD step of st on a vector of parameters w whose gradients are g
   and rate factors r: the optimizer's formula, w - lr r (g + decay w),
   operation for operation. */
INLINE vf sgd_vec(const LuSgdStep *st, vf w, vf g, vf r) {
  return w - vsplat(st->lr) * r * (g + vsplat(st->decay) * w);
}

/* The rate factors of the n parameters at `at` (all 1 without factors;
   lanes past n read as 0). */
INLINE vf sgd_rates(const LuSgdStep *st, long at, int n) {
  if (!st->rate)
    return vsplat(1.0f);
  return n == VL ? vload(st->rate + at) : vload_n(st->rate + at, n);
}

INLINE float sgd_one(const LuSgdStep *st, float w, float g, long at) {
  return w - st->lr * (st->rate ? st->rate[at] : 1.0f) * (g + st->decay * w);
}

/* Columns i0.. (V vectors of them) of the backward pass for E examples
   (ws floats apart): dw[o][i] += x_e[i] d_e[o] for e in order and dx_e[i]
   = sum over o of w[o][i] d_e[o] (x and w squared when SQ), the sums kept
   in registers and added in the order of o. With st (one example), w[o][i]
   takes st's step on the gradient x[i] d[o] instead (after dx has read
   it): dw is not touched. */
INLINE void linear_back_cols(bool SQ, int V, int E, int nin, int nout, float *w,
                             const float *x, const float *ds, float *dx,
                             long ws, float *dw, const LuSgdStep *st, long i0) {
  vf xv[4][4], acc[4][4] = {{{0}}};
  for (int e = 0; e < E; e++)
    for (int v = 0; v < V; v++) {
      xv[e][v] = vload(x + e * ws + i0 + v * VL);
      xv[e][v] = SQ ? xv[e][v] * xv[e][v] : xv[e][v];
    }
  for (int o = 0; o < nout; o++) {
    vf d[4];
    for (int e = 0; e < E; e++)
      d[e] = vsplat(ds[e * ws + o]);
    long at = (long)o * nin + i0;
    for (int v = 0; v < V; v++) {
      vf wv = vload(w + at + v * VL);
      for (int e = 0; dx && e < E; e++)
        acc[e][v] = vfma(SQ ? wv * wv : wv, d[e], acc[e][v]);
      if (st) {
        vf g = vfma(xv[0][v], d[0], (vf){});
        vstore(w + at + v * VL,
               sgd_vec(st, wv, g, sgd_rates(st, at + v * VL, VL)));
        continue;
      }
      vf g = vload(dw + at + v * VL);
      for (int e = 0; e < E; e++)
        g = vfma(xv[e][v], d[e], g);
      vstore(dw + at + v * VL, g);
    }
  }
  for (int e = 0; dx && e < E; e++)
    for (int v = 0; v < V; v++)
      vstore(dx + e * ws + i0 + v * VL, acc[e][v]);
}

/* The last columns from i0 (fewer than a vector) of the backward pass,
   as the lanes of one vector: each lane does what the code of one column
   does, a product then a sum (or SGD step), each rounded, never an FMA. */
INLINE void linear_back_tail(bool SQ, int E, int nin, int nout, float *w,
                             const float *x, const float *ds, float *dx,
                             long ws, float *dw, const LuSgdStep *st, long i0) {
  int n = (int)(nin - i0);
  vf xv[4], acc[4] = {{0}};
  for (int e = 0; e < E; e++) {
    xv[e] = vload_n(x + e * ws + i0, n);
    xv[e] = SQ ? xv[e] * xv[e] : xv[e];
  }
  for (int o = 0; o < nout; o++) {
    long at = (long)o * nin + i0;
    vf wv = vload_n(w + at, n), d[4];
    vf wq = SQ ? wv * wv : wv;
    for (int e = 0; e < E; e++) {
      d[e] = vsplat(ds[e * ws + o]);
      acc[e] = acc[e] + wq * d[e];
    }
    if (st) {
      vstore_n(w + at,
               sgd_vec(st, wv, 0.0f + xv[0] * d[0], sgd_rates(st, at, n)), n);
      continue;
    }
    vf g = vload_n(dw + at, n);
    for (int e = 0; e < E; e++)
      g = g + xv[e] * d[e];
    vstore_n(dw + at, g, n);
  }
  for (int e = 0; dx && e < E; e++)
    vstore_n(dx + e * ws + i0, acc[e], n);
}

/* The backward pass of E examples, by blocks of V vectors of columns so
   that w and dw are each streamed once for the E; the last columns (fewer
   than a vector) by linear_back_tail. With st (E = 1), the step
   of linear_back_cols, the biases' too (w's nout nin floats are followed
   by them, and so are their factors). */
INLINE void linear_back(bool SQ, int V, int E, int nin, int nout, float *w,
                        const float *x, const float *ds, float *dx, long ws,
                        float *dw, float *db, const LuSgdStep *st) {
  long nw = (long)nout * nin;
  for (int e = 0; e < E; e++)
    for (int o = 0; o < nout; o++)
      if (st)
        w[nw + o] = sgd_one(st, w[nw + o], 0.0f + ds[o], nw + o);
      else
        db[o] += ds[e * ws + o];
  long i = 0;
  for (; i + V * VL <= nin; i += V * VL)
    linear_back_cols(SQ, V, E, nin, nout, w, x, ds, dx, ws, dw, st, i);
  for (; i + VL <= nin; i += VL)
    linear_back_cols(SQ, 1, E, nin, nout, w, x, ds, dx, ws, dw, st, i);
  if (i < nin)
    linear_back_tail(SQ, E, nin, nout, w, x, ds, dx, ws, dw, st, i);
}

void lu_nn_linear_bprop(int nin, int nout, const float *w, const float *x,
                        const float *ds, float *dx, float *dw, float *db) {
  linear_back(false, 4, 1, nin, nout, (float *)w, x, ds, dx, 0, dw, db, NULL);
}

void lu_nn_linear_bprop_step(int nin, int nout, float *w, const float *x,
                             const float *ds, float *dx, const LuSgdStep *st) {
  linear_back(false, 4, 1, nin, nout, w, x, ds, dx, 0, NULL, NULL, st);
}

void lu_nn_linear_bbprop(int nin, int nout, const float *w, const float *x,
                         const float *dds, float *ddx, float *ddw, float *ddb) {
  linear_back(true, 4, 1, nin, nout, (float *)w, x, dds, ddx, 0, ddw, ddb,
              NULL);
}

/* By 4 examples at a time (the registers hold 2 vectors of columns of
   each): each chunk adds into dw after the one before. */
void lu_nn_linear_bprop_batch(int nin, int nout, const float *w, int ne,
                              const float *x, const float *ds, float *dx,
                              long ws, float *dw, float *db) {
  float *wm = (float *)w; /* only read: no step */
  for (int e = 0; e < ne; e += 4, x += 4 * ws, ds += 4 * ws) {
    float *dxe = dx ? dx + e * ws : NULL;
    switch (ne - e) {
    case 1:
      linear_back(false, 4, 1, nin, nout, wm, x, ds, dxe, ws, dw, db, NULL);
      break;
    case 2:
      linear_back(false, 2, 2, nin, nout, wm, x, ds, dxe, ws, dw, db, NULL);
      break;
    case 3:
      linear_back(false, 2, 3, nin, nout, wm, x, ds, dxe, ws, dw, db, NULL);
      break;
    default:
      linear_back(false, 2, 4, nin, nout, wm, x, ds, dxe, ws, dw, db, NULL);
    }
  }
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
  m->batch = true;
  long d = lin_of(m)->nout;
  *out = lu_nn_shape_make(1, &d);
}

/* c->nb examples, c->ws floats apart (see NnCtx). */
static void linear_fprop(NnCtx *c, const float *x, float *y) {
  NnModule *m = c->m;
  int nin = lin_of(m)->nin, nout = lin_of(m)->nout;
  const float *b = c->w + m->nw;
  if (c->ref) {
    for (long e = 0, at = 0; e < c->nb; e++, at += c->ws) {
      lu_nn_ref_linear_fprop(nin, nout, c->w, b, x + at, y + at);
      if (m->fuse != LU_SQ_NONE)
        lu_nn_ref_squash(m->fuse, y + at, c->y2 + at, nout);
    }
  } else if (c->nb == 1)
    lu_nn_linear_fprop(nin, nout, c->w, b, x, y, m->fuse, c->y2);
  else
    lu_nn_linear_fprop_batch(nin, nout, c->w, b, (int)c->nb, x, c->ws, y,
                             m->fuse, c->y2);
}

static void linear_bprop(NnCtx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
  (void)y;
  NnModule *m = c->m;
  int nin = lin_of(m)->nin, nout = lin_of(m)->nout;
  if (c->sgd)
    lu_nn_linear_bprop_step(nin, nout, c->w, x, dy, dx, c->sgd);
  else if (!c->ref)
    lu_nn_linear_bprop_batch(nin, nout, c->w, (int)c->nb, x, dy, dx, c->ws,
                             c->dw, c->dw + m->nw);
  else
    for (long e = 0, at = 0; e < c->nb; e++, at += c->ws)
      lu_nn_ref_linear_bprop(nin, nout, c->w, x + at, dy + at,
                             dx ? dx + at : NULL, c->dw, c->dw + m->nw);
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
