"""The Keras-like model: `Sequential` chains layers, trains them with mini-batch gradient descent (`fit`) and
runs them (`predict`, `evaluate`); `summary` tabulates shapes and parameter counts."""

import os

import numpy as np

from .formats import checkpoint as ckpt
from .formats.modelfile import assign_weights, model_state, read_model, save_model
from .layers import Layer, get_class
from .layers.dense import activation_forward
from .layers.recurrent import Recurrent
from .runtime import backend
from .runtime.validation import check_array, first_nonfinite
from .seq2seq import Seq2Seq
from .training import Checkpointer, Trainer, fit_callbacks
from .training import losses as losses_module
from .training import metrics as metrics_module
from .training import optim
from .training import tbptt as tbptt_module
from .training.rtrl import OnlineLearner


PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")    # a last layer ending in one of these outputs probabilities


class Sequential:
    """A stack of layers, each feeding the next. `seed` fixes the initial weights, dropout masks and the order
    of mini-batches, so the same seed gives the same training, bit for bit, on the same machine."""

    def __init__(self, layers=(), seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}.")
        if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
            raise TypeError(f"layers must be a list of lstmkit layers, e.g. Sequential([LSTM(32), Dense(1)]), got "
                            f"{type(layers).__name__}.")
        self.layers = []
        self.seed = seed
        self.loss = None
        self.optimizer = None
        self.metrics = []
        self.input_shape = None
        self.shuffle_rng = None       # draws the order of each epoch's mini-batches (seeded in build)
        for layer in layers:
            self.add(layer)

    # ---- structure --------------------------------------------------------------------------------------------
    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes lstmkit layers, got {type(layer).__name__}.")
        if isinstance(layer, Recurrent) and layer.return_state:
            raise ValueError(f"{type(layer).__name__}(return_state=True) returns a tuple, which a Sequential model "
                             f"cannot pass on; use return_state=False inside Sequential.")
        if self.input_shape is not None:
            raise ValueError("add layers before the model is built (before the first fit/predict).")
        if self.layers:
            layer.check_input_layer(self.layers[-1])
        self.layers.append(layer)

    def build(self, input_shape):
        """Create every layer's parameters for inputs shaped `(batch, *input_shape)`."""
        if not self.layers:
            raise ValueError("the model has no layers; pass them to Sequential([...]) or use add().")
        if isinstance(input_shape, (str, bytes)) or not all(
                d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1)
                for d in np.atleast_1d(np.asarray(input_shape, dtype=object))):
            raise ValueError(f"input_shape must be a tuple of sizes >= 1 (or None), without the batch axis, e.g. "
                             f"(time, features); got {input_shape!r}.")
        seeds = np.random.SeedSequence(self.seed).spawn(len(self.layers) + 1)
        shape = tuple(input_shape)
        for layer, layer_seed in zip(self.layers, seeds):
            if not layer.built:
                layer.build(shape, np.random.default_rng(layer_seed))
            shape = layer.output_shape(shape)
        self.shuffle_rng = np.random.default_rng(seeds[-1])
        self.input_shape = tuple(input_shape)
        return self

    @property
    def built(self):
        return self.input_shape is not None

    def get_config(self):
        return {"seed": self.seed,
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in self.layers]}

    def parameters(self):
        """All parameters as one flat dict `{"<layer index>.<name>": array}` (the live arrays)."""
        return {f"{i}.{name}": p for i, layer in enumerate(self.layers) for name, p in layer.params.items()}

    def gradients(self):
        return {f"{i}.{name}": g for i, layer in enumerate(self.layers) for name, g in layer.grads.items()}

    def count_params(self):
        return sum(layer.num_params() for layer in self.layers)

    def to(self, target):
        """Move every layer to a device ("cpu" or "cuda") or convert it to a dtype ("float32" or "float64"), in
        place (Layer.to). On "cuda" the data stays on the host: each batch moves to the GPU in the first layer,
        and the (small) output comes back for the loss and metrics."""
        for layer in self.layers:
            layer.to(target)
        return self

    @property
    def device(self):
        """The device of the first layer ("cpu" for a model without layers)."""
        return self.layers[0].device if self.layers else "cpu"

    # ---- passes -----------------------------------------------------------------------------------------------
    def forward(self, x, training=False, mask=None):
        """Run the layers in turn. A (B, T) mask of real steps (True) and padding (False), given here or started
        by a Masking layer or an Embedding(mask_zero=True), is passed to every layer that accepts one and kept in
        `output_mask` for the loss (None when there is none)."""
        if not self.built:
            self.build(np.shape(x)[1:])
        for i, layer in enumerate(self.layers):
            inputs = x
            x = layer.forward(x, mask=mask, training=training) if layer.accepts_mask and mask is not None \
                else layer.forward(x, training=training)
            mask = layer.output_mask(inputs, mask)
            if i < len(self.layers) - 1 and not np.all(np.isfinite(x)):
                raise FloatingPointError(f"layer {i} ({type(layer).__name__}) gave NaN or inf from finite input: "
                                         f"its weights are too large")
        self.output_mask = mask
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    # ---- training ---------------------------------------------------------------------------------------------
    def compile(self, loss="mse", optimizer="adam", metrics=()):
        """Choose the loss (a name or a losses.Loss), the optimizer (a name or an optim.Optimizer) and the metrics
        reported by fit / evaluate (names from lstmkit.training.metrics).

        The cross-entropy losses take logits and apply their link (sigmoid, softmax) themselves, so a last layer
        that already ends in sigmoid or softmax (Dense(activation=...)) is refused: it would be applied twice.
        Keep the last Dense linear and call `predict_proba` for probabilities. The accuracy metric reads binary
        outputs as logits (class 1 where > 0), so it refuses a last sigmoid too. Layers added after compile are
        checked the same way when the last of them is used (fit, predict_proba)."""
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list of metric names or functions, e.g. metrics=['mae'], got "
                            f"{metrics!r}.")
        loss = losses_module.get(loss)
        metrics = [(m if isinstance(m, str) else getattr(m, "__name__", type(m).__name__), metrics_module.get(m))
                   for m in metrics]
        if self.layers:
            _check_output_activation(self.layers[-1], loss, metrics)
        self.loss, self.metrics = loss, metrics
        self.optimizer = optim.get(optimizer)
        return self

    def _require_compiled(self, what):
        if self.loss is None:
            raise ValueError(f"call model.compile(loss=..., optimizer=...) before {what}.")

    def _takes_indices(self):
        return bool(self.layers) and self.layers[0].takes_indices

    def output_shape(self, input_shape):
        """Shape of the model's output for inputs shaped `(batch, *input_shape)`, batch axis excluded."""
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def _check_x(self, x, name):
        """`x` as an array the model takes (in its first layer's dtype); builds the model for it if needed (a
        model whose build fails here is left unbuilt again). A wrong number of axes or features is one ValueError
        naming the whole array, found from the shapes alone: nothing runs through the model."""
        if not self.layers:
            raise ValueError("the model has no layers; pass them to Sequential([...]) or use add().")
        x = check_array(x, name, allow_int=self._takes_indices(), dtype=self.layers[0].dtype, device="cpu")
        if x.ndim == 0:
            raise ValueError(f"{name} must be an array with a batch axis first, got a scalar.")
        if self.built:
            expected = self.input_shape
            wrong_axes = x.ndim - 1 != len(expected)
            wrong_features = not self._takes_indices() and not wrong_axes and x.shape[-1] != expected[-1]
            if wrong_axes or wrong_features:
                want = ", ".join(["B"] + ["T" if i < len(expected) - 1 else str(e) for i, e in enumerate(expected)])
                got = f"{x.ndim}D" + ("" if self._takes_indices() else f" with {x.shape[-1]} features")
                takes = f"{len(expected) + 1}D" + ("" if self._takes_indices() else f" with {expected[-1]} features")
                raise ValueError(f"{name} has shape {x.shape} ({got}), but this model takes ({want}), {takes}; "
                                 f"reshape the data or build a new model.")
            return x
        fresh = [layer for layer in self.layers if not layer.built]
        try:
            self.build(x.shape[1:])
        except (ValueError, IndexError, OverflowError) as err:
            self._unbuild(fresh)
            raise ValueError(f"{name} has shape {x.shape}, which this model cannot take: {err}") from None
        except BaseException:
            self._unbuild(fresh)
            raise
        return x

    def _unbuild(self, layers):
        """Undo a build that `_check_x` started: the given layers, and the model, become unbuilt again."""
        if layers is None:
            return
        for layer in layers:
            layer.input_shape, layer.params, layer.grads, layer.rng = None, {}, {}, None
        self.input_shape, self.shuffle_rng = None, None

    def _check_xy(self, x, y, what):
        """x and y as arrays that fit the model and the loss: the same number of samples, y shaped like the
        model's output (integer labels for sparse losses, within the number of classes)."""
        x = self._check_x(x, f"{what} x")
        out_shape = self.output_shape(x.shape[1:])
        sparse = self.loss.sparse
        y = check_array(y, f"{what} y", allow_int=sparse, dtype=self.layers[-1].dtype, device="cpu")
        if y.ndim == 0 or len(x) != len(y):
            raise ValueError(f"{what} x and y must hold the same number of samples, got {len(x)} and "
                             f"{len(y) if y.ndim else 'a scalar'}.")
        output = np.broadcast_to(np.zeros((), self.layers[-1].dtype), (len(y),) + tuple(out_shape))  # no memory
        try:
            labels = self.loss.target(output, y)
            if sparse:
                losses_module.check_labels(labels, out_shape[-1])
        except ValueError as err:
            raise ValueError(f"{what} y: {err}") from None
        return x, y

    def train_on_batch(self, x, y):
        """One gradient step on one batch; returns the loss before the step. A NaN or inf loss, gradient or
        updated weight raises FloatingPointError (the weights are left untouched unless the update itself
        overflowed)."""
        self._require_compiled("train_on_batch")
        x, y = self._check_xy(x, y, "train_on_batch")
        loss = self._gradients(x, y)
        self.apply_gradients()
        return loss

    def _gradients(self, x, y, mask=None):
        """Forward, loss and backward on one batch (with its (B, T) `mask` of real steps, if any), filling every
        layer's grads; returns the loss. Raises FloatingPointError if the loss is NaN or inf."""
        out = backend.to_host(self.forward(x, training=True, mask=mask))
        loss, dout = self._loss_and_grad(out, y, self.output_mask)
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss}")
        self.backward(dout)
        return loss

    def _loss_and_grad(self, out, y, mask):
        """The loss and its gradient; with a mask (B, T) only the real steps count (padded steps get zero)."""
        if mask is None:
            return self.loss.value_and_grad(out, y)
        loss, d_real = self.loss.value_and_grad(out[mask], np.asarray(y)[mask])
        dout = np.zeros_like(out)
        dout[mask] = d_real
        return loss, dout

    def reset_states(self):
        """Forget the states that stateful recurrent layers carry from one batch to the next."""
        for layer in self.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()


    def apply_gradients(self):
        """The optimizer step with the gradients the last backward left in the layers. Raises FloatingPointError,
        before the step, if a gradient is NaN or inf, and after it if a weight became NaN or inf."""
        key = first_nonfinite(self.gradients())
        if key is not None:
            raise FloatingPointError(f"the gradient of {key} holds NaN or inf")
        params = self.parameters()
        self.optimizer.step(params, self.gradients())
        key = first_nonfinite(params)
        if key is not None:
            raise FloatingPointError(f"the update made weight {key} NaN or inf (the step overflowed; the "
                                     f"weights in memory are lost)")

    def fit(self, x, y, epochs=1, batch_size=32, validation_split=0.0, validation_data=None, shuffle=True,
            early_stopping=None, verbose=1, checkpoint=None, checkpoint_every=1, resume=False, tbptt=None,
            algorithm="bptt", mask=None, callbacks=()):
        """Train for `epochs` passes over (x, y) in shuffled mini-batches (training/trainer.py, the one loop).
        Validation data are either the last `validation_split` fraction of the samples (taken before shuffling, as
        Keras does) or `validation_data` = (x_val, y_val), or (x_val, y_val, mask_val) with a mask. `mask`: a
        (N, T) boolean array of the real steps of right-padded sequences (True) and their padding (False), passed
        to the recurrent layers, so no Masking layer is needed. `early_stopping` is an EarlyStopping or an int
        patience on val_loss; `callbacks` more of lstmkit.training's (ReduceLROnPlateau, CSVLogger, ...), run in
        order after it at each epoch's end. Returns a History.

        `tbptt=k` or `(k1, k2)` trains each batch with truncated BPTT (see lstmkit.training.tbptt): the sequence is run
        k1 steps at a time with the states carried across, one update after each run, gradients back-propagated
        through the last k2 steps. k >= T is full BPTT. `algorithm="rtrl"` learns online instead, updating the
        weights after every step with real-time recurrent learning (see lstmkit.training.rtrl.OnlineLearner; a single
        unidirectional recurrent layer first, then per-step layers).

        A NaN or inf loss, gradient or weight stops training with a FloatingPointError naming the epoch and the
        batch, before the optimizer step could spoil the weights (unless the step itself overflowed).

        Checkpoints: with `checkpoint` = a folder, the whole training state (weights, optimizer state, every
        random generator, the position, early stopping's record, the history; see lstmkit.formats.checkpoint) is written
        atomically to `<folder>/checkpoint.safetensors` every `checkpoint_every` epochs and when training ends
        (a fit without `resume` starts afresh and replaces the checkpoint it finds there). Ctrl-C
        (KeyboardInterrupt) then writes one at the next batch boundary and is raised again. `resume=True`
        continues from that file (the model must be compiled like the run that wrote it; `epochs` counts from the
        start of the run): with the same data the run ends with the same weights, bit for bit, as one never
        interrupted. Mid-epoch resumption works because a checkpoint records the epoch's sample order and the
        next batch; a run killed mid-epoch goes on from its last checkpoint and replays the same batches."""
        self._require_compiled("fit")
        _check_output_activation(self.layers[-1] if self.layers else None, self.loss, self.metrics)
        x, y = self._check_xy(x, y, "fit")
        mask = self._check_mask(mask, x, "mask")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
        if validation_data is not None and validation_split:
            raise ValueError("pass either validation_split or validation_data, not both.")
        if (isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.number))
                or not 0.0 <= validation_split < 1.0):
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}.")
        if validation_split:
            n_val = int(round(len(x) * validation_split))
            if n_val < 1 or n_val >= len(x):
                raise ValueError(f"validation_split={validation_split} leaves {n_val} of {len(x)} samples for "
                                 f"validation; use more data or another split.")
            validation_data = (x[-n_val:], y[-n_val:]) + (() if mask is None else (mask[-n_val:],))
            x, y, mask = x[:-n_val], y[:-n_val], None if mask is None else mask[:-n_val]
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(f"validation_data must be a pair (x_val, y_val) or a triple (x_val, y_val, "
                                 f"mask_val), got {type(validation_data).__name__}"
                                 f"{'' if not isinstance(validation_data, (tuple, list)) else f' of {len(validation_data)}'}.")
            x_val, y_val = self._check_xy(*validation_data[:2], "validation_data")
            mask_val = self._check_mask(validation_data[2] if len(validation_data) == 3 else None, x_val,
                                        "validation_data mask")
            validation_data = (x_val, y_val) + (() if mask_val is None else (mask_val,))
        _check_batch_size(batch_size)
        if batch_size > len(x):
            raise ValueError(f"batch_size={batch_size} is larger than the {len(x)} training samples; "
                             f"use batch_size <= {len(x)}.")
        callbacks = fit_callbacks(early_stopping, callbacks, validation_data is not None)
        if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be a folder path (str or os.PathLike), got {type(checkpoint).__name__}.")
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, (int, np.integer)) \
                or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer (epochs), got {checkpoint_every!r}.")
        if algorithm not in ("bptt", "rtrl"):
            raise ValueError(f"algorithm must be 'bptt' or 'rtrl', got {algorithm!r}.")
        if tbptt is not None and algorithm == "rtrl":
            raise ValueError("tbptt truncates backpropagation; RTRL has none to truncate. Pass one or the other.")
        if mask is not None and (tbptt is not None or algorithm == "rtrl"):
            raise ValueError("mask= works with full BPTT; truncated BPTT and RTRL run equal-length sequences.")
        if tbptt is not None:
            tbptt = tbptt_module.check_tbptt(self, tbptt)
        if resume and checkpoint is None:
            raise ValueError("resume=True needs checkpoint=<the folder the run wrote its checkpoints to>.")
        if not self.built:
            self.build(x.shape[1:])

        if tbptt is not None:
            def step(idx):
                return tbptt_module.train_batch(self, x[idx], y[idx], *tbptt)
        elif algorithm == "rtrl":
            learner = OnlineLearner(self, update="step")

            def step(idx):
                return learner.train_on_batch(x[idx], y[idx])
        else:
            def step(idx):
                return self._gradients(x[idx], y[idx], None if mask is None else mask[idx])

        def epoch_logs(logs):
            if self.metrics:
                logs.update(self._metric_values(*self._scored_outputs(x, y, mask=mask)))
            if validation_data is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(*validation_data[:2], mask=(
                    validation_data[2] if len(validation_data) == 3 else None)).items()})

        saver = None
        if checkpoint is not None:                  # the mask is part of the data a resumed run must share
            saver = Checkpointer(checkpoint, int(checkpoint_every),
                                 ckpt.fingerprint(x, y, tuple(validation_data or ()) + (() if mask is None else (mask,)),
                                                  batch_size, shuffle))
        state = saver.restore(self) if resume else None
        update = self.apply_gradients if tbptt is None and algorithm == "bptt" else None
        trainer = Trainer(self, step, len(x), batch_size, shuffle, epoch_logs, callbacks, saver, verbose, update)
        return trainer.run(epochs, state)

    def _check_mask(self, mask, x, name):
        """`mask` as a (N, T) boolean array of the real steps of x (None stays None): one per sample and step,
        and every sample with at least one real step."""
        if mask is None:
            return None
        arr = np.asarray(mask)
        if arr.dtype != bool:
            if arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all():
                raise ValueError(f"{name} must hold True for real steps and False for padding (or 1 / 0), got "
                                 f"dtype {arr.dtype}.")
            arr = arr.astype(bool)
        if x.ndim < 3 and not self._takes_indices() or arr.shape != x.shape[:2]:
            raise ValueError(f"{name} must be shaped (samples, steps) = {x.shape[:2]} like the sequences' first two "
                             f"axes, got {arr.shape}.")
        empty = np.flatnonzero(~arr.any(axis=1))
        if len(empty):
            raise ValueError(f"{name} row {int(empty[0])} has no real step; drop the empty sequences.")
        return arr

    # ---- inference --------------------------------------------------------------------------------------------
    def predict(self, x, batch_size=256, mask=None):
        """The last layer's outputs for x, computed in batches of `batch_size` (inference mode: no dropout); `mask`
        the (N, T) real steps of padded sequences, as in `fit`. For a
        classifier ending in a linear Dense (the default, what the cross-entropy losses take) these are logits,
        not probabilities: threshold binary logits at 0, or call `predict_proba`. A last Dense with
        activation="sigmoid" / "softmax" outputs probabilities."""
        _check_batch_size(batch_size)
        return self._predict(x, batch_size, mask)[0]

    def predict_proba(self, x, batch_size=256, mask=None):
        """Probabilities for x: `predict(x)` passed through the link of the loss the model was compiled with,
        sigmoid for binary_crossentropy (p = P(y = 1), shaped like the output), softmax over the last axis for the
        categorical cross-entropies (rows sum to 1). A model whose last layer already ends in sigmoid or softmax
        returns `predict(x)` as it is. A regression loss (mse, mae) has no probabilities: ValueError."""
        last = self.layers[-1] if self.layers else None
        _check_output_activation(last, self.loss, ())                  # layers added after compile
        if _output_activation(last)[2] in PROBABILITY_ACTIVATIONS:
            return self.predict(x, batch_size, mask)
        if self.loss is None:
            raise ValueError("predict_proba applies the link of the loss the model was trained with (sigmoid for "
                             "binary_crossentropy, softmax for the categorical cross-entropies), but the model is "
                             "not compiled (a loaded model is not); call model.compile(loss=...) first, or use "
                             "predict(x) for the raw outputs.")
        if self.loss.link is None:
            name = self.loss.name or type(self.loss).__name__
            raise ValueError(f"predict_proba turns logits into probabilities, but the model is compiled with "
                             f"{name!r}, a loss on values, not logits (a regression); use predict(x). For a "
                             f"classifier, train with binary_crossentropy or a categorical cross-entropy.")
        return activation_forward(self.predict(x, batch_size, mask), self.loss.link)

    def _predict(self, x, batch_size, mask=None):
        """(outputs, output mask or None) over all of x (and its input mask), in batches."""
        x = self._check_x(x, "x")
        mask = self._check_mask(mask, x, "mask")
        outs, masks = [], []
        for i in range(0, len(x), batch_size):
            part = None if mask is None else mask[i:i + batch_size]
            outs.append(backend.to_host(self.forward(x[i:i + batch_size], mask=part)))
            masks.append(self.output_mask)
        return np.concatenate(outs), None if masks[0] is None else np.concatenate(masks)

    def _metric_values(self, out, y):
        return {name: float(fn(out, y)) for name, fn in self.metrics}

    def evaluate(self, x, y, batch_size=256, mask=None):
        """{"loss": ..., metric: ...} over (x, y) (with `mask` as in `fit`), in inference mode."""
        self._require_compiled("evaluate")
        _check_batch_size(batch_size)
        x, y = self._check_xy(x, y, "evaluate")
        out, y = self._scored_outputs(x, y, batch_size, mask)
        return {"loss": float(self.loss(out, y)), **self._metric_values(out, y)}

    def _scored_outputs(self, x, y, batch_size=256, mask=None):
        """Outputs and targets as the loss and metrics see them: with an output mask, the real steps only."""
        out, mask = self._predict(x, batch_size, mask)
        return (out, y) if mask is None else (out[mask], y[mask])

    # ---- description and files --------------------------------------------------------------------------------
    def summary(self, print_fn=None):
        """A table of the layers with their output shapes and parameter counts; printed and returned as text."""
        from .training.progress import render_table
        rows, shape = [], self.input_shape
        for layer in self.layers:
            shape = None if shape is None else layer.output_shape(shape)
            out = "?" if shape is None else str((None,) + tuple(shape))
            rows.append((type(layer).__name__, out, f"{layer.num_params():,}"))
        title = f"Sequential: {self.count_params():,} parameters" if self.built else "Sequential (not built)"
        return render_table(title, ("Layer", "Output shape", "Params"), rows, print_fn=print_fn)

    def save(self, path, metadata=None):
        """Write weights (safetensors) and configuration (JSON) to one file; `metadata` is any JSON-safe dict
        kept beside them (the CLI stores its scaler and window there)."""
        save_model(self, path, metadata)

    @classmethod
    def from_config(cls, config, tensors, metadata=None, path="the model file"):
        """Rebuild from a saved configuration (`get_config`) and weights, as `lk.load` does for a file holding a
        Sequential; every way the configuration can be wrong is one ValueError naming `path`."""
        try:
            layer_specs = config["layers"]
            input_shape = config["input_shape"]
            seed = config.get("seed")
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{path} has a damaged lstmkit header ({type(err).__name__}: {err}).") from None
        if not isinstance(layer_specs, list):
            raise ValueError(f"{path} has a damaged lstmkit header: 'layers' must be a list of layer descriptions, "
                             f"got {layer_specs!r}.")
        layers = []
        for i, spec in enumerate(layer_specs):
            if not isinstance(spec, dict) or not isinstance(spec.get("class"), str) \
                    or not isinstance(spec.get("config"), dict):
                raise ValueError(f"{path} has a damaged lstmkit header: layer {i} must be an object with a 'class' "
                                 f"name and a 'config' object, got {spec!r}.")
            try:
                layers.append(get_class(spec["class"])(**spec["config"]))
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{path} describes a layer that cannot be rebuilt: layer {i} ({spec['class']}): "
                                 f"{err}") from None
        try:
            model = cls(layers, seed=seed)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path} has a damaged lstmkit header: {err}") from None
        if input_shape is None:
            raise ValueError(f"{path} holds no input shape; it was not written by save_model.")
        if not isinstance(input_shape, list):
            raise ValueError(f"{path} has a damaged lstmkit header: input_shape must be a list of sizes, got "
                             f"{input_shape!r}.")
        try:
            model.build(tuple(input_shape))
        except (ValueError, TypeError, IndexError, OverflowError) as err:
            raise ValueError(f"{path} describes a model that cannot be built for input_shape {input_shape!r}: "
                             f"{err}") from None
        assign_weights(path, model_state(model), tensors)
        model.metadata = metadata
        return model


def load_model(path):
    """Read a model written by `save` (`lk.load`): the Sequential, or the Seq2Seq when the file holds one; its
    `metadata` attribute holds the dict saved beside it. JSON and raw arrays only: loading never runs code."""
    config, tensors, metadata = read_model(path)
    if isinstance(config, dict) and config.get("model") == "Seq2Seq":
        return Seq2Seq.from_config(config, tensors, metadata, path)
    return Sequential.from_config(config, tensors, metadata, path)


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")


def _output_activation(layer):
    """(the class names from `layer` inward, the keyword, its value) of the activation that ends `layer`: Dense's
    `activation`, JordanRNN's `output_activation`, found through wrappers that hold an inner `layer`
    (TimeDistributed(Dense(3, activation="softmax")) ends in softmax: (["TimeDistributed", "Dense"], "activation",
    "softmax")); (names, None, None) for a layer without one, ([], None, None) for no layer."""
    names = []
    while layer is not None:
        names.append(type(layer).__name__)
        inner = getattr(layer, "layer", None)
        if not isinstance(inner, Layer):
            break
        layer = inner
    for attr in ("activation", "output_activation"):
        if isinstance(getattr(layer, attr, None), str):
            return names, attr, getattr(layer, attr)
    return names, None, None


def _check_output_activation(last, loss, metrics):
    """Refuse a last layer whose output is already a probability (sigmoid, softmax) under a loss from logits, which
    would apply its link a second time, or under the accuracy metric, which thresholds logits at 0."""
    names, attr, activation = _output_activation(last)
    if activation not in PROBABILITY_ACTIVATIONS:
        return

    def written(args):                                         # TimeDistributed(Dense(activation='softmax'))
        return "".join(f"{name}(" for name in names) + args + ")" * len(names)

    if loss is not None and loss.link is not None:
        name = loss.name or type(loss).__name__
        raise ValueError(f"the last layer, {written(f'{attr}={activation!r}')}, outputs probabilities, but the loss "
                         f"{name!r} takes logits and applies {loss.link} itself, so the probabilities would be "
                         f"squashed a second time (and train badly). Drop the activation "
                         f"({written(f'..., {attr}=None')}) and call model.predict_proba(x) for probabilities.")
    if activation == "sigmoid" and any(fn is metrics_module.accuracy for _, fn in metrics):
        raise ValueError(f"the accuracy metric reads binary outputs as logits (class 1 where the output is > 0), "
                         f"but the last layer, {written(f'{attr}={activation!r}')}, outputs probabilities, all > 0; "
                         f"drop the activation and train with binary_crossentropy (then predict_proba gives "
                         f"probabilities).")
