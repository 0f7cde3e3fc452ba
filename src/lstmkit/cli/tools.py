"""`lstmkit datasets` and `lstmkit gradcheck`."""

from .common import print_table


def cmd_datasets(args):
    from ..data import list_datasets
    from ..data.ts import CLASSIFICATION_DATASETS
    from ..apps.textgen import SHIPPED_TEXT, load_text
    rows = [(d["name"], "train", f"{d['length']} values", d["description"], d["source"])
            for d in list_datasets()]
    rows += [(name, "classify", "", info["description"], info["source"])
             for name, info in CLASSIFICATION_DATASETS.items()]
    rows.append((SHIPPED_TEXT, "textgen", f"{len(load_text()):,} chars",
                 "Shakespeare's Coriolanus and Richard III (the start of tiny Shakespeare)", "public domain"))
    print_table("shipped data sets", ("name", "used by", "size", "description", "source"), rows)


def cmd_gradcheck(args):
    from ..training.gradcheck import check_all_layers
    rows = check_all_layers(seed=args.seed)
    print_table(f"finite-difference gradient check, float64 (tolerance {args.tol:g})",
                 ("layer", "max per-entry error", "result"),
                 [(name, f"{err:.2e}", "ok" if err <= args.tol else "FAILED") for name, err in rows])
    if any(err > args.tol for _, err in rows):
        return 1
    return 0


def register(sub):
    datasets = sub.add_parser("datasets", help="list the data sets shipped with lstmkit")
    datasets.set_defaults(func=cmd_datasets)

    grad = sub.add_parser("gradcheck", help="check every layer's backward pass against finite differences")
    grad.add_argument("--tol", type=float, default=1e-6,
                      help="largest accepted per-entry error |analytic - numeric| / (|numeric| + 0.01) (default: 1e-6)")
    grad.add_argument("--seed", type=int, default=0, help="random seed of the test inputs")
    grad.set_defaults(func=cmd_gradcheck)
