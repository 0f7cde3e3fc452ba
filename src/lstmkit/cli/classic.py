"""`lstmkit classic`: a perceptron, a delta-rule sigmoid unit and a two-layer net taught AND, OR and XOR; prints
each gate's decision table. Options come from ClassicConfig, so `--help` and the library never drift."""

from dataclasses import fields

import numpy as np

from ..apps.classic import BOOLEAN_INPUTS, GATES, ClassicConfig
from .common import print_table


def _outcome(unit, right):
    if unit.converged_epoch is not None:
        return f"{right}/4 (epoch {unit.converged_epoch})"
    return f"{right}/4 ({'never 4/4' if right < 4 else 'loose'} in {len(unit.history)} epochs)"


def cmd_classic(args):
    from ..apps.classic import run_classic

    config = ClassicConfig(**{f.name: getattr(args, f.name) for f in fields(ClassicConfig)})
    net = f"2-{config.hidden}-1 net"
    summary = {"perceptron": [], "sigmoid unit, delta rule": [], f"{net}, backprop": []}
    for r in run_classic(config):
        p = r.perceptron.predict(BOOLEAN_INPUTS)
        s = r.sigmoid_unit.predict_proba(BOOLEAN_INPUTS)
        m = r.mlp.predict_proba(BOOLEAN_INPUTS)
        for column, unit, y in zip(summary.values(), (r.perceptron, r.sigmoid_unit, r.mlp), (p, s, m)):
            column.append(_outcome(unit, int(np.sum((y > 0.5) == (r.d > 0.5)))))
        rows = [(int(x1), int(x2), int(d), int(py), f"{sy:.2f} -> {int(sy > 0.5)}", f"{my:.2f} -> {int(my > 0.5)}")
                for (x1, x2), d, py, sy, my in zip(BOOLEAN_INPUTS, r.d, p, s, m)]
        print_table(f"d = x1 {r.gate} x2", ("x1", "x2", "d", "perceptron y", "sigmoid unit y", f"{net} y"), rows)
    print_table("right decisions out of 4 (epoch where training reached its goal)", ("unit", *GATES),
                [(unit, *cells) for unit, cells in summary.items()])
    if not summary[f"{net}, backprop"][-1].startswith("4/4"):
        print(f"the {net} stopped in a local minimum on XOR with seed {config.seed}; try another --seed or "
              f"--hidden 3")
    print("A single unit draws one straight line through the input plane: it separates AND and OR, never XOR. "
          "The hidden layer bends the boundary, and backpropagation learns XOR.")
    return 0


def register(sub):
    parser = sub.add_parser("classic", help="perceptron, delta rule and backprop on AND, OR and XOR",
                            description="Teach AND, OR and XOR to a perceptron (Rosenblatt's rule), a sigmoid unit "
                                        "(delta rule) and a two-layer net (backpropagation); print decision tables.")
    for f in fields(ClassicConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), type=f.type, default=f.default,
                            metavar=f.name.upper(), help=f"{f.metadata['help']} (default: {f.default})")
    parser.set_defaults(func=cmd_classic)
