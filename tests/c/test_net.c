/* test_net.c: the kernels of the backprop simulator. Optimised kernels
   against their reference twins on random inputs, every kernel's bprop
   against finite differences of its fprop, bbprop against finite-difference
   second derivatives where Gauss-Newton is exact, and the fast tanh
   against libm. Nets as a whole are tested from Lisp (tests/lisp/net.lsp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_batch.h"
#include "nn_simd.h"

static uint64_t rng = 88172645463325252ull;

/* xorshift64: test data independent of the interpreter's generator. */
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

static float *rvec(long n, double a) {
  float *v = calloc((size_t)n + 64, sizeof(float));
  for (long i = 0; i < n; i++)
    v[i] = (float)((2 * urand() - 1) * a);
  return v;
}

static float *zvec(long n) {
  return calloc((size_t)n + 64, sizeof(float));
}

static double maxrel(const float *a, const float *b, long n) {
  double d = 0, m = 1e-6;
  for (long i = 0; i < n; i++) {
    d = fmax(d, fabs((double)a[i] - b[i]));
    m = fmax(m, fmax(fabs(a[i]), fabs(b[i])));
  }
  return d / m;
}

/* ---- tanh -------------------------------------------------------------- */

static void test_tanh_accuracy(void **state) {
  (void)state;
  enum { N = 1 << 20 };
  float *x = zvec(N), *y = zvec(N);
  for (long i = 0; i < N; i++) /* dense over [-12, 12] */
    x[i] = (float)(-12 + 24.0 * i / (N - 1));
  x[0] = 0, x[1] = -0.0f, x[2] = 1e-30f, x[3] = -1e-8f, x[4] = 1e30f;
  x[5] = -INFINITY, x[6] = 0.0625f, x[7] = -0.0624999f, x[8] = 9.0f;
  lu_nn_squash(LU_SQ_TANH, x, y, N - 3); /* a length that leaves a tail */
  double worst = 0;
  for (long i = 0; i < N - 3; i++)
    worst = fmax(worst, fabs(y[i] - tanh((double)x[i])));
  assert_true(worst < 2e-7);
  assert_true(y[2] == 1e-30f && y[3] == -1e-8f); /* tiny: exact-ish */
  assert_true(y[4] == 1.0f && y[5] == -1.0f);
  assert_true(signbit(y[1]));
  x[0] = NAN;
  lu_nn_squash(LU_SQ_TANH, x, y, 1);
  assert_true(isnan(y[0]));
  free(x), free(y);
}

static void test_squash_agree(void **state) {
  (void)state;
  LuSquash fs[] = {LU_SQ_TANH, LU_SQ_STANH, LU_SQ_RELU, LU_SQ_NONE};
  for (int k = 0; k < 4; k++) {
    long n = 1000 + k;
    float *x = rvec(n, 5), *a = zvec(n), *b = zvec(n);
    lu_nn_squash(fs[k], x, a, n);
    lu_nn_ref_squash(fs[k], x, b, n);
    assert_true(maxrel(a, b, n) < 3e-7);
    free(x), free(a), free(b);
  }
}

/* bprop: f'(s) from y against central differences of f; bbprop: its
   square. */
static void test_squash_derivatives(void **state) {
  (void)state;
  LuSquash fs[] = {LU_SQ_TANH, LU_SQ_STANH, LU_SQ_RELU};
  for (int k = 0; k < 3; k++) {
    long n = 200;
    float *s = rvec(n, 3), *y = zvec(n), *one = zvec(n), *d = zvec(n),
          *dd = zvec(n);
    for (long i = 0; i < n; i++) {
      one[i] = 1;
      if (fabsf(s[i]) < 0.01f) /* keep away from ReLU's kink */
        s[i] = 0.5f;
    }
    lu_nn_ref_squash(fs[k], s, y, n);
    lu_nn_squash_bprop(fs[k], y, one, d, n);
    lu_nn_squash_bbprop(fs[k], y, one, dd, n);
    for (long i = 0; i < n; i++) {
      float p = s[i] + 1e-3f, m = s[i] - 1e-3f, yp, ym;
      lu_nn_ref_squash(fs[k], &p, &yp, 1);
      lu_nn_ref_squash(fs[k], &m, &ym, 1);
      double num = ((double)yp - ym) / ((double)p - m);
      assert_true(fabs(num - d[i]) < 2e-3);
      assert_true(fabs(num * num - dd[i]) < 4e-3);
    }
    free(s), free(y), free(one), free(d), free(dd);
  }
}

/* ---- convolution ------------------------------------------------------- */

typedef struct {
  int nin, ih, iw, nout, k, stride, pad;
  float padval;
  bool unit;
  int table; /* 0: full; 1: the 1989 H2 table; 2: a sparse irregular one */
  bool fd;   /* small enough for the finite-difference test */
} ConvCase;

/* Sizes that take each path of the kernels: tiles of 1, 2, 4 and more
   vectors, tails, weight gradients by transposition (few output maps) and
   by dot products (many), and the dense geometries that run as a fully
   connected layer beside the one-output ones that do not. */
static const ConvCase conv_cases[] = {
    {1, 16, 16, 12, 5, 2, 2, -1, true, 0, false},   /* 1989 H1 */
    {12, 8, 8, 12, 5, 2, 2, -1, true, 1, false},    /* 1989 H2 */
    {3, 7, 9, 5, 3, 1, 1, 0.5f, false, 2, true},    /* odd sizes, tails */
    {2, 11, 6, 3, 4, 3, 0, 0, false, 0, true},      /* no padding, stride 3 */
    {2, 3, 3, 2, 3, 1, 0, 0, false, 0, true},       /* one output position */
    {3, 8, 8, 20, 3, 2, 1, 0, false, 2, true},      /* many maps, 16 places */
    {2, 12, 10, 17, 5, 2, 2, -1, true, 0, false},   /* many maps, 2 vectors */
    {2, 16, 16, 17, 5, 2, 2, -1, true, 2, false},   /* many maps, 4 vectors */
    {4, 20, 20, 7, 5, 1, 2, -1, true, 2, false},    /* many vectors */
    {1, 16, 16, 2, 14, 1, 0, 0, false, 0, true},    /* tiles span > 2 vectors */
    {1, 32, 32, 6, 5, 1, 0, 0, false, 0, false},    /* LeNet-5's C1 */
    {6, 14, 14, 16, 5, 1, 0, 0, false, 0, false},   /* its C3, full table */
    {6, 14, 14, 16, 5, 1, 0, 0, true, 2, false},    /* C3, partial, unit bias */
    {5, 9, 11, 21, 3, 1, 1, 0.25f, false, 2, true}, /* stride 1, > VL maps */
    {2, 8, 9, 3, 6, 1, 1, 0.5f, true, 2, true},     /* narrow outputs, padded */
    {2, 12, 12, 9, 7, 1, 1, 0.5f, false, 2, false}, /* dt, 7 taps a row */
    {1, 12, 12, 12, 10, 1, 0, 0, false, 0, false},  /* dt, 8 + 2 taps */
    {16, 5, 5, 120, 5, 1, 0, 0, false, 0, false},   /* LeNet-5's C5: dense */
    {3, 4, 4, 5, 4, 2, 0, 0, true, 0, true},        /* dense, bias per unit */
    {16, 5, 5, 20, 5, 1, 0, 0, false, 2, false},    /* C5-like, partial table */
    {2, 6, 6, 4, 5, 2, 0, 0, false, 0, true},    /* 1 output, input > kernel */
    {2, 3, 3, 3, 5, 1, 1, 0.5f, false, 0, true}, /* 1 output, padded */
};

/* Fills g for case c; the connection arrays are malloc'd. */
static void conv_make(const ConvCase *c, LuConvGeom *g) {
  memset(g, 0, sizeof *g);
  g->nin = c->nin, g->ih = c->ih, g->iw = c->iw, g->nout = c->nout;
  g->kh = g->kw = c->k, g->stride = c->stride, g->pad = c->pad;
  g->padval = c->padval, g->bias_unit = c->unit;
  int *cin = malloc(sizeof(int) * (size_t)(c->nin * c->nout));
  int *cout = malloc(sizeof(int) * (size_t)(c->nin * c->nout));
  int n = 0;
  for (int o = 0; o < c->nout; o++)
    for (int i = 0; i < c->nin; i++) {
      bool on = true;
      if (c->table == 1) /* maps 0-3: planes 0-7; 4-7: 4-11; 8-11: 0-3, 8-11 */
        on = o < 4 ? i < 8 : o < 8 ? i >= 4 : (i < 4 || i >= 8);
      else if (c->table == 2)
        on = (i + 2 * o) % 3 != 0;
      if (on)
        cin[n] = i, cout[n] = o, n++;
    }
  g->nconn = n, g->cin = cin, g->cout = cout;
  lu_nn_conv_prepare(g);
}

static long conv_nb(const LuConvGeom *g) {
  return g->bias_unit ? (long)g->nout * g->npos : g->nout;
}

static void test_conv_agree(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof conv_cases / sizeof *conv_cases; k++) {
    LuConvGeom g;
    conv_make(&conv_cases[k], &g);
    long nx = (long)g.nin * g.ih * g.iw, ny = (long)g.nout * g.npos;
    long nw = (long)g.nconn * g.kk, nb = conv_nb(&g);
    float *w = rvec(nw, 0.5), *b = rvec(nb, 0.5), *x = rvec(nx, 1);
    float *scratch = zvec(lu_nn_conv_scratch(&g));
    float *s1 = zvec(ny), *y1 = zvec(ny), *s2 = zvec(ny), *y2 = zvec(ny);
    lu_nn_conv_fprop(&g, w, b, x, s1, LU_SQ_TANH, y1, scratch);
    lu_nn_ref_conv_fprop(&g, w, b, x, s2);
    lu_nn_ref_squash(LU_SQ_TANH, s2, y2, ny);
    assert_true(maxrel(s1, s2, ny) < 1e-5);
    assert_true(maxrel(y1, y2, ny) < 1e-5);
    float *ds = rvec(ny, 1);
    for (int second = 0; second < 2; second++) {
      float *dx1 = rvec(nx, 1), *dw1 = rvec(nw, 1), *db1 = rvec(nb, 1);
      float *dx2 = zvec(nx), *dw2 = zvec(nw), *db2 = zvec(nb);
      memcpy(dw2, dw1, sizeof(float) * (size_t)nw); /* both accumulate */
      memcpy(db2, db1, sizeof(float) * (size_t)nb);
      if (second) {
        lu_nn_conv_bbprop(&g, w, x, ds, dx1, dw1, db1, scratch);
        lu_nn_ref_conv_bbprop(&g, w, x, ds, dx2, dw2, db2);
      } else {
        lu_nn_conv_bprop(&g, w, x, ds, dx1, dw1, db1, scratch);
        lu_nn_ref_conv_bprop(&g, w, x, ds, dx2, dw2, db2);
      }
      assert_true(maxrel(dx1, dx2, nx) < 1e-5);
      assert_true(maxrel(dw1, dw2, nw) < 1e-5);
      assert_true(maxrel(db1, db2, nb) < 1e-5);
      free(dx1), free(dw1), free(db1), free(dx2), free(dw2), free(db2);
    }
    free(w), free(b), free(x), free(scratch), free(s1), free(y1), free(s2);
    free(y2), free(ds), free((void *)g.cin), free((void *)g.cout);
  }
}

/* L = sum r_i s_i is linear in w, b and x, so central differences of the
   reference fprop give the exact gradient up to rounding; L2 = 1/2 sum h_i
   s_i^2 is quadratic with a diagonal Hessian in s, so second differences
   give the exact second derivatives, which Gauss-Newton computes. */
static double conv_loss(const LuConvGeom *g, const float *w, const float *b,
                        const float *x, const float *r, bool sq) {
  long ny = (long)g->nout * g->npos;
  float *s = zvec(ny);
  lu_nn_ref_conv_fprop(g, w, b, x, s);
  double l = 0;
  for (long i = 0; i < ny; i++)
    l += sq ? 0.5 * r[i] * (double)s[i] * s[i] : (double)r[i] * s[i];
  free(s);
  return l;
}

/* Compares analytic derivatives a of L with respect to v with finite
   differences; returns the scale-relative error. */
static double fd_check(const LuConvGeom *g, float *w, float *b, float *x,
                       float *r, float *v, const float *a, long n, bool sq) {
  double worst = 0, mag = 1e-3;
  const float eps = sq ? 0.25f : 1e-2f;
  double l0 = conv_loss(g, w, b, x, r, sq);
  for (long i = 0; i < n; i++) {
    float keep = v[i];
    v[i] = keep + eps;
    double lp = conv_loss(g, w, b, x, r, sq);
    v[i] = keep - eps;
    double lm = conv_loss(g, w, b, x, r, sq);
    v[i] = keep;
    double num = sq ? (lp - 2 * l0 + lm) / (eps * eps) : (lp - lm) / (2 * eps);
    worst = fmax(worst, fabs(num - a[i]));
    mag = fmax(mag, fabs(num));
  }
  return worst / mag;
}

static void test_conv_finite_differences(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof conv_cases / sizeof *conv_cases; k++) {
    if (!conv_cases[k].fd)
      continue;
    LuConvGeom g;
    conv_make(&conv_cases[k], &g);
    long nx = (long)g.nin * g.ih * g.iw, ny = (long)g.nout * g.npos;
    long nw = (long)g.nconn * g.kk, nb = conv_nb(&g);
    float *w = rvec(nw, 0.5), *b = rvec(nb, 0.5), *x = rvec(nx, 1);
    float *scratch = zvec(lu_nn_conv_scratch(&g)), *s = zvec(ny);
    float *r = rvec(ny, 1), *h = rvec(ny, 1);
    for (long i = 0; i < ny; i++)
      h[i] = fabsf(h[i]);
    for (int sq = 0; sq < 2; sq++) {
      float *dx = zvec(nx), *dw = zvec(nw), *db = zvec(nb);
      lu_nn_conv_fprop(&g, w, b, x, s, LU_SQ_NONE, NULL, scratch);
      if (sq)
        lu_nn_conv_bbprop(&g, w, x, h, dx, dw, db, scratch);
      else
        lu_nn_conv_bprop(&g, w, x, r, dx, dw, db, scratch);
      float *rr = sq ? h : r;
      assert_true(fd_check(&g, w, b, x, rr, w, dw, nw, sq) < 1e-3);
      assert_true(fd_check(&g, w, b, x, rr, b, db, nb, sq) < 1e-3);
      assert_true(fd_check(&g, w, b, x, rr, x, dx, nx, sq) < 1e-3);
      free(dx), free(dw), free(db);
    }
    free(w), free(b), free(x), free(scratch), free(s), free(r), free(h);
    free((void *)g.cin), free((void *)g.cout);
  }
}

/* ---- fully connected ---------------------------------------------------- */

static void test_linear(void **state) {
  (void)state;
  int sizes[][2] = {{192, 30}, {30, 10}, {7, 3}, {1, 1}, {33, 17}};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    int nin = sizes[k][0], nout = sizes[k][1];
    long nw = (long)nin * nout;
    float *w = rvec(nw, 0.5), *b = rvec(nout, 0.5), *x = rvec(nin, 1);
    float *s1 = zvec(nout), *y1 = zvec(nout), *s2 = zvec(nout);
    lu_nn_linear_fprop(nin, nout, w, b, x, s1, LU_SQ_STANH, y1);
    lu_nn_ref_linear_fprop(nin, nout, w, b, x, s2);
    assert_true(maxrel(s1, s2, nout) < 1e-5);
    for (int o = 0; o < nout; o++)
      assert_true(fabsf(y1[o] - 1.7159f * tanhf(s2[o] * 2 / 3)) < 1e-5f);
    float *ds = rvec(nout, 1);
    float *dx1 = rvec(nin, 1), *dw1 = rvec(nw, 1), *db1 = rvec(nout, 1);
    float *dx2 = zvec(nin), *dw2 = zvec(nw), *db2 = zvec(nout);
    memcpy(dw2, dw1, sizeof(float) * (size_t)nw);
    memcpy(db2, db1, sizeof(float) * (size_t)nout);
    lu_nn_linear_bprop(nin, nout, w, x, ds, dx1, dw1, db1);
    lu_nn_ref_linear_bprop(nin, nout, w, x, ds, dx2, dw2, db2);
    assert_true(maxrel(dx1, dx2, nin) < 1e-5);
    assert_true(maxrel(dw1, dw2, nw) < 1e-5);
    assert_true(maxrel(db1, db2, nout) < 1e-5);
    /* gradient by the definition: ds_o/dw_oi = x_i, ds_o/dx_i = w_oi;
       second derivatives of 1/2 sum h s^2: h_o x_i^2 and sum_o h_o w_oi^2,
       exact for a linear map with one weight per (o, i) */
    float *h = rvec(nout, 1), *ddx = zvec(nin), *ddw = zvec(nw),
          *ddb = zvec(nout);
    for (int o = 0; o < nout; o++)
      h[o] = fabsf(h[o]);
    lu_nn_linear_bbprop(nin, nout, w, x, h, ddx, ddw, ddb);
    for (int o = 0; o < nout; o++) {
      assert_true(fabsf(ddb[o] - h[o]) < 1e-6f);
      for (int i = 0; i < nin; i++)
        assert_true(fabsf(ddw[(long)o * nin + i] - h[o] * x[i] * x[i]) < 1e-5f);
    }
    for (int i = 0; i < nin; i++) {
      double sum = 0;
      for (int o = 0; o < nout; o++)
        sum += (double)h[o] * w[(long)o * nin + i] * w[(long)o * nin + i];
      assert_true(fabs(ddx[i] - sum) < 1e-4 * (1 + sum));
    }
    free(w), free(b), free(x), free(s1), free(y1), free(s2), free(ds);
    free(dx1), free(dw1), free(db1), free(dx2), free(dw2), free(db2);
    free(h), free(ddx), free(ddw), free(ddb);
  }
}

/* The kernels over ne examples at once against ne calls of the
   one-example kernels: the same bits, for sizes off the vector widths,
   groups of 1 to 8 examples, with and without dx. */
static void test_linear_batch(void **state) {
  (void)state;
  int sizes[][2] = {{400, 120}, {120, 84}, {84, 10}, {33, 17}, {7, 3}, {1, 1}};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    int nin = sizes[k][0], nout = sizes[k][1];
    long nw = (long)nin * nout, ws = nin + nout + 37;
    float *w = rvec(nw, 0.5), *b = rvec(nout, 0.5);
    for (int ne = 1; ne <= 8; ne++) {
      float *x = rvec(ne * ws, 1), *ds = rvec(ne * ws, 1);
      float *s1 = zvec(ne * ws), *y1 = zvec(ne * ws);
      float *s2 = zvec(ne * ws), *y2 = zvec(ne * ws);
      lu_nn_linear_fprop_batch(nin, nout, w, b, ne, x, ws, s1, LU_SQ_TANH, y1);
      for (int e = 0; e < ne; e++)
        lu_nn_linear_fprop(nin, nout, w, b, x + e * ws, s2 + e * ws, LU_SQ_TANH,
                           y2 + e * ws);
      assert_memory_equal(s1, s2, sizeof(float) * (size_t)(ne * ws));
      assert_memory_equal(y1, y2, sizeof(float) * (size_t)(ne * ws));
      for (int want_dx = 0; want_dx < 2; want_dx++) {
        float *dw1 = rvec(nw, 1), *db1 = rvec(nout, 1);
        float *dw2 = zvec(nw), *db2 = zvec(nout);
        memcpy(dw2, dw1, sizeof(float) * (size_t)nw);
        memcpy(db2, db1, sizeof(float) * (size_t)nout);
        float *dx1 = want_dx ? rvec(ne * ws, 1) : NULL;
        float *dx2 = want_dx ? zvec(ne * ws) : NULL;
        if (want_dx)
          memcpy(dx2, dx1, sizeof(float) * (size_t)(ne * ws));
        lu_nn_linear_bprop_batch(nin, nout, w, ne, x, ds, dx1, ws, dw1, db1);
        for (int e = 0; e < ne; e++)
          lu_nn_linear_bprop(nin, nout, w, x + e * ws, ds + e * ws,
                             want_dx ? dx2 + e * ws : NULL, dw2, db2);
        assert_memory_equal(dw1, dw2, sizeof(float) * (size_t)nw);
        assert_memory_equal(db1, db2, sizeof(float) * (size_t)nout);
        if (want_dx)
          assert_memory_equal(dx1, dx2, sizeof(float) * (size_t)(ne * ws));
        free(dw1), free(db1), free(dw2), free(db2), free(dx1), free(dx2);
      }
      free(x), free(ds), free(s1), free(y1), free(s2), free(y2);
    }
    free(w), free(b);
  }
}

/* ---- costs ----------------------------------------------------------------
 */

/* A cost as a function of y alone, its target fixed. */
typedef double (*CostOf)(const float *y, long n, const void *target);

static double mse_of(const float *y, long n, const void *t) {
  return lu_nn_mse(y, t, n, NULL, NULL);
}

static double ce_of(const float *y, long n, const void *cls) {
  return lu_nn_cross_entropy(y, n, *(const long *)cls, NULL, NULL);
}

/* The cost's dy and ddy against central finite differences, one element
   of y at a time (y is restored). */
static void check_cost_derivatives(CostOf cost, const void *target, float *y,
                                   long n, const float *dy, const float *ddy) {
  for (long i = 0; i < n; i++) {
    float keep = y[i];
    y[i] = keep + 1e-2f;
    double lp = cost(y, n, target);
    y[i] = keep - 1e-2f;
    double lm = cost(y, n, target);
    y[i] = keep;
    double l0 = cost(y, n, target);
    assert_true(fabs((lp - lm) / 2e-2 - dy[i]) < 1e-4);
    assert_true(fabs((lp - 2 * l0 + lm) / 1e-4 - ddy[i]) < 1e-3);
  }
}

static void test_costs(void **state) {
  (void)state;
  long n = 10;
  float *y = rvec(n, 2), *t = rvec(n, 1), *dy = zvec(n), *ddy = zvec(n);
  double l = lu_nn_mse(y, t, n, dy, ddy);
  double want = 0;
  for (long i = 0; i < n; i++)
    want += ((double)y[i] - t[i]) * ((double)y[i] - t[i]) / n;
  assert_true(fabs(l - want) < 1e-12);
  check_cost_derivatives(mse_of, t, y, n, dy, ddy);
  for (long cls = 0; cls < n; cls += 3) {
    l = lu_nn_cross_entropy(y, n, cls, dy, ddy);
    double z = 0;
    for (long i = 0; i < n; i++)
      z += exp(y[i]);
    assert_true(fabs(l - (log(z) - y[cls])) < 1e-9);
    /* p(1-p) is the exact diagonal second derivative of log-sum-exp */
    check_cost_derivatives(ce_of, &cls, y, n, dy, ddy);
  }
  free(y), free(t), free(dy), free(ddy);
}

/* vtranspose against the definition: lane q of row j to lane j of row q. */
static void test_transpose(void **state) {
  (void)state;
  vf r[VL];
  for (int j = 0; j < VL; j++)
    for (int q = 0; q < VL; q++)
      r[j][q] = (float)(j * VL + q);
  vtranspose(r);
  for (int j = 0; j < VL; j++)
    for (int q = 0; q < VL; q++)
      assert_true(r[q][j] == (float)(j * VL + q));
}

static void test_dot(void **state) {
  (void)state;
  for (long n = 0; n < 100; n++) {
    float *a = rvec(n, 1), *b = rvec(n, 1);
    double want = 0;
    for (long i = 0; i < n; i++)
      want += (double)a[i] * b[i];
    assert_true(fabs(lu_nn_dot(a, b, n) - want) < 1e-5);
    free(a), free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tanh_accuracy),
      cmocka_unit_test(test_squash_agree),
      cmocka_unit_test(test_squash_derivatives),
      cmocka_unit_test(test_conv_agree),
      cmocka_unit_test(test_conv_finite_differences),
      cmocka_unit_test(test_linear),
      cmocka_unit_test(test_linear_batch),
      cmocka_unit_test(test_costs),
      cmocka_unit_test(test_dot),
      cmocka_unit_test(test_transpose),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
