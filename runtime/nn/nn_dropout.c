/* nn_dropout.c: the dropout module (nn-dropout): in training, each unit
   zeroed with probability P and the others scaled by 1/(1-P). */
#include "nn_impl.h"

#include <string.h>

typedef struct {
  double rate; /* the probability of dropping a unit */
} Dropout;

static Dropout *drop_of(const NnModule *m) {
  return m->data;
}

/* The scratch holds the mask of the last training fprop: 0 or 1/(1-p). */
static void dropout_setup(NnModule *m, const NnShape *in, NnShape *out) {
  *out = *in;
  m->ns = in->n;
}

/* In training, y = x * mask: each unit dropped with probability rate and
   the others scaled by 1/(1 - rate), so the expected y is x. The mask is
   drawn anew unless the step is replayed, and kept in scratch for the
   backward passes. In evaluation y = x. */
static void dropout_fprop(NnCtx *c, const float *x, float *y) {
  long n = c->m->out.n;
  float *mask = c->scratch;
  if (!c->train) {
    memcpy(y, x, sizeof(float) * (size_t)n);
    return;
  }
  if (!c->replay) {
    float keep = (float)(1 / (1 - drop_of(c->m)->rate));
    uint32_t cut = (uint32_t)(drop_of(c->m)->rate * 4294967296.0);
    for (long i = 0; i < n; i++)
      mask[i] = lu_nn_rand(c) < cut ? 0.0f : keep;
  }
  for (long i = 0; i < n; i++)
    y[i] = x[i] * mask[i];
}

static void dropout_back(NnCtx *c, const float *d, float *dx, bool sq) {
  long n = c->m->out.n;
  const float *mask = c->scratch;
  for (long i = 0; i < n; i++) {
    float k = c->train ? mask[i] : 1.0f;
    dx[i] = d[i] * (sq ? k * k : k);
  }
}

static void dropout_bprop(NnCtx *c, const float *x, const float *y,
                          const float *dy, float *dx) {
  (void)x, (void)y;
  dropout_back(c, dy, dx, false);
}

static void dropout_bbprop(NnCtx *c, const float *x, const float *y,
                           const float *ddy, float *ddx) {
  (void)x, (void)y;
  dropout_back(c, ddy, ddx, true);
}

static void dropout_describe(NnModule *m, LuBuf *b) {
  lu_buf_printf(b, "dropout %g", drop_of(m)->rate);
}

static const NnOps dropout_ops = {.kind = "dropout",
                                  .setup = dropout_setup,
                                  .fprop = dropout_fprop,
                                  .bprop = dropout_bprop,
                                  .bbprop = dropout_bbprop,
                                  .describe = dropout_describe};

LU_DEFUN(nn_dropout, "(nn-dropout P)",
         "A module that, in training mode, zeroes each element with "
         "probability P and scales the others by 1/(1-P); in evaluation "
         "mode it passes its input through.") {
  (void)argc;
  double p = lu_arg_num(argv, 0);
  if (!(p >= 0 && p < 1))
    lu_arg_error(0, "a probability in [0, 1)", argv[0]);
  NnModule *m = lu_nn_module_new(&dropout_ops, sizeof(Dropout));
  drop_of(m)->rate = p;
  return m->self;
}

static LuBuiltin *const dropout_builtins[] = {&nn_dropout_builtin, NULL};

void lu_nn_dropout_open(void) {
  lu_register(dropout_builtins);
}
