"""The checkpoint file format of tapegrad.train: an .npz file (NumPy's zip
of .npy arrays) written atomically, and a reader that checks every
member's header before it reads any data and never unpickles.
tapegrad/train.py describes the guarantees; this is their code."""
import errno
import json
import os
import secrets
import stat
import struct
import zipfile
import zlib

import numpy as np

_FORMAT = "tapegrad.train.Checkpoint"
_VERSION = 1
# a member name no path can be: escaping leaves a name's dots in pairs
# (".." or ".S"), and ".t" is neither
_META = ".tapegrad"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _fsync_directory(directory):
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return                   # not possible here (Windows): skip
    try:
        os.fsync(fd)
    except OSError:
        pass                     # some file systems refuse: the data is synced
    finally:
        os.close(fd)


def _atomic_write(path, write):
    """Call write(binary file) on a temporary file in `path`'s directory,
    flush and fsync it, then rename it to `path`: readers see the old file
    or the whole new one.  On any failure the temporary file is removed."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    # a hidden name with 64 random bits ("x" refuses a clash), created
    # with the mode the umask gives any new file
    tmp = os.path.join(directory, ".%s.tmp-%s" % (
        os.path.basename(path)[:200], secrets.token_hex(8)))
    try:
        f = open(tmp, "xb")
    except FileExistsError:
        raise                   # not ours
    except BaseException:
        _discard(tmp)           # made, then failing (out of memory)
        raise
    try:
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    _fsync_directory(directory)


def _discard(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_npz(f, arrays):
    """Write [(key, array)] to the binary file `f` as an .npz (members in
    the order given, a fixed timestamp, no pickles)."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, a in arrays:
            info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_DATE)
            with zf.open(info, "w", force_zip64=True) as m:
                np.lib.format.write_array(m, a, allow_pickle=False)


def _write_variables(path, named):
    """Write {key: Variable} to the .npz file `path`, atomically."""
    arrays = [(k, np.asarray(v.numpy())) for k, v in sorted(named.items())]
    meta = np.asarray(json.dumps({"format": _FORMAT, "version": _VERSION}))
    _atomic_write(path, lambda f: _write_npz(f, [(_META, meta)] + arrays))


def _nonblocking(path, flags):
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def _open_regular(path):
    """A binary file object for the regular file `path` (a FIFO or a
    device is refused without blocking on it)."""
    try:
        f = open(path, "rb", opener=_nonblocking)
    except IsADirectoryError:
        raise IsADirectoryError(
            errno.EISDIR, "A checkpoint is a file, not a directory "
            "(tf.train.latest_checkpoint(directory) gives the newest one "
            "in a directory)", path) from None
    try:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("Checkpoint %r is not a regular file" % path)
    except BaseException:
        f.close()
        raise
    return f


# what zipfile and NumPy raise for a damaged file (MemoryError, and the
# SystemError or RuntimeError an allocation failure can give, go through)
_DAMAGED = (zipfile.BadZipFile, zlib.error, struct.error, EOFError,
            ValueError, TypeError, KeyError, IndexError, OverflowError,
            UnicodeDecodeError, NotImplementedError, OSError)


def _corrupt(path, e):
    return ValueError("Cannot read checkpoint %r: the file is truncated or "
                      "corrupt (%s: %s)" % (path, type(e).__name__, e))


class _Reader:
    """An open checkpoint file whose members' headers are all checked:
    ``headers`` maps each key to (shape, dtype).  Data is read by
    ``load``."""

    def __init__(self, path, fileobj=None):
        # `fileobj`: an open seekable binary file holding the .npz (a
        # member of a .keras archive); `path` then only names it
        self.path = path
        self._f = _open_regular(path) if fileobj is None else fileobj
        self._npz = None
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self):
        path = self.path
        magic = self._f.read(4)
        self._f.seek(0)
        if magic[:2] != b"PK":
            raise ValueError(
                "Cannot read checkpoint %r: it is not an .npz file (a "
                "tapegrad checkpoint is a zip of .npy arrays)" % path)
        try:
            self._npz = np.load(self._f, allow_pickle=False)
            names = self._npz.zip.namelist()
        except _DAMAGED as e:
            raise _corrupt(path, e) from e
        self.headers = {}
        for name in names:
            self._header(name)
        if len(self.headers) != len(names):
            raise ValueError("Cannot read checkpoint %r: it names a member "
                             "twice" % path)
        meta = self.headers.pop(_META, None)
        if meta is not None:
            self._check_meta(meta)

    def _header(self, name):
        if not name.endswith(".npy"):
            raise ValueError("Cannot read checkpoint %r: its member %r is "
                             "not a .npy array" % (self.path, name))
        key = name[:-4]
        try:
            with self._npz.zip.open(name) as m:
                version = np.lib.format.read_magic(m)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(m)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(m)
                else:
                    raise ValueError("unsupported .npy version %d.%d"
                                     % version)
        except _DAMAGED as e:
            raise _corrupt(self.path, e) from e
        if dtype.hasobject:
            raise ValueError(
                "Refusing checkpoint %r: its array %r holds Python objects "
                "(dtype %s), which only unpickling could read, and "
                "unpickling runs code from the file.  tapegrad checkpoints "
                "hold numbers only." % (self.path, key, dtype))
        self.headers[key] = (tuple(shape), dtype)

    def _check_meta(self, meta):
        shape, dtype = meta
        info = None
        if shape == () and dtype.kind == "U" and dtype.itemsize <= 4096:
            text = str(self._array(_META))
            try:
                info = json.loads(text)
            except json.JSONDecodeError:
                pass
        if not isinstance(info, dict) or info.get("format") != _FORMAT:
            raise ValueError("Cannot read checkpoint %r: its %s entry is "
                             "not tapegrad's" % (self.path, _META))
        if not isinstance(info.get("version"), int) or \
                info["version"] > _VERSION:
            raise ValueError(
                "Cannot read checkpoint %r: it was written in format "
                "version %r, and this tapegrad reads up to %d"
                % (self.path, info.get("version"), _VERSION))

    def _array(self, key):
        try:
            a = self._npz[key]
        except _DAMAGED as e:
            raise _corrupt(self.path, e) from e
        if not isinstance(a, np.ndarray):
            raise ValueError("Cannot read checkpoint %r: its member %r is "
                             "not a .npy array" % (self.path, key))
        return a

    def load(self, key):
        """The array under `key`, checked against its header, in native
        byte order."""
        shape, dtype = self.headers[key]
        a = self._array(key)
        if a.shape != shape or a.dtype != dtype:
            raise _corrupt(self.path, ValueError(
                "%r does not match its header" % key))
        return a.astype(dtype.newbyteorder("="), copy=False)

    def close(self):
        if self._npz is not None:
            self._npz.close()
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _hint(key, unused):
    """A key of the file that may be the one meant for `key` (the same
    path under another first name, or one level up or down)."""
    parts = key.split("/")
    for u in unused:
        q = u.split("/")
        if q[1:] == parts[1:] or q == parts[1:] or q[1:] == parts:
            return " (the checkpoint has %r)" % u
    return ""


def _assign(variable, value):
    variable.assign(value, read_value=False)


def _read_variables(path, named, optional=(), reader=None):
    """Restore {key: Variable} from the .npz file `path`: every key must
    be there (but those in `optional`) with the Variable's shape and dtype,
    else a ValueError naming each mismatch and nothing changes.  Returns
    the file's keys that no Variable took."""
    own = reader is None
    if own:
        reader = _Reader(path)
    try:
        headers = reader.headers
        unused = sorted(set(headers) - set(named))
        problems = []
        todo = []
        for key, v in named.items():
            want = (tuple(v.shape), np.dtype(v.dtype.as_numpy_dtype))
            if key not in headers:
                if key not in optional:
                    problems.append("%s: not in the checkpoint%s"
                                    % (key, _hint(key, unused)))
                continue
            shape, dtype = headers[key]
            bad = []
            if dtype.newbyteorder("=") != want[1]:
                bad.append("dtype %s in the checkpoint, %s in the variable"
                           % (dtype, want[1]))
            if shape != want[0]:
                bad.append("shape %s in the checkpoint, %s in the variable"
                           % (shape, want[0]))
            if bad:
                problems.append("%s: %s" % (key, "; ".join(bad)))
            else:
                todo.append((key, v))
        if problems:
            if len(problems) > 20:
                problems[20:] = ["... and %d more" % (len(problems) - 20)]
            raise ValueError(
                "Cannot restore from checkpoint %r (no variable was "
                "changed):\n  %s" % (reader.path, "\n  ".join(problems)))
        values = [(v, reader.load(key)) for key, v in todo]
    finally:
        if own:
            reader.close()
    done = []
    try:
        for v, a in values:
            old = v.numpy()       # a view: assign gives v a new buffer
            _assign(v, a)
            done.append((v, old))
    except BaseException:
        _roll_back(done)
        raise
    return unused


def _roll_back(done):
    """Give the assigned Variables their old values back (best effort: a
    failure here stops it; the original exception is what propagates)."""
    try:
        for v, old in reversed(done):
            _assign(v, old)
    except BaseException:
        pass
