/* nn_impl.h: what the files of the backprop simulator share: shapes, the
   module interface (NnOps), nets, costs and optimizers. Not part of the
   public API (see net.h).

   The files: net.c (nets: building, the flat vectors, states),
   nn_module.c (the module value, shapes, reading tensors), one file per
   module family (nn_squash.c, nn_conv.c with nn_conv_kernels.c and
   nn_conv_direct.c, nn_linear.c, nn_dropout.c, nn_shift.c, nn_softmax.c,
   nn_pool.c, nn_batchnorm.c, nn_activation.c, nn_rbf.c; nn_lisp.c for
   Lisp objects, nn_container.c for nets inside nets, residuals and
   concatenations), nn_param.c (parameters of Lisp modules), nn_pass.c
   (passes over batches, nn-fprop, nn-bprop), nn_parallel.c (the threads),
   nn_cost.c and nn_optim.c (the cost and optimizer tables), nn_mask.c
   (parameter masks), nn_train.c (training and evaluation passes over data
   sets), nn_check.c (derivative checks), nn_export.c (parameters as named
   tensors: nn-export, nn-import).

   How to write a module family (one new file, e.g. nn_pool.c):
   - Its private fields live in a struct of its own at m->data: its
     constructor builtin makes the module with lu_nn_module_new(&ops,
     sizeof(struct)) and checks its arguments.
   - Its NnOps row: kind (a short name), flags (NN_SQUASHING for an
     element-wise function that a conv or linear module before it may apply
     in its own kernel, m->squash saying which, and whose backward passes
     read y, not x; NN_FUSES_SQUASH for a module that can, whose backward
     passes read x, not y (so the sum between the two is read by neither);
     NN_BACK_ALWAYS for a module whose bprop must run even
     when nothing before it needs a gradient; NN_WHOLE_BATCH for one whose
     training passes need every example of a batch at once, c->nb of them,
     as batch norm's statistics do), and the functions below. Random draws come
     from lu_nn_rand(c).
   - setup(m, in, out): checks the input shape in (raising "nn-seq: KIND
     ..." naming it) and sets out and the sizes: np parameters (the first nw
     of them weights), ns floats of per-thread scratch, macs and conns.
   - fprop(c, x, y), bprop(c, x, y, dy, dx), bbprop(c, x, y, ddy, ddx) on
     the module's states (several examples at once when setup sets
     m->batch, see NnCtx); c->w, c->dw, c->ddw are its parameters in the
     flat vectors, c->scratch its scratch, c->train the mode, c->replay
     whether to reuse the last random draw, c->ref whether to call the
     reference kernels. bprop and bbprop add into dw and ddw and overwrite
     dx (NULL when not wanted).
   - init(m, w, a, bias) fills the parameters (NULL: none); params(m,
     shapes) gives their shapes (weights, then biases) for nn-weights and
     nn-biases and nn-export (exchange(m, k, shape), when PyTorch lays
     one out otherwise); buffers(m, t, names) the state saved with them
     that is not trained (NULL: none); describe(m, buf) the line of nn-summary
   (NULL: the kind); nets(m, &nets), for a container, the nets it runs: the
   outer net lays their parameters and work buffers out inside the module's.
   - A module given twice to one net is run twice with one set of weights
     (m->tie), so fprop, bprop and bbprop keep no state outside c->scratch
     and the states; bprop and bbprop add, never overwrite, dw and ddw.
   - Its builtins in one table, registered by lu_nn_FAMILY_open, which is
     added to the list of families in net.c. Tests: a check of bprop and
     bbprop against finite differences (nn-check-module, nn-bbcheck) in
     tests/lisp/net.lsp, and of any optimised kernel against its reference
     twin in tests/c/test_net.c. */
#ifndef LU_NN_IMPL_H
#define LU_NN_IMPL_H

#include "net.h"

#include <math.h>

#define NN_MAXTHREADS 16
/* A batch's examples are cut into at most this many slices (see NnPass). */
#define NN_SLICES 8
/* A slice runs at most this many examples at once through the modules
   that batch (see NnPass). */
#define NN_GROUP 8

typedef struct {
  int ndim;
  long dim[LU_MAXDIM];
  long n; /* elements */
} NnShape;

typedef struct LuNet LuNet;
typedef struct NnModule NnModule;
typedef struct NnPass NnPass;
typedef struct NnOpt NnOpt;

/* How a pass runs (see lu_nn_fprop): on nb examples, example b's work
   area (its states and the modules' scratch) ws floats after example 0's
   in the work buffer buf of the net top the pass was started on. bprop
   and bbprop add into vectors laid out as top's flat vectors: grad[s]
   for the examples of slice s, [s nb / nslice, (s + 1) nb / nslice).
   Slices depend on nb only, never on the threads, so sums are the same
   for any number of threads. rng: a generator state per example of the
   top batch (ex0 is the first of these examples), or NULL for the
   global one. serial: run on the calling thread only (Lisp code).
   shared: the examples of the slices a thread runs share its work area,
   for passes (one lu_nn_run each) whose states nobody reads afterwards,
   unless whole-batch modules train: example after example, the area
   stays in the cache. group: when above 1, a slice runs its examples
   group examples at a time, each in its own area (the group's areas
   follow each other; in shared passes a thread's set of group areas):
   the steps of modules that batch (m->batch) once for the group, the
   others example after example; then in shared passes the examples of
   a group take turns with one copy (the first example's) of what they
   do not keep from step to step: the gradients passed between steps
   that go example after example, the sums of fused squashes, the
   scratch of modules with m->redo_scratch. */
struct NnPass {
  LuNet *top;
  LuTensor *buf;
  long ws, nb, ex0;
  bool train, replay, serial, shared;
  float *grad[NN_SLICES];
  int nslice, group;
  uint64_t *rng;
  const struct NnEager *eager;
};

/* A training pass on one example that updates the parameters as it goes
   (NnPass.eager, see lu_nn_opt_eager): each module's are stepped by opt
   as soon as its bprop is done, while they are in the cache; a module
   that can (m->steps) applies sgd in its own kernel when fuse, and never
   writes its gradients. */
typedef struct NnEager {
  NnOpt *opt;
  LuSgdStep sgd;
  bool fuse;
} NnEager;

/* What a module's pass sees: its parameters (values, and gradients or
   second derivatives in the pass's vector for its example), its scratch
   in the example's work area, and the mode. */
typedef struct {
  LuNet *net;
  NnModule *m;
  float *w, *dw, *ddw;
  float *scratch;
  bool train;
  bool replay; /* dropout and shifts reuse the last draw (gradient checks) */
  bool ref;    /* use the reference kernels */
  float *y2;   /* the state after the next module, for a fused squash */
  bool shared_scratch; /* other examples used the scratch since fprop */
  /* NN_WHOLE_BATCH modules in training: the nb examples of the batch,
     example b's states and scratch ws floats after example 0's; the same
     for the examples of a group (fprop and bprop of modules that batch).
     Else nb = 1. */
  long nb, ws;
  const NnPass *pass;
  long ex;      /* the example (in the top batch), when nb = 1 */
  float *gbase; /* the vector dw and ddw are in (grad[slice]) */
  /* Set for a module with m->steps in an eager pass: bprop applies this
     step to its parameters instead of adding into dw. */
  const LuSgdStep *sgd;
} NnCtx;

enum {
  NN_SQUASHING = 1,    /* element-wise m->squash, fusable into the previous */
  NN_FUSES_SQUASH = 2, /* applies a following squashing module itself */
  NN_BACK_ALWAYS = 4,  /* bprop runs even without parameters or dx wanted */
  NN_WHOLE_BATCH = 8,  /* training sees the whole batch at once (batch norm) */
};

enum { NN_MAXPARAMS = 2 };

/* A module kind: see the guide above. */
typedef struct {
  const char *kind;
  unsigned flags;
  void (*setup)(NnModule *m, const NnShape *in, NnShape *out);
  void (*fprop)(NnCtx *c, const float *x, float *y);
  void (*bprop)(NnCtx *c, const float *x, const float *y, const float *dy,
                float *dx);
  void (*bbprop)(NnCtx *c, const float *x, const float *y, const float *ddy,
                 float *ddx);
  void (*init)(NnModule *m, float *w, double a, double bias);
  void (*describe)(NnModule *m, LuBuf *b);
  int (*params)(const NnModule *m, NnShape shape[NN_MAXPARAMS]);
  /* Containers: the nets inside (their parameters and work buffers are
     ranges of the module's, in this order). */
  int (*nets)(const NnModule *m, LuNet ***nets);
  /* nn-export, where parameter k has another usual layout (PyTorch's)
     than params': sets shape to it and returns, for each of its elements
     in row-major order, the element of parameter k it is, or -1 for one
     that is always 0. NULL, or a NULL result: params' shape as it is. */
  long *(*exchange)(const NnModule *m, int k, NnShape *shape);
  /* State saved with the parameters that no optimizer trains (batch
     norm's running averages): sets t[k] and names[k] ("running_mean"),
     returns how many. */
  int (*buffers)(const NnModule *m, LuTensor *t[NN_MAXPARAMS],
                 const char *names[NN_MAXPARAMS]);
} NnOps;

struct NnModule {
  const NnOps *ops;
  LuValue *self; /* the nn-module value */
  LuNet *net;    /* the owning net, once placed */
  int index;     /* in the net */
  NnShape in, out;
  long np, nw;   /* parameters, of which the first nw are weights */
  long poff;     /* in the flat vectors */
  long ns, soff; /* scratch floats, offset in a work buffer */
  long macs, conns;
  LuSquash squash; /* NN_SQUASHING modules: the function */
  LuSquash fuse;   /* NN_FUSES_SQUASH modules: the next module's, fused */
  bool fused;      /* NN_SQUASHING modules: done by the previous module */
  void *data;      /* the family's own fields */
  LuValue *obj;    /* a Lisp module's object */
  /* Parameters made by nn-parameter that the module uses (set by setup);
     those it is the first in its net to use are in its range of the flat
     vectors, at offsets lpoff from it (-1: owned by an earlier module). */
  struct NnParam **lparam;
  long *lpoff;
  int nlparam;
  bool lisp;         /* runs Lisp code: the net's passes stay on one thread */
  bool steps;        /* its bprop can apply an SGD step itself (NnCtx.sgd) */
  bool whole;        /* NN_WHOLE_BATCH, or a container of such modules */
  bool batch;        /* set by setup: fprop and bprop take c->nb >= 1 examples
                        at once */
  bool redo_scratch; /* set by setup: bprop and bbprop redo what they need
                        of fprop's scratch when c->shared_scratch */
  NnModule *tie;     /* a module used again: the first use, whose weights */
};

/* A parameter made by nn-parameter: the storages of its values, gradient
   and second derivatives (n floats each), pointed into a net's flat
   vectors once its module joins one. */
typedef struct NnParam {
  LuStorage *st[3];
  long n, dim0;
  int ndim;
  LuValue *value; /* the tensor nn-parameter returned */
  LuNet *net;     /* whose flat vectors hold it, once placed */
} NnParam;

NnParam *lu_nn_param_of(LuValue *v);
void lu_nn_param_move(NnParam *p, float *w, float *dw, float *ddw);
void lu_nn_param_init(NnParam *p, double a, double bias);
void lu_nn_param_open(void);

struct LuNet {
  int nmod;
  NnModule **mod;
  NnShape *shape; /* nmod + 1 states: the input, each module's output */
  long *xoff;     /* state i's x in a work buffer; dx, ddx follow ... */
  long *stride;   /* ... at xoff + stride, xoff + 2 stride */
  long worksize;
  long nparams;
  LuTensor *pvec[4]; /* values, gradients, second derivatives, rates */
  float *pw, *pdw, *pddw, *prate;
  /* The work buffer: cap example areas of worksize floats (see
     lu_nn_slots); a net inside a container has one, in its scratch. */
  LuTensor *work;
  long cap;
  LuTensor *sgrad;  /* the gradients of slices 1.. of a batch, zero ... */
  bool sgrad_dirty; /* ... unless a pass stopped before lu_nn_reduce */
  uint64_t *rng;    /* the generators of a batch's examples */
  long nrng;
  bool train;
  bool rates_set; /* a rate factor may not be 1 (SDLM set them, or Lisp
                     got a view of them): else the optimizers skip them */
  bool has_lisp;  /* Lisp modules: single-threaded passes only */
  bool whole;     /* some module needs whole batches */
  bool batch;     /* some module batches, and none shares its parameters
                     with another (a tie, Lisp): so the order of the
                     examples' steps changes no sum (see NnPass) */
  long fresh;     /* the last nn-fprop: -1 one example, B a batch, 0 none */
  LuValue *self;
  NnModule *outer; /* the container running it inside another net */
  float *mask;     /* 0/1 per parameter, or NULL (nn_mask.c) */
};

extern const LuCType lu_nn_net_ctype, lu_nn_module_ctype;
/* A new module of kind ops, with data zero-filled bytes of the family's
   own fields at m->data (none when 0). */
NnModule *lu_nn_module_new(const NnOps *ops, size_t data);
/* The nets inside m (a container's branches) into *nets; returns how many
   (0 for any other module). */
int lu_nn_inner(const NnModule *m, LuNet ***nets);
/* The module that runs the Lisp object obj (nn_lisp.c). */
NnModule *lu_nn_lisp_module(LuValue *obj);
NnShape lu_nn_shape_arg(LuValue **argv, int i);
/* Builds a net of the nmod module values mods (nn-modules, nets, Lisp
   objects) for inputs of shape in; raises "nn-seq: ..." naming a module
   and the shapes that do not fit. branch: a container's branch, which may
   share parameters with the nets around it. */
LuNet *lu_nn_build(const NnShape *in, int nmod, LuValue **mods, bool branch);
/* The container module that runs net n inside another (nn_container.c). */
NnModule *lu_nn_net_module(LuNet *n);

const char *lu_nn_shape_cstr(const NnShape *s);
NnShape lu_nn_shape_make(int ndim, const long *dim);
/* Argument i as an integer in [lo, hi], or an argument error. */
int lu_nn_arg_range(LuValue **argv, int i, long lo, long hi);
bool lu_nn_shape_fits(const NnShape *a, const long *dim, int ndim);
LuTensor *lu_nn_view(LuTensor *base, long off, const NnShape *s);
/* The same, of nb examples ws floats apart: [nb s...] (nb 0: s). */
LuTensor *lu_nn_view_batch(LuTensor *base, long off, long nb, long ws,
                           const NnShape *s);
void lu_nn_read(const LuTensor *t, int from, long base, float *dst);
void lu_nn_read_example(const LuTensor *t, long e, float *dst);
/* Reads t into dst after checking its shape against s; raises naming who
   and both shapes. */
void lu_nn_read_checked(const char *who, LuTensor *t, const NnShape *s,
                        float *dst);
LuNet *lu_nn_arg_net(LuValue **argv, int i);
void lu_nn_init_params(LuNet *n, double a, double bias, bool lisp);
/* Marks the rate factors of n as possibly not all 1, and those of the nets
   around and inside it, which share them. */
void lu_nn_rates_set(LuNet *n);

/* A draw from the generator of the example being run (dropout, random
   shifts): the global one (see seed) when examples run one at a time;
   in batches each example has its own, seeded from the global one, so
   that draws do not depend on the number of threads. */
uint32_t lu_nn_rand(NnCtx *c);

/* The work buffer of n with room for nb examples, made or grown as
   needed (a grown buffer is a new tensor: earlier views keep the old). */
float *lu_nn_slots(LuNet *n, long nb);
/* A pass of n over nb examples in training mode or not, adding into the
   gradient vector grad (NULL: no backward pass); keep: each example's
   states stay in its own work area (else see shared). A simple one (one
   thread, one slice, the global generator) when nb is 1. */
NnPass lu_nn_pass(LuNet *n, long nb, bool train, float *grad, bool keep);
/* Per-example work of a pass, beside the modules: load fills example b's
   input state (before the forward steps), cost its output gradient
   (between forward and backward). Called on any thread. */
typedef struct {
  void (*load)(void *arg, float *work, long b);
  void (*cost)(void *arg, float *work, long b);
  void *arg;
} NnHooks;
/* Runs p over n from work: forward when fwd, then the cost hook, then
   backward when back (second derivatives when second; the input's
   gradient only when input). Examples are spread over the threads slice
   by slice; modules needing whole batches run on the calling thread. On
   Ctrl-C stops early: the caller polls. */
void lu_nn_run(LuNet *n, float *work, const NnPass *p, const NnHooks *h,
               bool fwd, bool back, bool second, bool input);
void lu_nn_fprop(LuNet *n, float *work, const NnPass *p);
void lu_nn_back(LuNet *n, float *work, const NnPass *p, bool second,
                bool input);
/* Adds the gradients of slices 1.. of p into grad[0], in slice order for
   every parameter, then calls then(arg, beg, end) (unless NULL) on each
   range [beg, end) of parameters once it is summed: on the threads by 16
   ranges when p has several slices, else at once on all of them. */
void lu_nn_reduce(LuNet *n, const NnPass *p,
                  void (*then)(void *arg, long beg, long end), void *arg);

/* The threads (nn_parallel.c): how many passes use (nn-threads), and a
   run of fn(arg, item) for item in [0, nitems) spread over them, each
   taking the next item; the caller takes part, and waits. Idle threads
   sleep. Nested calls, and serial ones, run on the calling thread. */
int lu_nn_threads(void);
void lu_nn_parallel(long nitems, bool serial, void (*fn)(void *arg, long item),
                    void *arg);
void lu_nn_parallel_open(void);
void lu_nn_pass_open(void);

static inline float *lu_nn_x(LuNet *n, float *work, int i) {
  return work + n->xoff[i];
}
static inline float *lu_nn_dx(LuNet *n, float *work, int i) {
  return work + n->xoff[i] + n->stride[i];
}
static inline float *lu_nn_ddx(LuNet *n, float *work, int i) {
  return work + n->xoff[i] + 2 * n->stride[i];
}

/* ---- Costs (nn_cost.c) ----------------------------------------------------
 */

typedef struct NnCost NnCost;

/* A row of the cost table. eval returns the loss of output y (n floats)
   against target t and fills dy and ddy (the Gauss-Newton diagonal) when
   they are not NULL. */
typedef struct {
  const char *name, *alias;
  bool classes; /* targets are class numbers, one per example */
  double (*eval)(const NnCost *c, const float *y, long n, const float *t,
                 float *dy, float *ddy);
  bool lowest; /* outputs are penalties: the smallest is the prediction */
} NnCostKind;

/* A cost as used by a pass: its row, the Lisp function of a Lisp cost, and
   the shape of one example's target (set by the pass from its data). */
struct NnCost {
  const NnCostKind *kind;
  LuValue *fn;
  NnShape tshape;
};

extern const NnCostKind *lu_nn_mse_cost;
NnCost lu_nn_cost_arg(LuValue **argv, int argc, int i);
double lu_nn_cost_eval(const NnCost *c, const float *y, long n, const float *t,
                       float *dy, float *ddy, bool *wrong);
/* A copy of t's elements as floats, row-major. */
float *lu_nn_read_all(LuTensor *t);

/* ---- Optimizers (nn_optim.c) ----------------------------------------------
 */

enum { NN_OPT_MAXSTATE = 3 };

/* A row of the optimizer table: its state buffers (names, and sizes in
   floats, 0 meaning one per parameter); begin and end (NULL: none), run
   once before and once after each step; and its step, which updates a
   range of the net's parameters from their gradients (see NnRange in
   nn_optim.c). keeps
   (NULL: always) says whether this optimizer's state is in use, so that
   it is tied to one net; whole, that its step takes all the parameters
   at once on the calling thread (Lisp). */
typedef struct NnRange NnRange;
typedef struct {
  const char *name;
  int nstate;
  const char *state_names[NN_OPT_MAXSTATE];
  long size[NN_OPT_MAXSTATE];
  void (*begin)(NnOpt *o);
  void (*step)(const NnRange *r);
  void (*end)(NnOpt *o);
  bool (*keeps)(const NnOpt *o);
  bool whole;
} NnOptKind;

struct NnOpt {
  const NnOptKind *kind;
  double lr, momentum, decay, beta1, beta2, eps, mu;
  LuValue *obj; /* a Lisp optimizer's object */
  LuNet *net;   /* whose parameters the state follows */
  LuTensor *tstate[NN_OPT_MAXSTATE];
  float *state[NN_OPT_MAXSTATE];
  float c1, c2; /* AdamW: this step's bias corrections */
};

NnOpt *lu_nn_arg_opt(LuValue **argv, int i);
bool lu_nn_opt_is(const NnOpt *o, const char *name);
void lu_nn_opt_bind(NnOpt *o, LuNet *n);
/* One update of n's parameters by o from their gradients divided by div
   (a batch's size, for their mean; 1 leaves them), cleared when clear;
   then n's masks. After pass p (unless NULL) its slices' gradients are
   summed first, range by range, each range stepped as soon as it is
   summed, on the threads (see lu_nn_reduce). */
void lu_nn_opt_step(NnOpt *o, LuNet *n, const NnPass *p, bool clear, long div);
/* Whether o can update n module by module during the backward pass of
   one example (see NnEager): o steps by ranges and no parameter is used
   by two modules. Asked once per pass over the data. */
bool lu_nn_opt_eager(const NnOpt *o, LuNet *n);
/* Begins a step of o on n (AdamW's corrections); with e, one of an eager
   pass, whose module steps *e then describes. */
void lu_nn_opt_begin(NnOpt *o, LuNet *n, NnEager *e);
/* o's step, begun, on parameters [beg, end) of n, their gradients
   cleared. */
void lu_nn_opt_range(NnOpt *o, LuNet *n, long beg, long end);
/* Ends a step of o on n: o's count of steps, then n's masks. */
void lu_nn_opt_end(NnOpt *o, LuNet *n);

/* ---- Masks (nn_mask.c) ----------------------------------------------------
 */

/* Zeroes the parameters masked in n and in the nets inside it. */
void lu_nn_mask_apply(LuNet *n);
/* Prints nn-summary's line of live parameters when n has a mask. */
void lu_nn_mask_summary(const LuNet *n);

void lu_nn_squash_open(void);
void lu_nn_conv_open(void);
void lu_nn_linear_open(void);
void lu_nn_dropout_open(void);
void lu_nn_shift_open(void);
void lu_nn_softmax_open(void);
void lu_nn_container_open(void);
void lu_nn_pool_open(void);
void lu_nn_batchnorm_open(void);
void lu_nn_activation_open(void);
void lu_nn_rbf_open(void);
void lu_nn_export_open(void);
void lu_nn_cost_open(void);
void lu_nn_optim_open(void);
void lu_nn_mask_open(void);
void lu_nn_train_open(void);
void lu_nn_check_open(void);

#endif
