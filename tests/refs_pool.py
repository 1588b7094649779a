"""Hand references (NumPy loops) for the pooling rows of src/ops_pool.def,
written window by window from TF's definitions rather than from the C
kernels: SAME pads (out - 1) * stride + k - size in total, the smaller
half before; padded positions never take part (max ignores them, the
average divides by the in-bounds count); max_pool's gradient goes to each
window's first maximum in row-major order."""
import itertools

import numpy as np


def _windows(shape, ksize, strides, padding):
    """Yield (n, out index, window slices, c) for every pooled element of a
    channels-last input of `shape`; also return the pooled shape first."""
    spatial = shape[1:-1]
    assert len(ksize) == len(strides) == len(spatial)
    outs, pads = [], []
    for size, k, s in zip(spatial, ksize, strides):
        if padding == "SAME":
            out = -(-size // s)
            pads.append(max((out - 1) * s + k - size, 0) // 2)
        else:
            out = (size - k + s) // s
            pads.append(0)
        outs.append(out)
    pooled = (shape[0],) + tuple(outs) + (shape[-1],)

    def gen():
        for n in range(shape[0]):
            for q in itertools.product(*[range(o) for o in outs]):
                sl = []
                for qi, k, s, p, size in zip(q, ksize, strides, pads, spatial):
                    a = qi * s - p
                    sl.append(slice(max(a, 0), min(a + k, size)))
                for c in range(shape[-1]):
                    yield (n,) + q + (c,), (n,) + tuple(sl) + (c,)
    return pooled, gen()


def _offset(win, local):
    out, li = [], iter(local)
    for w in win:
        out.append(w.start + next(li) if isinstance(w, slice) else w)
    return tuple(out)


def max_pool(input, ksize=None, strides=None, padding=None):
    x = np.asarray(input)
    pooled, windows = _windows(x.shape, ksize, strides, padding)
    y = np.zeros(pooled, dtype=x.dtype)
    for o, win in windows:
        y[o] = np.max(x[win])
    return y


def avg_pool(input, ksize=None, strides=None, padding=None):
    x = np.asarray(input)
    pooled, windows = _windows(x.shape, ksize, strides, padding)
    y = np.zeros(pooled, dtype=np.float64)
    for o, win in windows:
        y[o] = np.mean(x[win].astype(np.float64))
    return y.astype(x.dtype)


def max_pool_grad(orig_input, grad, ksize=None, strides=None, padding=None):
    x, g = np.asarray(orig_input), np.asarray(grad)
    pooled, windows = _windows(x.shape, ksize, strides, padding)
    assert g.shape == pooled, (g.shape, pooled)
    y = np.zeros(x.shape, dtype=np.float64)
    for o, win in windows:
        y[_offset(win, np.unravel_index(int(np.argmax(x[win])),
                                        x[win].shape))] += g[o]
    return y.astype(g.dtype)


def max_pool_grad_grad(orig_input, grad, ksize=None, strides=None,
                       padding=None):
    x, gg = np.asarray(orig_input), np.asarray(grad)
    assert gg.shape == x.shape, (gg.shape, x.shape)
    pooled, windows = _windows(x.shape, ksize, strides, padding)
    y = np.zeros(pooled, dtype=gg.dtype)
    for o, win in windows:
        y[o] = gg[_offset(win, np.unravel_index(int(np.argmax(x[win])),
                                                x[win].shape))]
    return y


def avg_pool_grad(grad, ksize=None, strides=None, padding=None,
                  orig_input_shape=None):
    g = np.asarray(grad)
    shape = tuple(orig_input_shape)
    pooled, windows = _windows(shape, ksize, strides, padding)
    assert g.shape == pooled, (g.shape, pooled)
    y = np.zeros(shape, dtype=np.float64)
    for o, win in windows:
        y[win] += g[o] / y[win].size
    return y.astype(g.dtype)


def pool_distinct(arrays):
    """x (the first input) re-spread over [-2, 2] keeping its order, every
    two values at least 4 / size apart: no ties, and no argmax a finite
    difference step can flip."""
    x = np.asarray(arrays[0])
    ranks = np.argsort(np.argsort(x, axis=None)).reshape(x.shape)
    step = 4.0 / max(x.size, 1)
    spread = (-2.0 + (ranks + 0.5) * step).astype(x.dtype)
    return [spread] + list(arrays[1:])
