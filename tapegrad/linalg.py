"""tapegrad.linalg: linear algebra, as tf.linalg.

Its functions are op-table rows (src/ops*.def) installed by
tapegrad/__init__.py from each row's `api` paths, and global_norm
(tapegrad/_clip.py), which loads on first use.
"""
from . import _lazy

__getattr__, __dir__ = _lazy.attach(__name__,
                                    {"global_norm": "tapegrad._clip"})
__all__ = ["global_norm"]
