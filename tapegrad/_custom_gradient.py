"""tapegrad.custom_gradient: a function with a gradient of the user's own.

TF's eager contract (tensorflow/python/ops/custom_gradient.py): `f(*args)`
returns `(result, grad_fn)`.  The tapes record one op from the flattened
positional arguments (and the trainable Variables `f` read that are not
arguments) to `result`'s tensors; the sweep calls `grad_fn(*upstream)` for
it and nothing inside `f`.  This wrapper runs once per call of the
decorated function, like TF's Python; the op itself is the C row
`custom_gradient` (src/ops.c), so the sweep, nesting and higher order work
as for every other op.

Where TF leaves order unspecified (the variables `f` read: a set in TF),
tapegrad passes them in the order `f` first read them.
"""
import functools

from . import _tapegrad as _C


def _flatten(structure):
    """TF's nest.flatten for lists, tuples (named ones too) and dicts
    (values in sorted key order); anything else is a leaf."""
    if isinstance(structure, dict):
        out = []
        for key in _sorted_keys(structure):
            out.extend(_flatten(structure[key]))
        return out
    if isinstance(structure, (list, tuple)):
        out = []
        for item in structure:
            out.extend(_flatten(item))
        return out
    return [structure]


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def _pack_as(structure, flat):
    """TF's nest.pack_sequence_as: `flat` laid out as `structure`."""
    items = iter(flat)

    def build(s):
        if isinstance(s, dict):
            values = {k: build(s[k]) for k in _sorted_keys(s)}
            return type(s)((k, values[k]) for k in s)
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            return type(s)(*[build(x) for x in s])
        if isinstance(s, (list, tuple)):
            return type(s)(build(x) for x in s)
        return next(items)

    return build(structure)


_CO_VARKEYWORDS = 0x08  # inspect.CO_VARKEYWORDS


def _accepts_variables(fn):
    """Can `fn` take a `variables=` keyword (TF's getfullargspec test)?
    Read from the code object: inspect's signature machinery would cost
    every call of a decorated function tens of microseconds."""
    func = getattr(fn, "__func__", fn)          # bound methods
    code = getattr(func, "__code__", None)
    if code is None:
        import inspect  # partials, builtins, callable objects
        try:
            spec = inspect.getfullargspec(fn)
        except TypeError:
            return True  # no signature to read: let the call decide
        return ("variables" in spec.args or "variables" in spec.kwonlyargs
                or spec.varkw is not None)
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    return "variables" in names or bool(code.co_flags & _CO_VARKEYWORDS)


def custom_gradient(f=None):
    """Decorator: `f(*x)` returns `(y, grad_fn)`; gradients of `y` with
    respect to `x` (and to the Variables `f` reads) come from
    `grad_fn(*dy)` instead of from the ops inside `f`.

    `grad_fn` returns one gradient per flattened positional argument (a
    single tensor when there is one).  If `f` reads trainable Variables
    that are not arguments, `grad_fn` must take a `variables` keyword and
    return `(input_grads, variable_grads)`.  `grad_fn` runs under the
    active tapes, so nested tapes differentiate it again.
    """
    if f is None:
        return lambda f: custom_gradient(f=f)
    return _Decorated(f)


class _Decorated:
    """The decorated function.  A descriptor, as TF's decorator is, so a
    method's `self` is bound to `f` and never taken for an input."""

    def __init__(self, f):
        functools.update_wrapper(self, f)
        self._f = f

    def __call__(self, *args, **kwargs):
        return _call(self._f, args, kwargs)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        bound = self._f.__get__(instance, owner)
        return functools.wraps(self._f)(
            lambda *args, **kwargs: _call(bound, args, kwargs))

    def __repr__(self):
        return "<custom_gradient %r>" % (self._f,)


def _call(f, args, kwargs):
    watcher = _C._variable_watcher_push()
    try:
        result, grad_fn = f(*args, **kwargs)
    finally:
        _C._variable_watcher_pop(watcher)
    flat_args = _flatten(args)
    all_inputs = flat_args + _flatten(kwargs)
    variables = [v for v in watcher
                 if not any(v is i for i in all_inputs)]
    if variables and not _accepts_variables(grad_fn):
        raise TypeError(
            "@tapegrad.custom_gradient grad_fn must accept keyword argument "
            "'variables', since function uses variables: {}".format(variables))
    flat_result = _flatten(result)
    if not flat_result:
        return result  # nothing to differentiate
    inputs = [_C.convert_to_tensor(x) for x in flat_args + variables]
    outputs = [_C.convert_to_tensor(y) for y in flat_result]
    arg_count = len(flat_args)
    # only the layout of `result` is kept, not its tensors
    layout = _pack_as(result, [None] * len(flat_result))

    def actual_grad_fn(*result_grads):
        grads = _pack_as(layout, result_grads)
        if not isinstance(grads, (list, tuple)):
            grads = [grads]
        if variables:
            returned = grad_fn(*grads, variables=variables)
            if not (isinstance(returned, (list, tuple)) and
                    len(returned) == 2 and
                    isinstance(returned[1], (list, tuple))):
                raise TypeError(
                    "custom_gradient: a grad_fn that takes `variables` must "
                    "return (input gradients, a list of variable "
                    "gradients), got %.200r" % (returned,))
            input_grads, variable_grads = returned
            if len(variable_grads) != len(variables):
                raise ValueError("Must return gradient for each variable "
                                 "from @custom_gradient grad_fn.")
        else:
            input_grads = grad_fn(*grads)
            variable_grads = []
        flat_grads = _flatten(input_grads)
        if len(flat_grads) != arg_count:
            raise ValueError(
                "custom_gradient function expected to return %d gradients, "
                "but returned %d instead." % (arg_count, len(flat_grads)))
        return flat_grads + list(variable_grads)

    out = _C._call("custom_gradient", inputs + outputs,
                   num_inputs=len(inputs), grad_fn=actual_grad_fn)
    if len(outputs) == 1:
        out = [out]
    return _pack_as(result, list(out))
