/* idmap.c -- the int64 -> int64 map every tape, sweep and accumulator
 * keeps tensor ids in.
 *
 * Tensor ids come from one counter, so the ids a tape records, or a sweep
 * gives gradients to, are mostly consecutive: a dense window (an array
 * indexed by id - lo) holds them with one load per lookup and no hashing.
 * Ids far from the window (a tensor made long before the tape started, a
 * Variable's handle) go to a small open-addressing hash.  A key is in the
 * window exactly when lo <= key < lo + span; growing the window moves any
 * hashed keys it now covers into it, so a lookup never checks both.
 *
 * The window only grows while it stays at least about a quarter full
 * (WINDOW_SLACK), so memory is bounded by a small multiple of the number of
 * keys whatever ids arrive.  No deletion: a map lives as long as one
 * record or one sweep.
 */
#include "tapegrad.h"

#define EMPTY_KEY INT64_MIN    /* a free hash slot */
#define EMPTY_VAL TG_IDMAP_ABSENT  /* an unused window position (no
                                      value is) */
#define WINDOW_MIN 8
#define WINDOW_SMALL 16        /* slots kept inside the map itself */
#define HASH_SMALL 16          /* hash slots kept inside it (7 far keys) */
#define WINDOW_SLACK(used) (4 * ((used) + 1) + 64)
#define WINDOW_KEY_MAX ((int64_t)1 << 62)  /* ids: a counter from 1 */
#define WINDOW_RESTART 4       /* a window with this few keys moves to the
                                  hash when a far key would stretch it */

struct tg_idmap {
    tg_idmap_head h;           /* the window (lo, span, window, wused) and
                                  the hash's count (hused): tapegrad.h's
                                  inline lookups read these */
    Py_ssize_t cap;            /* hash: cap a power of two, or 0 */
    int64_t *keys, *vals;
    Py_ssize_t hint;           /* the hash's first capacity */
    int64_t small[WINDOW_SMALL];   /* the window while it is this small */
    int64_t hkeys[HASH_SMALL], hvals[HASH_SMALL];  /* the hash while it is */
};

/* A gradient makes two maps and a tape one, most holding a few ids:
 * freed maps wait here for the next (their window inline, their hash
 * given back). */
#define SPARE_MAPS 8
static tg_idmap *spare_maps[SPARE_MAPS];
static int nspare = 0;

tg_idmap *
tg_idmap_new(Py_ssize_t cap)
{
    tg_idmap *m = nspare > 0 ? spare_maps[--nspare]
                             : PyMem_Malloc(sizeof(tg_idmap));
    if (m == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    m->h.lo = 0;
    m->h.span = m->h.wused = 0;
    m->h.window = NULL;
    m->cap = m->h.hused = 0;
    m->keys = m->vals = NULL;
    m->hint = cap;
    return m;
}

static void
window_free(tg_idmap *m)
{
    if (m->h.window != m->small) {
        PyMem_Free(m->h.window);
    }
    m->h.window = NULL;
}

void
tg_idmap_free(tg_idmap *m)
{
    if (m != NULL) {
        window_free(m);
        if (m->keys != m->hkeys) {
            PyMem_Free(m->keys);
            PyMem_Free(m->vals);
        }
        if (nspare < SPARE_MAPS) {
            spare_maps[nspare++] = m;
        }
        else {
            PyMem_Free(m);
        }
    }
}

/* the spare maps, given back when the module's caches are released */
void
tg_idmap_spare_free(void)
{
    while (nspare > 0) {
        PyMem_Free(spare_maps[--nspare]);
    }
}

/* ---- the hash part ---------------------------------------------------- */

static inline Py_ssize_t
hash_slot(const tg_idmap *m, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    Py_ssize_t i = (Py_ssize_t)(h >> 32) & (m->cap - 1);
    while (m->keys[i] != key && m->keys[i] != EMPTY_KEY) {
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

/* Replace m's hash by one with room for `n` keys, holding m's hashed keys
 * outside [lo, lo + span) (span 0: all of them).  -1 with MemoryError. */
static int
hash_rebuild(tg_idmap *m, Py_ssize_t n, int64_t lo, Py_ssize_t span)
{
    Py_ssize_t c = HASH_SMALL;
    while (c < n * 2) {
        c *= 2;
    }
    /* the old table, copied out first if it is the inline one, which
     * the new table may reuse */
    int old_inline = m->keys == m->hkeys;
    int64_t copyk[HASH_SMALL], copyv[HASH_SMALL];
    int64_t *okeys = m->keys, *ovals = m->vals;
    Py_ssize_t ocap = m->cap;
    if (old_inline) {
        memcpy(copyk, okeys, (size_t)ocap * sizeof(int64_t));
        memcpy(copyv, ovals, (size_t)ocap * sizeof(int64_t));
        okeys = copyk;
        ovals = copyv;
    }
    int64_t *keys, *vals;
    if (c == HASH_SMALL) {
        keys = m->hkeys;
        vals = m->hvals;
    }
    else {
        keys = PyMem_Malloc((size_t)c * sizeof(int64_t));
        vals = PyMem_Malloc((size_t)c * sizeof(int64_t));
        if (keys == NULL || vals == NULL) {
            PyMem_Free(keys);
            PyMem_Free(vals);
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < c; i++) {
        keys[i] = EMPTY_KEY;
    }
    m->keys = keys;
    m->vals = vals;
    m->cap = c;
    m->h.hused = 0;
    for (Py_ssize_t i = 0; i < ocap; i++) {
        int64_t k = okeys[i];
        /* keys inside [lo, lo + span) now live in the window */
        if (k != EMPTY_KEY &&
            (uint64_t)k - (uint64_t)lo >= (uint64_t)span) {
            Py_ssize_t j = hash_slot(m, k);
            keys[j] = k;
            vals[j] = ovals[i];
            m->h.hused++;
        }
    }
    if (!old_inline) {
        PyMem_Free(okeys);
        PyMem_Free(ovals);
    }
    return 0;
}

static int
hash_put(tg_idmap *m, int64_t key, int64_t value)
{
    if ((m->h.hused + 1) * 2 > m->cap &&
        hash_rebuild(m, m->cap ? m->cap : (m->hint > 8 ? m->hint : 8), 0,
                     0) < 0) {
        return -1;
    }
    Py_ssize_t i = hash_slot(m, key);
    if (m->keys[i] == EMPTY_KEY) {
        m->keys[i] = key;
        m->h.hused++;
    }
    m->vals[i] = value;
    return 0;
}

/* ---- the window ------------------------------------------------------- */

/* Make the window [lo, lo + span), keeping its values and moving in the
 * hashed keys it now covers. */
static int
window_cover(tg_idmap *m, int64_t lo, Py_ssize_t span)
{
    /* the inline window only while the map has none: growing copies
     * from the old one */
    int64_t *w = span <= WINDOW_SMALL && m->h.window == NULL
                     ? m->small
                     : PyMem_Malloc((size_t)span * sizeof(int64_t));
    if (w == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < span; i++) {
        w[i] = EMPTY_VAL;
    }
    if (m->h.wused > 0) {
        memcpy(w + (m->h.lo - lo), m->h.window,
               (size_t)m->h.span * sizeof(int64_t));
    }
    Py_ssize_t moved = 0;
    for (Py_ssize_t i = 0; m->h.hused > 0 && i < m->cap; i++) {
        uint64_t off = (uint64_t)m->keys[i] - (uint64_t)lo;
        if (m->keys[i] != EMPTY_KEY && off < (uint64_t)span) {
            w[off] = m->vals[i];
            moved++;
        }
    }
    if (moved > 0 && hash_rebuild(m, m->h.hused - moved, lo, span) < 0) {
        if (w != m->small) {
            PyMem_Free(w);
        }
        return -1;
    }
    window_free(m);
    m->h.window = w;
    m->h.lo = lo;
    m->h.span = span;
    m->h.wused += moved;
    return 0;
}

/* Put a key outside the window: stretch the window over it if the window
 * stays dense; else start the window there if it holds almost nothing;
 * else hash the key. */
static int
put_outside(tg_idmap *m, int64_t key, int64_t value)
{
    if (key < -WINDOW_KEY_MAX || key > WINDOW_KEY_MAX) {
        return hash_put(m, key, value);   /* window arithmetic can't wrap */
    }
    int64_t hi = m->h.lo + m->h.span;
    int64_t need_lo = key < m->h.lo ? key : m->h.lo;
    int64_t need_hi = key >= hi ? key + 1 : hi;
    uint64_t need = (uint64_t)need_hi - (uint64_t)need_lo;
    if (m->h.span > 0 && need <= (uint64_t)WINDOW_SLACK(m->h.wused)) {
        Py_ssize_t span = (Py_ssize_t)need;
        if (span < 2 * m->h.span) {
            span = 2 * m->h.span;
        }
        if (window_cover(m, key < m->h.lo ? hi - span : m->h.lo, span) < 0) {
            return -1;
        }
    }
    else if (m->h.wused <= WINDOW_RESTART) {
        /* the window's few keys move to the hash and a fresh window
         * starts at key (a tape that watched an old tensor, then records
         * new ones); centred, since a sweep's ids come in descending */
        for (Py_ssize_t i = 0; i < m->h.span; i++) {
            if (m->h.window[i] != EMPTY_VAL &&
                hash_put(m, m->h.lo + i, m->h.window[i]) < 0) {
                return -1;
            }
        }
        m->h.wused = 0;
        m->h.span = 0;
        window_free(m);
        if (window_cover(m, key - WINDOW_MIN / 2, WINDOW_MIN) < 0) {
            return -1;
        }
    }
    else {
        return hash_put(m, key, value);
    }
    uint64_t off = (uint64_t)key - (uint64_t)m->h.lo;
    if (m->h.window[off] == EMPTY_VAL) {
        m->h.wused++;
    }
    m->h.window[off] = value;
    return 0;
}

/* ---- the interface ---------------------------------------------------- */

/* the whole lookup; tapegrad.h's tg_idmap_get calls it for keys outside
 * the window when the hash holds any */
int
tg_idmap_get_far(tg_idmap *m, int64_t key, int64_t *value)
{
    if (m == NULL) {
        return 0;
    }
    uint64_t off = (uint64_t)key - (uint64_t)m->h.lo;
    int64_t v;
    if (off < (uint64_t)m->h.span) {
        v = m->h.window[off];
        if (v == EMPTY_VAL) {
            return 0;
        }
    }
    else {
        if (m->h.hused == 0) {
            return 0;
        }
        Py_ssize_t i = hash_slot(m, key);
        if (m->keys[i] == EMPTY_KEY) {
            return 0;
        }
        v = m->vals[i];
    }
    if (value) {
        *value = v;
    }
    return 1;
}

/* Change the value of a key already in the map; 0 if it is not there.
 * Never allocates (a tensor's dealloc calls it). */
int
tg_idmap_update(tg_idmap *m, int64_t key, int64_t value)
{
    if (m == NULL) {
        return 0;
    }
    uint64_t off = (uint64_t)key - (uint64_t)m->h.lo;
    if (off < (uint64_t)m->h.span) {
        if (m->h.window[off] == EMPTY_VAL) {
            return 0;
        }
        m->h.window[off] = value;
        return 1;
    }
    if (m->h.hused == 0) {
        return 0;
    }
    Py_ssize_t i = hash_slot(m, key);
    if (m->keys[i] == EMPTY_KEY) {
        return 0;
    }
    m->vals[i] = value;
    return 1;
}

/* the whole put; tapegrad.h's tg_idmap_put calls it unless the key is in
 * the window */
int
tg_idmap_put_far(tg_idmap **mp, int64_t key, int64_t value)
{
    tg_idmap *m = *mp;
    if (m == NULL && (m = *mp = tg_idmap_new(8)) == NULL) {
        return -1;
    }
    uint64_t off = (uint64_t)key - (uint64_t)m->h.lo;
    if (off < (uint64_t)m->h.span) {
        if (m->h.window[off] == EMPTY_VAL) {
            m->h.wused++;
        }
        m->h.window[off] = value;
        return 0;
    }
    if (m->h.hused > 0 && m->keys[hash_slot(m, key)] == key) {
        return hash_put(m, key, value);    /* already hashed: update */
    }
    return put_outside(m, key, value);
}

/* the keys mapped to `value` (a new set): -1 gives the watched ids */
PyObject *
tg_idmap_keys_with(const tg_idmap *m, int64_t value)
{
    PyObject *out = PySet_New(NULL);
    Py_ssize_t n = m == NULL ? 0 : m->cap + m->h.span;
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        int64_t k, v;
        if (i < m->cap) {
            k = m->keys[i];
            v = m->vals[i];
            if (k == EMPTY_KEY) {
                continue;
            }
        }
        else {
            k = m->h.lo + (i - m->cap);
            v = m->h.window[i - m->cap];
            if (v == EMPTY_VAL) {
                continue;
            }
        }
        if (v == value) {
            PyObject *key = PyLong_FromLongLong(k);
            if (key == NULL || PySet_Add(out, key) < 0) {
                Py_XDECREF(key);
                Py_CLEAR(out);
                break;
            }
            Py_DECREF(key);
        }
    }
    return out;
}
