"""lstmkit: recurrent neural networks built from the equations, with hand-derived backpropagation through time."""

from . import data, layers
from .model import Sequential
from .model import load_model as load
from .runtime.backend import get_backend, set_backend
from .runtime.threads import get_num_threads, set_num_threads
from .seq2seq import Seq2Seq
from .training import EarlyStopping, History, diagnostics, losses, metrics, optim, rtrl
from .training.gradcheck import gradcheck

__version__ = "0.1.0"

__all__ = ["Sequential", "Seq2Seq", "EarlyStopping", "History", "load", "gradcheck", "layers", "losses", "metrics",
           "optim", "data", "diagnostics", "rtrl", "interop", "export", "experiments", "set_num_threads",
           "get_num_threads", "set_backend", "get_backend"]


def __getattr__(name):
    """`lk.interop`, `lk.export` (where torch, keras and onnx get imported) and `lk.experiments` load on first
    use."""
    lazy = {"interop": ".formats.interop", "export": ".formats.export", "experiments": ".apps.experiments"}
    if name in lazy:
        import importlib
        return importlib.import_module(lazy[name], __name__)
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")
