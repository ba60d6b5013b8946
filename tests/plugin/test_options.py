"""kanify options: layers, unsupported models, settings validation, trainable,
calibrate and distill."""

from __future__ import annotations

import copy

import pytest
import torch
import transformers
from plugin_helpers import (
    ARCHS,
    batches,
    block,
    ffn,
    is_projection,
    kan_layers,
    main_output,
    make,
    make_labels,
    predict,
    rel_err,
)
from torch import nn

from kanformer import KANFFNConfig, KANLinear, kanify
from kanformer.layers.knots import interior
from kanformer.plugin import ADAPTERS, FFNAdapter, register_adapter
from kanformer.plugin.adapters import adapter_for


def kan_blocks(model, arch) -> list[int]:
    """Indices of the blocks whose FFN projections are all KANLinear (checked all-or-none)."""
    out = []
    for i in range(model.config.num_hidden_layers if hasattr(model.config, "num_hidden_layers") else 0):
        kinds = {isinstance(m, KANLinear) for m in ffn(model, arch, i).values()}
        assert len(kinds) == 1, f"block {i} is half converted"
        if kinds == {True}:
            out.append(i)
        else:
            assert all(is_projection(m) for m in ffn(model, arch, i).values())
    return out


def assert_untouched(model, cls_name: str) -> None:
    assert not getattr(model.config, "kanformer", None)
    assert not kan_layers(model)
    assert type(model).__name__ == cls_name
    assert not model.config.model_type.startswith("kanformer_")


# ------------------------------------------------------------------- layers


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ("all", [0, 1, 2, 3]),
        ([0], [0]),
        ("every:2", [0, 2]),
        ("every:3", [0, 3]),
        ("last:1", [3]),
        ("last:4", [0, 1, 2, 3]),
        ([2, 0, 2], [0, 2]),
    ],
)
@pytest.mark.parametrize("name", ["bert", "llama"])
def test_layers_selects_exactly_those_blocks(name: str, layers: object, expected: list[int]) -> None:
    arch = ARCHS[name]
    model, inputs = make(name, layers=4)
    kanify(model, KANFFNConfig(layers=layers))
    assert kan_blocks(model, arch) == expected
    assert model.config.kanformer["layers"] == expected
    assert len(kan_layers(model)) == len(expected) * len(arch.roles)
    for i in range(4):
        act = block(model, arch, i).get_submodule(arch.act)
        assert isinstance(act, nn.Identity) == (i in expected and not arch.gated)
    assert torch.isfinite(predict(model, inputs)).all()


@pytest.mark.parametrize("layers", [[5], [0, 2], [-1], "last:9", "every:0", "last:0"])
def test_layers_out_of_range(layers: object) -> None:
    model, _ = make("bert")  # 2 blocks
    with pytest.raises(ValueError, match=r"\b2 FFN blocks"):
        kanify(model, KANFFNConfig(layers=layers))
    assert_untouched(model, "BertForSequenceClassification")


# -------------------------------------------------------- unsupported models


def tiny_gpt_neo() -> nn.Module:
    cfg = transformers.GPTNeoConfig(
        num_layers=2, hidden_size=32, num_heads=2, intermediate_size=64, vocab_size=100,
        max_position_embeddings=64, attention_types=[[["global", "local"], 1]], bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    return transformers.GPTNeoForCausalLM(cfg).eval()


def tiny_t5() -> nn.Module:
    cfg = transformers.T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2, vocab_size=100)
    return transformers.T5ForConditionalGeneration(cfg).eval()


def tiny_bart() -> nn.Module:
    cfg = transformers.BartConfig(
        vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
    )  # fmt: skip
    return transformers.BartForConditionalGeneration(cfg).eval()


@pytest.mark.parametrize(("build", "model_type"), [(tiny_t5, "t5"), (tiny_bart, "bart")], ids=["t5", "bart"])
def test_unsupported_architecture(build, model_type: str) -> None:
    """T5 (wi/wo) has no known FFN shape; BART's fc1/fc2 are in its encoder and decoder
    layers, twice its layer count: both are refused in one line that says how to register."""
    model = build()
    cls_name = type(model).__name__
    with pytest.raises(ValueError) as info:
        kanify(model, KANFFNConfig())
    msg = str(info.value)
    assert repr(model_type) in msg
    for supported in ("bert", "deit", "distilbert", "gpt2", "llama", "roberta", "vit"):
        assert repr(supported) in msg
    assert "register_adapter" in msg
    assert "\n" not in msg
    assert_untouched(model, cls_name)


def test_register_adapter_adds_an_architecture(tmp_path) -> None:
    """GPT-Neo's MLP is GPT-2's shape with nn.Linear; one adapter makes it work end to end,
    and takes precedence over the structural match (c_fc/c_proj) GPT-Neo would get without it."""
    import kanformer

    model = tiny_gpt_neo()
    inputs = {"input_ids": torch.randint(2, 100, (2, 8))}
    y0 = predict(model, inputs)
    adapter = FFNAdapter(
        ("gpt_neo",), ("GPTNeoMLP",), up="c_fc", act="act", down="c_proj", activation="activation_function"
    )
    try:
        register_adapter(adapter)
        kanify(model, KANFFNConfig(init="warm"))
        assert len(kan_layers(model)) == 4
        assert rel_err(predict(model, inputs), y0) < 1e-4
        assert model.config.kanformer["adapter"]["model_types"] == ["gpt_neo"]
        assert adapter_for(model).name == "registered: gpt_neo"
        model.save_pretrained(tmp_path)
        loaded, info = kanformer.from_pretrained(str(tmp_path), output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"]
        assert rel_err(predict(loaded, inputs), y0) < 1e-4
    finally:
        ADAPTERS.pop("gpt_neo", None)


# ---------------------------------------------------------------- settings


def test_invalid_settings_are_reported_together() -> None:
    bad = dict(
        form="mlp",
        hidden="wide",
        init="cold",
        calibrate="always",
        layers="first:2",
        trainable="head",
        basis="wavelet",
        grid_size=0,
        spline_order=7,
        grid_range=(1.0, -1.0),
        base_activation="tanh",
        sharing="row",
        groups=0,
        rational_init="none",
    )
    with pytest.raises(ValueError) as info:
        KANFFNConfig(**bad)
    msg = str(info.value)
    for name, value in bad.items():
        assert f"{name}=" in msg, f"{name} not reported"
        if isinstance(value, str):
            assert repr(value) in msg
    assert msg.count(";") >= len(bad) - 1  # one message, every problem


@pytest.mark.parametrize(
    "bad",
    [
        {"hidden": 0},
        {"hidden": True},
        {"hidden": -8},
        {"layers": []},
        {"layers": [0, "1"]},
        {"layers": "every:k"},
        {"grid_size": 2.5},
        {"calibrate": "grid", "basis": "rbf"},
        {"calibrate": "range", "basis": "chebyshev"},
        {"fused": "yes"},
        {"fused": 1},
    ],
    ids=lambda b: ",".join(f"{k}={v!r}" for k, v in b.items()),
)
def test_each_invalid_setting_raises(bad: dict) -> None:
    with pytest.raises(ValueError, match="invalid KAN FFN settings"):
        KANFFNConfig(**bad)


def test_numeric_settings_are_validated_up_front() -> None:
    """KANFFNConfig.validate reports every invalid field at once, the numeric ones
    included: a negative distill_steps (which would silently train nothing) and a
    grid_eps outside [0, 1] are both named in one ValueError at construction."""
    with pytest.raises(ValueError) as info:
        KANFFNConfig(distill_steps=-5, grid_eps=1.5)
    assert "distill_steps" in str(info.value) and "grid_eps" in str(info.value)


def test_settings_round_trip_through_dict() -> None:
    cfg = KANFFNConfig(form="grkan", hidden=48, layers=(0, 1), grid_range=(-2, 2), init="distill")
    assert cfg.layers == [0, 1] and cfg.grid_range == (-2.0, 2.0)
    assert KANFFNConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        KANFFNConfig.from_dict({**cfg.to_dict(), "colour": "red"})


def test_a_failed_kanify_leaves_the_model_untouched() -> None:
    model, inputs = make("bert")
    y0 = predict(model, inputs)
    with pytest.raises(ValueError, match="groups"):
        kanify(model, KANFFNConfig(sharing="group", groups=5))  # 5 does not divide d=32
    assert_untouched(model, "BertForSequenceClassification")
    assert rel_err(predict(model, inputs), y0) == 0


# ---------------------------------------------------------------- trainable

#: head parameters (names) of each head model: everything outside the base model
HEADS = {
    "bert": ("classifier.",),
    "roberta": ("classifier.",),
    "distilbert": ("pre_classifier.", "classifier."),
    "vit": ("classifier.",),
    "deit": ("classifier.",),
    "gpt2-seqcls": ("score.",),
    "llama": ("lm_head.",),
    "bert-base": (),
    "vit-base": (),
    "llama-base": (),
}


@pytest.mark.parametrize("trainable", ["ffn", "ffn+head"])
@pytest.mark.parametrize("name", list(HEADS))
def test_trainable(name: str, trainable: str) -> None:
    """trainable="ffn" leaves only the KAN parameters trainable, "ffn+head" the KAN
    parameters and the head, and an optimizer step over all parameters changes only those.
    Base models have no head, so ffn+head must equal ffn there: their own parameters lack
    the base_model_prefix ("bert.", "vit.", "model.") but must not count as head."""
    arch = ARCHS[name]
    model, inputs = make(name)
    kanify(model, KANFFNConfig(trainable=trainable))
    kan_ids = {id(p) for _, m in kan_layers(model) for p in m.parameters()}
    names = dict(model.named_parameters())
    kan_names = {n for n, p in names.items() if id(p) in kan_ids}
    head_names = {n for n in names if n.startswith(HEADS[name])} if trainable == "ffn+head" else set()
    assert kan_names and (head_names or trainable == "ffn" or not HEADS[name])
    trainable_names = {n for n, p in names.items() if p.requires_grad}
    assert trainable_names == kan_names | head_names

    # One AdamW step over *all* parameters changes only the trainable ones.
    before = {n: p.detach().clone() for n, p in names.items()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    labels = make_labels(arch, inputs)
    out = model(**inputs, **labels)
    (out.loss if labels else main_output(out).sum()).backward()
    opt.step()
    changed = {n for n, p in names.items() if not torch.equal(p.detach(), before[n])}
    assert changed <= trainable_names
    assert changed & kan_names
    if head_names:
        assert changed & head_names


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "auto"),  # the default: compiled where a call is large enough, eager for tiny ones
        ({"fused": True}, True),
        ({"fused": False}, False),
        ({"form": "grkan", "fused": True}, True),  # the rational units (was dropped by the grkan form)
        ({"form": "grkan"}, "auto"),
        ({"basis": "rational", "sharing": "group", "fused": True}, True),
    ],
    ids=["default", "true", "false", "grkan-true", "grkan-default", "kan-rational"],
)
def test_fused_reaches_every_layer_that_has_fused_kernels(settings: dict, expected: object) -> None:
    model, _ = make("bert")
    kanify(model, KANFFNConfig(**settings))
    assert {m.basis.fused for _, m in kan_layers(model)} == {expected}


def test_trainable_all_is_the_default() -> None:
    model, _ = make("bert")
    for p in model.bert.embeddings.parameters():
        p.requires_grad_(False)
    kanify(model, KANFFNConfig())
    assert all(p.requires_grad for p in model.parameters())


# ---------------------------------------------------------------- calibrate


@pytest.mark.parametrize("calibrate", ["grid", "range"])
@pytest.mark.parametrize("name", ["gpt2", "bert", "vit", "llama"])
def test_calibrate_keeps_the_warm_function_and_moves_the_knots(name: str, calibrate: str) -> None:
    arch = ARCHS[name]
    model, inputs = make(name)
    y0 = predict(model, inputs)
    kanify(model, KANFFNConfig(init="warm", calibrate=calibrate), data=batches(arch))
    assert rel_err(predict(model, inputs), y0) < 1e-4
    default = KANLinear(4, 4).basis.knots[0]  # the uniform knots of grid_range (-1, 1)
    for n, m in kan_layers(model):
        knots = m.basis.knots
        assert knots.shape[1] == default.shape[0]  # same grid size
        assert not torch.allclose(knots, default.expand_as(knots)), f"{n}: knots did not move"
        assert torch.isfinite(knots).all() and (knots.diff(dim=1) > 0).all()
        assert m.basis.uniform == (calibrate == "range"), n


@pytest.mark.parametrize("calibrate", ["grid", "range"])
@pytest.mark.parametrize("name", ["gpt2", "bert", "llama"])
def test_calibrated_grid_spans_each_layers_inputs(name: str, calibrate: str) -> None:
    """Each KAN layer's grid covers exactly the range of the inputs it sees (widened by
    1% of the width each side).

    For gated Llama the down layer sees act(gate(x)) * up(x) (the SiLU is kept and
    applied at run time), not gate(x) * up(x): its grid must be fitted to the former.
    """
    arch = ARCHS[name]
    model, _ = make(name)
    data = batches(arch)
    kanify(model, KANFFNConfig(init="warm", calibrate=calibrate), data=data)
    seen: dict[str, list] = {}
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, n=n: seen.setdefault(n, []).append(inp[0].reshape(-1, inp[0].shape[-1]))
        )
        for n, m in kan_layers(model)
    ]
    with torch.no_grad():
        model.eval()
        for b in data:  # warm + calibrate preserve the function: these are the calibration inputs
            model(**b)
    for h in hooks:
        h.remove()
    for n, m in kan_layers(model):
        x = torch.cat(seen[n])
        lo, hi = x.min(0).values, x.max(0).values
        width = hi - lo
        grid = interior(m.basis.knots, m.basis.spline_order)
        torch.testing.assert_close(grid[:, 0], lo - 0.01 * width, atol=1e-3 * float(width.max()), rtol=0, msg=n)
        torch.testing.assert_close(grid[:, -1], hi + 0.01 * width, atol=1e-3 * float(width.max()), rtol=0, msg=n)


@pytest.mark.parametrize(("init", "calibrate"), [("distill", "none"), ("warm", "grid"), ("scratch", "range")])
def test_data_is_required(init: str, calibrate: str) -> None:
    model, _ = make("bert")
    with pytest.raises(ValueError, match="data"):
        kanify(model, KANFFNConfig(init=init, calibrate=calibrate, hidden=64))
    assert_untouched(model, "BertForSequenceClassification")
    with pytest.raises(ValueError, match="empty"):
        kanify(model, KANFFNConfig(init=init, calibrate=calibrate, hidden=64), data=[])
    assert_untouched(model, "BertForSequenceClassification")


# ------------------------------------------------------------------ distill


def scaled(name: str, seed: int = 0):
    """A tiny model whose FFNs compute O(1) outputs (weights x10, i.e. init std 0.2):
    with the default std of 0.02 the FFN outputs are ~0.01 and distillation has nothing
    to fit (see test_distill_beats_the_mean_at_default_scale)."""
    model, inputs = make(name, seed=seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(10)
    return model, inputs


def ffn_r2(original, distilled, arch, data, i: int = 0) -> float:
    """R^2 of block i's distilled FFN against the original FFN on the original model's
    inputs to that block, computed here from scratch."""
    xs = []
    hook = ffn(original, arch, i)["up"].register_forward_hook(lambda m, inp, out: xs.append(inp[0]))
    with torch.no_grad():
        for b in data:
            original(**b)
    hook.remove()
    x = torch.cat([t.reshape(-1, t.shape[-1]) for t in xs])

    def run(model):
        f, b = ffn(model, arch, i), block(model, arch, i)
        act = b.get_submodule(arch.act)
        h = act(f["gate"](x)) * f["up"](x) if arch.gated else act(f["up"](x))
        return f["down"](h)

    with torch.no_grad():
        y, y_hat = run(original), run(distilled)
    return float(1 - (y_hat - y).pow(2).sum() / (y - y.mean(0)).pow(2).sum())


@pytest.mark.parametrize("name", ["bert", "gpt2", "vit"])
def test_distill_records_r2_per_selected_layer(name: str) -> None:
    """form=grkan at half width, 200 steps on 1024 rows: measured held-out R^2 0.66..0.79
    (bert, gpt2, vit; seeds 0-2); on fresh rows (block 0, recomputed here) within 0.1 of
    the recorded value. form=kan at half width measured far lower (bert 0.29..0.56,
    gpt2/llama/vit -0.27..0.16), so it is not held to 0.5 here."""
    arch = ARCHS[name]
    model, _ = scaled(name)
    original = copy.deepcopy(model)
    kanify(model, KANFFNConfig(form="grkan", init="distill", hidden=32), data=batches(arch, n=16))
    r2 = model.config.kanformer["distill_r2"]
    assert len(r2) == 2
    assert all(r > 0.5 for r in r2), r2
    assert model.config.kanformer["hidden"] == 32
    assert ffn(model, arch, 0)["up"].out_features == 32
    fresh = ffn_r2(original, model, arch, batches(arch, n=4, seed=99))
    assert fresh > 0.5 and abs(fresh - r2[0]) < 0.1, (fresh, r2[0])


def test_distill_only_selected_layers() -> None:
    arch = ARCHS["bert"]
    model, _ = scaled("bert")
    state0 = {k: v.clone() for k, v in model.state_dict().items()}
    kanify(
        model, KANFFNConfig(form="grkan", init="distill", hidden=32, layers=[1], distill_steps=50), data=batches(arch)
    )
    assert len(model.config.kanformer["distill_r2"]) == 1
    assert kan_blocks(model, arch) == [1]
    state1 = model.state_dict()
    prefixes = tuple(f"{arch.block.format(1)}.{p}." for p in arch.roles.values())
    kept = [k for k in state0 if not k.startswith(prefixes)]
    assert all(torch.equal(state0[k], state1[k]) for k in kept)


@pytest.mark.parametrize("form", ["kan", "grkan"])
def test_distill_beats_the_mean_at_default_scale(form: str) -> None:
    """On a tiny model with transformers' default init (FFN outputs of std ~0.01),
    init="distill" beats predicting the mean: the recorded R^2 is positive for every layer.
    The new layers start at output std ~1, so this needs the distillation loss normalised
    by the target's scale (unnormalised, R^2 was about -3800 for kan and -100 for grkan)."""
    arch = ARCHS["bert"]
    model, _ = make("bert")
    kanify(model, KANFFNConfig(form=form, init="distill", hidden=32), data=batches(arch))
    r2 = model.config.kanformer["distill_r2"]
    assert len(r2) == 2
    assert all(r > 0 for r in r2), r2
