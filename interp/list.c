/* list.c: the list builtins (car ... sort), the type predicates, and the
   function-calling builtins apply, funcall and the mappers. Lists are built
   by consing in reverse and lu_nreverse-ing the fresh list. Functions that
   walk a whole list first count its pairs, checking it is proper (no dotted
   tail, no cycle). A walk that calls user code (mapcar, filter, reduce...)
   then takes exactly that many steps with lu_car and lu_cdr: the code may
   cut or loop the list under it without a crash or a hang. */
#include "interp.h"

#include <math.h>

/* ---- Helpers --------------------------------------------------------- */

#define CIRCULAR (-2)

/* The number of pairs in x; -1 when x is not a list or, unless dotted_ok,
   has a dotted tail; CIRCULAR when it loops back on itself (a list made
   circular with rplacd is an error, not a hang). Floyd's tortoise and
   hare. */
static long count_pairs(LuValue *x, bool dotted_ok) {
  LuValue *slow = x;
  long n = 0;
  for (; LU_IS(x, LU_CONS); n++) {
    x = LU_CDR(x);
    if (n & 1) {
      slow = LU_CDR(slow);
      if (x == slow)
        return CIRCULAR;
    }
  }
  return (LU_ISNIL(x) || (dotted_ok && n > 0)) ? n : -1;
}

bool lu_circular(LuValue *x) {
  return count_pairs(x, true) == CIRCULAR;
}

/* Raises the error for argument i, which count_pairs refused. A circular
   list is not printed: printing it would never end. */
noreturn static void not_a_list(LuValue **argv, int i, long count,
                                const char *expected) {
  if (count == CIRCULAR)
    lu_error("%s: argument %d: expected %s, got a circular list", lu_caller(),
             i + 1, expected);
  lu_arg_error(i, expected, argv[i]);
}

long lu_arg_proper(LuValue **argv, int i, const char *expected) {
  long n = count_pairs(argv[i], false);
  if (n < 0)
    not_a_list(argv, i, n, expected);
  return n;
}

static long arg_proper(LuValue **argv, int i) {
  return lu_arg_proper(argv, i, "proper list");
}

/* car and cdr of () are (); of anything else but a pair, an error naming
   the caller and argument i. */
static LuValue *car_of(LuValue *x, int i) {
  if (LU_ISNIL(x))
    return lu_nil;
  if (!LU_IS(x, LU_CONS))
    lu_arg_error(i, "list", x);
  return LU_CAR(x);
}

static LuValue *cdr_of(LuValue *x, int i) {
  if (LU_ISNIL(x))
    return lu_nil;
  if (!LU_IS(x, LU_CONS))
    lu_arg_error(i, "list", x);
  return LU_CDR(x);
}

static LuValue *arg_pair(LuValue **argv, int i) {
  if (!LU_IS(argv[i], LU_CONS))
    lu_arg_error(i, "pair", argv[i]);
  return argv[i];
}

/* Numbers are boxed, so identity would make (eq 1 1) false: eq compares
   numbers by value and everything else by identity. */
static bool eq(LuValue *a, LuValue *b) {
  if (a == b)
    return true;
  return LU_IS(a, LU_NUMBER) && LU_IS(b, LU_NUMBER) && LU_NUM(a) == LU_NUM(b);
}

/* Prepends to *acc a fresh copy of list's elements, reversed: with a final
   lu_nreverse this is how copies and appends are built. */
static void push_all(LuValue **acc, LuValue *list) {
  for (; !LU_ISNIL(list); list = LU_CDR(list))
    *acc = lu_cons(LU_CAR(list), *acc);
}

/* Finds x in argument 1, a proper list, by eq or equal; returns the tail
   that starts with it, or (). */
static LuValue *find_tail(LuValue **argv, bool by_equal) {
  arg_proper(argv, 1);
  for (LuValue *l = argv[1]; !LU_ISNIL(l); l = LU_CDR(l))
    if (by_equal ? lu_equal(argv[0], LU_CAR(l)) : eq(argv[0], LU_CAR(l)))
      return l;
  return lu_nil;
}

/* Finds the first pair of alist argument 1 whose car matches key argument
   0; elements that are not pairs are skipped. */
static LuValue *find_assoc(LuValue **argv, bool by_equal) {
  arg_proper(argv, 1);
  for (LuValue *l = argv[1]; !LU_ISNIL(l); l = LU_CDR(l)) {
    LuValue *pair = LU_CAR(l);
    if (LU_IS(pair, LU_CONS) && (by_equal ? lu_equal(argv[0], LU_CAR(pair))
                                          : eq(argv[0], LU_CAR(pair))))
      return pair;
  }
  return lu_nil;
}

/* ---- Pairs ----------------------------------------------------------- */

LU_DEFUN(car, "(car LIST)", "Returns the first element of LIST; () for ().") {
  return car_of(argv[0], 0);
}

LU_DEFUN(cdr, "(cdr LIST)",
         "Returns LIST without its first element; () for ().") {
  return cdr_of(argv[0], 0);
}

LU_DEFUN(caar, "(caar LIST)", "Returns (car (car LIST)).") {
  return car_of(car_of(argv[0], 0), 0);
}

LU_DEFUN(cadr, "(cadr LIST)", "Returns (car (cdr LIST)): the second element.") {
  return car_of(cdr_of(argv[0], 0), 0);
}

LU_DEFUN(cdar, "(cdar LIST)", "Returns (cdr (car LIST)).") {
  return cdr_of(car_of(argv[0], 0), 0);
}

LU_DEFUN(cddr, "(cddr LIST)", "Returns (cdr (cdr LIST)).") {
  return cdr_of(cdr_of(argv[0], 0), 0);
}

LU_DEFUN(caddr, "(caddr LIST)",
         "Returns (car (cdr (cdr LIST))): the third element.") {
  return car_of(cdr_of(cdr_of(argv[0], 0), 0), 0);
}

LU_DEFUN(cons, "(cons X Y)", "Returns a new pair whose car is X and cdr Y.") {
  return lu_cons(argv[0], argv[1]);
}

LU_DEFUN(rplaca, "(rplaca PAIR X)",
         "Replaces the car of PAIR with X; returns PAIR.") {
  arg_pair(argv, 0)->cons.car = argv[1];
  return argv[0];
}

LU_DEFUN(rplacd, "(rplacd PAIR X)",
         "Replaces the cdr of PAIR with X; returns PAIR.") {
  arg_pair(argv, 0)->cons.cdr = argv[1];
  return argv[0];
}

/* ---- Building lists -------------------------------------------------- */

LU_DEFUN(list, "(list X...)", "Returns a new list of the arguments.") {
  LuValue *l = lu_nil;
  for (int i = argc - 1; i >= 0; i--)
    l = lu_cons(argv[i], l);
  return l;
}

LU_DEFUN(list_star, "(list* X... TAIL)",
         "Returns the X... consed in front of TAIL: (list* 1 2 '(3)) is (1 2 "
         "3).") {
  LuValue *l = argv[argc - 1];
  for (int i = argc - 2; i >= 0; i--)
    l = lu_cons(argv[i], l);
  return l;
}

LU_DEFUN(append, "(append LIST...)",
         "Returns the concatenation of the lists. All but the last are "
         "copied; the result shares the last one.") {
  if (argc == 0)
    return lu_nil;
  LuValue *acc = lu_nil;
  for (int i = 0; i < argc - 1; i++) {
    arg_proper(argv, i);
    push_all(&acc, argv[i]);
  }
  LuValue *result = argv[argc - 1];
  for (; !LU_ISNIL(acc); acc = LU_CDR(acc))
    result = lu_cons(LU_CAR(acc), result);
  return result;
}

LU_DEFUN(copy_list, "(copy-list LIST)",
         "Returns a copy of the top-level pairs of LIST (elements are "
         "shared); a dotted tail is kept.") {
  long n = count_pairs(argv[0], true);
  if (n < 0)
    not_a_list(argv, 0, n, "list");
  LuValue *acc = lu_nil, *l = argv[0];
  for (; LU_IS(l, LU_CONS); l = LU_CDR(l))
    acc = lu_cons(LU_CAR(l), acc);
  LuValue *result = l;
  for (; !LU_ISNIL(acc); acc = LU_CDR(acc))
    result = lu_cons(LU_CAR(acc), result);
  return result;
}

LU_DEFUN(reverse, "(reverse LIST)",
         "Returns a new list of LIST's elements in reverse order.") {
  arg_proper(argv, 0);
  LuValue *acc = lu_nil;
  push_all(&acc, argv[0]);
  return acc;
}

LU_DEFUN(range, "(range [FROM] TO [STEP])",
         "Returns the list of numbers from FROM (default 0) up to TO "
         "excluded, by STEP (default 1; may be negative): (range 4) is (0 1 "
         "2 3), (range 1 10 3) is (1 4 7), (range 3 0 -1) is (3 2 1).") {
  double from = argc >= 2 ? lu_arg_num(argv, 0) : 0;
  double to = lu_arg_num(argv, argc >= 2 ? 1 : 0);
  double step = argc == 3 ? lu_arg_num(argv, 2) : 1;
  if (step == 0 || isnan(step))
    lu_arg_error(2, "non-zero step", argv[2]);
  double n = fmax(0, ceil((to - from) / step));
  if (!(n <= 1e9)) /* also catches nan and inf bounds */
    lu_error("range: cannot make a list of %g numbers", n);
  LuValue *l = lu_nil;
  for (long i = (long)n - 1; i >= 0; i--) {
    if ((i & 0xffff) == 0)
      lu_poll();
    l = lu_cons(lu_number(from + (double)i * step), l);
  }
  return l;
}

/* ---- Accessing lists ------------------------------------------------- */

LU_DEFUN(length, "(length SEQ)",
         "Returns the number of elements of the proper list SEQ, or of "
         "bytes of the string SEQ.") {
  if (LU_IS(argv[0], LU_STRING))
    return lu_number((double)argv[0]->str.len);
  return lu_number((double)arg_proper(argv, 0));
}

/* Argument 1 without its first n elements (argument 0), with cdr_of's
   errors. A circular list's loop is walked at most twice whatever n is:
   past the loop's start, n counts modulo the loop's length. */
static LuValue *drop(LuValue **argv) {
  long n = lu_arg_int(argv, 0);
  if (n < 0)
    lu_arg_error(0, "non-negative integer", argv[0]);
  LuValue *l = lu_arg_list(argv, 1);
  if (count_pairs(l, true) == CIRCULAR) {
    LuValue *slow = l, *fast = l;
    do { /* Floyd: they meet inside the loop */
      slow = LU_CDR(slow);
      fast = LU_CDR(LU_CDR(fast));
    } while (slow != fast);
    long start = 0, period = 1;
    for (slow = l; slow != fast; start++) { /* where the loop starts */
      slow = LU_CDR(slow);
      fast = LU_CDR(fast);
    }
    for (fast = LU_CDR(slow); fast != slow; period++)
      fast = LU_CDR(fast);
    if (n > start)
      n = start + (n - start) % period;
  }
  for (; n > 0 && !LU_ISNIL(l); n--)
    l = cdr_of(l, 1);
  return l;
}

LU_DEFUN(nthcdr, "(nthcdr N LIST)",
         "Returns LIST without its first N elements; () when it is shorter.") {
  return drop(argv);
}

LU_DEFUN(nth, "(nth N LIST)",
         "Returns element N of LIST, counting from 0; () when LIST is "
         "shorter.") {
  return car_of(drop(argv), 1);
}

LU_DEFUN(last, "(last LIST)", "Returns the last element of LIST; () for ().") {
  long n = arg_proper(argv, 0);
  LuValue *l = argv[0];
  for (; n > 1; n--)
    l = LU_CDR(l);
  return car_of(l, 0);
}

LU_DEFUN(member, "(member X LIST)",
         "Returns the tail of LIST that starts with the first element equal "
         "to X, or ().") {
  return find_tail(argv, true);
}

LU_DEFUN(memq, "(memq X LIST)",
         "Like member, but compares with eq (identity; numbers by value).") {
  return find_tail(argv, false);
}

LU_DEFUN(assoc, "(assoc KEY ALIST)",
         "Returns the first pair of ALIST whose car is equal to KEY, or ().") {
  return find_assoc(argv, true);
}

LU_DEFUN(assq, "(assq KEY ALIST)",
         "Like assoc, but compares with eq (identity; numbers by value).") {
  return find_assoc(argv, false);
}

/* ---- Calling functions ----------------------------------------------- */

LU_DEFUN(funcall, "(funcall F ARG...)",
         "Calls function F with the arguments ARG...; returns its value.") {
  return lu_apply(argv[0], argc - 1, argv + 1);
}

LU_DEFUN(apply, "(apply F ARG... LIST)",
         "Calls function F with the arguments ARG... followed by the "
         "elements of LIST; returns its value: (apply + 1 '(2 3)) is 6.") {
  long n = arg_proper(argv, argc - 1);
  int fixed = argc - 2;
  LuValue **args = lu_alloc(sizeof(LuValue *) * (size_t)(fixed + n + 1));
  for (int i = 0; i < fixed; i++)
    args[i] = argv[i + 1];
  LuValue *l = argv[argc - 1];
  for (long i = 0; i < n; i++, l = LU_CDR(l))
    args[fixed + i] = LU_CAR(l);
  return lu_apply(argv[0], (int)(fixed + n), args);
}

/* Calls f on the i-th elements of the lists argv[1..argc-1] in turn, until
   the shortest ends. Returns the results as a fresh list when collect,
   else (). */
static LuValue *map_lists(LuValue **argv, int argc, bool collect) {
  int nl = argc - 1;
  LuValue **lists = lu_alloc(sizeof(LuValue *) * (size_t)nl);
  LuValue **args = lu_alloc(sizeof(LuValue *) * (size_t)nl);
  long n = -1;
  for (int j = 0; j < nl; j++) {
    long len = arg_proper(argv, j + 1);
    n = (n < 0 || len < n) ? len : n;
    lists[j] = argv[j + 1];
  }
  LuValue *acc = lu_nil;
  for (long i = 0; i < n; i++) {
    for (int j = 0; j < nl; j++) {
      args[j] = lu_car(lists[j]);
      lists[j] = lu_cdr(lists[j]);
    }
    LuValue *r = lu_apply(argv[0], nl, args);
    if (collect)
      acc = lu_cons(r, acc);
  }
  return lu_nreverse(acc);
}

LU_DEFUN(mapcar, "(mapcar F LIST LISTS...)",
         "Returns the list of F's results on the first elements of the "
         "lists, then the second ones, ... until the shortest list ends: "
         "(mapcar + '(1 2) '(10 20)) is (11 22).") {
  return map_lists(argv, argc, true);
}

LU_DEFUN(mapc, "(mapc F LIST LISTS...)",
         "Calls F like mapcar, for its side effects; returns LIST.") {
  map_lists(argv, argc, false);
  return argv[1];
}

LU_DEFUN(mapcan, "(mapcan F LIST LISTS...)",
         "Calls F like mapcar and returns the concatenation of its results, "
         "which must be lists (they are copied, not modified).") {
  LuValue *results = map_lists(argv, argc, true);
  LuValue *acc = lu_nil;
  for (LuValue *r = results; !LU_ISNIL(r); r = LU_CDR(r)) {
    LuValue *item = LU_CAR(r);
    long n = count_pairs(item, false);
    if (n < 0)
      lu_error("mapcan: F returned %s, not a proper list",
               n == CIRCULAR ? "a circular list" : lu_repr_limit(item, 60));
    push_all(&acc, item);
  }
  return lu_nreverse(acc);
}

LU_DEFUN(filter, "(filter PRED LIST)",
         "Returns the list of the elements x of LIST for which (PRED x) is "
         "not (), in order.") {
  long n = arg_proper(argv, 1);
  LuValue *acc = lu_nil, *l = argv[1];
  for (long i = 0; i < n; i++, l = lu_cdr(l)) {
    LuValue *x = lu_car(l);
    if (!LU_ISNIL(lu_apply(argv[0], 1, &x)))
      acc = lu_cons(x, acc);
  }
  return lu_nreverse(acc);
}

LU_DEFUN(reduce, "(reduce F LIST [INIT])",
         "Folds LIST from the left with the two-argument function F: "
         "(reduce F '(a b c) i) is (F (F (F i a) b) c). Without INIT the "
         "first element starts; an empty LIST then gives ().") {
  long n = arg_proper(argv, 1);
  LuValue *l = argv[1];
  LuValue *acc;
  if (argc == 3) {
    acc = argv[2];
  } else {
    if (n == 0)
      return lu_nil;
    acc = LU_CAR(l);
    l = LU_CDR(l);
    n--;
  }
  for (long i = 0; i < n; i++, l = lu_cdr(l)) {
    LuValue *args[2] = {acc, lu_car(l)};
    acc = lu_apply(argv[0], 2, args);
  }
  return acc;
}

/* ---- Sorting --------------------------------------------------------- */

/* Merges the sorted runs src[lo, mid) and src[mid, hi) into dst[lo, hi).
   The right element goes first only when (pred right left) holds, so equal
   elements keep their order: this is what makes the sort stable. */
static void merge_runs(LuValue *pred, LuValue **src, LuValue **dst, long lo,
                       long mid, long hi) {
  long i = lo, j = mid, k = lo;
  while (i < mid && j < hi) {
    LuValue *args[2] = {src[j], src[i]};
    if (!LU_ISNIL(lu_apply(pred, 2, args)))
      dst[k++] = src[j++];
    else
      dst[k++] = src[i++];
  }
  while (i < mid)
    dst[k++] = src[i++];
  while (j < hi)
    dst[k++] = src[j++];
}

LU_DEFUN(sort, "(sort LIST PRED)",
         "Returns a new list of LIST's elements sorted so that (PRED a b) is "
         "true when a comes before b: (sort '(3 1 2) <) is (1 2 3). The sort "
         "is a stable merge sort: elements that PRED does not order keep "
         "their order. LIST itself is not modified.") {
  long n = arg_proper(argv, 0);
  LuValue **a = lu_alloc(sizeof(LuValue *) * (size_t)(n + 1));
  LuValue **b = lu_alloc(sizeof(LuValue *) * (size_t)(n + 1));
  LuValue *l = argv[0];
  for (long i = 0; i < n; i++, l = LU_CDR(l))
    a[i] = LU_CAR(l);
  /* Bottom-up: merge runs of width 1, 2, 4, ... ping-ponging a and b. */
  for (long width = 1; width < n; width *= 2) {
    lu_poll();
    for (long lo = 0; lo < n; lo += 2 * width) {
      long mid = lo + width < n ? lo + width : n;
      long hi = lo + 2 * width < n ? lo + 2 * width : n;
      merge_runs(argv[1], a, b, lo, mid, hi);
    }
    LuValue **t = a;
    a = b;
    b = t;
  }
  LuValue *result = lu_nil;
  for (long i = n - 1; i >= 0; i--)
    result = lu_cons(a[i], result);
  return result;
}

/* ---- Predicates ------------------------------------------------------ */

LU_DEFUN(consp, "(consp X)", "Returns t when X is a pair, else ().") {
  return LU_BOOL(LU_IS(argv[0], LU_CONS));
}

LU_DEFUN(atom, "(atom X)", "Returns t when X is not a pair, else ().") {
  return LU_BOOL(!LU_IS(argv[0], LU_CONS));
}

LU_DEFUN(null, "(null X)", "Returns t when X is (), else ().") {
  return LU_BOOL(LU_ISNIL(argv[0]));
}

LU_DEFUN(listp, "(listp X)", "Returns t when X is () or a pair, else ().") {
  return LU_BOOL(LU_ISNIL(argv[0]) || LU_IS(argv[0], LU_CONS));
}

LU_DEFUN(numberp, "(numberp X)", "Returns t when X is a number, else ().") {
  return LU_BOOL(LU_IS(argv[0], LU_NUMBER));
}

LU_DEFUN(stringp, "(stringp X)", "Returns t when X is a string, else ().") {
  return LU_BOOL(LU_IS(argv[0], LU_STRING));
}

LU_DEFUN(symbolp, "(symbolp X)",
         "Returns t when X is a symbol (t is one, () is not), else ().") {
  return LU_BOOL(LU_IS(argv[0], LU_SYMBOL));
}

LU_DEFUN(functionp, "(functionp X)",
         "Returns t when X can be called by funcall and apply: a builtin "
         "function or a lambda, else ().") {
  LuValue *x = argv[0];
  return LU_BOOL(LU_IS(x, LU_CLOSURE) ||
                 (LU_IS(x, LU_BUILTIN) && x->builtin->fn != NULL));
}

LU_DEFUN(eq_, "(eq X Y)",
         "Returns t when X and Y are the same object, or numbers of the same "
         "value, else ().") {
  return LU_BOOL(eq(argv[0], argv[1]));
}

LU_DEFUN(equal, "(equal X Y)",
         "Returns t when X and Y have the same structure and contents (lists, "
         "strings, numbers... compared recursively), else ().") {
  return LU_BOOL(lu_equal(argv[0], argv[1]));
}

static LuBuiltin *const list_builtins[] = {&car_builtin,
                                           &cdr_builtin,
                                           &caar_builtin,
                                           &cadr_builtin,
                                           &cdar_builtin,
                                           &cddr_builtin,
                                           &caddr_builtin,
                                           &cons_builtin,
                                           &rplaca_builtin,
                                           &rplacd_builtin,
                                           &list_builtin,
                                           &list_star_builtin,
                                           &append_builtin,
                                           &copy_list_builtin,
                                           &reverse_builtin,
                                           &range_builtin,
                                           &length_builtin,
                                           &nthcdr_builtin,
                                           &nth_builtin,
                                           &last_builtin,
                                           &member_builtin,
                                           &memq_builtin,
                                           &assoc_builtin,
                                           &assq_builtin,
                                           &funcall_builtin,
                                           &apply_builtin,
                                           &mapcar_builtin,
                                           &mapc_builtin,
                                           &mapcan_builtin,
                                           &filter_builtin,
                                           &reduce_builtin,
                                           &sort_builtin,
                                           &consp_builtin,
                                           &atom_builtin,
                                           &null_builtin,
                                           &listp_builtin,
                                           &numberp_builtin,
                                           &stringp_builtin,
                                           &symbolp_builtin,
                                           &functionp_builtin,
                                           &eq__builtin,
                                           &equal_builtin,
                                           NULL};

void lu_list_open(void) {
  lu_register(list_builtins);
}
