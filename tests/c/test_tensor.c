/* test_tensor.c: cmocka tests of runtime/idx/. Every kernel on every
   element type, on contiguous operands and on strided ones (stride 2,
   reversed, stride 3), against plain double-precision loops written here
   with their own saturating stores; idx-resize against values PyTorch
   computed (bench/resize_ref.py); the conversion of images to scaled,
   padded floats; the constructor, views and copies,
   including their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gc.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "lutest.h"
#include "tensor.h"

static const LuElem elems[] = {LU_FLOAT, LU_DOUBLE, LU_INT, LU_UBYTE};

/* ---- helpers ---------------------------------------------------------- */

/* n elements of type e at stride s (negative: the array runs backwards
   from the end of its buffer). */
typedef struct {
  LuElem e;
  long n, s;
  void *p;
} Arr;

static Arr arr(LuElem e, long n, long s) {
  long span = n * labs(s) + 1;
  char *base = lu_alloc_atomic((size_t)span * lu_elem_size(e), "test");
  memset(base, 0xA5, (size_t)span * lu_elem_size(e));
  long first = s < 0 ? (n - 1) * -s : 0;
  return (Arr){e, n, s, base + first * (long)lu_elem_size(e)};
}

static double get(Arr a, long i) {
  return lu_elem_get(a.e, a.p, i * a.s);
}

/* What storing v into type e must give: float rounding, or truncation
   toward zero saturated at the type's range, NaN as 0. */
static double stored(LuElem e, double v) {
  double lo = e == LU_INT ? -2147483648.0 : 0,
         hi = e == LU_INT ? 2147483647.0 : 255;
  switch (e) {
  case LU_FLOAT:
    return (float)v;
  case LU_DOUBLE:
    return v;
  default:
    return isnan(v) ? 0 : v < lo ? lo : v > hi ? hi : trunc(v);
  }
}

/* Deterministic test values of each type, k choosing the sequence;
   integers include out-of-range results once combined. */
static double value(LuElem e, long i, int k) {
  long h = (i * 37 + k * 11) % 23;
  switch (e) {
  case LU_FLOAT:
  case LU_DOUBLE:
    return (double)(h - 11) / 4.0 + (double)k * 0.1;
  case LU_INT:
    return (double)((h - 11) * 97 + k) * (i % 7 == 3 ? 1e7 : 1);
  default:
    return (double)((h * 11 + k * 3) % 256);
  }
}

static Arr filled(LuElem e, long n, long s, int k) {
  Arr a = arr(e, n, s);
  for (long i = 0; i < n; i++)
    lu_elem_set(e, a.p, i * s, value(e, i, k));
  return a;
}

/* Compares with a relative tolerance (0: exact). */
static void near(double got, double want, double tol, const char *what,
                 long i) {
  if (got == want || (isnan(want) && isnan(got)))
    return;
  if (tol == 0 ? got != want
               : !(fabs(got - want) <= tol * fmax(1.0, fabs(want))))
    fail_msg("%s: element %ld: got %.17g, want %.17g", what, i, got, want);
}

/* Layouts: strides of (out, a, b). */
static const long layouts[][3] = {{1, 1, 1}, {3, 2, -1}, {-1, 3, 2}};
enum { NLAYOUTS = 3, N = 103 };

/* ---- element-wise kernels --------------------------------------------- */

static double ref_binop(LuBinop op, LuElem e, double x, double y) {
  double r = 0;
  switch (op) {
  case LU_ADD:
    r = x + y;
    break;
  case LU_SUB:
    r = x - y;
    break;
  case LU_MUL:
    r = x * y;
    break;
  case LU_DIV:
    r = x / y;
    break;
  case LU_MAX:
    r = isnan(x) || isnan(y) ? NAN : fmax(x, y);
    break;
  case LU_MIN:
    r = isnan(x) || isnan(y) ? NAN : fmin(x, y);
    break;
  }
  /* a float operation on floats rounds like the double one rounded once */
  return stored(e, r);
}

/* Runs check(op, e, layout) for each op from first to last, each element
   type e and each layout. */
static void each_case(int first, int last,
                      void (*check)(int op, LuElem e, const long *layout)) {
  for (int op = first; op <= last; op++)
    for (int t = 0; t < 4; t++)
      for (int l = 0; l < NLAYOUTS; l++)
        check(op, elems[t], layouts[l]);
}

static void check_binop(int op, LuElem e, const long *layout) {
  Arr o = arr(e, N, layout[0]);
  Arr a = filled(e, N, layout[1], 1);
  Arr b = filled(e, N, layout[2], 2);
  if (e == LU_FLOAT || e == LU_DOUBLE)
    lu_elem_set(e, b.p, 5 * b.s, NAN);
  lu_tensor_kbinop(op, e, N, o.p, o.s, a.p, a.s, b.p, b.s);
  for (long i = 0; i < N; i++)
    near(get(o, i), ref_binop(op, e, get(a, i), get(b, i)), 0, "binop", i);
}

static void test_binop(void **state) {
  (void)state;
  each_case(LU_ADD, LU_MIN, check_binop);
}

static void test_binop_in_place(void **state) {
  (void)state;
  Arr a = filled(LU_FLOAT, N, 1, 1), b = filled(LU_FLOAT, N, 1, 2);
  double want[N];
  for (long i = 0; i < N; i++)
    want[i] = (float)(get(a, i) * get(b, i));
  lu_tensor_kbinop(LU_MUL, LU_FLOAT, N, a.p, 1, a.p, 1, b.p, 1);
  for (long i = 0; i < N; i++)
    near(get(a, i), want[i], 0, "in place", i);
}

static double ref_unop(LuUnop op, double x) {
  switch (op) {
  case LU_COPY:
    return x;
  case LU_NEG:
    return -x;
  case LU_ABS:
    return fabs(x);
  case LU_SQR:
    return x * x;
  case LU_SQRT:
    return sqrt(x);
  case LU_EXP:
    return exp(x);
  case LU_LOG:
    return log(x);
  case LU_TANH:
    return tanh(x);
  case LU_RELU:
    return x > 0 ? x : 0;
  }
  return NAN;
}

static void check_unop(int op, LuElem e, const long *layout) {
  Arr o = arr(e, N, layout[0]), a = filled(e, N, layout[1], 3);
  lu_tensor_kunop(op, e, N, o.p, o.s, a.p, a.s);
  /* libm's float functions may differ from double ones by an ulp */
  bool libm = op >= LU_SQRT && op <= LU_TANH;
  double tol = libm && e == LU_FLOAT ? 2e-7 : libm ? 1e-15 : 0;
  for (long i = 0; i < N; i++)
    near(get(o, i), stored(e, ref_unop(op, get(a, i))), tol, "unop", i);
}

static void test_unop(void **state) {
  (void)state;
  each_case(LU_COPY, LU_RELU, check_unop);
}

/* Float tanh has its own formula: within an ulp of libm's double tanh
   rounded to float, from tiny to saturated arguments. */
static void test_tanh_float(void **state) {
  (void)state;
  enum { M = 4000 };
  float *x = lu_alloc_atomic(sizeof(float) * M, "test");
  float *y = lu_alloc_atomic(sizeof(float) * M, "test");
  for (long i = 0; i < M; i++)
    x[i] = (float)((i % 2 ? -1 : 1) * pow(10, -9 + 11.0 * i / M));
  x[0] = 0;
  x[1] = 1e-3f;
  x[2] = -20.5f;
  x[3] = NAN;
  x[4] = INFINITY;
  lu_tensor_kunop(LU_TANH, LU_FLOAT, M, y, 1, x, 1);
  for (long i = 0; i < M; i++) {
    float want = (float)tanh(x[i]);
    if (!(y[i] == want || fabsf(y[i] - want) <= 1.2e-7f * fabsf(want)) &&
        !(isnan(want) && isnan(y[i])))
      fail_msg("tanh(%.9g): %.9g, libm %.9g", x[i], y[i], want);
  }
}

static void test_affine_fill(void **state) {
  (void)state;
  for (int t = 0; t < 4; t++)
    for (int l = 0; l < NLAYOUTS; l++) {
      LuElem e = elems[t];
      Arr o = arr(e, N, layouts[l][0]), a = filled(e, N, layouts[l][1], 4);
      double m = e == LU_FLOAT ? 0.5 : 3, c = e == LU_UBYTE ? 7 : -2.25;
      lu_tensor_kaffine(e, N, o.p, o.s, a.p, a.s, m, c);
      for (long i = 0; i < N; i++)
        near(get(o, i), stored(e, get(a, i) * m + c), 0, "affine", i);
      lu_tensor_kfill(e, N, o.p, o.s, 300.75);
      for (long i = 0; i < N; i++)
        near(get(o, i), stored(e, 300.75), 0, "fill", i);
    }
}

static void test_convert(void **state) {
  (void)state;
  for (int to = 0; to < 4; to++)
    for (int from = 0; from < 4; from++)
      for (int l = 0; l < NLAYOUTS; l++) {
        Arr o = arr(elems[to], N, layouts[l][0]);
        Arr a = filled(elems[from], N, layouts[l][1], 5);
        if (elems[from] == LU_DOUBLE) {
          lu_elem_set(LU_DOUBLE, a.p, 2 * a.s, 1e12);
          lu_elem_set(LU_DOUBLE, a.p, 3 * a.s, -1e12);
          lu_elem_set(LU_DOUBLE, a.p, 4 * a.s, NAN);
          lu_elem_set(LU_DOUBLE, a.p, 6 * a.s, -0.75);
        }
        lu_tensor_kconvert(elems[to], N, o.p, o.s, elems[from], a.p, a.s);
        for (long i = 0; i < N; i++)
          near(get(o, i), stored(elems[to], get(a, i)), 0, "convert", i);
      }
}

static void test_saturation(void **state) {
  (void)state;
  char buf[8];
  lu_elem_set(LU_INT, buf, 0, 3e10);
  assert_int_equal(*(int32_t *)buf, INT32_MAX);
  lu_elem_set(LU_INT, buf, 0, -3e10);
  assert_int_equal(*(int32_t *)buf, INT32_MIN);
  lu_elem_set(LU_INT, buf, 0, -2.9);
  assert_int_equal(*(int32_t *)buf, -2);
  lu_elem_set(LU_INT, buf, 0, NAN);
  assert_int_equal(*(int32_t *)buf, 0);
  lu_elem_set(LU_UBYTE, buf, 0, 255.9);
  assert_int_equal(*(uint8_t *)buf, 255);
  lu_elem_set(LU_UBYTE, buf, 0, 256);
  assert_int_equal(*(uint8_t *)buf, 255);
  lu_elem_set(LU_UBYTE, buf, 0, -1);
  assert_int_equal(*(uint8_t *)buf, 0);
  lu_elem_set(LU_UBYTE, buf, 0, INFINITY);
  assert_int_equal(*(uint8_t *)buf, 255);
}

/* ---- reductions --------------------------------------------------------- */

static void test_reduce(void **state) {
  (void)state;
  for (int t = 0; t < 4; t++) {
    LuElem e = elems[t];
    double first[4] = {0};
    for (int l = 0; l < NLAYOUTS; l++) {
      Arr a = filled(e, N, layouts[l][1], 6),
          b = filled(e, N, layouts[l][2], 7);
      long double sum = 0, sq = 0, dot = 0;
      double sup = -INFINITY, inf = INFINITY;
      for (long i = 0; i < N; i++) {
        double x = get(a, i);
        sum += x;
        sq += (long double)x * x;
        dot += (long double)x * get(b, i);
        sup = fmax(sup, x);
        inf = fmin(inf, x);
      }
      double got[4] = {lu_tensor_kreduce(LU_SUM, e, N, a.p, a.s),
                       lu_tensor_kreduce(LU_SUMSQR, e, N, a.p, a.s),
                       lu_tensor_kdot(e, N, a.p, a.s, b.p, b.s),
                       lu_tensor_kreduce(LU_SUP, e, N, a.p, a.s)};
      near(got[0], (double)sum, 1e-14, "sum", t);
      near(got[1], (double)sq, 1e-14, "sumsqr", t);
      near(got[2], (double)dot, 1e-14, "dot", t);
      near(got[3], sup, 0, "sup", t);
      near(lu_tensor_kreduce(LU_INF, e, N, a.p, a.s), inf, 0, "inf", t);
      /* the lanes make the sums independent of the strides, bit for bit */
      for (int k = 0; k < 3; k++) {
        if (l == 0)
          first[k] = got[k];
        near(got[k], first[k], 0, "same for every layout", k);
      }
    }
  }
  assert_true(lu_tensor_kreduce(LU_SUM, LU_FLOAT, 0, NULL, 1) == 0);
  assert_true(lu_tensor_kreduce(LU_SUP, LU_FLOAT, 0, NULL, 1) == -INFINITY);
  assert_true(lu_tensor_kreduce(LU_INF, LU_FLOAT, 0, NULL, 1) == INFINITY);
}

/* Accumulating in double: a float sum that float accumulation loses. */
static void test_sum_in_double(void **state) {
  (void)state;
  enum { M = 1 << 20 };
  float *a = lu_alloc_atomic(sizeof(float) * M, "test");
  for (long i = 0; i < M; i++)
    a[i] = i == 0 ? 1e8f : 1.0f;
  assert_true(lu_tensor_kreduce(LU_SUM, LU_FLOAT, M, a, 1) == 1e8 + M - 1);
}

static void test_argmax(void **state) {
  (void)state;
  for (int t = 0; t < 4; t++)
    for (int l = 0; l < NLAYOUTS; l++) {
      LuElem e = elems[t];
      Arr a = filled(e, N, layouts[l][1], 8);
      long imax = 0, imin = 0;
      for (long i = 1; i < N; i++) {
        if (get(a, i) > get(a, imax))
          imax = i;
        if (get(a, i) < get(a, imin))
          imin = i;
      }
      assert_int_equal(lu_tensor_kargmax(e, N, a.p, a.s, false), imax);
      assert_int_equal(lu_tensor_kargmax(e, N, a.p, a.s, true), imin);
    }
  double ties[] = {1, 3, 3, -1, -1};
  assert_int_equal(lu_tensor_kargmax(LU_DOUBLE, 5, ties, 1, false), 1);
  assert_int_equal(lu_tensor_kargmax(LU_DOUBLE, 5, ties, 1, true), 3);
  double nan[] = {1, NAN, 3};
  assert_int_equal(lu_tensor_kargmax(LU_DOUBLE, 3, nan, 1, false), 1);
  assert_true(isnan(lu_tensor_kreduce(LU_SUP, LU_DOUBLE, 3, nan, 1)));
  assert_int_equal(lu_tensor_kargmax(LU_DOUBLE, 0, nan, 1, false), -1);
}

/* ---- linear algebra ----------------------------------------------------- */

/* An m x n matrix of type e with element (i j) at i*s0 + j*s1 from p. */
typedef struct {
  char *p;
  long s0, s1;
} Mat;

static Mat mat(LuElem e, long m, long n, bool transposed, int k) {
  Arr a = arr(e, m * n, 1);
  Mat r = {a.p, transposed ? 1 : n, transposed ? m : 1};
  for (long i = 0; i < m; i++)
    for (long j = 0; j < n; j++)
      lu_elem_set(e, r.p, i * r.s0 + j * r.s1,
                  e == LU_UBYTE
                      ? (i * 3 + j * 5 + k) % 7
                      : value(e == LU_INT ? LU_DOUBLE : e, i * n + j, k) * 2);
  return r;
}

static double mget(LuElem e, Mat a, long i, long j) {
  return lu_elem_get(e, a.p, i * a.s0 + j * a.s1);
}

static void test_gemv_gemm_ger(void **state) {
  (void)state;
  const long m = 13, k = 19, n = 11;
  for (int t = 0; t < 4; t++)
    for (int tr = 0; tr < 2; tr++) {
      LuElem e = elems[t];
      Mat a = mat(e, m, k, tr, 1), b = mat(e, k, n, !tr, 2);
      Arr x = filled(e == LU_INT ? LU_INT : e, k, tr ? -2 : 1, 3);
      if (e == LU_INT)
        for (long i = 0; i < k; i++)
          lu_elem_set(e, x.p, i * x.s, (double)(i % 5) - 2);
      Arr y = arr(e, m, tr ? 3 : 1);
      lu_tensor_kgemv(e, m, k, a.p, a.s0, a.s1, x.p, x.s, y.p, y.s);
      for (long i = 0; i < m; i++) {
        double s = 0;
        for (long j = 0; j < k; j++)
          s += mget(e, a, i, j) * get(x, j);
        near(get(y, i), stored(e, s), e == LU_FLOAT ? 1e-7 : 1e-15, "gemv", i);
      }
      Mat c = mat(e, m, n, tr, 0);
      double *work = lu_alloc_atomic(sizeof(double) * n, "test");
      lu_tensor_kgemm(e, m, k, n, a.p, a.s0, a.s1, b.p, b.s0, b.s1, c.p, c.s0,
                      c.s1, work);
      for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
          double s = 0;
          for (long l = 0; l < k; l++)
            s += mget(e, a, i, l) * mget(e, b, l, j);
          near(mget(e, c, i, j), stored(e, s), e == LU_FLOAT ? 1e-7 : 1e-15,
               "gemm", i * n + j);
        }
      Arr u = filled(e, m, tr ? -1 : 1, 4), v = filled(e, n, tr ? 2 : 1, 5);
      Mat g = mat(e, m, n, tr, 0);
      lu_tensor_kger(e, m, n, u.p, u.s, v.p, v.s, g.p, g.s0, g.s1);
      for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++)
          near(mget(e, g, i, j), stored(e, get(u, i) * get(v, j)), 0, "ger",
               i * n + j);
    }
}

/* ---- resize ------------------------------------------------------------- */

/* What PyTorch 1.13's F.interpolate(mode="bilinear", align_corners=False)
   gives on the float image x[i][j] = ((7i + 13j) mod 17) / 16, pasted from
   bench/resize_ref.py. */
static const struct {
  long h, w, oh, ow;
  double v[64];
} torch_cases[] = {
    {5,
     7,
     3,
     4,
     {0.317708313, 0.677083373, 0.239583328, 0.510416687, 0.78124994,
      0.34375003, 0.8359375, 0.53124994, 0.447916627, 0.45312503, 0.635416627,
      0.419270873}},
    {3, 4, 7, 9, {0,           0.135416672, 0.496527761, 0.798611104,
                  0.6875,      0.576388896, 0.465277791, 0.354166657,
                  0.3125,      0.0625,      0.17261906,  0.466269881,
                  0.71775794,  0.674107134, 0.630456328, 0.527777791,
                  0.416666657, 0.37500003,  0.25,        0.284226179,
                  0.37549603,  0.475198418, 0.633928597, 0.792658746,
                  0.715277791, 0.604166687, 0.5625,      0.4375,
                  0.395833343, 0.284722239, 0.23263891,  0.59375,
                  0.954861164, 0.902777791, 0.791666687, 0.75,
                  0.625,       0.583333313, 0.472222239, 0.394841284,
                  0.553571403, 0.712301552, 0.634920597, 0.523809493,
                  0.482142836, 0.8125,      0.770833373, 0.659722269,
                  0.557043672, 0.513392866, 0.46974203,  0.367063493,
                  0.255952358, 0.214285716, 0.875,       0.833333313,
                  0.722222209, 0.611111104, 0.5,         0.388888896,
                  0.277777761, 0.166666657, 0.125}},
    {7, 9, 5, 6, {0.237499997, 0.659375012, 0.337500006, 0.600000024,
                  0.490625024, 0.275000006, 0.637499988, 0.581250012,
                  0.471875012, 0.574999988, 0.306250006, 0.728124976,
                  0.18750003,  0.609375,    0.49999997,  0.12500003,
                  0.81249994,  0.43750003,  0.481250018, 0.424999982,
                  0.68750006,  0.631249964, 0.362499982, 0.465625018,
                  0.403124988, 0.18750006,  0.662499964, 0.446875036,
                  0.337500036, 0.599999964}},
    {6, 5, 6, 8, {0,          0.35546875, 0.796875,   0.640625, 0.484375,
                  0.328125,   0.171875,   0.0625,     0.4375,   0.328125,
                  0.23828125, 0.74609375, 0.921875,   0.765625, 0.609375,
                  0.5,        0.875,      0.765625,   0.609375, 0.453125,
                  0.296875,   0.140625,   0.58203125, 0.9375,   0.25,
                  0.140625,   0.05078125, 0.55859375, 0.734375, 0.578125,
                  0.421875,   0.3125,     0.6875,     0.578125, 0.421875,
                  0.265625,   0.44140625, 0.94921875, 0.859375, 0.75,
                  0.0625,     0.41796875, 0.859375,   0.703125, 0.546875,
                  0.390625,   0.234375,   0.125}},
    {1, 5, 3, 2, {0.609375, 0.25, 0.609375, 0.25, 0.609375, 0.25}},
    {4, 4, 1, 1, {0.546875}},
    {2,
     3,
     5,
     3,
     {0, 0.8125, 0.5625, 0.043750003, 0.75, 0.606249988, 0.21875, 0.5, 0.78125,
      0.393750012, 0.24999997, 0.956250012, 0.4375, 0.1875, 1}},
};

static void test_resize_torch(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof torch_cases / sizeof *torch_cases; c++)
    for (int t = 0; t < 2; t++)
      for (int tr = 0; tr < 2; tr++) {
        LuElem e = elems[t];
        long h = torch_cases[c].h, w = torch_cases[c].w;
        long oh = torch_cases[c].oh, ow = torch_cases[c].ow;
        /* the input transposed in memory, the output reversed */
        long si0 = tr ? 1 : w, si1 = tr ? h : 1;
        Arr in = arr(e, h * w, 1), out = arr(e, oh * ow, tr ? -1 : 1);
        for (long i = 0; i < h; i++)
          for (long j = 0; j < w; j++)
            lu_elem_set(e, in.p, i * si0 + j * si1,
                        (double)((7 * i + 13 * j) % 17) / 16);
        LuLerp ty[8], tx[16];
        lu_tensor_klerp(e, h, oh, ty);
        lu_tensor_klerp(e, w, ow, tx);
        lu_tensor_kresize(e, in.p, si0, si1, oh, ow, out.p, ow * out.s, out.s,
                          ty, tx);
        for (long i = 0; i < oh * ow; i++)
          if (fabs(get(out, i) - torch_cases[c].v[i]) > 1e-6)
            fail_msg("resize %ldx%ld -> %ldx%ld %s: element %ld: %.9g, "
                     "torch %.9g",
                     h, w, oh, ow, lu_elem_name(e), i, get(out, i),
                     torch_cases[c].v[i]);
      }
}

/* Integer images: the same weights, results truncated. */
static void test_resize_ubyte(void **state) {
  (void)state;
  uint8_t in[2][2] = {{0, 100}, {200, 255}}, out[3][3];
  LuLerp t[3];
  lu_tensor_klerp(LU_UBYTE, 2, 3, t);
  lu_tensor_kresize(LU_UBYTE, in, 2, 1, 3, 3, out, 3, 1, t, t);
  /* source coordinates 0, 2/3 - 1/6 = 0.5, 1 */
  assert_int_equal(out[0][0], 0);
  assert_int_equal(out[0][1], 50);
  assert_int_equal(out[1][1], 138); /* (0 + 100 + 200 + 255) / 4 = 138.75 */
  assert_int_equal(out[2][2], 255);
  assert_int_equal(out[2][1], 227); /* 227.5 */
}

/* lu_tensor_kscale_pad: a 5 x 4 plane of each type, contiguous or read
   transposed, into a 5+1+2 x 4+3+0 float plane contiguous or at stride 2
   (the gaps must stay untouched): the border is v, the inside the float
   product rounded, then the float sum rounded, computed here in double
   (exact for these numbers) and rounded once each. */
static void test_scale_pad(void **state) {
  (void)state;
  enum { H = 5, W = 4, OH = 8, OW = 7 };
  const long pad[4] = {1, 2, 3, 0};
  const float mul = 2.0f / 255.0f, add = -1, v = -0.5f;
  for (int t = 0; t < 4; t++)
    for (int l = 0; l < 2; l++) {
      LuElem e = elems[t];
      Arr a = filled(e, H * W, 1, 3);
      long sa0 = l ? 1 : W, sa1 = l ? H : 1, so1 = l ? 2 : 1;
      Arr o = arr(LU_FLOAT, OH * OW, so1);
      lu_tensor_kscale_pad(e, H, W, a.p, sa0, sa1, o.p, OW * so1, so1, pad, mul,
                           add, v);
      for (long i = 0; i < OH * OW * so1; i++) {
        long y = i / (OW * so1), x = i % (OW * so1) / so1;
        double got = lu_elem_get(LU_FLOAT, o.p, i);
        if (i % so1) {
          uint32_t bits;
          memcpy(&bits, (float *)o.p + i, sizeof bits);
          assert_true(bits == 0xA5A5A5A5u);
          continue;
        }
        long iy = y - pad[0], ix = x - pad[2];
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
          near(got, v, 0, "scale-pad border", i);
          continue;
        }
        double xf = (float)get(a, iy * sa0 + ix * sa1);
        double p = (float)(xf * (double)mul);
        near(got, (float)(p + (double)add), 0, "scale-pad", i);
      }
    }
}

/* ---- tensors ---------------------------------------------------------- */

typedef struct {
  LuElem e;
  int ndim;
  long dim[LU_MAXDIM], mod[LU_MAXDIM], offset;
  const LuTensor *view;
  LuTensor *out;
} Make;

static void do_make(void *ud) {
  Make *m = ud;
  m->out = lu_tensor_make(m->e, m->ndim, m->dim, m->view,
                          m->view ? m->mod : NULL, m->offset);
}

static const char *run_make(Make *m) {
  LuValue *err = NULL;
  if (lu_pcall(do_make, m, &err))
    return NULL;
  return err->err->message->str.s;
}

static void expect_error(const char *msg, const char *part) {
  if (!msg)
    fail_msg("no error; expected one mentioning '%s'", part);
  if (!strstr(msg, part))
    fail_msg("error '%s' does not mention '%s'", msg, part);
}

static void test_make(void **state) {
  (void)state;
  for (int t = 0; t < 4; t++) {
    Make m = {.e = elems[t], .ndim = 3, .dim = {2, 3, 4}};
    assert_null(run_make(&m));
    LuTensor *a = m.out;
    assert_int_equal(lu_tensor_nelem(a), 24);
    assert_int_equal(a->mod[0], 12);
    assert_int_equal(a->mod[1], 4);
    assert_int_equal(a->mod[2], 1);
    assert_true(lu_tensor_contiguous(a));
    for (long i = 0; i < 24; i++)
      assert_true(lu_elem_get(elems[t], lu_tensor_data(a), i) == 0);
    assert_string_equal(lu_tensor_shape_string(a), "[2x3x4]");
    /* a transposed view over rows 1..2 */
    Make v = {.e = elems[t],
              .ndim = 2,
              .dim = {4, 2},
              .mod = {1, 4},
              .offset = 16,
              .view = a};
    assert_null(run_make(&v));
    assert_false(lu_tensor_contiguous(v.out));
    assert_ptr_equal(v.out->st, a->st);
    lu_tensor_set(v.out, (long[]){3, 1}, 42);
    assert_true(lu_tensor_get(a, (long[]){1, 2, 3}) == 42);
  }
  Make s = {.e = LU_DOUBLE, .ndim = 0};
  assert_null(run_make(&s));
  assert_int_equal(lu_tensor_nelem(s.out), 1);
  assert_string_equal(lu_tensor_shape_string(s.out), "[]");
}

static void test_make_errors(void **state) {
  (void)state;
  Make neg = {.e = LU_FLOAT, .ndim = 2, .dim = {3, -1}};
  expect_error(run_make(&neg), "negative");
  Make nine = {.e = LU_FLOAT, .ndim = 9, .dim = {1}};
  expect_error(run_make(&nine), "at most 8");
  Make huge = {.e = LU_FLOAT, .ndim = 3, .dim = {1 << 20, 1 << 20, 1 << 20}};
  expect_error(run_make(&huge), "requested");
  Make big = {.e = LU_FLOAT, .ndim = 2, .dim = {1 << 20, 1 << 20}};
  expect_error(run_make(&big), "4.0 TB requested");
  Make base = {.e = LU_FLOAT, .ndim = 1, .dim = {10}};
  assert_null(run_make(&base));
  Make out = {.e = LU_FLOAT,
              .ndim = 1,
              .dim = {5},
              .mod = {2},
              .offset = 2,
              .view = base.out};
  expect_error(run_make(&out), "outside its storage");
  out.offset = 0;
  assert_null(run_make(&out));
  out.mod[0] = -2;
  expect_error(run_make(&out), "outside its storage");
  out.offset = 9;
  assert_null(run_make(&out));
  Make type = {.e = LU_INT, .ndim = 1, .dim = {1}, .view = base.out};
  expect_error(run_make(&type), "storage");
}

/* Every size, stride and offset a tensor holds, and every element offset
   in bytes reached from them, fits in a long: the constructor raises on
   shapes and views beyond that, empty ones included, instead of letting
   later arithmetic overflow. */
static void test_make_too_large(void **state) {
  (void)state;
  /* 0-d shapes may come without a dims array */
  LuTensor *z = lu_tensor_make(LU_FLOAT, 0, NULL, NULL, NULL, 0);
  assert_int_equal(lu_tensor_nelem(z), 1);
  assert_int_equal(
      lu_tensor_nelem(lu_tensor_make(LU_FLOAT, 0, NULL, z, NULL, 0)), 1);
  Make strides = {.e = LU_FLOAT, .ndim = 3, .dim = {0, 1L << 32, 1L << 32}};
  expect_error(run_make(&strides), "shape [0x4294967296x4294967296] is too");
  Make base = {.e = LU_DOUBLE, .ndim = 1, .dim = {10}};
  assert_null(run_make(&base));
  Make empty = {.e = LU_DOUBLE,
                .ndim = 2,
                .dim = {0, 4},
                .mod = {1, LONG_MAX / 2},
                .view = base.out};
  expect_error(run_make(&empty), "too large to index");
  empty.mod[1] = 1;
  assert_null(run_make(&empty));
  /* fits in elements, not in bytes */
  Make bytes = {.e = LU_DOUBLE,
                .ndim = 2,
                .dim = {3, 0},
                .mod = {1L << 61, 1},
                .view = base.out};
  expect_error(run_make(&bytes), "too large to index");
  Make count = {.e = LU_DOUBLE,
                .ndim = 2,
                .dim = {1L << 40, 1L << 40},
                .mod = {0, 0},
                .view = base.out};
  expect_error(run_make(&count), "too large to index");
  /* the same shape from an IDX file: magic 00 00 08 (ubyte) 04 (dims) */
  char *dir = lt_tempdir();
  const char idx[] = "\0\0\x08\x04\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff"
                     "\xff\xff\xff\xff";
  lt_write(dir, "huge.idx", idx, sizeof idx - 1);
  char src[4200];
  snprintf(src, sizeof src, "(load-matrix \"%s/huge.idx\")", dir);
  lt_assert_contains(lt_message(src), "too large to index");
  lt_rmtree(dir);
  free(dir);
}

typedef struct {
  LuTensor *dst, *src;
} Copy;

static void do_copy(void *ud) {
  Copy *c = ud;
  lu_tensor_copy(c->dst, c->src);
}

static void test_copy(void **state) {
  (void)state;
  LuTensor *a = lu_tensor_make(LU_DOUBLE, 2, (long[]){3, 4}, NULL, NULL, 0);
  for (long i = 0; i < 12; i++)
    lu_elem_set(LU_DOUBLE, a->st->data, i, (double)i + 0.5);
  /* a transposed int copy */
  LuTensor *b = lu_tensor_make(LU_INT, 2, (long[]){4, 3}, NULL, NULL, 0);
  LuTensor *at =
      lu_tensor_make(LU_DOUBLE, 2, (long[]){4, 3}, a, (long[]){1, 4}, 0);
  Copy c = {b, at};
  LuValue *err;
  assert_true(lu_pcall(do_copy, &c, &err));
  for (long i = 0; i < 4; i++)
    for (long j = 0; j < 3; j++)
      assert_true(lu_tensor_get(b, (long[]){i, j}) == (double)(j * 4 + i));
  /* overlapping views of one storage: elements 0..7 into 2..9 */
  LuTensor *flat = lu_tensor_make(LU_DOUBLE, 1, (long[]){12}, a, NULL, 0);
  LuTensor *lo = lu_tensor_make(LU_DOUBLE, 1, (long[]){8}, flat, NULL, 0);
  LuTensor *hi = lu_tensor_make(LU_DOUBLE, 1, (long[]){8}, flat, NULL, 2);
  c = (Copy){hi, lo};
  assert_true(lu_pcall(do_copy, &c, &err));
  for (long i = 0; i < 12; i++)
    assert_true(lu_elem_get(LU_DOUBLE, a->st->data, i) ==
                (i < 2 || i > 9 ? i + 0.5 : i - 1.5));
  c = (Copy){b, a};
  assert_false(lu_pcall(do_copy, &c, &err));
  expect_error(err->err->message->str.s, "shapes [3x4] and [4x3] differ");
}

int main(void) {
  char base;
  lt_start(&base);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binop),
      cmocka_unit_test(test_binop_in_place),
      cmocka_unit_test(test_unop),
      cmocka_unit_test(test_tanh_float),
      cmocka_unit_test(test_affine_fill),
      cmocka_unit_test(test_convert),
      cmocka_unit_test(test_saturation),
      cmocka_unit_test(test_reduce),
      cmocka_unit_test(test_sum_in_double),
      cmocka_unit_test(test_argmax),
      cmocka_unit_test(test_gemv_gemm_ger),
      cmocka_unit_test(test_resize_torch),
      cmocka_unit_test(test_resize_ubyte),
      cmocka_unit_test(test_scale_pad),
      cmocka_unit_test(test_make),
      cmocka_unit_test(test_make_errors),
      cmocka_unit_test(test_make_too_large),
      cmocka_unit_test(test_copy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
