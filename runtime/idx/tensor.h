/* tensor.h: typed storage and strided tensors ("idx"), their kernels and
   their Lisp builtins (runtime/idx/; idx_impl.h says which file holds
   what). A tensor is sizes + strides + offset into a shared storage; views
   rewrite only sizes, strides and offset. */
#ifndef LU_TENSOR_H
#define LU_TENSOR_H

#include "lush.h"

#define LU_MAXDIM 8

typedef enum { LU_FLOAT, LU_DOUBLE, LU_INT, LU_UBYTE } LuElem;

typedef struct {
  LuElem elem;
  size_t n;   /* elements */
  void *data; /* GC_MALLOC_ATOMIC */
} LuStorage;

typedef struct {
  LuStorage *st;
  int ndim;
  long dim[LU_MAXDIM];
  long mod[LU_MAXDIM]; /* strides, in elements */
  long offset;         /* in elements */
} LuTensor;

extern const LuCType lu_tensor_ctype;

/* The one constructor. With view == NULL: a new contiguous tensor of elem
   with the given dims, zero-filled storage. With view != NULL: a view on
   view's storage with the given dims, strides mod (in elements; NULL means
   contiguous) and offset. dim may be NULL when ndim is 0. Raises on a bad
   shape, a view reaching outside the storage, sizes or strides too large
   to index (every element offset, in bytes, fits in a long, even for an
   empty tensor), or an allocation the machine cannot give. */
LuTensor *lu_tensor_make(LuElem elem, int ndim, const long *dim,
                         const LuTensor *view, const long *mod, long offset);

LuValue *lu_tensor_value(LuTensor *t);          /* wrap for Lisp */
LuTensor *lu_arg_tensor(LuValue **argv, int i); /* checker */
size_t lu_elem_size(LuElem e);
const char *lu_elem_name(LuElem e); /* "float", ... */
long lu_tensor_nelem(const LuTensor *t);
bool lu_tensor_contiguous(const LuTensor *t);
/* Pointer to the first element (storage data + offset). */
void *lu_tensor_data(const LuTensor *t);

void lu_tensor_open(void);

/* ---- Helpers for other C modules ------------------------------------- */

/* Element i of an array of type e, as a double. */
double lu_elem_get(LuElem e, const void *p, long i);
/* Stores x as element i: floats round, integers truncate toward zero and
   saturate at the type's range, NaN stores as 0. */
void lu_elem_set(LuElem e, void *p, long i, double x);
/* The element at index idx[0..ndim) (unchecked), read and written. */
double lu_tensor_get(const LuTensor *t, const long *idx);
void lu_tensor_set(LuTensor *t, const long *idx, double x);
/* "[2x3]" ("[]" for 0-d), a GC string, for messages. */
const char *lu_tensor_shape_string(const LuTensor *t);
bool lu_tensor_same_shape(const LuTensor *a, const LuTensor *b);
/* Copies src into dst (same shape, any types; overlapping views are
   handled). Raises "WHO: shapes [..] and [..] differ"; polls. */
void lu_tensor_copy(LuTensor *dst, const LuTensor *src);
/* A run of n elements: p[i] is operand i's first, s[i] its stride in
   elements. */
typedef void (*LuRunFn)(void *ctx, long n, char *const *p, const long *s);
/* Calls fn on the runs of k (1 to 3) tensors of one shape, in row-major
   order of their indices, at most 64K elements a call, polling for Ctrl-C
   between calls; never for an empty tensor. Checks nothing. */
void lu_tensor_walk(int k, LuTensor *const *t, LuRunFn fn, void *ctx);

/* ---- Kernels ----------------------------------------------------------
   Plain pointers, counts and strides in elements (any sign). Kernels never
   raise, never allocate, never poll: the builtins above them check shapes,
   split long work and poll between calls. Every operand has element type e
   unless said otherwise; stores follow lu_elem_set. Float arithmetic is
   done in float, integer arithmetic in double; sums and dot products
   accumulate in double, in 16 lanes (element i in lane i % 16) folded in
   halves, so a result does not depend on the strides. */

typedef enum { LU_ADD, LU_SUB, LU_MUL, LU_DIV, LU_MAX, LU_MIN } LuBinop;
typedef enum {
  LU_COPY,
  LU_NEG,
  LU_ABS,
  LU_SQR,
  LU_SQRT,
  LU_EXP,
  LU_LOG,
  LU_TANH,
  LU_RELU
} LuUnop;
typedef enum { LU_SUM, LU_SUMSQR, LU_SUP, LU_INF } LuReduce;

/* o[i] = a[i] op b[i], i < n. MAX and MIN propagate NaN. */
void lu_tensor_kbinop(LuBinop op, LuElem e, long n, void *o, long so,
                      const void *a, long sa, const void *b, long sb);
/* o[i] = f(a[i]). */
void lu_tensor_kunop(LuUnop op, LuElem e, long n, void *o, long so,
                     const void *a, long sa);
/* o[i] = a[i] * mul + add, mul and add first rounded to e's arithmetic. */
void lu_tensor_kaffine(LuElem e, long n, void *o, long so, const void *a,
                       long sa, double mul, double add);
void lu_tensor_kfill(LuElem e, long n, void *o, long so, double x);
/* o[i] = a[i], o of type eo and a of type ea. */
void lu_tensor_kconvert(LuElem eo, long n, void *o, long so, LuElem ea,
                        const void *a, long sa);
/* One image to a net's input: the plane a of h x w elements of type ea
   (strides sa0 per row, sa1 per column) as floats x * mul + add, padded
   by pad[0..4) (top, bottom, left, right) with v, into the float plane o
   of (pad[0] + h + pad[1]) x (pad[2] + w + pad[3]) (strides so0, so1). In
   float: the product rounds, then the sum, as kaffine run twice on a float
   copy of a (mul with add 0, then add with mul 1) rounds them; the sign
   of a zero can differ when add is -0. */
void lu_tensor_kscale_pad(LuElem ea, long h, long w, const void *a, long sa0,
                          long sa1, float *o, long so0, long so1,
                          const long *pad, float mul, float add, float v);
/* Sum, sum of squares (0 when n is 0), largest or smallest element (NaN
   propagates; -inf or inf when n is 0). */
double lu_tensor_kreduce(LuReduce op, LuElem e, long n, const void *a, long sa);
double lu_tensor_kdot(LuElem e, long n, const void *a, long sa, const void *b,
                      long sb);
/* Index of the first largest (or, with min, smallest) element; a NaN wins.
   -1 when n is 0. */
long lu_tensor_kargmax(LuElem e, long n, const void *a, long sa, bool min);
/* y[i] = sum_j a[i][j] x[j], for a of m rows and n columns. */
void lu_tensor_kgemv(LuElem e, long m, long n, const void *a, long sa0,
                     long sa1, const void *x, long sx, void *y, long sy);
/* c[i][j] = sum_l a[i][l] b[l][j] for i < m, l < k, j < n; work holds n
   doubles. */
void lu_tensor_kgemm(LuElem e, long m, long k, long n, const void *a, long sa0,
                     long sa1, const void *b, long sb0, long sb1, void *c,
                     long sc0, long sc1, double *work);
/* c[i][j] = x[i] y[j]. */
void lu_tensor_kger(LuElem e, long m, long n, const void *x, long sx,
                    const void *y, long sy, void *c, long sc0, long sc1);

/* Bilinear resampling with PyTorch's F.interpolate(mode="bilinear",
   align_corners=False, antialias=False) semantics. One output coordinate
   reads source coordinates i0 and i1 with weights w0 and w1. */
typedef struct {
  long i0, i1;
  double w0, w1;
} LuLerp;
/* Fills tab[0..out) for a dimension of size in resampled to out. Like
   PyTorch, the coordinates and weights are computed in float for float
   tensors and in double otherwise. */
void lu_tensor_klerp(LuElem e, long in, long out, LuLerp *tab);
/* Resamples one plane to oh x ow (ty: oh entries, tx: ow entries). */
void lu_tensor_kresize(LuElem e, const void *in, long si0, long si1, long oh,
                       long ow, void *out, long so0, long so1, const LuLerp *ty,
                       const LuLerp *tx);

#endif
