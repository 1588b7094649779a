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

static PyObject *
flatten(PyObject *obj, PyObject *out)
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
        PyObject *c = flatten(PyList_GET_ITEM(items, i), out);
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

static PyObject *
pack(PyObject *skel, PyObject *flat, Py_ssize_t *pos)
{
    if (skel == Py_None) {
        if (*pos >= PyList_GET_SIZE(flat)) {
            PyErr_SetString(PyExc_SystemError, "tapegrad: pack overran");
            return NULL;
        }
        return Py_NewRef(PyList_GET_ITEM(flat, (*pos)++));
    }
    const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(skel, 0));
    PyObject *children = PyTuple_GET_ITEM(skel, kind[0] == 'l' ? 1 : 2);
    Py_ssize_t n = PyList_GET_SIZE(children);
    PyObject *packed = PyList_New(n), *r = NULL;
    if (packed == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = pack(PyList_GET_ITEM(children, i), flat, pos);
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

typedef struct {
    tg_idmap *index;    /* tensor id -> position in grads */
    PyObject **grads;   /* accumulated gradient tensors (new refs) or NULL */
    Py_ssize_t n, cap;
} grad_table;

static PyObject **
grad_slot(grad_table *g, int64_t id)
{
    int64_t pos;
    if (tg_idmap_get(g->index, id, &pos)) {
        return &g->grads[pos];
    }
    if (g->n == g->cap) {
        Py_ssize_t cap = g->cap ? g->cap * 2 : 64;
        PyObject **p = PyMem_Realloc(g->grads, (size_t)cap * sizeof(*p));
        if (p == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        g->grads = p;
        g->cap = cap;
    }
    if (tg_idmap_put(&g->index, id, g->n) < 0) {
        return NULL;
    }
    g->grads[g->n] = NULL;
    return &g->grads[g->n++];
}

/* grads[id] += g (steals g).  The add is recorded like any op. */
static int
accumulate(grad_table *gt, int64_t id, PyObject *g)
{
    PyObject **slot = grad_slot(gt, id);
    if (slot == NULL) {
        Py_DECREF(g);
        return -1;
    }
    if (*slot == NULL) {
        *slot = g;
        return 0;
    }
    TensorObject *in[2] = {(TensorObject *)*slot, (TensorObject *)g};
    PyObject *sum = tg_call_tensors(TG_OP_add, 2, in, NULL);
    Py_DECREF(g);
    if (sum == NULL) {
        return -1;
    }
    Py_SETREF(*slot, sum);
    return 0;
}

static void
grad_table_free(grad_table *g)
{
    for (Py_ssize_t i = 0; i < g->n; i++) {
        Py_XDECREF(g->grads[i]);
    }
    PyMem_Free(g->grads);
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

/* Sum a broadcast gradient back to the input's shape (recorded). */
static PyObject *
unbroadcast(PyObject *g, const tg_slot *s)
{
    TensorObject *t = (TensorObject *)g;
    if (same_shape(s->ndim, s->shape, t)) {
        return g;
    }
    PyObject *shape = tg_shape_tuple(s->ndim, s->shape);
    PyObject *attrs = shape ? PyTuple_Pack(1, shape) : NULL;
    PyObject *r = attrs ? tg_call_tensors(TG_OP_sum_to, 1, &t, attrs) : NULL;
    Py_XDECREF(shape);
    Py_XDECREF(attrs);
    Py_DECREF(g);
    return r;
}

/* ---- argument handling -------------------------------------------------------- */

/* A flattened target or source: its tape id and (a new reference to) a
 * tensor with its value.  The reference matters: user code run later (an
 * output gradient's __array__) may assign the Variable and drop its old
 * value. */
static int
resolve(PyObject *obj, const char *what, int64_t *id, TensorObject **value)
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
                 "GradientTape.gradient: every %s must be a tapegrad.Tensor "
                 "or tapegrad.Variable, got %.200R of type '%s'",
                 what, obj, Py_TYPE(obj)->tp_name);
    return -1;
}

/* 0: NONE, 1: ZERO, -1: error. Accepts the enum or its string value. */
static int
parse_unconnected(PyObject *u)
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

/* Call entry `e`'s vjp with upstream gradients `gs` (one per output,
 * borrowed) and add the input gradients into `gt`. */
static int
entry_vjp(tg_entry *e, TensorObject **gs, tg_idmap *relevant,
          grad_table *gt)
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
                     tg_idmap_get(relevant, e->slots[i].id, NULL);
        any |= s.needs[i];
        s.in[i] = e->slots[i].saved;
    }
    for (int j = 0; j < e->nout; j++) {
        outs[j] = e->slots[e->nin + j].saved;
    }
    if (any) {
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
        };
        rc = d->vjp(&c);
    }
    for (int i = 0; i < e->nin; i++) {
        PyObject *gi = s.gx[i];
        if (gi == NULL || rc < 0 || gi == Py_None || !s.needs[i]) {
            Py_XDECREF(gi);
            continue;
        }
        gi = unbroadcast(gi, &e->slots[i]);
        if (gi == NULL || accumulate(gt, e->slots[i].id, gi) < 0) {
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
                  TensorObject **gs)
{
    int found = 0;
    for (int j = 0; j < e->nout; j++) {
        int64_t id = e->slots[e->nin + j].id, pos;
        gs[j] = NULL;
        if (tg_idmap_get(gt->index, id, &pos) && gt->grads[pos] != NULL) {
            gs[j] = (TensorObject *)gt->grads[pos];
            if (tg_idmap_get(source_ids, id, NULL)) {
                Py_INCREF(gs[j]); /* a source keeps its gradient */
            }
            else {
                gt->grads[pos] = NULL;
            }
            found = 1;
        }
    }
    for (int j = 0; found && j < e->nout; j++) {
        const tg_slot *o = &e->slots[e->nin + j];
        if (gs[j] == NULL &&
            (gs[j] = tg_fill_like(o->dtype, o->ndim, o->shape, 0.0)) ==
                NULL) {
            return -1;
        }
    }
    return found;
}

static int
run_sweep(TapeObject *tape, Py_ssize_t nentries, tg_idmap *relevant,
          grad_table *gt, tg_idmap *source_ids)
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
        rc = take_output_grads(e, gt, source_ids, gs);
        if (rc > 0) {
            rc = entry_vjp(e, gs, relevant, gt);
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

/* ---- known ones ---------------------------------------------------------------
 * The ones a sweep seeds its targets with are mostly multiplied by
 * something at once (the first vjp: g * y, g * cos(x), ...).  Their ids are
 * remembered here so that multiply can return the other factor's values
 * (as a view) instead of a full pass of 1 * t.  Ids are never reused, so a
 * stale entry can only name that same immutable all-ones tensor or none. */
#define KNOWN_ONES 8
static int64_t known_ones[KNOWN_ONES];
static int known_ones_next = 0;

int
tg_known_ones(const TensorObject *t)
{
    for (int i = 0; i < KNOWN_ONES; i++) {
        if (known_ones[i] == t->id) {
            return 1;
        }
    }
    return 0;
}

/* The output gradient for target `v` (converted, checked), or ones. */
static PyObject *
seed_for(PyObject *og, TensorObject *v, Py_ssize_t i)
{
    TensorObject *seed;
    if (og == Py_None) {
        seed = tg_fill_like(v->dtype, v->ndim, v->shape, 1.0);
        if (seed != NULL) {
            known_ones[known_ones_next] = seed->id;
            known_ones_next = (known_ones_next + 1) % KNOWN_ONES;
        }
        return (PyObject *)seed;
    }
    seed = tg_convert(og, v->dtype, "gradient");
    if (seed != NULL &&
        (seed->dtype != v->dtype || !same_shape(v->ndim, v->shape, seed))) {
        PyObject *a = tg_shape_tuple(v->ndim, v->shape);
        PyObject *b = a ? tg_shape_tuple(seed->ndim, seed->shape) : NULL;
        if (b) {
            PyErr_Format(PyExc_ValueError,
                         "GradientTape.gradient: output_gradients[%zd] has "
                         "shape %R and dtype %s, but its target has shape %R "
                         "and dtype %s", i, b, tg_dtype_names[seed->dtype], a,
                         tg_dtype_names[v->dtype]);
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

PyObject *
tg_tape_gradient(TapeObject *tape, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"target", "sources", "output_gradients",
                             "unconnected_gradients", NULL};
    PyObject *target, *sources, *ograds = Py_None, *unconnected = Py_None;
    PyObject *flat_t = NULL, *flat_s = NULL, *flat_o = NULL, *results = NULL;
    PyObject *skel_s = NULL, *tmp = NULL, *packed = NULL;
    tg_idmap *source_ids = NULL, *relevant = NULL;
    grad_table gt = {0};
    Py_ssize_t nentries, nt, ns, pos = 0;
    int mode, swept = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:gradient", kwlist,
                                     &target, &sources, &ograds,
                                     &unconnected)) {
        return NULL;
    }
    if (!tape->has_data) {
        PyErr_SetString(PyExc_RuntimeError,
                        "A non-persistent GradientTape can only be used to "
                        "compute one set of gradients (or jacobians)");
        return NULL;
    }
    if (tape->sweeping && !tape->persistent) {
        /* another gradient() (from user code run inside this one: an
         * __array__, a weakref callback; or another thread while NumPy
         * released the GIL) is consuming this tape's entries.  Sweeps of a
         * persistent tape only read them and may overlap. */
        PyErr_SetString(PyExc_RuntimeError,
                        "GradientTape.gradient is already running on this "
                        "tape");
        return NULL;
    }
    if (target == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "Argument `target` should be a list or nested "
                        "structure of Tensors, Variables or CompositeTensors "
                        "to be differentiated, but received None.");
        return NULL;
    }
    if (tape->recording) {
        if (!tape->persistent) {
            if (tg_tape_stop(tape) < 0) { /* TF: pop silently */
                return NULL;
            }
        }
        else if (warn_persistent_in_context() < 0) {
            return NULL;
        }
    }
    /* from here on user code may run (conversions, __len__, callbacks) */
    Py_INCREF(tape);
    tape->sweeping++;
    if ((mode = parse_unconnected(unconnected)) < 0) {
        goto done;
    }
    if ((flat_t = PyList_New(0)) == NULL ||
        (flat_s = PyList_New(0)) == NULL ||
        (tmp = flatten(target, flat_t)) == NULL ||
        (skel_s = flatten(sources, flat_s)) == NULL) {
        goto done;
    }
    Py_CLEAR(tmp);
    nt = PyList_GET_SIZE(flat_t);
    ns = PyList_GET_SIZE(flat_s);
    if (ograds != Py_None) {
        if ((flat_o = PyList_New(0)) == NULL ||
            (tmp = flatten(ograds, flat_o)) == NULL) {
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

    /* sources, and the tensors that depend on them */
    for (Py_ssize_t i = 0; i < ns; i++) {
        int64_t id;
        TensorObject *v;
        if (resolve(PyList_GET_ITEM(flat_s, i), "source", &id, &v) < 0) {
            goto done;
        }
        Py_DECREF(v);
        if (tg_idmap_put(&source_ids, id, i) < 0 ||
            tg_idmap_put(&relevant, id, 1) < 0) {
            goto done;
        }
    }
    nentries = tape->nentries;
    for (Py_ssize_t k = 0; k < nentries; k++) {
        tg_entry *e = tg_tape_entry(tape, k);
        for (int i = 0; i < e->nin; i++) {
            if (tg_idmap_get(relevant, e->slots[i].id, NULL)) {
                for (int j = 0; j < e->nout; j++) {
                    if (tg_idmap_put(&relevant, e->slots[e->nin + j].id, 1) <
                        0) {
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
        if (resolve(PyList_GET_ITEM(flat_t, i), "target", &id, &v) < 0) {
            goto done;
        }
        if (!tg_is_float(v->dtype) || !tg_idmap_get(relevant, id, NULL) ||
            (!tg_idmap_get(tape->ids, id, NULL) &&
             !tg_idmap_get(source_ids, id, NULL))) {
            Py_DECREF(v);
            continue; /* unconnected target */
        }
        seed = seed_for(flat_o ? PyList_GET_ITEM(flat_o, i) : Py_None, v, i);
        Py_DECREF(v);
        if (seed == NULL || accumulate(&gt, id, seed) < 0) {
            goto done;
        }
    }

    /* the arguments are good: from here a non-persistent tape is used up,
     * whatever happens (an error before this leaves it usable, as TF's) */
    swept = 1;
    if (run_sweep(tape, nentries, relevant, &gt, source_ids) < 0) {
        goto done;
    }

    if ((results = PyList_New(ns)) == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < ns; i++) {
        int64_t id, gpos;
        TensorObject *v;
        PyObject *r;
        if (resolve(PyList_GET_ITEM(flat_s, i), "source", &id, &v) < 0) {
            goto done;
        }
        if (tg_idmap_get(gt.index, id, &gpos) && gt.grads[gpos] != NULL) {
            r = Py_NewRef(gt.grads[gpos]);
        }
        else if (mode == 1) {
            r = (PyObject *)tg_fill_like(v->dtype, v->ndim, v->shape, 0.0);
        }
        else {
            r = Py_NewRef(Py_None);
        }
        Py_DECREF(v);
        if (r == NULL) {
            goto done;
        }
        PyList_SET_ITEM(results, i, r);
    }
    packed = pack(skel_s, results, &pos);

done:
    grad_table_free(&gt);
    tg_idmap_free(source_ids);
    tg_idmap_free(relevant);
    Py_XDECREF(flat_t);
    Py_XDECREF(flat_s);
    Py_XDECREF(flat_o);
    Py_XDECREF(skel_s);
    Py_XDECREF(tmp);
    Py_XDECREF(results);
    if (!tape->persistent && swept) {
        tg_tape_consume(tape); /* used up, even on error */
    }
    tape->sweeping--;
    Py_DECREF(tape);
    return packed;
}
