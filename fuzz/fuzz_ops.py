#!/usr/bin/env python3
"""Fuzz op dispatch: bytes -> one op-table row (or a Tensor operator),
fuzzed inputs and attributes, called inside GradientTapes, then gradients
with fuzzed output_gradients.

    python fuzz/fuzz_ops.py [libFuzzer flags] fuzz/corpus/fuzz_ops
(tools/run_fuzz.sh runs it against an instrumented build.)  It imports
without atheris: tests/test_fuzz_seeds.py replays the corpus through
TestOneInput.
"""
import operator
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402
from fuzzlib import ORDINARY, Finding, check_exception, tf, C  # noqa: E402


def _table():
    rows = []
    for r in C._ops():
        ns = {"slice": slice, "Ellipsis": Ellipsis, "__builtins__": {}}
        cases = eval(r["cases"], ns)  # noqa: S307 -- our own op table
        shapes = eval(r["shapes"], ns)  # noqa: S307
        if r["api"]:
            fn = tf
            for part in r["api"].split()[0].split("."):
                fn = getattr(fn, part)
        else:
            fn = None
        attrs = {}
        sig = getattr(getattr(C, r["name"], None), "__text_signature__", "")
        for p in (sig or "").strip("()").split(", "):
            name = p.split("=")[0].lstrip("*")
            if "=" in p and name != "name":
                attrs[name] = []
        for case in cases:
            for k, v in case.items():
                if k not in ("shapes", "kinds", "ranges", "dtypes"):
                    attrs.setdefault(k, []).append(v)
        rows.append(dict(name=r["name"], fn=fn, nin=r["nin"],
                         flags=r["flags"], cases=cases, shapes=shapes,
                         attrs=attrs, first_attr=(sig or "").startswith(
                             "(equation")))
    return rows


ROWS = _table()

UNARY_OPERATORS = [operator.neg, operator.pos, abs, operator.invert,
                   float, int, bool, len, repr, str, list, np.asarray,
                   lambda t: t.numpy(), lambda t: t.shape,
                   lambda t: t.dtype, lambda t: t.ndim, lambda t: hash(t)]
BINARY_OPERATORS = [operator.add, operator.sub, operator.mul,
                    operator.truediv, operator.floordiv, operator.mod,
                    operator.pow, operator.matmul, operator.and_,
                    operator.or_, operator.xor, operator.lt, operator.le,
                    operator.gt, operator.ge, operator.eq, operator.ne,
                    operator.getitem]


def _inputs(g, row, case):
    """Inputs for `row`: usually near its own test case (shapes, int/bool
    kinds), sometimes anything."""
    shapes = case.get("shapes", row["shapes"])
    kinds = case.get("kinds", "")
    n = row["nin"]
    if "variadic" in row["flags"]:
        n = g.int(1, 4)
        shapes = shapes or [()]
    out = []
    for i in range(max(n, 1)):
        like = shapes[i % len(shapes)] if shapes and g.int(0, 3) else None
        kind = kinds[i] if i < len(kinds) else "f"
        if like is not None and g.int(0, 2):
            dtype = {"i": np.int32, "b": np.bool_}.get(kind)
            if dtype is None or g.chance(4):
                dtype = g.dtype()
            try:
                wrap = g.int(0, 4)
                arr = g.array(shape=like if g.int(0, 3) else None,
                              dtype=dtype, like=like)
                if kind == "i" and "ranges" in case and case["ranges"][i]:
                    lo, hi = case["ranges"][i]
                    arr = np.clip(np.asarray(arr), lo, hi).astype(arr.dtype)
                out.append(tf.constant(arr) if wrap <= 2 else
                           tf.Variable(arr) if wrap == 3 else arr)
            except ORDINARY as e:
                check_exception(e)
                out.append(None)
        else:
            out.append(g.input(like=like, previous=out))
    return out


def _attrs(g, row, case):
    attrs = {k: v for k, v in case.items()
             if k not in ("shapes", "kinds", "ranges", "dtypes")}
    for name, examples in row["attrs"].items():
        what = g.int(0, 3)
        if what == 0:
            attrs[name] = g.attr(examples)
        elif what == 1:
            attrs.pop(name, None)
    if g.chance(32):
        attrs[g.text() or "bogus"] = g.attr()
    return attrs


def _describe(what, *args, **kw):
    """FUZZ_VERBOSE=1: print each call before making it (to read a
    reproducer)."""
    if VERBOSE:
        print(what, "args=%r" % (args,), "kw=%r" % (kw,), file=sys.stderr,
              flush=True)


VERBOSE = os.environ.get("FUZZ_VERBOSE") == "1"


def _call_row(g, row, inputs, attrs):
    _describe(row["name"], inputs, **attrs)
    if row["first_attr"]:   # einsum(equation, *inputs)
        eq = attrs.pop("equation", None)
        if eq is None or g.chance(3):
            eq = g.text()
        if g.bool():
            return row["fn"](eq, inputs, **attrs)
        return row["fn"](eq, *inputs, **attrs)
    args = list(inputs)
    if "variadic" in row["flags"]:
        args = [inputs if g.int(0, 3) else tuple(inputs)]
    if row["fn"] is None:
        return C._call(row["name"], *args, **attrs)
    if attrs and g.chance(4):  # attributes positionally, in order
        names = list(row["attrs"])
        pos = [attrs.pop(k) for k in list(names) if k in attrs]
        return row["fn"](*args, *pos, **attrs)
    return row["fn"](*args, **attrs)


def _call_operator(g, inputs):
    if not isinstance(inputs[0], (tf.Tensor, tf.Variable)):
        inputs[0] = tf.constant(inputs[0])
    if g.bool():
        f = g.pick(UNARY_OPERATORS)
        return f(inputs[0])
    f = g.pick(BINARY_OPERATORS)
    other = g.key() if f is operator.getitem and g.bool() else inputs[1]
    if g.bool():
        return f(inputs[0], other)
    return f(other, inputs[0])  # reflected


def _dtype_arg(g):
    return g.pick([None, g.pick(fuzzlib.TF_DTYPES), g.text(), g.attr()])


def _call_constructor(g, inputs):
    """constant, convert_to_tensor, zeros/ones(_like), Variable: fuzzed
    values, shapes and dtype arguments."""
    k = g.int(0, 6)
    x = inputs[0]
    kw = {}
    if g.bool():
        kw["dtype"] = _dtype_arg(g)
    if k == 0:
        if g.chance(3):
            kw["shape"] = g.attr()
        return tf.constant(x, **kw)
    if k == 1:
        if g.chance(3):
            kw["dtype_hint"] = _dtype_arg(g)
        return tf.convert_to_tensor(x, **kw)
    if k == 2:
        return tf.zeros(g.attr() if g.bool() else list(g.shape()), **kw)
    if k == 3:
        return tf.ones(g.attr() if g.bool() else list(g.shape()), **kw)
    if k == 4:
        return tf.zeros_like(x, **kw)
    if k == 5:
        return tf.ones_like(x, **kw)
    if g.chance(3):
        kw["shape"] = g.attr()
    return tf.Variable(x, trainable=g.attr() if g.chance(4) else True, **kw)


def _flatten(x):
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from _flatten(item)
    elif isinstance(x, dict):
        for item in x.values():
            yield from _flatten(item)
    else:
        yield x


def _check_tensor(t):
    if isinstance(t, (tf.Tensor, tf.Variable)):
        a = np.asarray(t)
        if tuple(a.shape) != tuple(t.shape):
            raise Finding("shape %r but numpy() has %r" % (t.shape, a.shape))


def _output_gradients(g, target):
    kind = g.int(0, 7)
    if kind <= 2:
        return None
    ts = [t for t in _flatten(target) if isinstance(t, tf.Tensor)]
    if not ts:
        return g.input()
    t = ts[0]
    if kind in (4, 6) and np.size(t) > 4096:
        kind = 3   # fuzzed values for a huge result would cost seconds
    if kind == 3:
        return tf.ones_like(t)
    if kind == 4:   # same shape, fuzzed dtype/layout/values
        return g.array(shape=t.shape, dtype=g.dtype() if g.chance(3)
                       else t.dtype.as_numpy_dtype)
    if kind == 5:   # one per target
        return [tf.ones_like(x) if g.int(0, 3) else None for x in ts]
    if kind == 6:   # a broadcastable or wrong shape
        return g.array(like=t.shape)
    return g.input()


def _gradient(g, tape, target, sources):
    og = _output_gradients(g, target)
    kw = {}
    if og is not None or g.chance(8):
        kw["output_gradients"] = og
    if g.chance(3):
        kw["unconnected_gradients"] = g.pick(
            ["none", "zero", tf.UnconnectedGradients.ZERO,
             tf.UnconnectedGradients.NONE, "bogus", None, 0])
    if g.chance(4) and sources:
        srcs = sources[0]           # a single source, not a list
    elif g.chance(8):
        srcs = {"a": sources, "b": tuple(sources)}
    else:
        srcs = list(sources)
    grads = tape.gradient(target, srcs, **kw)
    for src, gr in zip(_flatten(srcs), _flatten(grads)):
        if gr is None:
            continue
        if not isinstance(gr, tf.Tensor):
            raise Finding("gradient is a %s" % type(gr).__name__)
        _check_tensor(gr)
        if (isinstance(src, (tf.Tensor, tf.Variable))
                and tuple(gr.shape) != tuple(src.shape)):
            raise Finding("gradient of shape %r for a source of shape %r"
                          % (gr.shape, src.shape))
    return grads


def _run(g):
    use_operator = g.chance(6)   # (or a constructor)
    row = None if use_operator else g.pick(ROWS)
    case = g.pick(row["cases"]) if row and row["cases"] else {}
    inputs = _inputs(g, row, case) if row else [g.input(), g.input()]
    attrs = _attrs(g, row, case) if row else {}

    mode = g.int(0, 4)   # 0 no tape, 1 tape, 2 persistent, 3 nested, 4 w/o auto-watch
    outer = inner = None
    if mode == 3:
        outer = tf.GradientTape(persistent=g.bool())
        outer.__enter__()
    if mode:
        inner = tf.GradientTape(persistent=mode == 2,
                                watch_accessed_variables=mode != 4)
        inner.__enter__()
    try:
        for x in inputs:
            if isinstance(x, tf.Tensor) and g.int(0, 3):
                for t in (inner, outer):
                    if t is not None:
                        t.watch(x)
        if inner is not None and g.chance(16):
            inner.watch(g.input())     # junk and nested structures
        if row is not None:
            out = _call_row(g, row, inputs, attrs)
        elif g.chance(3):
            out = _call_constructor(g, inputs)
        else:
            out = _call_operator(g, inputs)
        for t in _flatten(out):
            _check_tensor(t)
        if g.chance(4):
            repr(out)
        if inner is None:
            return
        sources = [x for x in inputs if isinstance(x, (tf.Tensor,
                                                       tf.Variable))]
        if g.chance(6):
            sources.append(g.input())
        if not sources:
            sources = [g.input()]
        if g.bool():      # gradient inside the context
            grads = _gradient(g, inner, out, sources)
        else:
            inner.__exit__(None, None, None)
            grads = _gradient(g, inner, out, sources)
        if mode == 2 and g.bool():
            _gradient(g, inner, out, sources)  # persistent reuse
        if outer is not None:  # second order
            if inner._recording:
                inner.__exit__(None, None, None)
            outer.__exit__(None, None, None)
            first = [x for x in _flatten(grads) if x is not None]
            if first:
                _gradient(g, outer, first if g.bool() else first[0],
                          sources)
    finally:
        for t in (inner, outer):
            if t is not None and t._recording:
                t.__exit__(None, None, None)


def TestOneInput(data):
    before = fuzzlib.baseline()
    g = fuzzlib.Gen(fuzzlib.provider(data))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            _run(g)
        except Exception as e:  # noqa: BLE001 -- the oracle decides
            check_exception(e)
    del g
    fuzzlib.settle(before)


if __name__ == "__main__":
    fuzzlib.main(TestOneInput)
