"""Variable-length batches (issue 8): one training step (forward + backward, float32) of lstmkit with a right-padded
mask against lstmkit on the padded batch (no mask, the same T) and PyTorch with pack_padded_sequence
(enforce_sorted=False) + pad_packed_sequence and on the padded batch. B=64, I=32, H=128, lengths uniform in
[10, 200] (seeded), LSTM and GRU; medians of interleaved runs. Goals: masked <= 0.5 x torch packed and
masked <= 1.1 x lstmkit padded.

    python benchmarks/bench_varlen.py [--repeats 7] [--seed 0]
"""

import argparse

from lstmkit.apps import bench
from lstmkit.training.progress import render_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = bench.run_varlen(repeats=args.repeats, seed=args.seed)
    render_table("variable-length training step, B=64 I=32 H=128, lengths U[10, 200]", bench.VARLEN_COLUMNS,
                 bench.format_varlen_rows(rows), print_fn=print)


if __name__ == "__main__":
    main()
