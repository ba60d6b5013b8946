"""KANFFNConfig: everything that defines a KAN feed-forward block and how it is injected."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal

from ..settings import above, at_least, between, problem, setting, validate

FORMS = ("kan", "grkan")
INITS = ("scratch", "warm", "distill")
TRAINABLE = ("all", "ffn", "ffn+head")
CALIBRATE = ("none", "range", "grid")
HIDDEN = ("keep", "match-params", "match-flops")
_LAYERS_RE = re.compile(r"^(all|every:\d+|last:\d+)$")


def _bases() -> list[str]:
    from ..layers.basis import BASES

    return sorted(BASES)


def _activations() -> list[str]:
    from ..layers.activations import BASE_ACTIVATIONS

    return sorted(BASE_ACTIVATIONS)


def _kernels() -> list[str]:
    from ..layers.kernels import KERNELS

    return list(KERNELS)


def _hidden_ok(h: object) -> bool:
    return h in HIDDEN or (isinstance(h, int) and h >= 1)


def _layers_ok(ly: object) -> bool:
    return (isinstance(ly, list) and len(ly) > 0) or (isinstance(ly, str) and bool(_LAYERS_RE.match(ly)))


@dataclass
class KANFFNConfig:
    """Settings of the KAN feed-forward blocks that :func:`kanify` installs.

    Layer options (basis ... fused) are those of :class:`~kanformer.KANLinear`; the
    rest say which blocks change, how wide they are and how they start.
    """

    form: str = setting("kan", "kan: two KAN layers d->h->d; grkan: KAT group-rational", choices=FORMS)
    hidden: str | int = setting(
        "keep",
        "keep | match-params | match-flops | an integer",
        check=(_hidden_ok, "keep, match-params, match-flops or an integer >= 1"),
    )
    init: str = setting("scratch", "scratch | warm (function-preserving) | distill", choices=INITS)
    calibrate: str = setting(
        "none",
        "fit grids (kan) or rational units (grkan) to sampled hidden states",
        choices=CALIBRATE,
    )
    layers: str | list[int] = setting(
        "all",
        "all | [indices] | every:k | last:n",
        check=(_layers_ok, "all, a non-empty list of indices, every:k or last:n"),
    )
    trainable: str = setting("all", "which parameters train", choices=TRAINABLE)
    basis: str = setting("bspline", "bspline | rbf | chebyshev | fourier | rational", choices=_bases)
    grid_size: int = setting(5, "grid intervals of each edge function", check=at_least(1))
    spline_order: int = setting(3, "B-spline order", check=between(1, 5))
    grid_range: tuple[float, float] = setting(
        (-3.0, 3.0),
        "B-spline grid; FFN inputs are LayerNorm outputs (about unit variance): (-3, 3) covers them, "
        "(-1, 1) leaves 31% outside and stalls scratch training (configs/ablation/scratch-kan.yaml)",
        check=(lambda r: r[0] < r[1], "need low < high"),
    )
    base_activation: str = setting("silu", "scratch only; warm sets it from the model", choices=_activations)
    sharing: str = setting("edge", "edge | group (form=kan)", choices=("edge", "group"))
    groups: int = setting(8, "channel groups of sharing=group and grkan", check=at_least(1))
    spline_init: str = setting("noise", "how spline coefficients start")
    grid_eps: float = setting(0.02, "grid update: 0 quantiles, 1 uniform", check=between(0.0, 1.0))
    fused: bool | Literal["auto"] = setting(
        "auto",
        "torch.compile-fused kernels (bspline, rational): true, false or auto (compiled for calls over >= 1M basis "
        "entries, e.g. 1024 tokens x 384 inputs x 8 functions; eager below and for other bases; a few seconds of "
        "compilation once per process and layer width, eager with a warning where compiling fails)",
    )
    kernel: str = setting(
        "torch",
        "torch | triton | auto: triton runs fused Triton kernels for form=kan, basis=bspline, sharing=edge and for "
        "group-rational units (form=grkan, or form=kan with basis=rational, sharing=group) on CUDA "
        "(pip install kanformer[gpu]); auto uses them on CUDA where installed",
        choices=_kernels,
    )
    rational_init: str = setting(
        "gelu",
        "grkan scratch: the function the units start as",
        choices=lambda: [a for a in _activations() if a != "none"],
    )
    distill_steps: int = setting(
        300, "init=distill: most Adam steps per block (early stop on held-out tokens)", check=at_least(1)
    )
    distill_rows: int = setting(
        16384, "init=distill / calibrate: real tokens of hidden states sampled per block", check=at_least(16)
    )
    distill_e2e_steps: int = setting(
        0,
        "init=distill: steps matching every layer's hidden states to the original model's after",
        check=at_least(0),
    )
    distill_e2e_lr: float = setting(
        1e-4,
        "init=distill: Adam learning rate of the end-to-end stage (1e-3 wrecks a pretrained MiniLM's start; "
        "reports/distill/fidelity.md)",
        check=above(0.0),
    )
    scratch_scale: str | float = setting(
        "match",
        "init=scratch: output std of a new KAN FFN for unit-normal inputs; match = the original FFN's "
        "(keeps the residual stream's scale, e.g. GPT-2's small output projections)",
        check=(lambda s: s == "match" or (not isinstance(s, str) and s > 0), "match or a number > 0"),
    )

    def __post_init__(self) -> None:
        if isinstance(self.grid_range, (list, tuple)) and len(self.grid_range) == 2:
            try:
                self.grid_range = tuple(float(v) for v in self.grid_range)
            except (TypeError, ValueError):
                pass
        if isinstance(self.layers, tuple):
            self.layers = list(self.layers)
        self.validate()

    def validate(self) -> None:
        """Raise SettingsError (a ValueError) listing every invalid field at once."""
        validate(self, "KAN FFN")

    def cross_checks(self, invalid: frozenset[str] = frozenset()) -> list[str]:
        """Problems between fields (those in ``invalid`` are already reported)."""
        out = []
        if not invalid & {"calibrate", "form", "basis"}:
            if self.calibrate != "none" and self.form == "kan" and self.basis != "bspline":
                out.append(problem(self, "calibrate", "form=kan calibrates B-spline grids: needs basis=bspline"))
        if not invalid & {"kernel", "form", "basis", "sharing"} and self.kernel == "triton":
            from ..layers.kan_linear import TRITON_LAYERS

            if not (self.form == "grkan" or (self.form == "kan" and (self.basis, self.sharing) in TRITON_LAYERS)):
                msg = (
                    "triton covers form=grkan, and form=kan with basis=bspline, sharing=edge or basis=rational, "
                    "sharing=group; use torch or auto"
                )
                out.append(problem(self, "kernel", msg))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored in ``model.config.kanformer``)."""
        d = dataclasses.asdict(self)
        d["grid_range"] = list(self.grid_range)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KANFFNConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown KAN FFN settings {unknown}; known: {sorted(names)}")
        return cls(**d)

    def replace(self, **changes: Any) -> KANFFNConfig:
        return dataclasses.replace(self, **changes)

    def without_data(self) -> KANFFNConfig:
        """The same structure, built without data: distillation and calibration only set weight
        values, so benchmarks and checkpoint loading (which overwrites them) skip both."""
        return self.replace(init="scratch" if self.init == "distill" else self.init, calibrate="none")
