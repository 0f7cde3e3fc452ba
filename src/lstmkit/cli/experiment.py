"""`lstmkit experiment TASK`: the long-time-lag experiments, RNN vs LSTM vs GRU over sequence lengths. The
training options come from RunConfig, so `--help` and the library never drift."""

import os
import sys
import time
from dataclasses import fields

from .common import print_table


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated integers such as 10,50,100, got {text!r}.") from None
    return values


def _describe(result, spec):
    value = "diverged" if result["test_metric"] is None else f"{spec.metric} {result['test_metric']:.4g}"
    how = f"solved in {result['steps_to_solve']:,} steps" if result["solved"] else \
        f"not solved in {result['steps']:,} steps"
    return f"{result['cell']:>4} T={result['length']:<4} seed {result['seed']}: {how}, {value} " \
           f"({result['wall_time']:.1f} s)"


def cmd_experiment(args):
    from ..apps.experiments import RunConfig, get_task, run_grid, summarize, untrained_gradient_norms, write_results

    spec = get_task(args.task)
    config = RunConfig(**{f.name: getattr(args, f.name) for f in fields(RunConfig)}).validate()
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    lengths = _int_list(args.lengths) if args.lengths else list(spec.default_lengths)
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}.")
    seeds = list(range(args.seeds))
    if args.cluster is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            print('lstmkit experiment: error: --cluster needs Dask; pip install "lstmkit[cluster]"',
                  file=sys.stderr)
            return 2
    workers = None if args.cluster else (args.workers if args.workers is not None else os.cpu_count() or 1)
    out = args.out or os.path.join("runs", f"{args.task}-{time.strftime('%Y%m%d-%H%M%S')}")
    runs = len(cells) * len(lengths) * len(seeds)
    where = f"the Dask cluster at {args.cluster}" if args.cluster else f"{workers} worker process(es)"
    log = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    log(f"{args.task}: {runs} runs ({', '.join(cells)} x T = {', '.join(map(str, lengths))} x {len(seeds)} "
        f"seeds) on {where}")
    done = []

    def on_result(result):
        done.append(result)
        log(f"[{len(done):>{len(str(runs))}}/{runs}] {_describe(result, spec)}")

    started = time.perf_counter()
    results = run_grid(args.task, cells, lengths, seeds, config, workers=workers, cluster=args.cluster,
                       on_result=on_result)
    wall_time = time.perf_counter() - started
    norms = None
    if not args.no_gradients:
        try:
            norms = untrained_gradient_norms(args.task, cells, max(lengths), config=config)
        except ImportError:
            log("gradient_norms.png skipped: lstmkit.training.diagnostics is not available in this version")
    paths = write_results(out, args.task, results, config, wall_time=wall_time, workers=workers,
                          cluster=args.cluster, gradient_norms=norms)

    def fmt(value):
        return "-" if value is None else f"{value:.4g}"

    rows = [(r["cell"], r["length"], f"{r['solved']}/{r['runs']}",
             "-" if r["median_steps_to_solve"] is None else f"{r['median_steps_to_solve']:,.0f}",
             fmt(r["median_test_metric"]), f"{r['mean_wall_time']:.1f}") for r in summarize(results, args.task)]
    print_table(f"{args.task}: solved when {spec.metric} {'>=' if spec.higher_is_better else '<'} "
                f"{spec.threshold:g}",
                ("cell", "T", "solved", "steps to solve (median)", f"{spec.metric} (median)", "s per run"), rows)
    print(f"trivial baseline {spec.baseline:.3g} ({spec.baseline_note})")
    print(f"{runs} runs in {wall_time:.1f} s wall time; results in {out} "
          f"({', '.join(map(os.path.basename, paths.values()))})")


def _add_config_options(parser):
    from ..apps.experiments.runner import RunConfig
    for f in fields(RunConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), type=f.type, default=f.default,
                            metavar=f.name.upper(), help=f"{f.metadata['help']} (default: {f.default})")


def register(sub):
    from ..apps.experiments.tasks import TASKS
    parser = sub.add_parser(
        "experiment", help="long-time-lag tasks (adding, temporal-order, copy, reber): RNN vs LSTM vs GRU",
        description="Train each cell at each sequence length with several seeds, in parallel worker processes "
                    "(or on a Dask cluster with --cluster), print the solved rate, steps to solve and final test "
                    "metric, and write results.json, metric_vs_length.png, learning_curves.png and "
                    "gradient_norms.png to --out.",
        epilog="tasks: " + "; ".join(f"{name}: {t.metric}, solved at {t.threshold:g}, default lengths "
                                      f"{','.join(map(str, t.default_lengths))}" for name, t in TASKS.items()))
    parser.add_argument("task", choices=tuple(TASKS), help="the task")
    parser.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells (default: rnn,lstm,gru)")
    parser.add_argument("--lengths", help="comma-separated sequence lengths (default: the task's, 10,50,100 for "
                                          "adding)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per cell and length: 0..N-1 (default: 3)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help='run the grid on an existing Dask cluster, e.g. tcp://host:8786 (pip install '
                             '"lstmkit[cluster]")')
    parser.add_argument("--out", help="output folder (default: runs/<task>-<timestamp>)")
    parser.add_argument("--no-gradients", action="store_true", help="skip the gradient-norm plot")
    parser.add_argument("--quiet", action="store_true", help="no line per finished run")
    _add_config_options(parser)
    parser.set_defaults(func=cmd_experiment)
