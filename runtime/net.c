/* net.c: nets and modules of the backprop simulator, and their Lisp
   builtins. A module is made unconfigured ((nn-conv ...), (nn-tanh) ...);
   (nn-seq SHAPE MODULE...) builds a net: it infers every module's input
   shape, lays all parameters out in one flat vector (values, gradients,
   second derivatives, per-parameter rate factors; each module's weights are
   a range of it) and owns the intermediate states (x, dx, ddx), kept with
   the modules' scratch in one work buffer per thread. Costs, optimizers,
   whole training and evaluation passes, and gradient checks are in
   nn_train.c; the numeric kernels in nn_kernels.c. */
#include "nn_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Shapes ------------------------------------------------------------ */

void lu_nn_shape_str(LuBuf *b, const NnShape *s) {
  lu_buf_puts(b, "[");
  for (int i = 0; i < s->ndim; i++)
    lu_buf_printf(b, i ? " %ld" : "%ld", s->dim[i]);
  lu_buf_puts(b, "]");
}

const char *lu_nn_shape_cstr(const NnShape *s) {
  LuBuf b;
  lu_buf_init(&b);
  lu_nn_shape_str(&b, s);
  return b.s;
}

static NnShape shape_make(int ndim, const long *dim) {
  NnShape s = {.ndim = ndim, .n = 1};
  for (int i = 0; i < ndim; i++) {
    s.dim[i] = dim[i];
    s.n *= dim[i];
  }
  return s;
}

/* Equal up to dimensions of size 1: a [16 16] image feeds a [1 16 16]
   input. */
bool lu_nn_shape_fits(const NnShape *a, const long *dim, int ndim) {
  int i = 0, j = 0;
  for (;;) {
    while (i < a->ndim && a->dim[i] == 1)
      i++;
    while (j < ndim && dim[j] == 1)
      j++;
    if (i == a->ndim || j == ndim)
      return i == a->ndim && j == ndim;
    if (a->dim[i++] != dim[j++])
      return false;
  }
}

/* Parses a shape from a list of positive integers. */
static NnShape shape_arg(LuValue **argv, int i) {
  LuValue *l = lu_arg_list(argv, i);
  NnShape s = {.n = 1};
  for (; !LU_ISNIL(l); l = LU_CDR(l)) {
    LuValue *d = LU_CAR(l);
    if (!LU_IS(d, LU_NUMBER) || LU_NUM(d) < 1 || LU_NUM(d) > 1e9 ||
        LU_NUM(d) != (long)LU_NUM(d) || s.ndim == LU_MAXDIM ||
        (double)s.n * LU_NUM(d) > 1e10)
      lu_arg_error(i, "a list of up to 8 positive sizes", argv[i]);
    s.dim[s.ndim++] = (long)LU_NUM(d);
    s.n *= (long)LU_NUM(d);
  }
  if (s.ndim == 0)
    lu_arg_error(i, "a list of up to 8 positive sizes", argv[i]);
  return s;
}

static LuValue *shape_list(const NnShape *s) {
  LuValue *l = lu_nil;
  for (int i = s->ndim - 1; i >= 0; i--)
    l = lu_cons(lu_number((double)s->dim[i]), l);
  return l;
}

/* A tensor of shape s viewing base's storage from element off of base. */
LuTensor *lu_nn_view(LuTensor *base, long off, const NnShape *s) {
  long mod[LU_MAXDIM];
  long m = 1;
  for (int i = s->ndim - 1; i >= 0; i--) {
    mod[i] = m;
    m *= s->dim[i];
  }
  return lu_tensor_make(LU_FLOAT, s->ndim, s->dim, base, mod,
                        base->offset + off);
}

/* ---- Reading tensors of any element type into floats ----------------- */

static double elem_get(const LuTensor *t, long at) {
  const void *d = t->st->data;
  switch (t->st->elem) {
  case LU_FLOAT:
    return ((const float *)d)[at];
  case LU_DOUBLE:
    return ((const double *)d)[at];
  case LU_INT:
    return ((const int32_t *)d)[at];
  default:
    return ((const uint8_t *)d)[at];
  }
}

/* Copies the elements of t from dimension `from` on, at storage offset
   base, into dst in row-major order. */
static void gather_rec(const LuTensor *t, int d, long base, float **dst) {
  if (d == t->ndim) {
    *(*dst)++ = (float)elem_get(t, base);
    return;
  }
  if (d == t->ndim - 1 && t->mod[d] == 1 && t->st->elem == LU_FLOAT) {
    memcpy(*dst, (const float *)t->st->data + base,
           sizeof(float) * (size_t)t->dim[d]);
    *dst += t->dim[d];
    return;
  }
  for (long i = 0; i < t->dim[d]; i++)
    gather_rec(t, d + 1, base + i * t->mod[d], dst);
}

void lu_nn_read(const LuTensor *t, int from, long base, float *dst) {
  long n = 1, m = 1;
  bool flat = t->st->elem == LU_FLOAT;
  for (int d = t->ndim - 1; d >= from && flat; d--) {
    flat = t->dim[d] == 1 || t->mod[d] == m;
    m *= t->dim[d];
  }
  if (flat) { /* row-major from `from` on: one copy */
    for (int d = from; d < t->ndim; d++)
      n *= t->dim[d];
    memcpy(dst, (const float *)t->st->data + base, sizeof(float) * (size_t)n);
    return;
  }
  gather_rec(t, from, base, &dst);
}

/* Example e of a data set: the slice t[e] when t has more than one
   dimension, else the single element t[e]. */
void lu_nn_read_example(const LuTensor *t, long e, float *dst) {
  lu_nn_read(t, 1, t->offset + e * t->mod[0], dst);
}

/* Copies a tensor of n elements into dst, checking its shape against s. */
void lu_nn_read_checked(const char *who, LuTensor *t, const NnShape *s,
                        float *dst) {
  if (!lu_nn_shape_fits(s, t->dim, t->ndim)) {
    NnShape ts = shape_make(t->ndim, t->dim);
    lu_error("%s: expected a tensor of shape %s, got %s", who,
             lu_nn_shape_cstr(s), lu_nn_shape_cstr(&ts));
  }
  lu_nn_read(t, 0, t->offset, dst);
}

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

/* Module i's parameters, states and scratch, for one work buffer. */
static NnCtx ctx_of(LuNet *n, int i, float *work) {
  NnModule *m = n->mod[i];
  NnCtx c = {.net = n,
             .m = m,
             .w = n->pw + m->poff,
             .dw = n->pdw + m->poff,
             .ddw = n->pddw + m->poff,
             .scratch = work + m->soff,
             .train = n->train,
             .y2 = i + 2 <= n->nmod ? work + n->xoff[i + 2] : NULL};
  return c;
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
  /* The table: all pairs by default, else checked and sorted by (out, in)
     into the flat order of the weights. */
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
  lu_nn_conv_prepare(g);
  long nb = g->bias_unit ? (long)g->nout * g->npos : g->nout;
  m->nw = (long)n * g->kk;
  m->np = m->nw + nb;
  m->ns = lu_nn_conv_scratch(g);
  m->macs = (long)n * g->kk * g->npos;
  m->conns = m->macs + (long)g->nout * g->npos;
  long d[3] = {g->nout, g->oh, g->ow};
  *out = shape_make(3, d);
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

static const NnOps conv_ops = {"conv",       conv_setup,  conv_fprop,
                               conv_bprop,   conv_bbprop, conv_init,
                               conv_describe};

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
            table_entry(lu_number(elem_get(tt, tt->offset + i * tt->mod[0] +
                                                   j * tt->mod[1])),
                        j);
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

static int arg_range(LuValue **argv, int i, long lo, long hi) {
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
  NnModule *m = lu_nn_module_new(&conv_ops);
  LuConvGeom *g = &m->conv;
  g->nout = arg_range(argv, 0, 1, 100000);
  g->kh = g->kw = arg_range(argv, 1, 1, 1000);
  g->stride = arg_range(argv, 2, 1, 1000);
  if (lu_arg_given(argv, argc, 3))
    conv_table(m, argv[3], g->nout);
  g->pad = lu_arg_given(argv, argc, 4) ? arg_range(argv, 4, 0, 1000) : 0;
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
  int nin = arg_range(argv, 0, 1, 10000), nout = arg_range(argv, 1, 1, 10000);
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
  *out = shape_make(1, &d);
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

static const NnOps linear_ops = {"linear",     linear_setup,  linear_fprop,
                                 linear_bprop, linear_bbprop, linear_init,
                                 NULL};

LU_DEFUN(nn_linear, "(nn-linear NOUT)",
         "A fully connected module with NOUT outputs. It flattens its input "
         "(in row-major order); weights are laid out [NOUT][inputs], then "
         "the NOUT biases.") {
  (void)argc;
  NnModule *m = lu_nn_module_new(&linear_ops);
  m->nout = arg_range(argv, 0, 1, 10000000);
  return m->self;
}

/* ---- Dropout
 * ----------------------------------------------------------------- */

/* The scratch holds the mask of the last training fprop: 0 or 1/(1-p). */
static void dropout_setup(NnModule *m, const NnShape *in, NnShape *out) {
  *out = *in;
  m->ns = in->n;
}

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
  m->shift = arg_range(argv, 0, 0, 1000);
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
  double mx = x[0], z = 0;
  for (long i = 1; i < n; i++)
    mx = x[i] > mx ? x[i] : mx;
  for (long i = 0; i < n; i++)
    z += exp(x[i] - mx);
  double lse = mx + log(z);
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
  *out = shape_make(t->ndim, t->dim);
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

static const NnOps lisp_ops = {"lisp",       lisp_setup,  lisp_fprop,
                               lisp_bprop,   lisp_bbprop, NULL,
                               lisp_describe};

/* ---- Nets
 * ----------------------------------------------------------------------- */

static void net_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  LuNet *n = v->cdata.ptr;
  lu_buf_printf(b, "#<nn-net %s -> %s, %d modules, %ld params>",
                lu_nn_shape_cstr(&n->shape[0]),
                lu_nn_shape_cstr(&n->shape[n->nmod]), n->nmod, n->nparams);
}

const LuCType lu_nn_net_ctype = {"nn-net", net_print, NULL, NULL};

static long round16(long n) {
  return (n + 15) / 16 * 16;
}

/* Lays out states and scratch in a work buffer: state i's x, dx and ddx
   each rounded up to 16 floats plus 16 of slack, so vector reads past a
   state's end stay inside the buffer. */
static void net_layout(LuNet *n) {
  long at = 0;
  n->xoff = lu_alloc_atomic(sizeof(long) * (size_t)(n->nmod + 1), "nn-seq");
  n->stride = lu_alloc_atomic(sizeof(long) * (size_t)(n->nmod + 1), "nn-seq");
  for (int i = 0; i <= n->nmod; i++) {
    n->xoff[i] = at;
    n->stride[i] = round16(n->shape[i].n) + 16;
    at += 3 * n->stride[i];
  }
  long p = 0;
  for (int i = 0; i < n->nmod; i++) {
    n->mod[i]->soff = at;
    at += round16(n->mod[i]->ns) + 16;
    n->mod[i]->poff = p;
    p += n->mod[i]->np;
  }
  n->worksize = at + 64;
  n->nparams = p;
}

static LuTensor *float_vector(long n) {
  return lu_tensor_make(LU_FLOAT, 1, &n, NULL, NULL, 0);
}

/* The work buffer of thread t, made on first use (by the main thread). */
float *lu_nn_work(LuNet *n, int t) {
  if (!n->work[t])
    n->work[t] = float_vector(n->worksize);
  return lu_tensor_data(n->work[t]);
}

/* Fuses each squash that follows a conv or linear module into it. */
static void net_fuse(LuNet *n) {
  for (int i = 0; i + 1 < n->nmod; i++) {
    NnModule *a = n->mod[i], *b = n->mod[i + 1];
    if ((a->ops == &conv_ops || a->ops == &linear_ops) &&
        b->ops->fprop == squash_fprop) {
      a->fuse = b->squash;
      b->fused = true;
    }
  }
}

void lu_nn_init_params(LuNet *n, double a, double bias) {
  for (int i = 0; i < n->nmod; i++)
    if (n->mod[i]->ops->init)
      n->mod[i]->ops->init(n->mod[i], n->pw + n->mod[i]->poff, a, bias);
}

LU_DEFUN(nn_seq, "(nn-seq SHAPE MODULE...)",
         "Builds a net: the MODULEs in sequence, for inputs of SHAPE (a list "
         "such as (1 16 16)). Each module is an nn-module or a Lisp object "
         "with fprop and bprop methods (see nn.lsp). The net owns the "
         "intermediate states and one flat parameter vector (see nn-params), "
         "initialised as by (nn-init net 1 0). A module belongs to one net.") {
  NnShape in = shape_arg(argv, 0);
  if (argc < 2)
    lu_error("nn-seq: a net needs at least one module");
  LuNet *n = lu_alloc(sizeof *n);
  n->nmod = argc - 1;
  n->mod = lu_alloc(sizeof(NnModule *) * (size_t)n->nmod);
  n->shape = lu_alloc_atomic(sizeof(NnShape) * (size_t)(n->nmod + 1), "nn-seq");
  n->shape[0] = in;
  n->train = true;
  for (int i = 0; i < n->nmod; i++) {
    LuValue *v = argv[i + 1];
    NnModule *m;
    if (LU_IS(v, LU_OBJECT)) {
      m = lu_nn_module_new(&lisp_ops);
      m->obj = v;
      n->has_lisp = true;
    } else {
      m = lu_arg_cdata(argv, i + 1, &lu_nn_module_ctype);
    }
    if (m->net)
      lu_error("nn-seq: module %d (%s) already belongs to a net", i + 1,
               m->ops->kind);
    for (int j = 0; j < i; j++)
      if (n->mod[j] == m)
        lu_error("nn-seq: module %d (%s) appears twice", i + 1, m->ops->kind);
    n->mod[i] = m;
    m->index = i;
    m->in = n->shape[i];
    m->ops->setup(m, &n->shape[i], &n->shape[i + 1]);
    m->out = n->shape[i + 1];
  }
  net_layout(n);
  for (int i = 0; i < 4; i++)
    n->pvec[i] = float_vector(n->nparams + 64);
  n->pw = lu_tensor_data(n->pvec[0]);
  n->pdw = lu_tensor_data(n->pvec[1]);
  n->pddw = lu_tensor_data(n->pvec[2]);
  n->prate = lu_tensor_data(n->pvec[3]);
  for (long i = 0; i < n->nparams; i++)
    n->prate[i] = 1;
  net_fuse(n);
  lu_nn_work(n, 0);
  for (int i = 0; i < n->nmod; i++)
    n->mod[i]->net = n;
  lu_nn_init_params(n, 1, 0);
  n->self = lu_cdata(&lu_nn_net_ctype, n);
  return n->self;
}

LuNet *lu_nn_arg_net(LuValue **argv, int i) {
  return lu_arg_cdata(argv, i, &lu_nn_net_ctype);
}

/* ---- Passes through the net, on one work buffer -----------------------------
 */

void lu_nn_fprop(LuNet *n, float *work, bool train, bool replay) {
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    if (m->fused)
      continue;
    NnCtx c = ctx_of(n, i, work);
    c.train = train;
    c.replay = replay;
    m->ops->fprop(&c, work + n->xoff[i], work + n->xoff[i + 1]);
  }
}

/* Backward from the output's dx (second = false) or ddx (second = true).
   The input's dx or ddx is computed only when input is true. */
void lu_nn_back(LuNet *n, float *work, bool train, bool second, bool input) {
  for (int i = n->nmod - 1; i >= 0; i--) {
    NnModule *m = n->mod[i];
    NnCtx c = ctx_of(n, i, work);
    c.train = train;
    long d = second ? 2 : 1;
    float *x = work + n->xoff[i], *y = work + n->xoff[i + 1];
    float *dy = y + d * n->stride[i + 1];
    float *dx = i > 0 || input ? x + d * n->stride[i] : NULL;
    if (!dx && m->ops != &lisp_ops && m->np == 0)
      continue; /* no parameters and no input gradient wanted */
    (second ? m->ops->bbprop : m->ops->bprop)(&c, x, y, dy, dx);
  }
}

static LuValue *state_copy(LuNet *n, int i, int which) {
  NnShape *s = &n->shape[i];
  LuTensor *t = lu_tensor_make(LU_FLOAT, s->ndim, s->dim, NULL, NULL, 0);
  memcpy(lu_tensor_data(t),
         lu_nn_work(n, 0) + n->xoff[i] + which * n->stride[i],
         sizeof(float) * (size_t)s->n);
  return lu_tensor_value(t);
}

LU_DEFUN(nn_fprop, "(nn-fprop NET X)",
         "Runs NET forward on the tensor X (of the net's input shape; size-1 "
         "dimensions may differ) and returns a new tensor holding the "
         "output. The states stay in the net for nn-bprop and nn-state.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  float *w = lu_nn_work(n, 0);
  lu_nn_read_checked("nn-fprop", lu_arg_tensor(argv, 1), &n->shape[0], w);
  lu_nn_fprop(n, w, n->train, false);
  n->fresh = true;
  return state_copy(n, n->nmod, 0);
}

static LuValue *back_builtin(LuValue **argv, bool second, const char *who) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  if (!n->fresh)
    lu_error("%s: no nn-fprop on this net yet", who);
  float *w = lu_nn_work(n, 0);
  lu_nn_read_checked(who, lu_arg_tensor(argv, 1), &n->shape[n->nmod],
                     w + n->xoff[n->nmod] +
                         (second ? 2 : 1) * n->stride[n->nmod]);
  lu_nn_back(n, w, n->train, second, true);
  return state_copy(n, 0, second ? 2 : 1);
}

LU_DEFUN(nn_bprop, "(nn-bprop NET DY)",
         "Back-propagates the output gradient DY through NET, as left by the "
         "last nn-fprop: adds the parameter gradients into (nn-grads NET) "
         "and returns a new tensor holding the gradient with respect to the "
         "input.") {
  (void)argc;
  return back_builtin(argv, false, "nn-bprop");
}

LU_DEFUN(nn_bbprop, "(nn-bbprop NET DDY)",
         "Back-propagates the output second derivatives DDY through NET "
         "(the Gauss-Newton diagonal approximation of the Hessian): adds the "
         "parameters' second derivatives into (nn-hessian NET) and returns "
         "a new tensor of the input's.") {
  (void)argc;
  return back_builtin(argv, true, "nn-bbprop");
}

static LuValue *param_view(LuNet *n, int which, long off, const NnShape *s) {
  return lu_tensor_value(lu_nn_view(n->pvec[which], off, s));
}

static LuValue *flat_view(LuValue **argv, int which) {
  LuNet *n = lu_nn_arg_net(argv, 0);
  NnShape s = shape_make(1, &n->nparams);
  return param_view(n, which, 0, &s);
}

LU_DEFUN(nn_params, "(nn-params NET)",
         "The flat vector of NET's parameters: a float tensor viewing them, "
         "so writing into it changes the net.") {
  (void)argc;
  return flat_view(argv, 0);
}

LU_DEFUN(nn_grads, "(nn-grads NET)",
         "The flat vector of NET's parameter gradients (a view), accumulated "
         "by nn-bprop and cleared by nn-clear-grads.") {
  (void)argc;
  return flat_view(argv, 1);
}

LU_DEFUN(nn_hessian, "(nn-hessian NET)",
         "The flat vector of NET's parameter second derivatives (a view), "
         "accumulated by nn-bbprop.") {
  (void)argc;
  return flat_view(argv, 2);
}

LU_DEFUN(nn_rates, "(nn-rates NET)",
         "The flat vector of NET's per-parameter rate factors (a view): each "
         "update moves a parameter by the optimizer's rate times its "
         "factor. All 1 unless set, e.g. by nn-sdlm-estimate.") {
  (void)argc;
  return flat_view(argv, 3);
}

LU_DEFUN(nn_nparams, "(nn-nparams NET)", "The number of parameters of NET.") {
  (void)argc;
  return lu_number((double)lu_nn_arg_net(argv, 0)->nparams);
}

LU_DEFUN(nn_clear_grads, "(nn-clear-grads NET)",
         "Sets NET's parameter gradients to 0. Returns NET.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  memset(n->pdw, 0, sizeof(float) * (size_t)n->nparams);
  return argv[0];
}

LU_DEFUN(nn_clear_hessian, "(nn-clear-hessian NET)",
         "Sets NET's parameter second derivatives to 0. Returns NET.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  memset(n->pddw, 0, sizeof(float) * (size_t)n->nparams);
  return argv[0];
}

static int state_index(LuValue **argv, LuNet *n) {
  return arg_range(argv, 1, 0, n->nmod);
}

LU_DEFUN(nn_state, "(nn-state NET I)",
         "State I of NET as left by the last passes: 0 is the input, I the "
         "output of module I (1-based), (nn-nmodules NET) the output. A view: "
         "the next pass overwrites it.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  int i = state_index(argv, n);
  lu_nn_work(n, 0);
  return lu_tensor_value(lu_nn_view(n->work[0], n->xoff[i], &n->shape[i]));
}

LU_DEFUN(nn_state_grad, "(nn-state-grad NET I)",
         "The gradient of state I of NET (see nn-state) as left by the last "
         "nn-bprop. A view.") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  int i = state_index(argv, n);
  lu_nn_work(n, 0);
  return lu_tensor_value(
      lu_nn_view(n->work[0], n->xoff[i] + n->stride[i], &n->shape[i]));
}

LU_DEFUN(nn_nmodules, "(nn-nmodules NET)", "The number of modules of NET.") {
  (void)argc;
  return lu_number(lu_nn_arg_net(argv, 0)->nmod);
}

LU_DEFUN(nn_modules, "(nn-modules NET)",
         "The list of NET's modules, in order (Lisp modules as the objects "
         "they are).") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  LuValue *l = lu_nil;
  for (int i = n->nmod - 1; i >= 0; i--)
    l = lu_cons(n->mod[i]->obj ? n->mod[i]->obj : n->mod[i]->self, l);
  return l;
}

LU_DEFUN(nn_shape, "(nn-shape NET [I])",
         "The shape of state I of NET as a list (default: the output; 0 is "
         "the input).") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  int i = lu_arg_given(argv, argc, 1) ? state_index(argv, n) : n->nmod;
  return shape_list(&n->shape[i]);
}

static NnModule *arg_placed_module(LuValue **argv, int i) {
  NnModule *m = lu_arg_cdata(argv, i, &lu_nn_module_ctype);
  if (!m->net)
    lu_error("%s: the %s module is not in a net yet (see nn-seq)", lu_caller(),
             m->ops->kind);
  return m;
}

LU_DEFUN(nn_weights, "(nn-weights MODULE)",
         "A view of MODULE's weights in its net's flat vector: [connections "
         "K K] for a convolution, [NOUT inputs] for a fully connected "
         "module; () for a module without parameters.") {
  (void)argc;
  NnModule *m = arg_placed_module(argv, 0);
  if (!m->np)
    return lu_nil;
  NnShape s;
  if (m->ops == &conv_ops) {
    long d[3] = {m->conv.nconn, m->conv.kh, m->conv.kw};
    s = shape_make(3, d);
  } else {
    long d[2] = {m->nout, m->nin};
    s = shape_make(2, d);
  }
  return param_view(m->net, 0, m->poff, &s);
}

LU_DEFUN(nn_biases, "(nn-biases MODULE)",
         "A view of MODULE's biases in its net's flat vector: [NOUT], or "
         "[NOUT rows cols] for a convolution with one bias per unit; () for "
         "a module without parameters.") {
  (void)argc;
  NnModule *m = arg_placed_module(argv, 0);
  if (!m->np)
    return lu_nil;
  NnShape s = m->out;
  if (m->ops == &conv_ops && !m->conv.bias_unit)
    s = shape_make(1, &m->out.dim[0]);
  return param_view(m->net, 0, m->poff + m->nw, &s);
}

LU_DEFUN(nn_init, "(nn-init NET A [BIAS])",
         "Initialises NET's parameters: each weight uniform in [-A/sqrt(F), "
         "A/sqrt(F)] with F the fan-in of the unit it feeds, each bias BIAS "
         "(default 0). Draws from the generator that (seed N) seeds. "
         "Returns NET.") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  double a = lu_arg_num(argv, 1);
  double b = lu_arg_given(argv, argc, 2) ? lu_arg_num(argv, 2) : 0;
  lu_nn_init_params(n, a, b);
  return argv[0];
}

LU_DEFUN(nn_mode, "(nn-mode NET [MODE])",
         "NET's mode, 'train or 'eval; with MODE, sets it first. In "
         "training mode dropout and random shifts act; nn-train-pass always "
         "trains and nn-evaluate always evaluates, whatever the mode.") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  if (lu_arg_given(argv, argc, 1)) {
    const char *s = lu_arg_sym(argv, 1)->sym.name;
    if (strcmp(s, "train") && strcmp(s, "eval"))
      lu_arg_error(1, "'train or 'eval", argv[1]);
    n->train = !strcmp(s, "train");
  }
  return lu_intern(n->train ? "train" : "eval");
}

static void module_describe(NnModule *m, LuBuf *b) {
  if (m->ops->describe)
    m->ops->describe(m, b);
  else
    lu_buf_puts(b, m->ops->kind);
}

LU_DEFUN(nn_summary, "(nn-summary NET)",
         "Prints NET's table: for each module its output shape, parameters, "
         "connections (weighted links, biases included) and multiply-adds "
         "per forward pass, then the totals. Returns the list (params "
         "connections mult-adds).") {
  (void)argc;
  LuNet *n = lu_nn_arg_net(argv, 0);
  long tp = 0, tc = 0, tm = 0;
  printf("%-5s %-42s %-12s %8s %12s %12s\n", "layer", "module", "output",
         "params", "connections", "mult-adds");
  printf("%-5s %-42s %-12s\n", "", "input", lu_nn_shape_cstr(&n->shape[0]));
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    LuBuf b;
    lu_buf_init(&b);
    module_describe(m, &b);
    printf("%-5d %-42s %-12s %8ld %12ld %12ld\n", i + 1, b.s,
           lu_nn_shape_cstr(&n->shape[i + 1]), m->np, m->conns, m->macs);
    tp += m->np, tc += m->conns, tm += m->macs;
  }
  printf("%-5s %-42s %-12s %8ld %12ld %12ld\n", "", "total", "", tp, tc, tm);
  fflush(stdout);
  return lu_list(3, lu_number((double)tp), lu_number((double)tc),
                 lu_number((double)tm));
}

LU_DEFUN(nn_reference, "(nn-reference [FLAG])",
         "Whether nets use the plain reference kernels instead of the "
         "optimised ones (for tests and debugging); with FLAG, sets it.") {
  if (argc > 0)
    lu_nn_use_reference = !LU_ISNIL(argv[0]);
  return LU_BOOL(lu_nn_use_reference);
}

static LuBuiltin *const net_builtins[] = {
    &nn_tanh_builtin,    &nn_stanh_builtin,        &nn_relu_builtin,
    &nn_conv_builtin,    &nn_full_table_builtin,   &nn_linear_builtin,
    &nn_dropout_builtin, &nn_random_shift_builtin, &nn_logsoftmax_builtin,
    &nn_softmax_builtin, &nn_seq_builtin,          &nn_fprop_builtin,
    &nn_bprop_builtin,   &nn_bbprop_builtin,       &nn_params_builtin,
    &nn_grads_builtin,   &nn_hessian_builtin,      &nn_rates_builtin,
    &nn_nparams_builtin, &nn_clear_grads_builtin,  &nn_clear_hessian_builtin,
    &nn_state_builtin,   &nn_state_grad_builtin,   &nn_nmodules_builtin,
    &nn_modules_builtin, &nn_shape_builtin,        &nn_weights_builtin,
    &nn_biases_builtin,  &nn_init_builtin,         &nn_mode_builtin,
    &nn_summary_builtin, &nn_reference_builtin,    NULL};

void lu_net_open(void) {
  lu_register(net_builtins);
  lu_nn_train_open();
}
