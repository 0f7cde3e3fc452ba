"""The suite runs with a fixed BLAS thread count (cpus.py): tests that compare two training runs bit for bit,
in this process or in a child process, must not see the count follow a machine that is busier one moment than
the next. tests/test_cpus.py checks the policy itself.

The `cuda` fixture serves the device tests (tests/test_device.py, tests/test_conv_layers.py)."""

import os

import pytest
from fake_device import FakeCupy

from lstmkit.runtime import backend, cpus

os.environ.setdefault("LSTMKIT_BLAS_THREADS", str(cpus.get_blas_threads() or 1))


@pytest.fixture(params=["fake", "cupy"])
def cuda(request, monkeypatch):
    """The module serving "cuda": the CuPy stand-in (tests/fake_device.py), or CuPy on a GPU (skipped where there is
    none); the default device restored afterwards."""
    if request.param == "fake":
        module = FakeCupy()
    else:
        try:
            module = backend._load_cupy()
        except backend.DeviceError as err:
            pytest.skip(f"no CuPy with a GPU here: {err}")
    monkeypatch.setattr(backend, "_device_module", module)
    monkeypatch.setattr(backend, "_default_device", "cpu")
    return module
