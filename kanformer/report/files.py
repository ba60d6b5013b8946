"""The files of a report directory: report.md, results.json, results.csv, runs.csv and PNG plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ..io import atomic_write_json, atomic_write_text
from .markdown import render_markdown

RESULTS = "results.json"

_PLOT_TITLES = {
    "accuracy_vs_params": "metric vs parameters",
    "accuracy_vs_throughput": "metric vs training throughput",
    "throughput": "training and inference throughput",
    "training_curves": "training loss",
}


def _csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()})
    return buf.getvalue()


def _run_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in runs:
        row = {k: r.get(k) for k in ("id", "model", "task", "variant", "seed", "metric", "value", "finetune_seconds")}
        row["train_peak_memory_mib"] = r.get("train_peak_memory_mib")
        row.update({k: v for k, v in (r.get("final") or {}).items() if k != "step"})
        rows.append(row)
    return rows


def write_report(results: dict[str, Any], report_dir: str | Path) -> list[Path]:
    """Write every report file into ``report_dir`` (atomically, each); returns their paths, report.md first."""
    from .plots import PLOT_FILES, write_plots

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    # results.json first: whatever fails after it, `kanformer report` can render again from it.
    results_path = atomic_write_json(report_dir / RESULTS, results)
    plots = write_plots(results, report_dir)
    names = {p.name for p in plots}
    titles = {_PLOT_TITLES.get(key, key): file for key, file in PLOT_FILES.items() if file in names}
    paths = [atomic_write_text(report_dir / "report.md", render_markdown(results, titles)), results_path]
    paths.append(atomic_write_text(report_dir / "results.csv", _csv(results["summary"])))
    paths.append(atomic_write_text(report_dir / "runs.csv", _csv(_run_rows(results["runs"]))))
    return paths + list(plots)


def load_results(report_dir: str | Path) -> dict[str, Any]:
    """results.json of a report directory; ValueError (one line) when it is missing or unreadable."""
    path = Path(report_dir) / RESULTS
    if not path.is_file():
        raise ValueError(
            f"{report_dir!s} holds no {RESULTS}: it is not a report directory written by kanformer compare"
        )
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} cannot be read: {err}") from None
    missing = [k for k in ("name", "runs", "summary") if k not in results]
    if missing:
        raise ValueError(f"{path} lacks {missing}: not a kanformer compare results file")
    return results


def rerender(report_dir: str | Path) -> list[Path]:
    """Write the report again from ``report_dir/results.json`` (nothing is re-run)."""
    return write_report(load_results(report_dir), report_dir)


__all__ = ["RESULTS", "load_results", "rerender", "write_report"]
