/* nn_batch.h: the fully connected kernels over several examples at once,
   which linear modules and convolutions that cover their whole input run
   for the examples of a group (see NnPass), and the tests check against
   the one-example kernels of net.h. */
#ifndef LU_NN_BATCH_H
#define LU_NN_BATCH_H

#include "net.h"

/* lu_nn_linear_fprop for ne examples: example e's x, s and y at + e ws.
   Each w block is read once for all of them; the results are those of
   lu_nn_linear_fprop on each example, to the bit. */
void lu_nn_linear_fprop_batch(int nin, int nout, const float *w, const float *b,
                              int ne, const float *x, long ws, float *s,
                              LuSquash f, float *y);
/* lu_nn_linear_bprop for ne examples in order (x, ds and dx of example e
   at + e ws; dx NULL when not wanted): dw and db are added into example
   after example, dx overwritten; the same to the bit as ne calls of
   lu_nn_linear_bprop, with w and dw streamed once per 4 examples. */
void lu_nn_linear_bprop_batch(int nin, int nout, const float *w, int ne,
                              const float *x, const float *ds, float *dx,
                              long ws, float *dw, float *db);

#endif
