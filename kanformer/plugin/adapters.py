"""Architecture adapters: where a model's feed-forward blocks are and what they compute.

An adapter is a small declaration. Blocks are found by module class (the transformer
layer or MLP class), the projections inside them by their relative path, and every
projection is checked structurally (a Linear or Conv1D of the expected widths), so a
renamed or restructured module fails loudly instead of being skipped.

    register_adapter(FFNAdapter(
        model_types=("gpt2",), block_classes=("GPT2MLP",),
        up="c_fc", act="act", down="c_proj", activation="activation_function"))
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

#: transformers activation names -> kanformer base activation names
HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}


@dataclass(frozen=True)
class FFNAdapter:
    """How one architecture's FFN looks.

    Attributes:
        model_types: ``config.model_type`` values served.
        block_classes: class names of the modules holding one FFN (one per layer).
        up, act, down: paths inside a block of the d -> h projection, the activation
            module and the h -> d projection.
        gate: path of the gate projection for gated MLPs (down(act(gate(x)) * up(x))).
        activation: config attribute naming the activation function.
    """

    model_types: tuple[str, ...]
    block_classes: tuple[str, ...]
    up: str
    act: str
    down: str
    activation: str
    gate: str | None = None

    @property
    def gated(self) -> bool:
        return self.gate is not None

    @property
    def projections(self) -> dict[str, str]:
        """Projection role ("up", "down", "gate") -> path inside a block."""
        roles = {"up": self.up, "down": self.down}
        if self.gate is not None:
            roles["gate"] = self.gate
        return roles


ADAPTERS: dict[str, FFNAdapter] = {}


def register_adapter(adapter: FFNAdapter) -> FFNAdapter:
    """Make kanify support ``adapter.model_types``."""
    for t in adapter.model_types:
        ADAPTERS[t] = adapter
    return adapter


for _a in (
    FFNAdapter(("gpt2",), ("GPT2MLP",), up="c_fc", act="act", down="c_proj", activation="activation_function"),
    FFNAdapter(
        ("bert", "roberta"),
        ("BertLayer", "RobertaLayer"),
        up="intermediate.dense",
        act="intermediate.intermediate_act_fn",
        down="output.dense",
        activation="hidden_act",
    ),
    FFNAdapter(("distilbert",), ("FFN",), up="lin1", act="activation", down="lin2", activation="activation"),
    FFNAdapter(
        ("vit", "deit"), ("ViTMLP", "DeiTMLP"), up="fc1", act="activation_fn", down="fc2", activation="hidden_act"
    ),
    FFNAdapter(
        ("llama",),
        ("LlamaMLP",),
        up="up_proj",
        act="act_fn",
        down="down_proj",
        gate="gate_proj",
        activation="hidden_act",
    ),
):
    register_adapter(_a)


def adapter_for(model: nn.Module) -> FFNAdapter:
    """The adapter of ``model`` (a transformers model); ValueError if unsupported."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    base_type = model_type.removeprefix("kanformer_") if model_type else None
    if base_type not in ADAPTERS:
        raise ValueError(
            f"model type {model_type!r} is not supported by kanify; supported: {sorted(ADAPTERS)}. "
            "Register one with kanformer.plugin.register_adapter(FFNAdapter(model_types=(...), "
            "block_classes=(...), up=..., act=..., down=..., activation=...))"
        )
    return ADAPTERS[base_type]


def find_blocks(model: nn.Module, adapter: FFNAdapter) -> list[tuple[str, nn.Module]]:
    """The FFN-holding modules, in forward (layer) order: a list of (name, module)."""
    return [(n, m) for n, m in model.named_modules() if type(m).__name__ in adapter.block_classes]


def get_path(root: nn.Module, path: str) -> nn.Module:
    return root.get_submodule(path)


def set_path(root: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, module)


def is_projection(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def linear_params(module: nn.Module) -> tuple[Tensor, Tensor | None]:
    """(weight (out, in), bias (out,) or None) of a Linear or GPT-2 Conv1D (stored (in, out))."""
    if isinstance(module, nn.Linear):
        return module.weight, module.bias
    if type(module).__name__ == "Conv1D":
        return module.weight.t(), module.bias
    raise TypeError(f"{type(module).__name__} is not a Linear or Conv1D projection")


def widths(module: nn.Module) -> tuple[int, int]:
    """(in_features, out_features) of a projection."""
    w, _ = linear_params(module)
    return w.shape[1], w.shape[0]


def activation_name(model: nn.Module, adapter: FFNAdapter) -> str:
    """The FFN activation as a kanformer base-activation name; ValueError if unknown."""
    hf = getattr(model.config, adapter.activation, None)
    if hf not in HF_ACTIVATIONS:
        raise ValueError(
            f"activation {hf!r} of {model.config.model_type!r} has no kanformer equivalent "
            f"(known: {sorted(HF_ACTIVATIONS)}); use init='scratch'"
        )
    return HF_ACTIVATIONS[hf]
