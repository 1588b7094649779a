from _typeshed import Incomplete
import types
__all__ = ['function', 'TensorSpec', 'device']

def run_functions_eagerly(run_eagerly: bool) -> None: ...
def functions_run_eagerly() -> bool: ...

class TensorSpec:

    def __init__(self, shape: Incomplete, dtype: Incomplete=None, name: Incomplete=None) -> None:
        ...

    @property
    def shape(self) -> Incomplete:
        ...

    @property
    def dtype(self) -> Incomplete:
        ...

    @property
    def name(self) -> Incomplete:
        ...

    def is_compatible_with(self, value: Incomplete) -> Incomplete:
        ...

    def __eq__(self, other: Incomplete) -> Incomplete:
        ...

    def __hash__(self) -> Incomplete:
        ...

class Function:

    def __init__(self, python_function: Incomplete, input_signature: Incomplete=None, **options: Incomplete) -> None:
        ...

    @property
    def python_function(self) -> Incomplete:
        ...

    @property
    def input_signature(self) -> Incomplete:
        ...

    def __call__(self, *args: Incomplete, **kwargs: Incomplete) -> Incomplete:
        ...

    def __get__(self, instance: Incomplete, owner: Incomplete=None) -> Incomplete:
        ...

def function(func: Incomplete=None, input_signature: Incomplete=None, autograph: bool=True, jit_compile: Incomplete=None, reduce_retracing: bool=False, experimental_implements: Incomplete=None, experimental_autograph_options: Incomplete=None, experimental_attributes: Incomplete=None, experimental_relax_shapes: Incomplete=None, experimental_compile: Incomplete=None, experimental_follow_type_hints: Incomplete=None) -> Incomplete:
    ...

class device:

    def __init__(self, device_name: Incomplete) -> None:
        ...

    def __enter__(self) -> Incomplete:
        ...

    def __exit__(self, *exc: Incomplete) -> Incomplete:
        ...
