"""Tiny models of every architecture the kanify plugin supports, and small helpers.

Every architecture (and head) the plugin claims to support is described once by an
:class:`Arch`: how to build a tiny random model, a batch of inputs, labels for the
model's own loss, where its FFN blocks are and which Auto class loads it. The paths are
written out here independently of ``kanformer.plugin.adapters`` so the tests check the
adapters instead of repeating them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import transformers
from torch import Tensor, nn

import kanformer  # noqa: F401  (registers the KAN classes)
from kanformer import KANLinear

VOCAB = 100


@dataclass(frozen=True)
class Arch:
    """A tiny model of one supported architecture and head.

    Attributes:
        name: test id.
        model_type: ``config.model_type`` of the original model.
        build: (layers, d, h) -> a randomly initialised model.
        block: path template of the module holding layer i's FFN projections.
        up, down, act, gate: paths of the projections / activation inside a block.
        auto: the transformers Auto class that loads this head.
        kind: "text" or "image" inputs.
        num_labels: classes of a classification head (labels for the model's own loss),
            "lm" for causal LMs (labels = input_ids) or None for base models.
    """

    name: str
    model_type: str
    build: Callable[[int, int, int], nn.Module]
    block: str
    up: str
    down: str
    act: str
    gate: str | None
    auto: str
    kind: str = "text"
    num_labels: int | str | None = None

    @property
    def gated(self) -> bool:
        return self.gate is not None

    @property
    def roles(self) -> dict[str, str]:
        r = {"up": self.up, "down": self.down}
        if self.gate:
            r["gate"] = self.gate
        return r


def _gpt2_cfg(layers: int, d: int, h: int, **kw: object) -> transformers.GPT2Config:
    return transformers.GPT2Config(
        n_layer=layers, n_embd=d, n_inner=h, n_head=2, vocab_size=VOCAB, n_positions=64,
        bos_token_id=0, eos_token_id=0, **kw,
    )  # fmt: skip


def _bert_cfg(layers: int, d: int, h: int) -> transformers.BertConfig:
    return transformers.BertConfig(
        num_hidden_layers=layers, hidden_size=d, intermediate_size=h, num_attention_heads=2,
        vocab_size=VOCAB, max_position_embeddings=64, num_labels=3,
    )  # fmt: skip


def _vit_kw(layers: int, d: int, h: int) -> dict:
    return dict(
        num_hidden_layers=layers, hidden_size=d, intermediate_size=h, num_attention_heads=2,
        image_size=16, patch_size=8, num_labels=3,
    )  # fmt: skip


def _llama_cfg(layers: int, d: int, h: int) -> transformers.LlamaConfig:
    return transformers.LlamaConfig(
        num_hidden_layers=layers, hidden_size=d, intermediate_size=h, num_attention_heads=2,
        num_key_value_heads=2, vocab_size=VOCAB, max_position_embeddings=64,
    )  # fmt: skip


T = transformers
_GPT2 = dict(up="c_fc", down="c_proj", act="act", gate=None)
_BERT = dict(up="intermediate.dense", down="output.dense", act="intermediate.intermediate_act_fn", gate=None)
_VIT = dict(up="fc1", down="fc2", act="activation_fn", gate=None)
_LLAMA = dict(up="up_proj", down="down_proj", act="act_fn", gate="gate_proj")

ARCHS: dict[str, Arch] = {
    a.name: a
    for a in [
        Arch("gpt2", "gpt2", lambda n, d, h: T.GPT2LMHeadModel(_gpt2_cfg(n, d, h)),
             "transformer.h.{}.mlp", **_GPT2, auto="AutoModelForCausalLM", num_labels="lm"),
        Arch("gpt2-seqcls", "gpt2",
             lambda n, d, h: T.GPT2ForSequenceClassification(_gpt2_cfg(n, d, h, pad_token_id=0, num_labels=3)),
             "transformer.h.{}.mlp", **_GPT2, auto="AutoModelForSequenceClassification", num_labels=3),
        Arch("gpt2-base", "gpt2", lambda n, d, h: T.GPT2Model(_gpt2_cfg(n, d, h)),
             "h.{}.mlp", **_GPT2, auto="AutoModel"),
        Arch("bert", "bert", lambda n, d, h: T.BertForSequenceClassification(_bert_cfg(n, d, h)),
             "bert.encoder.layer.{}", **_BERT, auto="AutoModelForSequenceClassification", num_labels=3),
        Arch("bert-base", "bert", lambda n, d, h: T.BertModel(_bert_cfg(n, d, h)),
             "encoder.layer.{}", **_BERT, auto="AutoModel"),
        Arch("roberta", "roberta",
             lambda n, d, h: T.RobertaForSequenceClassification(T.RobertaConfig(
                 num_hidden_layers=n, hidden_size=d, intermediate_size=h, num_attention_heads=2,
                 vocab_size=VOCAB, max_position_embeddings=64, pad_token_id=1, num_labels=3)),
             "roberta.encoder.layer.{}", **_BERT, auto="AutoModelForSequenceClassification", num_labels=3),
        Arch("distilbert", "distilbert",
             lambda n, d, h: T.DistilBertForSequenceClassification(T.DistilBertConfig(
                 n_layers=n, dim=d, hidden_dim=h, n_heads=2, vocab_size=VOCAB, max_position_embeddings=64,
                 num_labels=3)),
             "distilbert.transformer.layer.{}.ffn", up="lin1", down="lin2", act="activation", gate=None,
             auto="AutoModelForSequenceClassification", num_labels=3),
        Arch("vit", "vit", lambda n, d, h: T.ViTForImageClassification(T.ViTConfig(**_vit_kw(n, d, h))),
             "vit.layers.{}.mlp", **_VIT, auto="AutoModelForImageClassification", kind="image", num_labels=3),
        Arch("vit-base", "vit", lambda n, d, h: T.ViTModel(T.ViTConfig(**_vit_kw(n, d, h))),
             "layers.{}.mlp", **_VIT, auto="AutoModel", kind="image"),
        Arch("deit", "deit", lambda n, d, h: T.DeiTForImageClassification(T.DeiTConfig(**_vit_kw(n, d, h))),
             "deit.layers.{}.mlp", **_VIT, auto="AutoModelForImageClassification", kind="image", num_labels=3),
        Arch("llama", "llama", lambda n, d, h: T.LlamaForCausalLM(_llama_cfg(n, d, h)),
             "model.layers.{}.mlp", **_LLAMA, auto="AutoModelForCausalLM", num_labels="lm"),
        Arch("llama-base", "llama", lambda n, d, h: T.LlamaModel(_llama_cfg(n, d, h)),
             "layers.{}.mlp", **_LLAMA, auto="AutoModel"),
    ]
}  # fmt: skip

#: one model per supported architecture (the heads of the brief)
MAIN_ARCHS = ["gpt2", "bert", "roberta", "distilbert", "vit", "deit", "llama"]
ALL_ARCHS = list(ARCHS)


def make_inputs(arch: Arch, batch: int = 2, seq: int = 8) -> dict[str, Tensor]:
    """A batch of model inputs (token ids avoid 0 and 1, the pad ids of the tiny configs)."""
    if arch.kind == "image":
        return {"pixel_values": torch.randn(batch, 3, 16, 16)}
    return {"input_ids": torch.randint(2, VOCAB, (batch, seq))}


def make_labels(arch: Arch, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
    """Labels so the model computes its own loss ({} for base models)."""
    if arch.num_labels == "lm":
        return {"labels": inputs["input_ids"]}
    if isinstance(arch.num_labels, int):
        n = next(iter(inputs.values())).shape[0]
        return {"labels": torch.randint(0, arch.num_labels, (n,))}
    return {}


def make(name: str, layers: int = 2, d: int = 32, h: int = 64, seed: int = 0) -> tuple[nn.Module, dict[str, Tensor]]:
    """(tiny model in eval mode, a batch of inputs), reproducible from ``seed``."""
    arch = ARCHS[name]
    torch.manual_seed(seed)
    model = arch.build(layers, d, h).eval()
    return model, make_inputs(arch)


def main_output(out: object) -> Tensor:
    """logits of a head model, last_hidden_state of a base model."""
    logits = getattr(out, "logits", None)
    return logits if logits is not None else out.last_hidden_state


@torch.no_grad()
def predict(model: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
    model.eval()
    return main_output(model(**inputs))


def rel_err(a: Tensor, b: Tensor) -> float:
    """max |a - b| / max |b|."""
    return float((a - b).abs().max() / b.abs().max())


def block(model: nn.Module, arch: Arch, i: int) -> nn.Module:
    return model.get_submodule(arch.block.format(i))


def ffn(model: nn.Module, arch: Arch, i: int) -> dict[str, nn.Module]:
    """Role -> module of layer i's FFN projections."""
    b = block(model, arch, i)
    return {role: b.get_submodule(p) for role, p in arch.roles.items()}


def is_projection(m: nn.Module) -> bool:
    return isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"


def kan_layers(model: nn.Module) -> list[tuple[str, KANLinear]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, KANLinear)]


def num_layers(model: nn.Module) -> int:
    c = model.config
    for k in ("num_hidden_layers", "n_layer", "n_layers"):
        if isinstance(getattr(c, k, None), int):
            return getattr(c, k)
    raise AssertionError("no layer count")


def batches(arch: Arch, n: int = 4, batch: int = 4, seq: int = 16, seed: int = 1) -> list[dict[str, Tensor]]:
    """``n`` batches of inputs for calibration / distillation (own generator: no RNG side effects)."""
    g = torch.Generator().manual_seed(seed)
    if arch.kind == "image":
        return [{"pixel_values": torch.randn(batch, 3, 16, 16, generator=g)} for _ in range(n)]
    return [{"input_ids": torch.randint(2, VOCAB, (batch, seq), generator=g)} for _ in range(n)]
