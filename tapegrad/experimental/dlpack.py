"""tapegrad.experimental.dlpack: ``tf.experimental.dlpack``.

Zero-copy exchange with other array libraries (PyTorch, NumPy, JAX...)
over DLPack; the C side is ``src/dlpack.c``.  Tensors and Variables also
have ``__dlpack__`` / ``__dlpack_device__``, so ``torch.from_dlpack(t)``
and ``np.from_dlpack(t)`` work directly.
"""
from .. import _tapegrad

__all__ = ["to_dlpack", "from_dlpack"]


def to_dlpack(tf_tensor):
    """A PyCapsule named "dltensor" that shares ``tf_tensor``'s memory.

    The capsule can be consumed once (``torch.utils.dlpack.from_dlpack``,
    ``from_dlpack`` here).  Its legacy DLPack struct cannot mark the
    buffer read-only: a consumer must not write to it, since tapegrad's
    tensors are immutable (README, Choices).
    """
    return _tapegrad._to_dlpack(tf_tensor)


def from_dlpack(dlcapsule):
    """A Tensor over the memory of a DLPack capsule or of any object with
    ``__dlpack__`` (a NumPy array, a torch tensor).

    The memory is shared, not copied, when it is C-contiguous and aligned
    (otherwise it is copied), and the producer stays alive as long as the
    Tensor does.  A shared buffer the producer later mutates changes the
    Tensor too (README, Choices); import a copy to avoid that.
    """
    return _tapegrad._from_dlpack(dlcapsule)
