from _typeshed import Incomplete
__all__ = ['save_model', 'load_model']

class _NumpyDtype:
    as_numpy_dtype: Incomplete

    def __init__(self, dtype: Incomplete) -> None:
        ...

class _RngState:
    dtype: Incomplete
    shape: Incomplete
    name: str
    layer: Incomplete

    def __init__(self, layer: Incomplete) -> None:
        ...

    def numpy(self) -> Incomplete:
        ...

    def assign(self, value: Incomplete, read_value: bool=False) -> None:
        ...

def save_model(model: Incomplete, filepath: Incomplete, overwrite: bool=True, zipped: Incomplete=None, **kwargs: Incomplete) -> None:
    ...

def load_model(filepath: Incomplete, custom_objects: Incomplete=None, compile: bool=True, safe_mode: bool=True) -> Incomplete:
    ...
