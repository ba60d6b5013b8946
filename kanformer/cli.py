"""The ``kanformer`` command line. Each subcommand lives in its own module (:mod:`kanformer.commands`)
with ``register(subparsers)`` and a thin ``run(args)``; this module only builds the parser and turns
errors into one line.

One error path: a ValueError (settings errors included) or OSError raised by any command is printed
as ``kanformer COMMAND: error: <one line>`` on stderr with exit status 2 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import import_module

from . import __version__
from .commands import COMMANDS

# Heavy modules (torch, transformers, datasets) are imported inside each command's run(), so
# `kanformer --help` and `kanformer COMMAND --help` answer at once.


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kanformer",
        description="KAN feed-forward blocks for transformers: layers, benchmarks and reports.",
    )
    parser.add_argument("--version", action="version", version=f"kanformer {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        import_module(module).register(sub)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; ``key=value`` pairs may also come after the options (into ``args.settings``)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        if isinstance(getattr(args, "settings", None), list) and all("=" in e and not e.startswith("-") for e in extra):
            args.settings += extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(parser, argv)
    args.argv = argv
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except (ValueError, OSError) as err:  # transformers' messages can span lines: keep one
        if args.debug:
            raise
        print(f"kanformer {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
