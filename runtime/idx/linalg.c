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
  return idx_size(idx_elem(t));
}

static char *row_ptr(const LuTensor *t, long i) {
  return (char *)lu_tensor_data(t) + i * t->mod[0] * size_of(t);
}

/* Arguments 0 and 1 of a product, *a and *b: tensors of na and nb
   dimensions, A's last dimension B's first when inner. Returns the type
   of the result. */
static LuElem factors(LuValue **argv, int na, int nb, bool inner, LuTensor **a,
                      LuTensor **b) {
  *a = lu_arg_tensor(argv, 0);
  *b = lu_arg_tensor(argv, 1);
  check_ndim(*a, 0, na);
  check_ndim(*b, 1, nb);
  if (inner && (*a)->dim[na - 1] != (*b)->dim[0])
    shapes_mismatch(*a, *b);
  return idx_promote(idx_elem(*a), idx_elem(*b));
}

/* Where a product of type e and shape (nd, dim) is computed: *out is OUT
   (argument 2) or a new tensor, the result a type-e tensor to convert
   into it with idx_dst_done; *a and *b become type-e inputs that the
   result may be written over. */
static LuTensor *product_dst(LuValue **argv, int argc, LuElem e, int nd,
                             const long *dim, LuTensor **out, LuTensor **a,
                             LuTensor **b) {
  *out = idx_out_arg(argv, argc, 2, e, nd, dim);
  LuTensor *dst = idx_dst_for(*out, e);
  *a = idx_input(*a, e, dst);
  *b = idx_input(*b, e, dst);
  return dst;
}

/* One product in progress: c = a b of type e, of m rows and n columns (1
   for a vector), k the size summed over (1 for the outer product). */
typedef struct {
  LuElem e;
  LuTensor *a, *b, *c;
  long m, n, k;
  double *work; /* n doubles for kgemm */
} Product;

typedef void RowsKernel(const Product *p, long i, long rows);

static void gemv_rows(const Product *p, long i, long rows) {
  const LuTensor *a = p->a, *x = p->b, *y = p->c;
  lu_tensor_kgemv(p->e, rows, p->k, row_ptr(a, i), a->mod[0], a->mod[1],
                  lu_tensor_data(x), x->mod[0], row_ptr(y, i), y->mod[0]);
}

static void gemm_rows(const Product *p, long i, long rows) {
  const LuTensor *a = p->a, *b = p->b, *c = p->c;
  lu_tensor_kgemm(p->e, rows, p->k, p->n, row_ptr(a, i), a->mod[0], a->mod[1],
                  lu_tensor_data(b), b->mod[0], b->mod[1], row_ptr(c, i),
                  c->mod[0], c->mod[1], p->work);
}

static void ger_rows(const Product *p, long i, long rows) {
  const LuTensor *x = p->a, *y = p->b, *c = p->c;
  lu_tensor_kger(p->e, rows, p->n, row_ptr(x, i), x->mod[0], lu_tensor_data(y),
                 y->mod[0], row_ptr(c, i), c->mod[0], c->mod[1]);
}

/* The product of arguments 0 and 1, tensors of na and nb dimensions
   (A's last dimension B's first when inner), into OUT (argument 2) or a
   new tensor: kernel runs over a bounded number of rows per call (about
   IDX_CHUNK operations) with a poll between calls. */
static LuValue *product(LuValue **argv, int argc, int na, int nb, bool inner,
                        RowsKernel *kernel) {
  Product p = {0};
  p.e = factors(argv, na, nb, inner, &p.a, &p.b);
  long dim[2];
  int nd = 0;
  for (int i = 0; i < na - inner; i++)
    dim[nd++] = p.a->dim[i];
  for (int i = inner; i < nb; i++)
    dim[nd++] = p.b->dim[i];
  p.m = dim[0];
  p.n = nd == 2 ? dim[1] : 1;
  p.k = inner ? p.a->dim[na - 1] : 1;
  LuTensor *out;
  p.c = product_dst(argv, argc, p.e, nd, dim, &out, &p.a, &p.b);
  if (kernel == gemm_rows)
    p.work = lu_alloc_atomic(sizeof(double) * (size_t)p.n, lu_caller());
  long step = rows_per_call(p.k * p.n);
  for (long i = 0; i < p.m; i += step) {
    kernel(&p, i, p.m - i < step ? p.m - i : step);
    lu_poll();
  }
  idx_dst_done(out, p.c);
  return idx_out_value(argv, argc, 2, out);
}

LU_DEFUN(idx_m2dotm1, "(idx-m2dotm1 A X [OUT])",
         "The matrix-vector product A X: A of m rows and n columns, X of n "
         "elements, the result of m; dot products accumulate in double.") {
  return product(argv, argc, 2, 1, true, gemv_rows);
}

LU_DEFUN(idx_m2dotm2, "(idx-m2dotm2 A B [OUT])",
         "The matrix product A B: A of m x k, B of k x n, the result m x n; "
         "sums accumulate in double.") {
  return product(argv, argc, 2, 2, true, gemm_rows);
}

LU_DEFUN(idx_m1extm1, "(idx-m1extm1 X Y [OUT])",
         "The outer product: X of m elements, Y of n, the result m x n with "
         "element (i j) = X(i) Y(j).") {
  return product(argv, argc, 1, 1, false, ger_rows);
}

LuBuiltin *const idx_linalg_builtins[] = {
    &idx_m2dotm1_builtin, &idx_m2dotm2_builtin, &idx_m1extm1_builtin, NULL};
