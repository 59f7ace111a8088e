/* tensor.c: the tensor value. Owns typed storage and the strided index
   over it (LuTensor): the one constructor, views, shapes, the walker that
   runs kernels over tensors of one shape as 1-D runs, copies between
   tensors (overlapping views included), the value Lisp sees (printing,
   (m i j) access, equal), the argument helpers of the tensor builtins, and
   the opening of the tensor room: its builtins are in literal.c (making
   and asking), ops.c (one table of element-wise operations, reductions
   and fills), views.c (views and loops), linalg.c and image.c. The element
   types and kernels are in kernels.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "idx_impl.h"

/* ---- Storage, the constructor, shapes --------------------------------- */

long lu_tensor_nelem(const LuTensor *t) {
  long n = 1;
  for (int d = 0; d < t->ndim; d++)
    n *= t->dim[d];
  return n;
}

void *lu_tensor_data(const LuTensor *t) {
  return (char *)t->st->data + t->offset * idx_size(idx_elem(t));
}

bool lu_tensor_contiguous(const LuTensor *t) {
  long m = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->dim[d] != 1 && t->mod[d] != m)
      return t->dim[d] == 0 || lu_tensor_nelem(t) == 0;
    m *= t->dim[d];
  }
  return true;
}

/* Row-major strides for a new tensor of shape dim, a size 0 counting as
   1; false when they overflow (only an empty tensor can get there). */
static bool contiguous_mods(int ndim, const long *dim, long *mod) {
  long m = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    mod[d] = m;
    if (__builtin_mul_overflow(m, dim[d] ? dim[d] : 1, &m))
      return false;
  }
  return true;
}

/* Whether (|offset| + the sum over d of dim[d] * |mod[d]|) * size fits in
   a long. Every tensor passes (the constructor sees to it, empty ones
   included), so any offset + the sum over d of i[d] * mod[d] with
   0 <= i[d] <= dim[d], in elements or in bytes, fits too: views, loops,
   walks and kernels compute offsets with plain arithmetic. */
static bool reach_fits(int ndim, const long *dim, const long *mod, long offset,
                       long size) {
  if (offset == LONG_MIN)
    return false;
  long r = offset < 0 ? -offset : offset;
  for (int d = 0; d < ndim; d++) {
    long x;
    if (__builtin_mul_overflow(dim[d], mod[d], &x) || x == LONG_MIN ||
        __builtin_add_overflow(r, x < 0 ? -x : x, &r))
      return false;
  }
  return !__builtin_mul_overflow(r, size, &r);
}

/* Lowest and highest element offset a view reaches (its nelem > 0), or
   false on overflow. */
static bool view_span(int ndim, const long *dim, const long *mod, long offset,
                      long *lo, long *hi) {
  *lo = *hi = offset;
  for (int d = 0; d < ndim; d++) {
    long reach;
    if (__builtin_mul_overflow(dim[d] - 1, mod[d], &reach))
      return false;
    if (__builtin_add_overflow(reach < 0 ? *lo : *hi, reach,
                               reach < 0 ? lo : hi))
      return false;
  }
  return true;
}

static void fill_view_check(int ndim, const long *dim, const LuTensor *view,
                            const long *mod, long offset, long n) {
  long lo, hi;
  bool ok = n == 0 ? offset >= 0 && (size_t)offset <= view->st->n
                   : view_span(ndim, dim, mod, offset, &lo, &hi) && lo >= 0 &&
                         (size_t)hi < view->st->n;
  if (!ok)
    lu_error("%s: view reaches outside its storage of %zu elements",
             lu_caller(), view->st->n);
}

noreturn static void too_large(int ndim, const long *dim) {
  lu_error("%s: shape %s is too large to index", lu_caller(),
           idx_shape_of(ndim, dim));
}

LuTensor *lu_tensor_make(LuElem elem, int ndim, const long *dim,
                         const LuTensor *view, const long *mod, long offset) {
  if ((unsigned)elem > LU_UBYTE)
    lu_error("%s: bad element type %d", lu_caller(), (int)elem);
  if (ndim < 0 || ndim > LU_MAXDIM)
    lu_error("%s: %d dimensions, at most %d allowed", lu_caller(), ndim,
             LU_MAXDIM);
  long n = 1;
  bool overflow = false;
  for (int d = 0; d < ndim; d++) {
    if (dim[d] < 0)
      lu_error("%s: dimension %d is negative (%ld)", lu_caller(), d, dim[d]);
    overflow |= __builtin_mul_overflow(n, dim[d], &n);
  }
  LuTensor *t = lu_alloc(sizeof *t);
  t->ndim = ndim;
  for (int d = 0; d < ndim; d++) /* dim may be NULL when ndim is 0 */
    t->dim[d] = dim[d];
  if (view) {
    if (idx_elem(view) != elem)
      lu_error("%s: a %s view of %s storage", lu_caller(), lu_elem_name(elem),
               lu_elem_name(idx_elem(view)));
    if (!mod && !contiguous_mods(ndim, dim, t->mod))
      too_large(ndim, dim);
    for (int d = 0; mod && d < ndim; d++)
      t->mod[d] = mod[d];
    fill_view_check(ndim, dim, view, t->mod, offset, overflow ? 1 : n);
    if (overflow ||
        !reach_fits(ndim, dim, t->mod, offset, (long)lu_elem_size(elem)))
      too_large(ndim, dim);
    t->st = view->st;
    t->offset = offset;
    return t;
  }
  size_t bytes;
  if (overflow || __builtin_mul_overflow((size_t)n, lu_elem_size(elem), &bytes))
    lu_error("%s: %s requested, more than this machine has", lu_caller(),
             idx_shape_of(ndim, dim));
  if (!contiguous_mods(ndim, dim, t->mod))
    too_large(ndim, dim);
  LuStorage *st = lu_alloc(sizeof *st);
  st->data = lu_alloc_atomic(bytes, lu_caller());
  memset(st->data, 0, bytes);
  st->elem = elem;
  st->n = (size_t)n;
  t->st = st;
  t->offset = 0;
  return t;
}

/* A new contiguous zeroed tensor of elem with t's shape. */
LuTensor *idx_like(const LuTensor *t, LuElem elem) {
  return lu_tensor_make(elem, t->ndim, t->dim, NULL, NULL, 0);
}

LuTensor *idx_view(const LuTensor *t, int ndim, const long *dim,
                   const long *mod, long offset) {
  return lu_tensor_make(idx_elem(t), ndim, dim, t, mod, offset);
}

LuValue *lu_tensor_value(LuTensor *t) {
  return lu_cdata(&lu_tensor_ctype, t);
}

LuTensor *lu_arg_tensor(LuValue **argv, int i) {
  return lu_arg_cdata(argv, i, &lu_tensor_ctype);
}

static long flat_offset(const LuTensor *t, const long *idx) {
  long off = t->offset;
  for (int d = 0; d < t->ndim; d++)
    off += idx[d] * t->mod[d];
  return off;
}

double lu_tensor_get(const LuTensor *t, const long *idx) {
  return lu_elem_get(idx_elem(t), t->st->data, flat_offset(t, idx));
}

void lu_tensor_set(LuTensor *t, const long *idx, double x) {
  lu_elem_set(idx_elem(t), t->st->data, flat_offset(t, idx), x);
}

static void shape_to(char *s, size_t cap, int ndim, const long *dim) {
  size_t len = (size_t)snprintf(s, cap, "[");
  for (int d = 0; d < ndim && len < cap; d++)
    len += (size_t)snprintf(s + len, cap - len, d ? "x%ld" : "%ld", dim[d]);
  if (len < cap)
    snprintf(s + len, cap - len, "]");
}

const char *idx_shape_of(int ndim, const long *dim) {
  char s[LU_MAXDIM * 21 + 3];
  shape_to(s, sizeof s, ndim, dim);
  char *r = lu_alloc_atomic(strlen(s) + 1, lu_caller());
  return strcpy(r, s);
}

const char *lu_tensor_shape_string(const LuTensor *t) {
  return idx_shape_of(t->ndim, t->dim);
}

bool idx_dims_equal(const LuTensor *t, int ndim, const long *dim) {
  if (t->ndim != ndim)
    return false;
  for (int d = 0; d < ndim; d++) /* dim may be NULL when ndim is 0 */
    if (t->dim[d] != dim[d])
      return false;
  return true;
}

bool lu_tensor_same_shape(const LuTensor *a, const LuTensor *b) {
  return idx_dims_equal(a, b->ndim, b->dim);
}

noreturn void idx_shapes_differ(int ndim, const long *dim, const LuTensor *t) {
  lu_error("%s: shapes %s and %s differ", lu_caller(), idx_shape_of(ndim, dim),
           lu_tensor_shape_string(t));
}

void idx_check_same_shape(const LuTensor *a, const LuTensor *b) {
  if (!lu_tensor_same_shape(a, b))
    idx_shapes_differ(a->ndim, a->dim, b);
}

/* ---- Walks ------------------------------------------------------------- */

/* Up to 3 tensors of one shape, seen as an odometer over outer dimensions
   and runs along the innermost one. Size-1 dimensions are dropped and a
   dimension is merged into the next when every operand is contiguous
   across the two, so contiguous tensors make one long run. Runs go in
   row-major order of the logical indices. */
typedef struct {
  int k, nd;
  long dim[LU_MAXDIM];
  long mod[3][LU_MAXDIM]; /* in elements */
  long size[3];
  char *p[3];
} Walk;

/* False when the tensors are empty. */
static inline bool walk_init(Walk *w, int k, LuTensor *const *t) {
  const LuTensor *t0 = t[0];
  w->k = k;
  w->nd = 0;
  for (int i = 0; i < k; i++) {
    w->p[i] = lu_tensor_data(t[i]);
    w->size[i] = idx_size(idx_elem(t[i]));
  }
  if (lu_tensor_nelem(t0) == 0)
    return false;
  for (int d = 0; d < t0->ndim; d++) {
    if (t0->dim[d] == 1)
      continue;
    bool merge = w->nd > 0;
    for (int i = 0; i < k && merge; i++)
      merge = w->mod[i][w->nd - 1] == t[i]->mod[d] * t0->dim[d];
    if (merge)
      w->dim[w->nd - 1] *= t0->dim[d];
    else
      w->dim[w->nd++] = t0->dim[d];
    for (int i = 0; i < k; i++)
      w->mod[i][w->nd - 1] = t[i]->mod[d];
  }
  if (w->nd == 0) {
    w->nd = 1;
    w->dim[0] = 1;
    for (int i = 0; i < k; i++)
      w->mod[i][0] = 1;
  }
  return true;
}

/* Calls fn on every innermost run of w in row-major order, at most
   IDX_CHUNK elements per call, polling for Ctrl-C between calls. */
static inline void walk_run(Walk *w, LuRunFn fn, void *ctx) {
  int in = w->nd - 1;
  long idx[LU_MAXDIM] = {0}, s[3];
  char *p[3], *q[3];
  for (int i = 0; i < w->k; i++) {
    s[i] = w->mod[i][in];
    p[i] = w->p[i];
  }
  for (;;) {
    for (long off = 0; off < w->dim[in]; off += IDX_CHUNK) {
      long n = w->dim[in] - off < IDX_CHUNK ? w->dim[in] - off : IDX_CHUNK;
      for (int i = 0; i < w->k; i++)
        q[i] = p[i] + off * s[i] * w->size[i];
      fn(ctx, n, q, s);
      lu_poll();
    }
    int d = in - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < w->dim[d]) {
        for (int i = 0; i < w->k; i++)
          p[i] += w->mod[i][d] * w->size[i];
        break;
      }
      for (int i = 0; i < w->k; i++)
        p[i] -= w->mod[i][d] * (w->dim[d] - 1) * w->size[i];
      idx[d] = 0;
    }
    if (d < 0)
      return;
  }
}

__attribute__((always_inline)) static inline void
walk(int k, LuTensor *const *t, LuRunFn fn, void *ctx) {
  Walk w;
  if (walk_init(&w, k, t))
    walk_run(&w, fn, ctx);
}

/* One copy of the walk per operand count, each with its loops over the
   operands unrolled: the walk is most of the cost of an operation on a
   small tensor. */
void lu_tensor_walk(int k, LuTensor *const *t, LuRunFn fn, void *ctx) {
  switch (k) {
  case 1:
    walk(1, t, fn, ctx);
    break;
  case 2:
    walk(2, t, fn, ctx);
    break;
  default:
    walk(3, t, fn, ctx);
  }
}

static void run_fill(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  lu_tensor_kfill(x->e, n, p[0], s[0], x->x);
}

static void run_convert(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  lu_tensor_kconvert(x->e, n, p[0], s[0], x->ea, p[1], s[1]);
}

/* Address range of a view in bytes, for overlap tests. */
static void byte_span(const LuTensor *t, char **lo, char **hi) {
  long l = t->offset, h = t->offset;
  if (lu_tensor_nelem(t) > 0)
    view_span(t->ndim, t->dim, t->mod, t->offset, &l, &h);
  long size = idx_size(idx_elem(t));
  *lo = (char *)t->st->data + l * size;
  *hi = (char *)t->st->data + (h + 1) * size;
}

/* True when writing dst could change src before it is read: they share
   memory, and, for an element-wise operation (which reads each element
   before writing it), they are not the very same view. */
static bool hazard(const LuTensor *src, const LuTensor *dst, bool elementwise) {
  if (src->st != dst->st)
    return false;
  if (elementwise && src->offset == dst->offset &&
      lu_tensor_same_shape(src, dst) &&
      !memcmp(src->mod, dst->mod, sizeof(long) * src->ndim))
    return false;
  char *slo, *shi, *dlo, *dhi;
  byte_span(src, &slo, &shi);
  byte_span(dst, &dlo, &dhi);
  return slo < dhi && dlo < shi;
}

/* A contiguous copy of t with element type e. */
LuTensor *idx_copy_as(const LuTensor *t, LuElem e) {
  LuTensor *c = idx_like(t, e);
  IdxCtx x = {.e = e, .ea = idx_elem(t)};
  lu_tensor_walk(2, (LuTensor *[]){c, (LuTensor *)t}, run_convert, &x);
  return c;
}

/* t as an operand of type e of an element-wise operation writing dst. */
LuTensor *idx_operand(LuTensor *t, LuElem e, const LuTensor *dst) {
  return idx_elem(t) != e || (dst && hazard(t, dst, true)) ? idx_copy_as(t, e)
                                                           : t;
}

/* t as an input of type e to an operation writing dst in any order. */
LuTensor *idx_input(LuTensor *t, LuElem e, const LuTensor *dst) {
  return idx_elem(t) != e || hazard(t, dst, false) ? idx_copy_as(t, e) : t;
}

void lu_tensor_copy(LuTensor *dst, const LuTensor *src) {
  idx_check_same_shape(src, dst);
  LuTensor *s = idx_operand((LuTensor *)src, idx_elem(src), dst);
  IdxCtx x = {.e = idx_elem(dst), .ea = idx_elem(s)};
  lu_tensor_walk(2, (LuTensor *[]){dst, s}, run_convert, &x);
}

void idx_fill_all(LuTensor *t, double v) {
  IdxCtx x = {.e = idx_elem(t), .x = v};
  lu_tensor_walk(1, &t, run_fill, &x);
}

/* Where a result of type e is computed before it goes into out: out
   itself when it has type e. */
LuTensor *idx_dst_for(LuTensor *out, LuElem e) {
  return idx_elem(out) == e ? out : idx_like(out, e);
}

/* Converts dst, made by idx_dst_for, into out. */
void idx_dst_done(LuTensor *out, LuTensor *dst) {
  if (dst != out)
    lu_tensor_copy(out, dst);
}

/* Writes the result of an element walk into out: the nin inputs become
   type-e operands that out may be written over, the walk runs on a
   type-e destination, converted into out if out has another type. */
void idx_map_into(LuTensor *out, int nin, LuTensor **in, LuElem e, LuRunFn fn,
                  IdxCtx *ctx) {
  LuTensor *dst = idx_dst_for(out, e);
  LuTensor *ops[3] = {dst};
  for (int i = 0; i < nin; i++)
    ops[i + 1] = idx_operand(in[i], e, dst);
  ctx->e = e;
  lu_tensor_walk(nin + 1, ops, fn, ctx);
  idx_dst_done(out, dst);
}

/* ---- The Lisp value: printing, access, equality ------------------------ */

static void print_elem(LuBuf *b, LuElem e, const void *data, long off) {
  double x = lu_elem_get(e, data, off);
  if (e == LU_FLOAT && isfinite(x)) {
    /* the shortest decimal that reads back to the same float */
    char s[32];
    for (int prec = 1; prec <= 9; prec++) {
      snprintf(s, sizeof s, "%.*g", prec, x);
      if ((float)strtod(s, NULL) == (float)x)
        break;
    }
    x = strtod(s, NULL);
  }
  lu_print_number(b, x);
}

/* Prints the elements of t from dimension d on, at storage offset off,
   as space-separated values, inner dimensions in brackets. */
static void print_values(LuBuf *b, const LuTensor *t, int d, long off) {
  for (long i = 0; i < t->dim[d]; i++) {
    if (i)
      lu_buf_puts(b, " ");
    if (d == t->ndim - 1)
      print_elem(b, idx_elem(t), t->st->data, off + i * t->mod[d]);
    else {
      lu_buf_puts(b, "[");
      print_values(b, t, d + 1, off + i * t->mod[d]);
      lu_buf_puts(b, "]");
    }
  }
}

/* Whether t prints as its values: at most 100 elements and 100 brackets,
   and a shape that [...] literals can express (no zero but the last). */
static bool prints_values(const LuTensor *t) {
  if (t->ndim == 0)
    return false;
  long rows = 1;
  for (int d = 0; d < t->ndim - 1; d++) {
    if (t->dim[d] == 0)
      return false;
    rows *= t->dim[d];
    if (rows > 100)
      return false;
  }
  return lu_tensor_nelem(t) <= 100;
}

/* Small tensors print as literals that evaluate back to an equal tensor:
   [[1 2] [3 4]], with the type first unless float: ['int 1 2]; a 0-d one
   as the call that makes it, (list->matrix 3) or (list->matrix 3 'int),
   there being no literal for it. Larger ones print a summary:
   [float 7291x16x16]. */
static void tensor_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  const LuTensor *t = v->cdata.ptr;
  LuElem e = idx_elem(t);
  if (t->ndim == 0) {
    lu_buf_puts(b, "(list->matrix ");
    print_elem(b, e, t->st->data, t->offset);
    if (e != LU_FLOAT)
      lu_buf_printf(b, " '%s", lu_elem_name(e));
    lu_buf_puts(b, ")");
  } else if (prints_values(t)) {
    lu_buf_puts(b, "[");
    if (e != LU_FLOAT)
      lu_buf_printf(b, "'%s%s", lu_elem_name(e), t->dim[0] ? " " : "");
    print_values(b, t, 0, t->offset);
    lu_buf_puts(b, "]");
  } else {
    char s[LU_MAXDIM * 21 + 3];
    shape_to(s, sizeof s, t->ndim, t->dim);
    s[strlen(s) - 1] = 0;
    lu_buf_printf(b, "[%s %s]", lu_elem_name(e), t->ndim ? s + 1 : "");
  }
}

/* (m i j) reads an element, (m i j v) writes v and returns it. */
static LuValue *tensor_call(LuValue *v, LuValue **argv, int argc) {
  LuTensor *t = v->cdata.ptr;
  if (argc != t->ndim && argc != t->ndim + 1)
    lu_error("tensor %s: %d indices (and a value to write) expected, got %d "
             "arguments",
             lu_tensor_shape_string(t), t->ndim, argc);
  long idx[LU_MAXDIM];
  for (int d = 0; d < t->ndim; d++) {
    LuValue *a = argv[d];
    if (!LU_IS(a, LU_NUMBER) || LU_NUM(a) != floor(LU_NUM(a)))
      lu_error("tensor %s: index %d: expected an integer, got %s",
               lu_tensor_shape_string(t), d + 1, lu_repr_limit(a, 60));
    double i = LU_NUM(a);
    if (i < 0 || i >= (double)t->dim[d])
      lu_error("tensor %s: index %s out of range for dimension %d of size "
               "%ld",
               lu_tensor_shape_string(t), lu_repr_limit(a, 60), d, t->dim[d]);
    idx[d] = (long)i;
  }
  if (argc == t->ndim)
    return lu_number(lu_tensor_get(t, idx));
  LuValue *x = argv[argc - 1];
  if (!LU_IS(x, LU_NUMBER))
    lu_error("tensor %s: value to write: expected a number, got %s",
             lu_tensor_shape_string(t), lu_repr_limit(x, 60));
  lu_tensor_set(t, idx, LU_NUM(x));
  return x;
}

static void run_equal(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  for (long i = 0; i < n && x->acc != 0; i++)
    if (lu_elem_get(x->e, p[0], i * s[0]) != lu_elem_get(x->e, p[1], i * s[1]))
      x->acc = 0;
}

/* Equal: same element type, same shape, equal elements (NaN differs). */
static bool tensor_equal(LuValue *a, LuValue *b) {
  if (!idx_is_tensor(b))
    return false;
  LuTensor *s = a->cdata.ptr, *t = b->cdata.ptr;
  if (idx_elem(s) != idx_elem(t) || !lu_tensor_same_shape(s, t))
    return false;
  IdxCtx x = {.e = idx_elem(s), .acc = 1};
  lu_tensor_walk(2, (LuTensor *[]){s, t}, run_equal, &x);
  return x.acc != 0;
}

const LuCType lu_tensor_ctype = {"tensor", tensor_print, tensor_call,
                                 tensor_equal};

bool idx_is_tensor(LuValue *v) {
  return LU_IS(v, LU_CDATA) && v->cdata.ctype == &lu_tensor_ctype;
}

/* ---- Argument helpers -------------------------------------------------- */

/* Argument i: one of the symbols float double int ubyte. */
LuElem idx_arg_elem(LuValue **argv, int i) {
  if (LU_IS(argv[i], LU_SYMBOL))
    for (LuElem e = LU_FLOAT; e <= LU_UBYTE; e++)
      if (!strcmp(argv[i]->sym.name, lu_elem_name(e)))
        return e;
  lu_arg_error(i, "float, double, int or ubyte", argv[i]);
}

/* Argument i as a number: a number or a 0-d tensor. */
double idx_arg_scalar(LuValue **argv, int i) {
  if (idx_is_tensor(argv[i])) {
    LuTensor *t = argv[i]->cdata.ptr;
    if (t->ndim == 0)
      return lu_tensor_get(t, NULL);
  }
  if (!LU_IS(argv[i], LU_NUMBER))
    lu_arg_error(i, "number or 0-d tensor", argv[i]);
  return LU_NUM(argv[i]);
}

/* A dimension number of t, 0 <= d < ndim. */
int idx_arg_dimno(LuValue **argv, int i, const LuTensor *t) {
  long d = lu_arg_int(argv, i);
  if (d < 0 || d >= t->ndim)
    lu_error("%s: dimension %ld out of range for a %d-d tensor", lu_caller(), d,
             t->ndim);
  return (int)d;
}

/* The output argument i when given (a tensor of exactly that shape, of any
   type), else a new zeroed tensor of type e. */
LuTensor *idx_out_arg(LuValue **argv, int argc, int i, LuElem e, int ndim,
                      const long *dim) {
  if (!lu_arg_given(argv, argc, i))
    return lu_tensor_make(e, ndim, dim, NULL, NULL, 0);
  LuTensor *o = lu_arg_tensor(argv, i);
  if (!idx_dims_equal(o, ndim, dim))
    idx_shapes_differ(ndim, dim, o);
  return o;
}

LuValue *idx_out_value(LuValue **argv, int argc, int i, LuTensor *out) {
  return lu_arg_given(argv, argc, i) ? argv[i] : lu_tensor_value(out);
}

/* Dimensions from arguments from..argc-1: integers, or one list of them
   (a list is only taken when it is the sole argument: a list followed by
   more arguments is a type error, not a list walked past its end). */
int idx_dims_args(LuValue **argv, int argc, int from, long *dim) {
  LuValue *list = NULL;
  if (argc - from == 1 &&
      (LU_IS(argv[from], LU_CONS) || LU_ISNIL(argv[from]))) {
    list = argv[from];
    argc = from + (int)lu_length(list); /* raises on a dotted list */
  }
  if (argc - from > LU_MAXDIM)
    lu_error("%s: %d dimensions, at most %d allowed", lu_caller(), argc - from,
             LU_MAXDIM);
  for (int d = 0; d < argc - from; d++) {
    if (list) {
      LuValue *x = LU_CAR(list);
      list = LU_CDR(list);
      dim[d] = lu_arg_int(&x, 0);
    } else
      dim[d] = lu_arg_int(argv, from + d);
  }
  return argc - from;
}

/* ---- Opening ----------------------------------------------------------- */

void lu_tensor_open(void) {
  lu_register(idx_literal_builtins);
  lu_register(idx_op_builtins);
  lu_register(idx_view_builtins);
  lu_register(idx_linalg_builtins);
  lu_register(idx_image_builtins);
}
