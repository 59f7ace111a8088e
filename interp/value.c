/* value.c: the values — constructors, the symbol table, hash tables,
   equality, text buffers and GC allocation. */
#include <gc.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "interp.h"

/* () is its own car and cdr, so walking past the end of a list is safe. */
static LuValue nil_value = {.type = LU_NIL,
                            .cons = {&nil_value, &nil_value, NULL}};
LuValue *const lu_nil = &nil_value;
LuValue *lu_t;

/* ---- memory ---- */

/* Refuses sizes beyond what this process may use (memory, cgroup and
   rlimits): Boehm GC would otherwise try, and the kernel might kill us
   instead of failing. */
static void check_size(size_t n, const char *who) {
  static size_t limit;
  if (!limit)
    limit = lu_memory_limit();
  if (n > limit) {
    double x = (double)n;
    const char *unit = "B";
    const char *units[] = {"KB", "MB", "GB", "TB", "PB", "EB"};
    for (int i = 0; i < 6 && x >= 1024; i++) {
      x /= 1024;
      unit = units[i];
    }
    lu_error("%s: %.1f %s requested, more than this process may use", who, x,
             unit);
  }
}

/* Memory kept back so that the error for running out can still be built;
   given up on the first failure, taken again after the error is caught. */
static void *reserve;
static LuValue *out_of_memory; /* preallocated, for a failure without it */

/* Zeroes the stack just below the caller's frame, where the frames of a
   computation abandoned by an error lay: the collector's own frames come
   there next, and a stale pointer left in one of their slots would keep
   alive, conservatively, what the failed computation built. */
static __attribute__((noinline)) void clear_dead_stack(void) {
  volatile char pad[256 * 1024];
  memset((char *)pad, 0, sizeof pad);
}

void lu_memory_reserve(void) {
  if (!reserve && out_of_memory) { /* after running out: free its garbage */
    clear_dead_stack();
    GC_gcollect();
  }
  if (!reserve)
    reserve = GC_MALLOC_ATOMIC(1u << 20);
  if (!out_of_memory) {
    out_of_memory = lu_new(LU_ERROR);
    out_of_memory->err = GC_MALLOC(sizeof(struct LuErr));
    out_of_memory->err->message = lu_cstring("out of memory");
    out_of_memory->err->where = out_of_memory->err->trace = lu_nil;
  }
}

/* Every GC allocation goes through here: NULL becomes a Lisp error. */
static void *checked(void *p) {
  if (p)
    return p;
  if (reserve) {
    GC_FREE(reserve);
    reserve = NULL;
    lu_error("out of memory");
  }
  lu_rethrow(out_of_memory);
}

void *lu_alloc(size_t n) {
  check_size(n, lu_caller());
  return checked(GC_MALLOC(n ? n : 1));
}

void *lu_alloc_atomic(size_t n, const char *who) {
  check_size(n, who);
  return checked(GC_MALLOC_ATOMIC(n ? n : 1));
}

/* Values come from a private free list that GC_malloc_many refills: one
   pointer pop per value instead of a call into the GC. The list is a root,
   so values waiting on it are not collected. */
static void *free_values;

LuValue *lu_new(LuType type) {
  if (!free_values)
    free_values = checked(GC_malloc_many(sizeof(LuValue)));
  LuValue *v = free_values;
  free_values = GC_NEXT(v);
  memset(v, 0, sizeof *v);
  v->type = type;
  return v;
}

/* ---- constructors ---- */

/* Small integers are made once: loop counters and indices allocate
   nothing. */
enum { SMALL_MIN = -1024, SMALL_MAX = 1024 };
static LuValue small_ints[SMALL_MAX - SMALL_MIN + 1];
LuValue *const lu_zero = &small_ints[-SMALL_MIN];

LuValue *lu_number(double x) {
  if (x >= SMALL_MIN && x <= SMALL_MAX && x == (int)x &&
      !(x == 0 && signbit(x)))
    return &small_ints[(int)x - SMALL_MIN];
  LuValue *v = lu_new(LU_NUMBER);
  v->num = x;
  return v;
}

LuValue *lu_string(const char *s, size_t len) {
  char *p = lu_alloc_atomic(len + 1, "string");
  memcpy(p, s, len);
  p[len] = 0;
  LuValue *v = lu_new(LU_STRING);
  v->str.s = p;
  v->str.len = len;
  return v;
}

LuValue *lu_cstring(const char *s) {
  return lu_string(s, strlen(s));
}

LuValue *lu_cons(LuValue *car, LuValue *cdr) {
  return lu_cons_at(car, cdr, NULL);
}

LuValue *lu_cons_at(LuValue *car, LuValue *cdr, const LuLoc *loc) {
  LuValue *v = lu_new(LU_CONS);
  v->cons.car = car;
  v->cons.cdr = cdr;
  v->cons.loc = loc;
  return v;
}

LuValue *lu_cdata(const LuCType *ctype, void *ptr) {
  LuValue *v = lu_new(LU_CDATA);
  v->cdata.ctype = ctype;
  v->cdata.ptr = ptr;
  return v;
}

LuValue *lu_list(int n, ...) {
  va_list ap;
  va_start(ap, n);
  LuValue *head = lu_nil, **tail = &head;
  for (int i = 0; i < n; i++) {
    *tail = lu_cons(va_arg(ap, LuValue *), lu_nil);
    tail = &(*tail)->cons.cdr;
  }
  va_end(ap);
  return head;
}

LuValue *lu_nreverse(LuValue *list) {
  LuValue *r = lu_nil;
  while (list != lu_nil) {
    LuValue *next = list->cons.cdr;
    list->cons.cdr = r;
    r = list;
    list = next;
  }
  return r;
}

long lu_length(LuValue *list) {
  long n = 0;
  LuValue *slow = list; /* Floyd: a circular list is caught, not walked */
  for (; list->type == LU_CONS; list = list->cons.cdr) {
    if (++n % 2 == 0) {
      slow = slow->cons.cdr;
      if (slow == list->cons.cdr)
        lu_error("%s: circular list", lu_caller());
    }
  }
  if (list != lu_nil)
    lu_error("%s: improper list", lu_caller());
  return n;
}

/* ---- symbols: an open-addressing table of interned names ---- */

static LuValue **symtab;
static size_t symcap, symcount;

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}

static void symtab_grow(void) {
  size_t cap = symcap ? symcap * 2 : 1024;
  LuValue **t = checked(GC_MALLOC_UNCOLLECTABLE(cap * sizeof *t));
  for (size_t i = 0; i < symcap; i++) {
    LuValue *s = symtab[i];
    if (!s)
      continue;
    size_t j = hash_bytes(s->sym.name, strlen(s->sym.name)) & (cap - 1);
    while (t[j])
      j = (j + 1) & (cap - 1);
    t[j] = s;
  }
  GC_FREE(symtab);
  symtab = t;
  symcap = cap;
}

LuValue *lu_intern(const char *name) {
  if (2 * (symcount + 1) > symcap)
    symtab_grow();
  size_t n = strlen(name);
  size_t j = hash_bytes(name, n) & (symcap - 1);
  for (; symtab[j]; j = (j + 1) & (symcap - 1))
    if (strcmp(symtab[j]->sym.name, name) == 0)
      return symtab[j];
  LuValue *s = lu_new(LU_SYMBOL);
  char *copy = lu_alloc_atomic(n + 1, "intern");
  memcpy(copy, name, n + 1);
  s->sym.name = copy;
  s->sym.value = NULL;
  s->sym.where = lu_nil;
  symtab[j] = s;
  symcount++;
  return s;
}

void lu_symbols_each(void (*fn)(LuValue *sym, void *ud), void *ud) {
  for (size_t i = 0; i < symcap; i++)
    if (symtab[i])
      fn(symtab[i], ud);
}

LuValue *lu_global(const char *name) {
  return lu_intern(name)->sym.value;
}

void lu_set_global(const char *name, LuValue *value) {
  lu_intern(name)->sym.value = value;
}

/* ---- equality and hashing ---- */

bool lu_equal(LuValue *a, LuValue *b) {
  for (;;) {
    if (a == b)
      return true;
    if (a->type != b->type)
      return false;
    switch (a->type) {
    case LU_NUMBER:
      return a->num == b->num;
    case LU_STRING:
      return a->str.len == b->str.len &&
             memcmp(a->str.s, b->str.s, a->str.len) == 0;
    case LU_CONS:
      lu_check_stack();
      lu_poll(); /* circular lists compare until Ctrl-C */
      if (!lu_equal(a->cons.car, b->cons.car))
        return false;
      a = a->cons.cdr;
      b = b->cons.cdr;
      continue;
    case LU_CDATA:
      return a->cdata.ctype == b->cdata.ctype && a->cdata.ctype->equal &&
             a->cdata.ctype->equal(a, b);
    default:
      return false;
    }
  }
}

/* Spreads every input bit over the low bits the tables mask with. */
static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdu;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53u;
  return h ^ (h >> 33);
}

/* Consistent with lu_equal: equal values hash alike. */
static uint64_t hash_value(LuValue *v, int depth) {
  switch (v->type) {
  case LU_NUMBER: {
    double x = v->num == 0 ? 0 : v->num; /* -0 equals 0 */
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return mix(bits);
  }
  case LU_STRING:
    return hash_bytes(v->str.s, v->str.len);
  case LU_CONS: {
    uint64_t h = 7;
    for (int i = 0; v->type == LU_CONS && i < 8 && depth < 4; i++) {
      h = h * 31 + hash_value(v->cons.car, depth + 1);
      v = v->cons.cdr;
    }
    return h;
  }
  case LU_CDATA: /* structural equality may hold: hash by type only */
    return mix((uintptr_t)v->cdata.ctype);
  default:
    return mix((uintptr_t)v);
  }
}

/* ---- hash tables: entries kept in insertion order, an index on top ---- */

/* The index is linear-probing with backward-shift deletion, so it has no
   tombstones; removed entries leave a hole (key NULL) in the entry arrays
   until the next rebuild compacts them. */
struct LuHash {
  LuValue **keys, **vals; /* entries; a removed entry has key NULL */
  size_t n, cap;          /* entries used (incl. removed), allocated */
  size_t live;
  int32_t *index; /* -1 empty, else entry number */
  size_t icap;
};

LuValue *lu_hash_new(void) {
  LuValue *v = lu_new(LU_HASH);
  v->hash = lu_alloc(sizeof(struct LuHash));
  return v;
}

static struct LuHash *hash_of(LuValue *h) {
  return h->hash;
}

/* Returns the index slot for key: holding its entry, or empty. */
static int32_t *hash_slot(struct LuHash *t, LuValue *key) {
  size_t j = hash_value(key, 0) & (t->icap - 1);
  for (;; j = (j + 1) & (t->icap - 1)) {
    int32_t e = t->index[j];
    if (e < 0 || (t->keys[e] && lu_equal(t->keys[e], key)))
      return &t->index[j];
  }
}

/* Compacts the entries and rebuilds the index at a size fit for them. */
static void hash_rebuild(struct LuHash *t) {
  size_t cap = 8;
  while (cap < 2 * (t->live + 1))
    cap *= 2;
  LuValue **keys = lu_alloc(cap * sizeof *keys);
  LuValue **vals = lu_alloc(cap * sizeof *vals);
  size_t n = 0;
  for (size_t i = 0; i < t->n; i++)
    if (t->keys[i]) {
      keys[n] = t->keys[i];
      vals[n++] = t->vals[i];
    }
  t->keys = keys;
  t->vals = vals;
  t->n = n;
  t->cap = cap;
  t->icap = 2 * cap;
  t->index = lu_alloc_atomic(t->icap * sizeof *t->index, "htable");
  memset(t->index, 0xff, t->icap * sizeof *t->index);
  for (size_t i = 0; i < n; i++)
    *hash_slot(t, keys[i]) = (int32_t)i;
}

LuValue *lu_hash_get(LuValue *h, LuValue *key) {
  struct LuHash *t = hash_of(h);
  if (!t->live)
    return NULL;
  int32_t e = *hash_slot(t, key);
  return e < 0 ? NULL : t->vals[e];
}

void lu_hash_set(LuValue *h, LuValue *key, LuValue *value) {
  struct LuHash *t = hash_of(h);
  if (t->icap) {
    int32_t e = *hash_slot(t, key);
    if (e >= 0) {
      t->vals[e] = value;
      return;
    }
  }
  if (t->n + 1 > t->cap)
    hash_rebuild(t);
  t->keys[t->n] = key;
  t->vals[t->n] = value;
  *hash_slot(t, key) = (int32_t)t->n;
  t->n++;
  t->live++;
}

bool lu_hash_remove(LuValue *h, LuValue *key) {
  struct LuHash *t = hash_of(h);
  if (!t->live)
    return false;
  int32_t *slot = hash_slot(t, key);
  int32_t e = *slot;
  if (e < 0)
    return false;
  t->keys[e] = NULL;
  t->vals[e] = NULL;
  t->live--;
  /* Shift later members of the probe run back over the freed slot. */
  size_t mask = t->icap - 1, hole = (size_t)(slot - t->index);
  for (size_t j = (hole + 1) & mask; t->index[j] >= 0; j = (j + 1) & mask) {
    size_t home = hash_value(t->keys[t->index[j]], 0) & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      t->index[hole] = t->index[j];
      hole = j;
    }
  }
  t->index[hole] = -1;
  if (t->n > 2 * t->live + 16)
    hash_rebuild(t);
  return true;
}

size_t lu_hash_count(LuValue *h) {
  return hash_of(h)->live;
}

void lu_hash_each(LuValue *h, bool (*fn)(LuValue *k, LuValue *v, void *ud),
                  void *ud) {
  struct LuHash *t = hash_of(h);
  for (size_t i = 0; i < t->n; i++)
    if (t->keys[i] && !fn(t->keys[i], t->vals[i], ud))
      return;
}

/* ---- type names ---- */

const char *lu_type_name(LuValue *v) {
  switch (v->type) {
  case LU_NIL:
    return "()";
  case LU_NUMBER:
    return "number";
  case LU_STRING:
    return "string";
  case LU_SYMBOL:
    return "symbol";
  case LU_CONS:
    return "list";
  case LU_BUILTIN:
    return v->builtin && v->builtin->special ? "special form" : "builtin";
  case LU_CLOSURE:
    return "function";
  case LU_MACRO:
    return "macro";
  case LU_CLASS:
    return "class";
  case LU_OBJECT:
    return "object";
  case LU_HASH:
    return "htable";
  case LU_ERROR:
    return "error";
  case LU_CDATA:
    return v->cdata.ctype ? v->cdata.ctype->name : "C value";
  case LU_ENV:
    return "environment";
  }
  return "?";
}

/* ---- text buffers ---- */

void lu_buf_init(LuBuf *b) {
  b->cap = 64;
  b->s = lu_alloc_atomic(b->cap, "string");
  b->len = 0;
  b->s[0] = 0;
}

void lu_buf_add(LuBuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap;
    while (b->len + n + 1 > cap)
      cap *= 2;
    char *p = lu_alloc_atomic(cap, "string");
    memcpy(p, b->s, b->len);
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

void lu_buf_puts(LuBuf *b, const char *s) {
  lu_buf_add(b, s, strlen(s));
}

void lu_buf_printf(LuBuf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof small) {
    lu_buf_add(b, small, (size_t)n);
    return;
  }
  char *big = lu_alloc_atomic((size_t)n + 1, "string");
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  lu_buf_add(b, big, (size_t)n);
}

static void no_warnings(char *msg, GC_word arg) {
  (void)msg, (void)arg;
}

void lu_value_init(void) {
  GC_set_warn_proc(no_warnings); /* failures surface as Lisp errors */
  lu_memory_reserve();
  for (int i = SMALL_MIN; i <= SMALL_MAX; i++)
    small_ints[i - SMALL_MIN] = (LuValue){.type = LU_NUMBER, .num = i};
  lu_t = lu_intern("t");
  lu_t->sym.value = lu_t;
  lu_intern("nil")->sym.value = lu_nil;
}
