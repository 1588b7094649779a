"""tapegrad.linalg: linear algebra, as tf.linalg.

Its functions are op-table rows (src/ops*.def) installed by
tapegrad/__init__.py from each row's `api` paths, and global_norm
(tapegrad/_clip.py), which tapegrad/__init__.py sets here once the
package is ready.
"""
_FROM_MODULES = {"global_norm": "tapegrad._clip"}
__all__ = ["global_norm"]
