/* image.c: the builtins on the last two dimensions of a tensor seen as
   images: idx-resize (bilinear, PyTorch's numbers, over the kernels
   lu_tensor_klerp and kresize), idx-pad, idx-scale-pad (images to a net's
   float inputs in one pass, over lu_tensor_kscale_pad) and idx-shift. */
#include <string.h>

#include "idx_impl.h"

static void check_image(const LuTensor *t) {
  if (t->ndim < 2)
    lu_error("%s: expected a tensor of 2 or more dimensions, got %s",
             lu_caller(), lu_tensor_shape_string(t));
}

/* t's leading dimensions (all but the last two) as a view, to walk over
   the planes. */
static LuTensor *planes(const LuTensor *t) {
  return idx_view(t, t->ndim - 2, t->dim, t->mod, t->offset);
}

typedef struct {
  LuElem e;
  const LuTensor *in, *out;
  const LuLerp *ty, *tx;
} ResizeCtx;

static void run_resize(void *c, long n, char *const *p, const long *s) {
  ResizeCtx *x = c;
  const LuTensor *in = x->in, *out = x->out;
  int h = in->ndim - 2, w = h + 1;
  long size = idx_size(x->e);
  for (long i = 0; i < n; i++) {
    lu_tensor_kresize(x->e, p[1] + i * s[1] * size, in->mod[h], in->mod[w],
                      out->dim[h], out->dim[w], p[0] + i * s[0] * size,
                      out->mod[h], out->mod[w], x->ty, x->tx);
    lu_poll();
  }
}

LU_DEFUN(idx_resize, "(idx-resize M H W [OUT])",
         "M's last two dimensions resampled to H x W, bilinearly: the same "
         "numbers as PyTorch's F.interpolate(mode=\"bilinear\", "
         "align_corners=False) (within float rounding), for 2-D images or "
         "any number of leading dimensions.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  check_image(t);
  long dim[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  int h = t->ndim - 2, w = h + 1;
  dim[h] = lu_arg_int(argv, 1);
  dim[w] = lu_arg_int(argv, 2);
  if (dim[h] < 1 || dim[w] < 1)
    lu_error("%s: size %ldx%ld is not positive", lu_caller(), dim[h], dim[w]);
  if (lu_tensor_nelem(t) == 0)
    lu_error("%s: empty image %s", lu_caller(), lu_tensor_shape_string(t));
  LuElem e = idx_elem(t);
  LuTensor *out = idx_out_arg(argv, argc, 3, e, t->ndim, dim);
  LuTensor *dst = idx_dst_for(out, e);
  t = idx_input(t, e, dst);
  LuLerp *ty =
      lu_alloc_atomic(sizeof(LuLerp) * (size_t)(dim[h] + dim[w]), lu_caller());
  lu_tensor_klerp(e, t->dim[h], dim[h], ty);
  lu_tensor_klerp(e, t->dim[w], dim[w], ty + dim[h]);
  ResizeCtx c = {e, t, dst, ty, ty + dim[h]};
  lu_tensor_walk(2, (LuTensor *[]){planes(dst), planes(t)}, run_resize, &c);
  idx_dst_done(out, dst);
  return idx_out_value(argv, argc, 3, out);
}

/* The view of t's last two dimensions from (y, x), of size h x w (at t's
   own offset when t is empty: the view is empty too). */
static LuTensor *window(const LuTensor *t, long y, long x, long h, long w) {
  long dim[LU_MAXDIM];
  memcpy(dim, t->dim, sizeof dim);
  int d = t->ndim - 2;
  dim[d] = h;
  dim[d + 1] = w;
  long at = lu_tensor_nelem(t) ? y * t->mod[d] + x * t->mod[d + 1] : 0;
  return idx_view(t, t->ndim, dim, t->mod, t->offset + at);
}

/* Argument i, P of idx-pad and idx-scale-pad: a number (every side) or a
   list (top bottom left right), into pad; dim gets t's dimensions with
   the last two padded. */
static void pad_arg(LuValue **argv, int i, const LuTensor *t, long *pad,
                    long *dim) {
  if (LU_IS(argv[i], LU_NUMBER))
    pad[0] = pad[1] = pad[2] = pad[3] = lu_arg_int(argv, i);
  else {
    LuValue *l = lu_arg_list(argv, i);
    if (lu_length(l) != 4)
      lu_arg_error(i, "a number or a list (top bottom left right)", argv[i]);
    for (int k = 0; k < 4; k++, l = LU_CDR(l)) {
      LuValue *x = LU_CAR(l);
      pad[k] = lu_arg_int(&x, 0);
    }
  }
  int d = t->ndim - 2;
  memcpy(dim, t->dim, sizeof(long) * LU_MAXDIM);
  for (int k = 0; k < 4; k++)
    if (pad[k] < 0 ||
        __builtin_add_overflow(dim[d + k / 2], pad[k], &dim[d + k / 2]))
      lu_error("%s: bad padding %ld", lu_caller(), pad[k]);
}

LU_DEFUN(idx_pad, "(idx-pad M P [V] [OUT])",
         "M with its last two dimensions padded with the value V (default "
         "0): by P on every side, or by '(TOP BOTTOM LEFT RIGHT).") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  check_image(t);
  long pad[4], dim[LU_MAXDIM];
  pad_arg(argv, 1, t, pad, dim);
  double v = lu_arg_given(argv, argc, 2) ? idx_arg_scalar(argv, 2) : 0;
  LuTensor *out = idx_out_arg(argv, argc, 3, idx_elem(t), t->ndim, dim);
  t = idx_input(t, idx_elem(t), out);
  idx_fill_all(out, v);
  int d = t->ndim - 2;
  lu_tensor_copy(window(out, pad[0], pad[2], t->dim[d], t->dim[d + 1]), t);
  return idx_out_value(argv, argc, 3, out);
}

typedef struct {
  const LuTensor *in, *out;
  const long *pad;
  float mul, add, v;
} ScaleCtx;

static void run_scale(void *c, long n, char *const *p, const long *s) {
  ScaleCtx *x = c;
  const LuTensor *in = x->in, *out = x->out;
  int h = in->ndim - 2, w = h + 1;
  LuElem e = idx_elem(in);
  for (long i = 0; i < n; i++)
    lu_tensor_kscale_pad(e, in->dim[h], in->dim[w],
                         p[1] + i * s[1] * idx_size(e), in->mod[h], in->mod[w],
                         (float *)p[0] + i * s[0], out->mod[h], out->mod[w],
                         x->pad, x->mul, x->add, x->v);
}

LU_DEFUN(idx_scale_pad, "(idx-scale-pad M MUL ADD P [V] [OUT])",
         "M as floats times MUL plus ADD, padded as idx-pad pads (P, and V "
         "default 0): images of any type to a net's inputs in one pass. The "
         "numbers are those of idx-copy into a float tensor, then idx-dotm0 "
         "MUL and idx-addm0 ADD (float arithmetic, each step rounded).") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  check_image(t);
  float mul = (float)idx_arg_scalar(argv, 1);
  float add = (float)idx_arg_scalar(argv, 2);
  long pad[4], dim[LU_MAXDIM];
  pad_arg(argv, 3, t, pad, dim);
  float v = lu_arg_given(argv, argc, 4) ? (float)idx_arg_scalar(argv, 4) : 0;
  LuTensor *out = idx_out_arg(argv, argc, 5, LU_FLOAT, t->ndim, dim);
  LuTensor *dst = idx_dst_for(out, LU_FLOAT);
  t = idx_input(t, idx_elem(t), dst);
  ScaleCtx c = {t, dst, pad, mul, add, v};
  if (lu_tensor_nelem(t)) /* else planes(t) is no view: all is padding */
    lu_tensor_walk(2, (LuTensor *[]){planes(dst), planes(t)}, run_scale, &c);
  else
    idx_fill_all(dst, v);
  idx_dst_done(out, dst);
  return idx_out_value(argv, argc, 5, out);
}

/* ((x mod n) + n) mod n, in [0, n). */
static long wrap(long x, long n) {
  long r = x % n;
  return r < 0 ? r + n : r;
}

LU_DEFUN(idx_shift, "(idx-shift M DY DX [OUT])",
         "M's last two dimensions rolled by DY rows and DX columns, as "
         "torch.roll: element (y x) of the result is element ((y - DY) mod "
         "h, (x - DX) mod w) of M.") {
  LuTensor *t = lu_arg_tensor(argv, 0);
  check_image(t);
  int d = t->ndim - 2;
  long h = t->dim[d], w = t->dim[d + 1];
  LuTensor *out = idx_out_arg(argv, argc, 3, idx_elem(t), t->ndim, t->dim);
  if (h == 0 || w == 0)
    return idx_out_value(argv, argc, 3, out);
  long dy = wrap(lu_arg_int(argv, 1), h), dx = wrap(lu_arg_int(argv, 2), w);
  t = idx_input(t, idx_elem(t), out);
  /* four blocks: source rows [0, h - dy) go to [dy, h), the rest to the
     top; the same for columns */
  for (int by = 0; by < 2; by++)
    for (int bx = 0; bx < 2; bx++) {
      long sy = by ? h - dy : 0, ny = by ? dy : h - dy;
      long sx = bx ? w - dx : 0, nx = bx ? dx : w - dx;
      if (ny && nx)
        lu_tensor_copy(window(out, by ? 0 : dy, bx ? 0 : dx, ny, nx),
                       window(t, sy, sx, ny, nx));
    }
  return idx_out_value(argv, argc, 3, out);
}

LuBuiltin *const idx_image_builtins[] = {&idx_resize_builtin, &idx_pad_builtin,
                                         &idx_scale_pad_builtin,
                                         &idx_shift_builtin, NULL};
