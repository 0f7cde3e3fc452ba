"""The character-level language model: bits per character (one pass with carried state = one long forward),
the unigram baseline, sampling, and a tiny run of `lstmkit textgen train` / `sample`."""

import json
import math

import numpy as np
import pytest

import lstmkit as lk
import lstmkit.cli as cli
from lstmkit.runtime.ops import log_softmax
from lstmkit.apps.textgen import (TextgenConfig, Vocabulary, bits_per_char, build_model, load_text, sample, sequences,
                                  split_text, unigram_bits)

TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n") * 12


@pytest.fixture
def main():
    return cli.main


@pytest.fixture(scope="module")
def tiny():
    vocab = Vocabulary.from_text(TEXT)
    model = build_model(TextgenConfig(embedding=4, hidden=6), len(vocab)).build((None,))
    return model, vocab


def test_shipped_text():
    text = load_text()
    assert len(text) == 317_026 and text.startswith("First Citizen:\nBefore we proceed")
    assert text.endswith("God say amen!\n") and len(set(text)) == 63


def test_vocabulary_and_sequences():
    vocab = Vocabulary.from_text("banana")
    assert vocab.chars == "abn" and vocab.decode(vocab.encode("nab")) == "nab"
    with pytest.raises(ValueError, match="never saw: 'xz'"):
        vocab.encode("xaz")
    x, y = sequences(np.arange(10), 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    train, val = split_text(np.arange(100), 0.1, 10)
    assert len(train) == 90 and val[0] == 90
    with pytest.raises(ValueError, match="too short"):
        split_text(np.arange(20), 0.1, 10)


def test_unigram_bits():
    """Add-one smoothed frequencies: counts a=3+1, b=1+1 of 6 -> -log2(4/6) per 'a'."""
    assert unigram_bits(np.array([0, 0, 0, 1]), np.array([0, 0]), 2) == pytest.approx(-math.log2(4 / 6))


def test_bits_per_char_carries_the_state(tiny):
    """Reading the text in chunks with the state carried equals one forward over the whole text."""
    model, vocab = tiny
    ids = vocab.encode(TEXT[:300])
    logp = log_softmax(model.forward(ids[None, :-1])[0].astype(np.float64))              # (T, V)
    expected = -np.mean(logp[np.arange(len(ids) - 1), ids[1:]]) / math.log(2)
    assert bits_per_char(model, ids, chunk=37) == pytest.approx(expected, rel=1e-5)


def test_sampling(tiny):
    model, vocab = tiny
    a = sample(model, vocab, prime="To be", length=30, temperature=0.8, rng=np.random.default_rng(3))
    b = sample(model, vocab, prime="To be", length=30, temperature=0.8, rng=np.random.default_rng(3))
    assert a == b and len(a) == 30 and set(a) <= set(vocab.chars)
    greedy = sample(model, vocab, prime="T", length=5, temperature=0)
    logits = model.forward(vocab.encode("T")[None])[0, -1]
    assert greedy[0] == vocab.chars[int(np.argmax(logits))]
    for bad in ({"temperature": -1.0}, {"length": 0}, {"prime": ""}, {"prime": "#"}):
        with pytest.raises(ValueError):
            sample(model, vocab, **{"prime": "T", **bad})


def test_textgen_train_and_sample_commands(tmp_path, main, capsys):
    text_file = tmp_path / "hamlet.txt"
    text_file.write_text(TEXT)
    out = tmp_path / "run"
    assert main(["textgen", "train", "--text", str(text_file), "--hidden", "16", "--embedding", "8", "--seq-len", "20",
                 "--batch-size", "8", "--epochs", "12", "--out", str(out), "--quiet"]) == 0
    assert "validation bits per character" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 12 and metrics["vocab_size"] == len(set(TEXT))
    # the unigram baseline, computed here: cross-entropy (bits) of the validation characters under the
    # character frequencies of the training part (the last 10% of the text is validation)
    n_val = int(len(TEXT) * 0.1)
    train, val = TEXT[:-n_val], TEXT[-n_val:]
    unigram = -np.mean([math.log2(train.count(c) / len(train)) for c in val])
    assert metrics["unigram_bpc"] == pytest.approx(unigram, abs=0.01)         # the library's is add-one smoothed
    assert 0 < metrics["val_bpc"] < unigram - 0.5, (metrics["val_bpc"], unigram)   # ~2.8 against ~4.1 bits
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "temperature 0.8" in (out / "samples.txt").read_text()
    model = lk.load(out / "model.lstmkit")
    assert model.metadata["vocab"] == "".join(sorted(set(TEXT)))

    args = ["textgen", "sample", "--model", str(out / "model.lstmkit"), "--prime", r"To be\n", "--escapes",
            "--length", "40", "--seed", "1"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.startswith("To be\n") and len(first) == len("To be\n") + 40 + 1
    assert main(args) == 0 and capsys.readouterr().out == first                       # the same seed, the same text
    assert main(["textgen", "sample", "--model", str(out / "model.lstmkit"), "--prime", "#"]) == 2
    assert "never saw" in capsys.readouterr().err
    assert main(["textgen", "sample", "--model", str(text_file)]) == 2
