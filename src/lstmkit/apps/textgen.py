"""Character-level language model behind `lstmkit textgen` (Karpathy's char-rnn, in the form of Graves 2013):
Embedding -> LSTM (return_sequences) -> Dense(V) predicts every next character of a text, trained with softmax
cross-entropy over all steps of truncated sequences; it reports validation bits per character against the
unigram model and writes text by sampling one character at a time.

Dimension letters: B batch, T sequence length, V vocabulary (the distinct characters of the text), E embedding
size, H hidden units.

Data: the text is split into a training part and the last `val_fraction` as validation (contiguous, so no line of
validation text was seen in training). Training cuts its part into non-overlapping sequences x of `seq_len`
characters with targets y = x shifted by one (x_t -> x_{t+1}); each sequence starts from a zero state, so
gradients are truncated at `seq_len` steps.

Bits per character: the mean of -log2 p(x_{t+1} | x_1..x_t) over the validation text, read in one pass with the
state carried from chunk to chunk (so every character has its whole history). The unigram baseline predicts every
character with its frequency in the training part (add-one smoothed), which needs no context; its bits per
character are the entropy a model must beat to have learnt anything about sequence.

Sampling with temperature tau: p_v proportional to exp(z_v / tau) from the logits z, so tau < 1 sharpens the
distribution (safer, more repetitive text), tau > 1 flattens it, and tau = 0 takes the most likely character.
"""

import math
import time
from dataclasses import asdict, dataclass
from importlib import resources

import numpy as np

from .. import layers
from ..layers.recurrent import Recurrent
from ..model import Sequential
from ..runtime.backend import to_host
from ..runtime.ops import log_softmax
from ..training import EarlyStopping
from ..training import optim
from .config import check_fields, option

SHIPPED_TEXT = "shakespeare.txt"


@dataclass
class TextgenConfig:
    """Every setting of `lstmkit textgen train`; its options are generated from these fields."""
    text: str = option(None, "UTF-8 text file to learn (default: the shipped Shakespeare excerpt, 317 KB)")
    embedding: int = option(32, "embedding size per character")
    hidden: int = option(256, "LSTM hidden units per layer")
    layers: int = option(1, "stacked LSTM layers")
    seq_len: int = option(100, "characters per training sequence (the truncation length of BPTT)")
    batch_size: int = option(32, "sequences per mini-batch")
    epochs: int = option(12, "maximum passes over the training text")
    patience: int = option(2, "stop after this many epochs without a better validation loss")
    lr: float = option(4e-3, "Adam learning rate")
    val_fraction: float = option(0.1, "last fraction of the text held out for validation")
    seed: int = option(0, "random seed (weights, batches, samples): the same seed gives the same run")

    def validate(self):
        check_fields(self, ("embedding", "hidden", "layers", "seq_len", "batch_size", "epochs", "patience"))
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}.")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be positive, got {self.lr}.")
        return self


def load_text(path=None):
    """The text of a UTF-8 file, or the shipped Shakespeare excerpt when `path` is None."""
    if path is None:
        return (resources.files("lstmkit.data") / "builtin" / SHIPPED_TEXT).read_text(encoding="utf-8")
    import os
    if not os.path.isfile(path):
        raise ValueError(f"no such text file: {path}")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text (undecodable byte at offset {err.start}).") from None


class Vocabulary:
    """The characters of a text, each with an id (their sorted order)."""

    def __init__(self, chars):
        self.chars = "".join(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}
        if len(self.index) != len(self.chars):
            raise ValueError("a vocabulary lists every character once.")

    @classmethod
    def from_text(cls, text):
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.chars)

    def encode(self, text, what="the text"):
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"{what} holds {len(unknown)} character(s) the model never saw: "
                             f"{''.join(unknown)[:20]!r}; use only characters of its vocabulary "
                             f"{self.chars[:80]!r}.")
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


def split_text(ids, val_fraction, seq_len):
    """Training and validation ids: the last `val_fraction` of the text is the validation part."""
    n_val = int(len(ids) * val_fraction)
    if len(ids) - n_val < 2 * seq_len + 1 or n_val < 2:
        raise ValueError(f"the text has {len(ids)} characters: too short for seq_len={seq_len} and "
                         f"val_fraction={val_fraction} (it needs more than {2 * seq_len + 1} characters for "
                         f"training); use a longer text or a shorter --seq-len.")
    return ids[:len(ids) - n_val], ids[len(ids) - n_val:]


def sequences(ids, seq_len):
    """Non-overlapping inputs x (N, seq_len) and next-character targets y (N, seq_len)."""
    n = (len(ids) - 1) // seq_len
    x = ids[:n * seq_len].reshape(n, seq_len)
    y = ids[1:n * seq_len + 1].reshape(n, seq_len)
    return x, y


def unigram_bits(train_ids, val_ids, vocab_size):
    """Bits per character of the add-one-smoothed character frequencies of the training part, on validation."""
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    return float(-np.mean(np.log2(counts[val_ids] / counts.sum())))


def build_model(cfg, vocab_size):
    return Sequential([layers.Embedding(vocab_size, cfg.embedding),
                       layers.LSTM(cfg.hidden, num_layers=cfg.layers, return_sequences=True, forget_bias=1.0),
                       layers.Dense(vocab_size)], seed=cfg.seed)


@dataclass
class TextgenRun:
    config: TextgenConfig
    model: Sequential
    vocab: Vocabulary
    history: dict
    metrics: dict
    samples: dict            # {temperature: text}

    def model_metadata(self):
        return {"task": "textgen", "vocab": self.vocab.chars, "config": asdict(self.config),
                "val_bpc": self.metrics["val_bpc"], "unigram_bpc": self.metrics["unigram_bpc"]}


def train_textgen(cfg, verbose=True, text=None, sample_length=400, temperatures=(0.5, 0.8, 1.0)):
    """Run the whole job of the module docstring; returns a TextgenRun (nothing is written to disk). `text`
    replaces the text named by the config."""
    cfg.validate()
    text = load_text(cfg.text) if text is None else text
    vocab = Vocabulary.from_text(text)
    if len(vocab) < 2:
        raise ValueError("the text has fewer than 2 distinct characters; there is nothing to predict.")
    train_ids, val_ids = split_text(vocab.encode(text), cfg.val_fraction, cfg.seq_len)
    x, y = sequences(train_ids, cfg.seq_len)
    xv, yv = sequences(val_ids, min(cfg.seq_len, len(val_ids) - 1))

    model = build_model(cfg, len(vocab))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optim.Adam(lr=cfg.lr, clipnorm=5.0))
    started = time.perf_counter()
    history = model.fit(x, y, epochs=cfg.epochs, batch_size=min(cfg.batch_size, len(x)), validation_data=(xv, yv),
                        early_stopping=EarlyStopping(patience=cfg.patience), verbose=verbose)
    train_seconds = time.perf_counter() - started

    val_bpc = bits_per_char(model, val_ids)
    best = int(np.argmin(history.history["val_loss"]))
    metrics = {"val_bpc": val_bpc, "unigram_bpc": unigram_bits(train_ids, val_ids, len(vocab)),
               "val_bpc_chunked": history.history["val_loss"][best] / math.log(2),
               "train_bpc": history.history["loss"][best] / math.log(2),
               "train_chars": len(train_ids), "val_chars": len(val_ids), "vocab_size": len(vocab),
               "epochs_run": len(history.epoch), "best_epoch": best + 1, "train_seconds": round(train_seconds, 3),
               "parameters": model.count_params(), "text": cfg.text or SHIPPED_TEXT,
               "epoch_bpc": {"train": [v / math.log(2) for v in history.history["loss"]],
                             "val": [v / math.log(2) for v in history.history["val_loss"]]}}
    rng = np.random.default_rng(cfg.seed)
    samples = {t: sample(model, vocab, prime="\n", length=sample_length, temperature=t, rng=rng)
               for t in temperatures}
    return TextgenRun(cfg, model, vocab, history.history, metrics, samples)


class Stepper:
    """Runs a trained Embedding -> recurrent -> Dense model on successive pieces of one text, carrying the
    recurrent state from piece to piece (its recurrent layer's weights are shared, not copied)."""

    def __init__(self, model):
        kinds = [type(layer).__name__ for layer in model.layers]
        if len(model.layers) != 3 or not isinstance(model.layers[1], Recurrent) or kinds[0] != "Embedding" \
                or kinds[2] != "Dense":
            raise ValueError(f"a character model is Embedding -> LSTM/GRU/SimpleRNN -> Dense; this one is "
                             f"{' -> '.join(kinds)}.")
        self.embedding, recurrent, self.readout = model.layers
        self.recurrent, self.state = recurrent.sequence_twin(), None

    def feed(self, ids):
        """Logits (B, T, V), on the host, for the ids (B, T) that follow what was fed before."""
        out, self.state = self.recurrent.forward(self.embedding.forward(ids), initial_state=self.state)
        return to_host(self.readout.forward(out))


def bits_per_char(model, ids, chunk=2000):
    """Mean -log2 p(ids[t+1] | ids[:t+1]) over the text, read in one pass from a zero state."""
    stepper, total = Stepper(model), 0.0
    for start in range(0, len(ids) - 1, chunk):
        piece = ids[start:min(start + chunk, len(ids) - 1)]
        logp = log_softmax(stepper.feed(piece[None])[0].astype(np.float64))       # (T, V)
        total -= np.take_along_axis(logp, ids[start + 1:start + 1 + len(piece), None], axis=1).sum()
    return float(total / (len(ids) - 1) / math.log(2))


def sample(model, vocab, prime="\n", length=400, temperature=0.8, rng=None):
    """`length` characters written after `prime` (which the model reads first), one at a time, each drawn from
    softmax(z / temperature) (the most likely one when temperature is 0). Returns the new characters only."""
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}.")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}.")
    if not prime:
        raise ValueError("prime must hold at least one character (the model needs something to continue).")
    rng = rng if rng is not None else np.random.default_rng()
    stepper = Stepper(model)
    logits = stepper.feed(vocab.encode(prime, "the prime string")[None])[0, -1]   # (V,)
    out = []
    for _ in range(length):
        if temperature == 0:
            k = int(np.argmax(logits))
        else:
            p = np.exp(log_softmax(logits.astype(np.float64) / temperature))
            k = int(rng.choice(len(p), p=p / p.sum()))
        out.append(k)
        logits = stepper.feed(np.array([[k]]))[0, -1]
    return vocab.decode(out)


def load_textgen_model(path):
    """A model written by `lstmkit textgen train` and its Vocabulary."""
    from ..model import load_model
    model = load_model(path)
    meta = getattr(model, "metadata", {})
    if meta.get("task") != "textgen" or not isinstance(meta.get("vocab"), str):
        raise ValueError(f"{path} is not a character model written by `lstmkit textgen train`.")
    return model, Vocabulary(meta["vocab"])


def write_run(run, out):
    """Write a run folder: model.lstmkit (the vocabulary in its metadata), metrics.json (with the config),
    history.png (bits per character per epoch against the unigram baseline) and samples.txt."""
    import json
    import os

    os.makedirs(out, exist_ok=True)
    run.model.save(os.path.join(out, "model.lstmkit"), metadata=run.model_metadata())
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump({**run.metrics, "config": asdict(run.config)}, f, indent=2)
    with open(os.path.join(out, "samples.txt"), "w", encoding="utf-8") as f:
        for t, text in run.samples.items():
            f.write(f"===== temperature {t} (prime: a newline) =====\n{text}\n\n")
    plot_bits(os.path.join(out, "history.png"), run.metrics)


def plot_bits(path, metrics):
    """Training and validation bits per character per epoch (metrics["epoch_bpc"]), with the unigram baseline."""
    from matplotlib.ticker import MaxNLocator

    from .plots import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    train, val = metrics["epoch_bpc"]["train"], metrics["epoch_bpc"]["val"]
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, "o-", label="training (sequences, mean over the epoch)")
    ax.plot(epochs, val, "o-", label="validation (sequences)")
    ax.axhline(metrics["unigram_bpc"], color="tab:gray", ls=":", label=f"unigram {metrics['unigram_bpc']:.2f}")
    ax.plot([metrics["best_epoch"]], [metrics["val_bpc"]], "r*", ms=12,
            label=f"validation, one pass {metrics['val_bpc']:.2f}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("bits per character")
    ax.set_ylim(0, max(metrics["unigram_bpc"], *train, *val) + 0.3)
    ax.set_title(f"character LSTM ({metrics['parameters']:,} parameters) on {metrics['text']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
