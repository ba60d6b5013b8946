"""Turn run records and bench numbers into the rows of a comparison report.

``build_results`` is the only place numbers are combined: the markdown, CSV and plots
render what it returns (and what results.json keeps), nothing else.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from ..provenance import timestamp

#: bench numbers copied into each summary row: summary key -> path in the bench record
BENCH_FIELDS: dict[str, tuple[str, ...]] = {
    "params": ("params",),
    "ffn_params": ("ffn_params",),
    "trainable_params": ("trainable_params",),
    "flops_per_sample": ("flops_per_sample",),
    "train_samples_per_s": ("train", "samples_per_s"),
    "train_tokens_per_s": ("train", "tokens_per_s"),
    "train_step_ms": ("train", "step_ms"),
    "infer_samples_per_s": ("inference", "samples_per_s"),
    "latency_ms_p50": ("inference", "latency_ms_p50"),
    "latency_ms_p95": ("inference", "latency_ms_p95"),
    "peak_memory_mib": ("peak_memory_mib",),
}

#: summary key of a ratio vs the original -> the number it divides
RATIOS: dict[str, str] = {
    "params_ratio": "params",
    "flops_ratio": "flops_per_sample",
    "train_speed_ratio": "train_samples_per_s",
    "infer_speed_ratio": "infer_samples_per_s",
    "memory_ratio": "peak_memory_mib",
}


def _get(record: dict[str, Any] | None, path: Sequence[str]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return a / b


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _baseline(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The row the others are compared with: an unmodified model, preferably the variant named
    ``original``, preferably one with a metric (several variants may leave the FFN alone)."""
    originals = [r for r in rows if r["is_original"]]
    originals.sort(key=lambda r: (r["mean"] is None, r["variant"] != "original"))
    return originals[0] if originals else None


def _fit(group: list[dict[str, Any]]) -> dict[str, Any]:
    """How well the new FFNs matched the original before fine-tuning (init=distill, calibrate):
    per-layer R^2 of the first run (the start is the same for every seed), and its seconds."""
    from ..plugin.kanify import start_fit

    record = next((r["kanify"] for r in group if r.get("kanify")), None) or {}
    r2, kind = start_fit(record)
    return {"fit_r2": r2, "fit_r2_kind": kind, "distill_seconds": record.get("distill_seconds")}


def summarize(
    runs: list[dict[str, Any]],
    benches: list[dict[str, Any]],
    originals: set[str],
    baselines: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per model x task x variant, in the order the runs came.

    Each row: metric mean, sample std (None for one seed) and n over seeds; ``delta`` vs
    the original variant of the same model and task (``baseline``: its name; the variant's own
    entry in ``baselines`` where it has one), with ``noise`` (2 standard errors of
    that difference) and ``beyond_noise``; the fit of a distilled or calibrated start
    (``fit_r2`` per layer); the bench numbers
    (:data:`BENCH_FIELDS`) and their ratios vs the original (:data:`RATIOS`): vs the original
    benched beside it where the bench record has one (``paired_original``), else vs the
    original variant's row.
    ``originals`` names the variants that are the unmodified model.
    """
    bench_by_key = {(b["model"], b["task"], b["variant"]): b for b in benches}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["model"], r["task"], r["variant"]), []).append(r)
    rows = []
    for (model, task, variant), group in groups.items():
        values = _finite([r["value"] for r in group])
        bench = bench_by_key.get((model, task, variant))
        row: dict[str, Any] = {
            "model": model,
            "task": task,
            "variant": variant,
            "is_original": variant in originals,
            "metric": group[0]["metric"],
            "mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else None,
            "n": len(values),
            "seeds": [r["seed"] for r in group],
            "finetune_seconds": statistics.fmean(r["finetune_seconds"] for r in group),
            **_fit(group),
        }
        row.update({k: _get(bench, path) for k, path in BENCH_FIELDS.items()})
        rows.append(row)
    bases = {
        key: _baseline([r for r in rows if (r["model"], r["task"]) == key])
        for key in {(r["model"], r["task"]) for r in rows}
    }
    by_variant = {(r["model"], r["task"], r["variant"]): r for r in rows}
    for row in rows:
        base = bases[(row["model"], row["task"])]
        if (baselines or {}).get(row["variant"]):
            base = by_variant.get((row["model"], row["task"], baselines[row["variant"]]))
        row["baseline"] = base["variant"] if base else None
        row["delta"] = (
            row["mean"] - base["mean"] if base and row["mean"] is not None and base["mean"] is not None else None
        )
        # A bench that measured the original beside the variant (compare's paired bench) is the
        # reference for every bench ratio: the original's own row was benched minutes earlier.
        paired = (bench_by_key.get((row["model"], row["task"], row["variant"])) or {}).get("paired_original")
        for key, field in RATIOS.items():
            reference = _get(paired, BENCH_FIELDS[field]) if paired else (base[field] if base else None)
            row[key] = _ratio(row[field], reference)
        row["noise"] = noise(row, base) if base is not None and row is not base else None
        row["beyond_noise"] = (
            abs(row["delta"]) > row["noise"] if row["noise"] is not None and row["delta"] is not None else None
        )
    return rows


def noise(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Two standard errors of the difference of two rows' means; None without seed replicates on both."""
    if a.get("std") is None or b.get("std") is None:
        return None
    return 2 * math.sqrt(a["std"] ** 2 / a["n"] + b["std"] ** 2 / b["n"])


def build_results(
    config: Any,
    runs: list[dict[str, Any]],
    benches: list[dict[str, Any]],
    command: str | None = None,
    seconds: float | None = None,
    environment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a report shows, JSON-able (the content of results.json).

    ``config`` is a :class:`~kanformer.compare.config.CompareConfig`.
    """
    if environment is None:
        from ..provenance import environment as current

        devices = {b.get("device", "cpu") for b in benches} or {"cpu"}
        environment = current(sorted(devices)[0])
    originals = {name for name, ffn in config.variants.items() if ffn is None}
    return {
        "name": config.name,
        "description": config.description,
        "created": timestamp(),
        "command": command,
        "wall_seconds": seconds,
        "config": config.raw,
        "variants": config.variants,
        "environment": environment,
        "runs": runs,
        "bench": benches,
        "summary": summarize(runs, benches, originals, config.baselines),
    }


__all__ = ["BENCH_FIELDS", "RATIOS", "build_results", "noise", "summarize"]
