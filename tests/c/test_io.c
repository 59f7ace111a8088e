/* test_io.c: cmocka tests of runtime/io (matrix.c, picture.c, json.c, io.c,
   safetensors.c's I64 reading).
   IDX round trips (plain and gzip, every type, strided views) checked against
   hand-built bytes; Lush matrix files; every corrupt-file case; atomic saves
   that fail; PNG round trips read back with libpng; idx-show's output; the JSON
   reader against strtod and hand-decoded UTF-8. Bad files are written to a
   fresh temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <gc.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "interp.h"
#include "io.h"
#include "lutest.h"

static char dir[64];

/* ---- helpers ---------------------------------------------------------- */

static const char *in_dir(const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = lu_alloc_atomic(n, "test");
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *path, const void *p, size_t n) {
  gzFile g = gzopen(path, "wb");
  assert_non_null(g);
  assert_int_equal(gzwrite(g, p, (unsigned)n), (int)n);
  assert_int_equal(gzclose(g), Z_OK);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  unsigned char *buf = lu_alloc_atomic(1 << 20, "test");
  *n = fread(buf, 1, 1 << 20, f);
  fclose(f);
  return buf;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Entries in dir besides . and .. */
static int dir_entries(void) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static LuTensor *make(LuElem e, int ndim, const long *dim) {
  return lu_tensor_make(e, ndim, dim, NULL, NULL, 0);
}

/* Element i (row-major) of t as a double, through dims and strides. */
static double get(const LuTensor *t, long i) {
  long off = 0;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->dim[d]) * t->mod[d];
    i /= t->dim[d];
  }
  const unsigned char *p = lu_tensor_data(t);
  switch (t->st->elem) {
  case LU_FLOAT:
    return ((const float *)p)[off];
  case LU_DOUBLE:
    return ((const double *)p)[off];
  case LU_INT:
    return ((const int32_t *)p)[off];
  case LU_UBYTE:
    return p[off];
  }
  return NAN;
}

/* Stores x as element i of contiguous t (plain casts: test values are
   in range). Written here, not taken from tensor.c, to check it. */
static void set(LuTensor *t, long i, double x) {
  unsigned char *p = lu_tensor_data(t);
  switch (t->st->elem) {
  case LU_FLOAT:
    ((float *)p)[i] = (float)x;
    break;
  case LU_DOUBLE:
    ((double *)p)[i] = x;
    break;
  case LU_INT:
    ((int32_t *)p)[i] = (int32_t)x;
    break;
  case LU_UBYTE:
    p[i] = (unsigned char)x;
    break;
  }
}

typedef struct {
  const char *path;
  const LuTensor *t;
  const double *range;
  LuTensor *out;
  const char *text;
  LuValue *value;
} Call;

static void do_load(void *ud) {
  Call *c = ud;
  c->out = lu_matrix_load(c->path);
}
static void do_save(void *ud) {
  Call *c = ud;
  lu_matrix_save(c->t, c->path);
}
static void do_png(void *ud) {
  Call *c = ud;
  lu_picture_save_png(c->t, c->path, c->range);
}
static void do_json(void *ud) {
  Call *c = ud;
  c->value = lu_json_parse(c->text, strlen(c->text), "t.json");
}

static void do_safetensors(void *ud) {
  Call *c = ud;
  int n;
  LuNamedTensor *t = lu_safetensors_load("t", c->path, &n);
  c->out = n == 1 ? t[0].t : NULL;
}

/* Runs fn under lu_pcall: NULL on success, else the error message. */
static const char *run(void (*fn)(void *), Call *c) {
  LuValue *err = NULL;
  if (lu_pcall(fn, c, &err))
    return NULL;
  return err->err->message->str.s;
}

static LuTensor *load_ok(const char *path) {
  Call c = {.path = path};
  const char *msg = run(do_load, &c);
  if (msg)
    fail_msg("load failed: %s", msg);
  return c.out;
}

static void save_ok(const LuTensor *t, const char *path) {
  Call c = {.path = path, .t = t};
  const char *msg = run(do_save, &c);
  if (msg)
    fail_msg("save failed: %s", msg);
}

static const char *load_error(const char *name, const void *bytes, size_t n,
                              bool gz) {
  const char *path = in_dir(name);
  if (gz)
    write_gz(path, bytes, n);
  else
    write_bytes(path, bytes, n);
  Call c = {.path = path};
  return run(do_load, &c);
}

/* ---- IDX -------------------------------------------------------------- */

/* The exact bytes of a 2x3 int tensor and of a 1-element float one. */
static void test_idx_bytes(void **state) {
  (void)state;
  LuTensor *t = make(LU_INT, 2, (long[]){2, 3});
  const int32_t v[] = {1, -2, 256, 65536, -16777216, 7};
  for (int i = 0; i < 6; i++)
    set(t, i, v[i]);
  save_ok(t, in_dir("a.idx"));
  static const unsigned char want[] = {
      0,    0,    0x0C, 2, 0, 0, 0, 2, 0, 0, 0,    3, 0, 0, 0, 1, 0xFF, 0xFF,
      0xFF, 0xFE, 0,    0, 1, 0, 0, 1, 0, 0, 0xFF, 0, 0, 0, 0, 0, 0,    7};
  size_t n;
  unsigned char *got = read_bytes(in_dir("a.idx"), &n);
  assert_int_equal(n, sizeof want);
  assert_memory_equal(got, want, sizeof want);

  LuTensor *f = make(LU_FLOAT, 1, (long[]){1});
  set(f, 0, -2.5); /* 0xC0200000 */
  save_ok(f, in_dir("f.idx"));
  static const unsigned char fwant[] = {0, 0, 0x0D, 1,    0, 0,
                                        0, 1, 0xC0, 0x20, 0, 0};
  got = read_bytes(in_dir("f.idx"), &n);
  assert_int_equal(n, sizeof fwant);
  assert_memory_equal(got, fwant, sizeof fwant);
}

static void check_same(const LuTensor *a, const LuTensor *b) {
  assert_int_equal(a->st->elem, b->st->elem);
  assert_int_equal(a->ndim, b->ndim);
  for (int d = 0; d < a->ndim; d++)
    assert_int_equal(a->dim[d], b->dim[d]);
  for (long i = 0; i < lu_tensor_nelem(a); i++)
    if (!(get(a, i) == get(b, i)))
      fail_msg("element %ld: %g vs %g", i, get(a, i), get(b, i));
}

/* Every type, plain and gzip, with values that exercise every byte. */
static void test_idx_round_trip(void **state) {
  (void)state;
  const LuElem types[] = {LU_FLOAT, LU_DOUBLE, LU_INT, LU_UBYTE};
  const char *names[] = {"x.idx", "x.idx.gz"};
  for (int k = 0; k < 4; k++)
    for (int z = 0; z < 2; z++) {
      LuTensor *t = make(types[k], 3, (long[]){3, 4, 5});
      for (long i = 0; i < 60; i++)
        set(t, i,
            types[k] == LU_UBYTE ? (i * 37) % 256
            : types[k] == LU_INT ? (i - 30) * 12345677
                                 : (i - 30) * 0.1234567891234 + 1e-3);
      save_ok(t, in_dir(names[z]));
      check_same(t, load_ok(in_dir(names[z])));
    }
  /* gzip really compresses: the file starts with the gzip magic */
  size_t n;
  unsigned char *b = read_bytes(in_dir("x.idx.gz"), &n);
  assert_true(n > 2 && b[0] == 0x1f && b[1] == 0x8b);
  assert_int_equal(dir_entries(), 2); /* no temporary files left */
}

/* A transposed view and a 0-d tensor save in row-major order. */
static void test_idx_strided_and_scalar(void **state) {
  (void)state;
  LuTensor *t = make(LU_DOUBLE, 2, (long[]){2, 3});
  for (long i = 0; i < 6; i++)
    set(t, i, i + 0.5);
  LuTensor *tt =
      lu_tensor_make(LU_DOUBLE, 2, (long[]){3, 2}, t, (long[]){1, 3}, 0);
  save_ok(tt, in_dir("t.idx"));
  LuTensor *back = load_ok(in_dir("t.idx"));
  check_same(tt, back);
  assert_true(get(back, 1) == 3.5); /* tt[0][1] = t[1][0] */

  LuTensor *s = make(LU_FLOAT, 0, NULL);
  set(s, 0, 42);
  save_ok(s, in_dir("s.idx"));
  size_t n;
  unsigned char *b = read_bytes(in_dir("s.idx"), &n);
  assert_int_equal(n, 8);
  assert_int_equal(b[3], 0);
  back = load_ok(in_dir("s.idx"));
  assert_int_equal(back->ndim, 0);
  assert_true(get(back, 0) == 42);
}

/* Signed bytes and shorts, written by hand, load as int. */
static void test_idx_sbyte_short(void **state) {
  (void)state;
  static const unsigned char sb[] = {0, 0, 0x09, 1,    0,   0,
                                     0, 3, 0xFF, 0x80, 0x7F};
  write_bytes(in_dir("sb.idx"), sb, sizeof sb);
  LuTensor *t = load_ok(in_dir("sb.idx"));
  assert_int_equal(t->st->elem, LU_INT);
  assert_true(get(t, 0) == -1 && get(t, 1) == -128 && get(t, 2) == 127);

  static const unsigned char sh[] = {0, 0, 0x0B, 2, 0,    0,    0,    1,
                                     0, 0, 0,    2, 0x80, 0x00, 0x01, 0x02};
  write_bytes(in_dir("sh.idx"), sh, sizeof sh);
  t = load_ok(in_dir("sh.idx"));
  assert_int_equal(t->st->elem, LU_INT);
  assert_int_equal(t->ndim, 2);
  assert_true(get(t, 0) == -32768 && get(t, 1) == 258);
}

/* Classic Lush files: native order with 3 stored dims for a 2-D matrix, and
   the same written by a machine of the other byte order. */
static void test_lush_format(void **state) {
  (void)state;
  int32_t head[5] = {0x1E3D4C51, 2, 2, 2, 1};
  float data[4] = {1.5f, -2, 3, 4};
  unsigned char buf[sizeof head + sizeof data];
  memcpy(buf, head, sizeof head);
  memcpy(buf + sizeof head, data, sizeof data);
  write_bytes(in_dir("m.mat"), buf, sizeof buf);
  LuTensor *t = load_ok(in_dir("m.mat"));
  assert_int_equal(t->st->elem, LU_FLOAT);
  assert_int_equal(t->ndim, 2);
  assert_true(get(t, 0) == 1.5 && get(t, 1) == -2 && get(t, 3) == 4);

  for (size_t i = 0; i < sizeof buf; i += 4) { /* swap every word */
    unsigned char w[4] = {buf[i + 3], buf[i + 2], buf[i + 1], buf[i]};
    memcpy(buf + i, w, 4);
  }
  write_bytes(in_dir("m2.mat"), buf, sizeof buf);
  check_same(t, load_ok(in_dir("m2.mat")));

  int32_t ub[6] = {0x1E3D4C55, 1, 3, 1, 1, 0};
  memcpy((unsigned char *)&ub[5], "\x01\x02\xFF", 3);
  write_bytes(in_dir("u.mat"), ub, 23);
  t = load_ok(in_dir("u.mat"));
  assert_int_equal(t->st->elem, LU_UBYTE);
  assert_true(get(t, 0) == 1 && get(t, 2) == 255);

  int32_t neg[5] = {0x1E3D4C54, 2, -1, 2, 1};
  lt_expect_error(load_error("neg.mat", neg, sizeof neg, false), "neg.mat",
                  "negative dimension");
}

/* ---- bad files -------------------------------------------------------- */

static void test_bad_files(void **state) {
  (void)state;
  Call c = {.path = in_dir("missing.idx")};
  lt_expect_error(run(do_load, &c), "missing.idx", "No such file");
  c.path = dir;
  lt_expect_error(run(do_load, &c), dir, "directory");

  static const unsigned char ok[] = {0, 0, 8, 2, 0, 0, 0, 2, 0,
                                     0, 0, 2, 1, 2, 3, 4, 5};
  lt_expect_error(load_error("empty.idx", ok, 0, false), "empty.idx",
                  "truncated header");
  lt_expect_error(load_error("short.idx", ok, 9, false), "short.idx",
                  "truncated header");
  lt_expect_error(load_error("trunc.idx", ok, 15, false), "trunc.idx",
                  "truncated");
  lt_expect_error(load_error("trunc.idx", ok, 15, false), "trunc.idx",
                  "need 4 data bytes, the file has 3");
  lt_expect_error(load_error("extra.idx", ok, 17, false), "extra.idx",
                  "trailing garbage");
  lt_expect_error(load_error("magic.idx", "GIF89a", 6, false), "magic.idx",
                  "wrong magic 47 49 46 38");
  static const unsigned char type[] = {0, 0, 0x0A, 0};
  lt_expect_error(load_error("type.idx", type, 4, false), "type.idx",
                  "unknown IDX type code 0x0A");
  unsigned char nine[4 + 36 + 1] = {0, 0, 8, 9};
  for (int i = 0; i < 9; i++)
    nine[7 + 4 * i] = 1;
  lt_expect_error(load_error("nine.idx", nine, sizeof nine, false), "nine.idx",
                  "9 dimensions (at most 8)");
  static const unsigned char huge[] = {0,    0,    0x0E, 3,    0xFF, 0xFF,
                                       0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                       0xFF, 0xFF, 0xFF, 0xFF, 1};
  lt_expect_error(load_error("huge.idx", huge, sizeof huge, false), "huge.idx",
                  "overflow");
  /* 2^31 x 2^31 elements fit in a long, not their bytes... */
  static const unsigned char big[] = {0, 0,    0x0E, 2, 0x80, 0, 0,
                                      0, 0x80, 0,    0, 0,    1};
  lt_expect_error(load_error("big.idx", big, sizeof big, false), "big.idx",
                  "overflow");
  /* no element, but strides past a long */
  static const unsigned char zero[] = {0,    0,    0x08, 3,    0,    0,
                                       0,    0,    0xFF, 0xFF, 0xFF, 0xFF,
                                       0xFF, 0xFF, 0xFF, 0xFF};
  lt_expect_error(load_error("zero.idx", zero, sizeof zero, false), "zero.idx",
                  "dims 0x4294967295x4294967295 overflow");
  /* ...and a plausible size that the data does not back is no allocation */
  static const unsigned char lie[] = {0, 0, 0x0D, 1, 0x40, 0, 0, 0, 1};
  lt_expect_error(load_error("lie.idx", lie, sizeof lie, false), "lie.idx",
                  "truncated");

  /* gzip: the same checks apply to the decompressed bytes */
  lt_expect_error(load_error("trunc.idx.gz", ok, 15, true), "trunc.idx.gz",
                  "truncated");
  lt_expect_error(load_error("plain.idx.gz", ok, 16, false), "plain.idx.gz",
                  "not a gzip file");
  /* a small gzip file cannot hold 4 GB: no allocation either */
  lt_expect_error(load_error("lie.idx.gz", lie, sizeof lie, true), "lie.idx.gz",
                  "more than the file can hold");
  lt_expect_error(load_error("extra.idx.gz", ok, 17, true), "extra.idx.gz",
                  "the file has 5 (trailing garbage)");
  /* 64 MB of zeros after the data: not inflated beyond what the header
     asks for and 64K more */
  size_t bomb_len = 64 << 20;
  unsigned char *bomb = calloc(1, bomb_len);
  memcpy(bomb, ok, sizeof ok);
  lt_expect_error(load_error("bomb.idx.gz", bomb, bomb_len, true),
                  "bomb.idx.gz",
                  "the file has more than 65539 (trailing garbage)");
  free(bomb);
}

static void test_bad_gzip(void **state) {
  (void)state;
  unsigned char idx[4 + 4 + 4000] = {0, 0, 8, 1, 0, 0, 0x0F, 0xA0};
  for (int i = 0; i < 4000; i++)
    idx[8 + i] = (unsigned char)(i * 7 + i / 13);
  write_gz(in_dir("g.idx.gz"), idx, sizeof idx);
  LuTensor *t = load_ok(in_dir("g.idx.gz"));
  assert_int_equal(lu_tensor_nelem(t), 4000);
  assert_true(get(t, 3999) == (unsigned char)(3999 * 7 + 3999 / 13));

  size_t n;
  unsigned char *gz = read_bytes(in_dir("g.idx.gz"), &n);
  /* cut the stream short */
  write_bytes(in_dir("cut.idx.gz"), gz, n / 2);
  Call c = {.path = in_dir("cut.idx.gz")};
  lt_expect_error(run(do_load, &c), "cut.idx.gz", "gzip");
  /* damage the compressed data; the CRC or the inflater notices */
  for (size_t i = 12; i < n - 8; i += 5)
    gz[i] ^= 0x55;
  write_bytes(in_dir("bad.idx.gz"), gz, n);
  c.path = in_dir("bad.idx.gz");
  lt_expect_error(run(do_load, &c), "bad.idx.gz", "corrupt gzip stream");
}

/* ---- atomic saves ----------------------------------------------------- */

static void test_save_failures(void **state) {
  (void)state;
  LuTensor *t = make(LU_FLOAT, 2, (long[]){100, 100});
  for (long i = 0; i < 10000; i++) /* data gzip cannot shrink much */
    set(t, i, (double)(i * 2654435761u % 1000003));
  Call c = {.path = in_dir("nodir/x.idx"), .t = t};
  lt_expect_error(run(do_save, &c), "nodir/x.idx", "temporary file");

  /* An old file survives a failed save, which leaves nothing else. */
  const char *path = in_dir("keep.idx");
  write_bytes(path, "old", 3);
  struct rlimit old, small = {1000, 1000};
  getrlimit(RLIMIT_FSIZE, &old);
  small.rlim_max = old.rlim_max;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &small);
  c.path = path;
  const char *msg = run(do_save, &c);
  c.path = in_dir("keep.idx.gz");
  const char *gzmsg = run(do_save, &c);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  lt_expect_error(msg, "keep.idx", "write failed");
  lt_expect_error(gzmsg, "keep.idx.gz", "failed");
  size_t n;
  unsigned char *b = read_bytes(path, &n);
  assert_int_equal(n, 3);
  assert_memory_equal(b, "old", 3);
  assert_int_equal(dir_entries(), 1);

  /* Ctrl-C during a save: a Break, and no file. */
  LuTensor *big = make(LU_UBYTE, 1, (long[]){1 << 20});
  c.t = big;
  c.path = in_dir("big.idx");
  lu_interrupted = 1;
  msg = run(do_save, &c);
  lu_interrupted = 0;
  lt_expect_error(msg, "", "Break");
  assert_false(exists(c.path));
  assert_int_equal(dir_entries(), 1);
}

/* ---- PNG ---------------------------------------------------------------- */

/* Reads an 8-bit grayscale PNG with libpng; returns its pixels. */
static unsigned char *read_png(const char *path, long *h, long *w) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png)))
    fail_msg("libpng could not read %s", path);
  png_init_io(png, f);
  png_read_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
  assert_int_equal(png_get_bit_depth(png, info), 8);
  assert_int_equal(png_get_color_type(png, info), PNG_COLOR_TYPE_GRAY);
  *h = png_get_image_height(png, info);
  *w = png_get_image_width(png, info);
  unsigned char *pix = lu_alloc_atomic((size_t)(*h * *w), "test");
  png_bytepp rows = png_get_rows(png, info);
  for (long i = 0; i < *h; i++)
    memcpy(pix + i * *w, rows[i], (size_t)*w);
  png_destroy_read_struct(&png, &info, NULL);
  fclose(f);
  return pix;
}

static void test_png(void **state) {
  (void)state;
  /* default range: min -1 -> 0, max 3 -> 255, 0 -> 63.75 -> 64 */
  LuTensor *t = make(LU_FLOAT, 2, (long[]){2, 3});
  const double v[] = {-1, 0, 1, 2, 3, NAN};
  for (int i = 0; i < 6; i++)
    set(t, i, v[i]);
  Call c = {.path = in_dir("a.png"), .t = t};
  assert_null(run(do_png, &c));
  long h, w;
  unsigned char *p = read_png(c.path, &h, &w);
  assert_int_equal(h, 2);
  assert_int_equal(w, 3);
  const unsigned char want[] = {0, 64, 128, 191, 255, 0};
  assert_memory_equal(p, want, 6);

  /* given range, clipped; LO > HI inverts; a transposed int view */
  LuTensor *it = make(LU_INT, 2, (long[]){2, 2});
  const double iv[] = {-5, 10, 5, 0};
  for (int i = 0; i < 4; i++)
    set(it, i, iv[i]);
  LuTensor *tr =
      lu_tensor_make(LU_INT, 2, (long[]){2, 2}, it, (long[]){1, 2}, 0);
  double range[2] = {10, 0};
  c = (Call){.path = in_dir("b.png"), .t = tr, .range = range};
  assert_null(run(do_png, &c));
  p = read_png(c.path, &h, &w);
  const unsigned char bwant[] = {255, 128, 0, 255}; /* [[-5 5] [10 0]] */
  assert_memory_equal(p, bwant, 4);

  /* a constant picture is black; a 1-D tensor is one row */
  LuTensor *one = make(LU_UBYTE, 1, (long[]){4});
  for (int i = 0; i < 4; i++)
    set(one, i, 7);
  c = (Call){.path = in_dir("c.png"), .t = one};
  assert_null(run(do_png, &c));
  p = read_png(c.path, &h, &w);
  assert_int_equal(h, 1);
  assert_int_equal(w, 4);
  assert_int_equal(p[0] + p[1] + p[2] + p[3], 0);

  LuTensor *three = make(LU_FLOAT, 3, (long[]){1, 2, 2});
  c = (Call){.path = in_dir("d.png"), .t = three};
  lt_expect_error(run(do_png, &c), "save-png", "1-D or 2-D");
  LuTensor *empty = make(LU_FLOAT, 2, (long[]){0, 3});
  c = (Call){.path = in_dir("e.png"), .t = empty};
  lt_expect_error(run(do_png, &c), "e.png", "0x3 pixels");
  c = (Call){.path = in_dir("nodir/e.png"), .t = t};
  lt_expect_error(run(do_png, &c), "nodir/e.png", "temporary file");
  assert_int_equal(dir_entries(), 3);
}

static LuValue *grid_call(LuValue *images, const char *path, long cols,
                          const double *range) {
  LuValue *argv[5] = {images, lu_cstring(path), lu_number((double)cols),
                      range ? lu_number(range[0]) : lu_nil,
                      range ? lu_number(range[1]) : lu_nil};
  return lu_apply(lu_global("save-png-grid"), range ? 5 : 3, argv);
}

typedef struct {
  LuValue *images;
  const char *path;
  long cols;
  const double *range;
} GridCall;

static void do_grid(void *ud) {
  GridCall *g = ud;
  grid_call(g->images, g->path, g->cols, g->range);
}

static const char *grid(LuValue *images, const char *path, long cols,
                        const double *range) {
  GridCall g = {images, path, cols, range};
  LuValue *err = NULL;
  return lu_pcall(do_grid, &g, &err) ? NULL : err->err->message->str.s;
}

static void test_png_grid(void **state) {
  (void)state;
  /* a 3x2x2 stack, each image scaled by its own range, 2 columns */
  LuTensor *t = make(LU_FLOAT, 3, (long[]){3, 2, 2});
  for (long k = 0; k < 3; k++)
    for (long i = 0; i < 4; i++)
      set(t, k * 4 + i, (double)(k * 10 + i));
  const char *path = in_dir("g.png");
  assert_null(grid(lu_tensor_value(t), path, 2, NULL));
  long h, w;
  unsigned char *p = read_png(path, &h, &w);
  assert_int_equal(h, 7);
  assert_int_equal(w, 7);
  const unsigned char G = 128;
  const unsigned char want[49] = {
      G, G,   G,   G, G,   G,   G, /* border */
      G, 0,   85,  G, 0,   85,  G, /* images 0 and 1 */
      G, 170, 255, G, 170, 255, G, /* */
      G, G,   G,   G, G,   G,   G, /* border */
      G, 0,   85,  G, G,   G,   G, /* image 2, an empty cell */
      G, 170, 255, G, G,   G,   G, /* */
      G, G,   G,   G, G,   G,   G};
  assert_memory_equal(p, want, 49);

  /* a list of images of different sizes, one range for all; COLS larger
     than the number of images */
  LuTensor *a = make(LU_INT, 2, (long[]){1, 1});
  set(a, 0, 10);
  LuTensor *b = make(LU_DOUBLE, 2, (long[]){2, 3});
  for (long i = 0; i < 6; i++)
    set(b, i, (double)i);
  LuValue *list = lu_list(2, lu_tensor_value(a), lu_tensor_value(b));
  double range[2] = {0, 10};
  assert_null(grid(list, path, 5, range));
  p = read_png(path, &h, &w);
  assert_int_equal(h, 4);
  assert_int_equal(w, 9);
  const unsigned char row1[9] = {G, 255, G, G, G, 0, 26, 51, G};
  const unsigned char row2[9] = {G, G, G, G, G, 77, 102, 128, G};
  assert_memory_equal(p + 9, row1, 9);
  assert_memory_equal(p + 18, row2, 9);

  /* a 4-D tensor: the images of its last two dims, in row-major order */
  LuTensor *f = make(LU_UBYTE, 4, (long[]){2, 3, 1, 1});
  for (long i = 0; i < 6; i++)
    set(f, i, (double)i);
  assert_null(grid(lu_tensor_value(f), path, 3, range));
  p = read_png(path, &h, &w);
  assert_int_equal(h, 5);
  assert_int_equal(w, 7);
  assert_int_equal(p[3 * 7 + 5], 128); /* f[1][2] = 5 of [0, 10] */

  lt_expect_error(grid(lu_nil, path, 2, NULL), "save-png-grid", "argument 1");
  lt_expect_error(
      grid(lu_list(2, lu_tensor_value(a), lu_number(3)), path, 2, NULL),
      "save-png-grid", "image 2: expected a 1-D or 2-D tensor, got 3");
  lt_expect_error(grid(lu_tensor_value(a), path, 0, NULL), "save-png-grid",
                  "argument 3");
  LuTensor *v = make(LU_FLOAT, 1, (long[]){4});
  lt_expect_error(grid(lu_tensor_value(v), path, 2, NULL), "save-png-grid",
                  "2 or more dims");
  assert_int_equal(dir_entries(), 1);
}

/* ---- JSON --------------------------------------------------------------- */

static LuValue *json_ok(const char *text) {
  Call c = {.text = text};
  const char *msg = run(do_json, &c);
  if (msg)
    fail_msg("json '%s': %s", text, msg);
  return c.value;
}

static const char *json_error(const char *text) {
  Call c = {.text = text};
  return run(do_json, &c);
}

static void test_json_values(void **state) {
  (void)state;
  LuValue *v = json_ok(" [1, -2.5e3, true, false, null, \"x\", [], {}] ");
  assert_int_equal(lu_length(v), 8);
  assert_true(LU_NUM(LU_CAR(v)) == 1);
  v = LU_CDR(v);
  assert_true(LU_NUM(LU_CAR(v)) == -2500);
  v = LU_CDR(v);
  assert_ptr_equal(LU_CAR(v), lu_t);
  v = LU_CDR(v);
  assert_ptr_equal(LU_CAR(v), lu_nil);
  v = LU_CDR(v);
  assert_ptr_equal(LU_CAR(v), lu_nil);
  v = LU_CDR(v);
  assert_string_equal(LU_CAR(v)->str.s, "x");
  v = LU_CDR(v);
  assert_ptr_equal(LU_CAR(v), lu_nil);
  v = LU_CDR(v);
  assert_int_equal(LU_TYPE(LU_CAR(v)), LU_HASH);
  assert_int_equal(lu_hash_count(LU_CAR(v)), 0);

  LuValue *h = json_ok("{\"a\": {\"b\": [1, 2]}, \"c\": 3, \"c\": 4}");
  assert_int_equal(LU_TYPE(h), LU_HASH);
  assert_int_equal(lu_hash_count(h), 2);
  assert_true(LU_NUM(lu_hash_get(h, lu_cstring("c"))) == 4);
  LuValue *a = lu_hash_get(h, lu_cstring("a"));
  LuValue *b = lu_hash_get(a, lu_cstring("b"));
  assert_true(LU_NUM(LU_CAR(LU_CDR(b))) == 2);
  assert_true(LU_NUM(json_ok("-0")) == 0 && signbit(LU_NUM(json_ok("-0"))));
  assert_true(LU_NUM(json_ok("\xEF\xBB\xBF 7")) == 7);
}

static void test_json_strings(void **state) {
  (void)state;
  LuValue *s = json_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
  assert_string_equal(s->str.s, "a\"b\\c/d\b\f\n\r\t");
  /* U+00E9, U+20AC, U+1F600 (a surrogate pair), raw UTF-8 kept */
  s = json_ok("\"\\u00e9\\u20AC\\ud83d\\ude00 \xC3\xA9\"");
  assert_string_equal(s->str.s,
                      "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 \xC3\xA9");
  s = json_ok("\"x\\u0000y\"");
  assert_int_equal(s->str.len, 3);
  assert_int_equal(s->str.s[1], 0);
  s = json_ok("\"\\ud800x\"");
  assert_string_equal(s->str.s, "\xEF\xBF\xBDx");
}

/* Numbers agree with strtod, digit for digit, fast path or not. */
static void test_json_numbers(void **state) {
  (void)state;
  const char *fixed[] = {"0.1",
                         "0.3",
                         "123456789012345",
                         "9007199254740993",
                         "1e22",
                         "1e23",
                         "4.9406564584124654e-324",
                         "1.7976931348623157e308",
                         "2.2250738585072014e-308",
                         "0.000001234",
                         "-12.5E-2",
                         "1E+2",
                         "123.456e-20",
                         "1e400"};
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
    double want = strtod(fixed[i], NULL);
    double got = LU_NUM(json_ok(fixed[i]));
    if (memcmp(&want, &got, sizeof got) != 0)
      fail_msg("%s: %.17g, strtod says %.17g", fixed[i], got, want);
  }
  srand(1);
  char text[64];
  for (int i = 0; i < 20000; i++) {
    int digits = 1 + rand() % 18, point = rand() % (digits + 1);
    int n = 0;
    if (rand() % 2)
      text[n++] = '-';
    text[n++] = (char)('1' + rand() % 9);
    for (int d = 1; d < digits; d++) {
      if (d == point)
        text[n++] = '.';
      text[n++] = (char)('0' + rand() % 10);
    }
    if (rand() % 3 == 0)
      n += snprintf(text + n, 8, "e%d", rand() % 80 - 40);
    text[n] = 0;
    double want = strtod(text, NULL), got = LU_NUM(json_ok(text));
    if (memcmp(&want, &got, sizeof got) != 0)
      fail_msg("%s: %.17g, strtod says %.17g", text, got, want);
  }
}

static void test_json_errors(void **state) {
  (void)state;
  const struct {
    const char *text, *where, *what;
  } cases[] = {
      {"", "t.json:1:1", "unexpected end of input"},
      {"[1,\n 2,,3]", "t.json:2:4", "unexpected character ','"},
      {"[1 2]", "t.json:1:4", "expected ',' or ']'"},
      {"{\"a\" 1}", "t.json:1:6", "expected ':'"},
      {"{\"a\":1,}", "t.json:1:8", "expected a string key"},
      {"{\"a\":1 \"b\":2}", "t.json:1:8", "expected ',' or '}'"},
      {"\"abc", "t.json:1:1", "unterminated string"},
      {"\"a\nb\"", "t.json:1:3", "control character"},
      {"\"\\x\"", "t.json:1:2", "invalid escape"},
      {"\"\\u12G4\"", "t.json:1:6", "invalid \\u escape"},
      {"01", "t.json:1:2", "unexpected text after the value"},
      {"1.", "t.json:1:3", "digits expected after '.'"},
      {"-", "t.json:1:2", "invalid number"},
      {"1e+", "t.json:1:4", "exponent"},
      {"tru", "t.json:1:1", "expected true"},
      {"nul", "t.json:1:1", "expected null"},
      {"[1] x", "t.json:1:5", "unexpected text"},
      {"\x01", "t.json:1:1", "unexpected byte 0x01"},
      {"NaN", "t.json:1:1", "unexpected character 'N'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *msg = json_error(cases[i].text);
    lt_expect_error(msg, cases[i].where, cases[i].what);
    assert_true(strncmp(msg, "json-read: ", 11) == 0);
  }
  char deep[3000];
  memset(deep, '[', sizeof deep - 1);
  deep[sizeof deep - 1] = 0;
  lt_expect_error(json_error(deep), "t.json:1:1001", "nested deeper than 1000");
}

/* Two million bytes of numbers, the size of a digits file, well under a
   second (a bound, not a benchmark). */
static void test_json_big(void **state) {
  (void)state;
  size_t cap = 2500000, n = 0;
  char *text = lu_alloc_atomic(cap, "test");
  n += (size_t)snprintf(text, cap, "{\"data\": [");
  long count = 0;
  while (n < 2000000) {
    n += (size_t)snprintf(text + n, cap - n, "%s%s", count ? "," : "",
                          count % 3 ? "0" : "0.624");
    count++;
  }
  n += (size_t)snprintf(text + n, cap - n, "]}");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  LuValue *h = json_ok(text);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs =
      (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
  LuValue *data = lu_hash_get(h, lu_cstring("data"));
  assert_int_equal(lu_length(data), count);
  assert_true(LU_NUM(LU_CAR(data)) == 0.624);
  if (secs > 1.0)
    fail_msg("parsing 2 MB of JSON took %.3f s", secs);
}

/* ---- idx-show ----------------------------------------------------------- */

static void do_show(void *ud) {
  Call *c = ud;
  LuValue *fn = lu_global("idx-show");
  LuValue *arg = lu_tensor_value((LuTensor *)c->t);
  lu_apply(fn, 1, &arg);
}

/* A safetensors file of one tensor "n": header text, then data bytes. */
static const char *write_safetensors(const char *name, const char *header,
                                     const void *data, size_t n) {
  size_t h = strlen(header);
  unsigned char *b = lu_alloc_atomic(8 + h + n, "test");
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)(h >> (8 * i));
  memcpy(b + 8, header, h);
  memcpy(b + 8 + h, data, n);
  const char *path = in_dir(name);
  write_bytes(path, b, 8 + h + n);
  return path;
}

/* I64 tensors, as PyTorch writes batch norm's counters, read as double. */
static void test_safetensors_i64(void **state) {
  (void)state;
  const unsigned char le[24] = {0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                0,    0,    0,    0,    0,    0,    0,    0,
                                0x00, 0xF2, 0x05, 0x2A, 0x01, 0,    0,    0};
  Call c = {.path = write_safetensors("i.safetensors",
                                      "{\"n\":{\"dtype\":\"I64\",\"shape\":[3],"
                                      "\"data_offsets\":[0,24]}}",
                                      le, 24)};
  const char *msg = run(do_safetensors, &c);
  if (msg)
    fail_msg("load failed: %s", msg);
  assert_int_equal(c.out->st->elem, LU_DOUBLE);
  assert_int_equal(c.out->dim[0], 3);
  const double want[3] = {-2, 0, 5000000000.0};
  for (long i = 0; i < 3; i++)
    assert_true(get(c.out, i) == want[i]);
  c.path = write_safetensors("short.safetensors",
                             "{\"n\":{\"dtype\":\"I64\",\"shape\":[3],"
                             "\"data_offsets\":[0,16]}}",
                             le, 16);
  msg = run(do_safetensors, &c);
  assert_non_null(msg);
  assert_non_null(strstr(msg, "of I64 needs 24"));
}

static void test_idx_show(void **state) {
  (void)state;
  LuTensor *t = make(LU_FLOAT, 2, (long[]){2, 3});
  const double v[] = {-1, -0.5, 0, 0.5, 1, NAN};
  for (int i = 0; i < 6; i++)
    set(t, i, v[i]);
  const char *path = in_dir("show.txt");
  fflush(stdout);
  int saved = dup(1);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 1);
  close(fd);
  Call c = {.t = t};
  const char *msg = run(do_show, &c);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  assert_null(msg);
  size_t n;
  char *out = (char *)read_bytes(path, &n);
  out[n] = 0;
  assert_string_equal(out, "float 2x3 min -1 max 1\n"
                           "  \u2591\u2591\u2592\u2592\n"
                           "\u2593\u2593\u2588\u2588??\n");
  unlink(path);
}

/* ---- setup ----------------------------------------------------------------
 */

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int make_dir(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/lush89-io-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
  (void)state;
  return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
  char base;
  lt_start(&base);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_idx_bytes, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_idx_round_trip, make_dir,
                                      remove_dir),
      cmocka_unit_test_setup_teardown(test_idx_strided_and_scalar, make_dir,
                                      remove_dir),
      cmocka_unit_test_setup_teardown(test_idx_sbyte_short, make_dir,
                                      remove_dir),
      cmocka_unit_test_setup_teardown(test_lush_format, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_bad_files, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_bad_gzip, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_save_failures, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_png, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_png_grid, make_dir, remove_dir),
      cmocka_unit_test(test_json_values),
      cmocka_unit_test(test_json_strings),
      cmocka_unit_test(test_json_numbers),
      cmocka_unit_test(test_json_errors),
      cmocka_unit_test(test_json_big),
      cmocka_unit_test_setup_teardown(test_idx_show, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_safetensors_i64, make_dir,
                                      remove_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
