"""tf.Module: a container that finds the Variables and Modules it holds.

``variables``, ``trainable_variables`` and ``submodules`` walk the
module's attributes in sorted order, into lists, tuples and dicts (dicts
in sorted key order), yielding this module's own leaves before those of
its submodules, each object once: TF's ``_flatten_module`` order.
"""
import functools
import re

from . import _tapegrad as C
from ._name_scope import name_scope

__all__ = ["Module"]

_IGNORED = frozenset(("_self_unconditional_checkpoint_dependencies",
                      "_self_unconditional_dependency_names"))


def _camel_to_snake(name):
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _leaves(value, seen_containers):
    """The non-container leaves of `value`: lists, tuples and dicts (in
    sorted key order when the keys sort) are walked, once each."""
    if isinstance(value, (list, tuple, dict)):
        if id(value) in seen_containers:
            return
        seen_containers.add(id(value))
        if isinstance(value, dict):
            try:
                keys = sorted(value)
            except TypeError:
                keys = list(value)
            items = [value[k] for k in keys]
        else:
            items = list(value)
        for item in items:
            yield from _leaves(item, seen_containers)
    else:
        yield value


_CONTAINERS = (list, tuple, dict)
# attribute values that can hold no Variable or Module: skipped without
# a predicate call (most of a layer's attributes are these)
_ATOMS = frozenset((int, float, str, bool, type(None), bytes))


def _flatten_module(module, predicate, recursive, seen=None):
    seen = set() if seen is None else seen
    seen.add(id(module))
    subs = []
    containers = set()
    attrs = vars(module)
    for key in sorted(attrs):
        value = attrs[key]
        if type(value) in _ATOMS or key in _IGNORED:
            continue
        leaves = (_leaves(value, containers)
                  if isinstance(value, _CONTAINERS) else (value,))
        for leaf in leaves:
            if id(leaf) in seen:
                continue
            wanted = predicate(leaf)
            is_module = recursive and isinstance(leaf, Module)
            if wanted or is_module:
                seen.add(id(leaf))
            if wanted:
                yield leaf
            if is_module:
                subs.append(leaf)
    for sub in subs:
        yield from _flatten_module(sub, predicate, recursive, seen)


def _is_variable(x):
    return type(x) is C.Variable or isinstance(x, C.Variable)


class Module:
    """Base class for objects that hold Variables and other Modules (TF's
    tf.Module)."""

    def __init__(self, name=None):
        if name is None:
            name = _camel_to_snake(type(self).__name__)
        elif not isinstance(name, str) or not re.match(
                r"^[A-Za-z_][A-Za-z0-9_.\-]*$", name):
            raise ValueError(
                "%r is not a valid module name. Module names must be valid "
                "Python identifiers (e.g. a valid class name)." % (name,))
        self._name = name
        # TF's: the scope as it stands where the module is made, kept
        # whole (a trailing "/"), so `with self.name_scope:` later names
        # its Variables 'outer/module/w:0' wherever it is entered
        with name_scope(name) as scope:
            self._name_scope = name_scope(scope)

    @property
    def name(self):
        return self._name

    @property
    def name_scope(self):
        """The module's tf.name_scope (its name, within the scope it was
        made in)."""
        return self._name_scope

    @property
    def variables(self):
        """Every Variable of this module and its submodules, in TF's
        order, each once (_flatten_module yields each object once)."""
        return tuple(_flatten_module(self, _is_variable, recursive=True))

    @property
    def trainable_variables(self):
        return tuple(v for v in self.variables if v.trainable)

    @property
    def non_trainable_variables(self):
        return tuple(v for v in self.variables if not v.trainable)

    @property
    def submodules(self):
        """Every Module reachable from this one (not itself), breadth
        first by attribute name, each once."""
        return tuple(_flatten_module(self, lambda x: isinstance(x, Module),
                                     recursive=True))

    @classmethod
    def with_name_scope(cls, method):
        """TF's decorator: the method runs inside the module's
        name_scope, so the Variables it makes carry the module's name."""
        @functools.wraps(method)
        def method_with_name_scope(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        return method_with_name_scope

    def __repr__(self):
        return "<%s.%s object at %#x>" % (type(self).__module__,
                                          type(self).__qualname__, id(self))
