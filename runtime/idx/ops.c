/* ops.c: the tensor builtins that differ only by their operation, made
   from one table, IDX_OPS, of rows {shape, C name, operation, usage, doc}:
   the constructors, the element-wise unary and binary operations, the
   operations with a scalar, the reductions, the index of an extreme and
   the random fills. A shape is the function that checks the arguments of
   its rows, chooses the result's type and runs the operation through the
   walker and the kernels. A new operation of an existing shape is one row
   (and, when it computes something new, one case in kernels.c). Then the few
   element builtins of a shape of their own: idx-dot, idx-copy, idx-clear,
   idx-fill. */
#include <tgmath.h>

#include "idx_impl.h"

/* ---- Runs: one kernel call on one run of the walker -------------------- */

static void run_binop(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  lu_tensor_kbinop(x->op, x->e, n, p[0], s[0], p[1], s[1], p[2], s[2]);
}

static void run_unop(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  lu_tensor_kunop(x->op, x->e, n, p[0], s[0], p[1], s[1]);
}

static void run_affine(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  lu_tensor_kaffine(x->e, n, p[0], s[0], p[1], s[1], x->x, x->y);
}

static void run_reduce(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  double v = lu_tensor_kreduce(x->op, x->e, n, p[0], s[0]);
  if (x->op == LU_SUM || x->op == LU_SUMSQR)
    x->acc += v;
  else if (x->acc == x->acc &&
           (v != v || (x->op == LU_SUP ? v > x->acc : v < x->acc)))
    x->acc = v;
}

static void run_dot(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  x->acc += lu_tensor_kdot(x->e, n, p[0], s[0], p[1], s[1]);
}

/* The index, in row-major order, of the first extreme element. */
static void run_argmax(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  long i = lu_tensor_kargmax(x->e, n, p[0], s[0], x->op);
  double v = lu_elem_get(x->e, p[0], i * s[0]);
  if (x->best < 0 ||
      (x->acc == x->acc && (v != v || (x->op ? v < x->acc : v > x->acc)))) {
    x->best = x->seen + i;
    x->acc = v;
  }
  x->seen += n;
}

enum { UNIFORM, NORMAL };

/* Elements in row-major order of the logical indices, so a seed gives the
   same tensor whatever its strides. Uniform: x + (y - x) u, kept below y
   after rounding to float, floored for integer tensors. Normal: x + y n.
   The numbers go through a buffer of doubles into the conversion kernel,
   which stores them as lu_elem_set does. */
static void run_random(void *c, long n, char *const *p, const long *s) {
  IdxCtx *x = c;
  enum { BUF = 256 };
  double v[BUF];
  for (long i = 0; i < n; i += BUF) {
    long k = n - i < BUF ? n - i : BUF;
    for (long j = 0; j < k; j++) {
      if (x->op == NORMAL) {
        v[j] = x->x + x->y * lu_rand_normal();
        continue;
      }
      v[j] = x->x + (x->y - x->x) * lu_rand_uniform();
      if (idx_integral(x->e))
        v[j] = floor(v[j]);
      else if (x->e == LU_FLOAT && (float)v[j] >= x->y && x->y > x->x)
        v[j] = nextafterf((float)v[j], -INFINITY);
    }
    lu_tensor_kconvert(x->e, k, p[0] + i * s[0] * idx_size(x->e), s[0],
                       LU_DOUBLE, v, 1);
  }
}

/* ---- Shapes ------------------------------------------------------------ */

/* (NAME D...): a new zeroed tensor of element type op. */
static LuValue *make(int op, LuValue **argv, int argc) {
  long dim[LU_MAXDIM];
  int nd = idx_dims_args(argv, argc, 0, dim);
  return lu_tensor_value(lu_tensor_make(op, nd, dim, NULL, NULL, 0));
}

/* REAL(op): op is a real function, whose result is float for integer
   operands (sqrt, division...); the others keep the operands' type. */
enum { REAL_FLAG = 1 << 8 };
#define REAL(op) ((op) | REAL_FLAG)

/* The type of op's result for operands of type e; op loses its flag. */
static LuElem result_elem(int *op, LuElem e) {
  bool real = *op & REAL_FLAG;
  *op &= ~REAL_FLAG;
  return real && idx_integral(e) ? LU_FLOAT : e;
}

/* (NAME A B [OUT]): the LuBinop op element-wise; the types promote. */
static LuValue *binary(int op, LuValue **argv, int argc) {
  LuTensor *a = lu_arg_tensor(argv, 0), *b = lu_arg_tensor(argv, 1);
  idx_check_same_shape(a, b);
  LuElem e = result_elem(&op, idx_promote(idx_elem(a), idx_elem(b)));
  LuTensor *out = idx_out_arg(argv, argc, 2, e, a->ndim, a->dim);
  IdxCtx c = {.op = op};
  idx_map_into(out, 2, (LuTensor *[]){a, b}, e, run_binop, &c);
  return idx_out_value(argv, argc, 2, out);
}

/* (NAME A [OUT]): the LuUnop op element-wise. */
static LuValue *unary(int op, LuValue **argv, int argc) {
  LuTensor *a = lu_arg_tensor(argv, 0);
  LuElem e = result_elem(&op, idx_elem(a));
  LuTensor *out = idx_out_arg(argv, argc, 1, e, a->ndim, a->dim);
  IdxCtx c = {.op = op};
  idx_map_into(out, 1, &a, e, run_unop, &c);
  return idx_out_value(argv, argc, 1, out);
}

/* (NAME A S [OUT]): A + S (op LU_ADD) or A * S (LU_MUL) for a number or
   0-d tensor S. An integer tensor stays integer when S is integral and
   gives float otherwise. */
static LuValue *with_scalar(int op, LuValue **argv, int argc) {
  double s = idx_arg_scalar(argv, 1);
  LuTensor *a = lu_arg_tensor(argv, 0);
  LuElem e = idx_elem(a);
  if (idx_integral(e) && s != floor(s))
    e = LU_FLOAT;
  LuTensor *out = idx_out_arg(argv, argc, 2, e, a->ndim, a->dim);
  IdxCtx c = {.x = op == LU_MUL ? s : 1, .y = op == LU_MUL ? 0 : s};
  idx_map_into(out, 1, &a, e, run_affine, &c);
  return idx_out_value(argv, argc, 2, out);
}

static void nonempty(const LuTensor *t) {
  if (lu_tensor_nelem(t) == 0)
    lu_error("%s: empty tensor %s", lu_caller(), lu_tensor_shape_string(t));
}

/* v as the result: a number, or stored in OUT, a 0-d tensor, when given. */
static LuValue *scalar_result(double v, LuValue **argv, int argc, int i) {
  if (!lu_arg_given(argv, argc, i))
    return lu_number(v);
  LuTensor *o = idx_out_arg(argv, argc, i, LU_FLOAT, 0, NULL);
  lu_tensor_set(o, NULL, v);
  return argv[i];
}

enum { MEAN = LU_INF + 1 }; /* the sum over the count */

/* (NAME M [OUT]): the LuReduce op over M's elements, or MEAN; the
   extremes and the mean of an empty tensor raise. */
static LuValue *reduction(int op, LuValue **argv, int argc) {
  LuTensor *t = lu_arg_tensor(argv, 0);
  if (op != LU_SUM && op != LU_SUMSQR)
    nonempty(t);
  IdxCtx c = {.op = op == MEAN ? LU_SUM : op,
              .e = idx_elem(t),
              .acc = op == LU_SUP   ? -INFINITY
                     : op == LU_INF ? INFINITY
                                    : 0};
  lu_tensor_walk(1, &t, run_reduce, &c);
  if (op == MEAN)
    c.acc /= (double)lu_tensor_nelem(t);
  return scalar_result(c.acc, argv, argc, 1);
}

/* (NAME M): the row-major index of the first largest (op LU_SUP) or
   smallest (LU_INF) element of M, not empty. */
static LuValue *extreme_index(int op, LuValue **argv, int argc) {
  (void)argc;
  LuTensor *t = lu_arg_tensor(argv, 0);
  nonempty(t);
  IdxCtx c = {.op = op == LU_INF, .e = idx_elem(t), .best = -1};
  lu_tensor_walk(1, &t, run_argmax, &c);
  return lu_number((double)c.best);
}

/* (NAME M [X Y]): fills M with UNIFORM numbers in [X, Y) or NORMAL ones
   of mean X and deviation Y, X and Y 0 and 1 by default; returns M. */
static LuValue *random_fill(int op, LuValue **argv, int argc) {
  LuTensor *t = lu_arg_tensor(argv, 0);
  double x = lu_arg_given(argv, argc, 1) ? lu_arg_num(argv, 1) : 0;
  double y = lu_arg_given(argv, argc, 2) ? lu_arg_num(argv, 2) : 1;
  IdxCtx c = {.op = op, .e = idx_elem(t), .x = x, .y = y};
  lu_tensor_walk(1, &t, run_random, &c);
  return argv[0];
}

/* ---- The table --------------------------------------------------------- */

#define IDX_OPS(X)                                                             \
  X(make, float_matrix, LU_FLOAT, "(float-matrix D...)",                       \
    "A new float tensor of dimensions D... (integers, or one list of "         \
    "them), zero-filled. (float-matrix) is 0-d.")                              \
  X(make, double_matrix, LU_DOUBLE, "(double-matrix D...)",                    \
    "A new double tensor of dimensions D..., zero-filled.")                    \
  X(make, int_matrix, LU_INT, "(int-matrix D...)",                             \
    "A new tensor of 32-bit ints of dimensions D..., zero-filled.")            \
  X(make, ubyte_matrix, LU_UBYTE, "(ubyte-matrix D...)",                       \
    "A new tensor of unsigned bytes of dimensions D..., zero-filled.")         \
  X(make, matrix, LU_FLOAT, "(matrix D...)", "Same as float-matrix.")          \
  X(binary, idx_add, LU_ADD, "(idx-add A B [OUT])",                            \
    "A + B element-wise, into OUT or a new tensor. A and B have one "          \
    "shape; types promote (ubyte < int < float < double); integer "            \
    "results saturate.")                                                       \
  X(binary, idx_sub, LU_SUB, "(idx-sub A B [OUT])",                            \
    "A - B element-wise; see idx-add.")                                        \
  X(binary, idx_mul, LU_MUL, "(idx-mul A B [OUT])",                            \
    "A * B element-wise; see idx-add.")                                        \
  X(binary, idx_div, REAL(LU_DIV), "(idx-div A B [OUT])",                      \
    "A / B element-wise (IEEE: x/0 is inf); integer tensors give "             \
    "float. See idx-add.")                                                     \
  X(binary, idx_max, LU_MAX, "(idx-max A B [OUT])",                            \
    "The larger of A and B element-wise (NaN wins); see idx-add. "             \
    "idx-sup is the largest element of one tensor.")                           \
  X(binary, idx_min, LU_MIN, "(idx-min A B [OUT])",                            \
    "The smaller of A and B element-wise (NaN wins); see idx-add.")            \
  X(unary, idx_neg, LU_NEG, "(idx-neg A [OUT])", "-A element-wise.")           \
  X(unary, idx_abs, LU_ABS, "(idx-abs A [OUT])", "|A| element-wise.")          \
  X(unary, idx_sqr, LU_SQR, "(idx-sqr A [OUT])", "A squared element-wise.")    \
  X(unary, idx_sqrt, REAL(LU_SQRT), "(idx-sqrt A [OUT])",                      \
    "Square root element-wise (NaN below 0); integer tensors give "            \
    "float.")                                                                  \
  X(unary, idx_exp, REAL(LU_EXP), "(idx-exp A [OUT])",                         \
    "e^A element-wise; integer tensors give float.")                           \
  X(unary, idx_log, REAL(LU_LOG), "(idx-log A [OUT])",                         \
    "Natural log element-wise; integer tensors give float.")                   \
  X(unary, idx_tanh, REAL(LU_TANH), "(idx-tanh A [OUT])",                      \
    "tanh element-wise; integer tensors give float.")                          \
  X(unary, idx_relu, LU_RELU, "(idx-relu A [OUT])", "max(A, 0) element-wise.") \
  X(with_scalar, idx_addm0, LU_ADD, "(idx-addm0 A S [OUT])",                   \
    "A + S for a number (or 0-d tensor) S. An integer tensor with a "          \
    "non-integral S gives float.")                                             \
  X(with_scalar, idx_dotm0, LU_MUL, "(idx-dotm0 A S [OUT])",                   \
    "A * S for a number (or 0-d tensor) S: scaling. An integer tensor "        \
    "with a non-integral S gives float.")                                      \
  X(reduction, idx_sum, LU_SUM, "(idx-sum M [OUT])",                           \
    "The sum of M's elements, accumulated in double; stored in OUT, a "        \
    "0-d tensor, when given.")                                                 \
  X(reduction, idx_sumsqr, LU_SUMSQR, "(idx-sumsqr M [OUT])",                  \
    "The sum of the squares of M's elements; see idx-sum.")                    \
  X(reduction, idx_mean, MEAN, "(idx-mean M [OUT])",                           \
    "The mean of M's elements (M not empty); see idx-sum.")                    \
  X(reduction, idx_sup, LU_SUP, "(idx-sup M [OUT])",                           \
    "The largest element of M (not empty; NaN wins); see idx-sum.")            \
  X(reduction, idx_inf, LU_INF, "(idx-inf M [OUT])",                           \
    "The smallest element of M (not empty; NaN wins); see idx-sum.")           \
  X(extreme_index, idx_indexmax, LU_SUP, "(idx-indexmax M)",                   \
    "The index of M's first largest element; for more than one "               \
    "dimension, its index in row-major order (as in (idx-reshape M "           \
    "-1)).")                                                                   \
  X(extreme_index, idx_indexmin, LU_INF, "(idx-indexmin M)",                   \
    "The index of M's first smallest element; see idx-indexmax.")              \
  X(random_fill, idx_rand, UNIFORM, "(idx-rand M [LO HI])",                    \
    "Fills M with uniform numbers in [LO, HI), default [0, 1), from "          \
    "the generator (seed N) sets, in row-major order; integer tensors "        \
    "get floor values. Returns M.")                                            \
  X(random_fill, idx_randn, NORMAL, "(idx-randn M [MEAN SD])",                 \
    "Fills M with normal numbers, default mean 0 and standard "                \
    "deviation 1, from the generator (seed N) sets. Returns M.")

#define DEFINE_OP(shape, cname, op, usage, doc)                                \
  LU_DEFUN(cname, usage, doc) {                                                \
    return shape(op, argv, argc);                                              \
  }
IDX_OPS(DEFINE_OP)

/* ---- Element builtins of their own shape ------------------------------- */

LU_DEFUN(idx_dot, "(idx-dot A B [OUT])",
         "The sum of A * B element-wise (one shape), accumulated in "
         "double; see idx-sum.") {
  LuTensor *a = lu_arg_tensor(argv, 0), *b = lu_arg_tensor(argv, 1);
  idx_check_same_shape(a, b);
  LuElem e = idx_promote(idx_elem(a), idx_elem(b));
  IdxCtx c = {.e = e};
  lu_tensor_walk(
      2, (LuTensor *[]){idx_operand(a, e, NULL), idx_operand(b, e, NULL)},
      run_dot, &c);
  return scalar_result(c.acc, argv, argc, 2);
}

LU_DEFUN(idx_copy, "(idx-copy SRC DST)",
         "Copies SRC's elements into DST (same shape, any types) and "
         "returns DST.") {
  lu_tensor_copy(lu_arg_tensor(argv, 1), lu_arg_tensor(argv, 0));
  return argv[1];
}

LU_DEFUN(idx_clear, "(idx-clear M)", "Sets every element of M to 0; M.") {
  idx_fill_all(lu_arg_tensor(argv, 0), 0);
  return argv[0];
}

LU_DEFUN(idx_fill, "(idx-fill M X)", "Sets every element of M to X; M.") {
  idx_fill_all(lu_arg_tensor(argv, 0), idx_arg_scalar(argv, 1));
  return argv[0];
}

#define OP_ENTRY(shape, cname, op, usage, doc) &cname##_builtin,
LuBuiltin *const idx_op_builtins[] = {IDX_OPS(OP_ENTRY) & idx_dot_builtin,
                                      &idx_copy_builtin, &idx_clear_builtin,
                                      &idx_fill_builtin, NULL};
