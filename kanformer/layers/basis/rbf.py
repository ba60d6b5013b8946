"""Gaussian radial basis functions (FastKAN-style)."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Basis, register_basis


@register_basis
class RBFBasis(Basis):
    """B_k(x) = exp(-((x - c_k) / h)^2), G + K centres.

    The centres sit where a B-spline basis of the same grid_size and spline_order has
    its function centres, with h the grid spacing, so an RBF layer has the same
    parameter count as the B-spline layer it stands in for. Far outside the centres all
    functions decay to 0 (the layer keeps its base branch).
    """

    name = "rbf"

    def __init__(
        self, channels: int, rows: int, *, grid_size: int, spline_order: int, grid_range: tuple[float, float]
    ) -> None:
        super().__init__(channels, rows)
        lo, hi = grid_range
        h = (hi - lo) / grid_size
        self.num_functions = grid_size + spline_order
        first = lo - (spline_order - 1) * h / 2
        self.register_buffer("centers", first + h * torch.arange(self.num_functions, dtype=torch.float32))
        self.inv_width = 1.0 / h

    def forward(self, x: Tensor) -> Tensor:
        d = (x.unsqueeze(-1) - self.centers.to(x.dtype)) * self.inv_width
        return torch.exp(-d * d)
