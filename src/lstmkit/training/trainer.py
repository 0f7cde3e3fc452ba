"""The one training loop: epochs of shuffled mini-batches, the epoch's logs, callbacks, checkpoints, progress.

`Sequential.fit`, `Seq2Seq.fit`, `rtrl.fit_online` and through them every job (classify, forecast, textgen,
train, experiments) train here. What differs between them is passed in:
- `step(idx)`: the batch of samples `idx`: forward, loss and backward, returning the batch's mean loss and
  raising FloatingPointError when something became NaN or inf; then `update()` applies the gradients. Without
  `update`, `step` trains on its own (TBPTT and RTRL make several updates within a batch);
- `epoch_logs(logs)`: adds the metrics and validation values to the epoch's `{"loss": ...}`;
- `callbacks`: early stopping, learning-rate schedules, a CSV log (training/callbacks.py);
- `checkpoint`: a Checkpointer, for a model that checkpoint.py can save (a Sequential).

The model needs `parameters()`, `optimizer` and `shuffle_rng` (the generator that draws each epoch's order).

Bit-identical resumption: a checkpoint holds the position (epoch, next batch, the epoch's sample order, the running
loss), every generator, the optimizer, early stopping's record and the History (checkpoint.TrainState); the batch
order comes only from `shuffle_rng`, so a resumed run replays the batches of an uninterrupted one.
"""

import os

import numpy as np

from ..formats import checkpoint as ckpt
from ..formats.modelfile import model_buffers
from ..runtime import cpus
from .callbacks import History
from .progress import EpochProgress


class Trainer:
    """Train `model` with `step` over `n_samples` samples in batches of `batch_size` (the last may be smaller),
    in an order drawn from the model's `shuffle_rng` each epoch when `shuffle`. See the module docstring."""

    def __init__(self, model, step, n_samples, batch_size, shuffle=True, epoch_logs=None, callbacks=(),
                 checkpoint=None, verbose=1, update=None):
        self.model, self.step, self.update = model, step, update
        self.n_samples, self.batch_size = int(n_samples), int(batch_size)
        self.shuffle, self.epoch_logs, self.checkpoint, self.verbose = shuffle, epoch_logs, checkpoint, verbose
        self.callbacks = list(callbacks)                       # checked by callbacks.fit_callbacks
        self.n_batches = -(-self.n_samples // self.batch_size)
        self.state = None
        self._buffers_before = None    # the layers' buffers before the batch in progress (with checkpoints)

    def run(self, epochs, state=None):
        """Train until epoch `epochs` (counted from the start of the run) or an early stop, from `state` (a
        resumed checkpoint's TrainState) or from the start. Returns the History."""
        self.state = state if state is not None else ckpt.TrainState(history=History())
        for cb in self.callbacks:
            cb.on_train_begin(self)
        saver = self.checkpoint
        with cpus.training_threads(self.state.blas_threads) as self.state.blas_threads, \
                EpochProgress(epochs, self.n_batches, enabled=bool(self.verbose)) as progress, \
                ckpt.DeferredInterrupt(enabled=saver is not None) as interrupt:
            try:
                self._epochs(epochs, progress, interrupt)
            except KeyboardInterrupt:
                if saver is None or self.state.updating:
                    raise
                for name, value in (self._buffers_before or {}).items():    # a forward interrupted mid-batch
                    model_buffers(self.model)[name][...] = value               # has moved BatchNorm's statistics
                path = saver.save(self.model, self.state)
                raise KeyboardInterrupt(f"checkpoint saved to {path}, "
                                        f"{ckpt.position_text(self.state.epoch, self.state.batch)}") from None
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.state.history

    def _epochs(self, epochs, progress, interrupt):
        """The epochs from `self.state` on, updating it as they go (see checkpoint.TrainState)."""
        state, saver, size = self.state, self.checkpoint, self.batch_size
        while state.epoch < epochs and state.history.stopped_epoch is None:
            epoch = state.epoch
            if state.order is None:
                state.order = (self.model.shuffle_rng.permutation(self.n_samples) if self.shuffle
                               else np.arange(self.n_samples))
            progress.start_epoch(epoch)
            while state.batch < self.n_batches:
                if interrupt.requested:
                    raise KeyboardInterrupt
                b = state.batch
                idx = state.order[b * size:(b + 1) * size]
                if saver is not None:
                    state.rng = ckpt.rng_states(self.model)             # dropout will draw from them
                    self._buffers_before = {k: v.copy() for k, v in model_buffers(self.model).items()}
                try:
                    if self.update is None:
                        state.updating = True                 # the step updates the weights within the batch
                        batch_loss = self.step(idx)
                    else:
                        batch_loss = self.step(idx)
                        state.updating = True                 # until the update and its bookkeeping are done
                        self.update()
                except FloatingPointError as err:
                    raise FloatingPointError(
                        f"training diverged at epoch {epoch + 1}, batch {b + 1}: {err}; "
                        f"{saver.kept() if saver else ''}lower the learning rate or clip gradients "
                        f"(optimizer clipnorm=1.0).") from None
                state.loss_sum, state.seen = state.loss_sum + batch_loss * len(idx), state.seen + len(idx)
                state.batch += 1
                state.rng = None
                state.updating = False
                progress.advance(loss=state.loss_sum / state.seen)
            if interrupt.requested:
                raise KeyboardInterrupt
            logs = {"loss": state.loss_sum / state.seen}
            if self.epoch_logs is not None:
                self.epoch_logs(logs)
            state.updating = True
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, logs)
            state.history.append(epoch, logs)
            state.epoch, state.batch, state.order, state.loss_sum, state.seen = epoch + 1, 0, None, 0.0, 0
            state.updating = False
            progress.end_epoch(logs)
            if saver is not None and (state.epoch % saver.every == 0 or state.epoch == epochs
                                      or state.history.stopped_epoch is not None):
                saver.save(self.model, state)


class Checkpointer:
    """Writes and reads the checkpoints of one fit in `folder`, every `every` epochs; `fit` is the run's
    fingerprint (checkpoint.fingerprint). Remembers the last good checkpoint for the divergence message."""

    def __init__(self, folder, every, fit):
        self.folder, self.every, self.fit = os.fspath(folder), every, fit
        self.last = None                                        # (path, epoch, batch) of the last good checkpoint

    def save(self, model, state):
        path = ckpt.save_checkpoint(self.folder, model, state, self.fit)
        self.last = (path, state.epoch, state.batch)
        return path

    def restore(self, model):
        state = ckpt.restore_checkpoint(self.folder, model, self.fit, History)
        ckpt.remove_leftovers(self.folder)
        self.last = (os.path.join(self.folder, ckpt.FILENAME), state.epoch, state.batch)
        return state

    def kept(self):
        """A sentence on the last good checkpoint, for the divergence message."""
        if self.last is None:
            return "no checkpoint was written yet; "
        path, epoch, batch = self.last
        return f"the last good checkpoint, {path} ({ckpt.position_text(epoch, batch)}), is kept; "
