/* linalg.c: the linear algebra builtins: matrix-vector and matrix-matrix
   products and the outer product, over the kernels lu_tensor_kgemv, kgemm
   and kger, a bounded number of rows per call with a poll between calls. */
#include "idx_impl.h"

static void check_ndim(const LuTensor *t, int i, int ndim) {
  if (t->ndim != ndim)
    lu_error("%s: argument %d: expected a %d-d tensor, got %s", lu_caller(),
             i + 1, ndim, lu_tensor_shape_string(t));
}

noreturn static void shapes_mismatch(const LuTensor *a, const LuTensor *b) {
  lu_error("%s: shapes %s and %s do not match", lu_caller(),
           lu_tensor_shape_string(a), lu_tensor_shape_string(b));
}

/* Rows per kernel call so that one call does about IDX_CHUNK operations. */
static long rows_per_call(long ops_per_row) {
  return ops_per_row >= IDX_CHUNK ? 1 : IDX_CHUNK / (ops_per_row + 1) + 1;
}

static long size_of(const LuTensor *t) {
  return (long)lu_elem_size(idx_elem(t));
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
  LuElem e = idx_promote(idx_elem(a), idx_elem(x));
  LuTensor *out = idx_out_arg(argv, argc, 2, e, 1, a->dim);
  LuTensor *y = idx_dst_for(out, e);
  a = idx_input(a, e, y);
  x = idx_input(x, e, y);
  long m = a->dim[0], n = a->dim[1], step = rows_per_call(n);
  for (long i = 0; i < m; i += step) {
    lu_tensor_kgemv(e, m - i < step ? m - i : step, n, row_ptr(a, i), a->mod[0],
                    a->mod[1], lu_tensor_data(x), x->mod[0], row_ptr(y, i),
                    y->mod[0]);
    lu_poll();
  }
  idx_dst_done(out, y);
  return idx_out_value(argv, argc, 2, out);
}

LU_DEFUN(idx_m2dotm2, "(idx-m2dotm2 A B [OUT])",
         "The matrix product A B: A of m x k, B of k x n, the result m x n; "
         "sums accumulate in double.") {
  LuTensor *a = lu_arg_tensor(argv, 0), *b = lu_arg_tensor(argv, 1);
  check_ndim(a, 0, 2);
  check_ndim(b, 1, 2);
  if (a->dim[1] != b->dim[0])
    shapes_mismatch(a, b);
  LuElem e = idx_promote(idx_elem(a), idx_elem(b));
  long dim[2] = {a->dim[0], b->dim[1]};
  LuTensor *out = idx_out_arg(argv, argc, 2, e, 2, dim);
  LuTensor *c = idx_dst_for(out, e);
  a = idx_input(a, e, c);
  b = idx_input(b, e, c);
  long m = dim[0], k = a->dim[1], n = dim[1];
  long step = rows_per_call(k * n);
  double *work = lu_alloc_atomic(sizeof(double) * (size_t)n, lu_caller());
  for (long i = 0; i < m; i += step) {
    lu_tensor_kgemm(e, m - i < step ? m - i : step, k, n, row_ptr(a, i),
                    a->mod[0], a->mod[1], lu_tensor_data(b), b->mod[0],
                    b->mod[1], row_ptr(c, i), c->mod[0], c->mod[1], work);
    lu_poll();
  }
  idx_dst_done(out, c);
  return idx_out_value(argv, argc, 2, out);
}

LU_DEFUN(idx_m1extm1, "(idx-m1extm1 X Y [OUT])",
         "The outer product: X of m elements, Y of n, the result m x n with "
         "element (i j) = X(i) Y(j).") {
  LuTensor *x = lu_arg_tensor(argv, 0), *y = lu_arg_tensor(argv, 1);
  check_ndim(x, 0, 1);
  check_ndim(y, 1, 1);
  LuElem e = idx_promote(idx_elem(x), idx_elem(y));
  long dim[2] = {x->dim[0], y->dim[0]};
  LuTensor *out = idx_out_arg(argv, argc, 2, e, 2, dim);
  LuTensor *c = idx_dst_for(out, e);
  x = idx_input(x, e, c);
  y = idx_input(y, e, c);
  long step = rows_per_call(dim[1]);
  for (long i = 0; i < dim[0]; i += step) {
    lu_tensor_kger(e, dim[0] - i < step ? dim[0] - i : step, dim[1],
                   row_ptr(x, i), x->mod[0], lu_tensor_data(y), y->mod[0],
                   row_ptr(c, i), c->mod[0], c->mod[1]);
    lu_poll();
  }
  idx_dst_done(out, c);
  return idx_out_value(argv, argc, 2, out);
}

LuBuiltin *const idx_linalg_builtins[] = {
    &idx_m2dotm1_builtin, &idx_m2dotm2_builtin, &idx_m1extm1_builtin, NULL};
