/* number.c: arithmetic, comparison and math builtins, and lush89's one
   random number generator (PCG32) with the seed/rand builtins over it.
   Numbers are C doubles: floating-point results follow IEEE (1/0 is inf,
   (sqrt -1) is nan); only the integer operations div, mod and rem raise on
   a zero divisor, because their result would otherwise be meaningless. */
#include "lush.h"

#include <math.h>
#include <stdio.h>

/* ---- Random numbers -------------------------------------------------- */

/* PCG32 (O'Neill 2014, XSH-RR output on a 64-bit LCG), seeded exactly as the
   reference pcg32_srandom_r(initstate = seed, initseq = 54): (seed 42) gives
   the reference demo's first outputs 0xa15c02b7 0x7b47f409 ... on every
   machine. The stream is fixed at 54 so one integer is the whole seed. */
#define PCG_MULT 6364136223846793005ULL /* Knuth's MMIX LCG multiplier */
#define PCG_STREAM 54ULL                /* reference demo's sequence */
#define DEFAULT_SEED                                                           \
  0ULL /* a run that never calls (seed N) is reproducible                      \
        */

static uint64_t pcg_state, pcg_inc;
static bool pcg_seeded;
/* Box-Muller makes normals in pairs; the second waits here. */
static bool normal_cached;
static double normal_next;

void lu_seed(uint64_t seed) {
  pcg_state = 0;
  pcg_inc = (PCG_STREAM << 1) | 1;
  pcg_seeded = true;
  normal_cached = false; /* a seed fixes every later value, normals too */
  lu_rand_u32();
  pcg_state += seed;
  lu_rand_u32();
}

uint32_t lu_rand_u32(void) {
  if (!pcg_seeded)
    lu_seed(DEFAULT_SEED);
  uint64_t old = pcg_state;
  pcg_state = old * PCG_MULT + pcg_inc;
  uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
  uint32_t rot = (uint32_t)(old >> 59);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

/* 27 + 26 random bits make every double of the form k/2^53, k < 2^53:
   uniform on [0, 1), never 1. */
double lu_rand_uniform(void) {
  uint32_t a = lu_rand_u32() >> 5, b = lu_rand_u32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

/* Box-Muller: two uniforms give two independent normals; the second is
   cached and returned by the next call (lu_seed clears the cache, so a seed
   still fixes the sequence). 1 - u lies in (0, 1], so log never sees 0. */
double lu_rand_normal(void) {
  if (normal_cached) {
    normal_cached = false;
    return normal_next;
  }
  double r = sqrt(-2.0 * log(1.0 - lu_rand_uniform()));
  double theta = 2.0 * M_PI * lu_rand_uniform();
  normal_next = r * sin(theta);
  normal_cached = true;
  return r * cos(theta);
}

/* A uniform integer in [0, n), n >= 1, without modulo bias: 64-bit draws
   below 2^64 mod n are rejected so every residue is equally likely. */
static uint64_t rand_below(uint64_t n) {
  uint64_t threshold = -n % n;
  for (;;) {
    uint64_t r = ((uint64_t)lu_rand_u32() << 32) | lu_rand_u32();
    if (r >= threshold)
      return r % n;
  }
}

/* ---- Helpers --------------------------------------------------------- */

/* Argument i as a number. Arithmetic is the interpreter's hottest path, so
   the common case is inline and only a type error calls out. */
static inline double num(LuValue **argv, int i) {
  return LU_IS(argv[i], LU_NUMBER) ? LU_NUM(argv[i]) : lu_arg_num(argv, i);
}

static LuValue *unary(LuValue **argv, double (*f)(double)) {
  return lu_number(f(num(argv, 0)));
}

static LuValue *binary(LuValue **argv, double (*f)(double, double)) {
  return lu_number(f(num(argv, 0), num(argv, 1)));
}

/* Integer arguments of div/mod/rem; raises on a zero divisor. */
static void int_args(LuValue **argv, long *a, long *b) {
  *a = lu_arg_int(argv, 0);
  *b = lu_arg_int(argv, 1);
  if (*b == 0)
    lu_error("%s: division by zero", lu_caller());
}

/* C's a % b of the integer arguments, B in *b; 0 when B is -1, where
   LONG_MIN % -1 would overflow. */
static long rem_args(LuValue **argv, long *b) {
  long a;
  int_args(argv, &a, b);
  return *b == -1 ? 0 : a % *b;
}

typedef enum { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE } CmpOp;

/* True when every adjacent pair of the numbers satisfies op. Every argument
   is type-checked, even after the answer is known. */
static LuValue *compare_chain(LuValue **argv, int argc, CmpOp op) {
  bool ok = true;
  double prev = num(argv, 0);
  for (int i = 1; i < argc; i++) {
    double x = num(argv, i);
    switch (op) {
    case CMP_EQ:
      ok = ok && prev == x;
      break;
    case CMP_LT:
      ok = ok && prev < x;
      break;
    case CMP_GT:
      ok = ok && prev > x;
      break;
    case CMP_LE:
      ok = ok && prev <= x;
      break;
    case CMP_GE:
      ok = ok && prev >= x;
      break;
    }
    prev = x;
  }
  return LU_BOOL(ok);
}

/* ---- Arithmetic ------------------------------------------------------ */

LU_DEFUN(add, "(+ X...)", "Returns the sum of the numbers X..., 0 for none.") {
  double s = 0;
  for (int i = 0; i < argc; i++)
    s += num(argv, i);
  return lu_number(s);
}

LU_DEFUN(sub, "(- X Y...)",
         "Returns X minus every Y; with X alone, returns -X.") {
  double x = num(argv, 0);
  if (argc == 1)
    return lu_number(-x);
  for (int i = 1; i < argc; i++)
    x -= num(argv, i);
  return lu_number(x);
}

LU_DEFUN(mul, "(* X...)",
         "Returns the product of the numbers X..., 1 for none.") {
  double p = 1;
  for (int i = 0; i < argc; i++)
    p *= num(argv, i);
  return lu_number(p);
}

LU_DEFUN(divide, "(/ X Y...)",
         "Returns X divided by every Y; with X alone, returns 1/X. Division "
         "by zero follows IEEE: (/ 1 0) is inf, (/ 0 0) is nan.") {
  double x = num(argv, 0);
  if (argc == 1)
    return lu_number(1.0 / x);
  for (int i = 1; i < argc; i++)
    x /= num(argv, i);
  return lu_number(x);
}

/* The quotient rounded toward minus infinity, so that
   (+ (* (div a b) b) (mod a b)) is a. LONG_MIN / -1 overflows a long, so a
   divisor of -1 is done as a negation in double. */
LU_DEFUN(div, "(div A B)",
         "Returns the integer quotient of integers A and B rounded toward "
         "minus infinity: (div 7 2) is 3, (div -7 2) is -4. Raises on B = "
         "0.") {
  long a, b;
  int_args(argv, &a, &b);
  if (b == -1)
    return lu_number(-(double)a);
  long q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return lu_number((double)q);
}

LU_DEFUN(mod, "(mod A B)",
         "Returns A modulo B for integers, with the sign of B: (mod -7 2) is "
         "1. Raises on B = 0.") {
  long b, r = rem_args(argv, &b);
  if (r != 0 && ((r < 0) != (b < 0)))
    r += b;
  return lu_number((double)r);
}

LU_DEFUN(rem, "(rem A B)",
         "Returns the remainder of integers A and B with the sign of A, as "
         "C's %: (rem -7 2) is -1. Raises on B = 0.") {
  long b;
  return lu_number((double)rem_args(argv, &b));
}

LU_DEFUN(one_plus, "(1+ X)", "Returns X + 1.") {
  return lu_number(num(argv, 0) + 1);
}

LU_DEFUN(one_minus, "(1- X)", "Returns X - 1.") {
  return lu_number(num(argv, 0) - 1);
}

/* ---- Comparison ------------------------------------------------------ */

/* The comparisons of a chain of numbers, one table of rows {C name,
   operation, usage, doc}. */
#define COMPARE_OPS(X)                                                         \
  X(num_eq, CMP_EQ, "(= X Y...)",                                              \
    "Returns t when all the numbers are equal, else ().")                      \
  X(num_lt, CMP_LT, "(< X Y...)",                                              \
    "Returns t when the numbers are strictly increasing, else ().")            \
  X(num_gt, CMP_GT, "(> X Y...)",                                              \
    "Returns t when the numbers are strictly decreasing, else ().")            \
  X(num_le, CMP_LE, "(<= X Y...)",                                             \
    "Returns t when the numbers never decrease, else ().")                     \
  X(num_ge, CMP_GE, "(>= X Y...)",                                             \
    "Returns t when the numbers never increase, else ().")

#define DEFINE_COMPARE(cname, op, usage, doc)                                  \
  LU_DEFUN(cname, usage, doc) {                                                \
    return compare_chain(argv, argc, op);                                      \
  }
COMPARE_OPS(DEFINE_COMPARE)

LU_DEFUN(num_ne, "(/= X Y)",
         "Returns t when numbers X and Y differ, else ().") {
  return LU_BOOL(num(argv, 0) != num(argv, 1));
}

/* NaN is sticky: once m is nan no comparison replaces it. */
LU_DEFUN(max, "(max X Y...)",
         "Returns the largest of the numbers; nan when one is nan.") {
  double m = num(argv, 0);
  for (int i = 1; i < argc; i++) {
    double x = num(argv, i);
    if (x > m || isnan(x))
      m = x;
  }
  return lu_number(m);
}

LU_DEFUN(min, "(min X Y...)",
         "Returns the smallest of the numbers; nan when one is nan.") {
  double m = num(argv, 0);
  for (int i = 1; i < argc; i++) {
    double x = num(argv, i);
    if (x < m || isnan(x))
      m = x;
  }
  return lu_number(m);
}

/* ---- Predicates ------------------------------------------------------ */

LU_DEFUN(zerop, "(zerop X)", "Returns t when the number X is 0, else ().") {
  return LU_BOOL(num(argv, 0) == 0);
}

LU_DEFUN(evenp, "(evenp N)", "Returns t when the integer N is even, else ().") {
  return LU_BOOL(lu_arg_int(argv, 0) % 2 == 0);
}

LU_DEFUN(oddp, "(oddp N)", "Returns t when the integer N is odd, else ().") {
  return LU_BOOL(lu_arg_int(argv, 0) % 2 != 0);
}

LU_DEFUN(integerp, "(integerp X)",
         "Returns t when X is a number with no fractional part (and not inf "
         "or nan), else ().") {
  LuValue *x = argv[0];
  return LU_BOOL(LU_IS(x, LU_NUMBER) && isfinite(LU_NUM(x)) &&
                 LU_NUM(x) == trunc(LU_NUM(x)));
}

/* ---- Math ------------------------------------------------------------ */

/* The one-line math builtins, one table of rows {shape, C name, libm
   function, usage, doc}: shape is unary or binary. */
#define MATH_OPS(X)                                                            \
  X(unary, abs_, fabs, "(abs X)", "Returns the absolute value of X.")          \
  X(unary, floor_, floor, "(floor X)", "Returns the largest integer <= X.")    \
  X(unary, ceil_, ceil, "(ceil X)", "Returns the smallest integer >= X.")      \
  X(unary, round_, round, "(round X)",                                         \
    "Returns X rounded to the nearest integer, halves away from zero: "        \
    "(round 2.5) is 3, (round -2.5) is -3.")                                   \
  X(unary, trunc_, trunc, "(trunc X)", "Returns X rounded toward zero.")       \
  X(unary, sqrt_, sqrt, "(sqrt X)",                                            \
    "Returns the square root of X; nan when X is negative.")                   \
  X(unary, exp_, exp, "(exp X)", "Returns e to the power X.")                  \
  X(unary, log_, log, "(log X)",                                               \
    "Returns the natural logarithm of X: -inf at 0, nan below.")               \
  X(unary, log10_, log10, "(log10 X)", "Returns the base-10 logarithm of X.")  \
  X(binary, pow_, pow, "(pow X Y)", "Returns X to the power Y.")               \
  X(unary, sin_, sin, "(sin X)", "Returns the sine of X (radians).")           \
  X(unary, cos_, cos, "(cos X)", "Returns the cosine of X (radians).")         \
  X(unary, tan_, tan, "(tan X)", "Returns the tangent of X (radians).")        \
  X(unary, tanh_, tanh, "(tanh X)", "Returns the hyperbolic tangent of X.")

#define DEFINE_MATH(shape, cname, f, usage, doc)                               \
  LU_DEFUN(cname, usage, doc) {                                                \
    return shape(argv, f);                                                     \
  }
MATH_OPS(DEFINE_MATH)

LU_DEFUN(atan_, "(atan Y [X])",
         "Returns the arc tangent of Y in radians; with X, the angle of the "
         "point (X, Y), in [-pi, pi].") {
  return argc == 2 ? binary(argv, atan2) : unary(argv, atan);
}

/* ---- Random builtins ------------------------------------------------- */

LU_DEFUN(seed, "(seed N)",
         "Seeds the random generator (PCG32) with the integer N, so that "
         "rand, randn, random-int and the tensor fillers repeat the same "
         "numbers on every machine. Returns ().") {
  lu_seed((uint64_t)lu_arg_int(argv, 0));
  return lu_nil;
}

LU_DEFUN(rand_state, "(rand-state [STATE])",
         "Returns the generator's whole state as a string; with STATE (such a "
         "string), restores it, so that the numbers after it repeat.") {
  if (argc > 0) {
    unsigned long long st, inc;
    int cached;
    double next;
    if (sscanf(lu_arg_str(argv, 0), "pcg32 %llx %llx %d %la", &st, &inc,
               &cached, &next) != 4)
      lu_arg_error(0, "a string made by (rand-state)", argv[0]);
    pcg_state = st;
    pcg_inc = inc;
    normal_cached = cached;
    normal_next = next;
    pcg_seeded = true;
    return argv[0];
  }
  if (!pcg_seeded)
    lu_seed(DEFAULT_SEED);
  LuBuf b;
  lu_buf_init(&b);
  lu_buf_printf(&b, "pcg32 %llx %llx %d %a", (unsigned long long)pcg_state,
                (unsigned long long)pcg_inc, normal_cached, normal_next);
  return lu_string(b.s, b.len);
}

LU_DEFUN(rand_, "(rand [A] [B])",
         "Returns a uniform random number: (rand) in [0, 1), (rand HI) in "
         "[0, HI), (rand LO HI) in [LO, HI).") {
  double u = lu_rand_uniform();
  if (argc == 0)
    return lu_number(u);
  double lo = argc == 2 ? num(argv, 0) : 0;
  double hi = num(argv, argc - 1);
  return lu_number(lo + (hi - lo) * u);
}

LU_DEFUN(randn, "(randn [MEAN] [SD])",
         "Returns a normal random number with mean MEAN (default 0) and "
         "standard deviation SD (default 1).") {
  double mean = argc > 0 ? num(argv, 0) : 0;
  double sd = argc > 1 ? num(argv, 1) : 1;
  return lu_number(mean + sd * lu_rand_normal());
}

LU_DEFUN(random_int, "(random-int N)",
         "Returns a uniform random integer in [0, N), for an integer N from "
         "1 to 2^53, without modulo bias.") {
  long n = lu_arg_int(argv, 0);
  if (n < 1 || n > (1L << 53))
    lu_arg_error(0, "integer from 1 to 2^53", argv[0]);
  return lu_number((double)rand_below((uint64_t)n));
}

static LuBuiltin *const number_builtins[] = {&add_builtin,
                                             &sub_builtin,
                                             &mul_builtin,
                                             &divide_builtin,
                                             &div_builtin,
                                             &mod_builtin,
                                             &rem_builtin,
                                             &one_plus_builtin,
                                             &one_minus_builtin,
                                             &num_ne_builtin,
                                             &max_builtin,
                                             &min_builtin,
                                             &zerop_builtin,
                                             &evenp_builtin,
                                             &oddp_builtin,
                                             &integerp_builtin,
                                             &atan__builtin,
                                             &seed_builtin,
                                             &rand_state_builtin,
                                             &rand__builtin,
                                             &randn_builtin,
                                             &random_int_builtin,
                                             NULL};

#define MATH_ENTRY(shape, cname, f, usage, doc) &cname##_builtin,
#define COMPARE_ENTRY(cname, op, usage, doc) &cname##_builtin,
/* The builtins of the two tables. */
static LuBuiltin *const table_builtins[] = {COMPARE_OPS(COMPARE_ENTRY)
                                                MATH_OPS(MATH_ENTRY) NULL};

void lu_number_open(void) {
  lu_register(number_builtins);
  lu_register(table_builtins);
}
