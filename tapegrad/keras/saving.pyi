import types
from _typeshed import Incomplete
__all__ = ['register_keras_serializable', 'get_registered_name', 'get_registered_object', 'get_custom_objects', 'CustomObjectScope', 'custom_object_scope', 'serialize_keras_object', 'deserialize_keras_object', 'save_model', 'load_model']

class CustomObjectScope:
    custom_objects: Incomplete
    backup: Incomplete

    def __init__(self, custom_objects: Incomplete) -> None:
        ...

    def __enter__(self) -> Incomplete:
        ...

    def __exit__(self, *exc: Incomplete) -> None:
        ...
custom_object_scope = CustomObjectScope

def get_custom_objects() -> Incomplete:
    ...

def register_keras_serializable(package: str='Custom', name: Incomplete=None) -> Incomplete:
    ...

def get_registered_name(obj: Incomplete) -> Incomplete:
    ...

def get_registered_object(name: Incomplete, custom_objects: Incomplete=None, module_objects: Incomplete=None) -> Incomplete:
    ...

def serialize_keras_object(obj: Incomplete) -> Incomplete:
    ...

class _NotFound(TypeError):
    ...

def deserialize_keras_object(config: Incomplete, custom_objects: Incomplete=None, safe_mode: bool=True, **kwargs: Incomplete) -> Incomplete:
    ...

def save_model(model: Incomplete, filepath: Incomplete, overwrite: bool=True, zipped: Incomplete=None, **kwargs: Incomplete) -> Incomplete:
    ...

def load_model(filepath: Incomplete, custom_objects: Incomplete=None, compile: bool=True, safe_mode: bool=True) -> Incomplete:
    ...
