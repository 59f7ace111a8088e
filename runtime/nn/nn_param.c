/* nn_param.c: trainable parameters of modules written in Lisp.
   (nn-parameter D1 D2 ...) makes a float tensor P with a gradient and a
   second-derivative tensor of its shape (nn-grad, nn-ddgrad). When the
   module holding P in a slot joins a net, the three move into the net's
   flat vectors: their storages are pointed at the net's ranges, so P and
   every view of it stay valid and the optimizers, checks and saves see
   them as any other parameter. */
#include "nn_impl.h"

#include <string.h>

/* Every parameter made, to recognise them from their storage. A parameter
   is a handful per layer, so a linear search is enough; they are never
   freed. */
static NnParam **params;
static int nparams, cap;

static LuStorage *zero_storage(long n) {
  return lu_tensor_make(LU_FLOAT, 1, &n, NULL, NULL, 0)->st;
}

/* The parameter whose values v views, or NULL when v is not one. */
NnParam *lu_nn_param_of(LuValue *v) {
  if (!LU_IS(v, LU_CDATA) || v->cdata.ctype != &lu_tensor_ctype)
    return NULL;
  LuStorage *st = ((LuTensor *)v->cdata.ptr)->st;
  for (int i = 0; i < nparams; i++)
    if (params[i]->st[0] == st)
      return params[i];
  return NULL;
}

/* Points p's three storages at w, dw, ddw (n floats each), after copying
   what they hold there. */
void lu_nn_param_move(NnParam *p, float *w, float *dw, float *ddw) {
  float *to[3] = {w, dw, ddw};
  for (int k = 0; k < 3; k++) {
    if (p->st[k]->data != to[k])
      memmove(to[k], p->st[k]->data, sizeof(float) * (size_t)p->n);
    p->st[k]->data = to[k];
  }
}

/* Weights uniform in [-a/sqrt(F), a/sqrt(F)], F the elements of a row
   (all dimensions after the first); a 1-D parameter is a bias, set to
   bias. */
void lu_nn_param_init(NnParam *p, double a, double bias) {
  float *w = p->st[0]->data;
  long rows = p->dim0, fan = p->n / (rows ? rows : 1);
  double r = a / sqrt((double)fan);
  for (long i = 0; i < p->n; i++)
    w[i] =
        p->ndim == 1 ? (float)bias : (float)((2 * lu_rand_uniform() - 1) * r);
}

LU_DEFUN(nn_parameter, "(nn-parameter D...)",
         "A trainable parameter for a module written in Lisp: a float "
         "tensor of dimensions D... (zero-filled; set its values as "
         "with any tensor), kept in a slot of the module. (nn-grad P) and "
         "(nn-ddgrad P) are its gradient and second-derivative tensors, "
         "into which the module's bprop and bbprop add. When the module "
         "joins a net, P moves into the net's flat vectors and keeps its "
         "values: from then on every optimizer updates it, and nn-nparams, "
         "nn-summary, nn-init, nn-save, nn-load and the checks cover it. A "
         "parameter used by several modules of a net is one set of "
         "weights, their gradients summed.") {
  LuValue *l = lu_nil;
  for (int i = argc - 1; i >= 0; i--)
    l = lu_cons(argv[i], l);
  NnShape s = lu_nn_shape_arg(&l, 0);
  NnParam *p = lu_alloc(sizeof *p);
  p->n = s.n;
  p->ndim = s.ndim;
  p->dim0 = s.dim[0];
  for (int k = 0; k < 3; k++)
    p->st[k] = zero_storage(s.n);
  if (nparams == cap) {
    cap = cap ? 2 * cap : 64;
    NnParam **np = lu_alloc(sizeof(NnParam *) * (size_t)cap);
    if (nparams)
      memcpy(np, params, sizeof(NnParam *) * (size_t)nparams);
    params = np;
  }
  params[nparams++] = p;
  LuTensor base = {.st = p->st[0]};
  p->value =
      lu_tensor_value(lu_tensor_make(LU_FLOAT, s.ndim, s.dim, &base, NULL, 0));
  return p->value;
}

/* A view of storage k of the parameter P (argument 0) with P's dims,
   strides and offset: the gradient of a view of P is the same view of
   the gradient. */
static LuValue *param_twin(LuValue **argv, int k) {
  NnParam *p = lu_nn_param_of(argv[0]);
  if (!p)
    lu_arg_error(0, "a parameter made by nn-parameter", argv[0]);
  LuTensor *t = argv[0]->cdata.ptr;
  LuTensor base = {.st = p->st[k]};
  return lu_tensor_value(
      lu_tensor_make(LU_FLOAT, t->ndim, t->dim, &base, t->mod, t->offset));
}

LU_DEFUN(nn_grad, "(nn-grad P)",
         "The gradient of the parameter P (see nn-parameter): a float tensor "
         "of P's shape into which bprop adds; nn-clear-grads clears it.") {
  (void)argc;
  return param_twin(argv, 1);
}

LU_DEFUN(nn_ddgrad, "(nn-ddgrad P)",
         "The second derivatives of the parameter P (see nn-parameter): a "
         "float tensor of P's shape into which bbprop adds.") {
  (void)argc;
  return param_twin(argv, 2);
}

static LuBuiltin *const param_builtins[] = {
    &nn_parameter_builtin, &nn_grad_builtin, &nn_ddgrad_builtin, NULL};

void lu_nn_param_open(void) {
  lu_register(param_builtins);
}
