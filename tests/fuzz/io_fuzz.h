/* io_fuzz.h: what the file-format fuzzers (fuzz_idx, fuzz_npy, fuzz_json,
   fuzz_png) share, included once by each: starting the interpreter once, a
   private folder for the files they write (on tmpfs when there is one: saves
   sync), and running a call under lu_pcall. A Lisp error is a fine outcome for
   any input; a crash, a hang, a sanitizer report or a failed fz_check is a
   finding. Every helper is static inline: each harness uses a subset. */
#ifndef IO_FUZZ_H
#define IO_FUZZ_H

#include <fcntl.h>
#include <gc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "init.h"
#include "interp.h"
#include "io.h"

static char fz_dir[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libFuzzer's start-up hook: starts the interpreter (lib/ from the top of
   the tree), makes the folder, and sends standard output (idx-show's
   pictures) to /dev/null. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  char base;
  GC_INIT();
  lu_error_init(&base);
  lu_init_in_tree();
  const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(fz_dir, sizeof fz_dir, "%s/lush89-fuzz-XXXXXX", tmp);
  if (!mkdtemp(fz_dir))
    abort();
  int null = open("/dev/null", O_WRONLY);
  dup2(null, 1);
  close(null);
  return 0;
}

/* dir/name, in a static buffer (one of four, used in turn). */
static inline const char *fz_path(const char *name) {
  static char paths[4][128];
  static int next;
  char *p = paths[next++ % 4];
  snprintf(p, sizeof paths[0], "%s/%s", fz_dir, name);
  return p;
}

/* Writes n bytes to path: as they are, or compressed by zlib when gz. */
static inline void fz_write(const char *path, const void *data, size_t n,
                            bool gz) {
  if (gz) {
    gzFile g = gzopen(path, "wb");
    if (!g || (n > 0 && gzwrite(g, data, (unsigned)n) != (int)n) ||
        gzclose(g) != Z_OK)
      abort();
    return;
  }
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0)
    abort();
}

/* The input after its first byte as the file fz_path(name): as it is, or
   compressed by zlib into name.gz when bit 0 of the first byte is set. NULL
   for an empty input. */
static inline const char *fz_input(const uint8_t *data, size_t size,
                                   const char *name) {
  if (size == 0)
    return NULL;
  bool gz = data[0] & 1;
  char file[64];
  snprintf(file, sizeof file, "%s%s", name, gz ? ".gz" : "");
  const char *path = fz_path(file);
  fz_write(path, data + 1, size - 1, gz);
  return path;
}

/* Runs fn(ud) under lu_pcall; true when it returned without an error. */
static inline bool fz_call(void (*fn)(void *), void *ud) {
  LuValue *err = NULL;
  return lu_pcall(fn, ud, &err);
}

/* A broken promise of the code under test: reported as a crash. */
#define fz_check(cond)                                                         \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fz_check failed: %s (%s:%d)\n", #cond, __FILE__,        \
              __LINE__);                                                       \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* True when a and b have the same type, shape and elements (bit for bit:
   NaNs too). Both contiguous. */
static inline bool fz_same(const LuTensor *a, const LuTensor *b) {
  if (a->st->elem != b->st->elem || a->ndim != b->ndim)
    return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->dim[i] != b->dim[i])
      return false;
  size_t n = (size_t)lu_tensor_nelem(a) * lu_elem_size(a->st->elem);
  return n == 0 || memcmp(lu_tensor_data(a), lu_tensor_data(b), n) == 0;
}

typedef struct {
  const char *path;
  const LuTensor *t;
  LuTensor *out;
} FzMatrix;

static inline void fz_load(void *ud) {
  FzMatrix *m = ud;
  m->out = lu_matrix_load(m->path);
}

static inline void fz_save(void *ud) {
  FzMatrix *m = ud;
  lu_matrix_save(m->t, m->path);
}

/* Loads path with load-matrix; what loads must save to again (a name of
   the same format) and load back the same. */
static inline void fz_matrix_round_trip(const char *path, const char *again) {
  FzMatrix in = {path, NULL, NULL};
  if (!fz_call(fz_load, &in))
    return;
  FzMatrix out = {fz_path(again), in.out, NULL};
  fz_check(fz_call(fz_save, &out));
  FzMatrix back = {out.path, NULL, NULL};
  fz_check(fz_call(fz_load, &back));
  fz_check(fz_same(in.out, back.out));
}

#endif
