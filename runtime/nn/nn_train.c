/* nn_train.c: what trains and judges a net: costs, optimizers over the
   flat parameter vector (SGD, SDLM, AdamW), whole training passes and
   batched evaluations in C (evaluation spread over threads), and the
   numerical checks of bprop and bbprop. Builtins registered by
   lu_nn_train_open, called from lu_net_open. */
#include "nn_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- Costs ----------------------------------------------------------------
 */

typedef enum { COST_MSE, COST_CE } NnCost;

static NnCost cost_arg(LuValue **argv, int argc, int i) {
  if (!lu_arg_given(argv, argc, i))
    return COST_MSE;
  const char *s = lu_arg_sym(argv, i)->sym.name;
  if (!strcmp(s, "mse"))
    return COST_MSE;
  if (!strcmp(s, "ce") || !strcmp(s, "cross-entropy"))
    return COST_CE;
  lu_arg_error(i, "'mse or 'ce", argv[i]);
}

static long argmax(const float *y, long n) {
  long best = 0;
  for (long i = 1; i < n; i++)
    if (y[i] > y[best])
      best = i;
  return best;
}

/* The loss of output y (n elements) against target t: for MSE a vector of
   n, for cross-entropy t[0] is the class. Seeds dy and ddy when not NULL;
   *wrong tells whether the largest output is not the target's. */
static double cost_eval(NnCost cost, const float *y, long n, const float *t,
                        float *dy, float *ddy, bool *wrong) {
  if (cost == COST_MSE) {
    *wrong = argmax(y, n) != argmax(t, n);
    return lu_nn_mse(y, t, n, dy, ddy);
  }
  *wrong = argmax(y, n) != (long)t[0];
  return lu_nn_cross_entropy(y, n, (long)t[0], dy, ddy);
}

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
             lu_caller(), i + 1, n, lu_repr(argv[i], false));
  write_rec(t, 0, t->offset, &v);
}

static float *read_all(LuTensor *t) {
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
  double l = lu_nn_mse(read_all(y), read_all(t), n, d, d + n);
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
  double l = lu_nn_cross_entropy(read_all(y), n, cls, d, d + n);
  write_out(argv, argc, 2, d, n);
  write_out(argv, argc, 3, d + n, n);
  return lu_number(l);
}

/* ---- Data sets -------------------------------------------------------------
 */

/* Checks INPUTS [N input-shape...] and TARGETS ([N output-shape...] for
   MSE, N class numbers for cross-entropy) against the net. Returns N. */
static long check_data(const char *who, LuNet *n, LuTensor *in, LuTensor *tg,
                       NnCost cost) {
  const NnShape *is = &n->shape[0], *os = &n->shape[n->nmod];
  if (in->ndim < 1 || !lu_nn_shape_fits(is, in->dim + 1, in->ndim - 1))
    lu_error("%s: inputs %s are not a list of %s inputs", who,
             lu_repr(lu_tensor_value(in), false), lu_nn_shape_cstr(is));
  if (!tg)
    return in->dim[0];
  if (tg->ndim < 1 || tg->dim[0] != in->dim[0])
    lu_error("%s: %ld inputs but targets %s", who, in->dim[0],
             lu_repr(lu_tensor_value(tg), false));
  if (cost == COST_MSE && !lu_nn_shape_fits(os, tg->dim + 1, tg->ndim - 1))
    lu_error("%s: targets %s are not a list of %s outputs", who,
             lu_repr(lu_tensor_value(tg), false), lu_nn_shape_cstr(os));
  if (cost == COST_CE) {
    float c;
    if (lu_tensor_nelem(tg) != tg->dim[0])
      lu_error("%s: targets %s are not a vector of classes", who,
               lu_repr(lu_tensor_value(tg), false));
    for (long e = 0; e < tg->dim[0]; e++) {
      lu_nn_read_example(tg, e, &c);
      if (!(c >= 0 && c < os->n && c == (long)c))
        lu_error("%s: target %ld is %g, not a class in [0, %ld]", who, e, c,
                 os->n - 1);
    }
  }
  return in->dim[0];
}

/* Reads example e's input into the net's input state and its target into
   t. */
static void load_example(LuNet *n, float *work, LuTensor *in, LuTensor *tg,
                         long e, float *t) {
  lu_nn_read_example(in, e, lu_nn_x(n, work, 0));
  if (tg)
    lu_nn_read_example(tg, e, t);
}

/* ---- Optimizers -------------------------------------------------------------
 */

typedef enum { OPT_SGD, OPT_SDLM, OPT_ADAMW } NnOptKind;

typedef struct {
  NnOptKind kind;
  double lr, momentum, decay, beta1, beta2, eps, mu;
  long t;     /* AdamW steps taken */
  LuNet *net; /* whose parameters the state below follows */
  float *m, *v;
} NnOpt;

static const char *const opt_names[] = {"sgd", "sdlm", "adamw"};

static void opt_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  NnOpt *o = v->cdata.ptr;
  lu_buf_printf(b, "#<nn-optimizer %s rate %g>", opt_names[o->kind], o->lr);
}

static const LuCType opt_ctype = {"nn-optimizer", opt_print, NULL, NULL};

static LuValue *opt_new(NnOptKind kind, double lr) {
  NnOpt *o = lu_alloc(sizeof *o);
  o->kind = kind;
  o->lr = lr;
  return lu_cdata(&opt_ctype, o);
}

static double num_opt(LuValue **argv, int argc, int i, double def) {
  return lu_arg_given(argv, argc, i) ? lu_arg_num(argv, i) : def;
}

LU_DEFUN(nn_sgd, "(nn-sgd RATE [MOMENTUM] [DECAY])",
         "A stochastic gradient descent optimizer: each update does g = grad "
         "+ DECAY w; v = MOMENTUM v + g (when MOMENTUM, default 0, is not 0); "
         "w -= RATE * factor * v, factor being the parameter's rate factor "
         "(see nn-rates).") {
  LuValue *v = opt_new(OPT_SGD, lu_arg_num(argv, 0));
  NnOpt *o = v->cdata.ptr;
  o->momentum = num_opt(argv, argc, 1, 0);
  o->decay = num_opt(argv, argc, 2, 0);
  return v;
}

LU_DEFUN(nn_sdlm, "(nn-sdlm ETA MU)",
         "The stochastic diagonal Levenberg-Marquardt optimizer of the 1989 "
         "paper: nn-sdlm-estimate sets each parameter's rate factor to 1/(MU "
         "+ h) from the averaged second derivative h; each update does w -= "
         "ETA * factor * grad. ETA is the optimizer's rate (nn-set-rate).") {
  (void)argc;
  LuValue *v = opt_new(OPT_SDLM, lu_arg_num(argv, 0));
  ((NnOpt *)v->cdata.ptr)->mu = lu_arg_num(argv, 1);
  return v;
}

LU_DEFUN(nn_adamw, "(nn-adamw RATE [BETA1] [BETA2] [EPS] [DECAY])",
         "The AdamW optimizer (defaults 0.9, 0.999, 1e-8, 0.01), with "
         "decoupled weight decay: w -= RATE * factor * (DECAY w + mhat / "
         "(sqrt(vhat) + EPS)). Change RATE between steps with nn-set-rate "
         "for a schedule.") {
  LuValue *v = opt_new(OPT_ADAMW, lu_arg_num(argv, 0));
  NnOpt *o = v->cdata.ptr;
  o->beta1 = num_opt(argv, argc, 1, 0.9);
  o->beta2 = num_opt(argv, argc, 2, 0.999);
  o->eps = num_opt(argv, argc, 3, 1e-8);
  o->decay = num_opt(argv, argc, 4, 0.01);
  return v;
}

LU_DEFUN(nn_rate, "(nn-rate OPT)", "The learning rate of optimizer OPT.") {
  (void)argc;
  return lu_number(((NnOpt *)lu_arg_cdata(argv, 0, &opt_ctype))->lr);
}

LU_DEFUN(nn_set_rate, "(nn-set-rate OPT RATE)",
         "Sets the learning rate of optimizer OPT (for schedules). Returns "
         "RATE.") {
  (void)argc;
  ((NnOpt *)lu_arg_cdata(argv, 0, &opt_ctype))->lr = lu_arg_num(argv, 1);
  return argv[1];
}

/* Ties o's state to net n, making it on first use. */
static void opt_bind(NnOpt *o, LuNet *n) {
  bool state = o->kind == OPT_ADAMW || o->momentum != 0;
  if (!state || o->net == n)
    return;
  if (o->net)
    lu_error("%s: this optimizer holds the state of another net", lu_caller());
  size_t sz = sizeof(float) * (size_t)n->nparams;
  o->m = lu_alloc_atomic(sz ? sz : 1, "nn-optimizer");
  o->v = lu_alloc_atomic(sz ? sz : 1, "nn-optimizer");
  memset(o->m, 0, sz);
  memset(o->v, 0, sz);
  o->net = n;
}

/* One update of n's parameters from its gradients; clears the gradients
   in the same sweep when clear is true. */
static void opt_step(NnOpt *o, LuNet *n, bool clear) {
  float *restrict w = n->pw, *restrict dw = n->pdw, *restrict r = n->prate;
  float *restrict m = o->m, *restrict v = o->v;
  long np = n->nparams;
  float lr = (float)o->lr, decay = (float)o->decay, mom = (float)o->momentum;
  if (o->kind == OPT_ADAMW) {
    o->t++;
    float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    float c1 = (float)(1 / (1 - pow(o->beta1, (double)o->t)));
    float c2 = (float)(1 / (1 - pow(o->beta2, (double)o->t)));
    for (long i = 0; i < np; i++) {
      float g = dw[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      w[i] -= lr * r[i] * (decay * w[i] + m[i] * c1 / (sqrtf(v[i] * c2) + eps));
      if (clear)
        dw[i] = 0;
    }
  } else if (mom != 0) {
    for (long i = 0; i < np; i++) {
      m[i] = mom * m[i] + dw[i] + decay * w[i];
      w[i] -= lr * r[i] * m[i];
      if (clear)
        dw[i] = 0;
    }
  } else {
    for (long i = 0; i < np; i++) {
      w[i] -= lr * r[i] * (dw[i] + decay * w[i]);
      if (clear)
        dw[i] = 0;
    }
  }
}

LU_DEFUN(nn_update, "(nn-update NET OPT)",
         "Updates NET's parameters from its accumulated gradients with "
         "optimizer OPT (one step). The gradients are kept: clear them with "
         "nn-clear-grads. Returns NET.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  NnOpt *o = lu_arg_cdata(argv, 1, &opt_ctype);
  opt_bind(o, n);
  opt_step(o, n, false);
  return argv[0];
}

/* ---- Training
 * -------------------------------------------------------------------- */

static LuTensor *opt_tensor(LuValue **argv, int argc, int i) {
  return lu_arg_given(argv, argc, i) ? lu_arg_tensor(argv, i) : NULL;
}

/* The example order: ORDER's elements, checked, or 0..N-1. */
static long *read_order(LuTensor *ord, long n, const char *who) {
  long *o = lu_alloc_atomic(sizeof(long) * (size_t)(n ? n : 1), who);
  if (!ord) {
    for (long i = 0; i < n; i++)
      o[i] = i;
    return o;
  }
  long k = lu_tensor_nelem(ord);
  float *v = read_all(ord);
  for (long i = 0; i < k; i++) {
    if (!(v[i] >= 0 && v[i] < n && v[i] == (long)v[i]))
      lu_error("%s: order element %ld is %g, not an example in [0, %ld]", who,
               i, v[i], n - 1);
    o[i] = (long)v[i];
  }
  return o;
}

LU_DEFUN(nn_train_pass, "(nn-train-pass NET OPT INPUTS TARGETS [COST] [ORDER])",
         "One pass of per-example training, in C: for each example e of "
         "INPUTS ([N input-shape...]), in the order of the indices in ORDER "
         "(default 0 to N-1), runs fprop in training mode, the COST ('mse, "
         "the default, against TARGETS [N outputs...]; or 'ce, against "
         "TARGETS a vector of classes), bprop, and one OPT update. Returns "
         "(mean-loss errors) over the examples seen, errors counting those "
         "whose largest output is not the target's.") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  NnOpt *o = lu_arg_cdata(argv, 1, &opt_ctype);
  LuTensor *in = lu_arg_tensor(argv, 2), *tg = lu_arg_tensor(argv, 3);
  NnCost cost = cost_arg(argv, argc, 4);
  long ne = check_data("nn-train-pass", n, in, tg, cost);
  LuTensor *ord = opt_tensor(argv, argc, 5);
  long *order = read_order(ord, ne, "nn-train-pass");
  long steps = ord ? lu_tensor_nelem(ord) : ne;
  float *work = lu_nn_work(n, 0);
  long nout = n->shape[n->nmod].n;
  float *t = lu_alloc_atomic(sizeof(float) * (size_t)(nout + 1), "nn");
  opt_bind(o, n);
  memset(n->pdw, 0, sizeof(float) * (size_t)n->nparams);
  double loss = 0;
  long errors = 0;
  for (long k = 0; k < steps; k++) {
    lu_poll();
    load_example(n, work, in, tg, order[k], t);
    lu_nn_fprop(n, work, true, false);
    bool wrong;
    loss += cost_eval(cost, lu_nn_x(n, work, n->nmod), nout, t,
                      lu_nn_dx(n, work, n->nmod), NULL, &wrong);
    errors += wrong;
    lu_nn_back(n, work, true, false, false);
    opt_step(o, n, true);
  }
  n->fresh = true;
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
  LuNet *n = lu_nn_arg_net(argv, 0);
  NnOpt *o = lu_arg_cdata(argv, 1, &opt_ctype);
  if (o->kind != OPT_SDLM)
    lu_arg_error(1, "an optimizer made by nn-sdlm", argv[1]);
  LuTensor *in = lu_arg_tensor(argv, 2), *tg = lu_arg_tensor(argv, 3);
  NnCost cost = cost_arg(argv, argc, 5);
  long ne = check_data("nn-sdlm-estimate", n, in, tg, cost);
  long count = lu_arg_int(argv, 4);
  if (count < 1 || count > ne)
    lu_arg_error(4, "a count of examples in the data set", argv[4]);
  float *work = lu_nn_work(n, 0);
  long nout = n->shape[n->nmod].n;
  float *t = lu_alloc_atomic(sizeof(float) * (size_t)(nout + 1), "nn");
  memset(n->pddw, 0, sizeof(float) * (size_t)n->nparams);
  for (long e = 0; e < count; e++) {
    lu_poll();
    load_example(n, work, in, tg, e, t);
    lu_nn_fprop(n, work, true, false);
    bool wrong;
    cost_eval(cost, lu_nn_x(n, work, n->nmod), nout, t, NULL,
              lu_nn_ddx(n, work, n->nmod), &wrong);
    lu_nn_back(n, work, true, true, false);
  }
  double mean = 0;
  for (long i = 0; i < n->nparams; i++) {
    float h = n->pddw[i] / (float)count;
    n->pddw[i] = h;
    n->prate[i] = (float)(1 / (o->mu + h));
    mean += h;
  }
  n->fresh = true;
  return lu_number(n->nparams ? mean / (double)n->nparams : 0);
}

/* ---- Evaluation over threads
 * ------------------------------------------------------ */

static int nn_threads = 2;

LU_DEFUN(nn_threads_fn, "(nn-threads [N])",
         "The number of threads nn-evaluate and nn-predict use (default 2); "
         "with N (1 to 16), sets it. Results do not depend on it.") {
  if (lu_arg_given(argv, argc, 0)) {
    long t = lu_arg_int(argv, 0);
    if (t < 1 || t > NN_MAXTHREADS)
      lu_arg_error(0, "a number of threads in [1, 16]", argv[0]);
    nn_threads = (int)t;
  }
  return lu_number(nn_threads);
}

/* A share of an evaluation: examples [beg, end) on one work buffer. Only
   reads the net and the data, and writes its own work buffer and its own
   slots of loss, wrong and out: no Lisp, no GC allocation. */
typedef struct {
  LuNet *n;
  float *work, *t;
  LuTensor *in, *tg;
  NnCost cost;
  long beg, end;
  double *loss;
  unsigned char *wrong;
  float *out;
  volatile int *stop;
} EvalJob;

/* Runs examples [beg, end) of j in evaluation mode, filling their slots;
   stops early once *j->stop is set. */
static void eval_range(EvalJob *j, long beg, long end) {
  LuNet *n = j->n;
  long nout = n->shape[n->nmod].n;
  for (long e = beg; e < end && !*j->stop; e++) {
    load_example(n, j->work, j->in, j->tg, e, j->t);
    lu_nn_fprop(n, j->work, false, false);
    float *y = lu_nn_x(n, j->work, n->nmod);
    if (j->out)
      memcpy(j->out + e * nout, y, sizeof(float) * (size_t)nout);
    if (j->tg) {
      bool wrong;
      j->loss[e] = cost_eval(j->cost, y, nout, j->t, NULL, NULL, &wrong);
      j->wrong[e] = wrong;
    }
  }
}

static void *eval_thread(void *arg) {
  EvalJob *j = arg;
  eval_range(j, j->beg, j->end);
  return NULL;
}

/* Runs the evaluation jobs: job 0 on this thread, polling for Ctrl-C, the
   others on new threads (or here, when a thread cannot be made). */
static void eval_run(EvalJob *jobs, int nj) {
  pthread_t th[NN_MAXTHREADS];
  bool started[NN_MAXTHREADS] = {false};
  for (int i = 1; i < nj; i++)
    started[i] = pthread_create(&th[i], NULL, eval_thread, &jobs[i]) == 0;
  for (long e = jobs[0].beg; e < jobs[0].end && !lu_interrupted; e += 64)
    eval_range(&jobs[0], e, e + 64 < jobs[0].end ? e + 64 : jobs[0].end);
  if (lu_interrupted)
    *jobs[0].stop = 1;
  for (int i = 1; i < nj; i++) {
    if (started[i])
      pthread_join(th[i], NULL);
    else if (!lu_interrupted)
      eval_thread(&jobs[i]);
  }
  lu_poll();
}

/* Evaluates the net on all of in (and tg) in evaluation mode. */
static void evaluate(LuNet *n, LuTensor *in, LuTensor *tg, NnCost cost, long ne,
                     double *loss, unsigned char *wrong, float *out) {
  int nt = n->has_lisp ? 1 : nn_threads;
  if (nt > ne / 32 + 1)
    nt = (int)(ne / 32 + 1);
  EvalJob jobs[NN_MAXTHREADS];
  volatile int stop = 0;
  long nout = n->shape[n->nmod].n;
  int i = 0;
  do {
    jobs[i] = (EvalJob){
        .n = n,
        .work = lu_nn_work(n, i),
        .t = lu_alloc_atomic(sizeof(float) * (size_t)(nout + 1), "nn"),
        .in = in,
        .tg = tg,
        .cost = cost,
        .beg = ne * i / nt,
        .end = ne * (i + 1) / nt,
        .loss = loss,
        .wrong = wrong,
        .out = out,
        .stop = &stop};
  } while (++i < nt);
  eval_run(jobs, nt);
}

LU_DEFUN(nn_evaluate, "(nn-evaluate NET INPUTS TARGETS [COST])",
         "Runs NET in evaluation mode on every example of INPUTS and returns "
         "(mean-loss errors) against TARGETS with COST ('mse or 'ce, as in "
         "nn-train-pass). Spread over (nn-threads) threads; the result does "
         "not depend on their number.") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  LuTensor *in = lu_arg_tensor(argv, 1), *tg = lu_arg_tensor(argv, 2);
  NnCost cost = cost_arg(argv, argc, 3);
  long ne = check_data("nn-evaluate", n, in, tg, cost);
  double *loss = lu_alloc_atomic(sizeof(double) * (size_t)(ne + 1), "nn");
  unsigned char *wrong = lu_alloc_atomic((size_t)ne + 1, "nn");
  evaluate(n, in, tg, cost, ne, loss, wrong, NULL);
  double sum = 0;
  long errors = 0;
  for (long e = 0; e < ne; e++) {
    sum += loss[e];
    errors += wrong[e];
  }
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
  long ne = check_data("nn-predict", n, in, NULL, COST_MSE);
  const NnShape *os = &n->shape[n->nmod];
  long dim[LU_MAXDIM];
  int nd = os->ndim < LU_MAXDIM ? os->ndim + 1 : LU_MAXDIM;
  dim[0] = ne;
  for (int i = 1; i < nd; i++)
    dim[i] = os->dim[i - 1];
  if (nd < os->ndim + 1) /* an 8-D output: flatten it */
    nd = 2, dim[1] = os->n;
  LuTensor *out = lu_tensor_make(LU_FLOAT, nd, dim, NULL, NULL, 0);
  evaluate(n, in, NULL, COST_MSE, ne, NULL, NULL, lu_tensor_data(out));
  return lu_tensor_value(out);
}

/* ---- Numerical checks
 * ------------------------------------------------------------- */

/* The loss of the net on the input in its input state, in the net's mode,
   reusing the last random draws. */
static double check_loss(LuNet *n, float *work, NnCost cost, const float *t) {
  lu_nn_fprop(n, work, n->train, true);
  bool wrong;
  return cost_eval(cost, lu_nn_x(n, work, n->nmod), n->shape[n->nmod].n, t,
                   NULL, NULL, &wrong);
}

/* Compares the analytic derivatives a[0..k) of the loss with respect to the
   values v[0..k) with central differences (second: the second
   derivatives). Returns max |a - numeric| / max(|a|, |numeric|). */
static double check_values(LuNet *n, float *work, NnCost cost, const float *t,
                           float *v, const double *a, long k, double eps,
                           bool second, double l0) {
  double maxdiff = 0, maxmag = 0;
  for (long i = 0; i < k; i++) {
    lu_poll();
    float keep = v[i];
    v[i] = (float)(keep + eps);
    double hi = (double)v[i] - keep;
    double lp = check_loss(n, work, cost, t);
    v[i] = (float)(keep - hi);
    double lm = check_loss(n, work, cost, t);
    v[i] = keep;
    double num = second ? (lp - 2 * l0 + lm) / (hi * hi) : (lp - lm) / (2 * hi);
    double diff = fabs(num - a[i]);
    maxdiff = diff > maxdiff ? diff : maxdiff;
    maxmag = fabs(num) > maxmag ? fabs(num) : maxmag;
    maxmag = fabs(a[i]) > maxmag ? fabs(a[i]) : maxmag;
  }
  return maxmag > 0 ? maxdiff / maxmag : 0;
}

/* nn-gradcheck (second false) and nn-bbcheck (second true): the
   analytic derivatives by one back pass, then the numeric ones by
   perturbing each parameter and input; returns (param-error input-error).
   Raises on a bad target, class or step. */
static LuValue *check(LuValue **argv, int argc, bool second) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  NnCost cost = second ? COST_MSE : cost_arg(argv, argc, 3);
  int epsarg = second ? 3 : 4;
  double eps = lu_arg_given(argv, argc, epsarg) ? lu_arg_num(argv, epsarg)
                                                : (second ? 0.1 : 1e-3);
  if (!(eps > 0))
    lu_arg_error(epsarg, "a positive step", argv[epsarg]);
  float *work = lu_nn_work(n, 0);
  const NnShape *is = &n->shape[0], *os = &n->shape[n->nmod];
  lu_nn_read_checked(lu_caller(), lu_arg_tensor(argv, 1), is, work);
  float *t = lu_alloc_atomic(sizeof(float) * (size_t)(os->n + 1), "nn");
  if (cost == COST_MSE) {
    LuTensor *tt = lu_arg_tensor(argv, 2);
    if (lu_tensor_nelem(tt) != os->n)
      lu_error("%s: target has %ld elements, the output %s", lu_caller(),
               lu_tensor_nelem(tt), lu_nn_shape_cstr(os));
    lu_nn_read(tt, 0, tt->offset, t);
  } else {
    long c = lu_arg_int(argv, 2);
    if (c < 0 || c >= os->n)
      lu_arg_error(2, "a class of the output", argv[2]);
    t[0] = (float)c;
  }
  /* analytic */
  float *pd = second ? n->pddw : n->pdw;
  memset(pd, 0, sizeof(float) * (size_t)n->nparams);
  lu_nn_fprop(n, work, n->train, false);
  bool wrong;
  double l0 = cost_eval(cost, lu_nn_x(n, work, n->nmod), os->n, t,
                        second ? NULL : lu_nn_dx(n, work, n->nmod),
                        second ? lu_nn_ddx(n, work, n->nmod) : NULL, &wrong);
  lu_nn_back(n, work, n->train, second, true);
  n->fresh = true;
  double *ap = lu_alloc_atomic(sizeof(double) * (size_t)(n->nparams + 1), "nn");
  double *ax = lu_alloc_atomic(sizeof(double) * (size_t)(is->n + 1), "nn");
  for (long i = 0; i < n->nparams; i++)
    ap[i] = pd[i];
  const float *dx0 = second ? lu_nn_ddx(n, work, 0) : lu_nn_dx(n, work, 0);
  for (long i = 0; i < is->n; i++)
    ax[i] = dx0[i];
  /* numeric */
  double ep =
      check_values(n, work, cost, t, n->pw, ap, n->nparams, eps, second, l0);
  double ex = check_values(n, work, cost, t, lu_nn_x(n, work, 0), ax, is->n,
                           eps, second, l0);
  check_loss(n, work, cost, t); /* leave the states of the unperturbed net */
  return lu_list(2, lu_number(ep), lu_number(ex));
}

LU_DEFUN(nn_gradcheck, "(nn-gradcheck NET X TARGET [COST] [EPS])",
         "Checks NET's bprop against central finite differences (step EPS, "
         "default 1e-3) of the loss of input X against TARGET with COST "
         "('mse, the default, TARGET a tensor; or 'ce, TARGET a class), in "
         "NET's mode with random draws frozen. Returns (param-error "
         "input-error), each the largest difference between analytic and "
         "numeric derivative over the largest derivative. Leaves the "
         "analytic gradients in nn-grads (cleared first).") {
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

static LuBuiltin *const train_builtins[] = {
    &nn_mse_builtin,        &nn_cross_entropy_builtin,
    &nn_sgd_builtin,        &nn_sdlm_builtin,
    &nn_adamw_builtin,      &nn_rate_builtin,
    &nn_set_rate_builtin,   &nn_update_builtin,
    &nn_train_pass_builtin, &nn_sdlm_estimate_builtin,
    &nn_threads_fn_builtin, &nn_evaluate_builtin,
    &nn_predict_builtin,    &nn_gradcheck_builtin,
    &nn_bbcheck_builtin,    NULL};

void lu_nn_train_open(void) {
  lu_register(train_builtins);
}
