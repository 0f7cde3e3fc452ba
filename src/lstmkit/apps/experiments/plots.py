"""Figures of `lstmkit experiment` (matplotlib, loaded lazily and without a screen): the test metric against the
sequence length per cell, the learning curves, and the gradient norm ||dL/dh_t|| of untrained networks against t
(the vanishing gradient of Hochreiter 1991 and Bengio, Simard & Frasconi 1994)."""

import numpy as np

COLORS = {"rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
NAMES = {"rnn": "Elman RNN", "lstm": "LSTM", "gru": "GRU"}


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _reference_lines(ax, task):
    ax.axhline(task.baseline, color="0.5", ls="--", lw=1, label=f"baseline ({task.baseline:.3g})")
    ax.axhline(task.threshold, color="black", ls=":", lw=1, label=f"solved ({task.threshold:g})")
    if not task.higher_is_better:
        ax.set_yscale("log")


def plot_metric_vs_length(path, results, task):
    """Final test metric of every run (one dot per seed) and its median per cell (line), against the length."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cells = list(dict.fromkeys(r["cell"] for r in results))
    lengths = sorted({r["length"] for r in results})
    for k, cell in enumerate(cells):
        color = COLORS.get(cell)
        medians = []
        for length in lengths:
            values = [r["test_metric"] for r in results
                      if r["cell"] == cell and r["length"] == length and r["test_metric"] is not None]
            medians.append(np.median(values) if values else np.nan)
            offset = (k - (len(cells) - 1) / 2) * 0.01 * (lengths[-1] - lengths[0] + 1)   # keep dots apart
            ax.scatter(np.full(len(values), length + offset), values, color=color, s=18, alpha=0.6)
        ax.plot(lengths, medians, "o-", color=color, label=NAMES.get(cell, cell))
    _reference_lines(ax, task)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(task.metric)
    ax.set_xticks(lengths)
    ax.set_title(f"{task.name}: {task.metric} after training (dots: seeds, line: median)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curves(path, results, task):
    """Test metric against optimizer steps, one panel per length, one thin line per run."""
    plt = pyplot()
    lengths = sorted({r["length"] for r in results})
    fig, axes = plt.subplots(1, len(lengths), figsize=(4.2 * len(lengths), 3.8), sharey=True, squeeze=False)
    for ax, length in zip(axes[0], lengths):
        seen = set()
        for r in results:
            if r["length"] != length:
                continue
            steps, values = np.array(r["curve"], dtype=float).T
            label = None if r["cell"] in seen else NAMES.get(r["cell"], r["cell"])
            seen.add(r["cell"])
            ax.plot(steps, values, color=COLORS.get(r["cell"]), lw=1, alpha=0.8, label=label)
        _reference_lines(ax, task)
        ax.set_title(f"T = {length}")
        ax.set_xlabel("optimizer step")
    axes[0][0].set_ylabel(task.metric)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{task.name}: learning curves on the test set")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_gradient_norms(path, norms, title):
    """||dL/dh_t|| against t (log scale) for each cell: `norms` maps a cell name to an array (T,)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for cell, values in norms.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(len(values)), values, color=COLORS.get(cell), label=NAMES.get(cell, cell))
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
