/* nn_export.c: a net's parameters as named tensors for other programs:
   nn-export writes them as a safetensors file (safetensors.c), nn-import
   reads them back. Owns the naming rule and the layouts, both derived
   from the module interface alone (kinds, params, exchange, nets, the
   slots of Lisp modules), so that every module family exports without a
   line here:
   - The modules of a net that have parameters of their own are numbered
     1, 2, ... in order (a module used again and modules without
     parameters are skipped), and named by the first letter of their kind
     and that number, as LeNet-5 names its layers C1, S2, C3...: c1, s2.
   - A parameter tensor of a module is NAME.weight or NAME.bias (weights,
     then biases, as nn-weights and nn-biases give them); a parameter of a
     Lisp module (nn-parameter) is NAME.SLOT, its slot's name.
   - The modules of a container's net are named under NAME. (n3.c1.weight),
     and with several branches under NAME.B. for branch B (c2.1.l1.weight).
   - Tensors keep their own shapes, except where the module gives
     PyTorch's layout (exchange): a convolution's weights are [out in K K],
     0 where its table connects nothing.
   - After a module's parameters come its buffers, state saved but not
     trained, under the names the module gives them: b3.running_mean and
     b3.running_var for batch norm, as PyTorch's state_dict names them
     (nn-buffers lists them; PyTorch's num_batches_tracked, which lush89
     does not keep, is neither written nor required). */
#include "io.h"
#include "nn_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One tensor of the file: its name and shape there, and where its values
   are: w as it is, or element i at w[map[i]] (0 where map[i] is -1). For a
   buffer, buffer is the module's tensor (w its data). */
typedef struct {
  const char *name;
  NnShape shape;
  float *w;
  const long *map;
  LuTensor *buffer;
} Entry;

typedef struct {
  Entry *e;
  int n, cap;
} Entries;

static void add(Entries *l, Entry e) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 16;
    Entry *grown = lu_alloc(sizeof(Entry) * (size_t)l->cap);
    if (l->n)
      memcpy(grown, l->e, sizeof(Entry) * (size_t)l->n);
    l->e = grown;
  }
  l->e[l->n++] = e;
}

/* printf into a new GC string. */
__attribute__((format(printf, 1, 2))) static const char *text(const char *fmt,
                                                              ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = lu_alloc_atomic((size_t)n + 1, "nn-export");
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* The name of the first slot of m's object holding parameter p. */
static const char *slot_name(const NnModule *m, const NnParam *p) {
  struct LuObject *o = m->obj->obj;
  struct LuClass *k = o->klass->klass;
  for (int i = 0; i < k->nslots; i++)
    if (lu_nn_param_of(o->slots[i]) == p)
      return k->slots[i]->sym.name;
  abort(); /* setup listed p from these slots */
}

/* Adds the tensors of module m of net n, named NAME.weight, NAME.bias and
   NAME.SLOT. Raises when they do not account for all its parameters. */
static void module_entries(Entries *l, LuNet *n, NnModule *m,
                           const char *name) {
  NnShape shape[NN_MAXPARAMS];
  int np = m->ops->params ? m->ops->params(m, shape) : 0;
  long off = 0;
  for (int k = 0; k < np; k++) {
    Entry e = {text("%s.%s", name, off < m->nw ? "weight" : "bias"), shape[k],
               n->pw + m->poff + off, NULL, NULL};
    if (m->ops->exchange)
      e.map = m->ops->exchange(m, k, &e.shape);
    if (!e.map)
      e.shape = shape[k];
    add(l, e);
    off += shape[k].n;
  }
  for (int j = 0; j < m->nlparam; j++) {
    if (m->lpoff[j] < 0)
      continue; /* an earlier module's, exported there */
    NnParam *p = m->lparam[j];
    LuTensor *t = p->value->cdata.ptr;
    add(l, (Entry){text("%s.%s", name, slot_name(m, p)),
                   lu_nn_shape_make(t->ndim, t->dim),
                   n->pw + m->poff + m->lpoff[j], NULL, NULL});
    off += p->n;
  }
  if (off != m->np)
    lu_error("%s: module %s (%s) describes %ld of its %ld parameters",
             lu_caller(), name, m->ops->kind, off, m->np);
  LuTensor *buf[NN_MAXPARAMS];
  const char *names[NN_MAXPARAMS];
  int nb = m->ops->buffers ? m->ops->buffers(m, buf, names) : 0;
  for (int k = 0; k < nb; k++)
    add(l, (Entry){text("%s.%s", name, names[k]),
                   lu_nn_shape_make(buf[k]->ndim, buf[k]->dim),
                   lu_tensor_data(buf[k]), NULL, buf[k]});
}

/* Adds the tensors of net n, their names starting with prefix. */
static void net_entries(Entries *l, LuNet *n, const char *prefix) {
  int pos = 0;
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    if (m->tie || (m->np == 0 && !m->ops->buffers))
      continue;
    const char *name = text("%s%c%d", prefix, m->ops->kind[0], ++pos);
    LuNet **inner;
    int k = lu_nn_inner(m, &inner);
    for (int b = 0; b < k; b++)
      net_entries(l, inner[b],
                  k > 1 ? text("%s.%d.", name, b + 1) : text("%s.", name));
    if (k == 0)
      module_entries(l, n, m, name);
  }
}

/* The tensors of net n, as named in the file. */
static Entries tensors_of(LuNet *n) {
  Entries l = {NULL, 0, 0};
  net_entries(&l, n, "");
  return l;
}

/* ---- Export ------------------------------------------------------------ */

/* Arguments NET and FILE of nn-export and nn-import: NET's tensors, the
   file's name in *path. */
static Entries net_and_path(LuValue **argv, const char **path) {
  Entries l = tensors_of(lu_nn_arg_net(argv, 0));
  *path = lu_arg_str(argv, 1);
  return l;
}

LU_DEFUN(nn_export, "(nn-export NET FILE)",
         "Writes NET's parameters as the safetensors file FILE (atomically), "
         "one F32 tensor per parameter tensor of each module, loadable by "
         "PyTorch (safetensors.torch.load_file). Names: the modules with "
         "parameters of their own are numbered 1, 2, ... in order and named "
         "by the first letter of their kind and that number, as LeNet-5 "
         "names its layers (c1 a conv, s2 a subsample, c3, ..., l6 a "
         "linear); their tensors are NAME.weight and NAME.bias, or NAME.SLOT "
         "for a Lisp module's nn-parameter. The modules of a container are "
         "named under it (n3.c1.weight), under NAME.B. for branch B of a "
         "concat (c2.1.l1.weight). Shapes are PyTorch's: a conv's weights "
         "[out in K K], zero where its table connects nothing; linear "
         "[out in]; other tensors keep their shapes (per-unit biases [out "
         "rows cols]). After a module's parameters come its buffers (see "
         "nn-buffers) under PyTorch's names: b3.running_mean and "
         "b3.running_var of a batch norm (PyTorch's load_state_dict fills "
         "in num_batches_tracked, not kept here). A module used twice is "
         "written once. Returns FILE; see nn-import.") {
  const char *path;
  Entries l = net_and_path(argv, &path);
  LuNamedTensor *t = lu_alloc(sizeof *t * (size_t)(l.n + 1));
  for (int i = 0; i < l.n; i++) {
    Entry *e = &l.e[i];
    LuTensor *x =
        lu_tensor_make(LU_FLOAT, e->shape.ndim, e->shape.dim, NULL, NULL, 0);
    float *d = lu_tensor_data(x);
    for (long j = 0; j < e->shape.n; j++)
      d[j] = !e->map ? e->w[j] : e->map[j] < 0 ? 0 : e->w[e->map[j]];
    t[i] = (LuNamedTensor){e->name, x};
  }
  static const char *const meta[] = {"format", "pt"};
  lu_safetensors_save("nn-export", path, t, l.n, meta, 1);
  return argv[1];
}

/* ---- Import ------------------------------------------------------------ */

/* Index i of a tensor of shape s, as "[a b c]". */
static const char *index_text(const NnShape *s, long i) {
  long idx[LU_MAXDIM];
  for (int d = s->ndim - 1; d >= 0; d--) {
    idx[d] = i % s->dim[d];
    i /= s->dim[d];
  }
  LuBuf b;
  lu_buf_init(&b);
  for (int d = 0; d < s->ndim; d++)
    lu_buf_printf(&b, d ? " %ld" : "[%ld", idx[d]);
  lu_buf_puts(&b, "]");
  return b.s;
}

/* Checks that the file's tensor x fits entry e: F32, e's shape, and 0
   wherever the module has no parameter. */
static void check_tensor(const char *path, const Entry *e, const LuTensor *x) {
  if (x->st->elem != LU_FLOAT)
    lu_error("nn-import: %s: tensor \"%s\" is %s, expected F32 (float)", path,
             e->name, lu_elem_name(x->st->elem));
  NnShape s = lu_nn_shape_make(x->ndim, x->dim);
  if (s.ndim != e->shape.ndim ||
      memcmp(s.dim, e->shape.dim, sizeof(long) * (size_t)s.ndim))
    lu_error("nn-import: %s: tensor \"%s\" has shape %s, the net's %s", path,
             e->name, lu_nn_shape_cstr(&s), lu_nn_shape_cstr(&e->shape));
  const float *d = lu_tensor_data(x);
  for (long j = 0; e->map && j < s.n; j++)
    if (e->map[j] < 0 && d[j] != 0)
      lu_error("nn-import: %s: tensor \"%s\" holds %g at %s, where the "
               "module has no connection (it must be 0)",
               path, e->name, (double)d[j], index_text(&s, j));
}

/* Whether name is PyTorch's NAME.num_batches_tracked of a module of l
   that has NAME.running_mean: a count lush89 does not keep, skipped. */
static bool batches_tracked(const Entries *l, const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || strcmp(dot, ".num_batches_tracked") != 0)
    return false;
  const char *mean = text("%.*s.running_mean", (int)(dot - name), name);
  for (int j = 0; j < l->n; j++)
    if (l->e[j].buffer && strcmp(l->e[j].name, mean) == 0)
      return true;
  return false;
}

LU_DEFUN(nn_import, "(nn-import NET FILE)",
         "Reads NET's parameters from the safetensors file FILE, as "
         "nn-export writes them: the file must hold exactly the tensors "
         "nn-export would write for NET (its buffers included; a batch "
         "norm's num_batches_tracked from PyTorch is ignored), with their "
         "names, dtype F32 and shapes, and zeros where a conv's table "
         "connects nothing. Any "
         "difference is an error naming the file and the tensor, and then "
         "NET is unchanged. Returns NET.") {
  const char *path;
  Entries l = net_and_path(argv, &path);
  int nf;
  LuNamedTensor *f = lu_safetensors_load("nn-import", path, &nf);
  const LuTensor **src = lu_alloc(sizeof *src * (size_t)(l.n + 1));
  for (int i = 0; i < nf; i++) {
    int j = 0;
    while (j < l.n && strcmp(l.e[j].name, f[i].name) != 0)
      j++;
    if (j == l.n && batches_tracked(&l, f[i].name))
      continue;
    if (j == l.n)
      lu_error("nn-import: %s: tensor \"%s\" is not a parameter of the net "
               "(its first is \"%s\")",
               path, f[i].name, l.n ? l.e[0].name : "none");
    check_tensor(path, &l.e[j], f[i].t);
    src[j] = f[i].t;
  }
  for (int j = 0; j < l.n; j++)
    if (!src[j])
      lu_error("nn-import: %s: no tensor \"%s\" (%s)%s", path, l.e[j].name,
               lu_nn_shape_cstr(&l.e[j].shape),
               l.e[j].buffer ? ", a buffer of its module (files exported "
                               "before buffers were kept lack it)"
                             : "");
  for (int j = 0; j < l.n; j++) {
    const Entry *e = &l.e[j];
    const float *d = lu_tensor_data(src[j]);
    for (long k = 0; k < e->shape.n; k++)
      if (!e->map)
        e->w[k] = d[k];
      else if (e->map[k] >= 0)
        e->w[e->map[k]] = d[k];
  }
  return argv[0];
}

/* ---- Buffers ----------------------------------------------------------- */

LU_DEFUN(nn_buffers, "(nn-buffers NET)",
         "The state of NET's modules that is saved with the parameters but "
         "not trained (batch norm's running mean and variance), as a list "
         "of (NAME . TENSOR) pairs in module order, named as nn-export "
         "names them (\"b3.running_mean\"); the tensors are the modules' "
         "own (writing into them changes the net). () for a net without "
         "any. nn-save, nn-load and the checkpoints of a run keep them.") {
  (void)argc;
  Entries l = tensors_of(lu_nn_arg_net(argv, 0));
  LuValue *out = lu_nil;
  for (int j = l.n - 1; j >= 0; j--)
    if (l.e[j].buffer)
      out = lu_cons(lu_cons(lu_string(l.e[j].name, strlen(l.e[j].name)),
                            lu_tensor_value(l.e[j].buffer)),
                    out);
  return out;
}

static LuBuiltin *const export_builtins[] = {
    &nn_export_builtin, &nn_import_builtin, &nn_buffers_builtin, NULL};

void lu_nn_export_open(void) {
  lu_register(export_builtins);
}
