"""Knot vectors for B-spline bases: uniform grids, data-driven grids, refinement.

A grid of ``grid_size`` intervals on [lo, hi] is stored as an *extended* knot vector
of ``grid_size + 2 * spline_order + 1`` knots: ``spline_order`` extra knots on each
side, spaced like the nearest interval. This gives ``grid_size + spline_order`` basis
functions that form a partition of unity on [lo, hi] (pykan and efficient-kan use the
same convention, so coefficients are comparable).

Every function here works on a batch of rows (one knot vector per input channel or
per channel group) and knows nothing of layers.
"""

from __future__ import annotations

import torch
from torch import Tensor


def uniform_knots(
    rows: int,
    grid_size: int,
    spline_order: int,
    grid_range: tuple[float, float] | Tensor,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Extended uniform knot vectors.

    Args:
        rows: number of knot vectors (R).
        grid_range: (lo, hi) shared by all rows, or a (R, 2) tensor of per-row ranges.

    Returns:
        knots: (R, grid_size + 2 * spline_order + 1), strictly increasing per row.
    """
    rng = torch.as_tensor(grid_range, dtype=torch.float64, device=device)
    rng = rng.expand(rows, 2) if rng.dim() == 1 else rng
    lo, hi = rng[:, :1], rng[:, 1:]
    h = (hi - lo) / grid_size
    steps = torch.arange(-spline_order, grid_size + spline_order + 1, dtype=torch.float64, device=device)
    return (lo + steps * h).to(dtype)


def extend_knots(interior: Tensor, spline_order: int) -> Tensor:
    """Add ``spline_order`` knots on each side of interior grid points.

    The outer knots continue the spacing of the first and last interval, so a uniform
    interior gives a uniform extended vector.

    Args:
        interior: (R, G + 1) increasing grid points.

    Returns:
        knots: (R, G + 2 * spline_order + 1).
    """
    k = torch.arange(1, spline_order + 1, dtype=interior.dtype, device=interior.device)
    h_lo = interior[:, 1:2] - interior[:, :1]
    h_hi = interior[:, -1:] - interior[:, -2:-1]
    left = interior[:, :1] - k.flip(0) * h_lo
    right = interior[:, -1:] + k * h_hi
    return torch.cat([left, interior, right], dim=1)


def interior(knots: Tensor, spline_order: int) -> Tensor:
    """The grid points [lo, ..., hi] of extended knot vectors: (R, n) -> (R, n - 2K)."""
    return knots[:, spline_order : knots.shape[1] - spline_order]


def is_uniform(knots: Tensor, rtol: float = 1e-5) -> bool:
    """True when every row of ``knots`` (R, n) is evenly spaced (rows may differ)."""
    d = knots.diff(dim=1)
    return bool(torch.all((d - d[:, :1]).abs() <= rtol * d[:, :1].abs()))


def adaptive_grid(samples: Tensor, grid_size: int, grid_eps: float, margin: float = 0.01) -> Tensor:
    """Grid points that follow the data (pykan's ``update_grid_from_samples`` semantics).

    A blend ``grid_eps * uniform + (1 - grid_eps) * quantile`` of a uniform grid over the
    sample range and the sample quantiles. ``grid_eps = 1`` gives a uniform grid,
    ``grid_eps = 0`` a purely quantile grid. The range is widened by ``margin`` times
    its width so that the extreme samples fall strictly inside.

    Args:
        samples: (S, R) samples for each of R rows.

    Returns:
        grid points: (R, grid_size + 1), strictly increasing.
    """
    s = samples.sort(dim=0).values.T  # (R, S)
    lo, hi = s[:, :1], s[:, -1:]
    width = hi - lo
    # A constant channel has no range: keep a small one so the knots stay distinct.
    width = torch.where(width > 0, width, torch.ones_like(width))
    lo, hi = lo - margin * width, hi + margin * width
    frac = torch.linspace(0, 1, grid_size + 1, dtype=s.dtype, device=s.device)
    uniform = lo + frac * (hi - lo)
    idx = torch.linspace(0, s.shape[1] - 1, grid_size + 1, device=s.device).round().long()
    quantile = s[:, idx]
    quantile[:, 0], quantile[:, -1] = lo[:, 0], hi[:, 0]
    grid = grid_eps * uniform + (1 - grid_eps) * quantile
    # Ties in the data collapse quantiles; a tiny uniform share keeps the knots distinct.
    floor = 1e-3 * (hi - lo) / grid_size
    return grid[:, :1] + torch.cat([torch.zeros_like(lo), grid.diff(dim=1).clamp_min(floor)], 1).cumsum(1)


def refine_grid(grid: Tensor, new_grid_size: int) -> Tensor:
    """Grid points for ``new_grid_size`` intervals that follow an existing grid.

    Piecewise-linear interpolation of the old grid points, so a uniform grid stays
    uniform and an integer refinement keeps every old knot (then a spline on the old
    grid is exactly representable on the new one).

    Args:
        grid: (R, G + 1) grid points.

    Returns:
        (R, new_grid_size + 1) grid points.
    """
    g = grid.shape[1] - 1
    pos = torch.linspace(0, g, new_grid_size + 1, dtype=torch.float64, device=grid.device)
    left = pos.floor().long().clamp(max=g - 1)
    frac = (pos - left).to(grid.dtype)
    return grid[:, left] + frac * (grid[:, left + 1] - grid[:, left])
