"""The report of ``kanformer compare``: aggregation, report.md, plots, the README table and reference checks.

results = build_results(config, runs, benches)   # every number, JSON-able
write_report(results, "reports/quickstart")      # report.md, results.json/.csv, runs.csv, *.png
rerender("reports/quickstart")                   # again, from results.json alone

The helpers every report shares (tables, markdown sections, plot primitives) are in :mod:`kanformer.reporting`.
"""

from .aggregate import build_results, summarize
from .files import load_results, rerender, write_report

__all__ = ["build_results", "load_results", "rerender", "summarize", "write_report"]
