/* fuzz_npy.c: libFuzzer on the NumPy .npy loader: the header dict, dtypes,
   shapes and the data after them. The first byte of an input picks a plain
   .npy file or one compressed by zlib (.npy.gz). Whatever loads must save
   as .npy and load back the same. */
#include "io_fuzz.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fz_input(data, size, "x.npy");
  if (path)
    fz_matrix_round_trip(path, "y.npy");
  return 0;
}
