"""lstmkit's global forecaster against NeuralForecast's LSTM on the M3 collections: accuracy and wall time, in the
same process, on the same series and the same test points (issue 14).

    python benchmarks/bench_forecast.py [--datasets m3-monthly m3-quarterly m3-yearly] [--workers 2]
                                        [--max-steps 1000] [--seed 1] [--out FILE]

Per collection (the competition's own split and horizon H, from lstmkit.apps.forecasting.panel.load_collection):
  - lstmkit: `run_forecast(PanelConfig(dataset, workers), ModelConfig())`, the defaults of `lstmkit forecast`
    (an ensemble of 5 seeds, one per worker process); its time is the job's `model_seconds` (training + forecast).
  - NeuralForecast: one `LSTM` trained as a global model over all the series (`NeuralForecast.fit` on the long
    frame of every training part, integer time index, freq=1), input_size 36 for monthly (the issue's reference
    run) and 2 x H for the others (16 quarterly, 12 yearly), max_steps 1000, random_seed 1, on CPU, every other
    setting at its default; its time is fit + predict. Only Lightning's progress bar, logger and model summary
    are off (display only).
  - seasonal naive, the reference both must beat (computed by the lstmkit job).
All are scored with lstmkit.apps.forecasting.scores.smape / mase on the test parts. NeuralForecast is a benchmark-only
extra: without it the script says what to install and still runs lstmkit's part.
"""

import argparse
import datetime
import importlib.metadata
import importlib.util
import logging
import os
import platform
import time
import warnings

import numpy as np

from lstmkit.apps.forecasting.job import PanelConfig, run_forecast
from lstmkit.apps.forecasting.model import ModelConfig
from lstmkit.apps.forecasting.panel import load_collection
from lstmkit.apps.forecasting.scores import mase, smape

DATASETS = ("m3-monthly", "m3-quarterly", "m3-yearly")
NF_INPUT_SIZES = {"monthly": 36}           # the reference run; else 2 x horizon
NF_INSTALL = ("NeuralForecast is not installed, so only lstmkit runs: pip install neuralforecast --no-deps, then "
              "its requirements (coreforecast, utilsforecast, pytorch-lightning, optuna, 'ray[train,tune]') with "
              "the installed torch kept (pip install -c <(echo torch==$(python -c 'import torch; "
              "print(torch.__version__)')) ...)")


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def nf_input_size(panel):
    return NF_INPUT_SIZES.get(panel.frequency, 2 * panel.horizon)


def run_lstmkit(panel, workers):
    """lstmkit's point forecasts (the median), its seconds, and the job's seasonal naive forecasts."""
    result = run_forecast(PanelConfig(dataset=panel.name, workers=workers, baselines=False), ModelConfig(),
                          verbose=False, panel=panel)
    return result.quantiles[0.5], result.metrics["model_seconds"], result.methods["seasonal naive"]


def run_neuralforecast(panel, max_steps, seed):
    """NeuralForecast LSTM point forecasts in panel order, and the seconds of fit + predict."""
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM

    for name in ("pytorch_lightning", "lightning_fabric", "lightning", "neuralforecast"):
        logging.getLogger(name).setLevel(logging.ERROR)
    frame = pd.DataFrame({
        "unique_id": np.repeat(panel.ids, [len(x) for x in panel.histories]),
        "ds": np.concatenate([np.arange(1, len(x) + 1) for x in panel.histories]),
        "y": np.concatenate(panel.histories)})
    model = LSTM(h=panel.horizon, input_size=nf_input_size(panel), max_steps=max_steps, random_seed=seed,
                 accelerator="cpu", enable_progress_bar=False, logger=False, enable_model_summary=False)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nf = NeuralForecast(models=[model], freq=1)
        nf.fit(df=frame)
        predicted = nf.predict()
    seconds = time.perf_counter() - started
    predicted = predicted.reset_index() if "unique_id" not in predicted.columns else predicted
    by_id = {key: group.sort_values("ds")["LSTM"].to_numpy(np.float64)
             for key, group in predicted.groupby("unique_id", sort=False)}
    missing = [i for i in panel.ids if i not in by_id or len(by_id[i]) != panel.horizon]
    if missing:
        raise RuntimeError(f"NeuralForecast gave no {panel.horizon}-step forecast for {len(missing)} series "
                           f"(e.g. {missing[:3]}); expected one per series of {panel.name}.")
    return [by_id[i] for i in panel.ids], seconds


def score(panel, forecasts):
    return (smape(panel.futures, forecasts),
            mase(panel.futures, forecasts, panel.histories, panel.season))


def bench(name, workers, max_steps, seed, with_nf):
    """Rows (library, model, sMAPE, MASE, seconds) for one collection."""
    panel = load_collection(name)
    ours, ours_seconds, snaive = run_lstmkit(panel, workers)
    cfg = ModelConfig()
    rows = [("lstmkit", f"{cfg.cell.upper()} {cfg.hidden}, ensemble of {cfg.ensemble}", *score(panel, ours),
             ours_seconds)]
    if with_nf:
        theirs, nf_seconds = run_neuralforecast(panel, max_steps, seed)
        rows.append(("NeuralForecast", f"LSTM, input_size {nf_input_size(panel)}", *score(panel, theirs),
                     nf_seconds))
    else:
        rows.append(("NeuralForecast", "not installed", np.nan, np.nan, np.nan))
    rows.append(("(seasonal naive)", f"season {panel.season}", *score(panel, snaive), np.nan))
    return panel, rows


def _cell(value, digits):
    return "-" if value != value else f"{value:.{digits}f}"


def table(results):
    lines = ["| collection | series | H | library | model | sMAPE | MASE | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for panel, rows in results:
        for library, model, s, m, seconds in rows:
            lines.append(f"| {panel.name} | {len(panel.ids)} | {panel.horizon} | {library} | {model} | "
                         f"{_cell(s, 2)} | {_cell(m, 3)} | {_cell(seconds, 1)} |")
    return "\n".join(lines)


def settings(args, with_nf):
    cfg = ModelConfig()
    torch_threads = None
    if with_nf:
        import torch
        torch_threads = torch.get_num_threads()
    versions = ", ".join(f"{n} {_version(n)}" for n in ("lstmkit", "neuralforecast", "torch", "pytorch-lightning",
                                                        "numpy") if _version(n))
    return [
        f"- command: `python benchmarks/bench_forecast.py --datasets {' '.join(args.datasets)} --workers "
        f"{args.workers} --max-steps {args.max_steps} --seed {args.seed}`",
        f"- machine: {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}; "
        f"{versions}",
        f"- lstmkit: `lstmkit forecast` defaults (window by frequency: 24 monthly, 8 quarterly and yearly; hidden "
        f"{cfg.hidden}, {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}, ensemble of {cfg.ensemble} "
        f"from seed {cfg.seed}, median forecast) on {args.workers} worker processes; seconds = training + forecast",
        "- NeuralForecast: `LSTM(h=H, input_size=36 monthly / 2*H otherwise, max_steps="
        f"{args.max_steps}, random_seed={args.seed}, accelerator='cpu')`, one global model, other settings default "
        f"(MAE loss, robust scaler, 2-layer encoder of 128, lr 1e-3, batch 32 series x 128 windows); "
        f"torch threads {torch_threads}; seconds = fit + predict",
        "- scores: lstmkit.apps.forecasting.scores.smape / mase on the competition's test parts (the same points for "
        "every row)",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS,
                        help="collections, in order (default: all three, monthly first)")
    parser.add_argument("--workers", type=int, default=2, help="lstmkit's worker processes (default 2)")
    parser.add_argument("--max-steps", type=int, default=1000, help="NeuralForecast's training steps (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="NeuralForecast's random_seed (default 1)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                      f"{datetime.date.today().isoformat()}-forecast.md"),
                        help="markdown file for the table and the settings (default results/<date>-forecast.md)")
    args = parser.parse_args()
    with_nf = importlib.util.find_spec("neuralforecast") is not None
    if not with_nf:
        print(NF_INSTALL)
    results = []
    for name in args.datasets:
        print(f"{name} ...", flush=True)
        results.append(bench(name, args.workers, args.max_steps, args.seed, with_nf))
        print(table(results[-1:]), flush=True)
    text = table(results)
    print("\n" + text)
    lines = [f"# lstmkit forecast against NeuralForecast's LSTM on M3 ({datetime.date.today().isoformat()})", "",
             *settings(args, with_nf), "", text, ""]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
