"""keras.saving: Keras 3's registry of custom objects
(register_keras_serializable, the look-ups, custom_object_scope: a global
dict by "package>name" and a scope for temporary entries), the
serialization of Keras objects to JSON-able dicts and back
(serialize_keras_object / deserialize_keras_object, Keras 3's
{"module", "class_name", "config", "registered_name"} form), and the model
file: save_model / load_model, whose `.keras` archive is written and read
in _saving_lib.py.

Reading a config only ever instantiates tapegrad's own Keras classes
(looked up by name in a fixed table, never by importing a module the file
names) and classes or functions registered or passed in custom_objects.
"""
import inspect as _inspect
import threading as _threading
import types as _types

import numpy as _np

__all__ = ["register_keras_serializable", "get_registered_name",
           "get_registered_object", "get_custom_objects",
           "CustomObjectScope", "custom_object_scope",
           "serialize_keras_object", "deserialize_keras_object",
           "save_model", "load_model"]

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


# ---- serialization ----------------------------------------------------------
_PLAIN = (str, int, float, bool, type(None))
_builtins = None


def _builtin_tables():
    """({class or function: (public module, name)}, {public module: {name:
    object}}) for tapegrad's own Keras objects, built once.  The public
    module names are Keras 3's ("keras.layers", "keras.optimizers", ...),
    so a config reads as Keras writes it."""
    global _builtins
    if _builtins is not None:
        return _builtins
    from . import (activations, initializers, layers, losses, metrics,
                   models, optimizers)
    from .optimizers import schedules
    by_module = {
        "keras.layers": {n: getattr(layers, n) for n in layers.__all__
                         if n != "Input"},
        "keras": {"Model": models.Model, "Sequential": models.Sequential,
                  "Functional": models.Functional},
        "keras.optimizers": {c.__name__: c for c in
                             [optimizers.Optimizer] +
                             list(optimizers._BY_NAME.values())},
        "keras.optimizers.schedules": {
            n: getattr(schedules, n) for n in schedules.__all__},
        "keras.losses": {n: o for n, o in losses.ALL_OBJECTS_DICT.items()},
        "keras.metrics": {n: o for n, o in metrics.ALL_OBJECTS_DICT.items()},
        "keras.initializers": {
            c.__name__: c for c in set(initializers._BY_NAME.values())},
        "keras.activations": dict(activations._BY_NAME),
    }
    by_module["keras.models"] = by_module["keras"]
    names = {}
    for module in ("keras.activations", "keras.initializers",
                   "keras.optimizers.schedules", "keras.optimizers",
                   "keras.metrics", "keras.losses", "keras.layers",
                   "keras"):
        for name, obj in by_module[module].items():
            # a class or function under its own name (not an alias)
            if getattr(obj, "__name__", None) == name:
                names[obj] = (module, name)
    _builtins = (names, by_module)
    return _builtins


def serialize_keras_object(obj):
    """`obj` as JSON-able data: plain values as they are, lists and dicts
    item by item, NumPy values as numbers or {"class_name": "__numpy__"},
    a function as {"class_name": "function", "config": its name}, any
    other object with get_config() as {"module", "class_name", "config",
    "registered_name"} plus its build_config and compile_config when it
    has them (a model or a layer)."""
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, _np.generic):
        return obj.item()
    if isinstance(obj, _np.ndarray):
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    names, _ = _builtin_tables()
    if isinstance(obj, (_types.FunctionType, _types.BuiltinFunctionType)):
        if obj.__name__ == "<lambda>":
            # Keras would write its bytecode, read back only with
            # safe_mode=False; tapegrad writes no code into files
            raise ValueError(
                "Cannot serialize a lambda (%r): give the function a name "
                "(def) and register it with "
                "@keras.saving.register_keras_serializable()" % (obj,))
        if obj in names:
            module, name = names[obj]
            return {"module": module, "class_name": "function",
                    "config": name, "registered_name": name}
        name = get_registered_name(obj)
        return {"module": obj.__module__, "class_name": "function",
                "config": name, "registered_name": name}
    cls = type(obj)
    config = getattr(obj, "get_config", None)
    if config is None:
        raise TypeError(
            "Cannot serialize object %r of type %s. To be serializable, a "
            "class must implement the `get_config()` method."
            % (obj, cls.__name__))
    config = config()
    if not isinstance(config, dict):
        raise TypeError("The `get_config()` method of %r should return a "
                        "dict. It returned: %r" % (obj, config))
    if cls in names and cls not in GLOBAL_CUSTOM_NAMES:
        module, name = names[cls]
        registered = None
    else:
        module, name = cls.__module__, cls.__name__
        registered = get_registered_name(cls)
    out = {"module": module, "class_name": name,
           "config": serialize_keras_object(config),
           "registered_name": registered}
    build = getattr(obj, "get_build_config", None)
    if build is not None:
        build = build()
        if build is not None:
            out["build_config"] = serialize_keras_object(build)
    compile_config = getattr(obj, "get_compile_config", None)
    if compile_config is not None:
        compile_config = compile_config()
        if compile_config:
            out["compile_config"] = serialize_keras_object(compile_config)
    return out


class _NotFound(TypeError):
    """A config names a class or function nothing registers: passed up
    as it is through the from_config calls of the objects holding it."""


def _not_found(kind, name, config):
    return _NotFound(
        "Could not locate %s '%s'. Make sure custom classes and functions "
        "are decorated with `@keras.saving.register_keras_serializable()` "
        "(and imported, so that the decorator has run, before loading), "
        "or pass them to the loading function as `custom_objects={'%s': "
        "%s}`. Full object config: %s"
        % (kind, name, name, name, config))


def _retrieve(kind, name, registered_name, module, config, custom_objects):
    """The class or function a config names: the registry (the scope,
    the global dict, then `custom_objects`, by registered name and then
    by plain name), else tapegrad's own object for a "keras..." module."""
    for key in (registered_name, name):
        if isinstance(key, str):
            found = get_registered_object(key, custom_objects)
            if found is not None:
                return found
    _, by_module = _builtin_tables()
    if isinstance(module, str) and (module == "keras" or
                                    module.startswith("keras.")):
        table = by_module.get(module)
        if table is None and kind == "function":
            table = {}
            for m in ("keras.activations", "keras.losses", "keras.metrics"):
                table.update(by_module[m])
        found = (table or {}).get(name)
        if found is not None:
            return found
    raise _not_found(kind, name, config)


def deserialize_keras_object(config, custom_objects=None, safe_mode=True,
                             **kwargs):
    """The object serialize_keras_object's `config` describes: a class
    found by _retrieve, made by its from_config(config["config"]) inside
    a custom_object_scope(custom_objects), then built from its
    build_config and compiled from its compile_config when they are
    there."""
    # the scope's entries travel down with the arguments: the scope each
    # from_config call runs in holds exactly these
    custom_objects = {**(custom_objects or {}), **_scope_dict()}
    if isinstance(config, _PLAIN):
        if isinstance(config, str) and config in custom_objects:
            return custom_objects[config]
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode)
                for x in config]
    if not isinstance(config, dict):
        raise TypeError("Could not parse config: %r" % (config,))
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode)
                for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if class_name == "__numpy__":
        return _np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__lambda__":
        raise ValueError(
            "Requested the deserialization of a Python lambda, which only "
            "running code from the file could do; tapegrad never does that "
            "(whatever safe_mode says). Define the function with def, "
            "register it, and save the model again.")
    module = config.get("module")
    registered_name = config.get("registered_name", class_name)
    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError("Expected 'config' to be a str naming a "
                            "function, got %r. Full config: %s"
                            % (inner, config))
        return _retrieve("function", inner, registered_name, module,
                         config, custom_objects)
    if not isinstance(class_name, str) or not isinstance(inner, dict):
        raise TypeError("Expected a str 'class_name' and a dict 'config', "
                        "got %r. Full config: %s" % (inner, config))
    cls = _retrieve("class", class_name, registered_name, module, config,
                    custom_objects)
    if not isinstance(cls, type):
        return cls
    with CustomObjectScope(custom_objects):
        try:
            if hasattr(cls, "from_config"):
                instance = cls.from_config(inner)
            else:
                instance = cls(**inner)
        except _NotFound:
            raise
        except TypeError as e:
            raise TypeError(
                "%s could not be deserialized properly: %s. Make sure its "
                "get_config() returns every argument its constructor "
                "needs, or define from_config(cls, config). config=%s"
                % (cls.__name__, e, config)) from e
        build_config = config.get("build_config")
        if build_config and not getattr(instance, "built", True):
            instance.build_from_config(build_config)
            instance.built = True
        compile_config = config.get("compile_config")
        if compile_config and hasattr(instance, "compile_from_config"):
            instance.compile_from_config(compile_config)
    return instance


# ---- the model file ---------------------------------------------------------
def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Write `model` to `filepath`, a `.keras` archive (_saving_lib.py)."""
    from . import _saving_lib
    return _saving_lib.save_model(model, filepath, overwrite=overwrite,
                                  zipped=zipped, **kwargs)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model a `.keras` archive holds, built, with its weights, and
    compiled (with the optimizer's state) if it was compiled and
    `compile` is true."""
    from . import _saving_lib
    return _saving_lib.load_model(filepath, custom_objects=custom_objects,
                                  compile=compile, safe_mode=safe_mode)
