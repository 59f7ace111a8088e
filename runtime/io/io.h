/* io.h: files. IDX and Lush matrix files (plain or gzip), PNG pictures,
   terminal pictures (idx-show) and JSON. Every function here raises a Lisp
   error naming the file and what is wrong; none leaves a half-written file. */
#ifndef LU_IO_H
#define LU_IO_H

#include "tensor.h"

/* Reads an IDX file (type codes 08 09 0B 0C 0D 0E, 0 to 8 dims) or a classic
   Lush binary matrix file; gzip when path ends in ".gz". Returns a new
   contiguous tensor: signed bytes and shorts become int. */
LuTensor *lu_io_load_matrix(const char *path);

/* Writes t (any layout) as IDX, gzip when path ends in ".gz", through a
   temporary file in the same folder renamed over path. */
void lu_io_save_matrix(const LuTensor *t, const char *path);

/* Writes a 1-D or 2-D tensor as an 8-bit grayscale PNG, values scaled from
   [range[0], range[1]] to 0..255, or from t's own min and max when range is
   NULL. Atomic like lu_io_save_matrix. */
void lu_io_save_png(const LuTensor *t, const char *path, const double *range);

/* Parses len bytes of JSON text (text[len] must be 0). Objects become hash
   tables with string keys, arrays lists, true t, false and null (). Errors
   read "json-read: NAME:LINE:COL: what". */
LuValue *lu_io_json_parse(const char *text, size_t len, const char *name);

/* Registers load-matrix, save-matrix, save-png, save-png-grid, idx-show and
   json-read. */
void lu_io_open(void);

#endif
