/* kernels.c: the typed element layer of tensors. Owns the element types
   (sizes, names, saturating stores) and every kernel lu_tensor_k*: plain
   pointers, counts and strides in elements; a kernel never raises, never
   allocates and never polls, so the C tests call them directly and the
   builtins above them do all the checking. Each element-wise loop has a
   contiguous fast path, which gcc vectorises, and a general strided
   path. */
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "idx_impl.h"

/* ---- Element types ---------------------------------------------------- */

size_t lu_elem_size(LuElem e) {
  if ((unsigned)e > LU_UBYTE)
    abort();
  return (size_t)idx_size(e);
}

const char *lu_elem_name(LuElem e) {
  static const char *const name[] = {"float", "double", "int", "ubyte"};
  if ((unsigned)e > LU_UBYTE)
    abort();
  return name[e];
}

static inline int32_t sat_i32(double x) {
  if (x >= 2147483647.0)
    return INT32_MAX;
  if (x <= -2147483648.0)
    return INT32_MIN;
  return x == x ? (int32_t)x : 0;
}

static inline uint8_t sat_u8(double x) {
  if (x >= 255.0)
    return 255;
  return x > 0 ? (uint8_t)x : 0;
}

/* Per element type: enum, C type, name suffix, the type arithmetic is done
   in (float stays float, integers go through double) and the store. */
#define LU_ELEMS(X)                                                            \
  X(LU_FLOAT, float, f, float, (float))                                        \
  X(LU_DOUBLE, double, d, double, (double))                                    \
  X(LU_INT, int32_t, i, double, sat_i32)                                       \
  X(LU_UBYTE, uint8_t, u, double, sat_u8)

/* Calls FN_f, FN_d, FN_i or FN_u according to e. */
#define DISPATCH(e, FN, ...)                                                   \
  switch (e) {                                                                 \
  case LU_FLOAT:                                                               \
    FN##_f(__VA_ARGS__);                                                       \
    break;                                                                     \
  case LU_DOUBLE:                                                              \
    FN##_d(__VA_ARGS__);                                                       \
    break;                                                                     \
  case LU_INT:                                                                 \
    FN##_i(__VA_ARGS__);                                                       \
    break;                                                                     \
  case LU_UBYTE:                                                               \
    FN##_u(__VA_ARGS__);                                                       \
    break;                                                                     \
  default:                                                                     \
    abort();                                                                   \
  }
#define DISPATCH_RETURN(e, FN, ...)                                            \
  switch (e) {                                                                 \
  case LU_FLOAT:                                                               \
    return FN##_f(__VA_ARGS__);                                                \
  case LU_DOUBLE:                                                              \
    return FN##_d(__VA_ARGS__);                                                \
  case LU_INT:                                                                 \
    return FN##_i(__VA_ARGS__);                                                \
  case LU_UBYTE:                                                               \
    return FN##_u(__VA_ARGS__);                                                \
  default:                                                                     \
    abort();                                                                   \
  }

double lu_elem_get(LuElem e, const void *p, long i) {
  switch (e) {
  case LU_FLOAT:
    return ((const float *)p)[i];
  case LU_DOUBLE:
    return ((const double *)p)[i];
  case LU_INT:
    return ((const int32_t *)p)[i];
  case LU_UBYTE:
    return ((const uint8_t *)p)[i];
  }
  abort();
}

void lu_elem_set(LuElem e, void *p, long i, double x) {
  switch (e) {
  case LU_FLOAT:
    ((float *)p)[i] = (float)x;
    return;
  case LU_DOUBLE:
    ((double *)p)[i] = x;
    return;
  case LU_INT:
    ((int32_t *)p)[i] = sat_i32(x);
    return;
  case LU_UBYTE:
    ((uint8_t *)p)[i] = sat_u8(x);
    return;
  }
  abort();
}

/* ---- Kernels ---------------------------------------------------------- */

/* Element-wise loops: a fast path when every operand is contiguous, which
   gcc vectorises, and the general strided path. The body sees x (and y) in
   the arithmetic type ACC. */
#define MAP1(T, ACC, ST, EXPR)                                                 \
  do {                                                                         \
    T *o = vo;                                                                 \
    const T *a = va;                                                           \
    if (so == 1 && sa == 1)                                                    \
      for (long i = 0; i < n; i++) {                                           \
        ACC x = a[i];                                                          \
        o[i] = ST(EXPR);                                                       \
      }                                                                        \
    else                                                                       \
      for (long i = 0; i < n; i++) {                                           \
        ACC x = a[i * sa];                                                     \
        o[i * so] = ST(EXPR);                                                  \
      }                                                                        \
  } while (0)

#define MAP2(T, ACC, ST, EXPR)                                                 \
  do {                                                                         \
    T *o = vo;                                                                 \
    const T *a = va, *b = vb;                                                  \
    if (so == 1 && sa == 1 && sb == 1)                                         \
      for (long i = 0; i < n; i++) {                                           \
        ACC x = a[i], y = b[i];                                                \
        o[i] = ST(EXPR);                                                       \
      }                                                                        \
    else                                                                       \
      for (long i = 0; i < n; i++) {                                           \
        ACC x = a[i * sa], y = b[i * sb];                                      \
        o[i * so] = ST(EXPR);                                                  \
      }                                                                        \
  } while (0)

#define DEF_BINOP(E, T, S, ACC, ST)                                            \
  static void binop_##S(LuBinop op, long n, void *vo, long so, const void *va, \
                        long sa, const void *vb, long sb) {                    \
    switch (op) {                                                              \
    case LU_ADD:                                                               \
      MAP2(T, ACC, ST, x + y);                                                 \
      break;                                                                   \
    case LU_SUB:                                                               \
      MAP2(T, ACC, ST, x - y);                                                 \
      break;                                                                   \
    case LU_MUL:                                                               \
      MAP2(T, ACC, ST, x *y);                                                  \
      break;                                                                   \
    case LU_DIV:                                                               \
      MAP2(T, ACC, ST, x / y);                                                 \
      break;                                                                   \
    case LU_MAX:                                                               \
      MAP2(T, ACC, ST, x > y || x != x ? x : y);                               \
      break;                                                                   \
    case LU_MIN:                                                               \
      MAP2(T, ACC, ST, x < y || x != x ? x : y);                               \
      break;                                                                   \
    }                                                                          \
  }
LU_ELEMS(DEF_BINOP)

void lu_tensor_kbinop(LuBinop op, LuElem e, long n, void *o, long so,
                      const void *a, long sa, const void *b, long sb) {
  DISPATCH(e, binop, op, n, o, so, a, sa, b, sb);
}

/* tanh for floats, through exp in double: 5x faster than glibc's tanhf
   and correctly rounded to float but for rare ties (relative error below
   1e-13 before the rounding). */
static inline double tanh_for_float(double x) {
  if (fabs(x) < 1e-3)
    return x - x * x * x / 3;
  if (fabs(x) > 20)
    return x > 0 ? 1 : -1;
  double e = exp(2 * x);
  return (e - 1) / (e + 1);
}

#define DEF_UNOP(E, T, S, ACC, ST)                                             \
  static void unop_##S(LuUnop op, long n, void *vo, long so, const void *va,   \
                       long sa) {                                              \
    switch (op) {                                                              \
    case LU_COPY:                                                              \
      MAP1(T, ACC, ST, x);                                                     \
      break;                                                                   \
    case LU_NEG:                                                               \
      MAP1(T, ACC, ST, -x);                                                    \
      break;                                                                   \
    case LU_ABS:                                                               \
      MAP1(T, ACC, ST, fabs(x));                                               \
      break;                                                                   \
    case LU_SQR:                                                               \
      MAP1(T, ACC, ST, x *x);                                                  \
      break;                                                                   \
    case LU_SQRT:                                                              \
      MAP1(T, ACC, ST, sqrt(x));                                               \
      break;                                                                   \
    case LU_EXP:                                                               \
      MAP1(T, ACC, ST, exp(x));                                                \
      break;                                                                   \
    case LU_LOG:                                                               \
      MAP1(T, ACC, ST, log(x));                                                \
      break;                                                                   \
    case LU_TANH:                                                              \
      MAP1(T, ACC, ST, E == LU_FLOAT ? (ACC)tanh_for_float(x) : tanh(x));      \
      break;                                                                   \
    case LU_RELU:                                                              \
      MAP1(T, ACC, ST, x < 0 ? 0 : x);                                         \
      break;                                                                   \
    }                                                                          \
  }
LU_ELEMS(DEF_UNOP)

void lu_tensor_kunop(LuUnop op, LuElem e, long n, void *o, long so,
                     const void *a, long sa) {
  DISPATCH(e, unop, op, n, o, so, a, sa);
}

#define DEF_AFFINE(E, T, S, ACC, ST)                                           \
  static void affine_##S(long n, void *vo, long so, const void *va, long sa,   \
                         double mul, double add) {                             \
    ACC m = (ACC)mul, c = (ACC)add;                                            \
    MAP1(T, ACC, ST, x *m + c);                                                \
  }                                                                            \
  static void fill_##S(long n, void *vo, long so, double x) {                  \
    T *o = vo, v = ST(x);                                                      \
    if (so == 1)                                                               \
      for (long i = 0; i < n; i++)                                             \
        o[i] = v;                                                              \
    else                                                                       \
      for (long i = 0; i < n; i++)                                             \
        o[i * so] = v;                                                         \
  }
LU_ELEMS(DEF_AFFINE)

void lu_tensor_kaffine(LuElem e, long n, void *o, long so, const void *a,
                       long sa, double mul, double add) {
  DISPATCH(e, affine, n, o, so, a, sa, mul, add);
}

void lu_tensor_kfill(LuElem e, long n, void *o, long so, double x) {
  DISPATCH(e, fill, n, o, so, x);
}

#define CONVERT_FROM(T, ST, TA)                                                \
  do {                                                                         \
    T *o = vo;                                                                 \
    const TA *a = va;                                                          \
    if (so == 1 && sa == 1)                                                    \
      for (long i = 0; i < n; i++)                                             \
        o[i] = ST(a[i]);                                                       \
    else                                                                       \
      for (long i = 0; i < n; i++)                                             \
        o[i * so] = ST(a[i * sa]);                                             \
  } while (0)

#define DEF_CONVERT(E, T, S, ACC, ST)                                          \
  static void convert_##S(long n, void *vo, long so, LuElem ea,                \
                          const void *va, long sa) {                           \
    switch (ea) {                                                              \
    case LU_FLOAT:                                                             \
      CONVERT_FROM(T, ST, float);                                              \
      break;                                                                   \
    case LU_DOUBLE:                                                            \
      CONVERT_FROM(T, ST, double);                                             \
      break;                                                                   \
    case LU_INT:                                                               \
      CONVERT_FROM(T, ST, int32_t);                                            \
      break;                                                                   \
    case LU_UBYTE:                                                             \
      CONVERT_FROM(T, ST, uint8_t);                                            \
      break;                                                                   \
    }                                                                          \
  }
LU_ELEMS(DEF_CONVERT)

void lu_tensor_kconvert(LuElem eo, long n, void *o, long so, LuElem ea,
                        const void *a, long sa) {
  /* a plain copy: the stores of the loops below would only round-trip
     through double, byte by byte */
  if (eo == ea && so == 1 && sa == 1) {
    memmove(o, a, (size_t)n * (size_t)idx_size(eo));
    return;
  }
  DISPATCH(eo, convert, n, o, so, ea, a, sa);
}

/* Conversion to scaled floats: x is a[y][x] as a float, then the product
   and the sum each round to float, in two statements so that no compiler
   fuses them into one multiply-add: the numbers idx-copy into a float
   tensor, then idx-dotm0 and idx-addm0 give. Output row y is written
   once, border and all, by a contiguous path or the strided one. */
#define SCALE_ROW(T, SA, SO)                                                   \
  do {                                                                         \
    if (y < pad[0] || y >= pad[0] + h) {                                       \
      for (long x = 0; x < ow; x++)                                            \
        oy[x * (SO)] = v;                                                      \
      break;                                                                   \
    }                                                                          \
    const T *ay = (const T *)va + (y - pad[0]) * sa0;                          \
    for (long x = 0; x < pad[2]; x++)                                          \
      oy[x * (SO)] = v;                                                        \
    for (long x = 0; x < w; x++) {                                             \
      float p = (float)ay[x * (SA)] * mul;                                     \
      oy[(pad[2] + x) * (SO)] = p + add;                                       \
    }                                                                          \
    for (long x = pad[2] + w; x < ow; x++)                                     \
      oy[x * (SO)] = v;                                                        \
  } while (0)

#define DEF_SCALE(E, T, S, ACC, ST)                                            \
  static void scale_##S(long h, long w, const void *va, long sa0, long sa1,    \
                        float *o, long so0, long so1, const long *pad,         \
                        float mul, float add, float v) {                       \
    long ow = pad[2] + w + pad[3];                                             \
    for (long y = 0; y < pad[0] + h + pad[1]; y++) {                           \
      float *oy = o + y * so0;                                                 \
      if (sa1 == 1 && so1 == 1)                                                \
        SCALE_ROW(T, 1, 1);                                                    \
      else                                                                     \
        SCALE_ROW(T, sa1, so1);                                                \
    }                                                                          \
  }
LU_ELEMS(DEF_SCALE)

void lu_tensor_kscale_pad(LuElem ea, long h, long w, const void *a, long sa0,
                          long sa1, float *o, long so0, long so1,
                          const long *pad, float mul, float add, float v) {
  DISPATCH(ea, scale, h, w, a, sa0, sa1, o, so0, so1, pad, mul, add, v);
}

/* Sums TERM(i, SA, SB) over i < n in LANES double accumulators, element i
   in lane i % LANES, then folds the lanes in halves: the same association
   whatever the strides, and the contiguous loop vectorises, in independent
   vectors, without reassociating anything. */
enum { LANES = 16 };
#define LANE_SUM(TERM)                                                         \
  do {                                                                         \
    double lane[LANES] = {0};                                                  \
    long i = 0;                                                                \
    if (sa == 1 && sb == 1)                                                    \
      for (; i + LANES <= n; i += LANES)                                       \
        for (int k = 0; k < LANES; k++)                                        \
          lane[k] += TERM(i + k, 1, 1);                                        \
    for (; i < n; i++)                                                         \
      lane[i % LANES] += TERM(i, sa, sb);                                      \
    for (int w = LANES / 2; w > 0; w /= 2)                                     \
      for (int k = 0; k < w; k++)                                              \
        lane[k] += lane[k + w];                                                \
    return lane[0];                                                            \
  } while (0)

#define TERM_SUM(i, SA, SB) ((double)a[(i) * (SA)])
#define TERM_SQR(i, SA, SB) ((double)a[(i) * (SA)] * (double)a[(i) * (SA)])
#define TERM_DOT(i, SA, SB) ((double)a[(i) * (SA)] * (double)b[(i) * (SB)])

#define DEF_REDUCE(E, T, S, ACC, ST)                                           \
  static double sum_##S(long n, const void *va, long sa) {                     \
    const T *a = va;                                                           \
    const long sb = 1;                                                         \
    LANE_SUM(TERM_SUM);                                                        \
  }                                                                            \
  static double sumsqr_##S(long n, const void *va, long sa) {                  \
    const T *a = va;                                                           \
    const long sb = 1;                                                         \
    LANE_SUM(TERM_SQR);                                                        \
  }                                                                            \
  static double dot_##S(long n, const void *va, long sa, const void *vb,       \
                        long sb) {                                             \
    const T *a = va, *b = vb;                                                  \
    LANE_SUM(TERM_DOT);                                                        \
  }                                                                            \
  static long argmax_##S(long n, const void *va, long sa, bool min) {          \
    const T *a = va;                                                           \
    long best = -1;                                                            \
    ACC m = 0;                                                                 \
    for (long i = 0; i < n; i++) {                                             \
      ACC x = a[i * sa];                                                       \
      if (best < 0 || (m == m && (x != x || (min ? x < m : x > m)))) {         \
        best = i;                                                              \
        m = x;                                                                 \
      }                                                                        \
    }                                                                          \
    return best;                                                               \
  }
LU_ELEMS(DEF_REDUCE)

double lu_tensor_kreduce(LuReduce op, LuElem e, long n, const void *a,
                         long sa) {
  switch (op) {
  case LU_SUM:
    DISPATCH_RETURN(e, sum, n, a, sa);
  case LU_SUMSQR:
    DISPATCH_RETURN(e, sumsqr, n, a, sa);
  case LU_SUP:
  case LU_INF: {
    long i = lu_tensor_kargmax(e, n, a, sa, op == LU_INF);
    return i < 0 ? (op == LU_INF ? INFINITY : -INFINITY)
                 : lu_elem_get(e, a, i * sa);
  }
  }
  abort();
}

double lu_tensor_kdot(LuElem e, long n, const void *a, long sa, const void *b,
                      long sb) {
  DISPATCH_RETURN(e, dot, n, a, sa, b, sb);
}

long lu_tensor_kargmax(LuElem e, long n, const void *a, long sa, bool min) {
  DISPATCH_RETURN(e, argmax, n, a, sa, min);
}

/* gemm goes row by row of c: each row of b, scaled by a[i][l], is added to
   a row of double accumulators, a loop that vectorises along j when b's
   rows are contiguous. */
#define DEF_LINALG(E, T, S, ACC, ST)                                           \
  static void gemv_##S(long m, long n, const void *va, long sa0, long sa1,     \
                       const void *x, long sx, void *vy, long sy) {            \
    const T *a = va;                                                           \
    T *y = vy;                                                                 \
    for (long i = 0; i < m; i++)                                               \
      y[i * sy] = ST(dot_##S(n, a + i * sa0, sa1, x, sx));                     \
  }                                                                            \
  static void gemm_##S(long m, long k, long n, const void *va, long sa0,       \
                       long sa1, const void *vb, long sb0, long sb1, void *vc, \
                       long sc0, long sc1, double *w) {                        \
    const T *a = va, *b = vb;                                                  \
    T *c = vc;                                                                 \
    for (long i = 0; i < m; i++) {                                             \
      for (long j = 0; j < n; j++)                                             \
        w[j] = 0;                                                              \
      for (long l = 0; l < k; l++) {                                           \
        double ail = a[i * sa0 + l * sa1];                                     \
        const T *bl = b + l * sb0;                                             \
        if (sb1 == 1)                                                          \
          for (long j = 0; j < n; j++)                                         \
            w[j] += ail * (double)bl[j];                                       \
        else                                                                   \
          for (long j = 0; j < n; j++)                                         \
            w[j] += ail * (double)bl[j * sb1];                                 \
      }                                                                        \
      for (long j = 0; j < n; j++)                                             \
        c[i * sc0 + j * sc1] = ST(w[j]);                                       \
    }                                                                          \
  }                                                                            \
  static void ger_##S(long m, long n, const void *vx, long sx, const void *vy, \
                      long sy, void *vc, long sc0, long sc1) {                 \
    const T *x = vx, *y = vy;                                                  \
    T *c = vc;                                                                 \
    for (long i = 0; i < m; i++) {                                             \
      ACC xi = x[i * sx];                                                      \
      T *ci = c + i * sc0;                                                     \
      if (sc1 == 1 && sy == 1)                                                 \
        for (long j = 0; j < n; j++)                                           \
          ci[j] = ST(xi * (ACC)y[j]);                                          \
      else                                                                     \
        for (long j = 0; j < n; j++)                                           \
          ci[j * sc1] = ST(xi * (ACC)y[j * sy]);                               \
    }                                                                          \
  }
LU_ELEMS(DEF_LINALG)

void lu_tensor_kgemv(LuElem e, long m, long n, const void *a, long sa0,
                     long sa1, const void *x, long sx, void *y, long sy) {
  DISPATCH(e, gemv, m, n, a, sa0, sa1, x, sx, y, sy);
}

void lu_tensor_kgemm(LuElem e, long m, long k, long n, const void *a, long sa0,
                     long sa1, const void *b, long sb0, long sb1, void *c,
                     long sc0, long sc1, double *work) {
  DISPATCH(e, gemm, m, k, n, a, sa0, sa1, b, sb0, sb1, c, sc0, sc1, work);
}

void lu_tensor_kger(LuElem e, long m, long n, const void *x, long sx,
                    const void *y, long sy, void *c, long sc0, long sc1) {
  DISPATCH(e, ger, m, n, x, sx, y, sy, c, sc0, sc1);
}

/* PyTorch (align_corners=False): scale = in / out; the source coordinate
   of output j is scale * (j + 0.5) - 0.5, clamped at 0; it reads floor and
   floor + 1 (the last pixel reads itself twice), weighted by the fraction.
   Same sizes copy. The scale and the weights are in R, the tensor's
   precision; the coordinate is exact (a double holds it), as PyTorch's
   compiled kernel gives it: this matches its float results to a rounding
   of the output, where rounding the coordinate to float would not. */
#define LERP_TABLE(R)                                                          \
  do {                                                                         \
    R scale = (R)in / (R)out;                                                  \
    for (long j = 0; j < out; j++) {                                           \
      if (in == out) {                                                         \
        tab[j] = (LuLerp){j, j, 1, 0};                                         \
        continue;                                                              \
      }                                                                        \
      double src = (double)scale * ((double)j + 0.5) - 0.5;                    \
      if (src < 0)                                                             \
        src = 0;                                                               \
      long i0 = (long)src;                                                     \
      R w1 = (R)(src - (double)i0);                                            \
      w1 = w1 < 0 ? 0 : w1 > 1 ? 1 : w1;                                       \
      tab[j] = (LuLerp){i0, i0 + (i0 < in - 1), (R)1 - w1, w1};                \
    }                                                                          \
  } while (0)

void lu_tensor_klerp(LuElem e, long in, long out, LuLerp *tab) {
  if (e == LU_FLOAT)
    LERP_TABLE(float);
  else
    LERP_TABLE(double);
}

/* Same order of operations as PyTorch's kernel: each source row is
   interpolated along x, then the two rows along y; in double. */
#define DEF_RESIZE(E, T, S, ACC, ST)                                           \
  static void resize_##S(const void *vin, long si0, long si1, long oh,         \
                         long ow, void *vout, long so0, long so1,              \
                         const LuLerp *ty, const LuLerp *tx) {                 \
    const T *in = vin;                                                         \
    T *out = vout;                                                             \
    for (long y = 0; y < oh; y++) {                                            \
      const T *r0 = in + ty[y].i0 * si0, *r1 = in + ty[y].i1 * si0;            \
      double wy0 = ty[y].w0, wy1 = ty[y].w1;                                   \
      T *o = out + y * so0;                                                    \
      for (long x = 0; x < ow; x++) {                                          \
        long x0 = tx[x].i0 * si1, x1 = tx[x].i1 * si1;                         \
        double wx0 = tx[x].w0, wx1 = tx[x].w1;                                 \
        double top = (double)r0[x0] * wx0 + (double)r0[x1] * wx1;              \
        double bot = (double)r1[x0] * wx0 + (double)r1[x1] * wx1;              \
        o[x * so1] = ST(top * wy0 + bot * wy1);                                \
      }                                                                        \
    }                                                                          \
  }
LU_ELEMS(DEF_RESIZE)

void lu_tensor_kresize(LuElem e, const void *in, long si0, long si1, long oh,
                       long ow, void *out, long so0, long so1, const LuLerp *ty,
                       const LuLerp *tx) {
  DISPATCH(e, resize, in, si0, si1, oh, ow, out, so0, so1, ty, tx);
}
