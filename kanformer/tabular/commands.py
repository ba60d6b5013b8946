"""``kanformer tabular``: KAN vs MLP at matched parameters on tabular data, as a subcommand.

    from kanformer.tabular.commands import register
    register(sub)  # sub: the parser's add_subparsers() action

User errors raise a one-line ValueError, which the main command line prints as one line.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys


def cmd_tabular(args: argparse.Namespace) -> None:
    """Run the tabular benchmark and write its report (report.md, results.json, metrics.png)."""
    from ..reporting.tables import metric_cell, table
    from ..settings import flag_values, settings_from
    from . import run_tabular
    from .config import TabularConfig

    cfg = settings_from(TabularConfig, args.config, flag_values(args, TabularConfig), args.settings, what="tabular")
    output_dir = args.output_dir or os.path.join("reports", cfg.name)
    if os.path.isfile(output_dir):
        raise ValueError(f"--output-dir {output_dir}: is a file; give a directory")
    command = "kanformer " + shlex.join(getattr(args, "argv", None) or sys.argv[1:])
    results = run_tabular(cfg, output_dir, command=command)
    rows = []
    for row in results["summary"]:
        metric = results["tasks"][row["task"]]["metrics"][0]
        cell = metric_cell(row["metrics"][metric])
        rows.append([row["task"], row["model"], f"{row['params']:,}", f"{metric} {cell}"])
    header = ["task", "model", "params", "main metric (mean ± std over seeds)"]
    print("\n".join(table(header, rows, align="llrl", markdown=False)))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``tabular [CONFIG] [--<setting> ...] [--output-dir DIR] [key=value ...]`` to a subcommand action."""
    from ..settings import add_setting_flags
    from ..tasks.tabular import OFFLINE_TASKS, TABULAR_TASKS
    from .config import TabularConfig

    hub = [name for name in TABULAR_TASKS if name not in OFFLINE_TASKS]
    p = sub.add_parser(
        "tabular",
        help="KAN vs MLP at matched parameters and the same training budget on tabular data sets, over seeds",
        description="Train a KAN [in, h, out] and an MLP whose hidden width is solved to match its parameter "
        "count, with the same AdamW budget and early stopping, on every task and seed; write report.md (a "
        "table per task, mean ± std over seeds), metrics.png and results.json (every run). Offline tasks: "
        f"{', '.join(OFFLINE_TASKS)} (scikit-learn's); from the Hugging Face Hub: {', '.join(hub)}. "
        "Settings come from CONFIG, then the flags, then key=value pairs.",
        epilog="example: kanformer tabular configs/tabular.yaml --tasks wine diabetes --seeds 3",
    )
    p.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="a YAML of benchmark settings (configs/tabular.yaml; default: its built-in defaults)",
    )
    p.add_argument("--output-dir", metavar="DIR", help="the report directory (default reports/<name>: reports/tabular)")
    p.add_argument("settings", nargs="*", metavar="key=value", help="TabularConfig fields (as the flags)")
    add_setting_flags(p, TabularConfig, title="tabular settings (TabularConfig)")
    p.set_defaults(func=cmd_tabular)
