/* io.h: files. io.c owns streams (reading plain or gzip files) and the one
   atomic save that every writer goes through, with write-file; then one
   file per format, each registering its own builtins: matrix.c (IDX and
   classic Lush matrices, load-matrix and save-matrix, and the table of
   other matrix formats chosen by extension), npy.c (NumPy .npy),
   safetensors.c (named tensors in safetensors files), picture.c
   (PNG, picture grids, idx-show) and json.c (json-read). Every function here
   raises a Lisp error naming the file and what is wrong, and no save damages
   what was at its path. */
#ifndef LU_IO_H
#define LU_IO_H

#include <stdio.h>
#include <zlib.h>

#include "tensor.h"

/* ---- Streams and the atomic save (io.c) ------------------------------- */

/* An open input file: plain, or gzip when its name ends in .gz. */
typedef struct {
  const char *who, *path;
  FILE *f; /* exactly one of f and gz is set */
  gzFile gz;
  bool exact;   /* size is the real size (a plain regular file) */
  size_t size;  /* the file's size; for gzip, an estimate of the content's */
  size_t limit; /* the most content the file can hold (for gzip, deflate's
                   1032 bytes a byte): a header asking for more is refused
                   before anything is allocated */
} LuSource;

/* Reads n bytes into dst, fewer only at the end of the content. Raises on
   a read error or a truncated or corrupt gzip stream; polls for Ctrl-C. */
size_t lu_io_read(LuSource *s, void *dst, size_t n);

/* Opens path (gzip when it ends in .gz) and runs body(source, ud) on it;
   the file is closed whatever happens, then body's error (or "WHO: PATH:
   reason" for a file that cannot be opened) propagates. */
typedef void (*LuReadBody)(LuSource *s, void *ud);
void lu_io_with_source(const char *who, const char *path, LuReadBody body,
                       void *ud);

/* The whole content of path (decompressed when it ends in .gz) in GC
   memory with a 0 byte after the last one; *len gets the size. */
unsigned char *lu_io_read_all(const char *who, const char *path, size_t *len);

/* An output stream into a save's temporary file. */
typedef struct {
  FILE *f; /* exactly one of f and gz is set */
  gzFile gz;
  const char *who, *path;
} LuSink;

/* Writes n bytes; false on failure, then lu_io_sink_why tells why. */
bool lu_io_sink_put(LuSink *s, const void *p, size_t n);
const char *lu_io_sink_why(LuSink *s);
/* Writes n bytes; raises "WHO: PATH: write failed: why". */
void lu_io_sink_write(LuSink *s, const void *p, size_t n);

/* Saves path atomically: body(sink, ud) writes the content (gzip when gz)
   into a temporary file beside the file path names (through symbolic
   links, which stay links), which is synced and renamed over it, and the
   folder synced. The file keeps its mode; a path that is not a regular
   file (a folder, FIFO or device) is refused. body may raise, and Ctrl-C
   may strike: path is then untouched and no temporary file is left.
   Temporary files are named ".NAME.lush89-tmp.PID.XXXXXX"; those of dead
   processes are removed by the next save to the same path. */
typedef void (*LuWriteBody)(LuSink *s, void *ud);
void lu_io_save(const char *who, const char *path, bool gz, LuWriteBody body,
                void *ud);

bool lu_io_ends_with(const char *s, const char *suffix);
/* "60000x28x28"; "scalar" for 0 dims. */
const char *lu_io_dims_text(int ndim, const long *dim);

/* Registers write-file. */
void lu_io_open(void);

/* ---- Matrices (matrix.c) --------------------------------------------- */

/* IDX element type codes. */
#define LU_IDX_UBYTE 0x08
#define LU_IDX_SBYTE 0x09
#define LU_IDX_SHORT 0x0B
#define LU_IDX_INT 0x0C
#define LU_IDX_FLOAT 0x0D
#define LU_IDX_DOUBLE 0x0E

/* What a matrix file's header says, in IDX terms. */
typedef struct {
  int code;  /* IDX type code of the elements as stored */
  bool swap; /* stored in the byte order other than the machine's */
  int ndim;
  long dim[LU_MAXDIM];
  size_t data; /* bytes before the data */
} LuMatrixHeader;

/* Reads the data that follows header h into a new contiguous tensor
   (signed bytes and shorts become int); pending holds the first npending
   (at most 64K) data bytes, read with the header. Checks that the dims'
   product and byte size do not overflow and that the file has (plain) or
   can hold (gzip) that much data before allocating; raises on truncated
   data or trailing bytes, reading at most 64K past the end. */
LuTensor *lu_matrix_read_data(LuSource *s, const LuMatrixHeader *h,
                              const unsigned char *pending, size_t npending);

/* Writes the header head (n bytes), then t's elements in row-major order,
   little-endian when little, else big-endian. Polls. */
void lu_matrix_write_data(LuSink *s, const LuTensor *t, bool little,
                          const void *head, size_t n);

/* A matrix file format other than IDX, chosen by the file's extension. */
typedef struct {
  const char *suffix; /* ".npy"; SUFFIX.gz matches too */
  LuTensor *(*load)(const char *path);
  void (*save)(const LuTensor *t, const char *path);
} LuMatrixFormat;

/* Adds a format to the table load-matrix and save-matrix consult. */
void lu_matrix_add_format(const LuMatrixFormat *format);

/* Reads a matrix file: a registered format by extension, otherwise IDX
   (type codes 08 09 0B 0C 0D 0E, 0 to 8 dims) or a classic Lush binary
   matrix; gzip when path ends in ".gz". Returns a new contiguous tensor:
   signed bytes and shorts become int. */
LuTensor *lu_matrix_load(const char *path);

/* Writes t (any layout): a registered format by extension, otherwise IDX;
   gzip when path ends in ".gz". Atomic (lu_io_save). */
void lu_matrix_save(const LuTensor *t, const char *path);

/* Registers load-matrix and save-matrix. */
void lu_matrix_open(void);

/* ---- NumPy .npy (npy.c) ---------------------------------------------- */

/* Reads a .npy file (versions 1 to 3, C order, dtypes f4, f8, i4, u1, i1
   and i2 in either byte order; i1 and i2 load as int). */
LuTensor *lu_npy_load(const char *path);
/* Writes t as a version 1.0 .npy file: little-endian, C order. Atomic. */
void lu_npy_save(const LuTensor *t, const char *path);
/* Adds .npy (and .npy.gz) to the matrix formats. */
void lu_npy_open(void);

/* ---- Named tensors in safetensors files (safetensors.c) ------------- */

typedef struct {
  const char *name;
  LuTensor *t;
} LuNamedTensor;

/* Writes the n tensors t (float, double, int or ubyte; any layout) under
   their names, which must differ, and the nmeta metadata pairs meta[2 i]
   -> meta[2 i + 1] (strings), as the safetensors file path (gzip when it
   ends in .gz). Atomic (lu_io_save); raises "WHO: PATH: ...". */
void lu_safetensors_save(const char *who, const char *path,
                         const LuNamedTensor *t, int n, const char *const *meta,
                         int nmeta);
/* Reads a safetensors file (dtypes F32, F64, I32, U8): its tensors, new
   and contiguous, in the order of their data, *n of them. Any defect
   (header, dtype, shape, offsets that leave holes, overlap or run past
   the data) raises "WHO: PATH: ..." naming the tensor. */
LuNamedTensor *lu_safetensors_load(const char *who, const char *path, int *n);
/* Registers save-safetensors and load-safetensors. */
void lu_safetensors_open(void);

/* ---- Pictures (picture.c) -------------------------------------------- */

/* Writes a 1-D or 2-D tensor as an 8-bit grayscale PNG, values scaled from
   [range[0], range[1]] to 0..255, or from t's own min and max when range is
   NULL. Atomic (lu_io_save). */
void lu_picture_save_png(const LuTensor *t, const char *path,
                         const double *range);

/* Registers save-png, save-png-grid and idx-show. */
void lu_picture_open(void);

/* ---- JSON (json.c) --------------------------------------------------- */

/* Parses len bytes of JSON text (text[len] must be 0). Objects become hash
   tables with string keys, arrays lists, true t, false and null (). Errors
   read "json-read: NAME:LINE:COL: what". */
LuValue *lu_json_parse(const char *text, size_t len, const char *name);

/* Registers json-read. */
void lu_json_open(void);

#endif
