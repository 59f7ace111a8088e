/* nn_conv_kernels.c: the kernels of convolution with a connection table:
   the geometry's index tables (lu_nn_conv_prepare), the entry points,
   which send stride 1 to nn_conv_direct.c and a kernel that covers its
   whole input to the linear kernels, the optimised fprop, bprop and
   bbprop over an unfolded, phase-split copy of the input for the other
   strides, and beside them the reference kernels that spell out the
   definition loop by loop (tests/c/test_net.c checks that they agree).
   The module around them is nn_conv.c. */
#include "nn_conv_impl.h"

/* Scratch layout (floats): xp [nin][stride^2][rh][rw] the padded input
   split into stride x stride phases (phase (py, px) holds the rows py,
   py + stride... and the columns px, px + stride...), so that what a tap
   reads for one output row is contiguous; col [nin][kk][np] the input
   unfolded so that each tap k of each plane is a row over output positions
   (lanes past npos hold anything finite); dsp [nout][np] the
   output gradient padded to np; dse [nout][nep] the output gradient with
   rows of rw (the junk columns stay 0); dph [nin][stride^2][rh][rw] the
   padded input gradient split into stride x stride phases, where each tap
   adds one contiguous shifted block; tmp [VL]. Each region is followed by
   SLACK floats. The work buffers are zero-filled when made and no
   kernel writes the lanes said to stay 0. */
typedef struct {
  float *xp, *col, *dsp, *dse, *dph, *tmp;
} ConvScratch;

/* Weight gradients by the transposed output gradient up to this many
   positions; by batched dot products beyond (measured on the 1989 net:
   faster at its 16 and 64). */
enum { DWT_MAX_NP = 64 };

/* The regions' sizes, in the order of ConvScratch. */
static void conv_sizes(const LuConvGeom *g, long n[6]) {
  n[0] = (long)g->nin * g->stride * g->stride * g->rh * g->rw;
  n[1] = (long)g->nin * g->kk * g->np;
  n[2] = (long)g->np * (g->nout > VL ? g->nout : VL);
  n[3] = (long)g->nout * g->nep;
  n[4] = (long)g->nin * g->stride * g->stride * g->rh * g->rw;
  n[5] = 8 * VL;
}

static ConvScratch conv_scratch(const LuConvGeom *g, float *s) {
  long n[6];
  float *p[6];
  conv_sizes(g, n);
  for (int i = 0; i < 6; i++) {
    p[i] = s;
    s += n[i] + SLACK;
  }
  return (ConvScratch){p[0], p[1], p[2], p[3], p[4], p[5]};
}

long lu_nn_conv_scratch(const LuConvGeom *g) {
  if (g->dense)
    return 0;
  if (g->direct)
    return lu_nn_direct_scratch(g);
  long n[6], sum = 0;
  conv_sizes(g, n);
  for (int i = 0; i < 6; i++)
    sum += n[i] + SLACK;
  return sum;
}

static int *ints(long n) {
  return lu_alloc_atomic(sizeof(int) * (size_t)(n + 1), "nn-conv");
}

/* The phase layout of the padded input (stride s splits it into s * s
   phases of rh x rw): psrc (phase place -> input pixel, or -1 for
   padding), runs (the stretches of real pixels in each phase row), pidx
   (input pixel -> phase place) and tapoff (where tap k reads). */
static void conv_phase_maps(LuConvGeom *g) {
  int s = g->stride;
  long phase = (long)g->rh * g->rw, plane = s * s * phase;
  g->psrc = ints(plane);
  for (long j = 0; j < plane; j++) {
    int ph = (int)(j / phase), r = (int)(j % phase / g->rw);
    int iy = r * s + ph / s - g->pad,
        ix = (int)(j % g->rw) * s + ph % s - g->pad;
    g->psrc[j] =
        iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw ? iy * g->iw + ix : -1;
  }
  /* the runs of pixels: each row of each phase, where it is not padding */
  g->runs = ints(3 * s * s * g->rh);
  g->nrun = 0;
  for (long r = 0; r < s * s * g->rh; r++) {
    long j = r * g->rw, end = j + g->rw;
    while (j < end && g->psrc[j] < 0)
      j++;
    int len = 0;
    while (j + len < end && g->psrc[j + len] >= 0)
      len++;
    if (len) {
      int *run = g->runs + 3 * g->nrun++;
      run[0] = (int)j, run[1] = g->psrc[j], run[2] = len;
    }
  }
  g->pidx = ints((long)g->ih * g->iw);
  for (int iy = 0; iy < g->ih; iy++)
    for (int ix = 0; ix < g->iw; ix++) {
      int py = iy + g->pad, px = ix + g->pad;
      g->pidx[iy * g->iw + ix] =
          (int)(((py % s) * s + px % s) * phase + py / s * g->rw + px / s);
    }
  g->tapoff = ints(g->kk);
  for (int k = 0; k < g->kk; k++) {
    int ky = k / g->kw, kx = k % g->kw;
    g->tapoff[k] =
        (int)(((ky % s) * s + kx % s) * phase + ky / s * g->rw + kx / s);
  }
}

/* Tiles of VL output positions as permutations of phase spans: tbase,
   tidx, tperm (whether every tile fits in 2 VL) and the inverse tinv. */
static void conv_tile_maps(LuConvGeom *g) {
  g->tbase = ints(g->np / VL);
  g->tidx = ints(g->np);
  g->tperm = true;
  for (int t = 0; t < g->np; t += VL) {
    g->tbase[t / VL] = t / g->ow * g->rw + t % g->ow;
    for (int p = t; p < t + VL; p++) {
      int at = p < g->npos ? p / g->ow * g->rw + p % g->ow : 0;
      g->tidx[p] = p < g->npos ? at - g->tbase[t / VL] : 0;
      g->tperm &= g->tidx[p] < 2 * VL;
    }
  }
  /* the inverse permutations: which lane of a tile lands on each place of
     its span of 2 VL, or VL (a zero) */
  g->tinv = ints(g->np / VL * 2 * VL);
  for (int t = 0; g->tperm && t < g->np; t += VL)
    for (int q = 0; q < 2 * VL; q++) {
      int lane = VL;
      for (int l = 0; l < VL; l++)
        if (t + l < g->npos && g->tidx[t + l] == q)
          lane = l;
      g->tinv[t / VL * 2 * VL + q] = lane;
    }
}

/* Phase rows as permutations of input rows: pcidx, pcmask, ppad. */
static void conv_row_maps(LuConvGeom *g) {
  int s = g->stride;
  g->pcidx = ints(s * VL);
  g->pcmask = ints(s * VL);
  g->ppad = g->rw <= VL;
  for (int px = 0; px < s; px++)
    for (int c = 0; c < VL; c++) {
      int ix = c * s + px - g->pad;
      bool in = c < g->rw && ix >= 0 && ix < g->iw;
      g->pcidx[px * VL + c] = in ? ix : 0;
      g->pcmask[px * VL + c] = in ? -1 : 0;
      g->ppad &= !in || ix < 2 * VL;
    }
}

/* Whether output planes a and b read the same input planes in one order
   (needs obeg). */
static bool same_planes(const LuConvGeom *g, int a, int b) {
  int nc = g->obeg[a + 1] - g->obeg[a];
  if (g->obeg[b + 1] - g->obeg[b] != nc)
    return false;
  for (int m = 0; m < nc; m++)
    if (g->cin[g->obeg[a] + m] != g->cin[g->obeg[b] + m])
      return false;
  return true;
}

/* The connections grouped by output plane: obeg (each plane's first) and
   same (how many planes from o, up to 4, read the same input planes in
   one order). */
static void conv_output_groups(LuConvGeom *g) {
  g->obeg = ints(g->nout + 1);
  for (int o = 0, c = 0; o <= g->nout; o++) {
    while (c < g->nconn && g->cout[c] < o)
      c++;
    g->obeg[o] = c;
  }
  g->same = lu_alloc_atomic((size_t)g->nout + 1, "nn-conv");
  for (int o = 0; o < g->nout; o++) {
    int n = 1;
    while (n < 4 && o + n < g->nout && same_planes(g, o, o + n))
      n++;
    g->same[o] = (unsigned char)n;
  }
}

/* Per connection and tap, the rows the kernels pair up (roff, doff), and
   per input plane the connections it feeds (fan_*). Needs tperm. */
static void conv_connection_maps(LuConvGeom *g) {
  long nr = (long)g->nconn * g->kk;
  g->roff = ints(nr);
  g->doff = ints(nr);
  for (long r = 0; r < nr; r++) {
    int c = (int)(r / g->kk), k = (int)(r % g->kk);
    g->roff[r] = (g->cin[c] * g->kk + k) * g->np;
    g->doff[r] = g->cout[c] * g->np;
  }
  g->fan_beg = ints(g->nin + 1);
  g->fan_woff = ints(g->nconn);
  g->fan_out = ints(g->nconn);
  g->fan_doff = ints(g->nconn);
  int n = 0;
  for (int i = 0; i < g->nin; i++) {
    g->fan_beg[i] = n;
    for (int c = 0; c < g->nconn; c++)
      if (g->cin[c] == i) {
        g->fan_woff[n] = c * g->kk;
        g->fan_out[n] = g->cout[c];
        g->fan_doff[n++] = g->cout[c] * (g->tperm ? g->np : g->nep);
      }
  }
  g->fan_beg[g->nin] = n;
}

/* Derived sizes first, then the index tables, in dependency order. */
void lu_nn_conv_prepare(LuConvGeom *g) {
  int s = g->stride;
  g->ph = g->ih + 2 * g->pad;
  g->pw = g->iw + 2 * g->pad;
  g->oh = (g->ph - g->kh) / s + 1;
  g->ow = (g->pw - g->kw) / s + 1;
  g->npos = g->oh * g->ow;
  g->np = (g->npos + VL - 1) / VL * VL;
  g->kk = g->kh * g->kw;
  g->rh = (g->ph + s - 1) / s;
  g->rw = (g->pw + s - 1) / s;
  g->nep = (g->oh * g->rw + VL - 1) / VL * VL;
  conv_output_groups(g);
  g->dense = g->pad == 0 && g->ih == g->kh && g->iw == g->kw &&
             g->nconn == g->nin * g->nout;
  if (g->dense) /* the linear kernels need none of the tables below */
    return;
  conv_phase_maps(g);
  conv_tile_maps(g);
  conv_row_maps(g);
  g->dwt = g->nout <= VL && g->np <= DWT_MAX_NP;
  g->direct = s == 1;
  conv_connection_maps(g);
}

/* Copies x, padded, into its phases xp. The padding is written once per
   work buffer (a flag in the slack after xp records it); later calls copy
   only the pixels. When a phase row is one permutation of the first 2 VL
   floats of an input row (g->ppad), each is one vector store, whose lanes
   past the row hold padval and land where padding or a later row goes
   (rows are written in increasing order); else the pixels are copied run
   by run. */
void lu_nn_conv_pad(const LuConvGeom *g, const float *x, float *xp) {
  int s = g->stride, rw = g->rw, iw = g->iw;
  long phase = (long)g->rh * rw, plane = s * s * phase;
  long ihw = (long)g->ih * iw;
  float *done = xp + g->nin * plane + SLACK - 1; /* past any overflow */
  if (*done != 1) {
    for (int i = 0; i < g->nin; i++)
      for (long j = 0; j < plane; j++)
        xp[i * plane + j] = g->psrc[j] >= 0 ? 0 : g->padval;
    *done = 1;
  }
  if (!g->ppad) {
    for (int i = 0; i < g->nin; i++)
      for (int r = 0; r < g->nrun; r++) {
        const int *run = g->runs + 3 * r;
        if (s == 1) /* a plain copy, which memcpy does fastest */
          memcpy(xp + i * plane + run[0], x + i * ihw + run[1],
                 sizeof(float) * (size_t)run[2]);
        else
          for (int j = 0; j < run[2]; j++)
            xp[i * plane + run[0] + j] = x[i * ihw + run[1] + j * s];
      }
    return;
  }
  vf pad = vsplat(g->padval);
  for (int i = 0; i < g->nin; i++) /* in increasing order of xp */
    for (int ph = 0; ph < s * s; ph++) {
      int py = ph / s, px = ph % s;
      vi idx, mask;
      memcpy(&idx, g->pcidx + px * VL, sizeof idx);
      memcpy(&mask, g->pcmask + px * VL, sizeof mask);
      for (int r = 0; r < g->rh; r++) {
        int iy = r * s + py - g->pad;
        if (iy < 0 || iy >= g->ih)
          continue;
        const float *row = x + i * ihw + (long)iy * iw;
        vstore(xp + i * plane + ph * phase + (long)r * rw,
               vsel(mask, vshuffle2(vload(row), vload(row + VL), idx), pad));
      }
    }
}

/* Copies n <= 16 floats, or more, as whole vectors: up to 15 floats past n
   may be written too. */
INLINE void copy_run(float *dst, const float *src, int n) {
  if (n <= 4)
    memcpy(dst, src, 4 * sizeof(float));
  else if (n <= 8)
    memcpy(dst, src, 8 * sizeof(float));
  else
    for (int j = 0; j < n; j += 16)
      memcpy(dst + j, src + j, 16 * sizeof(float));
}

/* Unfolds the phases into col. When each tile of VL output positions reads
   a span of less than 2 VL floats of a phase (g->tperm), the tile is one
   permutation of two vector loads; else each output row is one contiguous
   run of ow values, copied in increasing order, since a copy that runs
   past a row only writes where a later row, the next tap, or the slack
   will be written. */
static void conv_im2col(const LuConvGeom *g, const float *xp, float *col) {
  int oh = g->oh, ow = g->ow, rw = g->rw, np = g->np, kk = g->kk;
  long plane = (long)g->stride * g->stride * g->rh * rw;
  if (g->tperm) {
    for (int t = 0; t < np; t += VL) {
      vi idx;
      memcpy(&idx, g->tidx + t, sizeof idx);
      const float *base = xp + g->tbase[t / VL];
      for (int i = 0; i < g->nin; i++)
        for (int k = 0; k < kk; k++) {
          const float *at = base + i * plane + g->tapoff[k];
          vstore(col + ((long)i * kk + k) * np + t,
                 vshuffle2(vload(at), vload(at + VL), idx));
        }
    }
    return;
  }
  for (int i = 0; i < g->nin; i++)
    for (int k = 0; k < kk; k++) {
      const float *src = xp + i * plane + g->tapoff[k];
      float *dst = col + ((long)i * kk + k) * np;
      for (int oy = 0; oy < oh; oy++)
        copy_run(dst + (long)oy * ow, src + (long)oy * rw, ow);
    }
}

/* Sums the rows r of output o's weights against G adjacent tiles of col,
   with S independent partial sums per tile (G * S == 4) so that the FMA
   latency is hidden whatever the number of tiles. */
INLINE void conv_tiles(int G, int S, const LuConvGeom *g, const float *w,
                       const float *col, int o, int t, vf acc[4]) {
  for (int i = 0; i < 4; i++)
    acc[i] = (vf){};
  long np = g->np, kk = g->kk;
  for (int c = g->obeg[o]; c < g->obeg[o + 1]; c++) {
    const float *wc = w + c * kk;
    const float *rows = col + g->cin[c] * kk * np + t;
    int k = 0;
    for (; k + S <= kk; k += S)
      for (int s = 0; s < S; s++)
        for (int j = 0; j < G; j++)
          acc[s * G + j] =
              vfma(vsplat(wc[k + s]), vload(rows + (k + s) * np + j * VL),
                   acc[s * G + j]);
    for (; k < kk; k++)
      for (int j = 0; j < G; j++)
        acc[j] = vfma(vsplat(wc[k]), vload(rows + k * np + j * VL), acc[j]);
  }
  for (int s = 1; s < S; s++)
    for (int j = 0; j < G; j++)
      acc[j] += acc[s * G + j];
}

/* s = acc + bias for tile t of output o, and y = f(s). */
INLINE void conv_out(const LuConvGeom *g, const float *b, int o, int t, vf acc,
                     float *s, LuSquash f, float *y, float *tmp) {
  int npos = g->npos, n = npos - t < VL ? npos - t : VL;
  vf bias;
  if (g->bias_unit) {
    memcpy(tmp, b + (long)o * npos + t, sizeof(float) * n);
    bias = vload(tmp);
  } else {
    bias = vsplat(b[o]);
  }
  vf v = acc + bias;
  vstore_n(s + (long)o * npos + t, v, n);
  if (f != LU_SQ_NONE)
    vstore_n(y + (long)o * npos + t, vsquash(f, v), n);
}

/* One tile of 4 output maps o.. that read the same planes: each row of col
   loaded once for the 4, two partial sums each (even and odd taps). */
INLINE void conv_tiles4(const LuConvGeom *g, const float *w, const float *col,
                        int o, int t, vf acc[4]) {
  vf a[2][4] = {{{0}}};
  long np = g->np, kk = g->kk;
  int nc = g->obeg[o + 1] - g->obeg[o];
  for (int m = 0; m < nc; m++) {
    const float *rows = col + g->cin[g->obeg[o] + m] * kk * np + t;
    const float *wc[4];
    for (int j = 0; j < 4; j++)
      wc[j] = w + (g->obeg[o + j] + m) * kk;
    int k = 0;
    for (; k + 2 <= kk; k += 2)
      for (int h = 0; h < 2; h++) {
        vf v = vload(rows + (k + h) * np);
        for (int j = 0; j < 4; j++)
          a[h][j] = vfma(vsplat(wc[j][k + h]), v, a[h][j]);
      }
    for (; k < kk; k++) {
      vf v = vload(rows + k * np);
      for (int j = 0; j < 4; j++)
        a[0][j] = vfma(vsplat(wc[j][k]), v, a[0][j]);
    }
  }
  for (int j = 0; j < 4; j++)
    acc[j] = a[0][j] + a[1][j];
}

void lu_nn_conv_unfold(const LuConvGeom *g, const float *x, float *scratch) {
  if (g->dense)
    return;
  if (g->direct) { /* its xp is at the start of its scratch too */
    lu_nn_conv_pad(g, x, scratch);
    return;
  }
  ConvScratch cs = conv_scratch(g, scratch);
  lu_nn_conv_pad(g, x, cs.xp);
  conv_im2col(g, cs.xp, cs.col);
}

void lu_nn_conv_fprop(const LuConvGeom *g, const float *w, const float *b,
                      const float *x, float *s, LuSquash f, float *y,
                      float *scratch) {
  if (g->dense) {
    lu_nn_linear_fprop(g->nin * g->kk, g->nout, w, b, x, s, f, y);
    return;
  }
  if (g->direct) {
    lu_nn_direct_fprop(g, w, b, x, s, f, y, scratch);
    return;
  }
  ConvScratch cs = conv_scratch(g, scratch);
  lu_nn_conv_pad(g, x, cs.xp);
  conv_im2col(g, cs.xp, cs.col);
  int np = g->np;
  for (int o = 0; o < g->nout;) {
    if (g->same[o] == 4) {
      for (int t = 0; t < np; t += VL) {
        vf acc[4];
        conv_tiles4(g, w, cs.col, o, t, acc);
        for (int j = 0; j < 4; j++)
          conv_out(g, b, o + j, t, acc[j], s, f, y, cs.tmp);
      }
      o += 4;
      continue;
    }
    for (int t = 0; t < np;) {
      vf acc[4];
      int G = np - t >= 4 * VL ? 4 : np - t >= 2 * VL ? 2 : 1;
      if (G == 4)
        conv_tiles(4, 1, g, w, cs.col, o, t, acc);
      else if (G == 2)
        conv_tiles(2, 2, g, w, cs.col, o, t, acc);
      else
        conv_tiles(1, 4, g, w, cs.col, o, t, acc);
      for (int j = 0; j < G; j++, t += VL)
        conv_out(g, b, o, t, acc[j], s, f, y, cs.tmp);
    }
    o++;
  }
}

/* KB taps from k0 by G tiles from t of plane i's input gradient: the sums
   over the connections c from plane i of w[c][k] ds[out c][t...], kept in
   registers, then added into the phases dph. With PERM the tiles are
   output positions (ds [nout][np]) and go to their places through the
   inverse of the unfolding permutation; else they are already laid out as
   the phases (ds [nout][nep], rows of rw) and go to dph[tapoff[k] + t]. */
INLINE void back_input_block(bool SQ, bool PERM, int G, int KB,
                             const LuConvGeom *g, const float *w,
                             const float *ds, int i, int k0, float *dph,
                             int t) {
  vf acc[4][4];
  for (int kb = 0; kb < KB; kb++)
    for (int j = 0; j < G; j++)
      acc[kb][j] = (vf){};
  for (int f = g->fan_beg[i]; f < g->fan_beg[i + 1]; f++) {
    const float *wr = w + g->fan_woff[f] + k0;
    const float *src = ds + g->fan_doff[f] + t;
    vf d[4];
    for (int j = 0; j < G; j++)
      d[j] = vload(src + j * VL);
    for (int kb = 0; kb < KB; kb++) {
      vf wv = vsplat(SQ ? wr[kb] * wr[kb] : wr[kb]);
      for (int j = 0; j < G; j++)
        acc[kb][j] = vfma(wv, d[j], acc[kb][j]);
    }
  }
  for (int kb = 0; kb < KB; kb++)
    for (int j = 0; j < G; j++) {
      float *dst = dph + g->tapoff[k0 + kb] + t + j * VL;
      if (!PERM) {
        vstore(dst, vload(dst) + acc[kb][j]);
        continue;
      }
      int tile = t / VL + j;
      vi lo, hi;
      memcpy(&lo, g->tinv + tile * 2 * VL, sizeof lo);
      memcpy(&hi, g->tinv + tile * 2 * VL + VL, sizeof hi);
      dst = dph + g->tapoff[k0 + kb] + g->tbase[tile];
      vstore(dst, vload(dst) + vshuffle2(acc[kb][j], (vf){}, lo));
      vstore(dst + VL, vload(dst + VL) + vshuffle2(acc[kb][j], (vf){}, hi));
    }
}

/* back_input_block over all taps, with the block sizes as constants. */
INLINE void back_input_tiles(bool SQ, bool PERM, int G, const LuConvGeom *g,
                             const float *w, const float *ds, int i, float *dph,
                             int t) {
  int k = 0;
  for (; k + 4 <= g->kk; k += 4)
    back_input_block(SQ, PERM, G, 4, g, w, ds, i, k, dph, t);
  for (; k < g->kk; k++)
    back_input_block(SQ, PERM, G, 1, g, w, ds, i, k, dph, t);
}

INLINE void back_input_plane(bool SQ, bool PERM, const LuConvGeom *g,
                             const float *w, const float *ds, int i, float *dph,
                             int n) {
  for (int t = 0; t < n;) {
    int G = n - t >= 4 * VL ? 4 : n - t >= 2 * VL ? 2 : 1;
    if (G == 4)
      back_input_tiles(SQ, PERM, 4, g, w, ds, i, dph, t);
    else if (G == 2)
      back_input_tiles(SQ, PERM, 2, g, w, ds, i, dph, t);
    else
      back_input_tiles(SQ, PERM, 1, g, w, ds, i, dph, t);
    t += G * VL;
  }
}

/* dx = sum over taps of w (or w^2) times ds, the input gradient. Each
   tap (ky, kx) of plane i adds sum_c w[c][k] ds[out c] to phase (ky %
   stride, kx % stride) of the padded gradient at offset (ky / stride, kx /
   stride): with output tiles permuted into place when the unfolding is by
   permutations (g->tperm), else with ds laid out with rows of rw so that
   each tap's block is contiguous. No scatter either way. */
INLINE void conv_back_input(bool SQ, const LuConvGeom *g, const float *w,
                            const float *ds, float *dx, ConvScratch cs) {
  int s = g->stride, oh = g->oh, ow = g->ow, rw = g->rw;
  long plane = (long)s * s * g->rh * rw, ihw = (long)g->ih * g->iw;
  int n = g->tperm ? g->np : g->nep;
  for (int o = 0; o < g->nout; o++) {
    if (g->tperm)
      memcpy(cs.dse + (long)o * n, ds + (long)o * g->npos,
             sizeof(float) * g->npos);
    else
      for (int oy = 0; oy < oh; oy++)
        memcpy(cs.dse + (long)o * n + (long)oy * rw,
               ds + ((long)o * oh + oy) * ow, sizeof(float) * ow);
  }
  memset(cs.dph, 0, sizeof(float) * (size_t)(g->nin * plane));
  for (int i = 0; i < g->nin; i++) {
    float *dph = cs.dph + i * plane;
    if (g->tperm)
      back_input_plane(SQ, true, g, w, cs.dse, i, dph, n);
    else
      back_input_plane(SQ, false, g, w, cs.dse, i, dph, n);
    for (long j = 0; j < ihw; j++)
      dx[i * ihw + j] = dph[g->pidx[j]];
  }
}

/* dw[r] += sum over p of ds[out of r][p] col[row of r][p] (or col^2), for
   the rows r = c kk + k, VL of them at a time; T tiles per row. */
INLINE void conv_back_weights(bool SQ, int T, const LuConvGeom *g,
                              ConvScratch cs, float *dw) {
  long nr = (long)g->nconn * g->kk;
  for (long r0 = 0; r0 < nr; r0 += VL) {
    vf a[VL];
#pragma GCC unroll 16
    for (int j = 0; j < VL; j++) {
      a[j] = (vf){};
      if (r0 + j >= nr)
        continue;
      const float *rows = cs.col + g->roff[r0 + j];
      const float *d = cs.dsp + g->doff[r0 + j];
      for (int t = 0; t < T * VL; t += VL) {
        vf v = vload(rows + t);
        a[j] = vfma(SQ ? v * v : v, vload(d + t), a[j]);
      }
    }
    vf sum = vsum_many(a);
    int n = nr - r0 < VL ? (int)(nr - r0) : VL;
    float tmp[VL];
    memcpy(tmp, dw + r0, sizeof(float) * n);
    vstore_n(dw + r0, vload(tmp) + sum, n);
  }
}

/* KB taps from k0 of plane i by the transposed output gradient dst
   [npos][VL]: R[kb][o] = sum_p col[i][k0 + kb][p] dst[p][o], vectors over
   the output maps with no horizontal sums; then each connection c from
   plane i adds its map's lane to dw[c][k]. */
INLINE void back_weights_t_block(bool SQ, int KB, const LuConvGeom *g,
                                 ConvScratch cs, int i, int k0, float *dw) {
  vf acc[8];
  for (int kb = 0; kb < KB; kb++)
    acc[kb] = (vf){};
  const float *rows = cs.col + ((long)i * g->kk + k0) * g->np;
  for (int p = 0; p < g->npos; p++) {
    vf d = vload(cs.dsp + (long)p * VL);
    for (int kb = 0; kb < KB; kb++) {
      float v = rows[(long)kb * g->np + p];
      acc[kb] = vfma(vsplat(SQ ? v * v : v), d, acc[kb]);
    }
  }
  for (int kb = 0; kb < KB; kb++)
    vstore(cs.tmp + kb * VL, acc[kb]);
  for (int f = g->fan_beg[i]; f < g->fan_beg[i + 1]; f++)
    for (int kb = 0; kb < KB; kb++)
      dw[g->fan_woff[f] + k0 + kb] += cs.tmp[kb * VL + g->fan_out[f]];
}

/* dw by back_weights_t_block, for nets of at most VL output maps: dsp
   holds the output gradient transposed, [npos][VL]. */
INLINE void conv_back_weights_t(bool SQ, const LuConvGeom *g, ConvScratch cs,
                                const float *ds, float *dw) {
  for (int o = 0; o < g->nout; o++)
    for (int p = 0; p < g->npos; p++)
      cs.dsp[(long)p * VL + o] = ds[(long)o * g->npos + p];
  for (int i = 0; i < g->nin; i++) {
    int k = 0;
    for (; k + 8 <= g->kk; k += 8)
      back_weights_t_block(SQ, 8, g, cs, i, k, dw);
    for (; k < g->kk; k++)
      back_weights_t_block(SQ, 1, g, cs, i, k, dw);
  }
}

/* The backward pass shared by bprop and bbprop: with SQ, weights and
   inputs enter squared (the Gauss-Newton diagonal). */
INLINE void conv_back(bool SQ, const LuConvGeom *g, const float *w,
                      const float *ds, float *dx, float *dw, float *db,
                      float *scratch) {
  ConvScratch cs = conv_scratch(g, scratch);
  int np = g->np, npos = g->npos;
  for (int o = 0; o < g->nout; o++) {
    if (!g->dwt)
      memcpy(cs.dsp + (long)o * np, ds + (long)o * npos, sizeof(float) * npos);
    if (g->bias_unit)
      for (int p = 0; p < npos; p++)
        db[(long)o * npos + p] += ds[(long)o * npos + p];
    else {
      float sum = 0;
      for (int p = 0; p < npos; p++)
        sum += ds[(long)o * npos + p];
      db[o] += sum;
    }
  }
  if (g->dwt)
    conv_back_weights_t(SQ, g, cs, ds, dw);
  else if (np == VL)
    conv_back_weights(SQ, 1, g, cs, dw);
  else if (np == 2 * VL)
    conv_back_weights(SQ, 2, g, cs, dw);
  else if (np == 4 * VL)
    conv_back_weights(SQ, 4, g, cs, dw);
  else
    conv_back_weights(SQ, np / VL, g, cs, dw);
  if (dx)
    conv_back_input(SQ, g, w, ds, dx, cs);
}

void lu_nn_conv_bprop(const LuConvGeom *g, const float *w, const float *x,
                      const float *ds, float *dx, float *dw, float *db,
                      float *scratch) {
  if (g->dense)
    lu_nn_linear_bprop(g->nin * g->kk, g->nout, w, x, ds, dx, dw, db);
  else if (g->direct)
    lu_nn_direct_back(false, g, w, ds, dx, dw, db, scratch);
  else
    conv_back(false, g, w, ds, dx, dw, db, scratch);
}

void lu_nn_conv_bbprop(const LuConvGeom *g, const float *w, const float *x,
                       const float *dds, float *ddx, float *ddw, float *ddb,
                       float *scratch) {
  if (g->dense)
    lu_nn_linear_bbprop(g->nin * g->kk, g->nout, w, x, dds, ddx, ddw, ddb);
  else if (g->direct)
    lu_nn_direct_back(true, g, w, dds, ddx, ddw, ddb, scratch);
  else
    conv_back(true, g, w, dds, ddx, ddw, ddb, scratch);
}

/* ---- Reference convolution: the definition, loop by loop ------------- */

/* The input value under tap (ky, kx) of output (oy, ox), or padval. */
static float ref_conv_in(const LuConvGeom *g, const float *x, int plane, int oy,
                         int ox, int ky, int kx, long *at) {
  int iy = oy * g->stride + ky - g->pad, ix = ox * g->stride + kx - g->pad;
  if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) {
    *at = -1;
    return g->padval;
  }
  *at = ((long)plane * g->ih + iy) * g->iw + ix;
  return x[*at];
}

void lu_nn_ref_conv_fprop(const LuConvGeom *g, const float *w, const float *b,
                          const float *x, float *s) {
  for (int o = 0; o < g->nout; o++)
    for (int oy = 0; oy < g->oh; oy++)
      for (int ox = 0; ox < g->ow; ox++) {
        long p = (long)oy * g->ow + ox;
        float sum = g->bias_unit ? b[(long)o * g->npos + p] : b[o];
        for (int c = 0; c < g->nconn; c++) {
          if (g->cout[c] != o)
            continue;
          for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
              long at;
              float v = ref_conv_in(g, x, g->cin[c], oy, ox, ky, kx, &at);
              sum += w[((long)c * g->kh + ky) * g->kw + kx] * v;
            }
        }
        s[(long)o * g->npos + p] = sum;
      }
}

static void ref_conv_back(bool sq, const LuConvGeom *g, const float *w,
                          const float *x, const float *ds, float *dx, float *dw,
                          float *db) {
  if (dx)
    memset(dx, 0, sizeof(float) * (size_t)g->nin * g->ih * g->iw);
  for (int c = 0; c < g->nconn; c++) {
    int o = g->cout[c];
    for (int oy = 0; oy < g->oh; oy++)
      for (int ox = 0; ox < g->ow; ox++) {
        long p = (long)oy * g->ow + ox;
        float d = ds[(long)o * g->npos + p];
        for (int ky = 0; ky < g->kh; ky++)
          for (int kx = 0; kx < g->kw; kx++) {
            long at, wi = ((long)c * g->kh + ky) * g->kw + kx;
            float v = ref_conv_in(g, x, g->cin[c], oy, ox, ky, kx, &at);
            dw[wi] += (sq ? v * v : v) * d;
            if (dx && at >= 0)
              dx[at] += (sq ? w[wi] * w[wi] : w[wi]) * d;
          }
      }
  }
  for (int o = 0; o < g->nout; o++)
    for (int p = 0; p < g->npos; p++)
      db[g->bias_unit ? (long)o * g->npos + p : o] += ds[(long)o * g->npos + p];
}

void lu_nn_ref_conv_bprop(const LuConvGeom *g, const float *w, const float *x,
                          const float *ds, float *dx, float *dw, float *db) {
  ref_conv_back(false, g, w, x, ds, dx, dw, db);
}

void lu_nn_ref_conv_bbprop(const LuConvGeom *g, const float *w, const float *x,
                           const float *dds, float *ddx, float *ddw,
                           float *ddb) {
  ref_conv_back(true, g, w, x, dds, ddx, ddw, ddb);
}
