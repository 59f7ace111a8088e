/* tensor.c: tensors ("idx"). Owns typed storage and the strided index over
   it (LuTensor), the value Lisp sees (printing, (m i j) access, equal), and
   every tensor builtin except files and pictures (runtime/io/).

   Layers, bottom up (the element types and kernels are in kernels.c):
   - walks: run a kernel over tensors of one shape as 1-D runs, merging
     dimensions where the layout allows, polling for Ctrl-C between runs;
   - builtins: check arguments and shapes, promote types, call the above. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "idx_impl.h"

/* ---- Tensors ---------------------------------------------------------- */

static const char *shape_of(int ndim, const long *dim);

/* The builtin being called, for messages ("lush89" outside any). */
static const char *who(void) {
  return lu_caller();
}

static LuElem elem_of(const LuTensor *t) {
  return t->st->elem;
}

long lu_tensor_nelem(const LuTensor *t) {
  long n = 1;
  for (int d = 0; d < t->ndim; d++)
    n *= t->dim[d];
  return n;
}

void *lu_tensor_data(const LuTensor *t) {
  return (char *)t->st->data + t->offset * (long)lu_elem_size(elem_of(t));
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

static void contiguous_mods(int ndim, const long *dim, long *mod) {
  long m = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    mod[d] = m;
    m *= dim[d] ? dim[d] : 1;
  }
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
    lu_error("%s: view reaches outside its storage of %zu elements", who(),
             view->st->n);
}

LuTensor *lu_tensor_make(LuElem elem, int ndim, const long *dim,
                         const LuTensor *view, const long *mod, long offset) {
  if ((unsigned)elem > LU_UBYTE)
    lu_error("%s: bad element type %d", who(), (int)elem);
  if (ndim < 0 || ndim > LU_MAXDIM)
    lu_error("%s: %d dimensions, at most %d allowed", who(), ndim, LU_MAXDIM);
  long n = 1;
  bool overflow = false;
  for (int d = 0; d < ndim; d++) {
    if (dim[d] < 0)
      lu_error("%s: dimension %d is negative (%ld)", who(), d, dim[d]);
    overflow |= __builtin_mul_overflow(n, dim[d], &n);
  }
  LuTensor *t = lu_alloc(sizeof *t);
  t->ndim = ndim;
  memcpy(t->dim, dim, sizeof(long) * ndim);
  if (view) {
    if (elem_of(view) != elem)
      lu_error("%s: a %s view of %s storage", who(), lu_elem_name(elem),
               lu_elem_name(elem_of(view)));
    if (mod)
      memcpy(t->mod, mod, sizeof(long) * ndim);
    else
      contiguous_mods(ndim, dim, t->mod);
    fill_view_check(ndim, dim, view, t->mod, offset, overflow ? 1 : n);
    t->st = view->st;
    t->offset = offset;
    return t;
  }
  size_t bytes;
  if (overflow || __builtin_mul_overflow((size_t)n, lu_elem_size(elem), &bytes))
    lu_error("%s: %s requested, more than this machine has", who(),
             shape_of(ndim, dim));
  LuStorage *st = lu_alloc(sizeof *st);
  st->data = lu_alloc_atomic(bytes, who());
  memset(st->data, 0, bytes);
  st->elem = elem;
  st->n = (size_t)n;
  t->st = st;
  t->offset = 0;
  contiguous_mods(ndim, dim, t->mod);
  return t;
}

/* A new contiguous zeroed tensor of elem with t's shape. */
static LuTensor *make_like(const LuTensor *t, LuElem elem) {
  return lu_tensor_make(elem, t->ndim, t->dim, NULL, NULL, 0);
}

static LuTensor *make_view(const LuTensor *t, int ndim, const long *dim,
                           const long *mod, long offset) {
  return lu_tensor_make(elem_of(t), ndim, dim, t, mod, offset);
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
  return lu_elem_get(elem_of(t), t->st->data, flat_offset(t, idx));
}

void lu_tensor_set(LuTensor *t, const long *idx, double x) {
  lu_elem_set(elem_of(t), t->st->data, flat_offset(t, idx), x);
}

static void shape_to(char *s, size_t cap, int ndim, const long *dim) {
  size_t len = (size_t)snprintf(s, cap, "[");
  for (int d = 0; d < ndim && len < cap; d++)
    len += (size_t)snprintf(s + len, cap - len, d ? "x%ld" : "%ld", dim[d]);
  if (len < cap)
    snprintf(s + len, cap - len, "]");
}

static const char *shape_of(int ndim, const long *dim) {
  char s[LU_MAXDIM * 21 + 3];
  shape_to(s, sizeof s, ndim, dim);
  char *r = lu_alloc_atomic(strlen(s) + 1, who());
  return strcpy(r, s);
}

const char *lu_tensor_shape_string(const LuTensor *t) {
  return shape_of(t->ndim, t->dim);
}

static bool dims_equal(const LuTensor *t, int ndim, const long *dim) {
  return t->ndim == ndim && !memcmp(t->dim, dim, sizeof(long) * ndim);
}

bool lu_tensor_same_shape(const LuTensor *a, const LuTensor *b) {
  return dims_equal(a, b->ndim, b->dim);
}

noreturn static void shapes_differ(int ndim, const long *dim,
                                   const LuTensor *t) {
  lu_error("%s: shapes %s and %s differ", who(), shape_of(ndim, dim),
           lu_tensor_shape_string(t));
}

static void check_same_shape(const LuTensor *a, const LuTensor *b) {
  if (!lu_tensor_same_shape(a, b))
    shapes_differ(a->ndim, a->dim, b);
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

enum { RUN_CHUNK = 1 << 16 }; /* longest run between two polls */

/* False when the tensors are empty. */
static bool walk_init(Walk *w, int k, LuTensor *const *t) {
  const LuTensor *t0 = t[0];
  w->k = k;
  w->nd = 0;
  for (int i = 0; i < k; i++) {
    w->p[i] = lu_tensor_data(t[i]);
    w->size[i] = (long)lu_elem_size(elem_of(t[i]));
  }
  for (int d = 0; d < t0->ndim; d++) {
    if (t0->dim[d] == 0)
      return false;
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
   RUN_CHUNK elements per call, polling for Ctrl-C between calls. */
static void walk_run(Walk *w, LuRunFn fn, void *ctx) {
  int in = w->nd - 1;
  long idx[LU_MAXDIM] = {0}, s[3];
  char *p[3], *q[3];
  for (int i = 0; i < w->k; i++) {
    s[i] = w->mod[i][in];
    p[i] = w->p[i];
  }
  for (;;) {
    for (long off = 0; off < w->dim[in]; off += RUN_CHUNK) {
      long n = w->dim[in] - off < RUN_CHUNK ? w->dim[in] - off : RUN_CHUNK;
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

void lu_tensor_walk(int k, LuTensor *const *t, LuRunFn fn, void *ctx) {
  Walk w;
  if (walk_init(&w, k, t))
    walk_run(&w, fn, ctx);
}

/* What a run needs: an operation (an LuBinop, LuUnop or LuReduce, or a
   flag: normal, min), element types (e: the operands', ea: a converted
   source's), scalars, and the state of a reduction: the value so far, and
   for argmax the elements seen and the best index. */
typedef struct {
  int op;
  LuElem e, ea;
  double x, y;
  double acc;
  long seen, best;
} Ctx;

static void run_binop(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  lu_tensor_kbinop(x->op, x->e, n, p[0], s[0], p[1], s[1], p[2], s[2]);
}

static void run_unop(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  lu_tensor_kunop(x->op, x->e, n, p[0], s[0], p[1], s[1]);
}

static void run_affine(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  lu_tensor_kaffine(x->e, n, p[0], s[0], p[1], s[1], x->x, x->y);
}

static void run_fill(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  lu_tensor_kfill(x->e, n, p[0], s[0], x->x);
}

static void run_convert(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  lu_tensor_kconvert(x->e, n, p[0], s[0], x->ea, p[1], s[1]);
}

/* Address range of a view in bytes, for overlap tests. */
static void byte_span(const LuTensor *t, char **lo, char **hi) {
  long l = t->offset, h = t->offset;
  if (lu_tensor_nelem(t) > 0)
    view_span(t->ndim, t->dim, t->mod, t->offset, &l, &h);
  long size = (long)lu_elem_size(elem_of(t));
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
static LuTensor *copy_as(const LuTensor *t, LuElem e) {
  LuTensor *c = make_like(t, e);
  Ctx x = {.e = e, .ea = elem_of(t)};
  lu_tensor_walk(2, (LuTensor *[]){c, (LuTensor *)t}, run_convert, &x);
  return c;
}

/* t as an operand of type e of an element-wise operation writing dst. */
static LuTensor *operand(LuTensor *t, LuElem e, const LuTensor *dst) {
  return elem_of(t) != e || (dst && hazard(t, dst, true)) ? copy_as(t, e) : t;
}

/* t as an input of type e to an operation writing dst in any order. */
static LuTensor *input(LuTensor *t, LuElem e, const LuTensor *dst) {
  return elem_of(t) != e || hazard(t, dst, false) ? copy_as(t, e) : t;
}

void lu_tensor_copy(LuTensor *dst, const LuTensor *src) {
  check_same_shape(src, dst);
  LuTensor *s = operand((LuTensor *)src, elem_of(src), dst);
  Ctx x = {.e = elem_of(dst), .ea = elem_of(s)};
  lu_tensor_walk(2, (LuTensor *[]){dst, s}, run_convert, &x);
}

static void fill(LuTensor *t, double v) {
  Ctx x = {.e = elem_of(t), .x = v};
  lu_tensor_walk(1, &t, run_fill, &x);
}

/* Writes the result of an element walk into out: the nin inputs become
   type-e operands that out may be written over, the walk runs on a
   type-e destination, converted into out if out has another type. */
static void map_into(LuTensor *out, int nin, LuTensor **in, LuElem e,
                     LuRunFn fn, Ctx *ctx) {
  LuTensor *dst = elem_of(out) == e ? out : make_like(out, e);
  LuTensor *ops[3] = {dst};
  for (int i = 0; i < nin; i++)
    ops[i + 1] = operand(in[i], e, dst);
  ctx->e = e;
  lu_tensor_walk(nin + 1, ops, fn, ctx);
  if (dst != out)
    lu_tensor_copy(out, dst);
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
      print_elem(b, elem_of(t), t->st->data, off + i * t->mod[d]);
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
   [[1 2] [3 4]], with the type first unless float: ['int 1 2]. Larger
   ones print a summary: [float 7291x16x16]; 0-d ones [float scalar 3]. */
static void tensor_print(LuBuf *b, LuValue *v, bool readably) {
  (void)readably;
  const LuTensor *t = v->cdata.ptr;
  LuElem e = elem_of(t);
  if (t->ndim == 0) {
    lu_buf_printf(b, "[%s scalar ", lu_elem_name(e));
    print_elem(b, e, t->st->data, t->offset);
    lu_buf_puts(b, "]");
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
               lu_tensor_shape_string(t), d + 1, lu_repr(a, true));
    double i = LU_NUM(a);
    if (i < 0 || i >= (double)t->dim[d])
      lu_error("tensor %s: index %s out of range for dimension %d of size "
               "%ld",
               lu_tensor_shape_string(t), lu_repr(a, true), d, t->dim[d]);
    idx[d] = (long)i;
  }
  if (argc == t->ndim)
    return lu_number(lu_tensor_get(t, idx));
  LuValue *x = argv[argc - 1];
  if (!LU_IS(x, LU_NUMBER))
    lu_error("tensor %s: value to write: expected a number, got %s",
             lu_tensor_shape_string(t), lu_repr(x, true));
  lu_tensor_set(t, idx, LU_NUM(x));
  return x;
}

static void run_equal(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  for (long i = 0; i < n && x->acc != 0; i++)
    if (lu_elem_get(x->e, p[0], i * s[0]) != lu_elem_get(x->e, p[1], i * s[1]))
      x->acc = 0;
}

/* Equal: same element type, same shape, equal elements (NaN differs). */
static bool tensor_equal(LuValue *a, LuValue *b) {
  if (!LU_IS(b, LU_CDATA) || b->cdata.ctype != &lu_tensor_ctype)
    return false;
  LuTensor *s = a->cdata.ptr, *t = b->cdata.ptr;
  if (elem_of(s) != elem_of(t) || !lu_tensor_same_shape(s, t))
    return false;
  Ctx x = {.e = elem_of(s), .acc = 1};
  lu_tensor_walk(2, (LuTensor *[]){s, t}, run_equal, &x);
  return x.acc != 0;
}

const LuCType lu_tensor_ctype = {"tensor", tensor_print, tensor_call,
                                 tensor_equal};

/* ---- Argument helpers -------------------------------------------------- */

static LuValue *elem_symbol(LuElem e) {
  return lu_intern(lu_elem_name(e));
}

/* Argument i: one of the symbols float double int ubyte. */
static LuElem arg_elem(LuValue **argv, int i) {
  if (LU_IS(argv[i], LU_SYMBOL))
    for (LuElem e = LU_FLOAT; e <= LU_UBYTE; e++)
      if (!strcmp(argv[i]->sym.name, lu_elem_name(e)))
        return e;
  lu_arg_error(i, "float, double, int or ubyte", argv[i]);
}

/* Argument i as a number: a number or a 0-d tensor. */
static double arg_scalar(LuValue **argv, int i) {
  if (LU_IS(argv[i], LU_CDATA) && argv[i]->cdata.ctype == &lu_tensor_ctype) {
    LuTensor *t = argv[i]->cdata.ptr;
    if (t->ndim == 0)
      return lu_tensor_get(t, NULL);
  }
  if (!LU_IS(argv[i], LU_NUMBER))
    lu_arg_error(i, "number or 0-d tensor", argv[i]);
  return LU_NUM(argv[i]);
}

/* A dimension number of t, 0 <= d < ndim. */
static int arg_dimno(LuValue **argv, int i, const LuTensor *t) {
  long d = lu_arg_int(argv, i);
  if (d < 0 || d >= t->ndim)
    lu_error("%s: dimension %ld out of range for a %d-d tensor", who(), d,
             t->ndim);
  return (int)d;
}

/* The output argument i when given (a tensor of exactly that shape, of any
   type), else a new zeroed tensor of type e. */
static LuTensor *out_arg(LuValue **argv, int argc, int i, LuElem e, int ndim,
                         const long *dim) {
  if (!lu_arg_given(argv, argc, i))
    return lu_tensor_make(e, ndim, dim, NULL, NULL, 0);
  LuTensor *o = lu_arg_tensor(argv, i);
  if (!dims_equal(o, ndim, dim))
    shapes_differ(ndim, dim, o);
  return o;
}

static LuValue *out_value(LuValue **argv, int argc, int i, LuTensor *out) {
  return lu_arg_given(argv, argc, i) ? argv[i] : lu_tensor_value(out);
}

/* Dimensions from arguments from..argc-1: integers, or one list of them
   (a list is only taken when it is the sole argument: a list followed by
   more arguments is a type error, not a list walked past its end). */
static int dims_args(LuValue **argv, int argc, int from, long *dim) {
  LuValue *list = NULL;
  if (argc - from == 1 &&
      (LU_IS(argv[from], LU_CONS) || LU_ISNIL(argv[from]))) {
    list = argv[from];
    argc = from + (int)lu_length(list); /* raises on a dotted list */
  }
  if (argc - from > LU_MAXDIM)
    lu_error("%s: %d dimensions, at most %d allowed", who(), argc - from,
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

/* ---- Constructors and conversions --------------------------------------- */

static LuValue *make_builtin(LuElem e, LuValue **argv, int argc) {
  long dim[LU_MAXDIM];
  int nd = dims_args(argv, argc, 0, dim);
  return lu_tensor_value(lu_tensor_make(e, nd, dim, NULL, NULL, 0));
}

LU_DEFUN(float_matrix, "(float-matrix D...)",
         "A new float tensor of dimensions D... (integers, or one list of "
         "them), zero-filled. (float-matrix) is 0-d.") {
  return make_builtin(LU_FLOAT, argv, argc);
}

LU_DEFUN(double_matrix, "(double-matrix D...)",
         "A new double tensor of dimensions D..., zero-filled.") {
  return make_builtin(LU_DOUBLE, argv, argc);
}

LU_DEFUN(int_matrix, "(int-matrix D...)",
         "A new tensor of 32-bit ints of dimensions D..., zero-filled.") {
  return make_builtin(LU_INT, argv, argc);
}

LU_DEFUN(ubyte_matrix, "(ubyte-matrix D...)",
         "A new tensor of unsigned bytes of dimensions D..., zero-filled.") {
  return make_builtin(LU_UBYTE, argv, argc);
}

LU_DEFUN(matrix, "(matrix D...)", "Same as float-matrix.") {
  return make_builtin(LU_FLOAT, argv, argc);
}

static bool is_tensor(LuValue *v) {
  return LU_IS(v, LU_CDATA) && v->cdata.ctype == &lu_tensor_ctype;
}

LU_DEFUN(idx_literal, "(idx-literal [TYPE] X...)",
         "What the reader makes of [X...]. Numbers give a 1-D tensor; "
         "tensors of one shape are stacked along a new first dimension. "
         "TYPE, a quoted symbol (['int 1 2]), sets the element type; "
         "without it numbers give float and tensors keep their type.") {
  int from = argc > 0 && LU_IS(argv[0], LU_SYMBOL) ? 1 : 0;
  LuElem e = from ? arg_elem(argv, 0) : LU_FLOAT;
  long n = argc - from;
  if (n > 0 && is_tensor(argv[from])) {
    LuTensor *first = lu_arg_tensor(argv, from);
    LuElem te = elem_of(first);
    for (int i = from; i < argc; i++) {
      LuTensor *t = lu_arg_tensor(argv, i);
      check_same_shape(first, t);
      te = idx_promote(te, elem_of(t));
    }
    if (first->ndim == LU_MAXDIM)
      lu_error("%s: stacking makes more than %d dimensions", who(), LU_MAXDIM);
    long dim[LU_MAXDIM] = {n};
    memcpy(dim + 1, first->dim, sizeof(long) * first->ndim);
    LuTensor *r =
        lu_tensor_make(from ? e : te, first->ndim + 1, dim, NULL, NULL, 0);
    long rest = lu_tensor_nelem(first);
    for (int i = from; i < argc; i++)
      lu_tensor_copy(
          make_view(r, first->ndim, first->dim, NULL, (i - from) * rest),
          lu_arg_tensor(argv, i));
    return lu_tensor_value(r);
  }
  LuTensor *r = lu_tensor_make(e, 1, &n, NULL, NULL, 0);
  for (long i = 0; i < n; i++)
    lu_elem_set(e, r->st->data, i, lu_arg_num(argv, from + i));
  return lu_tensor_value(r);
}

/* The shape of a nested list: descends through first elements. */
static int list_shape(LuValue *l, long *dim) {
  int nd = 0;
  while (LU_IS(l, LU_CONS) || (LU_ISNIL(l) && nd == 0)) {
    if (nd == LU_MAXDIM)
      lu_error("%s: nested deeper than %d levels", who(), LU_MAXDIM);
    dim[nd++] = lu_length(l);
    if (LU_ISNIL(l))
      break;
    l = LU_CAR(l);
  }
  return nd;
}

/* Stores the numbers of nested list l (depth d of t) into t, contiguous,
   from element *pos on; raises on a ragged list or a non-number. */
static void list_fill(LuTensor *t, LuValue *l, int d, long *pos) {
  if (d == t->ndim) {
    if (!LU_IS(l, LU_NUMBER))
      lu_error("%s: expected a number, got %s", who(), lu_repr(l, true));
    lu_elem_set(elem_of(t), t->st->data, (*pos)++, LU_NUM(l));
    return;
  }
  if (!(LU_IS(l, LU_CONS) || LU_ISNIL(l)) || lu_length(l) != t->dim[d])
    lu_error("%s: ragged list: expected %ld elements at depth %d, got %s",
             who(), t->dim[d], d, lu_repr(l, true));
  for (; LU_IS(l, LU_CONS); l = LU_CDR(l))
    list_fill(t, LU_CAR(l), d + 1, pos);
}

LU_DEFUN(list_to_matrix, "(list->matrix L [TYPE])",
         "A new tensor from nested lists of numbers (a number gives a 0-d "
         "tensor), of element type TYPE (default float).") {
  long dim[LU_MAXDIM];
  int nd = list_shape(argv[0], dim);
  LuElem e = lu_arg_given(argv, argc, 1) ? arg_elem(argv, 1) : LU_FLOAT;
  LuTensor *t = lu_tensor_make(e, nd, dim, NULL, NULL, 0);
  long pos = 0;
  list_fill(t, argv[0], 0, &pos);
  return lu_tensor_value(t);
}

static LuValue *to_list(const LuTensor *t, int d, long off) {
  if (d == t->ndim)
    return lu_number(lu_elem_get(elem_of(t), t->st->data, off));
  LuValue *l = lu_nil;
  for (long i = t->dim[d] - 1; i >= 0; i--)
    l = lu_cons(to_list(t, d + 1, off + i * t->mod[d]), l);
  return l;
}

LU_DEFUN(matrix_to_list, "(matrix->list M)",
         "M's elements as nested lists of numbers (a number for a 0-d "
         "tensor).") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  return to_list(t, 0, t->offset);
}

LU_DEFUN(copy_matrix, "(copy-matrix M [TYPE])",
         "A new contiguous copy of M, converted to element type TYPE when "
         "given.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  LuElem e = lu_arg_given(argv, argc, 1) ? arg_elem(argv, 1) : elem_of(t);
  return lu_tensor_value(copy_as(t, e));
}

/* ---- Information --------------------------------------------------------- */

LU_DEFUN(tensorp, "(tensorp X)", "t when X is a tensor, else ().") {
  (void)argc;
  return LU_BOOL(is_tensor(argv[0]));
}

LU_DEFUN(idx_type, "(idx-type M)",
         "M's element type: one of the symbols float double int ubyte.") {
  (void)argc;
  return elem_symbol(elem_of(lu_arg_tensor(argv, 0)));
}

LU_DEFUN(idx_ndim, "(idx-ndim M)", "M's number of dimensions.") {
  (void)argc;
  return lu_number(lu_arg_tensor(argv, 0)->ndim);
}

LU_DEFUN(idx_dim, "(idx-dim M D)", "The size of M's dimension D.") {
  (void)argc;
  LuTensor *t = lu_arg_tensor(argv, 0);
  return lu_number((double)t->dim[arg_dimno(argv, 1, t)]);
}

static LuValue *long_list(int n, const long *x) {
  LuValue *l = lu_nil;
  for (int i = n - 1; i >= 0; i--)
    l = lu_cons(lu_number((double)x[i]), l);
  return l;
}

LU_DEFUN(idx_shape, "(idx-shape M)", "M's dimensions, as a list.") {
  (void)argc;
  LuTensor *t = lu_arg_tensor(argv, 0);
  return long_list(t->ndim, t->dim);
}

LU_DEFUN(idx_strides, "(idx-strides M)",
         "M's strides in elements, as a list: views share storage and "
         "differ only in dimensions, strides and offset.") {
  (void)argc;
  LuTensor *t = lu_arg_tensor(argv, 0);
  return long_list(t->ndim, t->mod);
}

LU_DEFUN(idx_nelem, "(idx-nelem M)", "M's number of elements.") {
  (void)argc;
  return lu_number((double)lu_tensor_nelem(lu_arg_tensor(argv, 0)));
}

LU_DEFUN(idx_contiguousp, "(idx-contiguousp M)",
         "t when M's elements are contiguous in row-major order.") {
  (void)argc;
  return LU_BOOL(lu_tensor_contiguous(lu_arg_tensor(argv, 0)));
}

/* ---- Views ----------------------------------------------------------------
 */

/* Checks 0 <= i < size for index i of dimension d. */
static void check_index(long i, int d, long size) {
  if (i < 0 || i >= size)
    lu_error("%s: index %ld out of range for dimension %d of size %ld", who(),
             i, d, size);
}

LU_DEFUN(select_, "(select M D I)",
         "A view of M at index I of dimension D, which it loses: (select m "
         "0 2) is row 2 of a matrix.") {
  (void)argc;
  LuTensor *t = lu_arg_tensor(argv, 0);
  int d = arg_dimno(argv, 1, t);
  long i = lu_arg_int(argv, 2);
  check_index(i, d, t->dim[d]);
  long dim[LU_MAXDIM], mod[LU_MAXDIM];
  for (int s = 0, r = 0; s < t->ndim; s++)
    if (s != d) {
      dim[r] = t->dim[s];
      mod[r++] = t->mod[s];
    }
  return lu_tensor_value(
      make_view(t, t->ndim - 1, dim, mod, t->offset + i * t->mod[d]));
}

LU_DEFUN(narrow, "(narrow M D SIZE [START])",
         "A view of M whose dimension D keeps SIZE indices from START "
         "(default 0).") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  int d = arg_dimno(argv, 1, t);
  long size = lu_arg_int(argv, 2);
  long start = lu_arg_given(argv, argc, 3) ? lu_arg_int(argv, 3) : 0;
  if (size < 0 || start < 0 || start > t->dim[d] - size)
    lu_error("%s: %ld indices from %ld do not fit dimension %d of size %ld",
             who(), size, start, d, t->dim[d]);
  long dim[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  dim[d] = size;
  return lu_tensor_value(
      make_view(t, t->ndim, dim, t->mod, t->offset + start * t->mod[d]));
}

LU_DEFUN(unfold, "(unfold M D SIZE STEP)",
         "A view of M whose dimension D becomes (dim - SIZE) / STEP + 1 "
         "windows, with a new last dimension of SIZE elements along D: "
         "what convolutions loop over.") {
  (void)argc;
  LuTensor *t = lu_arg_tensor(argv, 0);
  int d = arg_dimno(argv, 1, t);
  long size = lu_arg_int(argv, 2), step = lu_arg_int(argv, 3);
  if (size < 1 || size > t->dim[d])
    lu_error("%s: window %ld does not fit dimension %d of size %ld", who(),
             size, d, t->dim[d]);
  if (step < 1)
    lu_error("%s: step %ld is not positive", who(), step);
  if (t->ndim == LU_MAXDIM)
    lu_error("%s: would make more than %d dimensions", who(), LU_MAXDIM);
  long dim[LU_MAXDIM], mod[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  memcpy(mod, t->mod, sizeof mod);
  dim[d] = (t->dim[d] - size) / step + 1;
  mod[d] = t->mod[d] * step;
  dim[t->ndim] = size;
  mod[t->ndim] = t->mod[d];
  return lu_tensor_value(make_view(t, t->ndim + 1, dim, mod, t->offset));
}

LU_DEFUN(idx_transpose, "(idx-transpose M [P] [D2])",
         "A view of M with dimensions reordered: (idx-transpose M) reverses "
         "them (a matrix's transpose), (idx-transpose M D1 D2) swaps two, "
         "(idx-transpose M '(P0 P1 ...)) makes dimension i of the result "
         "dimension Pi of M.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  int perm[LU_MAXDIM];
  for (int d = 0; d < t->ndim; d++)
    perm[d] = t->ndim - 1 - d;
  if (lu_arg_given(argv, argc, 2)) {
    int a = arg_dimno(argv, 1, t), b = arg_dimno(argv, 2, t);
    for (int d = 0; d < t->ndim; d++)
      perm[d] = d == a ? b : d == b ? a : d;
  } else if (lu_arg_given(argv, argc, 1)) {
    LuValue *l = lu_arg_list(argv, 1);
    if (lu_length(l) != t->ndim)
      lu_error("%s: permutation %s of %ld elements for a %d-d tensor", who(),
               lu_repr(l, true), lu_length(l), t->ndim);
    bool seen[LU_MAXDIM] = {false};
    for (int d = 0; d < t->ndim; d++, l = LU_CDR(l)) {
      LuValue *x = LU_CAR(l);
      perm[d] = arg_dimno(&x, 0, t);
      if (seen[perm[d]])
        lu_error("%s: %d appears twice in the permutation", who(), perm[d]);
      seen[perm[d]] = true;
    }
  }
  long dim[LU_MAXDIM], mod[LU_MAXDIM];
  for (int d = 0; d < t->ndim; d++) {
    dim[d] = t->dim[perm[d]];
    mod[d] = t->mod[perm[d]];
  }
  return lu_tensor_value(make_view(t, t->ndim, dim, mod, t->offset));
}

/* Strides that let t's elements, in row-major order, be seen with shape
   (nd, dim); false when t's layout does not allow it. Old dimensions are
   cut into chunks contiguous among themselves; every new dimension must
   fall inside one chunk. */
static bool reshape_mods(const LuTensor *t, int nd, const long *dim,
                         long *mod) {
  if (lu_tensor_nelem(t) == 0 || t->ndim == 0) {
    contiguous_mods(nd, dim, mod);
    return true;
  }
  int v = nd - 1;
  long chunk = 1, vsize = 1, base = t->mod[t->ndim - 1];
  for (int d = t->ndim - 1; d >= 0; d--) {
    chunk *= t->dim[d];
    bool end = d == 0 || (t->dim[d - 1] != 1 && t->mod[d - 1] != chunk * base);
    if (!end)
      continue;
    while (v >= 0 && (vsize < chunk || dim[v] == 1)) {
      mod[v] = vsize * base;
      vsize *= dim[v--];
    }
    if (vsize != chunk)
      return false;
    if (d > 0) {
      base = t->mod[d - 1];
      chunk = vsize = 1;
    }
  }
  return v < 0;
}

LU_DEFUN(idx_reshape, "(idx-reshape M D...)",
         "A view of M's elements, in row-major order, with dimensions D... "
         "(integers or one list; one of them may be -1, inferred). Raises "
         "when M's layout does not allow a view: copy-matrix first.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  long dim[LU_MAXDIM], mod[LU_MAXDIM], n = 1;
  int nd = dims_args(argv, argc, 1, dim), infer = -1;
  for (int d = 0; d < nd; d++) {
    if (dim[d] == -1 && infer < 0)
      infer = d;
    else if (dim[d] < 0)
      lu_error("%s: bad dimension %ld", who(), dim[d]);
    else if (__builtin_mul_overflow(n, dim[d], &n))
      n = -1;
  }
  long total = lu_tensor_nelem(t);
  if (infer >= 0) {
    if (n <= 0 || total % n)
      lu_error("%s: %ld elements cannot take shape %s", who(), total,
               shape_of(nd, dim));
    dim[infer] = total / n;
    n = total;
  }
  if (n != total)
    lu_error("%s: %ld elements cannot take shape %s", who(), total,
             shape_of(nd, dim));
  if (!reshape_mods(t, nd, dim, mod))
    lu_error("%s: the layout of this %s view does not allow shape %s; "
             "copy-matrix first",
             who(), lu_tensor_shape_string(t), shape_of(nd, dim));
  return lu_tensor_value(make_view(t, nd, dim, mod, t->offset));
}

/* ---- Element-wise operations ----------------------------------------------
 */

static LuValue *binop_builtin(LuBinop op, LuValue **argv, int argc) {
  LuTensor *a = lu_arg_tensor(argv, 0), *b = lu_arg_tensor(argv, 1);
  check_same_shape(a, b);
  LuElem e = idx_promote(elem_of(a), elem_of(b));
  if (op == LU_DIV && idx_integral(e))
    e = LU_FLOAT;
  LuTensor *out = out_arg(argv, argc, 2, e, a->ndim, a->dim);
  Ctx c = {.op = op};
  map_into(out, 2, (LuTensor *[]){a, b}, e, run_binop, &c);
  return out_value(argv, argc, 2, out);
}

LU_DEFUN(idx_add, "(idx-add A B [OUT])",
         "A + B element-wise, into OUT or a new tensor. A and B have one "
         "shape; types promote (ubyte < int < float < double); integer "
         "results saturate.") {
  return binop_builtin(LU_ADD, argv, argc);
}

LU_DEFUN(idx_sub, "(idx-sub A B [OUT])", "A - B element-wise; see idx-add.") {
  return binop_builtin(LU_SUB, argv, argc);
}

LU_DEFUN(idx_mul, "(idx-mul A B [OUT])", "A * B element-wise; see idx-add.") {
  return binop_builtin(LU_MUL, argv, argc);
}

LU_DEFUN(idx_div, "(idx-div A B [OUT])",
         "A / B element-wise (IEEE: x/0 is inf); integer tensors give "
         "float. See idx-add.") {
  return binop_builtin(LU_DIV, argv, argc);
}

LU_DEFUN(idx_max, "(idx-max A B [OUT])",
         "The larger of A and B element-wise (NaN wins); see idx-add. "
         "idx-sup is the largest element of one tensor.") {
  return binop_builtin(LU_MAX, argv, argc);
}

LU_DEFUN(idx_min, "(idx-min A B [OUT])",
         "The smaller of A and B element-wise (NaN wins); see idx-add.") {
  return binop_builtin(LU_MIN, argv, argc);
}

/* Unary operations; real ones give float for integer tensors. */
static LuValue *unop_builtin(LuUnop op, LuValue **argv, int argc) {
  LuTensor *a = lu_arg_tensor(argv, 0);
  LuElem e = elem_of(a);
  bool real = op == LU_SQRT || op == LU_EXP || op == LU_LOG || op == LU_TANH;
  if (real && idx_integral(e))
    e = LU_FLOAT;
  LuTensor *out = out_arg(argv, argc, 1, e, a->ndim, a->dim);
  Ctx c = {.op = op};
  map_into(out, 1, &a, e, run_unop, &c);
  return out_value(argv, argc, 1, out);
}

LU_DEFUN(idx_neg, "(idx-neg A [OUT])", "-A element-wise.") {
  return unop_builtin(LU_NEG, argv, argc);
}

LU_DEFUN(idx_abs, "(idx-abs A [OUT])", "|A| element-wise.") {
  return unop_builtin(LU_ABS, argv, argc);
}

LU_DEFUN(idx_sqr, "(idx-sqr A [OUT])", "A squared element-wise.") {
  return unop_builtin(LU_SQR, argv, argc);
}

LU_DEFUN(idx_sqrt, "(idx-sqrt A [OUT])",
         "Square root element-wise (NaN below 0); integer tensors give "
         "float.") {
  return unop_builtin(LU_SQRT, argv, argc);
}

LU_DEFUN(idx_exp, "(idx-exp A [OUT])",
         "e^A element-wise; integer tensors give float.") {
  return unop_builtin(LU_EXP, argv, argc);
}

LU_DEFUN(idx_log, "(idx-log A [OUT])",
         "Natural log element-wise; integer tensors give float.") {
  return unop_builtin(LU_LOG, argv, argc);
}

LU_DEFUN(idx_tanh, "(idx-tanh A [OUT])",
         "tanh element-wise; integer tensors give float.") {
  return unop_builtin(LU_TANH, argv, argc);
}

LU_DEFUN(idx_relu, "(idx-relu A [OUT])", "max(A, 0) element-wise.") {
  return unop_builtin(LU_RELU, argv, argc);
}

/* A * mul + add element-wise. An integer tensor stays integer when the
   scalar is integral and gives float otherwise. */
static LuValue *affine_builtin(double mul, double add, double scalar,
                               LuValue **argv, int argc) {
  LuTensor *a = lu_arg_tensor(argv, 0);
  LuElem e = elem_of(a);
  if (idx_integral(e) && scalar != floor(scalar))
    e = LU_FLOAT;
  LuTensor *out = out_arg(argv, argc, 2, e, a->ndim, a->dim);
  Ctx c = {.x = mul, .y = add};
  map_into(out, 1, &a, e, run_affine, &c);
  return out_value(argv, argc, 2, out);
}

LU_DEFUN(idx_addm0, "(idx-addm0 A S [OUT])",
         "A + S for a number (or 0-d tensor) S. An integer tensor with a "
         "non-integral S gives float.") {
  double s = arg_scalar(argv, 1);
  return affine_builtin(1, s, s, argv, argc);
}

LU_DEFUN(idx_dotm0, "(idx-dotm0 A S [OUT])",
         "A * S for a number (or 0-d tensor) S: scaling. An integer tensor "
         "with a non-integral S gives float.") {
  double s = arg_scalar(argv, 1);
  return affine_builtin(s, 0, s, argv, argc);
}

LU_DEFUN(idx_copy, "(idx-copy SRC DST)",
         "Copies SRC's elements into DST (same shape, any types) and "
         "returns DST.") {
  (void)argc;
  lu_tensor_copy(lu_arg_tensor(argv, 1), lu_arg_tensor(argv, 0));
  return argv[1];
}

LU_DEFUN(idx_clear, "(idx-clear M)", "Sets every element of M to 0; M.") {
  (void)argc;
  fill(lu_arg_tensor(argv, 0), 0);
  return argv[0];
}

LU_DEFUN(idx_fill, "(idx-fill M X)", "Sets every element of M to X; M.") {
  (void)argc;
  fill(lu_arg_tensor(argv, 0), arg_scalar(argv, 1));
  return argv[0];
}

/* ---- Random fills ------------------------------------------------------- */

/* Elements in row-major order of the logical indices, so a seed gives the
   same tensor whatever its strides. Uniform: x + (y - x) u, kept below y
   after rounding to float, floored for integer tensors. Normal: x + y n. */
static void run_random(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  for (long i = 0; i < n; i++) {
    double v;
    if (x->op) {
      v = x->x + x->y * lu_rand_normal();
    } else {
      v = x->x + (x->y - x->x) * lu_rand_uniform();
      if (idx_integral(x->e))
        v = floor(v);
      else if (x->e == LU_FLOAT && (float)v >= x->y && x->y > x->x)
        v = nextafterf((float)v, -INFINITY);
    }
    lu_elem_set(x->e, p[0], i * s[0], v);
  }
}

static LuValue *random_builtin(bool normal, double x, double y, LuValue **argv,
                               int argc) {
  LuTensor *t = lu_arg_tensor(argv, 0);
  if (lu_arg_given(argv, argc, 1))
    x = lu_arg_num(argv, 1);
  if (lu_arg_given(argv, argc, 2))
    y = lu_arg_num(argv, 2);
  Ctx c = {.op = normal, .e = elem_of(t), .x = x, .y = y};
  lu_tensor_walk(1, &t, run_random, &c);
  return argv[0];
}

LU_DEFUN(idx_rand, "(idx-rand M [LO HI])",
         "Fills M with uniform numbers in [LO, HI), default [0, 1), from "
         "the generator (seed N) sets, in row-major order; integer tensors "
         "get floor values. Returns M.") {
  return random_builtin(false, 0, 1, argv, argc);
}

LU_DEFUN(idx_randn, "(idx-randn M [MEAN SD])",
         "Fills M with normal numbers, default mean 0 and standard "
         "deviation 1, from the generator (seed N) sets. Returns M.") {
  return random_builtin(true, 0, 1, argv, argc);
}

/* ---- Reductions -------------------------------------------------------- */

static void run_reduce(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  double v = lu_tensor_kreduce(x->op, x->e, n, p[0], s[0]);
  if (x->op == LU_SUM || x->op == LU_SUMSQR)
    x->acc += v;
  else if (x->acc == x->acc &&
           (v != v || (x->op == LU_SUP ? v > x->acc : v < x->acc)))
    x->acc = v;
}

static void run_dot(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  x->acc += lu_tensor_kdot(x->e, n, p[0], s[0], p[1], s[1]);
}

/* The index, in row-major order, of the first extreme element. */
static void run_argmax(void *c, long n, char *const *p, const long *s) {
  Ctx *x = c;
  long i = lu_tensor_kargmax(x->e, n, p[0], s[0], x->op);
  double v = lu_elem_get(x->e, p[0], i * s[0]);
  if (x->best < 0 ||
      (x->acc == x->acc && (v != v || (x->op ? v < x->acc : v > x->acc)))) {
    x->best = x->seen + i;
    x->acc = v;
  }
  x->seen += n;
}

static void nonempty(const LuTensor *t) {
  if (lu_tensor_nelem(t) == 0)
    lu_error("%s: empty tensor %s", who(), lu_tensor_shape_string(t));
}

/* v as the result: a number, or stored in OUT, a 0-d tensor, when given. */
static LuValue *scalar_result(double v, LuValue **argv, int argc, int i) {
  if (!lu_arg_given(argv, argc, i))
    return lu_number(v);
  LuTensor *o = out_arg(argv, argc, i, LU_FLOAT, 0, NULL);
  lu_tensor_set(o, NULL, v);
  return argv[i];
}

static double reduce(LuReduce op, LuTensor *t) {
  if (op == LU_SUP || op == LU_INF)
    nonempty(t);
  Ctx c = {.op = op,
           .e = elem_of(t),
           .acc = op == LU_SUP   ? -INFINITY
                  : op == LU_INF ? INFINITY
                                 : 0};
  lu_tensor_walk(1, &t, run_reduce, &c);
  return c.acc;
}

LU_DEFUN(idx_sum, "(idx-sum M [OUT])",
         "The sum of M's elements, accumulated in double; stored in OUT, a "
         "0-d tensor, when given.") {
  return scalar_result(reduce(LU_SUM, lu_arg_tensor(argv, 0)), argv, argc, 1);
}

LU_DEFUN(idx_sumsqr, "(idx-sumsqr M [OUT])",
         "The sum of the squares of M's elements; see idx-sum.") {
  return scalar_result(reduce(LU_SUMSQR, lu_arg_tensor(argv, 0)), argv, argc,
                       1);
}

LU_DEFUN(idx_mean, "(idx-mean M [OUT])",
         "The mean of M's elements (M not empty); see idx-sum.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  nonempty(t);
  return scalar_result(reduce(LU_SUM, t) / (double)lu_tensor_nelem(t), argv,
                       argc, 1);
}

LU_DEFUN(idx_sup, "(idx-sup M [OUT])",
         "The largest element of M (not empty; NaN wins); see idx-sum.") {
  return scalar_result(reduce(LU_SUP, lu_arg_tensor(argv, 0)), argv, argc, 1);
}

LU_DEFUN(idx_inf, "(idx-inf M [OUT])",
         "The smallest element of M (not empty; NaN wins); see idx-sum.") {
  return scalar_result(reduce(LU_INF, lu_arg_tensor(argv, 0)), argv, argc, 1);
}

LU_DEFUN(idx_dot, "(idx-dot A B [OUT])",
         "The sum of A * B element-wise (one shape), accumulated in "
         "double; see idx-sum.") {
  LuTensor *a = lu_arg_tensor(argv, 0), *b = lu_arg_tensor(argv, 1);
  check_same_shape(a, b);
  LuElem e = idx_promote(elem_of(a), elem_of(b));
  Ctx c = {.e = e};
  lu_tensor_walk(2, (LuTensor *[]){operand(a, e, NULL), operand(b, e, NULL)},
                 run_dot, &c);
  return scalar_result(c.acc, argv, argc, 2);
}

static LuValue *argmax_builtin(bool min, LuValue **argv) {
  LuTensor *t = lu_arg_tensor(argv, 0);
  nonempty(t);
  Ctx c = {.op = min, .e = elem_of(t), .best = -1};
  lu_tensor_walk(1, &t, run_argmax, &c);
  return lu_number((double)c.best);
}

LU_DEFUN(idx_indexmax, "(idx-indexmax M)",
         "The index of M's first largest element; for more than one "
         "dimension, its index in row-major order (as in (idx-reshape M "
         "-1)).") {
  (void)argc;
  return argmax_builtin(false, argv);
}

LU_DEFUN(idx_indexmin, "(idx-indexmin M)",
         "The index of M's first smallest element; see idx-indexmax.") {
  (void)argc;
  return argmax_builtin(true, argv);
}

/* ---- Linear algebra ----------------------------------------------------- */

static void check_ndim(const LuTensor *t, int i, int ndim) {
  if (t->ndim != ndim)
    lu_error("%s: argument %d: expected a %d-d tensor, got %s", who(), i + 1,
             ndim, lu_tensor_shape_string(t));
}

noreturn static void shapes_mismatch(const LuTensor *a, const LuTensor *b) {
  lu_error("%s: shapes %s and %s do not match", who(),
           lu_tensor_shape_string(a), lu_tensor_shape_string(b));
}

/* Where a result of type e is computed before it goes into out. */
static LuTensor *dst_for(LuTensor *out, LuElem e) {
  return elem_of(out) == e ? out : make_like(out, e);
}

static void dst_done(LuTensor *out, LuTensor *dst) {
  if (dst != out)
    lu_tensor_copy(out, dst);
}

/* Rows per kernel call so that one call does about RUN_CHUNK operations. */
static long rows_per_call(long ops_per_row) {
  return ops_per_row >= RUN_CHUNK ? 1 : RUN_CHUNK / (ops_per_row + 1) + 1;
}

static long size_of(const LuTensor *t) {
  return (long)lu_elem_size(elem_of(t));
}

static char *row_ptr(const LuTensor *t, long i) {
  return (char *)lu_tensor_data(t) + i * t->mod[0] * size_of(t);
}

LU_DEFUN(idx_m2dotm1, "(idx-m2dotm1 A X [OUT])",
         "The matrix-vector product A X: A of m rows and n columns, X of n "
         "elements, the result of m; dot products accumulate in double.") {
  LuTensor *a = lu_arg_tensor(argv, 0), *x = lu_arg_tensor(argv, 1);
  check_ndim(a, 0, 2);
  check_ndim(x, 1, 1);
  if (a->dim[1] != x->dim[0])
    shapes_mismatch(a, x);
  LuElem e = idx_promote(elem_of(a), elem_of(x));
  LuTensor *out = out_arg(argv, argc, 2, e, 1, a->dim);
  LuTensor *y = dst_for(out, e);
  a = input(a, e, y);
  x = input(x, e, y);
  long m = a->dim[0], n = a->dim[1], step = rows_per_call(n);
  for (long i = 0; i < m; i += step) {
    lu_tensor_kgemv(e, m - i < step ? m - i : step, n, row_ptr(a, i), a->mod[0],
                    a->mod[1], lu_tensor_data(x), x->mod[0], row_ptr(y, i),
                    y->mod[0]);
    lu_poll();
  }
  dst_done(out, y);
  return out_value(argv, argc, 2, out);
}

LU_DEFUN(idx_m2dotm2, "(idx-m2dotm2 A B [OUT])",
         "The matrix product A B: A of m x k, B of k x n, the result m x n; "
         "sums accumulate in double.") {
  LuTensor *a = lu_arg_tensor(argv, 0), *b = lu_arg_tensor(argv, 1);
  check_ndim(a, 0, 2);
  check_ndim(b, 1, 2);
  if (a->dim[1] != b->dim[0])
    shapes_mismatch(a, b);
  LuElem e = idx_promote(elem_of(a), elem_of(b));
  long dim[2] = {a->dim[0], b->dim[1]};
  LuTensor *out = out_arg(argv, argc, 2, e, 2, dim);
  LuTensor *c = dst_for(out, e);
  a = input(a, e, c);
  b = input(b, e, c);
  long m = dim[0], k = a->dim[1], n = dim[1];
  long step = rows_per_call(k * n);
  double *work = lu_alloc_atomic(sizeof(double) * (size_t)n, who());
  for (long i = 0; i < m; i += step) {
    lu_tensor_kgemm(e, m - i < step ? m - i : step, k, n, row_ptr(a, i),
                    a->mod[0], a->mod[1], lu_tensor_data(b), b->mod[0],
                    b->mod[1], row_ptr(c, i), c->mod[0], c->mod[1], work);
    lu_poll();
  }
  dst_done(out, c);
  return out_value(argv, argc, 2, out);
}

LU_DEFUN(idx_m1extm1, "(idx-m1extm1 X Y [OUT])",
         "The outer product: X of m elements, Y of n, the result m x n with "
         "element (i j) = X(i) Y(j).") {
  LuTensor *x = lu_arg_tensor(argv, 0), *y = lu_arg_tensor(argv, 1);
  check_ndim(x, 0, 1);
  check_ndim(y, 1, 1);
  LuElem e = idx_promote(elem_of(x), elem_of(y));
  long dim[2] = {x->dim[0], y->dim[0]};
  LuTensor *out = out_arg(argv, argc, 2, e, 2, dim);
  LuTensor *c = dst_for(out, e);
  x = input(x, e, c);
  y = input(y, e, c);
  long step = rows_per_call(dim[1]);
  for (long i = 0; i < dim[0]; i += step) {
    lu_tensor_kger(e, dim[0] - i < step ? dim[0] - i : step, dim[1],
                   row_ptr(x, i), x->mod[0], lu_tensor_data(y), y->mod[0],
                   row_ptr(c, i), c->mod[0], c->mod[1]);
    lu_poll();
  }
  dst_done(out, c);
  return out_value(argv, argc, 2, out);
}

/* ---- Images ------------------------------------------------------------- */

static void check_image(const LuTensor *t) {
  if (t->ndim < 2)
    lu_error("%s: expected a tensor of 2 or more dimensions, got %s", who(),
             lu_tensor_shape_string(t));
}

/* t's leading dimensions (all but the last two) as a view, to walk over
   the planes. */
static LuTensor *planes(const LuTensor *t) {
  return make_view(t, t->ndim - 2, t->dim, t->mod, t->offset);
}

typedef struct {
  LuElem e;
  const LuTensor *in, *out;
  const LuLerp *ty, *tx;
} ResizeCtx;

static void run_resize(void *c, long n, char *const *p, const long *s) {
  ResizeCtx *x = c;
  const LuTensor *in = x->in, *out = x->out;
  int h = in->ndim - 2, w = h + 1;
  long size = (long)lu_elem_size(x->e);
  for (long i = 0; i < n; i++) {
    lu_tensor_kresize(x->e, p[1] + i * s[1] * size, in->mod[h], in->mod[w],
                      out->dim[h], out->dim[w], p[0] + i * s[0] * size,
                      out->mod[h], out->mod[w], x->ty, x->tx);
    lu_poll();
  }
}

LU_DEFUN(idx_resize, "(idx-resize M H W [OUT])",
         "M's last two dimensions resampled to H x W, bilinearly: the same "
         "numbers as PyTorch's F.interpolate(mode=\"bilinear\", "
         "align_corners=False) (within float rounding), for 2-D images or "
         "any number of leading dimensions.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  check_image(t);
  long dim[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  int h = t->ndim - 2, w = h + 1;
  dim[h] = lu_arg_int(argv, 1);
  dim[w] = lu_arg_int(argv, 2);
  if (dim[h] < 1 || dim[w] < 1)
    lu_error("%s: size %ldx%ld is not positive", who(), dim[h], dim[w]);
  if (lu_tensor_nelem(t) == 0)
    lu_error("%s: empty image %s", who(), lu_tensor_shape_string(t));
  LuElem e = elem_of(t);
  LuTensor *out = out_arg(argv, argc, 3, e, t->ndim, dim);
  LuTensor *dst = dst_for(out, e);
  t = input(t, e, dst);
  LuLerp *ty =
      lu_alloc_atomic(sizeof(LuLerp) * (size_t)(dim[h] + dim[w]), who());
  lu_tensor_klerp(e, t->dim[h], dim[h], ty);
  lu_tensor_klerp(e, t->dim[w], dim[w], ty + dim[h]);
  ResizeCtx c = {e, t, dst, ty, ty + dim[h]};
  lu_tensor_walk(2, (LuTensor *[]){planes(dst), planes(t)}, run_resize, &c);
  dst_done(out, dst);
  return out_value(argv, argc, 3, out);
}

/* The view of t's last two dimensions from (y, x), of size h x w. */
static LuTensor *window(const LuTensor *t, long y, long x, long h, long w) {
  long dim[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  int d = t->ndim - 2;
  dim[d] = h;
  dim[d + 1] = w;
  return make_view(t, t->ndim, dim, t->mod,
                   t->offset + y * t->mod[d] + x * t->mod[d + 1]);
}

LU_DEFUN(idx_pad, "(idx-pad M P [V] [OUT])",
         "M with its last two dimensions padded with the value V (default "
         "0): by P on every side, or by '(TOP BOTTOM LEFT RIGHT).") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  check_image(t);
  long pad[4];
  if (LU_IS(argv[1], LU_NUMBER))
    pad[0] = pad[1] = pad[2] = pad[3] = lu_arg_int(argv, 1);
  else {
    LuValue *l = lu_arg_list(argv, 1);
    if (lu_length(l) != 4)
      lu_arg_error(1, "a number or a list (top bottom left right)", argv[1]);
    for (int i = 0; i < 4; i++, l = LU_CDR(l)) {
      LuValue *x = LU_CAR(l);
      pad[i] = lu_arg_int(&x, 0);
    }
  }
  int d = t->ndim - 2;
  long dim[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  for (int i = 0; i < 4; i++)
    if (pad[i] < 0 ||
        __builtin_add_overflow(dim[d + i / 2], pad[i], &dim[d + i / 2]))
      lu_error("%s: bad padding %ld", who(), pad[i]);
  double v = lu_arg_given(argv, argc, 2) ? arg_scalar(argv, 2) : 0;
  LuTensor *out = out_arg(argv, argc, 3, elem_of(t), t->ndim, dim);
  t = input(t, elem_of(t), out);
  fill(out, v);
  lu_tensor_copy(window(out, pad[0], pad[2], t->dim[d], t->dim[d + 1]), t);
  return out_value(argv, argc, 3, out);
}

/* ((x mod n) + n) mod n, in [0, n). */
static long wrap(long x, long n) {
  long r = x % n;
  return r < 0 ? r + n : r;
}

LU_DEFUN(idx_shift, "(idx-shift M DY DX [OUT])",
         "M's last two dimensions rolled by DY rows and DX columns, as "
         "torch.roll: element (y x) of the result is element ((y - DY) mod "
         "h, (x - DX) mod w) of M.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  check_image(t);
  int d = t->ndim - 2;
  long h = t->dim[d], w = t->dim[d + 1];
  LuTensor *out = out_arg(argv, argc, 3, elem_of(t), t->ndim, t->dim);
  if (h == 0 || w == 0)
    return out_value(argv, argc, 3, out);
  long dy = wrap(lu_arg_int(argv, 1), h), dx = wrap(lu_arg_int(argv, 2), w);
  t = input(t, elem_of(t), out);
  /* four blocks: source rows [0, h - dy) go to [dy, h), the rest to the
     top; the same for columns */
  for (int by = 0; by < 2; by++)
    for (int bx = 0; bx < 2; bx++) {
      long sy = by ? h - dy : 0, ny = by ? dy : h - dy;
      long sx = bx ? w - dx : 0, nx = bx ? dx : w - dx;
      if (ny && nx)
        lu_tensor_copy(window(out, by ? 0 : dy, bx ? 0 : dx, ny, nx),
                       window(t, sy, sx, ny, nx));
    }
  return out_value(argv, argc, 3, out);
}

/* ---- Loops ------------------------------------------------------------ */

/* (idx-bloop ((a A) (b B)...) body...): the bindings are evaluated in env
   like let's; then for each index i along the looped dimension, body runs
   with each variable bound to a view of its tensor at i. Returns the first
   tensor. */
static LuValue *tensor_loop(LuValue *args, LuValue *env, bool last) {
  const char *name = who();
  if (!LU_IS(args, LU_CONS) || !(LU_IS(LU_CAR(args), LU_CONS)))
    lu_error("%s: expected ((VAR TENSOR)...) BODY...", name);
  long nb = lu_length(LU_CAR(args));
  LuValue **sym = lu_alloc(sizeof(LuValue *) * (size_t)nb);
  LuTensor **t = lu_alloc(sizeof(LuTensor *) * (size_t)nb);
  LuValue *first = NULL, *b = LU_CAR(args);
  long n = 0;
  for (long i = 0; i < nb; i++, b = LU_CDR(b)) {
    LuValue *bind = LU_CAR(b);
    if (!LU_IS(bind, LU_CONS) || !LU_IS(LU_CAR(bind), LU_SYMBOL) ||
        !LU_IS(LU_CDR(bind), LU_CONS) || !LU_ISNIL(LU_CDR(LU_CDR(bind))))
      lu_error("%s: expected a binding (VAR TENSOR), got %s", name,
               lu_repr(bind, true));
    sym[i] = LU_CAR(bind);
    LuValue *v = lu_eval(LU_CAR(LU_CDR(bind)), env);
    if (!is_tensor(v))
      lu_error("%s: %s: expected a tensor, got %s", name, sym[i]->sym.name,
               lu_repr(v, true));
    t[i] = v->cdata.ptr;
    if (t[i]->ndim == 0)
      lu_error("%s: %s: cannot loop over a 0-d tensor", name, sym[i]->sym.name);
    long size = t[i]->dim[last ? t[i]->ndim - 1 : 0];
    if (!first) {
      first = v;
      n = size;
    } else if (size != n)
      lu_error("%s: %s has %ld slices, %s has %ld", name, sym[0]->sym.name, n,
               sym[i]->sym.name, size);
  }
  for (long k = 0; k < n; k++) {
    LuValue *e = env;
    for (long i = 0; i < nb; i++) {
      int d = last ? t[i]->ndim - 1 : 0;
      long dim[LU_MAXDIM], mod[LU_MAXDIM];
      for (int s = 0, r = 0; s < t[i]->ndim; s++)
        if (s != d) {
          dim[r] = t[i]->dim[s];
          mod[r++] = t[i]->mod[s];
        }
      LuTensor *slice = make_view(t[i], t[i]->ndim - 1, dim, mod,
                                  t[i]->offset + k * t[i]->mod[d]);
      e = lu_env_bind(e, sym[i], lu_tensor_value(slice));
    }
    for (LuValue *f = LU_CDR(args); LU_IS(f, LU_CONS); f = LU_CDR(f))
      lu_eval(LU_CAR(f), e);
    lu_poll();
  }
  return first;
}

LU_DEFSPECIAL(idx_bloop, "(idx-bloop BINDINGS BODY...)",
              "(idx-bloop ((a A) (b B)...) body...) runs body once per index "
              "i of the first dimension, a bound to (select A 0 i), b to "
              "(select B 0 i)...: views, so writing into them writes A, B. "
              "The tensors must have the same first dimension. Returns A.") {
  (void)tail;
  return tensor_loop(args, *env, false);
}

LU_DEFSPECIAL(idx_eloop, "(idx-eloop BINDINGS BODY...)",
              "As idx-bloop, over the last dimension of each tensor: a is "
              "bound to (select A (- (idx-ndim A) 1) i)... Returns A.") {
  (void)tail;
  return tensor_loop(args, *env, true);
}

/* ---- Registration ------------------------------------------------------- */

static LuBuiltin *const tensor_builtins[] = {
    &float_matrix_builtin,   &double_matrix_builtin,   &int_matrix_builtin,
    &ubyte_matrix_builtin,   &matrix_builtin,          &idx_literal_builtin,
    &list_to_matrix_builtin, &matrix_to_list_builtin,  &copy_matrix_builtin,
    &tensorp_builtin,        &idx_type_builtin,        &idx_ndim_builtin,
    &idx_dim_builtin,        &idx_shape_builtin,       &idx_strides_builtin,
    &idx_nelem_builtin,      &idx_contiguousp_builtin, &select__builtin,
    &narrow_builtin,         &unfold_builtin,          &idx_transpose_builtin,
    &idx_reshape_builtin,    &idx_add_builtin,         &idx_sub_builtin,
    &idx_mul_builtin,        &idx_div_builtin,         &idx_max_builtin,
    &idx_min_builtin,        &idx_neg_builtin,         &idx_abs_builtin,
    &idx_sqr_builtin,        &idx_sqrt_builtin,        &idx_exp_builtin,
    &idx_log_builtin,        &idx_tanh_builtin,        &idx_relu_builtin,
    &idx_addm0_builtin,      &idx_dotm0_builtin,       &idx_copy_builtin,
    &idx_clear_builtin,      &idx_fill_builtin,        &idx_rand_builtin,
    &idx_randn_builtin,      &idx_sum_builtin,         &idx_sumsqr_builtin,
    &idx_mean_builtin,       &idx_sup_builtin,         &idx_inf_builtin,
    &idx_dot_builtin,        &idx_indexmax_builtin,    &idx_indexmin_builtin,
    &idx_m2dotm1_builtin,    &idx_m2dotm2_builtin,     &idx_m1extm1_builtin,
    &idx_resize_builtin,     &idx_pad_builtin,         &idx_shift_builtin,
    &idx_bloop_builtin,      &idx_eloop_builtin,       NULL};

void lu_tensor_open(void) {
  lu_register(tensor_builtins);
}
