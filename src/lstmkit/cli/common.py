"""Helpers shared by the command modules."""

import argparse
from dataclasses import fields


def print_table(title, columns, rows):
    from ..training.progress import render_table
    render_table(title, columns, rows, print_fn=print)


def add_config_options(parser, config_class, skip=()):
    """One option per field of a config dataclass (`--batch-size` for `batch_size`; bools get `--x/--no-x`),
    except the fields named in `skip`. A field whose default is "auto" also takes `--x auto`; a bool one is
    `--x [{auto,yes,no}]` (a bare `--x` is yes) with `--no-x` kept as `--x no`. An option not given is absent
    from the parsed namespace (argparse.SUPPRESS), so the defaults stay in the dataclass; `config_from_args`
    builds the config from what was given."""
    for f in fields(config_class):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kwargs = {"help": f.metadata["help"] + (f" (default: {f.default})" if f.default is not None else ""),
                  "default": argparse.SUPPRESS}
        if f.type is bool and f.default == "auto":
            parser.add_argument(flag, nargs="?", const=True, type=_yes_no_auto, metavar="{auto,yes,no}", **kwargs)
            parser.add_argument("--no-" + flag[2:], dest=f.name, action="store_const", const=False,
                                default=argparse.SUPPRESS, help=f"the same as {flag} no")
            continue
        if f.type is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if f.default == "auto":
            kwargs["type"] = _or_auto(f.type)
            parser.add_argument(flag, metavar="{auto,N}" if f.type is int else "{auto,X}", **kwargs)
            continue
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        parser.add_argument(flag, type=f.type, metavar=None if "choices" in f.metadata else f.name.upper(), **kwargs)


def _yes_no_auto(text):
    words = {"auto": "auto", "yes": True, "no": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"expected auto, yes or no, got {text!r}")
    return words[text.lower()]


def _or_auto(kind):
    def parse(text):
        if text == "auto":
            return text
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected 'auto' or {'an integer' if kind is int else kind.__name__}, "
                                             f"got {text!r}") from None
    return parse


def config_from_args(args, config_class):
    return config_class(**{f.name: getattr(args, f.name) for f in fields(config_class) if hasattr(args, f.name)})
