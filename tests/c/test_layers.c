/* test_layers.c: the kernels of the pooling, subsampling, batch-norm,
   sigmoid, leaky-relu and RBF modules and of LeNet-5's RBF cost. Each
   against small examples worked out here, on batches (B examples at once
   give what each gives alone; batch normalisation's statistics are the
   whole batch's, and its gradient through them matches finite
   differences), and the cost against its formula in double. The modules
   in nets are tested from Lisp (tests/lisp/layers.lsp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn_layers.h"

/* A linear congruential generator: fixed test data in [-1, 1). */
static uint32_t seed = 12345;

static float *noise(long n) {
  float *v = calloc((size_t)n + 1, sizeof(float));
  for (long i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
  }
  return v;
}

static float *zeros(long n) {
  return calloc((size_t)n + 1, sizeof(float));
}

static void assert_near(const float *a, const float *b, long n, double tol) {
  for (long i = 0; i < n; i++)
    if (!(fabs((double)a[i] - b[i]) <= tol))
      fail_msg("element %ld: %g against %g", i, (double)a[i], (double)b[i]);
}

/* ---- Pooling and subsampling ------------------------------------------ */

static const float img[16] = {1, 2, 3, 4, 8, 7, 6, 5, 9, -1, 0, 2, 3, 3, -4, 1};

static void test_pool_values(void **state) {
  (void)state;
  LuPoolGeom g = {
      .planes = 1, .ih = 4, .iw = 4, .oh = 2, .ow = 2, .k = 2, .stride = 2};
  float y[4], dx[16];
  lu_nn_maxpool_fprop(&g, 1, img, y);
  assert_near(y, (float[]){8, 6, 9, 2}, 4, 0);
  lu_nn_maxpool_back(&g, 1, img, (float[]){1, 2, 3, 4}, dx);
  assert_near(dx, (float[]){0, 0, 0, 0, 1, 0, 2, 0, 3, 0, 0, 4, 0, 0, 0, 0}, 16,
              0);
  lu_nn_avgpool_fprop(&g, 1, img, y);
  assert_near(y, (float[]){4.5f, 4.5f, 3.5f, -0.25f}, 4, 1e-6);
  lu_nn_avgpool_back(&g, 1, 0.25f, (float[]){4, 8, 0, -4}, dx);
  assert_near(dx, (float[]){1, 1, 2, 2, 1, 1, 2, 2, 0, 0, -1, -1, 0, 0, -1, -1},
              16, 0);
  /* overlapping 3x3 windows, stride 1: the centre pixel gets both */
  LuPoolGeom o = {
      .planes = 1, .ih = 4, .iw = 4, .oh = 2, .ow = 2, .k = 3, .stride = 1};
  lu_nn_maxpool_fprop(&o, 1, img, y);
  assert_near(y, (float[]){9, 7, 9, 7}, 4, 0);
  lu_nn_maxpool_back(&o, 1, img, (float[]){1, 2, 3, 4}, dx);
  assert_near(dx, (float[]){0, 0, 0, 0, 0, 6, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0}, 16,
              0);
}

static void test_subsample_values(void **state) {
  (void)state;
  LuPoolGeom g = {
      .planes = 1, .ih = 4, .iw = 4, .oh = 2, .ow = 2, .k = 2, .stride = 2};
  float w = 2, b = -1, y[4], dx[16], dw = 0, db = 0;
  lu_nn_subsample_fprop(&g, 1, &w, &b, img, y);
  assert_near(y, (float[]){8, 8, 6, -1.5f}, 4, 1e-6);
  lu_nn_subsample_bprop(&g, 1, &w, img, (float[]){1, 0, 0, 2}, dx, &dw, &db);
  assert_near(&dw, (float[]){4.5f - 0.5f}, 1, 1e-6);
  assert_near(&db, (float[]){3}, 1, 0);
  assert_near(
      dx, (float[]){0.5f, 0.5f, 0, 0, 0.5f, 0.5f, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1},
      16, 1e-6);
  dw = db = 0;
  lu_nn_subsample_bbprop(&g, 1, &w, img, (float[]){1, 1, 1, 2}, dx, &dw, &db);
  /* (w/k^2)^2 ddy; mean^2 ddy */
  assert_near(dx, (float[]){0.25f, 0.25f, 0.25f, 0.25f}, 1, 1e-6);
  assert_near(dx + 10, (float[]){0.5f}, 1, 1e-6);
  assert_near(&dw, (float[]){20.25f + 20.25f + 12.25f + 2 * 0.0625f}, 1, 1e-4);
  assert_near(&db, (float[]){5}, 1, 0);
}

/* B examples at once give what each gives alone. */
static void test_pool_batch(void **state) {
  (void)state;
  enum { B = 3 };
  LuPoolGeom gs[] = {
      {.planes = 2, .ih = 5, .iw = 7, .k = 2, .stride = 2},
      {.planes = 3, .ih = 6, .iw = 6, .k = 3, .stride = 1},
      {.planes = 1, .ih = 4, .iw = 8, .k = 2, .stride = 2},
  };
  for (size_t t = 0; t < sizeof gs / sizeof *gs; t++) {
    LuPoolGeom *g = &gs[t];
    g->oh = (g->ih - g->k) / g->stride + 1;
    g->ow = (g->iw - g->k) / g->stride + 1;
    long ni = g->planes * g->ih * g->iw, no = g->planes * g->oh * g->ow;
    float *x = noise(B * ni), *d = noise(B * no), *w = noise(g->planes),
          *b = noise(g->planes);
    float *y = zeros(B * no), *y1 = zeros(no), *dx = zeros(B * ni),
          *dx1 = zeros(ni);
    for (int kind = 0; kind < 3; kind++) {
      bool sub = kind == 2 && g->stride == g->k;
      float *dw = zeros(g->planes), *db = zeros(g->planes),
            *dw1 = zeros(g->planes), *db1 = zeros(g->planes);
      if (kind == 0) {
        lu_nn_maxpool_fprop(g, B, x, y);
        lu_nn_maxpool_back(g, B, x, d, dx);
      } else if (kind == 1) {
        lu_nn_avgpool_fprop(g, B, x, y);
        lu_nn_avgpool_back(g, B, 0.25f, d, dx);
      } else if (sub) {
        lu_nn_subsample_fprop(g, B, w, b, x, y);
        lu_nn_subsample_bprop(g, B, w, x, d, dx, dw, db);
      }
      for (long e = 0; e < B && (kind < 2 || sub); e++) {
        const float *xe = x + e * ni, *de = d + e * no;
        if (kind == 0) {
          lu_nn_maxpool_fprop(g, 1, xe, y1);
          lu_nn_maxpool_back(g, 1, xe, de, dx1);
        } else if (kind == 1) {
          lu_nn_avgpool_fprop(g, 1, xe, y1);
          lu_nn_avgpool_back(g, 1, 0.25f, de, dx1);
        } else {
          lu_nn_subsample_fprop(g, 1, w, b, xe, y1);
          lu_nn_subsample_bprop(g, 1, w, xe, de, dx1, dw1, db1);
        }
        assert_near(y + e * no, y1, no, 0);
        assert_near(dx + e * ni, dx1, ni, 0);
      }
      assert_near(dw, dw1, g->planes, 1e-5);
      assert_near(db, db1, g->planes, 1e-5);
      free(dw), free(db), free(dw1), free(db1);
    }
    free(x), free(d), free(w), free(b), free(y), free(y1), free(dx), free(dx1);
  }
}

/* The optimised pooling kernels against their reference twins, NaNs and
   ties included, on windows that tile with and without spare rows and
   columns, and on others (which use the reference). */
static void test_pool_agree(void **state) {
  (void)state;
  LuPoolGeom gs[] = {
      {.planes = 3, .ih = 16, .iw = 16, .k = 2, .stride = 2},
      {.planes = 2, .ih = 7, .iw = 9, .k = 2, .stride = 2},
      {.planes = 2, .ih = 9, .iw = 10, .k = 3, .stride = 3},
      {.planes = 1, .ih = 8, .iw = 8, .k = 3, .stride = 2},
      {.planes = 2, .ih = 6, .iw = 41, .k = 2, .stride = 2}, /* long rows */
  };
  for (size_t t = 0; t < sizeof gs / sizeof *gs; t++) {
    LuPoolGeom *g = &gs[t];
    g->oh = (g->ih - g->k) / g->stride + 1;
    g->ow = (g->iw - g->k) / g->stride + 1;
    long B = 2, ni = B * g->planes * g->ih * g->iw,
         no = B * g->planes * g->oh * g->ow;
    float *x = noise(ni), *d = noise(no);
    x[3] = x[4] = 0.5f; /* a tie */
    x[ni - 1] = NAN;
    float *y = zeros(no), *yr = zeros(no), *dx = noise(ni), *dxr = zeros(ni);
    lu_nn_maxpool_fprop(g, B, x, y);
    lu_nn_ref_maxpool_fprop(g, B, x, yr);
    assert_memory_equal(y, yr, sizeof(float) * (size_t)no);
    lu_nn_maxpool_back(g, B, x, d, dx);
    lu_nn_ref_maxpool_back(g, B, x, d, dxr);
    assert_memory_equal(dx, dxr, sizeof(float) * (size_t)ni);
    x[ni - 1] = 0.25f;
    lu_nn_avgpool_fprop(g, B, x, y);
    lu_nn_ref_avgpool_fprop(g, B, x, yr);
    assert_memory_equal(y, yr, sizeof(float) * (size_t)no);
    lu_nn_avgpool_back(g, B, 0.25f, d, dx);
    lu_nn_ref_avgpool_back(g, B, 0.25f, d, dxr);
    assert_memory_equal(dx, dxr, sizeof(float) * (size_t)ni);
    free(x), free(d), free(y), free(yr), free(dx), free(dxr);
  }
}

/* ---- Batch normalisation ---------------------------------------------- */

/* sum r y over B C S outputs of batch-normalised x, the statistics the
   batch's. */
static double bn_loss(long B, long C, long S, const float *x, const float *g,
                      const float *b, const float *r) {
  float mean[8], istd[8], y[256];
  lu_nn_bn_stats(B, C * S, C, S, x, mean, istd);
  for (long c = 0; c < C; c++)
    istd[c] = 1.0f / sqrtf(istd[c] + 1e-5f);
  lu_nn_bn_fprop(B, C * S, C, S, x, mean, istd, g, b, y);
  double l = 0;
  for (long i = 0; i < B * C * S; i++)
    l += (double)r[i] * y[i];
  return l;
}

static void test_batchnorm_batch(void **state) {
  (void)state;
  /* statistics over the batch: channel 0 holds 1 2 | 5 0, channel 1
     3 3 | 1 1 (examples [2 channels][2 positions]) */
  float x[8] = {1, 2, 3, 3, 5, 0, 1, 1}, mean[2], var[2];
  lu_nn_bn_stats(2, 4, 2, 2, x, mean, var);
  assert_near(mean, (float[]){2, 2}, 2, 1e-6);
  assert_near(var, (float[]){3.5f, 1}, 2, 1e-6);
  /* the gradient through the batch statistics, against central
     differences, for vectors (S = 1) and channels (S = 3) */
  long shapes[2][3] = {{4, 3, 1}, {3, 2, 3}};
  for (int t = 0; t < 2; t++) {
    long B = shapes[t][0], C = shapes[t][1], S = shapes[t][2], n = B * C * S;
    float *xs = noise(n), *r = noise(n), *g = noise(C), *b = noise(C);
    float *dx = zeros(n), *dg = zeros(C), *db = zeros(C), m[8], is[8];
    lu_nn_bn_stats(B, C * S, C, S, xs, m, is);
    for (long c = 0; c < C; c++)
      is[c] = 1.0f / sqrtf(is[c] + 1e-5f);
    lu_nn_bn_bprop(B, C * S, C, S, xs, m, is, g, r, dx, dg, db, true);
    double worst = 0, big = 0;
    for (long i = 0; i < n; i++) {
      float keep = xs[i];
      xs[i] = keep + 1e-2f;
      double lp = bn_loss(B, C, S, xs, g, b, r);
      xs[i] = keep - 1e-2f;
      double lm = bn_loss(B, C, S, xs, g, b, r);
      xs[i] = keep;
      double num = (lp - lm) / 2e-2;
      worst = fmax(worst, fabs(num - dx[i]));
      big = fmax(big, fabs(num));
    }
    assert_true(worst / big < 1e-2);
    /* dgamma = sum r xhat, dbeta = sum r */
    for (long c = 0; c < C; c++) {
      double sg = 0, sb = 0;
      for (long e = 0; e < B; e++)
        for (long s = 0; s < S; s++) {
          long i = (e * C + c) * S + s;
          sg += r[i] * (xs[i] - m[c]) * is[c];
          sb += r[i];
        }
      assert_near(dg + c, (float[]){(float)sg}, 1, 1e-4);
      assert_near(db + c, (float[]){(float)sb}, 1, 1e-5);
    }
    free(xs), free(r), free(g), free(b), free(dx), free(dg), free(db);
  }
}

static void test_batchnorm_constant_stats(void **state) {
  (void)state;
  /* with given statistics (evaluation), y is affine and so are dx, ddx */
  float x[4] = {1, 3, -1, 0}, mean[2] = {1, -1}, istd[2] = {0.5f, 2},
        g[2] = {2, 3}, b[2] = {0, 1}, y[4], d[4] = {1, 1, 2, 2}, dx[4],
        dg[2] = {0}, db[2] = {0};
  lu_nn_bn_fprop(1, 4, 2, 2, x, mean, istd, g, b, y);
  assert_near(y, (float[]){0, 2, 1, 7}, 4, 1e-6);
  lu_nn_bn_bprop(1, 4, 2, 2, x, mean, istd, g, d, dx, dg, db, false);
  assert_near(dx, (float[]){1, 1, 12, 12}, 4, 1e-6);
  assert_near(dg, (float[]){1, 4}, 2, 1e-6);
  assert_near(db, (float[]){2, 4}, 2, 1e-6);
  dg[0] = dg[1] = db[0] = db[1] = 0;
  lu_nn_bn_bbprop(1, 4, 2, 2, x, mean, istd, g, d, dx, dg, db);
  assert_near(dx, (float[]){1, 1, 72, 72}, 4, 1e-5);
  assert_near(dg, (float[]){1, 8}, 2, 1e-6);
}

/* ---- Element-wise ------------------------------------------------------ */

static void test_activations(void **state) {
  (void)state;
  float x[6] = {-100, -2, 0, 0.5f, 3, 100}, y[6], d[6] = {1, 1, 1, 1, 1, 2},
        out[6];
  lu_nn_sigmoid(6, x, y);
  for (int i = 0; i < 6; i++)
    assert_near(y + i, (float[]){(float)(1 / (1 + exp(-(double)x[i])))}, 1,
                1e-7);
  lu_nn_sigmoid_back(6, y, d, out, false);
  assert_near(out + 2, (float[]){0.25f}, 1, 1e-7);
  assert_near(out + 5, (float[]){0}, 1, 1e-7);
  lu_nn_sigmoid_back(6, y, d, out, true);
  assert_near(out + 2, (float[]){0.0625f}, 1, 1e-7);
  lu_nn_leaky_relu(6, 0.1f, x, y);
  assert_near(y, (float[]){-10, -0.2f, 0, 0.5f, 3, 100}, 6, 1e-6);
  lu_nn_leaky_relu_back(6, 0.1f, x, d, out, false);
  assert_near(out, (float[]){0.1f, 0.1f, 0.1f, 1, 1, 2}, 6, 1e-7);
  lu_nn_leaky_relu_back(6, 0.1f, x, d, out, true);
  assert_near(out, (float[]){0.01f, 0.01f, 0.01f, 1, 1, 2}, 6, 1e-7);
}

/* ---- RBF units and their cost ------------------------------------------ */

static void test_rbf(void **state) {
  (void)state;
  float c[6] = {0, 0, 1, 2, -1, 1}, x[4] = {1, 1, 0, 2}, y[6];
  lu_nn_rbf_fprop(2, 3, 2, c, x, y);
  assert_near(y, (float[]){2, 1, 4, 4, 1, 2}, 6, 0);
  float dy[6] = {1, 0, 0, 0, 0, 2}, dx[4], dc[6] = {0};
  lu_nn_rbf_bprop(2, 3, 2, c, x, dy, dx, dc);
  /* example 0: 2 (x - c0); example 1: 2 * 2 (x - c2) */
  assert_near(dx, (float[]){2, 2, 4, 4}, 4, 0);
  assert_near(dc, (float[]){-2, -2, 0, 0, -4, -4}, 6, 0);
  float ddx[4], ddc[6] = {0};
  lu_nn_rbf_bbprop(2, 3, 2, c, x, dy, ddx, ddc);
  assert_near(ddx, (float[]){4, 4, 8, 8}, 4, 0);
  assert_near(ddc, (float[]){4, 4, 0, 0, 8, 8}, 6, 0);
  /* fixed centers: no center gradient wanted */
  lu_nn_rbf_bprop(1, 3, 2, c, x, dy, dx, NULL);
  assert_near(dx, (float[]){2, 2}, 2, 0);
}

static void test_rbf_cost(void **state) {
  (void)state;
  float y[4] = {0.5f, 3, 1, 2}, dy[4], ddy[4];
  double z = exp(-1.0);
  for (int i = 0; i < 4; i++)
    z += exp(-(double)y[i]);
  double l = lu_nn_rbf_cost(y, 4, 2, 1.0, dy, ddy);
  assert_true(fabs(l - (1 + log(z))) < 1e-12);
  for (int i = 0; i < 4; i++) {
    double q = exp(-(double)y[i]) / z;
    assert_near(dy + i, (float[]){(float)((i == 2) - q)}, 1, 1e-7);
    assert_near(ddy + i, (float[]){(float)(q * (1 - q))}, 1, 1e-7);
    float keep = y[i];
    y[i] = keep + 1e-3f;
    double lp = lu_nn_rbf_cost(y, 4, 2, 1.0, NULL, NULL);
    y[i] = keep - 1e-3f;
    double lm = lu_nn_rbf_cost(y, 4, 2, 1.0, NULL, NULL);
    y[i] = keep;
    assert_true(fabs((lp - lm) / ((double)(keep + 1e-3f) - (keep - 1e-3f)) -
                     dy[i]) < 1e-4);
  }
  /* large penalties: no overflow, the loss tends to y[cls] - j */
  float far[2] = {1e4f, 2e4f};
  l = lu_nn_rbf_cost(far, 2, 0, 1.0, dy, ddy);
  assert_true(fabs(l - (1e4 - 1)) < 1e-6);
  assert_near(dy, (float[]){1, 0}, 2, 0);
  /* a much smaller penalty elsewhere: the loss is the difference */
  float near[2] = {-1e4f, 0};
  l = lu_nn_rbf_cost(near, 2, 1, 1.0, dy, ddy);
  assert_true(fabs(l - 1e4) < 1e-6);
  assert_near(dy, (float[]){-1, 1}, 2, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_values),
      cmocka_unit_test(test_subsample_values),
      cmocka_unit_test(test_pool_batch),
      cmocka_unit_test(test_pool_agree),
      cmocka_unit_test(test_batchnorm_batch),
      cmocka_unit_test(test_batchnorm_constant_stats),
      cmocka_unit_test(test_activations),
      cmocka_unit_test(test_rbf),
      cmocka_unit_test(test_rbf_cost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
