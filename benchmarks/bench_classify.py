"""lstmkit's classifier against the 1-nearest-neighbour baselines on UCR/UEA sets, in the same process, on the
archive's own train/test splits (issue 15).

    python benchmarks/bench_classify.py [--sets ArrowHead ItalyPowerDemand ...] [--seeds 5] [--model lstm-fcn]
                                        [--config key=value ...] [--baselines-only] [--out FILE]

Per set (lstmkit.apps.classification.archive.load_archive: the .ts files bundled in aeon's wheel, read by lstmkit's
own reader, series as the files hold them):
  - lstmkit: `train_classifier(ClassifyConfig(seed=s, **overrides), verbose=False, data=(train, test))` for the
    seeds 0 .. --seeds - 1, every other setting at the job's default (the overrides are --model and --config,
    applied to any field of ClassifyConfig); its accuracy is the run's `test_accuracy`, its time the run's
    `train_seconds`, both as mean and sample standard deviation over the seeds.
  - 1-NN Euclidean and 1-NN DTW (full window, dependent multivariate), lstmkit.apps.classification.neighbours, each
    timed (the kernels are compiled before the clock starts).
  - the published 1-NN ED and 1-NN DTW (w=100) accuracies of the UCR archive where it has them
    (archive.ARCHIVE_SETS, from the archive's DataSummary.csv; Dau et al. 2019).
Then the mean rank of each method over the sets (rank 1: the highest test accuracy of a set; ties share the
mean of their ranks). aeon is a benchmark-only extra: without it the script says what to install.
"""

import argparse
import dataclasses
import datetime
import importlib.metadata
import os
import platform
import time

import numpy as np
from scipy.stats import rankdata

from lstmkit.apps import classify
from lstmkit.apps.classification.archive import ARCHIVE_SETS, load_archive
from lstmkit.apps.classification.neighbours import nearest_neighbour_predict

METHODS = (("euclidean", "1-NN ED"), ("dtw", "1-NN DTW"))


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def config_overrides(pairs, model):
    """{field: value} for ClassifyConfig from `key=value` strings (and --model), each value converted to its
    field's type; a key that is no field, or a value of the wrong type, is one SystemExit saying which."""
    fields = {f.name: f for f in dataclasses.fields(classify.ClassifyConfig)}
    if model is not None:
        if "model" not in fields:
            raise SystemExit("--model: this lstmkit's ClassifyConfig has no `model` field; drop --model.")
        pairs = [f"model={model}", *pairs]
    overrides = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise SystemExit(f"--config {pair!r}: expected key=value with key one of {', '.join(fields)}.")
        if key in ("seed", "dataset", "train_file", "test_file"):
            raise SystemExit(f"--config {key}: set by the benchmark itself (seeds with --seeds, data with --sets).")
        overrides[key] = _parse(text.strip(), fields[key].type, pair)
    try:
        classify.ClassifyConfig(**overrides).validate()         # a wrong value fails now, not after an hour
    except (TypeError, ValueError) as err:
        raise SystemExit(f"--config: {err}") from None
    return overrides


def _parse(text, kind, pair):
    if kind is bool:
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        if text.lower() not in words:
            raise SystemExit(f"--config {pair!r}: expected true or false.")
        return words[text.lower()]
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise SystemExit(f"--config {pair!r}: expected {'an integer' if kind is int else 'a number'}.") from None
    return None if text == "None" else text


def run_baselines(train, test):
    """{label: (accuracy, seconds)} of the 1-NN classifiers."""
    results = {}
    for metric, label in METHODS:
        started = time.perf_counter()
        predicted = nearest_neighbour_predict(train.x, train.lengths, train.y, test.x, test.lengths, metric)
        results[label] = (float(np.mean(predicted == test.y)), time.perf_counter() - started)
    return results


def run_lstmkit(train, test, seeds, overrides):
    """(accuracies, training seconds) over the seeds, one run each with the job's defaults but the overrides."""
    accuracies, seconds = [], []
    for seed in range(seeds):
        run = classify.train_classifier(classify.ClassifyConfig(seed=seed, **overrides), verbose=False,
                                        data=(train, test))
        accuracies.append(run.metrics["test_accuracy"])
        seconds.append(run.metrics["train_seconds"])
        print(f"  seed {seed}: accuracy {accuracies[-1]:.4f}, {seconds[-1]:.1f} s", flush=True)
    return np.array(accuracies), np.array(seconds)


def _spread(values, digits):
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def set_table(name, train, test, baselines, ours, label):
    reference = ARCHIVE_SETS[name]["reference"]
    lines = [f"### {name}", "",
             f"{len(train)} train, {len(test)} test, {len(train.classes)} classes, {train.x.shape[2]} channel(s), "
             f"{int(min(train.lengths.min(), test.lengths.min()))}-{int(max(train.lengths.max(), test.lengths.max()))}"
             f" steps", "",
             "| method | test accuracy | seconds | published accuracy |", "|---|---|---|---|"]
    if ours is not None:
        accuracies, seconds = ours
        lines.append(f"| {label} ({len(accuracies)} seed{'s' * (len(accuracies) > 1)}) | {_spread(accuracies, 4)} "
                     f"| {_spread(seconds, 1)} (training) | - |")
    for method, (accuracy, seconds) in baselines.items():
        published = reference.get(method)
        lines.append(f"| {method} | {accuracy:.4f} | {seconds:.2f} | "
                     f"{'-' if published is None else f'{published:.4f}'} |")
    return "\n".join(lines)


def rank_table(results, label):
    """Mean rank over the sets of every method that ran on all of them (rank 1: the best accuracy)."""
    methods = ([label] if all(r[2] is not None for r in results) else []) + [m for _, m in METHODS]
    ranks = []
    for _, baselines, ours in results:
        accuracy = {**{m: a for m, (a, _) in baselines.items()},
                    **({label: float(np.mean(ours[0]))} if ours is not None else {})}
        ranks.append(rankdata([-accuracy[m] for m in methods]))
    mean = np.mean(ranks, axis=0)
    lines = ["| method | mean rank |", "|---|---|"]
    lines += [f"| {m} | {r:.2f} |" for m, r in sorted(zip(methods, mean), key=lambda p: p[1])]
    return "\n".join(lines)


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    import numba
    versions = ", ".join(f"{n} {_version(n)}" for n in ("lstmkit", "numpy", "numba", "aeon") if _version(n))
    return (f"{cpu}, {os.cpu_count()} CPUs ({numba.get_num_threads()} Numba threads), "
            f"{platform.python_implementation()} {platform.python_version()} on {platform.system()}; {versions}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(ARCHIVE_SETS), choices=list(ARCHIVE_SETS),
                        help="archive sets, in order (default: all seven)")
    parser.add_argument("--seeds", type=int, default=5, help="lstmkit runs per set, seeds 0 .. N-1 (default 5)")
    parser.add_argument("--model", default=None, help="lstmkit's --model (when its ClassifyConfig has one)")
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                        help="other ClassifyConfig fields, e.g. --config hidden=128 epochs=50")
    parser.add_argument("--baselines-only", action="store_true", help="run only the two 1-NN classifiers")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                      f"{datetime.date.today().isoformat()}-classify.md"),
                        help="markdown file for the tables and the settings (default results/<date>-classify.md)")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}.")
    overrides = config_overrides(args.config, args.model)
    label = "lstmkit " + (" ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults")
    try:
        loaded = {name: load_archive(name) for name in args.sets}
    except ImportError as err:
        raise SystemExit(str(err)) from None

    warm = loaded[args.sets[0]]                      # compile (or load) the kernels before any clock starts
    for metric, _ in METHODS:
        nearest_neighbour_predict(warm[0].x[:2], warm[0].lengths[:2], warm[0].y[:2], warm[1].x[:1],
                                  warm[1].lengths[:1], metric)
    results, tables = [], []
    for name in args.sets:
        train, test = loaded[name]
        print(f"{name} ...", flush=True)
        baselines = run_baselines(train, test)
        ours = None if args.baselines_only else run_lstmkit(train, test, args.seeds, overrides)
        results.append((name, baselines, ours))
        tables.append(set_table(name, train, test, baselines, ours, label))
        print(tables[-1] + "\n", flush=True)

    today = datetime.date.today().isoformat()
    call = "".join(f", {k}={v!r}" for k, v in overrides.items())
    defaults = ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(classify.ClassifyConfig)
                         if f.name not in (*overrides, "seed", "dataset", "train_file", "test_file"))
    command = " ".join(["python benchmarks/bench_classify.py", "--sets", *args.sets, "--seeds", str(args.seeds)]
                       + (["--model", args.model] if args.model else [])
                       + (["--config", *args.config] if args.config else [])
                       + (["--baselines-only"] if args.baselines_only else []))
    lines = [f"# lstmkit classify against 1-NN Euclidean and 1-NN DTW on UCR/UEA sets ({today})", "",
             f"- command: `{command}`",
             f"- machine: {machine()}",
             f"- lstmkit: `train_classifier(ClassifyConfig(seed=s{call}), data=(train, test))` for s in "
             f"range({args.seeds}); every other setting at its default ({defaults}); seconds = the run's "
             f"`train_seconds`, mean ± sd over the seeds"
             if not args.baselines_only else "- lstmkit: not run (--baselines-only)",
             "- 1-NN ED: series resampled to the longest training length (linear interpolation; no change for "
             "equal lengths), squared Euclidean distance. 1-NN DTW: full window, dependent multivariate (local "
             "cost: squared Euclidean distance of the channel vectors), real steps only. Ties: the lowest training "
             "index. Seconds: the whole 1-NN prediction of the test split, kernels compiled beforehand.",
             "- data: the archive's own train/test split, read from the .ts files bundled in aeon's wheel, not "
             "normalised by the benchmark (lstmkit's job standardises each channel itself)",
             "- published: 1 - the error rates of the columns 'ED (w=0)' and 'DTW (w=100)' of the UCR archive's "
             "DataSummary.csv (Dau et al. 2019, \"The UCR time series archive\", "
             "https://www.cs.ucr.edu/~eamonn/time_series_data_2018/); the UEA multivariate sets have none there. "
             "For the variable-length PickupGestureWiimoteZ, the archive's figures come from its own handling of "
             "unequal lengths, not from the one above, so they need not agree.",
             "", "## Mean rank over the sets", "", rank_table(results, label), "", "## Per set", "",
             "\n\n".join(tables), ""]
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
