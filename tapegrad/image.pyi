from tapegrad._tapegrad import Tensor, TensorLike
from _typeshed import Incomplete
from ._custom_gradient import custom_gradient as custom_gradient
from .errors import InvalidArgumentError as InvalidArgumentError

def adjust_contrast(images: TensorLike, contrast_factor: TensorLike) -> Tensor: ...

class ResizeMethod:
    BILINEAR: str
    NEAREST_NEIGHBOR: str
    BICUBIC: str
    AREA: str
    LANCZOS3: str
    LANCZOS5: str
    GAUSSIAN: str
    MITCHELLCUBIC: str

def resize(images: TensorLike, size: Incomplete, method: Incomplete=..., preserve_aspect_ratio: bool=False, antialias: bool=False, name: str | None=None) -> Tensor: ...
