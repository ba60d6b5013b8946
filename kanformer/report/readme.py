"""The README's quickstart results table, generated from a report's results.json.

    python -m kanformer.report.readme reports/quickstart     # print the table to paste into README.md

tests/test_readme.py checks that README.md holds exactly this table for reports/quickstart/.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ..reporting.tables import num, si, table, times

MODEL_LABELS = {
    "minilm": "MiniLM (pretrained)",
    "small-vit": "small ViT (scratch)",
    "small-gpt2": "small GPT-2 (scratch)",
}
TASK_LABELS = {"bbc-news": "BBC News", "fashion-mnist": "Fashion-MNIST"}
VARIANT_LABELS = {
    "kan-warm": "kan-warm (starts as the MLP)",
    "kan-match-params": "kan-match-params (new FFNs)",
    "kan-distill": "kan-distill (match-params, distilled)",
    "grkan-warm": "grkan-warm (KAT, calibrated)",
    "kan": "kan (match-params)",
}
COLUMNS = ("model, task", "variant", "{metric}", "Δ vs original", "params", "train samples/s", "infer samples/s")
HEADER = "| " + " | ".join(COLUMNS) + " |"


def _metric(r: Mapping[str, Any]) -> str:
    return num(r["mean"], ".3f") + ("" if r.get("std") is None else f" ± {r['std']:.3f}")


def _delta(r: Mapping[str, Any]) -> str:
    if r["is_original"] or r.get("delta") is None:
        return ""
    if r.get("noise") is None:
        return f"{r['delta']:+.3f}"
    return f"{r['delta']:+.3f} ({'beyond' if r['beyond_noise'] else 'within'} noise)"


def _with_ratio(text: str, ratio: float | None, original: bool) -> str:
    return text if original or ratio is None else f"{text} ({times(ratio)})"


def readme_table(results: Mapping[str, Any]) -> list[str]:
    """The table's lines: one row per summary row (model x task x variant), the model, task and
    training steps written once per model and task; the metric as mean ± std over seeds, its
    difference to the original and whether that exceeds 2 standard errors (seed noise); ratios
    (×) to the original beside each number."""
    summary = results["summary"]
    metrics = {r["metric"].split("/", 1)[-1] for r in summary}
    steps = {(r["model"], r["task"]): (r.get("run_config") or {}).get("max_steps") for r in results["runs"]}
    rows = []
    seen: set[tuple[str, str]] = set()
    for r in summary:
        key = (r["model"], r["task"])
        first = ""
        if key not in seen:
            seen.add(key)
            first = f"{MODEL_LABELS.get(r['model'], r['model'])}, {TASK_LABELS.get(r['task'], r['task'])}"
            if steps.get(key):
                first += f", {steps[key]} steps"
        original = r["is_original"]
        rows.append(
            [
                first,
                VARIANT_LABELS.get(r["variant"], r["variant"]),
                _metric(r),
                _delta(r),
                _with_ratio(si(r["params"]), r["params_ratio"], original),
                _with_ratio(num(r["train_samples_per_s"]), r["train_speed_ratio"], original),
                _with_ratio(num(r["infer_samples_per_s"]), r["infer_speed_ratio"], original),
            ]
        )
    metric = metrics.pop() if len(metrics) == 1 else "metric"
    return table([c.format(metric=metric) for c in COLUMNS], rows, align="ll", spaced_rule=True)


def main(argv: list[str] | None = None) -> int:
    """Print the README table of the report directory given as the only argument."""
    from .files import load_results

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m kanformer.report.readme REPORT_DIR (e.g. reports/quickstart)", file=sys.stderr)
        return 2
    try:
        results = load_results(args[0])
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(readme_table(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["readme_table"]
