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
        """sum_{c, k} weight[o, c * F + k] B_k(x[n, c]): (N, C), (O, C * F) -> (N, O).

        Memory-lean for every basis: only x is saved and the (N, C * F) features are
        rebuilt in backward (:class:`RecomputedBasisLinear`)."""
        named = dict(self.named_parameters())
        return RecomputedBasisLinear.apply(x, weight, self, tuple(named), *named.values())

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


class RecomputedBasisLinear(torch.autograd.Function):
    """y = B(x) @ W.T for any basis, saving x instead of the (N, C * F) features.

    Autograd through ``basis(x)`` would keep the features and the basis' temporaries
    for backward: F times the input per layer. Here backward evaluates the basis again
    and differentiates that evaluation (x and the basis' own parameters, e.g. rational
    denominators), trading one extra basis evaluation for that memory.

    Shapes: x (N, C), weight (O, C * F) -> (N, O); ``params`` are the basis' parameters.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, basis: Basis, names: tuple[str, ...], *params: Tensor) -> Tensor:
        ctx.basis, ctx.names = basis, names
        ctx.save_for_backward(x, weight, *params)
        return F.linear(basis(x).flatten(1).to(weight.dtype), weight)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight, *params = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_p = list(ctx.needs_input_grad[4:])
        with torch.enable_grad():
            # The saved parameters, not the module's current attributes: under torch.func.functional_call
            # (or after an optimiser step) they are different tensors.
            xd = x.detach().requires_grad_(need_x)
            pd = [p.detach().requires_grad_(n) for p, n in zip(params, need_p, strict=True)]
            features = torch.func.functional_call(ctx.basis, dict(zip(ctx.names, pd, strict=True)), (xd,)).flatten(1)
        grad_w = grad_out.T @ features.detach().to(weight.dtype) if need_w else None
        grad_x = None
        grad_p: list[Tensor | None] = [None] * len(params)
        inputs = ([xd] if need_x else []) + [p for p, n in zip(pd, need_p, strict=True) if n]
        if inputs:
            grad_features = (grad_out @ weight).to(features.dtype)
            grads = list(torch.autograd.grad(features, inputs, grad_features, allow_unused=True))
            grad_x = grads.pop(0) if need_x else None
            grad_p = [grads.pop(0) if n else None for n in need_p]
        return grad_x, grad_w, None, None, *grad_p


def compute_dtype(x: Tensor) -> torch.dtype:
    """Bases are evaluated in at least fp32, whatever the activations' dtype."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32
