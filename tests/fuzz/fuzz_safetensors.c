/* fuzz_safetensors.c: libFuzzer on the safetensors reader and on
   nn-import. The first byte of an input picks a plain file or one
   compressed by zlib (.safetensors.gz); the rest is the file. It must load
   or raise a Lisp error; what loads must save and load back the same
   (names, order, tensors). The same file is then given to nn-import on a
   small net with a connection table, which must import it or raise. */
#include "io_fuzz.h"

#include <stdint.h>

typedef struct {
  const char *path;
  LuNamedTensor *t;
  int n;
} Named;

static void load(void *ud) {
  Named *f = ud;
  f->t = lu_safetensors_load("fuzz", f->path, &f->n);
}

static void save(void *ud) {
  Named *f = ud;
  lu_safetensors_save("fuzz", f->path, f->t, f->n, NULL, 0);
}

/* The net nn-import reads into, made by the first call (a global root). */
static LuValue *net;

static void import(void *ud) {
  if (!net)
    net = lu_eval_string("(nn-seq '(2 6 6) (nn-conv 3 3 1 '((0 0) (1 1) "
                         "(0 2)) 0 0 'unit) (nn-linear 2))",
                         "fuzz");
  const char *path = ud;
  LuValue *argv[2] = {net, lu_string(path, strlen(path))};
  lu_apply(lu_global("nn-import"), 2, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fz_input(data, size, "x.safetensors");
  if (!path)
    return 0;
  Named in = {path, NULL, 0};
  if (fz_call(load, &in)) {
    Named out = {fz_path("y.safetensors"), in.t, in.n};
    fz_check(fz_call(save, &out));
    Named back = {out.path, NULL, 0};
    fz_check(fz_call(load, &back));
    fz_check(back.n == in.n);
    for (int i = 0; i < in.n; i++)
      fz_check(strcmp(back.t[i].name, in.t[i].name) == 0 &&
               fz_same(back.t[i].t, in.t[i].t));
  }
  fz_call(import, (void *)path);
  return 0;
}
