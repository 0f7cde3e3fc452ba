"""`lstmkit textgen train` and `lstmkit textgen sample`: the character-level language model. Options of `train`
come from TextgenConfig, so `--help` and the library never drift."""

import os
import sys
import time

from .classify import add_config_options, config_from_args
from .common import print_table


def cmd_train(args):
    from ..apps.textgen import TextgenConfig, train_textgen, write_run

    cfg = config_from_args(args, TextgenConfig)
    out = args.out or os.path.join("runs", "textgen-" + time.strftime("%Y%m%d-%H%M%S"))
    run = train_textgen(cfg, verbose=not args.quiet)
    write_run(run, out)
    m = run.metrics
    print_table(f"validation bits per character ({m['val_chars']:,} characters of {m['text']})",
                ("model", "bits/char"),
                [(f"lstmkit LSTM ({m['parameters']:,} parameters), one pass", f"{m['val_bpc']:.3f}"),
                 (f"lstmkit LSTM, {cfg.seq_len}-character sequences from a zero state", f"{m['val_bpc_chunked']:.3f}"),
                 ("unigram (character frequencies of the training part)", f"{m['unigram_bpc']:.3f}")])
    print(f"trained on {m['train_chars']:,} characters for {m['epochs_run']} epochs in {m['train_seconds']:.1f} s")
    t = 0.8 if 0.8 in run.samples else next(iter(run.samples))
    print(f"sample (temperature {t}):\n{run.samples[t][:300]}")
    print(f"run folder: {out} (model.lstmkit, metrics.json, history.png, samples.txt)")


def cmd_sample(args):
    import numpy as np

    from ..apps.textgen import load_textgen_model, sample

    model, vocab = load_textgen_model(args.model)
    prime = args.prime.replace("\\n", "\n").replace("\\t", "\t") if args.escapes else args.prime
    text = sample(model, vocab, prime=prime, length=args.length, temperature=args.temperature,
                  rng=np.random.default_rng(args.seed))
    sys.stdout.write(prime + text + "\n")


def register(sub):
    from ..apps.textgen import TextgenConfig

    textgen = sub.add_parser("textgen", help="character-level LSTM language model: train, sample",
                             description="A character-level LSTM language model (Embedding -> LSTM -> Dense).")
    commands = textgen.add_subparsers(dest="textgen_command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train on a text (default: the shipped Shakespeare excerpt)",
                                description="Train a character-level LSTM and write a run folder with the model, "
                                            "metrics.json (validation bits per character against the unigram "
                                            "baseline), history.png and samples.txt.")
    add_config_options(train, TextgenConfig)
    train.add_argument("--out", help="run folder (default: runs/textgen-<timestamp>)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    smp = commands.add_parser("sample", help="write text with a trained model",
                              description="Read the prime string, then write --length characters, each drawn "
                                          "from the model's distribution sharpened (temperature < 1) or flattened "
                                          "(> 1); temperature 0 always takes the most likely character.")
    smp.add_argument("--model", required=True, help="model.lstmkit written by `lstmkit textgen train`")
    smp.add_argument("--prime", default="\n", help="text the model reads before writing (default: a newline)")
    smp.add_argument("--escapes", action="store_true", help=r"read \n and \t in --prime as a newline and a tab")
    smp.add_argument("--length", type=int, default=500, help="characters to write (default: 500)")
    smp.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    smp.add_argument("--seed", type=int, default=None, help="random seed of the sampling (default: fresh)")
    smp.set_defaults(func=cmd_sample)
