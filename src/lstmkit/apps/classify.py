"""The sequence-classification job behind `lstmkit classify` (and `lstmkit train --task classify`).

The model (`--model`):
- "lstm-fcn" (the default; Karim et al. 2018): a recurrent branch that reads the series step by step, beside a
  fully convolutional one (Wang et al. 2017: Conv1D-BatchNorm-ReLU blocks with kernels 8, 5, 3, then the mean over
  time); their features are joined and a Dense layer gives one logit per class. The paper's "dimension shuffle"
  (the whole series as one step of the LSTM) is not offered: it turns the LSTM into a dense layer.
- "lstm": the recurrent branch alone, then the Dense layer.
The recurrent branch hands on its last state, or (`--pooling`) the mean or max of its states over the real steps.

Variable lengths: series are right-padded and every layer gets the (B, T) mask of real steps (`Sequential.fit` and
`predict` take it as `mask=`): a padded step leaves the recurrent state unchanged, the convolutions see zeros
there (as beyond the series' ends) and the pooling and BatchNorm statistics skip it, so a padded series scores as
it would alone.

Training: series longer than `--max-steps` are shortened by averaging every `every` consecutive steps (the
piecewise aggregate approximation; `every` is the smallest that brings the longest training series within the
limit, and the test series get the same); every channel is then standardised with the mean and standard deviation
of the real steps of the training split. An ensemble of `--ensemble` models (default 5) is trained; model k holds
out fold k of a stratified split of the training cases into as many folds, stops early on its loss there (keeping
its best epoch's weights) and halves its learning rate when that loss stalls (ReduceLROnPlateau). The held-out
predictions give a cross-validated accuracy (`validation_accuracy`); the test prediction is the mean of the
models' class probabilities. The test split is used only once, at the end.

Baselines, computed in the same run: the majority class, 1-NN Euclidean (every series resampled to the longest
training length, so that series of different lengths compare step by step; on equal-length sets the archive's
plain 1-NN ED) and 1-NN DTW with a full window (lstmkit.apps.classification.neighbours).
"""

import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import layers
from ..data.ts import CLASSIFICATION_DATASETS, load_ts_dataset, read_ts
from ..layers.dense import activation_forward
from ..model import Sequential
from ..runtime.parallel import map_jobs
from ..training import EarlyStopping, ReduceLROnPlateau
from ..training import optim
from .classification.neighbours import nearest_neighbour_predict
from .config import check_fields, is_auto, option


MODELS = ("lstm", "lstm-fcn")
POOLINGS = ("last", "mean", "max")


@dataclass
class ClassifyConfig:
    """Every setting of the classification job; the command-line options are generated from these fields."""
    dataset: str = option("japanese-vowels", "shipped classification data set",
                        choices=tuple(CLASSIFICATION_DATASETS))
    train_file: str = option(None, ".ts file to train on instead of the shipped data set (needs --test-file)")
    test_file: str = option(None, ".ts file to test on (with --train-file)")
    model: str = option("lstm-fcn", "lstm: a recurrent network; lstm-fcn: a recurrent branch beside a "
                                    "convolutional one (Karim et al. 2018)", choices=MODELS)
    cell: str = option("lstm", "recurrent cell", choices=tuple(layers.CELLS))
    hidden: int = option(64, "hidden units per recurrent layer")
    layers: int = option(1, "stacked recurrent layers")
    bidirectional: bool = option(False, "run each recurrent layer in both directions")
    pooling: str = option("last", "what the recurrent layer hands on: its last state, or the mean or max of its "
                                  "states over the real steps", choices=POOLINGS)
    filters: int = option(32, "lstm-fcn: filters of the first and last convolution (the middle one has twice "
                              "as many)")
    max_steps: int = option(256, "longer series are shortened to at most this many steps by averaging "
                                 "consecutive steps (piecewise aggregate approximation)")
    ensemble: int = option(5, "models trained, each holding out another fold of the training split for early "
                              "stopping; their probabilities are averaged")
    val_fraction: float = option(0.2, "with --ensemble 1: fraction of each class held out for early stopping")
    epochs: int = option(150, "maximum training epochs")
    patience: int = option(30, "stop after this many epochs without a better validation loss (the best "
                               "epoch's weights are kept)")
    lr_patience: int = option(8, "halve the learning rate after this many epochs without a better validation "
                                  "loss")
    batch_size: int = option("auto", "mini-batch size; auto: an eighth of the cases a model trains on, within "
                                     "[8, 32] (small sets get enough updates per epoch)")
    lr: float = option(3e-3, "Adam learning rate")
    forget_bias: float = option(1.0, "initial forget-gate bias of LSTM cells")
    seed: int = option(0, "random seed (weights, folds, batches): the same seed gives the same run")

    def validate(self):
        check_fields(self, ("hidden", "layers", "epochs", "patience", "lr_patience", "batch_size", "filters",
                            "ensemble", "max_steps"))
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}.")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be positive, got {self.lr}.")
        if (self.train_file is None) != (self.test_file is None):
            raise ValueError("--train-file and --test-file go together: give both .ts files, or neither to use the "
                             "shipped data set.")
        return self


@dataclass
class ClassifyRun:
    config: ClassifyConfig
    models: list             # the ensemble's Sequential models
    history: dict            # the first model's History
    classes: tuple
    scaler: dict             # {"mean": [C], "std": [C]} of the training split's real steps, "every": shorten by
    confusion: np.ndarray    # (K, K) test counts, rows: true class, columns: predicted class
    metrics: dict

    def model_metadata(self):
        return {"task": "classify", "config": asdict(self.config), "classes": list(self.classes),
                "scaler": self.scaler, "dataset": self.metrics["dataset"]}


def load_data(cfg):
    """(train, test) TSData for the config: the shipped data set, or the two .ts files."""
    if cfg.train_file is not None:
        train = read_ts(cfg.train_file)
        return train, read_ts(cfg.test_file, classes=train.classes)
    return load_ts_dataset(cfg.dataset)


def shorten(x, lengths, every):
    """The piecewise aggregate approximation (Keogh et al. 2001): the mean of each `every` consecutive steps (the
    last window of a series averages the real steps it has). Returns x (N, ceil(T / every), C) and the lengths."""
    if every == 1:
        return x, lengths
    N, T, C = x.shape
    steps = -(-T // every)
    summed = np.zeros((N, steps * every, C))
    summed[:, :T] = np.where((np.arange(T)[None, :] < lengths[:, None])[..., None], x, 0.0)   # padding never read
    counts = np.clip(lengths[:, None] - np.arange(steps)[None, :] * every, 0, every)      # (N, steps) real steps
    mean = summed.reshape(N, steps, every, C).sum(axis=2) / np.maximum(counts, 1)[..., None]
    return mean, -(-lengths // every)


def prepare(data, scaler):
    """The network's input for a TSData: shortened by `scaler["every"]` (see `shorten`), standardised, and its
    (N, T) mask of real steps."""
    x, lengths = shorten(data.x, data.lengths, scaler.get("every", 1))
    return standardise(x, lengths, scaler), np.arange(x.shape[1])[None, :] < lengths[:, None]


def standardise(x, lengths, scaler):
    """(x - mean) / std per channel on the real steps; padded steps stay 0 (float32, as the layers take it)."""
    z = (x - np.asarray(scaler["mean"])) / np.asarray(scaler["std"])
    z[np.arange(x.shape[1])[None, :] >= lengths[:, None]] = 0.0
    return z.astype(np.float32)


def stratified_split(y, fraction, rng):
    """Boolean masks (train, val) that hold out round(fraction * n_k) (at least 1) cases of every class k."""
    val = np.zeros(len(y), bool)
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        n_val = max(1, round(fraction * len(members)))
        if n_val >= len(members):
            raise ValueError(f"class {k} has only {len(members)} training case(s): too few to hold some out for "
                             f"validation; lower --val-fraction or use more data.")
        val[rng.permutation(members)[:n_val]] = True
    return ~val, val


def recurrent_branch(cfg):
    """The recurrent layers: cfg.layers of the cell, then, unless cfg.pooling is "last", the mean or max of the
    states over the real steps."""
    Cell = layers.CELLS[cfg.cell]
    cell_args = {"forget_bias": cfg.forget_bias} if cfg.cell == "lstm" else {}
    cell = Cell(cfg.hidden, num_layers=cfg.layers, bidirectional=cfg.bidirectional,
                return_sequences=cfg.pooling != "last", **cell_args)
    pool = {"last": [], "mean": [layers.GlobalAveragePooling1D()], "max": [layers.GlobalMaxPooling1D()]}
    return [cell, *pool[cfg.pooling]]


def convolutional_branch(cfg):
    """The fully convolutional network of Wang et al. (2017) as LSTM-FCN uses it: three blocks of Conv1D, BatchNorm
    and ReLU with kernels 8, 5, 3 and cfg.filters, 2 cfg.filters, cfg.filters filters, then the mean over time."""
    blocks = []
    for filters, kernel in ((cfg.filters, 8), (2 * cfg.filters, 5), (cfg.filters, 3)):
        blocks += [layers.Conv1D(filters, kernel), layers.BatchNorm(), layers.Activation("relu")]
    return blocks + [layers.GlobalAveragePooling1D()]


def build_model(cfg, n_classes, seed=None):
    """"lstm": the recurrent branch, then Dense(n_classes). "lstm-fcn" (Karim et al. 2018): the recurrent branch
    (with the paper's dropout 0.8 after it) beside the convolutional one, their features joined, then
    Dense(n_classes). The output is logits."""
    head = layers.Dense(n_classes)
    if cfg.model == "lstm":
        return Sequential([*recurrent_branch(cfg), head], seed=cfg.seed if seed is None else seed)
    branches = layers.Concatenate([*recurrent_branch(cfg), layers.Dropout(0.8)], convolutional_branch(cfg))
    return Sequential([branches, head], seed=cfg.seed if seed is None else seed)


def check_classes(train, test):
    """One clear error for label sets that cannot be compared and for a class too small to train and validate."""
    if tuple(test.classes) != tuple(train.classes):
        only_test = sorted(set(test.classes) - set(train.classes))
        raise ValueError(f"the test split's class labels {list(test.classes)} differ from the training split's "
                         f"{list(train.classes)}" + (f" (only in the test split: {only_test})" if only_test else "")
                         + "; read the test file with the training classes (read_ts(path, classes=train.classes)).")
    counts = np.bincount(train.y, minlength=len(train.classes))
    if counts.min() < 2:
        k = int(np.argmin(counts))
        raise ValueError(f"class {train.classes[k]!r} has {counts[k]} training case(s); every class needs at least 2 "
                         f"(one to train on, one to validate); add cases or drop the class.")
    if test.x.shape[2] != train.x.shape[2]:
        raise ValueError(f"the test split has {test.x.shape[2]} channel(s), the training split {train.x.shape[2]}; "
                         f"both need the same channels.")


def folds(y, n, rng):
    """(N,) fold numbers in [0, n): every class dealt round-robin over the folds in a shuffled order, so each fold
    holds about 1/n of every class (stratified). n = 1: the held-out fold is cfg.val_fraction of each class."""
    fold = np.empty(len(y), np.int64)
    start = 0
    for k in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == k))
        fold[members] = (start + np.arange(len(members))) % n
        start += len(members)                                  # the next class starts where this one ended
    return fold


def train_classifier(cfg, verbose=True, data=None, workers=None):
    """Run the whole job of the module docstring; returns a ClassifyRun (nothing is written to disk).
    `data` = (train, test) TSData replaces the data named by the config. The ensemble's models train on
    `workers` processes (default: the usable CPUs; 0: in this process)."""
    cfg.validate()
    train, test = load_data(cfg) if data is None else data
    check_classes(train, test)
    if cfg.ensemble > len(train):
        raise ValueError(f"--ensemble {cfg.ensemble} holds out one fold of the training cases per model, so it needs "
                         f"at least {cfg.ensemble} cases; the training split has {len(train)}: lower --ensemble.")
    K, C = len(train.classes), train.x.shape[2]
    every = -(-int(train.lengths.max()) // cfg.max_steps)
    short, lengths = shorten(train.x, train.lengths, every)
    real = short[np.arange(short.shape[1])[None, :] < lengths[:, None]]      # (sum of lengths, C)
    std = real.std(axis=0)
    scaler = {"mean": real.mean(axis=0).tolist(), "std": np.where(std > 0, std, 1.0).tolist(), "every": every}
    x, mask = prepare(train, scaler)
    rng = np.random.default_rng(cfg.seed)
    if cfg.ensemble == 1:
        held_out = [~stratified_split(train.y, cfg.val_fraction, rng)[0]]
    else:
        fold = folds(train.y, cfg.ensemble, rng)
        held_out = [fold == k for k in range(cfg.ensemble)]
    seeds = np.random.SeedSequence(cfg.seed).generate_state(cfg.ensemble)
    jobs = [(cfg, int(seed), K, x, mask, train.y, val) for seed, val in zip(seeds, held_out)]
    started = time.perf_counter()
    members = map_jobs(train_member, jobs, workers=0 if cfg.ensemble == 1 else workers)
    train_seconds = time.perf_counter() - started
    models = [model for model, _ in members]

    proba = predict_proba(models, test, scaler)
    pred = np.argmax(proba, axis=1)
    confusion = np.zeros((K, K), np.int64)
    np.add.at(confusion, (test.y, pred), 1)
    out_of_fold = np.concatenate([np.argmax(model.predict(x[val], mask=mask[val]), axis=1) == train.y[val]
                                  for model, val in zip(models, held_out)])
    majority = int(np.argmax(np.bincount(train.y, minlength=K)))
    ed, dtw = (nearest_neighbour_predict(train.x, train.lengths, train.y, test.x, test.lengths, metric)
               for metric in ("euclidean", "dtw"))
    info = CLASSIFICATION_DATASETS.get(cfg.dataset, {}) if cfg.train_file is None and data is None else {}
    histories = [history for _, history in members]
    metrics = {"test_accuracy": float(np.mean(pred == test.y)),
               "baseline_accuracy": float(np.mean(ed == test.y)),
               "dtw_accuracy": float(np.mean(dtw == test.y)),
               "majority_accuracy": float(np.mean(test.y == majority)),
               "baseline": "1-NN Euclidean (series resampled to the longest training length)",
               "dtw": "1-NN DTW (full window)",
               "majority": f"majority class of the training split ({train.classes[majority]})",
               "reference": info.get("reference", {}),
               "validation_accuracy": float(np.mean(out_of_fold)),
               "members": cfg.ensemble,
               "test_cases": len(test), "train_cases": len(train), "val_cases": int(held_out[0].sum()),
               "classes": K, "channels": C, "max_length": int(max(train.lengths.max(), test.lengths.max())),
               "epochs_run": [len(h["loss"]) for h in histories], "train_seconds": round(train_seconds, 3),
               "parameters": models[0].count_params(),
               "dataset": train.name if cfg.train_file is not None or data is not None else cfg.dataset}
    return ClassifyRun(cfg, models, histories[0], train.classes, scaler, confusion, metrics)


def train_member(job):
    """One model of the ensemble: trained on the cases outside `val`, stopped early on those in it (the best
    epoch's weights are kept), its learning rate halved on plateaus. Returns (model, history dict)."""
    cfg, seed, K, x, mask, y, val = job
    model = build_model(cfg, K, seed).build((None, x.shape[2]))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optim.Adam(lr=cfg.lr, clipnorm=1.0))
    fit = ~val
    history = model.fit(x[fit], y[fit], mask=mask[fit], epochs=cfg.epochs,
                        batch_size=fit_batch_size(cfg, int(fit.sum())), validation_data=(x[val], y[val], mask[val]),
                        early_stopping=EarlyStopping(patience=cfg.patience),
                        callbacks=[ReduceLROnPlateau(patience=cfg.lr_patience, min_lr=cfg.lr / 64)], verbose=False)
    return model, history.history


def fit_batch_size(cfg, cases):
    """cfg.batch_size, or for "auto" ceil(cases / 8) within [8, 32]; never more than `cases`."""
    size = min(max(-(-cases // 8), 8), 32) if is_auto(cfg, "batch_size") else cfg.batch_size
    return min(size, cases)


def predict_proba(models, data, scaler=None, batch_size=256):
    """Class probabilities (N, K) for a TSData: the mean over `models` (one or several; the scaler defaults to
    the one saved with the first) of each one's softmax."""
    models = [models] if isinstance(models, Sequential) else list(models)
    if scaler is None and not hasattr(models[0], "metadata"):
        raise ValueError("predict_proba needs the scaler of the run (ClassifyRun.scaler) for models not loaded "
                         "from a run folder.")
    scaler = scaler if scaler is not None else models[0].metadata["scaler"]
    x, mask = prepare(data, scaler)
    return np.mean([activation_forward(m.predict(x, batch_size, mask=mask), "softmax") for m in models], axis=0)


def load_ensemble(folder):
    """The models of a run folder written by `write_run` (model-1.lstmkit, model-2.lstmkit, ...), in order."""
    import glob
    import os

    from ..model import load_model
    paths = sorted(glob.glob(os.path.join(os.fspath(folder), "model-*.lstmkit")),
                   key=lambda p: int(os.path.basename(p)[6:-8]))
    if not paths:
        raise ValueError(f"{folder} holds no model-<k>.lstmkit files; pass the run folder of `lstmkit classify`.")
    return [load_model(p) for p in paths]


def name(cfg):
    """The classifier in words: "LSTM-FCN x 5", "GRU"."""
    model = cfg.cell.upper() + ("-FCN" if cfg.model == "lstm-fcn" else "")
    return model + (f" x {cfg.ensemble}" if cfg.ensemble > 1 else "")


def write_run(run, out):
    """Write a run folder: model-<k>.lstmkit (the ensemble's models; `load_ensemble` reads them), metrics.json
    (with the config and the confusion matrix), history.png (loss per epoch) and confusion.png (test confusion
    matrix)."""
    import json
    import os

    from .plots import plot_history

    os.makedirs(out, exist_ok=True)
    for k, model in enumerate(run.models, start=1):
        model.save(os.path.join(out, f"model-{k}.lstmkit"), metadata=run.model_metadata())
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump({**run.metrics, "class_labels": list(run.classes), "confusion": run.confusion.tolist(),
                   "config": asdict(run.config)}, f, indent=2)
    m = run.metrics
    plot_history(os.path.join(out, "history.png"), run.history,
                 title=f"{name(run.config)} on {m['dataset']}: training loss (model 1)")
    plot_confusion(os.path.join(out, "confusion.png"), run.confusion, run.classes,
                   title=f"{name(run.config)} on {m['dataset']}: test accuracy {m['test_accuracy']:.3f} "
                         f"(1-NN Euclidean {m['baseline_accuracy']:.3f})")


def plot_confusion(path, confusion, classes, title=""):
    """The confusion matrix with the counts written in, coloured by the fraction of each true class (row)."""
    from .plots import pyplot
    plt = pyplot()
    K = len(classes)
    share = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * K, 1.0 + 0.5 * K) if K > 4 else (4.5, 4))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(K):
        for j in range(K):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(K))
    ax.set_xticklabels(classes)
    ax.set_yticks(range(K))
    ax.set_yticklabels(classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
