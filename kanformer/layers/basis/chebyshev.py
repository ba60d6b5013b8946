"""Chebyshev polynomials of a squashed input."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Basis, register_basis


@register_basis
class ChebyshevBasis(Basis):
    """T_0..T_G of z = tanh((x - mid) / half), G = grid_size, so G + 1 functions.

    tanh keeps z in (-1, 1) for any x and the three-term recurrence
    T_{k+1} = 2 z T_k - T_{k-1} needs no ``acos`` (whose gradient is infinite at
    |z| = 1). Large |x| saturates to T_k(+-1) = (+-1)^k: bounded, never NaN.
    """

    name = "chebyshev"

    def __init__(
        self, channels: int, rows: int, *, grid_size: int, spline_order: int, grid_range: tuple[float, float]
    ) -> None:
        super().__init__(channels, rows)
        lo, hi = grid_range
        self.mid, self.inv_half = (lo + hi) / 2, 2.0 / (hi - lo)
        self.num_functions = grid_size + 1

    def forward(self, x: Tensor) -> Tensor:
        z = torch.tanh((x - self.mid) * self.inv_half)
        out = [torch.ones_like(z), z]
        for _ in range(self.num_functions - 2):
            out.append(2 * z * out[-1] - out[-2])
        return torch.stack(out[: self.num_functions], dim=-1)
