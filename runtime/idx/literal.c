/* literal.c: tensors from and to Lisp data, and what a tensor says about
   itself: the [...] literals (idx-literal), list->matrix, matrix->list,
   copy-matrix; tensorp, idx-type, the shape, strides and element count.
   The constructors (float-matrix...) are rows of the table in ops.c. */
#include <string.h>

#include "idx_impl.h"

/* ---- Constructors and conversions --------------------------------------- */

LU_DEFUN(idx_literal, "(idx-literal [TYPE] X...)",
         "What the reader makes of [X...]. Numbers give a 1-D tensor; "
         "tensors of one shape are stacked along a new first dimension. "
         "TYPE, a quoted symbol (['int 1 2]), sets the element type; "
         "without it numbers give float and tensors keep their type.") {
  int from = argc > 0 && LU_IS(argv[0], LU_SYMBOL) ? 1 : 0;
  LuElem e = from ? idx_arg_elem(argv, 0) : LU_FLOAT;
  long n = argc - from;
  if (n > 0 && idx_is_tensor(argv[from])) {
    LuTensor *first = lu_arg_tensor(argv, from);
    LuElem te = idx_elem(first);
    for (int i = from; i < argc; i++) {
      LuTensor *t = lu_arg_tensor(argv, i);
      idx_check_same_shape(first, t);
      te = idx_promote(te, idx_elem(t));
    }
    if (first->ndim == LU_MAXDIM)
      lu_error("%s: stacking makes more than %d dimensions", lu_caller(),
               LU_MAXDIM);
    long dim[LU_MAXDIM] = {n};
    memcpy(dim + 1, first->dim, sizeof(long) * first->ndim);
    LuTensor *r =
        lu_tensor_make(from ? e : te, first->ndim + 1, dim, NULL, NULL, 0);
    long rest = lu_tensor_nelem(first);
    for (int i = from; i < argc; i++)
      lu_tensor_copy(
          idx_view(r, first->ndim, first->dim, NULL, (i - from) * rest),
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
      lu_error("%s: nested deeper than %d levels", lu_caller(), LU_MAXDIM);
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
      lu_error("%s: expected a number, got %s", lu_caller(),
               lu_repr_limit(l, 60));
    lu_elem_set(idx_elem(t), t->st->data, (*pos)++, LU_NUM(l));
    return;
  }
  if (!(LU_IS(l, LU_CONS) || LU_ISNIL(l)) || lu_length(l) != t->dim[d])
    lu_error("%s: ragged list: expected %ld elements at depth %d, got %s",
             lu_caller(), t->dim[d], d, lu_repr_limit(l, 60));
  for (; LU_IS(l, LU_CONS); l = LU_CDR(l))
    list_fill(t, LU_CAR(l), d + 1, pos);
}

LU_DEFUN(list_to_matrix, "(list->matrix L [TYPE])",
         "A new tensor from nested lists of numbers (a number gives a 0-d "
         "tensor), of element type TYPE (default float).") {
  long dim[LU_MAXDIM];
  int nd = list_shape(argv[0], dim);
  LuElem e = lu_arg_given(argv, argc, 1) ? idx_arg_elem(argv, 1) : LU_FLOAT;
  LuTensor *t = lu_tensor_make(e, nd, dim, NULL, NULL, 0);
  long pos = 0;
  list_fill(t, argv[0], 0, &pos);
  return lu_tensor_value(t);
}

static LuValue *to_list(const LuTensor *t, int d, long off) {
  if (d == t->ndim)
    return lu_number(lu_elem_get(idx_elem(t), t->st->data, off));
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
  LuElem e = lu_arg_given(argv, argc, 1) ? idx_arg_elem(argv, 1) : idx_elem(t);
  return lu_tensor_value(idx_copy_as(t, e));
}

/* ---- Information --------------------------------------------------------- */

static LuValue *elem_symbol(LuElem e) {
  return lu_intern(lu_elem_name(e));
}

LU_DEFUN(tensorp, "(tensorp X)", "t when X is a tensor, else ().") {
  return LU_BOOL(idx_is_tensor(argv[0]));
}

LU_DEFUN(idx_type, "(idx-type M)",
         "M's element type: one of the symbols float double int ubyte.") {
  return elem_symbol(idx_elem(lu_arg_tensor(argv, 0)));
}

LU_DEFUN(idx_ndim, "(idx-ndim M)", "M's number of dimensions.") {
  return lu_number(lu_arg_tensor(argv, 0)->ndim);
}

LU_DEFUN(idx_dim, "(idx-dim M D)", "The size of M's dimension D.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  return lu_number((double)t->dim[idx_arg_dimno(argv, 1, t)]);
}

static LuValue *long_list(int n, const long *x) {
  LuValue *l = lu_nil;
  for (int i = n - 1; i >= 0; i--)
    l = lu_cons(lu_number((double)x[i]), l);
  return l;
}

LU_DEFUN(idx_shape, "(idx-shape M)", "M's dimensions, as a list.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  return long_list(t->ndim, t->dim);
}

LU_DEFUN(idx_strides, "(idx-strides M)",
         "M's strides in elements, as a list: views share storage and "
         "differ only in dimensions, strides and offset.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  return long_list(t->ndim, t->mod);
}

LU_DEFUN(idx_nelem, "(idx-nelem M)", "M's number of elements.") {
  return lu_number((double)lu_tensor_nelem(lu_arg_tensor(argv, 0)));
}

LU_DEFUN(idx_contiguousp, "(idx-contiguousp M)",
         "t when M's elements are contiguous in row-major order.") {
  return LU_BOOL(lu_tensor_contiguous(lu_arg_tensor(argv, 0)));
}

LuBuiltin *const idx_literal_builtins[] = {&idx_literal_builtin,
                                           &list_to_matrix_builtin,
                                           &matrix_to_list_builtin,
                                           &copy_matrix_builtin,
                                           &tensorp_builtin,
                                           &idx_type_builtin,
                                           &idx_ndim_builtin,
                                           &idx_dim_builtin,
                                           &idx_shape_builtin,
                                           &idx_strides_builtin,
                                           &idx_nelem_builtin,
                                           &idx_contiguousp_builtin,
                                           NULL};
