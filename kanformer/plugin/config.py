"""KANFFNConfig: everything that defines a KAN feed-forward block and how it is injected."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from ..layers.activations import BASE_ACTIVATIONS
from ..layers.basis import BASES
from ..layers.kernels import KERNELS

FORMS = ("kan", "grkan")
INITS = ("scratch", "warm", "distill")
TRAINABLE = ("all", "ffn", "ffn+head")
CALIBRATE = ("none", "range", "grid")
_LAYERS_RE = re.compile(r"^(all|every:\d+|last:\d+)$")


@dataclass
class KANFFNConfig:
    """Settings of the KAN feed-forward blocks that :func:`kanify` installs.

    Layer options (basis ... fused) are those of :class:`~kanformer.KANLinear`; the
    rest say which blocks change, how wide they are and how they start.
    """

    form: str = field(default="kan", metadata={"help": "kan: two KAN layers d->h->d; grkan: KAT group-rational"})
    hidden: str | int = field(default="keep", metadata={"help": "keep | match-params | match-flops | an integer"})
    init: str = field(default="scratch", metadata={"help": "scratch | warm (function-preserving) | distill"})
    calibrate: str = field(
        default="none",
        metadata={"help": "none | range | grid: fit grids (kan) or rational units (grkan) to sampled hidden states"},
    )
    layers: str | list[int] = field(default="all", metadata={"help": "all | [indices] | every:k | last:n"})
    trainable: str = field(default="all", metadata={"help": "all | ffn | ffn+head"})
    basis: str = field(default="bspline", metadata={"help": "bspline | rbf | chebyshev | fourier | rational"})
    grid_size: int = 5
    spline_order: int = 3
    grid_range: tuple[float, float] = field(
        default=(-3.0, 3.0),
        metadata={
            "help": "B-spline grid; FFN inputs are LayerNorm outputs (about unit variance): (-3, 3) covers them, "
            "(-1, 1) leaves 31% outside and stalls scratch training (configs/ablation/scratch-kan.yaml)"
        },
    )
    base_activation: str = field(default="silu", metadata={"help": "scratch only; warm sets it from the model"})
    sharing: str = field(default="edge", metadata={"help": "edge | group (form=kan)"})
    groups: int = 8
    spline_init: str = "noise"
    grid_eps: float = 0.02
    fused: bool = False
    kernel: str = field(
        default="torch",
        metadata={
            "help": "torch | triton | auto: triton runs fused Triton kernels for form=kan, basis=bspline, "
            "sharing=edge on CUDA (pip install kanformer[gpu]); auto uses them on CUDA where installed"
        },
    )
    rational_init: str = field(default="gelu", metadata={"help": "grkan scratch: the function the units start as"})
    distill_steps: int = field(
        default=300, metadata={"help": "init=distill: most Adam steps per block (early stop on held-out tokens)"}
    )
    distill_rows: int = field(
        default=16384, metadata={"help": "init=distill / calibrate: real tokens of hidden states sampled per block"}
    )
    distill_e2e_steps: int = field(
        default=0,
        metadata={"help": "init=distill: steps matching every layer's hidden states to the original model's after"},
    )
    scratch_scale: str | float = field(
        default="match",
        metadata={
            "help": "init=scratch: output std of a new KAN FFN for unit-normal inputs; match = the original FFN's "
            "(keeps the residual stream's scale, e.g. GPT-2's small output projections)"
        },
    )

    def __post_init__(self) -> None:
        self.grid_range = tuple(float(v) for v in self.grid_range)
        if isinstance(self.layers, tuple):
            self.layers = list(self.layers)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError listing every invalid field at once."""
        problems = []

        def check(ok: bool, name: str, allowed: str) -> None:
            if not ok:
                problems.append(f"{name}={getattr(self, name)!r} ({allowed})")

        check(self.form in FORMS, "form", f"choose one of {list(FORMS)}")
        h = self.hidden
        check(
            (isinstance(h, int) and not isinstance(h, bool) and h >= 1) or h in ("keep", "match-params", "match-flops"),
            "hidden",
            "keep, match-params, match-flops or an integer >= 1",
        )
        check(self.init in INITS, "init", f"choose one of {list(INITS)}")
        check(self.calibrate in CALIBRATE, "calibrate", f"choose one of {list(CALIBRATE)}")
        ly = self.layers
        check(
            (isinstance(ly, list) and all(isinstance(i, int) for i in ly) and len(ly) > 0)
            or (isinstance(ly, str) and bool(_LAYERS_RE.match(ly))),
            "layers",
            "all, a non-empty list of indices, every:k or last:n",
        )
        check(self.trainable in TRAINABLE, "trainable", f"choose one of {list(TRAINABLE)}")
        check(self.basis in BASES, "basis", f"choose one of {sorted(BASES)}")
        check(isinstance(self.grid_size, int) and self.grid_size >= 1, "grid_size", "an integer >= 1")
        check(self.spline_order in range(1, 6), "spline_order", "an integer in 1..5")
        check(len(self.grid_range) == 2 and self.grid_range[0] < self.grid_range[1], "grid_range", "need low < high")
        check(self.base_activation in BASE_ACTIVATIONS, "base_activation", f"choose one of {sorted(BASE_ACTIVATIONS)}")
        check(self.sharing in ("edge", "group"), "sharing", "edge or group")
        check(isinstance(self.groups, int) and self.groups >= 1, "groups", "an integer >= 1")
        check(self.rational_init in BASE_ACTIVATIONS and self.rational_init != "none", "rational_init", "an activation")
        check(
            self.calibrate == "none" or self.form == "grkan" or self.basis == "bspline",
            "calibrate",
            "form=kan calibrates B-spline grids: needs basis=bspline",
        )
        check(self.kernel in KERNELS, "kernel", f"choose one of {list(KERNELS)}")
        check(
            self.kernel != "triton" or (self.form == "kan" and self.basis == "bspline" and self.sharing == "edge"),
            "kernel",
            "triton covers form=kan with basis=bspline and sharing=edge; use torch or auto",
        )
        check(0.0 <= self.grid_eps <= 1.0, "grid_eps", "a fraction in [0, 1]")
        check(isinstance(self.distill_steps, int) and self.distill_steps >= 1, "distill_steps", "an integer >= 1")
        check(isinstance(self.distill_rows, int) and self.distill_rows >= 16, "distill_rows", "an integer >= 16")
        check(
            isinstance(self.distill_e2e_steps, int) and self.distill_e2e_steps >= 0,
            "distill_e2e_steps",
            "an integer >= 0",
        )
        sc = self.scratch_scale
        check(
            sc == "match" or (isinstance(sc, (int, float)) and not isinstance(sc, bool) and sc > 0),
            "scratch_scale",
            "match or a number > 0",
        )
        if problems:
            raise ValueError("invalid KAN FFN settings: " + "; ".join(problems))

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
