"""Looking inside a trained LSTM (behind `lstmkit inspect`): run one input sequence through the model, keep the
gate activations and the states of one LSTM layer at every step, plot them as heatmaps over time x unit, and rank
the units by how long their cell state holds information.

The LSTM equations (DESIGN.md section 2) with the quantities shown::

    i_t = sigma(H_t[i])   f_t = sigma(H_t[f])   g_t = tanh(H_t[g])   o_t = sigma(H_t[o])
    c_t = f_t * c_{t-1} + i_t * g_t          (the cell state: the "conveyor belt" through time)
    h_t = o_t * tanh(c_t)

The input gate i decides what is written onto the belt, the forget gate f how much of it stays from one step to
the next, the output gate o what of it is read out into h. Memory time of unit j: when nothing is written
(i = 0), c_t = f_t * c_{t-1}, so after s steps c has shrunk by the product of the forget gates; with the mean
of -ln f_t over the sequence that product is exp(-s * mean(-ln f)), and the unit's memory time

    tau_j = 1 / mean_t(-ln f_tj)   steps

is the number of steps after which what it holds has fallen to 1/e. A unit with f near 1 holds information for
long (tau large); one with f near 0 forgets at every step (tau < 1). LSTM variants: without a forget gate
(the 1997 LSTM) f = 1 and tau is infinite; the coupled gate (CIFG) has f = 1 - i.

Dimension letters: T steps, H hidden units, I input features.
"""

from typing import NamedTuple

import numpy as np

from ..layers.lstm import LSTM
from ..runtime.backend import to_host

GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "o": "output gate o"}


class GateTrace(NamedTuple):
    """One LSTM layer and direction over one sequence, each (T, H), in time order: the gates after their
    non-linearities, the cell states c_1..c_T and the hidden states h_1..h_T (the layer's outputs)."""
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    h: np.ndarray


def _lstm_of(candidate):
    """`candidate` if it is an LSTM, else the first LSTM among the layers it holds (a Concatenate's branches, as in
    LSTM-FCN), else None."""
    if isinstance(candidate, LSTM):
        return candidate
    return next((inner for inner in getattr(candidate, "layers", ()) if isinstance(inner, LSTM)), None)


def find_lstm(model, layer=None):
    """(index, LSTM) of the layer to inspect: model layer `layer` if given, else the first that is or holds an
    LSTM."""
    if layer is None:
        found = [k for k, candidate in enumerate(model.layers) if _lstm_of(candidate) is not None]
        if not found:
            kinds = ", ".join(type(candidate).__name__ for candidate in model.layers)
            raise ValueError(f"the model has no LSTM layer (its layers: {kinds}); inspect shows LSTM gates.")
        return found[0], _lstm_of(model.layers[found[0]])
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(model.layers):
        raise ValueError(f"layer must be an index in [0, {len(model.layers)}), got {layer!r}.")
    if _lstm_of(model.layers[layer]) is None:
        raise TypeError(f"layer {layer} is a {type(model.layers[layer]).__name__}, not an LSTM.")
    return int(layer), _lstm_of(model.layers[layer])


def trace_lstm(model, x, layer=None, depth=0, direction=0):
    """Run one sequence x (T, I), or token ids (T,) for a model starting with an Embedding, through the model
    (inference mode) and return the GateTrace of its LSTM layer `layer` (default: the first), stacked layer
    `depth` and `direction` (1: the backward direction of a bidirectional layer)."""
    lstm = find_lstm(model, layer)[1]
    if not 0 <= depth < lstm.num_layers:
        raise ValueError(f"depth must be in [0, {lstm.num_layers}) for this {lstm.num_layers}-layer LSTM, got {depth}.")
    if not 0 <= direction < lstm.num_directions:
        raise ValueError(f"direction must be 0{' or 1' if lstm.bidirectional else ''} for this LSTM, got "
                         f"{direction}.")
    x = np.asarray(x)
    model.forward(x[None])                                       # (1, T, ...) a batch of one
    return _gate_trace(lstm, depth, direction)


def _gate_trace(lstm, depth, direction):
    """The GateTrace of the last forward, from the layer's record of it (LSTM.last_gates, last_sweep)."""
    i, f, g, o = (a[:, 0] for a in lstm.last_gates(depth, direction))   # (T, H) each, in processing order
    states = lstm.last_sweep(depth, direction).states
    c, h = states[1][1:, 0], states[0][1:, 0]                    # (T, H) carried c_t, h_t
    parts = [np.array(to_host(a), dtype=np.float64) for a in (i, f, g, o, c, h)]
    if direction:                                                # the backward direction ran over reversed time
        parts = [a[::-1] for a in parts]
    return GateTrace(*parts)


def memory_times(trace):
    """tau_j = 1 / mean_t(-ln f_tj) per unit (H,), in steps (inf where f = 1 throughout)."""
    forget = np.mean(-np.log(np.clip(trace.f, 1e-12, 1.0)), axis=0)
    with np.errstate(divide="ignore"):
        return np.where(forget > 0, 1.0 / forget, np.inf)


def unit_table(trace):
    """Per unit, sorted by memory time (longest first): dicts with unit, tau, mean_f, mean_i, mean_o, max_abs_c."""
    tau = memory_times(trace)
    rows = [{"unit": int(j), "tau": float(tau[j]), "mean_f": float(trace.f[:, j].mean()),
             "mean_i": float(trace.i[:, j].mean()), "mean_o": float(trace.o[:, j].mean()),
             "max_abs_c": float(np.abs(trace.c[:, j]).max())} for j in range(tau.size)]
    return sorted(rows, key=lambda r: (-r["tau"], r["unit"]))


def summary_text(trace, description="", top=10):
    """The plain-text summary: which units hold information longest, which forget fastest, and how open the
    gates are overall."""
    rows = unit_table(trace)
    T, H = trace.f.shape
    tau = np.array([r["tau"] for r in rows])

    def line(r):
        t = "inf" if np.isinf(r["tau"]) else f"{r['tau']:.1f}"
        return (f"  {r['unit']:>5}  {t:>10}  {r['mean_f']:6.3f}  {r['mean_i']:6.3f}  {r['mean_o']:6.3f}  "
                f"{r['max_abs_c']:7.3f}")

    head = "   unit  tau/steps   mean f  mean i  mean o   max|c|"
    out = [f"lstmkit inspect: {description}".rstrip(), f"{T} steps, {H} units", "",
           ("Memory time of a unit: tau = 1 / mean over steps of -ln f_t, the number of steps after which what its "
            "cell state holds falls to 1/e when nothing new is written."), "",
           f"The {min(top, H)} units that hold information longest:", head, *map(line, rows[:top]), ""]
    if H > top:
        out += [f"The {min(top, H - top)} that forget fastest:", head, *map(line, rows[::-1][:min(top, H - top)]), ""]
    finite = tau[np.isfinite(tau)]
    out += ["Overall:",
            f"  median memory time {np.median(tau):.1f} steps; {int(np.sum(tau > T))} of {H} units keep more than "
            f"1/e of their cell state over the whole sequence (tau > {T})"
            + (f"; longest finite tau {finite.max():.1f}" if finite.size else ""),
            (f"  forget gates: {np.mean(trace.f > 0.9):.0%} of (step, unit) values above 0.9 (holding), "
             f"{np.mean(trace.f < 0.1):.0%} below 0.1 (erasing)"),
            (f"  input gates above 0.5 (writing): {np.mean(trace.i > 0.5):.0%}; output gates above 0.5 (reading "
             f"out): {np.mean(trace.o > 0.5):.0%}"),
            (f"  cell state range [{trace.c.min():.2f}, {trace.c.max():.2f}] (|c| > 1 is more than tanh can pass "
             f"on: the belt stores more than it shows)")]
    return "\n".join(out) + "\n"


# ---- the input sequence for a model written by the command line ---------------------------------------------
class SequenceInput(NamedTuple):
    """What goes into the model, x (T, I) or ids (T,), and how to draw it: `kind` "text" (tick `labels` are its
    characters), "series" (values (T,)) or "channels" (values (T, C)); `title` describes it."""
    x: np.ndarray
    kind: str
    values: np.ndarray
    labels: list
    title: str


def model_input(model, text=None, index=0, steps=None, input_file=None):
    """The input sequence for a model written by `lstmkit textgen train` (text: `text`, default a passage of
    the shipped Shakespeare), `lstmkit classify` (`index` of the test split), `lstmkit train` (the series it was
    trained on, or its last `steps` values), or any model from `input_file` (.npy or .csv, (T, I))."""
    meta = getattr(model, "metadata", {}) or {}
    if input_file is not None:
        return _file_input(input_file)
    task = meta.get("task")
    if task == "textgen":
        return _text_input(meta, text)
    if task == "classify":
        return _classify_input(model, meta, index)
    if task == "forecast":
        return _forecast_input(meta, steps)
    raise ValueError("this model file has no task of lstmkit's command line (textgen, classify, forecast) in its "
                     "metadata; pass the input sequence with --input FILE (.npy or .csv, one row per step).")


DEFAULT_TEXT_START = "GLOUCESTER:\nNow is the winter"      # the opening of Richard III in the shipped text


def _text_input(meta, text):
    from .textgen import Vocabulary, load_text
    vocab = Vocabulary(meta["vocab"])
    if text is None:
        shipped = load_text()
        start = shipped.find(DEFAULT_TEXT_START)
        text = shipped[max(start, 0):max(start, 0) + 120]
    ids = vocab.encode(text, "the text to inspect")
    return SequenceInput(ids, "text", ids, list(text), f"{len(text)} characters of text")


def _classify_input(model, meta, index):
    from .classify import prepare
    from ..data.ts import load_ts_dataset, read_ts
    config = meta["config"]
    if config.get("test_file"):
        test = read_ts(config["test_file"], classes=meta["classes"])
    else:
        test = load_ts_dataset(config["dataset"])[1]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(test):
        raise ValueError(f"index must be a test case in [0, {len(test)}), got {index!r}.")
    x, mask = prepare(test, meta["scaler"])                       # shortened and standardised, as the model saw it
    x = x[index, mask[index]]                                                            # (T, C) the real steps
    title = f"test case {index} of {meta.get('dataset', config['dataset'])} (class {test.classes[test.y[index]]})"
    if x.shape[1] == 1:
        return SequenceInput(x, "series", x[:, 0], [], title)
    return SequenceInput(x, "channels", x, [], title)


def _forecast_input(meta, steps):
    from ..data import load_csv, load_dataset
    from .forecast import Transform
    config = meta["config"]
    if config.get("data"):
        series = load_csv(config["data"], column=meta.get("column"), fill=config.get("fill"))
    else:
        series = load_dataset("airline-passengers")
    transform = Transform.from_dict(meta["transform"])
    z = transform.scaler.transform(transform.z(transform.f(series.values)))          # (T,) what the model sees
    dates = list(series.dates[len(series.values) - len(z):]) if series.dates else []
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}.")
        z, dates = z[-steps:], dates[-steps:]
    title = f"{len(z)} standardised values of {series.name}" + (" (seasonal differences)" if transform.season else "")
    return SequenceInput(np.asarray(z, np.float32)[:, None], "series", np.asarray(z), dates, title)


def _file_input(path):
    import os
    if not os.path.isfile(path):
        raise ValueError(f"no such input file: {path}")
    try:
        if str(path).endswith(".npy"):
            x = np.load(path, allow_pickle=False)
        else:
            x = np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path} is not a numeric .npy or .csv file ({err}).") from None
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.dtype.kind not in "fiu" or not np.all(np.isfinite(x)):
        raise ValueError(f"{path} must hold one finite numeric sequence shaped (T, I), got shape {x.shape}.")
    x = x.astype(np.float32)
    kind = "series" if x.shape[1] == 1 else "channels"
    return SequenceInput(x, kind, x[:, 0] if kind == "series" else x, [], f"{len(x)} steps from {path}")


# ---- the figure ---------------------------------------------------------------------------------------------
def plot_trace(path, trace, seq, title="", max_units=48):
    """Input, input/forget/output gates, cell state and hidden state, one heatmap each (units x time), the units
    ordered by memory time, longest first. With more than `max_units` units, the longest half and the shortest
    half of `max_units` are shown, split by a line."""
    from .plots import pyplot
    _check_max_units(max_units)
    plt = pyplot()
    ranked = np.array([r["unit"] for r in unit_table(trace)])
    split = None
    if ranked.size > max_units:
        split = max_units - max_units // 2                       # rows above the line: the longest memories
        ranked = np.concatenate([ranked[:split], ranked[ranked.size - max_units // 2:]])
    order = ranked
    T, U = trace.f.shape[0], order.size
    panels = [("i", trace.i, "viridis", (0, 1)), ("f", trace.f, "viridis", (0, 1)), ("o", trace.o, "viridis", (0, 1))]
    c_abs = np.abs(trace.c[:, order])
    c_lim = max(float(np.percentile(c_abs, 98)), 1e-6)         # a few counting units can reach |c| >> 1
    panels += [("c", trace.c, "RdBu_r", (-c_lim, c_lim)), ("h", trace.h, "RdBu_r", (-1, 1))]
    clipped = c_abs.max() > c_lim * 1.05
    names = {**GATE_NAMES, "c": "cell state c", "h": "hidden state h"}
    unit_height = min(2.6, 0.9 + U * 0.045)
    width = min(18.0, max(8.0, 3.0 + T * 0.09))
    fig, axes = plt.subplots(6, 1, figsize=(width, 1.6 + 5 * unit_height), sharex=True,
                             gridspec_kw={"height_ratios": [(0.25 if seq.kind == "text" else 0.6) * unit_height]
                                                           + [unit_height] * 5})
    _plot_input(axes[0], seq, T)
    for ax, (key, values, cmap, (lo, hi)) in zip(axes[1:], panels):
        im = ax.imshow(values[:, order].T, aspect="auto", cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_ylabel(f"{names[key]}\nunits, longest tau first", fontsize=8)
        ax.set_yticks([0, U - 1])
        ax.set_yticklabels([f"#{order[0]}", f"#{order[-1]}"], fontsize=7)
        if split is not None:
            ax.axhline(split - 0.5, color="white", lw=2)
        bar = fig.colorbar(im, ax=ax, pad=0.01, fraction=0.02)
        if key == "c" and clipped:
            bar.set_label(f"clipped at \u00b1{c_lim:.3g} (max {c_abs.max():.3g})", fontsize=7)
    if seq.kind == "text":
        axes[-1].set_xticks(range(T))
        axes[-1].set_xticklabels([{"\n": "\u21b5", " ": "\u2423"}.get(ch, ch) for ch in seq.labels], fontsize=6,
                                 family="monospace")
    elif seq.labels:
        step = max(1, T // 12)
        axes[-1].set_xticks(range(0, T, step))
        axes[-1].set_xticklabels(seq.labels[::step], rotation=45, ha="right", fontsize=7)
    else:
        axes[-1].set_xlabel("step")
    axes[0].set_title(title, fontsize=10)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.9 / width, right=1 - 0.75 / width, top=1 - 0.35 / height, bottom=0.55 / height,
                        hspace=0.12)                            # fixed margins (inches): tight_layout is slow here
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _check_max_units(max_units):
    if isinstance(max_units, bool) or not isinstance(max_units, (int, np.integer)) or max_units < 1:
        raise ValueError(f"the number of units shown (--units, max_units) must be a positive integer, got "
                         f"{max_units!r}.")


def _plot_input(ax, seq, T):
    """The input above the heatmaps: a line, a channels x time heatmap, or the characters of a text. Its
    colour bar (hidden unless the input is a heatmap) keeps the time axis aligned with the panels below."""
    from matplotlib import cm
    mappable = cm.ScalarMappable(cmap="coolwarm")
    if seq.kind == "series":
        ax.plot(np.arange(T), seq.values, color="black", lw=1.2)
        ax.set_xlim(-0.5, T - 0.5)
    elif seq.kind == "channels":
        mappable = ax.imshow(seq.values.T, aspect="auto", cmap="coolwarm", interpolation="nearest")
        ax.set_yticks([])
        ax.set_ylabel(f"input\n{seq.values.shape[1]} channels", fontsize=8)
    else:
        ax.set_xlim(-0.5, T - 0.5)
        ax.set_ylim(0, 1)
        for t, ch in enumerate(seq.labels):
            ax.text(t, 0.5, {"\n": "\u21b5", " ": "\u2423"}.get(ch, ch), ha="center", va="center", fontsize=9,
                    family="monospace")
        ax.set_yticks([])
    if seq.kind != "channels":
        ax.set_ylabel("input", fontsize=8)
    bar = ax.figure.colorbar(mappable, ax=ax, pad=0.01, fraction=0.02)
    bar.ax.set_visible(seq.kind == "channels")


def inspect_model(model, out, layer=None, depth=0, direction=0, max_units=48, **input_args):
    """Write `out`/inspect.png, summary.txt and activations.npz for a model (a path or a loaded model) and the
    input that `model_input(model, **input_args)` builds; returns the summary text."""
    import os

    from ..model import load_model

    _check_max_units(max_units)
    source = None
    if not hasattr(model, "layers"):
        source, model = os.fspath(model), load_model(model)
    seq = model_input(model, **input_args)
    trace = trace_lstm(model, seq.x, layer=layer, depth=depth, direction=direction)
    index, lstm = find_lstm(model, layer)
    where = f"layer {index} ({lstm.hidden_size}-unit LSTM" + (f", depth {depth}" if lstm.num_layers > 1 else "") \
        + (f", {'backward' if direction else 'forward'} direction" if lstm.bidirectional else "") + ")"
    task = (getattr(model, "metadata", {}) or {}).get("task", "model")
    description = f"{source or 'model'} ({task}), {where}; input: {seq.title}"
    os.makedirs(out, exist_ok=True)
    text = summary_text(trace, description)
    with open(os.path.join(out, "summary.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    np.savez(os.path.join(out, "activations.npz"), x=np.asarray(seq.x), tau=memory_times(trace), **trace._asdict())
    plot_trace(os.path.join(out, "inspect.png"), trace, seq, title=f"{task}: {where}; input: {seq.title}",
               max_units=max_units)
    return text
