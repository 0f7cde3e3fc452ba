"""The sequence-classification job behind `lstmkit classify` (and `lstmkit train --task classify`): a recurrent
layer reads a whole (possibly variable-length, multivariate) series and a Dense layer maps its final hidden state
to one logit per class; trained with softmax cross-entropy and scored on the data set's test split against the
majority class and 1-nearest-neighbour Euclidean distance.

Variable lengths: series are right-padded and the recurrent layer gets `mask` (B, T), so a padded step leaves the
state unchanged and the final hidden state is that of each series' last real step (and a bidirectional layer's
backward direction starts there): `Sequential.fit` and `predict` take the mask (`mask=`).

Preprocessing: every channel is standardised with the mean and standard deviation of the real (unpadded) steps of
the training split. Early stopping watches the loss on a stratified `val_fraction` of the training split; the
test split is used only once, at the end.

The 1-NN Euclidean baseline resamples every series to the longest training length (linear interpolation per
channel) so that series of different lengths can be compared step by step; for equal-length data sets it is the
plain 1-NN Euclidean classifier of the UCR archive.
"""

import time
from dataclasses import asdict, dataclass

import numpy as np

from . import layers, optim
from .config import check_fields, option
from .data.ts import CLASSIFICATION_DATASETS, load_ts_dataset, read_ts
from .forecast import CELLS
from .model import Sequential
from .training import EarlyStopping


@dataclass
class ClassifyConfig:
    """Every setting of the classification job; the command-line options are generated from these fields."""
    dataset: str = option("japanese-vowels", "shipped classification data set",
                        choices=tuple(CLASSIFICATION_DATASETS))
    train_file: str = option(None, ".ts file to train on instead of the shipped data set (needs --test-file)")
    test_file: str = option(None, ".ts file to test on (with --train-file)")
    cell: str = option("lstm", "recurrent cell", choices=tuple(CELLS))
    hidden: int = option(64, "hidden units per layer")
    layers: int = option(1, "stacked recurrent layers")
    bidirectional: bool = option(False, "run each recurrent layer in both directions")
    epochs: int = option(100, "maximum training epochs")
    patience: int = option(15, "stop after this many epochs without a better validation loss")
    val_fraction: float = option(0.15, "fraction of each class of the training split held out for early stopping")
    batch_size: int = option(16, "mini-batch size")
    lr: float = option(3e-3, "Adam learning rate")
    forget_bias: float = option(1.0, "initial forget-gate bias of LSTM cells")
    seed: int = option(0, "random seed (weights, split, batches): the same seed gives the same run")

    def validate(self):
        check_fields(self, ("hidden", "layers", "epochs", "patience", "batch_size"))
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
    model: Sequential
    history: dict
    classes: tuple
    scaler: dict             # {"mean": [C], "std": [C]} of the training split's real steps
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


def standardise(x, lengths, scaler):
    """(x - mean) / std per channel on the real steps; padded steps stay 0 (float32, as the layers take it)."""
    z = (x - np.asarray(scaler["mean"])) / np.asarray(scaler["std"])
    z[np.arange(x.shape[1])[None, :] >= lengths[:, None]] = 0.0
    return z.astype(np.float32)


def predict_logits(model, data, scaler=None, batch_size=256):
    """Logits (N, K) of a trained classifier for a TSData; `scaler` defaults to the one saved with the model."""
    scaler = scaler if scaler is not None else model.metadata["scaler"]
    return model.predict(standardise(data.x, data.lengths, scaler), batch_size, mask=data.mask)


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


def nearest_neighbour(train_x, train_len, train_y, test_x, test_len):
    """1-NN Euclidean predictions for the test series, every series resampled to the longest training length."""
    steps = int(train_len.max())
    a, b = _resample(train_x, train_len, steps), _resample(test_x, test_len, steps)     # (N, steps*C)
    d2 = (b * b).sum(1)[:, None] - 2.0 * b @ a.T + (a * a).sum(1)[None, :]            # squared distances
    return train_y[np.argmin(d2, axis=1)]


def _resample(x, lengths, steps):
    out = np.empty((len(x), steps, x.shape[2]))
    for n, (series, length) in enumerate(zip(x, lengths)):
        where = np.linspace(0.0, length - 1, steps)
        for c in range(x.shape[2]):
            out[n, :, c] = np.interp(where, np.arange(length), series[:length, c])
    return out.reshape(len(x), -1)


def build_model(cfg, n_classes):
    Cell = CELLS[cfg.cell]
    cell_args = {"forget_bias": cfg.forget_bias} if cfg.cell == "lstm" else {}
    return Sequential([Cell(cfg.hidden, num_layers=cfg.layers, bidirectional=cfg.bidirectional, **cell_args),
                       layers.Dense(n_classes)], seed=cfg.seed)


def train_classifier(cfg, verbose=True, data=None):
    """Run the whole job of the module docstring; returns a ClassifyRun (nothing is written to disk).
    `data` = (train, test) TSData replaces the data named by the config."""
    cfg.validate()
    train, test = load_data(cfg) if data is None else data
    K, C = len(train.classes), train.x.shape[2]
    if test.x.shape[2] != C:
        raise ValueError(f"the test split has {test.x.shape[2]} channel(s), the training split {C}.")
    real = train.x[train.mask]                                            # (sum of lengths, C)
    std = real.std(axis=0)
    scaler = {"mean": real.mean(axis=0).tolist(), "std": np.where(std > 0, std, 1.0).tolist()}
    x, mask = standardise(train.x, train.lengths, scaler), train.mask
    is_train, is_val = stratified_split(train.y, cfg.val_fraction, np.random.default_rng(cfg.seed))

    model = build_model(cfg, K).build((None, C))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optim.Adam(lr=cfg.lr, clipnorm=1.0),
                  metrics=["accuracy"])
    started = time.perf_counter()
    history = _fit(model, cfg, (x[is_train], mask[is_train], train.y[is_train]),
                   (x[is_val], mask[is_val], train.y[is_val]), verbose)
    train_seconds = time.perf_counter() - started

    pred = np.argmax(predict_logits(model, test, scaler), axis=1)
    confusion = np.zeros((K, K), np.int64)
    np.add.at(confusion, (test.y, pred), 1)
    majority = int(np.argmax(np.bincount(train.y, minlength=K)))
    nn = nearest_neighbour(train.x, train.lengths, train.y, test.x, test.lengths)
    info = CLASSIFICATION_DATASETS.get(cfg.dataset, {}) if cfg.train_file is None else {}
    metrics = {"test_accuracy": float(np.mean(pred == test.y)),
               "baseline_accuracy": float(np.mean(nn == test.y)),
               "majority_accuracy": float(np.mean(test.y == majority)),
               "baseline": "1-NN Euclidean (series resampled to the longest training length)",
               "majority": f"majority class of the training split ({train.classes[majority]})",
               "reference": info.get("reference", {}),
               "best_val_accuracy": float(max(history.history["val_accuracy"])),
               "test_cases": len(test), "train_cases": int(is_train.sum()), "val_cases": int(is_val.sum()),
               "classes": K, "channels": C, "max_length": int(max(train.lengths.max(), test.lengths.max())),
               "epochs_run": len(history.epoch), "train_seconds": round(train_seconds, 3),
               "parameters": model.count_params(),
               "dataset": train.name if cfg.train_file is not None else cfg.dataset}
    return ClassifyRun(cfg, model, history.history, train.classes, scaler, confusion, metrics)


def _fit(model, cfg, train, val, verbose):
    """Mini-batch Adam on (x, mask, y) (Sequential.fit with the mask); early stopping on the validation loss
    restores the best epoch's weights. Returns a History with loss, accuracy, val_loss, val_accuracy per epoch."""
    x, mask, y = train
    return model.fit(x, y, mask=mask, epochs=cfg.epochs, batch_size=min(cfg.batch_size, len(x)),
                     validation_data=(val[0], val[2], val[1]), early_stopping=EarlyStopping(patience=cfg.patience),
                     verbose=verbose)


def write_run(run, out):
    """Write a run folder: model.lstmkit, metrics.json (with the config and the confusion matrix), history.png
    (loss per epoch) and confusion.png (test confusion matrix)."""
    import json
    import os

    from .plots import plot_history

    os.makedirs(out, exist_ok=True)
    run.model.save(os.path.join(out, "model.lstmkit"), metadata=run.model_metadata())
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump({**run.metrics, "class_labels": list(run.classes), "confusion": run.confusion.tolist(),
                   "config": asdict(run.config)}, f, indent=2)
    m = run.metrics
    plot_history(os.path.join(out, "history.png"), run.history,
                 title=f"{run.config.cell.upper()} on {m['dataset']}: training loss")
    plot_confusion(os.path.join(out, "confusion.png"), run.confusion, run.classes,
                   title=f"{run.config.cell.upper()} on {m['dataset']}: test accuracy {m['test_accuracy']:.3f} "
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
