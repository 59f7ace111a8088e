/* eval.c: the evaluator and the special forms. Lexical scope: an
   environment is a chain of LU_ENV nodes, each a binding or, inside a
   method, an object frame whose slots then read and setq like variables.
   Globals live in the symbols. Forms in tail position (the last
   of a body, the branches of if and cond...) are evaluated by looping in
   lu_eval, so loops and tail calls do not grow the C stack. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "interp.h"

static LuValue *s_nil;
LuValue *lu_s_quote, *lu_s_quasiquote, *lu_s_unquote, *lu_s_unquote_splicing,
    *lu_s_optional, *lu_s_rest, *lu_s_this, *lu_s_catch, *lu_s_idx_literal;

/* ---- environments ---- */

/* Returns the cell holding sym's value: a binding, an object slot, or the
   global value cell (which holds NULL when unbound). */
LuValue **lu_env_find(LuValue *sym, LuValue *env) {
  if (!(sym->flags & LU_SYM_LOCAL))
    return &sym->sym.value;
  for (; env != lu_nil; env = env->env.next) {
    if (env->env.sym == sym)
      return &env->env.value;
    if (!env->env.sym) { /* an object frame */
      struct LuObject *o = env->env.value->obj;
      struct LuClass *c = o->klass->klass;
      for (int i = 0; i < c->nslots; i++)
        if (c->slots[i] == sym)
          return &o->slots[i];
    }
  }
  return &sym->sym.value;
}

LuValue *lu_env_bind(LuValue *env, LuValue *sym, LuValue *value) {
  if (sym)
    sym->flags |= LU_SYM_LOCAL;
  LuValue *e = lu_new(LU_ENV);
  e->env.sym = sym;
  e->env.value = value;
  e->env.next = env;
  return e;
}

static LuValue *lookup(LuValue *sym, LuValue *env) {
  LuValue *v = *lu_env_find(sym, env);
  if (!v)
    lu_error("unbound symbol: %s", sym->sym.name);
  return v;
}

static inline LuValue *bind(LuValue *sym, LuValue *value, LuValue *env) {
  return lu_env_bind(env, sym, value);
}

static inline LuValue *eval_arg(LuValue *a, LuValue *env) {
  if (a->type == LU_SYMBOL)
    return lookup(a, env);
  return a->type == LU_CONS ? lu_eval(a, env) : a;
}

/* ---- calling ---- */

const char *lu_fn_usage(LuValue *fn) {
  LuValue *name = fn->fn->name != lu_nil ? fn->fn->name : lu_intern("lambda");
  const char *params = lu_repr(fn->fn->params, true);
  LuBuf b;
  lu_buf_init(&b);
  lu_buf_printf(
      &b, "(%s%s%.*s)", name->sym.name, fn->fn->params == lu_nil ? "" : " ",
      fn->fn->params == lu_nil ? 0 : (int)strlen(params) - 2, params + 1);
  return b.s;
}

noreturn static void arity_error(LuValue *fn, int argc) {
  lu_error("%s: wrong number of arguments (%d given); usage: %s",
           fn->fn->name != lu_nil ? fn->fn->name->sym.name : "lambda", argc,
           lu_fn_usage(fn));
}

LuValue *lu_bind_params(LuValue *fn, LuValue *env, int argc, LuValue **argv) {
  LuValue *p = fn->fn->params;
  if (fn->fn->nrequired >= 0) { /* the common case, without &optional... */
    if (argc != fn->fn->nrequired)
      arity_error(fn, argc);
    for (int i = 0; i < argc; i++, p = p->cons.cdr)
      env = bind(p->cons.car, argv[i], env);
    return env;
  }
  int i = 0;
  enum { REQUIRED, OPTIONAL } mode = REQUIRED;
  for (; p->type == LU_CONS; p = p->cons.cdr) {
    LuValue *s = p->cons.car;
    if (s == lu_s_optional) {
      mode = OPTIONAL;
    } else if (s == lu_s_rest) {
      p = p->cons.cdr->cons.car; /* checked when the lambda was made */
      break;
    } else if (mode == REQUIRED) {
      if (i >= argc)
        arity_error(fn, argc);
      env = bind(s, argv[i++], env);
    } else if (s->type == LU_CONS) { /* (name default) */
      LuValue *v = i < argc ? argv[i++] : lu_eval(lu_car(lu_cdr(s)), env);
      env = bind(s->cons.car, v, env);
    } else {
      env = bind(s, i < argc ? argv[i++] : lu_nil, env);
    }
  }
  if (p->type == LU_SYMBOL) { /* &rest or a dotted lambda list */
    LuValue *rest = lu_nil;
    while (argc > i)
      rest = lu_cons(argv[--argc], rest);
    env = bind(p, rest, env);
  } else if (i < argc) {
    arity_error(fn, argc);
  }
  return env;
}

/* Evaluates all forms of body but the last, which it returns (or ()). */
static LuValue *body_tail(LuValue *body, LuValue *env) {
  LuValue *b = body;
  for (; b->type == LU_CONS && b->cons.cdr->type == LU_CONS; b = b->cons.cdr)
    lu_eval(b->cons.car, env);
  if (b->type == LU_CONS && b->cons.cdr == lu_nil)
    return b->cons.car;
  if (b != lu_nil)
    lu_error("%s: a body ends in a dot: %s", lu_caller(),
             lu_repr_limit(body, 60));
  return lu_nil;
}

LuValue *lu_progn(LuValue *body, LuValue *env) {
  return lu_eval(body_tail(body, env), env);
}

noreturn static void arity_error_builtin(const LuBuiltin *b, int argc) {
  lu_error("%s: wrong number of arguments (%d given); usage: %s", b->name, argc,
           b->usage);
}

static inline LuValue *call_builtin(const LuBuiltin *b, int argc,
                                    LuValue **argv) {
  if (argc < b->min || (b->max >= 0 && argc > b->max))
    arity_error_builtin(b, argc);
  const LuBuiltin *saved = lu_current;
  lu_current = b;
  LuValue *r = b->fn(argv, argc);
  lu_current = saved;
  return r;
}

noreturn static void not_a_function(LuValue *f) {
  lu_error("not a function: %s", lu_repr_limit(f, 60));
}

LuValue *lu_apply(LuValue *f, int argc, LuValue **argv) {
  switch (f->type) {
  case LU_BUILTIN:
    if (f->builtin->special)
      lu_error("apply: %s is a special form", f->builtin->name);
    return call_builtin(f->builtin, argc, argv);
  case LU_CLOSURE:
    return lu_progn(f->fn->body, lu_bind_params(f, f->fn->env, argc, argv));
  case LU_CDATA:
    if (f->cdata.ctype->call)
      return f->cdata.ctype->call(f, argv, argc);
    break;
  default:
    break;
  }
  not_a_function(f);
}

/* Evaluates a call's arguments into argv, which holds `small` entries;
   returns the array used (argv or a larger one) and sets *argc. */
static LuValue **eval_args(LuValue *args, LuValue *env, LuValue **argv,
                           int small, int *argc) {
  int n = 0;
  LuValue *a = args;
  for (; a->type == LU_CONS; a = a->cons.cdr, n++) {
    if (n == small) { /* a long call: count, then start over */
      long total = lu_length(a) + n;
      argv = lu_alloc((size_t)total * sizeof *argv);
      return eval_args(args, env, argv, (int)total, argc);
    }
    argv[n] = eval_arg(a->cons.car, env);
  }
  if (a != lu_nil)
    lu_error("a call's arguments end in a dot");
  *argc = n;
  return argv;
}

static LuValue *macro_expand(LuValue *m, LuValue *args) {
  LuValue *small[8];
  long n = lu_length(args);
  LuValue **argv = n > 8 ? lu_alloc((size_t)n * sizeof *argv) : small;
  for (long i = 0; i < n; i++, args = args->cons.cdr)
    argv[i] = args->cons.car;
  return lu_progn(m->fn->body, lu_bind_params(m, m->fn->env, (int)n, argv));
}

LuValue *lu_eval(LuValue *x, LuValue *env) {
  LuFrame fr;
  bool pushed = false;
  LuValue *r;
  for (;;) {
    if (x->type != LU_CONS) {
      r = x->type == LU_SYMBOL ? lookup(x, env) : x;
      break;
    }
    if (!pushed) {
      lu_check_stack();
      fr.up = lu_frame;
      fr.fn = NULL;
      lu_frame = &fr;
      pushed = true;
    }
    fr.form = x;
    lu_poll();
    LuValue *f = eval_arg(x->cons.car, env), *args = x->cons.cdr;
    if (f->type == LU_BUILTIN && f->builtin->special) {
      LuValue *tail = NULL;
      const LuBuiltin *saved = lu_current;
      lu_current = f->builtin;
      r = f->builtin->special(args, &env, &tail);
      lu_current = saved;
      if (tail) {
        x = tail;
        continue;
      }
      break;
    }
    if (f->type == LU_MACRO) {
      x = macro_expand(f, args);
      continue;
    }
    LuValue *small[8];
    int argc;
    LuValue **argv = eval_args(args, env, small, 8, &argc);
    fr.fn = f;
    fr.call = x;
    if (f->type == LU_CLOSURE) {
      env = lu_bind_params(f, f->fn->env, argc, argv);
      x = body_tail(f->fn->body, env);
      continue;
    }
    r = f->type == LU_BUILTIN ? call_builtin(f->builtin, argc, argv)
                              : lu_apply(f, argc, argv);
    break;
  }
  if (pushed)
    lu_frame = fr.up;
  return r;
}

/* ---- special forms ---- */

/* Sets *tail to the last form of body after evaluating the others. */
static LuValue *tail_body(LuValue *body, LuValue *env, LuValue **tail) {
  *tail = body_tail(body, env);
  return NULL;
}

static bool truthy(LuValue *v) {
  return v != lu_nil;
}

LuValue *lu_check_name(LuValue *s, const char *what) {
  if (s->type != LU_SYMBOL || s == lu_t || s == s_nil)
    lu_error("%s: %s must be a symbol, got %s", lu_caller(), what,
             lu_repr_limit(s, 60));
  return s;
}

LU_DEFSPECIAL(quote, "(quote X)",
              "Returns X unevaluated; 'X reads as "
              "(quote X).") {
  return lu_car(args);
}

LU_DEFSPECIAL(if_, "(if COND THEN ELSE...)",
              "Evaluates THEN when COND is not (), else the ELSE forms.") {
  if (truthy(lu_eval(lu_car(args), *env))) {
    *tail = lu_car(lu_cdr(args));
    return NULL;
  }
  return tail_body(lu_cdr(lu_cdr(args)), *env, tail);
}

LU_DEFSPECIAL(when, "(when COND BODY...)",
              "Evaluates BODY when COND is not (); returns its last value.") {
  if (truthy(lu_eval(lu_car(args), *env)))
    return tail_body(lu_cdr(args), *env, tail);
  return lu_nil;
}

LU_DEFSPECIAL(unless, "(unless COND BODY...)",
              "Evaluates BODY when COND is (); returns its last value.") {
  if (!truthy(lu_eval(lu_car(args), *env)))
    return tail_body(lu_cdr(args), *env, tail);
  return lu_nil;
}

LU_DEFSPECIAL(cond, "(cond (TEST BODY...)...)",
              "Evaluates the BODY of the first clause whose TEST is not ().") {
  for (; args != lu_nil; args = lu_cdr(args)) {
    LuValue *clause = lu_car(args);
    LuValue *v = lu_eval(lu_car(clause), *env);
    if (truthy(v))
      return lu_cdr(clause) == lu_nil ? v
                                      : tail_body(lu_cdr(clause), *env, tail);
  }
  return lu_nil;
}

static bool selectq_match(LuValue *keys, LuValue *v) {
  if (keys == lu_t)
    return true;
  if (keys->type != LU_CONS)
    return lu_equal(keys, v);
  for (; keys->type == LU_CONS; keys = keys->cons.cdr)
    if (lu_equal(keys->cons.car, v))
      return true;
  return false;
}

LU_DEFSPECIAL(selectq, "(selectq KEY (VALUES BODY...)...)",
              "Evaluates KEY, then the BODY of the first clause whose VALUES "
              "(unevaluated: one value, a list of them, or t) holds it.") {
  LuValue *v = lu_eval(lu_car(args), *env);
  for (args = lu_cdr(args); args != lu_nil; args = lu_cdr(args)) {
    LuValue *clause = lu_car(args);
    if (selectq_match(lu_car(clause), v))
      return tail_body(lu_cdr(clause), *env, tail);
  }
  return lu_nil;
}

LU_DEFSPECIAL(and, "(and FORM...)",
              "Evaluates FORMs until one is (); returns the last value.") {
  if (args == lu_nil)
    return lu_t;
  for (; lu_cdr(args) != lu_nil; args = lu_cdr(args))
    if (!truthy(lu_eval(lu_car(args), *env)))
      return lu_nil;
  *tail = lu_car(args);
  return NULL;
}

LU_DEFSPECIAL(or, "(or FORM...)",
              "Evaluates FORMs until one is not (); returns that value.") {
  for (; args != lu_nil && lu_cdr(args) != lu_nil; args = lu_cdr(args)) {
    LuValue *v = lu_eval(lu_car(args), *env);
    if (truthy(v))
      return v;
  }
  if (args == lu_nil)
    return lu_nil;
  *tail = lu_car(args);
  return NULL;
}

LU_DEFSPECIAL(progn, "(progn FORM...)",
              "Evaluates the FORMs in order; returns the last value.") {
  return tail_body(args, *env, tail);
}

LU_DEFSPECIAL(prog1, "(prog1 FORM REST...)",
              "Evaluates all forms in order; returns the first one's value.") {
  LuValue *v = lu_eval(lu_car(args), *env);
  for (args = lu_cdr(args); args != lu_nil; args = lu_cdr(args))
    lu_eval(lu_car(args), *env);
  return v;
}

LU_DEFSPECIAL(setq, "(setq SYMBOL VALUE...)",
              "Sets each SYMBOL (a local, a slot, or else a global) to its "
              "VALUE in turn; returns the last value.") {
  LuValue *v = lu_nil;
  for (; args != lu_nil; args = lu_cdr(lu_cdr(args))) {
    LuValue *s = lu_check_name(lu_car(args), "a variable");
    if (lu_cdr(args) == lu_nil)
      lu_error("setq: %s has no value", s->sym.name);
    v = lu_eval(lu_car(lu_cdr(args)), *env);
    *lu_env_find(s, *env) = v;
  }
  return v;
}

/* let and let*: sequential says whether inits see earlier bindings. */
static LuValue *let_env(LuValue *bindings, LuValue *env, bool sequential) {
  LuValue *outer = env;
  for (; bindings->type == LU_CONS; bindings = bindings->cons.cdr) {
    LuValue *b = bindings->cons.car, *s = b, *v = lu_nil;
    if (b->type == LU_CONS) {
      s = b->cons.car;
      v = lu_eval(lu_car(lu_cdr(b)), sequential ? env : outer);
    }
    env = bind(lu_check_name(s, "a variable"), v, env);
  }
  return env;
}

LU_DEFSPECIAL(let, "(let ((VAR INIT)...) BODY...)",
              "Binds each VAR to its INIT, all evaluated first, around BODY.") {
  *env = let_env(lu_car(args), *env, false);
  return tail_body(lu_cdr(args), *env, tail);
}

LU_DEFSPECIAL(let_star, "(let* ((VAR INIT)...) BODY...)",
              "Like let, but each INIT sees the variables bound before it.") {
  *env = let_env(lu_car(args), *env, true);
  return tail_body(lu_cdr(args), *env, tail);
}

LU_DEFSPECIAL(while_, "(while COND BODY...)",
              "Evaluates BODY while COND is not (); returns the last value "
              "of BODY, or ().") {
  LuValue *v = lu_nil;
  while (truthy(lu_eval(lu_car(args), *env))) {
    lu_poll();
    v = lu_progn(lu_cdr(args), *env);
  }
  return v;
}

static double eval_number(LuValue *form, LuValue *env, const char *what) {
  LuValue *v = lu_eval(form, env);
  if (v->type != LU_NUMBER)
    lu_error("%s: %s must be a number, got %s", lu_caller(), what,
             lu_repr_limit(v, 60));
  return v->num;
}

LU_DEFSPECIAL(repeat, "(repeat N BODY...)",
              "Evaluates BODY N times; returns the last value.") {
  double n = eval_number(lu_car(args), *env, "the count");
  LuValue *v = lu_nil;
  for (double i = 0; i < n; i++) {
    lu_poll();
    v = lu_progn(lu_cdr(args), *env);
  }
  return v;
}

LU_DEFSPECIAL(for_, "(for (VAR FROM TO [STEP]) BODY...)",
              "Evaluates BODY with VAR from FROM to TO included, by STEP "
              "(default 1, may be negative); returns the last value.") {
  LuValue *spec = lu_car(args);
  LuValue *s = lu_check_name(lu_car(spec), "the loop variable");
  double from = eval_number(lu_car(lu_cdr(spec)), *env, "FROM");
  double to = eval_number(lu_car(lu_cdr(lu_cdr(spec))), *env, "TO");
  LuValue *stepf = lu_cdr(lu_cdr(lu_cdr(spec)));
  double step = stepf == lu_nil ? 1 : eval_number(lu_car(stepf), *env, "STEP");
  if (step == 0 || isnan(step))
    lu_error("for: STEP must not be 0");
  LuValue *v = lu_nil, *inner = NULL;
  for (double i = from; step > 0 ? i <= to : i >= to; i += step) {
    lu_poll();
    /* A closure made in BODY keeps its binding: then bind afresh. */
    if (!inner || (inner->flags & LU_ENV_CAPTURED))
      inner = bind(s, lu_number(i), *env);
    else
      inner->env.value = lu_number(i);
    v = lu_progn(lu_cdr(args), inner);
  }
  return v;
}

/* The node k steps down the environment env. */
static LuValue *env_at(LuValue *env, long k) {
  while (k-- > 0)
    env = env->env.next;
  return env;
}

/* each and all: bindings ((VAR LIST)...) advance together until one list
   ends; all collects the values of BODY. Each pass binds afresh, for
   closures made in BODY. */
static LuValue *each_loop(LuValue *args, LuValue *env, bool collect) {
  LuValue *specs = lu_car(args), *body = lu_cdr(args);
  long n = lu_length(specs);
  LuValue **lists = lu_alloc((size_t)(n ? n : 1) * sizeof *lists);
  LuValue **vars = lu_alloc((size_t)(n ? n : 1) * sizeof *vars);
  LuValue *s = specs;
  for (long i = 0; i < n; i++, s = s->cons.cdr) {
    LuValue *spec = s->cons.car;
    vars[i] = lu_check_name(lu_car(spec), "a loop variable");
    lists[i] = lu_eval(lu_car(lu_cdr(spec)), env);
  }
  LuValue *out = lu_nil, *v = lu_nil, *inner = NULL;
  for (;;) {
    lu_poll();
    /* A closure made in BODY keeps its bindings: then bind afresh. */
    bool fresh = !inner || (inner->flags & LU_ENV_CAPTURED);
    LuValue *e = fresh ? env : inner;
    for (long i = 0; i < n; i++) {
      if (lists[i]->type != LU_CONS)
        return collect ? lu_nreverse(out) : v;
      if (fresh)
        e = bind(vars[i], lists[i]->cons.car, e);
      else /* the nodes of vars, innermost (the last) first */
        env_at(inner, n - 1 - i)->env.value = lists[i]->cons.car;
      lists[i] = lists[i]->cons.cdr;
    }
    if (fresh)
      inner = e;
    v = lu_progn(body, inner);
    if (collect)
      out = lu_cons(v, out);
    if (n == 0)
      return collect ? lu_nreverse(out) : v;
  }
}

LU_DEFSPECIAL(each, "(each ((VAR LIST)...) BODY...)",
              "Evaluates BODY with each VAR bound to the successive elements "
              "of its LIST, in step; returns the last value.") {
  return each_loop(args, *env, false);
}

LU_DEFSPECIAL(all, "(all ((VAR LIST)...) BODY...)",
              "Like each, but returns the list of BODY's values.") {
  return each_loop(args, *env, true);
}

static void check_lambda_list(LuValue *params) {
  LuValue *p = params;
  for (; p->type == LU_CONS; p = p->cons.cdr) {
    LuValue *s = p->cons.car;
    if (s == lu_s_rest) {
      LuValue *r = p->cons.cdr;
      if (r->type != LU_CONS || r->cons.cdr != lu_nil)
        lu_error("%s: &rest takes one name", lu_caller());
      lu_check_name(r->cons.car, "a parameter");
      return;
    }
    if (s->type == LU_CONS)
      s = s->cons.car;
    lu_check_name(s, "a parameter");
  }
  if (p != lu_nil)
    lu_check_name(p, "a parameter");
}

/* A function or macro from (PARAMS [DOC] BODY...). */
LuValue *lu_make_fn(LuType type, LuValue *name, LuValue *rest, LuValue *env) {
  LuValue *params = lu_car(rest), *body = lu_cdr(rest);
  check_lambda_list(params);
  lu_length(body); /* raises on a body that ends in a dot */
  /* Closures share their scope: loops may no longer rebind it in place. */
  for (LuValue *e = env; e != lu_nil && !(e->flags & LU_ENV_CAPTURED);
       e = e->env.next)
    e->flags |= LU_ENV_CAPTURED;
  LuValue *f = lu_new(type);
  f->fn = lu_alloc(sizeof(struct LuFn));
  f->fn->name = name;
  f->fn->params = params;
  f->fn->doc = lu_nil;
  f->fn->env = env;
  f->fn->klass = lu_nil;
  f->fn->nrequired = 0;
  for (LuValue *p = params; f->fn->nrequired >= 0 && p != lu_nil; p = lu_cdr(p))
    f->fn->nrequired = p->type == LU_CONS && p->cons.car->type == LU_SYMBOL &&
                               p->cons.car != lu_s_optional &&
                               p->cons.car != lu_s_rest
                           ? f->fn->nrequired + 1
                           : -1;
  if (body->type == LU_CONS && body->cons.car->type == LU_STRING &&
      body->cons.cdr != lu_nil) {
    f->fn->doc = body->cons.car;
    body = body->cons.cdr;
  }
  f->fn->body = body;
  return f;
}

/* Records where name was defined, for help. */
void lu_define(LuValue *name, LuValue *value) {
  name->sym.value = value;
  for (LuFrame *f = lu_frame; f; f = f->up)
    if (f->form->type == LU_CONS && f->form->cons.loc) {
      name->sym.where = lu_loc_list(f->form->cons.loc);
      return;
    }
}

static LuValue *define_fn(LuType type, LuValue *args, LuValue *env) {
  LuValue *name = lu_check_name(lu_car(args), "the name");
  lu_define(name, lu_make_fn(type, name, lu_cdr(args), env));
  return name;
}

LU_DEFSPECIAL(de, "(de NAME (PARAMS...) [DOC] BODY...)",
              "Defines the function NAME. PARAMS may hold &optional (each "
              "optional NAME or (NAME DEFAULT)) and &rest NAME.") {
  return define_fn(LU_CLOSURE, args, *env);
}

LU_DEFSPECIAL(dm, "(dm NAME (PARAMS...) [DOC] BODY...)",
              "Defines the macro NAME: its PARAMS are bound to the "
              "unevaluated argument forms, and the form BODY returns is "
              "evaluated in the caller's place.") {
  return define_fn(LU_MACRO, args, *env);
}

LU_DEFSPECIAL(lambda, "(lambda (PARAMS...) BODY...)",
              "Returns an anonymous function closing over the current "
              "scope.") {
  return lu_make_fn(LU_CLOSURE, lu_nil, args, *env);
}

LU_DEFSPECIAL(defvar, "(defvar NAME [VALUE [DOC]])",
              "Defines the global variable NAME (set to VALUE, or ()).") {
  LuValue *name = lu_check_name(lu_car(args), "the name");
  LuValue *v = lu_eval(lu_car(lu_cdr(args)), *env);
  lu_define(name, v);
  LuValue *doc = lu_car(lu_cdr(lu_cdr(args)));
  if (doc->type == LU_STRING)
    lu_set_doc(name, doc);
  return name;
}

/* incr and decr share this: adds sign * N (default 1) to a variable. */
static LuValue *increment(LuValue *args, LuValue *env, double sign) {
  LuValue *s = lu_check_name(lu_car(args), "the variable");
  LuValue **cell = lu_env_find(s, env);
  if (!*cell)
    lu_error("unbound symbol: %s", s->sym.name);
  if ((*cell)->type != LU_NUMBER)
    lu_error("%s: %s is not a number: %s", lu_caller(), s->sym.name,
             lu_repr_limit(*cell, 60));
  double d =
      lu_cdr(args) == lu_nil ? 1 : eval_number(lu_car(lu_cdr(args)), env, "N");
  return *cell = lu_number((*cell)->num + sign * d);
}

LU_DEFSPECIAL(incr, "(incr VAR [N])", "Adds N (default 1) to VAR.") {
  return increment(args, *env, 1);
}

LU_DEFSPECIAL(decr, "(decr VAR [N])", "Subtracts N (default 1) from VAR.") {
  return increment(args, *env, -1);
}

static LuValue *quasi(LuValue *x, LuValue *env, int depth) {
  if (x->type != LU_CONS)
    return x;
  LuValue *h = x->cons.car;
  if (h == lu_s_unquote)
    return depth == 1
               ? lu_eval(lu_car(x->cons.cdr), env)
               : lu_list(2, h, quasi(lu_car(x->cons.cdr), env, depth - 1));
  if (h == lu_s_quasiquote)
    return lu_list(2, h, quasi(lu_car(x->cons.cdr), env, depth + 1));
  LuValue *head = lu_nil, **tail = &head;
  for (; x->type == LU_CONS; x = x->cons.cdr) {
    LuValue *e = x->cons.car;
    if (x->cons.car == lu_s_unquote) { /* `(a . ,b) */
      *tail = quasi(x, env, depth);
      return head;
    }
    if (e->type == LU_CONS && e->cons.car == lu_s_unquote_splicing &&
        depth == 1) {
      for (LuValue *s = lu_eval(lu_car(e->cons.cdr), env); s->type == LU_CONS;
           s = s->cons.cdr) {
        *tail = lu_cons(s->cons.car, lu_nil);
        tail = &(*tail)->cons.cdr;
      }
      continue;
    }
    *tail = lu_cons_at(quasi(e, env, depth), lu_nil, x->cons.loc);
    tail = &(*tail)->cons.cdr;
  }
  *tail = x;
  return head;
}

LU_DEFSPECIAL(quasiquote, "(quasiquote X)",
              "`X: X unevaluated except for ,FORM (replaced by its value) "
              "and ,@FORM (its list value spliced in).") {
  return quasi(lu_car(args), *env, 1);
}

typedef struct {
  LuValue *body, *env, *result;
} BodyCall;

static void body_call(void *ud) {
  BodyCall *c = ud;
  c->result = lu_progn(c->body, c->env);
}

LU_DEFSPECIAL(try, "(try BODY... (catch VAR HANDLER...))",
              "Evaluates BODY; if it raises an error, binds VAR to the error "
              "and returns the value of HANDLER. Ctrl-C is not caught.") {
  LuValue *body = lu_nil, **btail = &body, *handler = lu_nil;
  for (; args != lu_nil; args = lu_cdr(args)) {
    LuValue *f = lu_car(args);
    if (f->type == LU_CONS && f->cons.car == lu_s_catch &&
        lu_cdr(args) == lu_nil)
      handler = f->cons.cdr;
    else {
      *btail = lu_cons(f, lu_nil);
      btail = &(*btail)->cons.cdr;
    }
  }
  BodyCall c = {body, *env, NULL};
  LuValue *err;
  if (lu_pcall(body_call, &c, &err))
    return c.result;
  if (err->err->is_break || handler == lu_nil)
    lu_rethrow(err);
  *env = bind(lu_check_name(lu_car(handler), "the error variable"), err, *env);
  return tail_body(lu_cdr(handler), *env, tail);
}

LU_DEFSPECIAL(unwind_protect, "(unwind-protect BODY CLEANUP...)",
              "Evaluates BODY, then CLEANUP even when BODY raises an error "
              "(which then goes on); returns BODY's value.") {
  BodyCall c = {lu_cons(lu_car(args), lu_nil), *env, NULL};
  LuValue *err;
  bool ok = lu_pcall(body_call, &c, &err);
  lu_progn(lu_cdr(args), *env);
  if (!ok)
    lu_rethrow(err);
  return c.result;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

LU_DEFSPECIAL(time_, "(time FORM...)",
              "Evaluates the FORMs; returns the seconds they took.") {
  double t0 = now();
  lu_progn(args, *env);
  return lu_number(now() - t0);
}

/* ---- functions about evaluation ---- */

LU_DEFUN(eval, "(eval FORM)", "Evaluates FORM in the global scope.") {
  return lu_eval(argv[0], lu_nil);
}

LU_DEFUN(macroexpand, "(macroexpand FORM)",
         "Expands FORM once if it is a macro call; else returns it.") {
  LuValue *x = argv[0];
  if (x->type == LU_CONS && x->cons.car->type == LU_SYMBOL) {
    LuValue *m = x->cons.car->sym.value;
    if (m && m->type == LU_MACRO)
      return macro_expand(m, x->cons.cdr);
  }
  return x;
}

LU_DEFUN(error, "(error FORMAT ARGS...)",
         "Raises an error whose message is (sprintf FORMAT ARGS...); a "
         "non-string FORMAT is printed as the message.") {
  if (argv[0]->type != LU_STRING)
    lu_error("%s", lu_repr_limit(argv[0], 200));
  LuValue *sprintf_fn = lu_global("sprintf");
  LuValue *msg = sprintf_fn ? lu_apply(sprintf_fn, argc, argv) : argv[0];
  lu_error("%s", msg->type == LU_STRING ? msg->str.s : lu_repr(msg, false));
}

LU_DEFUN(error_message, "(error-message ERR)",
         "The message of an error caught by try.") {
  return lu_arg_type(argv, 0, LU_ERROR)->err->message;
}

LU_DEFUN(error_where, "(error-where ERR)",
         "Where an error caught by try was raised: (FILE LINE COL), or ().") {
  return lu_arg_type(argv, 0, LU_ERROR)->err->where;
}

LU_DEFUN(error_backtrace, "(error-backtrace ERR)",
         "The calls active when ERR was raised, innermost first.") {
  return lu_arg_type(argv, 0, LU_ERROR)->err->trace;
}

LU_DEFUN(form_where, "(form-where FORM)",
         "Where the list FORM was read: (FILE LINE COL), or ().") {
  LuValue *x = argv[0];
  return x->type == LU_CONS && x->cons.loc ? lu_loc_list(x->cons.loc) : lu_nil;
}

LU_DEFUN(not, "(not X)", "t when X is (), else ().") {
  return LU_BOOL(argv[0] == lu_nil);
}

LU_DEFUN(boundp, "(boundp SYMBOL)", "t when SYMBOL has a global value.") {
  return LU_BOOL(lu_arg_sym(argv, 0)->sym.value != NULL);
}

static LuBuiltin *const core_builtins[] = {&quote_builtin,
                                           &if__builtin,
                                           &when_builtin,
                                           &unless_builtin,
                                           &cond_builtin,
                                           &selectq_builtin,
                                           &and_builtin,
                                           &or_builtin,
                                           &progn_builtin,
                                           &prog1_builtin,
                                           &setq_builtin,
                                           &let_builtin,
                                           &let_star_builtin,
                                           &while__builtin,
                                           &repeat_builtin,
                                           &for__builtin,
                                           &each_builtin,
                                           &all_builtin,
                                           &de_builtin,
                                           &dm_builtin,
                                           &lambda_builtin,
                                           &defvar_builtin,
                                           &incr_builtin,
                                           &decr_builtin,
                                           &quasiquote_builtin,
                                           &try_builtin,
                                           &unwind_protect_builtin,
                                           &time__builtin,
                                           &eval_builtin,
                                           &macroexpand_builtin,
                                           &error_builtin,
                                           &error_message_builtin,
                                           &error_where_builtin,
                                           &error_backtrace_builtin,
                                           &form_where_builtin,
                                           &not_builtin,
                                           &boundp_builtin,
                                           NULL};

void lu_core_open(void) {
  s_nil = lu_intern("nil");
  lu_s_quote = lu_intern("quote");
  lu_s_quasiquote = lu_intern("quasiquote");
  lu_s_unquote = lu_intern("unquote");
  lu_s_unquote_splicing = lu_intern("unquote-splicing");
  lu_s_optional = lu_intern("&optional");
  lu_s_rest = lu_intern("&rest");
  lu_s_this = lu_intern("this");
  lu_s_catch = lu_intern("catch");
  lu_s_idx_literal = lu_intern("idx-literal");
  lu_register(core_builtins);
}
