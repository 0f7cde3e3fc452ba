"""Layers: each with `params` / `grads` (PyTorch names), `forward` and a hand-derived `backward`."""

from .activation import Activation
from .base import Layer
from .concatenate import Concatenate
from .conv import Conv1D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .gru import GRU
from .jordan import JordanRNN
from .lstm import LSTM
from .masking import Masking
from .normalization import BatchNorm
from .pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from .reshape import RepeatVector, TimeDistributed
from .rnn import SimpleRNN

# the recurrent cells a job's `--cell` chooses from
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}

__all__ = ["CELLS", "Layer", "Activation", "BatchNorm", "Concatenate", "Conv1D", "Dense", "Dropout", "Embedding",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GRU", "JordanRNN", "LSTM", "Masking", "RepeatVector",
           "SimpleRNN", "TimeDistributed"]


def get_class(name):
    """The layer class called `name` (as written in model files); a clear error for an unknown name."""
    classes = {cls.__name__: cls for cls in (Activation, BatchNorm, Concatenate, Conv1D, Dense, Dropout, Embedding,
                                             GlobalAveragePooling1D, GlobalMaxPooling1D, GRU, JordanRNN, LSTM,
                                             Masking, RepeatVector, SimpleRNN, TimeDistributed)}
    if name not in classes:
        raise ValueError(f"unknown layer type {name!r}; known layers: {', '.join(sorted(classes))}.")
    return classes[name]
