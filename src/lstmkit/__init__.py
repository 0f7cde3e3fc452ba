"""lstmkit: recurrent neural networks built from the equations, with hand-derived backpropagation through time."""

import os

import numpy  # noqa: F401  (loaded first: NumPy's BLAS keeps its threads for the large GEMMs over all steps)

# The compiled time loops make one small GEMM per step through SciPy's OpenBLAS, loaded later; its worker threads
# cost more in wake-ups than they gain on such products (measured here: LSTM training step 92 -> 44 ms at
# B=32, T=100, H=128 on 2 cores). One thread for it, unless the user set OPENBLAS_NUM_THREADS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from . import data, diagnostics, layers, losses, metrics, optim, rtrl
from .gradcheck import gradcheck
from .io import load_model as load
from .model import EarlyStopping, History, Sequential
from .seq2seq import Seq2Seq

__version__ = "0.1.0"

__all__ = ["Sequential", "Seq2Seq", "EarlyStopping", "History", "load", "gradcheck", "layers", "losses", "metrics",
           "optim", "data", "diagnostics", "rtrl", "interop", "export", "experiments"]


def __getattr__(name):
    """`lk.interop`, `lk.export` (where torch, keras and onnx get imported) and `lk.experiments` load on first
    use."""
    if name in ("interop", "export", "experiments"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")
