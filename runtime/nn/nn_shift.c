/* nn_shift.c: random shifts and flips, augmentation as layers: the
   random-shift module (nn-random-shift) shifts the last two dimensions by
   a random number of pixels in training, the random-flip module
   (nn-random-flip) mirrors the last dimension with probability 1/2. */
#include "nn_impl.h"

#include <string.h>

typedef struct {
  int shift;  /* at most this many pixels along each axis */
  float fill; /* the value of the pixels shifted in ... */
  bool wrap;  /* ... unless they wrap around */
} Shift;

static Shift *shift_of(const NnModule *m) {
  return m->data;
}

/* Shifts the last two dimensions by (sy, sx): y[i][j] = x[i - sy][j - sx],
   the pixels shifted in being fill, or wrapped around. The scratch keeps
   the last shift drawn. */
static void shift_setup(NnModule *m, const NnShape *in, NnShape *out) {
  if (in->ndim < 2)
    lu_error("nn-seq: random-shift needs an input of 2 or more dimensions, "
             "got %s",
             lu_nn_shape_cstr(in));
  *out = *in;
  m->ns = 2;
}

static long wrap(long i, long n) {
  return ((i % n) + n) % n;
}

/* y = x shifted by (sy, sx); back: the transpose (shift by -s, gradients of
   the pixels shifted out dropped, wrapped ones carried). */
static void shift_apply(const NnModule *m, const float *x, float *y, int sy,
                        int sx, bool back, float fill) {
  long h = m->out.dim[m->out.ndim - 2], w = m->out.dim[m->out.ndim - 1];
  long planes = m->out.n / (h * w);
  if (back)
    sy = -sy, sx = -sx;
  for (long p = 0; p < planes; p++)
    for (long i = 0; i < h; i++)
      for (long j = 0; j < w; j++) {
        long si = i - sy, sj = j - sx;
        bool in = si >= 0 && si < h && sj >= 0 && sj < w;
        float v = fill;
        if (shift_of(m)->wrap)
          v = x[(p * h + wrap(si, h)) * w + wrap(sj, w)];
        else if (in)
          v = x[(p * h + si) * w + sj];
        y[(p * h + i) * w + j] = v;
      }
}

/* In training, shifts every plane by a random (dy, dx) in [-shift,
   shift], drawn anew unless the step is replayed and kept in scratch for
   the backward passes. In evaluation y = x. */
static void shift_fprop(NnCtx *c, const float *x, float *y) {
  NnModule *m = c->m;
  if (!c->train) {
    memcpy(y, x, sizeof(float) * (size_t)m->out.n);
    return;
  }
  if (!c->replay) {
    uint32_t span = 2 * (uint32_t)shift_of(m)->shift + 1;
    c->scratch[0] = (float)((int)(lu_nn_rand(c) % span) - shift_of(m)->shift);
    c->scratch[1] = (float)((int)(lu_nn_rand(c) % span) - shift_of(m)->shift);
  }
  shift_apply(m, x, y, (int)c->scratch[0], (int)c->scratch[1], false,
              shift_of(m)->fill);
}

static void shift_bprop(NnCtx *c, const float *x, const float *y,
                        const float *dy, float *dx) {
  (void)x, (void)y;
  NnModule *m = c->m;
  if (!c->train)
    memcpy(dx, dy, sizeof(float) * (size_t)m->out.n);
  else
    shift_apply(m, dy, dx, (int)c->scratch[0], (int)c->scratch[1], true, 0);
}

static void shift_describe(NnModule *m, LuBuf *b) {
  lu_buf_printf(b, "random-shift %d", shift_of(m)->shift);
  if (shift_of(m)->wrap)
    lu_buf_puts(b, " wrap");
  else
    lu_buf_printf(b, " (%g)", shift_of(m)->fill);
}

static const NnOps shift_ops = {.kind = "random-shift",
                                .setup = shift_setup,
                                .fprop = shift_fprop,
                                .bprop = shift_bprop,
                                .bbprop = shift_bprop,
                                .describe = shift_describe};

LU_DEFUN(nn_random_shift, "(nn-random-shift K [FILL])",
         "A module that, in training mode, shifts its input (the last two "
         "dimensions) by a random whole number of pixels in [-K, K] along "
         "each axis, drawn anew for every example: augmentation as a layer. "
         "Pixels shifted in take the value FILL (default -1, the background "
         "of the 1989 digits), or wrap around when FILL is 'wrap. In "
         "evaluation mode it passes its input through.") {
  NnModule *m = lu_nn_module_new(&shift_ops, sizeof(Shift));
  shift_of(m)->shift = lu_nn_arg_range(argv, 0, 0, 1000);
  shift_of(m)->fill = -1;
  if (lu_arg_given(argv, argc, 1)) {
    if (LU_IS(argv[1], LU_SYMBOL) && !strcmp(argv[1]->sym.name, "wrap"))
      shift_of(m)->wrap = true;
    else
      shift_of(m)->fill = (float)lu_arg_num(argv, 1);
  }
  return m->self;
}

/* ---- Flips --------------------------------------------------------------- */

/* The scratch keeps the last draw: 1 when the example was mirrored. */
static void flip_setup(NnModule *m, const NnShape *in, NnShape *out) {
  if (in->ndim < 1 || in->n == 0)
    lu_error("nn-seq: random-flip needs a non-empty input, got %s",
             lu_nn_shape_cstr(in));
  *out = *in;
  m->ns = 1;
}

/* y = x with its last dimension reversed when mirror, else a copy. A
   mirror is its own transpose, so this is the backward passes too. */
static void flip_apply(const NnModule *m, const float *x, float *y,
                       bool mirror) {
  long w = m->out.dim[m->out.ndim - 1], rows = m->out.n / w;
  if (!mirror) {
    memcpy(y, x, sizeof(float) * (size_t)m->out.n);
    return;
  }
  for (long r = 0; r < rows; r++)
    for (long j = 0; j < w; j++)
      y[r * w + j] = x[r * w + w - 1 - j];
}

/* In training, mirrors the example with probability 1/2, drawn anew
   unless the step is replayed and kept in scratch for the backward
   passes. In evaluation y = x. */
static void flip_fprop(NnCtx *c, const float *x, float *y) {
  if (c->train && !c->replay)
    c->scratch[0] = lu_nn_rand(c) >> 31 ? 1.0f : 0.0f;
  flip_apply(c->m, x, y, c->train && c->scratch[0] != 0);
}

static void flip_bprop(NnCtx *c, const float *x, const float *y,
                       const float *dy, float *dx) {
  (void)x, (void)y;
  flip_apply(c->m, dy, dx, c->train && c->scratch[0] != 0);
}

static const NnOps flip_ops = {.kind = "random-flip",
                               .setup = flip_setup,
                               .fprop = flip_fprop,
                               .bprop = flip_bprop,
                               .bbprop = flip_bprop};

LU_DEFUN(nn_random_flip, "(nn-random-flip)",
         "A module that, in training mode, mirrors its input along its last "
         "dimension (left to right, for images) with probability 1/2, drawn "
         "anew for every example: augmentation as a layer. In evaluation "
         "mode it passes its input through.") {
  (void)argv, (void)argc;
  return lu_nn_module_new(&flip_ops, 0)->self;
}

static LuBuiltin *const shift_builtins[] = {&nn_random_shift_builtin,
                                            &nn_random_flip_builtin, NULL};

void lu_nn_shift_open(void) {
  lu_register(shift_builtins);
}
