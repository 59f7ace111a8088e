/* idx_impl.h: what the files of the tensor room share beyond tensor.h:
   type promotion, the helpers the builtins are written with (tensor.c),
   and each builtin file's registration table. Not part of the public API:
   see tensor.h. The room:
     kernels.c  element types and the kernels (plain pointers and strides)
     tensor.c   the tensor value: storage, the constructor, views, the
                walker, copies, printing and access, argument helpers
     ops.c      one table of same-shape builtins: constructors, element-wise
                operations, scalar operations, reductions, random fills
     literal.c  literals, lists, copy-matrix, what a tensor says of itself
     views.c    select, narrow, unfold, transpose, reshape, idx-gather; the
                slice loops
     linalg.c   matrix-vector, matrix-matrix and outer products
     image.c    idx-resize, idx-pad, idx-scale-pad, idx-shift */
#ifndef LU_IDX_IMPL_H
#define LU_IDX_IMPL_H

#include "tensor.h"

/* ---- Element types ---------------------------------------------------- */

static inline LuElem idx_elem(const LuTensor *t) {
  return t->st->elem;
}

/* lu_elem_size without its check, for the hot paths of the room. */
static inline long idx_size(LuElem e) {
  static const unsigned char size[] = {4, 8, 4, 1};
  return size[e];
}

static inline bool idx_integral(LuElem e) {
  return e == LU_INT || e == LU_UBYTE;
}

/* The type both a and b convert to without loss, as far as one exists:
   ubyte < int < float < double (int with float gives float, as in
   PyTorch). */
static inline LuElem idx_promote(LuElem a, LuElem b) {
  static const int rank[] = {2, 3, 1, 0};
  return rank[a] >= rank[b] ? a : b;
}

/* ---- Tensors (tensor.c) ------------------------------------------------ */

bool idx_is_tensor(LuValue *v);
/* A new contiguous zeroed tensor of elem with t's shape. */
LuTensor *idx_like(const LuTensor *t, LuElem elem);
/* A view on t's storage (see lu_tensor_make). */
LuTensor *idx_view(const LuTensor *t, int ndim, const long *dim,
                   const long *mod, long offset);
/* "[2x3]", a GC string. */
const char *idx_shape_of(int ndim, const long *dim);
bool idx_dims_equal(const LuTensor *t, int ndim, const long *dim);
/* Raise "WHO: shapes [..] and [..] differ". */
noreturn void idx_shapes_differ(int ndim, const long *dim, const LuTensor *t);
void idx_check_same_shape(const LuTensor *a, const LuTensor *b);

enum { IDX_CHUNK = 1 << 16 }; /* longest run between two polls */

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
} IdxCtx;

/* A contiguous copy of t with element type e. */
LuTensor *idx_copy_as(const LuTensor *t, LuElem e);
/* t as an operand of type e of an element-wise operation writing dst (dst
   may be NULL): t itself, or a copy when its type differs or writing dst
   could change it before it is read. */
LuTensor *idx_operand(LuTensor *t, LuElem e, const LuTensor *dst);
/* t as an input of type e to an operation writing dst in any order. */
LuTensor *idx_input(LuTensor *t, LuElem e, const LuTensor *dst);
void idx_fill_all(LuTensor *t, double v);
/* Where a result of type e is computed before it goes into out, and the
   conversion into out once it is there. */
LuTensor *idx_dst_for(LuTensor *out, LuElem e);
void idx_dst_done(LuTensor *out, LuTensor *dst);
/* Runs fn on out and the nin inputs (type-e operands), through a type-e
   destination converted into out when out has another type. */
void idx_map_into(LuTensor *out, int nin, LuTensor **in, LuElem e, LuRunFn fn,
                  IdxCtx *ctx);

/* ---- Arguments (tensor.c) ----------------------------------------------- */

/* One of the symbols float double int ubyte. */
LuElem idx_arg_elem(LuValue **argv, int i);
/* A number or a 0-d tensor. */
double idx_arg_scalar(LuValue **argv, int i);
/* A dimension number of t, 0 <= d < ndim. */
int idx_arg_dimno(LuValue **argv, int i, const LuTensor *t);
/* The output argument i when given (a tensor of exactly that shape, of any
   type), else a new zeroed tensor of type e; and what the builtin returns
   for it. */
LuTensor *idx_out_arg(LuValue **argv, int argc, int i, LuElem e, int ndim,
                      const long *dim);
LuValue *idx_out_value(LuValue **argv, int argc, int i, LuTensor *out);
/* Dimensions from arguments from..argc-1: integers, or one list of them.
   Returns their count. */
int idx_dims_args(LuValue **argv, int argc, int from, long *dim);

/* ---- The builtins of each file ----------------------------------------- */

extern LuBuiltin *const idx_literal_builtins[]; /* literal.c */
extern LuBuiltin *const idx_op_builtins[];      /* ops.c */
extern LuBuiltin *const idx_view_builtins[];    /* views.c */
extern LuBuiltin *const idx_linalg_builtins[];  /* linalg.c */
extern LuBuiltin *const idx_image_builtins[];   /* image.c */

#endif
