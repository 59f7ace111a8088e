/* special.c: the core special forms. Each is compiled once into a node
   whose operation runs it; forms in tail position (the last of a body,
   the branches of if and cond...) are compiled as such, so loops and tail
   calls do not grow the C stack. Malformed special forms raise when they
   are compiled. */
#include <math.h>
#include <time.h>

#include "code.h"

LU_CODE_FRAMES

/* A core special form: its registration record (usage and doc for help)
   and its compiler. */
#define SPECIAL(cname, usage, doc)                                             \
  static LuNode *cname##_compile(LuValue *x, LuScope *s, bool tail);           \
  static LuBuiltin cname##_builtin = {                                         \
      usage, doc, NULL, run_special, __FILE__, __LINE__, NULL, 0, 0};          \
  static LuNode *cname##_compile(LuValue *x,                                   \
                                 __attribute__((unused)) LuScope *s,           \
                                 __attribute__((unused)) bool tail)

static LuValue *run_special(LuValue *args, LuValue **env, LuValue **tail);

#define ARGS(x) lu_cdr(x)
#define ARG1(x) lu_car(lu_cdr(x))
#define ARG2(x) lu_car(lu_cdr(lu_cdr(x)))
#define REST2(x) lu_cdr(lu_cdr(lu_cdr(x)))

static double number_of(LuNode *n, LuValue *v, const char *who,
                        const char *what) {
  if (!lu_num_p(v))
    lu_node_error(n, "%s: %s must be a number, got %s", who, what,
                  lu_repr_limit(v, 60));
  return lu_num_of(v);
}

/* ---- quote, if, when, unless ---- */

SPECIAL(quote, "(quote X)", "Returns X unevaluated; 'X reads as (quote X).") {
  return lu_node_const(ARG1(x), x);
}

typedef struct {
  LuNode h;
  LuNode *test, *then, *otherwise;
} If;

static LuValue *op_if(LuNode *h, LuValue *env) {
  If *n = (If *)h;
  return lu_run(lu_run(n->test, env) != lu_nil ? n->then : n->otherwise, env);
}

static LuNode *make_if(LuValue *x, LuNode *test, LuNode *then,
                       LuNode *otherwise) {
  If *n = lu_node_new(sizeof *n, op_if, x);
  n->test = test;
  n->then = then;
  n->otherwise = otherwise;
  return &n->h;
}

SPECIAL(if_, "(if COND THEN ELSE...)",
        "Evaluates THEN when COND is not (), else the ELSE forms.") {
  return make_if(x, lu_compile(ARG1(x), s, false), lu_compile(ARG2(x), s, tail),
                 lu_compile_body(REST2(x), s, tail, x));
}

SPECIAL(when, "(when COND BODY...)",
        "Evaluates BODY when COND is not (); returns its last value.") {
  return make_if(x, lu_compile(ARG1(x), s, false),
                 lu_compile_body(lu_cdr(ARGS(x)), s, tail, x),
                 lu_node_const(lu_nil, x));
}

SPECIAL(unless, "(unless COND BODY...)",
        "Evaluates BODY when COND is (); returns its last value.") {
  return make_if(x, lu_compile(ARG1(x), s, false), lu_node_const(lu_nil, x),
                 lu_compile_body(lu_cdr(ARGS(x)), s, tail, x));
}

/* ---- cond, selectq ---- */

typedef struct {
  LuNode h;
  long n;
  LuNode **tests;  /* cond: test forms; selectq: tests[0] is the key */
  LuValue **keys;  /* selectq's clause keys */
  LuNode **bodies; /* NULL for a cond clause without a body */
} Clauses;

static LuValue *op_cond(LuNode *h, LuValue *env) {
  Clauses *c = (Clauses *)h;
  for (long i = 0; i < c->n; i++) {
    LuValue *v = lu_run(c->tests[i], env);
    if (v != lu_nil)
      return c->bodies[i] ? lu_run(c->bodies[i], env) : v;
  }
  return lu_nil;
}

static bool selectq_match(LuValue *keys, LuValue *v) {
  if (keys == lu_t)
    return true;
  if (!LU_IS(keys, LU_CONS))
    return lu_equal(keys, v);
  for (; LU_IS(keys, LU_CONS); keys = lu_cdr(keys))
    if (lu_equal(lu_car(keys), v))
      return true;
  return false;
}

static LuValue *op_selectq(LuNode *h, LuValue *env) {
  Clauses *c = (Clauses *)h;
  LuValue *v = lu_box(lu_run(c->tests[0], env));
  for (long i = 0; i < c->n; i++)
    if (selectq_match(c->keys[i], v))
      return lu_run(c->bodies[i], env);
  return lu_nil;
}

static Clauses *clauses(LuValue *x, LuValue *list, LuOp op, long *n) {
  LuValue **items = lu_form_items(list, n, "the clauses");
  Clauses *c = lu_node_new(sizeof *c, op, x);
  c->n = *n;
  c->tests = lu_alloc((size_t)(*n + 1) * sizeof *c->tests);
  c->keys = items;
  c->bodies = lu_alloc((size_t)(*n + 1) * sizeof *c->bodies);
  return c;
}

SPECIAL(cond, "(cond (TEST BODY...)...)",
        "Evaluates the BODY of the first clause whose TEST is not ().") {
  long n;
  Clauses *c = clauses(x, ARGS(x), op_cond, &n);
  for (long i = 0; i < n; i++) {
    LuValue *clause = c->keys[i];
    c->tests[i] = lu_compile(lu_car(clause), s, false);
    c->bodies[i] = lu_cdr(clause) == lu_nil
                       ? NULL
                       : lu_compile_body(lu_cdr(clause), s, tail, x);
  }
  return &c->h;
}

SPECIAL(selectq, "(selectq KEY (VALUES BODY...)...)",
        "Evaluates KEY, then the BODY of the first clause whose VALUES "
        "(unevaluated: one value, a list of them, or t) holds it.") {
  long n;
  Clauses *c = clauses(x, lu_cdr(ARGS(x)), op_selectq, &n);
  c->tests[0] = lu_compile(ARG1(x), s, false);
  for (long i = 0; i < n; i++) {
    LuValue *clause = c->keys[i];
    c->keys[i] = lu_car(clause);
    c->bodies[i] = lu_compile_body(lu_cdr(clause), s, tail, x);
  }
  return &c->h;
}

/* ---- and, or, progn, prog1 ---- */

static LuValue *op_and(LuNode *h, LuValue *env) {
  LuForms *f = (LuForms *)h;
  for (long i = 0; i < f->n - 1; i++)
    if (lu_run(f->forms[i], env) == lu_nil)
      return lu_nil;
  return lu_run(f->forms[f->n - 1], env);
}

static LuValue *op_or(LuNode *h, LuValue *env) {
  LuForms *f = (LuForms *)h;
  for (long i = 0; i < f->n - 1; i++) {
    LuValue *v = lu_run(f->forms[i], env);
    if (v != lu_nil)
      return v;
  }
  return lu_run(f->forms[f->n - 1], env);
}

static LuValue *op_prog1(LuNode *h, LuValue *env) {
  LuForms *f = (LuForms *)h;
  LuValue *v = lu_run(f->forms[0], env);
  for (long i = 1; i < f->n; i++)
    lu_run(f->forms[i], env);
  return v;
}

/* The forms of x's arguments; the last in tail position when tail. */
static LuForms *forms(LuValue *x, LuScope *s, bool tail, LuOp op) {
  long n;
  LuValue **items = lu_form_items(ARGS(x), &n, "the forms");
  LuForms *f = lu_node_new(sizeof *f, op, x);
  f->n = n;
  f->forms = lu_compile_all(items, n, s, tail);
  return f;
}

SPECIAL(and, "(and FORM...)",
        "Evaluates FORMs until one is (); returns the last value.") {
  LuForms *f = forms(x, s, tail, op_and);
  return f->n ? &f->h : lu_node_const(lu_t, x);
}

SPECIAL(or, "(or FORM...)",
        "Evaluates FORMs until one is not (); returns that value.") {
  LuForms *f = forms(x, s, tail, op_or);
  return f->n ? &f->h : lu_node_const(lu_nil, x);
}

SPECIAL(progn, "(progn FORM...)",
        "Evaluates the FORMs in order; returns the last value.") {
  return lu_compile_body(ARGS(x), s, tail, x);
}

SPECIAL(prog1, "(prog1 FORM REST...)",
        "Evaluates all forms in order; returns the first one's value.") {
  LuForms *f = forms(x, s, false, op_prog1);
  return f->n ? &f->h : lu_node_const(lu_nil, x);
}

/* ---- setq, let, let* ---- */

SPECIAL(setq, "(setq SYMBOL VALUE...)",
        "Sets each SYMBOL (a local, a slot, or else a global) to its VALUE "
        "in turn; returns the last value.") {
  long n;
  LuValue **items = lu_form_items(ARGS(x), &n, "the arguments");
  LuNode **sets = lu_alloc((size_t)(n / 2 + 1) * sizeof *sets);
  for (long i = 0; i < n; i += 2) {
    LuValue *sym = lu_check_name(items[i], "a variable");
    if (i + 1 == n)
      lu_error("setq: %s has no value", sym->sym.name);
    sets[i / 2] = lu_compile_set(sym, s, lu_compile(items[i + 1], s, false), x);
  }
  return lu_node_seq(sets, n / 2, x);
}

typedef struct {
  LuNode h;
  long n;
  LuValue **syms;
  LuNode **inits;
  bool sequential;
  LuNode *body;
} Let;

static LuValue *op_let(LuNode *h, LuValue *env) {
  Let *l = (Let *)h;
  LuValue *e = env;
  for (long i = 0; i < l->n; i++)
    e = lu_env_bind(e, l->syms[i],
                    lu_run(l->inits[i], l->sequential ? e : env));
  return lu_run(l->body, e);
}

static LuNode *compile_let(LuValue *x, LuScope *s, bool tail, bool sequential) {
  long n;
  LuValue **items = lu_form_items(ARG1(x), &n, "the bindings");
  Let *l = lu_node_new(sizeof *l, op_let, x);
  l->n = n;
  l->syms = lu_alloc((size_t)(n ? n : 1) * sizeof *l->syms);
  l->inits = lu_alloc((size_t)(n ? n : 1) * sizeof *l->inits);
  l->sequential = sequential;
  LuScope *inner = s;
  for (long i = 0; i < n; i++) {
    LuValue *b = items[i], *sym = LU_IS(b, LU_CONS) ? lu_car(b) : b;
    l->inits[i] = lu_compile(ARG1(b), sequential ? inner : s, false);
    l->syms[i] = lu_check_name(sym, "a variable");
    inner = lu_scope_bind(inner, sym);
  }
  l->body = lu_compile_body(lu_cdr(ARGS(x)), inner, tail, x);
  return &l->h;
}

SPECIAL(let, "(let ((VAR INIT)...) BODY...)",
        "Binds each VAR to its INIT, all evaluated first, around BODY.") {
  return compile_let(x, s, tail, false);
}

SPECIAL(let_star, "(let* ((VAR INIT)...) BODY...)",
        "Like let, but each INIT sees the variables bound before it.") {
  return compile_let(x, s, tail, true);
}

/* ---- loops ---- */

typedef struct {
  LuNode h;
  LuNode *test, *body; /* repeat: test is the count */
} Loop;

static LuValue *op_while(LuNode *h, LuValue *env) {
  Loop *l = (Loop *)h;
  LuValue *v = lu_nil;
  while (lu_run(l->test, env) != lu_nil) {
    lu_poll();
    v = lu_run(l->body, env);
  }
  return v;
}

static LuValue *op_repeat(LuNode *h, LuValue *env) {
  Loop *l = (Loop *)h;
  double n = number_of(h, lu_run(l->test, env), "repeat", "the count");
  LuValue *v = lu_nil;
  for (double i = 0; i < n; i++) {
    lu_poll();
    v = lu_run(l->body, env);
  }
  return v;
}

static LuNode *loop(LuValue *x, LuScope *s, LuOp op) {
  Loop *l = lu_node_new(sizeof *l, op, x);
  l->test = lu_compile(ARG1(x), s, false);
  l->body = lu_compile_body(lu_cdr(ARGS(x)), s, false, x);
  return &l->h;
}

SPECIAL(while_, "(while COND BODY...)",
        "Evaluates BODY while COND is not (); returns the last value of "
        "BODY, or ().") {
  return loop(x, s, op_while);
}

SPECIAL(repeat, "(repeat N BODY...)",
        "Evaluates BODY N times; returns the last value.") {
  return loop(x, s, op_repeat);
}

typedef struct {
  LuNode h;
  LuValue *sym;
  LuNode *from, *to, *step, *body; /* step NULL: 1 */
} For;

static LuValue *op_for(LuNode *h, LuValue *env) {
  For *f = (For *)h;
  double from = number_of(h, lu_run(f->from, env), "for", "FROM");
  double to = number_of(h, lu_run(f->to, env), "for", "TO");
  double step = f->step ? number_of(h, lu_run(f->step, env), "for", "STEP") : 1;
  if (step == 0 || isnan(step))
    lu_node_error(h, "for: STEP must not be 0");
  LuValue *v = lu_nil, *inner = NULL;
  for (double i = from; step > 0 ? i <= to : i >= to; i += step) {
    lu_poll();
    /* A closure made in BODY keeps its binding: then bind afresh. */
    if (!inner || (inner->flags & LU_ENV_CAPTURED))
      inner = lu_env_bind(env, f->sym, lu_imm(i));
    else
      inner->env.value = lu_imm(i);
    v = lu_run(f->body, inner);
  }
  return v;
}

SPECIAL(for_, "(for (VAR FROM TO [STEP]) BODY...)",
        "Evaluates BODY with VAR from FROM to TO included, by STEP (default "
        "1, may be negative); returns the last value.") {
  LuValue *spec = ARG1(x);
  For *f = lu_node_new(sizeof *f, op_for, x);
  f->sym = lu_check_name(lu_car(spec), "the loop variable");
  f->from = lu_compile(ARG1(spec), s, false);
  f->to = lu_compile(ARG2(spec), s, false);
  f->step =
      REST2(spec) == lu_nil ? NULL : lu_compile(lu_car(REST2(spec)), s, false);
  f->body =
      lu_compile_body(lu_cdr(ARGS(x)), lu_scope_bind(s, f->sym), false, x);
  return &f->h;
}

typedef struct {
  LuNode h;
  long n;
  LuValue **vars;
  LuNode **lists;
  LuNode *body;
  bool collect;
} Each;

/* The node k steps down the environment env. */
static LuValue *env_at(LuValue *env, long k) {
  while (k-- > 0)
    env = env->env.next;
  return env;
}

/* each and all: the lists advance together until one ends; all collects
   the values of BODY. Each pass binds afresh once a closure holds the
   bindings. */
static LuValue *op_each(LuNode *h, LuValue *env) {
  Each *l = (Each *)h;
  LuValue **lists = lu_alloc((size_t)(l->n ? l->n : 1) * sizeof *lists);
  for (long i = 0; i < l->n; i++)
    lists[i] = lu_run(l->lists[i], env);
  LuValue *out = lu_nil, *v = lu_nil, *inner = NULL;
  for (;;) {
    lu_poll();
    bool fresh = !inner || (inner->flags & LU_ENV_CAPTURED);
    LuValue *e = fresh ? env : inner;
    for (long i = 0; i < l->n; i++) {
      if (!lu_is(lists[i], LU_CONS))
        return l->collect ? lu_nreverse(out) : v;
      if (fresh)
        e = lu_env_bind(e, l->vars[i], lu_car(lists[i]));
      else /* the nodes of vars, innermost (the last) first */
        env_at(inner, l->n - 1 - i)->env.value = lu_car(lists[i]);
      lists[i] = lu_cdr(lists[i]);
    }
    if (fresh)
      inner = e;
    v = lu_run(l->body, inner);
    if (l->collect)
      out = lu_cons(lu_box(v), out);
    if (l->n == 0)
      return l->collect ? lu_nreverse(out) : v;
  }
}

static LuNode *compile_each(LuValue *x, LuScope *s, bool collect) {
  long n;
  LuValue **specs = lu_form_items(ARG1(x), &n, "the loop specs");
  Each *l = lu_node_new(sizeof *l, op_each, x);
  l->n = n;
  l->vars = lu_alloc((size_t)(n ? n : 1) * sizeof *l->vars);
  l->lists = lu_alloc((size_t)(n ? n : 1) * sizeof *l->lists);
  l->collect = collect;
  LuScope *inner = s;
  for (long i = 0; i < n; i++) {
    l->vars[i] = lu_check_name(lu_car(specs[i]), "a loop variable");
    l->lists[i] = lu_compile(ARG1(specs[i]), s, false);
    inner = lu_scope_bind(inner, l->vars[i]);
  }
  l->body = lu_compile_body(lu_cdr(ARGS(x)), inner, false, x);
  return &l->h;
}

SPECIAL(each, "(each ((VAR LIST)...) BODY...)",
        "Evaluates BODY with each VAR bound to the successive elements of "
        "its LIST, in step; returns the last value.") {
  return compile_each(x, s, false);
}

SPECIAL(all, "(all ((VAR LIST)...) BODY...)",
        "Like each, but returns the list of BODY's values.") {
  return compile_each(x, s, true);
}

/* ---- definitions ---- */

typedef struct {
  LuNode h;
  LuType type;
  LuValue *name; /* () for lambda */
  LuCode *code;
  LuNode *value; /* defvar */
  LuValue *doc;  /* defvar */
} Def;

static LuValue *op_lambda(LuNode *h, LuValue *env) {
  Def *d = (Def *)h;
  return lu_make_closure(d->type, d->name, d->code, env);
}

/* Definitions run in a frame of their own: lu_define records its place. */
static LuValue *define(LuNode *h, LuValue *name, LuValue *value) {
  LuFrame *up = lu_frame;
  LuFrame fr = {up, h->form, NULL, NULL};
  lu_frame = &fr;
  lu_define(name, value);
  lu_frame = up;
  return name;
}

static LuValue *op_def(LuNode *h, LuValue *env) {
  return define(h, ((Def *)h)->name, op_lambda(h, env));
}

static LuNode *compile_fn(LuValue *x, LuScope *s, LuType type, LuValue *name,
                          LuValue *rest, LuOp op) {
  Def *d = lu_node_new(sizeof *d, op, x);
  d->type = type;
  d->name = name;
  d->code = lu_code_new(lu_car(rest), lu_cdr(rest), s);
  return &d->h;
}

SPECIAL(de, "(de NAME (PARAMS...) [DOC] BODY...)",
        "Defines the function NAME. PARAMS may hold &optional (each optional "
        "NAME or (NAME DEFAULT)) and &rest NAME.") {
  return compile_fn(x, s, LU_CLOSURE, lu_check_name(ARG1(x), "the name"),
                    lu_cdr(ARGS(x)), op_def);
}

SPECIAL(dm, "(dm NAME (PARAMS...) [DOC] BODY...)",
        "Defines the macro NAME: its PARAMS are bound to the unevaluated "
        "argument forms, and the form BODY returns is evaluated in the "
        "caller's place.") {
  return compile_fn(x, s, LU_MACRO, lu_check_name(ARG1(x), "the name"),
                    lu_cdr(ARGS(x)), op_def);
}

SPECIAL(lambda, "(lambda (PARAMS...) BODY...)",
        "Returns an anonymous function closing over the current scope.") {
  return compile_fn(x, s, LU_CLOSURE, lu_nil, ARGS(x), op_lambda);
}

static LuValue *op_defvar(LuNode *h, LuValue *env) {
  Def *d = (Def *)h;
  define(h, d->name, lu_run(d->value, env));
  if (LU_IS(d->doc, LU_STRING))
    lu_set_doc(d->name, d->doc);
  return d->name;
}

SPECIAL(defvar, "(defvar NAME [VALUE [DOC]])",
        "Defines the global variable NAME (set to VALUE, or ()).") {
  Def *d = lu_node_new(sizeof *d, op_defvar, x);
  d->name = lu_check_name(ARG1(x), "the name");
  d->value = lu_compile(ARG2(x), s, false);
  d->doc = lu_car(REST2(x));
  return &d->h;
}

/* ---- incr, decr ---- */

typedef struct {
  LuNode h;
  LuValue *sym;
  LuNode *ref, *amount; /* amount NULL: 1 */
  double sign;
} Incr;

static LuValue *op_incr(LuNode *h, LuValue *env) {
  Incr *n = (Incr *)h;
  const char *who = n->sign > 0 ? "incr" : "decr";
  double d = n->amount ? number_of(h, lu_run(n->amount, env), who, "N") : 1;
  bool local;
  LuValue **cell = lu_ref_cell(n->ref, env, &local);
  if (!*cell)
    lu_node_error(h, "unbound symbol: %s", n->sym->sym.name);
  if (!lu_num_p(*cell))
    lu_node_error(h, "%s: %s is not a number: %s", who, n->sym->sym.name,
                  lu_repr_limit(*cell, 60));
  double x = lu_num_of(*cell) + n->sign * d;
  return *cell = local ? lu_imm(x) : lu_number(x);
}

static LuNode *compile_incr(LuValue *x, LuScope *s, double sign) {
  Incr *n = lu_node_new(sizeof *n, op_incr, x);
  n->sym = lu_check_name(ARG1(x), "the variable");
  n->ref = lu_compile_ref(n->sym, s, x);
  n->amount = lu_cdr(ARGS(x)) == lu_nil ? NULL : lu_compile(ARG2(x), s, false);
  n->sign = sign;
  return &n->h;
}

SPECIAL(incr, "(incr VAR [N])", "Adds N (default 1) to VAR.") {
  return compile_incr(x, s, 1);
}

SPECIAL(decr, "(decr VAR [N])", "Subtracts N (default 1) from VAR.") {
  return compile_incr(x, s, -1);
}

/* ---- quasiquote ---- */

/* A list built from its items' values (spliced ones copied in) ending in
   tail's value. */
typedef struct {
  LuNode h;
  long n;
  LuNode **items;
  bool *splice;
  const LuLoc **locs;
  LuNode *tail;
} QList;

static LuValue *op_qlist(LuNode *h, LuValue *env) {
  QList *q = (QList *)h;
  lu_check_stack();
  LuValue *head = lu_nil, **tail = &head;
  for (long i = 0; i < q->n; i++) {
    LuValue *v = lu_box(lu_run(q->items[i], env));
    if (!q->splice[i]) {
      *tail = lu_cons_at(v, lu_nil, q->locs[i]);
      tail = &(*tail)->cons.cdr;
      continue;
    }
    long m;
    LuValue *dot, **vs = lu_list_items(v, &m, &dot, "a spliced list");
    for (long k = 0; k < m; k++) {
      *tail = lu_cons(vs[k], lu_nil);
      tail = &(*tail)->cons.cdr;
    }
  }
  *tail = lu_box(lu_run(q->tail, env));
  return head;
}

static QList *qlist(LuValue *x, long n) {
  QList *q = lu_node_new(sizeof *q, op_qlist, x);
  q->items = lu_alloc((size_t)(n ? n : 1) * sizeof *q->items);
  q->splice = lu_alloc((size_t)(n ? n : 1) * sizeof *q->splice);
  q->locs = lu_alloc((size_t)(n ? n : 1) * sizeof *q->locs);
  q->tail = lu_node_const(lu_nil, x);
  return q;
}

static LuNode *qq(LuValue *t, LuScope *s, int depth, LuValue *x);

/* (H T'), T' the template t at depth. */
static LuNode *qq_pair(LuValue *h, LuValue *t, LuScope *s, int depth,
                       LuValue *x) {
  QList *q = qlist(x, 2);
  q->n = 2;
  q->items[0] = lu_node_const(h, x);
  q->items[1] = qq(t, s, depth, x);
  return &q->h;
}

static LuNode *qq(LuValue *t, LuScope *s, int depth, LuValue *x) {
  lu_check_stack();
  lu_poll();
  if (!LU_IS(t, LU_CONS))
    return lu_node_const(t, x);
  LuValue *h = lu_car(t);
  if (h == lu_s_unquote)
    return depth == 1 ? lu_compile(ARG1(t), s, false)
                      : qq_pair(h, ARG1(t), s, depth - 1, x);
  if (h == lu_s_quasiquote)
    return qq_pair(h, ARG1(t), s, depth + 1, x);
  long n;
  LuValue *dot;
  lu_list_items(t, &n, &dot, "the template");
  QList *q = qlist(x, n);
  LuValue *p = t;
  for (; LU_IS(p, LU_CONS); p = lu_cdr(p)) {
    LuValue *e = lu_car(p);
    if (e == lu_s_unquote && p != t) { /* `(a . ,b) */
      q->tail = qq(p, s, depth, x);
      return &q->h;
    }
    if (LU_IS(e, LU_CONS) && lu_car(e) == lu_s_unquote_splicing && depth == 1) {
      q->splice[q->n] = true;
      q->items[q->n++] = lu_compile(ARG1(e), s, false);
      continue;
    }
    q->locs[q->n] = p->cons.loc;
    q->items[q->n++] = qq(e, s, depth, x);
  }
  q->tail = lu_node_const(p, x);
  return &q->h;
}

SPECIAL(quasiquote, "(quasiquote X)",
        "`X: X unevaluated except for ,FORM (replaced by its value) and "
        ",@FORM (its list value spliced in).") {
  return qq(ARG1(x), s, 1, x);
}

/* ---- errors ---- */

typedef struct {
  LuNode h;
  LuNode *body, *handler; /* handler NULL: errors go on */
  LuValue *var;
} Try;

typedef struct {
  LuNode *body;
  LuValue *env, *result;
} BodyCall;

static void body_call(void *ud) {
  BodyCall *c = ud;
  c->result = lu_run(c->body, c->env);
}

static LuValue *op_try(LuNode *h, LuValue *env) {
  Try *t = (Try *)h;
  BodyCall c = {t->body, env, NULL};
  LuValue *err;
  if (lu_pcall(body_call, &c, &err))
    return c.result;
  if (err->err->is_break || !t->handler)
    lu_rethrow(err);
  return lu_run(t->handler, lu_env_bind(env, t->var, err));
}

SPECIAL(try, "(try BODY... (catch VAR HANDLER...))",
        "Evaluates BODY; if it raises an error, binds VAR to the error and "
        "returns the value of HANDLER. Ctrl-C is not caught.") {
  long n;
  LuValue **items = lu_form_items(ARGS(x), &n, "the forms");
  Try *t = lu_node_new(sizeof *t, op_try, x);
  LuValue *last = n ? items[n - 1] : lu_nil;
  if (LU_IS(last, LU_CONS) && lu_car(last) == lu_s_catch) {
    n--;
    t->var = lu_check_name(ARG1(last), "the error variable");
    t->handler = lu_compile_body(lu_cdr(lu_cdr(last)), lu_scope_bind(s, t->var),
                                 tail, x);
  }
  t->body = lu_node_seq(lu_compile_all(items, n, s, false), n, x);
  return &t->h;
}

static LuValue *op_unwind_protect(LuNode *h, LuValue *env) {
  Try *t = (Try *)h;
  BodyCall c = {t->body, env, NULL};
  LuValue *err;
  bool ok = lu_pcall(body_call, &c, &err);
  lu_run(t->handler, env);
  if (!ok)
    lu_rethrow(err);
  return c.result;
}

SPECIAL(unwind_protect, "(unwind-protect BODY CLEANUP...)",
        "Evaluates BODY, then CLEANUP even when BODY raises an error (which "
        "then goes on); returns BODY's value.") {
  Try *t = lu_node_new(sizeof *t, op_unwind_protect, x);
  t->body = lu_compile(ARG1(x), s, false);
  t->handler = lu_compile_body(lu_cdr(ARGS(x)), s, false, x);
  return &t->h;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static LuValue *op_time(LuNode *h, LuValue *env) {
  double t0 = now();
  lu_run(((Loop *)h)->body, env);
  return lu_number(now() - t0);
}

SPECIAL(time_, "(time FORM...)",
        "Evaluates the FORMs; returns the seconds they took.") {
  Loop *l = lu_node_new(sizeof *l, op_time, x);
  l->body = lu_compile_body(ARGS(x), s, false, x);
  return &l->h;
}

/* ---- sending ---- */

typedef struct {
  LuNode h;
  LuNode *obj;
  LuValue *method;
  long n;
  LuNode **args;
} Send;

static LuValue *op_send(LuNode *h, LuValue *env) {
  Send *n = (Send *)h;
  LuValue *obj = lu_box(lu_run(n->obj, env));
  LuValue **argv = lu_alloc((size_t)(n->n ? n->n : 1) * sizeof *argv);
  for (long i = 0; i < n->n; i++)
    argv[i] = lu_box(lu_run(n->args[i], env));
  LuFrame *up = lu_frame;
  LuFrame fr = {up, h->form, NULL, NULL};
  lu_frame = &fr;
  LuValue *r = lu_send(obj, n->method, (int)n->n, argv);
  lu_frame = up;
  return r;
}

SPECIAL(send, "(==> OBJECT METHOD ARGS...)",
        "Calls METHOD (unevaluated) of OBJECT with ARGS.") {
  Send *n = lu_node_new(sizeof *n, op_send, x);
  n->obj = lu_compile(ARG1(x), s, false);
  n->method = ARG2(x);
  if (lu_cdr(ARGS(x)) == lu_nil || !LU_IS(n->method, LU_SYMBOL))
    lu_error("==>: the method name must be a symbol");
  LuValue **items = lu_form_items(REST2(x), &n->n, "the arguments");
  n->args = lu_compile_all(items, n->n, s, false);
  return &n->h;
}

/* ---- registration ---- */

static const struct {
  LuBuiltin *builtin;
  LuCompileFn compile;
} specials[] = {
    {&quote_builtin, quote_compile},
    {&if__builtin, if__compile},
    {&when_builtin, when_compile},
    {&unless_builtin, unless_compile},
    {&cond_builtin, cond_compile},
    {&selectq_builtin, selectq_compile},
    {&and_builtin, and_compile},
    {&or_builtin, or_compile},
    {&progn_builtin, progn_compile},
    {&prog1_builtin, prog1_compile},
    {&setq_builtin, setq_compile},
    {&let_builtin, let_compile},
    {&let_star_builtin, let_star_compile},
    {&while__builtin, while__compile},
    {&repeat_builtin, repeat_compile},
    {&for__builtin, for__compile},
    {&each_builtin, each_compile},
    {&all_builtin, all_compile},
    {&de_builtin, de_compile},
    {&dm_builtin, dm_compile},
    {&lambda_builtin, lambda_compile},
    {&defvar_builtin, defvar_compile},
    {&incr_builtin, incr_compile},
    {&decr_builtin, decr_compile},
    {&quasiquote_builtin, quasiquote_compile},
    {&try_builtin, try_compile},
    {&unwind_protect_builtin, unwind_protect_compile},
    {&time__builtin, time__compile},
    {&send_builtin, send_compile},
};
enum { NSPECIALS = sizeof specials / sizeof specials[0] };

LuCompileFn lu_special_compiler(const LuBuiltin *b) {
  for (int i = 0; i < NSPECIALS; i++)
    if (specials[i].builtin == b)
      return specials[i].compile;
  return NULL;
}

/* A core special form called directly through its record (the evaluator
   compiles them instead): compiled in env's scope and run. */
static LuValue *run_special(LuValue *args, LuValue **env, LuValue **tail) {
  (void)tail;
  LuValue *x = lu_cons(lu_intern(lu_current->name), args);
  LuScope *s = *env == lu_nil ? NULL : lu_scope_of_env(*env);
  return lu_run(lu_special_compiler(lu_current)(x, s, false), *env);
}

void lu_special_open(void) {
  static LuBuiltin *table[NSPECIALS + 1];
  for (int i = 0; i < NSPECIALS; i++)
    table[i] = specials[i].builtin;
  lu_register(table);
}
