/* nn_check.c: the numerical checks of a net's derivatives: nn-gradcheck
   compares bprop with central finite differences of the loss, nn-bbcheck
   compares bbprop with finite-difference second derivatives, over every
   parameter and every input. A perturbed value is put back on every exit,
   an error or Ctrl-C in the middle included. */
#include "nn_impl.h"

#include <string.h>

/* The loss of the net on the input in its input state, in the net's mode,
   reusing the last random draws. */
static double check_loss(LuNet *n, float *work, const NnCost *cost,
                         const float *t) {
  NnPass p = lu_nn_pass(n, 1, n->train, NULL, true);
  p.replay = true;
  lu_nn_fprop(n, work, &p);
  bool wrong;
  return lu_nn_cost_eval(cost, lu_nn_x(n, work, n->nmod), n->shape[n->nmod].n,
                         t, NULL, NULL, &wrong);
}

/* One sweep of check_values, as a protected call: i and keep say which
   value is perturbed, so that the caller can put it back. */
typedef struct {
  LuNet *n;
  float *work, *v;
  const NnCost *cost;
  const float *t;
  const double *a;
  long k, i;
  double eps, l0, maxdiff, maxmag;
  bool second;
  float keep;
} Sweep;

static void sweep(void *ud) {
  Sweep *s = ud;
  for (; s->i < s->k; s->i++) {
    lu_poll();
    long i = s->i;
    s->keep = s->v[i];
    s->v[i] = (float)(s->keep + s->eps);
    double hi = (double)s->v[i] - s->keep;
    double lp = check_loss(s->n, s->work, s->cost, s->t);
    s->v[i] = (float)(s->keep - hi);
    double lm = check_loss(s->n, s->work, s->cost, s->t);
    s->v[i] = s->keep;
    double num =
        s->second ? (lp - 2 * s->l0 + lm) / (hi * hi) : (lp - lm) / (2 * hi);
    double diff = fabs(num - s->a[i]);
    s->maxdiff = fmax(s->maxdiff, diff);
    s->maxmag = fmax(s->maxmag, fmax(fabs(num), fabs(s->a[i])));
  }
}

/* Compares the analytic derivatives a[0..k) of the loss with respect to the
   values v[0..k) with central differences (second: the second
   derivatives). Returns max |a - numeric| / max(|a|, |numeric|). On an
   error (or Ctrl-C) puts the value being perturbed back, then raises it
   again. */
static double check_values(Sweep s, float *v, const double *a, long k) {
  s.v = v, s.a = a, s.k = k, s.i = 0;
  s.maxdiff = s.maxmag = 0;
  LuValue *err;
  if (!lu_pcall(sweep, &s, &err)) {
    if (s.i < k)
      v[s.i] = s.keep;
    lu_rethrow(err);
  }
  return s.maxmag > 0 ? s.maxdiff / s.maxmag : 0;
}

/* The target of a check: a tensor of the output's size (MSE, Lisp costs)
   or a class (cross-entropy), into t. */
static void check_target(LuValue **argv, LuNet *n, NnCost *cost, float *t) {
  const NnShape *os = &n->shape[n->nmod];
  if (cost->kind->classes) {
    long c = lu_arg_int(argv, 2);
    if (c < 0 || c >= os->n)
      lu_arg_error(2, "a class of the output", argv[2]);
    t[0] = (float)c;
    cost->tshape = lu_nn_shape_make(0, NULL);
    return;
  }
  LuTensor *tt = lu_arg_tensor(argv, 2);
  if (cost->kind == lu_nn_mse_cost && lu_tensor_nelem(tt) != os->n)
    lu_error("%s: target has %ld elements, the output %s", lu_caller(),
             lu_tensor_nelem(tt), lu_nn_shape_cstr(os));
  if (lu_tensor_nelem(tt) > os->n)
    lu_error("%s: target has %ld elements, more than the output %s",
             lu_caller(), lu_tensor_nelem(tt), lu_nn_shape_cstr(os));
  cost->tshape = lu_nn_shape_make(tt->ndim, tt->dim);
  lu_nn_read(tt, 0, tt->offset, t);
}

/* nn-gradcheck (second false) and nn-bbcheck (second true): the
   analytic derivatives by one back pass, then the numeric ones by
   perturbing each parameter and input; returns (param-error input-error).
   Raises on a bad target, class or step. */
static LuValue *check(LuValue **argv, int argc, bool second) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  NnCost cost = {.kind = lu_nn_mse_cost};
  if (!second)
    cost = lu_nn_cost_arg(argv, argc, 3);
  int epsarg = second ? 3 : 4;
  double eps = lu_arg_given(argv, argc, epsarg) ? lu_arg_num(argv, epsarg)
                                                : (second ? 0.1 : 1e-3);
  if (!(eps > 0 && eps < 1e30))
    lu_arg_error(epsarg, "a positive step", argv[epsarg]);
  float *work = lu_nn_slots(n, 1);
  const NnShape *is = &n->shape[0], *os = &n->shape[n->nmod];
  lu_nn_read_checked(lu_caller(), lu_arg_tensor(argv, 1), is, work);
  float *t = lu_alloc_atomic(sizeof(float) * (size_t)(os->n + 1), "nn");
  check_target(argv, n, &cost, t);
  /* analytic */
  float *pd = second ? n->pddw : n->pdw;
  memset(pd, 0, sizeof(float) * (size_t)n->nparams);
  NnPass p = lu_nn_pass(n, 1, n->train, pd, true);
  lu_nn_fprop(n, work, &p);
  bool wrong;
  double l0 =
      lu_nn_cost_eval(&cost, lu_nn_x(n, work, n->nmod), os->n, t,
                      second ? NULL : lu_nn_dx(n, work, n->nmod),
                      second ? lu_nn_ddx(n, work, n->nmod) : NULL, &wrong);
  lu_nn_back(n, work, &p, second, true);
  n->fresh = -1;
  double *ap = lu_alloc_atomic(sizeof(double) * (size_t)(n->nparams + 1), "nn");
  double *ax = lu_alloc_atomic(sizeof(double) * (size_t)(is->n + 1), "nn");
  for (long i = 0; i < n->nparams; i++)
    ap[i] = pd[i];
  const float *dx0 = second ? lu_nn_ddx(n, work, 0) : lu_nn_dx(n, work, 0);
  for (long i = 0; i < is->n; i++)
    ax[i] = dx0[i];
  /* numeric */
  Sweep s = {.n = n,
             .work = work,
             .cost = &cost,
             .t = t,
             .eps = eps,
             .l0 = l0,
             .second = second};
  double ep = check_values(s, n->pw, ap, n->nparams);
  double ex = check_values(s, lu_nn_x(n, work, 0), ax, is->n);
  check_loss(n, work, &cost, t); /* leave the states of the unperturbed net */
  return lu_list(2, lu_number(ep), lu_number(ex));
}

LU_DEFUN(nn_gradcheck, "(nn-gradcheck NET X TARGET [COST] [EPS])",
         "Checks NET's bprop against central finite differences (step EPS, "
         "default 1e-3) of the loss of input X against TARGET with COST "
         "('mse, the default, TARGET a tensor; 'ce, TARGET a class; or a "
         "Lisp cost function, see nn-train-pass), in NET's mode with random "
         "draws frozen. Returns (param-error input-error), each the largest "
         "difference between analytic and numeric derivative over the "
         "largest derivative. Leaves the analytic gradients in nn-grads "
         "(cleared first); every perturbed value is put back, even on an "
         "error or Ctrl-C.") {
  return check(argv, argc, false);
}

LU_DEFUN(nn_bbcheck, "(nn-bbcheck NET X TARGET [EPS])",
         "Checks NET's bbprop against finite-difference second derivatives "
         "(step EPS, default 0.1) of the mean squared error of input X "
         "against TARGET. Gauss-Newton is exact, so the errors are small, "
         "where the loss is quadratic in the values checked and the output "
         "of the module they feed has a diagonal Hessian: one linear module "
         "(convolution or fully connected, possibly after element-wise "
         "linear ones such as dropout) under MSE. Returns (param-error "
         "input-error) as nn-gradcheck. Leaves the analytic second "
         "derivatives in nn-hessian.") {
  return check(argv, argc, true);
}

static LuBuiltin *const check_builtins[] = {&nn_gradcheck_builtin,
                                            &nn_bbcheck_builtin, NULL};

void lu_nn_check_open(void) {
  lu_register(check_builtins);
}
