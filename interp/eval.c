/* eval.c: running compiled code. Calls and their frames (the backtrace),
   closures (binding parameters, compiling their code when first called),
   tail calls (a loop here, so they use no C stack), macro expansion,
   lu_eval and lu_apply, and the builtins about evaluation. Environments
   are chains of LU_ENV nodes, one binding each (or a method's object
   frame); globals live in the symbols. */
#include <string.h>

#include "code.h"

LU_CODE_FRAMES

static LuValue *s_nil, *s_elided;
LuValue *lu_s_quote, *lu_s_quasiquote, *lu_s_unquote, *lu_s_unquote_splicing,
    *lu_s_optional, *lu_s_rest, *lu_s_this, *lu_s_catch, *lu_s_idx_literal;

unsigned lu_epoch = 1;
LuValue lu_tail_marker;

/* ---- environments ---- */

/* Bindings no closure captured, given back when their call returned: a
   call then allocates nothing for its parameters. No one else holds an
   environment node: closures mark the chain they keep (LU_ENV_CAPTURED,
   up to the global scope), and the special forms of runtime code reach
   theirs only through closures or during the call. */
static LuValue *env_free;

LuValue *lu_env_bind(LuValue *env, LuValue *sym, LuValue *value) {
  LuValue *e = env_free;
  if (e) {
    env_free = e->env.next;
    e->flags = 0;
  } else {
    e = lu_new(LU_ENV);
  }
  e->env.sym = sym;
  e->env.value = value;
  e->env.next = env;
  return e;
}

/* The cell of sym in env: a binding, an object's slot, or the global. */
static LuValue **env_find(LuValue *sym, LuValue *env) {
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

/* ---- globals ---- */

void lu_set_value(LuValue *sym, LuValue *value) {
  value = lu_box(value);
  LuValue *old = sym->sym.value;
  if ((old && (LU_IS(old, LU_MACRO) || lu_is_special(old))) ||
      LU_IS(value, LU_MACRO) || lu_is_special(value))
    lu_epoch++;
  sym->sym.value = value;
}

/* Records where name was defined, for help. */
void lu_define(LuValue *name, LuValue *value) {
  lu_set_value(name, value);
  for (LuFrame *f = lu_frame; f; f = f->up)
    if (LU_IS(f->form, LU_CONS) && f->form->cons.loc) {
      name->sym.where = lu_loc_list(f->form->cons.loc);
      return;
    }
}

LuValue *lu_check_name(LuValue *s, const char *what) {
  if (!LU_IS(s, LU_SYMBOL) || s == lu_t || s == s_nil)
    lu_error("%s: %s must be a symbol, got %s", lu_caller(), what,
             lu_repr_limit(s, 60));
  return s;
}

/* ---- closures ---- */

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

/* Parses the lambda list once, here: the closure does not walk it again,
   so changing the list afterwards cannot change (or crash) the calls. */
static void parse_params(LuCode *c, LuValue *params) {
  long n;
  LuValue *dotted;
  LuValue **p = lu_list_items(params, &n, &dotted, "the lambda list");
  c->syms = lu_alloc((size_t)(n + 1) * sizeof *c->syms);
  c->default_forms = lu_alloc((size_t)(n + 1) * sizeof *c->default_forms);
  int k = 0;
  bool optional = false;
  for (long i = 0; i < n; i++) {
    LuValue *s = p[i];
    if (s == lu_s_optional) {
      optional = true;
      continue;
    }
    if (s == lu_s_rest) {
      if (i + 2 != n || dotted != lu_nil)
        lu_error("%s: &rest takes one name", lu_caller());
      dotted = p[i + 1];
      break;
    }
    if (optional) {
      c->default_forms[c->nopt++] =
          LU_IS(s, LU_CONS) ? lu_car(lu_cdr(s)) : NULL;
      if (LU_IS(s, LU_CONS)) /* (name default) */
        s = lu_car(s);
    } else {
      c->nreq++;
    }
    c->syms[k++] = lu_check_name(s, "a parameter");
  }
  if (dotted != lu_nil) {
    c->syms[k] = lu_check_name(dotted, "a parameter");
    c->rest = true;
  }
}

LuCode *lu_code_new(LuValue *params, LuValue *body, LuScope *scope) {
  LuCode *c = lu_alloc(sizeof *c);
  parse_params(c, params);
  long n;
  lu_form_items(body, &n, "a body");
  c->params = params;
  c->doc = lu_nil;
  if (n > 1 && LU_IS(lu_car(body), LU_STRING)) {
    c->doc = lu_car(body);
    body = lu_cdr(body);
  }
  c->body = body;
  c->scope = scope;
  return c;
}

/* Compiles c's defaults and body for the current definitions of macros
   and special forms. A method's body sees `this` and the slots of its
   class. */
static void compile_code(LuCode *c, LuValue *klass) {
  LuScope *s = c->scope;
  if (klass != lu_nil) {
    s = lu_scope_bind(s, NULL);
    s->klass = klass;
    s = lu_scope_bind(s, lu_s_this);
  }
  for (int i = 0; i < c->nreq; i++)
    s = lu_scope_bind(s, c->syms[i]);
  LuNode **defaults = lu_alloc((size_t)(c->nopt + 1) * sizeof *defaults);
  for (int i = 0; i < c->nopt; i++) {
    LuValue *d = c->default_forms[i];
    defaults[i] = d ? lu_compile(d, s, false) : NULL;
    s = lu_scope_bind(s, c->syms[c->nreq + i]);
  }
  if (c->rest)
    s = lu_scope_bind(s, c->syms[c->nreq + c->nopt]);
  LuNode *run = lu_compile_body(c->body, s, true, lu_nil);
  c->defaults = defaults;
  c->run = run;
  c->epoch = lu_epoch;
}

/* f's environment extended with its parameters bound to argv; raises on
   arity. */
static LuValue *bind_args(LuValue *f, LuCode *c, LuValue *env, int argc,
                          LuValue **argv) {
  if (argc < c->nreq || (argc > c->nreq + c->nopt && !c->rest))
    arity_error(f, argc);
  int i = 0;
  for (; i < c->nreq; i++)
    env = lu_env_bind(env, c->syms[i], argv[i]);
  for (int k = 0; k < c->nopt; k++, i++) {
    LuValue *v = i < argc         ? argv[i]
                 : c->defaults[k] ? lu_run(c->defaults[k], env)
                                  : lu_nil;
    env = lu_env_bind(env, c->syms[i], v);
  }
  if (c->rest) {
    LuValue *rest = lu_nil;
    for (int j = argc; j > i;)
      rest = lu_cons(lu_box(argv[--j]), rest);
    env = lu_env_bind(env, c->syms[i], rest);
  }
  return env;
}

LuValue *lu_make_closure(LuType type, LuValue *name, LuCode *code,
                         LuValue *env) {
  /* Closures share their scope: loops may no longer rebind it in place. */
  for (LuValue *e = env; e != lu_nil && !(e->flags & LU_ENV_CAPTURED);
       e = e->env.next)
    e->flags |= LU_ENV_CAPTURED;
  LuValue *f = lu_new(type);
  f->fn = lu_alloc(sizeof(struct LuFn));
  f->fn->name = name;
  f->fn->params = code->params;
  f->fn->body = code->body;
  f->fn->doc = code->doc;
  f->fn->env = env;
  f->fn->klass = lu_nil;
  f->fn->code = code;
  return f;
}

LuValue *lu_make_fn(LuType type, LuValue *name, LuValue *rest, LuValue *env) {
  LuCode *code = lu_code_new(lu_car(rest), lu_cdr(rest), lu_scope_of_env(env));
  return lu_make_closure(type, name, code, env);
}

LuValue *lu_fn_source(LuValue *f) {
  struct LuFn *fn = f->fn;
  LuValue *body = fn->doc != lu_nil ? lu_cons(fn->doc, fn->body) : fn->body;
  LuValue *rest = lu_cons(fn->params, body);
  if (fn->klass != lu_nil)
    return lu_cons(lu_intern("defmethod"),
                   lu_cons(fn->klass->klass->name, lu_cons(fn->name, rest)));
  if (fn->name == lu_nil)
    return lu_cons(lu_intern("lambda"), rest);
  return lu_cons(lu_intern(LU_IS(f, LU_MACRO) ? "dm" : "de"),
                 lu_cons(fn->name, rest));
}

/* ---- calls ---- */

/* The tail call waiting for its caller's call loop. */
enum { PENDING_SMALL = 8 };
static struct {
  LuValue *f, *form, *call;
  int argc;
  LuValue **argv;
  LuValue *small[PENDING_SMALL];
} pending;

void lu_tail_store(LuValue *f, LuValue *form, LuValue *call, int argc,
                   LuValue **argv) {
  pending.f = f;
  pending.form = form;
  pending.call = call;
  pending.argc = argc;
  pending.argv = argc <= PENDING_SMALL
                     ? pending.small
                     : lu_alloc((size_t)argc * sizeof *pending.argv);
  memcpy(pending.argv, argv, (size_t)argc * sizeof *argv);
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
  lu_error("not a function: %s", lu_repr_limit(lu_box(f), 60));
}

/* Boxes the arguments for a function written in C. */
static inline LuValue **box_all(int argc, LuValue **argv) {
  for (int i = 0; i < argc; i++)
    argv[i] = lu_box(argv[i]);
  return argv;
}

/* Runs closure (or macro) f's body with its parameters bound over env;
   may return LU_TAILCALL. */
/* Gives back the n innermost nodes of env, down to the first a closure
   captured (those below it are captured too). */
static inline void env_release(LuValue *env, int n) {
  while (n-- > 0 && !(env->flags & LU_ENV_CAPTURED)) {
    LuValue *next = env->env.next;
    env->env.sym = env->env.value = NULL;
    env->env.next = env_free;
    env_free = env;
    env = next;
  }
}

static inline LuValue *enter(LuValue *f, LuValue *env, int argc,
                             LuValue **argv) {
  lu_check_stack();
  lu_poll();
  LuCode *c = f->fn->code;
  if (c->epoch != lu_epoch)
    compile_code(c, f->fn->klass);
  LuValue *e = bind_args(f, c, env, argc, argv);
  LuValue *r = lu_run(c->run, e);
  env_release(e, c->nreq + c->nopt + c->rest);
  return r;
}

/* Calls f once (a closure over env when env is not NULL): its value, or
   LU_TAILCALL when its body ended in a tail call, now pending. */
static inline LuValue *call_once(LuValue *f, LuValue *env, int argc,
                                 LuValue **argv) {
  if (lu_imm_p(f))
    not_a_function(f);
  switch (LU_TYPE(f)) {
  case LU_CLOSURE:
    return enter(f, env ? env : f->fn->env, argc, argv);
  case LU_MACRO: /* only through lu_macro_expand, which gives env */
    if (!env)
      not_a_function(f);
    return enter(f, env, argc, argv);
  case LU_BUILTIN:
    if (f->builtin->special)
      lu_error("%s is a special form, not a function", f->builtin->name);
    return call_builtin(f->builtin, argc, box_all(argc, argv));
  case LU_CDATA:
    if (f->cdata.ctype->call)
      return f->cdata.ctype->call(f, box_all(argc, argv), argc);
    not_a_function(f);
  default:
    not_a_function(f);
  }
}

/* Makes the pending tail call and those its callee's body makes, in frame
   fr: the frame shows the latest, and a line below it says that tail
   calls were elided. */
static LuValue *run_pending(LuFrame *fr) {
  LuFrame mark;
  bool marked = false;
  LuValue *buf[PENDING_SMALL];
  for (;;) {
    LuValue *f = pending.f;
    int argc = pending.argc;
    LuValue **argv = argc <= PENDING_SMALL ? buf : pending.argv;
    memcpy(argv, pending.argv, (size_t)argc * sizeof *argv);
    if (fr) {
      if (!marked && fr->call && LU_IS(fr->call, LU_CONS)) {
        mark.up = fr->up;
        mark.form = lu_nil;
        mark.call = lu_cons_at(s_elided, lu_nil, fr->call->cons.loc);
        mark.fn = lu_t;
        fr->up = &mark;
        marked = true;
      }
      fr->form = pending.form;
      fr->call = pending.call;
      fr->fn = f;
    }
    LuValue *r = call_once(f, NULL, argc, argv);
    if (r != LU_TAILCALL)
      return r;
  }
}

/* Calls f and the tail calls its body makes, in frame fr. */
static inline LuValue *call_in(LuValue *f, LuValue *env, int argc,
                               LuValue **argv, LuFrame *fr) {
  LuValue *r = call_once(f, env, argc, argv);
  return r == LU_TAILCALL ? run_pending(fr) : r;
}

LuValue *lu_call(LuValue *f, int argc, LuValue **argv, LuFrame *fr) {
  return call_in(f, NULL, argc, argv, fr);
}

/* Calls from C get a frame of their own, which the tail calls made in the
   callee's body replace. */
static LuValue *call_framed(LuValue *f, LuValue *env, int argc,
                            LuValue **argv) {
  LuFrame *up = lu_frame;
  LuFrame fr = {up, lu_nil, NULL, NULL};
  lu_frame = &fr;
  LuValue *r = call_in(f, env, argc, argv, &fr);
  lu_frame = up;
  return lu_box(r);
}

LuValue *lu_call_closure(LuValue *f, LuValue *env, int argc, LuValue **argv) {
  return call_framed(f, env, argc, argv);
}

LuValue *lu_apply(LuValue *f, int argc, LuValue **argv) {
  return call_framed(f, NULL, argc, argv);
}

LuValue *lu_macro_expand(LuValue *m, LuValue *args) {
  long n;
  LuValue **argv = lu_form_items(args, &n, "a macro call's arguments");
  return call_framed(m, m->fn->env, (int)n, argv);
}

/* ---- evaluation ---- */

LuValue *lu_eval(LuValue *form, LuValue *env) {
  if (LU_IS(form, LU_SYMBOL)) {
    LuValue *v = *env_find(form, env);
    if (!v)
      lu_error("unbound symbol: %s", form->sym.name);
    return lu_box(v);
  }
  if (!LU_IS(form, LU_CONS))
    return form;
  LuScope *s = env == lu_nil ? NULL : lu_scope_of_env(env);
  return lu_box(lu_run(lu_compile(form, s, false), env));
}

/* ---- functions about evaluation ---- */

LU_DEFUN(eval, "(eval FORM)", "Evaluates FORM in the global scope.") {
  return lu_eval(argv[0], lu_nil);
}

LU_DEFUN(macroexpand, "(macroexpand FORM)",
         "Expands FORM once if it is a macro call; else returns it.") {
  LuValue *x = argv[0];
  if (LU_IS(x, LU_CONS) && LU_IS(lu_car(x), LU_SYMBOL)) {
    LuValue *m = lu_car(x)->sym.value;
    if (m && LU_IS(m, LU_MACRO))
      return lu_macro_expand(m, lu_cdr(x));
  }
  return x;
}

LU_DEFUN(error, "(error FORMAT ARGS...)",
         "Raises an error whose message is (sprintf FORMAT ARGS...); a "
         "non-string FORMAT is printed as the message.") {
  if (!LU_IS(argv[0], LU_STRING))
    lu_error("%s", lu_repr_limit(argv[0], 200));
  LuValue *sprintf_fn = lu_global("sprintf");
  LuValue *msg = sprintf_fn ? lu_apply(sprintf_fn, argc, argv) : argv[0];
  lu_error("%s", LU_IS(msg, LU_STRING) ? msg->str.s : lu_repr(msg, false));
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
  return LU_IS(x, LU_CONS) && x->cons.loc ? lu_loc_list(x->cons.loc) : lu_nil;
}

LU_DEFUN(not, "(not X)", "t when X is (), else ().") {
  return LU_BOOL(argv[0] == lu_nil);
}

LU_DEFUN(boundp, "(boundp SYMBOL)", "t when SYMBOL has a global value.") {
  return LU_BOOL(lu_arg_sym(argv, 0)->sym.value != NULL);
}

static LuBuiltin *const eval_builtins[] = {
    &eval_builtin,        &macroexpand_builtin,
    &error_builtin,       &error_message_builtin,
    &error_where_builtin, &error_backtrace_builtin,
    &form_where_builtin,  &not_builtin,
    &boundp_builtin,      NULL};

void lu_core_open(void) {
  s_nil = lu_intern("nil");
  s_elided = lu_intern("... tail calls elided");
  lu_s_quote = lu_intern("quote");
  lu_s_quasiquote = lu_intern("quasiquote");
  lu_s_unquote = lu_intern("unquote");
  lu_s_unquote_splicing = lu_intern("unquote-splicing");
  lu_s_optional = lu_intern("&optional");
  lu_s_rest = lu_intern("&rest");
  lu_s_this = lu_intern("this");
  lu_s_catch = lu_intern("catch");
  lu_s_idx_literal = lu_intern("idx-literal");
  lu_register(eval_builtins);
  lu_special_open();
}
