"""tf.name_scope: the names of the Variables made inside it.

TF runs eagerly here, so a scope names only what keeps a name: a Variable
made inside `with tf.name_scope("dense"):` is 'dense/w:0' (unnamed:
'dense/Variable:0'), as TF's eager variables are.  The scope is the
calling thread's, kept in C beside its tapes (src/tape.c), where the
Variable constructor reads it.  The rules are TF's name_scope_v2 in eager
mode: a nested scope adds "name/", a name ending in "/" is the whole
scope, and "" leaves every scope.
"""
from . import _tapegrad as C

__all__ = ["name_scope", "get_current_name_scope"]


class name_scope:
    """A context manager that makes `name` part of the names of the
    Variables made inside it; entering it gives the whole scope
    ('outer/name/')."""

    def __init__(self, name):
        if not isinstance(name, str):
            raise ValueError("name for name_scope must be a string.")
        self._name = name
        self._outer = []

    @property
    def name(self):
        return self._name

    def __enter__(self):
        outer = C._scope_name()
        name = self._name
        if not name:
            scope = ""
        elif name[-1] == "/":
            scope = name
        else:
            scope = outer + name + "/"
        C._set_scope_name(scope)
        self._outer.append(outer)
        return scope

    def __exit__(self, *exc):
        C._set_scope_name(self._outer.pop())
        return False


def get_current_name_scope():
    """This thread's name scope without its trailing "/" ('outer/inner'),
    '' outside every scope."""
    return C._scope_name().rstrip("/")
