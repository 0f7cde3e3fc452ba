"""`lstmkit inspect`: gate activations, cell state and hidden state of a trained LSTM on one input sequence."""

import os


def cmd_inspect(args):
    from ..apps.inspection import inspect_model

    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.model)), "inspect")
    text = inspect_model(args.model, out, layer=args.layer, depth=args.depth, direction=args.direction,
                         max_units=args.units, text=args.text, index=args.index, steps=args.steps,
                         input_file=args.input)
    print(text, end="")
    print(f"wrote {out}/ (inspect.png, summary.txt, activations.npz)")


def register(sub):
    parser = sub.add_parser("inspect", help="plot the gates and cell state of a trained LSTM on one sequence",
                            description="Run one input sequence through a trained model and write heatmaps "
                                        "(time x unit) of the input, forget and output gates, the cell state and "
                                        "the hidden state of an LSTM layer (inspect.png), a summary of which "
                                        "units hold information longest (summary.txt) and the raw arrays "
                                        "(activations.npz). The input comes from the model's own task: a text "
                                        "for textgen models, a test case for classifiers, the training series "
                                        "for forecasters; --input gives any other.")
    parser.add_argument("--model", required=True, help="a model.lstmkit with an LSTM layer")
    parser.add_argument("--out", help="output folder (default: inspect/ beside the model file)")
    parser.add_argument("--text", help="textgen models: the text to read (default: the opening of Richard III)")
    parser.add_argument("--index", type=int, default=0, help="classifiers: the test case to read (default: 0)")
    parser.add_argument("--steps", type=int, help="forecasters: only the last STEPS values of the series")
    parser.add_argument("--input", help="any model: a .npy or .csv file holding one sequence, one row per step")
    parser.add_argument("--layer", type=int, help="index of the LSTM layer in the model (default: the first LSTM)")
    parser.add_argument("--depth", type=int, default=0, help="stacked layer of that LSTM (default: 0)")
    parser.add_argument("--direction", type=int, default=0, choices=(0, 1),
                        help="1: the backward direction of a bidirectional LSTM")
    parser.add_argument("--units", type=int, default=48, help="units shown, longest memory first (default: 48)")
    parser.set_defaults(func=cmd_inspect)
