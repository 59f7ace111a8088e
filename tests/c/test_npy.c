/* test_npy.c: cmocka tests of NumPy .npy files (runtime/io/npy.c) against
   bytes built here by hand: the exact bytes save-matrix writes, files of
   every dtype and byte order, header versions 1 to 3, and every malformed
   header. (tests/lisp/io.lsp checks against numpy itself when it is
   installed.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "interp.h"
#include "io.h"
#include "lutest.h"

static char *dir; /* made by main, removed at the end */

/* dir/name, in a static buffer. */
static const char *in_dir(const char *name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* A .npy file: version major.0, the header dict padded with spaces and a
   newline to a multiple of 64 bytes, then n data bytes. Returns its size;
   the bytes go to out. */
static size_t npy_bytes(int major, const char *dict, const void *data, size_t n,
                        unsigned char *out) {
  size_t pre = major == 1 ? 10 : 12, len = strlen(dict);
  size_t hlen = len + 1;
  while ((pre + hlen) % 64)
    hlen++;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (unsigned char)major;
  out[7] = 0;
  for (size_t i = 0; i < pre - 8; i++)
    out[8 + i] = (unsigned char)(hlen >> (8 * i));
  memcpy(out + pre, dict, len);
  memset(out + pre + len, ' ', hlen - len - 1);
  out[pre + hlen - 1] = '\n';
  if (n) /* data may be NULL when there is none */
    memcpy(out + pre + hlen, data, n);
  return pre + hlen + n;
}

/* (load-matrix dir/name): NULL and the tensor in *t, or the error
   message. */
static const char *load_file(const char *name, LuTensor **t) {
  char src[4200];
  snprintf(src, sizeof src, "(load-matrix \"%s\")", in_dir(name));
  LuValue *err, *v = lt_try(src, &err);
  if (!v)
    return err->err->message->str.s;
  *t = v->cdata.ptr;
  return NULL;
}

/* Writes a .npy file made by npy_bytes and loads it: NULL and the tensor
   in *t, or the error message. */
static const char *load(int major, const char *dict, const void *data, size_t n,
                        LuTensor **t) {
  static unsigned char buf[1 << 16];
  size_t len = npy_bytes(major, dict, data, n, buf);
  lt_write(dir, "x.npy", (const char *)buf, len);
  return load_file("x.npy", t);
}

static LuTensor *load_ok(int major, const char *dict, const void *data,
                         size_t n) {
  LuTensor *t = NULL;
  const char *msg = load(major, dict, data, n, &t);
  if (msg)
    fail_msg("%s: %s", dict, msg);
  return t;
}

static void expect_error(const char *dict, const void *data, size_t n,
                         const char *part) {
  LuTensor *t;
  const char *msg = load(1, dict, data, n, &t);
  if (!msg)
    fail_msg("%s: no error, expected '%s'", dict, part);
  if (!strstr(msg, part) || !strstr(msg, "x.npy"))
    fail_msg("%s: error '%s' does not mention '%s' and the file", dict, msg,
             part);
}

/* The bytes of a 2x3 float tensor: numpy's header, little-endian data. */
static void test_save_bytes(void **state) {
  (void)state;
  LuTensor *t = lu_tensor_make(LU_FLOAT, 2, (long[]){2, 3}, NULL, NULL, 0);
  float *p = lu_tensor_data(t);
  for (int i = 0; i < 6; i++)
    p[i] = (float)i - 2.5f;
  lu_set_global("npy-t", lu_tensor_value(t));
  char src[4200];
  snprintf(src, sizeof src, "(save-matrix npy-t \"%s\")", in_dir("s.npy"));
  lt_eval(src);
  unsigned char want[256], data[24];
  for (int i = 0; i < 6; i++) { /* little-endian on any machine */
    uint32_t x;
    memcpy(&x, &p[i], 4);
    for (int b = 0; b < 4; b++)
      data[4 * i + b] = (unsigned char)(x >> (8 * b));
  }
  size_t n = npy_bytes(
      1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data,
      sizeof data, want);
  assert_int_equal(n, 128 + 24);
  FILE *f = fopen(in_dir("s.npy"), "rb");
  unsigned char got[256];
  assert_int_equal(fread(got, 1, sizeof got, f), n);
  fclose(f);
  assert_memory_equal(got, want, n);
}

/* Every dtype, both byte orders, versions 2 and 3, the shapes () and (N,),
   keys in any order. */
static void test_load_dtypes(void **state) {
  (void)state;
  const unsigned char be_f8[] = {0x3F, 0xF8, 0, 0, 0, 0, 0, 0,
                                 0xC0, 0,    0, 0, 0, 0, 0, 0};
  LuTensor *t =
      load_ok(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }",
              be_f8, 16);
  assert_int_equal(t->st->elem, LU_DOUBLE);
  assert_true(((double *)lu_tensor_data(t))[0] == 1.5);
  assert_true(((double *)lu_tensor_data(t))[1] == -2);

  const unsigned char le_i4[] = {0xFE, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0};
  t = load_ok(2,
              "{\"shape\": (1, 2), \"fortran_order\": False, "
              "\"descr\": \"<i4\"}",
              le_i4, 8);
  assert_int_equal(t->st->elem, LU_INT);
  assert_int_equal(t->ndim, 2);
  assert_int_equal(((int32_t *)lu_tensor_data(t))[0], -2);
  assert_int_equal(((int32_t *)lu_tensor_data(t))[1], 65536);

  const unsigned char be_i2[] = {0x80, 0x00, 0x01, 0x02};
  t = load_ok(3, "{'descr': '>i2', 'fortran_order': False, 'shape': (2L,)}",
              be_i2, 4);
  assert_int_equal(t->st->elem, LU_INT);
  assert_int_equal(((int32_t *)lu_tensor_data(t))[0], -32768);
  assert_int_equal(((int32_t *)lu_tensor_data(t))[1], 258);

  const unsigned char i1[] = {0xFF, 0x7F}, u1[] = {0xFF, 0x7F};
  t = load_ok(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }",
              i1, 2);
  assert_int_equal(((int32_t *)lu_tensor_data(t))[0], -1);
  t = load_ok(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2)}",
              u1, 2);
  assert_int_equal(t->st->elem, LU_UBYTE);
  assert_int_equal(((unsigned char *)lu_tensor_data(t))[0], 255);

  const unsigned char le_f4[] = {0, 0, 0x50, 0x40}; /* 3.25 */
  t = load_ok(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
              le_f4, 4);
  assert_int_equal(t->ndim, 0);
  assert_true(((float *)lu_tensor_data(t))[0] == 3.25f);
  t = load_ok(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3)}",
              NULL, 0);
  assert_int_equal(t->dim[0], 0);
  assert_int_equal(t->dim[1], 3);
}

static void test_bad_files(void **state) {
  (void)state;
  const unsigned char z[64] = {0};
  expect_error("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", z, 8,
               "Fortran order");
  expect_error("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", z,
               16, "dtype '<i8' is not supported");
  expect_error("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", z,
               8, "dtype '|f4'");
  expect_error("{'descr': [('a', '<f4')], 'fortran_order': False, "
               "'shape': (2,), }",
               z, 8, "expected a quoted string");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", z,
               7, "truncated");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", z,
               9, "trailing garbage");
  expect_error("{'descr': '<f4', 'fortran_order': False}", z, 4,
               "missing key 'shape'");
  expect_error("{'descr': '<f4', 'descr': '<f4'}", z, 4, "repeated key");
  expect_error("{'dtype': '<f4'}", z, 4, "unknown key 'dtype'");
  expect_error("{'descr': '<f4', 'fortran_order': Maybe, 'shape': ()}", z, 4,
               "neither True nor False");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", z, 4,
               "not a tuple of integers");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': "
               "(1,1,1,1,1,1,1,1,1)}",
               z, 4, "more than 8 dimensions");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': "
               "(99999999999999999999,)}",
               z, 4, "overflows");
  expect_error("{'descr': '<f8', 'fortran_order': False, 'shape': "
               "(4294967296, 4294967296)}",
               z, 4, "overflow");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", z,
               8, "text after the dict");
  expect_error("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", z, 8,
               "expected '}'");
  expect_error("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", z, 8,
               "expected ':'");

  /* the magic, the version and the header length */
  const struct {
    const char *bytes;
    size_t n;
    const char *what;
  } files[] = {
      {"\x93NUMPX\x01\x00\x00\x00", 10, "not a .npy file"},
      {"\x93NUMPY\x04\x00\x00\x00", 10, "version 4.0"},
      {"\x93NUMPY\x02\x00\xFF\xFF\xFF\x7F{", 13, "header of 2147483647 bytes"},
      {"\x93NUMPY\x01\x00\x40\x00{'descr'", 17, "truncated header"},
  };
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    lt_write(dir, "x.npy", files[i].bytes, files[i].n);
    LuTensor *t;
    lt_assert_contains(load_file("x.npy", &t), files[i].what);
  }
}

int main(void) {
  char base;
  lt_start(&base);
  dir = lt_tempdir();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_save_bytes),
      cmocka_unit_test(test_load_dtypes),
      cmocka_unit_test(test_bad_files),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  lt_rmtree(dir);
  return failed;
}
