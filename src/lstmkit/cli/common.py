"""Helpers shared by the command modules."""

import argparse
from dataclasses import fields


def print_table(title, columns, rows):
    from ..progress import render_table
    render_table(title, columns, rows, print_fn=print)


def add_config_options(parser, config_class, skip=()):
    """One option per field of a config dataclass (`--batch-size` for `batch_size`; bools get `--x/--no-x`),
    except the fields named in `skip`. An option not given is absent from the parsed namespace
    (argparse.SUPPRESS), so the defaults stay in the dataclass; `config_from_args` builds the config from what
    was given."""
    for f in fields(config_class):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kwargs = {"help": f.metadata["help"] + (f" (default: {f.default})" if f.default is not None else ""),
                  "default": argparse.SUPPRESS}
        if f.type is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        parser.add_argument(flag, type=f.type, metavar=None if "choices" in f.metadata else f.name.upper(), **kwargs)


def config_from_args(args, config_class):
    return config_class(**{f.name: getattr(args, f.name) for f in fields(config_class) if hasattr(args, f.name)})
