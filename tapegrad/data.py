"""tf.data: the Dataset API, as far as training loops use it.

tapegrad is eager, so a Dataset is a lazy Python pipeline that runs when it
is iterated: sources (``from_tensor_slices``, ``from_tensors``, ``range``)
and transformations (``shuffle``, ``batch``, ``map``, ``filter``,
``repeat``, ``take``, ``skip``, ``enumerate``, ``zip``, ``concatenate``,
``unbatch``, ``cache``, ``prefetch``) with TF's element structures, dtypes,
cardinalities, printing and errors.  Iteration yields Tensors made fresh
for each element, so no gradient flows back into a pipeline (TF's
iterators stop gradients too); ``map`` and ``filter`` functions run
eagerly, element by element, as under TF's ``tf.data`` debug mode.

Two paths (tapegrad/_data_pipeline.py has the machinery).  While elements
are rows of fixed arrays (``from_tensor_slices``, ``from_tensors`` or
``range``, seen through ``shuffle``, ``take``, ``skip``, ``repeat``,
``cache``, ``prefetch``), a pass is a stream of int64 index chunks into
those arrays and ``batch`` gathers each batch with one ``take`` per
component: a 60000-row ``from_tensor_slices((x, y)).shuffle(60000)
.batch(128)`` epoch is a few hundred NumPy calls, not 60000 Python steps.
After ``map``, ``filter``, ``zip``... elements go one by one.

For Keras' ``fit``: ``_length()`` is the cardinality as an int (-1
infinite, -2 unknown) and ``_numpy_elements()`` iterates elements as NumPy
structures without making Tensors.
"""
import itertools

import numpy as np

from . import _tapegrad as C
from ._data_pipeline import (
    _array, _batch_chunks, _batch_elements, _bool, _call, _callable,
    _Columns, _dims, _drain, _flatten, _frozen, _int64, _keep, _kind, _map,
    _most_specific, _numpy, _pack, _RangeColumn, _result, _rows, _seeds,
    _shuffle_chunks, _shuffle_elements, _skip_chunks, _source_chunks, _spec,
    _take_chunks, _tensor)
from ._function import TensorSpec
from ._tapegrad import InvalidArgumentError
from .errors import OutOfRangeError
from .dtypes import as_dtype

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY",
           "UNKNOWN_CARDINALITY"]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2
INFINITE, UNKNOWN = INFINITE_CARDINALITY, UNKNOWN_CARDINALITY

_INT64_MAX = (1 << 63) - 1


# ---- iterators --------------------------------------------------------------

class _Iterator:
    """What iterating a Dataset gives (TF's OwnedIterator): each element
    as fresh Tensors in the element's structure."""

    __slots__ = ("_dataset", "_elements")

    def __init__(self, dataset):
        self._dataset = dataset
        self._elements = dataset._elements()

    def __iter__(self):
        return self

    def __next__(self):
        return _map(_tensor, next(self._elements))

    def get_next(self, name=None):
        """The next element; past the end, TF's OutOfRangeError ("End of
        sequence") rather than StopIteration, as TF's iterator does."""
        try:
            return self.__next__()
        except StopIteration:
            raise OutOfRangeError(None, None, "End of sequence") from None

    @property
    def element_spec(self):
        return self._dataset.element_spec


class _NumpyIterator(_Iterator):
    """as_numpy_iterator(): the same elements as NumPy values."""

    __slots__ = ()

    def __next__(self):
        return _map(_numpy, next(self._elements))


# ---- Dataset ----------------------------------------------------------------

class Dataset:
    """A potentially large set of elements (tf.data.Dataset): build one
    with ``from_tensor_slices``, ``from_tensors`` or ``range`` and chain
    transformations; iterating it runs the pipeline."""

    _source = None     # a _Columns / _RangeColumn while elements are rows

    def __init__(self, *args, **kwargs):
        raise TypeError("tf.data.Dataset cannot be instantiated directly: "
                        "use Dataset.from_tensor_slices, from_tensors or "
                        "range")

    # -- what each kind of dataset provides
    def _length(self):
        """The cardinality as an int (INFINITE, UNKNOWN or >= 0)."""
        return self._input._length()

    def _structure(self):
        return self._input.element_spec

    def _index_chunks(self):
        """One pass over the source's rows, as int64 index chunks (only
        when `_source` is set)."""
        raise NotImplementedError

    def _elements(self):
        """One pass, element by element (nested NumPy arrays).  Its setup
        (a shuffle's epoch seed...) runs when it is called, as TF's
        iterator is made."""
        return _rows(self._source, self._index_chunks())

    def _numpy_elements(self):
        return self._elements()

    # -- Python protocols
    def __iter__(self):
        return _Iterator(self)

    def __bool__(self):
        return True   # __len__ may raise

    def __len__(self):
        n = self._length()
        if n == INFINITE:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return n

    def __repr__(self):
        return "<%s element_spec=%s>" % (type(self).__name__,
                                         self.element_spec)

    @property
    def element_spec(self):
        """The structure of TensorSpecs of an element."""
        spec = self.__dict__.get("_spec")
        if spec is None:
            spec = self._spec = self._structure()
        return spec

    def cardinality(self):
        """The number of elements as an int64 scalar: INFINITE_CARDINALITY
        (-1) or UNKNOWN_CARDINALITY (-2) when not a count."""
        return C.constant(self._length(), dtype=C.int64)

    def as_numpy_iterator(self):
        """Iterate the elements as NumPy values, structure kept."""
        return _NumpyIterator(self)

    # -- sources
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """A dataset of the slices of `tensors` along their first axis."""
        return _TensorSliceDataset(tensors)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset of one element, `tensors`."""
        return _TensorDataset(tensors)

    @staticmethod
    def range(*args, output_type=None, name=None):
        """range(stop), range(start, stop[, step]): int64 elements."""
        return _RangeDataset(args, output_type)

    @staticmethod
    def zip(*args, datasets=None, name=None):
        """Elements of several datasets side by side, in the structure
        they are given in; as long as the shortest."""
        if not args and datasets is None:
            raise TypeError("Must pass at least one dataset to `zip`.")
        if args and datasets is not None:
            raise TypeError("Both `*args` and `datasets` cannot be set.")
        if len(args) == 1:
            datasets = args[0]
        elif args:
            datasets = args
        return _ZipDataset(datasets)

    # -- transformations
    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None,
                name=None):
        """Shuffle through a buffer of `buffer_size` elements."""
        return _ShuffleDataset(self, buffer_size, seed,
                               reshuffle_each_iteration)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Stack consecutive elements into batches of `batch_size`."""
        return _BatchDataset(self, batch_size, drop_remainder)

    def map(self, map_func, num_parallel_calls=None, deterministic=None,
            name=None):
        """Apply `map_func` to every element."""
        return _MapDataset(self, map_func)

    def filter(self, predicate, name=None):
        """Keep the elements for which `predicate` is True."""
        return _FilterDataset(self, predicate)

    def repeat(self, count=None, name=None):
        """The elements `count` times over (None or -1: forever)."""
        return _RepeatDataset(self, count)

    def take(self, count, name=None):
        """At most the first `count` elements (-1: all)."""
        return _TakeDataset(self, count)

    def skip(self, count, name=None):
        """All but the first `count` elements (-1: none)."""
        return _SkipDataset(self, count)

    def enumerate(self, start=0, name=None):
        """(index, element) pairs, index int64 from `start`."""
        start = _int64(start, "start", "RangeDataset")
        return _ZipDataset((_RangeDataset((start, _INT64_MAX), None), self))

    def concatenate(self, dataset, name=None):
        """This dataset's elements, then `dataset`'s."""
        return _ConcatenateDataset(self, dataset)

    def unbatch(self, name=None):
        """Split each element along its first axis."""
        return _UnbatchDataset(self)

    def prefetch(self, buffer_size, name=None):
        """Accepted for TF code: iteration is synchronous, nothing to do."""
        return _PrefetchDataset(self, buffer_size)

    def cache(self, filename="", name=None):
        """The first complete pass's elements, replayed by later passes."""
        return CacheDataset(self, filename)

    def apply(self, transformation_func):
        """transformation_func(self), which must return a Dataset."""
        dataset = transformation_func(self)
        if not isinstance(dataset, Dataset):
            raise TypeError("`transformation_func` must return a "
                            "`tf.data.Dataset` object. Got %s."
                            % type(dataset))
        return dataset


# ---- sources ----------------------------------------------------------------

class _SourceDataset(Dataset):
    """Elements are the rows of `_source`, a pass is every row in order."""

    def _length(self):
        return self._source.n

    def _index_chunks(self):
        return _source_chunks(self._source.n)


def _element(tensors):
    """(the structure of arrays, its leaves) of a from_tensors /
    from_tensor_slices argument; TF's error for an empty one."""
    element = _map(_array, tensors)
    flat = _flatten(element)
    if not flat:
        raise ValueError("Invalid `element`. `element` should not be "
                         "empty.")
    return element, flat


class _TensorSliceDataset(_SourceDataset):

    def __init__(self, tensors):
        element, flat = _element(tensors)
        if any(a.ndim == 0 for a in flat):
            raise ValueError("Unbatching a tensor is only supported for "
                             "rank >= 1")
        for a in flat[1:]:
            if a.shape[0] != flat[0].shape[0]:
                raise ValueError("Dimensions %d and %d are not compatible" % (
                    flat[0].shape[0], a.shape[0]))
        self._source = _Columns(element, flat)
        self._spec = _map(lambda a: TensorSpec(a.shape[1:], a.dtype),
                          element)


class _TensorDataset(_SourceDataset):

    def __init__(self, tensors):
        element, flat = _element(tensors)
        self._source = _Columns(element, [a[np.newaxis] for a in flat])
        self._spec = _map(_spec, element)


class _RangeDataset(_SourceDataset):

    def __init__(self, args, output_type):
        if not 1 <= len(args) <= 3:
            raise ValueError("Invalid `args`. The length of `args` should be "
                             "between 1 and 3 but was %d." % len(args))
        names = ("stop",) if len(args) == 1 else ("start", "stop", "step")
        v = dict(start=0, step=1)
        v.update((n, _int64(a, n, "RangeDataset"))
                 for n, a in zip(names, args))
        start, stop, step = v["start"], v["stop"], v["step"]
        dtype = C.int64 if output_type is None else as_dtype(output_type)
        if step == 0:
            raise InvalidArgumentError("step must be a non-zero integer. "
                                       "[Op:RangeDataset]")
        if step > 0:
            n = max(0, (stop - start + step - 1) // step)
        else:
            n = max(0, (start - stop - step - 1) // -step)
        self._source = _RangeColumn(start, step, n,
                                    np.dtype(dtype.as_numpy_dtype))
        self._spec = TensorSpec([], dtype)


def _unary(input_dataset):
    """(input, its source) for a transformation's constructor."""
    if not isinstance(input_dataset, Dataset):
        raise TypeError("Expected a `tf.data.Dataset` as the input, got %s."
                        % type(input_dataset))
    return input_dataset, input_dataset._source


# ---- transformations that keep rows (index chunks when there is a source) ---

class _ShuffleDataset(Dataset):

    def __init__(self, input_dataset, buffer_size, seed, reshuffle):
        size = _int64(buffer_size, "buffer_size", "ShuffleDatasetV3")
        if size <= 0 and size != UNKNOWN:
            raise InvalidArgumentError(
                "buffer_size must be greater than zero or UNKNOWN_CARDINALITY"
                " [Op:ShuffleDatasetV3]")
        self._input, self._source = _unary(input_dataset)
        self._buffer = None if size == UNKNOWN else size   # None: everything
        self._reshuffle = True if reshuffle is None else bool(reshuffle)
        seeds = _seeds(seed)
        if seeds is None:     # TF: both seeds 0 mean seeded from the OS
            seeds = (int(np.random.SeedSequence().entropy),)
        self._seeds, self._epoch = seeds, 0

    def _rng(self):
        """This pass's generator: a new order each pass, the sequence of
        orders fixed by the seeds (TF's seed generator); the same order
        every pass without reshuffle_each_iteration."""
        epoch = self._epoch
        if self._reshuffle:
            self._epoch += 1
        return np.random.default_rng([*self._seeds, epoch])

    def _index_chunks(self):
        return _shuffle_chunks(self._input._index_chunks(), self._buffer,
                               self._rng())

    def _elements(self):
        if self._source is not None:
            return Dataset._elements(self)
        return _shuffle_elements(self._input._elements(), self._buffer,
                                 self._rng())


class _TakeDataset(Dataset):

    def __init__(self, input_dataset, count):
        self._count = _int64(count, "count", "TakeDataset")
        self._input, self._source = _unary(input_dataset)

    def _length(self):
        n, k = self._input._length(), self._count
        if n == UNKNOWN:
            return UNKNOWN
        if n == INFINITE:
            return k if k >= 0 else INFINITE
        return n if k < 0 else min(n, k)

    def _index_chunks(self):
        return _take_chunks(self._input._index_chunks(), self._count)

    def _elements(self):
        if self._source is not None:
            return Dataset._elements(self)
        if self._count < 0:
            return self._input._elements()
        return itertools.islice(self._input._elements(), self._count)


class _SkipDataset(Dataset):

    def __init__(self, input_dataset, count):
        self._count = _int64(count, "count", "SkipDataset")
        self._input, self._source = _unary(input_dataset)

    def _length(self):
        n, k = self._input._length(), self._count
        if n in (INFINITE, UNKNOWN):
            return n
        return 0 if k < 0 else max(0, n - k)

    def _index_chunks(self):
        return _skip_chunks(self._input._index_chunks(), self._count)

    def _elements(self):
        if self._source is not None:
            return Dataset._elements(self)
        if self._count < 0:          # skips everything (still reads it)
            return _drain(self._input._elements())
        return itertools.islice(self._input._elements(), self._count, None)


class _RepeatDataset(Dataset):

    def __init__(self, input_dataset, count):
        self._count = -1 if count is None else _int64(count, "count",
                                                      "RepeatDataset")
        self._input, self._source = _unary(input_dataset)

    def _length(self):
        n, k = self._input._length(), self._count
        if k < 0:
            return 0 if n == 0 else INFINITE
        if k == 0:
            return 0
        return n if n in (INFINITE, UNKNOWN) else n * k

    def _passes(self, open_pass):
        """Each pass opens the input anew (so an upstream shuffle reshuffles);
        a pass with nothing in it ends an endless repeat, as TF's does."""
        done = 0
        while self._count < 0 or done < self._count:
            empty = True
            for item in open_pass():
                empty = False
                yield item
            done += 1
            if empty and self._count < 0:
                return

    def _index_chunks(self):
        # chunks are never empty (every producer drops empty ones), so an
        # empty pass is one that yields nothing
        return self._passes(self._input._index_chunks)

    def _elements(self):
        if self._source is not None:
            return Dataset._elements(self)
        return self._passes(self._input._elements)


class _PrefetchDataset(Dataset):

    def __init__(self, input_dataset, buffer_size):
        size = _int64(buffer_size, "buffer_size", "PrefetchDataset")
        if size < 0 and size != AUTOTUNE:
            raise InvalidArgumentError(
                "buffer_size must be >= 0 or set buffer_size to be %d for "
                "auto-tuning [Op:PrefetchDataset]" % AUTOTUNE)
        self._input, self._source = _unary(input_dataset)

    def _index_chunks(self):
        return self._input._index_chunks()

    def _elements(self):
        return self._input._elements()


class CacheDataset(Dataset):

    def __init__(self, input_dataset, filename):
        if not isinstance(filename, str):
            raise TypeError("cache: `filename` must be a string, got %s."
                            % type(filename).__name__)
        self._input, self._source = _unary(input_dataset)
        self._cached = None

    def _filled(self, items, freeze):
        store = []
        for item in items:
            item = freeze(item)
            store.append(item)
            yield item
        self._cached = store    # only a pass that ran to its end fills it

    def _index_chunks(self):
        if self._cached is not None:
            return iter(self._cached)
        return self._filled(self._input._index_chunks(), _frozen)

    def _elements(self):
        if self._source is not None:
            return Dataset._elements(self)
        if self._cached is not None:
            return iter(self._cached)
        return self._filled(self._input._elements(),
                            lambda e: _map(_frozen, e))


# ---- batch ------------------------------------------------------------------

class _BatchDataset(Dataset):

    def __init__(self, input_dataset, batch_size, drop_remainder):
        size = _int64(batch_size, "batch_size", "BatchDatasetV2")
        drop = _bool(drop_remainder, "drop_remainder", "BatchDatasetV2")
        if size <= 0:
            raise InvalidArgumentError("Batch size must be greater than zero."
                                       " [Op:BatchDatasetV2]")
        self._input = _unary(input_dataset)[0]
        self._size, self._drop = size, drop

    def _structure(self):
        dim = self._size if self._drop else None

        def batched(spec):
            dims = _dims(spec)
            return TensorSpec(None if dims is None else [dim] + dims,
                              spec.dtype)
        return _map(batched, self._input.element_spec)

    def _length(self):
        n = self._input._length()
        if n in (INFINITE, UNKNOWN):
            return n
        return n // self._size + (0 if self._drop or n % self._size == 0
                                  else 1)

    def _elements(self):
        source = self._input._source
        if source is not None:
            return _batch_chunks(source, self._input._index_chunks(),
                                 self._size, self._drop)
        return _batch_elements(self._input._elements(), self._size,
                               self._drop)


# ---- element-wise transformations -------------------------------------------

class _MapDataset(Dataset):

    def __init__(self, input_dataset, map_func):
        _callable(map_func, "map_func")
        self._input, self._fn = _unary(input_dataset)[0], map_func

    def _elements(self):
        fn = self._fn
        return (_result(_call(fn, e)) for e in self._input._elements())

    def _structure(self):
        """TF traces map_func once on symbolic tensors.  Here it runs on
        two stand-ins of the input's spec, zeros with unknown dimensions
        of 1 and ones with unknown dimensions of 2: output dimensions that
        differ follow the input's sizes or values (tf.range(x)) and are
        unknown, as TF infers them.  A function that cannot take the
        stand-ins is read off the first element instead."""
        spec = self._input.element_spec
        try:
            out = self._trace(spec, 1, 0)
            other = self._trace(spec, 2, 1)
            if _kind(other) != _kind(out):
                raise ValueError("map_func's structure depends on its input")
            return _pack(out, [_most_specific(x, y) or x for x, y in
                               zip(_flatten(out), _flatten(other))])
        except Exception:  # noqa: BLE001 -- fall back to a real element
            for element in self._elements():
                return _map(_spec, element)
            raise

    def _trace(self, spec, size, value):
        def stand_in(s):
            dims = _dims(s) or []
            return np.full([size if d is None else d for d in dims], value,
                           s.dtype.as_numpy_dtype)
        return _map(_spec, _result(_call(self._fn, _map(stand_in, spec))))


class _FilterDataset(Dataset):

    def __init__(self, input_dataset, predicate):
        _callable(predicate, "predicate")
        self._input, self._pred = _unary(input_dataset)[0], predicate

    def _length(self):
        return UNKNOWN

    def _elements(self):
        pred = self._pred
        return (e for e in self._input._elements() if _keep(pred, e))


class _ZipDataset(Dataset):

    def __init__(self, datasets):
        flat = _flatten(datasets)
        for ds in flat:
            if isinstance(ds, list):
                raise TypeError("Invalid `datasets`. `datasets` is expected "
                                "to be a (nested) structure of "
                                "`tf.data.Dataset` objects. Python `list` is "
                                "not supported and you should use `tuple` "
                                "instead.")
            if not isinstance(ds, Dataset):
                raise TypeError("Invalid `datasets`. `datasets` is expected "
                                "to be a (nested) structure of "
                                "`tf.data.Dataset` objects but encountered "
                                "object of type %s." % type(ds))
        self._datasets, self._flat = datasets, flat

    def _structure(self):
        return _pack(self._datasets, [d.element_spec for d in self._flat])

    def _length(self):
        out = INFINITE
        for ds in self._flat:
            n = ds._length()
            if n == UNKNOWN:
                return UNKNOWN
            if n != INFINITE:
                out = n if out == INFINITE else min(out, n)
        return out

    def _elements(self):
        its = [ds._elements() for ds in self._flat]

        def zipped():
            for parts in zip(*its):
                yield _pack(self._datasets, parts)
        return zipped()


class _ConcatenateDataset(Dataset):

    def __init__(self, input_dataset, dataset_to_concatenate):
        if not isinstance(dataset_to_concatenate, Dataset):
            raise TypeError("`dataset` must be a `tf.data.Dataset`, got %s."
                            % type(dataset_to_concatenate))
        a = _unary(input_dataset)[0].element_spec
        b = dataset_to_concatenate.element_spec
        common = None
        if _kind(a) == _kind(b):
            common = [_most_specific(x, y)
                      for x, y in zip(_flatten(a), _flatten(b))]
        if common is None or None in common:
            raise TypeError("Incompatible dataset elements:\n  %s vs.   %s"
                            % (a, b))
        self._spec = _pack(a, common)
        self._input, self._other = input_dataset, dataset_to_concatenate

    def _length(self):
        n1, n2 = self._input._length(), self._other._length()
        if INFINITE in (n1, n2):
            return INFINITE
        if UNKNOWN in (n1, n2):
            return UNKNOWN
        return n1 + n2

    def _elements(self):
        first = self._input._elements()
        return itertools.chain(first, _deferred(self._other))


def _deferred(dataset):
    yield from dataset._elements()   # opened when the first input ends


class _UnbatchDataset(Dataset):

    def __init__(self, input_dataset):
        specs = _flatten(_unary(input_dataset)[0].element_spec)
        dims = [_dims(s) for s in specs]
        if any(d == [] for d in dims):
            raise ValueError("Cannot unbatch an input with scalar components.")
        known = None
        for d in dims:
            if d is not None and d[0] is not None:
                if known is not None and known != d[0]:
                    raise ValueError(
                        "`unbatch()` is only supported for datasets of "
                        "elements whose components have a matching leading "
                        "dimension. Encountered both %d and %d."
                        % (known, d[0]))
                known = d[0]
        self._input, self._rows = input_dataset, known
        self._spec = _map(lambda s: TensorSpec(
            None if _dims(s) is None else _dims(s)[1:], s.dtype),
            input_dataset.element_spec)

    def _length(self):
        n = self._input._length()
        if n in (INFINITE, UNKNOWN):
            return n
        return UNKNOWN if self._rows is None else n * self._rows

    def _elements(self):
        def rows():
            for element in self._input._elements():
                flat = _flatten(element)
                if any(a.ndim == 0 for a in flat):
                    raise InvalidArgumentError(
                        "Input element must have a non-scalar value in each "
                        "component.")
                n = flat[0].shape[0]
                for k, a in enumerate(flat):
                    if a.shape[0] != n:
                        raise InvalidArgumentError(
                            "Input element must have the same batch size in "
                            "each component. Component 0 had size %d but "
                            "component %d had size %d." % (n, k, a.shape[0]))
                for i in range(n):
                    yield _pack(element, [a[i, ...] for a in flat])
        return rows()
