"""`lstmkit classify`: sequence classification on a shipped .ts data set (or your own). Its options come from
ClassifyConfig, so `--help` and the library never drift."""

import os
import time

from .common import add_config_options, config_from_args, print_table


def cmd_classify(args):
    from ..apps.classify import ClassifyConfig, train_classifier, write_run

    cfg = config_from_args(args, ClassifyConfig)
    out = args.out or os.path.join("runs", "classify-" + time.strftime("%Y%m%d-%H%M%S"))
    run = train_classifier(cfg, verbose=not args.quiet)
    write_run(run, out)
    print_classify_report(run, out)


def print_classify_report(run, out):
    """The accuracy table and the run folder line (shared with `lstmkit train --task classify`)."""
    m = run.metrics
    from ..apps.classify import name
    rows = [(f"lstmkit {name(run.config)}", f"{m['test_accuracy']:.3f}"),
            (m["baseline"], f"{m['baseline_accuracy']:.3f}"),
            (m["dtw"], f"{m['dtw_accuracy']:.3f}"),
            (m["majority"], f"{m['majority_accuracy']:.3f}")]
    rows += [(f"published: {name}", f"{value:.3f}") for name, value in m["reference"].items()]
    print_table(f"test accuracy on {m['dataset']} ({m['test_cases']} cases, {m['classes']} classes)",
                ("classifier", "test accuracy"), rows)
    print(f"trained {m['members']} model(s) of {m['parameters']:,} parameters for {'/'.join(map(str, m['epochs_run']))}"
          f" epochs in {m['train_seconds']:.1f} s; validation accuracy (held-out folds) {m['validation_accuracy']:.3f}")
    print(f"run folder: {out} (model-1..{m['members']}.lstmkit, metrics.json, history.png, confusion.png)")


def register(sub):
    from ..apps.classify import ClassifyConfig

    parser = sub.add_parser("classify", help="train a sequence classifier (default: LSTM on the shipped "
                                             "JapaneseVowels speaker data)",
                            description="Train a recurrent sequence classifier on the training split of a .ts "
                                        "data set and write a run folder with the model, metrics.json (test "
                                        "accuracy against 1-NN Euclidean and the majority class), history.png "
                                        "and confusion.png.")
    add_config_options(parser, ClassifyConfig)
    parser.add_argument("--out", help="run folder (default: runs/classify-<timestamp>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_classify)
