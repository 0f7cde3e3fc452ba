"""Side-by-side timing of lstmkit's recurrent layers and PyTorch's (`lstmkit bench`, benchmarks/bench_rnn.py).

For each shape (B, T, I, H) and cell, forward (inference) and forward+backward (one training step, gradient of
the whole output sequence) are timed for both libraries in one process, interleaved, same dtype (float32) and
same threads; the median of `repeats` runs after warm-up is reported with the ratio lstmkit / PyTorch and
lstmkit's achieved GFLOP/s as a fraction of the best float32 GEMM throughput measured in the same run.
FLOPs counted: the GEMMs only, 2 B T G H (I + H) for a forward pass and three times that for a training step
(forward, input and recurrent gradients, weight gradients).
"""

import os
import platform
import time
import tracemalloc

import numpy as np

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


def _lstmkit_case(cell, B, T, I, H, rng):
    from .layers import GRU, LSTM
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


def run(shapes=SHAPES, cells=("lstm", "gru"), repeats=7, warmup=2, seed=0):
    for cell in cells:
        if cell not in GATES:
            raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(GATES)}.")
    """Return (rows, machine): one row per (cell, shape, pass) with both medians, the ratio and GFLOP/s."""
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
                for fn in fns:
                    for _ in range(warmup):
                        fn()
                times = [[] for _ in fns]
                for _ in range(repeats):                       # interleaved: both see the same machine state
                    for i, fn in enumerate(fns):
                        times[i].append(_time(fn))
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
