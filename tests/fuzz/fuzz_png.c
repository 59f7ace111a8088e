/* fuzz_png.c: libFuzzer on the picture writers' inputs: save-png,
   save-png-grid and idx-show given tensors of any type, shape (0 to 4 dims
   of 0 to 40), layout (a transposed view) and values (NaN and infinities
   included), with or without a range. An input's bytes are read as: type,
   ndim, dims, flags, the range (two doubles) when flags say so, the grid's
   columns, then the values' bytes, repeated to fill the tensor. A PNG that
   save-png writes must read back with libpng at the tensor's size. */
#include "io_fuzz.h"

#include <png.h>
#include <stdint.h>

/* Largest tensor tried, in elements: bigger ones only slow the search. */
#define MAX_ELEMS 20000

typedef struct {
  const uint8_t *p;
  size_t n;
} Input;

/* The next k bytes of in (zeros past its end) into out. */
static void take(Input *in, void *out, size_t k) {
  size_t m = in->n < k ? in->n : k;
  memcpy(out, in->p, m);
  memset((char *)out + m, 0, k - m);
  in->p += m;
  in->n -= m;
}

static uint8_t byte(Input *in) {
  uint8_t b;
  take(in, &b, 1);
  return b;
}

typedef struct {
  LuTensor *t;
  const double *range;
  long cols;
  bool list; /* the grid gets a list of two images, not the tensor */
} Job;

static void png(void *ud) {
  Job *j = ud;
  lu_picture_save_png(j->t, fz_path("x.png"), j->range);
}

static void grid(void *ud) {
  Job *j = ud;
  LuValue *image = lu_tensor_value(j->t);
  LuValue *argv[5] = {j->list ? lu_list(2, image, image) : image,
                      lu_cstring(fz_path("g.png")), lu_number((double)j->cols),
                      j->range ? lu_number(j->range[0]) : lu_nil,
                      j->range ? lu_number(j->range[1]) : lu_nil};
  lu_apply(lu_global("save-png-grid"), j->range ? 5 : 3, argv);
}

static void show(void *ud) {
  Job *j = ud;
  LuValue *argv[3] = {lu_tensor_value(j->t),
                      j->range ? lu_number(j->range[0]) : lu_nil,
                      j->range ? lu_number(j->range[1]) : lu_nil};
  lu_apply(lu_global("idx-show"), j->range ? 3 : 1, argv);
}

/* Checks that path is a PNG of h x w pixels. */
static void check_png(const char *path, long h, long w) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  fz_check(png_image_begin_read_from_file(&im, path));
  fz_check(im.height == (png_uint_32)h && im.width == (png_uint_32)w);
  png_image_free(&im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in = {data, size};
  LuElem e = (LuElem)(byte(&in) % 4);
  int ndim = byte(&in) % 5;
  long dim[4], n = 1;
  for (int i = 0; i < ndim; i++) {
    dim[i] = byte(&in) % 41;
    n *= dim[i];
  }
  if (n > MAX_ELEMS)
    return 0;
  uint8_t flags = byte(&in);
  double range[2];
  if (flags & 1)
    take(&in, range, sizeof range);
  Job j = {lu_tensor_make(e, ndim, dim, NULL, NULL, 0),
           flags & 1 ? range : NULL, (int8_t)byte(&in), flags & 8};
  unsigned char *p = lu_tensor_data(j.t);
  size_t bytes = (size_t)n * lu_elem_size(e);
  for (size_t i = 0; i < bytes; i++)
    p[i] = in.n ? in.p[i % in.n] : 0;
  if ((flags & 2) && ndim >= 2) { /* the transposed view of the last two */
    long tdim[4], tmod[4];
    memcpy(tdim, j.t->dim, sizeof tdim);
    memcpy(tmod, j.t->mod, sizeof tmod);
    tdim[ndim - 2] = j.t->dim[ndim - 1];
    tdim[ndim - 1] = j.t->dim[ndim - 2];
    tmod[ndim - 2] = j.t->mod[ndim - 1];
    tmod[ndim - 1] = j.t->mod[ndim - 2];
    j.t = lu_tensor_make(e, ndim, tdim, j.t, tmod, 0);
  }
  if (fz_call(png, &j)) {
    fz_check(ndim == 1 || ndim == 2);
    check_png(fz_path("x.png"), ndim == 1 ? 1 : j.t->dim[0],
              j.t->dim[ndim - 1]);
  }
  if (flags & 4)
    fz_call(grid, &j);
  if (flags & 16)
    fz_call(show, &j);
  return 0;
}
