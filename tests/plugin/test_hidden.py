"""hidden=: the width of the KAN FFN.

"keep" and an integer set the intermediate width exactly; "match-params" and
"match-flops" choose the width whose FFN has (within 1%) the parameters / matmul FLOPs
per token of the original FFN. Both are checked here independently of the library's
own counting: parameters by summing the installed modules' parameters, FLOPs by running
the installed FFN (real tensors, CPU) under torch.utils.flop_counter.

The models are a single layer with d=64 and an original width of 1024 (big enough for
a 1% match: one unit of KAN width costs ~0.9% of the FFN for a B-spline layer).
"""

from __future__ import annotations

import pytest
import torch
from plugin_helpers import ARCHS, ffn, make
from torch.utils.flop_counter import FlopCounterMode

from kanformer import KANFFNConfig, KANLinear, kanify

D, H0 = 64, 1024
FAMILIES = ["gpt2-base", "bert-base", "llama-base"]  # Conv1D, Linear with bias, gated Linear without bias
FORMS = [
    ("kan", {"basis": "bspline"}),
    ("kan", {"basis": "rbf"}),
    ("kan", {"basis": "chebyshev"}),
    ("kan", {"basis": "fourier"}),
    ("kan", {"basis": "rational"}),
    ("kan", {"basis": "bspline", "sharing": "group"}),
    ("grkan", {}),
]
FORM_IDS = ["kan-bspline", "kan-rbf", "kan-chebyshev", "kan-fourier", "kan-rational", "kan-group", "grkan"]


def ffn_params(model, arch, i: int = 0) -> int:
    return sum(p.numel() for m in ffn(model, arch, i).values() for p in m.parameters())


def ffn_flops(model, arch, i: int = 0) -> int:
    """Matmul FLOPs of one token through layer i's FFN (as the model computes it)."""
    layers = ffn(model, arch, i)
    act = model.get_submodule(arch.block.format(i)).get_submodule(arch.act)
    x = torch.randn(1, D)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        h = act(layers["gate"](x)) * layers["up"](x) if arch.gated else act(layers["up"](x))
        layers["down"](h)
    return counter.get_total_flops()


def widths(model, arch, i: int = 0) -> dict[str, tuple[int, int]]:
    return {r: (m.in_features, m.out_features) for r, m in ffn(model, arch, i).items()}


@pytest.mark.parametrize("form", ["kan", "grkan"])
@pytest.mark.parametrize("hidden", ["keep", 48])
@pytest.mark.parametrize("name", ["gpt2", "bert", "llama"])
def test_explicit_widths(name: str, hidden: object, form: str) -> None:
    arch = ARCHS[name]
    model, inputs = make(name)
    kanify(model, KANFFNConfig(form=form, hidden=hidden))
    h = 64 if hidden == "keep" else hidden
    assert model.config.kanformer["hidden"] == h
    for i in range(2):
        w = widths(model, arch, i)
        assert w["up"] == (32, h) and w["down"] == (h, 32)
        if arch.gated:
            assert w["gate"] == (32, h)
    model(**inputs)  # runs at the new width


@pytest.mark.usefixtures("warm_rational_cache")
@pytest.mark.parametrize(("form", "options"), FORMS, ids=FORM_IDS)
@pytest.mark.parametrize("name", FAMILIES)
def test_match_params(name: str, form: str, options: dict) -> None:
    arch = ARCHS[name]
    model, _ = make(name, layers=1, d=D, h=H0)
    target = ffn_params(model, arch)
    kanify(model, KANFFNConfig(form=form, hidden="match-params", **options))
    h = model.config.kanformer["hidden"]
    assert all(isinstance(m, KANLinear) for m in ffn(model, arch, 0).values())
    assert widths(model, arch)["up"] == (D, h)
    got = ffn_params(model, arch)
    assert abs(got - target) / target <= 0.01, f"h={h}: {got} params vs {target}"
    if form == "kan" and options.get("sharing", "edge") == "edge":
        assert h < H0 / 4  # a KAN edge costs several weights: a much narrower FFN


@pytest.mark.usefixtures("warm_rational_cache")
@pytest.mark.parametrize(("form", "options"), [FORMS[0], FORMS[5], FORMS[6]], ids=["kan-bspline", "kan-group", "grkan"])
@pytest.mark.parametrize("name", FAMILIES)
def test_match_flops(name: str, form: str, options: dict) -> None:
    """match-flops: the installed FFN's matmul FLOPs per token are within 1% of the
    original's. kanify sizes the FFN by running KANLinear on the meta device, so this also
    covers KANLinear.forward there (torch 2.13's autocast check rejects "meta")."""
    arch = ARCHS[name]
    model, _ = make(name, layers=1, d=D, h=H0)
    target = ffn_flops(model, arch)
    assert target == 2 * D * H0 * (3 if arch.gated else 2)
    kanify(model, KANFFNConfig(form=form, hidden="match-flops", **options))
    h = model.config.kanformer["hidden"]
    got = ffn_flops(model, arch)
    assert abs(got - target) / target <= 0.01, f"h={h}: {got} FLOPs vs {target}"


@pytest.mark.parametrize("name", ["bert", "llama"])
def test_too_small_to_match_raises(name: str) -> None:
    """d=32, h=64: one unit of B-spline KAN width is ~14% of the FFN's parameters."""
    model, _ = make(name)
    with pytest.raises(ValueError, match="too small") as info:
        kanify(model, KANFFNConfig(hidden="match-params"))
    assert "integer" in str(info.value)
    assert not getattr(model.config, "kanformer", None)


@pytest.mark.usefixtures("cold_rational_cache")
@pytest.mark.parametrize(("form", "basis"), [("grkan", "bspline"), ("kan", "rational")], ids=["grkan", "kan-rational"])
def test_match_params_in_a_fresh_process(form: str, basis: str) -> None:
    """match-params works for the first rational layer of a process.

    match-params sizes the FFN by building it under torch.device("meta"); the rational
    basis fits its start (fit_rational, cached per process) while being built. With the
    fit cache cleared (as in a fresh process), that fit must still run on the CPU, not on
    the meta device, and the FFN must match the original's parameters to within 1%.
    """
    arch = ARCHS["bert-base"]
    model, _ = make("bert-base", layers=1, d=D, h=H0)
    target = ffn_params(model, arch)
    kanify(model, KANFFNConfig(form=form, basis=basis, hidden="match-params"))
    assert abs(ffn_params(model, arch) - target) / target <= 0.01
