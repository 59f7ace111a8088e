/* error.c: the one error path. lu_error builds an error value (message,
   innermost location, backtrace) and longjmps to the innermost handler
   that lu_pcall set up. Also: Ctrl-C, the stack-depth guard, builtin
   registration and the argument checkers, whose messages all share one
   form. */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "interp.h"

typedef struct LuHandler {
  jmp_buf jb;
  struct LuHandler *prev;
  LuFrame *frame;
  const LuBuiltin *current;
  LuValue *err;
} LuHandler;

static LuHandler *handler;
LuFrame *lu_frame;
const LuBuiltin *lu_current;
volatile sig_atomic_t lu_interrupted;

char *lu_stack_limit;     /* lowest address eval may use */
static char *guard_limit; /* its value outside make_error */
static size_t margin;     /* kept below the guard, see lu_error_init */

/* Reserves the C stack for the interpreter. A margin of a quarter of the
   stack, at most 512 KB, is kept below the guard for building the error,
   printing, readline and libc once the guard fires; the lower half of it
   is what make_error may use. The stack's real extent comes from the
   thread's attributes (environment strings above main count against the
   limit); stack_base is the fallback. */
void lu_error_init(void *stack_base) {
  char *base = stack_base, *low = NULL;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *addr;
    size_t size;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0)
      low = addr;
    pthread_attr_destroy(&attr);
  }
  if (!low || low >= base) {
    struct rlimit rl;
    size_t size = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      size = rl.rlim_cur;
    low = base - size;
  }
  size_t size = (size_t)(base - low);
  if (size > (64u << 20))
    size = 64u << 20;
  margin = size / 4 < (512u << 10) ? size / 4 : (512u << 10);
  guard_limit = lu_stack_limit = base - size + margin;
}

noreturn void lu_stack_overflow(void) {
  lu_error("recursion too deep");
}

const char *lu_caller(void) {
  return lu_current ? lu_current->name : "lush89";
}

LuValue *lu_loc_list(const LuLoc *loc) {
  return lu_list(3, lu_cstring(loc->file), lu_number(loc->line),
                 lu_number(loc->col));
}

/* The location of the innermost written form at or above frame f (forms
   that macros made have none). */
static const LuLoc *nearest_loc(LuFrame *f) {
  for (; f; f = f->up)
    if (LU_IS(f->form, LU_CONS) && f->form->cons.loc)
      return f->form->cons.loc;
  return NULL;
}

/* The backtrace: one line per function call, innermost first, the middle
   of a very deep one elided. */
static LuValue *backtrace(void) {
  enum { HEAD = 12, TAIL = 4 };
  long depth = 0;
  for (LuFrame *f = lu_frame; f; f = f->up)
    depth += f->fn != NULL;
  LuValue *lines = lu_nil;
  long i = 0;
  for (LuFrame *f = lu_frame; f; f = f->up) {
    if (!f->fn)
      continue;
    i++;
    if (i > HEAD && i <= depth - TAIL) {
      if (i == HEAD + 1) {
        LuBuf b;
        lu_buf_init(&b);
        lu_buf_printf(&b, "... %ld more calls", depth - HEAD - TAIL);
        lines = lu_cons(lu_string(b.s, b.len), lines);
      }
      continue;
    }
    LuBuf b;
    lu_buf_init(&b);
    lu_buf_puts(&b, lu_repr_limit(f->call, 60));
    const LuLoc *loc = f->call->cons.loc ? f->call->cons.loc : nearest_loc(f);
    if (loc)
      lu_buf_printf(&b, "  %s:%d:%d", loc->file, loc->line, loc->col);
    lines = lu_cons(lu_string(b.s, b.len), lines);
  }
  return lu_nreverse(lines);
}

/* Runs on the margin of the stack below the guard's limit (lu_pcall
   restores the limit should building the error itself fail). */
static LuValue *make_error(LuValue *message) {
  lu_stack_limit = guard_limit - margin / 2;
  LuValue *e = lu_new(LU_ERROR);
  e->err = lu_alloc(sizeof(struct LuErr));
  e->err->message = message;
  const LuLoc *loc = nearest_loc(lu_frame);
  e->err->where = loc ? lu_loc_list(loc) : lu_nil;
  e->err->trace = backtrace();
  lu_stack_limit = guard_limit;
  return e;
}

noreturn void lu_rethrow(LuValue *err) {
  if (!handler) { /* no protected call: only a start-up bug gets here */
    fprintf(stderr, "lush89: error outside any handler: %s\n",
            err->err->message->str.s);
    abort();
  }
  handler->err = err;
  longjmp(handler->jb, 1);
}

noreturn void lu_verror(const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  lu_rethrow(make_error(lu_cstring(msg)));
}

noreturn void lu_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lu_verror(fmt, ap);
}

noreturn void lu_error_at(const LuLoc *at, const char *fmt, ...) {
  LuFrame f = {lu_frame, lu_cons_at(lu_nil, lu_nil, at), NULL, NULL};
  lu_frame = &f; /* the innermost location is then at */
  va_list ap;
  va_start(ap, fmt);
  lu_verror(fmt, ap);
}

noreturn void lu_break(void) {
  lu_interrupted = 0;
  LuValue *e = make_error(lu_cstring("*** Break"));
  e->err->is_break = true;
  lu_rethrow(e);
}

bool lu_pcall(void (*fn)(void *ud), void *ud, LuValue **err) {
  LuHandler h;
  h.prev = handler;
  h.frame = lu_frame;
  h.current = lu_current;
  h.err = NULL;
  handler = &h;
  if (setjmp(h.jb) == 0) {
    fn(ud);
    handler = h.prev;
    return true;
  }
  handler = h.prev;
  lu_frame = h.frame;
  lu_current = h.current;
  lu_stack_limit = guard_limit;
  *err = h.err;
  lu_memory_reserve();
  return false;
}

void lu_report(LuValue *err) {
  fflush(stdout);
  LuValue *w = err->err->where;
  if (err->err->is_break) /* a new line after the terminal's ^C */
    fprintf(stderr, "\n*** Break\n");
  else if (w != lu_nil)
    fprintf(stderr, "%s:%.0f:%.0f: error: %s\n", LU_CAR(w)->str.s,
            LU_NUM(LU_CAR(LU_CDR(w))), LU_NUM(LU_CAR(LU_CDR(LU_CDR(w)))),
            err->err->message->str.s);
  else
    fprintf(stderr, "lush89: error: %s\n", err->err->message->str.s);
  for (LuValue *l = err->err->trace; !err->err->is_break && l != lu_nil;
       l = LU_CDR(l))
    fprintf(stderr, "  at %s\n", LU_CAR(l)->str.s);
  fflush(stderr);
}

/* ---- registration ---- */

/* Name and arity from the usage line "(name A [B] C...)": bracketed
   arguments are optional, one ending in "..." takes any number. Special
   forms check their own syntax. */
static void parse_usage(LuBuiltin *b) {
  const char *p = b->usage + 1;
  size_t n = strcspn(p, " )");
  char *name = lu_alloc_atomic(n + 1, "register");
  memcpy(name, p, n);
  name[n] = 0;
  b->name = name;
  b->min = 0;
  b->max = b->special ? -1 : 0;
  int depth = 0;
  for (p += n; !b->special && *p && *p != ')';) {
    if (*p == ' ') {
      p++;
      continue;
    }
    size_t len = strcspn(p, " )");
    int closes = 0;
    for (size_t i = 0; i < len; i++) {
      depth += p[i] == '[';
      closes += p[i] == ']';
    }
    if (memmem(p, len, "...", 3))
      b->max = -1;
    else if (b->max >= 0)
      b->max++;
    if (depth == 0 && !memmem(p, len, "...", 3))
      b->min++;
    depth -= closes;
    p += len;
  }
}

void lu_register(LuBuiltin *const *table) {
  for (; *table; table++) {
    LuBuiltin *b = *table;
    parse_usage(b);
    LuValue *v = lu_new(LU_BUILTIN);
    v->builtin = b;
    LuValue *sym = lu_intern(b->name);
    sym->sym.value = v;
  }
}

/* ---- argument checkers ---- */

noreturn void lu_arg_error(int i, const char *expected, LuValue *got) {
  lu_error("%s: argument %d: expected %s, got %s", lu_caller(), i + 1, expected,
           lu_repr_limit(got, 60));
}

double lu_arg_num(LuValue **argv, int i) {
  if (!LU_IS(argv[i], LU_NUMBER))
    lu_arg_error(i, "number", argv[i]);
  return LU_NUM(argv[i]);
}

long lu_arg_int(LuValue **argv, int i) {
  double x = lu_arg_num(argv, i);
  if (!(x >= -9.0e18 && x <= 9.0e18) || x != (double)(long)x)
    lu_arg_error(i, "integer", argv[i]);
  return (long)x;
}

const char *lu_arg_str(LuValue **argv, int i) {
  if (!LU_IS(argv[i], LU_STRING))
    lu_arg_error(i, "string", argv[i]);
  return argv[i]->str.s;
}

LuValue *lu_arg_sym(LuValue **argv, int i) {
  if (!LU_IS(argv[i], LU_SYMBOL))
    lu_arg_error(i, "symbol", argv[i]);
  return argv[i];
}

LuValue *lu_arg_list(LuValue **argv, int i) {
  if (!LU_ISNIL(argv[i]) && !LU_IS(argv[i], LU_CONS))
    lu_arg_error(i, "list", argv[i]);
  return argv[i];
}

LuValue *lu_arg_type(LuValue **argv, int i, LuType type) {
  if (!LU_IS(argv[i], type)) {
    LuValue probe = {.type = type};
    lu_arg_error(i, type == LU_NIL ? "()" : lu_type_name(&probe), argv[i]);
  }
  return argv[i];
}

void *lu_arg_cdata(LuValue **argv, int i, const LuCType *ctype) {
  if (!LU_IS(argv[i], LU_CDATA) || argv[i]->cdata.ctype != ctype)
    lu_arg_error(i, ctype->name, argv[i]);
  return argv[i]->cdata.ptr;
}

bool lu_arg_given(LuValue **argv, int argc, int i) {
  return i < argc && argv[i] != lu_nil;
}
