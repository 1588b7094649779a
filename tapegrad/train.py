"""tf.train: ``Checkpoint``, ``CheckpointManager`` and ``latest_checkpoint``.

A checkpoint is one ``.npz`` file (a zip of ``.npy`` arrays, NumPy's
format) mapping each Variable's *path* to its value.

Paths.  A Checkpoint's objects are walked as TF walks its object graph:
the keyword names given to ``Checkpoint(...)`` (and public attributes set
on it later), then each object's attributes, list and tuple items (by
index) and dict entries (by key), breadth first, a Variable once.  A
Variable's key is the path of names that reaches it, joined by ``/``:
``model/dense/kernel``, ``model/layers/0/bias``, ``optimizer/iterations``,
``save_counter``.  Attributes are taken in sorted name order, dict keys in
sorted order, so the keys depend only on the objects' structure (never on
Python ids or creation order) and are the same in every run.  A name's
``.`` and ``/`` are escaped as TF escapes them (``..`` and ``.S``).

Which objects are walked: Variables (the leaves), lists, tuples, dicts
and any object with a ``__dict__`` (Modules, Keras layers, optimizers,
your own classes), except modules, classes and functions.  Constant
Tensors, NumPy arrays and objects without a ``__dict__`` hold nothing.
Private attributes (``_name``) are walked too, as TF's Modules track them,
but public paths win: a Variable reachable through a public attribute is
named by the shortest public path, and only a Variable that nothing
public reaches gets a private one (``model/_own_weights/0``).  A Variable
reachable only through a dict entry whose key is not a string cannot be
named stably (``{id(v): slot}``): ``write``/``read`` raise a ValueError
naming it, as TF refuses non-string keys.  An object may define
``_checkpoint_children(self)`` returning ``(name, value)`` pairs to name
its children itself instead of having its attributes walked.

Files.  ``write(path)`` writes exactly ``path`` (parent directories are
created); ``save(prefix)`` writes ``prefix-N.npz``, N the incremented
``save_counter``, and returns that path.  The zip's members are written in
sorted key order with a fixed timestamp, so the same values give the same
bytes.  A ``.tapegrad`` member records the format version.  Writing is
atomic: a temporary file next to the target, flushed and fsynced, then
``os.replace`` and an fsync of the directory, so a crash leaves either the
old file or the new one under the final name, never a partial one (a
crash can leave the hidden ``.NAME.tmp-*`` file behind).

Reading.  The file is opened as a regular file only, then
``numpy.load(f, allow_pickle=False)``: nothing in it is ever unpickled.
Every member's ``.npy`` header is checked before any data is read: a
member holding Python objects (a pickle) refuses the whole file, and
each Variable's key must be present with exactly its shape and dtype.
Every problem is reported at once, naming the variable, and no Variable
changes unless all of them can (a failure while assigning rolls the
assigned ones back).  Values in the file that no Variable takes are
allowed (restoring part of a checkpoint); ``status.assert_consumed()``
reports them, and so does a warning when the status is dropped without
``expect_partial()``.

``CheckpointManager`` keeps a JSON index named ``checkpoint`` in its
directory (written atomically), so a new manager on the same directory
finds the checkpoints an earlier process saved.

For the Keras layer (save_weights/load_weights): ``_variables_by_path(obj)``
gives the ``{path: Variable}`` of any object, ``_write_variables(path,
named)`` and ``_read_variables(path, named)`` write and read such a dict.
"""
import collections
import errno
import functools
import json
import operator
import os
import reprlib
import time
import types
import warnings

import numpy as np

from . import _tapegrad as C
from ._npzfile import (_Reader, _atomic_write, _open_regular,  # noqa: F401
                       _read_variables, _write_variables)

__all__ = ["Checkpoint", "CheckpointManager", "get_checkpoint_state",
           "latest_checkpoint", "list_variables", "load_variable"]

_STATE_FILE = "checkpoint"
_STATE_FORMAT = "tapegrad checkpoint state"
_STATE_VERSION = 1

_NOT_WALKED = (type, types.ModuleType, types.FunctionType,
               types.BuiltinFunctionType, types.MethodType,
               functools.partial, staticmethod, classmethod, property)
_ATOMS = frozenset((int, float, complex, str, bytes, bool, type(None)))


# ---- the object walk -------------------------------------------------------------
def _escape(name):
    return name.replace(".", "..").replace("/", ".S")


class _NonStringKey:
    """A dict key that is not a string, as a path element (shown, never
    written)."""

    def __init__(self, key):
        self.key = key

    def __str__(self):
        return "[%r]" % (self.key,)


def _instance_dict(obj):
    try:
        d = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return None
    return d if type(d) is dict else None


def _walkable(obj):
    """Whether `obj` may hold Variables (a container or an object with
    attributes)."""
    if type(obj) in _ATOMS or isinstance(obj, (C.Variable, C.Tensor)):
        return False
    if isinstance(obj, (list, tuple, dict, Checkpoint)):
        return True
    if isinstance(obj, _NOT_WALKED) or isinstance(obj, np.ndarray):
        return False
    if getattr(type(obj), "_checkpoint_children", None) is not None:
        return True
    return _instance_dict(obj) is not None


def _children(obj, phase, flags):
    """(name, child) pairs of `obj`.  phase 0: public attributes only;
    1: private ones too; 2: also dict entries under non-string keys."""
    if isinstance(obj, Checkpoint):
        return obj._children_for(phase, flags)
    hook = getattr(type(obj), "_checkpoint_children", None)
    if hook is not None:
        out = list(hook(obj))
        for name, _ in out:
            if not isinstance(name, str):
                raise TypeError(
                    "%s._checkpoint_children() must give (str, value) "
                    "pairs, got the name %r" % (type(obj).__name__, name))
        return out
    if isinstance(obj, dict):
        keys = sorted(k for k in obj if isinstance(k, str))
        out = [(k, obj[k]) for k in keys]
        others = [k for k in obj if not isinstance(k, str)]
        if others:
            flags["non_string_keys"] = True
            if phase == 2:
                out += [(_NonStringKey(k), obj[k]) for k in others]
        return out
    if isinstance(obj, (list, tuple)):
        return [(str(i), x) for i, x in enumerate(obj)]
    d = _instance_dict(obj)
    if d is None or isinstance(obj, _NOT_WALKED):
        return []
    names = sorted(k for k in d if isinstance(k, str) and
                   (phase > 0 or not k.startswith("_")))
    return [(k, d[k]) for k in names]


def _key(path):
    return "/".join(_escape(p) for p in path)


def _collect(start):
    """{key: Variable} of every Variable reachable from `start`, sorted
    by key.  Each Variable gets the first path the walk finds (breadth
    first, public attributes before private ones)."""
    found = {}      # id -> (path, variable)
    bad = []
    flags = {}
    for phase in (0, 1, 2):
        if phase == 2 and not flags.get("non_string_keys"):
            break
        visited = {id(start): start}
        queue = collections.deque([((), start)])
        while queue:
            path, obj = queue.popleft()
            for name, child in _children(obj, phase, flags):
                if isinstance(child, C.Variable):
                    if id(child) not in found:
                        if phase == 2:
                            bad.append("/".join(map(str, path + (name,))))
                        else:
                            found[id(child)] = (path + (name,), child)
                elif id(child) not in visited and _walkable(child):
                    visited[id(child)] = child
                    queue.append((path + (name,), child))
    if bad:
        raise ValueError(
            "Cannot name these Variables in a checkpoint: they are reached "
            "only through dict entries whose keys are not strings (%s). "
            "Checkpoint paths name dict entries by their string keys, which "
            "stay the same from run to run; keep the Variables in a list or "
            "under string keys." % ", ".join(bad))
    out = {}
    for path, v in found.values():
        key = _key(path)
        if "\0" in key:
            raise ValueError("Cannot name a Variable %r in a checkpoint: "
                             "zip member names end at a NUL" % key)
        if key in out:
            raise ValueError("Two Variables have the checkpoint path %r"
                             % key)
        out[key] = v
    return {k: out[k] for k in sorted(out)}


def _variables_by_path(obj):
    """{path: Variable} for `obj`: a Checkpoint's keys as it writes them,
    or, for any other object, the paths below it (``dense/kernel``)."""
    if isinstance(obj, C.Variable):
        raise ValueError("A Variable has no path below itself: give the "
                         "object that holds it")
    return _collect(obj)


# ---- files ------------------------------------------------------------------------
def _path_arg(path, what="path"):
    if isinstance(path, (bytes, bytearray)):
        raise TypeError("The checkpoint %s must be a str or os.PathLike, "
                        "got bytes" % what)
    p = os.fspath(path)
    if not isinstance(p, str):
        raise TypeError("The checkpoint %s must be a str or os.PathLike, "
                        "got %s" % (what, type(path).__name__))
    if not p:
        raise ValueError("The checkpoint %s is empty" % what)
    return p


def _resolve_read_path(save_path):
    """`save_path`, or `save_path`.npz when only that exists (TF's code
    passes checkpoint prefixes such as "./ckpts/ckpt-3")."""
    path = _path_arg(save_path, "save_path")
    if not os.path.lexists(path) and os.path.lexists(path + ".npz"):
        return path + ".npz"
    if not os.path.lexists(path):
        raise FileNotFoundError(
            errno.ENOENT, "No checkpoint file at this path (nor with "
            ".npz added)", path)
    return path


# ---- Checkpoint -------------------------------------------------------------------
def _some(keys, n=20):
    more = " and %d more" % (len(keys) - n) if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


class _LoadStatus:
    """What read()/restore() return (TF's CheckpointLoadStatus)."""

    _unused, _checked = (), True       # until __init__ has run

    def __init__(self, path, unused, restored):
        self._path = path
        self._unused = unused
        self._restored = restored
        self._checked = False

    def assert_consumed(self):
        """Raise AssertionError if the checkpoint holds values that no
        Variable took."""
        self._checked = True
        if self._unused:
            raise AssertionError(
                "Unresolved values in checkpoint %r: no variable took %s"
                % (self._path, _some(self._unused)))
        return self

    def assert_existing_objects_matched(self):
        """Every existing Variable was restored (read() refuses files that
        miss one), so this passes."""
        self._checked = True
        return self

    def assert_nontrivial_match(self):
        self._checked = True
        if not [k for k in self._restored if k != "save_counter"]:
            raise AssertionError(
                "Nothing except the root object matched a checkpointed "
                "value in %r" % self._path)
        return self

    def expect_partial(self):
        """Silence the warning about values the restore did not use."""
        self._checked = True
        return self

    def run_restore_ops(self, session=None):
        """Nothing to run: tapegrad restores eagerly."""

    def initialize_or_restore(self, session=None):
        """Nothing to run: tapegrad restores eagerly."""

    def __del__(self):
        if self._unused and not self._checked:
            try:
                warnings.warn(
                    "A checkpoint restore did not use these values (no "
                    "matching variable): %s.  status.expect_partial() "
                    "silences this; status.assert_consumed() checks it."
                    % _some(self._unused), UserWarning, stacklevel=2)
            except Exception:   # noqa: BLE001 -- interpreter shutdown
                pass


class _NothingRestored:
    """restore(None): TF's InitializationOnlyStatus."""

    def _fail(self):
        raise AssertionError(
            "No checkpoint specified (save_path=None); nothing is being "
            "restored.")

    def assert_consumed(self):
        self._fail()

    def assert_existing_objects_matched(self):
        self._fail()

    def assert_nontrivial_match(self):
        self._fail()

    def expect_partial(self):
        return self

    def run_restore_ops(self, session=None):
        """Nothing to run."""

    def initialize_or_restore(self, session=None):
        """Nothing to run."""


class Checkpoint:
    """Saves and restores the Variables of the objects given by keyword
    (TF's tf.train.Checkpoint): ``Checkpoint(model=model,
    optimizer=opt)``.  Keys are the objects' attribute paths
    (``model/dense/kernel``); see this module's docstring."""

    def __init__(self, root=None, **kwargs):
        object.__setattr__(self, "_root", None)
        object.__setattr__(self, "_save_counter", None)
        if root is not None:
            self._check_trackable("root", root)
            if isinstance(root, C.Variable):
                raise ValueError("Checkpoint's root must be an object that "
                                 "holds Variables, not a Variable: give it "
                                 "by keyword, Checkpoint(v=variable)")
            object.__setattr__(self, "_root", root)
        for name in sorted(kwargs):
            value = kwargs[name]
            if not name or name.startswith("_") or \
                    hasattr(type(self), name):
                raise ValueError(
                    "Checkpoint cannot hold an object under the name %r "
                    "(a name of its own, or private)" % name)
            self._check_trackable(name, value)
            setattr(self, name, value)

    @staticmethod
    def _check_trackable(name, value):
        if isinstance(value, C.Variable) or _walkable(value):
            return
        try:
            shown = reprlib.repr(value)
        except Exception:   # noqa: BLE001 -- a __repr__ that raises
            shown = "a %s" % type(value).__name__
        raise ValueError(
            "`Checkpoint` was expecting %s to be a trackable object (a "
            "Variable, a Module or layer, an optimizer, any object with "
            "attributes, or a list, tuple or dict of them), got %s."
            % (name, shown))

    def _children_for(self, phase, flags):
        out = []
        if self._root is not None:
            out = list(_children(self._root, phase, flags))
        taken = {n: c for n, c in out}
        own = [(k, v) for k, v in sorted(vars(self).items())
               if isinstance(k, str) and not k.startswith("_")]
        if self._save_counter is not None:
            own.append(("save_counter", self._save_counter))
        for name, child in own:
            if name in taken and taken[name] is not child:
                raise ValueError(
                    "Cannot checkpoint %r: the root already has a %r"
                    % (name, name))
            if name not in taken:
                out.append((name, child))
                taken[name] = child
        return out

    def _maybe_create_save_counter(self):
        if self._save_counter is None:
            object.__setattr__(self, "_save_counter", C.Variable(
                0, dtype=C.int64, trainable=False, name="save_counter"))

    @property
    def save_counter(self):
        """An int64 Variable counting save() calls; it numbers the files
        (ckpt-1, ckpt-2...) and is saved and restored with them."""
        self._maybe_create_save_counter()
        return self._save_counter

    def _named(self):
        return _collect(self)

    def write(self, file_prefix, options=None):
        """Write the checkpoint to exactly `file_prefix` (an .npz file,
        written atomically); return that path.  save_counter is not
        changed."""
        path = _path_arg(file_prefix, "file_prefix")
        _write_variables(path, self._named())
        return path

    def _numbered_write(self, prefix, number=None):
        counter = self.save_counter
        counter.assign_add(1)
        try:
            n = int(counter.numpy()) if number is None else number
            path = "%s-%d.npz" % (prefix, n)
            self.write(path)
        except BaseException:
            counter.assign_sub(1)
            raise
        return path

    def save(self, file_prefix, options=None):
        """Increment save_counter to N, write `file_prefix`-N.npz, record
        it as the latest checkpoint of its directory (so
        tf.train.latest_checkpoint finds it) and return its path."""
        prefix = _path_arg(file_prefix, "file_prefix")
        path = self._numbered_write(prefix)
        now = _now()
        _write_state(os.path.dirname(prefix) or ".", path, [path], [now],
                     now)
        return path

    def read(self, save_path, options=None):
        """Restore every Variable from the file `save_path` (see restore);
        returns a load status."""
        path = _resolve_read_path(save_path)
        with _Reader(path) as reader:
            if "save_counter" in reader.headers:
                self._maybe_create_save_counter()
            named = self._named()
            unused = _read_variables(path, named, ("save_counter",), reader)
            restored = [k for k in named if k in reader.headers]
        return _LoadStatus(path, unused, restored)

    def restore(self, save_path, options=None):
        """Restore from `save_path` (a path save(), write() or
        tf.train.latest_checkpoint gave; a prefix without .npz works too).
        Every Variable of the Checkpoint's objects must be in the file
        with its shape and dtype, else a ValueError naming them and no
        Variable changes.  Values the file has that nothing takes are
        left: the status's assert_consumed() reports them.  None restores
        nothing."""
        if save_path is None:
            return _NothingRestored()
        return self.read(save_path, options)


# ---- the checkpoint state file and CheckpointManager -------------------------------
def _write_state(directory, latest, paths, timestamps, last_preserved,
                 filename=_STATE_FILE):
    def rel(p):
        return (os.path.basename(p)
                if os.path.dirname(p) == directory else p)
    state = {"format": _STATE_FORMAT, "version": _STATE_VERSION,
             "model_checkpoint_path": rel(latest),
             "all_model_checkpoint_paths": [rel(p) for p in paths],
             "all_model_checkpoint_timestamps": list(timestamps),
             "last_preserved_timestamp": last_preserved}
    data = (json.dumps(state) + "\n").encode()
    _atomic_write(os.path.join(directory, filename), lambda f: f.write(data))


def _read_state(directory, filename=_STATE_FILE):
    """The state file's dict (paths joined to `directory`), or None when
    there is none."""
    path = os.path.join(directory, filename)
    try:
        f = _open_regular(path)
    except FileNotFoundError:
        return None
    with f:
        data = f.read()
    try:
        state = json.loads(data.decode("utf-8"))
        ok = (isinstance(state, dict) and
              state.get("format") == _STATE_FORMAT and
              isinstance(state.get("model_checkpoint_path"), str) and
              all(isinstance(p, str)
                  for p in state["all_model_checkpoint_paths"]) and
              all(isinstance(t, (int, float))
                  for t in state["all_model_checkpoint_timestamps"]) and
              len(state["all_model_checkpoint_paths"]) ==
              len(state["all_model_checkpoint_timestamps"]) and
              isinstance(state["last_preserved_timestamp"], (int, float)))
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ValueError(
            "%r is not a tapegrad checkpoint state file (tapegrad writes "
            "JSON there; TensorFlow's own are text protos): move it away "
            "or use another directory" % path)

    def join(p):
        return p if os.path.isabs(p) else os.path.join(directory, p)
    state["model_checkpoint_path"] = join(state["model_checkpoint_path"])
    state["all_model_checkpoint_paths"] = [
        join(p) for p in state["all_model_checkpoint_paths"]]
    return state


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The directory's checkpoint state (model_checkpoint_path,
    all_model_checkpoint_paths, their timestamps), or None."""
    state = _read_state(_path_arg(checkpoint_dir, "directory"),
                        latest_filename or _STATE_FILE)
    if state is None:
        return None
    state.pop("format")
    state.pop("version")
    return types.SimpleNamespace(**state)


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The path of the newest checkpoint saved in `checkpoint_dir` (by
    Checkpoint.save or a CheckpointManager), or None when there is none
    (or its file is gone)."""
    state = _read_state(_path_arg(checkpoint_dir, "directory"),
                        latest_filename or _STATE_FILE)
    if state is None:
        return None
    path = state["model_checkpoint_path"]
    return path if os.path.isfile(path) else None


def _now():
    return time.time()


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _number(x, what):
    if isinstance(x, (C.Tensor, C.Variable)):
        x = x.numpy()
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError("%s must be an integer, got %r" % (what, x)) from None


class CheckpointManager:
    """Numbered saves of a Checkpoint in `directory`, keeping the newest
    `max_to_keep` (TF's tf.train.CheckpointManager).  The list lives in the
    directory's ``checkpoint`` file, so a new manager resumes it."""

    def __init__(self, checkpoint, directory, max_to_keep,
                 keep_checkpoint_every_n_hours=None, checkpoint_name="ckpt",
                 step_counter=None, checkpoint_interval=None, init_fn=None):
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError("CheckpointManager manages a "
                            "tapegrad.train.Checkpoint, got %r" % (checkpoint,))
        if max_to_keep is not None and (
                isinstance(max_to_keep, bool) or
                not isinstance(max_to_keep, int) or max_to_keep <= 0):
            raise ValueError("Expected a positive integer or `None` for "
                             "`max_to_keep`, got %r." % (max_to_keep,))
        if keep_checkpoint_every_n_hours is not None and not (
                isinstance(keep_checkpoint_every_n_hours, (int, float)) and
                keep_checkpoint_every_n_hours > 0):
            raise ValueError("keep_checkpoint_every_n_hours must be a "
                             "positive number or None, got %r"
                             % (keep_checkpoint_every_n_hours,))
        if checkpoint_interval is not None and step_counter is None:
            raise ValueError("`step_counter` should be passed if "
                             "`checkpoint_interval` is not None.")
        name = _path_arg(checkpoint_name, "checkpoint_name")
        self._checkpoint = checkpoint
        self._directory = _path_arg(directory, "directory")
        self._max_to_keep = max_to_keep
        self._keep_every = keep_checkpoint_every_n_hours
        self._prefix = os.path.join(self._directory, name)
        self._step_counter = step_counter
        self._checkpoint_interval = checkpoint_interval
        self._init_fn = init_fn
        self._last_checkpoint_step = None
        self._maybe_delete = collections.OrderedDict()
        now = _now()
        state = _read_state(self._directory)
        if state is None:
            self._latest = None
            self._last_preserved = now - 1
            return
        # files an interrupted sweep deleted, or someone removed, are gone
        for p, t in zip(state["all_model_checkpoint_paths"],
                        state["all_model_checkpoint_timestamps"]):
            if os.path.isfile(p):
                self._maybe_delete[p] = t
        latest = state["model_checkpoint_path"]
        self._latest = latest if os.path.isfile(latest) else (
            next(reversed(self._maybe_delete), None))
        self._last_preserved = state["last_preserved_timestamp"]
        if now < self._last_preserved:       # the clock went back
            self._last_preserved = now

    @property
    def checkpoint(self):
        return self._checkpoint

    @property
    def directory(self):
        return self._directory

    @property
    def checkpoint_interval(self):
        return self._checkpoint_interval

    @property
    def latest_checkpoint(self):
        """The newest checkpoint's path, or None."""
        return self._latest

    @property
    def checkpoints(self):
        """The kept checkpoints' paths, oldest first."""
        return list(self._maybe_delete)

    def _record_state(self):
        _write_state(self._directory, self._latest,
                     list(self._maybe_delete),
                     list(self._maybe_delete.values()), self._last_preserved)

    def _sweep(self):
        if not self._max_to_keep:
            return
        while len(self._maybe_delete) > self._max_to_keep:
            path, stamp = self._maybe_delete.popitem(last=False)
            if self._keep_every and (
                    stamp - self._keep_every * 3600.0 >=
                    self._last_preserved):
                self._last_preserved = stamp     # kept on disk, not listed
                continue
            _remove(path)

    def save(self, checkpoint_number=None, check_interval=True,
             options=None):
        """Save a new checkpoint (numbered by `checkpoint_number`, else by
        the incremented save_counter), delete the oldest beyond
        max_to_keep, and return its path (None when checkpoint_interval
        says it is not time yet)."""
        if self._checkpoint_interval is not None:
            step = _number(self._step_counter, "step_counter")
            if self._last_checkpoint_step is not None:
                if step == self._last_checkpoint_step:
                    return None
                if check_interval and step < (self._last_checkpoint_step +
                                              self._checkpoint_interval):
                    return None
            self._last_checkpoint_step = step
        if checkpoint_number is not None:
            checkpoint_number = _number(checkpoint_number,
                                        "checkpoint_number")
        path = self._checkpoint._numbered_write(self._prefix,
                                                checkpoint_number)
        self._maybe_delete.pop(path, None)
        self._maybe_delete[path] = _now()
        self._latest = path
        # record first, so an interruption while deleting still leaves the
        # new checkpoint listed; then again without the deleted ones
        self._record_state()
        self._sweep()
        self._record_state()
        return path

    def restore_or_initialize(self):
        """Restore the latest checkpoint and return its path; without one,
        call init_fn (if given) and return None."""
        if self._latest is not None:
            self._checkpoint.restore(self._latest)
            if self._checkpoint_interval is not None:
                self._last_checkpoint_step = _number(self._step_counter,
                                                     "step_counter")
            return self._latest
        if self._init_fn is not None:
            self._init_fn()
        return None


# ---- inspecting files ------------------------------------------------------------
def _file_of(ckpt_dir_or_file):
    path = _path_arg(ckpt_dir_or_file)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise ValueError("Couldn't find 'checkpoint' file or checkpoints "
                             "in given directory %s" % path)
        return latest
    return _resolve_read_path(path)


def list_variables(ckpt_dir_or_file):
    """[(key, shape)] of a checkpoint file (or a directory's latest), by
    key, reading the headers only."""
    with _Reader(_file_of(ckpt_dir_or_file)) as r:
        return [(k, list(r.headers[k][0])) for k in sorted(r.headers)]


def load_variable(ckpt_dir_or_file, name):
    """The NumPy array saved under key `name`."""
    with _Reader(_file_of(ckpt_dir_or_file)) as r:
        if name not in r.headers:
            raise ValueError("Key %r not found in checkpoint %r"
                             % (name, r.path))
        return r.load(name)
