/* forward.c -- forward mode: tf.autodiff.ForwardAccumulator, and the
 * generic forward rules (jvps) that op rows declare beside their vjps.
 *
 * An accumulator maps tensor ids to tangents.  While one is active on a
 * thread, every recorded op (dispatch.c) calls tg_forward_accumulate: for
 * each active accumulator holding a tangent for one of the op's float
 * inputs, the row's jvp computes its outputs' tangents, in recorded ops,
 * and the accumulator keeps them under the outputs' ids.  Nothing is kept
 * per op but the tangents themselves (no saved activations: forward mode's
 * memory advantage), and a tangent goes when its tensor dies (TF frees a
 * JVP with its primal): a tensor's dealloc calls tg_forward_forget, which
 * leaves a tombstone that the next insertion compacts away.  The primals
 * given to the constructor keep theirs (a Variable's reads come and go).
 *
 * Nesting, TF's rule: tapes and accumulators are ordered by when they were
 * entered (nesting ids).  While accumulator k computes a jvp, only what was
 * entered before k sees those ops (tg_nesting_limit, per thread): outer
 * tapes record them (back-over-forward), outer accumulators differentiate
 * them (jvp of a jvp, taken from the outer one), and tapes and
 * accumulators entered inside k ignore them, so a tape inside an
 * accumulator keeps none of its tangents and the accumulator sees the
 * tape's gradient ops (forward-over-back Hessian-vector products).
 *
 * The generic rules (vjp.h names them per row):
 *   linear       the row applied to the tangents;
 *   elementwise  a diagonal Jacobian: the row's vjp run with the tangent
 *                as cotangent (J v = J^T v), summed over the inputs;
 *   reduction    each input feeds one output: sum(t * vjp(ones)) over the
 *                row's axes;
 *   transposed   any row: its vjp run on watched ones under a private tape
 *                (recorded, linear in them), then swept with the tangents
 *                as output gradients (TF's double-vjp trick, two passes).
 */
#include "tapegrad.h"
#include "structmember.h"

Py_ssize_t tg_num_accumulating = 0;
_Thread_local int64_t tg_nesting_limit = INT64_MAX;
/* jvp rules running in any thread: 0 means every thread's limit is
 * INT64_MAX, so recording need not read the thread-local */
Py_ssize_t tg_nesting_lowered = 0;
static int64_t nesting_counter = 0;

int64_t
tg_next_nesting_id(void)
{
    return ++nesting_counter;
}

typedef struct {
    PyObject_HEAD
    tg_idmap *ids;             /* tensor id -> index in `tangents`, or -1
                                  once the tensor died */
    PyObject *tangents;        /* list of Tensors (None where dropped) */
    int64_t *keys;             /* the id of each entry of `tangents` */
    Py_ssize_t keys_cap;
    Py_ssize_t dead;           /* dropped entries not yet compacted */
    tg_idmap *pinned;          /* the constructor's primals: kept */
    int recording;             /* on a thread's list right now */
    PyObject *on;              /* borrowed: that list, while recording (an
                                  exit from another thread finds it) */
    int64_t nesting_id;
    PyObject *weakreflist;
} AccObject;

#define Acc_Check(op) Py_IS_TYPE((op), tg_st->accumulator_type)

/* ---- live accumulators ----------------------------------------------------
 * Every accumulator alive (entered or not), so that a dying tensor's
 * tangent can be dropped from each. */
static AccObject **live_accs = NULL;
static Py_ssize_t live_cap = 0;
Py_ssize_t tg_num_live_accumulators = 0;

static int
live_add(AccObject *a)
{
    if (tg_num_live_accumulators == live_cap) {
        Py_ssize_t cap = live_cap ? 2 * live_cap : 8;
        AccObject **p = PyMem_Realloc(live_accs, (size_t)cap * sizeof(*p));
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        live_accs = p;
        live_cap = cap;
    }
    live_accs[tg_num_live_accumulators++] = a;
    return 0;
}

static void
live_remove(AccObject *a)
{
    for (Py_ssize_t i = 0; i < tg_num_live_accumulators; i++) {
        if (live_accs[i] == a) {
            live_accs[i] = live_accs[--tg_num_live_accumulators];
            return;
        }
    }
}

/* borrowed tangent of tensor id, or NULL */
static TensorObject *
acc_get(AccObject *a, int64_t id)
{
    int64_t pos;
    if (a->tangents == NULL || !tg_idmap_get(a->ids, id, &pos) || pos < 0) {
        return NULL;
    }
    return (TensorObject *)PyList_GET_ITEM(a->tangents, pos);
}

void
tg_forward_forget(int64_t id)
{
    /* by index, re-reading the count: dropping a tangent frees a tensor,
     * whose own dealloc comes back here */
    for (Py_ssize_t i = 0; i < tg_num_live_accumulators; i++) {
        AccObject *a = live_accs[i];
        int64_t pos;
        PyObject *t;
        if (a->tangents == NULL || !tg_idmap_get(a->ids, id, &pos) ||
            pos < 0 || tg_idmap_get(a->pinned, id, NULL)) {
            continue;
        }
        tg_idmap_update(a->ids, id, -1);
        a->dead++;
        t = PyList_GET_ITEM(a->tangents, pos);
        PyList_SET_ITEM(a->tangents, pos, Py_NewRef(Py_None));
        Py_DECREF(t);
    }
}

/* Drop the tombstones once they are most of the list: a new list, keys
 * and map of the live entries.  On failure nothing changes (0): it is
 * only memory. */
static void
acc_compact(AccObject *a)
{
    Py_ssize_t n = PyList_GET_SIZE(a->tangents), k = 0;
    PyObject *list = PyList_New(0);
    int64_t *keys = list ? PyMem_New(int64_t, (size_t)(n - a->dead + 1))
                         : NULL;
    tg_idmap *ids = keys ? tg_idmap_new(n - a->dead + 1) : NULL;
    if (ids == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(a->tangents, i);
        int64_t pos;
        if (t == Py_None || !tg_idmap_get(a->ids, a->keys[i], &pos) ||
            pos != i) {
            continue;
        }
        if (PyList_Append(list, t) < 0 ||
            tg_idmap_put(&ids, a->keys[i], k) < 0) {
            goto fail;
        }
        keys[k++] = a->keys[i];
    }
    Py_SETREF(a->tangents, list);
    PyMem_Free(a->keys);
    a->keys = keys;
    a->keys_cap = n - a->dead + 1;
    tg_idmap_free(a->ids);
    a->ids = ids;
    a->dead = 0;
    return;
fail:
    PyErr_Clear();
    Py_XDECREF(list);
    PyMem_Free(keys);
    tg_idmap_free(ids);
}

/* keep `t` as the tangent of id (a new entry, or replacing) */
static int
acc_put(AccObject *a, int64_t id, PyObject *t)
{
    int64_t pos;
    Py_ssize_t n;
    if (tg_idmap_get(a->ids, id, &pos) && pos >= 0) {
        Py_INCREF(t);
        return PyList_SetItem(a->tangents, pos, t);
    }
    if (a->dead > 64 && 2 * a->dead > PyList_GET_SIZE(a->tangents)) {
        acc_compact(a);
    }
    n = PyList_GET_SIZE(a->tangents);
    if (n == a->keys_cap) {
        Py_ssize_t cap = a->keys_cap ? 2 * a->keys_cap : 16;
        int64_t *k = PyMem_Realloc(a->keys, (size_t)cap * sizeof(*k));
        if (k == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        a->keys = k;
        a->keys_cap = cap;
    }
    if (PyList_Append(a->tangents, t) < 0) {
        return -1;
    }
    if (tg_idmap_put(&a->ids, id, n) < 0) {
        /* keep the list and the map in step */
        PyList_SetSlice(a->tangents, n, n + 1, NULL);
        return -1;
    }
    a->keys[n] = id;
    return 0;
}

/* ---- running a row's vjp for a forward rule ---------------------------------- */

/* Run vjp on cotangents gs (one per output) for the inputs marked in
 * needs, with the op's tensors as its saved ones.  Results in gx (new
 * references; NULL: none), summed back to the inputs' shapes when
 * `unbroadcast` (an elementwise rule wants them at the output's). */
static int
call_vjp(tg_jvp_ctx *c, tg_vjp_fn vjp, TensorObject **gs, char *needs,
         PyObject **gx, int unbroadcast)
{
    tg_slot inline_slots[8], *slots = inline_slots;
    int n = c->nin + c->nout, rc;
    if (n > 8 && (slots = PyMem_New(tg_slot, (size_t)n)) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < n; i++) {
        TensorObject *t = i < c->nin ? c->in[i] : c->outs[i - c->nin];
        slots[i] = (tg_slot){.id = t->id, .dtype = t->dtype,
                             .ndim = t->ndim, .shape = t->shape,
                             .saved = t};
    }
    tg_entry e = {.op = c->op, .nin = c->nin, .nout = c->nout,
                  .attrs = c->attrs, .slots = slots};
    tg_vjp_ctx v = {.e = &e, .in = c->in, .outs = c->outs, .out = c->out,
                    .attrs = c->attrs, .gs = gs, .g = gs[0],
                    .needs = needs, .gx = gx, .batch = 0};
    rc = vjp(&v);
    for (int i = 0; i < c->nin; i++) {
        if (gx[i] == Py_None || (gx[i] != NULL && (rc < 0 || !needs[i]))) {
            Py_CLEAR(gx[i]);
        }
        if (gx[i] != NULL && unbroadcast &&
            (gx[i] = tg_unbroadcast(gx[i], &slots[i], -1)) == NULL) {
            rc = -1;
        }
    }
    if (slots != inline_slots) {
        PyMem_Free(slots);
    }
    return rc;
}

/* scratch arrays for per-input values, inline for the usual few */
typedef struct {
    PyObject *gx_inline[8];
    char needs_inline[8];
    TensorObject *args_inline[8];
    PyObject **gx;
    char *needs;
    TensorObject **args;
} jvp_scratch;

static int
scratch_init(jvp_scratch *s, int nin)
{
    memset(s->gx_inline, 0, sizeof(s->gx_inline));
    memset(s->needs_inline, 0, sizeof(s->needs_inline));
    s->gx = s->gx_inline;
    s->needs = s->needs_inline;
    s->args = s->args_inline;
    if (nin <= 8) {
        return 0;
    }
    s->gx = PyMem_Calloc((size_t)nin, sizeof(PyObject *));
    s->needs = PyMem_Calloc((size_t)nin, 1);
    s->args = PyMem_Calloc((size_t)nin, sizeof(TensorObject *));
    if (s->gx == NULL || s->needs == NULL || s->args == NULL) {
        PyMem_Free(s->gx);
        PyMem_Free(s->needs);
        PyMem_Free(s->args);
        s->gx = s->gx_inline;       /* scratch_free has nothing to do */
        s->needs = s->needs_inline;
        s->args = s->args_inline;
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
scratch_free(jvp_scratch *s, int nin)
{
    int n = s->gx == s->gx_inline && nin > 8 ? 0 : nin;
    for (int i = 0; i < n; i++) {
        Py_CLEAR(s->gx[i]);
    }
    if (s->gx != s->gx_inline) {
        PyMem_Free(s->gx);
        PyMem_Free(s->needs);
        PyMem_Free(s->args);
    }
}

/* x broadcast to like's shape (recorded), or x itself; new reference */
static PyObject *
broadcast_like(PyObject *x, const TensorObject *like)
{
    if (x == NULL || tg_same_shape((TensorObject *)x, like)) {
        return Py_XNewRef(x);
    }
    return tg_op_to_dims(TG_OP_broadcast_to, x, like->ndim, like->shape);
}

/* attrs[i], or None (borrowed) */
static PyObject *
attr_at(PyObject *attrs, Py_ssize_t i)
{
    if (attrs == NULL || !PyTuple_Check(attrs) ||
        PyTuple_GET_SIZE(attrs) <= i) {
        return Py_None;
    }
    return PyTuple_GET_ITEM(attrs, i);
}

/* ---- the generic rules ------------------------------------------------------- */

int
tg_jvp_linear(tg_jvp_ctx *c)
{
    jvp_scratch s;
    PyObject *r = NULL;
    int rc = -1;
    if (scratch_init(&s, c->nin) < 0) {
        goto done;
    }
    for (int i = 0; i < c->nin; i++) {
        TensorObject *x = c->in[i];
        if (!tg_is_float(x->dtype)) {
            s.args[i] = (TensorObject *)Py_NewRef(x); /* a mask, an index */
        }
        else if (c->t[i] != NULL) {
            s.args[i] = (TensorObject *)Py_NewRef(c->t[i]);
        }
        else {
            s.args[i] = tg_fill_like(x->dtype, x->ndim, x->shape, 0.0);
        }
        /* gx holds the references, so scratch_free drops them */
        s.gx[i] = (PyObject *)s.args[i];
        if (s.args[i] == NULL) {
            goto done;
        }
    }
    r = tg_call_tensors(c->op, c->nin, s.args, c->attrs);
    if (r == NULL) {
        goto done;
    }
    for (int j = 0; j < c->nout; j++) {
        PyObject *o = c->nout == 1 ? r : PyTuple_GET_ITEM(r, j);
        if (tg_is_float(c->outs[j]->dtype)) {
            c->tout[j] = Py_NewRef(o);
        }
    }
    rc = 0;
done:
    Py_XDECREF(r);
    scratch_free(&s, c->nin);
    return rc;
}

int
tg_jvp_elementwise(tg_jvp_ctx *c, tg_vjp_fn vjp)
{
    jvp_scratch s;
    PyObject *sum = NULL;
    int rc = -1;
    if (scratch_init(&s, c->nin) < 0) {
        goto done;
    }
    for (int i = 0; i < c->nin; i++) {
        PyObject *g;
        TensorObject *gs[TG_MAX_OUT] = {NULL};
        if (c->t[i] == NULL) {
            continue;
        }
        /* the cotangent has the output's shape, as every vjp expects */
        g = broadcast_like((PyObject *)c->t[i], c->out);
        if (g == NULL) {
            goto done;
        }
        gs[0] = (TensorObject *)g;
        memset(s.needs, 0, (size_t)c->nin);
        s.needs[i] = 1;
        rc = call_vjp(c, vjp, gs, s.needs, s.gx, 0);
        Py_DECREF(g);
        if (rc < 0) {
            goto done;
        }
        rc = -1;
        if (s.gx[i] != NULL) {
            PyObject *t = broadcast_like(s.gx[i], c->out);
            Py_CLEAR(s.gx[i]);
            if (t == NULL) {
                goto done;
            }
            if (sum == NULL) {
                sum = t;
            }
            else {
                Py_SETREF(sum, tg_op2(TG_OP_add, sum, t, NULL));
                Py_DECREF(t);
                if (sum == NULL) {
                    goto done;
                }
            }
        }
    }
    c->tout[0] = sum;
    sum = NULL;
    rc = 0;
done:
    Py_XDECREF(sum);
    scratch_free(&s, c->nin);
    return rc;
}

int
tg_jvp_reduction(tg_jvp_ctx *c, tg_vjp_fn vjp)
{
    jvp_scratch s;
    TensorObject *gs[TG_MAX_OUT] = {NULL};
    PyObject *prod = NULL, *attrs = NULL;
    int rc = -1;
    if (scratch_init(&s, c->nin) < 0) {
        goto done;
    }
    if (c->t[0] == NULL) {
        rc = 0;
        goto done;
    }
    gs[0] = tg_fill_like(c->out->dtype, c->out->ndim, c->out->shape, 1.0);
    if (gs[0] == NULL) {
        goto done;
    }
    s.needs[0] = 1;
    if (call_vjp(c, vjp, gs, s.needs, s.gx, 1) < 0) {
        goto done;
    }
    if (s.gx[0] == NULL) {       /* no derivative anywhere */
        rc = 0;
        goto done;
    }
    prod = tg_op2(TG_OP_multiply, (PyObject *)c->t[0], s.gx[0], NULL);
    attrs = prod ? Py_BuildValue("(OO)", attr_at(c->attrs, 0),
                                 attr_at(c->attrs, 1))
                 : NULL;
    c->tout[0] = attrs ? tg_op1(TG_OP_reduce_sum, prod, attrs) : NULL;
    rc = c->tout[0] ? 0 : -1;
done:
    Py_XDECREF(gs[0]);
    Py_XDECREF(prod);
    Py_XDECREF(attrs);
    scratch_free(&s, c->nin);
    return rc;
}

/* The private tape of a transposed rule leaves the stack on every path. */
static void
tape_close(PyObject *tape)
{
    PyObject *type, *value, *tb, *r;
    PyErr_Fetch(&type, &value, &tb);
    r = PyObject_CallMethod(tape, "__exit__", "OOO", Py_None, Py_None,
                            Py_None);
    Py_XDECREF(r);
    if (type != NULL) {
        PyErr_Restore(type, value, tb);  /* the first error wins */
    }
}

int
tg_jvp_transposed(tg_jvp_ctx *c, tg_vjp_fn vjp)
{
    jvp_scratch s;
    TensorObject *gs[TG_MAX_OUT] = {NULL};
    PyObject *tape = NULL, *aids = NULL, *targets = NULL, *ograds = NULL;
    PyObject *res = NULL, *r;
    int rc = -1, open = 0, any = 0;
    if (scratch_init(&s, c->nin) < 0) {
        goto done;
    }
    tape = PyObject_CallFunction((PyObject *)tg_st->tape_type, "OO", Py_False,
                                 Py_False);
    if (tape == NULL) {
        goto done;
    }
    ((TapeObject *)tape)->sees_all = 1;
    if ((r = PyObject_CallMethod(tape, "__enter__", NULL)) == NULL) {
        goto done;
    }
    Py_DECREF(r);
    open = 1;
    /* the aids: ones for every output (any value would do: the vjp is
     * linear in them), watched when float */
    if ((aids = PyList_New(0)) == NULL) {
        goto done;
    }
    for (int j = 0; j < c->nout; j++) {
        TensorObject *o = c->outs[j];
        int fl = tg_is_float(o->dtype);
        gs[j] = tg_fill_like(o->dtype, o->ndim, o->shape, fl ? 1.0 : 0.0);
        if (gs[j] == NULL ||
            (fl && PyList_Append(aids, (PyObject *)gs[j]) < 0)) {
            goto done;
        }
    }
    if ((r = PyObject_CallMethod(tape, "watch", "O", aids)) == NULL) {
        goto done;
    }
    Py_DECREF(r);
    for (int i = 0; i < c->nin; i++) {
        s.needs[i] = c->t[i] != NULL;
    }
    if (call_vjp(c, vjp, gs, s.needs, s.gx, 1) < 0) {
        goto done;
    }
    open = 0;
    tape_close(tape);
    if (PyErr_Occurred()) {
        goto done;
    }
    if ((targets = PyList_New(0)) == NULL ||
        (ograds = PyList_New(0)) == NULL) {
        goto done;
    }
    for (int i = 0; i < c->nin; i++) {
        if (s.gx[i] != NULL) {
            any = 1;
            if (PyList_Append(targets, s.gx[i]) < 0 ||
                PyList_Append(ograds, (PyObject *)c->t[i]) < 0) {
                goto done;
            }
        }
    }
    if (!any || PyList_GET_SIZE(aids) == 0) {
        rc = 0;             /* no input reaches an output */
        goto done;
    }
    res = PyObject_CallMethod(tape, "gradient", "OOO", targets, aids,
                              ograds);
    if (res == NULL) {
        goto done;
    }
    for (int j = 0, k = 0; j < c->nout; j++) {
        if (tg_is_float(c->outs[j]->dtype)) {
            PyObject *tj = PyList_GET_ITEM(res, k++);
            c->tout[j] = tj == Py_None ? NULL : Py_NewRef(tj);
        }
    }
    rc = 0;
done:
    if (open) {
        tape_close(tape);
    }
    for (int j = 0; j < TG_MAX_OUT; j++) {
        Py_XDECREF(gs[j]);
    }
    Py_XDECREF(tape);
    Py_XDECREF(aids);
    Py_XDECREF(targets);
    Py_XDECREF(ograds);
    Py_XDECREF(res);
    scratch_free(&s, c->nin);
    return rc;
}

/* ---- accumulating, per op ---------------------------------------------------- */

static int
check_tangent(int op, PyObject *t, TensorObject *out)
{
    TensorObject *tt = (TensorObject *)t;
    PyObject *a, *b;
    if (Tensor_Check(t) && tt->dtype == out->dtype && tg_same_shape(tt, out)) {
        return 0;
    }
    if (!Tensor_Check(t)) {
        PyErr_Format(PyExc_SystemError, "tapegrad: the jvp of %s gave %R",
                     tg_ops[op].name, t);
        return -1;
    }
    a = tg_shape_tuple(tt->ndim, tt->shape);
    b = a ? tg_shape_tuple(out->ndim, out->shape) : NULL;
    if (b != NULL) {
        PyErr_Format(PyExc_SystemError,
                     "tapegrad: the jvp of %s gave a %s tangent of shape %R "
                     "for a %s output of shape %R", tg_ops[op].name,
                     tg_dtype_names[tt->dtype], a,
                     tg_dtype_names[out->dtype], b);
    }
    Py_XDECREF(a);
    Py_XDECREF(b);
    return -1;
}

int
tg_forward_accumulate(int op, int nin, TensorObject **in, int nout,
                      TensorObject **out, PyObject *attrs)
{
    PyObject *live = tg_accumulator_list(0), *accs;
    TensorObject *inline_t[8], **tin = inline_t;
    int rc = 0;
    if (live == NULL || PyList_GET_SIZE(live) == 0) {
        return PyErr_Occurred() ? -1 : 0;
    }
    /* the accumulators active when the op ran, in entry order: user code
     * in a jvp (a custom gradient's grad_fn) may enter or exit one, and
     * neither may change which ones see this op (TF's SafeAccumulatorSet) */
    if ((accs = PyList_GetSlice(live, 0, PyList_GET_SIZE(live))) == NULL) {
        return -1;
    }
    if (nin > 8 && (tin = PyMem_New(TensorObject *, (size_t)nin)) == NULL) {
        Py_DECREF(accs);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; rc == 0 && k < PyList_GET_SIZE(accs); k++) {
        AccObject *a = (AccObject *)PyList_GET_ITEM(accs, k);
        PyObject *tout[TG_MAX_OUT] = {NULL};
        int any = 0;
        if (a->nesting_id >= tg_nesting_limit) {
            break; /* this one and the later ones are inside a jvp */
        }
        for (int i = 0; i < nin; i++) {
            tin[i] = tg_is_float(in[i]->dtype) ? acc_get(a, in[i]->id)
                                               : NULL;
            any |= tin[i] != NULL;
        }
        if (!any) {
            continue;
        }
        Py_INCREF(a);
        for (int i = 0; i < nin; i++) {
            Py_XINCREF(tin[i]);
        }
        int64_t saved = tg_nesting_limit;
        tg_nesting_limit = a->nesting_id;
        tg_nesting_lowered++;
        tg_jvp_ctx c = {.op = op, .nin = nin, .nout = nout, .in = in,
                        .outs = out, .out = out[0], .attrs = attrs,
                        .t = tin, .tout = tout};
        rc = tg_ops[op].jvp(&c);
        tg_nesting_lowered--;
        tg_nesting_limit = saved;
        for (int j = 0; j < nout; j++) {
            if (rc == 0 && tout[j] != NULL &&
                tg_is_float(out[j]->dtype) &&
                (check_tangent(op, tout[j], out[j]) < 0 ||
                 acc_put(a, out[j]->id, tout[j]) < 0)) {
                rc = -1;
            }
            Py_XDECREF(tout[j]);
        }
        for (int i = 0; i < nin; i++) {
            Py_XDECREF(tin[i]);
        }
        Py_DECREF(a);
    }
    if (tin != inline_t) {
        PyMem_Free(tin);
    }
    Py_DECREF(accs);
    return rc;
}

/* ---- the ForwardAccumulator type ------------------------------------------- */

static PyObject *
acc_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    AccObject *a = (AccObject *)type->tp_alloc(type, 0);
    if (a == NULL) {
        return NULL;
    }
    a->ids = NULL;
    a->keys = NULL;
    a->keys_cap = 0;
    a->dead = 0;
    a->pinned = NULL;
    a->recording = 0;
    a->on = NULL;
    a->nesting_id = 0;
    a->weakreflist = NULL;
    a->tangents = PyList_New(0);
    if (a->tangents == NULL || live_add(a) < 0) {
        Py_DECREF(a);
        return NULL;
    }
    (void)args;
    (void)kw;
    return (PyObject *)a;
}

/* watch one primal with its tangent (converted, checked) */
static int
acc_watch_one(AccObject *a, PyObject *primal, PyObject *tangent)
{
    TensorObject *value, *t;
    int64_t id;
    int rc = -1;
    if (Tensor_Check(primal)) {
        value = (TensorObject *)primal;
        id = value->id;
    }
    else if (Variable_Check(primal)) {
        value = ((VariableObject *)primal)->value;
        id = ((VariableObject *)primal)->id;
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "ForwardAccumulator: every primal must be a "
                     "tapegrad.Tensor or tapegrad.Variable, got %.200R of "
                     "type '%s'", primal, Py_TYPE(primal)->tp_name);
        return -1;
    }
    Py_INCREF(value);
    if (!tg_is_float(value->dtype)) {
        /* TF warns and its accumulator keeps nothing for it */
        rc = PyErr_WarnFormat(PyExc_UserWarning, 1,
                              "The dtype of the watched primal must be "
                              "floating (e.g. tapegrad.float32), got "
                              "tapegrad.%s", tg_dtype_names[value->dtype]);
        Py_DECREF(value);
        return rc;
    }
    t = tg_convert(tangent, value->dtype, "ForwardAccumulator");
    if (t == NULL) {
        goto done;
    }
    if (t->dtype != value->dtype) {
        PyErr_Format(PyExc_ValueError,
                     "Tensor conversion requested dtype %s for Tensor with "
                     "dtype %s: the tangent of a %s primal",
                     tg_dtype_names[value->dtype], tg_dtype_names[t->dtype],
                     tg_dtype_names[value->dtype]);
        goto done;
    }
    if (!tg_same_shape(t, value)) {
        PyObject *ps = tg_shape_tuple(value->ndim, value->shape);
        PyObject *ts = ps ? tg_shape_tuple(t->ndim, t->shape) : NULL;
        if (ts != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "ForwardAccumulator: a tangent must have its "
                         "primal's shape: got a tangent of shape %R for a "
                         "primal of shape %R", ts, ps);
        }
        Py_XDECREF(ps);
        Py_XDECREF(ts);
        goto done;
    }
    {
        /* watching one tensor twice (two objects, one id: values of one
         * Variable) sums its tangents, as TF's */
        TensorObject *old = acc_get(a, id);
        if (old != NULL) {
            PyObject *sum = tg_op2(TG_OP_add, (PyObject *)old, (PyObject *)t,
                                   NULL);
            if (sum == NULL) {
                goto done;
            }
            Py_SETREF(t, (TensorObject *)sum);
        }
    }
    rc = acc_put(a, id, (PyObject *)t);
    if (rc == 0) {
        rc = tg_idmap_put(&a->pinned, id, 1);
    }
done:
    Py_XDECREF(t);
    Py_DECREF(value);
    return rc;
}

static int
acc_init(AccObject *a, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"primals", "tangents", NULL};
    PyObject *primals, *tangents, *fp = NULL, *ft = NULL, *sp = NULL;
    PyObject *st = NULL, *seen = NULL;
    int rc = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:ForwardAccumulator",
                                     kwlist, &primals, &tangents)) {
        return -1;
    }
    if (a->recording || PyList_GET_SIZE(a->tangents) > 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "ForwardAccumulator.__init__ called twice");
        return -1;
    }
    if ((fp = PyList_New(0)) == NULL || (ft = PyList_New(0)) == NULL ||
        (sp = tg_flatten(primals, fp)) == NULL ||
        (st = tg_flatten(tangents, ft)) == NULL ||
        (seen = PySet_New(NULL)) == NULL) {
        goto done;
    }
    int same = PyObject_RichCompareBool(sp, st, Py_EQ);
    if (same < 0) {
        goto done;
    }
    if (!same || PyList_GET_SIZE(fp) != PyList_GET_SIZE(ft)) {
        PyErr_Format(PyExc_ValueError,
                     "The two structures don't have the same nested "
                     "structure: primals %.200R and tangents %.200R",
                     primals, tangents);
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(fp); i++) {
        PyObject *p = PyList_GET_ITEM(fp, i);
        PyObject *key = PyLong_FromVoidPtr(p);
        int dup = key ? PySet_Contains(seen, key) : -1;
        if (dup == 0) {
            dup = PySet_Add(seen, key) < 0 ? -1 : 0;
        }
        Py_XDECREF(key);
        if (dup < 0) {
            goto done;
        }
        if (dup) {
            PyErr_Format(PyExc_ValueError,
                         "Tensor %.200R was specified as a primal multiple "
                         "times. This may indicate an error. If it was "
                         "intended, please sum the corresponding tangents.",
                         p);
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(fp); i++) {
        if (acc_watch_one(a, PyList_GET_ITEM(fp, i),
                          PyList_GET_ITEM(ft, i)) < 0) {
            goto done;
        }
    }
    rc = 0;
done:
    Py_XDECREF(fp);
    Py_XDECREF(ft);
    Py_XDECREF(sp);
    Py_XDECREF(st);
    Py_XDECREF(seen);
    return rc;
}

static PyObject *
acc_enter(AccObject *a, PyObject *Py_UNUSED(ignored))
{
    PyObject *accs;
    if (a->recording) {
        PyErr_SetString(PyExc_ValueError, "Accumulator is already recording.");
        return NULL;
    }
    if ((accs = tg_accumulator_list(1)) == NULL ||
        PyList_Append(accs, (PyObject *)a) < 0) {
        return NULL;
    }
    a->recording = 1;
    a->on = accs;
    a->nesting_id = tg_next_nesting_id();
    tg_num_accumulating++;
    return Py_NewRef(a);
}

/* Take `a` off the list it is on (its thread's: the exit may come from
 * another thread), by identity; cannot fail. */
static void
acc_pop(AccObject *a)
{
    PyObject *accs = a->on;
    if (!a->recording || accs == NULL) {
        return;
    }
    a->recording = 0;
    a->on = NULL;
    tg_num_accumulating--;
    PyListObject *l = (PyListObject *)accs;
    Py_ssize_t n = PyList_GET_SIZE(accs);
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        if (l->ob_item[i] == (PyObject *)a) {
            memmove(&l->ob_item[i], &l->ob_item[i + 1],
                    (size_t)(n - 1 - i) * sizeof(PyObject *));
            Py_SET_SIZE(l, n - 1);
            Py_DECREF(a);
            break;
        }
    }
}

static PyObject *
acc_exit(AccObject *a, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    acc_pop(a);
    Py_RETURN_NONE;
}

void
tg_accumulators_thread_end(PyObject *accs)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(accs); i++) {
        AccObject *a = (AccObject *)PyList_GET_ITEM(accs, i);
        if (a->recording) {
            a->recording = 0;
            a->on = NULL;
            tg_num_accumulating--;
        }
    }
}

static PyObject *
acc_jvp(AccObject *a, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"primals", "unconnected_gradients", NULL};
    PyObject *primals, *unconnected = Py_None, *flat = NULL, *skel = NULL;
    PyObject *res = NULL, *packed = NULL;
    Py_ssize_t pos = 0;
    int mode;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:jvp", kwlist, &primals,
                                     &unconnected)) {
        return NULL;
    }
    if ((mode = tg_parse_unconnected(unconnected)) < 0 ||
        (flat = PyList_New(0)) == NULL ||
        (skel = tg_flatten(primals, flat)) == NULL ||
        (res = PyList_New(PyList_GET_SIZE(flat))) == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(flat); i++) {
        PyObject *p = PyList_GET_ITEM(flat, i), *r;
        TensorObject *value, *t;
        int64_t id;
        if (Tensor_Check(p)) {
            value = (TensorObject *)p;
            id = value->id;
        }
        else if (Variable_Check(p)) {
            value = ((VariableObject *)p)->value;
            id = ((VariableObject *)p)->id;
        }
        else {
            PyErr_Format(PyExc_TypeError,
                         "ForwardAccumulator.jvp: every primal must be a "
                         "tapegrad.Tensor or tapegrad.Variable, got %.200R "
                         "of type '%s'", p, Py_TYPE(p)->tp_name);
            goto done;
        }
        t = acc_get(a, id);
        if (t != NULL) {
            r = Py_NewRef(t);
        }
        else if (mode == 1) {
            r = (PyObject *)tg_fill_like(value->dtype, value->ndim,
                                         value->shape, 0.0);
            if (r == NULL) {
                goto done;
            }
        }
        else {
            r = Py_NewRef(Py_None);
        }
        PyList_SET_ITEM(res, i, r);
    }
    packed = tg_pack(skel, res, &pos);
done:
    Py_XDECREF(flat);
    Py_XDECREF(skel);
    Py_XDECREF(res);
    return packed;
}

static int
acc_traverse(AccObject *a, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(a));
    Py_VISIT(a->tangents);
    return 0;
}

static int
acc_clear(AccObject *a)
{
    live_remove(a);     /* first: the tangents' deallocs look us up */
    Py_CLEAR(a->tangents);
    return 0;
}

static void
acc_dealloc(AccObject *a)
{
    PyTypeObject *tp = Py_TYPE(a);
    PyObject_GC_UnTrack(a);
    if (a->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)a);
    }
    acc_clear(a);
    tg_idmap_free(a->ids);
    tg_idmap_free(a->pinned);
    PyMem_Free(a->keys);
    a->ids = a->pinned = NULL;
    a->keys = NULL;
    tp->tp_free(a);
    Py_DECREF(tp);
}

static PyObject *
acc_get_recording(AccObject *a, void *closure)
{
    (void)closure;
    return PyBool_FromLong(a->recording);
}

static PyMethodDef acc_methods[] = {
    {"__enter__", (PyCFunction)acc_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nStart computing JVPs on this thread."},
    {"__exit__", (PyCFunction)(void (*)(void))acc_exit, METH_FASTCALL,
     "__exit__($self, /, *exc_info)\n--\n\nStop computing JVPs."},
    {"jvp", (PyCFunction)(void (*)(void))acc_jvp,
     METH_VARARGS | METH_KEYWORDS,
     "jvp($self, /, primals, "
     "unconnected_gradients=tapegrad.UnconnectedGradients.NONE)\n--\n\n"
     "The Jacobian-vector products computed for `primals` (a tensor or\n"
     "nested structure), looked up, not computed: None (zeros under\n"
     "unconnected_gradients='zero') where none was."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef acc_getset[] = {
    {"_recording", (getter)acc_get_recording, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef acc_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(AccObject, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot acc_slots[] = {
    {Py_tp_new, acc_new},
    {Py_tp_init, acc_init},
    {Py_tp_dealloc, acc_dealloc},
    {Py_tp_traverse, acc_traverse},
    {Py_tp_clear, acc_clear},
    {Py_tp_methods, acc_methods},
    {Py_tp_getset, acc_getset},
    {Py_tp_members, acc_members},
    {Py_tp_doc,
     "ForwardAccumulator(primals, tangents)\n--\n\n"
     "Forward-mode autodiff, as tf.autodiff.ForwardAccumulator: while the\n"
     "context is active, every op on a watched primal (or on what was\n"
     "computed from one) gets its Jacobian-vector product, read with\n"
     "jvp().  Accumulators nest (take higher-order JVPs from the outer\n"
     "one) and combine with GradientTape in either order."},
    {0, NULL},
};

static PyType_Spec acc_spec = {
    .name = "tapegrad.autodiff.ForwardAccumulator",
    .basicsize = sizeof(AccObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = acc_slots,
};

int
tg_forward_init_type(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &acc_spec, NULL);
    if (t == NULL) {
        return -1;
    }
    tg_st->accumulator_type = (PyTypeObject *)t;
    return PyModule_AddObjectRef(module, "ForwardAccumulator", t) < 0 ? -1
                                                                      : 0;
}
