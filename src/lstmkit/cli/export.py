"""`lstmkit export`: write a model file (`.lstmkit`) in another format; ONNX for now (see lstmkit/formats/export.py)."""

import os

FORMATS = ("onnx",)


def cmd_export(args):
    import numpy as np

    from ..formats import export
    from .. import load

    model = load(args.model)
    out = args.out or os.path.splitext(args.model)[0] + "." + args.format
    try:
        export.onnx(model, out, opset=args.opset, sequence_lens=args.sequence_lens)
    except ImportError as err:                     # a missing optional package is a one-line user error here
        raise ValueError(str(err)) from None
    first = model.layers[0]
    x_kind = "int64 token ids" if first.takes_indices else "float32"
    print(f"wrote {out} ({' -> '.join(type(layer).__name__ for layer in model.layers)}): ONNX opset {args.opset}, "
          f"input x ({', '.join(map(str, export.input_dims(model)))}) {x_kind}"
          + (", sequence_lens (batch,) int32" if args.sequence_lens else "") + ", output y")
    if getattr(model, "metadata", None):
        print("the graph maps the network's inputs to its outputs; the model file's metadata (a forecaster's "
              "scaler and window) is kept in the ONNX metadata_props 'lstmkit.metadata'")
    if args.verify:
        rng = np.random.default_rng(0)
        shape = (4,) + tuple(16 if d is None else d for d in model.input_shape)
        x = rng.integers(0, first.num_embeddings, shape) if first.takes_indices else rng.standard_normal(shape)
        lens = np.full(4, shape[1], np.int32) if args.sequence_lens else None
        try:
            err = export.compare_with_onnxruntime(model, out, x, lens)
        except ImportError as err:
            raise ValueError(f"{err} (or leave out --verify)") from None
        print(f"ONNX Runtime against lstmkit on a random batch {shape}: largest absolute difference {err:.2e}")
        if not err <= args.tol:
            print(f"the difference exceeds --tol {args.tol:g}")
            return 1
    return 0


def register(sub):
    from ..formats.export import OPSET

    parser = sub.add_parser("export", help="write a trained model as ONNX (runs in ONNX Runtime without lstmkit)",
                            description="Export a model file to ONNX with ONNX's own LSTM, GRU and RNN operators. "
                                        "Exportable layers: Embedding (first), Dense, Dropout, SimpleRNN, LSTM "
                                        "(also peephole, coupled, without forget gate), GRU, any num_layers, "
                                        "bidirectional. Needs `pip install onnx` (and onnxruntime for --verify).")
    parser.add_argument("--model", required=True, help="the model file (.lstmkit)")
    parser.add_argument("--format", required=True, choices=FORMATS, help="the output format")
    parser.add_argument("--out", help="output path (default: the model path with the format's suffix)")
    parser.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default: {OPSET})")
    parser.add_argument("--sequence-lens", action="store_true",
                        help="add the graph input sequence_lens (batch,) for right-padded variable-length batches")
    parser.add_argument("--verify", action="store_true",
                        help="run the exported file in ONNX Runtime on a random batch and compare with lstmkit")
    parser.add_argument("--tol", type=float, default=1e-4,
                        help="largest absolute difference --verify accepts (default: 1e-4)")
    parser.set_defaults(func=cmd_export)
