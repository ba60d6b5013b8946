"""KAN: a stack of KANLinear layers, Phi_L o ... o Phi_1 (pykan's [2, 5, 1] and so on)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .kan_linear import KANLinear


class KAN(nn.Module):
    """A plain Kolmogorov–Arnold network.

    Args:
        widths: layer widths, e.g. [2, 5, 1] (at least two entries).
        **layer_kwargs: passed to every :class:`KANLinear` (basis, grid_size, ...).

    Shapes: (..., widths[0]) -> (..., widths[-1]).
    """

    def __init__(self, widths: Sequence[int], **layer_kwargs: object) -> None:
        super().__init__()
        widths = list(widths)
        if len(widths) < 2 or not all(isinstance(w, int) and w >= 1 for w in widths):
            raise ValueError(f"widths={widths!r} is invalid: need at least two integers >= 1, e.g. [2, 5, 1]")
        self.widths = widths
        self.layers = nn.ModuleList(
            KANLinear(a, b, **layer_kwargs) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def layer_inputs(self, x: Tensor) -> list[Tensor]:
        """The input of every layer for a batch x: a list of (..., widths[l])."""
        inputs = []
        for layer in self.layers:
            inputs.append(x)
            x = layer(x)
        return inputs

    @torch.no_grad()
    def update_grid(self, x: Tensor, grid_eps: float | None = None) -> None:
        """Fit every layer's grid to the activations that x produces (layer by layer)."""
        for layer in self.layers:
            layer.update_grid(x, grid_eps)
            x = layer(x)

    @torch.no_grad()
    def extend_grid(self, new_grid_size: int) -> None:
        """Refine every layer's grid to ``new_grid_size`` intervals (function-preserving)."""
        for layer in self.layers:
            layer.extend_grid(new_grid_size)

    def regularization_loss(self, x: Tensor, **lambdas: float) -> Tensor:
        """Sum of the layers' pykan regularisers on the activations of batch x (a scalar)."""
        return sum(
            layer.regularization_loss(h, **lambdas) for layer, h in zip(self.layers, self.layer_inputs(x), strict=True)
        )
