/* nn_simd.h: the vector helpers of the net kernels: GCC vector extensions
   of the machine's width (AVX-512 under -march=native, SSE in a PORTABLE
   build), loads and stores that may be unaligned, horizontal sums, and
   the vectorised squashing functions (tanh, Lush's stanh, relu) that the
   squashing modules and the fused conv and linear outputs share. Float
   reductions are written with explicit vector accumulators because gcc
   does not reassociate them without -ffast-math. */
#ifndef LU_NN_SIMD_H
#define LU_NN_SIMD_H

#include "net.h"

#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__FMA__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define VL 16
#elif defined(__AVX__)
#define VL 8
#else
#define VL 4
#endif

typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VL * sizeof(int32_t))));

/* The lane numbers, as a vi initialiser. */
#if VL == 16
#define VIOTA                                                                  \
  { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 }
#elif VL == 8
#define VIOTA                                                                  \
  { 0, 1, 2, 3, 4, 5, 6, 7 }
#else
#define VIOTA                                                                  \
  { 0, 1, 2, 3 }
#endif

#define INLINE static inline __attribute__((always_inline))

/* Lane i of the result is lane idx[i] of the 2 VL lanes of a then b (idx
   in [0, 2 VL)). gcc has it as one builtin; clang (the sanitizer build)
   only with constant indices, so there it is spelled out. */
#if defined(__clang__)
INLINE vf vshuffle2(vf a, vf b, vi idx) {
  float t[2 * VL];
  memcpy(t, &a, sizeof a);
  memcpy(t + VL, &b, sizeof b);
  vf r;
  for (int i = 0; i < VL; i++)
    r[i] = t[idx[i] & (2 * VL - 1)];
  return r;
}
#else
#define vshuffle2(a, b, idx) __builtin_shuffle(a, b, idx)
#endif

/* a * b + c in one rounding where the machine has FMA: gcc does not
   contract a * b + c itself under -std=c11. */
INLINE vf vfma(vf a, vf b, vf c) {
#if VL == 16
  return _mm512_fmadd_ps(a, b, c);
#elif VL == 8 && defined(__FMA__)
  return _mm256_fmadd_ps(a, b, c);
#else
  return a * b + c;
#endif
}

/* x in every lane (x - 0 is x for every float, so this folds to a
   broadcast, where 0 + x would not). */
INLINE vf vsplat(float x) {
  return x - (vf){};
}

INLINE vf vload(const float *p) {
  vf v;
  memcpy(&v, p, sizeof v);
  return v;
}

INLINE void vstore(float *p, vf v) {
  memcpy(p, &v, sizeof v);
}

#if VL == 8 && defined(__AVX2__)
/* Lanes below n set (all ones), for the AVX2 masked moves. */
INLINE __m256i vmask8(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

/* Stores the first n (<= VL) lanes of v, touching nothing past them: one
   masked store where the machine has them. */
INLINE void vstore_n(float *p, vf v, int n) {
  if (n >= VL)
    vstore(p, v);
#if VL == 16
  else
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v);
#elif VL == 8 && defined(__AVX2__)
  else
    _mm256_maskstore_ps(p, vmask8(n), (__m256)v);
#else
  else
    for (int i = 0; i < n; i++)
      p[i] = v[i];
#endif
}

/* The first n (<= VL) floats at p, the other lanes 0, reading nothing past
   them. */
INLINE vf vload_n(const float *p, int n) {
  if (n >= VL)
    return vload(p);
#if VL == 16
  return (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#elif VL == 8 && defined(__AVX2__)
  return (vf)_mm256_maskload_ps(p, vmask8(n));
#else
  float t[VL] = {0};
  for (int i = 0; i < n; i++)
    t[i] = p[i];
  return vload(t);
#endif
}

/* The sum of v's lanes, by folding halves: log2 VL shuffles and adds
   rather than VL dependent scalar adds. */
INLINE float vsum(vf v) {
  const vi iota = VIOTA;
#pragma GCC unroll 8
  for (int h = VL / 2; h >= 1; h /= 2)
    v += vshuffle2(v, v, (iota + h) & (VL - 1));
  return v[0];
}

/* Lane q of the result is the sum of the lanes of a[q]: VL horizontal sums
   at once, by VL - 1 folds of pairs (a transposing tree), instead of VL
   separate reductions. Destroys a. */
INLINE vf vsum_many(vf a[VL]) {
  const vi iota = VIOTA;
  int n = VL;
#pragma GCC unroll 8
  for (int h = VL / 2; h >= 1; h /= 2, n /= 2) {
    /* lane q takes lanes q + (q & -h) and h further of the pair (a, b)
       read as one vector of 2 VL: the halves of each group of 2h */
    vi lo = iota + (iota & -h), hi = lo + h;
#pragma GCC unroll 8
    for (int m = 0; m < n / 2; m++)
      a[m] = vshuffle2(a[2 * m], a[2 * m + 1], lo) +
             vshuffle2(a[2 * m], a[2 * m + 1], hi);
  }
  return a[0];
}

/* Transposes the VL x VL matrix of rows r: lane q of r[j] goes to lane
   j of r[q]. In log2 VL stages: at stage h, each row j without bit h
   trades its lanes with bit h for the lanes without it of row j + h. */
INLINE void vtranspose(vf r[VL]) {
  const vi iota = VIOTA;
#pragma GCC unroll 8
  for (int h = 1; h < VL; h *= 2) {
    vi up = ((iota & h) != 0) & (VL - h); /* lanes with bit h: from b */
    vi ia = iota + up, ib = iota + h + up;
#pragma GCC unroll 16
    for (int j = 0; j < VL; j++)
      if (!(j & h)) {
        vf a = r[j], b = r[j + h];
        r[j] = vshuffle2(a, b, ia);
        r[j + h] = vshuffle2(a, b, ib);
      }
  }
}

/* Lane-wise select: m ? a : b, with m from a vector comparison. */
INLINE vf vsel(vi m, vf a, vf b) {
  return (vf)(((vi)a & m) | ((vi)b & ~m));
}

/* 1 / d for d >= 1: with AVX-512, the 14-bit estimate and one Newton step
   by FMAs (within an ulp, and much faster than a division). */
INLINE vf vrecip(vf d) {
#if VL == 16
  vf r = (vf)_mm512_rcp14_ps((__m512)d);
  return vfma(r, vfma(-d, r, (vf){} + 1.0f), r);
#else
  return 1.0f / d;
#endif
}

/* 2^t for 0 <= t < 29: 2^n 2^f with n the nearest integer, |f| <= 1/2,
   2^f = e^(f ln 2) by the degree-7 Taylor polynomial of e^r (relative
   error < 1e-8), its coefficients times powers of ln 2. With AVX-512, n
   by one rounding and 2^n by one scaling. */
INLINE vf vexp2(vf t) {
  const float c[8] = {
      1.5252734e-05f, 1.5403530e-04f, 1.3333558e-03f, 9.6181291e-03f,
      5.5504109e-02f, 2.4022651e-01f, 6.9314718e-01f, 1.0f};
#if VL == 16
  vf n = (vf)_mm512_roundscale_ps((__m512)t, _MM_FROUND_TO_NEAREST_INT);
#else
  vf n = __builtin_convertvector(__builtin_convertvector(t + 0.5f, vi), vf);
#endif
  vf f = t - n, p = vsplat(c[0]);
  for (int i = 1; i < 8; i++)
    p = vfma(p, f, vsplat(c[i]));
#if VL == 16
  return (vf)_mm512_scalef_ps((__m512)p, (__m512)n);
#else
  return p * (vf)((__builtin_convertvector(n, vi) + 127) << 23);
#endif
}

/* tanh for one vector. |x| < 1/16: the odd Taylor polynomial to x^7
   (truncation < 4e-13). Otherwise 1 - 2/(1 + e^(2|x|)), the exponential
   by vexp2, the polynomials by FMAs where the machine has them; the
   absolute error stays below 1.2e-7 everywhere (checked exhaustively over
   all floats against libm). |x| is clamped at 10, where tanh rounds to 1
   in float. NaN propagates. */
INLINE vf vtanh(vf x) {
  const vi sign = (vi){} + (int32_t)0x80000000;
  vf ax = (vf)((vi)x & ~sign);
  ax = vsel(ax > 10.0f, (vf){} + 10.0f, ax);
  vf e = vexp2(ax * (2.0f * 1.44269504088896341f)); /* e^(2|x|) */
  vf big = vfma(vsplat(-2.0f), vrecip(1.0f + e), vsplat(1.0f));
  vf x2 = ax * ax;
  vf q = vfma(x2, vsplat(-17.0f / 315), vsplat(2.0f / 15));
  q = vfma(x2, q, vsplat(-1.0f / 3));
  vf small = vfma(ax * x2, q, ax);
  vf th = vsel(ax < 0.0625f, small, big);
  return (vf)((vi)th | ((vi)x & sign));
}

INLINE vf vsquash(LuSquash f, vf s) {
  switch (f) {
  case LU_SQ_TANH:
    return vtanh(s);
  case LU_SQ_STANH:
    return 1.7159f * vtanh(s * (2.0f / 3.0f));
  case LU_SQ_RELU:
    return vsel(s > 0.0f, s, (vf){});
  default:
    return s;
  }
}

#endif
