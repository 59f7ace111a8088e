/* nn_pool.c: the modules that slide a window over the last two dimensions
   of their input, plane by plane: max pooling (nn-maxpool), average
   pooling (nn-avgpool) and LeNet-5's subsampling (nn-subsample: the mean
   of each window times a trainable coefficient plus a trainable bias, one
   pair per plane), with their kernels. */
#include "nn_impl.h"
#include "nn_layers.h"
#include "nn_simd.h"

#include <string.h>

/* ---- Kernels ------------------------------------------------------------- */

/* The reference kernels are the plain loops of the definitions; the
   optimised ones handle the usual windows that tile the planes (stride K,
   K = 2 or 3) with K a constant, so that the loops over a window unroll
   and those along a row vectorise, in the same order of operations. */

/* The top-left element of output (i, j)'s window in plane xp. */
static const float *window(const LuPoolGeom *g, const float *xp, long i,
                           long j) {
  return xp + i * g->stride * g->iw + j * g->stride;
}

/* The sum of the k x k window at w, in rows of iw. */
INLINE float window_sum(int k, long iw, const float *w) {
  float s = 0;
  for (int a = 0; a < k; a++)
    for (int b = 0; b < k; b++)
      s += w[a * iw + b];
  return s;
}

/* The offset from w of the window's first largest element; a NaN, when
   there is one, counts as the largest (it propagates, as in PyTorch). */
INLINE long window_argmax(int k, long iw, const float *w) {
  long best = 0;
  for (int a = 0; a < k; a++)
    for (int b = 0; b < k; b++) {
      float v = w[a * iw + b];
      if (v > w[best] || (v != v && w[best] == w[best]))
        best = a * iw + b;
    }
  return best;
}

/* The largest element by the same rule, as selects that vectorise. */
INLINE float window_max(int k, long iw, const float *w) {
  float m = w[0];
  for (int a = 0; a < k; a++)
    for (int b = 0; b < k; b++) {
      float v = w[a * iw + b];
      m = v > m || (v != v && m == m) ? v : m;
    }
  return m;
}

static long plane_in(const LuPoolGeom *g) {
  return g->ih * g->iw;
}

static long plane_out(const LuPoolGeom *g) {
  return g->oh * g->ow;
}

static float inv_area(int k) {
  return 1.0f / ((float)k * (float)k);
}

void lu_nn_ref_maxpool_fprop(const LuPoolGeom *g, long B, const float *x,
                             float *y) {
  for (long p = 0; p < B * g->planes; p++, x += plane_in(g))
    for (long i = 0; i < g->oh; i++)
      for (long j = 0; j < g->ow; j++) {
        const float *w = window(g, x, i, j);
        *y++ = w[window_argmax(g->k, g->iw, w)];
      }
}

void lu_nn_ref_maxpool_back(const LuPoolGeom *g, long B, const float *x,
                            const float *d, float *dx) {
  memset(dx, 0, sizeof(float) * (size_t)(B * g->planes * plane_in(g)));
  for (long p = 0; p < B * g->planes; p++, x += plane_in(g), dx += plane_in(g))
    for (long i = 0; i < g->oh; i++)
      for (long j = 0; j < g->ow; j++) {
        const float *w = window(g, x, i, j);
        dx[w - x + window_argmax(g->k, g->iw, w)] += *d++;
      }
}

void lu_nn_ref_avgpool_fprop(const LuPoolGeom *g, long B, const float *x,
                             float *y) {
  for (long p = 0; p < B * g->planes; p++, x += plane_in(g))
    for (long i = 0; i < g->oh; i++)
      for (long j = 0; j < g->ow; j++)
        *y++ = window_sum(g->k, g->iw, window(g, x, i, j)) * inv_area(g->k);
}

void lu_nn_ref_avgpool_back(const LuPoolGeom *g, long B, float scale,
                            const float *d, float *dx) {
  memset(dx, 0, sizeof(float) * (size_t)(B * g->planes * plane_in(g)));
  for (long p = 0; p < B * g->planes; p++, dx += plane_in(g))
    for (long i = 0; i < g->oh; i++)
      for (long j = 0; j < g->ow; j++) {
        float *w = dx + (window(g, dx, i, j) - dx), v = scale * *d++;
        for (int a = 0; a < g->k; a++)
          for (int b = 0; b < g->k; b++)
            w[a * g->iw + b] += v;
      }
}

/* The optimised kernels for windows of K x K, K apart: each output row i
   reads input rows K i to K i + K - 1 (row r, of iw floats). MAX: the
   largest element, else the mean. */
INLINE void tiled_fprop(const int K, bool MAX, const LuPoolGeom *g, long B,
                        const float *x, float *y) {
  float scale = inv_area(K);
  for (long p = 0; p < B * g->planes; p++, x += plane_in(g))
    for (long i = 0; i < g->oh; i++, y += g->ow) {
      const float *r = x + i * K * g->iw;
      for (long j = 0; j < g->ow; j++)
        y[j] = MAX ? window_max(K, g->iw, r + j * K)
                   : window_sum(K, g->iw, r + j * K) * scale;
    }
}

/* dx of the tiled windows: each window's d[i][j] times scale on every
   element (MAX: on its first largest, 0 elsewhere); the rows and columns
   no window covers, 0. */
INLINE void tiled_back(const int K, bool MAX, const LuPoolGeom *g, long B,
                       float scale, const float *x, const float *d, float *dx) {
  bool spare = g->oh * K < g->ih || g->ow * K < g->iw;
  for (long p = 0; p < B * g->planes; p++, dx += plane_in(g)) {
    const float *xp = MAX ? x + p * plane_in(g) : NULL;
    if (spare)
      memset(dx, 0, sizeof(float) * (size_t)plane_in(g));
    for (long i = 0; i < g->oh; i++, d += g->ow) {
      float *r = dx + i * K * g->iw;
      for (long j = 0; j < g->ow; j++)
        for (int a = 0; a < K; a++)
          for (int b = 0; b < K; b++)
            r[a * g->iw + j * K + b] = MAX ? 0 : scale * d[j];
      for (long j = 0; MAX && j < g->ow; j++) {
        long o = i * K * g->iw + j * K;
        dx[o + window_argmax(K, g->iw, xp + o)] = d[j];
      }
    }
  }
}

/* The 2x2 means of one output row of ow from input rows r0 and r1, VL
   outputs from 2 VL inputs at a time split into their even and odd lanes,
   added in window_sum's order. */
static void avg2_row(const float *r0, const float *r1, long ow, float *y) {
  vi even, odd;
  for (int i = 0; i < VL; i++)
    even[i] = 2 * i, odd[i] = 2 * i + 1;
  for (long j = 0; j < ow; j += VL) {
    int n = ow - j < VL ? (int)(ow - j) : VL;
    int lo = 2 * n < VL ? 2 * n : VL, hi = 2 * n - lo;
    vf a = vload_n(r0 + 2 * j, lo), b = vload_n(r0 + 2 * j + VL, hi);
    vf c = vload_n(r1 + 2 * j, lo), d = vload_n(r1 + 2 * j + VL, hi);
    vf sum = (vf){} + vshuffle2(a, b, even);
    sum += vshuffle2(a, b, odd);
    sum += vshuffle2(c, d, even);
    sum += vshuffle2(c, d, odd);
    vstore_n(y + j, sum * inv_area(2), n);
  }
}

/* dx of one output row's 2x2 windows: scale d[j] on the 4 elements of
   window j, in input rows r0 and r1, VL windows at a time. */
static void avg2_back_row(const float *d, long ow, float scale, float *r0,
                          float *r1) {
  vi first, second;
  for (int i = 0; i < VL; i++)
    first[i] = i / 2, second[i] = VL / 2 + i / 2;
  for (long j = 0; j < ow; j += VL) {
    int n = ow - j < VL ? (int)(ow - j) : VL;
    int lo = 2 * n < VL ? 2 * n : VL, hi = 2 * n - lo;
    vf v = vload_n(d + j, n) * scale;
    vf a = vshuffle2(v, v, first), b = vshuffle2(v, v, second);
    vstore_n(r0 + 2 * j, a, lo);
    vstore_n(r0 + 2 * j + VL, b, hi);
    vstore_n(r1 + 2 * j, a, lo);
    vstore_n(r1 + 2 * j + VL, b, hi);
  }
}

/* Average pooling by 2x2 windows 2 apart, a row of outputs at a time. */
static void avg2_fprop(const LuPoolGeom *g, long B, const float *x, float *y) {
  for (long p = 0; p < B * g->planes; p++, x += plane_in(g))
    for (long i = 0; i < g->oh; i++, y += g->ow)
      avg2_row(x + 2 * i * g->iw, x + (2 * i + 1) * g->iw, g->ow, y);
}

/* Its dx; the rows and columns no window covers, 0. */
static void avg2_back(const LuPoolGeom *g, long B, float scale, const float *d,
                      float *dx) {
  bool spare = g->oh * 2 < g->ih || g->ow * 2 < g->iw;
  for (long p = 0; p < B * g->planes; p++, dx += plane_in(g)) {
    if (spare)
      memset(dx, 0, sizeof(float) * (size_t)plane_in(g));
    for (long i = 0; i < g->oh; i++, d += g->ow)
      avg2_back_row(d, g->ow, scale, dx + 2 * i * g->iw,
                    dx + (2 * i + 1) * g->iw);
  }
}

/* Calls the optimised kernel for windows that tile, else the reference. */
#define TILED(g, fast, ref)                                                    \
  do {                                                                         \
    if ((g)->k == (g)->stride && (g)->k == 2)                                  \
      fast(2);                                                                 \
    else if ((g)->k == (g)->stride && (g)->k == 3)                             \
      fast(3);                                                                 \
    else                                                                       \
      ref;                                                                     \
  } while (0)

void lu_nn_maxpool_fprop(const LuPoolGeom *g, long B, const float *x,
                         float *y) {
#define F(K) tiled_fprop(K, true, g, B, x, y)
  TILED(g, F, lu_nn_ref_maxpool_fprop(g, B, x, y));
#undef F
}

void lu_nn_maxpool_back(const LuPoolGeom *g, long B, const float *x,
                        const float *d, float *dx) {
#define F(K) tiled_back(K, true, g, B, 1, x, d, dx)
  TILED(g, F, lu_nn_ref_maxpool_back(g, B, x, d, dx));
#undef F
}

void lu_nn_avgpool_fprop(const LuPoolGeom *g, long B, const float *x,
                         float *y) {
  if (g->k == 2 && g->stride == 2) {
    avg2_fprop(g, B, x, y);
    return;
  }
#define F(K) tiled_fprop(K, false, g, B, x, y)
  TILED(g, F, lu_nn_ref_avgpool_fprop(g, B, x, y));
#undef F
}

void lu_nn_avgpool_back(const LuPoolGeom *g, long B, float scale,
                        const float *d, float *dx) {
  if (g->k == 2 && g->stride == 2) {
    avg2_back(g, B, scale, d, dx);
    return;
  }
#define F(K) tiled_back(K, false, g, B, scale, NULL, d, dx)
  TILED(g, F, lu_nn_ref_avgpool_back(g, B, scale, d, dx));
#undef F
}

void lu_nn_subsample_fprop(const LuPoolGeom *g, long B, const float *w,
                           const float *b, const float *x, float *y) {
  lu_nn_avgpool_fprop(g, B, x, y);
  for (long p = 0; p < B * g->planes; p++)
    for (long o = 0; o < plane_out(g); o++, y++)
      *y = w[p % g->planes] * *y + b[p % g->planes];
}

/* The subsampling's backward passes: d is dy (SQ false) or ddy (SQ true);
   each window's mean m and the plane's coefficient c give dw += m d, db +=
   d, dx = c d / k^2 over the window, squared factors when SQ. Windows do
   not overlap, so dx is written once. */
static inline void subsample_back(bool SQ, const LuPoolGeom *g, long B,
                                  const float *w, const float *x,
                                  const float *d, float *dx, float *dw,
                                  float *db) {
  float kk = 1.0f / ((float)g->k * (float)g->k);
  for (long p = 0; p < B * g->planes; p++, x += plane_in(g)) {
    long q = p % g->planes;
    float c = w[q] * kk, sw = 0, sb = 0;
    for (long i = 0; i < g->oh; i++)
      for (long j = 0; j < g->ow; j++, d++) {
        const float *win = window(g, x, i, j);
        float m = window_sum(g->k, g->iw, win) * kk;
        sw += (SQ ? m * m : m) * *d;
        sb += *d;
        if (!dx)
          continue;
        float v = (SQ ? c * c : c) * *d;
        float *dwin = dx + p * plane_in(g) + (win - x);
        for (int a = 0; a < g->k; a++)
          for (int e = 0; e < g->k; e++)
            dwin[a * g->iw + e] = v;
      }
    dw[q] += sw;
    db[q] += sb;
  }
}

void lu_nn_subsample_bprop(const LuPoolGeom *g, long B, const float *w,
                           const float *x, const float *dy, float *dx,
                           float *dw, float *db) {
  subsample_back(false, g, B, w, x, dy, dx, dw, db);
}

void lu_nn_subsample_bbprop(const LuPoolGeom *g, long B, const float *w,
                            const float *x, const float *ddy, float *ddx,
                            float *ddw, float *ddb) {
  subsample_back(true, g, B, w, x, ddy, ddx, ddw, ddb);
}

/* ---- Modules ------------------------------------------------------------- */

typedef struct {
  LuPoolGeom g;
} Pool;

static LuPoolGeom *geom_of(const NnModule *m) {
  return &((Pool *)m->data)->g;
}

static bool is_subsample(const NnModule *m);

/* Input [... H W]: planes of H x W, every window inside them; for
   subsampling, H and W multiples of K. Output [... OH OW]. */
static void pool_setup(NnModule *m, const NnShape *in, NnShape *out) {
  LuPoolGeom *g = geom_of(m);
  const char *kind = m->ops->kind;
  if (in->ndim < 2)
    lu_error("nn-seq: %s %d needs an input of 2 or more dimensions (planes "
             "of rows and columns), got %s",
             kind, g->k, lu_nn_shape_cstr(in));
  g->ih = in->dim[in->ndim - 2];
  g->iw = in->dim[in->ndim - 1];
  g->planes = in->n / (g->ih * g->iw);
  if (g->k > g->ih || g->k > g->iw)
    lu_error("nn-seq: %s: a %dx%d window does not fit in the input %s", kind,
             g->k, g->k, lu_nn_shape_cstr(in));
  if (is_subsample(m) && (g->ih % g->k || g->iw % g->k))
    lu_error("nn-seq: subsample %d: the input %s: its last two sizes are not "
             "multiples of %d",
             g->k, lu_nn_shape_cstr(in), g->k);
  g->oh = (g->ih - g->k) / g->stride + 1;
  g->ow = (g->iw - g->k) / g->stride + 1;
  *out = *in;
  out->dim[in->ndim - 2] = g->oh;
  out->dim[in->ndim - 1] = g->ow;
  *out = lu_nn_shape_make(out->ndim, out->dim);
  m->macs = out->n * g->k * g->k;
  if (is_subsample(m)) {
    m->nw = g->planes;
    m->np = 2 * g->planes;
    m->conns = out->n * (g->k * g->k + 1);
  }
}

static void maxpool_fprop(NnCtx *c, const float *x, float *y) {
  (c->ref ? lu_nn_ref_maxpool_fprop : lu_nn_maxpool_fprop)(geom_of(c->m), 1, x,
                                                           y);
}

static void maxpool_back(NnCtx *c, const float *x, const float *y,
                         const float *d, float *dx) {
  (void)y;
  (c->ref ? lu_nn_ref_maxpool_back : lu_nn_maxpool_back)(geom_of(c->m), 1, x, d,
                                                         dx);
}

static void avgpool_fprop(NnCtx *c, const float *x, float *y) {
  (c->ref ? lu_nn_ref_avgpool_fprop : lu_nn_avgpool_fprop)(geom_of(c->m), 1, x,
                                                           y);
}

static void avgpool_bprop(NnCtx *c, const float *x, const float *y,
                          const float *dy, float *dx) {
  (void)x, (void)y;
  (c->ref ? lu_nn_ref_avgpool_back : lu_nn_avgpool_back)(
      geom_of(c->m), 1, inv_area(geom_of(c->m)->k), dy, dx);
}

static void avgpool_bbprop(NnCtx *c, const float *x, const float *y,
                           const float *ddy, float *ddx) {
  (void)x, (void)y;
  float s = inv_area(geom_of(c->m)->k);
  (c->ref ? lu_nn_ref_avgpool_back : lu_nn_avgpool_back)(geom_of(c->m), 1,
                                                         s * s, ddy, ddx);
}

static void subsample_fprop(NnCtx *c, const float *x, float *y) {
  lu_nn_subsample_fprop(geom_of(c->m), 1, c->w, c->w + c->m->nw, x, y);
}

static void subsample_bprop(NnCtx *c, const float *x, const float *y,
                            const float *dy, float *dx) {
  (void)y;
  lu_nn_subsample_bprop(geom_of(c->m), 1, c->w, x, dy, dx, c->dw,
                        c->dw + c->m->nw);
}

static void subsample_bbprop(NnCtx *c, const float *x, const float *y,
                             const float *ddy, float *ddx) {
  (void)y;
  lu_nn_subsample_bbprop(geom_of(c->m), 1, c->w, x, ddy, ddx, c->ddw,
                         c->ddw + c->m->nw);
}

/* As every weight: uniform in +-A/sqrt(fan-in), the fan-in of a unit being
   the K^2 inputs of its window; biases BIAS. */
static void subsample_init(NnModule *m, float *w, double a, double bias) {
  double r = a / geom_of(m)->k;
  for (long i = 0; i < m->nw; i++)
    w[i] = (float)((2 * lu_rand_uniform() - 1) * r);
  for (long i = m->nw; i < m->np; i++)
    w[i] = (float)bias;
}

/* Coefficients [planes], biases [planes]. */
static int subsample_params(const NnModule *m, NnShape shape[NN_MAXPARAMS]) {
  shape[0] = shape[1] = lu_nn_shape_make(1, &geom_of(m)->planes);
  return 2;
}

static void pool_describe(NnModule *m, LuBuf *b) {
  const LuPoolGeom *g = geom_of(m);
  lu_buf_printf(b, "%s %dx%d", m->ops->kind, g->k, g->k);
  if (g->stride != g->k)
    lu_buf_printf(b, " stride %d", g->stride);
}

static const NnOps maxpool_ops = {.kind = "maxpool",
                                  .setup = pool_setup,
                                  .fprop = maxpool_fprop,
                                  .bprop = maxpool_back,
                                  .bbprop = maxpool_back,
                                  .describe = pool_describe};

static const NnOps avgpool_ops = {.kind = "avgpool",
                                  .setup = pool_setup,
                                  .fprop = avgpool_fprop,
                                  .bprop = avgpool_bprop,
                                  .bbprop = avgpool_bbprop,
                                  .describe = pool_describe};

static const NnOps subsample_ops = {.kind = "subsample",
                                    .setup = pool_setup,
                                    .fprop = subsample_fprop,
                                    .bprop = subsample_bprop,
                                    .bbprop = subsample_bbprop,
                                    .init = subsample_init,
                                    .describe = pool_describe,
                                    .params = subsample_params};

static bool is_subsample(const NnModule *m) {
  return m->ops == &subsample_ops;
}

/* A module of ops with window K (argument 0) and stride argument 1
   (default K) when has_stride. */
static LuValue *pool_new(const NnOps *ops, LuValue **argv, int argc,
                         bool has_stride) {
  NnModule *m = lu_nn_module_new(ops, sizeof(Pool));
  LuPoolGeom *g = geom_of(m);
  g->k = g->stride = lu_nn_arg_range(argv, 0, 1, 10000);
  if (has_stride && lu_arg_given(argv, argc, 1))
    g->stride = lu_nn_arg_range(argv, 1, 1, 10000);
  return m->self;
}

LU_DEFUN(nn_maxpool, "(nn-maxpool K [STRIDE])",
         "A max-pooling module: each output is the largest element of a KxK "
         "window of its input's last two dimensions ([C H W] or [H W], "
         "plane by plane), windows STRIDE apart (default K); output [C OH "
         "OW] with OH = (H - K) / STRIDE + 1 rounded down, the same for OW. "
         "The gradient goes to the first largest element of each window.") {
  return pool_new(&maxpool_ops, argv, argc, true);
}

LU_DEFUN(nn_avgpool, "(nn-avgpool K [STRIDE])",
         "An average-pooling module: each output is the mean of a KxK "
         "window of its input's last two dimensions, windows STRIDE apart "
         "(default K); shapes as nn-maxpool.") {
  return pool_new(&avgpool_ops, argv, argc, true);
}

LU_DEFUN(nn_subsample, "(nn-subsample K)",
         "LeNet-5's subsampling module: the mean of each KxK window of its "
         "input's last two dimensions (windows K apart, the sizes multiples "
         "of K), times a trainable coefficient plus a trainable bias, one "
         "pair per plane. Parameters: the coefficients [planes], then the "
         "biases [planes]; nn-init draws the coefficients as any weight with "
         "a fan-in of K^2.") {
  return pool_new(&subsample_ops, argv, argc, false);
}

static LuBuiltin *const pool_builtins[] = {
    &nn_maxpool_builtin, &nn_avgpool_builtin, &nn_subsample_builtin, NULL};

void lu_nn_pool_open(void) {
  lu_register(pool_builtins);
}
