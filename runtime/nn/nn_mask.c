/* nn_mask.c: parameter masks. A net may hold a 0/1 mask over its flat
   parameter vector (nn-mask); a masked parameter is deleted: it is set to
   zero when the mask is set, after every optimizer step and by nn-init, so
   that it stays exactly zero whatever the optimizer (its gradient and the
   optimizer's state for it are computed but never reach it). nn-summary
   counts the live parameters. Pruning (Optimal Brain Damage, deletion by
   magnitude) is built on it in Lisp. */
#include "nn_impl.h"

#include <stdio.h>
#include <string.h>

/* Zeroes n's masked parameters, then those of the nets inside its
   containers (their flat vectors are ranges of n's, but each holds its own
   mask). */
void lu_nn_mask_apply(LuNet *n) {
  if (n->mask) {
    float *restrict w = n->pw;
    const float *restrict mask = n->mask;
    for (long i = 0; i < n->nparams; i++)
      w[i] = mask[i] != 0 ? w[i] : 0.0f;
  }
  for (int i = 0; i < n->nmod; i++) {
    NnModule *m = n->mod[i];
    LuNet **inner;
    int k = lu_nn_inner(m, &inner);
    for (int b = 0; b < k; b++)
      lu_nn_mask_apply(inner[b]);
  }
}

/* The number of parameters of n its mask leaves live (all without one). */
static long mask_live(const LuNet *n) {
  if (!n->mask)
    return n->nparams;
  long live = 0;
  for (long i = 0; i < n->nparams; i++)
    live += n->mask[i] != 0;
  return live;
}

void lu_nn_mask_summary(const LuNet *n) {
  if (!n->mask)
    return;
  long live = mask_live(n);
  printf("%-5s %-42s %-12s %8ld of %ld (%.2f%%)\n", "", "live (nn-mask)", "",
         live, n->nparams,
         n->nparams ? 100.0 * (double)live / (double)n->nparams : 100.0);
}

/* A new float vector holding n's mask. */
static LuValue *mask_copy(const LuNet *n) {
  LuTensor *t = lu_tensor_make(LU_FLOAT, 1, &n->nparams, NULL, NULL, 0);
  memcpy(lu_tensor_data(t), n->mask, sizeof(float) * (size_t)n->nparams);
  return lu_tensor_value(t);
}

LU_DEFUN(nn_mask, "(nn-mask NET [MASK])",
         "NET's parameter mask: a new float vector of (nn-nparams NET) 0s "
         "and 1s, or () when NET has none. With MASK (such a vector), sets "
         "it first: the parameters where MASK is 0 are set to 0 now and stay "
         "exactly 0 through every optimizer step (nn-update, nn-train-pass, "
         "Lisp optimizers) and nn-init; nn-summary counts the live ones. "
         "(nn-mask NET ()) removes the mask, leaving the parameters as they "
         "are.") {
  LuNet *n = lu_nn_arg_net(argv, 0);
  if (argc > 1 && LU_ISNIL(argv[1])) {
    n->mask = NULL;
  } else if (argc > 1) {
    LuTensor *t = lu_arg_tensor(argv, 1);
    NnShape s = lu_nn_shape_make(1, &n->nparams);
    float *mask =
        lu_alloc_atomic(sizeof(float) * (size_t)(n->nparams + 1), "nn-mask");
    lu_nn_read_checked("nn-mask", t, &s, mask);
    for (long i = 0; i < n->nparams; i++)
      if (mask[i] != 0 && mask[i] != 1)
        lu_error("nn-mask: element %ld of the mask is %g, not 0 or 1", i,
                 (double)mask[i]);
    n->mask = mask;
    lu_nn_mask_apply(n);
  }
  return n->mask ? mask_copy(n) : lu_nil;
}

static LuBuiltin *const mask_builtins[] = {&nn_mask_builtin, NULL};

void lu_nn_mask_open(void) {
  lu_register(mask_builtins);
}
