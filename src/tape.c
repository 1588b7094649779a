/* tape.c -- GradientTape: what gets recorded, and the per-thread stack.
 *
 * Terminology (as TF's tape.h):
 *   op      one executed row of the op table;
 *   entry   the record of one op on one tape: its row, attrs, and for every
 *           input and output a slot {id, dtype, shape, saved tensor or
 *           NULL}; only the tensors the row's vjp reads are kept;
 *   watched a tensor id the tape follows without an entry producing it
 *           (watch(), Variable reads); marked -1 in `ids`;
 *   target  what is differentiated; source: what it is differentiated by.
 *
 * Algorithm: `ids` maps every tensor id the tape follows to the index of the
 * entry that produced it (or -1).  An op is recorded on a tape when one of its
 * float inputs is in `ids` (TF's ShouldRecord); its outputs then enter
 * `ids`, so the tape follows the whole downstream cone of what it watches.
 * Entries are appended in execution order, which is already a topological
 * order: the sweep (sweep.c) walks them backwards with no graph search.
 *
 * Memory: entries live in an arena owned by the tape and are freed in one go
 * when a non-persistent tape's gradient returns, or when a persistent tape
 * dies.
 *
 * Threads: the stack of recording tapes is per thread.  It is a small object
 * stored in the thread-state dict (so it dies with the thread, releasing any
 * tape left open) and cached in a C11 thread-local pointer for the per-op
 * fast path.  A tape refers back to the stack it is on with a borrowed
 * pointer that is valid while it records; the stack's dealloc pops its tapes.
 */
#include "tapegrad.h"
#include "structmember.h"

Py_ssize_t tg_live_tapes = 0;
int tg_none_gradient_warnings = 0;   /* tapegrad.debugging's switches */
int tg_op_locations = 0;
Py_ssize_t tg_live_entries = 0;

/* ---- the per-thread stack ------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *tapes;    /* list, innermost last */
    PyObject *watchers; /* list of lists of Variables (custom_gradient's
                           variable watchers), or NULL */
    PyObject *accs;     /* active ForwardAccumulators, in entry order, or
                           NULL (forward.c) */
    PyObject *scope;    /* tf.name_scope's current scope on this thread
                           ("outer/inner/"), or NULL for none */
} StackObject;

static _Thread_local StackObject *tls_stack = NULL; /* borrowed cache */
/* Tapes recording in any thread: 0 lets every op skip the stack lookup
 * (dispatch.c reads it before any thread-local). */
Py_ssize_t tg_num_recording = 0;
/* Variable watchers open in any thread: 0 keeps variable reads at one
 * test of a global. */
static Py_ssize_t num_watching = 0;

static void
stack_dealloc(StackObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (tls_stack == self) {
        tls_stack = NULL;
    }
    /* a thread ended with tapes open: they stop recording */
    if (self->tapes != NULL) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(self->tapes); i++) {
            TapeObject *t = (TapeObject *)PyList_GET_ITEM(self->tapes, i);
            t->recording = 0;
            t->stack = NULL;
            tg_num_recording--;
        }
    }
    Py_CLEAR(self->tapes);
    Py_CLEAR(self->scope);
    if (self->accs != NULL) {
        tg_accumulators_thread_end(self->accs);
        Py_CLEAR(self->accs);
    }
    if (self->watchers != NULL) {
        num_watching -= PyList_GET_SIZE(self->watchers);
        Py_CLEAR(self->watchers);
    }
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot stack_slots[] = {
    {Py_tp_dealloc, stack_dealloc},
    {0, NULL},
};

static PyType_Spec stack_spec = {
    .name = "tapegrad._ThreadTapes",
    .basicsize = sizeof(StackObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = stack_slots,
};

/* This thread's stack, created on first use when `create`. */
static StackObject *
thread_stack(int create)
{
    PyObject *dict;
    StackObject *s;
    if (tls_stack != NULL) {
        return tls_stack;
    }
    dict = PyThreadState_GetDict();
    if (dict == NULL) {
        /* with the GIL held, only a dict that could not be allocated (the
         * thread's first use; CPython clears that MemoryError) */
        if (create && !PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return NULL;
    }
    s = (StackObject *)PyDict_GetItemWithError(dict, tg_st->thread_key);
    if (s == NULL && !PyErr_Occurred() && create) {
        s = PyObject_New(StackObject, tg_st->stack_type);
        if (s == NULL) {
            return NULL;
        }
        s->tapes = PyList_New(0);
        s->watchers = NULL;
        s->accs = NULL;
        s->scope = NULL;
        if (s->tapes == NULL || PyDict_SetItem(dict, tg_st->thread_key,
                                               (PyObject *)s) < 0) {
            Py_DECREF(s);
            return NULL;
        }
        Py_DECREF(s); /* the dict owns it */
    }
    tls_stack = s;
    return s;
}

/* ---- name scopes ----------------------------------------------------------------
 * tf.name_scope (tapegrad/_name_scope.py) keeps the thread's scope here,
 * beside its tapes, and a Variable's name starts with it, as TF's eager
 * variables' names do ('dense/w:0'). */

/* This thread's scope: 0 with *scope borrowed (NULL: none), or -1 with
 * an exception. */
int
tg_scope_name(PyObject **scope)
{
    StackObject *s = thread_stack(0);
    if (s == NULL && PyErr_Occurred()) {
        return -1;
    }
    *scope = s != NULL ? s->scope : NULL;
    return 0;
}

/* _scope_name(): this thread's scope, '' for none */
PyObject *
tg_py_scope_name(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(args))
{
    PyObject *scope;
    if (tg_scope_name(&scope) < 0) {
        return NULL;
    }
    return scope != NULL ? Py_NewRef(scope) : PyUnicode_FromString("");
}

/* _set_scope_name(scope): this thread's scope from now on ('' for none) */
PyObject *
tg_py_set_scope_name(PyObject *Py_UNUSED(m), PyObject *scope)
{
    StackObject *s;
    if (!PyUnicode_Check(scope)) {
        PyErr_SetString(PyExc_TypeError, "scope name must be a str");
        return NULL;
    }
    if ((s = thread_stack(1)) == NULL) {
        return NULL;
    }
    Py_XSETREF(s->scope, PyUnicode_GET_LENGTH(scope) ? Py_NewRef(scope)
                                                     : NULL);
    Py_RETURN_NONE;
}

PyObject *
tg_active_stack(void)
{
    StackObject *s = tls_stack;
    if (s == NULL) {
        if (tg_num_recording == 0) {
            return NULL;
        }
        s = thread_stack(0);
        if (s == NULL) {
            return NULL;
        }
    }
    return PyList_GET_SIZE(s->tapes) ? s->tapes : NULL;
}

/* This thread's list of active accumulators (borrowed), created when
 * `create`; NULL (no exception) when there is none. */
PyObject *
tg_accumulator_list(int create)
{
    StackObject *s = thread_stack(create);
    if (s == NULL) {
        if (create && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError,
                            "tapegrad: no thread state to accumulate on");
        }
        return NULL;
    }
    if (s->accs == NULL && create && (s->accs = PyList_New(0)) == NULL) {
        return NULL;
    }
    return s->accs;
}

static int
tape_push(TapeObject *t)
{
    StackObject *s = thread_stack(1);
    if (s == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError,
                            "tapegrad: no thread state to record on");
        }
        return -1;
    }
    if (PyList_Append(s->tapes, (PyObject *)t) < 0) {
        return -1;
    }
    t->recording = 1;
    t->stack = (PyObject *)s;
    t->nesting_id = tg_next_nesting_id();
    tg_num_recording++;
    return 0;
}

/* Remove `t` from the stack it is on, by identity (not blindly the top).
 * It cannot fail: the items above it move down in place and the list only
 * shrinks its size (PySequence_DelItem may reallocate, and failing there,
 * out of memory in __exit__, left a tape marked stopped but still on the
 * stack, recording every later op and never freed). */
static int
tape_pop(TapeObject *t)
{
    StackObject *s = (StackObject *)t->stack;
    if (!t->recording || s == NULL) {
        return 0;
    }
    tg_num_recording--;
    t->recording = 0;
    t->stack = NULL;
    t->exit_id = tg_last_id();
    PyListObject *list = (PyListObject *)s->tapes;
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        if (list->ob_item[i] == (PyObject *)t) {
            memmove(&list->ob_item[i], &list->ob_item[i + 1],
                    (size_t)(n - 1 - i) * sizeof(PyObject *));
            Py_SET_SIZE(list, n - 1);
            Py_DECREF(t);          /* the caller still holds the tape */
            break;
        }
    }
    return 0;
}

/* ---- entries ------------------------------------------------------------------- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap;
} arena_chunk;

#define ARENA_CHUNK (64 * 1024)
#define ARENA_HDR ((sizeof(arena_chunk) + 15) & ~(size_t)15)

/* Freed standard chunks wait for the next tapes: a tape per step (the
 * seed cell, a training loop) would otherwise malloc and free 64 KB each
 * time, and nested tapes (second order) each want one. */
#define SPARE_CHUNKS 4
static arena_chunk *spare_chunks[SPARE_CHUNKS];
static int nspare_chunks = 0;

static void
chunk_free(arena_chunk *c)
{
    if (c->cap == ARENA_CHUNK && nspare_chunks < SPARE_CHUNKS) {
        spare_chunks[nspare_chunks++] = c;
    }
    else {
        PyMem_Free(c);
    }
}

/* the spare chunks, given back when the module's caches are released */
void
tg_tape_spare_free(void)
{
    while (nspare_chunks > 0) {
        PyMem_Free(spare_chunks[--nspare_chunks]);
    }
}

static void *
arena_alloc(TapeObject *t, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (t->arena == NULL || t->arena_used + n > t->arena_cap) {
        size_t cap = n + ARENA_HDR > ARENA_CHUNK ? n + ARENA_HDR : ARENA_CHUNK;
        arena_chunk *c;
        if (cap == ARENA_CHUNK && nspare_chunks > 0) {
            c = spare_chunks[--nspare_chunks];
        }
        else {
            c = PyMem_Malloc(cap);
        }
        if (c == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        c->next = (arena_chunk *)t->arena;
        c->cap = cap;
        t->arena = (char *)c;
        t->arena_used = ARENA_HDR;
        t->arena_cap = cap;
    }
    void *p = t->arena + t->arena_used;
    t->arena_used += n;
    return p;
}

void
tg_tape_release_entry(tg_entry *e)
{
    if (!e->held) {
        return;
    }
    e->held = 0;
    for (int i = 0; i < e->nin + e->nout; i++) {
        Py_CLEAR(e->slots[i].saved);
    }
    Py_CLEAR(e->attrs);
}

/* Drop every entry.  The tape's fields are detached first: releasing a
 * saved tensor can run user code (a weakref callback) that must find an
 * empty, consistent tape, never the half-released one. */
static void
tape_free_entries(TapeObject *t)
{
    tg_entry **entries = t->entries;
    Py_ssize_t n = t->nentries;
    arena_chunk *c = (arena_chunk *)t->arena;
    tg_idmap *ids = t->ids;
    t->entries = NULL;
    t->nentries = t->capentries = 0;
    t->arena = NULL;
    t->arena_used = t->arena_cap = 0;
    t->ids = NULL;
    tg_live_entries -= n;
    for (Py_ssize_t i = 0; i < n; i++) {
        tg_tape_release_entry(entries[i]);
        Py_CLEAR(entries[i]->where);
    }
    PyMem_Free(entries);
    while (c != NULL) {
        arena_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    tg_idmap_free(ids);
}

/* Free a used-up record's skeleton (tg_tape_consume). */
static void
tape_free_past(TapeObject *t)
{
    arena_chunk *c = (arena_chunk *)t->past_arena;
    for (Py_ssize_t i = 0; i < t->npast; i++) {
        Py_CLEAR(t->past[i]->where);
    }
    PyMem_Free(t->past);
    t->past = NULL;
    t->npast = 0;
    t->past_arena = NULL;
    while (c != NULL) {
        arena_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    tg_idmap_free(t->past_ids);
    t->past_ids = NULL;
}

/* slots [first, first + n) of e from tensors x[0..n), with their shapes
 * at *dims (advanced past them); x[i] saved when save_all, or when i is
 * 0 and save0, or 1 and save1 */
static inline void
fill_slots(tg_entry *e, int first, int n, TensorObject **x,
           Py_ssize_t **dims, int save_all, int save0, int save1)
{
    for (int i = 0; i < n; i++) {
        tg_slot *s = &e->slots[first + i];
        TensorObject *t = x[i];
        s->id = t->id;
        s->dtype = t->dtype;
        s->ndim = t->ndim;
        s->shape = *dims;
        if (t->ndim > 0) {
            memcpy(*dims, t->shape, (size_t)t->ndim * sizeof(Py_ssize_t));
            *dims += t->ndim;
        }
        int save = save_all || (i == 0 && save0) || (i == 1 && save1);
        s->saved = save ? (TensorObject *)Py_NewRef(t) : NULL;
    }
}

static int
tape_append(TapeObject *t, int op, int nin, TensorObject **in, int nout,
            TensorObject **out, PyObject *attrs)
{
    int flags = tg_ops[op].flags, nslots = nin + nout, total_dims = 0;
    for (int i = 0; i < nin; i++) {
        total_dims += in[i]->ndim;
    }
    for (int i = 0; i < nout; i++) {
        total_dims += out[i]->ndim;
    }
    size_t size = sizeof(tg_entry) + (size_t)nslots * sizeof(tg_slot) +
                  (size_t)total_dims * sizeof(Py_ssize_t);
    if (t->nentries == t->capentries) {
        Py_ssize_t cap = t->capentries ? t->capentries * 2 : 64;
        tg_entry **e = PyMem_Realloc(t->entries, (size_t)cap * sizeof(*e));
        if (e == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        t->entries = e;
        t->capentries = cap;
    }
    tg_entry *e = arena_alloc(t, size);
    if (e == NULL) {
        return -1;
    }
    e->op = op;
    e->nin = nin;
    e->nout = nout;
    e->held = 1;
    e->attrs = Py_XNewRef(attrs);
    /* tape.operations()'s file:line: a frame walk per recorded op, so
     * only while switched on */
    e->where = NULL;
    if (tg_op_locations) {
        PyObject *where = tg_user_location();
        if (where == NULL) {
            Py_XDECREF(e->attrs);
            return -1;
        }
        if (where != Py_None) {
            e->where = where;
        }
        else {
            Py_DECREF(where);
        }
    }
    e->slots = (tg_slot *)(e + 1);
    Py_ssize_t *dims = (Py_ssize_t *)(e->slots + nslots);
    fill_slots(e, 0, nin, in, &dims, flags & TG_SAVE_INS,
               flags & TG_SAVE_IN0, flags & TG_SAVE_IN1);
    fill_slots(e, nin, nout, out, &dims, flags & TG_SAVE_OUTS,
               flags & TG_SAVE_OUT, 0);
    Py_ssize_t index = t->nentries;
    t->entries[t->nentries++] = e;
    tg_live_entries++;
    for (int i = 0; i < nout; i++) {
        if (tg_idmap_put(&t->ids, out[i]->id, index) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Record one op on every tape of this thread that follows a float input. */
/* What an entry keeps of the op's attributes: the values the forward
 * read, not objects the user can still change.  A vjp reads its attrs
 * again when the gradient runs; had it kept the user's list of axes,
 * ndarray of indices or Variable of alpha, changing those after the op
 * would give a wrong gradient, or an axis out of range (a crash, once, in
 * concat's vjp).  Lists and tuples are copied (each keeping its type, so
 * that no vjp sees a structure its forward did not), ndarrays become
 * read-only copies and Variables their current value; immutable values
 * are shared.  Other objects (a user's __index__ object, custom_gradient's
 * grad_fn) are kept as they are: the vjps check what they read. */
static PyObject *
frozen_attr(PyObject *a, int depth)
{
    if (a == Py_None || PyLong_CheckExact(a) || PyFloat_CheckExact(a) ||
        PyBool_Check(a) || PyUnicode_CheckExact(a) || Tensor_Check(a) ||
        depth > 8) {
        return Py_NewRef(a);
    }
    if (Variable_Check(a)) {
        return Py_NewRef(((VariableObject *)a)->value);
    }
    if (PyArray_Check(a)) {
        PyObject *c = PyArray_NewCopy((PyArrayObject *)a, NPY_CORDER);
        if (c != NULL) {
            PyArray_CLEARFLAGS((PyArrayObject *)c, NPY_ARRAY_WRITEABLE);
        }
        return c;
    }
    if (PyTuple_Check(a) || PyList_Check(a)) {
        /* a private list first: freezing an item may run no user code, but
         * an item's copy may fail; the source is never read twice */
        PyObject *items = tg_sequence_list(a), *r;
        Py_ssize_t n;
        if (items == NULL) {
            return NULL;
        }
        n = PyList_GET_SIZE(items);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *f = frozen_attr(PyList_GET_ITEM(items, i), depth + 1);
            if (f == NULL) {
                Py_DECREF(items);
                return NULL;
            }
            PyList_SetItem(items, i, f);  /* steals f, drops the old item */
        }
        if (PyList_Check(a)) {
            return items;
        }
        r = PyList_AsTuple(items);
        Py_DECREF(items);
        return r;
    }
    return Py_NewRef(a);
}

static PyObject *
frozen_attrs(PyObject *attrs)
{
    if (!PyTuple_Check(attrs)) {
        return frozen_attr(attrs, 0);
    }
    /* the usual case, ints and None and tensors only: the tuple itself */
    Py_ssize_t n = PyTuple_GET_SIZE(attrs);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyTuple_GET_ITEM(attrs, i);
        if (!(a == Py_None || PyLong_CheckExact(a) || PyFloat_CheckExact(a) ||
              PyBool_Check(a) || PyUnicode_CheckExact(a) ||
              Tensor_Check(a))) {
            return frozen_attr(attrs, 0);
        }
    }
    return Py_NewRef(attrs);
}

int
tg_tape_record(int op, int nin, TensorObject **in, int nout,
               TensorObject **out, PyObject *attrs)
{
    PyObject *tapes = tg_active_stack(), *frozen = NULL;
    int rc = 0;
    if (tapes == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    for (Py_ssize_t k = 0; rc == 0 && k < PyList_GET_SIZE(tapes); k++) {
        TapeObject *t = (TapeObject *)PyList_GET_ITEM(tapes, k);
        if (tg_nesting_lowered > 0 && t->nesting_id >= tg_nesting_limit &&
            !t->sees_all) {
            continue; /* entered inside an accumulator computing a jvp */
        }
        for (int i = 0; i < nin; i++) {
            if (tg_is_float(in[i]->dtype) &&
                tg_idmap_get(t->ids, in[i]->id, NULL)) {
                if (frozen == NULL && attrs != NULL &&
                    (frozen = frozen_attrs(attrs)) == NULL) {
                    return -1;
                }
                Py_INCREF(t); /* DECREFs in tape_append may run code */
                rc = tape_append(t, op, nin, in, nout, out, frozen);
                Py_DECREF(t);
                break;
            }
        }
    }
    Py_XDECREF(frozen);
    return rc;
}

/* ---- watching -------------------------------------------------------------------- */

/* A used-up (or never entered) tape starts a fresh record, as in TF. */
static int
tape_fresh_record(TapeObject *t)
{
    if (t->has_data) {
        return 0;
    }
    t->has_data = 1;
    tape_free_past(t);
    Py_CLEAR(t->notes);
    t->start_id = tg_last_id();
    t->exit_id = -1;
    /* (the list is made by the first watched Variable) */
    return t->watched_vars == NULL || PyList_GET_SIZE(t->watched_vars) == 0
               ? 0
               : PyList_SetSlice(t->watched_vars, 0, PY_SSIZE_T_MAX, NULL);
}

static int
watch_variable(TapeObject *t, VariableObject *v)
{
    int64_t prev;
    if (tg_idmap_get(t->ids, v->id, &prev)) {
        return 0;
    }
    if (tape_fresh_record(t) < 0 || tg_idmap_put(&t->ids, v->id, -1) < 0) {
        return -1;
    }
    if (t->watched_vars == NULL && (t->watched_vars = PyList_New(0)) == NULL) {
        return -1;
    }
    return PyList_Append(t->watched_vars, (PyObject *)v);
}

/* ---- variable watchers -------------------------------------------------------
 * TF's VariableWatcher: custom_gradient needs the trainable Variables its
 * function read, on this thread, whether or not a tape is recording. */

PyObject *
tg_watcher_push(void)
{
    StackObject *s = thread_stack(1);
    PyObject *w;
    if (s == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError,
                            "tapegrad: no thread state to watch on");
        }
        return NULL;
    }
    if (s->watchers == NULL && (s->watchers = PyList_New(0)) == NULL) {
        return NULL;
    }
    if ((w = PyList_New(0)) == NULL) {
        return NULL;
    }
    if (PyList_Append(s->watchers, w) < 0) {
        Py_DECREF(w);
        return NULL;
    }
    num_watching++;
    return w;
}

/* Close watcher `w` (by identity; a no-op if it is not open here). */
void
tg_watcher_pop(PyObject *w)
{
    StackObject *s = thread_stack(0);
    if (s == NULL || s->watchers == NULL) {
        PyErr_Clear();
        return;
    }
    PyListObject *list = (PyListObject *)s->watchers;
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        if (list->ob_item[i] == w) {
            /* in place, as tape_pop: a list that shrinks may reallocate,
             * and this must not fail */
            memmove(&list->ob_item[i], &list->ob_item[i + 1],
                    (size_t)(n - 1 - i) * sizeof(PyObject *));
            Py_SET_SIZE(list, n - 1);
            num_watching--;
            Py_DECREF(w);
            return;
        }
    }
}

static int
watchers_note(VariableObject *v)
{
    StackObject *s = thread_stack(0);
    if (s == NULL || s->watchers == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(s->watchers); i++) {
        PyObject *w = PyList_GET_ITEM(s->watchers, i);
        int seen = 0;
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(w) && !seen; j++) {
            seen = PyList_GET_ITEM(w, j) == (PyObject *)v;
        }
        if (!seen && PyList_Append(w, (PyObject *)v) < 0) {
            return -1;
        }
    }
    return 0;
}

int
tg_tape_variable_accessed(VariableObject *v)
{
    PyObject *tapes;
    if (num_watching > 0 && v->trainable && watchers_note(v) < 0) {
        return -1;
    }
    if (!v->trainable || (tapes = tg_active_stack()) == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(tapes); k++) {
        TapeObject *t = (TapeObject *)PyList_GET_ITEM(tapes, k);
        if (t->watch_accessed_variables && watch_variable(t, v) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
watch_one(TapeObject *t, PyObject *obj)
{
    int dtype;
    if (PyList_Check(obj) || PyTuple_Check(obj) || PyDict_Check(obj)) {
        PyObject *items = PyDict_Check(obj) ? PyDict_Values(obj)
                                            : tg_sequence_list(obj);
        int rc = 0;
        if (items == NULL) {
            return -1;
        }
        if (Py_EnterRecursiveCall(" in GradientTape.watch")) {
            Py_DECREF(items);
            return -1;
        }
        for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(items); i++) {
            rc = watch_one(t, PyList_GET_ITEM(items, i));
        }
        Py_LeaveRecursiveCall();
        Py_DECREF(items);
        return rc;
    }
    if (Variable_Check(obj)) {
        dtype = ((VariableObject *)obj)->value->dtype;
    }
    else if (Tensor_Check(obj)) {
        dtype = ((TensorObject *)obj)->dtype;
    }
    else {
        PyObject *r = PyObject_Repr(obj);
        if (r != NULL) {
            const char *tn = strrchr(Py_TYPE(obj)->tp_name, '.');
            PyErr_Format(PyExc_ValueError,
                         "Passed in object %U of type '%s', not "
                         "tapegrad.Tensor or tapegrad.Variable.",
                         r, tn ? tn + 1 : Py_TYPE(obj)->tp_name);
            Py_DECREF(r);
        }
        return -1;
    }
    if (!tg_is_float(dtype) &&
        PyErr_WarnFormat(PyExc_UserWarning, 1,
                         "The dtype of the watched tensor must be floating "
                         "(e.g. tapegrad.float32), got tapegrad.%s",
                         tg_dtype_names[dtype]) < 0) {
        return -1;
    }
    if (tape_fresh_record(t) < 0) {
        return -1;
    }
    if (Variable_Check(obj)) {
        return watch_variable(t, (VariableObject *)obj);
    }
    int64_t prev;
    if (tg_idmap_get(t->ids, ((TensorObject *)obj)->id, &prev)) {
        return 0; /* produced on this tape already: keep its entry */
    }
    return tg_idmap_put(&t->ids, ((TensorObject *)obj)->id, -1);
}

/* ---- the GradientTape type ------------------------------------------------------------- */

static PyObject *
tape_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"persistent", "watch_accessed_variables", NULL};
    int persistent = 0, watch_accessed = 1;
    TapeObject *t;
    /* GradientTape() with no arguments, the usual call, skips the parser */
    if ((PyTuple_GET_SIZE(args) > 0 || (kw != NULL && PyDict_GET_SIZE(kw))) &&
        !PyArg_ParseTupleAndKeywords(args, kw, "|pp:GradientTape", kwlist,
                                     &persistent, &watch_accessed)) {
        return NULL;
    }
    t = PyObject_GC_New(TapeObject, type);
    if (t == NULL) {
        return NULL;
    }
    t->persistent = persistent;
    t->watch_accessed_variables = watch_accessed;
    t->recording = 0;
    t->has_data = 0; /* TF: no record until __enter__ (or watch) */
    t->sweeping = 0;
    t->stack = NULL;
    t->entries = NULL;
    t->nentries = t->capentries = 0;
    t->arena = NULL;
    t->arena_used = t->arena_cap = 0;
    t->ids = NULL;
    t->weakreflist = NULL;
    t->nesting_id = 0;
    t->sees_all = 0;
    t->start_id = tg_last_id();
    t->exit_id = -1;
    t->notes = NULL;
    t->past = NULL;
    t->npast = 0;
    t->past_arena = NULL;
    t->past_ids = NULL;
    t->watched_vars = NULL;    /* made by the first watched Variable */
    tg_live_tapes++;
    PyObject_GC_Track(t);
    return (PyObject *)t;
}

/* GradientTape(...) as a vectorcall on the type (tp_vectorcall, which
 * CPython never inherits, so subclasses take type_call): tape_new with
 * no type_call around it; GradientTape() passes the shared empty tuple. */
static PyObject *
tape_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf,
                PyObject *kwnames)
{
    return tg_vector_new(tape_new, type, args, nargsf, kwnames);
}

static int
tape_traverse(TapeObject *t, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(t));
    Py_VISIT(t->watched_vars);
    Py_VISIT(t->notes);
    for (Py_ssize_t i = 0; i < t->npast; i++) {
        Py_VISIT(t->past[i]->where);
    }
    for (Py_ssize_t i = 0; i < t->nentries; i++) {
        tg_entry *e = t->entries[i];
        Py_VISIT(e->attrs);
        Py_VISIT(e->where);
        for (int j = 0; j < e->nin + e->nout; j++) {
            Py_VISIT(e->slots[j].saved);
        }
    }
    return 0;
}

static int
tape_clear(TapeObject *t)
{
    tape_free_entries(t);
    tape_free_past(t);
    Py_CLEAR(t->watched_vars);
    Py_CLEAR(t->notes);
    return 0;
}

static void
tape_dealloc(TapeObject *t)
{
    PyTypeObject *tp = Py_TYPE(t);
    PyObject_GC_UnTrack(t);
    if (t->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)t);
    }
    tape_clear(t);
    tg_live_tapes--;
    PyObject_GC_Del(t);
    Py_DECREF(tp);
}

/* TF's _push_tape: onto this thread's stack, with a fresh record if the
 * tape was used up (or never entered). */
static int
tape_resume(TapeObject *t)
{
    if (t->recording) {
        PyErr_SetString(PyExc_ValueError,
                        "Tape is still recording, This can happen if you try "
                        "to re-enter an already-active tape.");
        return -1;
    }
    if (t->has_data && t->exit_id >= 0 && !t->sees_all &&
        tg_explain_note(t, "outside", t->exit_id, tg_last_id(), NULL) < 0) {
        return -1;
    }
    return tape_fresh_record(t) < 0 || tape_push(t) < 0 ? -1 : 0;
}

static PyObject *
tape_enter(TapeObject *t, PyObject *Py_UNUSED(ignored))
{
    return tape_resume(t) < 0 ? NULL : Py_NewRef(t);
}

/* METH_FASTCALL: a with block that failed for lack of memory calls
 * __exit__(type, value, tb) when no tuple can be allocated; this must still
 * take the tape off the stack (tape_pop cannot fail either). */
static PyObject *
tape_exit(TapeObject *t, PyObject *const *Py_UNUSED(args),
          Py_ssize_t Py_UNUSED(nargs))
{
    if (tape_pop(t) < 0) {
        return NULL;
    }
    Py_RETURN_NONE; /* never swallows the exception */
}

/* reset(): TF's _pop_tape, forget the record, _push_tape.  Entries are
 * not freed under a running sweep of this tape (a grad_fn or callback
 * calling reset), which still walks them. */
static PyObject *
tape_reset(TapeObject *t, PyObject *Py_UNUSED(ignored))
{
    if (!t->recording) {
        PyErr_SetString(PyExc_ValueError, "Tape is not recording.");
        return NULL;
    }
    if (t->sweeping) {
        PyErr_SetString(PyExc_RuntimeError,
                        "GradientTape.reset() called while "
                        "GradientTape.gradient is running on this tape");
        return NULL;
    }
    tape_pop(t);
    tg_tape_consume(t);
    if (tape_resume(t) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- stop_recording ----------------------------------------------------------
 * A context manager that takes the tape off its thread's stack for the
 * block and puts it back (on top) after, as TF's generator does. */
typedef struct {
    PyObject_HEAD
    TapeObject *tape;
    int paused;        /* __enter__ took the tape off the stack */
    int64_t from;      /* tg_last_id() when it did (tape.explain) */
    PyObject *where;   /* (file, line) of the with statement, or None */
} PauseObject;

static PyObject *
tape_stop_recording(TapeObject *t, PyObject *Py_UNUSED(ignored))
{
    PauseObject *p = PyObject_GC_New(PauseObject, tg_st->pause_type);
    if (p == NULL) {
        return NULL;
    }
    p->tape = (TapeObject *)Py_NewRef(t);
    p->paused = 0;
    p->from = 0;
    p->where = NULL;
    PyObject_GC_Track(p);
    return (PyObject *)p;
}

static PyObject *
pause_enter(PauseObject *p, PyObject *Py_UNUSED(ignored))
{
    TapeObject *t = p->tape;
    if (p->paused) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this stop_recording() block is already active");
        return NULL;
    }
    if (!t->has_data) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Trying to stop recording a tape which is not "
                        "recording.");
        return NULL;
    }
    if (!t->recording) {
        PyErr_SetString(PyExc_ValueError, "Tape is not recording.");
        return NULL;
    }
    Py_XSETREF(p->where, tg_user_location());
    if (p->where == NULL) {
        return NULL;
    }
    tape_pop(t);
    p->paused = 1;
    p->from = tg_last_id();
    Py_RETURN_NONE;
}

static PyObject *
pause_exit(PauseObject *p, PyObject *const *Py_UNUSED(args),
           Py_ssize_t Py_UNUSED(nargs))
{
    if (!p->paused) {
        Py_RETURN_NONE;
    }
    p->paused = 0;
    /* noted as a pause, not as time spent outside the with block */
    p->tape->exit_id = -1;
    if (tg_explain_note(p->tape, "pause", p->from, tg_last_id(),
                        p->where) < 0 ||
        tape_resume(p->tape) < 0) {
        return NULL;
    }
    Py_RETURN_NONE; /* never swallows the exception */
}

static int
pause_traverse(PauseObject *p, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(p));
    Py_VISIT(p->tape);
    Py_VISIT(p->where);
    return 0;
}

static int
pause_clear(PauseObject *p)
{
    Py_CLEAR(p->tape);
    Py_CLEAR(p->where);
    return 0;
}

static void
pause_dealloc(PauseObject *p)
{
    PyTypeObject *tp = Py_TYPE(p);
    PyObject_GC_UnTrack(p);
    pause_clear(p);
    PyObject_GC_Del(p);
    Py_DECREF(tp);
}

static PyMethodDef pause_methods[] = {
    {"__enter__", (PyCFunction)pause_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nTake the tape off the stack."},
    {"__exit__", (PyCFunction)(void (*)(void))pause_exit, METH_FASTCALL,
     "__exit__($self, /, *exc_info)\n--\n\nPut the tape back."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot pause_slots[] = {
    {Py_tp_dealloc, pause_dealloc},
    {Py_tp_traverse, pause_traverse},
    {Py_tp_clear, pause_clear},
    {Py_tp_methods, pause_methods},
    {0, NULL},
};

static PyType_Spec pause_spec = {
    .name = "tapegrad._StopRecording",
    .basicsize = sizeof(PauseObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = pause_slots,
};

static PyObject *
tape_watch(TapeObject *t, PyObject *obj)
{
    if (watch_one(t, obj) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int
var_id_cmp(const void *a, const void *b)
{
    int64_t x = (*(VariableObject *const *)a)->id;
    int64_t y = (*(VariableObject *const *)b)->id;
    return (x > y) - (x < y);
}

static PyObject *
tape_watched_variables(TapeObject *t, PyObject *Py_UNUSED(ignored))
{
    /* TF: in order of creation, not of access */
    PyObject *list = t->watched_vars ? tg_sequence_list(t->watched_vars)
                                     : PyList_New(0);
    PyObject *tup;
    if (list == NULL) {
        return NULL;
    }
    if (PyList_GET_SIZE(list) > 1) { /* ob_item is NULL when empty */
        qsort(((PyListObject *)list)->ob_item, (size_t)PyList_GET_SIZE(list),
              sizeof(PyObject *), var_id_cmp);
    }
    tup = PyList_AsTuple(list);
    Py_DECREF(list);
    return tup;
}

/* a gradient result that may hold a None: None itself, or a structure
 * other than a flat list or tuple of tensors (checked here, so the
 * warnings' Python code runs only when there may be something to say) */
static int
may_hold_none(PyObject *r)
{
    if (Tensor_Check(r)) {
        return 0;
    }
    if (PyList_CheckExact(r) || PyTuple_CheckExact(r)) {
        PyObject **items = PySequence_Fast_ITEMS(r);
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(r); i++) {
            if (!Tensor_Check(items[i])) {
                return 1;
            }
        }
        return 0;
    }
    return 1;
}

static PyObject *
tape_gradient_method(TapeObject *t, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames)
{
    PyObject *r = tg_tape_gradient_vector(t, args, nargs, kwnames);
    PyObject *mod, *w, *tup, *kw;
    if (r == NULL || !tg_none_gradient_warnings || !may_hold_none(r)) {
        return r;
    }
    /* tapegrad.debugging.enable_none_gradient_warnings(): a None in the
     * result warns with tape.explain's paragraph (Python reads it) */
    if (tg_vector_args(args, nargs, kwnames, &tup, &kw) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    mod = PyImport_ImportModule("tapegrad._explain");
    w = mod ? PyObject_CallMethod(mod, "warn_none", "OOOO", (PyObject *)t,
                                  tup, kw ? kw : Py_None, r)
            : NULL;
    Py_XDECREF(mod);
    Py_DECREF(tup);
    Py_XDECREF(kw);
    if (w == NULL) {
        Py_DECREF(r);
        return NULL;
    }
    Py_DECREF(w);
    return r;
}

static PyObject *
tape_jacobian_method(TapeObject *t, PyObject *args, PyObject *kw)
{
    return tg_tape_jacobian(t, args, kw);
}

static PyObject *
tape_batch_jacobian_method(TapeObject *t, PyObject *args, PyObject *kw)
{
    return tg_tape_batch_jacobian(t, args, kw);
}

static PyObject *
tape_gradient_batched_method(TapeObject *t, PyObject *args, PyObject *kw)
{
    return tg_tape_gradient_batched(t, args, kw);
}

/* Called by sweep.c: stop recording (gradient inside a non-persistent
 * tape's context) and drop everything once a non-persistent tape is used. */
int
tg_tape_stop(TapeObject *t)
{
    return tape_pop(t);
}

void
tg_tape_consume(TapeObject *t)
{
    /* the record's skeleton (ops and ids, no saved tensors) stays for
     * tape.explain until the next record or the tape's end */
    tape_free_past(t);
    tg_entry **entries = t->entries;
    Py_ssize_t n = t->nentries;
    t->past = entries;
    t->npast = n;
    t->past_arena = t->arena;
    t->past_ids = t->ids;
    t->entries = NULL;
    t->nentries = t->capentries = 0;
    t->arena = NULL;
    t->arena_used = t->arena_cap = 0;
    t->ids = NULL;
    t->has_data = 0;
    tg_live_entries -= n;
    for (Py_ssize_t i = 0; i < n; i++) {
        tg_tape_release_entry(entries[i]);
    }
}

static PyObject *
tape_get(TapeObject *t, void *which)
{
    switch ((int)(intptr_t)which) {
        case 0: return PyBool_FromLong(t->persistent);
        case 1: return PyBool_FromLong(t->watch_accessed_variables);
        case 2: return PyBool_FromLong(t->recording);
        default: return PyLong_FromSsize_t(t->nentries);
    }
}

static PyObject *
tape_explain_record(TapeObject *t, PyObject *Py_UNUSED(ignored))
{
    return tg_tape_explain_record(t);
}

/* module.name(tape, *args, **kw): the tape's Python-level views of its
 * record (tapegrad/_explain.py, tapegrad/_tape_view.py) */
static PyObject *
call_view(const char *module, const char *name, TapeObject *t,
          PyObject *args, PyObject *kw)
{
    PyObject *mod = PyImport_ImportModule(module), *fn = NULL, *full = NULL;
    PyObject *r = NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (mod == NULL || (fn = PyObject_GetAttrString(mod, name)) == NULL ||
        (full = PyTuple_New(n + 1)) == NULL) {
        goto done;
    }
    PyTuple_SET_ITEM(full, 0, Py_NewRef(t));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(full, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    }
    r = PyObject_Call(fn, full, kw);
done:
    Py_XDECREF(mod);
    Py_XDECREF(fn);
    Py_XDECREF(full);
    return r;
}

/* explain(target, sources): tapegrad/_explain.py reads the record */
static PyObject *
tape_explain(TapeObject *t, PyObject *args, PyObject *kw)
{
    return call_view("tapegrad._explain", "explain", t, args, kw);
}

static PyObject *
tape_operations(TapeObject *t, PyObject *args, PyObject *kw)
{
    return call_view("tapegrad._tape_view", "operations", t, args, kw);
}

static PyObject *
tape_to_dot(TapeObject *t, PyObject *args, PyObject *kw)
{
    return call_view("tapegrad._tape_view", "to_dot", t, args, kw);
}

/* set a tapegrad.debugging switch; its previous state */
static PyObject *
set_switch(int *flag, PyObject *on)
{
    int prev = *flag, v = PyObject_IsTrue(on);
    if (v < 0) {
        return NULL;
    }
    *flag = v;
    return PyBool_FromLong(prev);
}

/* tapegrad._tapegrad._none_gradient_warnings(on) */
PyObject *
tg_set_none_gradient_warnings(PyObject *Py_UNUSED(m), PyObject *on)
{
    return set_switch(&tg_none_gradient_warnings, on);
}

/* tapegrad._tapegrad._op_locations(on) */
PyObject *
tg_set_op_locations(PyObject *Py_UNUSED(m), PyObject *on)
{
    return set_switch(&tg_op_locations, on);
}

/* A tape is this process's record of its operations (ids, saved tensors,
 * the thread's recording stack): like TF's, it neither pickles nor copies.
 * __reduce_ex__ covers pickle at every protocol and the copy module. */
static PyObject *
tape_reduce_ex(PyObject *self, PyObject *Py_UNUSED(protocol))
{
    PyErr_Format(PyExc_TypeError,
                 "cannot pickle '%s' object: a GradientTape records the "
                 "operations of this process and cannot be copied or sent "
                 "to another; pickle the tensors, variables or gradients "
                 "instead", Py_TYPE(self)->tp_name);
    return NULL;
}

static PyMethodDef tape_methods[] = {
    {"__reduce_ex__", (PyCFunction)tape_reduce_ex, METH_O, NULL},
    {"_explain_record", (PyCFunction)tape_explain_record, METH_NOARGS,
     "_explain_record($self, /)\n--\n\nThe light record tape.explain "
     "reads (explain.c)."},
    {"explain", (PyCFunction)(void (*)(void))tape_explain,
     METH_VARARGS | METH_KEYWORDS,
     "explain($self, /, target, sources)\n--\n\n"
     "Why the gradient of `target` with respect to each of `sources` is\n"
     "(or is not) None: a plain-text report, one paragraph per source,\n"
     "naming the cause and the line of your code where it happened."},
    {"operations", (PyCFunction)(void (*)(void))tape_operations,
     METH_VARARGS | METH_KEYWORDS,
     "operations($self, /)\n--\n\n"
     "The recorded ops in order: TF op name, input and output specs, and\n"
     "the file:line that ran each (while\n"
     "tapegrad.debugging.enable_op_locations() is on)."},
    {"to_dot", (PyCFunction)(void (*)(void))tape_to_dot,
     METH_VARARGS | METH_KEYWORDS,
     "to_dot($self, /, target=None)\n--\n\n"
     "The recorded graph as Graphviz DOT text: watched tensors, ops and\n"
     "their tensors; with `target`, the ops its gradient flows through\n"
     "are highlighted."},
    {"__enter__", (PyCFunction)tape_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nStart recording on this thread."},
    {"__exit__", (PyCFunction)(void (*)(void))tape_exit, METH_FASTCALL,
     "__exit__($self, /, *exc_info)\n--\n\nStop recording."},
    {"watch", (PyCFunction)tape_watch, METH_O,
     "watch($self, tensor, /)\n--\n\nFollow a Tensor or Variable (or a "
     "nested list/tuple/dict of them)."},
    {"watched_variables", (PyCFunction)tape_watched_variables, METH_NOARGS,
     "watched_variables($self, /)\n--\n\nThe watched Variables, in order of "
     "creation."},
    {"stop_recording", (PyCFunction)tape_stop_recording, METH_NOARGS,
     "stop_recording($self, /)\n--\n\nA context manager: ops in its block "
     "are not recorded on this tape."},
    {"reset", (PyCFunction)tape_reset, METH_NOARGS,
     "reset($self, /)\n--\n\nForget everything recorded (and watched) so "
     "far; the tape keeps recording."},
    {"gradient", (PyCFunction)(void (*)(void))tape_gradient_method,
     METH_FASTCALL | METH_KEYWORDS,
     "gradient($self, /, target, sources, output_gradients=None, "
     "unconnected_gradients=tapegrad.UnconnectedGradients.NONE)\n--\n\n"
     "Gradient of the sum of `target` with respect to each of `sources`,\n"
     "returned in the structure of `sources`."},
    {"jacobian", (PyCFunction)(void (*)(void))tape_jacobian_method,
     METH_VARARGS | METH_KEYWORDS,
     "jacobian($self, /, target, sources, "
     "unconnected_gradients=tapegrad.UnconnectedGradients.NONE, "
     "parallel_iterations=None, experimental_use_pfor=True)\n--\n\n"
     "The Jacobian of `target` with respect to each of `sources`: shape\n"
     "target.shape + source.shape, in the structure of `sources`.  One\n"
     "reverse sweep carries an identity batch of cotangents;\n"
     "experimental_use_pfor=False sweeps once per target element (a\n"
     "persistent tape only, as TF).  Recorded by enclosing tapes, so a\n"
     "Jacobian of a Jacobian is a Hessian."},
    {"batch_jacobian", (PyCFunction)(void (*)(void))tape_batch_jacobian_method,
     METH_VARARGS | METH_KEYWORDS,
     "batch_jacobian($self, /, target, source, "
     "unconnected_gradients=tapegrad.UnconnectedGradients.NONE, "
     "parallel_iterations=None, experimental_use_pfor=True)\n--\n\n"
     "Per-example Jacobians: target [b, y...] and source [b, x...] give\n"
     "[b, y..., x...], assuming target[i] depends on source[i] only (not\n"
     "checked, as in TF).  An unconnected target gives zeros."},
    {"_gradient_batched",
     (PyCFunction)(void (*)(void))tape_gradient_batched_method,
     METH_VARARGS | METH_KEYWORDS,
     "_gradient_batched($self, /, target, sources, output_gradients, "
     "unconnected_gradients=tapegrad.UnconnectedGradients.NONE)\n--\n\n"
     "gradient for a batch of output gradients (a leading dimension on\n"
     "each): one sweep, results with the same leading dimension."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef tape_getset[] = {
    {"persistent", (getter)tape_get, NULL, NULL, (void *)0},
    {"watch_accessed_variables", (getter)tape_get, NULL, NULL, (void *)1},
    {"_recording", (getter)tape_get, NULL, NULL, (void *)2},
    {"_num_entries", (getter)tape_get, NULL, NULL, (void *)3},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef tape_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TapeObject, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot tape_slots[] = {
    {Py_tp_new, tape_new},
    {Py_tp_dealloc, tape_dealloc},
    {Py_tp_traverse, tape_traverse},
    {Py_tp_clear, tape_clear},
    {Py_tp_methods, tape_methods},
    {Py_tp_getset, tape_getset},
    {Py_tp_members, tape_members},
    {Py_tp_doc,
     "GradientTape(persistent=False, watch_accessed_variables=True)\n--\n\n"
     "Record operations for automatic differentiation."},
    {0, NULL},
};

static PyType_Spec tape_spec = {
    .name = "tapegrad.GradientTape",
    .basicsize = sizeof(TapeObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = tape_slots,
};

int
tg_tape_init_type(PyObject *module)
{
    tg_st->tape_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &tape_spec, NULL);
    if (tg_st->tape_type == NULL ||
        PyModule_AddType(module, tg_st->tape_type) < 0) {
        return -1;
    }
    tg_st->tape_type->tp_vectorcall = tape_vectorcall;
    tg_st->stack_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &stack_spec, NULL);
    if (tg_st->stack_type == NULL) {
        return -1;
    }
    tg_st->pause_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &pause_spec, NULL);
    if (tg_st->pause_type == NULL) {
        return -1;
    }
    tg_st->thread_key = PyUnicode_InternFromString("tapegrad.tape_stack");
    return tg_st->thread_key == NULL ? -1 : 0;
}
