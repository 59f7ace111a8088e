/* nn_conv_direct.c: the convolution kernels for stride 1, which read the
   padded input planes in place instead of unfolding them. In a padded
   plane of rows of pw, the input under tap (ky, kx) of output (oy, ox) is
   at tapoff[k] + e with e = oy pw + ox: the outputs are computed at these
   places e ("row layout": rows of pw, of which the ow first are outputs),
   so that what a tap reads for VL outputs is one vector load. The input
   gradient is the same correlation turned around: the output gradient,
   laid out the same way with zeros around it, read at e - tapoff[k]. The
   geometry's tables and the module are in nn_conv_kernels.c and
   nn_conv.c. */
#include "nn_conv_impl.h"

/* Scratch layout (floats): xp [nin][ph pw] the padded input (with room for
   the loads of the last tiles past it); ye [nout][nep] the sums in the row
   layout; dd [nout][dstride] the output gradient in the row layout, at
   dbase from the start of each map, with zeros before, between the rows
   and after; dt [npos][VL] the output gradient transposed (weight
   gradients of up to VL maps); dxp [nin][nq] the padded input gradient;
   wt [nout][kk][nin] the weights by input plane; dwt [nin kk][VL] the
   transposed weight gradients; xs [nin][kw][ph ow] the padded input's
   columns kx.. (rows of ow) when the outputs are computed compact.
   Each region is followed by SLACK floats. */
typedef struct {
  float *xp, *ye, *dd, *dt, *dxp, *wt, *dwt, *xs;
  long dbase, dstride, nq;
} DirectScratch;

/* Whether the weight gradients are computed with the output gradient
   transposed, vectors over the maps: when they fill most of a vector. */
static bool transposed(const LuConvGeom *g) {
  return g->nout <= VL && 2 * g->nout > VL;
}

/* Whether the forward pass computes the outputs in their own layout
   (rows of ow) from xs instead of in the row layout (rows of pw), that is
   when that saves over a fifth of the vectors: narrow outputs such as
   LeNet-5's C3 (10 of rows of 14). */
static bool compact(const LuConvGeom *g) {
  return 5 * (long)g->np < 4 * (long)g->nep;
}

static void direct_sizes(const LuConvGeom *g, long n[8], DirectScratch *d) {
  long plane = (long)g->ph * g->pw;
  d->nq = (plane + VL - 1) / VL * VL;
  d->dbase = (long)(g->kh - 1) * g->pw + g->kw - 1;
  d->dstride = d->dbase + d->nq + VL;
  n[0] = g->nin * plane + g->kw + VL;
  n[1] = (long)g->nout * g->nep;
  n[2] = g->nout * d->dstride;
  n[3] = transposed(g) ? (long)g->npos * VL : 0;
  n[4] = g->nin * d->nq;
  n[5] = (long)g->nout * g->kk * g->nin;
  n[6] = transposed(g) ? (long)g->nin * g->kk * VL : 0;
  n[7] = compact(g) ? (long)g->nin * g->kw * g->ph * g->ow : 0;
  for (int i = 0; i < 8; i++) /* each region starts on a whole vector */
    n[i] = (n[i] + 15) / 16 * 16;
}

static DirectScratch direct_scratch(const LuConvGeom *g, float *s) {
  DirectScratch d;
  long n[8];
  float **p[8] = {&d.xp, &d.ye, &d.dd, &d.dt, &d.dxp, &d.wt, &d.dwt, &d.xs};
  direct_sizes(g, n, &d);
  for (int i = 0; i < 8; i++) {
    *p[i] = s;
    s += n[i] + SLACK;
  }
  return d;
}

long lu_nn_direct_scratch(const LuConvGeom *g) {
  DirectScratch d;
  long n[8], sum = 0;
  direct_sizes(g, n, &d);
  for (int i = 0; i < 8; i++)
    sum += n[i] + SLACK;
  return sum;
}

/* ---- Forward ------------------------------------------------------------- */

/* The sums of the M maps o.. (which read the same planes in the same
   order) at T tiles of VL places from e, stored in ye: each tap's input
   vectors are loaded once for the M maps. */
INLINE void fprop_tiles(int M, int T, const LuConvGeom *g, const float *w,
                        const float *xp, int o, int e, float *ye) {
  vf acc[4][4];
  for (int j = 0; j < M; j++)
    for (int u = 0; u < T; u++)
      acc[j][u] = (vf){};
  long plane = (long)g->ph * g->pw;
  int c0 = g->obeg[o], nc = g->obeg[o + 1] - c0;
  for (int m = 0; m < nc; m++) {
    const float *src = xp + g->cin[c0 + m] * plane + e;
    const float *wc[4];
    for (int j = 0; j < M; j++)
      wc[j] = w + (long)(g->obeg[o + j] + m) * g->kk;
    for (int k = 0; k < g->kk; k++) {
      vf x[4];
      for (int u = 0; u < T; u++)
        x[u] = vload(src + g->tapoff[k] + u * VL);
      for (int j = 0; j < M; j++) {
        vf wv = vsplat(wc[j][k]);
        for (int u = 0; u < T; u++)
          acc[j][u] = vfma(wv, x[u], acc[j][u]);
      }
    }
  }
  for (int j = 0; j < M; j++)
    for (int u = 0; u < T; u++)
      vstore(ye + (long)(o + j) * g->nep + e + u * VL, acc[j][u]);
}

/* fprop_tiles over all the places of maps o.. (M of them). */
INLINE void fprop_maps(int M, const LuConvGeom *g, const float *w,
                       const float *xp, int o, float *ye) {
  int e = 0;
  for (; e + 4 * VL <= g->nep; e += 4 * VL)
    fprop_tiles(M, 4, g, w, xp, o, e, ye);
  for (; e + 2 * VL <= g->nep; e += 2 * VL)
    fprop_tiles(M, 2, g, w, xp, o, e, ye);
  for (; e < g->nep; e += VL)
    fprop_tiles(M, 1, g, w, xp, o, e, ye);
}

/* s = the outputs of ye (the ow first of each row) plus the bias. */
static void fprop_out(const LuConvGeom *g, const float *b, const float *ye,
                      float *s) {
  int ow = g->ow, npos = g->npos;
  for (int o = 0; o < g->nout; o++)
    for (int oy = 0; oy < g->oh; oy++) {
      const float *src = ye + (long)o * g->nep + (long)oy * g->pw;
      long at = (long)o * npos + (long)oy * ow;
      for (int ox = 0; ox < ow; ox += VL) {
        int n = ow - ox < VL ? ow - ox : VL;
        vf bias = g->bias_unit ? vload_n(b + at + ox, n) : vsplat(b[o]);
        vstore_n(s + at + ox, vload(src + ox) + bias, n);
      }
    }
}

/* xs from xp: row iy of columns kx.. of plane i at ((i kw + kx) ph + iy)
   ow, rows copied in increasing order by whole vectors (each spilling
   into the next row, which overwrites it). */
static void compact_columns(const LuConvGeom *g, DirectScratch d) {
  long plane = (long)g->ph * g->pw;
  float *dst = d.xs;
  for (int i = 0; i < g->nin; i++)
    for (int kx = 0; kx < g->kw; kx++)
      for (int iy = 0; iy < g->ph; iy++, dst += g->ow) {
        const float *src = d.xp + i * plane + (long)iy * g->pw + kx;
        for (int ox = 0; ox < g->ow; ox += VL)
          vstore(dst + ox, vload(src + ox));
      }
}

/* fprop_tiles for the compact layout: the sums of the M maps o.. at T
   tiles of VL outputs from p, tap (ky, kx) of plane i read at xs's
   columns kx.. of plane i, ky rows down, in the same order (so the same
   sums); plus the biases, stored to s (the outputs before npos). */
INLINE void compact_tiles(int M, int T, const LuConvGeom *g, const float *w,
                          const float *b, DirectScratch d, int o, int p,
                          float *s) {
  vf acc[4][4];
  for (int j = 0; j < M; j++)
    for (int u = 0; u < T; u++)
      acc[j][u] = (vf){};
  long cols = (long)g->ph * g->ow; /* one kx of a plane in xs */
  int c0 = g->obeg[o], nc = g->obeg[o + 1] - c0;
  for (int m = 0; m < nc; m++) {
    const float *src = d.xs + g->cin[c0 + m] * g->kw * cols + p;
    const float *wc[4];
    for (int j = 0; j < M; j++)
      wc[j] = w + (long)(g->obeg[o + j] + m) * g->kk;
    for (int ky = 0, k = 0; ky < g->kh; ky++)
      for (int kx = 0; kx < g->kw; kx++, k++) {
        const float *at = src + kx * cols + (long)ky * g->ow;
        vf x[4];
        for (int u = 0; u < T; u++)
          x[u] = vload(at + u * VL);
        for (int j = 0; j < M; j++) {
          vf wv = vsplat(wc[j][k]);
          for (int u = 0; u < T; u++)
            acc[j][u] = vfma(wv, x[u], acc[j][u]);
        }
      }
  }
  for (int j = 0; j < M; j++)
    for (int u = 0; u < T; u++) {
      long at = (long)(o + j) * g->npos + p + u * VL;
      int n = g->npos - (p + u * VL) < VL ? g->npos - (p + u * VL) : VL;
      vf bias = g->bias_unit ? vload_n(b + at, n) : vsplat(b[o + j]);
      vstore_n(s + at, acc[j][u] + bias, n);
    }
}

/* compact_tiles over all the outputs of maps o.. (M of them). */
INLINE void compact_maps(int M, const LuConvGeom *g, const float *w,
                         const float *b, DirectScratch d, int o, float *s) {
  int p = 0;
  for (; p + 4 * VL <= g->np; p += 4 * VL)
    compact_tiles(M, 4, g, w, b, d, o, p, s);
  for (; p + 2 * VL <= g->np; p += 2 * VL)
    compact_tiles(M, 2, g, w, b, d, o, p, s);
  for (; p < g->np; p += VL)
    compact_tiles(M, 1, g, w, b, d, o, p, s);
}

/* compact_maps or fprop_maps (into ye) for the M maps o.. */
static void maps_forward(bool compact, int M, const LuConvGeom *g,
                         const float *w, const float *b, DirectScratch d, int o,
                         float *s) {
  if (compact && M == 4)
    compact_maps(4, g, w, b, d, o, s);
  else if (compact && M == 2)
    compact_maps(2, g, w, b, d, o, s);
  else if (compact)
    compact_maps(1, g, w, b, d, o, s);
  else if (M == 4)
    fprop_maps(4, g, w, d.xp, o, d.ye);
  else if (M == 2)
    fprop_maps(2, g, w, d.xp, o, d.ye);
  else
    fprop_maps(1, g, w, d.xp, o, d.ye);
}

void lu_nn_direct_fprop(const LuConvGeom *g, const float *w, const float *b,
                        const float *x, float *s, LuSquash f, float *y,
                        float *scratch) {
  DirectScratch d = direct_scratch(g, scratch);
  lu_nn_conv_pad(g, x, d.xp);
  bool c = compact(g);
  if (c)
    compact_columns(g, d);
  for (int o = 0; o < g->nout;) {
    int M = g->same[o] == 4 ? 4 : g->same[o] >= 2 ? 2 : 1;
    maps_forward(c, M, g, w, b, d, o, s);
    o += M;
  }
  if (!c)
    fprop_out(g, b, d.ye, s);
  if (f != LU_SQ_NONE)
    lu_nn_squash(f, s, y, (long)g->nout * g->npos);
}

/* ---- Backward ------------------------------------------------------------ */

/* Copies ds into dd (the row layout), and into dt transposed when used. */
static void back_layout(const LuConvGeom *g, const float *ds, DirectScratch d) {
  int ow = g->ow;
  for (int o = 0; o < g->nout; o++)
    for (int oy = 0; oy < g->oh; oy++) {
      const float *src = ds + (long)o * g->npos + (long)oy * ow;
      float *dst = d.dd + o * d.dstride + d.dbase + (long)oy * g->pw;
      for (int ox = 0; ox < ow; ox += VL) {
        int n = ow - ox < VL ? ow - ox : VL;
        vstore_n(dst + ox, vload_n(src + ox, n), n);
      }
    }
  if (transposed(g)) /* VL places at a time, the maps past nout 0 */
    for (long p = 0; p < g->npos; p += VL) {
      int n = g->npos - p < VL ? (int)(g->npos - p) : VL;
      vf r[VL];
      for (int o = 0; o < VL; o++)
        r[o] = o < g->nout ? vload_n(ds + o * g->npos + p, n) : (vf){};
      vtranspose(r);
      for (int k = 0; k < n; k++)
        vstore(d.dt + (p + k) * VL, r[k]);
    }
}

/* Adds into dw the M K weight gradients of the M connections fan f0..
   (from plane i) and the K taps k0..: dot products of the output gradient
   with the shifted plane over every place (the columns past ow meet zeros
   of dd), vectors of partial sums summed VL at a time. */
INLINE void weights_block(bool SQ, int M, int K, const LuConvGeom *g,
                          DirectScratch d, int i, int f0, int k0, float *dw) {
  vf a[16];
  for (int q = 0; q < M * K; q++)
    a[q] = (vf){};
  const float *xi = d.xp + (long)i * g->ph * g->pw, *dv[4];
  for (int j = 0; j < M; j++)
    dv[j] = d.dd + g->fan_out[f0 + j] * d.dstride + d.dbase;
  for (int e = 0; e < g->nep; e += VL) {
    vf dy[4];
    for (int j = 0; j < M; j++)
      dy[j] = vload(dv[j] + e);
    for (int kb = 0; kb < K; kb++) {
      vf x = vload(xi + g->tapoff[k0 + kb] + e);
      x = SQ ? x * x : x;
      for (int j = 0; j < M; j++)
        a[j * K + kb] = vfma(dy[j], x, a[j * K + kb]);
    }
  }
  float sums[16];
  if (M * K % VL == 0)
    for (int q = 0; q < M * K; q += VL)
      vstore(sums + q, vsum_many(a + q));
  else
    for (int q = 0; q < M * K; q++)
      sums[q] = vsum(a[q]);
  for (int j = 0; j < M; j++)
    for (int kb = 0; kb < K; kb++)
      dw[g->fan_woff[f0 + j] + k0 + kb] += sums[j * K + kb];
}

/* weights_block over the taps, blocks of 4. */
INLINE void weights_fan(bool SQ, int M, const LuConvGeom *g, DirectScratch d,
                        int i, int f0, float *dw) {
  int k = 0;
  for (; k + 4 <= g->kk; k += 4)
    weights_block(SQ, M, 4, g, d, i, f0, k, dw);
  for (; k < g->kk; k++)
    weights_block(SQ, M, 1, g, d, i, f0, k, dw);
}

/* The N (<= 8) rows r = i kk + ky kw + kx0.. of taps (ky, kx0..) of
   plane i (rows of the plane shifted by each tap) by the transposed
   output gradient dt: vectors over the (at most VL) maps, so no
   horizontal sums, stored to dwt[r]. The N taps read neighbours: one
   address plus a constant, which keeps the loop in registers. */
INLINE void weights_t_taps(bool SQ, int N, const LuConvGeom *g, DirectScratch d,
                           int i, int ky, int kx0) {
  const float *base = d.xp + (long)i * g->ph * g->pw + (long)ky * g->pw + kx0,
              *dt = d.dt;
  vf acc[8];
  for (int b = 0; b < N; b++)
    acc[b] = (vf){};
  for (int oy = 0; oy < g->oh; oy++) {
    const float *at = base + (long)oy * g->pw;
    for (int ox = 0; ox < g->ow; ox++, dt += VL) {
      vf dv = vload(dt);
      for (int b = 0; b < N; b++) {
        float v = at[ox + b];
        acc[b] = vfma(vsplat(SQ ? v * v : v), dv, acc[b]);
      }
    }
  }
  float *dwt = d.dwt + ((long)i * g->kk + (long)ky * g->kw + kx0) * VL;
  for (int b = 0; b < N; b++)
    vstore(dwt + b * VL, acc[b]);
}

/* weights_t_taps over every row of taps, up to 8 at a time: the loop
   over c, unrolled, makes a copy for each count with c a constant (for
   registers) and runs the one for n. */
INLINE void weights_t_rows(bool SQ, const LuConvGeom *g, DirectScratch d) {
  for (int i = 0; i < g->nin; i++)
    for (int ky = 0; ky < g->kh; ky++)
      for (int kx = 0; kx < g->kw; kx += 8) {
        int n = g->kw - kx < 8 ? g->kw - kx : 8;
#pragma GCC unroll 8
        for (int c = 1; c <= 8; c++)
          if (c == n)
            weights_t_taps(SQ, c, g, d, i, ky, kx);
      }
}

static void weights_t(bool sq, const LuConvGeom *g, DirectScratch d) {
  if (sq)
    weights_t_rows(true, g, d);
  else
    weights_t_rows(false, g, d);
}

/* dw += dwt: lane cout of row cin kk + k of each connection c to
   dw[c kk + k], by blocks of VL taps of a plane transposed, so that a
   connection's taps are one vector. */
static void dwt_add(const LuConvGeom *g, DirectScratch d, float *dw) {
  for (int i = 0; i < g->nin; i++)
    for (int k0 = 0; k0 < g->kk; k0 += VL) {
      int n = g->kk - k0 < VL ? g->kk - k0 : VL;
      vf r[VL];
      for (int b = 0; b < VL; b++)
        r[b] = b < n ? vload(d.dwt + ((long)i * g->kk + k0 + b) * VL) : (vf){};
      vtranspose(r);
      for (int f = g->fan_beg[i]; f < g->fan_beg[i + 1]; f++) {
        float *dst = dw + g->fan_woff[f] + k0;
        vstore_n(dst, vload_n(dst, n) + r[g->fan_out[f]], n);
      }
    }
}

/* dw: by the transposed gradient when it fills the vectors, else by
   blocks of dot products. */
INLINE void direct_weights(bool SQ, const LuConvGeom *g, DirectScratch d,
                           float *dw) {
  if (transposed(g)) {
    weights_t(SQ, g, d);
    dwt_add(g, d, dw);
    return;
  }
  for (int i = 0; i < g->nin; i++) {
    int f = g->fan_beg[i];
    for (; f + 4 <= g->fan_beg[i + 1]; f += 4)
      weights_fan(SQ, 4, g, d, i, f, dw);
    for (; f + 2 <= g->fan_beg[i + 1]; f += 2)
      weights_fan(SQ, 2, g, d, i, f, dw);
    for (; f < g->fan_beg[i + 1]; f++)
      weights_fan(SQ, 1, g, d, i, f, dw);
  }
}

/* wt = w (or w^2) as [nout][kk][nin], 0 where no connection: the
   weights of several input planes side by side for input_block. */
static void back_weights_by_plane(bool sq, const LuConvGeom *g, const float *w,
                                  float *wt) {
  for (int c = 0; c < g->nconn; c++)
    for (int k = 0; k < g->kk; k++) {
      float v = w[(long)c * g->kk + k];
      wt[((long)g->cout[c] * g->kk + k) * g->nin + g->cin[c]] = sq ? v * v : v;
    }
}

/* The weights as input_block reads them: map o's tap k for input plane
   i0 + j at w[o os + k ks + j js] (w already offset to plane i0). */
typedef struct {
  const float *w;
  long os, ks, js;
} WeightView;

/* The input gradient of the I planes i0.. at T tiles from q of their
   padded planes: sums over the maps and taps of the weights times dd read
   at q - tapoff[k], each load of dd serving the I planes. Rows of taps
   that only meet the zeros above or below dd's rows are skipped. Stored
   to dxp. */
INLINE void input_block(int I, int T, const LuConvGeom *g, WeightView v,
                        DirectScratch d, int i0, long q) {
  vf acc[6][2];
  for (int j = 0; j < I; j++)
    for (int u = 0; u < T; u++)
      acc[j][u] = (vf){};
  int r0 = (int)(q / g->pw), r1 = (int)((q + T * VL - 1) / g->pw);
  int ky0 = r0 - g->oh + 1 > 0 ? r0 - g->oh + 1 : 0;
  int ky1 = r1 < g->kh - 1 ? r1 : g->kh - 1;
  for (int o = 0; o < g->nout; o++) {
    const float *src = d.dd + o * d.dstride + d.dbase + q;
    for (int k = ky0 * g->kw; k < (ky1 + 1) * g->kw; k++) {
      const float *wk = v.w + o * v.os + k * v.ks;
      vf x[2];
      for (int u = 0; u < T; u++)
        x[u] = vload(src - g->tapoff[k] + u * VL);
      for (int j = 0; j < I; j++) {
        vf wv = vsplat(wk[j * v.js]);
        for (int u = 0; u < T; u++)
          acc[j][u] = vfma(wv, x[u], acc[j][u]);
      }
    }
  }
  for (int j = 0; j < I; j++)
    for (int u = 0; u < T; u++)
      vstore(d.dxp + (i0 + j) * d.nq + q + u * VL, acc[j][u]);
}

/* input_block over all the tiles of planes i0.. (I of them). */
INLINE void input_planes(int I, const LuConvGeom *g, WeightView v,
                         DirectScratch d, int i0) {
  long q = 0;
  v.w += i0 * v.js;
  for (; q + 2 * VL <= d.nq; q += 2 * VL)
    input_block(I, 2, g, v, d, i0, q);
  for (; q < d.nq; q += VL)
    input_block(I, 1, g, v, d, i0, q);
}

/* dx: the padded planes' gradient by input_planes, 6 planes at a time,
   then its inner part (without the padding) copied to dx. With every
   plane joined to every map the weights are read in place, else (or
   squared) from wt. */
static void direct_input(bool sq, const LuConvGeom *g, const float *w,
                         DirectScratch d, float *dx) {
  long kk = g->kk, nin = g->nin;
  WeightView v = {w, nin * kk, 1, kk};
  if (sq || g->nconn != g->nin * g->nout) {
    back_weights_by_plane(sq, g, w, d.wt);
    v = (WeightView){d.wt, kk * nin, nin, 1};
  }
  int i = 0;
  for (; i + 6 <= g->nin; i += 6)
    input_planes(6, g, v, d, i);
  for (; i + 4 <= g->nin; i += 4)
    input_planes(4, g, v, d, i);
  for (; i + 2 <= g->nin; i += 2)
    input_planes(2, g, v, d, i);
  for (; i < g->nin; i++)
    input_planes(1, g, v, d, i);
  int iw = g->iw, pad = g->pad;
  for (i = 0; i < g->nin; i++)
    for (int iy = 0; iy < g->ih; iy++) {
      const float *src = d.dxp + i * d.nq + (long)(iy + pad) * g->pw + pad;
      float *dst = dx + ((long)i * g->ih + iy) * iw;
      for (int ix = 0; ix < iw; ix += VL)
        vstore_n(dst + ix, vload(src + ix), iw - ix < VL ? iw - ix : VL);
    }
}

/* db += ds, or its sum over each map's places (in vectors). */
static void back_bias(const LuConvGeom *g, const float *ds, float *db) {
  long npos = g->npos;
  if (g->bias_unit) {
    for (long p = 0; p < g->nout * npos; p++)
      db[p] += ds[p];
    return;
  }
  for (int o = 0; o < g->nout; o++) {
    const float *d = ds + o * npos;
    vf sum = {};
    for (long p = 0; p < npos; p += VL)
      sum += vload_n(d + p, npos - p < VL ? (int)(npos - p) : VL);
    db[o] += vsum(sum);
  }
}

INLINE void direct_back(bool SQ, const LuConvGeom *g, const float *w,
                        const float *ds, float *dx, float *dw, float *db,
                        float *scratch) {
  DirectScratch d = direct_scratch(g, scratch);
  back_bias(g, ds, db);
  back_layout(g, ds, d);
  direct_weights(SQ, g, d, dw);
  if (dx)
    direct_input(SQ, g, w, d, dx);
}

void lu_nn_direct_back(bool sq, const LuConvGeom *g, const float *w,
                       const float *ds, float *dx, float *dw, float *db,
                       float *scratch) {
  if (sq)
    direct_back(true, g, w, ds, dx, dw, db, scratch);
  else
    direct_back(false, g, w, ds, dx, dw, db, scratch);
}
