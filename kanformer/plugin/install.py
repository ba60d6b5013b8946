"""Build KAN layers and install them in a model's FFN blocks.

Shared by :func:`~kanformer.plugin.kanify.kanify` (which then fits and records them) and
:mod:`~kanformer.plugin.rebuild` (which rebuilds a recorded structure when a saved model
loads). No transformers imports: models are reached through their adapters.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..layers import KANLinear
from .adapters import FFNAdapter, find_blocks, is_projection, linear_params, set_path
from .config import KANFFNConfig
from .distill import Teacher
from .forms import FORMS, LayerSpec

#: inits whose KAN FFN has the warm layout (identity up base, the model's activation on the down base)
WARM_LAYOUT = ("warm", "distill")


def _num_layers(config: Any) -> int | None:
    for name in ("num_hidden_layers", "n_layer", "n_layers"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def ffn_blocks(model: nn.Module, adapter: FFNAdapter) -> list[nn.Module]:
    """The FFN-holding modules of ``model``, one per layer; ValueError if their count is off."""
    blocks = [m for _, m in find_blocks(model, adapter)]
    expected = _num_layers(model.config)
    if expected is not None and len(blocks) != expected:
        raise ValueError(
            f"found {len(blocks)} FFN blocks of classes {adapter.block_classes} in {type(model).__name__}, "
            f"expected {expected} (one per layer); the architecture may have changed: update its adapter"
        )
    return blocks


def build_layers(specs: dict[str, LayerSpec], device: torch.device | None = None) -> dict[str, KANLinear]:
    """One KANLinear per projection role ("up", "down", "gate")."""
    return {r: KANLinear(s.in_features, s.out_features, device=device, **s.options) for r, s in specs.items()}


def _ffn_forward(block: nn.Module, adapter: FFNAdapter, x: Tensor) -> Tensor:
    """The block's FFN map without dropout or residual: (..., d) -> (..., d)."""
    up, act, down = (block.get_submodule(p) for p in (adapter.up, adapter.act, adapter.down))
    h = act(block.get_submodule(adapter.gate)(x)) * up(x) if adapter.gated else act(up(x))
    return down(h)


@torch.no_grad()
def _output_std(block: nn.Module, adapter: FFNAdapter, d: int, like: Tensor) -> float:
    """Std of the original FFN's output for unit-normal inputs (a scratch KAN FFN starts at this scale)."""
    x = torch.randn(512, d, device=like.device, dtype=like.dtype)
    return float(_ffn_forward(block, adapter, x).float().std())


def install_layers(
    model: nn.Module,
    cfg: KANFFNConfig,
    adapter: FFNAdapter,
    blocks: list[nn.Module],
    selected: list[int],
    hidden: int,
    act: str,
) -> tuple[list[dict[str, KANLinear]], list[Teacher]]:
    """Build and install the KAN layers of the selected blocks; returns them and the original FFNs."""
    warm = cfg.init in WARM_LAYOUT
    installed, teachers = [], []
    for i in selected:
        block = blocks[i]
        originals = {r: block.get_submodule(p) for r, p in adapter.projections.items()}
        for role, m in originals.items():
            if not is_projection(m):
                raise ValueError(f"block {i}: {adapter.projections[role]} is a {type(m).__name__}, not a projection")
        w_up, b_up = linear_params(originals["up"])
        d = w_up.shape[1]
        specs = FORMS[cfg.form](cfg, d, hidden, act, adapter.gated, warm, b_up is not None)
        device = w_up.device
        if cfg.init == "scratch" and not w_up.is_meta:
            scale = _output_std(block, adapter, d, w_up) if cfg.scratch_scale == "match" else float(cfg.scratch_scale)
            down = specs["down"]
            specs["down"] = LayerSpec(down.in_features, down.out_features, {**down.options, "init_scale": scale})
        new = build_layers(specs, device=None if w_up.is_meta else device)
        teachers.append(Teacher(originals, block.get_submodule(adapter.act), adapter.gated))
        if cfg.init == "warm":
            with torch.no_grad():
                for role, layer in new.items():
                    w, b = linear_params(originals[role])
                    target = layer.base_weight if layer.sharing == "edge" else layer.weight
                    target.copy_(w)
                    if b is not None:
                        layer.bias.copy_(b)
        dtype = w_up.dtype
        for role, layer in new.items():
            set_path(block, adapter.projections[role], layer.to(dtype=dtype) if dtype.is_floating_point else layer)
        if not adapter.gated:
            set_path(block, adapter.act, nn.Identity())
        installed.append(new)
    return installed, teachers


def kan_parameter_ids(model: nn.Module) -> set[int]:
    """ids of the parameters of every KANLinear in ``model``."""
    return {id(p) for m in model.modules() if isinstance(m, KANLinear) for p in m.parameters()}


def set_trainable(model: nn.Module, trainable: str) -> None:
    """requires_grad for ``trainable``: all | ffn | ffn+head.

    The head is every module outside the base model (none for a base model). A head tied
    to the input embeddings (GPT-2's LM head) trains them too: they are one tensor.
    """
    if trainable == "all":
        for p in model.parameters():
            p.requires_grad_(True)
        return
    kan_params = kan_parameter_ids(model)
    head: set[int] = set()
    if trainable == "ffn+head" and getattr(model, "base_model", model) is not model:
        prefix = model.base_model_prefix + "."
        # remove_duplicate=False also lists a tied head under its own name
        head = {id(p) for name, p in model.named_parameters(remove_duplicate=False) if not name.startswith(prefix)}
    for p in model.parameters():
        p.requires_grad_(id(p) in kan_params or id(p) in head)
