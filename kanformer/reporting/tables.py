"""One table renderer for every report and command: markdown, or plain text aligned in columns.

    table(["variant", "params", "ratio"], [["kan", "1.2M", "x1.50"]], align="lr")
    # ['| variant | params | ratio |', '|---|---:|---:|', '| kan | 1.2M | x1.50 |']
    table(["variant", "params"], [["kan", "1.2M"]], markdown=False)
    # ['variant  params', 'kan        1.2M']

and the cell formats several reports share (:func:`si`, :func:`times`, :func:`num`, :func:`metric_cell`).
No torch or matplotlib import: commands print tables without loading them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    align: str = "l",
    *,
    markdown: bool = True,
    spaced_rule: bool = False,
) -> list[str]:
    """A table's lines, as markdown (default) or as plain text padded into aligned columns.

    Args:
        align: one letter per column, ``l`` left-aligned and ``r`` right-aligned; columns past
            its end are right-aligned (the default, ``"l"``: a label column, then numbers).
        markdown: False gives plain text: columns two spaces apart, trailing blanks dropped.
        spaced_rule: the markdown delimiter row as ``| --- | ---: |`` instead of ``|---|---:|``.

    An empty markdown cell is written as one blank (``| |``).
    """
    letters = [align[i] if i < len(align) else "r" for i in range(len(header))]
    if any(a not in "lr" for a in letters):
        raise ValueError(f"align={align!r} is invalid: give one letter per column, l (left) or r (right)")
    if not markdown:
        widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
        return [
            "  ".join(
                (str(c).ljust if a == "l" else str(c).rjust)(w) for a, w, c in zip(letters, widths, cells, strict=True)
            ).rstrip()
            for cells in [header, *rows]
        ]
    rule = ["---" if a == "l" else "---:" for a in letters]
    return [
        _markdown_row(header),
        _markdown_row(rule) if spaced_rule else "|" + "|".join(rule) + "|",
        *(_markdown_row(r) for r in rows),
    ]


def _markdown_row(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def si(value: float | None, digits: int = 3) -> str:
    """``22713216`` -> ``22.7M``; None -> ``-``."""
    if value is None:
        return "-"
    for scale, suffix in _SI:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def times(value: float | None) -> str:
    """A ratio: ``1.5`` -> ``x1.50``; None -> ``-``."""
    return "-" if value is None else f"x{value:.2f}"


def num(value: float | None, fmt: str = ".1f") -> str:
    """``value`` in ``fmt``; None, inf and nan -> ``-``."""
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, fmt)


def metric_cell(row: Mapping[str, Any]) -> str:
    """'0.8123 ± 0.0100 (n=3)' from a row's mean, std and n (std None: one seed); '-' without a mean."""
    if row["mean"] is None:
        return "-"
    if row["std"] is None:
        return f"{row['mean']:.4f} (n={row['n']})"
    return f"{row['mean']:.4f} ± {row['std']:.4f} (n={row['n']})"


__all__ = ["metric_cell", "num", "si", "table", "times"]
