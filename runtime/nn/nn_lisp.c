/* nn_lisp.c: modules written in Lisp: any object with fprop and bprop
   methods (and optionally bbprop) placed in a net runs through this
   module, which hands it views of the net's states. */
#include "nn_impl.h"

#include <stdio.h>

/* A Lisp object with methods (fprop x) -> y and (bprop x y dy) -> dx, and
   optionally (bbprop x y ddy) -> ddx. Its output shape is learnt when the
   net is built, by calling fprop once on zeros. Its parameters are the
   nn-parameter tensors in its slots; bprop adds into their nn-grad. */
static LuValue *lisp_call(NnCtx *c, const char *method, int argc,
                          LuValue **argv) {
  LuValue *sym = lu_intern(method);
  if (!lu_responds(c->m->obj, sym))
    lu_error("nn: the Lisp module %s has no %s method",
             lu_repr_limit(c->m->obj, 60), method);
  LuValue *r = lu_send(c->m->obj, sym, argc, argv);
  if (!LU_IS(r, LU_CDATA) || r->cdata.ctype != &lu_tensor_ctype)
    lu_error("nn: the %s method of the Lisp module %s returned %s, not a "
             "tensor",
             method, lu_repr_limit(c->m->obj, 60), lu_repr_limit(r, 60));
  return r;
}

/* A tensor viewing the pass's work buffer at p. */
static LuValue *work_view(NnCtx *c, const float *p, const NnShape *s) {
  LuTensor *w = c->pass->buf;
  long off = p - (const float *)lu_tensor_data(w);
  return lu_tensor_value(lu_nn_view(w, off, s));
}

/* Lists the parameters (nn-parameter) in the object's slots into m, in
   slot order. When there are none but some slots hold float tensors,
   warns naming them: such weights would silently never be trained. */
static void lisp_params(NnModule *m) {
  struct LuObject *o = m->obj->obj;
  struct LuClass *k = o->klass->klass;
  m->lparam = lu_alloc(sizeof(NnParam *) * (size_t)(k->nslots + 1));
  m->lpoff = lu_alloc_atomic(sizeof(long) * (size_t)(k->nslots + 1), "nn");
  m->nlparam = 0;
  LuBuf frozen;
  lu_buf_init(&frozen);
  for (int i = 0; i < k->nslots; i++) {
    LuValue *v = o->slots[i];
    NnParam *p = lu_nn_param_of(v);
    if (p)
      m->lparam[m->nlparam++] = p;
    else if (LU_IS(v, LU_CDATA) && v->cdata.ctype == &lu_tensor_ctype &&
             ((LuTensor *)v->cdata.ptr)->st->elem == LU_FLOAT)
      lu_buf_printf(&frozen, " %s", k->slots[i]->sym.name);
  }
  if (m->nlparam == 0 && frozen.s && frozen.s[0])
    fprintf(stderr,
            "warning: nn-seq: the Lisp module %s keeps float tensors in "
            "slots%s but declares no parameter (see nn-parameter): they "
            "will not be trained\n",
            lu_repr_limit(m->obj, 60), frozen.s);
}

/* The output shape, by calling fprop once on zeros; the parameters, from
   the slots. */
static void lisp_setup(NnModule *m, const NnShape *in, NnShape *out) {
  LuTensor *x = lu_tensor_make(LU_FLOAT, in->ndim, in->dim, NULL, NULL, 0);
  LuValue *xv = lu_tensor_value(x);
  NnCtx c = {.m = m};
  LuValue *r = lisp_call(&c, "fprop", 1, &xv);
  LuTensor *t = r->cdata.ptr;
  *out = lu_nn_shape_make(t->ndim, t->dim);
  lisp_params(m);
}

static void lisp_out(NnCtx *c, const char *method, LuValue *r, const NnShape *s,
                     float *dst) {
  char who[64];
  snprintf(who, sizeof who, "nn: the %s method of a Lisp module", method);
  lu_nn_read_checked(who, r->cdata.ptr, s, dst);
  (void)c;
}

static void lisp_fprop(NnCtx *c, const float *x, float *y) {
  LuValue *a = work_view(c, x, &c->m->in);
  lisp_out(c, "fprop", lisp_call(c, "fprop", 1, &a), &c->m->out, y);
}

static void lisp_back(NnCtx *c, const char *method, const float *x,
                      const float *y, const float *d, float *dx) {
  LuValue *a[3] = {work_view(c, x, &c->m->in), work_view(c, y, &c->m->out),
                   work_view(c, d, &c->m->out)};
  LuValue *r = lisp_call(c, method, 3, a);
  if (dx)
    lisp_out(c, method, r, &c->m->in, dx);
}

static void lisp_bprop(NnCtx *c, const float *x, const float *y,
                       const float *dy, float *dx) {
  lisp_back(c, "bprop", x, y, dy, dx);
}

static void lisp_bbprop(NnCtx *c, const float *x, const float *y,
                        const float *ddy, float *ddx) {
  lisp_back(c, "bbprop", x, y, ddy, ddx);
}

static void lisp_describe(NnModule *m, LuBuf *b) {
  lu_buf_printf(b, "lisp %s", lu_repr(m->obj, false));
}

static const NnOps lisp_ops = {.kind = "lisp",
                               .flags = NN_BACK_ALWAYS,
                               .setup = lisp_setup,
                               .fprop = lisp_fprop,
                               .bprop = lisp_bprop,
                               .bbprop = lisp_bbprop,
                               .describe = lisp_describe};

NnModule *lu_nn_lisp_module(LuValue *obj) {
  NnModule *m = lu_nn_module_new(&lisp_ops, 0);
  m->obj = obj;
  m->lisp = true;
  return m;
}
