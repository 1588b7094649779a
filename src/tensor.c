/* tensor.c -- the Tensor type: storage, NumPy views, printing, and the
 * Python number/sequence protocols (which all go through tg_call).
 *
 * Storage: one allocation holds the object, its shape and (for tensors
 * created here) its bytes, 64-byte aligned from 2 KB on (see "data
 * alignment"); tensors of 256 KB or more keep their bytes in a separate
 * block that is recycled through a small cache (see "large data blocks").  Results adopted from NumPy or views of
 * another tensor keep their bytes in `base` instead.  Tensors are
 * immutable, so views never need copy-on-write and `.numpy()` hands out a
 * read-only view with no copy.
 *
 * GC: a Tensor only refers to its type and to `base`, which is an ndarray
 * tapegrad made or another Tensor; neither can lead back to a Tensor, so
 * tensors are allocated as GC objects (traverse works) but never tracked,
 * the way CPython leaves tuples of atoms untracked.  That keeps the
 * per-op cost free of collector work.  (An imported DLPack buffer's
 * `base` is a capsule around the producer's deleter, dlpack.c: what the
 * producer holds is opaque to any collector.)
 */
#include "tapegrad.h"
#include "structmember.h"
#include "opcode.h"            /* BINARY_OP: temporary elision */
#if defined(__GLIBC__)
#include <dlfcn.h>              /* dladdr: temporary elision */
#include <unwind.h>             /* _Unwind_Backtrace: temporary elision */
#endif
#include <stddef.h>

Py_ssize_t tg_live_tensors = 0;
static int64_t next_id = 0;

int64_t
tg_next_id(void)
{
    return ++next_id;
}

/* the last id handed out: tensors made later have larger ids, so a tape
 * that notes it when it starts or stops can tell when a tensor was made
 * (tape.explain) */
int64_t
tg_last_id(void)
{
    return next_id;
}

#define TENSOR_HDR \
    ((Py_ssize_t)((sizeof(TensorObject) + 15) & ~(size_t)15))

/* Bytes of inline shape storage for `ndim` dims (keeps the data aligned). */
static inline Py_ssize_t
shape_bytes(int ndim)
{
    return ((Py_ssize_t)ndim * 8 + 15) & ~(Py_ssize_t)15;
}

/* Where inline storage starts: right after the shape.  A tensor with its
 * own block (see below) keeps the block's record there instead. */
static inline char *
inline_start(const TensorObject *t)
{
    return (char *)t->shape + shape_bytes(t->ndim);
}

/* ---- data alignment ---------------------------------------------------
 * NumPy's SIMD loops (AVX-512 here) store whole cache lines: into an
 * output that is not 64-byte aligned every store splits across two lines,
 * and np.add at 4e3..6e4 float32 elements (L1/L2-resident) ran 2x slower.
 * malloc and pymalloc give 16-byte alignment, so tensors of ALIGN_MIN
 * bytes or more get up to 48 bytes of padding to start on a 64-byte
 * boundary; smaller ones showed no difference and stay compact. */
#define DATA_ALIGN 64
#define ALIGN_PAD (DATA_ALIGN - 16)
#define ALIGN_MIN 2048

static inline char *
align_up(char *p)
{
    return (char *)(((uintptr_t)p + DATA_ALIGN - 1) &
                    ~(uintptr_t)(DATA_ALIGN - 1));
}

/* ---- large data blocks --------------------------------------------------
 * Why not inline: glibc hands multi-MB requests out from the top of its
 * heap and gives them back to the kernel (trim) as soon as a few are free
 * at once, which is exactly what a gradient does with its temporaries.
 * Every 4 MB result was then fresh memory: ~1000 page faults, each zeroing
 * a page, costing ~1.5 ms, three times the arithmetic (multiply's
 * fwd+grad at 1e6 float32 took 7.5 ms, its forward 0.45 ms).  So tensors
 * of BLOCK_MIN bytes or more keep their bytes in a separate block, and a
 * freed block waits in a small cache for the next tensor of about its
 * size, the way a gradient's temporaries recur step after step.  The
 * cache holds at most CACHE_SLOTS blocks and CACHE_MAX bytes, oldest out
 * first, and is emptied at module teardown.  16 blocks and 64 MB, not 8
 * and 32: a gradient of sum(sin(x) * x + x**2) over 1e6 float32 frees
 * more than 8 blocks at its end, the evicted ones went back to glibc,
 * which trimmed them, and the next step faulted them in again (6% of its
 * time zeroing pages).  We never touch malloc's
 * process-wide settings.  Only used with the GIL held. */
#define BLOCK_MIN ((size_t)256 * 1024)
#define CACHE_SLOTS 16
#define CACHE_MAX ((size_t)64 * 1024 * 1024)

typedef struct {
    char *raw;                 /* what PyMem_RawMalloc returned */
    size_t cap;                /* usable bytes from align_up(raw) */
} block;

static block cache[CACHE_SLOTS];   /* oldest first */
static int cache_n = 0;
static size_t cache_bytes = 0;
static int cache_closed = 0;       /* module torn down: free directly */

/* A block of at least `nbytes` in *b; -1 if out of memory (no exception
 * set). */
static int
block_get(size_t nbytes, block *b)
{
    /* the smallest cached block that fits without wasting more than a
     * quarter of it; newest first on ties (likelier still in cache) */
    int best = -1;
    for (int i = cache_n - 1; i >= 0; i--) {
        size_t c = cache[i].cap;
        if (c >= nbytes && c - nbytes <= c / 4 &&
            (best < 0 || c < cache[best].cap)) {
            best = i;
        }
    }
    if (best >= 0) {
        *b = cache[best];
        cache_bytes -= b->cap;
        memmove(&cache[best], &cache[best + 1],
                (size_t)(cache_n - best - 1) * sizeof(block));
        cache_n--;
        return 0;
    }
    b->cap = nbytes;
    b->raw = PyMem_RawMalloc(nbytes + ALIGN_PAD);
    return b->raw != NULL ? 0 : -1;
}

static void
block_put(block b)
{
    if (cache_closed || b.cap > CACHE_MAX) {
        PyMem_RawFree(b.raw);
        return;
    }
    while (cache_n > 0 &&
           (cache_n == CACHE_SLOTS || cache_bytes + b.cap > CACHE_MAX)) {
        PyMem_RawFree(cache[0].raw);
        cache_bytes -= cache[0].cap;
        memmove(&cache[0], &cache[1], (size_t)(cache_n - 1) * sizeof(block));
        cache_n--;
    }
    cache[cache_n++] = b;
    cache_bytes += b.cap;
}

/* ---- small tensors: a free list ------------------------------------------
 * A scalar chain makes and drops a tensor object per op and per gradient
 * step; pymalloc and the GC's bookkeeping were 20% of its time.  Tensors
 * whose shape and bytes fit SMALL_EXTRA (rank <= 2, <= 32 bytes: scalars,
 * short vectors, 2x2) all get that much inline storage, so any freed one
 * can be reused for the next.  An entry is a dead object: refcount 0, never
 * GC-tracked, still holding its type (3.11's PyObject_GC_Del reads it). */
#define SMALL_EXTRA \
    (TENSOR_HDR - (Py_ssize_t)sizeof(TensorObject) + 16 + 32)
/* Under AddressSanitizer or ThreadSanitizer every freed tensor is freed:
 * a reused object would hide a use after free from them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FREE_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FREE_MAX 0
#endif
#endif
#ifndef FREE_MAX
#define FREE_MAX 512
#endif

static TensorObject *free_small[FREE_MAX > 0 ? FREE_MAX : 1];
static int free_n = 0;

static void const_cache_clear(void);    /* below, with its cache */

static void
free_small_release(void)
{
    while (free_n > 0) {
        TensorObject *t = free_small[--free_n];
        PyTypeObject *tp = Py_TYPE(t);
        PyObject_GC_Del(t);
        Py_DECREF(tp);
    }
}

/* Give every cached block and free tensor object back.  With `close`
 * (interpreter exit, module teardown) the caches stay off: tensors freed
 * later free their blocks and themselves directly. */
void
tg_tensor_blocks_free(int close)
{
    for (int i = 0; i < cache_n; i++) {
        PyMem_RawFree(cache[i].raw);
    }
    cache_n = 0;
    cache_bytes = 0;
    cache_closed |= close;
    const_cache_clear();
    free_small_release();
}

/* (blocks, bytes) held by the cache right now */
void
tg_tensor_blocks_held(Py_ssize_t *n, Py_ssize_t *bytes)
{
    *n = cache_n;
    *bytes = (Py_ssize_t)cache_bytes;
}

/* 1 if `t` owns a separate data block: its data is neither in `base` nor
 * inside its own allocation (inline, possibly padded; a block is another
 * allocation, so it can never point there) */
static inline int
owns_block(const TensorObject *t)
{
    /* one unsigned compare: below the object wraps around to huge */
    return t->base == NULL &&
           (size_t)(t->data - (const char *)t) >
               sizeof(TensorObject) + (size_t)Py_SIZE(t);
}

int
tg_shape_size(int ndim, const Py_ssize_t *shape, Py_ssize_t *size)
{
    Py_ssize_t n = 1;
    if (ndim > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "tapegrad supports at most %d dimensions, got %d",
                     TG_MAXDIMS, ndim);
        return -1;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            PyErr_Format(PyExc_ValueError,
                         "Dimension %d must be >= 0, got %zd", i, shape[i]);
            return -1;
        }
    }
    /* like NumPy, reject shapes whose nonzero dims overflow even when a
     * zero dim makes the size 0: their strides would overflow */
    int empty = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0) {
            empty = 1;
        }
        else if (__builtin_mul_overflow(n, shape[i], &n) ||
                 n > PY_SSIZE_T_MAX / 16) {
            PyErr_SetString(PyExc_ValueError,
                            "Encountered overflow when multiplying shape "
                            "dimensions: the tensor is too large");
            return -1;
        }
    }
    *size = empty ? 0 : n;
    return 0;
}

/* TF's ResourceExhaustedError text, as a MemoryError: a bare MemoryError
 * would not say which tensor was too large. */
static void
tensor_oom(int dtype, int ndim, const Py_ssize_t *shape)
{
    PyObject *s = tg_shape_str(ndim, shape);
    if (s != NULL) {
        PyErr_Format(PyExc_MemoryError,
                     "OOM when allocating tensor with shape%U and type %s", s,
                     tg_dtype_names[dtype]);
        Py_DECREF(s);
    }
}

/* The object with `inline_bytes` of storage after its shape; data points
 * at that storage. */
static inline TensorObject *
tensor_obj(int dtype, int ndim, const Py_ssize_t *shape, Py_ssize_t size,
           Py_ssize_t inline_bytes)
{
    Py_ssize_t sbytes = shape_bytes(ndim);
    Py_ssize_t extra = TENSOR_HDR - (Py_ssize_t)sizeof(TensorObject) +
                       sbytes + inline_bytes;
    TensorObject *t;
#if FREE_MAX > 0
    if (extra <= SMALL_EXTRA && free_n > 0) {
        t = free_small[--free_n];
        PyTypeObject *was = Py_TYPE(t);
        /* a new reference to the type, refcount 1 (as GC_NewVar) */
        PyObject_InitVar((PyVarObject *)t, tg_st->tensor_type, SMALL_EXTRA);
        Py_DECREF(was);
    }
    else
#endif
    {
        t = PyObject_GC_NewVar(TensorObject, tg_st->tensor_type,
                               extra <= SMALL_EXTRA ? SMALL_EXTRA : extra);
    }
    if (t == NULL) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            PyErr_Clear();
            tensor_oom(dtype, ndim, shape);
        }
        return NULL;
    }
    t->id = ++next_id;
    t->dtype = dtype;
    t->ndim = ndim;
    t->from_variable = 0;
    t->all_ones = 0;
    t->size = size;
    t->shape = (Py_ssize_t *)((char *)t + TENSOR_HDR);
    if (ndim > 0) {
        memcpy(t->shape, shape, (size_t)ndim * sizeof(Py_ssize_t));
    }
    t->data = (char *)t->shape + sbytes;
    t->base = NULL;
    t->weakreflist = NULL;
    tg_live_tensors++;
    return t;
}

/* Tensors of ALIGN_MIN bytes or more: padded to a 64-byte boundary, or
 * their bytes in a cached block (kept off the small tensors' path) */
static TensorObject *
tensor_alloc_big(int dtype, int ndim, const Py_ssize_t *shape,
                 Py_ssize_t size, Py_ssize_t nbytes)
{
    TensorObject *t;
    block blk;
    if ((size_t)nbytes < BLOCK_MIN) {
        t = tensor_obj(dtype, ndim, shape, size, nbytes + ALIGN_PAD);
        if (t != NULL) {
            t->data = align_up(t->data);
        }
        return t;
    }
    if (block_get((size_t)nbytes, &blk) < 0) {
        tensor_oom(dtype, ndim, shape);
        return NULL;
    }
    t = tensor_obj(dtype, ndim, shape, size, sizeof(block));
    if (t == NULL) {
        block_put(blk);
        return NULL;
    }
    memcpy(t->data, &blk, sizeof(blk)); /* inline: the block's record */
    t->data = align_up(blk.raw);
    return t;
}

static TensorObject *
tensor_alloc(int dtype, int ndim, const Py_ssize_t *shape, Py_ssize_t nbytes)
{
    Py_ssize_t size = 1;
    if (ndim > 0 && tg_shape_size(ndim, shape, &size) < 0) {
        return NULL;
    }
    if (nbytes < 0) {
        if (__builtin_mul_overflow(size, (Py_ssize_t)tg_dtype_size[dtype],
                                   &nbytes) ||
            nbytes > PY_SSIZE_T_MAX / 2) {
            tensor_oom(dtype, ndim, shape);
            return NULL;
        }
    }
    if (nbytes >= ALIGN_MIN) {
        return tensor_alloc_big(dtype, ndim, shape, size, nbytes);
    }
    return tensor_obj(dtype, ndim, shape, size, nbytes);
}

TensorObject *
tg_tensor_new(int dtype, int ndim, const Py_ssize_t *shape)
{
    return tensor_alloc(dtype, ndim, shape, -1);
}

/* ---- temporary elision ----------------------------------------------------
 * In `sin(x) * x + x**2` the add's operands are temporaries: nothing but
 * the interpreter's stack refers to them, and they die as soon as the add
 * returns.  Like NumPy for its arrays, the add then computes in place, in
 * one operand's block, instead of writing a third 4 MB buffer (1e6
 * float32: the forward's add went from a cold destination to a warm one).
 *
 * An operand is donated (tg_elide_donor, set by the operator slots below
 * and read by tg_binary_forward) only when all of these hold:
 *   - it is a Tensor owning a block of ELIDE_MIN bytes or more (not a
 *     view) and only one reference exists: the stack's.  No name, no tape
 *     saved it, no view or .numpy() array shares its bytes, no weak
 *     reference.
 *   - the slot was called by the interpreter's binary operator: the
 *     running frame is executing BINARY_OP, and the C stack from the slot
 *     up to the interpreter's loop (_PyEval_EvalFrameDefault) is exactly
 *     one the interpreter's own operators give (learned once, see "the
 *     walks are learned" below; NumPy checks its own elision with a
 *     backtrace).  Then the one reference is the value stack's, dropped
 *     after the call.  A reference count of 1 alone is not enough: C code
 *     may call PyNumber_Add on an object it holds alone and use it
 *     afterwards (NumPy's loops over an object array of tensors, `objs +
 *     objs`, hold each element once; so does a method wrapper set as a
 *     class's `__add__`, and Cython code its temporaries).  Our own C code
 *     calls the ops directly, never through these slots.  Without glibc
 *     (dladdr, the unwinder), nothing is elided.
 *   - no forward accumulator is active (a jvp reads the op's inputs after
 *     the forward), and under a recording tape the op's row does not save
 *     that input (add and subtract save none; a saved input would be read
 *     by the gradient).  tg_binary_forward checks the shapes and dtype.
 * The result takes the block over and the donor becomes a view of the
 * result: the donor's bytes change, but nothing can see it before it dies.
 * A plain global, read and written with the GIL held: a forward takes it
 * only if it is one of the forward's own inputs. */
TensorObject *tg_elide_donor = NULL;
Py_ssize_t tg_elisions = 0;     /* results so made: tests read it */

/* Give `d`'s block to a new tensor of d's shape and dtype, *out.  1 done,
 * 0 if d owns no block to give (nothing changed), -1 on error. */
int
tg_tensor_take_block(TensorObject *d, TensorObject **out)
{
    TensorObject *t;
    if (!owns_block(d) || d->weakreflist != NULL) {
        return 0;
    }
    t = tensor_obj(d->dtype, d->ndim, d->shape, d->size, sizeof(block));
    if (t == NULL) {
        return -1;
    }
    memcpy(t->data, inline_start(d), sizeof(block)); /* the block's record */
    t->data = d->data;
    d->base = Py_NewRef(t);    /* d no longer owns it (owns_block) */
    d->all_ones = 0;           /* its bytes are about to change */
    *out = t;
    tg_elisions++;
    return 1;
}

/* Is the innermost Python frame executing BINARY_OP (see above)? */
static int
frame_at_binary_op(void)
{
    PyFrameObject *frame = PyThreadState_GetFrame(PyThreadState_Get());
    PyCodeObject *code;
    PyObject *bytes;
    int lasti, yes = 0;
    if (frame == NULL) {
        return 0;
    }
    code = PyFrame_GetCode(frame);
    lasti = PyFrame_GetLasti(frame);
    bytes = PyCode_GetCode(code);
    if (bytes == NULL) {
        PyErr_Clear();         /* only a missed elision */
    }
    else {
        yes = lasti >= 0 && lasti < PyBytes_GET_SIZE(bytes) &&
              (unsigned char)PyBytes_AS_STRING(bytes)[lasti] == BINARY_OP;
        Py_DECREF(bytes);
    }
    Py_DECREF(code);
    Py_DECREF(frame);
    return yes;
}

#if defined(__GLIBC__)
/* Return addresses already classified by dladdr (which searches a
 * library's whole symbol table): each path through CPython has a handful,
 * so a check is one stack walk (~1.5 us, paid only by an ELIDE_MIN
 * operand) and a few compares.  Written with the GIL held. */
enum { CALLER_OURS, CALLER_PYTHON, CALLER_EVAL, CALLER_OTHER };
#define KNOWN_CALLERS 64
static void *known_at[KNOWN_CALLERS];
static char known_kind[KNOWN_CALLERS];
static int known_n = 0;

static int
caller_kind(void *at)
{
    static Dl_info ours, python;
    static int ready = 0;
    Dl_info info;
    int kind;
    for (int i = 0; i < known_n; i++) {
        if (known_at[i] == at) {
            return known_kind[i];
        }
    }
    if (!ready) {
        if (!dladdr((void *)&tg_tensor_take_block, &ours) ||
            !dladdr((void *)&PyNumber_Add, &python)) {
            return CALLER_OTHER;
        }
        ready = 1;
    }
    if (!dladdr(at, &info)) {
        kind = CALLER_OTHER;
    }
    else if (info.dli_fbase == ours.dli_fbase) {
        kind = CALLER_OURS;
    }
    else if (info.dli_fbase != python.dli_fbase) {
        kind = CALLER_OTHER;
    }
    else {
        kind = info.dli_saddr == (void *)&_PyEval_EvalFrameDefault
                   ? CALLER_EVAL : CALLER_PYTHON;
    }
    if (known_n < KNOWN_CALLERS) {
        known_at[known_n] = at;
        known_kind[known_n++] = (char)kind;
    }
    return kind;
}

typedef struct {
    void **frames;
    int n, max;
} stack_walk;

static _Unwind_Reason_Code
walk_one(struct _Unwind_Context *ctx, void *arg)
{
    stack_walk *w = (stack_walk *)arg;
    if (w->n == w->max) {
        return _URC_END_OF_STACK;
    }
    w->frames[w->n++] = (void *)_Unwind_GetIP(ctx);
    return _URC_NO_REASON;
}

/* The frames from the first after ours up to the interpreter's loop
 * (inclusive) in walk[]; their number, 0 if the loop is not within
 * WALK_MAX frames or another library's code comes first. */
#define WALK_MAX 4

static int
walk_to_interpreter(void **walk)
{
    void *frames[12];
    stack_walk w = {frames, 0, 12};
    int i = 0, k = 0;
    _Unwind_Backtrace(walk_one, &w);
    while (i < w.n && caller_kind(frames[i]) == CALLER_OURS) {
        i++;
    }
    for (; i < w.n && k < WALK_MAX; i++) {
        int kind = caller_kind(frames[i]);
        if (kind != CALLER_PYTHON && kind != CALLER_EVAL) {
            return 0;
        }
        walk[k++] = frames[i];
        if (kind == CALLER_EVAL) {
            return k;
        }
    }
    return 0;
}

/* Counting frames cannot tell the interpreter's operator from CPython
 * code that calls a slot it holds: `__add__ = t.__add__` in a class body
 * makes `obj + 1.0` reach the slot through _PyObject_MakeTpCall,
 * slot_nb_add and PyNumber_Add, with t held only by the method wrapper.
 * So the walks are learned: the first time one is needed, a few lines of
 * operators (+ - * /, a tensor on either side, and their in-place forms)
 * run on small tensors, and the exact return addresses their slots see
 * are kept; a walk elides only when it is one of them. */
#define GOOD_WALKS 32
static void *good_walks[GOOD_WALKS][WALK_MAX];
static int good_n = 0;
static int walks_state = 0;        /* 0 not learned, 1 learning, 2 learned */
static PyThreadState *learner;     /* while learning: its thread, */
static PyObject *learning_code;    /* the code it runs, */
static PyObject *lesson_vars[3];   /* and its operands a, b, f */

static int
lesson_operand(PyObject *o)
{
    return o == lesson_vars[0] || o == lesson_vars[1] || o == lesson_vars[2];
}

/* In the slots, while learning: keep this walk if it is the lesson's own
 * operator (its thread, its code, its operands) */
static void
learn_walk(PyObject *a, PyObject *b)
{
    PyFrameObject *frame;
    PyCodeObject *code;
    void *walk[WALK_MAX] = {NULL};
    if (PyThreadState_Get() != learner || !lesson_operand(a) ||
        !lesson_operand(b) ||
        (frame = PyThreadState_GetFrame(learner)) == NULL) {
        return;
    }
    code = PyFrame_GetCode(frame);
    if ((PyObject *)code == learning_code &&
        walk_to_interpreter(walk) > 0 && good_n < GOOD_WALKS) {
        int seen = 0;
        for (int g = 0; g < good_n && !seen; g++) {
            seen = !memcmp(good_walks[g], walk, sizeof(walk));
        }
        if (!seen) {
            memcpy(good_walks[good_n++], walk, sizeof(walk));
        }
    }
    Py_DECREF(code);
    Py_DECREF(frame);
}

/* Run the lesson (see above): 0 learned, -1 not now (another thread is
 * learning, or memory ran out: the next large operand tries again), -2
 * with an exception to raise (the lesson's frame ran a signal handler:
 * Ctrl-C is the user's, raised by their operator). */
static int
learn_walks(void)
{
    static const char lesson[] =
        "a + b\na - b\na * b\na / b\n"
        "a + f\na - f\na * f\na / f\n"
        "f + a\nf - a\nf * a\nf / a\n"
        "c = a\nc += b\nc = a\nc -= b\nc = a\nc *= b\nc = a\nc /= b\n"
        "c = f\nc += a\nc = f\nc -= a\nc = f\nc *= a\nc = f\nc /= a\n";
    PyObject *globals = NULL, *a = NULL, *b = NULL, *f = NULL, *r = NULL;
    if (walks_state != 0) {
        return walks_state == 2 ? 0 : -1;   /* another thread is learning */
    }
    globals = PyDict_New();
    a = (PyObject *)tg_tensor_scalar(TG_FLOAT32, 1.5);
    b = (PyObject *)tg_tensor_scalar(TG_FLOAT32, 2.5);
    f = PyFloat_FromDouble(2.0);
    learning_code = Py_CompileString(lesson, "<tapegrad elision walks>",
                                     Py_file_input);
    if (globals && a && b && f && learning_code &&
        PyDict_SetItemString(globals, "a", a) == 0 &&
        PyDict_SetItemString(globals, "b", b) == 0 &&
        PyDict_SetItemString(globals, "f", f) == 0 &&
        PyDict_SetItemString(globals, "__builtins__",
                             PyEval_GetBuiltins()) == 0) {
        walks_state = 1;
        learner = PyThreadState_Get();
        lesson_vars[0] = a;
        lesson_vars[1] = b;
        lesson_vars[2] = f;
        /* unseen by trace and profile functions: a debugger would step
         * into it, and a tracer could change what it runs */
        PyThreadState_EnterTracing(learner);
        r = PyEval_EvalCode(learning_code, globals, NULL);
        PyThreadState_LeaveTracing(learner);
        learner = NULL;
        lesson_vars[0] = lesson_vars[1] = lesson_vars[2] = NULL;
    }
    /* learned if the lesson ran; if it could not for memory (or the
     * recursion limit), the next large operand tries again, eliding
     * nothing until then */
    walks_state = r != NULL ? 2 : 0;
    if (r == NULL) {
        good_n = 0;
        if (PyErr_ExceptionMatches(PyExc_MemoryError) ||
            PyErr_ExceptionMatches(PyExc_RecursionError)) {
            PyErr_Clear();
        }
    }
    Py_XDECREF(r);
    Py_CLEAR(learning_code);
    Py_XDECREF(globals);
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(f);
    return walks_state == 2 ? 0 : PyErr_Occurred() ? -2 : -1;
}

/* The slot was called by the interpreter's binary operator: a learned
 * walk, exactly.  1 yes, 0 no, -1 with an exception (learn_walks) */
static int
called_by_interpreter(void)
{
    void *walk[WALK_MAX] = {NULL};
    if (walks_state != 2) {
        int rc = learn_walks();
        if (rc < 0) {
            return rc == -2 ? -1 : 0;
        }
    }
    if (walk_to_interpreter(walk) == 0) {
        return 0;
    }
    for (int g = 0; g < good_n; g++) {
        if (!memcmp(good_walks[g], walk, sizeof(walk))) {
            return 1;
        }
    }
    return 0;
}
#else
static void
learn_walk(PyObject *a, PyObject *b)
{
    (void)a;
    (void)b;
}

static int
called_by_interpreter(void)
{
    return 0;
}

static int walks_state = 0;
#endif

/* 1 yes, 0 no, -1 with an exception */
static int
in_binary_operator(void)
{
    return frame_at_binary_op() ? called_by_interpreter() : 0;
}

/* An operand the operator slots may donate (the cheap tests first: a
 * small tensor pays two compares).  From ELIDE_MIN bytes: the check's
 * stack walk costs ~1.5 us, more than elision saved on 256 KB (exp(x) + 1
 * at 64K float32: 33.6 -> 35.0 us) and less than it saves on 512 KB (128K:
 * 74.2 -> 70.5 us; 1M: 869 -> 706 us). */
#define ELIDE_MIN ((Py_ssize_t)512 * 1024)

static int
donatable(PyObject *o)
{
    TensorObject *t = (TensorObject *)o;
    return Py_REFCNT(o) == 1 && Py_IS_TYPE(o, tg_st->tensor_type) &&
           t->size * tg_dtype_size[t->dtype] >= ELIDE_MIN && owns_block(t) &&
           t->weakreflist == NULL && tg_num_accumulating == 0;
}

/* A tensor that shares `src`'s bytes with another shape (same size) and,
 * if `id` != 0, a chosen id (a Variable's handle). */
TensorObject *
tg_tensor_view(TensorObject *src, int ndim, const Py_ssize_t *shape,
               int64_t id)
{
    TensorObject *t = tg_tensor_external(
        src->dtype, ndim, shape, src->data,
        src->base ? src->base : (PyObject *)src);
    if (t != NULL) {
        t->all_ones = src->all_ones;   /* same bytes */
        if (id != 0) {
            t->id = id;
        }
    }
    return t;
}

/* A tensor over bytes `base` keeps alive (a new reference is taken): a
 * Tensor, an ndarray, or an imported DLPack buffer (dlpack.c).  The bytes
 * must be C-contiguous, aligned and native-endian; `data` may be NULL for
 * an empty tensor (DLPack's convention). */
TensorObject *
tg_tensor_external(int dtype, int ndim, const Py_ssize_t *shape, char *data,
                   PyObject *base)
{
    TensorObject *t = tensor_alloc(dtype, ndim, shape, 0);
    if (t == NULL) {
        return NULL;
    }
    if (data != NULL) {
        t->data = data;
    }
    t->base = Py_NewRef(base);
    return t;
}

TensorObject *
tg_tensor_scalar(int dtype, double v)
{
    TensorObject *t = tg_tensor_new(dtype, 0, NULL);
    if (t == NULL) {
        return NULL;
    }
    switch (dtype) {
        case TG_FLOAT16: *(npy_half *)t->data = npy_double_to_half(v); break;
        case TG_FLOAT32: *(float *)t->data = (float)v; break;
        case TG_FLOAT64: *(double *)t->data = v; break;
        case TG_BOOL: *(npy_bool *)t->data = v != 0; break;
        default: {
            /* integers: through int64 so that a negative value wraps into
             * an unsigned dtype as a C cast from a signed type does */
            int64_t x = (int64_t)v;
            switch (dtype) {
                case TG_INT8: *(int8_t *)t->data = (int8_t)x; break;
                case TG_INT16: *(int16_t *)t->data = (int16_t)x; break;
                case TG_INT32: *(int32_t *)t->data = (int32_t)x; break;
                case TG_UINT8: *(uint8_t *)t->data = (uint8_t)x; break;
                case TG_UINT16: *(uint16_t *)t->data = (uint16_t)x; break;
                case TG_UINT32: *(uint32_t *)t->data = (uint32_t)x; break;
                case TG_UINT64: *(uint64_t *)t->data = (uint64_t)x; break;
                default: *(int64_t *)t->data = x; break;
            }
        }
    }
    return t;
}

/* ---- Python float constants of the arithmetic ops ------------------------
 * `y * x + 1.0` converts 1.0 to a tensor at every step.  tg_call takes the
 * Python floats of add, subtract, multiply and divide from this cache: a
 * scalar per (dtype, bits) made once.  Those ops never return a view of
 * an input of another shape or a rank-0 input, so a cached tensor is never
 * handed to the user, and nothing writes into it (tapes and rules write
 * only into tensors they alone hold; the cache holds one reference).  Like
 * the other caches it is not counted by _live_counts. */
#define CONST_SLOTS 16
static struct {
    uint64_t bits;
    TensorObject *t;           /* rank 0, or NULL */
} const_cache[CONST_SLOTS];

TensorObject *
tg_constant_scalar(int dtype, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    int slot = (int)(((bits ^ (uint64_t)dtype) * 0x9E3779B97F4A7C15ull) >> 60);
    TensorObject *c = const_cache[slot].t;
    if (c != NULL && c->dtype == dtype && const_cache[slot].bits == bits) {
        return (TensorObject *)Py_NewRef(c);
    }
    TensorObject *t = tg_tensor_scalar(dtype, v);
    if (t != NULL && !cache_closed) {
        if (c != NULL) {
            tg_live_tensors++;
            Py_DECREF(c);
        }
        const_cache[slot].t = (TensorObject *)Py_NewRef(t);
        const_cache[slot].bits = bits;
        tg_live_tensors--;
    }
    return t;
}

static void
const_cache_clear(void)
{
    for (int i = 0; i < CONST_SLOTS; i++) {
        if (const_cache[i].t != NULL) {
            tg_live_tensors++;
            Py_CLEAR(const_cache[i].t);
        }
    }
}

/* Adopt a NumPy result.  out_dtype -1 keeps the array's dtype.  A fresh,
 * well-behaved array of the right dtype is held as `base` (no copy);
 * anything else is copied into a new tensor. */
TensorObject *
tg_tensor_from_array(PyArrayObject *arr, int out_dtype)
{
    int dt = tg_dtype_from_npy(PyArray_TYPE(arr));
    int ndim = PyArray_NDIM(arr);
    TensorObject *t;
    if (out_dtype < 0) {
        if (dt < 0) {
            PyErr_Format(PyExc_TypeError,
                         "tapegrad does not support NumPy dtype %R",
                         (PyObject *)PyArray_DESCR(arr));
            return NULL;
        }
        out_dtype = dt;
    }
    if (ndim > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "tapegrad supports at most %d dimensions, got %d",
                     TG_MAXDIMS, ndim);
        return NULL;
    }
    if (dt == out_dtype && PyArray_ISCARRAY_RO(arr) &&
        PyArray_ISNOTSWAPPED(arr) && PyArray_SIZE(arr) > 64) {
        /* Hold the array's ultimate owner, not the array: a view of a
         * tensor (a slice) then points at that tensor's root, so chains of
         * slices stay flat (no deep dealloc recursion, no intermediates
         * kept alive). */
        PyObject *owner = (PyObject *)arr;
        while (PyArray_Check(owner) &&
               PyArray_BASE((PyArrayObject *)owner) != NULL) {
            owner = PyArray_BASE((PyArrayObject *)owner);
        }
        if (Tensor_Check(owner) && ((TensorObject *)owner)->base != NULL) {
            owner = ((TensorObject *)owner)->base;
        }
        if (!PyArray_Check(owner) && !Tensor_Check(owner)) {
            owner = (PyObject *)arr; /* some other buffer: keep the view */
        }
        t = tensor_alloc(out_dtype, ndim, PyArray_SHAPE(arr), 0);
        if (t == NULL) {
            return NULL;
        }
        if (owner == (PyObject *)arr) {
            PyArray_CLEARFLAGS(arr, NPY_ARRAY_WRITEABLE);
        }
        t->data = PyArray_BYTES(arr);
        t->base = Py_NewRef(owner);
        return t;
    }
    t = tg_tensor_new(out_dtype, ndim, PyArray_SHAPE(arr));
    if (t == NULL) {
        return NULL;
    }
    if (t->size > 0) {
        PyObject *dst = tg_tensor_as_array(t);
        if (dst == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyArray_ENABLEFLAGS((PyArrayObject *)dst, NPY_ARRAY_WRITEABLE);
        int rc = tg_copy_into((PyArrayObject *)dst, arr);
        Py_DECREF(dst);
        if (rc < 0) {
            Py_DECREF(t);
            return NULL;
        }
    }
    return t;
}

/* A read-only ndarray viewing the tensor's bytes; it keeps `t` alive. */
PyObject *
tg_tensor_as_array(TensorObject *t)
{
    PyArray_Descr *descr = PyArray_DescrFromType(tg_dtype_npy[t->dtype]);
    if (descr == NULL) {
        return NULL;
    }
    PyObject *arr = PyArray_NewFromDescr(
        &PyArray_Type, descr, t->ndim, t->shape, NULL, t->data,
        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, NULL);
    if (arr == NULL) {
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, Py_NewRef(t)) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* a new tuple (or TensorShape) of `ndim` items, filled with the dims as
 * ints; steals `tup`, NULL on failure */
static PyObject *
shape_fill(PyObject *tup, int ndim, const Py_ssize_t *shape)
{
    for (int i = 0; tup != NULL && i < ndim; i++) {
        PyObject *d = PyLong_FromSsize_t(shape[i]);
        if (d == NULL) {
            Py_CLEAR(tup);
            break;
        }
        PyTuple_SET_ITEM(tup, i, d);
    }
    return tup;
}

PyObject *
tg_shape_tuple(int ndim, const Py_ssize_t *shape)
{
    return shape_fill(PyTuple_New(ndim), ndim, shape);
}

/* TF's shape spelling in messages: [2,3] */
PyObject *
tg_shape_str(int ndim, const Py_ssize_t *shape)
{
    char buf[TG_MAXDIMS * 22 + 3];
    size_t n = 0;
    buf[n++] = '[';
    for (int i = 0; i < ndim && i < TG_MAXDIMS; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, i ? ",%zd" : "%zd",
                              shape[i]);
    }
    buf[n++] = ']';
    buf[n] = '\0';
    return PyUnicode_FromString(buf);
}

/* ---- type slots ----------------------------------------------------------- */

static int
tensor_traverse(TensorObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->base);
    return 0;
}

static int
tensor_clear(TensorObject *self)
{
    if (self->base != NULL) {
        /* a view's data dies with its base: never mistake it for an
         * owned block once base is NULL */
        self->data = inline_start(self);
        Py_CLEAR(self->base);
    }
    return 0;
}

static void
tensor_dealloc(TensorObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    if (tg_num_live_accumulators > 0) {
        tg_forward_forget(self->id);  /* TF: a JVP dies with its primal */
    }
    if (tg_num_variable_slices > 0) {
        tg_variable_slice_forget(self->id);
    }
    /* A chain of views (reshape of reshape of ...) is flat: views always
     * point at the root owner, so this never recurses deeply. */
    if (owns_block(self)) {
        block b;
        memcpy(&b, inline_start(self), sizeof(b));
        block_put(b);
    }
    Py_CLEAR(self->base);
    tg_live_tensors--;
#if FREE_MAX > 0
    if (Py_SIZE(self) == SMALL_EXTRA && free_n < FREE_MAX && !cache_closed) {
        free_small[free_n++] = self;   /* keeps its type reference */
        return;
    }
#endif
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

/* the value as NumPy sees it (rank 0: a NumPy scalar) */
static PyObject *
tensor_value(TensorObject *self)
{
    PyObject *arr = tg_tensor_as_array(self);
    if (arr == NULL || self->ndim > 0) {
        return arr;
    }
    return PyArray_Return((PyArrayObject *)arr);
}

/* the conversions that take a value out of tapegrad: a tape tracking
 * the tensor notes where (tape.explain's "the path left tapegrad") */
static PyObject *
tensor_numpy(TensorObject *self, PyObject *Py_UNUSED(ignored))
{
    if (tg_explain_escape(self, ".numpy()") < 0) {
        return NULL;
    }
    return tensor_value(self);
}

static PyObject *
tensor_array(TensorObject *self, PyObject *args, PyObject *kw)
{
    /* NumPy 2's protocol: copy=None copies only if it must (a new dtype),
     * True always, False never (ValueError if it would have to) */
    static char *kwlist[] = {"dtype", "copy", NULL};
    PyObject *dtype = Py_None, *copy = Py_None, *arr;
    PyArray_Descr *d = NULL;
    int want_copy = -1, cast;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:__array__", kwlist,
                                     &dtype, &copy)) {
        return NULL;
    }
    if (copy != Py_None && (want_copy = PyObject_IsTrue(copy)) < 0) {
        return NULL;
    }
    if (dtype != Py_None && !PyArray_DescrConverter(dtype, &d)) {
        return NULL;
    }
    if (tg_explain_escape(self, "np.asarray() or a NumPy function "
                                "(__array__)") < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    arr = tg_tensor_as_array(self);
    if (arr == NULL) {
        Py_XDECREF(d);
        return NULL;
    }
    cast = d != NULL && !PyArray_EquivTypes(d, PyArray_DESCR(
                                                   (PyArrayObject *)arr));
    if (cast && want_copy == 0) {
        Py_XDECREF(d);
        Py_DECREF(arr);
        PyErr_SetString(PyExc_ValueError,
                        "Tensor.__array__: unable to avoid a copy while "
                        "converting to the requested dtype");
        return NULL;
    }
    if (cast || want_copy == 1) {
        if (d == NULL) {
            d = PyArray_DESCR((PyArrayObject *)arr);
            Py_INCREF(d);
        }
        /* steals d */
        Py_SETREF(arr, (PyObject *)PyArray_CastToType((PyArrayObject *)arr, d,
                                                      0));
        return arr;
    }
    Py_XDECREF(d);
    return arr;
}

/* A Variable's numpy() and __array__ read its value through these: a
 * direct call, where looking the method up by a fresh name string costs
 * an allocation and leaves the string in CPython's type attribute cache
 * (3.11 keys it by the string's address and keeps a reference) */
PyObject *
tg_tensor_numpy(TensorObject *t)
{
    return tensor_numpy(t, NULL);
}

PyObject *
tg_tensor_array(TensorObject *t, PyObject *args, PyObject *kw)
{
    return tensor_array(t, args, kw);
}

/* TF's numpy_text: str() or repr() of the value; rank 0 uses str() of the
 * NumPy scalar in both (shortest round trip: 0.9999546, not np.float32(..));
 * multi-line text starts on a new line. */
PyObject *
tg_numpy_text(TensorObject *self, int is_repr)
{
    PyObject *v = tensor_value(self), *text;
    if (v == NULL) {
        return NULL;
    }
    text = (is_repr && self->ndim > 0) ? PyObject_Repr(v) : PyObject_Str(v);
    Py_DECREF(v);
    if (text != NULL && PyUnicode_FindChar(text, '\n', 0,
                                           PyUnicode_GET_LENGTH(text), 1) >= 0) {
        Py_SETREF(text, PyUnicode_FromFormat("\n%U", text));
    }
    return text;
}

static PyObject *
tensor_str(TensorObject *self)
{
    PyObject *text = tg_numpy_text(self, 0), *shape = NULL, *r = NULL;
    if (text && (shape = tg_shape_tuple(self->ndim, self->shape))) {
        r = PyUnicode_FromFormat("tapegrad.Tensor(%U, shape=%R, dtype=%s)",
                                 text, shape, tg_dtype_names[self->dtype]);
    }
    Py_XDECREF(text);
    Py_XDECREF(shape);
    return r;
}

static PyObject *
tensor_repr(TensorObject *self)
{
    PyObject *text = tg_numpy_text(self, 1), *shape = NULL, *r = NULL;
    if (text && (shape = tg_shape_tuple(self->ndim, self->shape))) {
        r = PyUnicode_FromFormat(
            "<tapegrad.Tensor: shape=%R, dtype=%s, numpy=%U>", shape,
            tg_dtype_names[self->dtype], text);
    }
    Py_XDECREF(text);
    Py_XDECREF(shape);
    return r;
}

/* f"{t:.3f}" formats the NumPy value, as TF does.  The spec is checked
 * first: PyObject_Format calls a non-str spec a SystemError. */
int
tg_check_format_spec(const char *type, PyObject *spec)
{
    if (!PyUnicode_Check(spec)) {
        PyErr_Format(PyExc_TypeError,
                     "%s.__format__() argument must be str, not %.100s",
                     type, Py_TYPE(spec)->tp_name);
        return -1;
    }
    return 0;
}

static PyObject *
tensor_format(TensorObject *self, PyObject *spec)
{
    PyObject *v, *r;
    if (tg_check_format_spec("Tensor", spec) < 0 ||
        (v = tensor_value(self)) == NULL) {
        return NULL;
    }
    r = PyObject_Format(v, spec);
    Py_DECREF(v);
    return r;
}

static Py_hash_t
tensor_hash(PyObject *Py_UNUSED(self))
{
    PyErr_SetString(PyExc_TypeError,
                    "Tensor is unhashable. Instead, use tensor.ref() as "
                    "the key.");
    return -1;
}

/* What `.shape` returns: a TensorShape (tapegrad/_shape.py, a tuple
 * subclass with __slots__ = ()), built here as a tuple is, without a
 * Python-level call: shape access sits in users' inner loops.  A plain
 * tuple until the package registers the class. */
PyObject *tg_shape_type = NULL;

PyObject *
tg_shape_object(int ndim, const Py_ssize_t *shape)
{
    PyTypeObject *tp = (PyTypeObject *)tg_shape_type;
    if (tp == NULL) {
        return tg_shape_tuple(ndim, shape);
    }
    return shape_fill(tp->tp_alloc(tp, ndim), ndim, shape);
}

static PyObject *
tensor_get_shape(TensorObject *self, void *Py_UNUSED(c))
{
    return tg_shape_object(self->ndim, self->shape);
}

static PyObject *
tensor_get_dtype(TensorObject *self, void *Py_UNUSED(c))
{
    return Py_NewRef(tg_dtype_obj(self->dtype));
}

static PyObject *
tensor_get_ndim(TensorObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromLong(self->ndim);
}

/* TF's full name of the host CPU, which is where every tapegrad tensor and
 * variable lives; tf.device() scopes accept any name and change nothing. */
PyObject *
tg_device_name(void)
{
    return PyUnicode_FromString(
        "/job:localhost/replica:0/task:0/device:CPU:0");
}

static PyObject *
tensor_get_device(PyObject *Py_UNUSED(self), void *Py_UNUSED(c))
{
    return tg_device_name();
}

static PyObject *
tensor_get_priority(PyObject *Py_UNUSED(self), void *Py_UNUSED(c))
{
    /* Makes `ndarray + tensor` defer to Tensor.__radd__ (NumPy's legacy
     * binop rule), while np.sin(tensor) still converts via __array__. */
    return PyFloat_FromDouble(100.0);
}

static PyObject *
tensor_get_id(TensorObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromLongLong(self->id);
}

static PyObject *
tensor_get_from_variable(TensorObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromLong(self->from_variable);
}

/* ---- scalar conversions ------------------------------------------------- */

#define SCALAR_SLOT(NAME, CALL, HOW)                                       \
    static PyObject *NAME(PyObject *self)                                  \
    {                                                                      \
        PyObject *v, *r;                                                   \
        if (tg_explain_escape((TensorObject *)self, HOW) < 0) {            \
            return NULL;                                                   \
        }                                                                  \
        v = tensor_value((TensorObject *)self);                            \
        if (v == NULL) {                                                   \
            return NULL;                                                   \
        }                                                                  \
        r = CALL(v);                                                       \
        Py_DECREF(v);                                                      \
        return r;                                                          \
    }
SCALAR_SLOT(tensor_float, PyNumber_Float, "float()")
SCALAR_SLOT(tensor_int, PyNumber_Long, "int()")
SCALAR_SLOT(tensor_index, PyNumber_Index, "use as an index")
#undef SCALAR_SLOT

static int
tensor_bool(PyObject *self)
{
    PyObject *v = tensor_value((TensorObject *)self);
    int r;
    if (v == NULL) {
        return -1;
    }
    r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

static Py_ssize_t
tensor_length(TensorObject *self)
{
    if (self->ndim == 0) {
        PyErr_SetString(PyExc_TypeError, "Scalar tensor has no `len()`");
        return -1;
    }
    return self->shape[0];
}

/* ---- indexing: recorded through the getitem row ------------------------- */

/* Normalise a user key to a tuple of ints, slices of ints, Ellipsis and
 * None, as TF's strided slice accepts.  Scalar int tensors become ints. */
static PyObject *
index_part(PyObject *k)
{
    if (k == Py_None || k == Py_Ellipsis) {
        return Py_NewRef(k);
    }
    if (PySlice_Check(k)) {
        PySliceObject *s = (PySliceObject *)k;
        PyObject *p[3] = {s->start, s->stop, s->step}, *q[3] = {0, 0, 0};
        PyObject *r = NULL;
        for (int i = 0; i < 3; i++) {
            if (p[i] == Py_None || PyLong_CheckExact(p[i])) {
                q[i] = Py_NewRef(p[i]);  /* bounds past int64 clamp */
            }
            else if ((q[i] = index_part(p[i])) == NULL) {
                goto slice_done;
            }
            else if (!PyLong_Check(q[i])) {
                PyErr_Format(PyExc_TypeError,
                             "slice indices must be integers or None, got %R",
                             p[i]);
                goto slice_done;
            }
        }
        r = PySlice_New(q[0], q[1], q[2]);
    slice_done:
        for (int i = 0; i < 3; i++) {
            Py_XDECREF(q[i]);
        }
        return r;
    }
    if ((PyLong_Check(k) && !PyBool_Check(k)) ||
        (Tensor_Check(k) && ((TensorObject *)k)->ndim == 0 &&
         (((TensorObject *)k)->dtype == TG_INT32 ||
          ((TensorObject *)k)->dtype == TG_INT64)) ||
        PyArray_IsScalar(k, Integer)) {
        /* ints past int64 and NumPy's timedelta64 (an "integer") are
         * refused there, with the op's name */
        Py_ssize_t v;
        return tg_int_scalar("StridedSlice", "key", k, &v) < 0
                   ? NULL
                   : PyLong_FromSsize_t(v);
    }
    PyErr_Format(PyExc_TypeError,
                 "Only integers, slices (`:`), ellipsis (`...`), "
                 "tapegrad.newaxis (`None`) and scalar tapegrad.int32/"
                 "tapegrad.int64 tensors are valid indices, got %R", k);
    return NULL;
}

PyObject *
tg_normalize_key(PyObject *key)
{
    PyObject *items = PyTuple_Check(key) ? Py_NewRef(key)
                                         : PyTuple_Pack(1, key);
    PyObject *out = NULL;
    if (items == NULL) {
        return NULL;
    }
    out = PyTuple_New(PyTuple_GET_SIZE(items));
    if (out == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); i++) {
        PyObject *p = index_part(PyTuple_GET_ITEM(items, i));
        if (p == NULL) {
            goto error;
        }
        PyTuple_SET_ITEM(out, i, p);
    }
    Py_DECREF(items);
    return out;
error:
    Py_DECREF(items);
    Py_XDECREF(out);
    return NULL;
}

PyObject *
tg_tensor_getitem(PyObject *self, PyObject *key)
{
    PyObject *attrs, *r;
    attrs = PyTuple_Pack(1, key);
    if (attrs == NULL) {
        return NULL;
    }
    r = tg_call(TG_OP_getitem, 1, &self, attrs);
    Py_DECREF(attrs);
    return r;
}

static PyObject *
tensor_iter(PyObject *self)
{
    TensorObject *t = (TensorObject *)self;
    PyObject *list, *it;
    if (t->ndim == 0) {
        PyErr_SetString(PyExc_TypeError,
                        "Cannot iterate over a scalar tensor.");
        return NULL;
    }
    list = PyList_New(t->shape[0]);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < t->shape[0]; i++) {
        PyObject *idx = PyLong_FromSsize_t(i);
        PyObject *item = idx ? tg_tensor_getitem(self, idx) : NULL;
        Py_XDECREF(idx);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    it = PyObject_GetIter(list);
    Py_DECREF(list);
    return it;
}

/* ---- operators: every one is a row of the op table ------------------------ */

/* Binary slots get (a, b) with our object on either side.  An operand we
 * cannot convert makes the slot return NotImplemented, so Python can try
 * the other side and finally raise its own TypeError. */
int
tg_convertible(PyObject *o)
{
    return Tensor_Check(o) || Variable_Check(o) || PyFloat_Check(o) ||
           PyLong_Check(o) || PyList_Check(o) || PyTuple_Check(o) ||
           PyArray_Check(o) || PyArray_IsScalar(o, Generic);
}

static PyObject *
binary(int op, PyObject *a, PyObject *b)
{
    if (!tg_convertible(a) || !tg_convertible(b)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *args[2] = {a, b};
    return tg_call(op, 2, args, NULL);
}

/* + - * /: an operand the interpreter alone holds may give the result its
 * block (see "temporary elision") */
static PyObject *
arithmetic(int op, PyObject *a, PyObject *b)
{
    PyObject *r;
    int da, db, at;
    if (walks_state == 1) {
        learn_walk(a, b);      /* tapegrad is learning its operators */
    }
    da = donatable(a);
    db = !da && donatable(b);
    if (!(da || db) || !tg_convertible(a) || !tg_convertible(b)) {
        return binary(op, a, b);
    }
    if ((at = in_binary_operator()) <= 0) {
        return at < 0 ? NULL : binary(op, a, b);
    }
    tg_elide_donor = (TensorObject *)(da ? a : b);
    r = binary(op, a, b);
    tg_elide_donor = NULL;
    return r;
}

/* tg_nb_NAME(a, b): HOW(OP, a, b), arithmetic or binary */
#define BINARY_SLOT(NAME, HOW, OP)                            \
    PyObject *tg_nb_##NAME(PyObject *a, PyObject *b)          \
    {                                                         \
        return HOW(OP, a, b);                                 \
    }
BINARY_SLOT(add, arithmetic, TG_OP_add)
BINARY_SLOT(subtract, arithmetic, TG_OP_subtract)
BINARY_SLOT(multiply, arithmetic, TG_OP_multiply)
BINARY_SLOT(true_divide, arithmetic, TG_OP_divide)
BINARY_SLOT(matmul, binary, TG_OP_matmul)
BINARY_SLOT(floor_divide, binary, TG_OP_floordiv)
BINARY_SLOT(remainder, binary, TG_OP_floormod)
BINARY_SLOT(and, binary, TG_OP_logical_and)
BINARY_SLOT(or, binary, TG_OP_logical_or)
#undef BINARY_SLOT

PyObject *
tg_nb_power(PyObject *a, PyObject *b, PyObject *mod)
{
    if (mod != Py_None) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    return binary(TG_OP_pow, a, b);
}

PyObject *
tg_nb_negative(PyObject *a)
{
    return tg_call(TG_OP_negative, 1, &a, NULL);
}

PyObject *
tg_nb_absolute(PyObject *a)
{
    return tg_call(TG_OP_abs, 1, &a, NULL);
}

PyObject *
tg_nb_invert(PyObject *a)
{
    return tg_call(TG_OP_logical_not, 1, &a, NULL); /* TF: bool tensors */
}

PyObject *
tg_richcompare(PyObject *a, PyObject *b, int cmp)
{
    static const int ops[] = {TG_OP_less, TG_OP_less_equal, TG_OP_equal,
                              TG_OP_not_equal, TG_OP_greater,
                              TG_OP_greater_equal};
    if (b == Py_None && (cmp == Py_EQ || cmp == Py_NE)) {
        return PyBool_FromLong(cmp == Py_NE);
    }
    return binary(ops[cmp], a, b);
}

/* ---- the type -------------------------------------------------------------- */

static PyObject *
tensor_copy(PyObject *self, PyObject *Py_UNUSED(args))
{
    return Py_NewRef(self); /* immutable: a copy is the tensor itself */
}

/* A __reduce__ value: (the helper registered as `helper`, (t's value as
 * a NumPy array, *extra)); `extra` is a tuple or NULL.  The array carries
 * the dtype and shape (0-d and empty too), never the tape id, so what is
 * rebuilt is new and unwatched and no tape comes along. */
PyObject *
tg_reduce_value(const char *helper, TensorObject *t, PyObject *extra)
{
    PyObject *fn = tg_helper(helper);   /* borrowed */
    PyObject *arr = NULL, *head = NULL, *args = NULL, *r = NULL;
    if (fn == NULL) {
        goto done;
    }
    arr = tg_tensor_as_array(t);
    if (arr == NULL) {
        goto done;
    }
    head = PyTuple_Pack(1, arr);
    if (head == NULL) {
        goto done;
    }
    args = extra ? PySequence_Concat(head, extra) : Py_NewRef(head);
    if (args == NULL) {
        goto done;
    }
    r = PyTuple_Pack(2, fn, args);
done:
    Py_XDECREF(arr);
    Py_XDECREF(head);
    Py_XDECREF(args);
    return r;
}

/* pickle: convert_to_tensor(array), TF's reduction of an eager tensor */
static PyObject *
tensor_reduce(TensorObject *self, PyObject *Py_UNUSED(ignored))
{
    return tg_reduce_value("convert_to_tensor", self, NULL);
}

/* ref(): a hashable Reference to this object (tapegrad/_variables.py) */
PyObject *
tg_make_ref(PyObject *self)
{
    PyObject *cls = tg_helper("Reference");
    return cls ? PyObject_CallOneArg(cls, self) : NULL;
}

static PyObject *
tensor_ref(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return tg_make_ref(self);
}

/* assign / assign_add / assign_sub of a tensor that is a slice of a
 * Variable (`v[0].assign(5.0)`); other tensors have nothing to assign */
static PyObject *
slice_assign(TensorObject *self, PyObject *args, PyObject *kw,
             const char *op)
{
    static char *kwlist[] = {"value", "use_locking", "name", "read_value",
                             NULL};
    PyObject *value, *lock = Py_None, *name = Py_None, *read = Py_True;
    PyObject *entry, *fn, *r;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOO", kwlist, &value,
                                     &lock, &name, &read)) {
        return NULL;
    }
    entry = tg_variable_slice_of(self);
    if (entry == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_AttributeError,
                         "'tapegrad.Tensor' object has no attribute '%s': "
                         "only the slices of a Variable (v[0], v[1:, ::2]) "
                         "can be assigned to", op);
        }
        return NULL;
    }
    fn = tg_helper("slice_assign");
    r = fn ? PyObject_CallFunction(fn, "OOOsO", PyTuple_GET_ITEM(entry, 0),
                                   PyTuple_GET_ITEM(entry, 1), value, op,
                                   read)
           : NULL;
    Py_DECREF(entry);
    return r;
}

static PyObject *
tensor_assign(TensorObject *self, PyObject *args, PyObject *kw)
{
    return slice_assign(self, args, kw, "assign");
}

static PyObject *
tensor_assign_add(TensorObject *self, PyObject *args, PyObject *kw)
{
    return slice_assign(self, args, kw, "assign_add");
}

static PyObject *
tensor_assign_sub(TensorObject *self, PyObject *args, PyObject *kw)
{
    return slice_assign(self, args, kw, "assign_sub");
}

static PyMethodDef tensor_methods[] = {
    {"ref", (PyCFunction)tensor_ref, METH_NOARGS,
     "ref($self, /)\n--\n\nA hashable reference to this tensor, usable as a "
     "dict or set key; deref() gives the tensor back."},
    {"assign", (PyCFunction)(void (*)(void))tensor_assign,
     METH_VARARGS | METH_KEYWORDS,
     "assign($self, /, value, use_locking=None, name=None, read_value=True)"
     "\n--\n\nOn a slice of a Variable (v[0], v[1:, ::2]): write `value` "
     "into that slice of the variable, in place; returns the variable."},
    {"assign_add", (PyCFunction)(void (*)(void))tensor_assign_add,
     METH_VARARGS | METH_KEYWORDS,
     "assign_add($self, /, value, use_locking=None, name=None, "
     "read_value=True)\n--\n\nOn a slice of a Variable: add to that slice."},
    {"assign_sub", (PyCFunction)(void (*)(void))tensor_assign_sub,
     METH_VARARGS | METH_KEYWORDS,
     "assign_sub($self, /, value, use_locking=None, name=None, "
     "read_value=True)\n--\n\nOn a slice of a Variable: subtract from "
     "that slice."},
    {"__reduce__", (PyCFunction)tensor_reduce, METH_NOARGS,
     "__reduce__($self, /)\n--\n\nPickle as convert_to_tensor(the value "
     "as a NumPy array)."},
    {"__copy__", (PyCFunction)tensor_copy, METH_NOARGS, NULL},
    {"__deepcopy__", (PyCFunction)tensor_copy, METH_O, NULL},
    {"numpy", (PyCFunction)tensor_numpy, METH_NOARGS,
     "numpy($self, /)\n--\n\nThe value as a read-only NumPy array (a NumPy "
     "scalar for rank 0), without a copy."},
    {"__array__", (PyCFunction)(void (*)(void))tensor_array,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"__format__", (PyCFunction)tensor_format, METH_O, NULL},
    TG_DLPACK_METHODS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef tensor_getset[] = {
    {"shape", (getter)tensor_get_shape, NULL,
     "The shape, a TensorShape (a tuple of ints with TF's API).", NULL},
    {"dtype", (getter)tensor_get_dtype, NULL, "The DType.", NULL},
    {"ndim", (getter)tensor_get_ndim, NULL, "The rank.", NULL},
    {"device", (getter)tensor_get_device, NULL,
     "The device's full name; always the host CPU.", NULL},
    {"_id", (getter)tensor_get_id, NULL, "Tape id (internal).", NULL},
    {"_from_variable", (getter)tensor_get_from_variable, NULL,
     "1: a Variable's value, 2: computed from one, 0: neither (internal: "
     "tape.explain).", NULL},
    {"__array_priority__", (getter)tensor_get_priority, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef tensor_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TensorObject, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot tensor_slots[] = {
    {Py_tp_dealloc, tensor_dealloc},
    {Py_tp_traverse, tensor_traverse},
    {Py_tp_clear, tensor_clear},
    {Py_tp_repr, tensor_repr},
    {Py_tp_str, tensor_str},
    {Py_tp_hash, tensor_hash},
    {Py_tp_iter, tensor_iter},
    {Py_tp_richcompare, tg_richcompare},
    {Py_tp_methods, tensor_methods},
    {Py_tp_getset, tensor_getset},
    {Py_tp_members, tensor_members},
    {Py_nb_add, tg_nb_add},
    {Py_nb_subtract, tg_nb_subtract},
    {Py_nb_multiply, tg_nb_multiply},
    {Py_nb_true_divide, tg_nb_true_divide},
    {Py_nb_matrix_multiply, tg_nb_matmul},
    {Py_nb_power, tg_nb_power},
    {Py_nb_negative, tg_nb_negative},
    {Py_nb_absolute, tg_nb_absolute},
    {Py_nb_floor_divide, tg_nb_floor_divide},
    {Py_nb_remainder, tg_nb_remainder},
    {Py_nb_and, tg_nb_and},
    {Py_nb_or, tg_nb_or},
    {Py_nb_invert, tg_nb_invert},
    {Py_nb_float, tensor_float},
    {Py_nb_int, tensor_int},
    {Py_nb_index, tensor_index},
    {Py_nb_bool, tensor_bool},
    {Py_mp_subscript, tg_tensor_getitem},
    {Py_mp_length, tensor_length},
    {Py_tp_doc, "A multidimensional, immutable array of one dtype.\n\n"
                "Made by tapegrad ops or tapegrad.constant(); every op on "
                "tensors is\nrecorded by the active GradientTapes."},
    {0, NULL},
};

static PyType_Spec tensor_spec = {
    /* TF's concrete eager type is EagerTensor (tf.Tensor is its abstract
     * base), so type(t).__name__ prints as in TF; the module exports it as
     * tapegrad.Tensor (and tapegrad.EagerTensor). */
    .name = "tapegrad.EagerTensor",
    .basicsize = sizeof(TensorObject),
    .itemsize = 1,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = tensor_slots,
};

int
tg_tensor_init_type(PyObject *module)
{
    tg_st->tensor_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &tensor_spec, NULL);
    if (tg_st->tensor_type == NULL) {
        return -1;
    }
    if (PyModule_AddObjectRef(module, "Tensor",
                              (PyObject *)tg_st->tensor_type) < 0) {
        return -1;
    }
    return PyModule_AddType(module, tg_st->tensor_type);
}
