/* optim.c -- the optimizers' update kernels (tapegrad.keras.optimizers).
 *
 * One call applies one step of SGD, Adam(W), RMSprop or Adagrad to every
 * variable of the step: the gradients and slot variables are checked for
 * all of them first (so a bad one changes nothing), then each variable and
 * its slots are updated in place (tg_variable_writable: copy on write when
 * something else still sees the bytes).  Nothing is recorded on a tape, as
 * in Keras.  The formulas and their order of operations are Keras 3's
 * (keras/src/optimizers/, summarised in keras_semantics.md), computed
 * in the variable's dtype with the hyperparameters cast to it first, as
 * Keras casts them, so float32 results round as Keras' do.
 *
 * _optimizer_apply(kind, variables, gradients, slots, hyper, iterations)
 *   kind       OPT_SGD, OPT_ADAM, OPT_RMSPROP, OPT_ADAGRAD
 *   variables  list of Variables
 *   gradients  list of Tensors, one per variable (same shape and dtype)
 *   slots      list of tuples of Variables, one tuple per variable:
 *              SGD (momentum,) or (); Adam (m, v) or (m, v, vhat);
 *              RMSprop (velocity[, momentum][, average_grad]);
 *              Adagrad (accumulator,)
 *   hyper      tuple of floats, per kind (see the kernels below); the
 *              last is always weight_decay (0: none)
 *   iterations the optimizer's int64 scalar Variable: its value + 1 is
 *              Adam's step t; it is incremented after the update
 */
#include "tapegrad.h"

#include <math.h>

enum { OPT_SGD, OPT_ADAM, OPT_RMSPROP, OPT_ADAGRAD, OPT_NKINDS };

static const int n_hyper[OPT_NKINDS] = {4, 6, 6, 3};
static const char *const kind_names[OPT_NKINDS] = {"SGD", "Adam", "RMSprop",
                                                   "Adagrad"};

typedef struct {
    double h[8];
    int64_t step;
} hyper_t;

/* One kernel per kind and float type.  p: the variable, g: its gradient,
 * s[k]: slot k; all n elements, contiguous. */
#define SQRT_float sqrtf
#define SQRT_double sqrt
#define POW_float powf
#define POW_double pow

#define DEFINE_KERNELS(T)                                                    \
    static void                                                              \
    decay_##T(T *p, Py_ssize_t n, double weight_decay, double lr)            \
    {                                                                        \
        /* Keras: variable - variable * weight_decay * learning_rate */      \
        T wd = (T)weight_decay, l = (T)lr;                                   \
        for (Py_ssize_t i = 0; i < n; i++) {                                 \
            p[i] = p[i] - p[i] * wd * l;                                     \
        }                                                                    \
    }                                                                        \
                                                                             \
    /* hyper: lr, momentum, nesterov, weight_decay */                        \
    static void                                                              \
    sgd_##T(T *p, const T *g, T **s, int ns, Py_ssize_t n, const hyper_t *hp) \
    {                                                                        \
        T lr = (T)hp->h[0], mu = (T)hp->h[1];                                \
        if (ns == 0) {                                                       \
            for (Py_ssize_t i = 0; i < n; i++) {                             \
                p[i] -= g[i] * lr;                                           \
            }                                                                \
            return;                                                          \
        }                                                                    \
        T *m = s[0];                                                         \
        int nesterov = hp->h[2] != 0;                                        \
        for (Py_ssize_t i = 0; i < n; i++) {                                 \
            m[i] = m[i] * mu - g[i] * lr;                                    \
            p[i] += nesterov ? m[i] * mu - g[i] * lr : m[i];                 \
        }                                                                    \
    }                                                                        \
                                                                             \
    /* hyper: lr, beta_1, beta_2, epsilon, amsgrad, weight_decay.  The    \
     * amsgrad loop is separate and the pointers restrict, so the common  \
     * loop vectorises: make_writable gave p and each slot bytes no other \
     * tensor shares, so the gradient cannot alias them. */               \
    static void                                                              \
    adam_##T(T *restrict p, const T *restrict g, T **s, int ns, Py_ssize_t n, \
             const hyper_t *hp)                                              \
    {                                                                        \
        T lr = (T)hp->h[0], eps = (T)hp->h[3], t = (T)hp->step;              \
        T b1p = POW_##T((T)hp->h[1], t), b2p = POW_##T((T)hp->h[2], t);      \
        T alpha = lr * SQRT_##T((T)1 - b2p) / ((T)1 - b1p);                  \
        T c1 = (T)(1.0 - hp->h[1]), c2 = (T)(1.0 - hp->h[2]);                \
        T *restrict m = s[0], *restrict v = s[1];                            \
        if (ns > 2) {                                                        \
            T *restrict vhat = s[2];                                         \
            for (Py_ssize_t i = 0; i < n; i++) {                             \
                m[i] += (g[i] - m[i]) * c1;                                  \
                v[i] += (g[i] * g[i] - v[i]) * c2;                           \
                vhat[i] = vhat[i] > v[i] ? vhat[i] : v[i];                   \
                p[i] -= (m[i] * alpha) / (SQRT_##T(vhat[i]) + eps);          \
            }                                                                \
            return;                                                          \
        }                                                                    \
        for (Py_ssize_t i = 0; i < n; i++) {                                 \
            T mi = m[i] + (g[i] - m[i]) * c1;                                \
            T vi = v[i] + (g[i] * g[i] - v[i]) * c2;                         \
            m[i] = mi;                                                       \
            v[i] = vi;                                                       \
            p[i] -= (mi * alpha) / (SQRT_##T(vi) + eps);                     \
        }                                                                    \
    }                                                                        \
                                                                             \
    /* hyper: lr, rho, momentum, epsilon, centered, weight_decay; slots:    \
     * velocity, then momentum if momentum > 0, then average_grad if        \
     * centered */                                                           \
    static void                                                              \
    rmsprop_##T(T *p, const T *g, T **s, int ns, Py_ssize_t n,               \
                const hyper_t *hp)                                           \
    {                                                                        \
        T lr = (T)hp->h[0], rho = (T)hp->h[1], mu = (T)hp->h[2];             \
        T eps = (T)hp->h[3], c = (T)(1.0 - hp->h[1]);                        \
        int has_m = hp->h[2] > 0, centered = hp->h[4] != 0;                  \
        T *vel = s[0], *m = has_m ? s[1] : NULL;                             \
        T *avg = centered ? s[has_m ? 2 : 1] : NULL;                         \
        (void)ns;                                                            \
        for (Py_ssize_t i = 0; i < n; i++) {                                 \
            vel[i] = rho * vel[i] + c * (g[i] * g[i]);                       \
            T den;                                                           \
            if (avg != NULL) {                                               \
                avg[i] = rho * avg[i] + c * g[i];                            \
                den = vel[i] - avg[i] * avg[i] + eps;                        \
            }                                                                \
            else {                                                           \
                den = vel[i] + eps;                                          \
            }                                                                \
            T inc = (lr * g[i]) / SQRT_##T(den);                             \
            if (m != NULL) {                                                 \
                m[i] = mu * m[i] + inc;                                      \
                p[i] -= m[i];                                                \
            }                                                                \
            else {                                                           \
                p[i] -= inc;                                                 \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    /* hyper: lr, epsilon, weight_decay */                                   \
    static void                                                              \
    adagrad_##T(T *p, const T *g, T **s, int ns, Py_ssize_t n,               \
                const hyper_t *hp)                                           \
    {                                                                        \
        T lr = (T)hp->h[0], eps = (T)hp->h[1], *acc = s[0];                  \
        (void)ns;                                                            \
        for (Py_ssize_t i = 0; i < n; i++) {                                 \
            acc[i] += g[i] * g[i];                                           \
            p[i] -= (lr * g[i]) / SQRT_##T(acc[i] + eps);                    \
        }                                                                    \
    }

DEFINE_KERNELS(float)
DEFINE_KERNELS(double)

/* how many slots each kind takes for these hyperparameters */
static int
slots_needed(int kind, const hyper_t *hp)
{
    switch (kind) {
        case OPT_SGD: return hp->h[1] != 0 ? 1 : 0;
        case OPT_ADAM: return hp->h[4] != 0 ? 3 : 2;
        case OPT_RMSPROP: return 1 + (hp->h[2] > 0) + (hp->h[4] != 0);
        default: return 1;
    }
}


/* TF's wording: what does not match, naming the variable and both */
static int
mismatch(const char *opt, VariableObject *v, const char *what,
         TensorObject *got)
{
    PyObject *want = tg_shape_str(v->value->ndim, v->value->shape);
    PyObject *have = want ? tg_shape_str(got->ndim, got->shape) : NULL;
    if (have != NULL) {
        PyErr_Format(PyExc_ValueError,
                     "%s: the %s for variable '%U' has shape %U and dtype "
                     "%s; the variable has shape %U and dtype %s", opt, what,
                     v->name, have, tg_dtype_names[got->dtype], want,
                     tg_dtype_names[v->value->dtype]);
    }
    Py_XDECREF(want);
    Py_XDECREF(have);
    return -1;
}

/* Check one variable's gradient and slots; *ns = the slot count. */
static int
check_one(int kind, const hyper_t *hp, PyObject *var, PyObject *grad,
          PyObject *slots)
{
    const char *opt = kind_names[kind];
    if (!Variable_Check(var)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a tapegrad.Variable to "
                     "update, got %.200R", opt, var);
        return -1;
    }
    VariableObject *v = (VariableObject *)var;
    if (!tg_is_float(v->value->dtype) || v->value->dtype == TG_FLOAT16) {
        PyErr_Format(PyExc_TypeError, "%s: variable '%U' has dtype %s; the "
                     "optimizers update float32 and float64 variables", opt,
                     v->name, tg_dtype_names[v->value->dtype]);
        return -1;
    }
    if (!Tensor_Check(grad)) {
        PyErr_Format(PyExc_TypeError, "%s: the gradient for variable '%U' "
                     "is %.200R, not a tapegrad.Tensor", opt, v->name, grad);
        return -1;
    }
    TensorObject *g = (TensorObject *)grad;
    if (g->dtype != v->value->dtype || !tg_same_shape(g, v->value)) {
        return mismatch(opt, v, "gradient", g);
    }
    int want = slots_needed(kind, hp);
    if (!PyTuple_Check(slots) || PyTuple_GET_SIZE(slots) != want) {
        PyErr_Format(PyExc_ValueError, "%s: variable '%U' needs %d slot "
                     "variables, got %.200R", opt, v->name, want, slots);
        return -1;
    }
    for (int k = 0; k < want; k++) {
        PyObject *so = PyTuple_GET_ITEM(slots, k);
        if (!Variable_Check(so)) {
            PyErr_Format(PyExc_TypeError, "%s: slot %d of variable '%U' is "
                         "not a tapegrad.Variable", opt, k, v->name);
            return -1;
        }
        TensorObject *sv = ((VariableObject *)so)->value;
        if (sv->dtype != v->value->dtype || !tg_same_shape(sv, v->value)) {
            return mismatch(opt, v, "slot variable", sv);
        }
    }
    return 0;
}

/* Make a variable's and its slots' bytes writable (copy on write where
 * shared): the only step that allocates, so it runs for every variable
 * before any is updated.  Once done, tg_variable_writable returns the
 * same tensors again without allocating. */
static int
make_writable(VariableObject *v, PyObject *slots)
{
    if (tg_variable_writable(v) == NULL) {
        return -1;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(slots); k++) {
        if (tg_variable_writable(
                (VariableObject *)PyTuple_GET_ITEM(slots, k)) == NULL) {
            return -1;
        }
    }
    return 0;
}

/* One variable's update, as raw tensors: taken (with references) while
 * the GIL is held, so that the arithmetic can run without it even if
 * another thread assigns the variable meanwhile (it then replaces the
 * value; these bytes stay alive until the update is done). */
typedef struct {
    TensorObject *p;           /* the variable's value, writable */
    TensorObject *g;
    TensorObject *s[4];        /* slot values, writable */
    int ns;
} update_job;

static void
apply_one(int kind, const hyper_t *hp, const update_job *j)
{
    int ns = j->ns;
    void *s[4] = {NULL, NULL, NULL, NULL};
    TensorObject *p = j->p, *g = j->g;
    for (int k = 0; k < ns; k++) {
        s[k] = j->s[k]->data;
    }
    Py_ssize_t n = p->size;
    double lr = hp->h[0], wd = hp->h[n_hyper[kind] - 1];
    if (p->dtype == TG_FLOAT32) {
        if (wd != 0) {
            decay_float((float *)p->data, n, wd, lr);
        }
        float *pf = (float *)p->data, **sf = (float **)s;
        const float *gf = (const float *)g->data;
        switch (kind) {
            case OPT_SGD: sgd_float(pf, gf, sf, ns, n, hp); break;
            case OPT_ADAM: adam_float(pf, gf, sf, ns, n, hp); break;
            case OPT_RMSPROP: rmsprop_float(pf, gf, sf, ns, n, hp); break;
            default: adagrad_float(pf, gf, sf, ns, n, hp); break;
        }
    }
    else {
        if (wd != 0) {
            decay_double((double *)p->data, n, wd, lr);
        }
        double *pd = (double *)p->data, **sd = (double **)s;
        const double *gd = (const double *)g->data;
        switch (kind) {
            case OPT_SGD: sgd_double(pd, gd, sd, ns, n, hp); break;
            case OPT_ADAM: adam_double(pd, gd, sd, ns, n, hp); break;
            case OPT_RMSPROP: rmsprop_double(pd, gd, sd, ns, n, hp); break;
            default: adagrad_double(pd, gd, sd, ns, n, hp); break;
        }
    }
}

static void
jobs_free(update_job *jobs, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_XDECREF(jobs[i].p);
        Py_XDECREF(jobs[i].g);
        for (int k = 0; k < jobs[i].ns; k++) {
            Py_XDECREF(jobs[i].s[k]);
        }
    }
    PyMem_Free(jobs);
}

/* Run every update; without the GIL when there are enough elements for
 * another thread to use the time (a model step of its own). */
static int
apply_all(int kind, const hyper_t *hp, PyObject *vars, PyObject *grads,
          PyObject *slots)
{
    Py_ssize_t n = PyList_GET_SIZE(vars), total = 0;
    update_job *jobs = PyMem_Calloc(n ? (size_t)n : 1, sizeof(*jobs));
    if (jobs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        VariableObject *v = (VariableObject *)PyList_GET_ITEM(vars, i);
        PyObject *st = PyList_GET_ITEM(slots, i);
        update_job *j = &jobs[i];
        j->p = (TensorObject *)Py_NewRef(v->value); /* make_writable ran */
        j->g = (TensorObject *)Py_NewRef(PyList_GET_ITEM(grads, i));
        j->ns = (int)PyTuple_GET_SIZE(st);
        for (int k = 0; k < j->ns; k++) {
            j->s[k] = (TensorObject *)Py_NewRef(
                ((VariableObject *)PyTuple_GET_ITEM(st, k))->value);
        }
        total += j->p->size;
    }
    PyThreadState *ts = tg_nogil_begin(total);
    for (Py_ssize_t i = 0; i < n; i++) {
        apply_one(kind, hp, &jobs[i]);
    }
    tg_nogil_end(ts);
    jobs_free(jobs, n);
    return 0;
}

PyObject *
tg_optimizer_apply(PyObject *Py_UNUSED(module), PyObject *args)
{
    int kind;
    PyObject *vars, *grads, *slots, *hyper, *iters;
    hyper_t hp = {{0}, 0};
    if (!PyArg_ParseTuple(args, "iO!O!O!O!O!:_optimizer_apply", &kind,
                          &PyList_Type, &vars, &PyList_Type, &grads,
                          &PyList_Type, &slots, &PyTuple_Type, &hyper,
                          tg_st->variable_type, &iters)) {
        return NULL;
    }
    VariableObject *it = (VariableObject *)iters;
    if (it->value->dtype != TG_INT64 || it->value->ndim != 0) {
        PyErr_SetString(PyExc_TypeError, "_optimizer_apply: iterations must "
                        "be a scalar int64 Variable");
        return NULL;
    }
    if (kind < 0 || kind >= OPT_NKINDS ||
        PyTuple_GET_SIZE(hyper) != n_hyper[kind]) {
        PyErr_Format(PyExc_ValueError, "_optimizer_apply: bad kind %d or "
                     "hyperparameters %R", kind, hyper);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(hyper); k++) {
        hp.h[k] = PyFloat_AsDouble(PyTuple_GET_ITEM(hyper, k));
        if (hp.h[k] == -1.0 && PyErr_Occurred()) {
            return NULL;
        }
    }
    hp.step = *(int64_t *)it->value->data + 1;
    Py_ssize_t n = PyList_GET_SIZE(vars);
    if (PyList_GET_SIZE(grads) != n || PyList_GET_SIZE(slots) != n) {
        PyErr_Format(PyExc_ValueError, "%s: %zd variables, %zd gradients "
                     "and %zd slot tuples", kind_names[kind], n,
                     PyList_GET_SIZE(grads), PyList_GET_SIZE(slots));
        return NULL;
    }
    /* everything is checked before anything is written: a bad entry
     * leaves every variable as it was */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (check_one(kind, &hp, PyList_GET_ITEM(vars, i),
                      PyList_GET_ITEM(grads, i),
                      PyList_GET_ITEM(slots, i)) < 0) {
            return NULL;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (make_writable((VariableObject *)PyList_GET_ITEM(vars, i),
                          PyList_GET_ITEM(slots, i)) < 0) {
            return NULL;    /* values unchanged: copies hold the same bytes */
        }
    }
    TensorObject *count = tg_variable_writable(it);
    if (count == NULL) {
        return NULL;
    }
    if (apply_all(kind, &hp, vars, grads, slots) < 0) {
        return NULL;
    }
    *(int64_t *)count->data += 1;   /* iterations, after the update */
    Py_RETURN_NONE;
}
