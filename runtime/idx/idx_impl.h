/* idx_impl.h: what the files of the tensor room share beyond tensor.h:
   element type promotion, the tensor helpers the builtins are written
   with, and each file's registration. Not part of the public API: see
   tensor.h. */
#ifndef LU_IDX_IMPL_H
#define LU_IDX_IMPL_H

#include "tensor.h"

static inline bool idx_integral(LuElem e) {
  return e == LU_INT || e == LU_UBYTE;
}

/* The type both a and b convert to without loss, as far as one exists:
   ubyte < int < float < double (int with float gives float, as in
   PyTorch). */
static inline LuElem idx_promote(LuElem a, LuElem b) {
  static const int rank[] = {2, 3, 1, 0};
  return rank[a] >= rank[b] ? a : b;
}

#endif
