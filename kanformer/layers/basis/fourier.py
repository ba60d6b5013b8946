"""Fourier features: cosines and sines of integer frequencies."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Basis, register_basis


@register_basis
class FourierBasis(Basis):
    """cos(k z), sin(k z) for k = 1..G, z = pi (x - mid) / half: 2G functions.

    grid_range maps to one period [-pi, pi]; outside it the functions repeat
    (periodic, bounded). There is no constant term: the layer's bias carries it.
    """

    name = "fourier"

    def __init__(
        self, channels: int, rows: int, *, grid_size: int, spline_order: int, grid_range: tuple[float, float]
    ) -> None:
        super().__init__(channels, rows)
        lo, hi = grid_range
        self.mid, self.scale = (lo + hi) / 2, 2 * math.pi / (hi - lo)
        self.num_functions = 2 * grid_size
        self.register_buffer("freqs", torch.arange(1, grid_size + 1, dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        z = ((x - self.mid) * self.scale).unsqueeze(-1) * self.freqs.to(x.dtype)
        return torch.cat([torch.cos(z), torch.sin(z)], dim=-1)
