/* explain.c -- what a tape keeps so tape.explain (tapegrad/_explain.py)
 * can say why a gradient is None, and the record it reads.
 *
 * Nothing here runs per recorded op.  A tape already knows its entries
 * and the ids it watched; on top of that it keeps:
 *   - start_id / exit_id: the id counter when its record began and when it
 *     last left its stack (tensor ids only grow, so a target's id tells
 *     whether it was made before the tape started or after it stopped);
 *   - a short list of rare events (tape->notes), each with the user's
 *     file and line where there is one:
 *       ("pause", from, to, where)     a stop_recording() block
 *       ("outside", from, to, None)    between an exit and a re-entry
 *       ("nondiff", op, in_ids, out_ids, where)
 *                                      an op with no gradient
 *                                      (stop_gradient, round, argmax,
 *                                      comparisons...) ran on a tensor
 *                                      the tape tracks
 *       ("escape", how, id, where)     a tensor the tape tracks left
 *                                      tapegrad (.numpy(), __array__,
 *                                      float()...) from the user's code
 *   - a used-up record's skeleton (tape.c's tg_tape_consume), so explain
 *     works after a non-persistent tape's gradient.
 * Both kinds of note are checked only on ops that are never recorded and
 * on conversions to NumPy or Python numbers, and cost a frame walk only
 * when a recording tape tracks the tensor.
 */
#include "tapegrad.h"

#include "frameobject.h"

#define NOTES_MAX 256   /* a long persistent record keeps the first ones */

/* the package directories (with a trailing separator) of tapegrad and of
 * NumPy: frames whose file is under one are library code, never "the
 * user's line" (np.mean(tensor) converts inside NumPy's Python code) */
static PyObject *package_prefix = NULL, *numpy_prefix = NULL;

/* dirname(file) + "/", or NULL with an exception */
static PyObject *
dir_prefix(PyObject *file)
{
    PyObject *os = PyImport_ImportModule("os.path"), *dir = NULL;
    PyObject *prefix = NULL;
    dir = os ? PyObject_CallMethod(os, "dirname", "O", file) : NULL;
    if (dir != NULL) {
        prefix = PyUnicode_FromFormat("%U/", dir);
    }
    Py_XDECREF(dir);
    Py_XDECREF(os);
    return prefix;
}

int
tg_explain_init(PyObject *module)
{
    PyObject *file = PyModule_GetFilenameObject(module), *np_file;
    if (file == NULL) {
        PyErr_Clear();   /* no file (embedded): every frame is the user's */
    }
    else {
        package_prefix = dir_prefix(file);
        Py_DECREF(file);
        if (package_prefix == NULL) {
            return -1;
        }
    }
    np_file = PyObject_GetAttrString(tg_st->numpy, "__file__");
    if (np_file == NULL) {
        PyErr_Clear();
        return 0;
    }
    numpy_prefix = dir_prefix(np_file);
    Py_DECREF(np_file);
    return numpy_prefix == NULL ? -1 : 0;
}

static int
under(PyObject *filename, PyObject *prefix)
{
    return prefix != NULL && PyUnicode_Tailmatch(filename, prefix, 0,
                                                 PY_SSIZE_T_MAX, -1) == 1;
}

static int
inside_package(PyCodeObject *code)
{
    return under(code->co_filename, package_prefix);
}

static int
inside_library(PyCodeObject *code)
{
    return under(code->co_filename, package_prefix) ||
           under(code->co_filename, numpy_prefix);
}

/* (file, line) of the innermost Python frame outside tapegrad and NumPy,
 * or None (a new reference; NULL only on error) */
PyObject *
tg_user_location(void)
{
    PyFrameObject *f = PyEval_GetFrame();
    Py_XINCREF(f);
    while (f != NULL) {
        PyCodeObject *code = PyFrame_GetCode(f);
        PyFrameObject *back;
        if (!inside_library(code)) {
            PyObject *where = Py_BuildValue("(Oi)", code->co_filename,
                                            PyFrame_GetLineNumber(f));
            Py_DECREF(code);
            Py_DECREF(f);
            return where;
        }
        Py_DECREF(code);
        back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    Py_RETURN_NONE;
}

/* the innermost Python frame is tapegrad's own (a conversion it made for
 * the user, printing, a metric...): not the user's escape */
static int
called_from_package(void)
{
    PyFrameObject *f = PyEval_GetFrame();
    int inside = 0;
    if (f != NULL) {
        PyCodeObject *code = PyFrame_GetCode(f);
        inside = inside_package(code);
        Py_DECREF(code);
    }
    return inside;
}

static int
append_note(TapeObject *t, PyObject *note)
{
    int rc;
    if (note == NULL) {
        return -1;
    }
    if (t->notes == NULL && (t->notes = PyList_New(0)) == NULL) {
        Py_DECREF(note);
        return -1;
    }
    rc = PyList_GET_SIZE(t->notes) < NOTES_MAX
             ? PyList_Append(t->notes, note) : 0;
    Py_DECREF(note);
    return rc;
}

int
tg_explain_note(TapeObject *t, const char *kind, int64_t from, int64_t to,
                PyObject *where)
{
    return append_note(t, Py_BuildValue("(sLLO)", kind, (long long)from,
                                        (long long)to,
                                        where ? where : Py_None));
}

/* the recording tapes of this thread that track tensor id `id` (their
 * record holds it): what tg_tape_record checks, read-only */
static int
tracks(TapeObject *t, int64_t id)
{
    if (t->nesting_id >= tg_nesting_limit || t->sees_all) {
        return 0;   /* a jvp's or a transposed rule's private recording */
    }
    return tg_idmap_get(t->ids, id, NULL);
}

static PyObject *
ids_tuple(int n, TensorObject **ts)
{
    PyObject *out = PyTuple_New(n);
    for (int i = 0; out != NULL && i < n; i++) {
        PyObject *id = PyLong_FromLongLong(ts[i]->id);
        if (id == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, i, id);
    }
    return out;
}

int
tg_explain_nondiff(int op, int nin, TensorObject **in, int nout,
                   TensorObject **out)
{
    PyObject *tapes, *where = NULL, *ins = NULL, *outs = NULL;
    int rc = 0;
    if (tg_no_record) {
        return 0;
    }
    tapes = tg_active_stack();
    if (tapes == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    for (Py_ssize_t k = 0; rc == 0 && k < PyList_GET_SIZE(tapes); k++) {
        TapeObject *t = (TapeObject *)PyList_GET_ITEM(tapes, k);
        int hit = 0;
        for (int i = 0; !hit && i < nin; i++) {
            hit = tracks(t, in[i]->id);
        }
        if (!hit) {
            continue;
        }
        if (where == NULL) {
            where = tg_user_location();
            ins = where ? ids_tuple(nin, in) : NULL;
            outs = ins ? ids_tuple(nout, out) : NULL;
            if (outs == NULL) {
                rc = -1;
                break;
            }
        }
        rc = append_note(t, Py_BuildValue("(ssOOO)", "nondiff",
                                          tg_ops[op].tf_name, ins, outs,
                                          where));
    }
    Py_XDECREF(where);
    Py_XDECREF(ins);
    Py_XDECREF(outs);
    return rc;
}

int
tg_explain_escape(TensorObject *x, const char *how)
{
    PyObject *tapes = tg_active_stack(), *where = NULL;
    int rc = 0;
    if (tapes == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    for (Py_ssize_t k = 0; rc == 0 && k < PyList_GET_SIZE(tapes); k++) {
        TapeObject *t = (TapeObject *)PyList_GET_ITEM(tapes, k);
        if (!tracks(t, x->id)) {
            continue;
        }
        if (where == NULL) {
            if (called_from_package()) {
                return 0;
            }
            if ((where = tg_user_location()) == NULL) {
                return -1;
            }
        }
        rc = append_note(t, Py_BuildValue("(ssLO)", "escape", how,
                                          (long long)x->id, where));
    }
    Py_XDECREF(where);
    return rc;
}

/* one slot as (id, dtype name, shape tuple) */
static PyObject *
slot_item(const tg_slot *s)
{
    PyObject *shape = PyTuple_New(s->ndim);
    for (int i = 0; shape != NULL && i < s->ndim; i++) {
        PyObject *d = PyLong_FromSsize_t(s->shape[i]);
        if (d == NULL) {
            Py_CLEAR(shape);
            break;
        }
        PyTuple_SET_ITEM(shape, i, d);
    }
    return shape ? Py_BuildValue("(LsN)", (long long)s->id,
                                 tg_dtype_names[s->dtype], shape)
                 : NULL;
}

/* The record tape.explain reads, as plain Python values:
 *   entries   [(tf_op_name, ((id, dtype, shape), ...inputs), (...outputs),
 *              (file, line) or None), ...]
 *   watched   the ids watched (tape.watch, or a variable read)
 *   notes     the list above (a copy)
 *   start_id, exit_id (-1 while on its stack), last_id (now)
 *   used      the record was used up by a non-persistent gradient
 *   persistent, recording, watch_accessed_variables */
PyObject *
tg_tape_explain_record(TapeObject *t)
{
    int used = !t->has_data && t->past != NULL;
    tg_entry **entries = used ? t->past : t->entries;
    Py_ssize_t n = used ? t->npast : t->nentries;
    PyObject *list = PyList_New(n), *watched = NULL, *notes = NULL;
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
        tg_entry *e = entries[i];
        PyObject *ins = PyTuple_New(e->nin), *outs = PyTuple_New(e->nout);
        PyObject *item = NULL;
        for (int j = 0; ins && outs && j < e->nin + e->nout; j++) {
            PyObject *s = slot_item(&e->slots[j]);
            if (s == NULL) {
                Py_CLEAR(ins);
                break;
            }
            if (j < e->nin) {
                PyTuple_SET_ITEM(ins, j, s);
            }
            else {
                PyTuple_SET_ITEM(outs, j - e->nin, s);
            }
        }
        if (ins != NULL && outs != NULL) {
            item = Py_BuildValue("(sOOO)", tg_ops[e->op].tf_name, ins, outs,
                                 e->where ? e->where : Py_None);
        }
        Py_XDECREF(ins);
        Py_XDECREF(outs);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    if (list == NULL) {
        return NULL;
    }
    watched = tg_idmap_keys_with(used ? t->past_ids : t->ids, -1);
    notes = watched ? (t->notes ? PyList_GetSlice(t->notes, 0,
                                                  PY_SSIZE_T_MAX)
                                : PyList_New(0))
                    : NULL;
    if (notes != NULL) {
        out = Py_BuildValue(
            "{sOsOsOsLsLsLsNsNsNsN}", "entries", list, "watched", watched,
            "notes", notes, "start_id", (long long)t->start_id, "exit_id",
            (long long)(t->recording ? -1 : t->exit_id), "last_id",
            (long long)tg_last_id(), "used", PyBool_FromLong(used),
            "persistent", PyBool_FromLong(t->persistent), "recording",
            PyBool_FromLong(t->recording), "watch_accessed_variables",
            PyBool_FromLong(t->watch_accessed_variables));
    }
    Py_DECREF(list);
    Py_XDECREF(watched);
    Py_XDECREF(notes);
    return out;
}
