"""Reproduce a results table of the README, measured now on this machine: one command per table.

    python benchmarks/reproduce.py forecast          # `lstmkit train` per cell against its baselines (seconds)
    python benchmarks/reproduce.py classify          # JapaneseVowels, seeds 0-4, 1-NN ED and DTW (2 minutes)
    python benchmarks/reproduce.py textgen           # Shakespeare bits per character, unigram (about 2 minutes)
    python benchmarks/reproduce.py seq2seq           # the README's digit-reversal Seq2Seq, exact match (seconds)
    python benchmarks/reproduce.py adding            # `lstmkit experiment adding` (about 4 minutes on 2 cores)
    python benchmarks/reproduce.py gradient-norms    # ||dL/dh_t|| before training: orders of magnitude lost
    python benchmarks/reproduce.py all

Each runs the library with the settings the README names (the defaults unless it says otherwise) and prints the
table. The figures take minutes, so they live here and not in the test suite, which checks the same code paths on
tiny data.
"""

import argparse
import sys
import tempfile
import time

import numpy as np

import lstmkit as lk
from lstmkit.training.progress import render_table


def forecast():
    from lstmkit.apps.forecast import ForecastConfig, train_forecaster
    rows = []
    for cell in ("lstm", "gru", "rnn"):
        m = train_forecaster(ForecastConfig(cell=cell), verbose=False).metrics
        rows.append((f"lstmkit {cell.upper()} (`lstmkit train --cell {cell}`)", f"{m['test_rmse']:.1f}",
                     f"{m['train_seconds']:.1f} s"))
    rows += [(m["baseline"], f"{m['baseline_rmse']:.1f}", ""), (f"persistence {m['persistence']}",
                                                               f"{m['persistence_rmse']:.1f}", "")]
    render_table("airline passengers, last 36 months, one step ahead, seed 0", ("forecast", "test RMSE", "training"),
                 rows)


def classify(seeds=range(5)):
    from lstmkit.apps.classify import ClassifyConfig, name, train_classifier
    runs = [train_classifier(ClassifyConfig(seed=seed), verbose=False).metrics for seed in seeds]
    accuracy = [m["test_accuracy"] for m in runs]
    m = runs[0]
    render_table(f"{m['dataset']}, {m['test_cases']} test cases", ("classifier", "test accuracy"), [
        (f"lstmkit {name(ClassifyConfig())}, seed 0", f"{accuracy[0]:.3f} ({min(accuracy):.3f}-{max(accuracy):.3f} "
                                                      f"over seeds {min(seeds)}-{max(seeds)})"),
        (m["baseline"], f"{m['baseline_accuracy']:.3f}"),
        (m["dtw"], f"{m['dtw_accuracy']:.3f}"),
        (m["majority"], f"{m['majority_accuracy']:.3f}")])


def textgen():
    from lstmkit.apps.textgen import TextgenConfig, train_textgen
    cfg = TextgenConfig()
    m = train_textgen(cfg, verbose=True, sample_length=1).metrics
    render_table("Shakespeare, validation bits per character", ("model", "bits per character"), [
        (f"lstmkit LSTM, {m['epochs_run']} epochs ({m['train_seconds'] / m['epochs_run']:.1f} s an epoch)",
         f"{m['val_bpc']:.2f}"),
        ("unigram baseline (character frequencies)", f"{m['unigram_bpc']:.2f}")])


def seq2seq():
    from lstmkit.data import digits
    train, test = digits.split(digits.reversal(1000, length=3, seed=0), n_test=200)
    model = lk.Seq2Seq(lk.layers.LSTM(32, bidirectional=True), lk.layers.LSTM(32),
                       src_vocab_size=digits.VOCAB_SIZE, embedding_dim=16, seed=0)
    model.compile(optimizer=lk.optim.Adam(lr=1e-2, clipnorm=1.0))
    model.fit(train.src, train.tgt, epochs=12, batch_size=32, validation_split=0.1, verbose=0)
    scores = model.evaluate(test.src, test.tgt)
    render_table("digit reversal, 200 held-out strings", ("metric", "value"),
                 [(name, f"{value:.3f}") for name, value in scores.items()])


def adding():
    from lstmkit.cli import main
    with tempfile.TemporaryDirectory() as out:
        return main(["experiment", "adding", "--out", out, "--no-gradients"])


def gradient_norms(length=100):
    from lstmkit.apps.experiments.runner import untrained_gradient_norms
    norms = untrained_gradient_norms("adding", ("rnn", "lstm", "gru"), length)
    render_table(f"||dL/dh_t|| before training, adding problem, T = {length}",
                 ("cell", "||dL/dh_T||", "||dL/dh_1||", "orders of magnitude lost"),
                 [(cell.upper(), f"{n[-1]:.2e}", f"{n[0]:.2e}", f"{np.log10(n[-1] / n[0]):.1f}")
                  for cell, n in norms.items()])


TABLES = {"forecast": forecast, "classify": classify, "textgen": textgen, "seq2seq": seq2seq, "adding": adding,
          "gradient-norms": gradient_norms}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("table", choices=(*TABLES, "all"))
    args = parser.parse_args(argv)
    for name in TABLES if args.table == "all" else (args.table,):
        started = time.perf_counter()
        TABLES[name]()
        print(f"({name}: {time.perf_counter() - started:.0f} s)\n")


if __name__ == "__main__":
    sys.exit(main())
