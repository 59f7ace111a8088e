/* nn_cost.c: the costs, as one table. Each row names a cost, says what
   its targets are (class numbers, or tensors of the output's shape) and
   gives its kernel: the loss of an output against a target, with the
   first and (Gauss-Newton) second derivatives. Adding a cost is one row
   and its kernel. A Lisp function can be a cost too (the row "lisp"):
   the C passes call it once per example. Also the builtins nn-mse and
   nn-cross-entropy, which call the kernels on tensors. */
#include "nn_impl.h"
#include "nn_layers.h"

#include <string.h>

/* ---- Kernels ------------------------------------------------------------- */

double lu_nn_mse(const float *y, const float *t, long n, float *dy,
                 float *ddy) {
  double sum = 0;
  for (long i = 0; i < n; i++) {
    double d = (double)y[i] - t[i];
    sum += d * d;
    if (dy)
      dy[i] = (float)(2 * d / n);
    if (ddy)
      ddy[i] = (float)(2.0 / n);
  }
  return sum / n;
}

double lu_nn_logsumexp(const float *x, long n) {
  double m = x[0], z = 0;
  for (long i = 1; i < n; i++)
    m = x[i] > m ? x[i] : m;
  for (long i = 0; i < n; i++)
    z += exp(x[i] - m);
  return m + log(z);
}

double lu_nn_cross_entropy(const float *y, long n, long cls, float *dy,
                           float *ddy) {
  double lse = lu_nn_logsumexp(y, n);
  for (long i = 0; i < n; i++) {
    double p = exp(y[i] - lse);
    if (dy)
      dy[i] = (float)(p - (i == cls));
    if (ddy)
      ddy[i] = (float)(p * (1 - p));
  }
  return lse - y[cls];
}

double lu_nn_rbf_cost(const float *y, long n, long cls, double j, float *dy,
                      float *ddy) {
  /* log(exp(-j) + sum exp(-y)) from the largest exponent, as logsumexp */
  double m = -j, z = 0;
  for (long i = 0; i < n; i++)
    m = -y[i] > m ? -y[i] : m;
  z = exp(-j - m);
  for (long i = 0; i < n; i++)
    z += exp(-y[i] - m);
  double lse = m + log(z);
  for (long i = 0; i < n; i++) {
    double q = exp(-y[i] - lse);
    if (dy)
      dy[i] = (float)((i == cls) - q);
    if (ddy)
      ddy[i] = (float)(q * (1 - q));
  }
  return y[cls] + lse;
}

/* ---- The table ----------------------------------------------------------- */

static double mse_eval(const NnCost *c, const float *y, long n, const float *t,
                       float *dy, float *ddy) {
  (void)c;
  return lu_nn_mse(y, t, n, dy, ddy);
}

static double ce_eval(const NnCost *c, const float *y, long n, const float *t,
                      float *dy, float *ddy) {
  (void)c;
  return lu_nn_cross_entropy(y, n, (long)t[0], dy, ddy);
}

/* LeNet-5's constant j: the penalty of a rubbish class that keeps the
   penalties of the wrong classes from being pushed up without end. */
#define RBF_J 1.0

static double rbf_eval(const NnCost *c, const float *y, long n, const float *t,
                       float *dy, float *ddy) {
  (void)c;
  return lu_nn_rbf_cost(y, n, (long)t[0], RBF_J, dy, ddy);
}

/* A float tensor of shape s holding a copy of the n floats at p, or, when
   p is NULL, a zero-filled one. */
static LuTensor *floats(const float *p, const NnShape *s) {
  LuTensor *t = lu_tensor_make(LU_FLOAT, s->ndim, s->dim, NULL, NULL, 0);
  if (p)
    memcpy(lu_tensor_data(t), p, sizeof(float) * (size_t)s->n);
  else
    memset(lu_tensor_data(t), 0, sizeof(float) * (size_t)s->n);
  return t;
}

/* Calls (fn y target dy ddy), dy and ddy () when not wanted, and copies
   the derivatives it wrote back. The function returns the loss. */
static double lisp_eval(const NnCost *c, const float *y, long n, const float *t,
                        float *dy, float *ddy) {
  NnShape ys = lu_nn_shape_make(1, &n);
  LuTensor *d = dy ? floats(NULL, &ys) : NULL,
           *dd = ddy ? floats(NULL, &ys) : NULL;
  LuValue *a[4] = {
      lu_tensor_value(floats(y, &ys)), lu_tensor_value(floats(t, &c->tshape)),
      d ? lu_tensor_value(d) : lu_nil, dd ? lu_tensor_value(dd) : lu_nil};
  LuValue *r = lu_apply(c->fn, 4, a);
  if (!LU_IS(r, LU_NUMBER))
    lu_error("nn: the Lisp cost returned %s, not a number",
             lu_repr_limit(r, 60));
  if (d)
    memcpy(dy, lu_tensor_data(d), sizeof(float) * (size_t)n);
  if (dd)
    memcpy(ddy, lu_tensor_data(dd), sizeof(float) * (size_t)n);
  return LU_NUM(r);
}

static const NnCostKind cost_kinds[] = {
    {"mse", NULL, false, mse_eval, false},
    {"ce", "cross-entropy", true, ce_eval, false},
    {"rbf", "lenet5", true, rbf_eval, true},
    {"lisp", NULL, false, lisp_eval, false},
};

enum { COST_LISP = 3 };

const NnCostKind *lu_nn_mse_cost = &cost_kinds[0];

/* Argument i: a cost's name (default mse) or a Lisp function. */
NnCost lu_nn_cost_arg(LuValue **argv, int argc, int i) {
  NnCost c = {.kind = lu_nn_mse_cost};
  if (!lu_arg_given(argv, argc, i))
    return c;
  if (LU_IS(argv[i], LU_CLOSURE) || LU_IS(argv[i], LU_BUILTIN)) {
    c.kind = &cost_kinds[COST_LISP];
    c.fn = argv[i];
    return c;
  }
  const char *s =
      LU_IS(argv[i], LU_SYMBOL) ? lu_arg_sym(argv, i)->sym.name : "";
  for (int k = 0; k < COST_LISP; k++) {
    const NnCostKind *r = &cost_kinds[k];
    if (!strcmp(s, r->name) || (r->alias && !strcmp(s, r->alias))) {
      c.kind = r;
      return c;
    }
  }
  lu_arg_error(i,
               "'mse or 'ce, or 'rbf, or a function (y target dy ddy) -> loss",
               argv[i]);
}

/* The index of the largest of the n values y, or of the smallest when
   lowest. */
static long argmax(const float *y, long n, bool lowest) {
  long best = 0;
  for (long i = 1; i < n; i++)
    if (lowest ? y[i] < y[best] : y[i] > y[best])
      best = i;
  return best;
}

/* The loss of output y (n elements) against target t (c->tshape's size,
   or one class number). Seeds dy and ddy when not NULL; *wrong tells
   whether the largest output is not the target's (the target's largest
   element, or the class when the target is one number). */
double lu_nn_cost_eval(const NnCost *c, const float *y, long n, const float *t,
                       float *dy, float *ddy, bool *wrong) {
  bool one = c->kind->classes || (c->tshape.n == 1 && n > 1);
  *wrong = argmax(y, n, c->kind->lowest) !=
           (one ? (long)t[0] : argmax(t, c->tshape.n, false));
  return c->kind->eval(c, y, n, t, dy, ddy);
}

/* ---- Builtins ------------------------------------------------------------ */

/* Writes n floats into the float tensor t (any strides). */
static void write_rec(LuTensor *t, int d, long base, const float **src) {
  float *data = t->st->data;
  if (d == t->ndim) {
    data[base] = *(*src)++;
    return;
  }
  for (long i = 0; i < t->dim[d]; i++)
    write_rec(t, d + 1, base + i * t->mod[d], src);
}

static void write_out(LuValue **argv, int argc, int i, const float *v, long n) {
  if (!lu_arg_given(argv, argc, i))
    return;
  LuTensor *t = lu_arg_tensor(argv, i);
  if (t->st->elem != LU_FLOAT || lu_tensor_nelem(t) != n)
    lu_error("%s: argument %d: expected a float tensor of %ld elements, got "
             "%s",
             lu_caller(), i + 1, n, lu_repr_limit(argv[i], 60));
  write_rec(t, 0, t->offset, &v);
}

float *lu_nn_read_all(LuTensor *t) {
  float *v =
      lu_alloc_atomic(sizeof(float) * (size_t)(lu_tensor_nelem(t) + 1), "nn");
  lu_nn_read(t, 0, t->offset, v);
  return v;
}

LU_DEFUN(nn_mse, "(nn-mse Y TARGET [DY] [DDY])",
         "The mean squared error between tensors Y and TARGET of as many "
         "elements: mean of (y - t)^2. When given, the float tensors DY and "
         "DDY receive its first derivatives 2(y - t)/n and second "
         "derivatives 2/n with respect to Y, to seed nn-bprop and "
         "nn-bbprop.") {
  LuTensor *y = lu_arg_tensor(argv, 0), *t = lu_arg_tensor(argv, 1);
  long n = lu_tensor_nelem(y);
  if (lu_tensor_nelem(t) != n || n == 0)
    lu_error("nn-mse: Y has %ld elements, TARGET %ld", n, lu_tensor_nelem(t));
  float *d = lu_alloc_atomic(sizeof(float) * 2 * (size_t)n, "nn-mse");
  double l = lu_nn_mse(lu_nn_read_all(y), lu_nn_read_all(t), n, d, d + n);
  write_out(argv, argc, 2, d, n);
  write_out(argv, argc, 3, d + n, n);
  return lu_number(l);
}

LU_DEFUN(nn_cross_entropy, "(nn-cross-entropy Y CLASS [DY] [DDY])",
         "The cross-entropy of the logits Y (a tensor of n elements) against "
         "CLASS (0 to n-1): -log softmax(Y)[CLASS]. When given, the float "
         "tensors DY and DDY receive its derivatives softmax(Y) - onehot "
         "and the Gauss-Newton second derivatives p(1 - p).") {
  LuTensor *y = lu_arg_tensor(argv, 0);
  long n = lu_tensor_nelem(y), cls = lu_arg_int(argv, 1);
  if (cls < 0 || cls >= n || n == 0)
    lu_error("nn-cross-entropy: class %ld out of range for %ld outputs", cls,
             n);
  float *d = lu_alloc_atomic(sizeof(float) * 2 * (size_t)n, "nn-ce");
  double l = lu_nn_cross_entropy(lu_nn_read_all(y), n, cls, d, d + n);
  write_out(argv, argc, 2, d, n);
  write_out(argv, argc, 3, d + n, n);
  return lu_number(l);
}

static LuBuiltin *const cost_builtins[] = {&nn_mse_builtin,
                                           &nn_cross_entropy_builtin, NULL};

void lu_nn_cost_open(void) {
  lu_register(cost_builtins);
}
