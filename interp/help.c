/* help.c: (help 'name) and (apropos "str"). Builtins and Lisp definitions
   answer the same way: usage, documentation, where defined. */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

static LuValue *docs; /* symbol -> doc string of a variable */

void lu_set_doc(LuValue *name, LuValue *doc) {
  lu_hash_set(docs, name, doc);
}

static void print_where(LuValue *where) {
  if (where != lu_nil)
    printf("  defined at %s:%.0f\n", LU_CAR(where)->str.s,
           LU_NUM(LU_CAR(LU_CDR(where))));
}

LU_DEFUN(help, "(help SYMBOL)",
         "Shows the usage, documentation and definition site of SYMBOL.") {
  LuValue *s = lu_arg_sym(argv, 0), *v = s->sym.value;
  if (!v) {
    printf("%s is not defined\n", s->sym.name);
    return lu_nil;
  }
  switch (LU_TYPE(v)) {
  case LU_BUILTIN:
    printf("%s   [%s]\n  %s\n  defined in %s:%d\n", v->builtin->usage,
           lu_type_name(v), v->builtin->doc, v->builtin->file,
           v->builtin->line);
    break;
  case LU_CLOSURE:
  case LU_MACRO:
    printf("%s   [%s]\n", lu_fn_usage(v), lu_type_name(v));
    if (v->fn->doc != lu_nil)
      printf("  %s\n", v->fn->doc->str.s);
    print_where(s->sym.where);
    break;
  default: {
    LuValue *doc = lu_hash_get(docs, s);
    printf("%s   [variable, a %s]\n", s->sym.name, lu_type_name(v));
    if (doc)
      printf("  %s\n", doc->str.s);
    print_where(s->sym.where);
  }
  }
  return lu_nil;
}

typedef struct {
  const char *needle;
  LuValue *found;
} Apropos;

static void apropos_one(LuValue *sym, void *ud) {
  Apropos *a = ud;
  if (sym->sym.value && strstr(sym->sym.name, a->needle))
    a->found = lu_cons(sym, a->found);
}

static int by_name(const void *x, const void *y) {
  return strcmp((*(LuValue *const *)x)->sym.name,
                (*(LuValue *const *)y)->sym.name);
}

LU_DEFUN(apropos, "(apropos STRING)",
         "The bound names containing STRING, sorted.") {
  Apropos a = {lu_arg_str(argv, 0), lu_nil};
  lu_symbols_each(apropos_one, &a);
  long n = lu_length(a.found);
  LuValue **v = lu_alloc((size_t)(n ? n : 1) * sizeof *v);
  LuValue *l = a.found;
  for (long i = 0; i < n; i++, l = LU_CDR(l))
    v[i] = LU_CAR(l);
  qsort(v, (size_t)n, sizeof *v, by_name);
  LuValue *out = lu_nil;
  for (long i = n; i-- > 0;)
    out = lu_cons(v[i], out);
  return out;
}

static LuBuiltin *const help_builtins[] = {&help_builtin, &apropos_builtin,
                                           NULL};

void lu_help_open(void) {
  docs = lu_hash_new();
  lu_register(help_builtins);
}
