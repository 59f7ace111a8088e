/* code.h: compiled code, shared by the compiler (compile.c), the special
   forms (special.c) and the evaluator (eval.c). A form is analysed once
   into a tree of nodes, each a C function and its operands: variables are
   resolved to a place in the environment chain or to the global's cell,
   special forms are dispatched and macros expanded at that time, and
   running the tree reads no symbol names. */
#ifndef LU_CODE_H
#define LU_CODE_H

#include <string.h>

#include "interp.h"

/* Each Lisp call nests a few node functions on the C stack, so their
   frames bound the depth of recursion: gcc would otherwise store a frame's
   four words as one 32-byte vector and realign the whole stack frame for
   it. */
#if defined(__GNUC__) && !defined(__clang__)
#define LU_CODE_FRAMES _Pragma("GCC optimize(\"no-tree-slp-vectorize\")")
#else
#define LU_CODE_FRAMES
#endif

typedef struct LuNode LuNode;
typedef LuValue *(*LuOp)(LuNode *n, LuValue *env);

/* Every node starts with this header. form is the innermost list form the
   node belongs to: its location is the error's. */
struct LuNode {
  LuOp op;
  LuValue *form;
};

static inline LuValue *lu_run(LuNode *n, LuValue *env) {
  return n->op(n, env);
}

/* Numbers inside compiled code need no allocation: a double whose
   exponent is in the middle of the range (magnitudes 2^-255 to 2^256, 0
   excepted) travels in the pointer itself, tagged 2 in its low bits,
   which no LuValue pointer has; its two dropped exponent bits are
   implied by the third. The collector sees an odd-looking integer, never
   a hidden pointer. Immediates stay inside compiled code: a value going
   anywhere else (a builtin's argument, a global, a slot, a list, the
   result of lu_eval or lu_apply) goes through lu_box. */
#define LU_IMM_TAG 2u
extern LuValue *const lu_zero; /* value.c: the number 0, made once */
_Static_assert(sizeof(uintptr_t) == 8, "immediates need 64-bit pointers");

static inline bool lu_imm_p(LuValue *v) {
  return (uintptr_t)v & LU_IMM_TAG;
}

static inline LuValue *lu_imm(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  unsigned top = (unsigned)(b >> 60) & 7;
  if (top != 3 && top != 4)
    return b == 0 ? lu_zero : lu_number(x);
  uint64_t low = b & ((UINT64_C(1) << 61) - 1);
  return (LuValue *)(uintptr_t)((b & (UINT64_C(1) << 63)) | low << 2 |
                                LU_IMM_TAG);
}

static inline double lu_imm_value(LuValue *v) {
  uint64_t p = (uintptr_t)v, low = (p >> 2) & ((UINT64_C(1) << 61) - 1);
  uint64_t b60 = low >> 60;
  uint64_t b = (p & (UINT64_C(1) << 63)) | (b60 ^ 1) << 62 | b60 << 61 | low;
  double x;
  memcpy(&x, &b, sizeof x);
  return x;
}

/* A value as the rest of the interpreter may see it. */
static inline LuValue *lu_box(LuValue *v) {
  return lu_imm_p(v) ? lu_number(lu_imm_value(v)) : v;
}

static inline bool lu_num_p(LuValue *v) {
  return lu_imm_p(v) || LU_IS(v, LU_NUMBER);
}

static inline double lu_num_of(LuValue *v) {
  return lu_imm_p(v) ? lu_imm_value(v) : LU_NUM(v);
}

/* LU_IS for values that may be immediate. */
static inline bool lu_is(LuValue *v, LuType t) {
  return !lu_imm_p(v) && LU_IS(v, t);
}

/* What the compiler knows of the environment at a point of the code: one
   entry per LU_ENV node the code will find there, innermost first. A
   method's object frame has sym NULL and the class whose slots it holds. */
typedef struct LuScope {
  LuValue *sym;
  LuValue *klass;
  struct LuScope *next;
} LuScope;

/* A closure's code: its lambda list parsed and its body compiled, on its
   first call, again after a macro or special form was redefined (epoch).
   Closures made by one lambda form share it. */
typedef struct LuCode {
  LuValue *params, *body; /* as written */
  LuScope *scope;         /* where the lambda form was: the closure's env */
  unsigned epoch;         /* lu_epoch when compiled; 0: not yet */
  int nreq, nopt;
  bool rest;
  LuValue *doc;            /* the leading doc string, or () */
  LuValue **syms;          /* nreq + nopt (+ 1 when rest) parameter names */
  LuValue **default_forms; /* nopt forms, NULL where none was given */
  LuNode **defaults;       /* the same, compiled */
  LuNode *run;             /* the body, in tail position */
} LuCode;

/* Changes whenever a global that holds a macro or special form is set:
   compiled closures then compile again, expanding the new definitions. */
extern unsigned lu_epoch;

/* A tail call returns this after storing its callee and arguments; the
   caller's call loop makes the call, so tail calls use no C stack. */
extern LuValue lu_tail_marker;
#define LU_TAILCALL (&lu_tail_marker)
void lu_tail_store(LuValue *f, LuValue *form, LuValue *call, int argc,
                   LuValue **argv);

/* compile.c */
LuNode *lu_compile(LuValue *form, LuScope *s, bool tail);
/* The forms of body as one node (progn); form is for messages. */
LuNode *lu_compile_body(LuValue *body, LuScope *s, bool tail, LuValue *form);
LuScope *lu_scope_bind(LuScope *s, LuValue *sym);
LuScope *lu_scope_of_env(LuValue *env);
/* The elements of a proper list as a GC array, *n of them; raises
   "CALLER: WHAT is a circular list" or "... ends in a dot". */
LuValue **lu_form_items(LuValue *list, long *n, const char *what);
/* The same, a dotted list's last cdr stored in *dot (() for a proper
   list) instead of raising. */
LuValue **lu_list_items(LuValue *list, long *n, LuValue **dot,
                        const char *what);
/* A node over n forms: a body, and, or, prog1... */
typedef struct {
  LuNode h;
  long n;
  LuNode **forms;
} LuForms;
/* items compiled in s, the last in tail position when tail. */
LuNode **lu_compile_all(LuValue **items, long n, LuScope *s, bool tail);
/* One node running nodes in turn, the value of the last (() for none). */
LuNode *lu_node_seq(LuNode **nodes, long n, LuValue *form);
/* A node that reads or sets sym in scope s. */
LuNode *lu_compile_ref(LuValue *sym, LuScope *s, LuValue *form);
LuNode *lu_compile_set(LuValue *sym, LuScope *s, LuNode *value, LuValue *form);
/* The cell of a variable node (a local, slot or global reference) in env;
   NULL when n is not one. *local says whether it may hold immediates. */
LuValue **lu_ref_cell(LuNode *n, LuValue *env, bool *local);
LuNode *lu_node_const(LuValue *v, LuValue *form);
void *lu_node_new(size_t size, LuOp op, LuValue *form);
/* lu_error located at n's form. */
noreturn void lu_node_error(LuNode *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* special.c: the compiler of special form b, or NULL. */
typedef LuNode *(*LuCompileFn)(LuValue *form, LuScope *s, bool tail);
LuCompileFn lu_special_compiler(const LuBuiltin *b);
void lu_special_open(void);

/* eval.c */
/* Calls closure f (its code compiled when needed) with env as the scope
   it extends: f's own, or a method's object frame over it. */
LuValue *lu_call_closure(LuValue *f, LuValue *env, int argc, LuValue **argv);
/* Compiles a lambda form's parts into a fresh LuCode (not yet compiled). */
LuCode *lu_code_new(LuValue *params, LuValue *body, LuScope *scope);
/* A closure or macro sharing code; the env chain is marked captured. */
LuValue *lu_make_closure(LuType type, LuValue *name, LuCode *code,
                         LuValue *env);
/* Sets a global, bumping lu_epoch when a macro or special form is
   involved. */
void lu_set_value(LuValue *sym, LuValue *value);
/* Calls f with argv in frame fr (NULL: none) and runs the tail calls its
   body makes. */
LuValue *lu_call(LuValue *f, int argc, LuValue **argv, LuFrame *fr);
/* Expands the macro call (m . args) once. */
LuValue *lu_macro_expand(LuValue *m, LuValue *args);
/* True when v is a special form's builtin. */
static inline bool lu_is_special(LuValue *v) {
  return v && lu_is(v, LU_BUILTIN) && v->builtin->special;
}

#endif
