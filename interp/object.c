/* object.c: classes and objects, as in Lush. (defclass C super (slot
   default)...), (defmethod C name (args) body...), (new C args...) which
   calls the constructor method named C; (==> obj method args...) is
   compiled with the special forms (special.c) and calls lu_send.
   Inside a method `this` is the object and slots read and setq like
   variables (the compiler resolves them through the object frame). */
#include <string.h>

#include "code.h"

static LuValue *s_object;

static struct LuClass *class_of(LuValue *v) {
  return LU_IS(v, LU_CLASS) ? v->klass : NULL;
}

static LuValue *global_class(LuValue *name) {
  LuValue *c = LU_IS(name, LU_SYMBOL) ? name->sym.value : NULL;
  if (!c || !LU_IS(c, LU_CLASS))
    lu_error("%s: not a class: %s", lu_caller(), lu_repr_limit(name, 60));
  return c;
}

static LuValue *make_class(LuValue *name, LuValue *super, LuValue *slots) {
  struct LuClass *sc = super != lu_nil ? class_of(super) : NULL;
  long own = lu_length(slots);
  int n = (sc ? sc->nslots : 0) + (int)own;
  struct LuClass *c = lu_alloc(sizeof *c);
  c->name = name;
  c->super = super;
  c->nslots = n;
  c->slots = lu_alloc((size_t)(n ? n : 1) * sizeof *c->slots);
  c->inits = lu_alloc((size_t)(n ? n : 1) * sizeof *c->inits);
  c->methods = lu_hash_new()->hash;
  int i = 0;
  for (; sc && i < sc->nslots; i++) {
    c->slots[i] = sc->slots[i];
    c->inits[i] = sc->inits[i];
  }
  for (; slots != lu_nil; slots = lu_cdr(slots), i++) {
    LuValue *s = lu_car(slots);
    LuValue *init = lu_nil;
    if (LU_IS(s, LU_CONS)) {
      init = lu_cdr(s) != lu_nil ? lu_car(lu_cdr(s)) : lu_nil;
      s = lu_car(s);
    }
    lu_check_name(s, "a slot name");
    c->slots[i] = s;
    c->inits[i] = init;
  }
  LuValue *v = lu_new(LU_CLASS);
  v->klass = c;
  return v;
}

/* The method table is a hash; wrap it for the lu_hash_* functions. */
static LuValue *methods_of(struct LuClass *c) {
  LuValue *h = lu_new(LU_HASH);
  h->hash = c->methods;
  return h;
}

static LuValue *find_method(LuValue *klass, LuValue *name) {
  for (; klass != lu_nil; klass = klass->klass->super) {
    LuValue *m = lu_hash_get(methods_of(klass->klass), name);
    if (m)
      return m;
  }
  return NULL;
}

LU_DEFSPECIAL(defclass, "(defclass NAME SUPER (SLOT DEFAULT)...)",
              "Defines class NAME, a subclass of SUPER (a class name; object "
              "is the root), with SLOTs (a name or (name default-form)). "
              "Default forms are evaluated by each new.") {
  LuValue *name = lu_check_name(lu_car(args), "the class name");
  LuValue *super = lu_cdr(args) == lu_nil ? lu_nil : lu_car(lu_cdr(args));
  super = super == lu_nil ? lu_nil : global_class(super);
  LuValue *c = make_class(
      name, super, lu_cdr(args) == lu_nil ? lu_nil : lu_cdr(lu_cdr(args)));
  lu_define(name, c);
  return name;
}

LU_DEFSPECIAL(defmethod, "(defmethod CLASS NAME (PARAMS...) [DOC] BODY...)",
              "Defines method NAME of CLASS; a method named like its class "
              "is the constructor that new calls.") {
  LuValue *c = global_class(lu_car(args));
  LuValue *name = lu_check_name(lu_car(lu_cdr(args)), "the method name");
  LuValue *m = lu_make_fn(LU_CLOSURE, name, lu_cdr(lu_cdr(args)), *env);
  m->fn->klass = c;
  lu_hash_set(methods_of(c->klass), name, m);
  return name;
}

bool lu_responds(LuValue *obj, LuValue *method) {
  return LU_IS(obj, LU_OBJECT) && find_method(obj->obj->klass, method);
}

LuValue *lu_send(LuValue *obj, LuValue *method, int argc, LuValue **argv) {
  if (!LU_IS(obj, LU_OBJECT))
    lu_error("==>: not an object: %s", lu_repr_limit(obj, 60));
  LuValue *m = find_method(obj->obj->klass, method);
  if (!m)
    lu_error("==>: %s has no method %s", lu_repr_limit(obj, 60),
             method->sym.name);
  LuValue *env =
      lu_env_bind(lu_env_bind(m->fn->env, NULL, obj), lu_s_this, obj);
  return lu_call_closure(m, env, argc, argv);
}

LU_DEFUN(new, "(new CLASS ARGS...)",
         "Makes an object of CLASS: slots get their defaults, then the "
         "constructor (the method named like the class) gets ARGS.") {
  LuValue *c = lu_arg_type(argv, 0, LU_CLASS);
  struct LuClass *k = c->klass;
  LuValue *obj = lu_new(LU_OBJECT);
  obj->obj = lu_alloc(sizeof(struct LuObject));
  obj->obj->klass = c;
  obj->obj->slots =
      lu_alloc((size_t)(k->nslots ? k->nslots : 1) * sizeof(LuValue *));
  for (int i = 0; i < k->nslots; i++)
    obj->obj->slots[i] = lu_eval(k->inits[i], lu_nil);
  for (LuValue *sc = c; sc != lu_nil; sc = sc->klass->super)
    if (find_method(c, sc->klass->name)) {
      lu_send(obj, sc->klass->name, argc - 1, argv + 1);
      return obj;
    }
  if (argc > 1)
    lu_error("new: %s has no constructor to take arguments", k->name->sym.name);
  return obj;
}

static int slot_index(LuValue *obj, LuValue *name) {
  struct LuClass *c = obj->obj->klass->klass;
  for (int i = 0; i < c->nslots; i++)
    if (c->slots[i] == name)
      return i;
  lu_error("%s: %s has no slot %s", lu_caller(), c->name->sym.name,
           name->sym.name);
}

LU_DEFUN(getslot, "(getslot OBJECT SLOT)", "The value of SLOT of OBJECT.") {
  LuValue *obj = lu_arg_type(argv, 0, LU_OBJECT);
  return obj->obj->slots[slot_index(obj, lu_arg_sym(argv, 1))];
}

LU_DEFUN(setslot, "(setslot OBJECT SLOT VALUE)",
         "Sets SLOT of OBJECT to VALUE; returns VALUE.") {
  LuValue *obj = lu_arg_type(argv, 0, LU_OBJECT);
  return obj->obj->slots[slot_index(obj, lu_arg_sym(argv, 1))] = argv[2];
}

LU_DEFUN(classof, "(classof OBJECT)", "The class of OBJECT.") {
  return lu_arg_type(argv, 0, LU_OBJECT)->obj->klass;
}

LU_DEFUN(is_a, "(is-a OBJECT CLASS)",
         "t when OBJECT is an instance of CLASS or of a subclass of it.") {
  LuValue *c = lu_arg_type(argv, 1, LU_CLASS);
  if (!LU_IS(argv[0], LU_OBJECT))
    return lu_nil;
  for (LuValue *k = argv[0]->obj->klass; k != lu_nil; k = k->klass->super)
    if (k == c)
      return lu_t;
  return lu_nil;
}

static LuBuiltin *const object_builtins[] = {
    &defclass_builtin, &defmethod_builtin, &new_builtin,  &getslot_builtin,
    &setslot_builtin,  &classof_builtin,   &is_a_builtin, NULL};

void lu_object_open(void) {
  lu_register(object_builtins);
  s_object = lu_intern("object");
  lu_define(s_object, make_class(s_object, lu_nil, lu_nil));
}
