from ._function import functions_run_eagerly as functions_run_eagerly, run_functions_eagerly as run_functions_eagerly
from _typeshed import Incomplete
from typing import NamedTuple
__all__ = ['run_functions_eagerly', 'functions_run_eagerly', 'list_physical_devices', 'list_logical_devices']

class _PhysicalDevice(NamedTuple):
    name: Incomplete
    device_type: Incomplete

class _LogicalDevice(NamedTuple):
    name: Incomplete
    device_type: Incomplete

def list_physical_devices(device_type: Incomplete=None) -> Incomplete: ...

def list_logical_devices(device_type: Incomplete=None) -> Incomplete: ...
