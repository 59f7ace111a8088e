/* nn_optim.c: the optimizers, as one table. Each row names an optimizer,
   lists the state buffers it keeps per parameter (so that checkpoints can
   save and restore them, see nn-optimizer-state) and gives its update
   step over a net's flat vectors. Adding an optimizer is one row, its step
   function and its constructor builtin. An optimizer written in Lisp is
   the row "lisp": its step calls the object's step method. */
#include "nn_impl.h"

#include <stddef.h>
#include <string.h>

/* ---- The update steps ---------------------------------------------------- */

/* A step over parameters [beg, end) of n: each gradient divided by div
   (the batch's size, for its mean; 1 leaves it as it is), then the
   update; the gradients are cleared when clear. */
struct NnRange {
  NnOpt *o;
  LuNet *n;
  long beg, end;
  float div;
  bool clear;
};

/* g = grad + decay w; v = momentum v + g (state 0, when momentum != 0);
   w -= lr factor v. */
static void sgd_step(const NnRange *s) {
  NnOpt *o = s->o;
  float *restrict w = s->n->pw, *restrict dw = s->n->pdw;
  const float *restrict r = s->n->rates_set ? s->n->prate : NULL; /* NULL: 1 */
  float *restrict m = o->state[0];
  float lr = (float)o->lr, decay = (float)o->decay, mom = (float)o->momentum;
  bool mean = s->div != 1;
  if (mom != 0) {
    for (long i = s->beg; i < s->end; i++) {
      m[i] = mom * m[i] + (mean ? dw[i] / s->div : dw[i]) + decay * w[i];
      w[i] -= lr * (r ? r[i] : 1.0f) * m[i];
      if (s->clear)
        dw[i] = 0;
    }
    return;
  }
  for (long i = s->beg; i < s->end; i++) {
    w[i] -= lr * (r ? r[i] : 1.0f) *
            ((mean ? dw[i] / s->div : dw[i]) + decay * w[i]);
    if (s->clear)
      dw[i] = 0;
  }
}

/* The step count lives in a float (state 2) so that the whole state is
   float tensors. It stops at 2^24, where floats still count exactly; by
   then beta^t has long rounded to 0 and the corrections are exactly 1.
   begin sets the corrections of the coming step; end counts it, once
   it is done. */
static float adamw_count(const NnOpt *o) {
  float t = o->state[2][0];
  return t < 16777216.0f ? t + 1 : t;
}

static void adamw_begin(NnOpt *o) {
  double t = adamw_count(o);
  o->c1 = (float)(1 / (1 - pow(o->beta1, t)));
  o->c2 = (float)(1 / (1 - pow(o->beta2, t)));
}

static void adamw_end(NnOpt *o) {
  o->state[2][0] = adamw_count(o);
}

static void adamw_step(const NnRange *s) {
  NnOpt *o = s->o;
  float *restrict w = s->n->pw, *restrict dw = s->n->pdw;
  const float *restrict r = s->n->rates_set ? s->n->prate : NULL; /* NULL: 1 */
  float *restrict m = o->state[0], *restrict v = o->state[1];
  float lr = (float)o->lr, decay = (float)o->decay;
  float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
  float c1 = o->c1, c2 = o->c2;
  bool mean = s->div != 1;
  for (long i = s->beg; i < s->end; i++) {
    float g = mean ? dw[i] / s->div : dw[i];
    m[i] = b1 * m[i] + (1 - b1) * g;
    v[i] = b2 * v[i] + (1 - b2) * g * g;
    w[i] -= lr * (r ? r[i] : 1.0f) *
            (decay * w[i] + m[i] * c1 / (sqrtf(v[i] * c2) + eps));
    if (s->clear)
      dw[i] = 0;
  }
}

/* Calls (==> obj step params grads rates rate) with views of the flat
   vectors, always over all of them (the table marks it whole); the
   gradients are cleared afterwards when asked. */
static void lisp_step(const NnRange *r) {
  NnOpt *o = r->o;
  LuNet *n = r->n;
  if (r->div != 1)
    for (long i = 0; i < n->nparams; i++)
      n->pdw[i] /= r->div;
  NnShape s = lu_nn_shape_make(1, &n->nparams);
  lu_nn_rates_set(n); /* the step may write into the rates */
  LuValue *a[4] = {lu_tensor_value(lu_nn_view(n->pvec[0], 0, &s)),
                   lu_tensor_value(lu_nn_view(n->pvec[1], 0, &s)),
                   lu_tensor_value(lu_nn_view(n->pvec[3], 0, &s)),
                   lu_number(o->lr)};
  LuValue *step = lu_intern("step");
  if (!lu_responds(o->obj, step))
    lu_error("nn: the Lisp optimizer %s has no step method",
             lu_repr_limit(o->obj, 60));
  lu_send(o->obj, step, 4, a);
  if (r->clear)
    memset(n->pdw, 0, sizeof(float) * (size_t)n->nparams);
}

/* SGD's velocity is in use only with momentum: without, one optimizer may
   serve several nets. */
static bool sgd_keeps(const NnOpt *o) {
  return o->momentum != 0;
}

/* Sizes: 0 for one float per parameter. */
static const NnOptKind opt_kinds[] = {
    {.name = "sgd",
     .nstate = 1,
     .state_names = {"velocity"},
     .step = sgd_step,
     .keeps = sgd_keeps},
    {.name = "sdlm", .step = sgd_step},
    {.name = "adamw",
     .nstate = 3,
     .state_names = {"m", "v", "step"},
     .size = {0, 0, 1},
     .begin = adamw_begin,
     .step = adamw_step,
     .end = adamw_end},
    {.name = "lisp", .step = lisp_step, .whole = true},
};

enum { OPT_SGD, OPT_SDLM, OPT_ADAMW, OPT_LISP };

/* ---- The optimizer value ------------------------------------------------- */

static void opt_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  NnOpt *o = v->cdata.ptr;
  lu_buf_printf(b, "#<nn-optimizer %s rate %g>", o->kind->name, o->lr);
}

static const LuCType opt_ctype = {"nn-optimizer", opt_print, NULL, NULL};

NnOpt *lu_nn_arg_opt(LuValue **argv, int i) {
  return lu_arg_cdata(argv, i, &opt_ctype);
}

bool lu_nn_opt_is(const NnOpt *o, const char *name) {
  return !strcmp(o->kind->name, name);
}

static LuValue *opt_new(int kind, double lr) {
  NnOpt *o = lu_alloc(sizeof *o);
  o->kind = &opt_kinds[kind];
  o->lr = lr;
  return lu_cdata(&opt_ctype, o);
}

/* Argument i as a finite number (a NaN or infinite rate would silently
   ruin every parameter), def when not given. */
static double finite_arg(LuValue **argv, int argc, int i, double def) {
  if (!lu_arg_given(argv, argc, i))
    return def;
  double x = lu_arg_num(argv, i);
  if (!isfinite(x))
    lu_arg_error(i, "a finite number", argv[i]);
  return x;
}

/* An optimizer's field read from an argument: its offset in NnOpt and its
   default. */
typedef struct {
  size_t off;
  double def;
} OptArg;

/* A new optimizer of the given kind: the rate from argument 0 (default 0),
   then the n fields of args from arguments 1 to n. */
static LuValue *opt_make(int kind, LuValue **argv, int argc, const OptArg *args,
                         int n) {
  LuValue *v = opt_new(kind, finite_arg(argv, argc, 0, 0));
  char *o = v->cdata.ptr;
  for (int i = 0; i < n; i++)
    *(double *)(o + args[i].off) = finite_arg(argv, argc, i + 1, args[i].def);
  return v;
}

LU_DEFUN(nn_sgd, "(nn-sgd RATE [MOMENTUM] [DECAY])",
         "A stochastic gradient descent optimizer: each update does g = grad "
         "+ DECAY w; v = MOMENTUM v + g (when MOMENTUM, default 0, is not 0); "
         "w -= RATE * factor * v, factor being the parameter's rate factor "
         "(see nn-rates).") {
  return opt_make(
      OPT_SGD, argv, argc,
      (OptArg[]){{offsetof(NnOpt, momentum), 0}, {offsetof(NnOpt, decay), 0}},
      2);
}

LU_DEFUN(nn_sdlm, "(nn-sdlm ETA MU)",
         "The stochastic diagonal Levenberg-Marquardt optimizer of the 1989 "
         "paper: nn-sdlm-estimate sets each parameter's rate factor to 1/(MU "
         "+ h) from the averaged second derivative h; each update does w -= "
         "ETA * factor * grad. ETA is the optimizer's rate (nn-set-rate).") {
  return opt_make(OPT_SDLM, argv, argc, (OptArg[]){{offsetof(NnOpt, mu), 0}},
                  1);
}

LU_DEFUN(nn_adamw, "(nn-adamw RATE [BETA1] [BETA2] [EPS] [DECAY])",
         "The AdamW optimizer (defaults 0.9, 0.999, 1e-8, 0.01), with "
         "decoupled weight decay: w -= RATE * factor * (DECAY w + mhat / "
         "(sqrt(vhat) + EPS)). Change RATE between steps with nn-set-rate "
         "for a schedule.") {
  return opt_make(OPT_ADAMW, argv, argc,
                  (OptArg[]){{offsetof(NnOpt, beta1), 0.9},
                             {offsetof(NnOpt, beta2), 0.999},
                             {offsetof(NnOpt, eps), 1e-8},
                             {offsetof(NnOpt, decay), 0.01}},
                  4);
}

LU_DEFUN(nn_lisp_optimizer, "(nn-lisp-optimizer OBJ RATE)",
         "An optimizer written in Lisp: each update calls (==> OBJ step "
         "PARAMS GRADS RATES RATE) with views of the net's flat vectors "
         "(values, gradients, per-parameter rate factors) and the current "
         "rate; the method changes PARAMS in place. nn-update, "
         "nn-train-pass and nn-set-rate use it as any other optimizer (one "
         "Lisp call per step: slower than the built-in ones). OBJ keeps "
         "its own state.") {
  if (!LU_IS(argv[0], LU_OBJECT))
    lu_arg_error(0, "an object with a step method", argv[0]);
  LuValue *v = opt_new(OPT_LISP, finite_arg(argv, argc, 1, 0));
  ((NnOpt *)v->cdata.ptr)->obj = argv[0];
  return v;
}

LU_DEFUN(nn_rate, "(nn-rate OPT)", "The learning rate of optimizer OPT.") {
  (void)argc;
  return lu_number(lu_nn_arg_opt(argv, 0)->lr);
}

LU_DEFUN(nn_set_rate, "(nn-set-rate OPT RATE)",
         "Sets the learning rate of optimizer OPT (for schedules). Returns "
         "RATE.") {
  (void)argc;
  lu_nn_arg_opt(argv, 0)->lr = finite_arg(argv, 2, 1, 0);
  return argv[1];
}

/* ---- State and steps ----------------------------------------------------- */

/* Ties o's state to net n, making it (zero-filled) on first use. Raises
   when o already follows another net. */
void lu_nn_opt_bind(NnOpt *o, LuNet *n) {
  if (o->kind->nstate == 0 || o->net == n)
    return;
  if (o->net && (!o->kind->keeps || o->kind->keeps(o)))
    lu_error("%s: this optimizer holds the state of another net", lu_caller());
  for (int i = 0; i < o->kind->nstate; i++) {
    long sz = o->kind->size[i] ? o->kind->size[i] : n->nparams;
    o->tstate[i] = lu_tensor_make(LU_FLOAT, 1, &sz, NULL, NULL, 0);
    o->state[i] = lu_tensor_data(o->tstate[i]);
    memset(o->state[i], 0, sizeof(float) * (size_t)sz);
  }
  o->net = n;
}

/* The step of arg (an NnRange) on parameters [beg, end). */
static void step_range(void *arg, long beg, long end) {
  NnRange r = *(const NnRange *)arg;
  r.beg = beg, r.end = end;
  r.o->kind->step(&r);
}

void lu_nn_opt_step(NnOpt *o, LuNet *n, const NnPass *p, bool clear, long div) {
  NnRange r = {
      .o = o, .n = n, .end = n->nparams, .div = (float)div, .clear = clear};
  lu_nn_opt_begin(o, n, NULL);
  if (p && !o->kind->whole) {
    lu_nn_reduce(n, p, step_range, &r);
  } else {
    if (p)
      lu_nn_reduce(n, p, NULL, NULL);
    o->kind->step(&r);
  }
  lu_nn_opt_end(o, n);
}

/* Whether some parameter of n, or of the nets inside it, is used by two
   modules (a module given twice, or parameters made by nn-parameter). */
static bool shares_params(LuNet *n) {
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    LuNet **inner;
    int k = lu_nn_inner(m, &inner);
    if (m->tie || m->nlparam)
      return true;
    for (int b = 0; b < k; b++)
      if (shares_params(inner[b]))
        return true;
  }
  return false;
}

bool lu_nn_opt_eager(const NnOpt *o, LuNet *n) {
  return !o->kind->whole && !shares_params(n);
}

void lu_nn_opt_begin(NnOpt *o, LuNet *n, NnEager *e) {
  if (o->kind->begin)
    o->kind->begin(o);
  if (e)
    *e = (NnEager){.opt = o,
                   .fuse = o->kind->step == sgd_step && o->momentum == 0,
                   .sgd = {.lr = (float)o->lr,
                           .decay = (float)o->decay,
                           .rate = n->rates_set ? n->prate : NULL}};
}

void lu_nn_opt_end(NnOpt *o, LuNet *n) {
  if (o->kind->end)
    o->kind->end(o);
  lu_nn_mask_apply(n);
}

void lu_nn_opt_range(NnOpt *o, LuNet *n, long beg, long end) {
  NnRange r = {.o = o, .n = n, .beg = beg, .end = end, .div = 1, .clear = true};
  o->kind->step(&r);
}

LU_DEFUN(nn_optimizer_state, "(nn-optimizer-state OPT [NET])",
         "The state buffers OPT keeps besides the parameters, as a list of "
         "float tensors viewing them (writable: a checkpoint saves them and "
         "copies them back for a bit-exact resumption): (velocity) for "
         "nn-sgd, (m v step) for nn-adamw, () for nn-sdlm and Lisp "
         "optimizers. With NET, ties OPT to NET first (the state starts at "
         "zero); without, the state of the net OPT follows, or () before "
         "its first update.") {
  NnOpt *o = lu_nn_arg_opt(argv, 0);
  if (lu_arg_given(argv, argc, 1))
    lu_nn_opt_bind(o, lu_nn_arg_net(argv, 1));
  LuValue *l = lu_nil;
  for (int i = o->net ? o->kind->nstate - 1 : -1; i >= 0; i--) {
    LuTensor *t = o->tstate[i];
    NnShape s = lu_nn_shape_make(1, t->dim);
    l = lu_cons(lu_tensor_value(lu_nn_view(t, 0, &s)), l);
  }
  return l;
}

LU_DEFUN(nn_update, "(nn-update NET OPT)",
         "Updates NET's parameters from its accumulated gradients with "
         "optimizer OPT (one step). The gradients are kept: clear them with "
         "nn-clear-grads. Returns NET.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  NnOpt *o = lu_nn_arg_opt(argv, 1);
  lu_nn_opt_bind(o, n);
  lu_nn_opt_step(o, n, NULL, false, 1);
  return argv[0];
}

static LuBuiltin *const optim_builtins[] = {&nn_sgd_builtin,
                                            &nn_sdlm_builtin,
                                            &nn_adamw_builtin,
                                            &nn_lisp_optimizer_builtin,
                                            &nn_rate_builtin,
                                            &nn_set_rate_builtin,
                                            &nn_optimizer_state_builtin,
                                            &nn_update_builtin,
                                            NULL};

void lu_nn_optim_open(void) {
  lu_register(optim_builtins);
}
