"""The tabular benchmark's report: summary rows from the runs, report.md, a PNG plot and results.json.

    rows = summarize(results["runs"])
    paths = write_report(results, "reports/tabular")  # report.md, results.json, metrics.png

``summarize`` is the only place numbers are combined; the markdown and the plot render its rows.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..io import atomic_write_json, atomic_write_text
from ..reporting.markdown import generated_line, reproduce_section
from ..reporting.plots import legend, panels, save_png, variant_colors
from ..reporting.tables import metric_cell, num, table
from ..tasks.tabular import HIGHER_IS_BETTER

PLOT_FILE = "metrics.png"
MODEL_NAMES = {"kan": "KAN", "mlp": "MLP"}
_BASELINE = "mlp"  # the plots draw it in the reports' baseline grey


def _stats(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample std (None for one value) and n of the finite values."""
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return {
        "mean": statistics.fmean(finite) if finite else None,
        "std": statistics.stdev(finite) if len(finite) > 1 else None,
        "n": len(finite),
    }


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per task x model, in the order the runs came.

    Each row: widths, params, and per metric ``{"mean", "std", "n"}`` over seeds (sample std), plus the
    mean training seconds and epochs.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["task"], run["model"]), []).append(run)
    rows = []
    for (task, model), group in groups.items():
        rows.append(
            {
                "task": task,
                "model": model,
                "widths": group[0]["widths"],
                "params": group[0]["params"],
                "metrics": {m: _stats([r["metrics"][m] for r in group]) for m in group[0]["metrics"]},
                "train_seconds": statistics.fmean(r["train_seconds"] for r in group),
                "epochs": statistics.fmean(r["epochs"] for r in group),
                "best_epoch": statistics.fmean(r["best_epoch"] for r in group),
            }
        )
    return rows


def paired_difference(runs: list[dict[str, Any]], task: str, metric: str) -> dict[str, Any]:
    """KAN minus MLP on ``metric``, paired by seed (same split and batch order): mean, std, n and 2 SE."""
    by_seed: dict[int, dict[str, float]] = {}
    for run in runs:
        if run["task"] == task:
            by_seed.setdefault(run["seed"], {})[run["model"]] = run["metrics"][metric]
    diffs = [s["kan"] - s["mlp"] for s in by_seed.values() if "kan" in s and "mlp" in s]
    out = _stats(diffs)
    out["two_se"] = 2 * out["std"] / math.sqrt(out["n"]) if out["std"] is not None else None
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    """Findings: per task, which model leads on the main metric and whether the lead exceeds seed noise."""
    lines, kan_wins, mlp_wins, total = [], 0, 0, 0
    rows = {(r["task"], r["model"]): r for r in results["summary"]}
    for task, info in results["tasks"].items():
        kan, mlp = rows.get((task, "kan")), rows.get((task, "mlp"))
        if kan is None or mlp is None:
            continue
        metric = info["metrics"][0]
        diff = paired_difference(results["runs"], task, metric)
        if diff["mean"] is None:
            continue
        total += 1
        higher = HIGHER_IS_BETTER[metric]
        kan_better = (diff["mean"] > 0) == higher
        arrow = "higher" if higher else "lower"
        text = (
            f"**{task}** ({metric}, {arrow} is better): KAN {kan['metrics'][metric]['mean']:.4f} vs "
            f"MLP {mlp['metrics'][metric]['mean']:.4f}, KAN - MLP = {diff['mean']:+.4f}"
        )
        if diff["two_se"] is None:
            text += " (one seed: no noise estimate)"
        elif abs(diff["mean"]) > diff["two_se"]:
            text += f": {'KAN' if kan_better else 'MLP'} better beyond seed noise (2 SE = {diff['two_se']:.4f})"
            kan_wins += kan_better
            mlp_wins += not kan_better
        else:
            text += f": within seed noise (2 SE = {diff['two_se']:.4f})"
        ratio = kan["train_seconds"] / mlp["train_seconds"] if mlp["train_seconds"] else None
        text += (
            f". Parameters {kan['params']:,} vs {mlp['params']:,}; training time per run "
            f"{kan['train_seconds']:.1f} s vs {mlp['train_seconds']:.1f} s"
            + (f" (x{ratio:.1f})" if ratio else "")
            + "."
        )
        lines.append(f"- {text}")
    if total:
        lines.insert(
            0,
            f"- At matched parameters and the same training budget, KAN beat the MLP beyond seed noise on "
            f"{kan_wins} of {total} tasks and lost on {mlp_wins}. Seed noise: 2 standard errors of the KAN - MLP "
            "difference paired by seed (both models of a seed share its split and batch order).",
        )
    return lines


def _task_header(task: str, info: dict[str, Any]) -> str:
    outputs = f"{info['outputs']} classes" if info["kind"] == "classification" else "1 target"
    sizes = "/".join(str(info["split_sizes"][s]) for s in ("train", "val", "test"))
    return (
        f"### {task} ({info['kind']}: {', '.join(info['metrics'])})\n\n"
        f"{info['samples']:,} samples, {info['features']} features, {outputs}; train/val/test {sizes}. "
        f"{info['description']}"
    )


def render_markdown(results: dict[str, Any], plot: str | None = PLOT_FILE) -> str:
    """The whole report.md of a results dict (what results.json holds)."""
    cfg, env = results["config"], results.get("environment") or {}
    out = [f"# KAN vs MLP on tabular data at matched parameters ({results['name']})", ""]
    if results.get("description"):
        out += [results["description"], ""]
    out += [
        generated_line(results, "kanformer tabular") + ".",
        "",
        "## Summary",
        "",
        *summary_lines(results),
        "",
        "## Results",
        "",
        f"The test split's metrics, mean ± sample std over {cfg['seeds']} seeds; each seed draws its own "
        "train/val/test split, initialisation and batch order, shared by both models. RMSE is in the target's "
        "units. Seconds and epochs are means per run; a run stops early when the validation loss has not "
        f"improved for {cfg['patience']} epochs and keeps its best epoch's weights. Seconds are wall time with "
        f"{cfg['threads'] or 'the default number of'} torch thread(s) on a possibly shared CPU: indicative only.",
        "",
    ]
    for task, info in results["tasks"].items():
        rows = [r for r in results["summary"] if r["task"] == task]
        header = ["model", "widths", "params", *(f"{m} (mean ± std)" for m in info["metrics"])]
        header += ["train s", "epochs (best)"]
        body = [
            [
                MODEL_NAMES.get(r["model"], r["model"]),
                str(r["widths"]),
                f"{r['params']:,}",
                *(metric_cell(r["metrics"][m]) for m in info["metrics"]),
                num(r["train_seconds"]),
                f"{r['epochs']:.0f} ({r['best_epoch']:.0f})",
            ]
            for r in rows
        ]
        out += [_task_header(task, info), "", *table(header, body, align="ll"), ""]
    if plot:
        out += ["## Plot", "", f"![test metric per task, KAN vs MLP]({plot})", ""]
    out += _setup(cfg)
    out += ["## Runs", ""]
    metrics = list(dict.fromkeys(m for info in results["tasks"].values() for m in info["metrics"]))
    out += table(
        ["task", "model", "seed", "params", *metrics, "best epoch", "epochs", "train s"],
        [
            [
                r["task"],
                MODEL_NAMES.get(r["model"], r["model"]),
                str(r["seed"]),
                f"{r['params']:,}",
                *(num(r["metrics"].get(m), ".4f") for m in metrics),
                str(r["best_epoch"]),
                str(r["epochs"]),
                num(r["train_seconds"], ".2f"),
            ]
            for r in results["runs"]
        ],
        align="ll",
    )
    out += ["", *reproduce_section(results.get("command") or "kanformer tabular", cfg, env)]
    return "\n".join(out)


def _setup(cfg: dict[str, Any]) -> list[str]:
    kan = ", ".join(
        f"{k}={cfg[k]}" for k in ("basis", "grid_size", "spline_order", "grid_range", "base_activation", "update_grid")
    )
    return [
        "## Setup",
        "",
        "- data: a split per seed, 60/20/20 train/val/test (stratified by class for classification); features "
        "standardised with the training rows' mean and std, regression targets too (metrics are converted back).",
        f"- KAN: [features, {', '.join(map(str, cfg['kan_hidden']))}, outputs], {kan}"
        + ("; grids fitted to the training inputs before training" if cfg["update_grid"] else ""),
        f"- MLP: {cfg['mlp_depth']} hidden layer(s) of one width H, {cfg['mlp_activation']}; H is the width whose "
        f"parameter count is closest to the KAN's (within {cfg['param_tolerance']:.0%})",
        f"- training, both models: AdamW lr={cfg['lr']}, weight_decay={cfg['weight_decay']}, "
        f"batch {cfg['batch_size']}, "
        f"up to {cfg['epochs']} epochs with a {cfg['schedule']} schedule per step, early stopping on the validation "
        f"loss (patience {cfg['patience']}); cross-entropy for classification, MSE on standardised targets for "
        "regression",
        "",
    ]


def _plot(results: dict[str, Any]) -> Figure | None:
    """Test metric per task: each model's mean ± std over seeds, with every seed as a faint dot."""
    tasks = [t for t in results["tasks"] if any(r["task"] == t for r in results["summary"])]
    if not tasks:
        return None
    models = list(dict.fromkeys(r["model"] for r in results["summary"]))
    colors = variant_colors(models, originals=[_BASELINE])
    fig, axes = panels(len(tasks), max_cols=4, panel_height=3.0)
    for ax, task in zip(axes, tasks, strict=True):
        metric = results["tasks"][task]["metrics"][0]
        for i, model in enumerate(models):
            row = next((r for r in results["summary"] if r["task"] == task and r["model"] == model), None)
            if row is None or row["metrics"][metric]["mean"] is None:
                continue
            seeds = [r["metrics"][metric] for r in results["runs"] if r["task"] == task and r["model"] == model]
            ax.plot([i + 0.18] * len(seeds), seeds, "o", color=colors[model], alpha=0.35, markersize=3.5)
            stats = row["metrics"][metric]
            ax.errorbar(i, stats["mean"], yerr=stats["std"], marker="o", color=colors[model], capsize=4, markersize=7)
        ax.set_xticks(range(len(models)), [MODEL_NAMES.get(m, m) for m in models])
        ax.set_xlim(-0.6, len(models) - 0.4)
        ax.grid(True, axis="y", alpha=0.3)
        arrow = "higher" if HIGHER_IS_BETTER[metric] else "lower"
        ax.set_title(f"{task}: test {metric}\n({arrow} is better)", fontsize=9)
    handles = [Line2D([], [], color=colors[m], marker="o", linestyle="", label=MODEL_NAMES.get(m, m)) for m in models]
    handles.append(Line2D([], [], color="0.5", marker="o", alpha=0.35, linestyle="", label="one seed"))
    legend(fig, handles, "mean ± std over seeds")
    return fig


def write_report(results: dict[str, Any], report_dir: str | Path) -> list[Path]:
    """Write report.md, results.json and the plot into ``report_dir``; returns their paths, report.md first."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    fig = _plot(results)
    plots = [save_png(fig, report_dir / PLOT_FILE)] if fig is not None else []
    paths = [atomic_write_text(report_dir / "report.md", render_markdown(results, PLOT_FILE if plots else None))]
    paths.append(atomic_write_json(report_dir / "results.json", results))
    return paths + plots
