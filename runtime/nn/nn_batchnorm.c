/* nn_batchnorm.c: the batch-normalisation module (nn-batchnorm) and its
   kernels: per channel of a [C ...] input (per feature of a vector), y =
   scale (x - mean) / sqrt(var + eps) + shift, the scale and shift
   trainable. In training the mean and variance are the batch's, and
   running averages of them are kept; in evaluation (nn-mode) the running
   averages are used. The module sees the whole batch at once
   (NN_WHOLE_BATCH); a batch of one example has statistics over a
   channel's positions, and a single vector, with one value per feature,
   none: it uses the running averages in both modes. */
#include "nn_impl.h"
#include "nn_layers.h"

#include <string.h>

/* As PyTorch's BatchNorm: running = (1 - momentum) running + momentum
   batch, the variance's estimate unbiased. */
#define BN_MOMENTUM 0.1
#define BN_EPS 1e-5

/* ---- Kernels ------------------------------------------------------------- */

/* The values of channel c are x[b ld + c S + s] for b < B, s < S. */
static const float *chan(const float *x, long ld, long S, long b, long c) {
  return x + b * ld + c * S;
}

void lu_nn_bn_stats(long B, long ld, long C, long S, const float *x,
                    float *mean, float *var) {
  double n = (double)B * (double)S;
  for (long c = 0; c < C; c++) {
    double sum = 0, sq = 0;
    for (long b = 0; b < B; b++)
      for (long s = 0; s < S; s++)
        sum += chan(x, ld, S, b, c)[s];
    double mu = sum / n;
    for (long b = 0; b < B; b++)
      for (long s = 0; s < S; s++) {
        double d = chan(x, ld, S, b, c)[s] - mu;
        sq += d * d;
      }
    mean[c] = (float)mu;
    var[c] = (float)(sq / n);
  }
}

void lu_nn_bn_fprop(long B, long ld, long C, long S, const float *x,
                    const float *mean, const float *istd, const float *gamma,
                    const float *beta, float *y) {
  for (long b = 0; b < B; b++)
    for (long c = 0; c < C; c++) {
      const float *xc = chan(x, ld, S, b, c);
      float *yc = y + (xc - x);
      float k = gamma[c] * istd[c], m = mean[c];
      for (long s = 0; s < S; s++)
        yc[s] = k * (xc[s] - m) + beta[c];
    }
}

void lu_nn_bn_bprop(long B, long ld, long C, long S, const float *x,
                    const float *mean, const float *istd, const float *gamma,
                    const float *dy, float *dx, float *dgamma, float *dbeta,
                    bool batch) {
  double n = (double)B * (double)S;
  for (long c = 0; c < C; c++) {
    double sdy = 0, sdyx = 0;
    for (long b = 0; b < B; b++) {
      const float *xc = chan(x, ld, S, b, c), *dyc = dy + (xc - x);
      for (long s = 0; s < S; s++) {
        sdy += dyc[s];
        sdyx += dyc[s] * (xc[s] - mean[c]) * istd[c];
      }
    }
    dgamma[c] += (float)sdyx;
    dbeta[c] += (float)sdy;
    if (!dx)
      continue;
    /* through the statistics: dx = k (dy - mean(dy) - xhat mean(dy xhat)) */
    float k = gamma[c] * istd[c];
    float mdy = batch ? (float)(sdy / n) : 0,
          mdyx = batch ? (float)(sdyx / n) : 0;
    for (long b = 0; b < B; b++) {
      const float *xc = chan(x, ld, S, b, c), *dyc = dy + (xc - x);
      float *dxc = dx + (xc - x);
      for (long s = 0; s < S; s++)
        dxc[s] = k * (dyc[s] - mdy - (xc[s] - mean[c]) * istd[c] * mdyx);
    }
  }
}

void lu_nn_bn_bbprop(long B, long ld, long C, long S, const float *x,
                     const float *mean, const float *istd, const float *gamma,
                     const float *ddy, float *ddx, float *ddgamma,
                     float *ddbeta) {
  for (long c = 0; c < C; c++) {
    float k = gamma[c] * istd[c];
    double sg = 0, sb = 0;
    for (long b = 0; b < B; b++) {
      const float *xc = chan(x, ld, S, b, c), *d = ddy + (xc - x);
      for (long s = 0; s < S; s++) {
        float xh = (xc[s] - mean[c]) * istd[c];
        sg += xh * xh * d[s];
        sb += d[s];
        if (ddx)
          ddx[(xc - x) + s] = k * k * d[s];
      }
    }
    ddgamma[c] += (float)sg;
    ddbeta[c] += (float)sb;
  }
}

/* ---- The module ---------------------------------------------------------- */

typedef struct {
  long C, S;
  LuTensor *run[2]; /* the running mean and variance, float [C] */
} BatchNorm;

static BatchNorm *bn_of(const NnModule *m) {
  return m->data;
}

static float *running(const NnModule *m, int k) {
  return lu_tensor_data(bn_of(m)->run[k]);
}

static void bn_reset(NnModule *m) {
  for (long c = 0; c < bn_of(m)->C; c++) {
    running(m, 0)[c] = 0;
    running(m, 1)[c] = 1;
  }
}

/* Channels: the first dimension, or each element of a vector. Scratch:
   the mean and 1/sqrt(var + eps) the last fprop used. */
static void bn_setup(NnModule *m, const NnShape *in, NnShape *out) {
  BatchNorm *bn = bn_of(m);
  bn->C = in->ndim == 1 ? in->n : in->dim[0];
  bn->S = in->n / bn->C;
  for (int k = 0; k < 2; k++)
    bn->run[k] = lu_tensor_make(LU_FLOAT, 1, &bn->C, NULL, NULL, 0);
  bn_reset(m);
  *out = *in;
  m->nw = bn->C;
  m->np = 2 * bn->C;
  m->ns = 2 * bn->C;
  m->macs = in->n;
  m->conns = 2 * in->n;
}

/* Whether a pass uses batch statistics: in training, with more than one
   value per channel in the batch. */
static bool batch_stats(const NnCtx *c) {
  return c->train && c->nb * bn_of(c->m)->S > 1;
}

/* One of the module's passes (0 fprop, 1 bprop, 2 bbprop) on inputs x
   and d (dy or ddy) to y (y, dx or ddx), cut into nchunk ranges of
   channels, which are independent: the pool's threads share them out. */
typedef struct {
  NnCtx *c;
  int pass;
  const float *x, *d;
  float *y;
  long nchunk;
} BnJob;

/* fprop on channels [c0, c0 + nc): the statistics are those of the nb
   examples of the pass (kept in the first one's scratch); the running
   averages move once per batch. */
static void bn_fprop_range(NnCtx *c, long c0, long nc, const float *x,
                           float *y) {
  NnModule *m = c->m;
  long C = bn_of(m)->C, S = bn_of(m)->S;
  float *mean = c->scratch + c0, *istd = c->scratch + C + c0;
  if (batch_stats(c)) {
    double n = (double)c->nb * (double)S;
    lu_nn_bn_stats(c->nb, c->ws, nc, S, x, mean, istd);
    for (long k = 0; k < nc && !c->replay; k++) {
      float *rm = running(m, 0) + c0 + k, *rv = running(m, 1) + c0 + k;
      *rm = (float)((1 - BN_MOMENTUM) * *rm + BN_MOMENTUM * mean[k]);
      *rv = (float)((1 - BN_MOMENTUM) * *rv +
                    BN_MOMENTUM * istd[k] * n / (n - 1));
    }
  } else {
    memcpy(mean, running(m, 0) + c0, sizeof(float) * (size_t)nc);
    memcpy(istd, running(m, 1) + c0, sizeof(float) * (size_t)nc);
  }
  for (long k = 0; k < nc; k++)
    istd[k] = (float)(1 / sqrt(istd[k] + BN_EPS));
  lu_nn_bn_fprop(c->nb, c->ws, nc, S, x, mean, istd, c->w + c0, c->w + C + c0,
                 y);
}

static void bn_chunk(void *arg, long k) {
  BnJob *j = arg;
  NnCtx *c = j->c;
  long C = bn_of(c->m)->C, S = bn_of(c->m)->S;
  long c0 = k * C / j->nchunk, nc = (k + 1) * C / j->nchunk - c0;
  const float *x = j->x + c0 * S, *mean = c->scratch + c0,
              *istd = c->scratch + C + c0, *gamma = c->w + c0;
  float *y = j->y ? j->y + c0 * S : NULL;
  if (j->pass == 0)
    bn_fprop_range(c, c0, nc, x, y);
  else if (j->pass == 1)
    lu_nn_bn_bprop(c->nb, c->ws, nc, S, x, mean, istd, gamma, j->d + c0 * S, y,
                   c->dw + c0, c->dw + C + c0, batch_stats(c));
  else
    lu_nn_bn_bbprop(c->nb, c->ws, nc, S, x, mean, istd, gamma, j->d + c0 * S, y,
                    c->ddw + c0, c->ddw + C + c0);
}

/* Runs a pass on the whole batch, over the threads when it has more than
   one example. */
static void bn_run(NnCtx *c, int pass, const float *x, const float *d,
                   float *y) {
  long C = bn_of(c->m)->C;
  BnJob j = {c, pass, x, d, y, c->nb > 1 ? (C < 16 ? C : 16) : 1};
  lu_nn_parallel(j.nchunk, false, bn_chunk, &j);
}

static void bn_fprop(NnCtx *c, const float *x, float *y) {
  bn_run(c, 0, x, NULL, y);
}

static void bn_bprop(NnCtx *c, const float *x, const float *y, const float *dy,
                     float *dx) {
  (void)y;
  bn_run(c, 1, x, dy, dx);
}

static void bn_bbprop(NnCtx *c, const float *x, const float *y,
                      const float *ddy, float *ddx) {
  (void)y;
  bn_run(c, 2, x, ddy, ddx);
}

/* Scale 1, shift 0, whatever A and BIAS; the running averages restart. */
static void bn_init(NnModule *m, float *w, double a, double bias) {
  (void)a, (void)bias;
  for (long k = 0; k < bn_of(m)->C; k++) {
    w[k] = 1;
    w[bn_of(m)->C + k] = 0;
  }
  bn_reset(m);
}

/* Scales [C], shifts [C]. */
static int bn_params(const NnModule *m, NnShape shape[NN_MAXPARAMS]) {
  shape[0] = shape[1] = lu_nn_shape_make(1, &bn_of(m)->C);
  return 2;
}

/* The running mean and variance, saved with the parameters. */
static int bn_buffers(const NnModule *m, LuTensor *t[NN_MAXPARAMS],
                      const char *names[NN_MAXPARAMS]) {
  t[0] = bn_of(m)->run[0], names[0] = "running_mean";
  t[1] = bn_of(m)->run[1], names[1] = "running_var";
  return 2;
}

static void bn_describe(NnModule *m, LuBuf *b) {
  lu_buf_printf(b, "batchnorm %ld %s", bn_of(m)->C,
                bn_of(m)->S > 1 ? "channels" : "features");
}

static const NnOps bn_ops = {.kind = "batchnorm",
                             .flags = NN_WHOLE_BATCH,
                             .setup = bn_setup,
                             .fprop = bn_fprop,
                             .bprop = bn_bprop,
                             .bbprop = bn_bbprop,
                             .init = bn_init,
                             .describe = bn_describe,
                             .params = bn_params,
                             .buffers = bn_buffers};

LU_DEFUN(nn_batchnorm, "(nn-batchnorm)",
         "A batch-normalisation module: per channel (the first dimension of "
         "its input, or each element of a vector) y = scale (x - mean) / "
         "sqrt(var + 1e-5) + shift, the scale (initially 1) and shift "
         "(initially 0) trainable; parameters: the scales [C], then the "
         "shifts [C]. In training mode mean and var are those of the batch "
         "(nn-train-pass's BATCH, or an nn-fprop of a batch), over the "
         "channel's positions in every example. Running averages of them "
         "(momentum 0.1, the variance unbiased, starting at 0 and 1) are "
         "kept and used in evaluation mode (see nn-mode), and in both modes "
         "for a batch of one vector. bbprop takes the statistics as "
         "constants. See nn-batchnorm-stats.") {
  (void)argv, (void)argc;
  return lu_nn_module_new(&bn_ops, sizeof(BatchNorm))->self;
}

LU_DEFUN(nn_batchnorm_stats, "(nn-batchnorm-stats MODULE)",
         "The running mean and variance of the batch-normalisation MODULE, "
         "in a net: a list of two float tensors [C] that the module uses in "
         "evaluation (writing into them changes it). nn-init resets them to "
         "0 and 1.") {
  (void)argc;
  NnModule *m = lu_arg_cdata(argv, 0, &lu_nn_module_ctype);
  if (m->ops != &bn_ops)
    lu_arg_error(0, "a module made by nn-batchnorm", argv[0]);
  if (!bn_of(m)->run[0])
    lu_error("nn-batchnorm-stats: the module is not in a net yet (see "
             "nn-seq)");
  return lu_list(2, lu_tensor_value(bn_of(m)->run[0]),
                 lu_tensor_value(bn_of(m)->run[1]));
}

static LuBuiltin *const bn_builtins[] = {&nn_batchnorm_builtin,
                                         &nn_batchnorm_stats_builtin, NULL};

void lu_nn_batchnorm_open(void) {
  lu_register(bn_builtins);
}
