/* nn_train.c: whole passes over a data set in C: training (fprop, cost
   and bprop per example, one optimizer step per mini-batch), the SDLM
   Hessian estimate, and evaluations and predictions spread over threads. */
#include "nn_impl.h"

#include <stdio.h>
#include <string.h>

/* ---- Data sets -------------------------------------------------------------
 */

/* Checks INPUTS [N input-shape...] and TARGETS ([N output-shape...] for
   MSE, N class numbers for cross-entropy, [N anything...] for a Lisp
   cost) against the net, and sets the cost's target shape. Returns N. */
static long check_data(const char *who, LuNet *n, LuTensor *in, LuTensor *tg,
                       NnCost *cost) {
  const NnShape *is = &n->shape[0], *os = &n->shape[n->nmod];
  if (in->ndim < 1 || !lu_nn_shape_fits(is, in->dim + 1, in->ndim - 1))
    lu_error("%s: inputs %s are not a list of %s inputs", who,
             lu_repr_limit(lu_tensor_value(in), 60), lu_nn_shape_cstr(is));
  if (!tg)
    return in->dim[0];
  if (tg->ndim < 1 || tg->dim[0] != in->dim[0])
    lu_error("%s: %ld inputs but targets %s", who, in->dim[0],
             lu_repr_limit(lu_tensor_value(tg), 60));
  cost->tshape = lu_nn_shape_make(tg->ndim - 1, tg->dim + 1);
  if (cost->kind == lu_nn_mse_cost) {
    if (!lu_nn_shape_fits(os, tg->dim + 1, tg->ndim - 1))
      lu_error("%s: targets %s are not a list of %s outputs", who,
               lu_repr_limit(lu_tensor_value(tg), 60), lu_nn_shape_cstr(os));
    cost->tshape = *os;
  }
  if (cost->kind->classes) {
    float c;
    if (lu_tensor_nelem(tg) != tg->dim[0])
      lu_error("%s: targets %s are not a vector of classes", who,
               lu_repr_limit(lu_tensor_value(tg), 60));
    for (long e = 0; e < tg->dim[0]; e++) {
      lu_nn_read_example(tg, e, &c);
      if (!(c >= 0 && c < os->n && c == (long)c))
        lu_error("%s: target %ld is %g, not a class in [0, %ld]", who, e, c,
                 os->n - 1);
    }
  }
  return in->dim[0];
}

/* What the hooks of a pass over a data set read and write: the data,
   the examples of the batch (example b is order[at + b], or at + b
   without an order), and per example of the batch its target (nt
   floats), loss and whether it was wrong, and its output into the
   example's row of out (nn-predict).
   The cost fills the output's gradient (grad) or second derivatives
   (second). The arrays are held by their first element: a collection
   during the pass sees only pointers to the starts of objects. */
typedef struct {
  LuNet *n;
  LuTensor *in, *tg;
  const NnCost *cost;
  const long *order;
  long at;
  long nt;
  float *t;
  double *loss;
  unsigned char *wrong;
  float *out;
  bool grad, second;
  const NnEager *eager; /* a batch of one that steps as it goes */
} Feed;

/* The example number of example b of the batch. */
static long feed_example(const Feed *f, long b) {
  return f->order ? f->order[f->at + b] : f->at + b;
}

static void feed_load(void *arg, float *work, long b) {
  Feed *f = arg;
  lu_nn_read_example(f->in, feed_example(f, b), lu_nn_x(f->n, work, 0));
  if (f->tg)
    lu_nn_read_example(f->tg, feed_example(f, b), f->t + b * f->nt);
}

static void feed_cost(void *arg, float *work, long b) {
  Feed *f = arg;
  LuNet *n = f->n;
  long nout = n->shape[n->nmod].n;
  const float *y = lu_nn_x(n, work, n->nmod);
  if (f->out)
    memcpy(f->out + feed_example(f, b) * nout, y, sizeof(float) * (size_t)nout);
  if (!f->tg)
    return;
  bool wrong;
  f->loss[b] =
      lu_nn_cost_eval(f->cost, y, nout, f->t + b * f->nt,
                      f->grad ? lu_nn_dx(n, work, n->nmod) : NULL,
                      f->second ? lu_nn_ddx(n, work, n->nmod) : NULL, &wrong);
  f->wrong[b] = wrong;
}

/* A feed for batches of up to nb examples of in (and tg, with cost). */
static Feed feed_new(LuNet *n, LuTensor *in, LuTensor *tg, const NnCost *cost,
                     long nb) {
  Feed f = {.n = n, .in = in, .tg = tg, .cost = cost};
  f.nt = cost->tshape.n > 1 ? cost->tshape.n : 1;
  f.t = lu_alloc_atomic(sizeof(float) * (size_t)(nb * f.nt), "nn");
  f.loss = lu_alloc_atomic(sizeof(double) * (size_t)nb, "nn");
  f.wrong = lu_alloc_atomic((size_t)nb, "nn");
  return f;
}

/* Runs the nb examples of f's batch at `at` through n (forward; backward
   too when back, into grad and the slices' vectors), spread over the
   threads, and adds their losses and errors to *loss and *errors in
   example order. Returns the pass, whose slices' gradients the caller
   sums (lu_nn_reduce, lu_nn_opt_step). */
static NnPass feed_run(Feed *f, long at, long nb, bool train, bool back,
                       float *grad, double *loss, long *errors) {
  LuNet *n = f->n;
  NnPass p = lu_nn_pass(n, nb, train, grad, false);
  p.serial |= f->cost->fn != NULL;
  p.eager = f->eager;
  f->at = at;
  NnHooks h = {.load = feed_load, .cost = feed_cost, .arg = f};
  lu_nn_run(n, lu_tensor_data(p.buf), &p, &h, true, back, f->second, false);
  lu_poll();
  for (long b = 0; f->tg && b < nb; b++) {
    *loss += f->loss[b];
    *errors += f->wrong[b];
  }
  return p;
}

/* ---- Training
 * -------------------------------------------------------------------- */

/* The example order: argument i (ORDER, a vector of example numbers, at
   most one per example) checked, or 0..N-1. Sets *steps to its length.
   Raises naming ORDER on anything else. */
static long *read_order(LuValue **argv, int argc, int i, long n, long *steps) {
  const char *who = lu_caller();
  LuTensor *ord = lu_arg_given(argv, argc, i) ? lu_arg_tensor(argv, i) : NULL;
  long k = ord ? lu_tensor_nelem(ord) : n;
  if (ord && (ord->ndim != 1 || k > n))
    lu_error("%s: ORDER must be a vector of at most %ld example numbers, got "
             "%s",
             who, n, lu_repr_limit(argv[i], 60));
  long *o = lu_alloc_atomic(sizeof(long) * (size_t)(k ? k : 1), who);
  if (!ord) {
    for (long e = 0; e < n; e++)
      o[e] = e;
    *steps = n;
    return o;
  }
  /* read as doubles: a float would round large example numbers */
  for (long e = 0; e < k; e++) {
    double v = lu_tensor_get(ord, &e);
    if (!(v >= 0 && v < n && v == (long)v))
      lu_error("%s: ORDER element %ld is %g, not an example number in [0, "
               "%ld]",
               who, e, v, n - 1);
    o[e] = (long)v;
  }
  *steps = k;
  return o;
}

/* The batch size: argument i (BATCH, an integer >= 1) or 1, capped at
   steps (a batch larger than the data is one batch of all of it). */
static long read_batch(LuValue **argv, int argc, int i, long steps) {
  if (!lu_arg_given(argv, argc, i))
    return 1;
  LuValue *v = argv[i];
  if (!LU_IS(v, LU_NUMBER) || !(LU_NUM(v) >= 1 && LU_NUM(v) <= 9e18) ||
      LU_NUM(v) != floor(LU_NUM(v)))
    lu_arg_error(i, "BATCH, an integer >= 1", v);
  return LU_NUM(v) < (double)steps ? (long)LU_NUM(v) : steps;
}

/* The arguments NET OPT INPUTS TARGETS of who, and COST (argument
   cost_i): OPT must be made by nn-sdlm when sdlm, and the data must fit
   NET. Returns the number of examples. */
static long train_args(const char *who, LuValue **argv, int argc, int cost_i,
                       bool sdlm, LuNet **n, NnOpt **o, LuTensor **in,
                       LuTensor **tg, NnCost *cost) {
  *n = lu_nn_arg_net(argv, 0);
  *o = lu_nn_arg_opt(argv, 1);
  if (sdlm && !lu_nn_opt_is(*o, "sdlm"))
    lu_arg_error(1, "an optimizer made by nn-sdlm", argv[1]);
  *in = lu_arg_tensor(argv, 2);
  *tg = lu_arg_tensor(argv, 3);
  *cost = lu_nn_cost_arg(argv, argc, cost_i);
  return check_data(who, *n, *in, *tg, cost);
}

LU_DEFUN(nn_train_pass,
         "(nn-train-pass NET OPT INPUTS TARGETS [COST] [ORDER] [BATCH])",
         "One pass of training, in C: for each example e of INPUTS ([N "
         "input-shape...]), in the order of the indices in ORDER (default 0 "
         "to N-1), runs fprop in training mode, the COST ('mse, the default, "
         "against TARGETS [N outputs...]; or 'ce, against TARGETS a vector "
         "of classes) and bprop; makes one OPT update per BATCH (default 1) "
         "consecutive examples, on their gradients averaged (the last, "
         "shorter batch over its own size), as PyTorch's mean-reduced "
         "losses do; BATCH 1 steps after every example. A batch runs over "
         "(nn-threads) threads, with the same result for any number of "
         "them; batch normalisation uses the batch's statistics, dropout "
         "and random shifts draw per example from generators seeded by "
         "the global one. Returns (mean-loss errors) over the "
         "examples seen, errors counting those whose largest output is not "
         "the target's.") {
  LuNet *n;
  NnOpt *o;
  LuTensor *in, *tg;
  NnCost cost;
  long ne = train_args("nn-train-pass", argv, argc, 4, false, &n, &o, &in, &tg,
                       &cost);
  long steps;
  long *order = read_order(argv, argc, 5, ne, &steps);
  long batch = read_batch(argv, argc, 6, steps);
  lu_nn_opt_bind(o, n);
  memset(n->pdw, 0, sizeof(float) * (size_t)n->nparams);
  Feed f = feed_new(n, in, tg, &cost, batch);
  f.order = order;
  f.grad = true;
  double loss = 0;
  long errors = 0;
  NnEager eager;
  bool can_eager = lu_nn_opt_eager(o, n);
  for (long k = 0; k < steps; k += batch) {
    lu_poll();
    long size = k + batch < steps ? batch : steps - k;
    f.eager = size == 1 && can_eager ? &eager : NULL;
    if (f.eager)
      lu_nn_opt_begin(o, n, &eager);
    NnPass p = feed_run(&f, k, size, true, true, n->pdw, &loss, &errors);
    if (f.eager)
      lu_nn_opt_end(o, n);
    else
      lu_nn_opt_step(o, n, &p, true, size); /* on the batch's mean gradient */
  }
  n->fresh = batch == 1 ? -1 : 0; /* nn-bprop may follow one example */
  return lu_list(2, lu_number(steps ? loss / (double)steps : 0),
                 lu_number((double)errors));
}

LU_DEFUN(nn_sdlm_estimate,
         "(nn-sdlm-estimate NET OPT INPUTS TARGETS COUNT [COST])",
         "Estimates the diagonal Hessian for the SDLM optimizer OPT: runs "
         "fprop and bbprop (Gauss-Newton) on the first COUNT examples, "
         "averages each parameter's second derivative h into (nn-hessian "
         "NET), and sets its rate factor (nn-rates NET) to 1/(MU + h). "
         "Returns the mean of h over the parameters.") {
  LuNet *n;
  NnOpt *o;
  LuTensor *in, *tg;
  NnCost cost;
  long ne = train_args("nn-sdlm-estimate", argv, argc, 5, true, &n, &o, &in,
                       &tg, &cost);
  long count = lu_arg_int(argv, 4);
  if (count < 1 || count > ne)
    lu_arg_error(4, "a count of examples in the data set", argv[4]);
  memset(n->pddw, 0, sizeof(float) * (size_t)n->nparams);
  Feed f = feed_new(n, in, tg, &cost, 1);
  f.second = true;
  double loss = 0;
  long errors = 0;
  for (long e = 0; e < count; e++) {
    lu_poll();
    NnPass p = feed_run(&f, e, 1, true, true, n->pddw, &loss, &errors);
    lu_nn_reduce(n, &p, NULL, NULL);
  }
  double mean = 0;
  lu_nn_rates_set(n);
  for (long i = 0; i < n->nparams; i++) {
    float h = n->pddw[i] / (float)count;
    n->pddw[i] = h;
    n->prate[i] = (float)(1 / (o->mu + h));
    mean += h;
  }
  n->fresh = -1;
  return lu_number(n->nparams ? mean / (double)n->nparams : 0);
}

/* ---- Evaluation over threads
 * ------------------------------------------------------ */

/* Examples per evaluation batch: up to 32, fewer for nets whose work
   areas are large (about 128 MB in all at most), at least one per
   thread. */
static long eval_batch(const LuNet *n) {
  long b = (32L << 20) / n->worksize;
  b = b < 32 ? b : 32;
  return b > lu_nn_threads() ? b : lu_nn_threads();
}

/* Evaluates the net on all of in (and tg) in evaluation mode, in batches
   spread over the threads; the outputs into out unless NULL. */
static void evaluate(LuNet *n, LuTensor *in, LuTensor *tg, const NnCost *cost,
                     long ne, double *loss, long *errors, float *out) {
  long nb = eval_batch(n);
  Feed f = feed_new(n, in, tg, cost, nb);
  f.out = out;
  for (long k = 0; k < ne; k += nb) {
    feed_run(&f, k, k + nb < ne ? nb : ne - k, false, false, NULL, loss,
             errors);
  }
}

LU_DEFUN(nn_evaluate, "(nn-evaluate NET INPUTS TARGETS [COST])",
         "Runs NET in evaluation mode on every example of INPUTS and returns "
         "(mean-loss errors) against TARGETS with COST ('mse or 'ce, as in "
         "nn-train-pass). Spread over (nn-threads) threads; the result does "
         "not depend on their number.") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  LuTensor *in = lu_arg_tensor(argv, 1), *tg = lu_arg_tensor(argv, 2);
  NnCost cost = lu_nn_cost_arg(argv, argc, 3);
  long ne = check_data("nn-evaluate", n, in, tg, &cost);
  double sum = 0;
  long errors = 0;
  evaluate(n, in, tg, &cost, ne, &sum, &errors, NULL);
  return lu_list(2, lu_number(ne ? sum / (double)ne : 0),
                 lu_number((double)errors));
}

LU_DEFUN(nn_predict, "(nn-predict NET INPUTS)",
         "Runs NET in evaluation mode on every example of INPUTS ([N "
         "input-shape...]) and returns the outputs as a new [N "
         "output-shape...] tensor. Spread over (nn-threads) threads.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  LuTensor *in = lu_arg_tensor(argv, 1);
  NnCost cost = {.kind = lu_nn_mse_cost};
  long ne = check_data("nn-predict", n, in, NULL, &cost);
  const NnShape *os = &n->shape[n->nmod];
  long dim[LU_MAXDIM];
  int nd = os->ndim < LU_MAXDIM ? os->ndim + 1 : LU_MAXDIM;
  dim[0] = ne;
  for (int i = 1; i < nd; i++)
    dim[i] = os->dim[i - 1];
  if (nd < os->ndim + 1) /* an 8-D output: flatten it */
    nd = 2, dim[1] = os->n;
  LuTensor *out = lu_tensor_make(LU_FLOAT, nd, dim, NULL, NULL, 0);
  double sum = 0;
  long errors = 0;
  evaluate(n, in, NULL, &cost, ne, &sum, &errors, lu_tensor_data(out));
  return lu_tensor_value(out);
}

static LuBuiltin *const train_builtins[] = {
    &nn_train_pass_builtin, &nn_sdlm_estimate_builtin, &nn_evaluate_builtin,
    &nn_predict_builtin, NULL};

void lu_nn_train_open(void) {
  lu_register(train_builtins);
}
