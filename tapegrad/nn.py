"""tapegrad.nn: activations and losses, as tf.nn.

Its functions are op-table rows (src/ops*.def) installed by
tapegrad/__init__.py from each row's `api` paths, and the ops written in
Python (convolutions and poolings in tapegrad/_conv.py and _pool.py,
embedding_lookup in _composite_ops.py), which tapegrad/__init__.py sets
here from the modules listed below once the package is ready
(tests/test_import.py checks the lists against the modules').
"""
_FROM_MODULES = dict.fromkeys(
    ("conv1d", "conv2d", "conv3d", "convolution", "conv2d_transpose",
     "conv1d_transpose", "conv3d_transpose", "conv_transpose",
     "depthwise_conv2d", "bias_add"), "tapegrad._conv")
_FROM_MODULES.update(dict.fromkeys(
    ("max_pool", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool",
     "avg_pool1d", "avg_pool2d", "avg_pool3d"), "tapegrad._pool"))
_FROM_MODULES["embedding_lookup"] = "tapegrad._composite_ops"
__all__ = list(_FROM_MODULES)
