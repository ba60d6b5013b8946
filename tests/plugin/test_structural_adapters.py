"""Adapters by structure: architectures with no registered adapter, kanified because their FFN
has a shape transformers models share (gated gate/up/down, two-layer fc1/fc2, fc_in/fc_out,
dense_h_to_4h/dense_4h_to_h), including OPT, whose fc1/fc2 sit in the decoder layer itself.

For each: the warm start reproduces the original model, save_pretrained + kanformer.from_pretrained
rebuilds it with every key accounted for and identical outputs, and kanify and inspect name the
adapter that matched. A model with no known shape gets one line saying how to register one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import transformers
from plugin_helpers import kan_layers, predict, rel_err
from torch import nn

import kanformer
from kanformer import KANFFNConfig, KANLinear, kanify
from kanformer.bench.inspect import inspect_model, render_inspect
from kanformer.plugin import ADAPTERS, FFNAdapter, register_adapter
from kanformer.plugin.adapters import adapter_for, match_structure

VOCAB, D, H, LAYERS = 64, 32, 64, 2


@dataclass(frozen=True)
class Structural:
    """A tiny model of an architecture kanify supports only by structure."""

    name: str
    model_type: str
    build: Callable[[], nn.Module]
    structure: str  # "gated" | "two-layer"
    block_class: str
    up: str

    @property
    def kan_layers_per_block(self) -> int:
        return 3 if self.structure == "gated" else 2


def _decoder_kw() -> dict:
    return dict(
        vocab_size=VOCAB, hidden_size=D, intermediate_size=H, num_hidden_layers=LAYERS, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0,
    )  # fmt: skip


ARCHS = [
    Structural(
        "qwen2", "qwen2", lambda: transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**_decoder_kw())),
        "gated", "Qwen2MLP", "up_proj",
    ),
    Structural(
        "mistral", "mistral", lambda: transformers.MistralForCausalLM(transformers.MistralConfig(**_decoder_kw())),
        "gated", "MistralMLP", "up_proj",
    ),
    Structural(
        "gemma", "gemma",
        lambda: transformers.GemmaForCausalLM(transformers.GemmaConfig(**_decoder_kw(), head_dim=16)),
        "gated", "GemmaMLP", "up_proj",
    ),
    Structural(
        "phi", "phi",
        lambda: transformers.PhiForCausalLM(
            transformers.PhiConfig(**{k: v for k, v in _decoder_kw().items() if k != "num_key_value_heads"})
        ),
        "two-layer", "PhiMLP", "fc1",
    ),
    Structural(
        "opt", "opt",
        lambda: transformers.OPTForCausalLM(transformers.OPTConfig(
            vocab_size=VOCAB, hidden_size=D, ffn_dim=H, num_hidden_layers=LAYERS, num_attention_heads=2,
            word_embed_proj_dim=D, max_position_embeddings=64, pad_token_id=0,
        )),
        "two-layer", "OPTDecoderLayer", "fc1",  # fc1/fc2 are attributes of the decoder layer itself
    ),
    Structural(
        "gpt_neox", "gpt_neox",
        lambda: transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(
            vocab_size=VOCAB, hidden_size=D, intermediate_size=H, num_hidden_layers=LAYERS, num_attention_heads=2,
            max_position_embeddings=64,
        )),
        "two-layer", "GPTNeoXMLP", "dense_h_to_4h",
    ),
    Structural(
        "gptj", "gptj",
        lambda: transformers.GPTJForCausalLM(transformers.GPTJConfig(
            vocab_size=VOCAB, n_embd=D, n_inner=H, n_layer=LAYERS, n_head=2, rotary_dim=8, n_positions=64,
        )),
        "two-layer", "GPTJMLP", "fc_in",
    ),
]  # fmt: skip
IDS = [a.name for a in ARCHS]


def build(arch: Structural, seed: int = 0) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    torch.manual_seed(seed)
    model = arch.build().eval()
    return model, {"input_ids": torch.randint(1, VOCAB, (2, 8))}


@pytest.mark.parametrize("arch", ARCHS, ids=IDS)
def test_architecture_is_not_registered(arch: Structural) -> None:
    """The matrix only means something if these architectures have no registered adapter."""
    assert arch.model_type not in ADAPTERS
    model, _ = build(arch)
    adapter = adapter_for(model)
    assert adapter.name == f"structural: {arch.structure}"
    assert adapter.block_classes == (arch.block_class,) and adapter.up == arch.up


@pytest.mark.parametrize("arch", ARCHS, ids=IDS)
def test_warm_start_reproduces_the_model(arch: Structural) -> None:
    model, inputs = build(arch)
    y0 = predict(model, inputs)
    kanify(model, KANFFNConfig(form="kan", hidden="keep", init="warm"))
    assert len(kan_layers(model)) == LAYERS * arch.kan_layers_per_block
    assert rel_err(predict(model, inputs), y0) < 1e-4
    record = model.config.kanformer["adapter"]
    assert record["structure"] == arch.structure and record["block_classes"] == [arch.block_class]
    assert adapter_for(model).name == f"structural: {arch.structure}"  # read back from the record


@pytest.mark.parametrize("arch", ARCHS, ids=IDS)
def test_save_load_round_trip(arch: Structural, tmp_path: Path) -> None:
    """Scratch KAN weights (random), so a block rebuilt differently or re-initialised shows."""
    model, inputs = build(arch)
    cls_name = type(model).__name__
    kanify(model, KANFFNConfig(form="kan", init="scratch"))
    y = predict(model, inputs)
    model.save_pretrained(tmp_path)
    loaded, info = kanformer.from_pretrained(str(tmp_path), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert type(loaded).__name__ == f"KAN{cls_name}"
    assert loaded.config.kanformer == model.config.kanformer
    assert [n for n, _ in kan_layers(loaded)] == [n for n, _ in kan_layers(model)]
    torch.testing.assert_close(predict(loaded, inputs), y, rtol=0, atol=1e-6)


@pytest.mark.parametrize("arch", ARCHS, ids=IDS)
def test_inspect_names_the_adapter(arch: Structural) -> None:
    model, _ = build(arch)
    report = inspect_model(model, KANFFNConfig(form="kan"), seq_len=8)
    assert report["adapter"]["name"] == f"structural: {arch.structure}"
    assert report["adapter"]["block_classes"] == [arch.block_class]
    assert f"Adapter: structural: {arch.structure} ({arch.block_class}: " in render_inspect(report)


def test_registered_adapter_takes_precedence() -> None:
    arch = ARCHS[0]  # qwen2
    model, inputs = build(arch)
    y0 = predict(model, inputs)
    adapter = FFNAdapter(
        ("qwen2",),
        ("Qwen2MLP",),
        up="up_proj",
        act="act_fn",
        down="down_proj",
        gate="gate_proj",
        activation="hidden_act",
    )
    try:
        register_adapter(adapter)
        assert adapter_for(model) is adapter and adapter.name == "registered: qwen2"
        kanify(model, KANFFNConfig(init="warm"))
        assert model.config.kanformer["adapter"]["structure"] is None
        assert rel_err(predict(model, inputs), y0) < 1e-4
    finally:
        ADAPTERS.pop("qwen2", None)


def test_loads_in_a_fresh_process(tmp_path: Path) -> None:
    """A new process has registered only the registered adapters' KAN model types; the
    kanformer_<type> of a structurally matched model is registered when first looked up,
    so both kanformer.from_pretrained and the Auto classes load it."""
    arch = next(a for a in ARCHS if a.name == "opt")
    model, inputs = build(arch)
    kanify(model, KANFFNConfig(init="scratch"))
    model.save_pretrained(tmp_path)
    torch.save({"inputs": inputs, "y": predict(model, inputs)}, tmp_path / "expected.pt")
    script = textwrap.dedent(
        f"""
        import torch, transformers, kanformer
        saved = torch.load({str(tmp_path / "expected.pt")!r})
        for load in (kanformer.from_pretrained, transformers.AutoModelForCausalLM.from_pretrained):
            model = load({str(tmp_path)!r}).eval()
            with torch.no_grad():
                y = model(**saved["inputs"]).logits
            torch.testing.assert_close(y, saved["y"], rtol=0, atol=1e-6)
            print(type(model).__name__)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["KANOPTForCausalLM", "KANOPTForCausalLM"]


def tiny_t5() -> nn.Module:
    cfg = transformers.T5Config(d_model=D, d_ff=H, d_kv=16, num_layers=LAYERS, num_heads=2, vocab_size=VOCAB)
    return transformers.T5ForConditionalGeneration(cfg).eval()


def tiny_bart() -> nn.Module:
    cfg = transformers.BartConfig(
        vocab_size=VOCAB, d_model=D, encoder_layers=LAYERS, decoder_layers=LAYERS, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=H, decoder_ffn_dim=H, max_position_embeddings=64,
    )  # fmt: skip
    return transformers.BartForConditionalGeneration(cfg).eval()


@pytest.mark.parametrize(
    ("build_model", "model_type", "why"),
    [(tiny_t5, "t5", "none of the known FFN shapes"), (tiny_bart, "bart", "found 4 two-layer blocks fc1/fc2")],
    ids=["unknown-shape", "blocks-not-one-per-layer"],
)
def test_unknown_structure_gets_one_line(build_model: Callable[[], nn.Module], model_type: str, why: str) -> None:
    model = build_model()
    with pytest.raises(ValueError) as info:
        match_structure(model)
    with pytest.raises(ValueError) as via_kanify:
        kanify(model, KANFFNConfig())
    msg = str(info.value)
    assert str(via_kanify.value) == msg
    assert "\n" not in msg
    assert msg.startswith(f"model type {model_type!r} is not supported by kanify")
    assert why in msg
    assert "kanformer.plugin.register_adapter(FFNAdapter(model_types=(" in msg
    assert not any(isinstance(m, KANLinear) for m in model.modules())
