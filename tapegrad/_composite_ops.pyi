from tapegrad._tapegrad import Tensor, TensorLike
from _typeshed import Incomplete
__all__ = ['embedding_lookup', 'unsorted_segment_mean', 'segment_sum', 'segment_mean', 'segment_max']

def embedding_lookup(params: TensorLike, ids: TensorLike, max_norm: Incomplete=None, name: str | None=None) -> Tensor:
    ...

def unsorted_segment_mean(data: TensorLike, segment_ids: TensorLike, num_segments: Incomplete, name: str | None=None) -> Tensor:
    ...

def segment_sum(data: TensorLike, segment_ids: TensorLike, name: str | None=None) -> Tensor:
    ...

def segment_mean(data: TensorLike, segment_ids: TensorLike, name: str | None=None) -> Tensor:
    ...

def segment_max(data: TensorLike, segment_ids: TensorLike, name: str | None=None) -> Tensor:
    ...
