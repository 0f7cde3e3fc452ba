"""`lstmkit bench`: lstmkit's recurrent layers against PyTorch's, side by side (see lstmkit/apps/bench.py)."""

from ..training.progress import CaseProgress
from .common import print_table


def cmd_bench(args):
    from ..apps import bench
    shapes = bench.SHAPES if not args.shape else [tuple(int(v) for v in s.split("x")) for s in args.shape]
    for shape in shapes:
        if len(shape) != 4 or min(shape) < 1:
            raise ValueError(f"--shape takes BxTxIxH with four positive integers, got {shape}.")
    cells = args.cells.split(",")
    for cell in cells:
        bench.check_cell(cell)
    with CaseProgress(len(cells) * len(shapes) * 2 + len(cells), "lstmkit bench") as progress:
        rows, machine = bench.run(shapes, cells=cells, repeats=args.repeats, on_case=progress.case)
        costs = {}
        for cell in cells:
            progress.case(f"{cell.upper()} cost of one step")
            costs[cell] = bench.step_cost(cell)
    gemm = ", ".join(f"{k} {v} GFLOP/s" for k, v in machine["gemm_gflops"].items())
    print(f"{machine['processor']}, {machine['cpus']} CPUs, numpy {machine['numpy']}, torch {machine['torch']} "
          f"({machine['torch_threads']} threads); float32 GEMM peak: {gemm}")
    print_table("training step = forward + backward of the whole output sequence; medians of "
                f"{args.repeats} interleaved runs", bench.COLUMNS, bench.format_rows(rows))
    for cell, (forward, train) in costs.items():
        print(f"{cell.upper()} cost of one more step at B=1, I=1, H=32: forward {forward:.2f} us, "
              f"training step {train:.2f} us (the call's fixed cost excluded)")


def register(sub):
    parser = sub.add_parser("bench", help="time lstmkit's LSTM/GRU against PyTorch's (when installed)")
    parser.add_argument("--cells", default="lstm,gru", help="comma-separated cells (default: lstm,gru)")
    parser.add_argument("--shape", action="append", help="BxTxIxH, repeatable (default: the five standard shapes)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per case (default: 7)")
    parser.set_defaults(func=cmd_bench)
