"""init="distill" and calibrate: capture without padding, streaming with a row budget, exact
least-squares starts, per-layer R^2 records and warnings, grkan calibration on held-out inputs,
and hidden states of kanified models."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from plugin_helpers import ARCHS, batches, ffn, make, predict, rel_err

from kanformer.bench.inspect import inspect_model, render_inspect
from kanformer.plugin import KANFFNConfig, kanify
from kanformer.plugin import distill as distill_mod
from kanformer.plugin.distill import capture_inputs, solve_layer, token_rows


def padded_batches(n: int = 3, batch: int = 4, seq: int = 12, seed: int = 3) -> list[dict[str, torch.Tensor]]:
    """Text batches whose rows end in padding of different lengths (attention_mask 0)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(2, 100, (batch, seq), generator=g)
        lengths = torch.randint(3, seq + 1, (batch,), generator=g)
        mask = (torch.arange(seq)[None, :] < lengths[:, None]).long()
        out.append({"input_ids": ids * mask, "attention_mask": mask})
    return out


def test_token_rows_keeps_only_real_tokens() -> None:
    h = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    rows = token_rows(h, mask)
    assert rows.shape == (3, 4)
    torch.testing.assert_close(rows, torch.stack([h[0, 0], h[0, 1], h[1, 0]]))
    assert token_rows(h, None).shape == (6, 4)  # no mask (images): every row


def test_capture_excludes_padding_and_matches_the_hidden_states() -> None:
    arch = ARCHS["bert"]
    model, _ = make("bert")
    data = padded_batches()
    up = ffn(model, arch, 1)["up"]
    x = capture_inputs(model, up, data, max_rows=10_000)
    assert x.shape[0] == sum(int(b["attention_mask"].sum()) for b in data)
    seen = []
    hook = up.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    with torch.no_grad():
        for b in data:
            model(**b)
    hook.remove()
    expected = torch.cat([token_rows(s, b["attention_mask"]) for s, b in zip(seen, data, strict=True)])
    torch.testing.assert_close(x, expected)


def test_capture_streams_only_the_batches_it_needs() -> None:
    arch = ARCHS["bert"]
    model, _ = make("bert")
    pulled = []

    class Counting:
        def __iter__(self):
            for i, b in enumerate(batches(arch, n=50, batch=4, seq=16)):
                pulled.append(i)
                yield b

    x = capture_inputs(model, ffn(model, arch, 0)["up"], Counting(), max_rows=100)
    assert x.shape[0] == 100
    assert len(pulled) == 2  # 64 rows per batch: the second batch reaches the budget, then it stops


@pytest.mark.parametrize("sharing", ["edge", "group"])
def test_solve_layer_is_exact_for_a_representable_target(sharing: str) -> None:
    from kanformer import KANLinear

    torch.manual_seed(0)
    truth = KANLinear(6, 5, sharing=sharing, groups=2, grid_range=(-3, 3))
    fitted = KANLinear(6, 5, sharing=sharing, groups=2, grid_range=(-3, 3))
    if sharing == "group":
        fitted.coefficients.data.copy_(truth.coefficients)  # the shared functions are not solved, W is
        fitted.basis.load_state_dict(truth.basis.state_dict())
    x = torch.randn(500, 6)
    with torch.no_grad():
        y = truth(x)
    solve_layer(fitted, x, y, ridge=1e-10)
    with torch.no_grad():
        assert rel_err(fitted(x), y) < 1e-4


@pytest.mark.parametrize("name", ["bert", "gpt2", "vit", "llama"])
def test_distill_at_full_width_recovers_the_model(name: str) -> None:
    """hidden=keep keeps every hidden unit: the pruned start plus the least-squares down layer
    is the MLP itself, so the distilled model computes the original function."""
    arch = ARCHS[name]
    model, inputs = make(name)
    ref = predict(model, inputs)
    kanify(model, KANFFNConfig(init="distill", distill_steps=5), data=batches(arch))
    assert all(r > 0.999 for r in model.config.kanformer["distill_r2"]), model.config.kanformer
    assert rel_err(predict(model, inputs), ref) < 5e-3


def test_distill_warns_naming_a_layer_with_negative_r2(monkeypatch: pytest.MonkeyPatch) -> None:
    arch = ARCHS["bert"]
    model, _ = make("bert")
    monkeypatch.setattr(distill_mod, "fit_block", lambda *a, **k: -0.25)
    with pytest.warns(UserWarning, match=r"layer 1 .*R\^2 of -0.250"):
        kanify(model, KANFFNConfig(init="distill", hidden=16, layers=[1]), data=batches(arch))
    assert model.config.kanformer["distill_r2"] == [-0.25]


def test_distill_without_warnings_on_a_good_fit() -> None:
    arch = ARCHS["bert"]
    model, _ = make("bert")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kanify(model, KANFFNConfig(init="distill", distill_steps=5), data=batches(arch))


def test_distill_without_data_says_how_to_pass_it() -> None:
    model, _ = make("bert")
    with pytest.raises(ValueError, match=r"data=.*--task"):
        kanify(model, KANFFNConfig(init="distill", hidden="match-params"))


def test_distill_end_to_end_lowers_the_hidden_state_error() -> None:
    """The end-to-end stage trains all new FFNs against the original model's hidden states (the
    original FFNs swapped back in for the targets): its loss falls, and on the distillation
    batches the model's hidden states end closer to the original's than after the layer-wise fit."""
    arch = ARCHS["bert"]
    base, _ = make("bert")
    with torch.no_grad():
        for p in base.parameters():
            if p.dim() >= 2:
                p.mul_(10)  # O(1) FFN outputs: something to fit
    data = batches(arch, n=8)
    cfg = KANFFNConfig(init="distill", hidden=16, distill_steps=20)
    layerwise = kanify(copy.deepcopy(base), cfg, data=data)
    both = kanify(copy.deepcopy(base), cfg.replace(distill_e2e_steps=40), data=data)
    first, last = both.config.kanformer["distill_e2e_loss"]
    assert last < first
    # the learning rate is the config's: a far larger one ends elsewhere
    wild = kanify(copy.deepcopy(base), cfg.replace(distill_e2e_steps=40, distill_e2e_lr=0.3), data=data)
    assert wild.config.kanformer["distill_e2e_loss"][-1] != pytest.approx(last, rel=1e-3)

    def error(model: torch.nn.Module) -> float:
        with torch.no_grad():
            return sum(
                float((model(**b).last_hidden_state - base.bert(**b).last_hidden_state).pow(2).sum()) for b in data
            )

    layerwise.bert.eval(), both.bert.eval()
    assert error(both.bert) < error(layerwise.bert)


def test_inspect_shows_the_recorded_r2() -> None:
    arch = ARCHS["bert"]
    model, _ = make("bert")
    kanify(model, KANFFNConfig(init="distill", hidden=16, distill_steps=5), data=batches(arch))
    report = inspect_model(model)
    r2 = model.config.kanformer["distill_r2"]
    assert [row["fit_r2"] for row in report["layers"]] == r2
    assert report["kanify"]["distill_r2"] == r2
    text = render_inspect(report)
    assert "R² vs original (held-out)" in text
    assert f"{r2[0]:.3f}" in text


def held_out_error(model: torch.nn.Module, original: torch.nn.Module, data: list[dict]) -> float:
    """Relative L2 error of the last hidden state over real tokens."""
    num = den = 0.0
    with torch.no_grad():
        for b in data:
            h, h0 = model(**b).last_hidden_state, original(**b).last_hidden_state
            m = b["attention_mask"].bool()
            num += float((h[m] - h0[m]).pow(2).sum())
            den += float(h0[m].pow(2).sum())
    return (num / den) ** 0.5


def test_grkan_warm_calibration_carries_to_held_out_text() -> None:
    """KAT's recipe on a base BERT whose FFN pre-activations span a wide range: calibrated on
    some batches, the model moves less on other batches than without calibration, and the
    record holds each layer's in-sample R^2."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=2, vocab_size=100)
    original = BertModel(cfg).eval()
    with torch.no_grad():
        for layer in original.encoder.layer:
            layer.intermediate.dense.weight.mul_(60)  # pre-activations of std ~3: GELU's curved part matters
    fit, held_out = padded_batches(n=4, seed=1), padded_batches(n=4, seed=2)
    plain = kanify(copy.deepcopy(original), KANFFNConfig(form="grkan", init="warm"))
    calibrated = kanify(copy.deepcopy(original), KANFFNConfig(form="grkan", init="warm", calibrate="range"), data=fit)
    e_plain, e_cal = held_out_error(plain, original, held_out), held_out_error(calibrated, original, held_out)
    assert e_cal < 0.5 * e_plain, (e_cal, e_plain)
    r2 = calibrated.config.kanformer["calibrate_r2"]
    assert len(r2) == 2 and all(r > 0.99 for r in r2), r2


@pytest.mark.parametrize("name", ["bert", "gpt2", "vit"])
def test_kanified_models_still_return_hidden_states(name: str) -> None:
    """transformers v5 records hidden states by the model's class name; the swapped-in KAN class
    must be registered too (it returned None before)."""
    model, inputs = make(name)
    n = len(model(**inputs, output_hidden_states=True).hidden_states)
    kanify(model, KANFFNConfig(hidden=16))
    out = model(**inputs, output_hidden_states=True)
    assert out.hidden_states is not None and len(out.hidden_states) == n
