/* interp.h: what the interpreter's own files share and nobody else needs:
   the call-frame stack, the reader, environments, symbol iteration and
   start-up. Runtime modules use lush.h only. */
#ifndef LU_INTERP_H
#define LU_INTERP_H

#include "lush.h"

/* One frame per lu_eval of a list, linked through the C stack. form is
   the form being evaluated (for the error's location); call and fn the
   last function call this frame made (for the backtrace; a tail call
   replaces its caller). */
typedef struct LuFrame {
  struct LuFrame *up;
  LuValue *form;
  LuValue *call, *fn;
} LuFrame;

extern LuFrame *lu_frame;           /* innermost */
extern const LuBuiltin *lu_current; /* builtin being called, for messages */

/* error.c */
void lu_error_init(void *stack_base);
LuValue *lu_loc_list(const LuLoc *loc); /* (file line col) */
/* lu_error, located at `at` rather than at the form being evaluated. */
noreturn void lu_error_at(const LuLoc *at, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* read.c: reads forms from a buffer that outlives the reader. */
typedef enum { LU_READ_OK, LU_READ_EOF, LU_READ_INCOMPLETE } LuReadStatus;
typedef struct {
  const char *src;
  size_t len, pos;
  int line, col;
  const char *file;
  LuLoc start; /* where the last form read began */
} LuReader;
void lu_reader_init(LuReader *r, const char *src, size_t len, const char *file);
/* Reads the next form into *out. LU_READ_INCOMPLETE when the text ends
   inside a form (r->pos is then left at the form's start); raises on a
   syntax error. */
LuReadStatus lu_read(LuReader *r, LuValue **out);
/* lu_read, but a syntax error is not raised: it returns false with the
   error in *err; else true with the status in *st. */
bool lu_read_caught(LuReader *r, LuValue **out, LuReadStatus *st,
                    LuValue **err);
/* Evaluates a form read at top level; an atom (which carries no location
   of its own) is given the reader's, for error messages. */
LuValue *lu_eval_toplevel(LuValue *form, const LuLoc *at);
/* A permanent copy of a file name, for LuLoc. */
const char *lu_file_name(const char *name);

/* eval.c */
/* The form a closure or macro was defined by, for pretty: (de NAME
   PARAMS [DOC] BODY...), (dm ...), (defmethod CLASS NAME ...) or (lambda
   PARAMS BODY...). */
LuValue *lu_fn_source(LuValue *f);
/* A printed lambda list: "(name a b &optional c)". */
const char *lu_fn_usage(LuValue *fn);
/* A closure or macro from (PARAMS [DOC] BODY...); raises on a bad
   lambda list. */
LuValue *lu_make_fn(LuType type, LuValue *name, LuValue *rest, LuValue *env);
/* s when it is a symbol that may be bound (not t or nil); else raises
   "CALLER: WHAT must be a symbol, got S". */
LuValue *lu_check_name(LuValue *s, const char *what);
/* Sets a global and records the innermost written form as its definition
   site, for help. */
void lu_define(LuValue *name, LuValue *value);

/* list.c: the number of pairs of argument i, a proper list; else raises
   "CALLER: argument I+1: expected WHAT, got X" (a circular X is named,
   not printed). A walk that calls user code takes exactly that many steps
   with lu_car and lu_cdr, which the code cannot make crash or loop. */
long lu_arg_proper(LuValue **argv, int i, const char *expected);
/* Whether the cdrs of x loop back on themselves. */
bool lu_circular(LuValue *x);

/* help.c: the doc string of a variable. */
void lu_set_doc(LuValue *name, LuValue *doc);

/* memory.c: the bytes this process may use: the smallest of physical
   memory, its cgroup's memory limit, RLIMIT_AS and RLIMIT_DATA. */
size_t lu_memory_limit(void);

/* value.c */
void lu_value_init(void);
/* Sets aside the memory the "out of memory" error needs (again, after one
   was raised). */
void lu_memory_reserve(void);
/* A new value of the given type, its other fields zero. */
LuValue *lu_new(LuType type);
/* Visits every interned symbol. */
void lu_symbols_each(void (*fn)(LuValue *sym, void *ud), void *ud);

/* system.c: the contents of the file path as a string; raises
   "CALLER: PATH: REASON" on any error. */
LuValue *lu_read_file(const char *path);

/* repl.c */
extern const char *lu_libdir;
void lu_repl(bool banner);
/* Finds and loads the file name as `load` does, or as `libload` does
   (once) when once is set. Raises when it cannot be found. */
LuValue *lu_load_named(const char *name, bool once);

/* car and cdr that are () for anything not a pair: for walking forms
   that may be malformed. */
static inline LuValue *lu_car(LuValue *v) {
  return v->type == LU_CONS ? v->cons.car : lu_nil;
}
static inline LuValue *lu_cdr(LuValue *v) {
  return v->type == LU_CONS ? v->cons.cdr : lu_nil;
}

/* Symbols the evaluator dispatches on, interned once. */
extern LuValue *lu_s_quote, *lu_s_quasiquote, *lu_s_unquote,
    *lu_s_unquote_splicing, *lu_s_optional, *lu_s_rest, *lu_s_this, *lu_s_catch,
    *lu_s_idx_literal;

#endif
