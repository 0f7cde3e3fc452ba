"""Where a layer's arrays live: on the host ("cpu", NumPy) or on a CUDA GPU ("cuda", CuPy).

A layer holds its parameters, gradients and everything its forward keeps on one device, `layer.device`, and
computes with that device's array module, `layer.xp` (numpy or cupy); `layer.to("cuda")` / `model.to("cuda")` move
it, and `set_backend("cupy")` makes "cuda" the device of layers created afterwards (PyTorch's `module.to(device)`
and a global default, as Keras has). Inputs may arrive from either side: a layer moves them to its device.
Random draws (initial weights, dropout and zoneout masks) are made on the host from the layer's NumPy generator
and then moved, so a seed gives the same numbers on both devices.

On the GPU the recurrent layers run the driver's per-step loop (the compiled Numba sweeps are CPU-only): the
step's product is one cuBLAS call, and a standard LSTM or GRU step's point-wise work one fused CUDA kernel each way
(layers/cuda_kernels.py); other cells and `implementation="reference"` make the reference's NumPy calls, which
dispatch to CuPy through NumPy's `__array_ufunc__` / `__array_function__` protocols or go to the module the code
names (`xp`). CuPy is imported on first use of "cuda", never by `import lstmkit`; install it with
`pip install cupy-cuda12x` (CUDA 12).
"""

import sys

import numpy as np

DEVICES = ("cpu", "cuda")
DEVICE_NAMES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}
BACKENDS = {"numpy": "cpu", "cupy": "cuda"}

_default_device = "cpu"
_device_module = None          # the array module of "cuda" once loaded (cupy)


class DeviceError(RuntimeError):
    """Device "cuda" cannot be used here: CuPy is not installed, or finds no GPU."""


def set_backend(name):
    """Make the array library `name` ("numpy" or "cupy") the default for layers created afterwards; layers that
    exist keep their device (move them with `.to(device)`). Loading "cupy" checks that CuPy and a GPU are there."""
    global _default_device
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {name!r}.")
    device = BACKENDS[name]
    array_module(device)                                   # fail here, not at the first forward
    _default_device = device


def get_backend():
    """The name of the default array library, "numpy" or "cupy"."""
    return next(name for name, device in BACKENDS.items() if device == _default_device)


def default_device():
    """The device of newly created layers: "cpu", or "cuda" after set_backend("cupy")."""
    return _default_device


def check_device(device):
    """The canonical device name for "cpu" or "cuda" ("gpu" is taken as "cuda")."""
    name = DEVICE_NAMES.get(device.lower()) if isinstance(device, str) else None
    if name is None:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}.")
    return name


def array_module(device):
    """numpy for "cpu"; cupy for "cuda", imported (and the GPU checked) on first use."""
    global _device_module
    if check_device(device) == "cpu":
        return np
    if _device_module is None:
        _device_module = _load_cupy()
    return _device_module


def _load_cupy():
    try:
        import cupy
    except ImportError:
        raise DeviceError("device 'cuda' needs CuPy, which is not installed; install the build for your CUDA, "
                          "e.g. `pip install cupy-cuda12x`.") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:                               # CUDARuntimeError: no driver, no device
        raise DeviceError(f"device 'cuda': CuPy is installed but finds no usable GPU ({err}).") from None
    if count < 1:
        raise DeviceError("device 'cuda': CuPy is installed but finds no GPU.")
    return cupy


def is_device_array(a):
    """Whether `a` is an array of the GPU's module (cupy.ndarray), loaded here or by the caller."""
    module = _device_module or sys.modules.get("cupy")
    return module is not None and isinstance(a, module.ndarray)


def as_array(a):
    """`a` as an array where it lives: a GPU array stays one, anything else goes through np.asarray."""
    return a if is_device_array(a) else np.asarray(a)


def to_device(a, device):
    """The array `a` on `device`: moved from the host or the GPU when it is elsewhere, else itself."""
    if device == "cpu" or check_device(device) == "cpu":
        return to_host(a)
    return a if is_device_array(a) else array_module(device).asarray(a)


def device_of(a):
    """"cuda" for a GPU array, else "cpu"."""
    return "cuda" if is_device_array(a) else "cpu"


def to_host(a):
    """`a` as a NumPy array (copied from the GPU when it lives there), else itself."""
    return a.get() if is_device_array(a) else a
