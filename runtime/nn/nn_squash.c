/* nn_squash.c: the squashing functions, element by element: the kernels
   (a vectorised tanh within 1.2e-7 of libm's, Lush's stanh, relu; each
   beside its reference twin, and their derivatives from the output) and
   the modules nn-tanh, nn-stanh and nn-relu. A conv or linear module
   followed by one of these applies it in its own kernel (NN_SQUASHING). */
#include "nn_impl.h"
#include "nn_simd.h"

#include <math.h>

/* ---- Kernels ------------------------------------------------------------- */

void lu_nn_squash(LuSquash f, const float *s, float *y, long n) {
  long i = 0;
  for (; i + VL <= n; i += VL)
    vstore(y + i, vsquash(f, vload(s + i)));
  if (i < n) {
    float t[VL] = {0};
    memcpy(t, s + i, (size_t)(n - i) * sizeof(float));
    vstore_n(y + i, vsquash(f, vload(t)), (int)(n - i));
  }
}

void lu_nn_ref_squash(LuSquash f, const float *s, float *y, long n) {
  for (long i = 0; i < n; i++) {
    float v = s[i];
    switch (f) {
    case LU_SQ_TANH:
      v = tanhf(v);
      break;
    case LU_SQ_STANH:
      v = 1.7159f * tanhf(v * (2.0f / 3.0f));
      break;
    case LU_SQ_RELU:
      v = v > 0 ? v : 0;
      break;
    default:
      break;
    }
    y[i] = v;
  }
}

/* f'(s) from y = f(s). */
INLINE float squash_deriv(LuSquash f, float y) {
  switch (f) {
  case LU_SQ_TANH:
    return 1.0f - y * y;
  case LU_SQ_STANH:
    return (2.0f / 3.0f) * (1.7159f - y * y * (1.0f / 1.7159f));
  case LU_SQ_RELU:
    return y > 0 ? 1.0f : 0.0f;
  default:
    return 1.0f;
  }
}

/* out = f'(s) d, or f'(s)^2 d when SQ, with f a constant so that each
   case is its own vectorised loop. */
INLINE void squash_back(LuSquash f, bool SQ, const float *y, const float *d,
                        float *out, long n) {
  for (long i = 0; i < n; i++) {
    float k = squash_deriv(f, y[i]);
    out[i] = (SQ ? k * k : k) * d[i];
  }
}

INLINE void squash_back_any(LuSquash f, bool SQ, const float *y, const float *d,
                            float *out, long n) {
  switch (f) {
  case LU_SQ_TANH:
    squash_back(LU_SQ_TANH, SQ, y, d, out, n);
    break;
  case LU_SQ_STANH:
    squash_back(LU_SQ_STANH, SQ, y, d, out, n);
    break;
  case LU_SQ_RELU:
    squash_back(LU_SQ_RELU, SQ, y, d, out, n);
    break;
  default:
    squash_back(LU_SQ_NONE, SQ, y, d, out, n);
  }
}

void lu_nn_squash_bprop(LuSquash f, const float *y, const float *dy, float *dx,
                        long n) {
  squash_back_any(f, false, y, dy, dx, n);
}

void lu_nn_squash_bbprop(LuSquash f, const float *y, const float *ddy,
                         float *ddx, long n) {
  squash_back_any(f, true, y, ddy, ddx, n);
}

/* ---- Modules ------------------------------------------------------------- */

static void squash_setup(NnModule *m, const NnShape *in, NnShape *out) {
  *out = *in;
  (void)m;
}

static void squash_fprop(NnCtx *c, const float *x, float *y) {
  (c->ref ? lu_nn_ref_squash : lu_nn_squash)(c->m->squash, x, y, c->m->out.n);
}

static void squash_bprop(NnCtx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
  (void)x;
  lu_nn_squash_bprop(c->m->squash, y, dy, dx, c->m->out.n);
}

static void squash_bbprop(NnCtx *c, const float *x, const float *y,
                          const float *ddy, float *ddx) {
  (void)x;
  lu_nn_squash_bbprop(c->m->squash, y, ddy, ddx, c->m->out.n);
}

#define SQUASH_OPS(name)                                                       \
  {                                                                            \
    .kind = name, .flags = NN_SQUASHING, .setup = squash_setup,                \
    .fprop = squash_fprop, .bprop = squash_bprop, .bbprop = squash_bbprop      \
  }

static const NnOps tanh_ops = SQUASH_OPS("tanh");
static const NnOps stanh_ops = SQUASH_OPS("stanh");
static const NnOps relu_ops = SQUASH_OPS("relu");

static LuValue *squash_new(const NnOps *ops, LuSquash f) {
  NnModule *m = lu_nn_module_new(ops, 0);
  m->squash = f;
  return m->self;
}

LU_DEFUN(nn_tanh, "(nn-tanh)",
         "A module that applies tanh to every element. After a convolution "
         "or fully connected module it is fused into that module's kernel.") {
  (void)argv, (void)argc;
  return squash_new(&tanh_ops, LU_SQ_TANH);
}

LU_DEFUN(nn_stanh, "(nn-stanh)",
         "A module that applies Lush's squashing function 1.7159 tanh(2/3 "
         "x) to every element (f(1) = 1, f(-1) = -1).") {
  (void)argv, (void)argc;
  return squash_new(&stanh_ops, LU_SQ_STANH);
}

LU_DEFUN(nn_relu, "(nn-relu)",
         "A module that applies max(0, x) to every element.") {
  (void)argv, (void)argc;
  return squash_new(&relu_ops, LU_SQ_RELU);
}

static LuBuiltin *const squash_builtins[] = {
    &nn_tanh_builtin, &nn_stanh_builtin, &nn_relu_builtin, NULL};

void lu_nn_squash_open(void) {
  lu_register(squash_builtins);
}
