"""report.md from a results dict: summary, per-task tables, plots, setup and environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..reporting.markdown import generated_line, reproduce_section
from ..reporting.tables import metric_cell, num, si, table, times
from .aggregate import noise as two_se


def delta_cell(row: dict[str, Any]) -> str:
    """'+0.0113 (beyond 2 SE 0.0080)', '-0.0050 (within 2 SE 0.0120)' or '+0.0113 (1 seed)'."""
    if row["is_original"]:
        return "(baseline)"
    if row["delta"] is None:
        return "-"
    if row.get("noise") is None:
        return f"{row['delta']:+.4f} (1 seed)" + _versus(row)
    cell = f"{row['delta']:+.4f} ({'beyond' if row['beyond_noise'] else 'within'} 2 SE {row['noise']:.4f})"
    return cell + _versus(row)


def _versus(row: dict[str, Any]) -> str:
    """' vs `x`' where a row is compared with an original other than the variant named ``original``."""
    base = row.get("baseline")
    return f" vs `{base}`" if base and base != "original" and not row["is_original"] else ""


def fit_cell(row: dict[str, Any]) -> str:
    """Mean (min-max) R^2 of the new FFNs against the original ones at the start, or '-'."""
    r2 = row.get("fit_r2")
    if not r2:
        return "-"
    text = f"{sum(r2) / len(r2):.3f}" + (f" ({min(r2):.2f}-{max(r2):.2f})" if len(r2) > 1 else "")
    return text + ("" if row.get("fit_r2_kind") == "held-out" else " in-sample")


def metric_name(key: str) -> str:
    """``validation/accuracy`` -> ``accuracy``."""
    return key.split("/", 1)[-1]


_COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("model", lambda r: r["model"]),
    ("variant", lambda r: r["variant"]),
    ("metric (mean ± std)", metric_cell),
    ("Δ vs original", delta_cell),
    ("start R²", fit_cell),
    ("params", lambda r: si(r["params"])),
    ("params ×", lambda r: times(r["params_ratio"])),
    ("FFN params", lambda r: si(r["ffn_params"])),
    ("GFLOPs/sample", lambda r: num(None if r["flops_per_sample"] is None else r["flops_per_sample"] / 1e9, ".3g")),
    ("train samples/s", lambda r: num(r["train_samples_per_s"])),
    ("train ×", lambda r: times(r["train_speed_ratio"])),
    ("infer samples/s", lambda r: num(r["infer_samples_per_s"])),
    ("infer ×", lambda r: times(r["infer_speed_ratio"])),
    ("latency p50/p95 ms", lambda r: f"{num(r['latency_ms_p50'])} / {num(r['latency_ms_p95'])}"),
    ("train peak MiB", lambda r: num(r["peak_memory_mib"], ".0f")),
]


def summary_lines(summary: list[dict[str, Any]]) -> list[str]:
    """Generated findings: per model and task, the best variant, whether its lead exceeds seed
    noise, and what the KAN variants cost in parameters and throughput."""
    lines: list[str] = []
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in summary:
        pairs.setdefault((row["model"], row["task"]), []).append(row)
    wins = total = estimated = 0
    for (model, task), rows in pairs.items():
        scored = [r for r in rows if r["mean"] is not None]
        if not scored:
            continue
        name = metric_name(scored[0]["metric"])
        base = next((r for r in scored if _is_default_baseline(r)), None)
        best = max(scored, key=lambda r: r["mean"])
        text = f"**{model} on {task}** ({name}): best is `{best['variant']}` at {best['mean']:.4f}"
        if base is not None and best is not base:
            total += 1
            noise = two_se(best, base)
            lead = best["mean"] - base["mean"]
            verdict = (
                "single seed, so no noise estimate"
                if noise is None
                else ("beyond" if lead > noise else "within") + f" seed noise (2 SE = {noise:.4f})"
            )
            text += f", {lead:+.4f} over `{base['variant']}` ({base['mean']:.4f}); {verdict}"
        elif base is not None:
            total += 1
            others = [r for r in scored if r is not base]
            if others:
                runner = max(others, key=lambda r: r["mean"])
                text += (
                    f" (the original); the next best, `{runner['variant']}`, is {runner['mean'] - best['mean']:+.4f}"
                )
        if base is not None:
            # A win is a KAN variant ahead of its own baseline beyond noise (not an original trained longer).
            wins += any(r["beyond_noise"] and r["delta"] > 0 for r in scored if not r["is_original"])
            estimated += any(r["noise"] is not None for r in scored if r is not base)
            verdicts = [_verdict(r) for r in scored if r is not base and not r["is_original"]]
            if verdicts:
                text += ". Each variant vs the original: " + "; ".join(verdicts)
        costs = [
            f"`{r['variant']}` params {times(r['params_ratio'])}, training throughput {times(r['train_speed_ratio'])}"
            for r in rows
            if not r["is_original"] and r["params_ratio"] is not None
        ]
        if costs:
            text += ". Cost vs original: " + "; ".join(costs)
        lines.append(f"- {text}.")
    if total:
        lines.insert(
            0,
            f"- A KAN variant beat the original model beyond seed noise in {wins} of {total} model/task pairs"
            + (" (one seed: run several to estimate the noise)." if estimated == 0 else "."),
        )
    return lines


def _is_default_baseline(row: dict[str, Any]) -> bool:
    """Whether ``row`` is summarize's baseline of its model and task: the original compared with itself
    (a results.json from before ``baseline`` existed: the original row at delta 0)."""
    if not row["is_original"]:
        return False
    return row["baseline"] == row["variant"] if "baseline" in row else row["delta"] == 0


def _verdict(row: dict[str, Any]) -> str:
    """'`kan` -0.0120, within seed noise (2 SE = 0.0300)' for one variant against its baseline
    (summarize's ``delta`` and ``noise``)."""
    delta, noise = row["delta"], row["noise"]
    if delta is None:
        return f"`{row['variant']}` (no baseline score)"
    if noise is None:
        return f"`{row['variant']}` {delta:+.4f}{_versus(row)} (single seed)"
    side = "beyond" if abs(delta) > noise else "within"
    return f"`{row['variant']}` {delta:+.4f}{_versus(row)}, {side} seed noise (2 SE = {noise:.4f})"


def render_markdown(results: dict[str, Any], plots: dict[str, str] | None = None) -> str:
    """The whole report.md; ``plots`` maps a plot's title to its file name next to report.md."""
    summary = results["summary"]
    env = results.get("environment") or {}
    out = [f"# kanformer comparison: {results['name']}", ""]
    if results.get("description"):
        out += [results["description"], ""]
    out += [generated_line(results, "kanformer compare") + ".", ""]
    if results.get("missing"):  # written by an executor before every run finished
        missing = results["missing"]
        out += [
            f"**Partial report: {len(missing)} of {len(missing) + len(results['runs'])} runs have not finished** "
            "(`kanformer compare CONFIG --status`; `kanformer report DIR` renders again with what finished since): "
            + ", ".join(f"`{m}`" for m in missing),
            "",
        ]
    out += [
        "## Summary",
        "",
        *summary_lines(summary),
        "",
        "## Results",
        "",
        "Metric: the final evaluation of each fine-tune, mean ± sample std over seeds; Δ is the difference to "
        "the original model's mean on the same task (or to the original variant named after 'vs'). Parameters, "
        "FLOPs, throughput, latency and peak memory come from `kanformer bench` on the trained model (fixed "
        "batch shape, below); × is the ratio to the original.",
        "",
    ]
    tasks: dict[str, list[dict[str, Any]]] = {}
    for row in summary:
        tasks.setdefault(row["task"], []).append(row)
    for task, rows in tasks.items():
        out += [f"### {task} ({rows[0]['metric']})", ""]
        out += table([c for c, _ in _COLUMNS], [[f(r) for _, f in _COLUMNS] for r in rows], align="ll")
        out.append("")
    if plots:
        out += ["## Plots", ""]
        for title, file in plots.items():
            out += [f"![{title}]({file})", ""]
    out += _setup(results)
    out += ["## Runs", ""]
    out += table(
        # Peak memory per run is not shown: on CPU it is the process' peak, shared by every run of a
        # compare; the bench's per-step peak in the tables above is the comparable number.
        ["run", "metric", "value", "fine-tune s"],
        [
            [r["id"], metric_name(r["metric"]), num(r["value"], ".4f"), num(r["finetune_seconds"], ".0f")]
            for r in results["runs"]
        ],
        align="ll",
    )
    out += [
        "",
        *reproduce_section(results.get("command") or "kanformer compare CONFIG", results.get("config") or {}, env),
    ]
    return "\n".join(out)


def _ffn_defaults() -> dict[str, Any]:
    from ..plugin.config import KANFFNConfig

    return KANFFNConfig().to_dict()


_FFN_DEFAULTS = _ffn_defaults()


def _setup(results: dict[str, Any]) -> list[str]:
    out = ["## Setup", ""]
    for name, ffn in (results.get("variants") or {}).items():
        if ffn is None:
            out.append(f"- `{name}`: the original model")
        else:
            keys = ("form", "hidden", "init", "calibrate", "layers", "basis", "grid_size", "sharing", "trainable")
            if ffn.get("form") == "grkan":  # group-rational units: no B-spline basis, grid or per-edge sharing
                keys = ("form", "hidden", "init", "calibrate", "layers", "groups", "trainable")
            # and whatever else differs from the defaults (grid_range, spline_init, distill_rows, ...)
            extra = [k for k, v in ffn.items() if k not in keys and k in _FFN_DEFAULTS and v != _FFN_DEFAULTS[k]]
            out.append(f"- `{name}`: " + " ".join(f"{k}={ffn[k]}" for k in (*keys, *extra) if k in ffn))
    # One line per model and task and distinct training settings (variants may override some).
    configs: dict[tuple[str, str, str], list[str]] = {}
    shown = ("max_steps", "batch_size", "lr", "kan_lr", "kan_shared_lr", "schedule", "max_length", "max_train_samples")
    for run in results["runs"]:
        cfg = run.get("run_config") or {}
        text = ", ".join(f"{k}={cfg[k]}" for k in shown if cfg.get(k) is not None)
        variants = configs.setdefault((run["model"], run["task"], text), [])
        if run["variant"] not in variants:
            variants.append(run["variant"])
    for (model, task, text), variants in configs.items():
        out.append(f"- training, {model} on {task} ({', '.join(variants)}): {text}")
    seen = set()
    for b in results.get("bench", []):
        key = (b.get("batch_size"), b.get("seq_len"), b.get("device"), b.get("dtype"), b.get("repeats"))
        if key in seen:
            continue
        seen.add(key)
        shape = "x".join(str(v) for v in b.get("input_shape", []))
        out.append(
            f"- bench: batch {b.get('batch_size')} (input {shape}), {b.get('device')}, {b.get('dtype')}, "
            f"median of {b.get('repeats')} timed repeats after {b.get('warmup')} warm-up; a training step is "
            "forward + backward + AdamW step"
        )
    if any(b.get("paired_original") for b in results.get("bench", [])):
        out.append(
            "- speed and memory ratios (×) of a KAN variant are against the original model benched beside it, "
            "their timed calls interleaved (paired), not against the original's row: benches taken minutes apart "
            "carry the machine's drift"
        )
    out.append("")
    return out


__all__ = ["render_markdown", "summary_lines"]
