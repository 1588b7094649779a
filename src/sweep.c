/* sweep.c -- GradientTape.gradient: the reverse sweep.
 *
 *  1. Flatten targets, sources and output_gradients (nested lists, tuples,
 *     dicts with sorted keys, as TF's nest).
 *  2. Relevance: one forward pass over the entries marks every tensor that
 *     depends on a source; a vjp is asked only for the inputs that lead to a
 *     source (TF computes every input's gradient and drops the unneeded).
 *  3. Seed each target with its output gradient or ones, then walk the
 *     entries backwards (their append order is a topological order).  For
 *     each entry with an upstream gradient, call the row's vjp, sum the
 *     result back to the input's shape when broadcasting widened it (one
 *     place, not every rule), and accumulate with a recorded add.
 *  4. Return each source's gradient, None or zeros when unconnected, in the
 *     structure of `sources`.
 * vjps compute with recorded ops through tg_call, so an enclosing tape (or
 * this persistent tape, when asked inside its own context) records the sweep:
 * higher order needs nothing special.
 */
#include "tapegrad.h"


/* ---- nest: flatten and pack ------------------------------------------------
 * flatten() walks a nested structure once, appending leaves to a flat list
 * and returning a skeleton made of tapegrad's own objects; pack() rebuilds
 * the structure from the skeleton.  User code (a list subclass's
 * __getitem__, a dict key's __lt__) therefore runs only during the first
 * walk and cannot make the two walks disagree.
 * Skeleton nodes: None (leaf), ("l", children), ("t", type, children),
 * ("d", sorted keys, children, keys in insertion order).
 */

static PyObject *
sorted_keys(PyObject *dict)
{
    PyObject *keys = PyDict_Keys(dict);
    if (keys != NULL && PyList_Sort(keys) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
            Py_CLEAR(keys);
        }
        else {
            PyErr_Clear(); /* unorderable keys: keep insertion order */
        }
    }
    return keys;
}

PyObject *
tg_flatten(PyObject *obj, PyObject *out)
{
    PyObject *items = NULL, *keys = NULL, *children = NULL, *skel = NULL;
    int is_dict = PyDict_Check(obj);
    if (!is_dict && !PyList_Check(obj) && !PyTuple_Check(obj)) {
        return PyList_Append(out, obj) < 0 ? NULL : Py_NewRef(Py_None);
    }
    if (is_dict) {
        if ((keys = sorted_keys(obj)) == NULL ||
            (items = PyList_New(PyList_GET_SIZE(keys))) == NULL) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
            PyObject *v = PyDict_GetItemWithError(obj,
                                                  PyList_GET_ITEM(keys, i));
            if (v == NULL) {
                if (!PyErr_Occurred()) {
                    PyErr_SetString(PyExc_RuntimeError,
                                    "dictionary changed during "
                                    "GradientTape.gradient");
                }
                goto done;
            }
            PyList_SET_ITEM(items, i, Py_NewRef(v));
        }
    }
    else if ((items = tg_sequence_list(obj)) == NULL) {
        goto done;
    }
    if ((children = PyList_New(PyList_GET_SIZE(items))) == NULL ||
        Py_EnterRecursiveCall(" while flattening a structure")) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *c = tg_flatten(PyList_GET_ITEM(items, i), out);
        if (c == NULL) {
            Py_LeaveRecursiveCall();
            goto done;
        }
        PyList_SET_ITEM(children, i, c);
    }
    Py_LeaveRecursiveCall();
    if (is_dict) {
        PyObject *order = PyDict_Keys(obj);
        if (order != NULL) {
            skel = Py_BuildValue("(sOON)", "d", keys, children, order);
        }
    }
    else if (PyList_Check(obj)) {
        skel = Py_BuildValue("(sO)", "l", children);
    }
    else {
        skel = Py_BuildValue("(sOO)", "t", (PyObject *)Py_TYPE(obj),
                             children);
    }
done:
    Py_XDECREF(items);
    Py_XDECREF(keys);
    Py_XDECREF(children);
    return skel;
}

PyObject *
tg_pack(PyObject *skel, PyObject *flat, Py_ssize_t *pos)
{
    if (skel == Py_None) {
        if (*pos >= PySequence_Fast_GET_SIZE(flat)) {
            PyErr_SetString(PyExc_SystemError, "tapegrad: pack overran");
            return NULL;
        }
        return Py_NewRef(PySequence_Fast_GET_ITEM(flat, (*pos)++));
    }
    const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(skel, 0));
    PyObject *children = PyTuple_GET_ITEM(skel, kind[0] == 'l' ? 1 : 2);
    Py_ssize_t n = PyList_GET_SIZE(children);
    PyObject *packed = PyList_New(n), *r = NULL;
    if (packed == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = tg_pack(PyList_GET_ITEM(children, i), flat, pos);
        if (p == NULL) {
            Py_DECREF(packed);
            return NULL;
        }
        PyList_SET_ITEM(packed, i, p);
    }
    if (kind[0] == 'l') {
        return packed;
    }
    if (kind[0] == 't') {
        PyObject *type = PyTuple_GET_ITEM(skel, 1);
        r = PyList_AsTuple(packed);
        if (r != NULL && type != (PyObject *)&PyTuple_Type) {
            /* the same type, as TF's nest rebuilds it: a namedtuple takes
             * the items as arguments, other tuple types the tuple */
            int named = PyObject_HasAttrString(type, "_fields");
            Py_SETREF(r, named ? PyObject_Call(type, r, NULL)
                               : PyObject_CallOneArg(type, r));
        }
        Py_DECREF(packed);
        return r;
    }
    /* dict: values were flattened in sorted-key order; keep the caller's
     * insertion order in the result */
    PyObject *keys = PyTuple_GET_ITEM(skel, 1);
    PyObject *order = PyTuple_GET_ITEM(skel, 3);
    PyObject *by_key = PyDict_New();
    for (Py_ssize_t i = 0; by_key && i < n; i++) {
        if (PyDict_SetItem(by_key, PyList_GET_ITEM(keys, i),
                           PyList_GET_ITEM(packed, i)) < 0) {
            Py_CLEAR(by_key);
        }
    }
    r = by_key ? PyDict_New() : NULL;
    for (Py_ssize_t i = 0; r && i < PyList_GET_SIZE(order); i++) {
        PyObject *k = PyList_GET_ITEM(order, i);
        PyObject *v = PyDict_GetItemWithError(by_key, k);
        if (v == NULL || PyDict_SetItem(r, k, v) < 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_RuntimeError,
                                "dictionary changed during "
                                "GradientTape.gradient");
            }
            Py_CLEAR(r);
        }
    }
    Py_XDECREF(by_key);
    Py_DECREF(packed);
    return r;
}

/* ---- gradient bookkeeping --------------------------------------------------- */

/* One tensor's gradient so far: a tensor (a new reference), nothing, a
 * rank-0 float kept unboxed (`unboxed`: value v of dtype dt, no tensor
 * object; see scalar_vjp), or terms not yet summed (`p`, below).  Boxed
 * or summed when anything but scalar_vjp or a fused rule reads it. */
typedef struct pending pending;
typedef struct {
    PyObject *t;
    double v;
    int dt, unboxed;
    pending *p;         /* or the gradient is terms not yet summed (t NULL) */
} grad_slot_t;

/* ---- gradients kept as terms ----------------------------------------------
 * When nothing records the sweep, a large float gradient that several
 * entries contribute to is kept as a list of terms (tg_term: coef * t) and
 * summed once, when something reads it: in one pass over all of them
 * (pending_eval), or in the very pass of a fused rule that adds its own
 * contribution (tg_vjp_addend).  Summing as they come costs a pass per
 * contribution.  A rule may also hand over its gradient as a scaled term
 * (tg_vjp_scalable: pow's g * (k * x^(k-1)) with g all ones), whose
 * product is then made in the same pass.  The sum is the one accumulate
 * would form, in the same order and rounding (tg_terms_chunk), so the
 * values are the same; tests/test_cheap_tape.py checks them bit for bit.
 * At most PENDING_MAX terms wait (each keeps its tensor alive); smaller
 * gradients than PENDING_MIN elements are summed as they come.  (A NaN's
 * sign may differ: NumPy's own loops do not keep it alike either.) */
#define PENDING_MAX 4
#define PENDING_MIN 4096
struct pending {
    int n;
    tg_term term[PENDING_MAX];
};

/* One slot per relevant tensor (a source, or one that depends on a
 * source), made by the relevance pass: being in `index` is being
 * relevant, and the position found is where the gradient goes, so a
 * sweep asks one map once per input. */
#define GRAD_TABLE_INLINE 16     /* slots on the stack: a small sweep's */
typedef struct {
    tg_idmap *index;    /* tensor id -> position in slots */
    grad_slot_t *slots; /* `inline_slots` until there are more */
    Py_ssize_t n, cap;
    grad_slot_t inline_slots[GRAD_TABLE_INLINE];
} grad_table;

static void
grad_table_init(grad_table *g)
{
    g->index = NULL;
    g->slots = g->inline_slots;
    g->n = 0;
    g->cap = GRAD_TABLE_INLINE;
}

static grad_slot_t *
grad_slot(grad_table *g, int64_t id)
{
    int64_t pos;
    if (tg_idmap_get(g->index, id, &pos)) {
        return &g->slots[pos];
    }
    if (g->n == g->cap) {
        Py_ssize_t cap = g->cap * 2;
        grad_slot_t *p;
        if (g->slots == g->inline_slots) {
            p = PyMem_Malloc((size_t)cap * sizeof(*p));
            if (p != NULL) {
                memcpy(p, g->slots, (size_t)g->n * sizeof(*p));
            }
        }
        else {
            p = PyMem_Realloc(g->slots, (size_t)cap * sizeof(*p));
        }
        if (p == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        g->slots = p;
        g->cap = cap;
    }
    if (tg_idmap_put(&g->index, id, g->n) < 0) {
        return NULL;
    }
    g->slots[g->n].t = NULL;
    g->slots[g->n].unboxed = 0;
    g->slots[g->n].p = NULL;
    return &g->slots[g->n++];
}

static void
pending_clear(grad_slot_t *s)
{
    pending *p = s->p;
    if (p == NULL) {
        return;
    }
    s->p = NULL;
    for (int k = 0; k < p->n; k++) {
        Py_DECREF(p->term[k].t);
    }
    PyMem_Free(p);
}

/* coef * g now, as a recorded multiply (steals g) */
static PyObject *
scale_now(PyObject *g, double coef)
{
    TensorObject *k = tg_tensor_scalar(((TensorObject *)g)->dtype, coef);
    PyObject *r = NULL;
    if (k != NULL) {
        TensorObject *in[2] = {k, (TensorObject *)g};
        r = tg_call_tensors(TG_OP_multiply, 2, in, NULL);
        Py_DECREF(k);
    }
    Py_DECREF(g);
    return r;
}

/* Sum slot s's terms with the ops themselves, as they would have been
 * summed as they came: when NumPy's loops are not to be had.  0, or -1
 * with an exception. */
static int
pending_eval_ops(grad_slot_t *s)
{
    pending *p = s->p;
    PyObject *sum = NULL;
    for (int k = 0; k < p->n; k++) {
        PyObject *t = Py_NewRef((PyObject *)p->term[k].t);
        if (p->term[k].coef != 1.0) {
            t = scale_now(t, p->term[k].coef);
        }
        if (t == NULL) {
            Py_XDECREF(sum);
            return -1;
        }
        if (sum == NULL) {
            sum = t;
            continue;
        }
        TensorObject *in[2] = {(TensorObject *)sum, (TensorObject *)t};
        PyObject *r = tg_call_tensors(TG_OP_add, 2, in, NULL);
        Py_DECREF(t);
        Py_SETREF(sum, r);
        if (sum == NULL) {
            return -1;
        }
    }
    pending_clear(s);
    s->t = sum;
    return 0;
}

/* Sum slot s's terms into its tensor: over a term only the slot holds
 * (term 0 directly; another a chunk at a time through a buffer, every
 * term's chunk read before that chunk is written), else into a new
 * tensor.  0, or -1 with an exception. */
static int
pending_eval(grad_slot_t *s)
{
    pending *p = s->p;
    TensorObject *t0 = p->term[0].t, *out;
    double buf[TG_TERMS_BYTES / sizeof(double)];
    double scratch[TG_TERMS_BYTES / sizeof(double)];
    int k = tg_term_exclusive(p->term, p->n);
    int direct = k <= 0;        /* out is term 0, or no term */
    out = k >= 0 ? (TensorObject *)Py_NewRef(p->term[k].t)
                 : tg_tensor_new(t0->dtype, t0->ndim, t0->shape);
    if (out == NULL) {
        return -1;
    }
    tg_terms_loops l;
    if (!tg_terms_loops_get(t0->dtype, &l)) {
        Py_DECREF(out);        /* (NumPy's loops could not be looked up) */
        return pending_eval_ops(s);
    }
    Py_ssize_t n = t0->size, isz = tg_dtype_size[t0->dtype];
    Py_ssize_t chunk = TG_TERMS_BYTES / isz;
    PyThreadState *ts = tg_nogil_begin(n);
    for (Py_ssize_t start = 0; start < n; start += chunk) {
        Py_ssize_t len = n - start < chunk ? n - start : chunk;
        char *dst = out->data + start * isz;
        tg_terms_chunk(&l, p->term, p->n, t0->dtype, start, len,
                       direct ? dst : (char *)buf, (char *)scratch);
        if (!direct) {
            memcpy(dst, buf, (size_t)(len * isz));
        }
    }
    tg_nogil_end(ts);
    out->all_ones = 0;
    pending_clear(s);
    s->t = (PyObject *)out;
    return 0;
}

/* g (a new reference) may join slot s as a term: a float tensor of
 * PENDING_MIN elements or more, of the dtype and shape of what s holds,
 * nothing recording the sweep.  A lone term joins only when scaled.  A
 * term that only the table holds when it comes joins only if no term is
 * such a tensor yet; a second is added now, as it comes, so that the terms
 * do not pile up buffers summing would have freed.  (Terms others held
 * when they came, a saved input, may be the table's alone later: up to
 * PENDING_MAX buffers then wait for the sum.) */
static int
term_fits(grad_slot_t *s, PyObject *g, double coef)
{
    TensorObject *t = (TensorObject *)g, *have;
    if (!Tensor_Check(g) ||
        (t->dtype != TG_FLOAT32 && t->dtype != TG_FLOAT64) ||
        t->size < PENDING_MIN) {
        return 0;
    }
    if (tg_exclusive(g) &&
        ((s->p != NULL && tg_term_exclusive(s->p->term, s->p->n) >= 0) ||
         (s->t != NULL && tg_exclusive(s->t)))) {
        return 0;
    }
    if (s->p != NULL) {
        have = s->p->term[0].t;
    }
    else if (s->t != NULL) {
        if (!Tensor_Check(s->t)) {
            return 0;
        }
        have = (TensorObject *)s->t;
    }
    else {
        return coef != 1.0 && tg_unrecorded();
    }
    return have->dtype == t->dtype && tg_same_shape(have, t) &&
           tg_unrecorded();
}

/* append coef * g to slot s's terms (steals g); 0, or -1 with an
 * exception */
static int
pending_add(grad_slot_t *s, PyObject *g, double coef)
{
    if (s->p != NULL && s->p->n == PENDING_MAX && pending_eval(s) < 0) {
        Py_DECREF(g);
        return -1;
    }
    if (s->p == NULL) {
        pending *p = PyMem_Malloc(sizeof(pending));
        if (p == NULL) {
            Py_DECREF(g);
            PyErr_NoMemory();
            return -1;
        }
        p->n = 0;
        if (s->t != NULL) {
            p->term[p->n++] = (tg_term){1.0, (TensorObject *)s->t};
            s->t = NULL;
        }
        s->p = p;
    }
    s->p->term[s->p->n++] = (tg_term){coef, (TensorObject *)g};
    return 0;
}

/* the slot at `id` if it holds a gradient, boxed; NULL if it holds none
 * or boxing failed (then with an exception) */
static grad_slot_t *
filled_slot(grad_table *g, int64_t id)
{
    int64_t pos;
    if (!tg_idmap_get(g->index, id, &pos)) {
        return NULL;
    }
    grad_slot_t *s = &g->slots[pos];
    if (s->unboxed) {
        s->t = (PyObject *)tg_tensor_scalar(s->dt, s->v);
        if (s->t == NULL) {
            return NULL;
        }
        s->unboxed = 0;
    }
    if (s->p != NULL && pending_eval(s) < 0) {
        return NULL;
    }
    return s->t != NULL ? s : NULL;
}

/* grads[id] += coef * g (steals g).  A large float gradient joins the
 * slot's terms when it may (term_fits), to be summed once; otherwise the
 * product is made now and the add is recorded like any op.  When nothing
 * records the sweep, a sum of two same-shaped gradients is written over
 * one of them that only the table holds, as NumPy's `+=` would: the same
 * values (a + b is b + a in IEEE arithmetic), one buffer fewer to
 * allocate and fault in, and for scalars one tensor object fewer. */
static int
accumulate_term(grad_table *gt, int64_t id, PyObject *g, double coef)
{
    grad_slot_t *s = grad_slot(gt, id);
    if (s == NULL || (s->unboxed && filled_slot(gt, id) == NULL)) {
        Py_DECREF(g);
        return -1;
    }
    if (term_fits(s, g, coef)) {
        return pending_add(s, g, coef);
    }
    if (coef != 1.0 && (g = scale_now(g, coef)) == NULL) {
        return -1;
    }
    if (s->p != NULL && pending_eval(s) < 0) {
        Py_DECREF(g);
        return -1;
    }
    if (s->t == NULL) {
        s->t = g;
        return 0;
    }
    PyObject **slot = &s->t;
    TensorObject *in[2] = {(TensorObject *)*slot, (TensorObject *)g};
    if (Tensor_Check(*slot) && Tensor_Check(g) &&
        in[0]->dtype == in[1]->dtype && tg_same_shape(in[0], in[1]) &&
        (tg_exclusive(*slot) || tg_exclusive(g)) && tg_unrecorded()) {
        TensorObject *into = tg_exclusive(*slot) ? in[0] : in[1];
        if (tg_binary_kernel(TG_OP_add, in[0], in[1], into) < 0) {
            Py_DECREF(g);
            return -1;
        }
        into->all_ones = 0;
        if (into == in[1]) {
            Py_SETREF(*slot, g);
        }
        else {
            Py_DECREF(g);
        }
        return 0;
    }
    PyObject *sum = tg_call_tensors(TG_OP_add, 2, in, NULL);
    Py_DECREF(g);
    if (sum == NULL) {
        return -1;
    }
    Py_SETREF(*slot, sum);
    return 0;
}

static inline int
accumulate(grad_table *gt, int64_t id, PyObject *g)
{
    return accumulate_term(gt, id, g, 1.0);
}

static void
grad_table_free(grad_table *g)
{
    for (Py_ssize_t i = 0; i < g->n; i++) {
        Py_XDECREF(g->slots[i].t);
        pending_clear(&g->slots[i]);
    }
    if (g->slots != g->inline_slots) {
        PyMem_Free(g->slots);
    }
    tg_idmap_free(g->index);
}

static int
same_shape(int nd, const Py_ssize_t *a, TensorObject *t)
{
    if (nd != t->ndim) {
        return 0;
    }
    for (int i = 0; i < nd; i++) {
        if (a[i] != t->shape[i]) {
            return 0;
        }
    }
    return 1;
}

/* Input i's gradient so far, as terms for a fused rule to add to its own
 * contribution in the same pass (the rule then hands the sum to
 * tg_vjp_addend_done and sets nothing to accumulate): in an unbatched,
 * unrecorded sweep, a float gradient of input i's shape and dtype, held as
 * terms or as one tensor (then one term, coefficient 1).  *terms stays
 * valid until tg_vjp_addend_done.  1 if there is such a gradient, else 0
 * (the rule returns its contribution, which accumulate adds). */
int
tg_vjp_addend(tg_vjp_ctx *c, int i, const tg_term **terms, int *n)
{
    grad_table *gt = c->table;
    const tg_slot *sl = &c->e->slots[i];
    int64_t pos;
    TensorObject *t;
    if (gt == NULL || !c->needs[i] ||
        !tg_idmap_get(gt->index, sl->id, &pos) || !tg_unrecorded()) {
        return 0;
    }
    grad_slot_t *gs = &gt->slots[pos];
    if (gs->unboxed) {
        return 0;
    }
    c->addend_at = (Py_ssize_t)pos;
    if (gs->p != NULL) {
        t = gs->p->term[0].t;
        *terms = gs->p->term;
        *n = gs->p->n;
    }
    else {
        if (gs->t == NULL || !Tensor_Check(gs->t)) {
            return 0;
        }
        t = (TensorObject *)gs->t;
        c->addend1 = (tg_term){1.0, t};
        *terms = &c->addend1;
        *n = 1;
    }
    return (t->dtype == TG_FLOAT32 || t->dtype == TG_FLOAT64) &&
           t->dtype == sl->dtype && same_shape(sl->ndim, sl->shape, t);
}

/* sum, the terms tg_vjp_addend gave plus the rule's contribution, is
 * input i's gradient now (in the slot tg_vjp_addend found: nothing has
 * added slots in between) */
void
tg_vjp_addend_done(tg_vjp_ctx *c, int i, TensorObject *sum)
{
    grad_table *gt = c->table;
    grad_slot_t *gs = &gt->slots[c->addend_at];
    PyObject *old = gs->t;
    gs->t = Py_NewRef((PyObject *)sum);
    Py_XDECREF(old);
    pending_clear(gs);
    c->added |= 1u << i;
}

/* 1 when a rule's gradient g * (k * t) may be handed over as t scaled by
 * k (c->scaled, c->scale): g all ones, k a rank-0 float tensor of g's
 * dtype (its value in *v), in an unbatched sweep nothing records.  The
 * table then keeps k * t as a term, and the pass that sums the gradient
 * makes the product (what g * (k * t) is: 1 * u is u, tg_ones_factor). */
int
tg_vjp_scalable(tg_vjp_ctx *c, PyObject *g, PyObject *k, double *v)
{
    TensorObject *tg = (TensorObject *)g, *tk = (TensorObject *)k;
    if (c->batch || c->table == NULL || g == NULL || k == NULL ||
        !Tensor_Check(g) || !Tensor_Check(k) || !tg->all_ones ||
        tk->ndim != 0 || tk->dtype != tg->dtype ||
        (tg->dtype != TG_FLOAT32 && tg->dtype != TG_FLOAT64) ||
        tg->size < PENDING_MIN || !tg_unrecorded()) {
        return 0;
    }
    *v = tk->dtype == TG_FLOAT32 ? (double)*(float *)tk->data
                                 : *(double *)tk->data;
    return 1;
}

/* [nb] + shape into out (shape alone when nb < 0); returns the rank */
static int
batched_shape(Py_ssize_t nb, int nd, const Py_ssize_t *shape,
              Py_ssize_t *out)
{
    int k = 0;
    if (nb >= 0) {
        out[k++] = nb;
    }
    for (int i = 0; i < nd; i++) {
        out[k++] = shape[i];
    }
    return k;
}

/* Sum a broadcast gradient back to the input's shape (recorded).  In a
 * batched sweep the input's shape is [nb] + its own: broadcasting aligned
 * it from the right, under the batch dimension, so the sum goes to
 * [nb, 1.., shape] and the ones are dropped.  Steals g. */
static PyObject *
unbroadcast_slow(PyObject *g, const tg_slot *s, Py_ssize_t nb)
{
    TensorObject *t = (TensorObject *)g;
    Py_ssize_t want[TG_MAXDIMS + 1], padded[TG_MAXDIMS + 1];
    int nd, pad = 0;
    PyObject *r;
    nd = batched_shape(nb, s->ndim, s->shape, want);
    if (same_shape(nd, want, t)) {
        return g;
    }
    if (nb >= 0 && t->ndim > nd) {
        pad = t->ndim - nd;
        padded[0] = nb;
        for (int i = 0; i < pad; i++) {
            padded[1 + i] = 1;
        }
        memcpy(padded + 1 + pad, s->shape, (size_t)s->ndim * sizeof(*padded));
    }
    r = pad ? tg_op_to_dims(TG_OP_sum_to, g, t->ndim, padded)
            : tg_op_to_dims(TG_OP_sum_to, g, nd, want);
    Py_DECREF(g);
    if (r != NULL && pad) {
        Py_SETREF(r, tg_op_to_dims(TG_OP_reshape, r, nd, want));
    }
    return r;
}

/* the usual case inline: an unbatched gradient of the input's shape */
static inline PyObject *
unbroadcast(PyObject *g, const tg_slot *s, Py_ssize_t nb)
{
    if (nb < 0 && same_shape(s->ndim, s->shape, (TensorObject *)g)) {
        return g;
    }
    return unbroadcast_slow(g, s, nb);
}

PyObject *
tg_unbroadcast(PyObject *g, const tg_slot *s, Py_ssize_t nb)
{
    return unbroadcast(g, s, nb);
}

/* ---- argument handling -------------------------------------------------------- */

/* A flattened target or source: its tape id and (a new reference to) a
 * tensor with its value.  The reference matters: user code run later (an
 * output gradient's __array__) may assign the Variable and drop its old
 * value. */
static int
resolve(PyObject *obj, const char *method, const char *what, int64_t *id,
        TensorObject **value)
{
    if (Tensor_Check(obj)) {
        *id = ((TensorObject *)obj)->id;
        *value = (TensorObject *)Py_NewRef(obj);
        return 0;
    }
    if (Variable_Check(obj)) {
        *id = ((VariableObject *)obj)->id;
        *value = (TensorObject *)Py_NewRef(((VariableObject *)obj)->value);
        return 0;
    }
    *value = NULL;
    PyErr_Format(PyExc_TypeError,
                 "GradientTape.%s: every %s must be a tapegrad.Tensor "
                 "or tapegrad.Variable, got %.200R of type '%s'",
                 method, what, obj, Py_TYPE(obj)->tp_name);
    return -1;
}

/* 0: NONE, 1: ZERO, -1: error. Accepts the enum or its string value. */
int
tg_parse_unconnected(PyObject *u)
{
    PyObject *v;
    int r = -1;
    if (u == NULL || u == Py_None) {
        return 0;
    }
    v = PyUnicode_Check(u) ? Py_NewRef(u) : PyObject_GetAttrString(u, "value");
    if (v == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
    }
    else if (PyUnicode_Check(v)) {
        if (PyUnicode_CompareWithASCIIString(v, "none") == 0) {
            r = 0;
        }
        else if (PyUnicode_CompareWithASCIIString(v, "zero") == 0) {
            r = 1;
        }
    }
    Py_XDECREF(v);
    if (r < 0) {
        PyErr_Format(PyExc_ValueError,
                     "Unknown value for unconnected_gradients: %R", u);
    }
    return r;
}

/* ---- the sweep ----------------------------------------------------------------- */

/* Per-entry scratch for a vjp call: inline for the usual 1-2 inputs. */
typedef struct {
    PyObject *gx_inline[8];
    char needs_inline[8];
    TensorObject *in_inline[8];
    PyObject **gx;
    char *needs;
    TensorObject **in;
} vjp_scratch;

static int
scratch_init(vjp_scratch *s, int nin)
{
    memset(s->gx_inline, 0, sizeof(s->gx_inline));
    s->gx = s->gx_inline;
    s->needs = s->needs_inline;
    s->in = s->in_inline;
    if (nin <= 8) {
        return 0;
    }
    s->gx = PyMem_Calloc((size_t)nin, sizeof(PyObject *));
    s->needs = PyMem_Calloc((size_t)nin, 1);
    s->in = PyMem_Calloc((size_t)nin, sizeof(TensorObject *));
    if (s->gx == NULL || s->needs == NULL || s->in == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
scratch_free(vjp_scratch *s)
{
    if (s->gx != s->gx_inline) {
        PyMem_Free(s->gx);
        PyMem_Free(s->needs);
        PyMem_Free(s->in);
    }
}

/* A row whose vjp is user code (custom_gradient's grad_fn) is not asked to
 * take a batch: call it once per batch element, on gs[j][b], and stack
 * what it returns (every step recorded, so this differentiates again).
 * Results (new references, NULL: no gradient) go to c->gx. */
static int
vjp_per_element(const tg_opdef *d, tg_vjp_ctx *c, Py_ssize_t nb)
{
    const tg_entry *e = c->e;
    PyObject **parts = NULL;
    int rc = -1;
    parts = PyMem_Calloc((size_t)(nb ? nb : 1) * (size_t)e->nin,
                         sizeof(PyObject *));
    if (parts == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t b = 0; b < nb; b++) {
        TensorObject *gs_b[TG_MAX_OUT] = {NULL};
        PyObject *attrs = Py_BuildValue("(nOii)", b, Py_None, 0, 0);
        tg_vjp_ctx cb = *c;
        int ok = attrs != NULL;
        for (int j = 0; ok && j < e->nout; j++) {
            gs_b[j] = (TensorObject *)tg_op1(TG_OP_gather,
                                             (PyObject *)c->gs[j], attrs);
            ok = gs_b[j] != NULL;
        }
        Py_XDECREF(attrs);
        if (ok) {
            cb.gs = gs_b;
            cb.g = gs_b[0];
            cb.gx = parts + b * e->nin;
            cb.batch = 0;
            ok = d->vjp(&cb) == 0;
        }
        for (int j = 0; j < e->nout; j++) {
            Py_XDECREF(gs_b[j]);
        }
        for (int i = 0; ok && i < e->nin; i++) {
            PyObject **p = &parts[b * e->nin + i];
            if (*p == Py_None) {
                Py_CLEAR(*p);
            }
            if (*p != NULL && c->needs[i] &&
                (*p = unbroadcast(*p, &e->slots[i], -1)) == NULL) {
                ok = 0;
            }
        }
        if (!ok) {
            goto done;
        }
    }
    for (int i = 0; i < e->nin; i++) {
        PyObject *items = NULL, *attrs = NULL;
        int any = 0;
        if (!c->needs[i]) {
            continue;
        }
        for (Py_ssize_t b = 0; b < nb; b++) {
            any |= parts[b * e->nin + i] != NULL;
        }
        if (!any && nb > 0) {
            continue; /* no gradient for this input */
        }
        if (nb == 0) {
            Py_ssize_t shape[TG_MAXDIMS + 1];
            int nd = batched_shape(0, e->slots[i].ndim, e->slots[i].shape,
                                   shape);
            c->gx[i] = (PyObject *)tg_fill_like(e->slots[i].dtype, nd, shape,
                                                0.0);
            if (c->gx[i] == NULL) {
                goto done;
            }
            continue;
        }
        if ((items = PyList_New(nb)) == NULL) {
            goto done;
        }
        for (Py_ssize_t b = 0; b < nb; b++) {
            PyObject *p = parts[b * e->nin + i];
            if (p == NULL) {  /* grad_fn gave None for this element only */
                p = (PyObject *)tg_fill_like(e->slots[i].dtype,
                                             e->slots[i].ndim,
                                             e->slots[i].shape, 0.0);
                if (p == NULL) {
                    Py_DECREF(items);
                    goto done;
                }
            }
            else {
                Py_INCREF(p);
            }
            PyList_SET_ITEM(items, b, p);
        }
        attrs = Py_BuildValue("(i)", 0);
        c->gx[i] = attrs ? tg_call(TG_OP_stack, (int)nb,
                                   ((PyListObject *)items)->ob_item, attrs)
                         : NULL;
        Py_XDECREF(attrs);
        Py_DECREF(items);
        if (c->gx[i] == NULL) {
            goto done;
        }
    }
    rc = 0;
done:
    for (Py_ssize_t k = 0; k < nb * e->nin; k++) {
        Py_XDECREF(parts[k]);
    }
    PyMem_Free(parts);
    return rc;
}

/* Call entry `e`'s vjp with upstream gradients `gs` (one per output,
 * borrowed) and add the input gradients into `gt`. */
static int
entry_vjp(tg_entry *e, TensorObject **gs, grad_table *gt, Py_ssize_t nb)
{
    const tg_opdef *d = &tg_ops[e->op];
    TensorObject *outs[TG_MAX_OUT];
    vjp_scratch s;
    int any = 0, rc = 0;
    if (scratch_init(&s, e->nin) < 0) {
        scratch_free(&s);
        return -1;
    }
    for (int i = 0; i < e->nin; i++) {
        s.needs[i] = tg_is_float(e->slots[i].dtype) &&
                     tg_idmap_get(gt->index, e->slots[i].id, NULL);
        any |= s.needs[i];
        s.in[i] = e->slots[i].saved;
    }
    for (int j = 0; j < e->nout; j++) {
        outs[j] = e->slots[e->nin + j].saved;
    }
    tg_vjp_ctx c = {
        .e = e,
        .in = s.in,
        .outs = outs,
        .out = outs[0],
        .attrs = e->attrs,
        .gs = gs,
        .g = gs[0],
        .needs = s.needs,
        .gx = s.gx,
        .batch = nb >= 0,
        .table = nb < 0 ? gt : NULL,
    };
    if (any) {
        rc = (nb >= 0 && (d->flags & TG_UNBATCHED_VJP))
                 ? vjp_per_element(d, &c, nb)
                 : d->vjp(&c);
    }
    for (int i = 0; i < e->nin; i++) {
        PyObject *gi = s.gx[i];
        if (gi == NULL || rc < 0 || gi == Py_None || !s.needs[i] ||
            (c.added >> i) & 1u) {
            Py_XDECREF(gi);    /* (added: already the table's gradient) */
            continue;
        }
        double coef = 1.0;
        if (i < 2 && (c.scaled >> i) & 1u) {
            /* gi stands for c.scale[i] * gi (tg_vjp_scalable): a term
             * of the input's shape, or scaled now */
            coef = c.scale[i];
            if (nb >= 0 || !same_shape(e->slots[i].ndim, e->slots[i].shape,
                                       (TensorObject *)gi)) {
                gi = scale_now(gi, coef);
                coef = 1.0;
            }
        }
        gi = gi ? unbroadcast(gi, &e->slots[i], nb) : NULL;
        if (gi == NULL || accumulate_term(gt, e->slots[i].id, gi, coef) < 0) {
            rc = -1;
        }
    }
    scratch_free(&s);
    return rc;
}

/* Take the gradients flowing into entry `e`'s outputs (new references in
 * gs[]; zeros for outputs nothing flowed into).  0: nothing flows. */
static int
take_output_grads(tg_entry *e, grad_table *gt, tg_idmap *source_ids,
                  TensorObject **gs, Py_ssize_t nb)
{
    int found = 0;
    for (int j = 0; j < e->nout; j++) {
        int64_t id = e->slots[e->nin + j].id;
        grad_slot_t *s = filled_slot(gt, id);
        gs[j] = NULL;
        if (s == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (s != NULL) {
            gs[j] = (TensorObject *)s->t;
            if (tg_idmap_get(source_ids, id, NULL)) {
                Py_INCREF(gs[j]); /* a source keeps its gradient */
            }
            else {
                s->t = NULL;
            }
            found = 1;
        }
    }
    for (int j = 0; found && j < e->nout; j++) {
        const tg_slot *o = &e->slots[e->nin + j];
        Py_ssize_t shape[TG_MAXDIMS + 1];
        if (gs[j] == NULL &&
            (gs[j] = tg_fill_like(o->dtype,
                                  batched_shape(nb, o->ndim, o->shape, shape),
                                  shape, 0.0)) == NULL) {
            return -1;
        }
    }
    return found;
}

/* ---- rank-0 arithmetic without tensor objects ---------------------------
 * A scalar chain's sweep (`y = y * x + 1.0` a hundred times) is made of
 * add, subtract, multiply and divide entries on rank-0 floats.  When
 * nothing records the sweep, their rules run here on C floats and their
 * gradients stay unboxed in the table, where the vjp would make a tensor
 * object per product and per sum and dispatch each one.  Same operations
 * in the same order and precision as the rows' formulas (float32 in
 * float: each step rounds as the tensor op does; the build has no FMA
 * contraction, x86-64's baseline has no FMA), so the same bits:
 *   add  g, g          subtract  g, -g
 *   multiply  g * y, g * x       divide  g / y, -((g * x) / (y * y))
 * tests/test_cheap_tape.py compares them with the recorded formulas. */

/* the entry is arithmetic on rank-0 floats of one dtype: its dtype, or
 * -1 (then the row's vjp runs) */
static int
scalar_entry(const tg_entry *e)
{
    if (!tg_is_arithmetic(e->op) || e->nin != 2 || e->nout != 1) {
        return -1;
    }
    int dt = e->slots[2].dtype;
    if ((dt != TG_FLOAT32 && dt != TG_FLOAT64) || e->slots[0].ndim != 0 ||
        e->slots[1].ndim != 0 || e->slots[2].ndim != 0 ||
        e->slots[0].dtype != dt || e->slots[1].dtype != dt) {
        return -1;
    }
    if (e->op == TG_OP_multiply || e->op == TG_OP_divide) {
        /* their rules read the inputs the entry saved */
        for (int i = 0; i < 2; i++) {
            TensorObject *x = e->slots[i].saved;
            if (x == NULL || x->ndim != 0 || x->dtype != dt) {
                return -1;
            }
        }
    }
    return dt;
}

#define SCALAR_RULE(T, op, g, x, y, c)                                       \
    do {                                                                     \
        switch (op) {                                                        \
            case TG_OP_add: c[0] = g; c[1] = g; break;                       \
            case TG_OP_subtract: c[0] = g; c[1] = -g; break;                 \
            case TG_OP_multiply: c[0] = g * y; c[1] = g * x; break;          \
            default: {                                                       \
                T gx = g * x, yy = y * y;                                    \
                c[0] = g / y;                                                \
                c[1] = -(gx / yy);                                           \
            }                                                                \
        }                                                                    \
    } while (0)

/* slot s (at id) += v, both of dtype dt; s unboxed, or a rank-0 tensor
 * only the table holds (written in place); anything else goes through
 * accumulate with v boxed */
static int
scalar_accumulate(grad_table *gt, grad_slot_t *s, int64_t id, int dt,
                  double v)
{
    if (s->unboxed) {
        s->v = dt == TG_FLOAT32 ? (double)((float)s->v + (float)v)
                                : s->v + v;
        return 0;
    }
    if (s->t == NULL && s->p == NULL) {
        s->unboxed = 1;
        s->dt = dt;
        s->v = v;
        return 0;
    }
    TensorObject *t = (TensorObject *)s->t;
    if (t != NULL && t->ndim == 0 && t->dtype == dt && tg_exclusive(s->t)) {
        if (dt == TG_FLOAT32) {
            *(float *)t->data = *(float *)t->data + (float)v;
        }
        else {
            *(double *)t->data = *(double *)t->data + v;
        }
        t->all_ones = 0;
        return 0;
    }
    PyObject *b = (PyObject *)tg_tensor_scalar(dt, v);
    return b == NULL ? -1 : accumulate(gt, id, b);
}

/* Entry e's rule on C floats (scalar_entry gave dt).  1 if it ran, 0 if
 * its upstream gradient is not a rank-0 dt (run the row's vjp), -1 on
 * error.  Nothing flowing in is "ran": there is nothing to do. */
static int
scalar_vjp(tg_entry *e, int dt, grad_table *gt, tg_idmap *source_ids)
{
    int64_t out_id = e->slots[2].id, pos;
    double g, x = 0.0, y = 0.0, c[2];
    if (!tg_idmap_get(gt->index, out_id, &pos)) {
        return 1;
    }
    grad_slot_t *s = &gt->slots[pos];
    if (s->unboxed) {
        g = s->v;
    }
    else if (s->p != NULL) {
        return 0;               /* terms (never rank 0): the row's vjp */
    }
    else if (s->t == NULL) {
        return 1;
    }
    else {
        TensorObject *t = (TensorObject *)s->t;
        if (!Tensor_Check(s->t) || t->ndim != 0 || t->dtype != dt) {
            return 0;
        }
        g = dt == TG_FLOAT32 ? *(float *)t->data : *(double *)t->data;
    }
    if (!tg_idmap_get(source_ids, out_id, NULL)) {
        Py_CLEAR(s->t);        /* taken: a source keeps its gradient */
        s->unboxed = 0;
    }
    if (e->op == TG_OP_multiply || e->op == TG_OP_divide) {
        TensorObject *a = e->slots[0].saved, *b = e->slots[1].saved;
        x = dt == TG_FLOAT32 ? *(float *)a->data : *(double *)a->data;
        y = dt == TG_FLOAT32 ? *(float *)b->data : *(double *)b->data;
    }
    if (dt == TG_FLOAT32) {
        float gf = (float)g, xf = (float)x, yf = (float)y, cf[2];
        SCALAR_RULE(float, e->op, gf, xf, yf, cf);
        c[0] = cf[0];
        c[1] = cf[1];
    }
    else {
        SCALAR_RULE(double, e->op, g, x, y, c);
    }
    for (int i = 0; i < 2; i++) {
        int64_t id = e->slots[i].id;
        if (tg_idmap_get(gt->index, id, &pos) &&    /* relevant */
            scalar_accumulate(gt, &gt->slots[pos], id, dt, c[i]) < 0) {
            return -1;
        }
    }
    return 1;
}
#undef SCALAR_RULE

static int
run_sweep(TapeObject *tape, Py_ssize_t nentries, grad_table *gt,
          tg_idmap *source_ids, Py_ssize_t nb)
{
    for (Py_ssize_t k = nentries - 1; k >= 0; k--) {
        tg_entry *e = tg_tape_entry(tape, k);
        TensorObject *gs[TG_MAX_OUT] = {NULL};
        int rc;
        /* A long sweep is one C call: without this, Ctrl-C would wait for
         * all of it.  The check is an atomic load; every 256 entries keeps
         * it off the per-op cost. */
        if ((k & 255) == 0 && PyErr_CheckSignals() < 0) {
            return -1;
        }
        int dt = nb < 0 ? scalar_entry(e) : -1;
        if (dt >= 0 && tg_unrecorded()) {
            rc = scalar_vjp(e, dt, gt, source_ids);
            if (rc < 0) {
                return -1;
            }
            if (rc > 0) {
                if (!tape->persistent) {
                    tg_tape_release_entry(e);
                }
                continue;
            }
        }
        rc = take_output_grads(e, gt, source_ids, gs, nb);
        if (rc > 0) {
            rc = entry_vjp(e, gs, gt, nb);
        }
        for (int j = 0; j < e->nout; j++) {
            Py_XDECREF(gs[j]);
        }
        if (rc < 0) {
            return -1;
        }
        if (rc == 0 && !tape->persistent) {
            tg_tape_release_entry(e); /* free saved tensors as we go */
        }
    }
    return 0;
}

/* The output gradient for target `v` (converted, checked), or ones.  In a
 * batched sweep (nb >= 0) it must have shape [nb] + the target's. */
static PyObject *
seed_for(PyObject *og, TensorObject *v, Py_ssize_t i, Py_ssize_t nb)
{
    TensorObject *seed;
    Py_ssize_t want[TG_MAXDIMS + 1];
    int nd;
    if (og == Py_None && nb < 0) {
        return (PyObject *)tg_fill_like(v->dtype, v->ndim, v->shape, 1.0);
    }
    nd = batched_shape(nb, v->ndim, v->shape, want);
    seed = tg_convert(og, v->dtype, "gradient");
    if (seed != NULL &&
        (seed->dtype != v->dtype || !same_shape(nd, want, seed))) {
        PyObject *a = tg_shape_tuple(nd, want);
        PyObject *b = a ? tg_shape_tuple(seed->ndim, seed->shape) : NULL;
        if (b) {
            PyErr_Format(PyExc_ValueError,
                         "GradientTape.gradient: output_gradients[%zd] has "
                         "shape %R and dtype %s, but %s %R and dtype %s", i,
                         b, tg_dtype_names[seed->dtype],
                         nb < 0 ? "its target has shape"
                                : "with the batch dimension its target needs "
                                  "shape",
                         a, tg_dtype_names[v->dtype]);
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_CLEAR(seed);
    }
    return (PyObject *)seed;
}

static int
warn_persistent_in_context(void)
{
    static int warned = 0;
    if (warned) {
        return 0;
    }
    warned = 1;
    return PyErr_WarnEx(
        PyExc_UserWarning,
        "Calling GradientTape.gradient on a persistent tape inside its "
        "context is significantly less efficient than calling it outside the "
        "context (it causes the gradient ops to be recorded on the tape, "
        "leading to increased CPU and memory usage). Only call "
        "GradientTape.gradient inside the context if you actually want to "
        "trace the gradient in order to compute higher order derivatives.",
        1);
}

/* ---- the rules every gradient-like call shares ------------------------------- */

static const char used_up_msg[] =
    "A non-persistent GradientTape can only be used to compute one set of "
    "gradients (or jacobians)";

/* Can `tape` be swept now?  -1 with TF's RuntimeError if not. */
static int
sweep_usable(TapeObject *tape)
{
    if (!tape->has_data) {
        PyErr_SetString(PyExc_RuntimeError, used_up_msg);
        return -1;
    }
    if (tape->sweeping && !tape->persistent) {
        /* another gradient() (from user code run inside this one: an
         * __array__, a weakref callback; or another thread while NumPy
         * released the GIL) is consuming this tape's entries.  Sweeps of a
         * persistent tape only read them and may overlap. */
        PyErr_SetString(PyExc_RuntimeError,
                        "GradientTape.gradient is already running on this "
                        "tape");
        return -1;
    }
    return 0;
}

/* Start a sweep: a non-persistent tape stops recording (TF pops it
 * silently); the tape is held and marked busy until sweep_exit. */
static int
sweep_enter(TapeObject *tape)
{
    if (tape->recording) {
        if (!tape->persistent) {
            if (tg_tape_stop(tape) < 0) {
                return -1;
            }
        }
        else if (warn_persistent_in_context() < 0) {
            return -1;
        }
    }
    Py_INCREF(tape);
    tape->sweeping++;
    return 0;
}

static void
sweep_exit(TapeObject *tape, int swept)
{
    if (!tape->persistent && swept) {
        tg_tape_consume(tape); /* used up, even on error */
    }
    tape->sweeping--;
    Py_DECREF(tape);
}

/* Sweep from the flattened targets (nt of them) to the flattened sources
 * (ns): one result per source into results[0..ns) (new references:
 * gradient tensors, None, or zeros under mode 1); 0, or -1 with an
 * exception and no result set.  Arrays, not sequences: tape.gradient(y, x)
 * passes its two arguments as they came, with no tuple around them.
 * ograds: output gradients per target, or NULL (ones).  nb >= 0: a batched
 * sweep, every output gradient [nb] + its target's shape, every result
 * [nb] + its source's.  *swept is set once the arguments are checked: from
 * there a non-persistent tape is used up, whatever happens (an error
 * before it leaves the tape usable, as TF's). */
static int
sweep_flat(TapeObject *tape, const char *method, PyObject *const *targets,
           Py_ssize_t nt, PyObject *const *ograds, PyObject *const *sources,
           Py_ssize_t ns, int mode, Py_ssize_t nb, int *swept,
           PyObject **results)
{
    tg_idmap *source_ids = NULL;
    grad_table gt;
    grad_table_init(&gt);
    int rc = -1;
    Py_ssize_t nentries, filled = 0;
    int64_t before = tg_last_id();     /* tensors made by the sweep: later */

    /* sources, and the tensors that depend on them */
    for (Py_ssize_t i = 0; i < ns; i++) {
        int64_t id;
        TensorObject *v;
        if (resolve(sources[i], method, "source", &id, &v) < 0) {
            goto done;
        }
        Py_DECREF(v);
        if (tg_idmap_put(&source_ids, id, i) < 0 ||
            grad_slot(&gt, id) == NULL) {
            goto done;
        }
    }
    nentries = tape->nentries;
    for (Py_ssize_t k = 0; k < nentries; k++) {
        tg_entry *e = tg_tape_entry(tape, k);
        for (int i = 0; i < e->nin; i++) {
            if (tg_idmap_get(gt.index, e->slots[i].id, NULL)) {
                for (int j = 0; j < e->nout; j++) {
                    if (grad_slot(&gt, e->slots[e->nin + j].id) == NULL) {
                        goto done;
                    }
                }
                break;
            }
        }
    }

    /* seeds: a target gets ones (or its output gradient) if the tape
     * follows it and it leads to a source */
    for (Py_ssize_t i = 0; i < nt; i++) {
        int64_t id;
        TensorObject *v;
        PyObject *seed;
        if (resolve(targets[i], method, "target", &id, &v) < 0) {
            goto done;
        }
        if (!tg_is_float(v->dtype) || !tg_idmap_get(gt.index, id, NULL) ||
            (!tg_idmap_get(tape->ids, id, NULL) &&
             !tg_idmap_get(source_ids, id, NULL))) {
            Py_DECREF(v);
            continue; /* unconnected target */
        }
        seed = seed_for(ograds ? ograds[i] : Py_None, v, i, nb);
        Py_DECREF(v);
        if (seed == NULL || accumulate(&gt, id, seed) < 0) {
            goto done;
        }
    }

    *swept = 1;
    if (run_sweep(tape, nentries, &gt, source_ids, nb) < 0) {
        goto done;
    }

    for (; filled < ns; filled++) {
        int64_t id;
        TensorObject *v;
        PyObject *r;
        if (resolve(sources[filled], method, "source", &id, &v) < 0) {
            goto done;
        }
        grad_slot_t *gs = filled_slot(&gt, id);
        if (gs != NULL) {
            r = Py_NewRef(gs->t);
            /* A gradient that is a tensor from before the sweep (1 * t is
             * t, tg_ones_factor, and the sum is t's alone; a target's
             * own output gradient) comes back under an id of its own, as
             * TF's gradients are new tensors: with t's id, a tape started
             * later that follows t would take the gradient for t.  The
             * identity op shares t's bytes and is recorded where a tape
             * follows t, so enclosing tapes still connect it. */
            if (Tensor_Check(r) && ((TensorObject *)r)->id <= before) {
                Py_SETREF(r, tg_op1(TG_OP_identity, r, NULL));
            }
        }
        else if (PyErr_Occurred()) {
            r = NULL;
        }
        else if (mode == 1) {
            Py_ssize_t shape[TG_MAXDIMS + 1];
            int nd = batched_shape(nb, v->ndim, v->shape, shape);
            r = (PyObject *)tg_fill_like(v->dtype, nd, shape, 0.0);
        }
        else {
            r = Py_NewRef(Py_None);
        }
        Py_DECREF(v);
        if (r == NULL) {
            goto done;
        }
        results[filled] = r;
    }
    rc = 0;

done:
    if (rc < 0) {
        while (filled > 0) {
            Py_CLEAR(results[--filled]);
        }
    }
    grad_table_free(&gt);
    tg_idmap_free(source_ids);
    return rc;
}

/* A list of n NULLs for sweep_flat to fill, hidden from the cyclic GC
 * until it is (user code runs during a sweep, and gc.get_objects() must
 * not hand it a list of NULLs): PyObject_GC_Track it once filled. */
static PyObject *
results_list(Py_ssize_t n)
{
    PyObject *list = PyList_New(n);
    if (list != NULL) {
        PyObject_GC_UnTrack(list);
    }
    return list;
}

/* sweep_flat over flattened sequences (lists or tuples), its results as a
 * new list; NULL with an exception */
static PyObject *
sweep_list(TapeObject *tape, const char *method, PyObject *flat_t,
           PyObject *flat_o, PyObject *flat_s, int mode, Py_ssize_t nb,
           int *swept)
{
    Py_ssize_t ns = PySequence_Fast_GET_SIZE(flat_s);
    PyObject *results = results_list(ns);
    if (results == NULL ||
        sweep_flat(tape, method, PySequence_Fast_ITEMS(flat_t),
                   PySequence_Fast_GET_SIZE(flat_t),
                   flat_o ? PySequence_Fast_ITEMS(flat_o) : NULL,
                   PySequence_Fast_ITEMS(flat_s), ns, mode, nb, swept,
                   ((PyListObject *)results)->ob_item) < 0) {
        Py_XDECREF(results);
        return NULL;
    }
    PyObject_GC_Track(results);
    return results;
}

/* obj's leaves as an array *items of *n: obj itself for a lone leaf
 * (tape.gradient(y, x): *items points at the caller's pointer, *flat
 * stays NULL), else the items of a new list *flat.  The skeleton (a new
 * reference, None for a leaf), or NULL with an exception (*flat then NULL
 * or a list to release). */
static PyObject *
flatten_items(PyObject *const *obj, PyObject **flat, PyObject *const **items,
              Py_ssize_t *n)
{
    PyObject *skel;
    if (!PyDict_Check(*obj) && !PyList_Check(*obj) && !PyTuple_Check(*obj)) {
        *items = obj;
        *n = 1;
        return Py_NewRef(Py_None);
    }
    if ((*flat = PyList_New(0)) == NULL ||
        (skel = tg_flatten(*obj, *flat)) == NULL) {
        return NULL;
    }
    *items = PySequence_Fast_ITEMS(*flat);
    *n = PyList_GET_SIZE(*flat);
    return skel;
}

/* gradient and _gradient_batched: nb_wanted < 0 unbatched; otherwise the
 * batch size is read from the first output gradient. */
static PyObject *
gradient_run(TapeObject *tape, PyObject *target, PyObject *sources,
             PyObject *ograds, PyObject *unconnected, int batched)
{
    PyObject *flat_t = NULL, *flat_s = NULL, *flat_o = NULL, *results = NULL;
    PyObject *skel_s = NULL, *tmp = NULL, *packed = NULL;
    PyObject *const *ts, *const *ss;
    Py_ssize_t nt, ns, pos = 0, nb = -1;
    int mode, swept = 0;

    if (sweep_usable(tape) < 0) {
        return NULL;
    }
    if (target == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "Argument `target` should be a list or nested "
                        "structure of Tensors, Variables or CompositeTensors "
                        "to be differentiated, but received None.");
        return NULL;
    }
    /* from here on user code may run (conversions, __len__, callbacks) */
    if (sweep_enter(tape) < 0) {
        return NULL;
    }
    if ((mode = tg_parse_unconnected(unconnected)) < 0) {
        goto done;
    }
    if ((tmp = flatten_items(&target, &flat_t, &ts, &nt)) == NULL ||
        (skel_s = flatten_items(&sources, &flat_s, &ss, &ns)) == NULL) {
        goto done;
    }
    Py_CLEAR(tmp);
    if (ograds != Py_None) {
        if ((flat_o = PyList_New(0)) == NULL ||
            (tmp = tg_flatten(ograds, flat_o)) == NULL) {
            goto done;
        }
        Py_CLEAR(tmp);
        if (PyList_GET_SIZE(flat_o) != nt) {
            PyErr_Format(PyExc_ValueError,
                         "GradientTape.gradient: got %zd output_gradients "
                         "for %zd targets", PyList_GET_SIZE(flat_o), nt);
            goto done;
        }
    }
    if (batched) {
        TensorObject *first;
        if (flat_o == NULL || nt == 0) {
            PyErr_SetString(PyExc_ValueError,
                            "GradientTape._gradient_batched needs one "
                            "batched output gradient per target");
            goto done;
        }
        first = tg_convert(PyList_GET_ITEM(flat_o, 0), -1, "gradient");
        if (first == NULL) {
            goto done;
        }
        nb = first->ndim ? first->shape[0] : -1;
        Py_DECREF(first);
        if (nb < 0) {
            PyErr_SetString(PyExc_ValueError,
                            "GradientTape._gradient_batched: an output "
                            "gradient has no batch dimension");
            goto done;
        }
    }
    PyObject *const *os = flat_o ? PySequence_Fast_ITEMS(flat_o) : NULL;
    if (skel_s == Py_None) {
        /* a lone source: its result is the answer, no list around it */
        PyObject *r;
        if (sweep_flat(tape, "gradient", ts, nt, os, ss, 1, mode, nb,
                       &swept, &r) == 0) {
            packed = r;
        }
    }
    else if ((results = results_list(ns)) != NULL &&
             sweep_flat(tape, "gradient", ts, nt, os, ss, ns, mode, nb,
                        &swept, ((PyListObject *)results)->ob_item) == 0) {
        PyObject_GC_Track(results);
        packed = tg_pack(skel_s, results, &pos);
    }

done:
    Py_XDECREF(flat_t);
    Py_XDECREF(flat_s);
    Py_XDECREF(flat_o);
    Py_XDECREF(skel_s);
    Py_XDECREF(tmp);
    Py_XDECREF(results);
    sweep_exit(tape, swept);
    return packed;
}

/* gradient's arguments from a tuple and a dict of keywords */
static PyObject *
gradient_impl(TapeObject *tape, PyObject *args, PyObject *kw, int batched)
{
    static char *kwlist[] = {"target", "sources", "output_gradients",
                             "unconnected_gradients", NULL};
    PyObject *target, *sources, *ograds = Py_None, *unconnected = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:gradient", kwlist,
                                     &target, &sources, &ograds,
                                     &unconnected)) {
        return NULL;
    }
    return gradient_run(tape, target, sources, ograds, unconnected, batched);
}

/* tape.gradient as a vectorcall: tape.gradient(y, x), positional, reads
 * its arguments in place (no tuple made, none parsed); anything else
 * goes through the keyword parser. */
PyObject *
tg_tape_gradient_vector(TapeObject *tape, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *tup, *kw, *r;
    if (kwnames == NULL && nargs >= 2 && nargs <= 4) {
        return gradient_run(tape, args[0], args[1],
                            nargs > 2 ? args[2] : Py_None,
                            nargs > 3 ? args[3] : Py_None, 0);
    }
    if (tg_vector_args(args, nargs, kwnames, &tup, &kw) < 0) {
        return NULL;
    }
    r = gradient_impl(tape, tup, kw, 0);
    Py_DECREF(tup);
    Py_XDECREF(kw);
    return r;
}

/* gradient with a leading batch dimension on every output gradient (and
 * so on every result): what jacobian does with an identity batch.  Not
 * TF API (PyTorch's is_grads_batched); the tests use it to check every
 * row's vjp batched against the same vjp unbatched. */
PyObject *
tg_tape_gradient_batched(TapeObject *tape, PyObject *args, PyObject *kw)
{
    return gradient_impl(tape, args, kw, 1);
}

/* ---- jacobians ------------------------------------------------------------------ */

/* element `at` of a float tensor set to 1 */
static void
set_one(TensorObject *t, Py_ssize_t at)
{
    switch (t->dtype) {
        case TG_FLOAT16:
            ((npy_half *)t->data)[at] = NPY_HALF_ONE;
            break;
        case TG_FLOAT32:
            ((float *)t->data)[at] = 1.0f;
            break;
        default:
            ((double *)t->data)[at] = 1.0;
            break;
    }
}

/* A zero tensor of shape [n] + rest with ones where the leading index k
 * meets flat position k of every one of the `reps` blocks of `rest`:
 * jacobian's identity batch (reps 1) and batch_jacobian's (reps b, the
 * identity repeated down the batch).  rest = [reps] + row shape. */
static TensorObject *
identity_seed(int dtype, Py_ssize_t n, Py_ssize_t reps, int nd,
              const Py_ssize_t *rest)
{
    Py_ssize_t shape[TG_MAXDIMS + 1];
    int k = batched_shape(n, nd, rest, shape);
    TensorObject *t = tg_fill_like(dtype, k, shape, 0.0);
    if (t == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        for (Py_ssize_t r = 0; r < reps; r++) {
            set_one(t, i * reps * n + r * n + i);
        }
    }
    return t;
}

/* The one-hot seed e_k of a float target of shape `shape` (the looping
 * path), its row repeated every n elements (batch_jacobian: column k of
 * every row). */
static TensorObject *
one_hot_seed(int dtype, Py_ssize_t k, Py_ssize_t n, int nd,
             const Py_ssize_t *shape)
{
    TensorObject *t = tg_fill_like(dtype, nd, shape, 0.0);
    if (t == NULL) {
        return NULL;
    }
    for (Py_ssize_t at = k; at < t->size; at += n) {
        set_one(t, at);
    }
    return t;
}

/* TF's TensorShape text: (4, 3), (2,), () */
static PyObject *
shape_text(TensorObject *t)
{
    PyObject *tup = tg_shape_tuple(t->ndim, t->shape);
    PyObject *r = tup ? PyObject_Repr(tup) : NULL;
    Py_XDECREF(tup);
    return r;
}

/* The looping path (experimental_use_pfor=False, persistent tapes only):
 * one sweep per target element k, seeded with e_k (of `seed_shape`, whose
 * elements repeat every n), results stacked on `axis`. */
static PyObject *
jacobian_loop(TapeObject *tape, const char *method, PyObject *flat_t,
              PyObject *flat_s, int mode, int dtype, Py_ssize_t n,
              int nd, const Py_ssize_t *seed_shape, int axis, int *swept)
{
    Py_ssize_t ns = PyList_GET_SIZE(flat_s);
    PyObject *per = PyList_New(ns), *results = NULL, *attrs = NULL;
    if (per == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < ns; i++) {
        PyObject *l = PyList_New(0);
        if (l == NULL) {
            goto done;
        }
        PyList_SET_ITEM(per, i, l);
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        /* a target that is not float is never seeded (never read) */
        PyObject *seed = tg_is_float(dtype)
                             ? (PyObject *)one_hot_seed(dtype, k, n, nd,
                                                        seed_shape)
                             : Py_NewRef(Py_None);
        PyObject *flat_o = seed ? PyList_New(1) : NULL, *r;
        if (flat_o == NULL) {
            Py_XDECREF(seed);
            goto done;
        }
        PyList_SET_ITEM(flat_o, 0, seed);
        r = sweep_list(tape, method, flat_t, flat_o, flat_s, mode, -1,
                       swept);
        Py_DECREF(flat_o);
        if (r == NULL) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < ns; i++) {
            if (PyList_Append(PyList_GET_ITEM(per, i),
                              PyList_GET_ITEM(r, i)) < 0) {
                Py_DECREF(r);
                goto done;
            }
        }
        Py_DECREF(r);
    }
    if ((results = PyList_New(ns)) == NULL ||
        (attrs = Py_BuildValue("(i)", axis)) == NULL) {
        Py_CLEAR(results);
        goto done;
    }
    for (Py_ssize_t i = 0; i < ns; i++) {
        PyObject *l = PyList_GET_ITEM(per, i), *r;
        TensorObject *src = NULL;
        int64_t id;
        int any = 0;
        for (Py_ssize_t k = 0; k < n; k++) {
            any |= PyList_GET_ITEM(l, k) != Py_None;
        }
        if (!any) {
            r = Py_NewRef(Py_None);
        }
        else {
            /* a custom gradient may give None for some seeds only: those
             * rows are zeros, as in the one-sweep path */
            if (resolve(PyList_GET_ITEM(flat_s, i), method, "source", &id,
                        &src) < 0) {
                Py_CLEAR(results);
                goto done;
            }
            for (Py_ssize_t k = 0; k < n; k++) {
                if (PyList_GET_ITEM(l, k) == Py_None) {
                    PyObject *z = (PyObject *)tg_fill_like(
                        src->dtype, src->ndim, src->shape, 0.0);
                    if (z == NULL) {
                        Py_DECREF(src);
                        Py_CLEAR(results);
                        goto done;
                    }
                    PyList_SetItem(l, k, z);
                }
            }
            Py_DECREF(src);
            r = tg_call(TG_OP_stack, (int)n, ((PyListObject *)l)->ob_item,
                        attrs);
        }
        if (r == NULL) {
            Py_CLEAR(results);
            goto done;
        }
        PyList_SET_ITEM(results, i, r);
    }
done:
    Py_XDECREF(attrs);
    Py_DECREF(per);
    return results;
}

PyObject *
tg_tape_jacobian(TapeObject *tape, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"target", "sources", "unconnected_gradients",
                             "parallel_iterations", "experimental_use_pfor",
                             NULL};
    PyObject *target, *sources, *unconnected = Py_None, *par = Py_None;
    PyObject *use_pfor = Py_True;
    PyObject *flat_t = NULL, *flat_s = NULL, *flat_o = NULL, *skel_s = NULL;
    PyObject *results = NULL, *packed = NULL;
    TensorObject *tv = NULL;
    Py_ssize_t pos = 0, n;
    int64_t tid;
    int mode, swept = 0, pfor;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO:jacobian", kwlist,
                                     &target, &sources, &unconnected, &par,
                                     &use_pfor)) {
        return NULL;
    }
    if (sweep_usable(tape) < 0 || (pfor = PyObject_IsTrue(use_pfor)) < 0) {
        return NULL;
    }
    if (!pfor && !tape->persistent) {
        PyErr_SetString(PyExc_RuntimeError,
                        "GradientTape must be created with persistent=True "
                        "to compute the jacobian with eager execution "
                        "enabled and with  experimental_use_pfor set to "
                        "False.");
        return NULL;
    }
    if (resolve(target, "jacobian", "target", &tid, &tv) < 0) {
        return NULL;
    }
    if (tv->ndim + 1 > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "GradientTape.jacobian: the target has rank %d; a "
                     "Jacobian needs one dimension more than its target and "
                     "each source, and tapegrad supports at most %d",
                     tv->ndim, TG_MAXDIMS);
        Py_DECREF(tv);
        return NULL;
    }
    if (sweep_enter(tape) < 0) {
        Py_DECREF(tv);
        return NULL;
    }
    n = tv->size;
    if ((mode = tg_parse_unconnected(unconnected)) < 0 ||
        (flat_t = PyList_New(0)) == NULL ||
        (flat_s = PyList_New(0)) == NULL ||
        PyList_Append(flat_t, target) < 0 ||
        (skel_s = tg_flatten(sources, flat_s)) == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(flat_s); i++) {
        PyObject *src = PyList_GET_ITEM(flat_s, i);
        int nd = Tensor_Check(src) ? ((TensorObject *)src)->ndim
                 : Variable_Check(src) ? ((VariableObject *)src)->value->ndim
                                       : 0;
        if (nd + 1 > TG_MAXDIMS) {
            PyErr_Format(PyExc_ValueError,
                         "GradientTape.jacobian: source %zd has rank %d; a "
                         "Jacobian needs one dimension more than its target "
                         "and each source, and tapegrad supports at most %d",
                         i, nd, TG_MAXDIMS);
            goto done;
        }
    }
    if (pfor || n == 0) {
        /* one sweep: the seed is the identity, [n] + target shape */
        PyObject *seed = NULL;
        if (tg_is_float(tv->dtype)) {
            seed = (PyObject *)identity_seed(tv->dtype, n, 1, tv->ndim,
                                             tv->shape);
        }
        else {
            seed = Py_NewRef(Py_None); /* never read: not differentiable */
        }
        if (seed == NULL || (flat_o = PyList_New(1)) == NULL) {
            Py_XDECREF(seed);
            goto done;
        }
        PyList_SET_ITEM(flat_o, 0, seed);
        results = sweep_list(tape, "jacobian", flat_t, flat_o, flat_s, mode,
                             n, &swept);
    }
    else {
        results = jacobian_loop(tape, "jacobian", flat_t, flat_s, mode,
                                tv->dtype, n, tv->ndim, tv->shape, 0,
                                &swept);
    }
    if (results == NULL) {
        goto done;
    }
    /* [n] + source shape -> target shape + source shape (recorded) */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(results); i++) {
        TensorObject *r = (TensorObject *)PyList_GET_ITEM(results, i);
        Py_ssize_t shape[2 * TG_MAXDIMS];
        PyObject *reshaped;
        if ((PyObject *)r == Py_None) {
            continue;
        }
        if (tv->ndim + r->ndim - 1 > TG_MAXDIMS) {
            PyErr_Format(PyExc_ValueError,
                         "GradientTape.jacobian: the result would have rank "
                         "%d, more than %d", tv->ndim + r->ndim - 1,
                         TG_MAXDIMS);
            Py_CLEAR(results);
            goto done;
        }
        memcpy(shape, tv->shape, (size_t)tv->ndim * sizeof(*shape));
        memcpy(shape + tv->ndim, r->shape + 1,
               (size_t)(r->ndim - 1) * sizeof(*shape));
        reshaped = tg_op_to_dims(TG_OP_reshape, (PyObject *)r,
                                 tv->ndim + r->ndim - 1, shape);
        if (reshaped == NULL) {
            Py_CLEAR(results);
            goto done;
        }
        PyList_SetItem(results, i, reshaped);
    }
    packed = tg_pack(skel_s, results, &pos);

done:
    Py_XDECREF(tv);
    Py_XDECREF(flat_t);
    Py_XDECREF(flat_s);
    Py_XDECREF(flat_o);
    Py_XDECREF(skel_s);
    Py_XDECREF(results);
    sweep_exit(tape, swept);
    return packed;
}

PyObject *
tg_tape_batch_jacobian(TapeObject *tape, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"target", "source", "unconnected_gradients",
                             "parallel_iterations", "experimental_use_pfor",
                             NULL};
    PyObject *target, *source, *unconnected = Py_None, *par = Py_None;
    PyObject *use_pfor = Py_True;
    PyObject *flat_t = NULL, *flat_s = NULL, *flat_o = NULL, *results = NULL;
    PyObject *out = NULL, *ts = NULL, *ss = NULL;
    TensorObject *tv = NULL, *sv = NULL;
    Py_ssize_t b, n = 1, shape[2 * TG_MAXDIMS];
    int64_t id;
    int mode, swept = 0, pfor, nd = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO:batch_jacobian",
                                     kwlist, &target, &source, &unconnected,
                                     &par, &use_pfor)) {
        return NULL;
    }
    if (sweep_usable(tape) < 0 || (pfor = PyObject_IsTrue(use_pfor)) < 0 ||
        resolve(target, "batch_jacobian", "target", &id, &tv) < 0 ||
        resolve(source, "batch_jacobian", "source", &id, &sv) < 0) {
        goto error;
    }
    for (int k = 0; k < 2; k++) {
        TensorObject *t = k ? sv : tv;
        if (t->ndim < 2) {
            if ((ts = shape_text(t)) != NULL) {
                PyErr_Format(PyExc_ValueError,
                             "Shape %U must have rank at least 2", ts);
            }
            goto error;
        }
    }
    if (tv->shape[0] != sv->shape[0]) {
        if ((ts = shape_text(tv)) != NULL && (ss = shape_text(sv)) != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "Need first dimension of target shape (%U) and "
                         "source shape (%U) to match.", ts, ss);
        }
        goto error;
    }
    if (!pfor && !tape->persistent) {
        PyErr_SetString(PyExc_RuntimeError,
                        "GradientTape must be created with persistent=True "
                        "to compute the batch_jacobian with eager execution "
                        "enabled and  with experimental_use_pfor set to "
                        "False.");
        goto error;
    }
    if (tv->ndim + sv->ndim - 1 > TG_MAXDIMS || tv->ndim + 1 > TG_MAXDIMS ||
        sv->ndim + 1 > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "GradientTape.batch_jacobian: the result would have "
                     "rank %d, more than %d", tv->ndim + sv->ndim - 1,
                     TG_MAXDIMS);
        goto error;
    }
    b = tv->shape[0];
    for (int i = 1; i < tv->ndim; i++) {
        n *= tv->shape[i];
    }
    /* the result's shape: [b] + target row shape + source row shape */
    memcpy(shape, tv->shape, (size_t)tv->ndim * sizeof(*shape));
    memcpy(shape + tv->ndim, sv->shape + 1,
           (size_t)(sv->ndim - 1) * sizeof(*shape));
    nd = tv->ndim + sv->ndim - 1;
    if (sweep_enter(tape) < 0) {
        goto error;
    }
    if ((mode = tg_parse_unconnected(unconnected)) < 0 ||
        (flat_t = PyList_New(0)) == NULL ||
        (flat_s = PyList_New(0)) == NULL ||
        PyList_Append(flat_t, target) < 0 ||
        PyList_Append(flat_s, source) < 0) {
        goto done;
    }
    if (pfor || n == 0 || b == 0) {
        /* one sweep over an identity batch of the target's rows:
         * seed[k, i, ...] = e_k for every row i */
        PyObject *seed = NULL;
        if (tg_is_float(tv->dtype)) {
            seed = (PyObject *)identity_seed(tv->dtype, n, b, tv->ndim,
                                             tv->shape);
        }
        else {
            seed = Py_NewRef(Py_None);
        }
        if (seed == NULL || (flat_o = PyList_New(1)) == NULL) {
            Py_XDECREF(seed);
            goto done;
        }
        PyList_SET_ITEM(flat_o, 0, seed);
        results = sweep_list(tape, "batch_jacobian", flat_t, flat_o, flat_s,
                             mode, n, &swept);
        if (results != NULL && PyList_GET_ITEM(results, 0) != Py_None) {
            /* [n, b] + source row -> [b, n] + source row */
            PyObject *g = PyList_GET_ITEM(results, 0), *perm, *attrs, *t;
            if ((perm = PyList_New(sv->ndim + 1)) == NULL) {
                goto done;
            }
            for (int i = 0; i <= sv->ndim; i++) {
                PyList_SET_ITEM(perm, i,
                                PyLong_FromLong(i < 2 ? 1 - i : i));
            }
            attrs = Py_BuildValue("(NO)", perm, Py_False);
            t = attrs ? tg_op1(TG_OP_transpose, g, attrs) : NULL;
            Py_XDECREF(attrs);
            if (t == NULL) {
                goto done;
            }
            PyList_SetItem(results, 0, t);
        }
    }
    else {
        results = jacobian_loop(tape, "batch_jacobian", flat_t, flat_s, mode,
                                tv->dtype, n, tv->ndim, tv->shape, 1,
                                &swept);
    }
    if (results == NULL) {
        goto done;
    }
    if (PyList_GET_ITEM(results, 0) == Py_None) {
        /* TF returns zeros for an unconnected target, whatever
         * unconnected_gradients says (kept for backward compatibility) */
        out = (PyObject *)tg_fill_like(tv->dtype, nd, shape, 0.0);
    }
    else {
        out = tg_op_to_dims(TG_OP_reshape, PyList_GET_ITEM(results, 0), nd,
                            shape);
    }

done:
    Py_XDECREF(flat_t);
    Py_XDECREF(flat_s);
    Py_XDECREF(flat_o);
    Py_XDECREF(results);
    Py_XDECREF(tv);
    Py_XDECREF(sv);
    sweep_exit(tape, swept);
    return out;

error:
    Py_XDECREF(ts);
    Py_XDECREF(ss);
    Py_XDECREF(tv);
    Py_XDECREF(sv);
    return NULL;
}
