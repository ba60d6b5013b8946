"""The contract every basis follows, and the registry that names them."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BASES: dict[str, type[Basis]] = {}


def register_basis(cls: type[Basis]) -> type[Basis]:
    """Class decorator: make ``cls`` available as ``KANLinear(basis=cls.name)``."""
    BASES[cls.name] = cls
    return cls


class Basis(nn.Module):
    """F one-dimensional functions B_1..B_F, evaluated on every input channel.

    A learnable edge function is phi(x) = sum_k c_k B_k(x); the coefficients c live in
    the layer, so a basis only evaluates. Some bases hold per-row state (knots, rational
    denominators): ``rows`` is either the number of channels (one state per input) or
    the number of channel groups (contiguous blocks of ``channels // rows`` inputs share
    one state).

    Subclasses set ``name``, ``num_functions`` and implement :meth:`forward`.
    """

    name: ClassVar[str]
    num_functions: int

    def __init__(self, channels: int, rows: int) -> None:
        super().__init__()
        self.channels, self.rows = channels, rows

    def forward(self, x: Tensor) -> Tensor:
        """(N, C) -> (N, C, F) basis values, differentiable in x and in the basis' parameters."""
        raise NotImplementedError

    def linear(self, x: Tensor, weight: Tensor) -> Tensor:
        """sum_{c, k} weight[o, c * F + k] B_k(x[n, c]): (N, C), (O, C * F) -> (N, O)."""
        return F.linear(self(x).flatten(1).to(weight.dtype), weight)

    def units(self, x: Tensor, coefficients: Tensor) -> Tensor:
        """One function per row, sum_k coefficients[r, k] B_k(x), on each channel of row r:
        x (N, C), coefficients (rows, F) -> (N, C)."""
        return (self(x) * self.expand_rows(coefficients).to(x.dtype)).sum(-1)

    def reference_coefficients(self) -> Tensor | None:
        """Coefficients (F,) of the function this basis was initialised to represent, if any."""
        return None

    def expand_rows(self, t: Tensor) -> Tensor:
        """Per-row state (rows, ...) -> per-channel (C, ...)."""
        if self.rows == self.channels:
            return t
        return t.repeat_interleave(self.channels // self.rows, dim=0)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, rows={self.rows}, num_functions={self.num_functions}"


def compute_dtype(x: Tensor) -> torch.dtype:
    """Bases are evaluated in at least fp32, whatever the activations' dtype."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32
