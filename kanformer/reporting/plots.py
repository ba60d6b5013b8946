"""Plot primitives every report shares: figures of panels with a shared legend, variant colours and
atomic PNG files.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, never through
pyplot: no global figure registry to leak into or close, no GUI backend, safe in threads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..io import atomic_write

DPI = 120
ORIGINAL_COLOR = "#333333"
_WIDTH_IN = 8.5  # about 1000 px at DPI
_LEGEND_IN = 0.9  # height kept for the shared legend below the panels


def save_png(fig: Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as a PNG at DPI, atomically: a reader never sees half a file.

    Written to a temporary file in the same folder (created if needed), made readable by all
    (0644; like :mod:`kanformer.io`'s writers, reports are meant to be read), then renamed over ``path``.
    """
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))


def variant_colors(variants: Iterable[str], originals: Iterable[str] = ("original",)) -> dict[str, str]:
    """Colour of each variant: originals dark grey, the others tab10 colours in sorted-name order.

    Depending only on the set of names keeps the colours stable across plots and across
    the order rows happen to arrive in.
    """
    original_set = set(originals)
    # tab10's own grey (index 7) is left out so nothing is mistaken for the original.
    palette = [to_hex(c) for i, c in enumerate(matplotlib.colormaps["tab10"].colors) if i != 7]
    others = sorted(set(variants) - original_set)
    colors = {v: palette[i % len(palette)] for i, v in enumerate(others)}
    colors.update({v: ORIGINAL_COLOR for v in set(variants) & original_set})
    return colors


def panels(
    n: int,
    max_cols: int,
    panel_height: float,
    sharey: bool = False,
    *,
    panel_width: float | None = None,
    legend_room: bool = True,
) -> tuple[Figure, list[Axes]]:
    """A figure of n panels in rows of at most max_cols, with room below for a shared :func:`legend`.

    The figure is the report width wide, or ``panel_width`` inches per column when given; each row of
    panels is ``panel_height`` inches high. ``legend_room=False`` leaves out the space for the legend
    (for figures whose panels carry their own).
    """
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    width = _WIDTH_IN if panel_width is None else panel_width * cols
    height = rows * panel_height + (_LEGEND_IN if legend_room else 0.0)
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(rows, cols, squeeze=False, sharey=sharey).flat)
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def legend(fig: Figure, handles: list[Line2D], title: str) -> None:
    """One legend for the whole figure, centred below the panels (:func:`panels` leaves room for it)."""
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), fontsize=8, title=title)


__all__ = ["DPI", "ORIGINAL_COLOR", "legend", "panels", "save_png", "variant_colors"]
