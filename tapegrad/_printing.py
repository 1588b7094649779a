"""tf.print and tf.is_tensor.

``tf.print`` formats as TF's PrintV2 kernel does: each tensor summarized
to its first and last ``summarize`` entries per dimension (``-1``: all),
numbers in the shortest of six significant digits (``2``, ``0.333333``,
``1e+08``), bools as 1 and 0, nested Python structures printed around
them.  It writes to ``sys.stdout`` by default, where a notebook shows it
(TF's default is the process's stderr, which a notebook does not show).
"""
import sys

import numpy as np

__all__ = ["print", "is_tensor"]


def is_tensor(x):
    """True for a tapegrad Tensor or Variable (TF's tf.is_tensor)."""
    from . import _tapegrad as C
    return isinstance(x, (C.Tensor, C.Variable))


def _scalar_text(v):
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        return "%.6g" % v
    return str(v)


def _item(v):
    """A NumPy scalar as a Python number; anything else (the element of
    an object array) as it is."""
    return v.item() if isinstance(v, np.generic) else v


def _array_text(a, summarize, indent=1):
    if a.ndim == 0:
        return _scalar_text(_item(a[()]))
    n = a.shape[0]
    cut = summarize >= 0 and n > 2 * summarize
    idx = (list(range(summarize)) + [None] + list(range(n - summarize, n))
           if cut else list(range(n)))
    if a.ndim == 1:
        parts = ["..." if i is None else _scalar_text(_item(a[i]))
                 for i in idx]
        return "[" + " ".join(parts) + "]"
    sep = "\n" * (a.ndim - 1) + " " * indent
    parts = ["..." if i is None else _array_text(a[i], summarize, indent + 1)
             for i in idx]
    return "[" + sep.join(parts) + "]"


def _text(x, summarize):
    from . import _tapegrad as C
    if isinstance(x, (C.Tensor, C.Variable)):
        return _array_text(np.asarray(x.numpy()), summarize)
    if isinstance(x, np.ndarray):
        return _array_text(x, summarize)
    if isinstance(x, str):
        return x
    if isinstance(x, list):
        return "[" + ", ".join(_repr(v, summarize) for v in x) + "]"
    if isinstance(x, tuple):
        inner = ", ".join(_repr(v, summarize) for v in x)
        return "(" + inner + ("," if len(x) == 1 else "") + ")"
    if isinstance(x, dict):
        return "{" + ", ".join("%r: %s" % (k, _repr(v, summarize))
                               for k, v in x.items()) + "}"
    return str(x)


def _repr(x, summarize):
    """An item inside a structure: strings quoted, as TF's nest printing."""
    return repr(x) if isinstance(x, str) else _text(x, summarize)


def print(*inputs, output_stream=None, summarize=3, sep=" ", end="\n",
          name=None):
    """Print tensors (and anything else) as TF's tf.print does."""
    if not isinstance(summarize, int) or isinstance(summarize, bool):
        raise TypeError("summarize must be an int, got %r" % (summarize,))
    for what, v in (("sep", sep), ("end", end)):
        if not isinstance(v, str):
            raise TypeError("%s must be a string, got %r" % (what, v))
    line = sep.join(_text(x, summarize) for x in inputs) + end
    stream = sys.stdout if output_stream is None else output_stream
    if isinstance(stream, str):
        if not stream.startswith("file://"):
            raise ValueError("Unsupported output stream or logging level %r; "
                             "use sys.stdout, sys.stderr or 'file://PATH'."
                             % stream)
        with open(stream[len("file://"):], "a") as f:
            f.write(line)
        return None
    if not hasattr(stream, "write"):
        raise ValueError("Unsupported output stream or logging level %r"
                         % (stream,))
    stream.write(line)
    return None
