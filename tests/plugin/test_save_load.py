"""save_pretrained + from_pretrained round trips of kanified models.

Every round trip must account for every key (no missing, unexpected or mismatched
keys, no error messages), restore the same class, settings and tensors, and give the
same outputs. kanformer.from_pretrained and the transformers Auto classes both load
KAN checkpoints; a plain transformers class refuses them with a ValueError.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers
from plugin_helpers import (
    ALL_ARCHS,
    ARCHS,
    batches,
    ffn,
    is_projection,
    kan_layers,
    main_output,
    make,
    make_labels,
    predict,
    rel_err,
)

import kanformer
from kanformer import KANFFNConfig, KANLinear, kanify


def save_and_load(model, path: Path, **kwargs):
    model.save_pretrained(path)
    loaded, info = kanformer.from_pretrained(str(path), output_loading_info=True, **kwargs)
    return loaded, info


def assert_every_key_loaded(info: dict) -> None:
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        assert not info.get(key), f"{key}: {info.get(key)}"


def assert_same_model(a, b, inputs) -> None:
    assert type(a) is type(b)
    assert type(a.config) is type(b.config)
    assert a.config.kanformer == b.config.kanformer
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert rel_err(predict(b, inputs), predict(a, inputs)) < 1e-6


@pytest.mark.parametrize("form", ["kan", "grkan"])
@pytest.mark.parametrize("name", ALL_ARCHS)
def test_round_trip(name: str, form: str, tmp_path: Path) -> None:
    arch = ARCHS[name]
    model, inputs = make(name)
    kanify(model, KANFFNConfig(form=form))
    loaded, info = save_and_load(model, tmp_path)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)
    assert loaded.config.model_type == "kanformer_" + arch.model_type
    assert all(isinstance(m, KANLinear) for i in range(2) for m in ffn(loaded, arch, i).values())
    # The loaded model trains.
    loaded.train()
    labels = make_labels(arch, inputs)
    out = loaded(**inputs, **labels)
    (out.loss if labels else main_output(out).sum()).backward()
    assert all(torch.isfinite(p.grad).all() for _, m in kan_layers(loaded) for p in m.parameters())


@pytest.mark.parametrize("name", ALL_ARCHS)
def test_auto_class_loads_the_kan_model(name: str, tmp_path: Path) -> None:
    """The transformers Auto class of each architecture/head loads the saved KAN model.
    DeiT is the tricky case: AutoModelForImageClassification maps "deit" to a tuple of
    classes (DeiTForImageClassification, DeiTForImageClassificationWithTeacher); the
    first one must be registered for kanformer_deit."""
    arch = ARCHS[name]
    model, inputs = make(name)
    kanify(model, KANFFNConfig())
    model.save_pretrained(tmp_path)
    auto = getattr(transformers, arch.auto)
    loaded, info = auto.from_pretrained(str(tmp_path), output_loading_info=True)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)


@pytest.mark.parametrize("name", ALL_ARCHS)
def test_plain_class_refuses_a_kan_checkpoint(name: str, tmp_path: Path) -> None:
    model, _ = make(name)
    plain = type(model)
    kanify(model, KANFFNConfig())
    model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="kanformer") as info:
        plain.from_pretrained(str(tmp_path))
    assert plain.__name__ in str(info.value)
    # and the same class still loads its own (plain) checkpoints
    fresh, _ = make(name)
    fresh.save_pretrained(tmp_path / "plain")
    again = plain.from_pretrained(str(tmp_path / "plain"))
    assert type(again) is plain and not getattr(again.config, "kanformer", None)


@pytest.mark.parametrize("name", ["gpt2", "bert", "vit", "llama"])
def test_round_trip_of_a_warm_model(name: str, tmp_path: Path) -> None:
    model, inputs = make(name)
    y0 = predict(model, inputs)
    kanify(model, KANFFNConfig(init="warm"))
    loaded, info = save_and_load(model, tmp_path)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)
    assert rel_err(predict(loaded, inputs), y0) < 1e-4
    assert loaded.config.kanformer["settings"]["init"] == "warm"


@pytest.mark.parametrize("name", ["gpt2", "bert", "vit", "llama"])
def test_round_trip_of_a_calibrated_model(name: str, tmp_path: Path) -> None:
    """calibrate="grid" moves the knots to the data (non-uniform); they are saved and
    restored, and the restored model uses them (the spline terms are non-zero here, so
    the outputs depend on the knots)."""
    arch = ARCHS[name]
    model, inputs = make(name)
    kanify(model, KANFFNConfig(init="scratch", calibrate="grid"), data=batches(arch))
    knots = {n: m.basis.knots.clone() for n, m in kan_layers(model)}
    assert not any(m.basis.uniform for _, m in kan_layers(model))
    loaded, info = save_and_load(model, tmp_path)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)
    for n, m in kan_layers(loaded):
        assert torch.equal(m.basis.knots, knots[n]), n
        assert not m.basis.uniform, n
    # The knots matter: the same coefficients on the default uniform grid differ.
    uniform, _ = make(name)
    kanify(uniform, KANFFNConfig(init="scratch"))
    uniform.load_state_dict(
        {k: v for k, v in loaded.state_dict().items() if not k.endswith("basis.knots")}, strict=False
    )
    assert rel_err(predict(uniform, inputs), predict(loaded, inputs)) > 1e-4


@pytest.mark.parametrize("name", ["gpt2", "bert", "vit", "llama"])
def test_round_trip_with_group_sharing(name: str, tmp_path: Path) -> None:
    model, inputs = make(name)
    kanify(model, KANFFNConfig(form="kan", sharing="group", groups=8))
    assert all(m.sharing == "group" for _, m in kan_layers(model))
    loaded, info = save_and_load(model, tmp_path)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)
    assert all(m.sharing == "group" and m.groups == 8 for _, m in kan_layers(loaded))


@pytest.mark.parametrize("name", ["bert", "llama"])
def test_round_trip_of_selected_layers_and_width(name: str, tmp_path: Path) -> None:
    arch = ARCHS[name]
    model, inputs = make(name, layers=3)
    kanify(model, KANFFNConfig(layers=[1], hidden=40))
    loaded, info = save_and_load(model, tmp_path)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)
    assert all(is_projection(m) for i in (0, 2) for m in ffn(loaded, arch, i).values())
    assert all(isinstance(m, KANLinear) for m in ffn(loaded, arch, 1).values())
    assert ffn(loaded, arch, 1)["up"].out_features == 40


@pytest.mark.parametrize("trainable", ["ffn", "ffn+head"])
def test_round_trip_keeps_trainable(trainable: str, tmp_path: Path) -> None:
    """trainable="ffn"/"ffn+head" survives a round trip: the loaded model has exactly the
    same trainable parameters (12 / 14 of the tiny BERT's 45), although transformers'
    from_pretrained materialises every parameter with requires_grad=True."""
    model, _ = make("bert")
    kanify(model, KANFFNConfig(trainable=trainable))
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    assert 0 < len(expected) < len(list(model.parameters()))
    loaded, info = save_and_load(model, tmp_path)
    assert_every_key_loaded(info)
    assert {n for n, p in loaded.named_parameters() if p.requires_grad} == expected


def test_round_trip_of_a_distilled_model(tmp_path: Path) -> None:
    arch = ARCHS["bert"]
    model, inputs = make("bert")
    kanify(model, KANFFNConfig(init="distill", hidden=32, distill_steps=5), data=batches(arch, n=2))
    loaded, info = save_and_load(model, tmp_path)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)
    assert len(loaded.config.kanformer["distill_r2"]) == 2


def test_round_trip_after_grid_extension(tmp_path: Path) -> None:
    """A model whose grid was extended (KANLinear.extend_grid, the usual KAN training
    step) loads with every key and gives the same outputs. transformers v5's loader does
    not go through KANLinear._load_from_state_dict, so the rebuilt model must already have
    the saved grid size: spline weights (.., 13), not the configured (.., 8)."""
    model, inputs = make("bert")
    kanify(model, KANFFNConfig())
    layer = model.bert.encoder.layer[0].intermediate.dense
    layer.extend_grid(10)
    assert layer.spline_weight.shape[-1] == 13
    loaded, info = save_and_load(model, tmp_path)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)


@pytest.mark.usefixtures("cold_rational_cache")
@pytest.mark.parametrize(("form", "basis"), [("grkan", "bspline"), ("kan", "rational")], ids=["grkan", "kan-rational"])
def test_load_rational_checkpoint_in_a_fresh_process(form: str, basis: str, tmp_path: Path) -> None:
    """A grkan (or basis="rational") checkpoint loads in a process that has not fitted
    that rational yet (the fit cache is cleared here, as in a new Python process):
    from_pretrained builds the model on the meta device, and fit_rational
    (kanformer/layers/basis/rational.py) must still fit on the CPU there."""
    from kanformer.layers.basis.rational import fit_rational

    model, inputs = make("bert")
    kanify(model, KANFFNConfig(form=form, basis=basis))
    model.save_pretrained(tmp_path)
    fit_rational.cache_clear()  # as in a new process
    loaded, info = kanformer.from_pretrained(str(tmp_path), output_loading_info=True)
    assert_every_key_loaded(info)
    assert_same_model(model, loaded, inputs)


def test_kanify_twice_raises(tmp_path: Path) -> None:
    model, _ = make("bert")
    kanify(model, KANFFNConfig())
    with pytest.raises(ValueError, match="already kanified"):
        kanify(model, KANFFNConfig())
    model.save_pretrained(tmp_path)
    loaded = kanformer.from_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="already kanified"):
        kanify(loaded, KANFFNConfig(form="grkan"))


def test_from_pretrained_of_a_plain_checkpoint_raises(tmp_path: Path) -> None:
    model, _ = make("bert")
    model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="not a kanformer checkpoint") as info:
        kanformer.from_pretrained(str(tmp_path))
    assert "kanify" in str(info.value)
