"""keras.saving's registry of custom objects: register_keras_serializable
and the look-ups, as Keras 3 keeps them (a global dict by "package>name",
a scope for temporary entries).  Saving and loading models (`model.save`,
`load_model`, the `.keras` format) are not here: they write weights, which
is tapegrad's checkpoint work."""
import inspect as _inspect
import threading as _threading

__all__ = ["register_keras_serializable", "get_registered_name",
           "get_registered_object", "get_custom_objects",
           "CustomObjectScope", "custom_object_scope"]

GLOBAL_CUSTOM_OBJECTS = {}
GLOBAL_CUSTOM_NAMES = {}
_scope = _threading.local()


def _scope_dict():
    return getattr(_scope, "objects", {})


class CustomObjectScope:
    """`with custom_object_scope({"name": obj}):` makes `obj` findable by
    name (get_registered_object) inside the block."""

    def __init__(self, custom_objects):
        if custom_objects is not None and not isinstance(custom_objects,
                                                         dict):
            raise TypeError("custom_object_scope expects a dict of {name: "
                            "object}, got %r (of type %s)"
                            % (custom_objects, type(custom_objects).__name__))
        self.custom_objects = dict(custom_objects or {})
        self.backup = None

    def __enter__(self):
        self.backup = _scope_dict().copy()
        _scope.objects = self.custom_objects.copy()
        return self

    def __exit__(self, *exc):
        if self.backup is None:
            raise RuntimeError("custom_object_scope: __exit__ without "
                               "__enter__")
        _scope.objects, self.backup = self.backup, None


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The live global dict of registered objects."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """A decorator registering a class or function under "package>name"
    (the object's __name__ by default); a class must have get_config()."""

    def decorator(arg):
        if name is None and not isinstance(getattr(arg, "__name__", None),
                                           str):
            raise TypeError("register_keras_serializable registers a class "
                            "or a function (an object with a __name__), got "
                            "%r; pass name= for other objects" % (arg,))
        class_name = name if name is not None else arg.__name__
        registered_name = "%s>%s" % (package, class_name)
        if _inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a "
                             "get_config() method.")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj):
    """The name `obj` is registered under, else its __name__."""
    if obj in GLOBAL_CUSTOM_NAMES:
        return GLOBAL_CUSTOM_NAMES[obj]
    name = getattr(obj, "__name__", None)
    if not isinstance(name, str):
        raise TypeError("get_registered_name takes a class or a function, "
                        "got %r (of type %s), which has no __name__"
                        % (obj, type(obj).__name__))
    return name


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered under `name` (the scope's first, then the
    global registry, then `custom_objects`, then `module_objects`), or
    None."""
    scoped = _scope_dict()
    if name in scoped:
        return scoped[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None
