/* tapegrad.h -- the one internal header of the tapegrad._tapegrad module.
 *
 * Owns: the object layouts (Tensor, Variable, GradientTape, DType), the
 * dtype codes, the op table record (tg_opdef) and opcode enum generated
 * from ops.def, module state, and every cross-file tg_* prototype.
 *
 * Invariants worth knowing before reading any .c file:
 *  - A Tensor is immutable, C-contiguous, native-endian and aligned.  Its
 *    bytes live inline after the object header (one allocation), in a
 *    cached block it owns (large tensors, base NULL; tensor.c), or in
 *    `base` (an ndarray or another Tensor it views, or a capsule holding
 *    a DLPack producer's buffer: dlpack.c).
 *  - Every Tensor has a process-unique int64 `id`; tapes key on ids, never
 *    on pointers.  A Variable's value tensors all carry the Variable's own
 *    id (its "handle"), so every read of a Variable is the same tape node.
 *  - Ops run only through tg_call() (dispatch.c), which converts operands,
 *    runs the forward kernel and records on this thread's active tapes.
 */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define PY_ARRAY_UNIQUE_SYMBOL tapegrad_ARRAY_API
#ifndef TG_MAIN_MODULE
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>
#include <numpy/halffloat.h>

#define TG_MAXDIMS 32

/* ---- dtypes ------------------------------------------------------------ */
typedef enum {
    TG_FLOAT16 = 0,
    TG_FLOAT32,
    TG_FLOAT64,
    TG_INT32,
    TG_INT64,
    TG_BOOL,
    /* TF's narrower and unsigned integers: storage, conversion, cast and
     * the integer ops (computed by NumPy's loops, wrapping as TF's do) */
    TG_INT8,
    TG_INT16,
    TG_UINT8,
    TG_UINT16,
    TG_UINT32,
    TG_UINT64,
    TG_NDTYPES
} tg_dtype;

static inline int
tg_is_float(int dt)
{
    return dt <= TG_FLOAT64;
}

static inline int
tg_is_int(int dt)
{
    return dt == TG_INT32 || dt == TG_INT64 || dt >= TG_INT8;
}

static inline int
tg_is_unsigned(int dt)
{
    return dt >= TG_UINT8;
}

/* Element i of an integer or bool buffer as an int64 (uint64 values past
 * INT64_MAX wrap; callers reading indices or counts reject negatives). */
static inline int64_t
tg_int_at(const char *data, int dt, Py_ssize_t i)
{
    switch (dt) {
        case TG_INT32: return ((const int32_t *)data)[i];
        case TG_INT64: return ((const int64_t *)data)[i];
        case TG_INT8: return ((const int8_t *)data)[i];
        case TG_INT16: return ((const int16_t *)data)[i];
        case TG_UINT8: return ((const uint8_t *)data)[i];
        case TG_UINT16: return ((const uint16_t *)data)[i];
        case TG_UINT32: return ((const uint32_t *)data)[i];
        case TG_UINT64: return (int64_t)((const uint64_t *)data)[i];
        default: return ((const npy_bool *)data)[i] != 0;
    }
}

/* Element i of a float buffer of dtype dt, as a double. */
static inline double
tg_float_at(const char *data, int dt, Py_ssize_t i)
{
    switch (dt) {
        case TG_FLOAT16: return npy_half_to_double(((const npy_half *)data)[i]);
        case TG_FLOAT32: return ((const float *)data)[i];
        default: return ((const double *)data)[i];
    }
}

extern const char *const tg_dtype_names[TG_NDTYPES];  /* "float32" ...  */
extern const char *const tg_dtype_cnames[TG_NDTYPES]; /* TF's "float" ... */
extern const int tg_dtype_npy[TG_NDTYPES];
extern const int tg_dtype_size[TG_NDTYPES];
int tg_dtype_from_npy(int npy_type); /* -1 if unsupported (no exception) */

/* ---- objects ------------------------------------------------------------ */
typedef struct {
    PyObject_VAR_HEAD          /* ob_size: bytes of inline storage */
    int64_t id;
    int dtype;
    int ndim;
    int from_variable;         /* made by an op called on a Variable
                                  (tape.explain: "x = x + 1 replaced the
                                  Variable with a Tensor") */
    int all_ones;              /* every element is 1 (a sweep's seed, a fill
                                  or broadcast of ones, a view of one):
                                  multiply by it is a view of the other
                                  factor.  Cleared by whatever writes
                                  bytes in place (tg_variable_writable) */
    Py_ssize_t size;           /* number of elements */
    Py_ssize_t *shape;         /* points into the inline storage */
    char *data;                /* inline storage, or inside `base` */
    PyObject *base;            /* owner of `data` when not inline */
    PyObject *weakreflist;
} TensorObject;

/* a and b have the same shape (dims, not dtype) */
static inline int
tg_same_shape(const TensorObject *a, const TensorObject *b)
{
    return a->ndim == b->ndim &&
           !memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(Py_ssize_t));
}

typedef struct {
    PyObject_HEAD
    int code;
    PyObject *name;            /* str */
} DTypeObject;

typedef struct {
    PyObject_HEAD
    int64_t id;                /* handle id, shared by every value tensor */
    TensorObject *value;       /* current value; replaced by assign */
    PyObject *name;            /* 'w:0' */
    int trainable;
    PyObject *weakreflist;
} VariableObject;

/* One recorded op.  Allocated from the owning tape's arena. */
typedef struct {
    int64_t id;
    int dtype;
    int ndim;
    Py_ssize_t *shape;         /* in the arena */
    TensorObject *saved;       /* strong ref, or NULL if the vjp needs none */
} tg_slot;

typedef struct {
    int op;
    int nin, nout;
    int held;                  /* may hold saved tensors or attrs: cleared
                                  by tg_tape_release_entry, so a used-up
                                  record the sweep released as it went is
                                  not walked a second time */
    PyObject *attrs;           /* strong ref or NULL */
    PyObject *where;           /* (file, line) that ran it, or NULL: only
                                  while tapegrad.debugging's op locations
                                  are on; kept with the skeleton */
    tg_slot *slots;            /* nin inputs, then nout outputs */
} tg_entry;

typedef struct tg_idmap tg_idmap; /* int64 -> int64: a dense window of ids
                                     and a hash (idmap.c) */

typedef struct {
    PyObject_HEAD
    int persistent;
    int watch_accessed_variables;
    int recording;             /* on a thread's stack right now */
    int has_data;              /* entries exist (or may); 0 once used up */
    int sweeping;              /* gradient() calls running on this tape */
    PyObject *stack;           /* borrowed: the thread stack we're on */
    tg_entry **entries;
    Py_ssize_t nentries, capentries;
    char *arena;               /* current arena chunk (linked list) */
    size_t arena_used, arena_cap;
    tg_idmap *ids;             /* id -> producing entry index, or -1 */
    PyObject *watched_vars;    /* list of Variables */
    PyObject *weakreflist;
    int64_t nesting_id;        /* order of entering among tapes and
                                  accumulators (forward.c) */
    int sees_all;              /* records whatever the nesting limit: a
                                  transposed jvp rule's private tape */
    /* what tape.explain reads (explain.c), cheap to keep: */
    int64_t start_id;          /* tg_last_id() when this record began */
    int64_t exit_id;           /* ... when it last left its stack */
    PyObject *notes;           /* list of rare events, or NULL: pauses,
                                  re-entries, escapes, no-gradient ops */
    tg_entry **past;           /* a used-up record's entries, their saved */
    Py_ssize_t npast;          /* tensors released; freed on the next */
    char *past_arena;          /* record or with the tape */
    tg_idmap *past_ids;
} TapeObject;

/* ---- the op table ------------------------------------------------------- */
#define TG_MAX_OUT 4

/* What a forward sees: converted, dtype-checked inputs and the row's
 * attributes.  It stores new references in out[] (nout is 1 on entry; a
 * multi-output row raises it). */
typedef struct {
    TensorObject **in;
    int nin;
    PyObject *attrs;           /* tuple in the row's ATTRS order, or NULL */
    TensorObject *out[TG_MAX_OUT];
    int nout;
    PyObject *result;          /* TG_COMPOSITE rows may return any Python
                                  value here instead (split's list) */
} tg_fwd;

typedef struct tg_vjp_ctx tg_vjp_ctx;
typedef struct tg_jvp_ctx tg_jvp_ctx;
typedef int (*tg_forward_fn)(tg_fwd *f);
typedef int (*tg_vjp_fn)(tg_vjp_ctx *c);
typedef int (*tg_jvp_fn)(tg_jvp_ctx *c);

/* How a row's forward rule (NAME_jvp) is made, declared beside its vjp
 * (vjp.h: JVP_LINEAR, JVP_ELEMENTWISE, JVP_REDUCTION, JVP_TRANSPOSED, or a
 * hand-written rule with JVP_DIRECT; NO_VJP rows have none). */
enum {
    TG_JVP_NONE,        /* never recorded: its primitives have rules */
    TG_JVP_DIRECT,      /* a hand-written rule */
    TG_JVP_LINEAR,      /* the row applied to the tangents */
    TG_JVP_ELEMENTWISE, /* diagonal Jacobian: the vjp's formula with the
                           tangent as cotangent, summed over inputs */
    TG_JVP_REDUCTION,   /* sum(t * dy/dx) over the reduced axes */
    TG_JVP_TRANSPOSED   /* the recorded vjp, transposed (TF's double vjp) */
};

/* flags */
#define TG_LINEAR 0x01
#define TG_KINK 0x02
#define TG_FIRST_ORDER_ONLY 0x04
#define TG_NONDIFF 0x08         /* never recorded */
#define TG_INT_OK 0x10          /* accepts integer / bool inputs */
#define TG_SAME_DTYPE 0x20      /* all inputs must share one dtype */
#define TG_BOOL_OK 0x40         /* also accepts bool inputs */
#define TG_COMPOSITE 0x80       /* forward calls recorded ops itself:
                                   the row is never recorded */
#define TG_VARIADIC 0x1000      /* one parameter: a list of tensors */
#define TG_SAVE_OUTS 0x2000     /* every output */
#define TG_ATTR_FIRST 0x4000    /* f(attr0, *inputs): einsum(equation, ...);
                                   INPUTS reads "equation, *inputs" */
#define TG_DTYPE_INPUTS 0x8000  /* inputs given as Python values are
                                   converted to the last attribute, `dtype`
                                   (TF's convert_to_tensor(x, dtype=dtype));
                                   tensors and variables keep theirs */
#define TG_UNBATCHED_VJP 0x20000 /* the vjp is user code (custom_gradient's
                                    grad_fn): a batched sweep calls it once
                                    per batch element */
#define TG_NAME_ATTR 0x10000   /* ATTRS lists `name` itself, where TF's
                                   signature has it (matrix_diag(diagonal,
                                   name, k, ...)); no trailing name=None */
/* what the vjp reads: saved on the tape, everything else is dropped */
#define TG_SAVE_IN0 0x100
#define TG_SAVE_IN1 0x200
#define TG_SAVE_OUT 0x400
#define TG_SAVE_INS 0x800       /* every input (variadic ops) */

/* A row's TG_DOC line (ops.def): its docstring's summary and example. */
typedef struct {
    const char *summary;
    const char *example;       /* Python, "" for internal rows */
    const char *output;        /* what the example prints */
} tg_opdoc;

typedef struct {
    const char *name;          /* row name: multiply */
    const char *api;           /* public dotted path, "" if internal */
    const char *tf_name;       /* Mul: used in error messages */
    const char *inputs;        /* "x, y" */
    const char *attrs;         /* "axis=None, keepdims=False, " */
    int flags;
    const char *ref;           /* test reference */
    double lo, hi;
    const char *shapes, *cases;
    const char *doc;           /* "multiply(x, y, name=None)\n--\n\n": the
                                  text signature module.c's docstring
                                  starts with */
    const tg_opdoc *docs;      /* the row's TG_DOC */
    tg_forward_fn forward;
    tg_vjp_fn vjp;
    tg_jvp_fn jvp;
    const int *jvp_kind;       /* a TG_JVP_* */
} tg_opdef;

/* Parsed once at module init from tg_opdef.inputs / .attrs. */
typedef struct {
    int nin;
    PyObject *attr_names;      /* tuple of str */
    PyObject *attr_defaults;   /* tuple (None for a required one) */
    unsigned required;         /* bit i: attribute i has no default
                                  (ATTRS "axis, "): calls must pass it */
    int dtype_attr;            /* index of `dtype` / `out_type` /
                                  `output_type` among the attributes, or
                                  -1: the dtype the row's result takes */
} tg_opsig;

enum {
#define TG_OP(NAME, API, TFNAME, INPUTS, ATTRS, FLAGS, REF, LO, HI, SHAPES, \
              CASES)                                                        \
    TG_OP_##NAME,
#include "ops.def"
#undef TG_OP
    TG_NOPS
};
extern const tg_opdef tg_ops[TG_NOPS];

/* add, subtract, multiply, divide: the rows the scalar shortcuts (rank-0
 * kernels, cached float constants, results written in place) cover */
static inline int
tg_is_arithmetic(int op)
{
    return op == TG_OP_add || op == TG_OP_subtract ||
           op == TG_OP_multiply || op == TG_OP_divide;
}

/* One term of a gradient the sweep's table keeps unevaluated: the product
 * coef * t (t itself when coef is 1), t a float tensor of the gradient's
 * shape and dtype.  A gradient of several terms is their left-to-right
 * sum, each product and each sum rounded as the ops would round them. */
typedef struct {
    double coef;
    TensorObject *t;
} tg_term;

/* What a vjp sees.  Upstream gradients and results are Tensors. */
struct tg_vjp_ctx {
    const tg_entry *e;
    TensorObject **in;         /* saved inputs (NULL where not saved) */
    TensorObject **outs;       /* saved outputs (NULL where not saved) */
    TensorObject *out;         /* outs[0] */
    PyObject *attrs;
    TensorObject **gs;         /* upstream gradient per output (zeros
                                  where none flowed back) */
    TensorObject *g;           /* gs[0] */
    const char *needs;         /* needs[i]: input i wants a gradient */
    PyObject **gx;             /* results: new refs, NULL = no gradient */
    int batch;                 /* 1 in a batched sweep (jacobian): every
                                  cotangent, upstream and returned, has a
                                  leading batch dimension that the saved
                                  tensors lack; 0 otherwise */
    void *table;               /* the sweep's gradient table (unbatched
                                  sweeps), for tg_vjp_addend */
    unsigned added;            /* bit i: gx[i] is the gradient already in
                                  the table, the contribution added into it
                                  (tg_vjp_addend): nothing to add */
    unsigned scaled;           /* bit i (i < 2): gx[i] stands for the
                                  product scale[i] * gx[i], which the table
                                  keeps as a term (tg_vjp_scalable) */
    double scale[2];
    tg_term addend1;           /* tg_vjp_addend's one term for a gradient
                                  held as a plain tensor */
    Py_ssize_t addend_at;      /* the table slot tg_vjp_addend found */
};

/* What a jvp sees: every input and output of the op just run, and the
 * tangent of each input (NULL: zero, the input does not depend on the
 * primals).  It stores new references in tout[] (NULL: a zero tangent). */
struct tg_jvp_ctx {
    int op;
    int nin, nout;
    TensorObject **in;
    TensorObject **outs;
    TensorObject *out;         /* outs[0] */
    PyObject *attrs;
    TensorObject **t;          /* tangent per input, or NULL */
    PyObject **tout;           /* results per output: new refs or NULL */
};

/* every row's rules, defined in the ops*.c files */
#define TG_OP(NAME, ...)                                                    \
    int NAME##_forward(tg_fwd *f);                                          \
    int NAME##_vjp(tg_vjp_ctx *c);                                          \
    int NAME##_jvp(tg_jvp_ctx *c);                                          \
    extern const int NAME##_jvp_kind;
#include "ops.def"
#undef TG_OP

/* ---- module state -------------------------------------------------------- */
typedef struct {
    PyTypeObject *tensor_type;
    PyTypeObject *variable_type;
    PyTypeObject *tape_type;
    PyTypeObject *dtype_type;
    PyTypeObject *stack_type;
    PyTypeObject *pause_type;       /* what tape.stop_recording() returns */
    PyTypeObject *accumulator_type; /* autodiff.ForwardAccumulator */
    PyObject *dtypes[TG_NDTYPES];   /* DTypeObject instances */
    PyObject *InvalidArgumentError;
    PyObject *thread_key;           /* key in the thread-state dict */
    PyObject *numpy;                /* the numpy module */
    PyObject *numpy_cache;          /* name -> numpy function */
    tg_opsig sig[TG_NOPS];
} tg_state;

extern tg_state *tg_st;  /* the one module instance's state */

/* live instance counters for leak tests */
extern Py_ssize_t tg_live_tensors, tg_live_variables, tg_live_tapes,
    tg_live_entries;

/* ---- tensor.c ------------------------------------------------------------ */
TensorObject *tg_tensor_new(int dtype, int ndim, const Py_ssize_t *shape);
TensorObject *tg_tensor_from_array(PyArrayObject *arr, int dtype);
TensorObject *tg_tensor_view(TensorObject *src, int ndim,
                             const Py_ssize_t *shape, int64_t id);
TensorObject *tg_tensor_scalar(int dtype, double v);
/* the same from a cache, for tg_call's float arguments of add, subtract,
 * multiply and divide only (never handed to the user: tensor.c) */
TensorObject *tg_constant_scalar(int dtype, double v);
TensorObject *tg_tensor_external(int dtype, int ndim, const Py_ssize_t *shape,
                                 char *data, PyObject *base);
PyObject *tg_tensor_as_array(TensorObject *t); /* read-only view */
PyObject *tg_tensor_numpy(TensorObject *t);    /* Tensor.numpy() */
/* temporary elision (tensor.c): the operand an operator may compute in */
extern TensorObject *tg_elide_donor;
extern Py_ssize_t tg_elisions;
int tg_tensor_take_block(TensorObject *d, TensorObject **out);
PyObject *tg_tensor_array(TensorObject *t, PyObject *args, PyObject *kw);
PyObject *tg_reduce_value(const char *helper, TensorObject *t,
                          PyObject *extra); /* a __reduce__ value */
int64_t tg_next_id(void);
int64_t tg_last_id(void);
int tg_shape_size(int ndim, const Py_ssize_t *shape, Py_ssize_t *size);
PyObject *tg_shape_tuple(int ndim, const Py_ssize_t *shape);
PyObject *tg_shape_object(int ndim, const Py_ssize_t *shape); /* .shape */
PyObject *tg_make_ref(PyObject *self);  /* tensor.ref(), variable.ref() */
PyObject *tg_device_name(void);  /* .device: every tensor lives on the CPU */
/* slices of variables (variable.c): v[0].assign(...) */
extern Py_ssize_t tg_num_variable_slices;
void tg_variable_slice_forget(int64_t id);
PyObject *tg_variable_slice_of(TensorObject *t);
/* Python-level helpers the package registers (module.c): borrowed, NULL
 * with an exception if missing */
PyObject *tg_helper(const char *name);
extern PyObject *tg_shape_type;  /* tapegrad.TensorShape, once registered */
PyObject *tg_shape_str(int ndim, const Py_ssize_t *shape); /* [2,3] */
int tg_tensor_init_type(PyObject *module);
PyObject *tg_numpy_text(TensorObject *t, int is_repr);
int tg_check_format_spec(const char *type, PyObject *spec); /* str only */
PyObject *tg_normalize_key(PyObject *key);
PyObject *tg_tensor_getitem(PyObject *self, PyObject *key);
int tg_convertible(PyObject *o);
int tg_exclusive(PyObject *t);    /* only one holder; may be overwritten */
PyObject *tg_op2_over(int op, PyObject *a, PyObject *b, PyObject *last);
PyObject *tg_ones_factor(PyObject *a, PyObject *b); /* 1 * t: t, borrowed */
enum { TG_FUSED_TANH, TG_FUSED_SIGMOID };
PyObject *tg_fused_grad(tg_vjp_ctx *c, int kind, PyObject *g, PyObject *y);
int tg_vjp_addend(tg_vjp_ctx *c, int i, const tg_term **terms, int *n);
void tg_vjp_addend_done(tg_vjp_ctx *c, int i, TensorObject *sum);
int tg_vjp_scalable(tg_vjp_ctx *c, PyObject *g, PyObject *k, double *v);
PyObject *tg_fused_unary_grad(tg_vjp_ctx *c, const char *f, int negate,
                              PyObject *g, PyObject *x);
int tg_ones_view(int dtype, int ndim, const Py_ssize_t *shape,
                 TensorObject **out);   /* shared immutable ones */
void tg_ones_cache_clear(void);
void tg_shape_attrs_clear(void);   /* the cached shape attributes */
TensorObject *tg_fill_like(int dtype, int ndim, const Py_ssize_t *shape,
                           double value);
void tg_tensor_blocks_free(int close); /* empty the data block cache */
void tg_tape_spare_free(void);     /* the spare tape arena chunk */
void tg_tensor_blocks_held(Py_ssize_t *n, Py_ssize_t *bytes);
#define Tensor_Check(op) Py_IS_TYPE((op), tg_st->tensor_type)
#define Variable_Check(op) Py_IS_TYPE((op), tg_st->variable_type)

/* ---- convert.c ----------------------------------------------------------- */
int tg_dtype_arg(PyObject *obj, int *dtype); /* None -> -1 */
TensorObject *tg_convert(PyObject *obj, int dtype, const char *opname);
PyObject *tg_dtype_obj(int dtype);  /* borrowed */
int tg_dtype_init_type(PyObject *module);

/* ---- variable.c ---------------------------------------------------------- */
TensorObject *tg_variable_read(VariableObject *v);
extern Py_ssize_t tg_variable_reads;
TensorObject *tg_variable_writable(VariableObject *v);
PyObject *tg_optimizer_apply(PyObject *module, PyObject *args);
int tg_variable_init_type(PyObject *module);

/* ---- dlpack.c ------------------------------------------------------------ */
PyObject *tg_dlpack_method(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tg_dlpack_device_method(PyObject *self, PyObject *ignored);
PyObject *tg_to_dlpack(PyObject *module, PyObject *obj);
PyObject *tg_from_dlpack(PyObject *module, PyObject *obj);
/* the two protocol methods, shared by Tensor and Variable */
#define TG_DLPACK_METHODS                                                   \
    {"__dlpack__", (PyCFunction)(void (*)(void))tg_dlpack_method,          \
     METH_VARARGS | METH_KEYWORDS,                                          \
     "__dlpack__($self, /, *, stream=None, max_version=None, "              \
     "dl_device=None, copy=None)\n--\n\n"                                   \
     "A DLPack capsule of the value, sharing its bytes (read-only, DLPack " \
     ">= 1.0), or of a copy with copy=True."},                              \
    {"__dlpack_device__", (PyCFunction)tg_dlpack_device_method,            \
     METH_NOARGS,                                                           \
     "__dlpack_device__($self, /)\n--\n\n(kDLCPU, 0): the host CPU."}

/* ---- dispatch.c ---------------------------------------------------------- */
PyObject *tg_call(int op, int nargs, PyObject *const *args, PyObject *attrs);
PyObject *tg_call_tensors(int op, int nin, TensorObject **in,
                          PyObject *attrs);
PyObject *tg_apply(int op, int nin, TensorObject **in, PyObject *attrs);
int tg_check_same_dtype(int op, int nin, TensorObject **in);
int tg_want_dtype(const char *tfname, int i, int want, int got);
extern _Thread_local int tg_no_record; /* >0: nothing is recorded */

/* ---- tape.c -------------------------------------------------------------- */
PyObject *tg_active_stack(void); /* borrowed list of recording tapes or NULL */
int tg_scope_name(PyObject **scope); /* tf.name_scope's, borrowed or NULL */
PyObject *tg_py_scope_name(PyObject *m, PyObject *args);
PyObject *tg_py_set_scope_name(PyObject *m, PyObject *scope);
PyObject *tg_accumulator_list(int create); /* this thread's (borrowed) */
int tg_tape_record(int op, int nin, TensorObject **in, int nout,
                   TensorObject **out, PyObject *attrs);
int tg_tape_variable_accessed(VariableObject *v);
PyObject *tg_watcher_push(void);   /* open a variable watcher: a list */
void tg_watcher_pop(PyObject *w);  /* close it */
int tg_tape_init_type(PyObject *module);
static inline tg_entry *
tg_tape_entry(TapeObject *t, Py_ssize_t i)
{
    return t->entries[i];
}
/* The window's fields, first in every tg_idmap: the lookups below test
 * them inline (a sweep makes several per entry, a recording one per op;
 * the out-of-line call's register saves cost as much as the lookup) and
 * call idmap.c for the rest.  idmap.c alone writes them. */
typedef struct {
    int64_t lo;                /* window: keys lo .. lo + span - 1 */
    Py_ssize_t span, wused;
    int64_t *window;           /* span values, TG_IDMAP_ABSENT where none */
    Py_ssize_t hused;          /* keys in the hash part */
} tg_idmap_head;
#define TG_IDMAP_ABSENT INT64_MIN
int tg_idmap_get_far(tg_idmap *m, int64_t key, int64_t *value);
int tg_idmap_put_far(tg_idmap **m, int64_t key, int64_t value);

/* 1 with *value (if value) set when key is in m, else 0; m may be NULL */
static inline int
tg_idmap_get(tg_idmap *m, int64_t key, int64_t *value)
{
    const tg_idmap_head *h = (const tg_idmap_head *)m;
    if (h == NULL) {
        return 0;
    }
    uint64_t off = (uint64_t)key - (uint64_t)h->lo;
    if (off < (uint64_t)h->span) {
        int64_t v = h->window[off];
        if (v == TG_IDMAP_ABSENT) {
            return 0;
        }
        if (value) {
            *value = v;
        }
        return 1;
    }
    return h->hused > 0 ? tg_idmap_get_far(m, key, value) : 0;
}

/* m[key] = value, making m if *mp is NULL; -1 with MemoryError */
static inline int
tg_idmap_put(tg_idmap **mp, int64_t key, int64_t value)
{
    tg_idmap_head *h = (tg_idmap_head *)*mp;
    if (h != NULL) {
        uint64_t off = (uint64_t)key - (uint64_t)h->lo;
        if (off < (uint64_t)h->span) {
            h->wused += h->window[off] == TG_IDMAP_ABSENT;
            h->window[off] = value;
            return 0;
        }
    }
    return tg_idmap_put_far(mp, key, value);
}
int tg_idmap_update(tg_idmap *m, int64_t key, int64_t value);
tg_idmap *tg_idmap_new(Py_ssize_t cap);
void tg_idmap_free(tg_idmap *m);
void tg_idmap_spare_free(void);   /* the freed maps kept for reuse */
PyObject *tg_idmap_keys_with(const tg_idmap *m, int64_t value);
void tg_tape_release_entry(tg_entry *e);

int tg_tape_stop(TapeObject *t);     /* stop recording (leave the stack) */
void tg_tape_consume(TapeObject *t); /* drop every entry: used up */

/* ---- explain.c: light records for tape.explain --------------------------- */
PyObject *tg_user_location(void);   /* (file, line) of the user's frame */
int tg_explain_note(TapeObject *t, const char *kind, int64_t from,
                    int64_t to, PyObject *where);
int tg_explain_nondiff(int op, int nin, TensorObject **in, int nout,
                       TensorObject **out);
int tg_explain_escape(TensorObject *x, const char *how);
PyObject *tg_tape_explain_record(TapeObject *t);
int tg_explain_init(PyObject *module);
extern int tg_none_gradient_warnings;   /* tape.c */
extern int tg_op_locations;             /* tape.c */
PyObject *tg_set_op_locations(PyObject *m, PyObject *on);
PyObject *tg_set_none_gradient_warnings(PyObject *m, PyObject *on);

/* ---- forward.c ----------------------------------------------------------- */
extern Py_ssize_t tg_num_accumulating;   /* accumulators active anywhere */
extern Py_ssize_t tg_num_recording;      /* tapes recording anywhere */
int tg_unrecorded_here(void);
/* no tape or accumulator sees the ops this thread runs now (the global
 * counts first: while nothing records anywhere, no thread-local read) */
static inline int
tg_unrecorded(void)
{
    return (tg_num_recording == 0 && tg_num_accumulating == 0) ||
           tg_unrecorded_here();
}
extern Py_ssize_t tg_num_live_accumulators; /* alive, active or not */
void tg_forward_forget(int64_t id);  /* a tensor died: drop its tangents */
extern _Thread_local int64_t tg_nesting_limit; /* see forward.c */
extern Py_ssize_t tg_nesting_lowered;    /* see forward.c */
int64_t tg_next_nesting_id(void);
int tg_forward_accumulate(int op, int nin, TensorObject **in, int nout,
                          TensorObject **out, PyObject *attrs);
int tg_jvp_linear(tg_jvp_ctx *c);
int tg_jvp_elementwise(tg_jvp_ctx *c, tg_vjp_fn vjp);
int tg_jvp_reduction(tg_jvp_ctx *c, tg_vjp_fn vjp);
int tg_jvp_transposed(tg_jvp_ctx *c, tg_vjp_fn vjp);
int tg_forward_init_type(PyObject *module);
void tg_accumulators_thread_end(PyObject *accs);

/* ---- sweep.c ------------------------------------------------------------- */
PyObject *tg_unbroadcast(PyObject *g, const tg_slot *s, Py_ssize_t nb);
int tg_parse_unconnected(PyObject *u);  /* 0 NONE, 1 ZERO, -1 error */
/* nested structures as TF's nest: leaves appended to `out`, a skeleton
 * returned; tg_pack rebuilds the structure from a flat list */
PyObject *tg_flatten(PyObject *obj, PyObject *out);
PyObject *tg_pack(PyObject *skel, PyObject *flat, Py_ssize_t *pos);
PyObject *tg_tape_gradient_vector(TapeObject *tape, PyObject *const *args,
                                  Py_ssize_t nargs, PyObject *kwnames);
int tg_vector_args(PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames, PyObject **tup, PyObject **kw);
PyObject *tg_vector_new(newfunc fn, PyObject *type, PyObject *const *args,
                        size_t nargsf, PyObject *kwnames);
PyObject *tg_tape_jacobian(TapeObject *tape, PyObject *args, PyObject *kw);
PyObject *tg_tape_batch_jacobian(TapeObject *tape, PyObject *args,
                                 PyObject *kw);
PyObject *tg_tape_gradient_batched(TapeObject *tape, PyObject *args,
                                   PyObject *kw);

/* ---- kernels.c ------------------------------------------------------------ */
int tg_broadcast_shapes(const char *opname, TensorObject *a, TensorObject *b,
                        int *ndim, Py_ssize_t *shape);
void tg_broadcast_copy(TensorObject *x, TensorObject *out);

/* Kernels over at least this many elements run without the GIL, so other
 * threads (each with its own tape) compute meanwhile, as TF's and
 * PyTorch's kernels let them.  Below it, releasing and retaking the GIL
 * (~0.2 us uncontended, a thread switch when contended) costs more than
 * the arithmetic.  What runs without it touches only tensors' bytes the
 * caller holds references to: no Python API, no tapegrad state. */
#define TG_NOGIL_MIN 16384
static inline PyThreadState *
tg_nogil_begin(Py_ssize_t work)
{
    return work >= TG_NOGIL_MIN ? PyEval_SaveThread() : NULL;
}
static inline void
tg_nogil_end(PyThreadState *ts)
{
    if (ts != NULL) {
        PyEval_RestoreThread(ts);
    }
}

int tg_unary_numpy_loop(const char *name, TensorObject *x,
                        TensorObject *out);
int tg_unary_times_kernel(const char *name, TensorObject *g,
                          TensorObject *x, int negate, const tg_term *terms,
                          int nterms, TensorObject *out);
/* NumPy's multiply and add loops of a dtype, for tg_terms_chunk */
typedef struct {
    const void *mul, *add;
} tg_terms_loops;
#define TG_TERMS_BYTES 8192     /* tg_terms_chunk takes at most this much:
                                   the chunks fused passes work in */
int tg_terms_loops_get(int dtype, tg_terms_loops *l);
void tg_terms_chunk(const tg_terms_loops *l, const tg_term *terms, int n,
                    int dtype, Py_ssize_t start, Py_ssize_t len, char *dst,
                    char *scratch);

/* the first term only the table holds (a sum may be written over it), or
 * -1 */
static inline int
tg_term_exclusive(const tg_term *terms, int n)
{
    for (int k = 0; k < n; k++) {
        if (tg_exclusive((PyObject *)terms[k].t)) {
            return k;
        }
    }
    return -1;
}

/* the terms are `out` alone, unscaled: their sum with a contribution is
 * an add into out, in place */
static inline int
tg_terms_are(const tg_term *terms, int n, const TensorObject *out)
{
    return n == 1 && terms[0].coef == 1.0 && terms[0].t == out;
}
int tg_binary_numpy_loop(const char *name, TensorObject *a, TensorObject *b,
                         TensorObject *out);
int tg_matmul_numpy_loop(TensorObject *a, TensorObject *b, int ta, int tb,
                         TensorObject *out);
/* NumPy's matmul inner loop on raw buffers (element strides) */
typedef struct {
    void (*fn)(char **, npy_intp const *, npy_intp const *, void *);
    void *data;
    Py_ssize_t isz;
} tg_gemm;
int tg_gemm_loop(int dtype, tg_gemm *gm);
void tg_gemm_run(const tg_gemm *gm, Py_ssize_t m, Py_ssize_t k, Py_ssize_t n,
                 const char *a, Py_ssize_t am, Py_ssize_t ak, const char *b,
                 Py_ssize_t bk, Py_ssize_t bn, char *c, Py_ssize_t cm,
                 Py_ssize_t cn);
int tg_binary_kernel(int op, TensorObject *a, TensorObject *b,
                     TensorObject *out);
int tg_unary_kernel(int op, TensorObject *x, TensorObject *out);
PyObject *tg_numpy_ufunc(const char *name); /* borrowed, cached */
PyObject *tg_numpy_ufunc_reduce(const char *name); /* likewise */
PyObject *tg_numpy_attr_cached(const char *key, PyObject *owner,
                               const char *attr);
/* NumPy's errstate(all='ignore') around one NumPy call: begin returns a
 * token (NULL on error); end takes it (NULL: nothing to undo), keeps any
 * pending exception and returns -1 only if the reset itself failed */
void tg_np_lost_error(void); /* NumPy's NULL without an error: MemoryError */
int tg_quiet_init(void);          /* at module init (no OOM surprises) */
PyObject *tg_quiet_begin(void);
int tg_quiet_end(PyObject *token);
int tg_copy_into(PyArrayObject *dst, PyArrayObject *src); /* casts quietly */
/* PyObject_Vectorcall / PyObject_Call of a NumPy function, quietly */
PyObject *tg_np_vectorcall(PyObject *f, PyObject *const *args, size_t nargsf,
                           PyObject *kwnames);
PyObject *tg_np_call(PyObject *f, PyObject *args, PyObject *kw);
PyObject *tg_cast_array(PyArrayObject *arr, int npy_type); /* quietly */
TensorObject *tg_ufunc_apply(const char *ufunc, int nin, TensorObject **in,
                             int out_dtype);
int tg_sum_all(TensorObject *x, TensorObject *out);

/* ---- oputil.c / ops.c: shared by the op rows ------------------------------ */
int tg_binary_forward(int op, TensorObject **in, TensorObject **out);
int tg_unary_forward(int op, TensorObject **in, TensorObject **out);
int tg_shape_error(const char *fmt, const char *tfname, TensorObject *x,
                   int nd, const Py_ssize_t *shape);
PyObject *tg_shape_attrs(int ndim, const Py_ssize_t *shape);
PyObject *tg_op_to_shape(int op, PyObject *x, const tg_slot *s);
PyObject *tg_op_to_dims(int op, PyObject *x, int nd, const Py_ssize_t *shape);
PyObject *tg_vjp_to_shape(const tg_vjp_ctx *c, int op, PyObject *x, int nd,
                          const Py_ssize_t *shape);
PyObject *tg_vjp_key(const tg_vjp_ctx *c, PyObject *key);
PyObject *tg_vjp_repeat(const tg_vjp_ctx *c, PyObject *idx);
PyObject *tg_vjp_axis(const tg_vjp_ctx *c, const char *tfname,
                      PyObject *axis, int ndim);
PyObject *tg_vjp_axes(const tg_vjp_ctx *c, const char *tfname,
                      PyObject *axis, int ndim);
PyObject *tg_op1_attrs(int op, PyObject *x, const char *fmt, ...);
PyObject *tg_op1(int op, PyObject *x, PyObject *attrs);
/* integer arguments (shape, axis, perm, num...), TF's checks and errors:
 * a scalar, or a scalar or vector (at most TG_MAXDIMS values) */
int tg_int_scalar(const char *tfname, const char *param, PyObject *obj,
                  Py_ssize_t *out);
int tg_int_list(const char *tfname, const char *param, PyObject *obj,
                int *n, Py_ssize_t *out);
int tg_float_scalar(const char *tfname, const char *param, PyObject *obj,
                    double *out);
int tg_int_is_vector(PyObject *obj);
int tg_int_dtype_check(const char *tfname, const char *param, PyObject *obj);
TensorObject *tg_index_tensor(const char *tfname, const char *param,
                              PyObject *obj);
int tg_axes_mask(const char *tfname, int n, const Py_ssize_t *axes, int ndim,
                 char *mask);
int tg_parse_axes(const char *tfname, const char *param, PyObject *axis,
                  int ndim, char *mask);
PyObject *tg_op2(int op, PyObject *a, PyObject *b, PyObject *attrs);
PyObject *tg_sequence_list(PyObject *obj); /* PySequence_List, leak-free */

/* errors */
#define TG_INVALID_ARGUMENT(...) \
    PyErr_Format(tg_st->InvalidArgumentError, __VA_ARGS__)

#endif /* TAPEGRAD_H */
