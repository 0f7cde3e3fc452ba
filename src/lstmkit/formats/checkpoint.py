"""Training checkpoints: one safetensors file that holds everything `Sequential.fit` needs to go on exactly where
a run stopped, written atomically, read without running code (JSON and raw arrays only, never pickle).

A checkpoint `<folder>/checkpoint.safetensors` holds
- tensors `model/<layer>.<param>` (the weights) and `model/<layer>.<buffer>` (the layers' buffers, e.g.
  BatchNorm's running statistics; modelfile.model_state), `optimizer/<layer>.<param>/<slot>` (the optimizer's
  state arrays, e.g. Adam's `exp_avg`), `best/<layer>.<param>` (early stopping's best weights, when kept; with
  the buffers where the fit keeps those too) and `order` (the sample order of the epoch in progress, when it has
  been drawn);
- in the JSON metadata: the model configuration, the optimizer's class, configuration and step count, the state
  of every random generator (each layer's `rng`, which draws dropout masks, and the model's shuffling generator),
  the position (epoch, next batch, running loss sum), the early-stopping record, the history, and a fingerprint of
  the fit (samples, batch size, shuffling, a SHA-256 of the data) that a resume must match;
- the SHA-256 checksums `tensors_sha256` (of all the tensors) and `checkpoint_sha256` (of the JSON record), as
  modelfile.py describes for model files: a damaged byte is refused, never resumed from. A checkpoint without them
  (written before lstmkit kept them) still resumes; one that holds them must match.

Resuming restores all of it, so with the same data a resumed run replays the very batches, dropout masks and
updates of an uninterrupted one and ends with bit-identical weights. Every way a checkpoint can be wrong (missing,
truncated, a bad header, a newer format, another model, other data) ends in one ValueError that says so.
"""

import hashlib
import json
import math
import os
import signal
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..runtime.backend import device_of, to_device
from .modelfile import checksums, host_array, model_state, read_safetensors, verify_checksums, write_atomic

FILENAME = "checkpoint.safetensors"
FORMAT = "lstmkit-checkpoint"
FORMAT_VERSION = 1


@dataclass
class TrainState:
    """Where a fit stands. `epoch` is the epoch in progress (0-based; = epochs when done), `batch` the number of its
    batches already applied, `order` its sample order (None until drawn), `loss_sum` / `seen` the running training
    loss of the epoch. `best`, `waited`, `best_weights` are early stopping's record; `history` the History so far;
    `blas_threads` the BLAS thread count the run computes with (cpus.py; None where the BLAS has no control), which
    a resumed run keeps, since float32 products round differently on another count.

    Two fields are not saved: `rng` is the generators' state at this position while a batch in progress has
    already drawn from them (else None: take the live state), and `updating` is True while an optimizer step and
    its bookkeeping are half done, when no checkpoint can be written."""
    history: object
    epoch: int = 0
    batch: int = 0
    order: np.ndarray = None
    loss_sum: float = 0.0
    seen: int = 0
    best: float = math.inf
    waited: int = 0
    best_weights: dict = None
    blas_threads: int = None
    rng: dict = field(default=None, repr=False)
    updating: bool = field(default=False, repr=False)


def position_text(epoch, batch):
    """Where a checkpoint stands, in words: 'after epoch 3', 'after batch 2 of epoch 4'."""
    if batch:
        return f"after batch {batch} of epoch {epoch + 1}"
    return f"after epoch {epoch}" if epoch else "before the first batch"


def fingerprint(x, y, validation_data, batch_size, shuffle):
    """What a resumed fit must share with the one that wrote the checkpoint: the data (SHA-256 of the training and
    validation arrays with their shapes and dtypes), the number of samples, the batch size and shuffling."""
    digest = hashlib.sha256()
    for arr in (x, y, *(validation_data or ())):
        arr = np.ascontiguousarray(arr)
        digest.update(f"{arr.dtype.str}{arr.shape}".encode())
        digest.update(memoryview(arr).cast("B"))
    return {"samples": int(len(x)), "batch_size": int(batch_size), "shuffle": bool(shuffle),
            "data_sha256": digest.hexdigest()}


def rng_states(model):
    """The state of every random generator of `model`: each layer's `rng` and the shuffling generator."""
    return {"layers": [None if layer.rng is None else layer.rng.bit_generator.state for layer in model.layers],
            "shuffle": model.shuffle_rng.bit_generator.state}


# ---- writing ------------------------------------------------------------------------------------------------------
def save_checkpoint(folder, model, state, fit):
    """Write the checkpoint of `model` (compiled and built) at `state` to `<folder>/checkpoint.safetensors`,
    atomically; `fit` is the `fingerprint` of the run. Returns the path."""
    from safetensors.numpy import save

    opt = model.optimizer.state_dict()
    tensors = {f"model/{key}": host_array(p) for key, p in model_state(model).items()}
    for key, slots in opt["slots"].items():
        tensors.update({f"optimizer/{key}/{name}": np.ascontiguousarray(s) for name, s in slots.items()})
    for key, p in (state.best_weights or {}).items():
        tensors[f"best/{key}"] = host_array(p)
    if state.order is not None:
        tensors["order"] = np.ascontiguousarray(state.order, dtype=np.int64)
    body = {
        "model": model.get_config(),
        "fit": fit,
        "optimizer": {"class": type(model.optimizer).__name__, "config": model.optimizer.get_config(),
                      "step": opt["step"], "slots": {key: sorted(slots) for key, slots in opt["slots"].items()}},
        "rng": state.rng if state.rng is not None else rng_states(model),
        "position": {"epoch": state.epoch, "batch": state.batch, "loss_sum": state.loss_sum, "seen": state.seen,
                     "blas_threads": state.blas_threads},
        "early_stopping": {"best": None if math.isinf(state.best) else state.best, "waited": state.waited,
                           "has_best_weights": state.best_weights is not None},
        "history": {"history": state.history.history, "epoch": state.history.epoch,
                    "stopped_epoch": state.history.stopped_epoch},
    }
    fields = {"checkpoint": json.dumps(body)}
    header = {"format": FORMAT, "format_version": str(FORMAT_VERSION), **fields, **checksums(tensors, fields)}
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(os.fspath(folder), FILENAME)
    write_atomic(path, save(tensors, metadata=header), suffix=".checkpoint")
    return path


def remove_leftovers(folder):
    """Delete the temporary files that a writer killed in the middle of `save_checkpoint` left in `folder`
    (call it only when no other process writes there, e.g. when resuming)."""
    for name in os.listdir(folder):
        if name.startswith(".tmp-") and name.endswith(".checkpoint"):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


# ---- reading ------------------------------------------------------------------------------------------------------
class _Fields:
    """Typed access to the JSON body of a checkpoint: a value of the wrong kind is a ValueError naming it."""

    def __init__(self, path):
        self.path = path

    def fail(self, what):
        raise ValueError(f"{self.path} is a damaged checkpoint: {what}.")

    def get(self, d, key, kinds, where, minimum=None):
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        if not isinstance(d, dict) or key not in d:
            self.fail(f"{where} has no {key!r}")
        value = d[key]
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if ok and minimum is not None and value is not None and not value >= minimum:
            ok = False
        if not ok:
            self.fail(f"{where}.{key} is {value!r}")
        return value

    def number(self, d, key, where):
        """A JSON number as a float (a huge integer that no float holds is damage too)."""
        value = self.get(d, key, (int, float), where)
        try:
            return float(value)
        except OverflowError:
            self.fail(f"{where}.{key} is {value!r}")


def read_checkpoint(path):
    """Parse the checkpoint file at `path` (or `<path>/checkpoint.safetensors` for a folder); returns
    `(tensors, body, file path)`: the arrays and the JSON record of the module docstring, whose sections are
    checked to be there (`restore_checkpoint` checks the rest). Raises one ValueError otherwise."""
    path = os.fspath(path)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, FILENAME)):
            raise ValueError(f"{path} holds no checkpoint ({FILENAME}); nothing to resume. The run stopped before "
                             f"its first checkpoint, or was started without checkpoints: start it again.")
        path = os.path.join(path, FILENAME)
    tensors, meta = read_safetensors(path, what="checkpoint")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is a safetensors file but not an lstmkit checkpoint (no {FORMAT} header).")
    try:
        version = int(meta["format_version"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is a damaged checkpoint: bad header ({type(err).__name__}: {err}).") from None
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in checkpoint format {version}, newer than this lstmkit reads "
                         f"({FORMAT_VERSION}); upgrade lstmkit.")
    verify_checksums(path, tensors, meta, ("checkpoint",), what="checkpoint")
    try:
        body = json.loads(meta["checkpoint"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is a damaged checkpoint: bad header ({type(err).__name__}: {err}).") from None
    f = _Fields(path)
    if not isinstance(body, dict):
        f.fail("the record is not a JSON object")
    for key in ("model", "fit", "optimizer", "rng", "position", "early_stopping", "history"):
        f.get(body, key, dict, "checkpoint")
    return tensors, body, path


class Progress(NamedTuple):
    """How far the run of a checkpoint got: `epochs_done`, and `stopped_epoch` (0-based) when early stopping
    ended it, else None."""
    epochs_done: int
    stopped_epoch: object


def read_progress(path):
    """The Progress of the checkpoint at `path` (a file or its run folder); the ValueErrors of read_checkpoint."""
    _, body, where = read_checkpoint(path)
    f = _Fields(where)
    return Progress(f.get(body["position"], "epoch", int, "position", minimum=0),
                    f.get(body["history"], "stopped_epoch", (int, type(None)), "history"))


def restore_checkpoint(path, model, fit, history_class):
    """Load the checkpoint at `path` into `model` (compiled and built like the one that wrote it) and return the
    TrainState to go on from. `fit` is this run's `fingerprint`; it must match the saved one. `history_class`
    (training's History) rebuilds the history: `history_class(history=..., epoch=..., stopped_epoch=...)`. Nothing
    is changed unless the whole checkpoint checks out."""
    tensors, body, path = read_checkpoint(path)
    f = _Fields(path)
    _expect_same(path, "model", _plain(model.get_config()), body["model"],
                 "the model (layers, sizes, seed, input shape) differs from the one that wrote it")
    for key in ("samples", "batch_size", "shuffle", "data_sha256"):
        if body["fit"].get(key) != fit[key]:
            what = "data" if key in ("samples", "data_sha256") else key
            raise ValueError(f"{path} was written by a fit with other {what} ({key}: saved "
                             f"{body['fit'].get(key)!r}, now {fit[key]!r}); resume with the same data and "
                             f"settings, or start a new run.")
    params = model.parameters()
    live = model_state(model)                              # params and buffers
    weights = _arrays(f, tensors, "model/", live, "weights")

    opt = body["optimizer"]
    if f.get(opt, "class", str, "optimizer") != type(model.optimizer).__name__:
        raise ValueError(f"{path} was written with the {opt['class']} optimizer, but the model is compiled with "
                         f"{type(model.optimizer).__name__}; compile with {opt['class']} to resume.")
    step = f.get(opt, "step", int, "optimizer", minimum=0)
    slots = {}
    for key, names in f.get(opt, "slots", dict, "optimizer").items():
        if (key not in params or not isinstance(names, list) or not all(isinstance(n, str) for n in names)
                or sorted(names) != sorted(model.optimizer.slot_names)):
            f.fail(f"optimizer slots {key!r}: {names!r} do not fit this model and optimizer")
        slots[key] = _arrays(f, tensors, f"optimizer/{key}/", {name: params[key] for name in names},
                             f"optimizer state of {key}")

    pos, es, hist = body["position"], body["early_stopping"], body["history"]
    state = TrainState(history=None)
    state.epoch = f.get(pos, "epoch", int, "position", minimum=0)
    state.batch = f.get(pos, "batch", int, "position", minimum=0)
    state.loss_sum = f.number(pos, "loss_sum", "position")
    state.seen = f.get(pos, "seen", int, "position", minimum=0)
    if "blas_threads" in pos:                            # absent from checkpoints written before it was recorded
        state.blas_threads = f.get(pos, "blas_threads", (int, type(None)), "position", minimum=1)
    n_batches = -(-fit["samples"] // fit["batch_size"])
    if state.batch > n_batches:
        f.fail(f"position.batch is {state.batch}, but an epoch has {n_batches} batches")
    if "order" in tensors:
        order = tensors["order"]
        if order.dtype != np.int64 or not np.array_equal(np.sort(order), np.arange(fit["samples"])):
            f.fail("the sample order is not a permutation of the samples")
        state.order = order
    elif state.batch > 0:
        f.fail("a checkpoint inside an epoch has no sample order")
    state.best = math.inf if es.get("best") is None else f.number(es, "best", "early_stopping")
    state.waited = f.get(es, "waited", int, "early_stopping", minimum=0)
    if f.get(es, "has_best_weights", bool, "early_stopping"):
        kept = {name[len("best/"):] for name in tensors if name.startswith("best/")}
        best_like = live if kept - set(params) else params   # with the buffers when the fit kept them
        state.best_weights = _arrays(f, tensors, "best/", best_like, "best weights")
    logs = f.get(hist, "history", dict, "history")
    epochs = f.get(hist, "epoch", list, "history")
    stopped = f.get(hist, "stopped_epoch", (int, type(None)), "history")
    if epochs != list(range(len(epochs))) or any(
            not isinstance(v, list) or len(v) != len(epochs) or not all(isinstance(e, (int, float)) for e in v)
            for v in logs.values()):
        f.fail("the history lists do not have one number per epoch")
    if len(epochs) != state.epoch or (stopped is not None and stopped != state.epoch - 1):
        f.fail(f"the history holds {len(epochs)} epochs, but the position is epoch {state.epoch}")
    state.history = history_class(history=logs, epoch=epochs, stopped_epoch=stopped)
    generators = _generators(f, body["rng"], model)
    known = ({f"model/{key}" for key in live} | {"order"}
             | {f"optimizer/{key}/{name}" for key, names in slots.items() for name in names}
             | ({f"best/{key}" for key in state.best_weights} if state.best_weights is not None else set()))
    if set(tensors) - known:
        f.fail(f"it holds tensors that belong to nothing: {sorted(set(tensors) - known)}")

    # everything checked: apply
    for key, p in live.items():
        p[...] = to_device(weights[key], device_of(p))
    model.optimizer.load_state_dict({"step": step, "slots": slots})
    if isinstance(opt.get("config", {}).get("lr"), (int, float)):
        model.optimizer.lr = opt["config"]["lr"]         # the rate the run had reached (a schedule may lower it)
    for layer, gen in zip(model.layers, generators["layers"]):
        if gen is not None:
            layer.rng = gen
    model.shuffle_rng = generators["shuffle"]
    return state


def _plain(obj):
    """`obj` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(obj))


def _expect_same(path, what, now, saved, problem):
    if now != saved:
        raise ValueError(f"{path} cannot be resumed here: {problem}. Saved {what}: {saved}; now: {now}.")


def _arrays(f, tensors, prefix, like, what):
    """The tensors `prefix + key` for every key of `like`, each checked to match its shape and dtype and to be
    finite; anything missing or extra is a ValueError."""
    found = {name[len(prefix):] for name in tensors if name.startswith(prefix) and "/" not in name[len(prefix):]}
    if found != set(like):
        f.fail(f"its {what} do not match the model: missing {sorted(set(like) - found)}, "
               f"unexpected {sorted(found - set(like))}")
    out = {}
    for key, ref in like.items():
        arr = tensors[prefix + key]
        if arr.shape != ref.shape or arr.dtype != ref.dtype:
            f.fail(f"{what} {key} has shape {arr.shape} and dtype {arr.dtype}, expected {ref.shape} {ref.dtype}")
        if not np.all(np.isfinite(arr)):
            f.fail(f"{what} {key} holds NaN or inf")
        out[key] = arr
    return out


def _generator(f, saved, where):
    """A new Generator in the saved state (same bit generator kind), or a ValueError."""
    if not isinstance(saved, dict) or not isinstance(saved.get("bit_generator"), str):
        f.fail(f"the random generator state {where} is {saved!r}")
    kind = getattr(np.random, saved["bit_generator"], None)
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        f.fail(f"the random generator {where} is of an unknown kind {saved['bit_generator']!r}")
    try:
        bit_generator = kind()
        bit_generator.state = saved
    except Exception as err:                       # numpy checks the state with assorted exception types
        f.fail(f"the random generator state {where} is invalid ({type(err).__name__}: {err})")
    return np.random.Generator(bit_generator)


def _generators(f, saved, model):
    layers = f.get(saved, "layers", list, "rng")
    if len(layers) != len(model.layers):
        f.fail(f"it holds random states for {len(layers)} layers, the model has {len(model.layers)}")
    return {"layers": [None if s is None else _generator(f, s, f"of layer {i}") for i, s in enumerate(layers)],
            "shuffle": _generator(f, f.get(saved, "shuffle", dict, "rng"), "for shuffling")}


# ---- Ctrl-C ---------------------------------------------------------------------------------------------------------
class DeferredInterrupt:
    """While active, the first Ctrl-C (SIGINT) only sets `requested`; `fit` looks at it between batches, writes a
    checkpoint there and raises KeyboardInterrupt, so a checkpoint never holds half an optimizer step. A second
    Ctrl-C interrupts at once. Only the main thread can catch signals, and a handler someone else installed is
    left alone: then a KeyboardInterrupt arrives where it lands, and `fit` saves only if no step was half done."""

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.requested = False
        self._previous = None

    def __enter__(self):
        if (self.enabled and threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False
