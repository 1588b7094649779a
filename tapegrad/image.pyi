from _typeshed import Incomplete
from ._custom_gradient import custom_gradient as custom_gradient
from .errors import InvalidArgumentError as InvalidArgumentError

def adjust_contrast(images: Incomplete, contrast_factor: Incomplete) -> Incomplete:
    ...

class ResizeMethod:
    BILINEAR: str
    NEAREST_NEIGHBOR: str
    BICUBIC: str
    AREA: str
    LANCZOS3: str
    LANCZOS5: str
    GAUSSIAN: str
    MITCHELLCUBIC: str

def resize(images: Incomplete, size: Incomplete, method: Incomplete=..., preserve_aspect_ratio: bool=False, antialias: bool=False, name: Incomplete=None) -> Incomplete:
    ...
