"""A training step while another process holds a core: lstmkit's BLAS thread policy against a fixed count and
PyTorch (issue 17: the goal is at most 1.5x the idle time with one of two cores busy).

    python benchmarks/bench_contention.py [--shape 32x100x32x256] [--repeats 15] [--busy 1]

For each condition (idle, then `--busy` processes spinning in a Python loop) it times an LSTM training step
(forward + backward of the whole output sequence, float32) of lstmkit with the thread count `cpus.choose_blas_threads`
picks (the policy `fit` uses), lstmkit with the BLAS's full count, and PyTorch with its default threads; medians
of `--repeats` runs, each case after a pause (so that no BLAS worker of the case before is still spinning).
Run it on an otherwise idle machine.
"""

import argparse
import multiprocessing as mp
import os
import time

import numpy as np

from lstmkit.apps import bench
from lstmkit.runtime import cpus


def _spin():
    while True:
        pass


def _median_ms(fn, repeats):
    """Median wall time of fn() in ms, after a warm-up call and a pause that lets the BLAS workers of the case
    before go idle (a spinning worker of another thread count would take a core from this one)."""
    fn()
    time.sleep(0.5)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def measure(shape, repeats):
    B, T, I, H = shape
    rng = np.random.default_rng(0)
    layer, _, train = bench._lstmkit_case("lstm", B, T, I, H, rng)
    torch = bench._torch()
    most = cpus._most() or 1
    policy = cpus.choose_blas_threads() or most
    ms = {}
    for name, threads in (("lstmkit, policy", policy), ("lstmkit, fixed", most)):
        cpus.apply_blas_threads(threads)
        ms[name] = _median_ms(train, repeats)
    cpus.apply_blas_threads(most)
    if torch is not None:
        _, t_train = bench._torch_case(torch, layer, "lstm", (B, T, I), rng)
        ms[f"torch ({torch.get_num_threads()} threads)"] = _median_ms(t_train, repeats)
    return ms, policy, most


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="32x100x32x256", help="BxTxIxH (default: 32x100x32x256)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--busy", type=int, default=1, help="spinning processes in the busy condition (default 1)")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split("x"))
    rows = []
    idle, policy, most = measure(shape, args.repeats)
    rows.append(("idle", policy, idle))
    spinners = [mp.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    time.sleep(0.5)
    try:
        busy, policy, _ = measure(shape, args.repeats)
    finally:
        for p in spinners:
            p.terminate()
    rows.append((f"{args.busy} core(s) busy", policy, busy))
    print(f"LSTM training step {args.shape} float32, {os.cpu_count()} CPUs, BLAS threads at most {most}; median "
          f"of {args.repeats}, ms (x idle)")
    names = list(idle)
    print("| condition | policy threads | " + " | ".join(names) + " |")
    print("|---" * (2 + len(names)) + "|")
    for label, threads, values in rows:
        cells = " | ".join(f"{values[n]:.1f} ({values[n] / idle[n]:.2f}x)" for n in names)
        print(f"| {label} | {threads} | {cells} |")


if __name__ == "__main__":
    main()
