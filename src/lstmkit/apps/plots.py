"""Figures written by the command line (matplotlib, loaded lazily and without a screen)."""

import numpy as np


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _ticks(ax, dates, n):
    """Label the x axis with dates when the series has them (about 12 labels)."""
    if dates:
        step = max(1, n // 12)
        ax.set_xticks(range(0, n, step))
        ax.set_xticklabels(dates[::step], rotation=45, ha="right", fontsize=8)


def plot_forecast(path, y, test_start, forecast, dates=None, title="", baseline=None):
    """The series, the held-out truth and the model's forecast (and the baseline when given)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    t = np.arange(len(y))
    ax.plot(t[:test_start + 1], y[:test_start + 1], color="0.3", label="history")
    ax.plot(t[test_start:], y[test_start:], color="black", lw=2, label="test truth")
    if baseline is not None:
        ax.plot(t[test_start:], baseline, color="tab:gray", ls=":", label="seasonal naive")
    ax.plot(t[test_start:], forecast, color="tab:red", lw=2, ls="--", label="forecast")
    ax.axvline(test_start - 0.5, color="0.7", lw=1)
    _ticks(ax, dates, len(y))
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_history(path, history, title="training"):
    """Loss curves per epoch (training and, when present, validation), on a log scale."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, values in history.items():
        if key.endswith("loss"):
            ax.plot(np.arange(1, len(values) + 1), values, label=key)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
