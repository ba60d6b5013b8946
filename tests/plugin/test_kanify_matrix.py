"""The kanify matrix: every architecture/head x form x basis, from scratch.

For each case a tiny model is kanified with init="scratch", run forward and backward
through its own loss (or the sum of its output for base models), and checked for:
finite outputs and gradients, gradients reaching every KAN parameter, the expected KAN
layers at the FFN paths of every selected block (2 per block, 3 for gated Llama), no
original projection left there, the activation module replaced by nn.Identity for
non-gated blocks (kept for gated ones), the recorded settings and the KAN classes.
"""

from __future__ import annotations

import pytest
import torch
from plugin_helpers import ALL_ARCHS, ARCHS, block, ffn, is_projection, kan_layers, main_output, make, make_labels
from torch import nn

from kanformer import KANFFNConfig, KANLinear, kanify

CASES = [("kan", b) for b in ("bspline", "rbf", "chebyshev", "fourier", "rational")] + [("grkan", None)]


@pytest.mark.parametrize(("form", "basis"), CASES, ids=[f"{f}-{b}" if b else f for f, b in CASES])
@pytest.mark.parametrize("name", ALL_ARCHS)
def test_kanify_forward_backward(name: str, form: str, basis: str | None) -> None:
    arch = ARCHS[name]
    model, inputs = make(name)
    original = {i: {r: type(m) for r, m in ffn(model, arch, i).items()} for i in range(2)}
    assert all(is_projection(m) for i in range(2) for m in ffn(model, arch, i).values()), "fixture paths are stale"
    cfg = KANFFNConfig(form=form, init="scratch", **({"basis": basis} if basis else {}))

    out_model = kanify(model, cfg)

    assert out_model is model  # in place
    # Structure: the FFN projections are KANLinear, nothing else was turned into one.
    kans = kan_layers(model)
    per_block = 3 if arch.gated else 2
    assert len(kans) == per_block * 2
    for i in range(2):
        layers = ffn(model, arch, i)
        assert set(layers) == set(arch.roles)
        for role, m in layers.items():
            assert isinstance(m, KANLinear), f"block {i} {role}: {type(m).__name__} (was {original[i][role].__name__})"
            assert not is_projection(m)
        act = block(model, arch, i).get_submodule(arch.act)
        if arch.gated:
            assert not isinstance(act, nn.Identity)  # gated: down(act(gate(x)) * up(x)) keeps act
        else:
            assert isinstance(act, nn.Identity)  # the KAN layers carry the nonlinearity
        # The layer options follow the settings.
        for m in layers.values():
            if form == "grkan":
                assert (m.basis.name, m.sharing, m.base_activation_name) == ("rational", "group", "none")
            else:
                assert m.basis.name == basis
                assert m.sharing == "edge"
    # Nothing outside the FFNs is a KAN layer, and no projection disappeared elsewhere.
    kan_names = {n for n, _ in kans}
    expected = {f"{arch.block.format(i)}.{p}" for i in range(2) for p in arch.roles.values()}
    assert kan_names == expected
    # Bookkeeping: settings recorded, classes swapped to the registered KAN variants.
    record = model.config.kanformer
    assert record["layers"] == [0, 1]
    assert record["hidden"] == 64
    assert record["settings"]["form"] == form
    assert model.config.model_type == "kanformer_" + arch.model_type
    assert type(model).__name__.startswith("KAN")
    assert getattr(type(model), "_kanformer_class", False)

    # Forward and backward through the model's own loss.
    model.train()
    labels = make_labels(arch, inputs)
    out = model(**inputs, **labels)
    y = main_output(out)
    assert torch.isfinite(y).all()
    loss = out.loss if labels else y.sum()
    assert loss is not None and torch.isfinite(loss)
    loss.backward()
    for n, p in model.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), n
    for n, m in kans:
        for pn, p in m.named_parameters():
            assert p.requires_grad, f"{n}.{pn}"
            assert p.grad is not None, f"{n}.{pn} got no gradient"
    assert any(p.grad.abs().sum() > 0 for _, m in kans for p in m.parameters())
