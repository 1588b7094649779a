from . import dlpack as dlpack
__all__ = ['dlpack']
