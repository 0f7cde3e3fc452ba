"""RTRL against BPTT: time to compute the gradient of an LSTM over one sequence, and RTRL's sensitivity memory.

    python benchmarks/bench_rtrl.py [--hidden 8 16 32 64] [--steps 100] [--repeats 3] [--dtype float64]

The loss is L = sum_t <R_t, h_t> with fixed random R (B=1, I=4). BPTT: `forward(return_sequences=True)` +
`backward` of the layer. RTRL: `RTRL.reset` + one `step(x_t, R_t)` per step. Each time is the best of
`--repeats` runs; `max rel err` is the largest gradient difference relative to the largest gradient entry.
RTRL's step costs O(H^2 |theta|) = O(H^4) against BPTT's O(|theta|), so the ratio grows about as H^2.
On a shared or busy machine, OPENBLAS_NUM_THREADS=1 gives steadier numbers.
"""

import argparse
import platform
import time

import numpy as np

from lstmkit.layers import LSTM
from lstmkit.training.rtrl import RTRL, sensitivity_nbytes

B, I = 1, 4


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench(H, T, repeats, dtype):
    rng = np.random.default_rng(0)
    layer = LSTM(H, return_sequences=True, dtype=dtype).build((T, I), np.random.default_rng(1))
    x = rng.standard_normal((B, T, I)).astype(dtype)
    R = rng.standard_normal((B, T, H)).astype(dtype)

    def bptt():
        layer.forward(x)
        layer.backward(R)

    rtrl = RTRL(layer)

    def run_rtrl():
        layer.zero_grad()
        rtrl.reset(B)
        for t in range(T):
            rtrl.step(x[:, t], R[:, t])

    t_bptt = best_time(bptt, repeats)
    want = {k: g.copy() for k, g in layer.grads.items()}
    t_rtrl = best_time(run_rtrl, repeats)
    err = max(np.max(np.abs(layer.grads[k] - want[k])) / np.max(np.abs(want[k])) for k in want)
    return layer.num_params(), t_bptt, t_rtrl, sensitivity_nbytes(layer, B) / 2**20, err


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    args = parser.parse_args()
    print(f"LSTM gradient over T={args.steps} steps, B={B}, I={I}, {args.dtype}; numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}")
    print(f"| {'H':>3} | {'|theta|':>7} | {'BPTT ms':>8} | {'RTRL ms':>9} | {'RTRL/BPTT':>9} | "
          f"{'P (MB)':>7} | {'max rel err':>11} |")
    print(f"|{'-' * 5}|{'-' * 9}|{'-' * 10}|{'-' * 11}|{'-' * 11}|{'-' * 9}|{'-' * 13}|")
    for H in args.hidden:
        n, t_bptt, t_rtrl, mb, err = bench(H, args.steps, args.repeats, args.dtype)
        print(f"| {H:>3} | {n:>7,} | {1e3 * t_bptt:>8.2f} | {1e3 * t_rtrl:>9.1f} | {t_rtrl / t_bptt:>9.0f} | "
              f"{mb:>7.2f} | {err:>11.1e} |")
    print("P: RTRL's sensitivities d(h, c)/d theta, B * 2H * |theta| numbers; a step needs a second buffer of "
          "the same size.")


if __name__ == "__main__":
    main()
