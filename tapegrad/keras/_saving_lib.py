"""The `.keras` model file: model.save / keras.models.load_model.

The archive is Keras 3's: a zip holding ``metadata.json`` (keras_version,
date_saved), ``config.json`` (the model as serialize_keras_object gives
it, with its build_config and compile_config) and the weights.  Keras
writes the weights as HDF5 (``model.weights.h5``); tapegrad does not
depend on h5py, so it writes ``model.weights.npz``: NumPy arrays under
flat keys ``<path>/vars/<i>``, the path naming the layer as Keras' walk
does (an attribute's name, ``layers/<snake_case class name>`` with a
counter for the layers of a Sequential or Functional model and for
layers in lists or dicts, ``optimizer`` for the optimizer) and i the
variable's index in that object.  Keras itself cannot read these files,
and tapegrad does not read Keras' HDF5 ones.

Writing is atomic (a temporary file beside the target, then os.replace:
_npzfile._atomic_write).  Reading checks everything before it changes
anything: the archive and its members, every array's header (an array of
Python objects, which only unpickling could read, refuses the file), and
every layer's number of variables and shapes; then the values are
assigned.  Nothing is ever unpickled.
"""
import datetime
import io
import json
import os
import zipfile

import numpy as np

from .._module import Module, _is_variable, _leaves
from .._npzfile import _DAMAGED, _atomic_write, _Reader, _write_npz
from .layers import _NOT_LAYERS, Layer, _snake_case

__all__ = ["save_model", "load_model"]

KERAS_VERSION = "3.10.0"     # the Keras 3 API this file's layout follows
_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.npz"
_WEIGHTS_H5 = "model.weights.h5"
# attributes that hold no state of the layer's own: fit's cached list of
# the trainable variables, the compiled optimizer and metrics (saved
# apart), the history of the last fit
_SKIPPED = _NOT_LAYERS | {"_step_variables", "optimizer", "_metrics",
                          "history", "_compile_config", "_layers",
                          "_operations", "_inputs_struct",
                          "_outputs_struct"}
# a member larger than this that also expands more than 100 times over
# its stored size is refused (a zip bomb), as Keras refuses them
_BOMB_FLOOR = 1 << 30


def _path_arg(filepath):
    if isinstance(filepath, (bytes, bytearray)):
        raise TypeError("filepath must be a str or os.PathLike, got bytes")
    path = os.fspath(filepath)
    if not isinstance(path, str):
        raise TypeError("filepath must be a str or os.PathLike, got %s"
                        % type(filepath).__name__)
    return path


# ---- which variables a model holds, by path ---------------------------------
def _join(path, name):
    return name if not path else path + "/" + name


def _container_names(layers, used):
    """(name, layer) for layers in a list or dict: their classes' snake
    case names with a counter, as Keras names them (a layer's own name
    is generated and may differ between two instances of a model)."""
    out = []
    for layer in layers:
        name = _snake_case(type(layer).__name__)
        if name in used:
            used[name] += 1
            name = "%s_%d" % (name, used[name])
        else:
            used[name] = 0
        out.append((name, layer))
    return out


def _children(layer):
    """The layer's own variables (in creation order, then those held in
    its attributes) and its sublayers as (name, layer)."""
    own = list(layer._own_weights)
    subs = []
    if _is_graph_model(layer):
        subs.append(("layers", None, layer.layers))
    for key, value in vars(layer).items():
        if key in _SKIPPED or isinstance(value, (str, int, float, bool,
                                                 type(None))):
            continue
        if isinstance(value, Layer):
            subs.append((key, value, None))
        elif _is_variable(value):
            own.append(value)
        elif isinstance(value, (list, tuple, dict)):
            leaves = list(_leaves(value, set()))
            layers = [x for x in leaves if isinstance(x, Layer)]
            own.extend(x for x in leaves if _is_variable(x))
            own.extend(v for x in leaves if isinstance(x, Module) and
                       not isinstance(x, Layer) for v in x.variables)
            if layers:
                subs.append((key, None, layers))
        elif isinstance(value, Module):     # a plain tf.Module attribute
            own.extend(value.variables)
    if hasattr(layer, "_get_rng_state"):
        own.append(_RngState(layer))
    named = []
    for key, single, many in subs:
        if single is not None:
            named.append((key, single))
        else:
            named.extend((_join(key, n), s)
                         for n, s in _container_names(many, {}))
    return own, named


class _NumpyDtype:
    def __init__(self, dtype):
        self.as_numpy_dtype = dtype


class _RngState:
    """A layer's random state (Dropout's seed and call count) standing in
    for a variable: saved and checked as one, set through the layer."""

    dtype = _NumpyDtype(np.uint64)
    shape = (2,)
    name = "seed_generator_state"

    def __init__(self, layer):
        self.layer = layer

    def numpy(self):
        return self.layer._get_rng_state()

    def assign(self, value, read_value=False):
        self.layer._set_rng_state(value)


def _is_graph_model(layer):
    from .models import Functional, Sequential
    return isinstance(layer, (Functional, Sequential))


def _variables_by_layer(model):
    """[(path, layer, [variables])] for the model and every layer below
    it, depth first, each layer and each variable once."""
    out = []
    seen_layers, seen_vars = set(), set()

    def walk(path, layer):
        seen_layers.add(id(layer))
        own, subs = _children(layer)
        mine = []
        for v in own:
            if id(v) not in seen_vars:
                seen_vars.add(id(v))
                mine.append(v)
        out.append((path, layer, mine))
        for name, sub in subs:
            if id(sub) not in seen_layers:
                walk(_join(path, name), sub)
    walk("", model)
    return out


def _optimizer_of(model):
    opt = getattr(model, "optimizer", None)
    return opt if getattr(model, "compiled", False) and opt is not None \
        else None


# ---- save -------------------------------------------------------------------
def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Write `model` to the `.keras` archive `filepath`, atomically.
    overwrite=False and an existing file: FileExistsError (Keras asks on
    the terminal; a library call that may run unattended should not)."""
    from .models import Model
    kwargs.pop("include_optimizer", None)
    kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError("The following argument(s) are not supported: %s"
                         % sorted(kwargs))
    if not isinstance(model, Model):
        raise TypeError("save_model expects a keras Model, got %r (of type "
                        "%s)" % (model, type(model).__name__))
    path = _path_arg(filepath)
    if zipped is False:
        raise NotImplementedError(
            "zipped=False (the model as a directory) is not supported: "
            "tapegrad writes the `.keras` archive")
    if path.endswith((".h5", ".hdf5")):
        raise ValueError(
            "Invalid filepath extension for saving: %s is Keras' legacy "
            "HDF5 format, which tapegrad does not write (it has no h5py). "
            "Use a `.keras` extension (model.save('my_model.keras')), or "
            "model.save_weights for the weights alone. Received: "
            "filepath=%s" % (os.path.splitext(path)[1], path))
    if not path.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving. Please add a `.keras` "
            "extension for the native Keras format (tapegrad writes no "
            "other model format; tf.saved_model.save exports a "
            "SavedModel). Received: filepath=%s." % path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(
            "%s exists and overwrite=False (Keras would ask on the "
            "terminal; tapegrad refuses instead)" % path)
    if not model.built:
        import warnings
        warnings.warn(
            "You are saving a model that has not yet been built. It might "
            "not contain any weights yet. Consider building the model "
            "first by calling it on some data.", stacklevel=3)
    from .saving import serialize_keras_object
    config = json.dumps(serialize_keras_object(model))
    metadata = json.dumps({
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "weights_format": "npz",
        "writer": "tapegrad"})
    arrays = []
    for lpath, _, variables in _variables_by_layer(model):
        for i, v in enumerate(variables):
            arrays.append((_join(lpath, "vars/%d" % i), np.asarray(v.numpy())))
    opt = _optimizer_of(model)
    if opt is not None:
        for i, v in enumerate(opt.variables):
            arrays.append(("optimizer/vars/%d" % i, np.asarray(v.numpy())))
    weights = io.BytesIO()
    _write_npz(weights, arrays)

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED,
                             allowZip64=True) as zf:
            zf.writestr(_METADATA, metadata)
            zf.writestr(_CONFIG, config)
            zf.writestr(_WEIGHTS, weights.getvalue())
    _atomic_write(path, write)


# ---- load -------------------------------------------------------------------
def _bad(path, why):
    return ValueError("Cannot load %r: %s" % (path, why))


def _read_member(zf, path, name):
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise _bad(path, "the archive has no %s (a `.keras` file holds "
                   "metadata.json, config.json and the weights)"
                   % name) from None
    if info.file_size > _BOMB_FLOOR and \
            info.file_size > 100 * max(info.compress_size, 1):
        raise _bad(path, "its member %s declares %d bytes but stores %d: "
                   "refusing a potential decompression bomb"
                   % (name, info.file_size, info.compress_size))
    try:
        return zf.read(name)
    except _DAMAGED as e:
        raise _bad(path, "its member %s is damaged (%s: %s)"
                   % (name, type(e).__name__, e)) from e


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    from .saving import deserialize_keras_object
    path = _path_arg(filepath)
    if path.endswith((".h5", ".hdf5")):
        raise ValueError(
            "File format not supported: filepath=%s. This is Keras' legacy "
            "HDF5 format, which tapegrad does not read (it has no h5py); "
            "tapegrad reads `.keras` files it wrote." % path)
    if not path.endswith(".keras"):
        raise ValueError(
            "File format not supported: filepath=%s. tapegrad reads `.keras` "
            "files (model.save('name.keras')); a SavedModel directory is "
            "read by tf.saved_model.load, and a weights checkpoint by "
            "model.load_weights." % path)
    if not os.path.exists(path):
        raise ValueError(
            "File not found: filepath=%s. Please ensure the file is an "
            "accessible `.keras` zip file." % path)
    if os.path.isdir(path):
        raise ValueError("Cannot load %r: it is a directory, not a `.keras` "
                         "zip file" % path)
    try:
        zf = zipfile.ZipFile(path, "r")
    except _DAMAGED as e:
        raise _bad(path, "it is not a zip archive, or it is truncated or "
                   "corrupt (%s: %s)" % (type(e).__name__, e)) from e
    with zf:
        raw = _read_member(zf, path, _CONFIG)
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _bad(path, "its config.json is not JSON (%s)" % e) from e
        if not isinstance(config, dict) or "class_name" not in config:
            raise _bad(path, "its config.json does not describe a model")
        names = zf.namelist()
        if _WEIGHTS not in names:
            if _WEIGHTS_H5 in names:
                raise _bad(path, "its weights are HDF5 (model.weights.h5: "
                           "a file Keras wrote), which tapegrad does not "
                           "read; tapegrad reads the `.keras` files it "
                           "writes (model.weights.npz)")
            raise _bad(path, "the archive has no %s" % _WEIGHTS)
        weights = _read_member(zf, path, _WEIGHTS)
    if not compile:
        config = dict(config)
        config.pop("compile_config", None)
    model = deserialize_keras_object(config, custom_objects=custom_objects,
                                     safe_mode=safe_mode)
    from .models import Model
    if not isinstance(model, Model):
        raise _bad(path, "its config describes a %s, not a model"
                   % type(model).__name__)
    name = "%s:%s" % (path, _WEIGHTS)
    try:
        reader = _Reader(name, fileobj=io.BytesIO(weights))
    except ValueError as e:
        raise _bad(path, str(e)) from e
    with reader:
        _load_weights(model, reader, path)
    return model


def _shape_text(shape):
    return "(" + ", ".join(str(d) for d in shape) + (",)" if len(shape) == 1
                                                     else ")")


def _split_key(key):
    """(layer path, index) of a weights key, or None."""
    if key.startswith("vars/") and key[5:].isdigit():
        return "", int(key[5:])
    head, sep, index = key.rpartition("/vars/")
    if sep and index.isdigit():
        return head, int(index)
    return None


def _load_weights(model, reader, path):
    """Assign the file's arrays to the model's variables (and its
    optimizer's), after checking all of them: counts per layer, shapes,
    dtypes.  Any mismatch: a ValueError naming each, nothing assigned."""
    headers = reader.headers
    groups = {}
    for key in headers:
        split = _split_key(key)
        if split is None:
            raise _bad(path, "its weights hold %r, which is not a "
                       "<path>/vars/<i> key" % key)
        groups.setdefault(split[0], set()).add(split[1])
    targets = [(p, repr(layer.name), vs)
               for p, layer, vs in _variables_by_layer(model)]
    opt = _optimizer_of(model)
    if opt is not None and "optimizer" in groups:
        saved = len(groups["optimizer"])
        if saved > len(opt.variables):
            # the slots exist once the optimizer is built on the model's
            # variables (in the order fit builds them)
            opt.build(model.trainable_variables)
        targets.append(("optimizer", "optimizer %r" % opt.name,
                        opt.variables))
    problems, todo = [], []
    expected = set()
    for lpath, what, variables in targets:
        where = "%s (path %r)" % (what, lpath or "/")
        saved = groups.get(lpath, set())
        expected.add(lpath)
        if len(saved) != len(variables) or saved != set(range(len(saved))):
            problems.append(
                "Layer %s expected %d variables, but the file has %d for "
                "it%s" % (where, len(variables), len(saved),
                          "" if variables else
                          " (the model was not built as the saved one was)"))
            continue
        for i, v in enumerate(variables):
            key = _join(lpath, "vars/%d" % i)
            shape, dtype = headers[key]
            want_shape = tuple(v.shape)
            want_dtype = np.dtype(v.dtype.as_numpy_dtype)
            if shape != want_shape or dtype.newbyteorder("=") != want_dtype:
                problems.append(
                    "Layer %s variable %d (%s): the file has shape %s and "
                    "dtype %s, the variable shape %s and dtype %s"
                    % (where, i, v.name, _shape_text(shape), dtype,
                       _shape_text(want_shape), want_dtype))
            else:
                todo.append((key, v))
    if opt is None:
        expected.add("optimizer")       # compile=False: not read
    for extra in sorted(set(groups) - expected):
        problems.append("the file has %d variables under %r, which the "
                        "model does not have" % (len(groups[extra]), extra))
    if problems:
        if len(problems) > 20:
            problems[20:] = ["... and %d more" % (len(problems) - 20)]
        raise ValueError(
            "Cannot load the weights of %r into the model its config "
            "rebuilt:\n  %s" % (path, "\n  ".join(problems)))
    values = [(v, reader.load(key)) for key, v in todo]
    for v, a in values:
        v.assign(a, read_value=False)
