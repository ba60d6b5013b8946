"""Base activations of a KAN layer: the fixed function on the residual (``base``) branch."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor


def _gelu_tanh(x: Tensor) -> Tensor:
    return F.gelu(x, approximate="tanh")


BASE_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor] | None] = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_tanh": _gelu_tanh,  # GPT-2's "gelu_new"
    "relu": F.relu,
    "identity": lambda x: x,
    "none": None,  # no base branch: the layer is the spline (or rational) term alone
}


def base_activation(name: str) -> Callable[[Tensor], Tensor] | None:
    """The activation called ``name``; ``None`` for "none". Raises ValueError otherwise."""
    if name not in BASE_ACTIVATIONS:
        raise ValueError(f"base_activation={name!r} is not known; choose one of {sorted(BASE_ACTIVATIONS)}")
    return BASE_ACTIVATIONS[name]
