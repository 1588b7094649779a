#!/usr/bin/env python3
"""Fuzz op dispatch: bytes -> one op-table row (or a Tensor operator),
fuzzed inputs and attributes, called inside GradientTapes, then gradients
with fuzzed output_gradients.

    python fuzz/fuzz_ops.py [libFuzzer flags] fuzz/corpus/fuzz_ops
(tools/run_fuzz.sh runs it against an instrumented build.)  It imports
without atheris: tests/test_fuzz_seeds.py replays the corpus through
TestOneInput.
"""
import copy
import enum
import math
import operator
import os
import sys
import types
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
            if "=" in p:
                attrs[name] = []
        for case in cases:
            for k, v in case.items():
                if k not in ("shapes", "kinds", "ranges", "dtypes"):
                    attrs.setdefault(k, []).append(v)
        # in the signature's order (attributes are also passed positionally)
        order = [p.split("=")[0].lstrip("*")
                 for p in (sig or "").strip("()").split(", ")]
        attrs = dict(sorted(attrs.items(), key=lambda kv: order.index(
            kv[0]) if kv[0] in order else len(order)))
        rows.append(dict(name=r["name"], fn=fn, nin=r["nin"],
                         flags=r["flags"], cases=cases, shapes=shapes,
                         attrs=attrs, first_attr=(sig or "").startswith(
                             "(equation")))
    return rows


ROWS = _table()

UNARY_OPERATORS = [operator.neg, operator.pos, abs, operator.invert,
                   float, int, bool, len, repr, str, list, np.asarray,
                   lambda t: t.numpy(), lambda t: t.shape,
                   lambda t: t.dtype, lambda t: t.ndim, lambda t: hash(t),
                   # the builtins that reach the type's slots
                   complex, operator.index, round, math.trunc, math.floor,
                   copy.copy, copy.deepcopy, iter, reversed, format,
                   lambda t: "{:>12}".format(t), lambda t: "%s %r" % (t, t),
                   lambda t: np.array(t, dtype=object),
                   lambda t: np.asarray(t, dtype=np.float16)]
BINARY_OPERATORS = [operator.add, operator.sub, operator.mul,
                    operator.truediv, operator.floordiv, operator.mod,
                    operator.pow, operator.matmul, operator.and_,
                    operator.or_, operator.xor, operator.lt, operator.le,
                    operator.gt, operator.ge, operator.eq, operator.ne,
                    operator.getitem,
                    # protocols with a second argument
                    format, round, divmod, lambda a, b: pow(a, b, 3),
                    operator.contains, lambda a, b: np.asarray(a, dtype=b)]


def _method(name, keyword=None):
    """obj.name(arg) (or name(keyword=arg)), when obj has that method
    (not every object does)."""
    def call(obj, arg):
        m = getattr(obj, name, None)
        if m is None:
            return None
        return m(**{keyword: arg}) if keyword else m(arg)
    return call


# methods with an argument, called on the Tensor (never reflected)
METHOD_OPERATORS = [_method("__format__"), _method("__array__"),
                    _method("__array__", "copy"), _method("__deepcopy__"),
                    _method("__reduce_ex__")]


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
    if g.chance(16):   # a keyword the row may not take: TF's or the API's
        key = g.pick(KEYWORDS) if g.bool() else g.text()
        attrs[key or "bogus"] = g.attr(NAME_EXAMPLES.get(key, ()))
    return attrs


# ---- every public callable, found by introspection (fuzzlib) ---------------

FUNCTIONS = fuzzlib.public_functions()
CLASSES = fuzzlib.public_classes()
METHODS = [(cls, name) for cls in CLASSES for name in fuzzlib.methods(cls)]
ATTRIBUTES = [(cls, name) for cls in CLASSES
              for name in fuzzlib.attributes(cls)]
KEYWORDS = fuzzlib.keywords()
# each attribute name's example values, from every row's test cases
NAME_EXAMPLES = {}
for _r in ROWS:
    for _k, _v in _r["attrs"].items():
        NAME_EXAMPLES.setdefault(_k, []).extend(_v)
_PARAMS = {}


# Calling an Enum with more than one argument is enum's functional API,
# which makes a new Enum class (Python's enum module, not tapegrad): an
# Enum is called with its value only.
_EXACT = {q for q, f in FUNCTIONS
          if isinstance(f, type) and issubclass(f, enum.Enum)}


def _params(f):
    if isinstance(f, type) and issubclass(f, enum.Enum):
        return [("value", "pos")]
    key = id(f)
    if key not in _PARAMS:
        _PARAMS[key] = (f, fuzzlib.parameters(f))  # keeps f (and its id)
    return _PARAMS[key][1]


def _value(g, name, pool):
    """An argument for parameter `name`: a value already made (inputs,
    earlier results), an input, an attribute value (with that name's
    examples from the op table), or anything."""
    k = g.int(0, 7)
    if k <= 1 and pool:
        return g.pick(pool)
    if k <= 2:
        return g.input()
    if k <= 5:
        return g.attr(NAME_EXAMPLES.get(name, ()))
    return g.junk()


def _arguments(g, params, pool, extras=True):
    """Positional and keyword arguments for a signature (the names of
    inspect.signature, or of __text_signature__; 0-3 positionals when
    neither is known): each parameter given or left out, positionally or
    by name, plus sometimes one positional too many and a keyword from
    TF's and the API's names."""
    if params is None:
        params = [("arg%d" % i, "pos") for i in range(g.int(0, 3))]
    args, kw, positional = [], {}, True
    for name, kind in params:
        if kind == "*":
            if positional:
                args += [_value(g, name, pool) for _ in range(g.int(0, 2))]
            continue
        if kind == "**":
            continue
        if g.chance(5):       # left out
            positional = positional and kind == "kw"
            continue
        if kind == "pos" and not positional:
            continue
        if kind == "kw" or not positional or (kind == "any"
                                              and g.chance(3)):
            if kind != "pos":
                kw[name] = _value(g, name, pool)
                positional = False
            continue
        args.append(_value(g, name, pool))
    if not extras:
        return args, kw
    if g.chance(8):
        args.append(g.junk())
    if g.chance(6):
        key = g.pick(KEYWORDS)
        kw[key or "bogus"] = _value(g, key, pool)
    return args, kw


def _receiver(g, cls, pool, tapes):
    """An instance of `cls` to call a method on: one already made, or a
    new one in some state (a tape fresh, entered or used up; a Tensor or
    Variable of any dtype at rank 0-2); None for a class it cannot make."""
    made = [x for x in pool if type(x) is cls]
    if made and g.bool():
        return g.pick(made)
    if cls is tf.Tensor:
        return g.slot_tensor(variable=False) if g.bool() else g.tensor()
    if cls is tf.Variable:
        return tf.Variable(g.array(), trainable=g.bool())
    if cls is tf.GradientTape or cls in _STOP_RECORDING:
        tape = tf.GradientTape(persistent=g.bool(),
                               watch_accessed_variables=g.bool())
        tapes.append(tape)
        state = g.int(0, 3)
        if state >= 1:
            tape.__enter__()
            x = tf.constant(1.5)
            tape.watch(x)
            y = x * x
            if state == 2:
                tape.__exit__(None, None, None)
            elif state == 3:
                tape.gradient(y, x)   # used up unless persistent
        return tape.stop_recording() if cls in _STOP_RECORDING else tape
    if cls is tf.autodiff.ForwardAccumulator:
        x = tf.constant(1.5)
        acc = cls(x, tf.constant(g.int(-2, 2) * 1.0))
        tapes.append(acc)
        if g.bool():
            acc.__enter__()
            x * x
        return acc
    if issubclass(cls, tf.TensorShape):
        return tf.TensorShape(g.pick([[], [2, 3], [None, 4]]))
    if cls is tf.TensorSpec:
        return tf.TensorSpec(g.pick([None, [2], [None, 3]]),
                             g.pick(fuzzlib.TF_DTYPES))
    if cls is tf.device:
        return tf.device(g.pick(["/CPU:0", "/GPU:1", None]))
    if cls is tf.data.Dataset:
        return _dataset(g)
    if isinstance(cls, type) and issubclass(cls, tf.keras.Model):
        return _model(g, cls)
    if isinstance(tf.function(abs), cls):
        return tf.function(g.pick([tf.abs, lambda x: x * 2.0]))
    if cls.__module__.startswith("tapegrad") and not issubclass(
            cls, BaseException):
        # the package's other Python classes (Module, the Keras layers and
        # initializers): defaults, or one positional (Dense's units)
        for args in ((), (g.int(1, 3),), (g.pick(fuzzlib.TF_DTYPES),),
                     (0.1, g.int(1, 3), 0.5), ([1], [1.0, 0.5])):
            try:
                return cls(*args)
            except (TypeError, ValueError):
                continue
    if cls is tf.DType:
        return g.pick(fuzzlib.TF_DTYPES)
    if issubclass(cls, enum.Enum):
        return g.pick(list(cls))
    if issubclass(cls, BaseException):
        return cls("a fuzzed %s" % cls.__name__)
    return None


def _model(g, cls):
    """A small Keras model of class `cls` (Sequential, or Model made by the
    functional API): Dense layers, or a Conv2D stack, maybe compiled with
    a fuzzed optimizer and loss so fit / train_on_batch reach their step,
    maybe already trained one step."""
    keras = tf.keras
    L = keras.layers
    conv = g.bool()
    shape = (4, 4, 2) if conv else (3,)
    body = ([L.Conv2D(g.int(1, 3), g.int(1, 3), padding=g.pick(
                ["valid", "same"])),
             g.pick([L.MaxPooling2D(g.int(1, 2), padding="same"),
                     L.AveragePooling2D(g.int(1, 2), padding="same"),
                     L.GlobalMaxPooling2D(keepdims=True),
                     L.GlobalAveragePooling2D(keepdims=True)]),
             L.Flatten()] if conv else
            [L.Dense(g.int(1, 4), activation=g.pick([None, "relu"]))])
    body += [g.pick([L.Dropout(0.5), L.BatchNormalization(),
                     L.LayerNormalization(), L.ReLU()]), L.Dense(2)]
    try:
        if cls is keras.Sequential:
            model = keras.Sequential([keras.Input(shape=shape)] + body)
        else:
            x = inputs = keras.Input(shape=shape)
            for layer in body:
                x = layer(x)
            model = keras.Model(inputs, x)
        if g.bool():
            model.compile(optimizer=g.pick(["sgd", "adam", "rmsprop",
                                            "adagrad"]),
                          loss=g.pick(["mse", "mae", "huber"]),
                          metrics=g.pick([[], ["mae"]]))
            if g.bool():
                xb = np.ones((2,) + shape, np.float32)
                model.train_on_batch(xb, np.zeros((2, 2), np.float32))
    except Exception as e:  # noqa: BLE001 -- the oracle decides
        check_exception(e)
        return None
    return model


def _dataset(g):
    """A small Dataset (Dataset itself is abstract, as TF's): a source of
    fuzzed arrays, maybe a tuple of two, then maybe one transformation, so
    Dataset's methods run on both of tapegrad.data's paths (rows gathered
    by index, and element by element)."""
    D = tf.data.Dataset
    try:
        k = g.int(0, 3)
        if k == 0:
            ds = D.range(g.int(-2, 6))
        elif k == 1:
            ds = D.from_tensors(g.input())
        else:
            a = g.array()
            ds = D.from_tensor_slices(a if k == 2 else (a, a))
    except Exception as e:  # noqa: BLE001 -- the oracle decides
        check_exception(e)
        ds = D.range(3)
    step = g.int(0, 6)
    if step == 1:
        ds = ds.shuffle(g.int(1, 4), seed=g.int(0, 3))
    elif step == 2:
        ds = ds.batch(g.int(1, 3), drop_remainder=g.bool())
    elif step == 3:
        ds = ds.map(lambda *x: x)
    elif step == 4:
        keep = g.bool()     # drawn now, not when the predicate runs
        ds = ds.filter(lambda *x: keep)
    elif step == 5:
        ds = ds.repeat(2).take(g.int(0, 5))
    return ds


_STOP_RECORDING = [c for c in CLASSES if c.__name__ == "_StopRecording"]
# methods that C implements: called unbound with any first argument, their
# type check is tapegrad's (a Python method would just run on the wrong type)
_C_METHODS = (types.MethodDescriptorType, types.WrapperDescriptorType,
              types.BuiltinFunctionType, types.ClassMethodDescriptorType)
_MUTATORS = {"__setattr__", "__delattr__", "__init__"}


def _shared(obj):
    """Enum members live for the process: what is set on them would stay
    (and count as a leak)."""
    return isinstance(obj, enum.Enum)


def _keep(out, pool, tapes):
    """Results join the pool (receivers and arguments of the next calls);
    tapes are remembered, to be exited whatever happens."""
    for x in _flatten(out):
        if isinstance(x, (tf.GradientTape,
                          tf.autodiff.ForwardAccumulator)):
            tapes.append(x)     # both exit whatever happens
        if type(x) in CLASSES or isinstance(x, (tf.Tensor, tf.Variable)):
            if len(pool) < 16:
                pool.append(x)


def call_surface(g, pool, tapes):
    """One call of a public function, method or attribute, with arguments
    from `pool` and the widened vocabulary; returns its result."""
    k = g.int(0, 9)
    name = qual = None
    if k <= 4:
        qual, f = g.pick(FUNCTIONS)
        params, prefix = _params(f), []
    elif k <= 8:
        cls, name = g.pick(METHODS)
        qual = "%s.%s" % (cls.__name__, name)
        obj = _receiver(g, cls, pool, tapes)
        params = _params(getattr(cls, name))
        if _shared(obj) and name in _MUTATORS:
            return None
        if obj is None or g.chance(10):   # unbound, on anything
            if not isinstance(getattr(cls, name), _C_METHODS):
                return None   # Python code run on the wrong type: not ours
            f, prefix = getattr(cls, name), [
                g.junk() if obj is None or g.bool() else obj]
        else:
            f, prefix = getattr(obj, name), []
    else:
        cls, name = g.pick(ATTRIBUTES)
        obj = _receiver(g, cls, pool, tapes)
        qual = "%s.%s" % (cls.__name__, name)
        op = 0 if _shared(obj) else g.int(0, 2)
        _describe("%s %s" % (["get", "set", "del"][op], qual), obj)
        try:
            if op == 0:
                return getattr(obj, name)
            if op == 1:
                setattr(obj, name, g.junk())
            else:
                delattr(obj, name)
        except AttributeError as e:   # read-only: the documented answer
            if not str(e).strip():
                raise Finding("AttributeError with an empty message") from e
        return None
    args, kw = _arguments(g, params, pool, extras=qual not in _EXACT)
    for key, cap in fuzzlib.LIMITS.get(qual, {}).items():
        if isinstance(kw.get(key), int) and kw[key] > cap:
            kw[key] = cap
    _describe(qual, *(prefix + args), **kw)
    try:
        out = f(*prefix, *args, **kw)
    except Exception as e:  # noqa: BLE001 -- the oracle decides
        fuzzlib.check_call_exception(e, qual, name)
        return None
    _keep(out, pool, tapes)
    return out


def _call_surface_sequence(g, inputs, tapes):
    """1-3 calls of the public API; the later ones can use what the
    earlier ones made (a tape, its stop_recording, a Variable...)."""
    pool = [x for x in inputs if x is not None]
    out = None
    for _ in range(g.int(1, 3)):
        try:
            out = call_surface(g, pool, tapes)
        except Exception as e:  # noqa: BLE001 -- the oracle decides
            check_exception(e)
    return out


def _describe(what, *args, **kw):
    """FUZZ_VERBOSE=1: print each call before making it (to read a
    reproducer)."""
    if VERBOSE:
        rep = fuzzlib.safe_repr
        print(what, "args=(%s)" % ", ".join(map(rep, args)),
              "kw={%s}" % ", ".join("%r: %s" % (k, rep(v))
                                    for k, v in kw.items()),
              file=sys.stderr, flush=True)


VERBOSE = os.environ.get("FUZZ_VERBOSE") == "1"


def _call_row(g, row, inputs, attrs):
    name = row["name"]
    if row["first_attr"]:   # einsum(equation, *inputs)
        eq = attrs.pop("equation", None)
        if eq is None or g.chance(3):
            eq = g.text()
        args = [eq, inputs] if g.bool() else [eq, *inputs]
    else:
        args = list(inputs)
        if "variadic" in row["flags"]:
            args = [inputs if g.int(0, 3) else tuple(inputs)]
        if row["fn"] is None:
            _describe("C._call " + name, *args, **attrs)
            return C._call(name, *args, **attrs)
        if attrs and g.chance(4):
            # attributes positionally, in the signature's order, up to the
            # first one left out (the rest by name)
            for k in list(row["attrs"]):
                if k not in attrs:
                    break
                args.append(attrs.pop(k))
    _describe(name, *args, **attrs)
    return row["fn"](*args, **attrs)


def _call_operator(g, inputs):
    if not isinstance(inputs[0], (tf.Tensor, tf.Variable)):
        inputs[0] = tf.constant(inputs[0])
    if g.bool():
        f = g.pick(UNARY_OPERATORS)
        _describe("unary operator %d" % UNARY_OPERATORS.index(f), inputs[0])
        return f(inputs[0])
    f = g.pick(BINARY_OPERATORS + METHOD_OPERATORS)
    other = inputs[1]
    if f is operator.getitem and g.bool():
        other = g.key()
    elif g.chance(3):
        other = g.attr()
    which = (BINARY_OPERATORS + METHOD_OPERATORS).index(f)
    if f in METHOD_OPERATORS or g.bool():
        _describe("binary operator %d" % which, inputs[0], other)
        return f(inputs[0], other)
    _describe("binary operator %d, reflected" % which, other, inputs[0])
    return f(other, inputs[0])  # reflected


def _dtype_arg(g):
    return g.pick([None, g.pick(fuzzlib.TF_DTYPES), g.text(), g.attr(),
                   g.pick(fuzzlib.DTYPE_OBJECTS)])


def _call_constructor(g, inputs):
    """constant, convert_to_tensor, zeros/ones(_like), Variable: fuzzed
    values, shapes and dtype arguments."""
    k = g.int(0, 6)
    x = inputs[0]
    kw = {}
    if g.bool():
        kw["dtype"] = _dtype_arg(g)
    if g.chance(6):
        kw["name"] = g.attr()
    if k == 0:
        if g.chance(3):
            kw["shape"] = g.attr()
        f = tf.constant
    elif k == 1:
        if g.chance(3):
            kw["dtype_hint"] = _dtype_arg(g)
        f = tf.convert_to_tensor
    elif k <= 3:
        x = g.attr() if g.bool() else list(g.shape())
        f = tf.zeros if k == 2 else tf.ones
    elif k <= 5:
        f = tf.zeros_like if k == 4 else tf.ones_like
    else:
        if g.chance(3):
            kw["shape"] = g.attr()
        kw["trainable"] = g.attr() if g.chance(4) else True
        f = tf.Variable
    _describe(f.__name__, x, **kw)
    return f(x, **kw)


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
    return g.input() if g.bool() else g.junk()


def _gradient(g, tape, target, sources):
    og = _output_gradients(g, target)
    kw = {}
    if og is not None or g.chance(8):
        kw["output_gradients"] = og
    if g.chance(3):
        kw["unconnected_gradients"] = g.pick(
            ["none", "zero", tf.UnconnectedGradients.ZERO,
             tf.UnconnectedGradients.NONE, "bogus", None, 0, g.attr()])
    if g.chance(4) and sources:
        srcs = sources[0]           # a single source, not a list
    elif g.chance(8):
        srcs = {"a": sources, "b": tuple(sources)}
    else:
        srcs = list(sources)
    k = g.int(0, 7)
    if k == 6:
        return _jacobian(g, tape, target, srcs, kw)
    if k == 7:
        return _batch_jacobian(g, tape, target, sources, kw)
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


def _jacobian_kw(g, kw):
    kw.pop("output_gradients", None)
    if g.chance(3):
        kw["experimental_use_pfor"] = g.bool() if g.bool() else g.attr()
    if g.chance(6):
        kw["parallel_iterations"] = g.attr()
    return kw


def _jacobian(g, tape, target, srcs, kw):
    """tape.jacobian: a result of shape target.shape + source.shape per
    source (None when unconnected)."""
    if isinstance(target, (list, tuple)) and target and g.bool():
        target = target[0]
    jac = tape.jacobian(target, srcs, **_jacobian_kw(g, kw))
    for src, j in zip(_flatten(srcs), _flatten(jac)):
        if j is None:
            continue
        if not isinstance(j, tf.Tensor):
            raise Finding("jacobian is a %s" % type(j).__name__)
        _check_tensor(j)
        if (isinstance(src, (tf.Tensor, tf.Variable))
                and isinstance(target, (tf.Tensor, tf.Variable))
                and tuple(j.shape) != tuple(target.shape) + tuple(src.shape)):
            raise Finding("jacobian of shape %r for target %r, source %r"
                          % (j.shape, target.shape, src.shape))
    return jac


def _batch_jacobian(g, tape, target, sources, kw):
    """tape.batch_jacobian: [b] + target row + source row."""
    if isinstance(target, (list, tuple)) and target:
        target = target[0]
    src = sources[0] if sources else g.input()
    jb = tape.batch_jacobian(target, src, **_jacobian_kw(g, kw))
    if not isinstance(jb, tf.Tensor):
        raise Finding("batch_jacobian is a %s" % type(jb).__name__)
    _check_tensor(jb)
    want = tuple(target.shape) + tuple(src.shape)[1:]
    if tuple(jb.shape) != want:
        raise Finding("batch_jacobian of shape %r, expected %r"
                      % (jb.shape, want))
    return jb


def _accumulator(g, inputs):
    """A ForwardAccumulator over some of the inputs, with tangents of
    their shape, or anything (junk, wrong shapes, duplicates)."""
    prims = [x for x in inputs if isinstance(x, (tf.Tensor, tf.Variable))]
    if g.chance(6):
        prims.append(g.input())
    if prims and g.chance(8):
        prims.append(prims[0])          # a primal given twice
    tans = []
    for p in prims:
        if isinstance(p, (tf.Tensor, tf.Variable)) and g.int(0, 4):
            tans.append(np.asarray(g.array(tuple(p.shape))))
        else:
            tans.append(g.input())
    return tf.autodiff.ForwardAccumulator(prims, tans)


def _check_jvps(g, acc, out):
    """acc.jvp of every output: None or a tensor of the output's shape
    and dtype."""
    kw = {}
    if g.chance(4):
        kw["unconnected_gradients"] = g.pick(["none", "zero", "bogus",
                                              g.attr()])
    for t in _flatten(out):
        if not isinstance(t, tf.Tensor):
            continue
        j = acc.jvp(t, **kw)
        if j is None:
            continue
        _check_tensor(j)
        if tuple(j.shape) != tuple(t.shape) or j.dtype != t.dtype:
            raise Finding("jvp of shape %r %s for an output %r %s"
                          % (j.shape, j.dtype, t.shape, t.dtype))


def _tape(g, persistent, watch_accessed_variables=True):
    """A GradientTape; sometimes with anything for its two flags."""
    if g.chance(8):
        return tf.GradientTape(persistent=g.attr(),
                               watch_accessed_variables=g.attr())
    return tf.GradientTape(persistent=persistent,
                           watch_accessed_variables=watch_accessed_variables)


def _run(g):
    # 0 an operator or builtin, 1 a constructor, 2-4 the public API found
    # by introspection, 5-9 an op-table row
    what = g.int(0, 9)
    row = g.pick(ROWS) if what >= 5 else None
    case = g.pick(row["cases"]) if row and row["cases"] else {}
    inputs = _inputs(g, row, case) if row else [g.input(), g.input()]
    attrs = _attrs(g, row, case) if row else {}

    mode = g.int(0, 4)   # 0 no tape, 1 tape, 2 persistent, 3 nested, 4 w/o auto-watch
    outer = inner = acc = None
    tapes = []   # tapes and accumulators the public API calls made or entered
    if mode == 3:
        outer = _tape(g, persistent=g.bool())
        outer.__enter__()
    try:
        if g.chance(4):      # forward mode around the row
            try:
                acc = _accumulator(g, inputs)
                tapes.append(acc)
                acc.__enter__()
            except Exception as e:  # noqa: BLE001 -- the oracle decides
                check_exception(e)
                acc = None
        if mode:
            inner = _tape(g, persistent=mode == 2,
                          watch_accessed_variables=mode != 4)
            inner.__enter__()
        for x in inputs:
            if isinstance(x, tf.Tensor) and g.int(0, 3):
                for t in (inner, outer):
                    if t is not None:
                        t.watch(x)
        if inner is not None and g.chance(16):
            inner.watch(g.input())     # junk and nested structures
        if row is not None:
            out = _call_row(g, row, inputs, attrs)
        elif what >= 2:
            out = _call_surface_sequence(g, inputs, tapes)
        elif what == 1:
            out = _call_constructor(g, inputs)
        else:
            out = _call_operator(g, inputs)
        for t in _flatten(out):
            _check_tensor(t)
        if acc is not None:
            _check_jvps(g, acc, out)
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
        # every one is exited, even when an earlier exit raises
        for t in reversed([outer, inner] + tapes):
            try:
                if t is not None and t._recording:
                    t.__exit__(None, None, None)
            except Exception as e:  # noqa: BLE001 -- the oracle decides
                check_exception(e)


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
