"""B-spline basis (the classic KAN): order K on a grid of G intervals, G + K functions."""

from __future__ import annotations

import torch
from torch import Tensor

from ..bspline import SplineLinear, bspline_basis
from ..knots import is_uniform, uniform_knots
from .base import Basis, register_basis


@register_basis
class BSplineBasis(Basis):
    """B-splines on an extended knot vector per row (``knots``: (rows, G + 2K + 1)).

    Uniform knots use the closed-form cardinal kernel; knots moved by a data-driven grid
    update use Cox–de Boor on the dense table. ``fused`` (True, False, "auto") compiles the kernels
    with torch.compile (one-off cost of seconds, then close to matmul-bound speed).
    """

    name = "bspline"

    def __init__(
        self,
        channels: int,
        rows: int,
        *,
        grid_size: int,
        spline_order: int,
        grid_range: tuple[float, float],
        fused: bool | str = False,
    ) -> None:
        super().__init__(channels, rows)
        self.spline_order, self.fused = spline_order, fused
        self.register_buffer("knots", uniform_knots(rows, grid_size, spline_order, grid_range))
        self._sync()

    def _sync(self) -> None:
        self.grid_size = self.knots.shape[1] - 2 * self.spline_order - 1
        self.num_functions = self.grid_size + self.spline_order
        # Knots built on the meta device (loading) are checked again once materialised.
        uniform = True if self.knots.is_meta else is_uniform(self.knots)
        self._uniform = (id(self.knots), self.knots._version, uniform)

    @property
    def uniform(self) -> bool:
        """Knots evenly spaced per row (closed-form path). Re-checked whenever the knots
        tensor is replaced or written in place (e.g. by a checkpoint loader)."""
        key, version, value = self._uniform
        if not torch.compiler.is_compiling() and (key != id(self.knots) or version != self.knots._version):
            self._sync()
            value = self._uniform[2]
        return value

    def set_knots(self, knots: Tensor) -> None:
        """Replace the knots (rows, n); n may change (grid extension). Rows must be strictly increasing."""
        knots = knots.to(self.knots)
        if not knots.is_meta and not bool((knots.diff(dim=1) > 0).all()):
            raise ValueError(
                "knots must be strictly increasing in every row (repeated or decreasing knots found); "
                "build them with kanformer.layers.knots (uniform_knots, adaptive_grid, extend_knots)"
            )
        self.knots = knots
        self._sync()

    def _knots_for(self, x: Tensor) -> Tensor:
        return self.expand_rows(self.knots).to(x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        return bspline_basis(x, self._knots_for(x), self.spline_order, self.uniform)

    def linear(self, x: Tensor, weight: Tensor) -> Tensor:
        # Memory-lean: saves x only and rebuilds the basis in backward.
        return SplineLinear.apply(x, weight, self._knots_for(x), self.spline_order, self.uniform, self.fused)

    def extra_repr(self) -> str:
        kind = "uniform" if self.uniform else "adaptive"
        return f"{super().extra_repr()}, grid_size={self.grid_size}, spline_order={self.spline_order}, {kind}"
