"""The ``kanformer`` subcommands: one module each, with ``register(subparsers)`` and a thin ``run(args)``.

Registering imports no torch or transformers (``kanformer --help`` answers at once); ``run``
imports what the command needs. Settings flags and ``key=value`` help come from the config
dataclasses' field metadata (:mod:`kanformer.settings`). Errors are ValueErrors, which
:func:`kanformer.cli.main` prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys

# (module, attribute holding the register function); order is the help's.
COMMANDS: tuple[str, ...] = (
    "kanformer.commands.demo",
    "kanformer.commands.bench_layer",
    "kanformer.commands.inspect",
    "kanformer.commands.bench",
    "kanformer.commands.finetune",
    "kanformer.commands.compare",
    "kanformer.commands.report",
    "kanformer.paper.commands",
    "kanformer.interpret.plot_commands",
    "kanformer.interpret.symbolic_commands",
    "kanformer.tabular.commands",
)


def command_line(args: argparse.Namespace) -> str:
    """The command line as typed, for reports."""
    return "kanformer " + shlex.join(getattr(args, "argv", None) or sys.argv[1:])


def add_ffn_flag(parser: argparse.ArgumentParser, several: bool = False) -> None:
    """``--ffn SPEC``, the same grammar in every command (:func:`kanformer.train.config.ffn_settings`)."""
    from ..train.config import FFN_SPEC_HELP

    text = "the FFN variant. " + FFN_SPEC_HELP
    if several:
        parser.add_argument(
            "--ffn", action="append", metavar="SPEC", help=text + "; repeat for several variants (default: none, kan)"
        )
    else:
        parser.add_argument("--ffn", metavar="SPEC", help=text)


def add_json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", metavar="FILE", help=f"also write {what} (and the environment) as JSON")


def check_json_path(path: str | None) -> None:
    """A --json FILE must be a file name in an existing folder."""
    import os

    if path is None:
        return
    if os.path.isdir(path):
        raise ValueError(f"--json {path}: is a directory; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"--json {path}: the folder {folder!r} does not exist")


def add_output_dir_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--output-dir", metavar="DIR", help=what)
