"""Training: the one loop (Trainer) and its callbacks (History, EarlyStopping, ReduceLROnPlateau, CSVLogger)."""

from .callbacks import Callback, CSVLogger, EarlyStopping, History, ReduceLROnPlateau
from .trainer import Checkpointer, Trainer

__all__ = ["Callback", "Checkpointer", "CSVLogger", "EarlyStopping", "History", "ReduceLROnPlateau", "Trainer"]
