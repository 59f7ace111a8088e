/* nn_rbf.c: LeNet-5's output layer (nn-rbf): Euclidean radial basis
   function units, y[i] = sum_j (x[j] - c[i][j])^2, the distance of the
   input to each row of a table of centers, fixed or trainable; and its
   kernels. The cost that fits it is 'rbf in nn_cost.c. */
#include "nn_impl.h"
#include "nn_layers.h"

#include <string.h>

/* ---- Kernels ------------------------------------------------------------- */

void lu_nn_rbf_fprop(long B, long nc, long m, const float *c, const float *x,
                     float *y) {
  for (long b = 0; b < B; b++, x += m)
    for (long i = 0; i < nc; i++) {
      const float *ci = c + i * m;
      float s = 0;
      for (long j = 0; j < m; j++)
        s += (x[j] - ci[j]) * (x[j] - ci[j]);
      *y++ = s;
    }
}

/* d is dy (SQ false) or ddy (SQ true); the derivative of y[i] with respect
   to x[j] is 2 (x[j] - c[i][j]), minus that for c[i][j]; SQ squares
   them (Gauss-Newton). */
static inline void rbf_back(bool SQ, long B, long nc, long m, const float *c,
                            const float *x, const float *d, float *dx,
                            float *dc) {
  for (long b = 0; b < B; b++, x += m, d += nc) {
    if (dx)
      memset(dx + b * m, 0, sizeof(float) * (size_t)m);
    for (long i = 0; i < nc; i++) {
      const float *ci = c + i * m;
      for (long j = 0; j < m; j++) {
        float g = 2 * (x[j] - ci[j]);
        float t = (SQ ? g * g : g) * d[i];
        if (dx)
          dx[b * m + j] += t;
        if (dc)
          dc[i * m + j] += SQ ? t : -t;
      }
    }
  }
}

void lu_nn_rbf_bprop(long B, long nc, long m, const float *c, const float *x,
                     const float *dy, float *dx, float *dc) {
  rbf_back(false, B, nc, m, c, x, dy, dx, dc);
}

void lu_nn_rbf_bbprop(long B, long nc, long m, const float *c, const float *x,
                      const float *ddy, float *ddx, float *ddc) {
  rbf_back(true, B, nc, m, c, x, ddy, ddx, ddc);
}

/* ---- The module ---------------------------------------------------------- */

typedef struct {
  long nc, m;
  float *centers; /* [nc][m]: the table given, the parameters' start */
  bool trainable;
} Rbf;

static Rbf *rbf_of(const NnModule *m) {
  return m->data;
}

static void rbf_setup(NnModule *m, const NnShape *in, NnShape *out) {
  Rbf *r = rbf_of(m);
  if (in->n != r->m)
    lu_error("nn-seq: rbf: the input %s has %ld elements, the centers %ld "
             "columns ([%ld %ld])",
             lu_nn_shape_cstr(in), in->n, r->m, r->nc, r->m);
  *out = lu_nn_shape_make(1, &r->nc);
  m->np = m->nw = r->trainable ? r->nc * r->m : 0;
  m->macs = m->conns = r->nc * r->m;
}

/* The centers: the parameters when trainable, else the table. */
static const float *centers(const NnCtx *c) {
  return rbf_of(c->m)->trainable ? c->w : rbf_of(c->m)->centers;
}

static void rbf_fprop(NnCtx *c, const float *x, float *y) {
  lu_nn_rbf_fprop(1, rbf_of(c->m)->nc, rbf_of(c->m)->m, centers(c), x, y);
}

static void rbf_bprop(NnCtx *c, const float *x, const float *y, const float *dy,
                      float *dx) {
  (void)y;
  lu_nn_rbf_bprop(1, rbf_of(c->m)->nc, rbf_of(c->m)->m, centers(c), x, dy, dx,
                  rbf_of(c->m)->trainable ? c->dw : NULL);
}

static void rbf_bbprop(NnCtx *c, const float *x, const float *y,
                       const float *ddy, float *ddx) {
  (void)y;
  lu_nn_rbf_bbprop(1, rbf_of(c->m)->nc, rbf_of(c->m)->m, centers(c), x, ddy,
                   ddx, rbf_of(c->m)->trainable ? c->ddw : NULL);
}

/* Trainable centers start as the table given, whatever A and BIAS. */
static void rbf_init(NnModule *m, float *w, double a, double bias) {
  (void)a, (void)bias;
  memcpy(w, rbf_of(m)->centers, sizeof(float) * (size_t)m->np);
}

/* Centers [N M], when trainable. */
static int rbf_params(const NnModule *m, NnShape shape[NN_MAXPARAMS]) {
  long d[2] = {rbf_of(m)->nc, rbf_of(m)->m};
  shape[0] = lu_nn_shape_make(2, d);
  return 1;
}

static void rbf_describe(NnModule *m, LuBuf *b) {
  lu_buf_printf(b, "rbf %ld centers%s", rbf_of(m)->nc,
                rbf_of(m)->trainable ? " trainable" : "");
}

static const NnOps rbf_ops = {.kind = "rbf",
                              .setup = rbf_setup,
                              .fprop = rbf_fprop,
                              .bprop = rbf_bprop,
                              .bbprop = rbf_bbprop,
                              .init = rbf_init,
                              .describe = rbf_describe,
                              .params = rbf_params};

LU_DEFUN(nn_rbf, "(nn-rbf CENTERS [TRAINABLE])",
         "LeNet-5's output layer: Euclidean radial basis function units, "
         "one per row c_i of CENTERS (an [N M] tensor, copied), output i "
         "being sum_j (x_j - c_ij)^2 over the M elements of the input: a "
         "penalty, the smallest output is the best match (train it with the "
         "'rbf cost). The centers are fixed, or trainable parameters ([N M], "
         "which nn-init sets back to CENTERS) when TRAINABLE is true.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  if (t->ndim != 2 || t->dim[0] < 1 || t->dim[1] < 1 ||
      (double)t->dim[0] * (double)t->dim[1] > 1e8)
    lu_arg_error(0, "an [N M] tensor of centers", argv[0]);
  NnModule *m = lu_nn_module_new(&rbf_ops, sizeof(Rbf));
  Rbf *r = rbf_of(m);
  r->nc = t->dim[0];
  r->m = t->dim[1];
  r->centers = lu_nn_read_all(t);
  r->trainable = lu_arg_given(argv, argc, 1) && !LU_ISNIL(argv[1]);
  return m->self;
}

static LuBuiltin *const rbf_builtins[] = {&nn_rbf_builtin, NULL};

void lu_nn_rbf_open(void) {
  lu_register(rbf_builtins);
}
