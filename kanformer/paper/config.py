"""Torch-free config of ``kanformer paper pde``: a dataclass read with the shared settings helpers.

    cfg = load_pde_config("configs/paper/pde.yaml")  # one-line ValueError on any problem

Imports no torch, so a bad config fails in a fraction of a second, before any model is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..settings import from_settings, read_yaml

PDE_DTYPES = ("float32", "float64")
PDE_ACTIVATIONS = ("tanh", "silu")


@dataclass
class PDEConfig:
    """``kanformer paper pde`` settings (configs/paper/pde.yaml).

    The 2-D Poisson problem of the KAN paper (Sec. 3.4): laplacian(u) = f on [-1, 1]^2, u = 0 on the
    boundary, exact u = sin(pi x) sin(pi y). Loss = mean interior residual^2 + alpha * mean boundary u^2.
    """

    name: str = "pde"
    description: str = ""
    seed: int = 0
    dtype: str = "float64"
    threads: int = 1
    n_interior: int = 21  # collocation points per axis, interior grid n x n (pykan's np_i)
    n_boundary: int = 21  # points per side of the square (pykan's np_b)
    n_test: int = 51  # test grid per axis (n x n, boundary included) for the L2 and H1 errors
    alpha: float = 0.1  # boundary weight (pykan's PDE example uses 0.01; 0.1 pinned the boundary better here)
    kan_widths: list[int] = field(default_factory=lambda: [2, 10, 1])
    kan_grids: list[int] = field(default_factory=lambda: [5, 10, 20])
    steps_per_grid: int = 20
    grid_update: bool = True  # fit the first grid to the activations of the training points
    mlp_depths: list[int] = field(default_factory=lambda: [2, 3, 4])
    mlp_widths: list[int] = field(default_factory=lambda: [10, 30, 100])
    mlp_activation: str = "tanh"

    @property
    def mlp_steps(self) -> int:
        """The MLPs' LBFGS steps: the KAN's whole budget, steps_per_grid x the number of grids."""
        return self.steps_per_grid * len(self.kan_grids)

    def validate(self) -> list[str]:
        """Every problem of the values, as short phrases (empty when the config is fine)."""
        out: list[str] = []
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            out.append(f"name={self.name!r} (letters, digits, '.', '_' and '-' only: it names reports/paper/<name>/)")
        if self.dtype not in PDE_DTYPES:
            out.append(f"dtype={self.dtype!r} (choose one of {list(PDE_DTYPES)})")
        for key in ("threads", "steps_per_grid"):
            if getattr(self, key) < 1:
                out.append(f"{key}={getattr(self, key)} (need >= 1)")
        for key in ("n_interior", "n_boundary", "n_test"):
            if getattr(self, key) < 2:
                out.append(f"{key}={getattr(self, key)} (need >= 2 points per axis)")
        if not self.alpha > 0:
            out.append(f"alpha={self.alpha} (need a boundary weight > 0)")
        w = self.kan_widths
        if len(w) < 2 or w[0] != 2 or w[-1] != 1 or min(w) < 1:
            out.append(f"kan_widths={w} (need KAN widths [2, ..., 1], e.g. [2, 10, 1])")
        g = self.kan_grids
        if not g or min(g) < 1 or any(b <= a for a, b in zip(g[:-1], g[1:], strict=False)):
            out.append(f"kan_grids={g} (need increasing integers >= 1, e.g. [5, 10, 20])")
        if not self.mlp_depths or min(self.mlp_depths) < 2:
            out.append(f"mlp_depths={self.mlp_depths} (need Linear-layer counts >= 2)")
        if not self.mlp_widths or min(self.mlp_widths) < 1:
            out.append(f"mlp_widths={self.mlp_widths} (need widths >= 1)")
        if self.mlp_activation not in PDE_ACTIVATIONS:
            out.append(f"mlp_activation={self.mlp_activation!r} (choose one of {list(PDE_ACTIVATIONS)})")
        return out

    def as_dict(self) -> dict[str, Any]:
        """The plain mapping its YAML file would hold, plus the derived MLP step count."""
        return {**asdict(self), "mlp_steps": self.mlp_steps}


def parse_pde_config(settings: Mapping[str, Any], source: str = "config") -> PDEConfig:
    """A :class:`PDEConfig` from a YAML mapping; every problem is listed in one ValueError line."""
    try:
        cfg = from_settings(PDEConfig, settings, "paper pde")
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None
    problems = cfg.validate()
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems))
    return cfg


def load_pde_config(path: str) -> PDEConfig:
    """Read and check a ``kanformer paper pde`` YAML file (one-line ValueError on any problem)."""
    return parse_pde_config(read_yaml(path), f"paper pde config {path!r}")
