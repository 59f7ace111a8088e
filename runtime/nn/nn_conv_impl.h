/* nn_conv_impl.h: what the two files of convolution kernels share:
   nn_conv_kernels.c (the geometry's tables, the kernels over an unfolded
   input, the reference kernels) and nn_conv_direct.c (the stride-1
   kernels that read the padded input in place). */
#ifndef LU_NN_CONV_IMPL_H
#define LU_NN_CONV_IMPL_H

#include "nn_simd.h"

enum { SLACK = 32 }; /* >= 2 VL: the tile permutations read that far */

/* Copies x, padded, into its phases xp (for stride 1: the padded planes,
   [nin][ph][pw]). xp must be followed by SLACK floats of the scratch. */
void lu_nn_conv_pad(const LuConvGeom *g, const float *x, float *xp);

/* The stride-1 kernels (g->direct), with the contracts of
   lu_nn_conv_fprop and conv_back; their own scratch layout. */
long lu_nn_direct_scratch(const LuConvGeom *g);
void lu_nn_direct_fprop(const LuConvGeom *g, const float *w, const float *b,
                        const float *x, float *s, LuSquash f, float *y,
                        float *scratch);
void lu_nn_direct_back(bool sq, const LuConvGeom *g, const float *w,
                       const float *ds, float *dx, float *dw, float *db,
                       float *scratch);

#endif
