from tapegrad._tapegrad import Tensor, TensorLike
from _typeshed import Incomplete
__all__ = ['clip_by_global_norm', 'global_norm']

def global_norm(t_list: Incomplete, name: str | None=None) -> Tensor: ...

def clip_by_global_norm(t_list: Incomplete, clip_norm: Incomplete, use_norm: Incomplete=None, name: str | None=None) -> tuple[list[Tensor], Tensor]: ...
