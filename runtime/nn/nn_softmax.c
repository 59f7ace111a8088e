/* nn_softmax.c: softmax and log-softmax over the whole input (nn-softmax,
   nn-logsoftmax), with their exact bprop and Gauss-Newton bbprop. */
#include "nn_impl.h"

typedef struct {
  bool log; /* log-softmax */
} Softmax;

static bool is_log(const NnModule *m) {
  return ((const Softmax *)m->data)->log;
}

static void softmax_setup(NnModule *m, const NnShape *in, NnShape *out) {
  (void)m;
  *out = *in;
}

/* p = softmax(x), into p (n elements); returns log of the normaliser. */
static double softmax(const float *x, long n, float *p) {
  double lse = lu_nn_logsumexp(x, n);
  for (long i = 0; i < n; i++)
    p[i] = (float)exp(x[i] - lse);
  return lse;
}

static void softmax_fprop(NnCtx *c, const float *x, float *y) {
  long n = c->m->out.n;
  double lse = softmax(x, n, y);
  if (is_log(c->m))
    for (long i = 0; i < n; i++)
      y[i] = (float)(x[i] - lse);
}

/* The probabilities p from the output y. */
static float softmax_p(const NnModule *m, const float *y, long i) {
  return is_log(m) ? expf(y[i]) : y[i];
}

/* log-softmax: dx_i = dy_i - p_i sum dy; softmax: dx_i = p_i (dy_i - sum
   p_j dy_j). */
static void softmax_bprop(NnCtx *c, const float *x, const float *y,
                          const float *dy, float *dx) {
  (void)x;
  const NnModule *m = c->m;
  long n = m->out.n;
  double s = 0;
  for (long i = 0; i < n; i++)
    s += is_log(m) ? dy[i] : softmax_p(m, y, i) * dy[i];
  for (long i = 0; i < n; i++) {
    float p = softmax_p(m, y, i);
    dx[i] = (float)(is_log(m) ? dy[i] - p * s : p * (dy[i] - s));
  }
}

/* ddx_i = sum_j (dy_j/dx_i)^2 ddy_j. log-softmax: ddy_i (1 - 2 p_i) + p_i^2
   sum ddy; softmax: p_i^2 ((1 - 2 p_i) ddy_i + sum p_j^2 ddy_j). */
static void softmax_bbprop(NnCtx *c, const float *x, const float *y,
                           const float *ddy, float *ddx) {
  (void)x;
  const NnModule *m = c->m;
  long n = m->out.n;
  double s = 0;
  for (long i = 0; i < n; i++) {
    float p = softmax_p(m, y, i);
    s += is_log(m) ? ddy[i] : p * p * ddy[i];
  }
  for (long i = 0; i < n; i++) {
    float p = softmax_p(m, y, i);
    ddx[i] = (float)(is_log(m) ? ddy[i] * (1 - 2 * p) + p * p * s
                               : p * p * ((1 - 2 * p) * ddy[i] + s));
  }
}

#define SOFTMAX_OPS(name)                                                      \
  {                                                                            \
    .kind = name, .setup = softmax_setup, .fprop = softmax_fprop,              \
    .bprop = softmax_bprop, .bbprop = softmax_bbprop                           \
  }

static const NnOps logsoftmax_ops = SOFTMAX_OPS("logsoftmax");
static const NnOps softmax_ops = SOFTMAX_OPS("softmax");

static const Softmax log_form = {true}, plain_form = {false};

LU_DEFUN(nn_logsoftmax, "(nn-logsoftmax)",
         "A module computing log(softmax(x)) over its whole input.") {
  (void)argv, (void)argc;
  NnModule *m = lu_nn_module_new(&logsoftmax_ops, 0);
  m->data = (void *)&log_form;
  return m->self;
}

LU_DEFUN(nn_softmax, "(nn-softmax)",
         "A module computing softmax(x) = exp(x_i) / sum exp(x_j) over its "
         "whole input.") {
  (void)argv, (void)argc;
  NnModule *m = lu_nn_module_new(&softmax_ops, 0);
  m->data = (void *)&plain_form;
  return m->self;
}

static LuBuiltin *const softmax_builtins[] = {&nn_logsoftmax_builtin,
                                              &nn_softmax_builtin, NULL};

void lu_nn_softmax_open(void) {
  lu_register(softmax_builtins);
}
