"""Benchmark lstmkit's LSTM and GRU on a CUDA GPU (CuPy) against PyTorch's (cuDNN) and write the table to
benchmarks/results/<date>-<host>-cuda.md.

    pip install cupy-cuda12x          # (and a CUDA build of torch for the comparison)
    python benchmarks/bench_gpu.py [--repeats 7] [--shapes 128x35x256x512 32x100x32x128]

Each time is the median of `repeats` runs after `warmup` runs, each run ended by a device synchronisation; the
inputs already live on the GPU (their copy is not timed). The layers hold the same weights, and the table also
gives the largest difference between the two forward outputs (float32). Without a CUDA build of torch only
lstmkit's times are written. `--device cpu` runs the same script on the host (a check of the script itself).
"""

import argparse
import datetime
import os
import platform
import time

import numpy as np

from lstmkit.runtime import backend
from lstmkit.apps.bench import SHAPES
from lstmkit.layers import GRU, LSTM

COLUMNS = ("cell", "B x T x I x H", "lstmkit fwd ms", "torch fwd ms", "fwd ratio", "lstmkit train ms",
           "torch train ms", "train ratio", "max abs diff of y")


def median_ms(fn, sync, repeats, warmup):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def lstmkit_case(cell, shape, device, rng):
    """The layer (built on the host from `rng`, then moved), its inputs on the device, and its two jobs."""
    B, T, I, H = shape
    layer = {"lstm": LSTM, "gru": GRU}[cell](H, return_sequences=True).build((T, I), rng).to(device)
    x = backend.to_device(rng.standard_normal((B, T, I)).astype(np.float32), device)
    dy = backend.to_device(rng.standard_normal((B, T, H)).astype(np.float32), device)

    def train():
        layer.forward(x, training=True)
        layer.backward(dy)
    return layer, x, dy, (lambda: layer.forward(x)), train


def torch_case(torch, cell, layer, x, dy, device):
    """torch.nn.LSTM / GRU with the layer's weights, on the same device, and its two jobs."""
    dev = torch.device(device)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](x.shape[2], layer.hidden_size, batch_first=True)
    module = module.to(dev)
    with torch.no_grad():
        for name, value in layer.params.items():
            getattr(module, name).copy_(torch.from_numpy(backend.to_host(value)))
    tx = torch.from_numpy(backend.to_host(x)).to(dev)
    tdy = torch.from_numpy(backend.to_host(dy)).to(dev)

    def infer():
        with torch.no_grad():
            return module(tx)[0]

    def train():
        module.zero_grad(set_to_none=True)
        module(tx)[0].backward(tdy)
    return infer, train


def load_torch(device):
    try:
        import torch
    except ImportError:
        return None
    return torch if device == "cpu" or torch.cuda.is_available() else None


def run(shapes, device, repeats, warmup):
    torch = load_torch(device)
    if device == "cuda":
        import cupy
        sync_lk = cupy.cuda.Device().synchronize
        sync_torch = torch.cuda.synchronize if torch is not None else None
    else:
        sync_lk = sync_torch = lambda: None
    rows = []
    for cell in ("lstm", "gru"):
        for shape in shapes:
            rng = np.random.default_rng(0)
            layer, x, dy, infer, train = lstmkit_case(cell, shape, device, rng)
            row = {"cell": cell, "shape": shape, "fwd": median_ms(infer, sync_lk, repeats, warmup),
                   "train": median_ms(train, sync_lk, repeats, warmup)}
            if torch is not None:
                t_infer, t_train = torch_case(torch, cell, layer, x, dy, device)
                row["torch_fwd"] = median_ms(t_infer, sync_torch, repeats, warmup)
                row["torch_train"] = median_ms(t_train, sync_torch, repeats, warmup)
                y_torch = t_infer().cpu().numpy()
                row["max_diff"] = float(np.max(np.abs(backend.to_host(infer()) - y_torch)))
            rows.append(row)
    return rows, torch


def format_rows(rows):
    out = []
    for r in rows:
        has_torch = "torch_fwd" in r
        fwd = [f"{r['torch_fwd']:.2f}", f"{r['fwd'] / r['torch_fwd']:.2f}"] if has_torch else ["-", "-"]
        train = ([f"{r['torch_train']:.2f}", f"{r['train'] / r['torch_train']:.2f}", f"{r['max_diff']:.1e}"]
                 if has_torch else ["-", "-", "-"])
        out.append([r["cell"].upper(), "x".join(map(str, r["shape"])), f"{r['fwd']:.2f}", *fwd,
                    f"{r['train']:.2f}", *train])
    return out


def describe(device, torch):
    if device == "cuda":
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        runtime = cupy.cuda.runtime.runtimeGetVersion()
        what = f"{props['name'].decode()}, CuPy {cupy.__version__}, CUDA runtime {runtime}"
    else:
        what = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    return f"{what}; torch {torch.__version__ if torch is not None else 'not available'}; float32"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--shapes", nargs="*", default=None,
                        help="BxTxIxH, e.g. 128x35x256x512 (default: the five of lstmkit bench)")
    args = parser.parse_args()
    shapes = SHAPES if not args.shapes else [tuple(int(n) for n in s.split("x")) for s in args.shapes]
    rows, torch = run(shapes, args.device, args.repeats, args.warmup)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in format_rows(rows)]
    text = (f"# lstmkit ({args.device}) vs PyTorch, recurrent layers\n\n{describe(args.device, torch)}; median of "
            f"{args.repeats} after {args.warmup} warm-up runs; ratio = lstmkit / torch\n\n" + "\n".join(lines) + "\n")
    print(text)
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(folder, exist_ok=True)
    name = f"{datetime.date.today().isoformat()}-{platform.node() or 'machine'}-{args.device}.md"
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)
    print(f"wrote benchmarks/results/{name}")


if __name__ == "__main__":
    main()
