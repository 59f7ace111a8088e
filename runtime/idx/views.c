/* views.c: the builtins that make views, tensors sharing their storage
   with another (select, narrow, unfold, idx-transpose, idx-reshape), the
   one that copies slices chosen by index (idx-gather), and the loops that
   bind views of each slice (idx-bloop, idx-eloop). */
#include <string.h>

#include "idx_impl.h"

/* ---- Views ------------------------------------------------------------ */

/* Argument i, an index of dimension d of t (0 <= index < its size). */
static long index_arg(LuValue **argv, int i, const LuTensor *t, int d) {
  long x = lu_arg_int(argv, i);
  if (x < 0 || x >= t->dim[d])
    lu_error("%s: index %ld out of range for dimension %d of size %ld",
             lu_caller(), x, d, t->dim[d]);
  return x;
}

/* The view of t at index i of dimension d, which it loses (i unchecked). */
static LuTensor *slice(const LuTensor *t, int d, long i) {
  long dim[LU_MAXDIM], mod[LU_MAXDIM];
  for (int s = 0, r = 0; s < t->ndim; s++)
    if (s != d) {
      dim[r] = t->dim[s];
      mod[r++] = t->mod[s];
    }
  return idx_view(t, t->ndim - 1, dim, mod, t->offset + i * t->mod[d]);
}

/* Arguments 0 and 1 of the view builtins: a tensor M and, in *d, the
   number of one of its dimensions D. */
static LuTensor *tensor_and_dim(LuValue **argv, int *d) {
  LuTensor *t = lu_arg_tensor(argv, 0);
  *d = idx_arg_dimno(argv, 1, t);
  return t;
}

LU_DEFUN(select_, "(select M D I)",
         "A view of M at index I of dimension D, which it loses: (select m "
         "0 2) is row 2 of a matrix.") {
  int d;
  LuTensor *t = tensor_and_dim(argv, &d);
  return lu_tensor_value(slice(t, d, index_arg(argv, 2, t, d)));
}

LU_DEFUN(narrow, "(narrow M D SIZE [START])",
         "A view of M whose dimension D keeps SIZE indices from START "
         "(default 0).") {
  int d;
  LuTensor *t = tensor_and_dim(argv, &d);
  long size = lu_arg_int(argv, 2);
  long start = lu_arg_given(argv, argc, 3) ? lu_arg_int(argv, 3) : 0;
  if (size < 0 || start < 0 || start > t->dim[d] - size)
    lu_error("%s: %ld indices from %ld do not fit dimension %d of size %ld",
             lu_caller(), size, start, d, t->dim[d]);
  long dim[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  dim[d] = size;
  return lu_tensor_value(
      idx_view(t, t->ndim, dim, t->mod, t->offset + start * t->mod[d]));
}

LU_DEFUN(unfold, "(unfold M D SIZE STEP)",
         "A view of M whose dimension D becomes (dim - SIZE) / STEP + 1 "
         "windows, with a new last dimension of SIZE elements along D: "
         "what convolutions loop over.") {
  int d;
  LuTensor *t = tensor_and_dim(argv, &d);
  long size = lu_arg_int(argv, 2), step = lu_arg_int(argv, 3);
  if (size < 1 || size > t->dim[d])
    lu_error("%s: window %ld does not fit dimension %d of size %ld",
             lu_caller(), size, d, t->dim[d]);
  if (step < 1)
    lu_error("%s: step %ld is not positive", lu_caller(), step);
  if (t->ndim == LU_MAXDIM)
    lu_error("%s: would make more than %d dimensions", lu_caller(), LU_MAXDIM);
  long dim[LU_MAXDIM], mod[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  memcpy(mod, t->mod, sizeof mod);
  dim[d] = (t->dim[d] - size) / step + 1;
  if (__builtin_mul_overflow(t->mod[d], step, &mod[d]))
    lu_error("%s: step %ld is too large", lu_caller(), step);
  dim[t->ndim] = size;
  mod[t->ndim] = t->mod[d];
  return lu_tensor_value(idx_view(t, t->ndim + 1, dim, mod, t->offset));
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
    int a = idx_arg_dimno(argv, 1, t), b = idx_arg_dimno(argv, 2, t);
    for (int d = 0; d < t->ndim; d++)
      perm[d] = d == a ? b : d == b ? a : d;
  } else if (lu_arg_given(argv, argc, 1)) {
    LuValue *l = lu_arg_list(argv, 1);
    if (lu_length(l) != t->ndim)
      lu_error("%s: permutation %s of %ld elements for a %d-d tensor",
               lu_caller(), lu_repr_limit(l, 60), lu_length(l), t->ndim);
    bool seen[LU_MAXDIM] = {false};
    for (int d = 0; d < t->ndim; d++, l = LU_CDR(l)) {
      LuValue *x = LU_CAR(l);
      perm[d] = idx_arg_dimno(&x, 0, t);
      if (seen[perm[d]])
        lu_error("%s: %d appears twice in the permutation", lu_caller(),
                 perm[d]);
      seen[perm[d]] = true;
    }
  }
  long dim[LU_MAXDIM], mod[LU_MAXDIM];
  for (int d = 0; d < t->ndim; d++) {
    dim[d] = t->dim[perm[d]];
    mod[d] = t->mod[perm[d]];
  }
  return lu_tensor_value(idx_view(t, t->ndim, dim, mod, t->offset));
}

/* Strides that let t's elements, in row-major order, be seen with shape
   (nd, dim); false when t's layout does not allow it. Old dimensions are
   cut into chunks contiguous among themselves; every new dimension must
   fall inside one chunk. t has elements and dimensions. */
static bool reshape_mods(const LuTensor *t, int nd, const long *dim,
                         long *mod) {
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
  int nd = idx_dims_args(argv, argc, 1, dim), infer = -1;
  for (int d = 0; d < nd; d++) {
    if (dim[d] == -1 && infer < 0)
      infer = d;
    else if (dim[d] < 0)
      lu_error("%s: bad dimension %ld", lu_caller(), dim[d]);
    else if (__builtin_mul_overflow(n, dim[d], &n))
      n = -1;
  }
  long total = lu_tensor_nelem(t);
  if (infer >= 0) {
    if (n <= 0 || total % n)
      lu_error("%s: %ld elements cannot take shape %s", lu_caller(), total,
               idx_shape_of(nd, dim));
    dim[infer] = total / n;
    n = total;
  }
  if (n != total)
    lu_error("%s: %ld elements cannot take shape %s", lu_caller(), total,
             idx_shape_of(nd, dim));
  /* without elements, or with one, any layout takes contiguous strides */
  bool anew = total == 0 || t->ndim == 0;
  if (!anew && !reshape_mods(t, nd, dim, mod))
    lu_error("%s: the layout of this %s view does not allow shape %s; "
             "copy-matrix first",
             lu_caller(), lu_tensor_shape_string(t), idx_shape_of(nd, dim));
  return lu_tensor_value(idx_view(t, nd, dim, anew ? NULL : mod, t->offset));
}

/* ---- Gathering slices ------------------------------------------------- */

LU_DEFUN(idx_gather, "(idx-gather M INDEX [OUT])",
         "M's slices along its first dimension at the indices INDEX (a 1-D "
         "int tensor), copied into a new tensor of M's type (or into OUT): "
         "slice k of the result is (select M 0 (INDEX k)). E.g. a set of "
         "examples in a shuffled order.") {
  LuTensor *t = lu_arg_tensor(argv, 0), *index = lu_arg_tensor(argv, 1);
  if (t->ndim == 0)
    lu_error("%s: cannot gather slices of a 0-d tensor", lu_caller());
  if (index->ndim != 1 || idx_elem(index) != LU_INT)
    lu_arg_error(1, "a 1-D int tensor", argv[1]);
  long n = index->dim[0], dim[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  dim[0] = n;
  LuTensor *out = idx_out_arg(argv, argc, 2, idx_elem(t), t->ndim, dim);
  LuTensor *dst = idx_dst_for(out, idx_elem(t));
  /* copies of whatever writing dst could change before it is read */
  t = idx_input(t, idx_elem(t), dst);
  index = idx_input(index, LU_INT, dst);
  const int32_t *ix = lu_tensor_data(index);
  for (long k = 0; k < n; k++)
    if (ix[k * index->mod[0]] < 0 || ix[k * index->mod[0]] >= t->dim[0])
      lu_error("%s: index %d (element %ld of INDEX) out of range for "
               "dimension 0 of size %ld",
               lu_caller(), ix[k * index->mod[0]], k, t->dim[0]);
  if (n == 0)
    return idx_out_value(argv, argc, 2, out);
  /* one view of each side, moved from slice to slice */
  LuTensor *from = slice(t, 0, 0), *to = slice(dst, 0, 0);
  for (long k = 0; k < n; k++) {
    from->offset = t->offset + ix[k * index->mod[0]] * t->mod[0];
    to->offset = dst->offset + k * dst->mod[0];
    lu_tensor_copy(to, from);
  }
  idx_dst_done(out, dst);
  return idx_out_value(argv, argc, 2, out);
}

/* ---- Loops ------------------------------------------------------------ */

/* (idx-bloop ((a A) (b B)...) body...): the bindings are evaluated in env
   like let's; then for each index i along the looped dimension, body runs
   with each variable bound to a view of its tensor at i. Returns the first
   tensor. */
static LuValue *tensor_loop(LuValue *args, LuValue *env, bool last) {
  const char *name = lu_caller();
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
               lu_repr_limit(bind, 60));
    sym[i] = LU_CAR(bind);
    LuValue *v = lu_eval(LU_CAR(LU_CDR(bind)), env);
    if (!idx_is_tensor(v))
      lu_error("%s: %s: expected a tensor, got %s", name, sym[i]->sym.name,
               lu_repr_limit(v, 60));
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
      LuTensor *v = slice(t[i], last ? t[i]->ndim - 1 : 0, k);
      e = lu_env_bind(e, sym[i], lu_tensor_value(v));
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

LuBuiltin *const idx_view_builtins[] = {
    &select__builtin,       &narrow_builtin,      &unfold_builtin,
    &idx_transpose_builtin, &idx_reshape_builtin, &idx_gather_builtin,
    &idx_bloop_builtin,     &idx_eloop_builtin,   NULL};
