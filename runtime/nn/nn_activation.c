/* nn_activation.c: the element-wise modules nn-sigmoid and nn-leaky-relu
   and their kernels. Unlike the squashing functions of nn_squash.c they
   are not fused into a conv or linear module before them (the leaky
   relu's slope is a parameter of the module); each is one pass over its
   output. */
#include "nn_impl.h"
#include "nn_layers.h"

/* ---- Kernels ------------------------------------------------------------- */

void lu_nn_sigmoid(long n, const float *x, float *y) {
  for (long i = 0; i < n; i++)
    y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void lu_nn_sigmoid_back(long n, const float *y, const float *d, float *out,
                        bool second) {
  for (long i = 0; i < n; i++) {
    float k = y[i] * (1.0f - y[i]);
    out[i] = (second ? k * k : k) * d[i];
  }
}

void lu_nn_leaky_relu(long n, float slope, const float *x, float *y) {
  for (long i = 0; i < n; i++)
    y[i] = x[i] > 0 ? x[i] : slope * x[i];
}

void lu_nn_leaky_relu_back(long n, float slope, const float *x, const float *d,
                           float *out, bool second) {
  float s = second ? slope * slope : slope;
  for (long i = 0; i < n; i++)
    out[i] = (x[i] > 0 ? 1.0f : s) * d[i];
}

/* ---- Modules ------------------------------------------------------------- */

typedef struct {
  float slope;
} Leaky;

static float slope_of(const NnModule *m) {
  return ((const Leaky *)m->data)->slope;
}

static void same_setup(NnModule *m, const NnShape *in, NnShape *out) {
  *out = *in;
  m->macs = in->n;
}

static void sigmoid_fprop(NnCtx *c, const float *x, float *y) {
  lu_nn_sigmoid(c->m->out.n, x, y);
}

static void sigmoid_bprop(NnCtx *c, const float *x, const float *y,
                          const float *dy, float *dx) {
  (void)x;
  lu_nn_sigmoid_back(c->m->out.n, y, dy, dx, false);
}

static void sigmoid_bbprop(NnCtx *c, const float *x, const float *y,
                           const float *ddy, float *ddx) {
  (void)x;
  lu_nn_sigmoid_back(c->m->out.n, y, ddy, ddx, true);
}

static void leaky_fprop(NnCtx *c, const float *x, float *y) {
  lu_nn_leaky_relu(c->m->out.n, slope_of(c->m), x, y);
}

static void leaky_bprop(NnCtx *c, const float *x, const float *y,
                        const float *dy, float *dx) {
  (void)y;
  lu_nn_leaky_relu_back(c->m->out.n, slope_of(c->m), x, dy, dx, false);
}

static void leaky_bbprop(NnCtx *c, const float *x, const float *y,
                         const float *ddy, float *ddx) {
  (void)y;
  lu_nn_leaky_relu_back(c->m->out.n, slope_of(c->m), x, ddy, ddx, true);
}

static void leaky_describe(NnModule *m, LuBuf *b) {
  lu_buf_printf(b, "leaky-relu %g", slope_of(m));
}

static const NnOps sigmoid_ops = {.kind = "sigmoid",
                                  .setup = same_setup,
                                  .fprop = sigmoid_fprop,
                                  .bprop = sigmoid_bprop,
                                  .bbprop = sigmoid_bbprop};

static const NnOps leaky_ops = {.kind = "leaky-relu",
                                .setup = same_setup,
                                .fprop = leaky_fprop,
                                .bprop = leaky_bprop,
                                .bbprop = leaky_bbprop,
                                .describe = leaky_describe};

LU_DEFUN(nn_sigmoid, "(nn-sigmoid)",
         "A module that applies the logistic function 1 / (1 + exp(-x)) to "
         "every element.") {
  (void)argv, (void)argc;
  return lu_nn_module_new(&sigmoid_ops, 0)->self;
}

LU_DEFUN(nn_leaky_relu, "(nn-leaky-relu [SLOPE])",
         "A module that applies x for x > 0, else SLOPE x (default 0.01) to "
         "every element.") {
  double s = lu_arg_given(argv, argc, 0) ? lu_arg_num(argv, 0) : 0.01;
  if (!(fabs(s) < 1e30))
    lu_arg_error(0, "a finite slope", argv[0]);
  NnModule *m = lu_nn_module_new(&leaky_ops, sizeof(Leaky));
  ((Leaky *)m->data)->slope = (float)s;
  return m->self;
}

static LuBuiltin *const activation_builtins[] = {&nn_sigmoid_builtin,
                                                 &nn_leaky_relu_builtin, NULL};

void lu_nn_activation_open(void) {
  lu_register(activation_builtins);
}
