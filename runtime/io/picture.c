/* picture.c: pictures. Owns PNG output through libpng (save-png), grids of
   pictures in one PNG (save-png-grid) and pictures drawn in the terminal
   with shade blocks (idx-show); all scale values from a range to gray. */
#include "io.h"

#include <math.h>
#include <png.h>
#include <string.h>

/* libpng's default limit on each side, also applied before allocating. */
#define PNG_MAX_SIDE 1000000L

/* ---- Images: ranges, shades, PNG -------------------------------------- */

/* A 2-D view for drawing: h rows of w elements, strides in elements. */
typedef struct {
  LuElem elem;
  const unsigned char *base;
  long h, w, hmod, wmod;
} Image;

/* A 1-D tensor is one row; a 2-D tensor is itself. Raises otherwise. */
static Image image_of(const char *who, const LuTensor *t) {
  Image im = {t->st->elem, lu_tensor_data(t), 1, 0, 0, 0};
  if (t->ndim == 1) {
    im.w = t->dim[0];
    im.wmod = t->mod[0];
  } else if (t->ndim == 2) {
    im.h = t->dim[0];
    im.w = t->dim[1];
    im.hmod = t->mod[0];
    im.wmod = t->mod[1];
  } else {
    lu_error("%s: expected a 1-D or 2-D tensor, got %s %s", who,
             lu_elem_name(t->st->elem), lu_io_dims_text(t->ndim, t->dim));
  }
  return im;
}

/* Row i of im as doubles into out (im.w of them). */
static void image_row(const Image *im, long i, double *out) {
  long es = (long)lu_elem_size(im->elem);
  lu_tensor_kconvert(LU_DOUBLE, im->w, out, 1, im->elem,
                     im->base + i * im->hmod * es, im->wmod);
}

/* The smallest and largest values of im, NaNs ignored; 0 and 0 when there
   is no number at all. */
static void image_range(const Image *im, double *row, double *lo, double *hi) {
  double a = INFINITY, b = -INFINITY;
  for (long i = 0; i < im->h; i++) {
    image_row(im, i, row);
    for (long j = 0; j < im->w; j++) {
      a = row[j] < a ? row[j] : a;
      b = row[j] > b ? row[j] : b;
    }
  }
  *lo = a <= b ? a : 0;
  *hi = a <= b ? b : 0;
}

/* Maps x from [lo, hi] to a level in 0..top, clipped (lo > hi inverts).
   NaN maps to 0; so does a constant image (x == lo == hi), while a given
   range with lo == hi thresholds: values above it map to top. */
static int shade(double x, double lo, double hi, int top) {
  double f = (x - lo) / (hi - lo);
  if (!(f > 0))
    return 0;
  return f >= 1 ? top : (int)(f * top + 0.5);
}

typedef struct {
  char msg[256];
  LuSink *sink;
} PngCtx;

static void pic_fail(png_structp png, png_const_charp msg) {
  PngCtx *c = png_get_error_ptr(png);
  snprintf(c->msg, sizeof c->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void pic_quiet(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static void pic_out(png_structp png, png_bytep data, size_t n) {
  PngCtx *c = png_get_io_ptr(png);
  if (!lu_io_sink_put(c->sink, data, n)) {
    char why[200];
    snprintf(why, sizeof why, "write failed: %s", lu_io_sink_why(c->sink));
    png_error(png, why);
  }
}

static void pic_flush(png_structp png) {
  (void)png;
}

/* An 8-bit grayscale picture: h rows of w bytes. */
typedef struct {
  const unsigned char *pix;
  long h, w;
} Picture;

/* LuWriteBody: encodes the picture as a PNG. libpng reports errors by
   longjmp to png_jmpbuf; they become a Lisp error once libpng's structures
   are freed. Nothing here polls, so no Lisp error crosses libpng. */
static void pic_body(LuSink *s, void *ud) {
  const Picture *pic = ud;
  PngCtx ctx = {"", s};
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, pic_fail, pic_quiet);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    lu_error("%s: %s: libpng could not start", s->who, s->path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    lu_error("%s: %s: %s", s->who, s->path, ctx.msg);
  }
  png_set_write_fn(png, &ctx, pic_out, pic_flush);
  png_set_IHDR(png, info, (png_uint_32)pic->w, (png_uint_32)pic->h, 8,
               PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (long i = 0; i < pic->h; i++)
    png_write_row(png, pic->pix + i * pic->w);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
}

/* Raises unless a picture of h x w pixels can be written. */
static void check_picture(const char *who, const char *path, long h, long w) {
  if (h < 1 || w < 1 || h > PNG_MAX_SIDE || w > PNG_MAX_SIDE)
    lu_error("%s: %s: cannot write a picture of %ldx%ld pixels (each side "
             "1 to %ld)",
             who, path, h, w, PNG_MAX_SIDE);
}

/* Draws im into dst (rows stride bytes apart), scaled from [lo, hi] to
   0..255; row is scratch for im->w doubles. */
static void draw_image(const Image *im, double lo, double hi,
                       unsigned char *dst, long stride, double *row) {
  for (long i = 0; i < im->h; i++) {
    image_row(im, i, row);
    for (long j = 0; j < im->w; j++)
      dst[i * stride + j] = (unsigned char)shade(row[j], lo, hi, 255);
    lu_poll();
  }
}

void lu_picture_save_png(const LuTensor *t, const char *path,
                         const double *range) {
  Image im = image_of("save-png", t);
  check_picture("save-png", path, im.h, im.w);
  unsigned char *pix = lu_alloc_atomic((size_t)(im.h * im.w), "save-png");
  double *row = lu_alloc_atomic((size_t)im.w * sizeof(double), "save-png");
  double lo, hi;
  if (range) {
    lo = range[0];
    hi = range[1];
  } else {
    image_range(&im, row, &lo, &hi);
  }
  draw_image(&im, lo, hi, pix, im.w, row);
  Picture pic = {pix, im.h, im.w};
  lu_io_save("save-png", path, false, pic_body, &pic);
}

/* ---- Grids of images -------------------------------------------------- */

static bool is_tensor(LuValue *v) {
  return LU_IS(v, LU_CDATA) && v->cdata.ctype == &lu_tensor_ctype;
}

/* The images of save-png-grid: the elements of a list of 1-D or 2-D
   tensors, or the 2-D slices (last two dims) of a tensor, in row-major
   order. Sets *count. */
static Image *grid_images(LuValue *images, long *count) {
  if (is_tensor(images)) {
    const LuTensor *t = images->cdata.ptr;
    if (t->ndim < 2)
      lu_error("save-png-grid: expected a list of images or a tensor of 2 or "
               "more dims, got a %s tensor",
               lu_io_dims_text(t->ndim, t->dim));
    int lead = t->ndim - 2;
    long n = 1;
    for (int d = 0; d < lead; d++)
      n *= t->dim[d];
    long es = (long)lu_elem_size(t->st->elem);
    Image *ims = lu_alloc((size_t)(n > 0 ? n : 1) * sizeof(Image));
    long idx[LU_MAXDIM] = {0};
    for (long k = 0; k < n; k++) {
      long off = 0;
      for (int d = 0; d < lead; d++)
        off += idx[d] * t->mod[d];
      ims[k] = (Image){
          t->st->elem,  (const unsigned char *)lu_tensor_data(t) + off * es,
          t->dim[lead], t->dim[lead + 1],
          t->mod[lead], t->mod[lead + 1]};
      for (int d = lead - 1; d >= 0 && ++idx[d] == t->dim[d]; d--)
        idx[d] = 0;
    }
    *count = n;
    return ims;
  }
  if (!LU_IS(images, LU_CONS))
    lu_arg_error(0, "a list of tensors or a tensor", images);
  long n = lu_length(images);
  Image *ims = lu_alloc((size_t)n * sizeof(Image));
  LuValue *v = images;
  for (long k = 0; k < n; k++, v = LU_CDR(v)) {
    LuValue *x = LU_CAR(v);
    const LuTensor *t = is_tensor(x) ? x->cdata.ptr : NULL;
    if (!t || t->ndim < 1 || t->ndim > 2)
      lu_error("save-png-grid: image %ld: expected a 1-D or 2-D tensor, got "
               "%.60s",
               k + 1, lu_repr_limit(x, 60));
    ims[k] = image_of("save-png-grid", t);
  }
  *count = n;
  return ims;
}

/* Pixels across count cells of size cell with their borders; LONG_MAX
   when that overflows. */
static long grid_side(long count, long cell) {
  long side;
  if (__builtin_mul_overflow(count, cell + 1, &side) || side == LONG_MAX)
    return LONG_MAX;
  return side + 1;
}

/* Tiles n images in cols columns, each cell as large as the largest image,
   with a 1-pixel mid-gray (128) border around and between cells; each
   image is scaled by range, or by its own min and max. */
static void save_grid(LuValue *images, const char *path, long cols,
                      const double *range) {
  long n, h = 0, w = 0;
  Image *ims = grid_images(images, &n);
  if (n == 0)
    lu_error("save-png-grid: %s: no images", path);
  for (long k = 0; k < n; k++) {
    h = ims[k].h > h ? ims[k].h : h;
    w = ims[k].w > w ? ims[k].w : w;
  }
  cols = cols < n ? cols : n;
  long ch = grid_side((n + cols - 1) / cols, h), cw = grid_side(cols, w);
  check_picture("save-png-grid", path, ch, cw);
  unsigned char *pix = lu_alloc_atomic((size_t)(ch * cw), "save-png-grid");
  memset(pix, 128, (size_t)(ch * cw));
  double *row =
      lu_alloc_atomic((size_t)(w + 1) * sizeof(double), "save-png-grid");
  for (long k = 0; k < n; k++) {
    double lo, hi;
    if (range) {
      lo = range[0];
      hi = range[1];
    } else {
      image_range(&ims[k], row, &lo, &hi);
    }
    long y0 = 1 + k / cols * (h + 1), x0 = 1 + k % cols * (w + 1);
    draw_image(&ims[k], lo, hi, pix + y0 * cw + x0, cw, row);
  }
  Picture pic = {pix, ch, cw};
  lu_io_save("save-png-grid", path, false, pic_body, &pic);
}

/* ---- Terminal pictures ------------------------------------------------ */

/* Prints a header "TYPE DIMS min A max B", then one line per row with a
   shade block per pixel (two columns per pixel up to 80 pixels wide, so
   pixels look square), scaled from [lo, hi]; NaN shows as '?'. */
static void show(const LuTensor *t, const double *range) {
  static const char *const shades[] = {" ", "\u2591", "\u2592", "\u2593",
                                       "\u2588"};
  Image im = image_of("idx-show", t);
  double *row =
      lu_alloc_atomic((size_t)(im.w + 1) * sizeof(double), "idx-show");
  double mn, mx;
  image_range(&im, row, &mn, &mx);
  double lo = range ? range[0] : mn, hi = range ? range[1] : mx;
  int reps = im.w <= 80 ? 2 : 1;
  LuBuf b;
  lu_buf_init(&b);
  lu_buf_printf(&b, "%s %s min %g max %g\n", lu_elem_name(im.elem),
                lu_io_dims_text(t->ndim, t->dim), mn, mx);
  for (long i = 0; i < im.h; i++) {
    image_row(&im, i, row);
    for (long j = 0; j < im.w; j++) {
      const char *s = isnan(row[j]) ? "?" : shades[shade(row[j], lo, hi, 4)];
      for (int r = 0; r < reps; r++)
        lu_buf_puts(&b, s);
    }
    lu_buf_puts(&b, "\n");
    lu_poll();
  }
  fputs(b.s, stdout);
  fflush(stdout);
}

/* ---- Builtins -------------------------------------------------------- */

/* Optional LO HI at argv[i] and argv[i+1]: both or neither. Returns range
   filled in, or NULL when absent. */
static const double *arg_range(LuValue **argv, int argc, int i, double *range) {
  bool lo = lu_arg_given(argv, argc, i), hi = lu_arg_given(argv, argc, i + 1);
  if (!lo && !hi)
    return NULL;
  if (!lo || !hi)
    lu_error("%s: give both LO and HI, or neither", lu_caller());
  range[0] = lu_arg_num(argv, i);
  range[1] = lu_arg_num(argv, i + 1);
  return range;
}

LU_DEFUN(save_png, "(save-png M FILE [LO HI])",
         "Writes the 2-D (or 1-D) tensor M to FILE as an 8-bit grayscale PNG, "
         "values scaled from [LO, HI] (default: M's min and max) to black.."
         "white and clipped; LO > HI inverts. Atomic like save-matrix. "
         "Returns FILE.") {
  double range[2];
  lu_picture_save_png(lu_arg_tensor(argv, 0), lu_arg_str(argv, 1),
                      arg_range(argv, argc, 2, range));
  return argv[1];
}

LU_DEFUN(save_png_grid, "(save-png-grid IMAGES FILE COLS [LO HI])",
         "Writes many images to FILE as one grayscale PNG, tiled in COLS "
         "columns with a 1-pixel mid-gray border. IMAGES is a list of 2-D "
         "tensors, or a tensor whose last two dims are the images (a 3-D "
         "stack of digits, or 4-D filters shown one row per output map "
         "when COLS is the second dim). Each image is scaled by [LO, HI], or "
         "by its own min and max. Returns FILE.") {
  double range[2];
  long cols = lu_arg_int(argv, 2);
  if (cols < 1)
    lu_arg_error(2, "a positive column count", argv[2]);
  save_grid(argv[0], lu_arg_str(argv, 1), cols,
            arg_range(argv, argc, 3, range));
  return argv[1];
}

LU_DEFUN(idx_show, "(idx-show M [LO HI])",
         "Draws the 2-D (or 1-D) tensor M in the terminal with shade blocks, "
         "under a header giving its type, shape, min and max. Values are "
         "scaled from [LO, HI] (default: M's min and max); NaN shows as ?.") {
  double range[2];
  show(lu_arg_tensor(argv, 0), arg_range(argv, argc, 1, range));
  return lu_nil;
}

static LuBuiltin *const picture_builtins[] = {
    &save_png_builtin, &save_png_grid_builtin, &idx_show_builtin, NULL};

void lu_picture_open(void) {
  lu_register(picture_builtins);
}
