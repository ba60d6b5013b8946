"""KAN: a stack of KANLinear layers, Phi_L o ... o Phi_1 (pykan's [2, 5, 1] and so on)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..io import atomic_write
from .basis.bspline import BSplineBasis
from .kan_linear import KANLinear

#: ``format`` tag and ``version`` of the files :meth:`KAN.save` writes
SAVE_FORMAT, SAVE_VERSION = "kanformer-kan", 1


def _plain(value: object) -> bool:
    """True for what torch.load(weights_only=True) reads back: numbers, strings and containers of them."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


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
        # Kept so save() can rebuild the same layers; device and dtype travel with the state dict instead.
        self.layer_kwargs = {k: v for k, v in layer_kwargs.items() if k not in ("device", "dtype")}
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

    def save(self, path: str | os.PathLike) -> Path:
        """Write the network (structure and weights) to ``path`` with torch.save; returns the path.

        The file holds ``{"format": "kanformer-kan", "version": 1, "widths", "layer_kwargs",
        "grid_sizes", "state_dict"}``; :meth:`load` rebuilds the network from it. Grids moved by
        :meth:`update_grid` or refined by :meth:`extend_grid` are kept.
        """
        path = Path(path)
        for key, value in self.layer_kwargs.items():
            if not _plain(value):
                raise ValueError(
                    f"layer option {key}={value!r} cannot be saved: KAN files hold plain numbers, strings and lists"
                )
        record = {
            "format": SAVE_FORMAT,
            "version": SAVE_VERSION,
            "widths": list(self.widths),
            "layer_kwargs": dict(self.layer_kwargs),
            # None for bases without a grid: only B-spline layers can be resized.
            "grid_sizes": [
                layer.basis.grid_size if isinstance(layer.basis, BSplineBasis) else None for layer in self.layers
            ],
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }
        # Through a temporary file and a rename: a reader never sees half a network.
        return atomic_write(path, lambda tmp: torch.save(record, tmp))

    @classmethod
    def load(cls, path: str | os.PathLike) -> KAN:
        """Rebuild a network written by :meth:`save` (on the CPU, in the dtype it was saved in).

        Raises:
            ValueError: one line, when ``path`` is missing or is not a file :meth:`save` wrote.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{str(path)!r} is not a file: expected a KAN written by KAN.save")
        try:
            # weights_only: a KAN file is plain data, so nothing in it may run code while loading.
            record: Any = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - zip, pickle and torch errors all mean "not a saved KAN"
            reason = " ".join(str(err).split())[:120] or type(err).__name__
            raise ValueError(f"{str(path)!r} is not a KAN saved with KAN.save ({reason})") from None
        if not isinstance(record, dict) or record.get("format") != SAVE_FORMAT:
            raise ValueError(f"{str(path)!r} is not a KAN saved with KAN.save (no format={SAVE_FORMAT!r} tag)")
        version = record.get("version")
        if version != SAVE_VERSION:
            raise ValueError(
                f"{str(path)!r} is a KAN file of version {version!r}; this kanformer reads version {SAVE_VERSION}"
            )
        missing = [k for k in ("widths", "layer_kwargs", "grid_sizes", "state_dict") if k not in record]
        if missing:
            raise ValueError(f"{str(path)!r} is an incomplete KAN file: it lacks {missing}")
        state = record["state_dict"]
        model = cls(record["widths"], **record["layer_kwargs"])
        for layer, size in zip(model.layers, record["grid_sizes"], strict=True):
            if size is not None:
                layer.resize_grid(size)  # the shapes the extended coefficients need; values come next
        dtype = next((t.dtype for k, t in state.items() if k.endswith("weight") and t.is_floating_point()), None)
        if dtype is not None:
            model.to(dtype=dtype)
        model.load_state_dict(state)
        return model
