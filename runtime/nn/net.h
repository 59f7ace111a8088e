/* net.h: the public side of the native backprop simulator: its numeric
   kernels and its opener. Modules, nets, costs, optimizers and passes are
   described in nn_impl.h (for the files of runtime/nn/).

   The kernels below take plain pointers and sizes, never raise, never
   allocate and read no global switch, so tests call them directly. Each
   optimised kernel has a reference twin (lu_nn_ref_*) written as the plain
   loops of the definition; tests check that they agree, and the modules
   choose between them (nn-reference). */
#ifndef LU_NET_H
#define LU_NET_H

#include "tensor.h"

/* ---- Squashing functions ------------------------------------------- */

typedef enum {
  LU_SQ_NONE,  /* identity */
  LU_SQ_TANH,  /* tanh(x) */
  LU_SQ_STANH, /* Lush's 1.7159 tanh(2/3 x) */
  LU_SQ_RELU,  /* max(0, x) */
} LuSquash;

/* y = f(s) over n elements (s and y may be the same array). The optimised
   tanh is within 1e-6 of libm's over all floats. */
void lu_nn_squash(LuSquash f, const float *s, float *y, long n);
void lu_nn_ref_squash(LuSquash f, const float *s, float *y, long n);
/* dx = f'(s) dy, computed from y = f(s) (dy and dx may alias). */
void lu_nn_squash_bprop(LuSquash f, const float *y, const float *dy, float *dx,
                        long n);
/* ddx = f'(s)^2 ddy, from y (Gauss-Newton: the f'' term is dropped). */
void lu_nn_squash_bbprop(LuSquash f, const float *y, const float *ddy,
                         float *ddx, long n);

/* ---- Convolution with a connection table ---------------------------- */

/* The geometry of a convolution, fixed when a net is built. Input
   [nin][ih][iw] padded by pad on every side with padval; kernels kh x kw,
   stride; output [nout][oh][ow]. Connection c joins input plane cin[c] to
   output plane cout[c]; connections are sorted by (cout, cin) and
   connection c's kernel is w[c][kh][kw]. Biases: [nout] (per map) or
   [nout][oh][ow] (per unit). */
typedef struct {
  int nin, ih, iw, nout, oh, ow, kh, kw, stride, pad;
  float padval;
  bool bias_unit;
  int nconn;
  const int *cin, *cout;
  /* derived by lu_nn_conv_prepare */
  int ph, pw;   /* padded input plane */
  int npos, np; /* output positions, and npos rounded up to the vector */
  int kk;       /* kh * kw */
  int rh, rw;   /* a phase of the padded input: every stride-th row, col */
  int nep;      /* oh * rw rounded up to the vector */
  int *pidx;    /* [ih * iw]: where an input pixel is in its phases */
  int *tapoff;  /* [kk]: where tap k's block starts in the phases */
  int *tbase;   /* [np / vector]: where a tile of output positions starts
                   in a tap's block ... */
  int *tidx;    /* [np]: ... and where each of its positions is from there */
  bool tperm;   /* every tile spans less than 2 vectors of its block */
  int *tinv;    /* [np / vector][2 vectors]: the inverse permutations */
  int *pcidx;   /* [stride][vector]: the input column of each column of a
                   phase row, by column phase ... */
  int *pcmask;  /* ... and whether it is one (else padding) */
  bool ppad;    /* every phase row is a permutation of 2 vectors */
  int *psrc;    /* [stride^2 rh rw]: the input pixel of each place of the
                   phases, or -1 for padding */
  int *runs;    /* [nrun][3]: (place, pixel, length) of the runs of pixels
                   along the rows of the phases (pixels stride apart) */
  int nrun;
  int *obeg;           /* [nout + 1]: connections of output o are obeg[o].. */
  int *fan_beg;        /* [nin + 1]: connections sorted by input plane ... */
  int *fan_woff;       /* [nconn]: ... as the offsets of their weights ... */
  int *fan_doff;       /* ... and of their output's row in the gradient ... */
  int *fan_out;        /* ... and their output map */
  bool dwt;            /* weight gradients by the transposed output gradient */
  unsigned char *same; /* [nout]: how many outputs from o (up to 4) read
                          the same planes in one order */
  bool direct; /* stride 1: the kernels read the padded input in place */
  bool dense;  /* one kernel-sized unpadded input and every plane to every
                  map: a fully connected layer of nin kk inputs, whose
                  weights are the linear kernels' [nout][nin kk] */
  int *roff;   /* [nconn * kk]: row c kk + k of the unfolded input ... */
  int *doff;   /* ... and of the output gradient it meets */
} LuConvGeom;

/* Fills the derived fields of g, allocating its index arrays with
   lu_alloc_atomic. The caller has checked that the sizes make sense. */
void lu_nn_conv_prepare(LuConvGeom *g);
/* Floats of scratch the optimised conv kernels need. The scratch must be
   zero-filled before its first use and then kept for this geometry only:
   the kernels leave the padding in it once and for all. */
long lu_nn_conv_scratch(const LuConvGeom *g);

/* Copies x, padded and unfolded, into the scratch: the first step of
   lu_nn_conv_fprop, and what the backward kernels read. */
void lu_nn_conv_unfold(const LuConvGeom *g, const float *x, float *scratch);
/* s = conv(x) + b; when f != LU_SQ_NONE also y = f(s) (bias and squash
   fused into the kernel). x may be read up to 32 floats past its end (the
   net's states have that slack). */
void lu_nn_conv_fprop(const LuConvGeom *g, const float *w, const float *b,
                      const float *x, float *s, LuSquash f, float *y,
                      float *scratch);
/* Accumulates dw, db from ds; when dx != NULL overwrites dx. Needs the
   scratch as left by lu_nn_conv_fprop on the same x. */
void lu_nn_conv_bprop(const LuConvGeom *g, const float *w, const float *x,
                      const float *ds, float *dx, float *dw, float *db,
                      float *scratch);
/* The Gauss-Newton diagonal: ddw += x^2 ddy, ddb += ddy,
   ddx = sum w^2 ddy (ddx may be NULL). */
void lu_nn_conv_bbprop(const LuConvGeom *g, const float *w, const float *x,
                       const float *dds, float *ddx, float *ddw, float *ddb,
                       float *scratch);
void lu_nn_ref_conv_fprop(const LuConvGeom *g, const float *w, const float *b,
                          const float *x, float *s);
void lu_nn_ref_conv_bprop(const LuConvGeom *g, const float *w, const float *x,
                          const float *ds, float *dx, float *dw, float *db);
void lu_nn_ref_conv_bbprop(const LuConvGeom *g, const float *w, const float *x,
                           const float *dds, float *ddx, float *ddw,
                           float *ddb);

/* ---- Fully connected: y[nout] = w[nout][nin] x[nin] + b[nout] ------- */

void lu_nn_linear_fprop(int nin, int nout, const float *w, const float *b,
                        const float *x, float *s, LuSquash f, float *y);
void lu_nn_linear_bprop(int nin, int nout, const float *w, const float *x,
                        const float *ds, float *dx, float *dw, float *db);
void lu_nn_linear_bbprop(int nin, int nout, const float *w, const float *x,
                         const float *dds, float *ddx, float *ddw, float *ddb);
/* A plain SGD step that a backward kernel applies to its parameters as
   it computes their gradients g, instead of adding g into dw: w -= lr
   rate (g + decay w), rate each parameter's factor (rate[i] for the
   kernel's parameter i; NULL: all 1). */
typedef struct {
  float lr, decay;
  const float *rate;
} LuSgdStep;
/* lu_nn_linear_bprop, but w (nout nin weights, then nout biases) takes
   st's step on its gradients. */
void lu_nn_linear_bprop_step(int nin, int nout, float *w, const float *x,
                             const float *ds, float *dx, const LuSgdStep *st);
void lu_nn_ref_linear_fprop(int nin, int nout, const float *w, const float *b,
                            const float *x, float *s);
void lu_nn_ref_linear_bprop(int nin, int nout, const float *w, const float *x,
                            const float *ds, float *dx, float *dw, float *db);

/* ---- Costs: return the loss, fill dy and ddy when not NULL ----------- */

/* Mean over the n outputs of (y - t)^2. */
double lu_nn_mse(const float *y, const float *t, long n, float *dy, float *ddy);
/* -log softmax(y)[cls]; ddy is the Gauss-Newton diagonal p(1 - p). */
double lu_nn_cross_entropy(const float *y, long n, long cls, float *dy,
                           float *ddy);
/* log(sum exp(x[i])) over n >= 1 elements, computed from the largest
   x so that no exp overflows; the normaliser of softmax. */
double lu_nn_logsumexp(const float *x, long n);

/* ---- Optimised vector helpers shared by the net code ---------------- */

float lu_nn_dot(const float *a, const float *b, long n);

void lu_net_open(void);

#endif
