from collections.abc import Callable
from typing import Any

import numpy.typing as npt

__all__ = ['check_gradients', 'compute_gradient']

def compute_gradient(f: Callable[..., Any], x: Any, delta: float | None = None
                     ) -> tuple[Any, Any]: ...

def check_gradients(f: Callable[..., Any], *args: Any, order: int = 2,
                    rtol: float | None = None, atol: float | None = None,
                    seed: int = 0) -> None: ...
