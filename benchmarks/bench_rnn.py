"""Benchmark lstmkit's LSTM and GRU against PyTorch's on this machine and write the table to
benchmarks/results/<date>-<host>.md (the README quotes the latest one).

    python benchmarks/bench_rnn.py [--repeats 7]

OpenBLAS reads OPENBLAS_CORETYPE when it loads, so when the variable is set this script runs itself a second time
without it and records both tables (the variable can pin OpenBLAS to a slower kernel than the CPU supports).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

from lstmkit.apps import bench
from lstmkit.training.progress import render_table


def table(rows, machine, title):
    gemm = ", ".join(f"{k} {v} GFLOP/s" for k, v in machine["gemm_gflops"].items())
    head = (f"{title}\n\n{machine['processor']}, {machine['cpus']} CPUs, {machine['platform']}, numpy "
            f"{machine['numpy']}, torch {machine['torch']} ({machine['torch_threads']} threads), "
            f"OPENBLAS_CORETYPE={machine['OPENBLAS_CORETYPE']}; float32 GEMM peak: {gemm}\n\n")
    lines = ["| " + " | ".join(bench.COLUMNS) + " |", "|" + "---|" * len(bench.COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in bench.format_rows(rows)]
    return head + "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print rows and machine as JSON (used internally)")
    args = parser.parse_args()
    rows, machine = bench.run(repeats=args.repeats)
    if args.json:
        print(json.dumps({"rows": rows, "machine": machine}))
        return
    sections = [table(rows, machine, "## As configured")]
    if os.environ.get("OPENBLAS_CORETYPE"):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        done = subprocess.run([sys.executable, __file__, "--json", "--repeats", str(args.repeats)], env=env,
                              capture_output=True, text=True, check=True)
        other = json.loads(done.stdout)
        sections.append(table(other["rows"], other["machine"], "## With OPENBLAS_CORETYPE unset"))
    steps = ["## Cost of one more step (B=1, I=1, H=32, T=1000 against T=1; the call's fixed cost excluded)\n",
             "| cell | forward us/step | training step us/step |", "|---|---|---|"]
    for cell in ("lstm", "gru"):
        forward, train = bench.step_cost(cell)
        steps.append(f"| {cell.upper()} | {forward:.2f} | {train:.2f} |")
    sections.append("\n".join(steps) + "\n")
    render_table("lstmkit / PyTorch", bench.COLUMNS, bench.format_rows(rows), print_fn=print)
    print("\n".join(steps[3:]))
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(folder, exist_ok=True)
    name = f"{datetime.date.today().isoformat()}-{platform.node() or 'machine'}.md"
    with open(os.path.join(folder, name), "w") as f:
        f.write("# lstmkit vs PyTorch, recurrent layers, float32\n\n" + "\n".join(sections))
    print(f"wrote benchmarks/results/{name}")


if __name__ == "__main__":
    main()
