"""KAN FFN forms: which KANLinear layers replace a block's projections.

A form maps (settings, d, h, activation, gated, warm) to one layer spec per projection
role ("up", "down", and "gate" for gated MLPs). Non-gated blocks lose their activation
module (the KAN layers carry the nonlinearity); gated blocks keep act(gate) * up.

* ``kan``: every projection a KANLinear with the configured basis. Warm start: spline
  terms zero, the up layer's base branch the identity carrying (W1, b1), the down
  layer's base branch the model's activation carrying (W2, b2): exactly the MLP.
* ``grkan`` (KAT): a group-rational activation before each Linear (KANLinear with
  basis=rational, sharing=group, no base branch). Warm start: the first rational is the
  identity (exact), the second a least-squares fit of the model's activation.

Add a form with :func:`register_form`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..layers.kan_linear import FUSED_BASES
from .config import KANFFNConfig


@dataclass
class LayerSpec:
    """Arguments of one KANLinear: (in_features, out_features, keyword options)."""

    in_features: int
    out_features: int
    options: dict = field(default_factory=dict)


FormBuilder = Callable[[KANFFNConfig, int, int, str, bool, bool, bool], dict[str, LayerSpec]]
FORMS: dict[str, FormBuilder] = {}


def register_form(name: str) -> Callable[[FormBuilder], FormBuilder]:
    def deco(fn: FormBuilder) -> FormBuilder:
        FORMS[name] = fn
        return fn

    return deco


def _roles(d: int, h: int, gated: bool) -> dict[str, tuple[int, int]]:
    roles = {"up": (d, h), "down": (h, d)}
    if gated:
        roles["gate"] = (d, h)
    return roles


@register_form("kan")
def kan_form(cfg: KANFFNConfig, d: int, h: int, act: str, gated: bool, warm: bool, bias: bool) -> dict[str, LayerSpec]:
    common = dict(
        basis=cfg.basis,
        grid_size=cfg.grid_size,
        spline_order=cfg.spline_order,
        grid_range=cfg.grid_range,
        sharing=cfg.sharing,
        groups=cfg.groups,
        grid_eps=cfg.grid_eps,
        spline_init="zero" if warm else cfg.spline_init,
        bias=bias,
    )
    if cfg.basis in FUSED_BASES:
        common["fused"] = cfg.fused
    if cfg.basis == "bspline":
        common["kernel"] = cfg.kernel if cfg.sharing == "edge" else "torch"
    if cfg.basis == "rational":
        common["rational_init"] = cfg.rational_init
        common["kernel"] = cfg.kernel if cfg.sharing == "group" else "torch"
    specs = {}
    for role, (i, o) in _roles(d, h, gated).items():
        base = cfg.base_activation
        if warm:
            base = act if (role == "down" and not gated) else "identity"
        specs[role] = LayerSpec(i, o, {**common, "base_activation": base})
    return specs


@register_form("grkan")
def grkan_form(
    cfg: KANFFNConfig, d: int, h: int, act: str, gated: bool, warm: bool, bias: bool
) -> dict[str, LayerSpec]:
    specs = {}
    for role, (i, o) in _roles(d, h, gated).items():
        init = "identity"
        if role == "down" and not gated:
            init = act if warm else cfg.rational_init
        options = dict(
            basis="rational",
            sharing="group",
            groups=cfg.groups,
            base_activation="none",
            rational_init=init,
            bias=bias,
            fused=cfg.fused,
            kernel=cfg.kernel,
        )
        specs[role] = LayerSpec(i, o, options)
    return specs
