"""``kanformer report DIR``: render a comparison report again from its results.json."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render a comparison report again from its results.json",
        description="Re-render report.md, results.csv, runs.csv and the plots of DIRECTORY from its "
        "results.json, without re-running anything.",
    )
    p.add_argument("directory", metavar="DIR", help="a report directory written by kanformer compare")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Render from results.json, or, for a report still waiting on runs, from whatever finished."""
    from ..compare.jobs import render_report

    paths, missing = render_report(args.directory)
    print(f"wrote {paths[0]} and {len(paths) - 1} more files" + (f"; {len(missing)} runs missing" if missing else ""))
