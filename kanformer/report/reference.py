"""A comparison's numbers beside a reference report's (e.g. the committed reports/quickstart/).

    rows = against_reference(results, load_results("reports/quickstart"))
    print(render_against(results, reference, "reports/quickstart"))

One row per model x task x variant of either report: the metric's mean in each and their
difference, and the training throughput (``kanformer bench``) in each and their ratio.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..provenance import describe
from ..reporting.tables import num, table, times
from .markdown import metric_name


def _key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return row["model"], row["task"], row["variant"]


def against_reference(results: Mapping[str, Any], reference: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per model x task x variant (this report's order, then those only the reference has): ``metric``,
    ``mean`` / ``reference_mean`` / ``diff`` (this minus reference), ``train_samples_per_s`` /
    ``reference_train_samples_per_s`` / ``train_speed_ratio`` (this over reference); None where absent."""
    ours = {_key(r): r for r in results["summary"]}
    theirs = {_key(r): r for r in reference["summary"]}
    rows = []
    for key in [*ours, *(k for k in theirs if k not in ours)]:
        a, b = ours.get(key, {}), theirs.get(key, {})
        mean, ref_mean = a.get("mean"), b.get("mean")
        speed, ref_speed = a.get("train_samples_per_s"), b.get("train_samples_per_s")
        rows.append(
            {
                "model": key[0],
                "task": key[1],
                "variant": key[2],
                "metric": a.get("metric") or b.get("metric"),
                "mean": mean,
                "reference_mean": ref_mean,
                "diff": None if mean is None or ref_mean is None else mean - ref_mean,
                "train_samples_per_s": speed,
                "reference_train_samples_per_s": ref_speed,
                "train_speed_ratio": speed / ref_speed if speed is not None and ref_speed else None,
            }
        )
    return rows


def render_against(results: Mapping[str, Any], reference: Mapping[str, Any], reference_name: str) -> str:
    """A markdown table of :func:`against_reference`, headed by where each report ran."""
    where = {name: r.get("environment") or {} for name, r in (("this run", results), ("reference", reference))}
    lines = [f"Against the reference {reference_name}:"]
    lines += [f"- {name}: {describe(env) if env else 'an unrecorded machine'}" for name, env in where.items()]
    threads = {name: env.get("torch_threads") for name, env in where.items()}
    if len(set(threads.values())) > 1:
        lines.append(f"- torch threads differ ({threads['this run']} vs {threads['reference']}): metrics will differ")
    lines.append("")
    header = ["model", "task", "variant", "metric", "this run", "reference", "diff", "train samples/s", "× reference"]
    body = [
        [
            r["model"],
            r["task"],
            r["variant"],
            metric_name(r["metric"]) if r["metric"] else "-",
            num(r["mean"], ".4f"),
            num(r["reference_mean"], ".4f"),
            num(r["diff"], "+.4f"),
            f"{num(r['train_samples_per_s'])} / {num(r['reference_train_samples_per_s'])}",
            times(r["train_speed_ratio"]),
        ]
        for r in against_reference(results, reference)
    ]
    return "\n".join(lines + table(header, body, align="llll"))


__all__ = ["against_reference", "render_against"]
