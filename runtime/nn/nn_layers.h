/* nn_layers.h: the kernels of the pooling and subsampling (nn_pool.c),
   batch-normalisation (nn_batchnorm.c), sigmoid and leaky-relu
   (nn_activation.c) and RBF (nn_rbf.c) modules, for those modules and for
   the tests. As in net.h they take plain pointers and sizes, never raise
   and never allocate. Each works on B examples laid out one after the
   other (the modules pass B = 1 for one example at a time); the result for
   B examples is the one for each example on its own, except batch
   normalisation's statistics, which are the whole batch's. */
#ifndef LU_NN_LAYERS_H
#define LU_NN_LAYERS_H

#include <stdbool.h>

/* ---- Windows over the last two dimensions (nn_pool.c) ---------------- */

/* An example is planes planes of ih x iw; each output pixel of an oh x ow
   plane sees a k x k window, windows stride apart. */
typedef struct {
  long planes, ih, iw, oh, ow;
  int k, stride;
} LuPoolGeom;

/* y = the largest element of each window. */
void lu_nn_maxpool_fprop(const LuPoolGeom *g, long B, const float *x, float *y);
/* dx = d routed to the first largest element of each window (summed where
   windows overlap): the gradient for d = dy, and the Gauss-Newton second
   derivatives for d = ddy, the slopes being 0 or 1. */
void lu_nn_maxpool_back(const LuPoolGeom *g, long B, const float *x,
                        const float *d, float *dx);
/* y = the mean of each window. */
void lu_nn_avgpool_fprop(const LuPoolGeom *g, long B, const float *x, float *y);
/* dx = the sum over the windows holding each element of scale d, scale
   1/k^2 for the gradient, 1/k^4 for the second derivatives. */
void lu_nn_avgpool_back(const LuPoolGeom *g, long B, float scale,
                        const float *d, float *dx);
/* The reference twins of the four above: the plain loops. */
void lu_nn_ref_maxpool_fprop(const LuPoolGeom *g, long B, const float *x,
                             float *y);
void lu_nn_ref_maxpool_back(const LuPoolGeom *g, long B, const float *x,
                            const float *d, float *dx);
void lu_nn_ref_avgpool_fprop(const LuPoolGeom *g, long B, const float *x,
                             float *y);
void lu_nn_ref_avgpool_back(const LuPoolGeom *g, long B, float scale,
                            const float *d, float *dx);
/* LeNet-5's subsampling (windows k apart, k dividing the sizes): y = w[p]
   mean + b[p] in plane p. */
void lu_nn_subsample_fprop(const LuPoolGeom *g, long B, const float *w,
                           const float *b, const float *x, float *y);
/* Accumulates dw, db; overwrites dx unless NULL. */
void lu_nn_subsample_bprop(const LuPoolGeom *g, long B, const float *w,
                           const float *x, const float *dy, float *dx,
                           float *dw, float *db);
/* The Gauss-Newton diagonal: ddw += mean^2 ddy, ddb += ddy, ddx = (w /
   k^2)^2 ddy. */
void lu_nn_subsample_bbprop(const LuPoolGeom *g, long B, const float *w,
                            const float *x, const float *ddy, float *ddx,
                            float *ddw, float *ddb);

/* ---- Batch normalisation (nn_batchnorm.c) ---------------------------- */

/* An example is C channels of S values each (S = 1: C features); example
   b starts ld floats after example b - 1 (ld >= C S). The statistics of
   channel c are over the B S values of c in the batch. */

/* mean[c] and the biased variance var[c] of the batch. */
void lu_nn_bn_stats(long B, long ld, long C, long S, const float *x,
                    float *mean, float *var);
/* y = gamma[c] (x - mean[c]) istd[c] + beta[c]. */
void lu_nn_bn_fprop(long B, long ld, long C, long S, const float *x,
                    const float *mean, const float *istd, const float *gamma,
                    const float *beta, float *y);
/* Accumulates dgamma, dbeta; overwrites dx unless NULL. batch: mean and
   istd are the batch's statistics, and dx carries their dependence on x;
   else they are constants (running averages). */
void lu_nn_bn_bprop(long B, long ld, long C, long S, const float *x,
                    const float *mean, const float *istd, const float *gamma,
                    const float *dy, float *dx, float *dgamma, float *dbeta,
                    bool batch);
/* The Gauss-Newton diagonal with the statistics taken as constants:
   ddgamma += xhat^2 ddy, ddbeta += ddy, ddx = (gamma istd)^2 ddy. */
void lu_nn_bn_bbprop(long B, long ld, long C, long S, const float *x,
                     const float *mean, const float *istd, const float *gamma,
                     const float *ddy, float *ddx, float *ddgamma,
                     float *ddbeta);

/* ---- Element-wise (nn_activation.c), over n values ------------------- */

/* y = 1 / (1 + exp(-x)). */
void lu_nn_sigmoid(long n, const float *x, float *y);
/* out = y (1 - y) d, or its square times d when second (from y). */
void lu_nn_sigmoid_back(long n, const float *y, const float *d, float *out,
                        bool second);
/* y = x for x > 0, else slope x. */
void lu_nn_leaky_relu(long n, float slope, const float *x, float *y);
/* out = f'(x) d, or f'(x)^2 d when second. */
void lu_nn_leaky_relu_back(long n, float slope, const float *x, const float *d,
                           float *out, bool second);

/* ---- Euclidean RBF units (nn_rbf.c) ---------------------------------- */

/* y[i] = sum_j (x[j] - c[i][j])^2 for the nc rows of c[nc][m]. */
void lu_nn_rbf_fprop(long B, long nc, long m, const float *c, const float *x,
                     float *y);
/* dx[j] = sum_i 2 (x[j] - c[i][j]) dy[i] (unless dx is NULL); dc[i][j] -=
   2 (x[j] - c[i][j]) dy[i] (unless dc is NULL: fixed centers). */
void lu_nn_rbf_bprop(long B, long nc, long m, const float *c, const float *x,
                     const float *dy, float *dx, float *dc);
/* The Gauss-Newton diagonal: ddx[j] = sum_i 4 (x[j] - c[i][j])^2 ddy[i],
   ddc[i][j] += the same term (each NULL when not wanted). */
void lu_nn_rbf_bbprop(long B, long nc, long m, const float *c, const float *x,
                      const float *ddy, float *ddx, float *ddc);

/* ---- LeNet-5's cost for RBF outputs (nn_cost.c) ---------------------- */

/* y[cls] + log(exp(-j) + sum_i exp(-y[i])) over n outputs (penalties: the
   smallest is the prediction); dy = onehot - q, ddy = q (1 - q) with q[i]
   = exp(-y[i]) / (exp(-j) + sum exp(-y)). */
double lu_nn_rbf_cost(const float *y, long n, long cls, double j, float *dy,
                      float *ddy);

#endif
