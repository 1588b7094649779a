"""Submodules a package imports on first use, and names a namespace takes
from other modules once the package is ready.

tapegrad.keras, .data, .random, .train, .image and .test were two
thirds of `import tapegrad` past NumPy (keras 45 ms, data 26 ms,
random 13 ms, which loads numpy.random): until first used, each is a
stand-in on its package (`tf.keras`), not in sys.modules, that imports
the real module when one of its attributes is read.  The import is the
import system's own (the package's code before any of its submodules,
its locks and their deadlock detection), and it puts the real module in
place of the stand-in; a stand-in someone kept (`from tapegrad import
keras` before first use) passes every attribute on to the real module.
As TF's own tf.keras, loaded on first use.

Why not PEP 562 (a module-level __getattr__), as before: CPython 3.11
specialises `tf.ones` and `tf.nn.relu` (LOAD_ATTR_MODULE) only in a module
that defines no __getattr__.  With one, every attribute read of the
namespace took the generic path, about 200 more instructions (15 ns):
800 of the 10.5k instructions of the seed cell went to its four `tf.`
names.  The Python-written names of tapegrad, math, nn, linalg and config
(control flow, tf.function, convolutions, ...) are therefore imported
with the package instead (`install_names`), which costs about 2 ms of
`import tapegrad` with the bytecode the build writes.

Why a stand-in and not the module itself made lazy (importlib.util.
LazyLoader's way, tried first): the import system reads a package's
__path__ to import a submodule after checking sys.modules for it, so
`import tapegrad.keras.layers` as the first use ran keras (which imports
layers) inside that read and then loaded layers a second time, whose
classes Keras's models no longer recognised; and the lock its first run
needed deadlocked against the import system's own.
"""
import importlib
import types
from typing import Any, Dict, List, Optional, Sequence


class _LazySubmodule(types.ModuleType):
    """Stands in for submodule `__name__` of a package until first used:
    reading, setting or listing its attributes imports the real module
    and acts on that."""

    def __getattribute__(self, attr: str) -> Any:
        return getattr(_real(self), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(_real(self), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(_real(self), attr)

    def __dir__(self) -> List[str]:
        return dir(_real(self))

    def __repr__(self) -> str:
        return repr(_real(self))


def _real(stand_in: _LazySubmodule) -> types.ModuleType:
    # the real module, imported by the first call and kept in the
    # stand-in's own dict (a kept stand-in reads through it each time)
    own = types.ModuleType.__getattribute__(stand_in, "__dict__")
    real: Optional[types.ModuleType] = own.get("__real_module__")
    if real is None:
        real = importlib.import_module(own["__name__"])
        own["__real_module__"] = real
    return real


def lazy_submodules(package: types.ModuleType, names: Sequence[str]) -> None:
    """Put a stand-in for each of `names` (submodules of `package` not yet
    imported) on the package."""
    for name in names:
        setattr(package, name,
                _LazySubmodule(package.__name__ + "." + name))


def install_names(namespace: types.ModuleType,
                  names: Dict[str, str]) -> None:
    """Set each of `names` ({attr: "tapegrad._module"}) on `namespace`,
    read from its module: called once the package's own names exist,
    which those modules import."""
    for attr, source in names.items():
        setattr(namespace, attr,
                getattr(importlib.import_module(source), attr))
