from _typeshed import Incomplete
__all__ = ['Dataset', 'AUTOTUNE', 'INFINITE_CARDINALITY', 'UNKNOWN_CARDINALITY']
AUTOTUNE: int
INFINITE_CARDINALITY: int
UNKNOWN_CARDINALITY: int

class _Iterator:

    def __init__(self, dataset: Incomplete) -> None:
        ...

    def __iter__(self) -> Incomplete:
        ...

    def __next__(self) -> Incomplete:
        ...

    def get_next(self, name: Incomplete=None) -> Incomplete:
        ...

    @property
    def element_spec(self) -> Incomplete:
        ...

class _NumpyIterator(_Iterator):
    ...

class Dataset:

    def __init__(self, *args: Incomplete, **kwargs: Incomplete) -> None:
        ...

    def __iter__(self) -> Incomplete:
        ...

    def __bool__(self) -> bool:
        ...

    def __len__(self) -> int:
        ...

    @property
    def element_spec(self) -> Incomplete:
        ...

    def cardinality(self) -> Incomplete:
        ...

    def as_numpy_iterator(self) -> Incomplete:
        ...

    @staticmethod
    def from_tensor_slices(tensors: Incomplete, name: Incomplete=None) -> Incomplete:
        ...

    @staticmethod
    def from_tensors(tensors: Incomplete, name: Incomplete=None) -> Incomplete:
        ...

    @staticmethod
    def range(*args: Incomplete, output_type: Incomplete=None, name: Incomplete=None) -> Incomplete:
        ...

    @staticmethod
    def zip(*args: Incomplete, datasets: Incomplete=None, name: Incomplete=None) -> Incomplete:
        ...

    def shuffle(self, buffer_size: Incomplete, seed: Incomplete=None, reshuffle_each_iteration: Incomplete=None, name: Incomplete=None) -> Incomplete:
        ...

    def batch(self, batch_size: Incomplete, drop_remainder: bool=False, num_parallel_calls: Incomplete=None, deterministic: Incomplete=None, name: Incomplete=None) -> Incomplete:
        ...

    def map(self, map_func: Incomplete, num_parallel_calls: Incomplete=None, deterministic: Incomplete=None, name: Incomplete=None) -> Incomplete:
        ...

    def filter(self, predicate: Incomplete, name: Incomplete=None) -> Incomplete:
        ...

    def repeat(self, count: Incomplete=None, name: Incomplete=None) -> Incomplete:
        ...

    def take(self, count: Incomplete, name: Incomplete=None) -> Incomplete:
        ...

    def skip(self, count: Incomplete, name: Incomplete=None) -> Incomplete:
        ...

    def enumerate(self, start: int=0, name: Incomplete=None) -> Incomplete:
        ...

    def concatenate(self, dataset: Incomplete, name: Incomplete=None) -> Incomplete:
        ...

    def unbatch(self, name: Incomplete=None) -> Incomplete:
        ...

    def prefetch(self, buffer_size: Incomplete, name: Incomplete=None) -> Incomplete:
        ...

    def cache(self, filename: str='', name: Incomplete=None) -> Incomplete:
        ...

    def apply(self, transformation_func: Incomplete) -> Incomplete:
        ...

class _SourceDataset(Dataset):
    ...

class _TensorSliceDataset(_SourceDataset):

    def __init__(self, tensors: Incomplete) -> None:
        ...

class _TensorDataset(_SourceDataset):

    def __init__(self, tensors: Incomplete) -> None:
        ...

class _RangeDataset(_SourceDataset):

    def __init__(self, args: Incomplete, output_type: Incomplete) -> None:
        ...

class _ShuffleDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, buffer_size: Incomplete, seed: Incomplete, reshuffle: Incomplete) -> None:
        ...

class _TakeDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, count: Incomplete) -> None:
        ...

class _SkipDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, count: Incomplete) -> None:
        ...

class _RepeatDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, count: Incomplete) -> None:
        ...

class _PrefetchDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, buffer_size: Incomplete) -> None:
        ...

class CacheDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, filename: Incomplete) -> None:
        ...

class _BatchDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, batch_size: Incomplete, drop_remainder: Incomplete) -> None:
        ...

class _MapDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, map_func: Incomplete) -> None:
        ...

class _FilterDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, predicate: Incomplete) -> None:
        ...

class _ZipDataset(Dataset):

    def __init__(self, datasets: Incomplete) -> None:
        ...

class _ConcatenateDataset(Dataset):

    def __init__(self, input_dataset: Incomplete, dataset_to_concatenate: Incomplete) -> None:
        ...

class _UnbatchDataset(Dataset):

    def __init__(self, input_dataset: Incomplete) -> None:
        ...
