"""`lstmkit train` and `lstmkit predict`: the forecasting job. Options of `train` come from ForecastConfig, so
`--help` and the library never drift."""

import csv
import io
import os
import sys
import time
from dataclasses import fields

import numpy as np

from ..apps.forecast import ForecastConfig
from .common import add_config_options, print_table


def cmd_train(args):
    if args.task == "classify":
        return _train_classifier(args)
    from ..formats.checkpoint import read_progress
    from ..apps.forecast import resume_config, train_forecaster, write_run

    given = {f.name: getattr(args, f.name) for f in fields(ForecastConfig) if hasattr(args, f.name)}
    if args.resume:
        if args.out is not None and os.path.abspath(args.out) != os.path.abspath(args.resume):
            raise ValueError("--resume RUN_DIR continues the run in RUN_DIR and writes there; drop --out.")
        cfg, out = resume_config(args.resume, given), args.resume
        done, stopped = read_progress(out)
        if stopped is not None:
            print(f"the run in {out} had already stopped early after epoch {stopped + 1} (no improvement in "
                  f"{cfg.patience} epochs); nothing left to train: its model and metrics are written again.")
        elif done >= cfg.epochs:
            print(f"the run in {out} has already run all {done} epochs; nothing left to train (pass --epochs "
                  f"N > {done} to train further): its model and metrics are written again.")
        else:
            print(f"resuming the run in {out} after epoch {done} of {cfg.epochs}")
    else:
        cfg = ForecastConfig(**given)
        out = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    try:
        run = train_forecaster(cfg, verbose=not args.quiet, checkpoint=out if cfg.checkpoint_every else None,
                               resume=bool(args.resume), on_settings=print)
    except KeyboardInterrupt as err:
        saved = f" ({err})" if str(err) else ""
        hint = f"; continue with: lstmkit train --resume {out}" if saved else ""
        print(f"lstmkit train: interrupted{saved}{hint}", file=sys.stderr)
        return 130
    write_run(run, out)
    m = run.metrics
    print_table(f"test forecast of the last {m['test_points']} values of {m['column']}",
                ("forecast", "test RMSE", "test MAE"),
                 [(f"lstmkit {cfg.cell.upper()}", f"{m['test_rmse']:.2f}", f"{m['test_mae']:.2f}"),
                  (m["baseline"], f"{m['baseline_rmse']:.2f}", f"{m['baseline_mae']:.2f}"),
                  (f"persistence {m['persistence']}", f"{m['persistence_rmse']:.2f}", f"{m['persistence_mae']:.2f}")])
    stopped = f" (early stopping: no improvement in {cfg.patience} epochs)" if m["stopped_early"] else ""
    print(f"trained {m['parameters']:,} parameters for {m['epochs_run']} epochs{stopped} in "
          f"{m['train_seconds']:.1f} s")
    extra = ", config.json, checkpoint.safetensors" if cfg.checkpoint_every else ""
    print(f"run folder: {out} (model.lstmkit, metrics.json, forecast.png, history.png{extra})")


def cmd_predict(args):
    from .. import load
    from ..data import load_csv, load_dataset
    from ..data.dates import future_dates
    from ..apps.forecast import Transform, forecast
    from ..formats.modelfile import write_atomic

    model = load(args.model)
    meta = getattr(model, "metadata", {})
    if meta.get("task") != "forecast":
        raise ValueError(f"{args.model} is not a forecasting model written by `lstmkit train`.")
    config = meta["config"]
    if args.data is None and config["data"] is None:
        series = load_dataset("airline-passengers")
    else:
        path = args.data or meta.get("data_file") or config["data"]
        if args.data is None and not os.path.isfile(path):
            raise ValueError(f"{args.model} was trained on {path}, which is not there (from {os.getcwd()}); "
                             f"pass the series with --data FILE.")
        series = load_csv(path, column=args.column or meta.get("column"), fill=args.fill or config["fill"])
    if args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}.")
    needed = config["window"] + config["season"]
    if len(series.values) < needed:
        raise ValueError(f"the series has {len(series.values)} values; this model needs at least {needed} "
                         f"(window {config['window']} + season {config['season']}).")
    transform = Transform.from_dict(meta["transform"])
    if transform.log and np.any(series.values <= 0):
        raise ValueError("the series has values <= 0, but this model was trained on log values.")
    values = forecast(model, transform, config["window"], series.values, args.steps)
    dates = future_dates(series.dates, args.steps)
    header = ("step",) + (("date",) if dates else ()) + (series.name,)
    rows = [(str(k + 1),) + ((dates[k],) if dates else ()) + (repr(float(v)),) for k, v in enumerate(values)]
    if args.output:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([header, *rows])
        write_atomic(args.output, text.getvalue().encode())
        print(f"wrote {len(values)} forecasts to {args.output}")
    else:
        print_table(f"forecast after the last value of {series.source}", header,
                    [(*row[:-1], f"{float(row[-1]):.4f}") for row in rows])


def _train_classifier(args):
    """`lstmkit train --task classify`: the job of `lstmkit classify`, with the options the two share."""
    from ..apps.classify import ClassifyConfig
    from .classify import cmd_classify
    own = {f.name for f in fields(ClassifyConfig)}
    stray = [f.name for f in fields(ForecastConfig) if hasattr(args, f.name) and f.name not in own]
    if stray or args.resume:
        flags = ", ".join("--" + n.replace("_", "-") for n in stray + (["resume"] if args.resume else []))
        raise ValueError(f"--task classify does not take {flags} (options of forecasting).")
    return cmd_classify(args)


def register(sub):
    train = sub.add_parser("train", help="train a forecaster (default: LSTM on the shipped airline series)",
                           description="Train a recurrent forecaster and write a run folder with the model, "
                                       "metrics.json (test RMSE/MAE against the seasonal-naive and persistence "
                                       "forecasts), forecast.png and history.png.")
    from ..apps.classify import ClassifyConfig
    train.add_argument("--task", choices=("forecast", "classify"), default="forecast",
                       help="forecast a series (default), or classify the sequences of a .ts data set as "
                            "`lstmkit classify` does (default data: the shipped JapaneseVowels)")
    add_config_options(train, ForecastConfig)
    add_config_options(train, ClassifyConfig, skip={f.name for f in fields(ForecastConfig)})
    train.add_argument("--out", help="run folder (default: runs/<timestamp>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint, "
                       "with the settings saved there; only --epochs, --checkpoint-every and --device may change")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    predict = sub.add_parser("predict", help="forecast the values after the end of a series with a trained model",
                             description="Forecast the next --steps values after the last value of the series "
                                         "(the model's training series unless --data is given).")
    predict.add_argument("--model", required=True, help="model.lstmkit written by `lstmkit train`")
    predict.add_argument("--data", help="CSV file with the series (default: the one the model was trained on)")
    predict.add_argument("--column", help="numeric column (default: the model's training column)")
    predict.add_argument("--fill", choices=("interpolate",), help="interpolate missing values")
    predict.add_argument("--steps", type=int, default=12, help="how many future values (default: 12)")
    predict.add_argument("--output", help="write the forecast to this CSV instead of printing it")
    predict.set_defaults(func=cmd_predict)
