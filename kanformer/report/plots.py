"""The comparison report's plots: accuracy against cost, throughput and training curves, as PNG files.

    from kanformer.report.plots import write_plots
    paths = write_plots(results, "reports/quickstart")  # results: the dict results.json holds

One PNG per entry of :data:`PLOT_FILES`; a plot with nothing to show (no throughput
numbers, no loss curves) is skipped rather than drawn empty. A variant has the same
colour in every plot (:func:`variant_colors`); the original model is always dark grey.
Figures, colours and PNG files come from :mod:`kanformer.reporting.plots`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

from ..reporting.plots import legend, panels, save_png, variant_colors

PLOT_FILES: dict[str, str] = {
    "accuracy_vs_params": "accuracy_vs_params.png",
    "accuracy_vs_throughput": "accuracy_vs_throughput.png",
    "throughput": "throughput.png",
    "training_curves": "training_curves.png",
}

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_LINESTYLES = ("-", "--", ":", "-.")
# (value key, ratio-vs-original key, panel title) of the throughput plot's panels.
_SPEEDS = (
    ("train_samples_per_s", "train_speed_ratio", "training"),
    ("infer_samples_per_s", "infer_speed_ratio", "inference"),
)

Row = Mapping[str, Any]
_T = TypeVar("_T", bound=Hashable)


@dataclass(frozen=True)
class _Style:
    """What every plot of one report shares: colours, markers and the order variants are listed in."""

    colors: dict[str, str]  # variant -> colour
    markers: dict[str, str]  # model -> marker
    variants: list[str]  # originals first, then sorted


def write_plots(results: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write the report's PNG plots into out_dir (created if needed); return the paths written.

    The file names are the values of :data:`PLOT_FILES`; paths come back in that order.
    Plots with nothing to show are skipped, so an empty results dict writes nothing. The first three
    plots read ``summary``, the training curves ``runs``.
    """
    summary = [r for r in results.get("summary") or [] if r.get("variant") is not None]
    runs = [r for r in results.get("runs") or [] if r.get("variant") is not None]
    style = _style(summary, runs)
    out = Path(out_dir)
    figures = {
        "accuracy_vs_params": _accuracy_figure(summary, style, "params", "parameters (log scale)"),
        "accuracy_vs_throughput": _accuracy_figure(
            summary, style, "train_samples_per_s", "training samples/s (log scale)"
        ),
        "throughput": _throughput_figure(summary, style),
        "training_curves": _curves_figure(runs, style),
    }
    written = []
    for key, fig in figures.items():
        if fig is None:
            continue
        written.append(save_png(fig, out / PLOT_FILES[key]))
    return written


def _style(summary: Sequence[Row], runs: Sequence[Row]) -> _Style:
    variants = {r["variant"] for r in [*summary, *runs]}
    originals = {r["variant"] for r in summary if r.get("is_original")}
    if not originals:  # runs alone carry no is_original flag: fall back on the conventional name
        originals = variants & {"original"}
    models = sorted({str(r.get("model")) for r in [*summary, *runs]})
    return _Style(
        colors=variant_colors(variants, originals),
        markers={m: _MARKERS[i % len(_MARKERS)] for i, m in enumerate(models)},
        variants=sorted(originals) + sorted(variants - originals),
    )


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _positive(x: Any) -> bool:
    return _finite(x) and x > 0


def _unique(items: Iterable[_T]) -> list[_T]:
    """Distinct items in first-seen order: panels follow the order of the experiment config."""
    return list(dict.fromkeys(items))


def _variant_handles(style: _Style, present: set[str], **line: Any) -> list[Line2D]:
    return [Line2D([], [], color=style.colors[v], label=v, **line) for v in style.variants if v in present]


def _metric_title(task: str, rows: Sequence[Row]) -> str:
    metrics = _unique(str(r.get("metric")) for r in rows if r.get("metric"))
    return f"{task}: {', '.join(metrics)}" if metrics else task


def _accuracy_figure(summary: Sequence[Row], style: _Style, x_key: str, x_label: str) -> Figure | None:
    """Metric mean ± std against a cost on a log axis: one panel per task, one point per (model, variant)."""
    rows = [r for r in summary if _positive(r.get(x_key)) and _finite(r.get("mean"))]
    if not rows:
        return None
    tasks = _unique(r["task"] for r in rows)
    fig, axes = panels(len(tasks), max_cols=2, panel_height=3.6)
    for ax, task in zip(axes, tasks, strict=True):
        task_rows = [r for r in rows if r["task"] == task]
        for r in task_rows:
            _accuracy_point(ax, r, x_key, style)
        _log_x(ax, [r[x_key] for r in task_rows])
        ax.margins(x=0.15, y=0.12)  # room for the point labels
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title(_metric_title(task, task_rows), fontsize=10)
        ax.set_xlabel(x_label, fontsize=9)
        ax.set_ylabel("mean ± std over seeds", fontsize=9)
    model_handles = [
        Line2D([], [], marker=style.markers[m], linestyle="", color="black", markerfacecolor="white", label=m)
        for m in _unique(str(r.get("model")) for r in rows)
    ]
    variant_handles = _variant_handles(style, {r["variant"] for r in rows}, marker="o", linestyle="")
    legend(fig, variant_handles + model_handles, "colour: variant, marker: model")
    return fig


def _log_x(ax: Axes, values: Sequence[float]) -> None:
    """Log x axis labelled "20M", "50M": matplotlib's own minor labels (2x10^7 ...) overlap within a decade."""
    decades = math.log10(max(values) / min(values))
    ax.set_xscale("log")
    # Ticks at 1, 2 and 5 per decade while the labels fit; one per decade beyond that.
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)))
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _accuracy_point(ax: Axes, row: Row, x_key: str, style: _Style) -> None:
    x, y, model, variant = row[x_key], row["mean"], str(row.get("model")), row["variant"]
    std = row.get("std")
    ax.errorbar(
        x,
        y,
        yerr=std if _finite(std) else None,  # one seed has no spread
        marker=style.markers[model],
        color=style.colors[variant],
        markersize=8,
        markeredgecolor="white",
        markeredgewidth=0.6,
        capsize=3,
        linestyle="",
    )
    ax.annotate(f"{model}/{variant}", (x, y), xytext=(5, 4), textcoords="offset points", fontsize=6.5, color="0.25")


def _throughput_figure(summary: Sequence[Row], style: _Style) -> Figure | None:
    """Samples/s as grouped horizontal bars: a panel per phase, a group per (model, task), a bar per variant."""
    speeds = [s for s in _SPEEDS if any(_positive(r.get(s[0])) for r in summary)]
    if not speeds:
        return None
    rows = [r for r in summary if any(_positive(r.get(key)) for key, _, _ in speeds)]
    groups = _unique((str(r.get("model")), str(r.get("task"))) for r in rows)
    variants = [v for v in style.variants if any(r["variant"] == v for r in rows)]
    by_key = {(str(r.get("model")), str(r.get("task")), r["variant"]): r for r in rows}
    bar = 0.8 / len(variants)
    group_in = len(variants) * 0.22 + 0.3
    fig, axes = panels(len(speeds), max_cols=2, panel_height=max(2.5, len(groups) * group_in + 0.8), sharey=True)
    for ax, (key, ratio_key, title) in zip(axes, speeds, strict=True):
        for g, group in enumerate(groups):
            for v, variant in enumerate(variants):
                row = by_key.get((*group, variant))
                if row is not None and _positive(row.get(key)):
                    y = g + (v - (len(variants) - 1) / 2) * bar
                    _speed_bar(ax, y, row[key], row.get(ratio_key), bar, style.colors[variant])
        ax.set_yticks(range(len(groups)), [f"{m}\n{t}" for m, t in groups], fontsize=8)
        ax.yaxis.set_inverted(True)  # first group and the original on top; idempotent on shared axes
        ax.margins(x=0.12)  # room for the ratio labels
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_title(f"{title}: samples/s (higher is better)", fontsize=10)
        ax.set_xlabel("samples/s", fontsize=9)
    legend(fig, _variant_handles(style, set(variants), linewidth=8), "variant (x: speed vs original)")
    return fig


def _speed_bar(ax: Axes, y: float, value: float, ratio: Any, height: float, color: str) -> None:
    ax.barh(y, value, height=height * 0.9, color=color)
    if _finite(ratio):
        ax.annotate(f"x{ratio:.2f}", (value, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)


def _seed_key(seed: Any) -> tuple[int, Any]:
    # Numbers in numeric order, anything else after them by its text.
    return (0, seed) if _finite(seed) else (1, str(seed))


def _loss_curve(run: Row) -> tuple[list[float], list[float]]:
    """(steps, losses) of a run, without missing or non-finite points."""
    curve = run.get("curve") or {}
    # Not strict: a log cut off mid-write may hold one more step than losses; the common prefix is still good.
    zipped = zip(curve.get("step") or [], curve.get("loss") or [], strict=False)
    pairs = [(s, v) for s, v in zipped if _finite(s) and _finite(v)]
    return [s for s, _ in pairs], [v for _, v in pairs]


def _curves_figure(runs: Sequence[Row], style: _Style) -> Figure | None:
    """Training loss against step: a panel per (model, task), a line per run; colour variant, line style seed."""
    curves = [(r, *_loss_curve(r)) for r in runs]
    curves = [c for c in curves if c[1]]
    if not curves:
        return None
    groups = _unique((str(r.get("model")), str(r.get("task"))) for r, _, _ in curves)
    seeds = sorted(_unique(r.get("seed") for r, _, _ in curves), key=_seed_key)
    dash = {s: _LINESTYLES[i % len(_LINESTYLES)] for i, s in enumerate(seeds)}
    fig, axes = panels(len(groups), max_cols=2 if len(groups) <= 4 else 3, panel_height=3.0)
    for ax, group in zip(axes, groups, strict=True):
        for run, steps, losses in curves:
            if (str(run.get("model")), str(run.get("task"))) == group:
                color = style.colors[run["variant"]]
                ax.plot(steps, losses, color=color, linestyle=dash[run.get("seed")], linewidth=1.3, alpha=0.85)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{group[0]} / {group[1]}: training loss", fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.set_ylabel("loss", fontsize=9)
    handles = _variant_handles(style, {r["variant"] for r, _, _ in curves}, linewidth=2)
    handles += [Line2D([], [], color="black", linestyle=dash[s], label=f"seed {s}") for s in seeds]
    legend(fig, handles, "colour: variant, line: seed")
    return fig
