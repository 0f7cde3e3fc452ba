"""lstmkit: recurrent neural networks built from the equations, with hand-derived backpropagation through time."""

import os

# The compiled time loops make one small GEMM per step through OpenBLAS. Its idle worker threads normally spin for
# about 2^28 cycles waiting for more work, and on a small machine they take the core the loop itself needs between
# two GEMMs; a short spin (2^4 cycles) lets them sleep at once. Measured on 2 cores: LSTM training step 92 -> 26 ms
# at B=32, T=100, H=128, and 509 -> 311 ms at B=128, T=35, H=512 against one thread. It applies to every OpenBLAS
# loaded after this line (NumPy's too, if lstmkit is imported first); a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from . import data, diagnostics, layers, losses, metrics, optim, rtrl
from .gradcheck import gradcheck
from .io import load_model as load
from .model import EarlyStopping, History, Sequential
from .seq2seq import Seq2Seq
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = ["Sequential", "Seq2Seq", "EarlyStopping", "History", "load", "gradcheck", "layers", "losses", "metrics",
           "optim", "data", "diagnostics", "rtrl", "interop", "export", "experiments", "set_num_threads",
           "get_num_threads"]


def __getattr__(name):
    """`lk.interop`, `lk.export` (where torch, keras and onnx get imported) and `lk.experiments` load on first
    use."""
    if name in ("interop", "export", "experiments"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")
