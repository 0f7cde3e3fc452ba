"""Side-by-side timing of lstmkit's recurrent layers and PyTorch's (`lstmkit bench`, benchmarks/bench_rnn.py).

For each shape (B, T, I, H) and cell, forward (inference) and forward+backward (one training step, gradient of
the whole output sequence) are timed for both libraries in one process, interleaved, same dtype (float32) and
same threads; the median of `repeats` runs after warm-up is reported with the ratio lstmkit / PyTorch and
lstmkit's achieved GFLOP/s as a fraction of the best float32 GEMM throughput measured in the same run.
FLOPs counted: the GEMMs only, 2 B T G H (I + H) for a forward pass and three times that for a training step
(forward, input and recurrent gradients, weight gradients).

Each timed run follows a pause of `settle` seconds and one untimed call of the same function. Both libraries keep
idle worker threads spinning for a while after a call, and on a machine with few cores the other library's
spinning threads slow a run down; after the pause they sleep. The untimed call then warms caches and this
library's own threads, as in a training loop. docs/performance.md gives the measurements behind both.
"""

import os
import platform
import time
import tracemalloc

import numpy as np

from ..runtime.threads import get_num_threads

SETTLE_S = 0.2               # pause before each timed run, seconds: the other library's threads stop spinning
SHAPES = ((32, 100, 32, 128), (64, 50, 128, 256), (1, 1000, 1, 32), (128, 35, 256, 512), (16, 200, 64, 64))
GATES = {"lstm": 4, "gru": 3}


def gemm_gflops(n=1024, repeats=5):
    """Best float32 GEMM throughput of NumPy (and of torch when present) in GFLOP/s."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    best = {}
    candidates = {"numpy": lambda: a @ a}
    torch = _torch()
    if torch is not None:
        ta = torch.from_numpy(a)
        candidates["torch"] = lambda: ta @ ta
    for name, fn in candidates.items():
        fn()
        best[name] = 2 * n ** 3 / min(_time(fn) for _ in range(repeats)) / 1e9
    return best


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _settled_time(fn, settle):
    """The time of fn() after a pause of `settle` seconds and one untimed call (module docstring)."""
    time.sleep(settle)
    fn()
    return _time(fn)


def _lstmkit_case(cell, B, T, I, H, rng):
    from ..layers import GRU, LSTM
    layer = {"lstm": LSTM, "gru": GRU}[cell](H, return_sequences=True)
    layer.build((T, I), rng)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    dy = rng.standard_normal((B, T, H)).astype(np.float32)

    def train():
        layer.forward(x, training=True)
        layer.backward(dy)
    return layer, (lambda: layer.forward(x)), train


def _torch_case(torch, layer, cell, x_shape, rng):
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](x_shape[2], layer.hidden_size, batch_first=True)
    with torch.no_grad():
        for name, value in layer.params.items():
            getattr(module, name).copy_(torch.from_numpy(value))
    x = torch.from_numpy(rng.standard_normal(x_shape).astype(np.float32))
    dy = torch.from_numpy(rng.standard_normal(x_shape[:2] + (layer.hidden_size,)).astype(np.float32))

    def infer():
        with torch.no_grad():
            module(x)

    def train():
        module.zero_grad(set_to_none=True)
        out, _ = module(x)
        out.backward(dy)
    return infer, train


def peak_memory_mb(fn):
    """Peak NumPy allocation during fn() (tracemalloc sees NumPy's buffers), in MB."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def check_cell(cell):
    if cell not in GATES:
        raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(GATES)}.")


def run(shapes=SHAPES, cells=("lstm", "gru"), repeats=7, warmup=2, seed=0, settle=SETTLE_S, on_case=None):
    """Return (rows, machine): one row per (cell, shape, pass) with both medians, the ratio and GFLOP/s.
    `on_case(label)`, when given, is called before each timed case (for progress: there are
    `len(cells) * len(shapes) * 2` of them)."""
    for cell in cells:
        check_cell(cell)
    torch = _torch()
    rng = np.random.default_rng(seed)
    peak = gemm_gflops()
    best_gemm = max(peak.values())
    rows = []
    for cell in cells:
        G = GATES[cell]
        for B, T, I, H in shapes:
            layer, infer, train = _lstmkit_case(cell, B, T, I, H, rng)
            cases = {"forward": [infer], "train": [train]}
            if torch is not None:
                t_infer, t_train = _torch_case(torch, layer, cell, (B, T, I), rng)
                cases["forward"].append(t_infer)
                cases["train"].append(t_train)
            for kind, fns in cases.items():
                if on_case is not None:
                    on_case(f"{cell.upper()} {'x'.join(map(str, (B, T, I, H)))} {kind}")
                for fn in fns:
                    for _ in range(warmup):
                        fn()
                times = [[] for _ in fns]
                for _ in range(repeats):                       # interleaved: both see the same machine state
                    for i, fn in enumerate(fns):
                        times[i].append(_settled_time(fn, settle))
                medians = [float(np.median(t)) for t in times]
                flops = 2 * B * T * G * H * (I + H) * (3 if kind == "train" else 1)
                rows.append({"cell": cell, "shape": (B, T, I, H), "pass": kind, "lstmkit_ms": medians[0] * 1e3,
                             "torch_ms": medians[1] * 1e3 if torch is not None else None,
                             "ratio": medians[0] / medians[1] if torch is not None else None,
                             "gflops": flops / medians[0] / 1e9,
                             "gemm_fraction": flops / medians[0] / 1e9 / best_gemm,
                             "peak_mb": peak_memory_mb(fns[0]) if kind == "train" else None})
    machine = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
               "cpus": os.cpu_count(), "numpy": np.__version__,
               "torch": None if torch is None else torch.__version__,
               "torch_threads": None if torch is None else torch.get_num_threads(),
               "lstmkit_threads": get_num_threads(),
               "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
               "gemm_gflops": {k: round(v, 1) for k, v in peak.items()}}
    return rows, machine


def format_rows(rows):
    """Table rows (strings) for printing or for the README."""
    out = []
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        torch_ms = "-" if r["torch_ms"] is None else f"{r['torch_ms']:.2f}"
        peak = "" if r["peak_mb"] is None else f"{r['peak_mb']:.1f}"
        out.append((r["cell"].upper(), "x".join(map(str, r["shape"])), r["pass"], f"{r['lstmkit_ms']:.2f}", torch_ms,
                    ratio, f"{r['gflops']:.1f}", f"{100 * r['gemm_fraction']:.0f}%", peak))
    return out


COLUMNS = ("cell", "B x T x I x H", "pass", "lstmkit ms", "torch ms", "ratio", "GFLOP/s", "of GEMM peak",
           "peak MB")


def step_cost(cell, H=32, T=1000, repeats=7, seed=0):
    """What one more time step costs at B = 1, I = 1: (forward, training step) in microseconds per step, the
    difference of the best times at T and at 1 step divided by T - 1, so that the fixed cost of a call (checks,
    allocation, dispatch) drops out; at H = 32 the product and the activations of the step are in it too."""
    check_cell(cell)
    best = {}
    for steps in (1, T):
        _, infer, train = _lstmkit_case(cell, 1, steps, 1, H, np.random.default_rng(seed))
        for kind, fn in (("forward", infer), ("train", train)):
            fn()
            best[kind, steps] = min(_time(fn) for _ in range(repeats))
    return tuple((best[kind, T] - best[kind, 1]) / (T - 1) * 1e6 for kind in ("forward", "train"))


# ---- variable-length batches --------------------------------------------------------------------------------------
VARLEN = {"B": 64, "I": 32, "H": 128, "min_length": 10, "max_length": 200}
VARLEN_CASES = ("lstmkit masked", "lstmkit padded", "torch packed", "torch padded")


def varlen_lengths(B=VARLEN["B"], low=VARLEN["min_length"], high=VARLEN["max_length"], seed=0):
    """B lengths uniform in [low, high] (seeded), in no particular order."""
    return np.random.default_rng(seed).integers(low, high + 1, B)


def _varlen_cases(cell, lengths, I, H, rng):
    """The four training steps of one cell on a right-padded batch with these lengths (T = the longest)."""
    from ..layers import GRU, LSTM
    B, T = len(lengths), int(max(lengths))
    layer = {"lstm": LSTM, "gru": GRU}[cell](H, return_sequences=True)
    layer.build((T, I), rng)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    dy = rng.standard_normal((B, T, H)).astype(np.float32)
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]          # (B, T) right-padded
    dy_masked = dy * mask[:, :, None]

    def masked():
        layer.forward(x, mask=mask, training=True)
        layer.backward(dy_masked)

    def padded():                                                       # the same T, every step real
        layer.forward(x, training=True)
        layer.backward(dy)
    cases = {"lstmkit masked": masked, "lstmkit padded": padded}
    torch = _torch()
    if torch is None:
        return cases
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](I, H, batch_first=True)
    with torch.no_grad():
        for name, value in layer.params.items():
            getattr(module, name).copy_(torch.from_numpy(value))
    tx, tdy, tdy_masked = (torch.from_numpy(a) for a in (x, dy, dy_masked))
    tlengths = torch.as_tensor(np.asarray(lengths), dtype=torch.int64)
    pack, unpack = torch.nn.utils.rnn.pack_padded_sequence, torch.nn.utils.rnn.pad_packed_sequence

    def torch_packed():
        module.zero_grad(set_to_none=True)
        xin = tx.detach().requires_grad_(True)                          # dx too, as lstmkit computes it
        out, _ = module(pack(xin, tlengths, batch_first=True, enforce_sorted=False))
        out, _ = unpack(out, batch_first=True, total_length=T)
        out.backward(tdy_masked)

    def torch_padded():
        module.zero_grad(set_to_none=True)
        xin = tx.detach().requires_grad_(True)
        out, _ = module(xin)
        out.backward(tdy)
    cases.update({"torch packed": torch_packed, "torch padded": torch_padded})
    return cases


def run_varlen(cells=("lstm", "gru"), repeats=7, warmup=2, seed=0, lengths=None, I=VARLEN["I"], H=VARLEN["H"],
               settle=SETTLE_S):
    """Median training-step time (ms) of lstmkit masked / padded and torch packed / padded per cell, interleaved,
    float32; each row also has the two goal ratios masked / torch packed and masked / lstmkit padded."""
    lengths = varlen_lengths(seed=seed) if lengths is None else np.asarray(lengths)
    rng = np.random.default_rng(seed)
    rows = []
    for cell in cells:
        check_cell(cell)
        cases = _varlen_cases(cell, lengths, I, H, rng)
        for fn in cases.values():
            for _ in range(warmup):
                fn()
        times = {name: [] for name in cases}
        for _ in range(repeats):                                        # interleaved: the same machine state
            for name, fn in cases.items():
                times[name].append(_settled_time(fn, settle))
        ms = {name: float(np.median(t)) * 1e3 for name, t in times.items()}
        rows.append({"cell": cell, "B": len(lengths), "T": int(lengths.max()), "mean_length": float(lengths.mean()),
                     **{name: ms.get(name) for name in VARLEN_CASES},
                     "masked_vs_torch_packed": ms["lstmkit masked"] / ms["torch packed"] if "torch packed" in ms
                     else None,
                     "masked_vs_padded": ms["lstmkit masked"] / ms["lstmkit padded"]})
    return rows


VARLEN_COLUMNS = ("cell", "B x T (mean length)") + tuple(f"{name} ms" for name in VARLEN_CASES) + (
    "masked / torch packed (goal <= 0.5)", "masked / padded (goal <= 1.1)")


def format_varlen_rows(rows):
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)
    return [(r["cell"].upper(), f"{r['B']} x {r['T']} ({r['mean_length']:.1f})",
             *(fmt(r[name], ".1f") for name in VARLEN_CASES),
             fmt(r["masked_vs_torch_packed"], ".2f"), fmt(r["masked_vs_padded"], ".2f")) for r in rows]
