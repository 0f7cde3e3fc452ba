"""The figures of a `lstmkit forecast` run folder: sMAPE by horizon step for every method, and a few series with
the model's forecast and its 80% and 95% intervals."""

import numpy as np

from ..plots import pyplot


def plot_horizons(path, metrics):
    """sMAPE against the horizon step, one line per method (metrics["methods"][name]["smape_by_step"])."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, (name, scores) in enumerate(metrics["methods"].items()):
        steps = np.arange(1, len(scores["smape_by_step"]) + 1)
        ax.plot(steps, scores["smape_by_step"], lw=2.5 if k == 0 else 1.2, marker="o" if k == 0 else None,
                label=f"{name}: {scores['smape']:.2f}")
    ax.set_xlabel("horizon step")
    ax.set_ylabel("sMAPE (%)")
    ax.set_title(f"{metrics['data']}: sMAPE by step ({metrics['series']} series; legend: overall)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_examples(path, result, count=6):
    """`count` series (evenly spaced through the panel): history, forecast, 80% and 95% intervals, truth."""
    plt = pyplot()
    panel, q = result.panel, result.quantiles
    picks = np.linspace(0, len(panel.ids) - 1, min(count, len(panel.ids))).astype(int)
    rows = (len(picks) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(11, 2.6 * rows), squeeze=False)
    for ax, i in zip(axes.flat, picks):
        history = panel.histories[i]
        n, steps = len(history), np.arange(len(history), len(history) + panel.horizon)
        ax.plot(np.arange(n), history, color="0.3", lw=1)
        ax.fill_between(steps, q[0.025][i], q[0.975][i], color="tab:red", alpha=0.15, label="95%")
        ax.fill_between(steps, q[0.1][i], q[0.9][i], color="tab:red", alpha=0.3, label="80%")
        ax.plot(steps, q[0.5][i], color="tab:red", lw=1.5, label="forecast")
        if panel.futures is not None:
            ax.plot(steps, panel.futures[i], color="black", lw=1.5, label="truth")
        ax.set_title(panel.ids[i], fontsize=9)
    for ax in list(axes.flat)[len(picks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
