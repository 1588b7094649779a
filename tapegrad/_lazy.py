"""Submodules a package executes on first use, and names a namespace takes
from other modules once the package is ready.

tapegrad.keras, .data, .random, .train, .image and .test were two thirds
of `import tapegrad` past NumPy (keras 45 ms, data 26 ms, random 13 ms,
which loads numpy.random): each is a real module in sys.modules and an
attribute of its package from the start, whose code runs when one of its
attributes is first read, as TF's own tf.keras loads on first use.

Why not PEP 562 (a module-level __getattr__), as before: CPython 3.11
specialises `tf.ones` and `tf.nn.relu` (LOAD_ATTR_MODULE) only in a module
that defines no __getattr__.  With one, every attribute read of the
namespace took the generic path, about 200 more instructions (15 ns):
800 of the 10.5k instructions of the seed cell went to its four `tf.`
names.  The Python-written names of tapegrad, math, nn, linalg and config
(control flow, tf.function, convolutions, ...) are therefore imported
with the package instead (`install_names`), which costs about 2.5 ms of
`import tapegrad` with the bytecode the build writes.
"""
import importlib
import importlib.util
import sys
import threading
import types
from typing import Dict, Sequence

_loading = threading.RLock()


# what module_from_spec set: read without running the code, so that
# repr(), `import tapegrad.keras` (which reads __spec__) and a scan of
# sys.modules for __file__ (inspect.getmodule) leave it for later
_METADATA = frozenset(("__name__", "__file__", "__spec__", "__loader__",
                       "__package__", "__class__"))


class _LazyModule(types.ModuleType):
    """A module whose code has not run yet: the first attribute read runs
    it (once, whatever the threads) and makes it a plain module."""

    def __getattribute__(self, attr):
        if attr not in _METADATA:
            _execute(self)
        return types.ModuleType.__getattribute__(self, attr)

    def __dir__(self):
        _execute(self)
        return types.ModuleType.__dir__(self)


def _execute(module: types.ModuleType) -> None:
    # Another thread reading an attribute while the code runs waits here
    # and then sees the whole module; the thread running it (its own
    # imports read the module) sees it as an import in progress.
    with _loading:
        if type(module) is not _LazyModule:
            return
        namespace = types.ModuleType.__getattribute__(module, "__dict__")
        if namespace.get("__lazy_running__"):
            return
        namespace["__lazy_running__"] = True
        try:
            namespace["__spec__"].loader.exec_module(module)
            module.__class__ = types.ModuleType
        finally:
            namespace.pop("__lazy_running__", None)


def lazy_submodules(package: str, names: Sequence[str]) -> None:
    """Make each of `names` a submodule of `package` (in sys.modules and an
    attribute of the package) whose code runs on first attribute read."""
    parent = sys.modules[package]
    for name in names:
        full = package + "." + name
        if full in sys.modules:
            continue
        spec = importlib.util.find_spec(full)
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _LazyModule
        sys.modules[full] = module
        setattr(parent, name, module)


def install_names(namespace: types.ModuleType,
                  names: Dict[str, str]) -> None:
    """Set each of `names` ({attr: "tapegrad._module"}) on `namespace`,
    read from its module: called once the package's own names exist,
    which those modules import."""
    for attr, source in names.items():
        setattr(namespace, attr,
                getattr(importlib.import_module(source), attr))
