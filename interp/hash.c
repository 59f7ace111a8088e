/* hash.c: the hash-table builtins (htable, hget, hset, ...) over the table
   implementation lu_hash_* of value.c. Keys are compared with equal, and
   every listing (hkeys, hvalues, htable->alist) is in insertion order. */
#include "interp.h"

static LuValue *arg_hash(LuValue **argv, int i) {
  return lu_arg_type(argv, i, LU_HASH);
}

/* lu_hash_each visitors: push a key, a value or a (key . value) pair onto
   the list *ud, so the list comes out reversed. */
static bool push_key(LuValue *k, LuValue *v, void *ud) {
  (void)v;
  *(LuValue **)ud = lu_cons(k, *(LuValue **)ud);
  return true;
}

static bool push_value(LuValue *k, LuValue *v, void *ud) {
  (void)k;
  *(LuValue **)ud = lu_cons(v, *(LuValue **)ud);
  return true;
}

static bool push_pair(LuValue *k, LuValue *v, void *ud) {
  *(LuValue **)ud = lu_cons(lu_cons(k, v), *(LuValue **)ud);
  return true;
}

static LuValue *collect(LuValue **argv,
                        bool (*push)(LuValue *, LuValue *, void *)) {
  LuValue *acc = lu_nil;
  lu_hash_each(arg_hash(argv, 0), push, &acc);
  return lu_nreverse(acc);
}

LU_DEFUN(htable, "(htable KEY-VALUE...)",
         "Returns a new hash table holding the pairs KEY VALUE ... given: "
         "(htable \"a\" 1 \"b\" 2). Keys are compared with equal.") {
  if (argc % 2 != 0)
    lu_error("htable: %d arguments: keys and values must come in pairs", argc);
  LuValue *h = lu_hash_new();
  for (int i = 0; i < argc; i += 2)
    lu_hash_set(h, argv[i], argv[i + 1]);
  return h;
}

LU_DEFUN(hget, "(hget TABLE KEY [DEFAULT])",
         "Returns the value of KEY in TABLE, or DEFAULT (default ()) when "
         "KEY is absent.") {
  LuValue *v = lu_hash_get(arg_hash(argv, 0), argv[1]);
  return v ? v : (argc > 2 ? argv[2] : lu_nil);
}

LU_DEFUN(hset, "(hset TABLE KEY VALUE)",
         "Sets the value of KEY in TABLE to VALUE; returns VALUE.") {
  lu_hash_set(arg_hash(argv, 0), argv[1], argv[2]);
  return argv[2];
}

LU_DEFUN(hrem, "(hrem TABLE KEY)",
         "Removes KEY from TABLE; returns t when it was there, else ().") {
  return LU_BOOL(lu_hash_remove(arg_hash(argv, 0), argv[1]));
}

LU_DEFUN(hcontains, "(hcontains TABLE KEY)",
         "Returns t when TABLE has KEY (even with the value ()), else ().") {
  return LU_BOOL(lu_hash_get(arg_hash(argv, 0), argv[1]) != NULL);
}

LU_DEFUN(hcount, "(hcount TABLE)", "Returns the number of keys of TABLE.") {
  return lu_number((double)lu_hash_count(arg_hash(argv, 0)));
}

LU_DEFUN(hkeys, "(hkeys TABLE)",
         "Returns the list of the keys of TABLE, in insertion order.") {
  return collect(argv, push_key);
}

LU_DEFUN(hvalues, "(hvalues TABLE)",
         "Returns the list of the values of TABLE, in insertion order.") {
  return collect(argv, push_value);
}

LU_DEFUN(htable_to_alist, "(htable->alist TABLE)",
         "Returns TABLE's entries as a list of (KEY . VALUE) pairs, in "
         "insertion order.") {
  return collect(argv, push_pair);
}

LU_DEFUN(alist_to_htable, "(alist->htable ALIST)",
         "Returns a new hash table holding the (KEY . VALUE) pairs of ALIST; "
         "a later pair with the same key wins.") {
  LuValue *h = lu_hash_new();
  long n = lu_arg_proper(argv, 0, "proper list");
  LuValue *l = argv[0];
  for (long i = 0; i < n; i++, l = LU_CDR(l)) {
    LuValue *pair = LU_CAR(l);
    if (!LU_IS(pair, LU_CONS))
      lu_error("alist->htable: element %s is not a (KEY . VALUE) pair",
               lu_repr_limit(pair, 60));
    lu_hash_set(h, LU_CAR(pair), LU_CDR(pair));
  }
  return h;
}

LU_DEFUN(hash_table_p, "(hash-table-p X)",
         "Returns t when X is a hash table, else ().") {
  return LU_BOOL(LU_IS(argv[0], LU_HASH));
}

static LuBuiltin *const hash_builtins[] = {&htable_builtin,
                                           &hget_builtin,
                                           &hset_builtin,
                                           &hrem_builtin,
                                           &hcontains_builtin,
                                           &hcount_builtin,
                                           &hkeys_builtin,
                                           &hvalues_builtin,
                                           &htable_to_alist_builtin,
                                           &alist_to_htable_builtin,
                                           &hash_table_p_builtin,
                                           NULL};

void lu_hash_open(void) {
  lu_register(hash_builtins);
}
