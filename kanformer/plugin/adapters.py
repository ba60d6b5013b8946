"""Architecture adapters: where a model's feed-forward blocks are and what they compute.

An adapter is a small declaration. Blocks are found by module class (the transformer
layer or MLP class), the projections inside them by their relative path, and every
projection is checked structurally (a Linear or Conv1D of the expected widths), so a
renamed or restructured module fails loudly instead of being skipped.

    register_adapter(FFNAdapter(
        model_types=("gpt2",), block_classes=("GPT2MLP",),
        up="c_fc", act="act", down="c_proj", activation="activation_function"))

A model type without a registered adapter is matched by structure (:func:`match_structure`):
the FFN shapes transformers models share (:data:`SHAPES`: gated gate_proj/up_proj/down_proj,
two-layer fc1/fc2, c_fc/c_proj, fc_in/fc_out, dense_h_to_4h/dense_4h_to_h,
intermediate/output, ...) are looked for in every module, and the shape found once per
layer becomes the model's adapter. Registered adapters take precedence. kanify records
the adapter it used in ``config.kanformer["adapter"]``, so a saved model is rebuilt at
load with exactly the same one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
        activation: config attribute naming the activation function ("" if none names it).
        structure: None for a registered adapter; "gated" or "two-layer" for one found by
            :func:`match_structure`.
    """

    model_types: tuple[str, ...]
    block_classes: tuple[str, ...]
    up: str
    act: str
    down: str
    activation: str
    gate: str | None = None
    structure: str | None = None

    @property
    def gated(self) -> bool:
        return self.gate is not None

    @property
    def name(self) -> str:
        """How the adapter was found: "registered: <model types>" or "structural: gated|two-layer"."""
        return f"structural: {self.structure}" if self.structure else f"registered: {'/'.join(self.model_types)}"

    def to_record(self) -> dict[str, Any]:
        """JSON-able fields (kept in ``config.kanformer["adapter"]``); :meth:`from_record` inverts it."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FFNAdapter:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in record.items()})

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
    """The adapter of ``model`` (a transformers model); ValueError (one line) if there is none.

    In order: the adapter recorded by kanify (``config.kanformer["adapter"]``), the adapter
    registered for ``config.model_type``, then :func:`match_structure`.
    """
    config = getattr(model, "config", None)
    recorded = (getattr(config, "kanformer", None) or {}).get("adapter")
    if recorded:
        return FFNAdapter.from_record(recorded)
    model_type = getattr(config, "model_type", None)
    base_type = model_type.removeprefix("kanformer_") if model_type else None
    if base_type in ADAPTERS:
        return ADAPTERS[base_type]
    return match_structure(model)


def _register_hint(model_type: str | None) -> str:
    return (
        f"register one with kanformer.plugin.register_adapter(FFNAdapter(model_types=({model_type!r},), "
        "block_classes=(<FFN block class>,), up=..., act=..., down=..., activation=<config attribute>))"
    )


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
    if not adapter.activation:
        raise ValueError(
            f"no config attribute of {model.config.model_type!r} names its FFN activation "
            f"(looked for {list(ACTIVATION_ATTRIBUTES)}), so it has no kanformer equivalent; use init='scratch'"
        )
    hf = getattr(model.config, adapter.activation, None)
    if hf not in HF_ACTIVATIONS:
        raise ValueError(
            f"activation {hf!r} of {model.config.model_type!r} has no kanformer equivalent "
            f"(known: {sorted(HF_ACTIVATIONS)}); use init='scratch'"
        )
    return HF_ACTIVATIONS[hf]


# ---------------------------------------------------------------- structural matching


@dataclass(frozen=True)
class FFNShape:
    """An FFN layout shared by transformers models, looked for inside every module.

    Attributes:
        structure: "gated" (down(act(gate(x)) * up(x))) or "two-layer" (down(act(up(x)))).
        up, down, gate: paths of the projections inside the block.
        acts: candidate paths of the activation module, the first present wins.
    """

    structure: str
    up: str
    down: str
    acts: tuple[str, ...] = ("act_fn", "act", "activation_fn", "activation")
    gate: str | None = None

    @property
    def names(self) -> str:
        return "/".join(p for p in (self.gate, self.up, self.down) if p)


#: the shapes tried, in order; a module takes the first shape it has (so a gated MLP is never
#: read as a two-layer one)
SHAPES: tuple[FFNShape, ...] = (
    FFNShape("gated", up="up_proj", down="down_proj", gate="gate_proj"),  # Llama, Qwen2, Mistral, Gemma, ...
    FFNShape("gated", up="w3", down="w2", gate="w1"),  # Llama-original / Mixtral naming
    FFNShape("two-layer", up="fc1", down="fc2"),  # OPT (in the decoder layer), Phi, CLIP, ViT
    FFNShape("two-layer", up="c_fc", down="c_proj"),  # GPT-2, GPT-Neo, GPT-BigCode, StarCoder2
    FFNShape("two-layer", up="fc_in", down="fc_out"),  # GPT-J, CodeGen
    FFNShape("two-layer", up="dense_h_to_4h", down="dense_4h_to_h"),  # GPT-NeoX, Falcon
    FFNShape(
        "two-layer", up="intermediate.dense", down="output.dense", acts=("intermediate.intermediate_act_fn",)
    ),  # BERT-likes
    FFNShape("two-layer", up="lin1", down="lin2"),  # DistilBERT
    FFNShape("two-layer", up="up_proj", down="down_proj"),  # non-gated up/down (Nemotron)
)

#: config attributes that name the FFN activation, tried in order
ACTIVATION_ATTRIBUTES = ("hidden_act", "hidden_activation", "activation_function", "activation", "ffn_act")


def num_layers(config: Any) -> int | None:
    """The number of transformer layers a config declares (None if it names none)."""
    for name in ("num_hidden_layers", "n_layer", "n_layers", "num_layers"):
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _child(module: nn.Module, path: str) -> nn.Module | None:
    try:
        return module.get_submodule(path)
    except AttributeError:
        return None


def _shape_of(module: nn.Module, shape: FFNShape) -> str | None:
    """The activation path if ``module`` holds ``shape`` (projections of matching widths, a
    parameter-free activation module); None otherwise."""
    up, down = _child(module, shape.up), _child(module, shape.down)
    gate = _child(module, shape.gate) if shape.gate else None
    if not (up is not None and down is not None and is_projection(up) and is_projection(down)):
        return None
    (d, h), (h2, d2) = widths(up), widths(down)
    if (h2, d2) != (h, d):
        return None
    if shape.gate and (gate is None or not is_projection(gate) or widths(gate) != (d, h)):
        return None
    for path in shape.acts:
        act = _child(module, path)
        if act is not None and not is_projection(act) and next(act.parameters(), None) is None:
            return path
    return None


def _activation_attribute(config: Any, act: nn.Module) -> str:
    """The config attribute whose transformers activation is ``act``'s class ("" if none is)."""
    from transformers.activations import ACT2FN

    for name in ACTIVATION_ATTRIBUTES:
        value = getattr(config, name, None)
        if isinstance(value, str) and value in ACT2FN and type(ACT2FN[value]) is type(act):
            return name
    return ""


def match_structure(model: nn.Module) -> FFNAdapter:
    """An adapter for ``model`` found from its module structure; ValueError (one line) if none fits.

    Every module is compared with :data:`SHAPES`; a shape is accepted when it is found in
    exactly as many modules as the model has layers (``config.num_hidden_layers`` or
    equivalent). The blocks' class names, the paths and the config attribute naming the
    activation (checked against the activation module's class) make the adapter.
    """
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    found: dict[FFNShape, list[tuple[nn.Module, str]]] = {}
    for module in model.modules():
        for shape in SHAPES:
            act = _shape_of(module, shape)
            if act is not None:
                found.setdefault(shape, []).append((module, act))
                break
    expected = num_layers(config)
    registered = sorted(ADAPTERS)
    if not found:
        raise ValueError(
            f"model type {model_type!r} is not supported by kanify: no registered adapter (registered: {registered}) "
            f"and none of the known FFN shapes ({', '.join(s.names for s in SHAPES)}) is in "
            f"{type(model).__name__}; {_register_hint(model_type)}"
        )
    for shape, blocks in found.items():
        if expected is not None and len(blocks) == expected:
            first, act = blocks[0]
            return FFNAdapter(
                model_types=(model_type,) if model_type else (),
                block_classes=tuple(dict.fromkeys(type(m).__name__ for m, _ in blocks)),
                up=shape.up,
                act=act,
                down=shape.down,
                gate=shape.gate,
                activation=_activation_attribute(config, first.get_submodule(act)),
                structure=shape.structure,
            )
    counts = ", ".join(
        f"{len(b)} {s.structure} blocks {s.names} ({'/'.join(dict.fromkeys(type(m).__name__ for m, _ in b))})"
        for s, b in found.items()
    )
    layers = f"{expected} layers" if expected is not None else "no layer count in its config"
    raise ValueError(
        f"model type {model_type!r} is not supported by kanify: no registered adapter (registered: {registered}) "
        f"and no FFN shape found once per layer in {type(model).__name__} (found {counts}; it has {layers}); "
        f"{_register_hint(model_type)}"
    )
