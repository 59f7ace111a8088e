/* fuzz_npy.c: libFuzzer on the NumPy .npy loader: the header dict, dtypes,
   shapes and the data after them. The first byte of an input picks a plain
   .npy file or one compressed by zlib (.npy.gz). Whatever loads must save
   as .npy and load back the same. */
#include "io_fuzz.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  bool gz = data[0] & 1;
  const char *path = fz_path(gz ? "x.npy.gz" : "x.npy");
  fz_write(path, data + 1, size - 1, gz);
  fz_matrix_round_trip(path, "y.npy");
  return 0;
}
