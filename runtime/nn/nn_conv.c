/* nn_conv.c: the convolution module (nn-conv): a connection table between
   input and output planes, stride, padding, per-map or per-unit biases;
   its geometry is fixed when the net is built, and its kernels are in
   nn_conv_kernels.c and nn_conv_direct.c. Also nn-full-table. */
#include "nn_batch.h"
#include "nn_impl.h"

#include <string.h>

/* The module's own fields: the geometry, and the user's (in, out) pairs
   (table_n of them; none: every input plane to every output plane). */
typedef struct {
  LuConvGeom g;
  int *table, table_n;
} Conv;

static Conv *conv_of(const NnModule *m) {
  return m->data;
}

/* Sets g's connections (nconn, cin, cout) from m's table, all pairs by
   default, sorted by (out, in): the flat order of the weights. Raises on
   an input plane the input does not have or a pair given twice. */
static void conv_connections(NnModule *m, const NnShape *in) {
  LuConvGeom *g = &conv_of(m)->g;
  int n = conv_of(m)->table_n ? conv_of(m)->table_n : g->nin * g->nout;
  int *cin = lu_alloc_atomic(sizeof(int) * (size_t)n, "nn-conv");
  int *cout = lu_alloc_atomic(sizeof(int) * (size_t)n, "nn-conv");
  for (int c = 0; c < n; c++) {
    cin[c] = conv_of(m)->table_n ? conv_of(m)->table[2 * c] : c % g->nin;
    cout[c] = conv_of(m)->table_n ? conv_of(m)->table[2 * c + 1] : c / g->nin;
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
  LuConvGeom *g = &conv_of(m)->g;
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
  m->batch = g->dense;
  m->redo_scratch = true;
  m->macs = n * g->kk * g->npos;
  m->conns = m->macs + (long)g->nout * g->npos;
  m->steps = g->dense;
  long d[3] = {g->nout, g->oh, g->ow};
  *out = lu_nn_shape_make(3, d);
}

/* c->nb examples, c->ws floats apart (see NnCtx): more than one only for
   a conv that runs as a linear layer (g->dense), which batches. The
   reference kernels still unfold x into the scratch, so that a fast bprop
   after a reference fprop finds what it needs. */
static void conv_fprop(NnCtx *c, const float *x, float *y) {
  NnModule *m = c->m;
  const LuConvGeom *g = &conv_of(m)->g;
  if (!c->ref && c->nb > 1) {
    lu_nn_linear_fprop_batch(g->nin * g->kk, g->nout, c->w, c->w + m->nw,
                             (int)c->nb, x, c->ws, y, m->fuse, c->y2);
    return;
  }
  if (!c->ref) {
    lu_nn_conv_fprop(g, c->w, c->w + m->nw, x, y, m->fuse, c->y2, c->scratch);
    return;
  }
  for (long e = 0, at = 0; e < c->nb; e++, at += c->ws) {
    lu_nn_conv_unfold(g, x + at, c->scratch + at);
    lu_nn_ref_conv_fprop(g, c->w, c->w + m->nw, x + at, y + at);
    if (m->fuse != LU_SQ_NONE)
      lu_nn_ref_squash(m->fuse, y + at, c->y2 + at, m->out.n);
  }
}

static void conv_bprop(NnCtx *c, const float *x, const float *y,
                       const float *dy, float *dx) {
  (void)y;
  NnModule *m = c->m;
  const LuConvGeom *g = &conv_of(m)->g;
  if (c->sgd) { /* m->steps: the kernel is a linear one */
    lu_nn_linear_bprop_step(g->nin * g->kk, g->nout, c->w, x, dy, dx, c->sgd);
    return;
  }
  if (!c->ref && c->nb > 1) {
    lu_nn_linear_bprop_batch(g->nin * g->kk, g->nout, c->w, (int)c->nb, x, dy,
                             dx, c->ws, c->dw, c->dw + m->nw);
    return;
  }
  if (!c->ref) {
    if (c->shared_scratch)
      lu_nn_conv_unfold(g, x, c->scratch);
    lu_nn_conv_bprop(g, c->w, x, dy, dx, c->dw, c->dw + m->nw, c->scratch);
    return;
  }
  for (long e = 0, at = 0; e < c->nb; e++, at += c->ws)
    lu_nn_ref_conv_bprop(g, c->w, x + at, dy + at, dx ? dx + at : NULL, c->dw,
                         c->dw + m->nw);
}

static void conv_bbprop(NnCtx *c, const float *x, const float *y,
                        const float *ddy, float *ddx) {
  (void)y;
  NnModule *m = c->m;
  const LuConvGeom *g = &conv_of(m)->g;
  if (c->ref) {
    lu_nn_ref_conv_bbprop(g, c->w, x, ddy, ddx, c->ddw, c->ddw + m->nw);
    return;
  }
  if (c->shared_scratch)
    lu_nn_conv_unfold(g, x, c->scratch);
  lu_nn_conv_bbprop(g, c->w, x, ddy, ddx, c->ddw, c->ddw + m->nw, c->scratch);
}

/* Weights U(-a/sqrt(F), a/sqrt(F)) with F each output map's fan-in. */
static void conv_init(NnModule *m, float *w, double a, double bias) {
  const LuConvGeom *g = &conv_of(m)->g;
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
  const LuConvGeom *g = &conv_of(m)->g;
  lu_buf_printf(b, "conv %dx%d/%d", g->kh, g->kw, g->stride);
  if (g->pad)
    lu_buf_printf(b, " pad %d (%g)", g->pad, g->padval);
  if (conv_of(m)->table_n)
    lu_buf_printf(b, " table %d", g->nconn);
  if (g->bias_unit)
    lu_buf_puts(b, " unit-bias");
}

/* Weights [connections K K]; biases [NOUT], or [NOUT rows cols] per unit. */
static int conv_params(const NnModule *m, NnShape shape[NN_MAXPARAMS]) {
  const LuConvGeom *g = &conv_of(m)->g;
  long w[3] = {g->nconn, g->kh, g->kw};
  shape[0] = lu_nn_shape_make(3, w);
  shape[1] = g->bias_unit ? m->out : lu_nn_shape_make(1, &m->out.dim[0]);
  return 2;
}

/* Weights as PyTorch's Conv2d has them, [NOUT NIN K K], with zeros where
   the table connects nothing. */
static long *conv_exchange(const NnModule *m, int k, NnShape *shape) {
  const LuConvGeom *g = &conv_of(m)->g;
  if (k != 0)
    return NULL;
  long d[4] = {g->nout, g->nin, g->kh, g->kw};
  *shape = lu_nn_shape_make(4, d);
  long *map = lu_alloc_atomic(sizeof(long) * (size_t)shape->n, "nn-export");
  for (long i = 0; i < shape->n; i++)
    map[i] = -1;
  for (long c = 0; c < g->nconn; c++)
    for (long t = 0; t < g->kk; t++)
      map[((long)g->cout[c] * g->nin + g->cin[c]) * g->kk + t] = c * g->kk + t;
  return map;
}

static const NnOps conv_ops = {.kind = "conv",
                               .flags = NN_FUSES_SQUASH,
                               .setup = conv_setup,
                               .fprop = conv_fprop,
                               .bprop = conv_bprop,
                               .bbprop = conv_bbprop,
                               .init = conv_init,
                               .describe = conv_describe,
                               .params = conv_params,
                               .exchange = conv_exchange};

static int table_entry(LuValue *v, int which) {
  if (!LU_IS(v, LU_NUMBER) || LU_NUM(v) < 0 || LU_NUM(v) > 1e6 ||
      LU_NUM(v) != (int)LU_NUM(v))
    lu_error("nn-conv: connection table: %s plane %s is not a plane number",
             which ? "output" : "input", lu_repr_limit(v, 60));
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
               lu_repr_limit(tab, 60));
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
               lu_repr_limit(tab, 60));
    n = (int)lu_length(tab);
    t = lu_alloc_atomic(sizeof(int) * 2 * (size_t)(n ? n : 1), "nn-conv");
    int i = 0;
    for (LuValue *l = tab; !LU_ISNIL(l); l = LU_CDR(l), i++) {
      LuValue *p = LU_CAR(l);
      if (!LU_IS(p, LU_CONS) || lu_length(p) != 2)
        lu_error("nn-conv: connection table: expected (in out), got %s",
                 lu_repr_limit(p, 60));
      t[2 * i] = table_entry(LU_CAR(p), 0);
      t[2 * i + 1] = table_entry(LU_CAR(LU_CDR(p)), 1);
    }
  }
  for (int i = 0; i < n; i++)
    if (t[2 * i + 1] >= nout)
      lu_error("nn-conv: the connection table names output plane %d, but the "
               "module has %d output planes",
               t[2 * i + 1], nout);
  conv_of(m)->table = t;
  conv_of(m)->table_n = n;
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
  NnModule *m = lu_nn_module_new(&conv_ops, sizeof(Conv));
  LuConvGeom *g = &conv_of(m)->g;
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

static LuBuiltin *const conv_builtins[] = {&nn_conv_builtin,
                                           &nn_full_table_builtin, NULL};

void lu_nn_conv_open(void) {
  lu_register(conv_builtins);
}
