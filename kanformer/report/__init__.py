"""Comparison reports: aggregation, tables and plots.

results = build_results(config, runs, benches)   # every number, JSON-able
write_report(results, "reports/quickstart")      # report.md, results.json/.csv, runs.csv, *.png
rerender("reports/quickstart")                   # again, from results.json alone
"""

from .aggregate import build_results, summarize
from .files import load_results, rerender, write_report

__all__ = ["build_results", "load_results", "rerender", "summarize", "write_report"]
