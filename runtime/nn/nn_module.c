/* nn_module.c: what every module family uses: the nn-module value, shapes
   (making, printing, parsing, comparing), and reading tensors of any
   element type into the floats of a net's states. */
#include "nn_impl.h"

#include <stdio.h>
#include <string.h>

/* ---- The module value ---------------------------------------------------- */

static void module_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  NnModule *m = v->cdata.ptr;
  lu_buf_printf(b, "#<nn-module %s", m->ops->kind);
  if (m->net)
    lu_buf_printf(b, " %ld params", m->np);
  lu_buf_puts(b, ">");
}

const LuCType lu_nn_module_ctype = {"nn-module", module_print, NULL, NULL};

NnModule *lu_nn_module_new(const NnOps *ops, size_t data) {
  NnModule *m = lu_alloc(sizeof *m);
  m->ops = ops;
  m->data = data ? lu_alloc(data) : NULL;
  m->self = lu_cdata(&lu_nn_module_ctype, m);
  return m;
}

/* ---- Shapes ------------------------------------------------------------ */

static void shape_str(LuBuf *b, const NnShape *s) {
  lu_buf_puts(b, "[");
  for (int i = 0; i < s->ndim; i++)
    lu_buf_printf(b, i ? " %ld" : "%ld", s->dim[i]);
  lu_buf_puts(b, "]");
}

const char *lu_nn_shape_cstr(const NnShape *s) {
  LuBuf b;
  lu_buf_init(&b);
  shape_str(&b, s);
  return b.s;
}

int lu_nn_inner(const NnModule *m, LuNet ***nets) {
  return m->ops->nets ? m->ops->nets(m, nets) : 0;
}

NnShape lu_nn_shape_make(int ndim, const long *dim) {
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

/* Parses a shape from a list of positive integers; raises on anything
   else, a dotted or circular list included. */
NnShape lu_nn_shape_arg(LuValue **argv, int i) {
  LuValue *l = lu_arg_list(argv, i);
  lu_length(l); /* raises on a dotted or circular list before the walk */
  NnShape s = {.n = 1};
  for (; !LU_ISNIL(l); l = LU_CDR(l)) {
    LuValue *d = LU_CAR(l);
    /* written so that NaN fails before the cast */
    if (!LU_IS(d, LU_NUMBER) || !(LU_NUM(d) >= 1 && LU_NUM(d) <= 1e9) ||
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

/* A tensor of shape s viewing base's storage from element off of base. */
LuTensor *lu_nn_view(LuTensor *base, long off, const NnShape *s) {
  return lu_nn_view_batch(base, off, 0, 0, s);
}

LuTensor *lu_nn_view_batch(LuTensor *base, long off, long nb, long ws,
                           const NnShape *s) {
  long dim[LU_MAXDIM], mod[LU_MAXDIM];
  int lead = nb > 0, nd = s->ndim + lead;
  if (nd > LU_MAXDIM) /* a batch of 8-D states: flattened */
    nd = 2;
  long m = 1;
  for (int i = nd - 1; i >= lead; i--) {
    dim[i] = nd == s->ndim + lead ? s->dim[i - lead] : s->n;
    mod[i] = m;
    m *= dim[i];
  }
  if (lead)
    dim[0] = nb, mod[0] = ws;
  return lu_tensor_make(LU_FLOAT, nd, dim, base, mod, base->offset + off);
}

/* ---- Reading tensors of any element type into floats ----------------- */

/* Copies the elements of t from dimension d on, at storage offset base,
   into dst in row-major order, converted to float. Rows go through the
   tensor convert kernel; d == t->ndim (a single element) is a row of one. */
static void gather_rec(const LuTensor *t, int d, long base, float **dst) {
  if (d >= t->ndim - 1) {
    long n = d < t->ndim ? t->dim[d] : 1, step = d < t->ndim ? t->mod[d] : 1;
    const char *row =
        (const char *)t->st->data + base * (long)lu_elem_size(t->st->elem);
    lu_tensor_kconvert(LU_FLOAT, n, *dst, 1, t->st->elem, row, step);
    *dst += n;
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
    NnShape ts = lu_nn_shape_make(t->ndim, t->dim);
    lu_error("%s: expected a tensor of shape %s, got %s", who,
             lu_nn_shape_cstr(s), lu_nn_shape_cstr(&ts));
  }
  lu_nn_read(t, 0, t->offset, dst);
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
