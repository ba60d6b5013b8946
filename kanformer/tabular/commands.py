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
    from ..settings import read_yaml
    from . import run_tabular, tabular_config

    settings = read_yaml(args.config) if args.config else {}
    if args.tasks:
        settings["tasks"] = args.tasks
    if args.seeds is not None:
        settings["seeds"] = args.seeds
    cfg = tabular_config(settings)
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
    """Add ``tabular [CONFIG] [--tasks TASK ...] [--seeds N] [--output-dir DIR]`` to a subcommand action."""
    from ..tasks.tabular import OFFLINE_TASKS, TABULAR_TASKS

    hub = [name for name in TABULAR_TASKS if name not in OFFLINE_TASKS]
    p = sub.add_parser(
        "tabular",
        help="KAN vs MLP at matched parameters and the same training budget on tabular data sets, over seeds",
        description="Train a KAN [in, h, out] and an MLP whose hidden width is solved to match its parameter "
        "count, with the same AdamW budget and early stopping, on every task and seed; write report.md (a "
        "table per task, mean ± std over seeds), metrics.png and results.json (every run). Offline tasks: "
        f"{', '.join(OFFLINE_TASKS)} (scikit-learn's); from the Hugging Face Hub: {', '.join(hub)}.",
        epilog="example: kanformer tabular configs/tabular.yaml --tasks wine diabetes --seeds 3",
    )
    p.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="a YAML of benchmark settings (configs/tabular.yaml; default: its built-in defaults)",
    )
    p.add_argument("--tasks", nargs="+", metavar="TASK", help=f"tasks to run (known: {', '.join(TABULAR_TASKS)})")
    p.add_argument("--seeds", type=int, metavar="N", help="run seeds 0..N-1 (default 5)")
    p.add_argument("--output-dir", metavar="DIR", help="the report directory (default reports/<name>: reports/tabular)")
    p.set_defaults(func=cmd_tabular)
