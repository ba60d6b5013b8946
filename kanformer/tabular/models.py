"""The two contestants: a KAN [in, h, out] and an MLP [in, H, ..., H, out] with H solved to match its parameters."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..layers import KAN
from .config import TabularConfig

_ACTIVATIONS: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}


def count_params(model: nn.Module) -> int:
    """Trainable parameters (a KAN's knots are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlp_param_count(widths: Sequence[int]) -> int:
    """Parameters of an MLP of Linear layers with biases between consecutive ``widths``."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=False))


def build_mlp(widths: Sequence[int], activation: str = "silu") -> nn.Sequential:
    """Linear layers between consecutive widths with ``activation`` after every hidden one: (N, in) -> (N, out)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=False)):
        if i:
            layers.append(_ACTIVATIONS[activation]())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


def build_kan(widths: Sequence[int], cfg: TabularConfig) -> KAN:
    """A KAN with the config's layer options: (N, widths[0]) -> (N, widths[-1])."""
    return KAN(list(widths), **cfg.kan_options())


def match_mlp_widths(
    num_features: int, num_outputs: int, depth: int, target: int, tolerance: float = 0.05
) -> list[int]:
    """MLP widths [in, H x depth, out] whose parameter count is closest to ``target``.

    The count grows with H, so the search stops at the first width past the target. Raises a
    one-line ValueError when even the closest H misses ``target`` by more than ``tolerance``
    (relative), e.g. a KAN too small for any MLP of that depth.
    """

    def widths(h: int) -> list[int]:
        return [num_features, *[h] * depth, num_outputs]

    best, h = 1, 1
    while True:
        if abs(mlp_param_count(widths(h)) - target) < abs(mlp_param_count(widths(best)) - target):
            best = h
        if mlp_param_count(widths(h)) >= target:
            break
        h += 1
    found = mlp_param_count(widths(best))
    miss = abs(found - target) / target
    if miss > tolerance:
        raise ValueError(
            f"no MLP of depth {depth} matches {target} parameters within {tolerance:.0%}: the closest, "
            f"{widths(best)}, has {found} ({miss:.1%} off); change kan_hidden or mlp_depth"
        )
    return widths(best)


MODELS = ("kan", "mlp")


def plan_widths(num_features: int, num_outputs: int, cfg: TabularConfig) -> dict[str, list[int]]:
    """The widths of both models: the config's KAN, and the MLP of ``cfg.mlp_depth`` that matches its parameters."""
    kan_widths = [num_features, *cfg.kan_hidden, num_outputs]
    target = count_params(build_kan(kan_widths, cfg))
    mlp_widths = match_mlp_widths(num_features, num_outputs, cfg.mlp_depth, target, cfg.param_tolerance)
    return {"kan": kan_widths, "mlp": mlp_widths}


def build_model(name: str, widths: Sequence[int], cfg: TabularConfig) -> nn.Module:
    """``"kan"`` or ``"mlp"`` of the given widths; initial weights come from torch's global RNG (seed it first)."""
    if name == "kan":
        return build_kan(widths, cfg)
    if name == "mlp":
        return build_mlp(widths, cfg.mlp_activation)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
