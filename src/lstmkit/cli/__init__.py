"""The `lstmkit` command. Each subcommand lives in its own module with a `register(subparsers)` function; it
parses its options, calls the library and prints. A user error is one line on stderr and exit status 2;
`--debug` shows the traceback instead."""

import argparse
import sys

from ..runtime.backend import DeviceError
from . import (
    bench,
    classic,
    classify,
    experiment,
    export,
    forecast,
    forecast_global,
    inspection,
    textgen,
    tools,
)

COMMAND_MODULES = (forecast, forecast_global, classify, textgen, inspection, experiment, classic, export, tools, bench)


def build_parser():
    parser = argparse.ArgumentParser(prog="lstmkit", description="Recurrent neural networks from the equations.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except (ValueError, TypeError, FloatingPointError, OSError, DeviceError, ImportError) as err:
        if args.debug:
            raise
        print(f"lstmkit {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lstmkit {args.command}: interrupted", file=sys.stderr)
        return 130
