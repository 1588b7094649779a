"""Names a namespace loads on first use (PEP 562 module __getattr__).

`import tapegrad` compiles and runs every module it imports; where no
bytecode cache is written (PYTHONDONTWRITEBYTECODE, a read-only
checkout) that was a third of NumPy's own import time.  The Python-
written parts a program may never touch (control flow, convolutions,
tf.function, tf.print, the composite ops ...) are instead listed by
name in their namespace and imported when a name is first read.
"""
import importlib
import sys
from typing import Any, Callable, Dict, List, Sequence, Tuple


def attach(module_name: str, names: Dict[str, str],
           submodules: Sequence[str] = ()
           ) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """The (__getattr__, __dir__) pair for module `module_name`: each of
    `names` ({attr: "tapegrad._module"}) is read from its module on first
    use and then kept in the namespace; each of `submodules` is
    `module_name`.<sub>, imported on first use."""
    namespace = sys.modules[module_name].__dict__

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(module_name + "." + name)
        source = names.get(name)
        if source is None:
            raise AttributeError(
                f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value         # found directly from now on
        return value

    def __dir__() -> List[str]:
        return sorted(set(namespace) | set(names) | set(submodules))

    return __getattr__, __dir__
