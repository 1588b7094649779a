"""tapegrad.config: the parts of ``tf.config`` that eager CPU code uses.

tapegrad runs eagerly on the CPU: ``run_functions_eagerly`` is kept as a
flag (``tf.function`` always runs eagerly), and the device lists hold the
one CPU, as TF's do on a machine without accelerators.
"""
import collections

# from tapegrad/_function.py, set here by tapegrad/__init__.py once the
# package is ready
_FROM_MODULES = dict.fromkeys(("functions_run_eagerly",
                               "run_functions_eagerly"), "tapegrad._function")

__all__ = ["run_functions_eagerly", "functions_run_eagerly",
           "list_physical_devices", "list_logical_devices"]

# TF's device records (namedtuples there too); not exported by name
_PhysicalDevice = collections.namedtuple("PhysicalDevice",
                                         ["name", "device_type"])
_LogicalDevice = collections.namedtuple("LogicalDevice",
                                        ["name", "device_type"])


def _check_type(device_type):
    if device_type is not None and not isinstance(device_type, str):
        raise TypeError("device_type must be a string, got %r"
                        % (device_type,))
    return device_type is None or device_type.upper() == "CPU"


def list_physical_devices(device_type=None):
    """The machine's devices of `device_type` (all if None): the CPU."""
    if not _check_type(device_type):
        return []
    return [_PhysicalDevice("/physical_device:CPU:0", "CPU")]


def list_logical_devices(device_type=None):
    """The devices ops can be placed on: the CPU."""
    if not _check_type(device_type):
        return []
    return [_LogicalDevice("/device:CPU:0", "CPU")]
