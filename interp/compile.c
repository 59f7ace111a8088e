/* compile.c: the analysis of forms into nodes (see code.h). Atoms become
   constants or variable references resolved against the scope; a list is
   a special form (special.c compiles it), a macro call (expanded here,
   once), an arithmetic call done inline, or a function call. Function
   calls look their global up at each call, so redefinitions take effect;
   a call whose global has become a macro or special form since is
   compiled again, at run time. */
#include <string.h>

#include "code.h"

LU_CODE_FRAMES

/* The innermost written list form being compiled (NULL for none): nodes of
   atoms and of forms a macro made (which have no location) are located
   there. */
static LuValue *cur_form;

void *lu_node_new(size_t size, LuOp op, LuValue *form) {
  LuNode *n = lu_alloc(size);
  n->op = op;
  n->form =
      (LU_IS(form, LU_CONS) && form->cons.loc) || !cur_form ? form : cur_form;
  return n;
}

noreturn void lu_node_error(LuNode *n, const char *fmt, ...) {
  LuFrame f = {lu_frame, n->form, NULL, NULL};
  lu_frame = &f;
  va_list ap;
  va_start(ap, fmt);
  lu_verror(fmt, ap);
}

LuValue **lu_list_items(LuValue *list, long *n, LuValue **dot,
                        const char *what) {
  long len = 0;
  LuValue *slow = list, *p = list;
  for (; lu_is(p, LU_CONS); p = lu_cdr(p)) {
    if (++len % 2 == 0) {
      slow = lu_cdr(slow);
      if (slow == lu_cdr(p))
        lu_error("%s: %s is a circular list", lu_caller(), what);
    }
  }
  if (p != lu_nil && !dot)
    lu_error("%s: %s ends in a dot: %s", lu_caller(), what,
             lu_repr_limit(list, 60));
  if (dot)
    *dot = p;
  LuValue **items = lu_alloc((size_t)(len ? len : 1) * sizeof *items);
  p = list;
  for (long i = 0; i < len; i++, p = lu_cdr(p))
    items[i] = lu_car(p);
  *n = len;
  return items;
}

LuValue **lu_form_items(LuValue *list, long *n, const char *what) {
  return lu_list_items(list, n, NULL, what);
}

/* ---- scopes ---- */

LuScope *lu_scope_bind(LuScope *s, LuValue *sym) {
  LuScope *e = lu_alloc(sizeof *e);
  e->sym = sym;
  e->klass = lu_nil;
  e->next = s;
  return e;
}

LuScope *lu_scope_of_env(LuValue *env) {
  LuScope *head = NULL, **tail = &head;
  for (; env != lu_nil; env = env->env.next) {
    LuScope *e = lu_scope_bind(NULL, env->env.sym);
    if (!env->env.sym)
      e->klass = env->env.value->obj->klass;
    *tail = e;
    tail = &e->next;
  }
  return head;
}

static int slot_of(LuValue *klass, LuValue *sym) {
  struct LuClass *c = klass->klass;
  for (int i = 0; i < c->nslots; i++)
    if (c->slots[i] == sym)
      return i;
  return -1;
}

/* Where sym is in s: *depth entries down, in slot *slot of an object frame
   (or -1 for a plain binding). False when it is global. */
static bool resolve(LuValue *sym, LuScope *s, int *depth, int *slot) {
  for (int d = 0; s; s = s->next, d++) {
    int i = s->sym ? -1 : slot_of(s->klass, sym);
    if (s->sym == sym || i >= 0) {
      *depth = d;
      *slot = i;
      return true;
    }
  }
  return false;
}

/* ---- constants and variables ---- */

typedef struct {
  LuNode h;
  LuValue *value;
} Const;

static LuValue *op_const(LuNode *n, LuValue *env) {
  (void)env;
  return ((Const *)n)->value;
}

LuNode *lu_node_const(LuValue *v, LuValue *form) {
  Const *n = lu_node_new(sizeof *n, op_const, form);
  n->value = v;
  return &n->h;
}

typedef struct {
  LuNode h;
  int depth, slot;
  LuValue *sym;  /* for globals */
  LuNode *value; /* for assignments */
} Ref;

static inline LuValue *env_up(LuValue *env, int d) {
  while (d-- > 0)
    env = env->env.next;
  return env;
}

static LuValue *op_local0(LuNode *n, LuValue *env) {
  (void)n;
  return env->env.value;
}

static LuValue *op_local1(LuNode *n, LuValue *env) {
  (void)n;
  return env->env.next->env.value;
}

static LuValue *op_local(LuNode *n, LuValue *env) {
  return env_up(env, ((Ref *)n)->depth)->env.value;
}

static LuValue *op_slot(LuNode *n, LuValue *env) {
  Ref *r = (Ref *)n;
  return env_up(env, r->depth)->env.value->obj->slots[r->slot];
}

static LuValue *op_global(LuNode *n, LuValue *env) {
  (void)env;
  LuValue *sym = ((Ref *)n)->sym, *v = sym->sym.value;
  if (!v)
    lu_node_error(n, "unbound symbol: %s", sym->sym.name);
  return v;
}

LuValue **lu_ref_cell(LuNode *n, LuValue *env, bool *local) {
  Ref *r = (Ref *)n;
  *local = n->op != op_global && n->op != op_slot;
  if (n->op == op_global)
    return &r->sym->sym.value;
  if (n->op == op_slot)
    return &env_up(env, r->depth)->env.value->obj->slots[r->slot];
  if (n->op == op_local0 || n->op == op_local1 || n->op == op_local)
    return &env_up(env, r->depth)->env.value;
  return NULL;
}

LuNode *lu_compile_ref(LuValue *sym, LuScope *s, LuValue *form) {
  Ref *r = lu_node_new(sizeof *r, op_global, form);
  r->sym = sym;
  if (resolve(sym, s, &r->depth, &r->slot))
    r->h.op = r->slot >= 0    ? op_slot
              : r->depth == 0 ? op_local0
              : r->depth == 1 ? op_local1
                              : op_local;
  return &r->h;
}

static LuValue *op_set_local(LuNode *n, LuValue *env) {
  Ref *r = (Ref *)n;
  return env_up(env, r->depth)->env.value = lu_run(r->value, env);
}

static LuValue *op_set_slot(LuNode *n, LuValue *env) {
  Ref *r = (Ref *)n;
  LuValue *v = lu_box(lu_run(r->value, env));
  return env_up(env, r->depth)->env.value->obj->slots[r->slot] = v;
}

static LuValue *op_set_global(LuNode *n, LuValue *env) {
  Ref *r = (Ref *)n;
  LuValue *v = lu_run(r->value, env);
  lu_set_value(r->sym, v);
  return v;
}

LuNode *lu_compile_set(LuValue *sym, LuScope *s, LuNode *value, LuValue *form) {
  Ref *r = lu_node_new(sizeof *r, op_set_global, form);
  r->sym = sym;
  r->value = value;
  if (resolve(sym, s, &r->depth, &r->slot))
    r->h.op = r->slot >= 0 ? op_set_slot : op_set_local;
  return &r->h;
}

/* ---- calls ---- */

typedef struct {
  LuNode h;
  LuValue *call; /* the form, for the backtrace */
  LuValue *sym;  /* the global head, or NULL when fn is evaluated */
  LuNode *fn;
  int argc;
  LuNode **args;
  LuScope *scope; /* for compiling again at run time */
  bool tail;
  LuValue *alt_key; /* the macro or special form alt was compiled for */
  LuNode *alt;
  unsigned alt_epoch;
} Call;

static LuNode *compile_with(LuValue *x, LuValue *f, LuScope *s, bool tail);

static inline LuValue *head_value(Call *n, LuValue *env) {
  if (!n->sym)
    return lu_run(n->fn, env);
  LuValue *f = n->sym->sym.value;
  if (!f)
    lu_node_error(&n->h, "unbound symbol: %s", n->sym->sym.name);
  return f;
}

/* The head has become a macro or special form since the call was
   compiled: the form is compiled again for it (once per definition). */
static LuValue *run_changed(Call *n, LuValue *f, LuValue *env) {
  if (n->alt_key != f || n->alt_epoch != lu_epoch) {
    LuFrame fr = {lu_frame, n->h.form, NULL, NULL};
    lu_frame = &fr;
    n->alt = compile_with(n->h.form, f, n->scope, n->tail);
    lu_frame = fr.up;
    n->alt_key = f;
    n->alt_epoch = lu_epoch;
  }
  return lu_run(n->alt, env);
}

static inline bool is_syntax(LuValue *f) {
  return lu_is(f, LU_MACRO) || lu_is_special(f);
}

enum { SMALL_ARGS = 6 };

static inline LuValue **eval_args(Call *n, LuValue *env, LuValue **small) {
  LuValue **argv =
      n->argc <= SMALL_ARGS ? small : lu_alloc((size_t)n->argc * sizeof *argv);
  for (int i = 0; i < n->argc; i++)
    argv[i] = lu_run(n->args[i], env);
  return argv;
}

/* The head's value, its arguments evaluated into *argv (small or a larger
   array); NULL when the head has become a macro or special form, the
   form's value then in *r. */
static inline LuValue *call_parts(Call *n, LuValue *env, LuValue **small,
                                  LuValue ***argv, LuValue **r) {
  LuValue *f = head_value(n, env);
  if (is_syntax(f)) {
    *r = run_changed(n, f, env);
    return NULL;
  }
  *argv = eval_args(n, env, small);
  return f;
}

static LuValue *op_call(LuNode *h, LuValue *env) {
  Call *n = (Call *)h;
  LuValue *small[SMALL_ARGS], **argv = small, *r = NULL;
  LuValue *f = call_parts(n, env, small, &argv, &r);
  if (!f)
    return r;
  LuFrame *up = lu_frame;
  LuFrame fr = {up, h->form, n->call, f};
  lu_frame = &fr;
  r = lu_call(f, n->argc, argv, &fr);
  lu_frame = up;
  return r;
}

/* In tail position: a closure is called by the caller's call loop; any
   other function replaces the caller's frame, as the closure's call did. */
static LuValue *op_tail_call(LuNode *h, LuValue *env) {
  Call *n = (Call *)h;
  LuValue *small[SMALL_ARGS], **argv = small, *r = NULL;
  LuValue *f = call_parts(n, env, small, &argv, &r);
  if (!f)
    return r;
  if (lu_is(f, LU_CLOSURE)) {
    lu_tail_store(f, h->form, n->call, n->argc, argv);
    return LU_TAILCALL;
  }
  LuFrame *fr = lu_frame;
  fr->form = h->form;
  fr->call = n->call;
  fr->fn = f;
  return lu_call(f, n->argc, argv, fr);
}

static LuNode *compile_call(LuValue *x, LuValue *sym, LuNode *fn, LuScope *s,
                            bool tail) {
  long argc;
  LuValue **items = lu_form_items(lu_cdr(x), &argc, "a call's arguments");
  Call *n = lu_node_new(sizeof *n, tail ? op_tail_call : op_call, x);
  n->call = x;
  n->sym = sym;
  n->fn = fn;
  n->argc = (int)argc;
  n->args = lu_compile_all(items, argc, s, false);
  n->scope = s;
  n->tail = tail;
  return &n->h;
}

/* ---- arithmetic done inline ---- */

/* (+ a b), (< a b)...: while the global still holds the builtin and both
   arguments are numbers, no call is made; otherwise the builtin (which
   raises the usual error) or the new definition is called. */
typedef struct {
  LuNode h;
  LuValue *sym, *expect; /* the global and the builtin compiled for */
  LuNode *a, *b;         /* b NULL for 1+ and 1- */
  bool b_const;          /* b is the number kb, read once at compile time */
  double kb;
  Call *call; /* the plain call, once the global was redefined */
} Prim;

enum {
  P_ADD,
  P_SUB,
  P_MUL,
  P_DIV,
  P_LT,
  P_GT,
  P_LE,
  P_GE,
  P_EQ,
  P_NE,
  P_INC,
  P_DEC,
  P_COUNT
};
static const char *const prim_names[P_COUNT] = {
    "+", "-", "*", "/", "<", ">", "<=", ">=", "=", "/=", "1+", "1-"};
static LuValue *prim_values[P_COUNT];

/* The builtin called with the evaluated arguments, in a frame of its own:
   it raises the error a wrong argument deserves. */
static LuValue *prim_slow(Prim *p, LuValue *x, LuValue *y) {
  LuValue *argv[2] = {x, y};
  LuFrame *up = lu_frame;
  LuFrame fr = {up, p->h.form, p->call->call, p->expect};
  lu_frame = &fr;
  LuValue *r = lu_call(p->expect, p->b ? 2 : 1, argv, &fr);
  lu_frame = up;
  return r;
}

/* An operand: the commonest kinds read without a call. */
static inline LuValue *operand(LuNode *n, LuValue *env) {
  if (n->op == op_local0)
    return env->env.value;
  if (n->op == op_const)
    return ((Const *)n)->value;
  return n->op(n, env);
}

#define PRIM2(name, expr, box)                                                 \
  static LuValue *name(LuNode *h, LuValue *env) {                              \
    Prim *p = (Prim *)h;                                                       \
    if (p->sym->sym.value != p->expect)                                        \
      return lu_run(&p->call->h, env);                                         \
    LuValue *x = operand(p->a, env);                                           \
    if (p->b_const && lu_imm_p(x)) {                                           \
      double a = lu_imm_value(x), b = p->kb;                                   \
      return box(expr);                                                        \
    }                                                                          \
    LuValue *y = operand(p->b, env);                                           \
    if (!lu_num_p(x) || !lu_num_p(y))                                          \
      return prim_slow(p, x, y);                                               \
    double a = lu_num_of(x), b = lu_num_of(y);                                 \
    return box(expr);                                                          \
  }
PRIM2(op_add, a + b, lu_imm)
PRIM2(op_sub, a - b, lu_imm)
PRIM2(op_mul, a *b, lu_imm)
PRIM2(op_div, a / b, lu_imm)
PRIM2(op_lt, a < b, LU_BOOL)
PRIM2(op_gt, a > b, LU_BOOL)
PRIM2(op_le, a <= b, LU_BOOL)
PRIM2(op_ge, a >= b, LU_BOOL)
PRIM2(op_eq, a == b, LU_BOOL)
PRIM2(op_ne, a != b, LU_BOOL)

#define PRIM1(name, expr)                                                      \
  static LuValue *name(LuNode *h, LuValue *env) {                              \
    Prim *p = (Prim *)h;                                                       \
    if (p->sym->sym.value != p->expect)                                        \
      return lu_run(&p->call->h, env);                                         \
    LuValue *x = operand(p->a, env);                                           \
    if (!lu_num_p(x))                                                          \
      return prim_slow(p, x, NULL);                                            \
    double a = lu_num_of(x);                                                   \
    return lu_imm(expr);                                                       \
  }
PRIM1(op_inc, a + 1)
PRIM1(op_dec, a - 1)

static const LuOp prim_ops[P_COUNT] = {op_add, op_sub, op_mul, op_div,
                                       op_lt,  op_gt,  op_le,  op_ge,
                                       op_eq,  op_ne,  op_inc, op_dec};

/* Which inline builtin f is, or -1. The builtins are looked up once all
   are registered. */
static int prim_index(LuValue *f) {
  static bool ready;
  if (!ready) {
    ready = true;
    for (int k = 0; k < P_COUNT; k++)
      ready &= (prim_values[k] = lu_global(prim_names[k])) != NULL;
  }
  for (int k = 0; k < P_COUNT; k++)
    if (prim_values[k] == f)
      return k;
  return -1;
}

/* A Prim node when f is one of the inline builtins with its arity. */
static LuNode *compile_prim(LuValue *x, LuValue *sym, LuValue *f, LuScope *s,
                            bool tail) {
  int k = prim_index(f);
  if (k < 0)
    return NULL;
  Call *call = (Call *)compile_call(x, sym, NULL, s, tail);
  if (call->argc != (k >= P_INC ? 1 : 2))
    return &call->h;
  Prim *p = lu_node_new(sizeof *p, prim_ops[k], x);
  p->sym = sym;
  p->expect = f;
  p->a = call->args[0];
  p->b = k >= P_INC ? NULL : call->args[1];
  p->b_const =
      p->b && p->b->op == op_const && LU_IS(((Const *)p->b)->value, LU_NUMBER);
  p->kb = p->b_const ? LU_NUM(((Const *)p->b)->value) : 0;
  p->call = call;
  return &p->h;
}

/* ---- special forms from outside the core ---- */

typedef struct {
  LuNode h;
  LuValue *sym, *expect; /* expect: the builtin, while sym holds it */
  LuScope *scope;
  bool tail;
} Special;

static LuValue *op_special(LuNode *h, LuValue *env) {
  Special *n = (Special *)h;
  if (n->sym && n->sym->sym.value != n->expect)
    return lu_run(lu_compile(h->form, n->scope, n->tail), env);
  LuFrame *up = lu_frame;
  LuFrame fr = {up, h->form, NULL, NULL};
  lu_frame = &fr;
  const LuBuiltin *saved = lu_current;
  lu_current = n->expect->builtin;
  LuValue *tail = NULL;
  LuValue *r = n->expect->builtin->special(lu_cdr(h->form), &env, &tail);
  lu_current = saved;
  if (tail)
    r = lu_eval(tail, env);
  lu_frame = up;
  return r;
}

/* ---- dispatch ---- */

/* x, a list whose head's value is f when sym is its global head. */
static LuNode *compile_with(LuValue *x, LuValue *f, LuScope *s, bool tail) {
  LuValue *sym = LU_IS(lu_car(x), LU_SYMBOL) ? lu_car(x) : NULL;
  if (lu_is(f, LU_MACRO))
    return lu_compile(lu_macro_expand(f, lu_cdr(x)), s, tail);
  if (lu_is_special(f)) {
    LuCompileFn c = lu_special_compiler(f->builtin);
    if (c) {
      const LuBuiltin *saved = lu_current;
      lu_current = f->builtin;
      LuNode *n = c(x, s, tail);
      lu_current = saved;
      return n;
    }
    Special *n = lu_node_new(sizeof *n, op_special, x);
    n->sym = sym;
    n->expect = f;
    n->scope = s;
    n->tail = tail;
    return &n->h;
  }
  LuNode *p = sym ? compile_prim(x, sym, f, s, tail) : NULL;
  if (p)
    return p;
  return compile_call(x, sym, sym ? NULL : lu_node_const(f, x), s, tail);
}

static LuNode *compile_list(LuValue *x, LuScope *s, bool tail) {
  LuValue *head = lu_car(x);
  int depth, slot;
  if (LU_IS(head, LU_SYMBOL) && !resolve(head, s, &depth, &slot)) {
    LuValue *f = head->sym.value;
    if (f && (is_syntax(f) || prim_index(f) >= 0))
      return compile_with(x, f, s, tail);
    return compile_call(x, head, NULL, s, tail);
  }
  return compile_call(x, NULL, lu_compile(head, s, false), s, tail);
}

LuNode *lu_compile(LuValue *x, LuScope *s, bool tail) {
  if (LU_IS(x, LU_SYMBOL))
    return lu_compile_ref(x, s, lu_nil);
  if (!LU_IS(x, LU_CONS))
    return lu_node_const(x, lu_nil);
  lu_check_stack();
  lu_poll();
  LuFrame *up = lu_frame;
  LuFrame fr = {up, x, NULL, NULL};
  lu_frame = &fr;
  LuValue *saved = cur_form;
  if (x->cons.loc)
    cur_form = x;
  LuNode *n = compile_list(x, s, tail);
  cur_form = saved;
  lu_frame = up;
  return n;
}

/* ---- bodies ---- */

static LuValue *op_body(LuNode *h, LuValue *env) {
  LuForms *b = (LuForms *)h;
  for (long i = 0; i < b->n - 1; i++)
    lu_run(b->forms[i], env);
  return lu_run(b->forms[b->n - 1], env);
}

LuNode *lu_node_seq(LuNode **nodes, long n, LuValue *form) {
  if (n == 0)
    return lu_node_const(lu_nil, form);
  if (n == 1)
    return nodes[0];
  LuForms *b = lu_node_new(sizeof *b, op_body, form);
  b->n = n;
  b->forms = nodes;
  return &b->h;
}

LuNode **lu_compile_all(LuValue **items, long n, LuScope *s, bool tail) {
  LuNode **nodes = lu_alloc((size_t)(n ? n : 1) * sizeof *nodes);
  for (long i = 0; i < n; i++)
    nodes[i] = lu_compile(items[i], s, tail && i == n - 1);
  return nodes;
}

LuNode *lu_compile_body(LuValue *body, LuScope *s, bool tail, LuValue *form) {
  long n;
  LuValue **items = lu_form_items(body, &n, "a body");
  return lu_node_seq(lu_compile_all(items, n, s, tail), n, form);
}
