"""Training: the one loop (Trainer) and its callbacks (History, EarlyStopping, ReduceLROnPlateau, CSVLogger),
re-exported here; beside them the losses, metrics and optimizers, truncated BPTT (tbptt), real-time recurrent
learning (rtrl), the finite-difference gradient check (gradcheck), gradient diagnostics and the progress display."""

from .callbacks import Callback, CSVLogger, EarlyStopping, History, ReduceLROnPlateau, fit_callbacks
from .trainer import Checkpointer, Trainer

__all__ = ["Callback", "Checkpointer", "CSVLogger", "EarlyStopping", "History", "ReduceLROnPlateau", "Trainer",
           "fit_callbacks"]
