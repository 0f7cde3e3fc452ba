"""Layers: each with `params` / `grads` (PyTorch names), `forward` and a hand-derived `backward`."""

from .activation import Activation
from .base import Layer, get_class, register
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

__all__ = ["CELLS", "Layer", "get_class", "Activation", "BatchNorm", "Concatenate", "Conv1D", "Dense", "Dropout",
           "Embedding", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GRU", "JordanRNN", "LSTM", "Masking",
           "RepeatVector", "SimpleRNN", "TimeDistributed"]


# the names model files use for the layer classes (get_class)
register(Activation, BatchNorm, Concatenate, Conv1D, Dense, Dropout, Embedding, GlobalAveragePooling1D,
         GlobalMaxPooling1D, GRU, JordanRNN, LSTM, Masking, RepeatVector, SimpleRNN, TimeDistributed)
