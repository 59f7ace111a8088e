/* nn_modules.c: the module kinds of the backprop simulator: squashing
   functions, convolution with a connection table, fully connected,
   dropout, random shift, softmax and log-softmax, and objects written in
   Lisp; each an NnOps (setup infers shapes and sizes, fprop, bprop,
   bbprop, init) and a constructor builtin. Nets are in net.c. */
#include "nn_impl.h"

#include <stdio.h>
#include <string.h>

/* ---- Modules ------------------------------------------------------------ */

static void module_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  NnModule *m = v->cdata.ptr;
  lu_buf_printf(b, "#<nn-module %s", m->ops->kind);
  if (m->net)
    lu_buf_printf(b, " %ld params", m->np);
  lu_buf_puts(b, ">");
}

const LuCType lu_nn_module_ctype = {"nn-module", module_print, NULL, NULL};

NnModule *lu_nn_module_new(const NnOps *ops) {
  NnModule *m = lu_alloc(sizeof *m);
  m->ops = ops;
  m->self = lu_cdata(&lu_nn_module_ctype, m);
  return m;
}

/* ---- Squashing modules --------------------------------------------------- */

static void squash_setup(NnModule *m, const NnShape *in, NnShape *out) {
  *out = *in;
  (void)m;
}

static void squash_fprop(NnCtx *c, const float *x, float *y) {
  lu_nn_squash(c->m->squash, x, y, c->m->out.n);
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

static const NnOps tanh_ops = {"tanh",       squash_setup,  squash_fprop,
                               squash_bprop, squash_bbprop, NULL,
                               NULL};
static const NnOps stanh_ops = {"stanh",      squash_setup,  squash_fprop,
                                squash_bprop, squash_bbprop, NULL,
                                NULL};
static const NnOps relu_ops = {"relu",       squash_setup,  squash_fprop,
                               squash_bprop, squash_bbprop, NULL,
                               NULL};

bool lu_nn_is_squash(const NnModule *m) {
  return m->ops->fprop == squash_fprop;
}

static LuValue *squash_new(const NnOps *ops, LuSquash f) {
  NnModule *m = lu_nn_module_new(ops);
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

/* ---- Convolution --------------------------------------------------------- */

/* Sets g's connections (nconn, cin, cout) from m's table, all pairs by
   default, sorted by (out, in): the flat order of the weights. Raises on
   an input plane the input does not have or a pair given twice. */
static void conv_connections(NnModule *m, const NnShape *in) {
  LuConvGeom *g = &m->conv;
  int n = m->table_n ? m->table_n : g->nin * g->nout;
  int *cin = lu_alloc_atomic(sizeof(int) * (size_t)n, "nn-conv");
  int *cout = lu_alloc_atomic(sizeof(int) * (size_t)n, "nn-conv");
  for (int c = 0; c < n; c++) {
    cin[c] = m->table_n ? m->table[2 * c] : c % g->nin;
    cout[c] = m->table_n ? m->table[2 * c + 1] : c / g->nin;
    if (cin[c] >= g->nin)
      lu_error("nn-seq: conv: the connection table names input plane %d, but "
               "the input %s has %d planes",
               cin[c], lu_nn_shape_cstr(in), g->nin);
  }
  for (int i = 1; i < n; i++) /* insertion sort: tables are small */
    for (int j = i; j > 0; j--) {
      long a = (long)cout[j - 1] * g->nin + cin[j - 1];
      long b = (long)cout[j] * g->nin + cin[j];
      if (a < b)
        break;
      if (a == b)
        lu_error("nn-seq: conv: the connection table has (%d %d) twice", cin[j],
                 cout[j]);
      int t = cin[j];
      cin[j] = cin[j - 1], cin[j - 1] = t;
      t = cout[j];
      cout[j] = cout[j - 1], cout[j - 1] = t;
    }
  g->nconn = n;
  g->cin = cin;
  g->cout = cout;
}

/* Checks the input shape and sizes, then fills the geometry and the
   module's counts; raises "nn-seq: conv: ..." on a shape that cannot work. */
static void conv_setup(NnModule *m, const NnShape *in, NnShape *out) {
  LuConvGeom *g = &m->conv;
  if (in->ndim != 3 && in->ndim != 2)
    lu_error("nn-seq: conv needs a [planes rows cols] input, got %s",
             lu_nn_shape_cstr(in));
  /* the kernels index with ints: keep every buffer well below 2^31 */
  double ph = (double)in->dim[in->ndim - 2] + 2 * g->pad;
  double pw = (double)in->dim[in->ndim - 1] + 2 * g->pad;
  double planes = in->ndim == 3 ? (double)in->dim[0] : 1;
  double taps = (double)g->kh * g->kw, nout = g->nout;
  if (planes * ph * pw * 4 > 1e9 || planes * taps * ph * pw > 1e9 ||
      nout * planes * taps > 1e9 || nout * ph * pw > 1e9)
    lu_error("nn-seq: conv: input %s with %d outputs and %dx%d kernels is "
             "too large",
             lu_nn_shape_cstr(in), g->nout, g->kh, g->kw);
  g->nin = (int)planes;
  g->ih = (int)in->dim[in->ndim - 2];
  g->iw = (int)in->dim[in->ndim - 1];
  if (g->ih + 2 * g->pad < g->kh || g->iw + 2 * g->pad < g->kw)
    lu_error("nn-seq: conv: %dx%d kernel larger than the padded input %s "
             "(pad %d)",
             g->kh, g->kw, lu_nn_shape_cstr(in), g->pad);
  conv_connections(m, in);
  lu_nn_conv_prepare(g);
  long n = g->nconn;
  long nb = g->bias_unit ? (long)g->nout * g->npos : g->nout;
  m->nw = n * g->kk;
  m->np = m->nw + nb;
  m->ns = lu_nn_conv_scratch(g);
  m->macs = n * g->kk * g->npos;
  m->conns = m->macs + (long)g->nout * g->npos;
  long d[3] = {g->nout, g->oh, g->ow};
  *out = lu_nn_shape_make(3, d);
}

static void conv_fprop(NnCtx *c, const float *x, float *y) {
  NnModule *m = c->m;
  lu_nn_conv_fprop(&m->conv, c->w, c->w + m->nw, x, y, m->fuse, c->y2,
                   c->scratch);
}

static void conv_bprop(NnCtx *c, const float *x, const float *y,
                       const float *dy, float *dx) {
  (void)y;
  NnModule *m = c->m;
  lu_nn_conv_bprop(&m->conv, c->w, x, dy, dx, c->dw, c->dw + m->nw, c->scratch);
}

static void conv_bbprop(NnCtx *c, const float *x, const float *y,
                        const float *ddy, float *ddx) {
  (void)y;
  NnModule *m = c->m;
  lu_nn_conv_bbprop(&m->conv, c->w, x, ddy, ddx, c->ddw, c->ddw + m->nw,
                    c->scratch);
}

/* Weights U(-a/sqrt(F), a/sqrt(F)) with F each output map's fan-in. */
static void conv_init(NnModule *m, float *w, double a, double bias) {
  const LuConvGeom *g = &m->conv;
  for (int o = 0; o < g->nout; o++) {
    long fan = (long)(g->obeg[o + 1] - g->obeg[o]) * g->kk;
    double r = fan ? a / sqrt((double)fan) : 0;
    for (long i = (long)g->obeg[o] * g->kk; i < (long)g->obeg[o + 1] * g->kk;
         i++)
      w[i] = (float)((2 * lu_rand_uniform() - 1) * r);
  }
  for (long i = m->nw; i < m->np; i++)
    w[i] = (float)bias;
}

static void conv_describe(NnModule *m, LuBuf *b) {
  const LuConvGeom *g = &m->conv;
  lu_buf_printf(b, "conv %dx%d/%d", g->kh, g->kw, g->stride);
  if (g->pad)
    lu_buf_printf(b, " pad %d (%g)", g->pad, g->padval);
  if (m->table_n)
    lu_buf_printf(b, " table %d", g->nconn);
  if (g->bias_unit)
    lu_buf_puts(b, " unit-bias");
}

const NnOps lu_nn_conv_ops = {"conv",      conv_setup, conv_fprop,   conv_bprop,
                              conv_bbprop, conv_init,  conv_describe};

static int table_entry(LuValue *v, int which) {
  if (!LU_IS(v, LU_NUMBER) || LU_NUM(v) < 0 || LU_NUM(v) > 1e6 ||
      LU_NUM(v) != (int)LU_NUM(v))
    lu_error("nn-conv: connection table: %s plane %s is not a plane number",
             which ? "output" : "input", lu_repr(v, true));
  return (int)LU_NUM(v);
}

/* Reads a connection table: a list of (in out) pairs or an [n 2] tensor. */
static void conv_table(NnModule *m, LuValue *tab, int nout) {
  int n = 0;
  int *t;
  if (LU_IS(tab, LU_CDATA) && tab->cdata.ctype == &lu_tensor_ctype) {
    LuTensor *tt = tab->cdata.ptr;
    if (tt->ndim != 2 || tt->dim[1] != 2 || tt->dim[0] < 1)
      lu_error("nn-conv: a connection table tensor must be [n 2], got %s",
               lu_repr(tab, false));
    n = (int)tt->dim[0];
    t = lu_alloc_atomic(sizeof(int) * 2 * (size_t)n, "nn-conv");
    for (int i = 0; i < n; i++)
      for (int j = 0; j < 2; j++)
        t[2 * i + j] =
            table_entry(lu_number(lu_tensor_get(tt, (long[]){i, j})), j);
  } else {
    if (!LU_IS(tab, LU_CONS))
      lu_error("nn-conv: argument 4: expected a list of (in out) pairs or an "
               "[n 2] tensor, got %s",
               lu_repr(tab, true));
    n = (int)lu_length(tab);
    t = lu_alloc_atomic(sizeof(int) * 2 * (size_t)(n ? n : 1), "nn-conv");
    int i = 0;
    for (LuValue *l = tab; !LU_ISNIL(l); l = LU_CDR(l), i++) {
      LuValue *p = LU_CAR(l);
      if (!LU_IS(p, LU_CONS) || lu_length(p) != 2)
        lu_error("nn-conv: connection table: expected (in out), got %s",
                 lu_repr(p, true));
      t[2 * i] = table_entry(LU_CAR(p), 0);
      t[2 * i + 1] = table_entry(LU_CAR(LU_CDR(p)), 1);
    }
  }
  for (int i = 0; i < n; i++)
    if (t[2 * i + 1] >= nout)
      lu_error("nn-conv: the connection table names output plane %d, but the "
               "module has %d output planes",
               t[2 * i + 1], nout);
  m->table = t;
  m->table_n = n;
}

int lu_nn_arg_range(LuValue **argv, int i, long lo, long hi) {
  long v = lu_arg_int(argv, i);
  if (v < lo || v > hi) {
    char what[64];
    snprintf(what, sizeof what, "an integer in [%ld, %ld]", lo, hi);
    lu_arg_error(i, what, argv[i]);
  }
  return (int)v;
}

LU_DEFUN(nn_conv, "(nn-conv NOUT K STRIDE [TABLE] [PAD] [PADVAL] [BIAS])",
         "A convolution module with NOUT output planes, KxK kernels and the "
         "given STRIDE. TABLE lists the (input-plane output-plane) pairs that "
         "are connected, as a list of pairs or an [n 2] tensor; () connects "
         "every input plane to every output plane (see nn-full-table). The "
         "input is padded by PAD (default 0) on every side with PADVAL "
         "(default 0). BIAS is 'map (default: one bias per output plane) or "
         "'unit (one bias per output unit, as in the 1989 net). Weights are "
         "laid out [connection][K][K], connections sorted by output plane "
         "then input plane; biases follow.") {
  NnModule *m = lu_nn_module_new(&lu_nn_conv_ops);
  LuConvGeom *g = &m->conv;
  g->nout = lu_nn_arg_range(argv, 0, 1, 100000);
  g->kh = g->kw = lu_nn_arg_range(argv, 1, 1, 1000);
  g->stride = lu_nn_arg_range(argv, 2, 1, 1000);
  if (lu_arg_given(argv, argc, 3))
    conv_table(m, argv[3], g->nout);
  g->pad = lu_arg_given(argv, argc, 4) ? lu_nn_arg_range(argv, 4, 0, 1000) : 0;
  g->padval = lu_arg_given(argv, argc, 5) ? (float)lu_arg_num(argv, 5) : 0;
  if (lu_arg_given(argv, argc, 6)) {
    const char *b = lu_arg_sym(argv, 6)->sym.name;
    if (strcmp(b, "unit") && strcmp(b, "map"))
      lu_arg_error(6, "'map or 'unit", argv[6]);
    g->bias_unit = !strcmp(b, "unit");
  }
  return m->self;
}

LU_DEFUN(nn_full_table, "(nn-full-table NIN NOUT)",
         "The connection table joining each of NIN input planes to each of "
         "NOUT output planes: a list of (in out) pairs.") {
  int nin = lu_nn_arg_range(argv, 0, 1, 10000),
      nout = lu_nn_arg_range(argv, 1, 1, 10000);
  LuValue *l = lu_nil;
  for (int o = nout - 1; o >= 0; o--)
    for (int i = nin - 1; i >= 0; i--)
      l = lu_cons(lu_list(2, lu_number(i), lu_number(o)), l);
  (void)argc;
  return l;
}

/* ---- Fully connected -------------------------------------------------------
 */

static void linear_setup(NnModule *m, const NnShape *in, NnShape *out) {
  if (in->n > 100000000)
    lu_error("nn-seq: linear: input %s too large", lu_nn_shape_cstr(in));
  m->nin = (int)in->n;
  m->nw = (long)m->nin * m->nout;
  m->np = m->nw + m->nout;
  m->macs = m->nw;
  m->conns = m->np;
  long d = m->nout;
  *out = lu_nn_shape_make(1, &d);
}

static void linear_fprop(NnCtx *c, const float *x, float *y) {
  NnModule *m = c->m;
  lu_nn_linear_fprop(m->nin, m->nout, c->w, c->w + m->nw, x, y, m->fuse, c->y2);
}

static void linear_bprop(NnCtx *c, const float *x, const float *y,
                         const float *dy, float *dx) {
  (void)y;
  NnModule *m = c->m;
  lu_nn_linear_bprop(m->nin, m->nout, c->w, x, dy, dx, c->dw, c->dw + m->nw);
}

static void linear_bbprop(NnCtx *c, const float *x, const float *y,
                          const float *ddy, float *ddx) {
  (void)y;
  NnModule *m = c->m;
  lu_nn_linear_bbprop(m->nin, m->nout, c->w, x, ddy, ddx, c->ddw,
                      c->ddw + m->nw);
}

static void linear_init(NnModule *m, float *w, double a, double bias) {
  double r = a / sqrt((double)m->nin);
  for (long i = 0; i < m->nw; i++)
    w[i] = (float)((2 * lu_rand_uniform() - 1) * r);
  for (long i = m->nw; i < m->np; i++)
    w[i] = (float)bias;
}

const NnOps lu_nn_linear_ops = {"linear",     linear_setup,  linear_fprop,
                                linear_bprop, linear_bbprop, linear_init,
                                NULL};

LU_DEFUN(nn_linear, "(nn-linear NOUT)",
         "A fully connected module with NOUT outputs. It flattens its input "
         "(in row-major order); weights are laid out [NOUT][inputs], then "
         "the NOUT biases.") {
  (void)argc;
  NnModule *m = lu_nn_module_new(&lu_nn_linear_ops);
  m->nout = lu_nn_arg_range(argv, 0, 1, 10000000);
  return m->self;
}

/* ---- Dropout
 * ----------------------------------------------------------------- */

/* The scratch holds the mask of the last training fprop: 0 or 1/(1-p). */
static void dropout_setup(NnModule *m, const NnShape *in, NnShape *out) {
  *out = *in;
  m->ns = in->n;
}

/* In training, y = x * mask: each unit dropped with probability rate and
   the others scaled by 1/(1 - rate), so the expected y is x. The mask is
   drawn anew unless the step is replayed, and kept in scratch for the
   backward passes. In evaluation y = x. */
static void dropout_fprop(NnCtx *c, const float *x, float *y) {
  long n = c->m->out.n;
  float *mask = c->scratch;
  if (!c->train) {
    memcpy(y, x, sizeof(float) * (size_t)n);
    return;
  }
  if (!c->replay) {
    float keep = (float)(1 / (1 - c->m->rate));
    uint32_t cut = (uint32_t)(c->m->rate * 4294967296.0);
    for (long i = 0; i < n; i++)
      mask[i] = lu_rand_u32() < cut ? 0.0f : keep;
  }
  for (long i = 0; i < n; i++)
    y[i] = x[i] * mask[i];
}

static void dropout_back(NnCtx *c, const float *d, float *dx, bool sq) {
  long n = c->m->out.n;
  const float *mask = c->scratch;
  for (long i = 0; i < n; i++) {
    float k = c->train ? mask[i] : 1.0f;
    dx[i] = d[i] * (sq ? k * k : k);
  }
}

static void dropout_bprop(NnCtx *c, const float *x, const float *y,
                          const float *dy, float *dx) {
  (void)x, (void)y;
  dropout_back(c, dy, dx, false);
}

static void dropout_bbprop(NnCtx *c, const float *x, const float *y,
                           const float *ddy, float *ddx) {
  (void)x, (void)y;
  dropout_back(c, ddy, ddx, true);
}

static void dropout_describe(NnModule *m, LuBuf *b) {
  lu_buf_printf(b, "dropout %g", m->rate);
}

static const NnOps dropout_ops = {
    "dropout",      dropout_setup, dropout_fprop,   dropout_bprop,
    dropout_bbprop, NULL,          dropout_describe};

LU_DEFUN(nn_dropout, "(nn-dropout P)",
         "A module that, in training mode, zeroes each element with "
         "probability P and scales the others by 1/(1-P); in evaluation "
         "mode it passes its input through.") {
  (void)argc;
  double p = lu_arg_num(argv, 0);
  if (!(p >= 0 && p < 1))
    lu_arg_error(0, "a probability in [0, 1)", argv[0]);
  NnModule *m = lu_nn_module_new(&dropout_ops);
  m->rate = p;
  return m->self;
}

/* ---- Random shift
 * -------------------------------------------------------------- */

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
        if (m->wrap)
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
    uint32_t span = 2 * (uint32_t)m->shift + 1;
    c->scratch[0] = (float)((int)(lu_rand_u32() % span) - m->shift);
    c->scratch[1] = (float)((int)(lu_rand_u32() % span) - m->shift);
  }
  shift_apply(m, x, y, (int)c->scratch[0], (int)c->scratch[1], false, m->fill);
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
  lu_buf_printf(b, "random-shift %d", m->shift);
  if (m->wrap)
    lu_buf_puts(b, " wrap");
  else
    lu_buf_printf(b, " (%g)", m->fill);
}

static const NnOps shift_ops = {"random-shift", shift_setup, shift_fprop,
                                shift_bprop,    shift_bprop, NULL,
                                shift_describe};

LU_DEFUN(nn_random_shift, "(nn-random-shift K [FILL])",
         "A module that, in training mode, shifts its input (the last two "
         "dimensions) by a random whole number of pixels in [-K, K] along "
         "each axis, drawn anew for every example: augmentation as a layer. "
         "Pixels shifted in take the value FILL (default -1, the background "
         "of the 1989 digits), or wrap around when FILL is 'wrap. In "
         "evaluation mode it passes its input through.") {
  NnModule *m = lu_nn_module_new(&shift_ops);
  m->shift = lu_nn_arg_range(argv, 0, 0, 1000);
  m->fill = -1;
  if (lu_arg_given(argv, argc, 1)) {
    if (LU_IS(argv[1], LU_SYMBOL) && !strcmp(argv[1]->sym.name, "wrap"))
      m->wrap = true;
    else
      m->fill = (float)lu_arg_num(argv, 1);
  }
  return m->self;
}

/* ---- Softmax and log-softmax over the whole input
 * ---------------------------- */

static void softmax_setup(NnModule *m, const NnShape *in, NnShape *out) {
  (void)m;
  *out = *in;
}

/* p = softmax(x), into p (n elements); returns log of the normaliser. */
static double softmax(const float *x, long n, float *p) {
  double lse = lu_nn_logsumexp(x, n);
  for (long i = 0; i < n; i++)
    p[i] = (float)exp(x[i] - lse);
  return lse;
}

static void softmax_fprop(NnCtx *c, const float *x, float *y) {
  long n = c->m->out.n;
  double lse = softmax(x, n, y);
  if (c->m->log_softmax)
    for (long i = 0; i < n; i++)
      y[i] = (float)(x[i] - lse);
}

/* The probabilities p from the output y. */
static float softmax_p(const NnModule *m, const float *y, long i) {
  return m->log_softmax ? expf(y[i]) : y[i];
}

/* log-softmax: dx_i = dy_i - p_i sum dy; softmax: dx_i = p_i (dy_i - sum
   p_j dy_j). */
static void softmax_bprop(NnCtx *c, const float *x, const float *y,
                          const float *dy, float *dx) {
  (void)x;
  const NnModule *m = c->m;
  long n = m->out.n;
  double s = 0;
  for (long i = 0; i < n; i++)
    s += m->log_softmax ? dy[i] : softmax_p(m, y, i) * dy[i];
  for (long i = 0; i < n; i++) {
    float p = softmax_p(m, y, i);
    dx[i] = (float)(m->log_softmax ? dy[i] - p * s : p * (dy[i] - s));
  }
}

/* ddx_i = sum_j (dy_j/dx_i)^2 ddy_j. log-softmax: ddy_i (1 - 2 p_i) + p_i^2
   sum ddy; softmax: p_i^2 ((1 - 2 p_i) ddy_i + sum p_j^2 ddy_j). */
static void softmax_bbprop(NnCtx *c, const float *x, const float *y,
                           const float *ddy, float *ddx) {
  (void)x;
  const NnModule *m = c->m;
  long n = m->out.n;
  double s = 0;
  for (long i = 0; i < n; i++) {
    float p = softmax_p(m, y, i);
    s += m->log_softmax ? ddy[i] : p * p * ddy[i];
  }
  for (long i = 0; i < n; i++) {
    float p = softmax_p(m, y, i);
    ddx[i] = (float)(m->log_softmax ? ddy[i] * (1 - 2 * p) + p * p * s
                                    : p * p * ((1 - 2 * p) * ddy[i] + s));
  }
}

static const NnOps logsoftmax_ops = {
    "logsoftmax",   softmax_setup, softmax_fprop, softmax_bprop,
    softmax_bbprop, NULL,          NULL};
static const NnOps softmax_ops = {"softmax",     softmax_setup,  softmax_fprop,
                                  softmax_bprop, softmax_bbprop, NULL,
                                  NULL};

LU_DEFUN(nn_logsoftmax, "(nn-logsoftmax)",
         "A module computing log(softmax(x)) over its whole input.") {
  (void)argv, (void)argc;
  NnModule *m = lu_nn_module_new(&logsoftmax_ops);
  m->log_softmax = true;
  return m->self;
}

LU_DEFUN(nn_softmax, "(nn-softmax)",
         "A module computing softmax(x) = exp(x_i) / sum exp(x_j) over its "
         "whole input.") {
  (void)argv, (void)argc;
  return lu_nn_module_new(&softmax_ops)->self;
}

/* ---- Modules written in Lisp
 * ------------------------------------------------- */

/* A Lisp object with methods (fprop x) -> y and (bprop x y dy) -> dx, and
   optionally (bbprop x y ddy) -> ddx. Its output shape is learnt when the
   net is built, by calling fprop once on zeros. Its parameters, if any,
   are its own business: they are not in the flat vector. */
static LuValue *lisp_call(NnCtx *c, const char *method, int argc,
                          LuValue **argv) {
  LuValue *sym = lu_intern(method);
  if (!lu_responds(c->m->obj, sym))
    lu_error("nn: the Lisp module %s has no %s method",
             lu_repr(c->m->obj, false), method);
  LuValue *r = lu_send(c->m->obj, sym, argc, argv);
  if (!LU_IS(r, LU_CDATA) || r->cdata.ctype != &lu_tensor_ctype)
    lu_error("nn: the %s method of the Lisp module %s returned %s, not a "
             "tensor",
             method, lu_repr(c->m->obj, false), lu_repr(r, false));
  return r;
}

/* A tensor viewing the work buffer at p. */
static LuValue *work_view(NnCtx *c, const float *p, const NnShape *s) {
  LuTensor *w = c->net->work[0];
  long off = p - (const float *)lu_tensor_data(w);
  return lu_tensor_value(lu_nn_view(w, off, s));
}

static void lisp_setup(NnModule *m, const NnShape *in, NnShape *out) {
  LuTensor *x = lu_tensor_make(LU_FLOAT, in->ndim, in->dim, NULL, NULL, 0);
  LuValue *xv = lu_tensor_value(x);
  NnCtx c = {.m = m};
  LuValue *r = lisp_call(&c, "fprop", 1, &xv);
  LuTensor *t = r->cdata.ptr;
  *out = lu_nn_shape_make(t->ndim, t->dim);
}

static void lisp_out(NnCtx *c, const char *method, LuValue *r, const NnShape *s,
                     float *dst) {
  char who[64];
  snprintf(who, sizeof who, "nn: the %s method of a Lisp module", method);
  lu_nn_read_checked(who, r->cdata.ptr, s, dst);
  (void)c;
}

static void lisp_fprop(NnCtx *c, const float *x, float *y) {
  LuValue *a = work_view(c, x, &c->m->in);
  lisp_out(c, "fprop", lisp_call(c, "fprop", 1, &a), &c->m->out, y);
}

static void lisp_back(NnCtx *c, const char *method, const float *x,
                      const float *y, const float *d, float *dx) {
  LuValue *a[3] = {work_view(c, x, &c->m->in), work_view(c, y, &c->m->out),
                   work_view(c, d, &c->m->out)};
  LuValue *r = lisp_call(c, method, 3, a);
  if (dx)
    lisp_out(c, method, r, &c->m->in, dx);
}

static void lisp_bprop(NnCtx *c, const float *x, const float *y,
                       const float *dy, float *dx) {
  lisp_back(c, "bprop", x, y, dy, dx);
}

static void lisp_bbprop(NnCtx *c, const float *x, const float *y,
                        const float *ddy, float *ddx) {
  lisp_back(c, "bbprop", x, y, ddy, ddx);
}

static void lisp_describe(NnModule *m, LuBuf *b) {
  lu_buf_printf(b, "lisp %s", lu_repr(m->obj, false));
}

const NnOps lu_nn_lisp_ops = {"lisp",      lisp_setup, lisp_fprop,   lisp_bprop,
                              lisp_bbprop, NULL,       lisp_describe};

static LuBuiltin *const module_builtins[] = {&nn_tanh_builtin,
                                             &nn_stanh_builtin,
                                             &nn_relu_builtin,
                                             &nn_conv_builtin,
                                             &nn_full_table_builtin,
                                             &nn_linear_builtin,
                                             &nn_dropout_builtin,
                                             &nn_random_shift_builtin,
                                             &nn_logsoftmax_builtin,
                                             &nn_softmax_builtin,
                                             NULL};

void lu_nn_modules_open(void) {
  lu_register(module_builtins);
}
