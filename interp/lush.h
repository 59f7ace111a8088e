/* lush.h: the one public header of the lush89 interpreter. Values, builtins,
   errors, evaluation. Runtime modules (runtime/) include only this header and
   reach the interpreter through it; the interpreter reaches them only through
   their lu_<module>_open functions. */
#ifndef LUSH_H
#define LUSH_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

/* ---- Values ---------------------------------------------------------- */

typedef enum {
  LU_NIL,     /* (): false and the empty list; the single value lu_nil */
  LU_NUMBER,  /* a C double */
  LU_STRING,  /* immutable bytes, NUL-terminated for C's sake */
  LU_SYMBOL,  /* interned; holds its global value */
  LU_CONS,    /* a pair; reader-made pairs carry their source location */
  LU_BUILTIN, /* a C function or special form, see LuBuiltin */
  LU_CLOSURE, /* lambda or de */
  LU_MACRO,   /* dm: called with unevaluated forms, result evaluated */
  LU_CLASS,   /* defclass */
  LU_OBJECT,  /* an instance of a class */
  LU_HASH,    /* hash table, keys compared with equal */
  LU_ERROR,   /* a caught error: message, location, backtrace */
  LU_CDATA,   /* a C-backed value (tensor, net, file...), see LuCType */
  LU_ENV,     /* a lexical environment: one binding and the rest */
} LuType;

typedef struct LuValue LuValue;
typedef struct LuBuf LuBuf;

/* Where a form was read. */
typedef struct {
  const char *file;
  int line, col;
} LuLoc;

/* A type implemented in C follows one template: a name for messages, a
   printer, and optional hooks. */
typedef struct LuCType {
  const char *name; /* as in "expected tensor, got 3" */
  void (*print)(LuBuf *b, LuValue *v, bool readably);
  /* (v args...): called when the value is in function position, or NULL */
  LuValue *(*call)(LuValue *v, LuValue **argv, int argc);
  /* structural equality for `equal`, or NULL for identity */
  bool (*equal)(LuValue *a, LuValue *b);
} LuCType;

typedef LuValue *(*LuCFunc)(LuValue **argv, int argc);
/* A special form gets its unevaluated argument list and the environment.
   It either returns a value, or stores a form in *tail and returns NULL:
   the evaluator then evaluates *tail in *env without growing the C stack. */
typedef LuValue *(*LuSpecialFunc)(LuValue *args, LuValue **env, LuValue **tail);

/* A builtin's registration record. The usage line is the one source of its
   name and arity: "(idx-add A B [OUT])" means name idx-add, 2 to 3
   arguments; an argument ending in "..." takes any number. */
typedef struct LuBuiltin {
  const char *usage;
  const char *doc;
  LuCFunc fn; /* exactly one of fn and special is set */
  LuSpecialFunc special;
  const char *file;
  int line;
  /* filled in by lu_register from usage */
  const char *name;
  int min, max; /* max -1: any number */
} LuBuiltin;

struct LuFn;
struct LuCode;
struct LuErr;
struct LuClass;
struct LuObject;

struct LuValue {
  LuType type;
  unsigned flags; /* LU_ENV_CAPTURED */
  union {
    double num;
    struct {
      const char *s;
      size_t len;
    } str;
    struct {
      const char *name;
      LuValue *value; /* global value, or NULL when unbound */
      LuValue *where; /* definition site for help: (file line col), or () */
    } sym;
    struct {
      LuValue *car, *cdr;
      const LuLoc *loc; /* NULL for pairs not made by the reader */
    } cons;
    LuBuiltin *builtin;
    struct LuFn *fn; /* LU_CLOSURE and LU_MACRO */
    struct LuClass *klass;
    struct LuObject *obj;
    struct LuHash *hash;
    struct LuErr *err;
    struct {
      const LuCType *ctype;
      void *ptr;
    } cdata;
    struct {
      LuValue *sym;   /* NULL in a method's object frame... */
      LuValue *value; /* ...whose value is then the object */
      LuValue *next;  /* an LU_ENV, or () for the global scope */
    } env;
  };
};

struct LuFn {
  LuValue *name;       /* a symbol, or () for an anonymous lambda */
  LuValue *params;     /* the lambda list as written */
  LuValue *body;       /* list of forms; a leading doc string removed */
  LuValue *doc;        /* string or () */
  LuValue *env;        /* captured lexical environment */
  LuValue *klass;      /* for methods: the class; else () */
  struct LuCode *code; /* parsed and compiled (interp/code.h) */
};

struct LuErr {
  LuValue *message; /* string */
  LuValue *where;   /* (file line col) of the innermost form, or () */
  LuValue *trace;   /* list of strings, innermost call first */
  bool is_break;    /* Ctrl-C: try does not catch it */
};

struct LuClass {
  LuValue *name;          /* symbol */
  LuValue *super;         /* LU_CLASS value or () */
  int nslots;             /* including inherited slots, which come first */
  LuValue **slots;        /* slot names (symbols) */
  LuValue **inits;        /* default forms, evaluated at (new ...) */
  struct LuHash *methods; /* symbol -> closure */
};

struct LuObject {
  LuValue *klass;  /* LU_CLASS value */
  LuValue **slots; /* nslots values */
};

/* An environment node some closure holds: loops must not reuse it. */
#define LU_ENV_CAPTURED 2u

extern LuValue *const lu_nil;
extern LuValue *lu_t;

#define LU_TYPE(v) ((v)->type)
#define LU_IS(v, t) ((v)->type == (t))
#define LU_ISNIL(v) ((v) == lu_nil)
#define LU_CAR(v) ((v)->cons.car)
#define LU_CDR(v) ((v)->cons.cdr)
#define LU_NUM(v) ((v)->num)
#define LU_BOOL(c) ((c) ? lu_t : lu_nil)

/* Constructors. All allocate with Boehm GC and never return NULL. */
LuValue *lu_number(double x);
LuValue *lu_string(const char *s, size_t len);
LuValue *lu_cstring(const char *s);
LuValue *lu_intern(const char *name);
LuValue *lu_cons(LuValue *car, LuValue *cdr);
LuValue *lu_cons_at(LuValue *car, LuValue *cdr, const LuLoc *loc);
LuValue *lu_cdata(const LuCType *ctype, void *ptr);
LuValue *lu_list(int n, ...);
/* Reverses a freshly consed list in place. */
LuValue *lu_nreverse(LuValue *list);
long lu_length(LuValue *list); /* raises on an improper list */

/* Symbols' global values. */
LuValue *lu_global(const char *name); /* NULL when unbound */
void lu_set_global(const char *name, LuValue *value);

/* Hash tables: keys compared with lu_equal. */
LuValue *lu_hash_new(void);
LuValue *lu_hash_get(LuValue *h, LuValue *key); /* NULL when absent */
void lu_hash_set(LuValue *h, LuValue *key, LuValue *value);
bool lu_hash_remove(LuValue *h, LuValue *key);
size_t lu_hash_count(LuValue *h);
/* Visits entries in insertion order; fn returns false to stop. */
void lu_hash_each(LuValue *h, bool (*fn)(LuValue *k, LuValue *v, void *ud),
                  void *ud);

bool lu_equal(LuValue *a, LuValue *b);
const char *lu_type_name(LuValue *v); /* "number", "tensor", ... */

/* ---- Memory ---------------------------------------------------------- */

/* GC-managed memory, zeroed, may hold pointers. Raises when the size is
   more than the machine can give. */
void *lu_alloc(size_t n);
/* GC-managed memory that holds no pointers, NOT zeroed. Raises with
   "WHO: 4.0 TB requested" when the size is more than the machine can give. */
void *lu_alloc_atomic(size_t n, const char *who);

/* ---- Text ------------------------------------------------------------ */

struct LuBuf {
  char *s;
  size_t len, cap;
};
void lu_buf_init(LuBuf *b);
void lu_buf_add(LuBuf *b, const char *s, size_t n);
void lu_buf_puts(LuBuf *b, const char *s);
void lu_buf_printf(LuBuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends v's printed form; readably: strings quoted as `read` reads them. */
void lu_print_to(LuBuf *b, LuValue *v, bool readably);
/* Returns v's printed form as a GC string. */
const char *lu_repr(LuValue *v, bool readably);
/* v printed readably, cut to about max characters (for messages; safe on
   circular lists). */
const char *lu_repr_limit(LuValue *v, size_t max);
/* Appends the shortest text that reads back to the same double. */
void lu_print_number(LuBuf *b, double x);

/* ---- Builtins -------------------------------------------------------- */

/* Defines a builtin C function `cname` with its usage line and doc string,
   and its registration record `cname_builtin`. The body sees argv, argc;
   arity was checked against the usage line before the call. */
#define LU_DEFUN(cname, usage, doc)                                            \
  static LuValue *cname(LuValue **argv, int argc);                             \
  static LuBuiltin cname##_builtin = {usage,    doc,  cname, NULL, __FILE__,   \
                                      __LINE__, NULL, 0,     0};               \
  static LuValue *cname(LuValue **argv, __attribute__((unused)) int argc)

/* Defines a special form; see LuSpecialFunc. Its parameters are args,
   env and tail. */
#define LU_DEFSPECIAL(cname, usage, doc)                                       \
  static LuValue *cname(LuValue *args, LuValue **env, LuValue **tail);         \
  static LuBuiltin cname##_builtin = {usage,    doc,  NULL, cname, __FILE__,   \
                                      __LINE__, NULL, 0,    0};                \
  static LuValue *cname(LuValue *args, __attribute__((unused)) LuValue **env,  \
                        __attribute__((unused)) LuValue **tail)

/* Binds every builtin of a NULL-terminated table to its name. */
void lu_register(LuBuiltin *const *table);

/* The Lisp name of the builtin being called, for messages. */
const char *lu_caller(void);

/* Argument checkers, i counting from 0. Each raises
   "NAME: argument I+1: expected WHAT, got VALUE". */
noreturn void lu_arg_error(int i, const char *expected, LuValue *got);
double lu_arg_num(LuValue **argv, int i);
long lu_arg_int(LuValue **argv, int i); /* an integral number */
const char *lu_arg_str(LuValue **argv, int i);
LuValue *lu_arg_sym(LuValue **argv, int i);
LuValue *lu_arg_list(LuValue **argv, int i); /* () or a pair */
LuValue *lu_arg_type(LuValue **argv, int i, LuType type);
void *lu_arg_cdata(LuValue **argv, int i, const LuCType *ctype);
/* True when argument i exists and is not (): for optional arguments. */
bool lu_arg_given(LuValue **argv, int argc, int i);

/* ---- Errors ---------------------------------------------------------- */

/* Raises a Lisp error with a printf-style message. The location of the
   innermost form being evaluated and the backtrace are captured here,
   before unwinding. */
noreturn void lu_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
noreturn void lu_verror(const char *fmt, va_list ap);
/* Raises an error value again (after cleanup, or from a handler). */
noreturn void lu_rethrow(LuValue *err);

/* Runs fn(ud). Returns true on success; on a Lisp error returns false and
   stores the error value in *err. Every entry from C into Lisp that must
   survive an error goes through here. */
bool lu_pcall(void (*fn)(void *ud), void *ud, LuValue **err);

/* Prints "FILE:LINE:COL: error: MESSAGE" and the backtrace to stderr, or
   "*** Break" for Ctrl-C. */
void lu_report(LuValue *err);

/* Ctrl-C: the SIGINT handler only sets this flag. Evaluation and long
   runtime loops poll it with lu_poll(), which raises "*** Break". */
extern volatile sig_atomic_t lu_interrupted;
noreturn void lu_break(void);
static inline void lu_poll(void) {
  if (lu_interrupted)
    lu_break();
}

/* Raises "recursion too deep" when the C stack is nearly used up. Inline:
   the evaluator checks on every call. */
extern char *lu_stack_limit;
noreturn void lu_stack_overflow(void);
static inline void lu_check_stack(void) {
  char here;
  if (&here < lu_stack_limit)
    lu_stack_overflow();
}

/* ---- Evaluation ------------------------------------------------------ */

/* env is () for the global scope, or what lu_env_bind returns. */
LuValue *lu_eval(LuValue *form, LuValue *env);
/* env extended with sym bound to value (one allocation). */
LuValue *lu_env_bind(LuValue *env, LuValue *sym, LuValue *value);
LuValue *lu_apply(LuValue *fn, int argc, LuValue **argv);
/* (==> obj method args...) from C. */
LuValue *lu_send(LuValue *obj, LuValue *method, int argc, LuValue **argv);
/* True when obj (an object) has a method named method. */
bool lu_responds(LuValue *obj, LuValue *method);

/* Reads and evaluates every form of a file or a string; raises on error.
   Returns the last value. */
LuValue *lu_load_file(const char *path);
LuValue *lu_eval_string(const char *src, const char *file);

/* ---- Random numbers -------------------------------------------------- */

/* One generator for all of lush89 (PCG32), seeded by (seed N): the same
   seed gives the same numbers on every machine. */
void lu_seed(uint64_t seed);
uint32_t lu_rand_u32(void);
double lu_rand_uniform(void); /* [0, 1), 53 bits */
double lu_rand_normal(void);  /* mean 0, variance 1 */

/* ---- Library openers: each registers one module's builtins ----------- */

void lu_core_open(void);   /* interp/eval.c: special forms, apply, eval */
void lu_object_open(void); /* interp/object.c */
void lu_list_open(void);   /* interp/list.c */
void lu_string_open(void); /* interp/string.c: strings, printf, sprintf */
void lu_number_open(void); /* interp/number.c: arithmetic, math, seed, rand */
void lu_hash_open(void);   /* interp/hash.c */
void lu_system_open(void); /* interp/system.c: print, files, sys, getenv */
void lu_help_open(void);   /* interp/help.c */
void lu_repl_open(void);   /* interp/repl.c: load, libload */

#endif
