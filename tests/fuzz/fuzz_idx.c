/* fuzz_idx.c: libFuzzer on the matrix loaders: IDX, classic Lush matrix
   files and the gzip stream under them. The first byte of an input picks
   how the rest reaches load-matrix: as a plain file, as a .gz file taken
   as it is (a corrupt gzip stream, mostly), or compressed by zlib (the
   parsers behind a good gzip stream). Whatever loads must save as IDX and
   load back the same. */
#include "io_fuzz.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  int mode = data[0] % 3;
  const char *path = fz_path(mode == 0 ? "x.idx" : "x.idx.gz");
  fz_write(path, data + 1, size - 1, mode == 2);
  fz_matrix_round_trip(path, "y.idx");
  return 0;
}
