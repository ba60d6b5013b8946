"""kanify: replace the feed-forward blocks of a transformers model with KAN blocks.

    model = AutoModelForSequenceClassification.from_pretrained(path)
    model = kanify(model, KANFFNConfig(form="kan", init="warm"))

Only the FFN projections (and, for non-gated MLPs, the activation between them)
change: attention, residual paths, LayerNorm placement, dropout and heads stay as they
were, so "same model, different FFN" is an honest comparison.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..layers import KANLinear
from .adapters import FFNAdapter, activation_name, adapter_for, find_blocks, is_projection, linear_params, set_path
from .config import KANFFNConfig
from .forms import FORMS, LayerSpec


def _num_layers(config: Any) -> int | None:
    for name in ("num_hidden_layers", "n_layer", "n_layers"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def select_layers(layers: str | list[int], n: int) -> list[int]:
    """Resolve ``layers`` (all | [i, ...] | every:k | last:m) against n blocks."""
    if isinstance(layers, list):
        bad = [i for i in layers if not 0 <= i < n]
        if bad:
            raise ValueError(f"layers {bad} are out of range: the model has {n} FFN blocks (indices 0..{n - 1})")
        return sorted(set(layers))
    if layers == "all":
        return list(range(n))
    kind, _, value = layers.partition(":")
    k = int(value)
    if k < 1 or k > n:
        raise ValueError(f"layers={layers!r} is out of range: the model has {n} FFN blocks")
    return list(range(0, n, k)) if kind == "every" else list(range(n - k, n))


def _blocks(model: nn.Module, adapter: FFNAdapter) -> list[nn.Module]:
    blocks = [m for _, m in find_blocks(model, adapter)]
    expected = _num_layers(model.config)
    if expected is not None and len(blocks) != expected:
        raise ValueError(
            f"found {len(blocks)} FFN blocks of classes {adapter.block_classes} in {type(model).__name__}, "
            f"expected {expected} (one per layer); the architecture may have changed: update its adapter"
        )
    return blocks


def _roles(adapter: FFNAdapter) -> dict[str, str]:
    roles = {"up": adapter.up, "down": adapter.down}
    if adapter.gated:
        roles["gate"] = adapter.gate
    return roles


def _build(specs: dict[str, LayerSpec], device: torch.device | None = None) -> dict[str, KANLinear]:
    return {r: KANLinear(s.in_features, s.out_features, device=device, **s.options) for r, s in specs.items()}


def _count(specs: dict[str, LayerSpec]) -> int:
    with torch.device("meta"):
        layers = _build(specs)
    return sum(p.numel() for m in layers.values() for p in m.parameters())


def _flops(specs: dict[str, LayerSpec], gated: bool) -> int:
    """Matmul FLOPs per token of a KAN FFN (torch.utils.flop_counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        layers = _build(specs)
        x = torch.zeros(1, specs["up"].in_features)
        with FlopCounterMode(display=False) as counter:
            h = layers["up"](x)
            if gated:
                h = h * layers["gate"](x)
            layers["down"](h)
    return counter.get_total_flops()


def resolve_hidden(cfg: KANFFNConfig, d: int, h0: int, act: str, gated: bool, bias: bool, original_params: int) -> int:
    """The KAN FFN width for ``cfg.hidden``; match-* solve an affine count in h."""
    if isinstance(cfg.hidden, int):
        return cfg.hidden
    if cfg.hidden == "keep":
        return h0
    build = FORMS[cfg.form]
    warm = cfg.init == "warm"
    step = cfg.groups if (cfg.form == "grkan" or cfg.sharing == "group") else 1
    if cfg.hidden == "match-params":
        measure, target = (lambda h: _count(build(cfg, d, h, act, gated, warm, bias))), original_params
    else:
        measure, target = (
            (lambda h: _flops(build(cfg, d, h, act, gated, warm, bias), gated)),
            2 * d * h0 * (3 if gated else 2),
        )
    a0, a1 = measure(step), measure(2 * step)
    slope = (a1 - a0) / step
    guess = max(step, round((step + (target - a0) / slope) / step) * step)
    candidates = [c for c in (guess - step, guess, guess + step) if c >= step]
    h = min(candidates, key=lambda c: abs(a0 + slope * (c - step) - target))
    err = abs(measure(h) - target) / target
    if err > 0.01:
        raise ValueError(
            f"hidden={cfg.hidden!r}: the closest width h={h} is {100 * err:.1f}% off the original FFN "
            f"(d={d}, h={h0}); this model is too small to match within 1%: pass an integer width"
        )
    return h


def _ffn_forward(block: nn.Module, adapter: FFNAdapter, x: Tensor) -> Tensor:
    """The block's FFN map without dropout or residual: (..., d) -> (..., d)."""
    up, act, down = (block.get_submodule(p) for p in (adapter.up, adapter.act, adapter.down))
    h = act(block.get_submodule(adapter.gate)(x)) * up(x) if adapter.gated else act(up(x))
    return down(h)


def _capture_ffn_io(
    model: nn.Module, blocks: list[nn.Module], adapter: FFNAdapter, data: Iterable[Mapping[str, Tensor]], limit: int
) -> list[tuple[Tensor, Tensor]]:
    """Inputs (S, d) and outputs (S, d) of each block's FFN on real batches (at most ``limit`` rows)."""
    store: list[list[Tensor]] = [[] for _ in blocks]
    hooks = [
        b.get_submodule(adapter.up).register_forward_hook(lambda m, inp, out, i=i: store[i].append(inp[0].detach()))
        for i, b in enumerate(blocks)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in data:
                model(**batch)
                if sum(t.numel() // t.shape[-1] for t in store[0]) >= limit:
                    break
    finally:
        for hk in hooks:
            hk.remove()
        model.train(was_training)
    if not store[0]:
        raise ValueError("calibration data is empty: pass at least one batch of model inputs")
    out = []
    for b, xs in zip(blocks, store, strict=True):
        x = torch.cat([t.reshape(-1, t.shape[-1]) for t in xs])[:limit]
        with torch.no_grad():
            out.append((x, _ffn_forward(b, adapter, x)))
    return out


def _calibrate(new: dict[str, KANLinear], x: Tensor, cfg: KANFFNConfig, gated: bool) -> None:
    eps = 1.0 if cfg.calibrate == "range" else cfg.grid_eps
    with torch.no_grad():
        for role in ("gate", "up") if gated else ("up",):
            new[role].update_grid(x, eps)
        h = new["up"](x)
        if gated:
            h = h * new["gate"](x)  # act is kept for gated blocks; applied by _ffn_forward at run time
        new["down"].update_grid(h, eps)


def _distill(block: nn.Module, adapter: FFNAdapter, x: Tensor, y: Tensor, steps: int) -> float:
    """Fit the (new) FFN map of ``block`` to y on x with Adam; return R^2 on x."""
    params = [p for role in _roles(adapter).values() for p in block.get_submodule(role).parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    for _ in range(steps):
        opt.zero_grad()
        loss = (_ffn_forward(block, adapter, x) - y).pow(2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        sse = (_ffn_forward(block, adapter, x) - y).pow(2).sum()
        sst = (y - y.mean(0)).pow(2).sum()
    return float(1 - sse / sst)


def _set_trainable(model: nn.Module, trainable: str, kan_params: set[int]) -> None:
    if trainable == "all":
        for p in model.parameters():
            p.requires_grad_(True)
        return
    prefix = getattr(model, "base_model_prefix", "") + "."
    for name, p in model.named_parameters():
        in_head = trainable == "ffn+head" and not name.startswith(prefix)
        p.requires_grad_(id(p) in kan_params or in_head)


def _install(
    model: nn.Module,
    cfg: KANFFNConfig,
    adapter: FFNAdapter,
    blocks: list[nn.Module],
    selected: list[int],
    hidden: int,
    act: str,
    warm: bool,
) -> list[dict[str, KANLinear]]:
    installed = []
    for i in selected:
        block = blocks[i]
        originals = {r: block.get_submodule(p) for r, p in _roles(adapter).items()}
        for role, m in originals.items():
            if not is_projection(m):
                raise ValueError(f"block {i}: {adapter_path(adapter, role)} is a {type(m).__name__}, not a projection")
        w_up, b_up = linear_params(originals["up"])
        d = w_up.shape[1]
        specs = FORMS[cfg.form](cfg, d, hidden, act, adapter.gated, warm, b_up is not None)
        device = w_up.device
        new = _build(specs, device=None if w_up.is_meta else device)
        if warm:
            with torch.no_grad():
                for role, layer in new.items():
                    w, b = linear_params(originals[role])
                    target = layer.base_weight if layer.sharing == "edge" else layer.weight
                    target.copy_(w)
                    if b is not None:
                        layer.bias.copy_(b)
        dtype = w_up.dtype
        for role, layer in new.items():
            set_path(block, _roles(adapter)[role], layer.to(dtype=dtype) if dtype.is_floating_point else layer)
        if not adapter.gated:
            set_path(block, adapter.act, nn.Identity())
        installed.append(new)
    return installed


def adapter_path(adapter: FFNAdapter, role: str) -> str:
    return _roles(adapter)[role]


def kanify(
    model: nn.Module,
    config: KANFFNConfig | None = None,
    data: Iterable[Mapping[str, Tensor]] | None = None,
    max_samples: int = 4096,
) -> nn.Module:
    """Replace the FFN blocks of ``model`` in place with KAN blocks; returns the model.

    Args:
        model: a transformers model (any head) of a supported architecture.
        config: the KAN FFN settings (defaults: form="kan", hidden="keep", init="scratch").
        data: batches of model inputs (dicts of tensors), needed for init="distill" and
            calibrate="range"/"grid": FFN inputs and outputs are sampled from them.
        max_samples: rows of hidden states kept per block for calibration/distillation.

    The settings are recorded in ``model.config.kanformer`` and the model becomes a
    registered KAN class, so ``save_pretrained`` + :func:`kanformer.from_pretrained`
    round-trip exactly.
    """
    from .hub import convert

    cfg = config or KANFFNConfig()
    if getattr(model.config, "kanformer", None):
        raise ValueError("this model is already kanified (config.kanformer is set); start from the original model")
    adapter = adapter_for(model)
    blocks = _blocks(model, adapter)
    selected = select_layers(cfg.layers, len(blocks))
    needs_data = cfg.init == "distill" or cfg.calibrate != "none"
    if needs_data and data is None:
        raise ValueError(f"init={cfg.init!r}, calibrate={cfg.calibrate!r} need data: pass kanify(..., data=batches)")
    if cfg.init == "warm":
        act = activation_name(model, adapter)  # the warm down layer carries the model's own activation
    else:
        act = cfg.rational_init if cfg.form == "grkan" else cfg.base_activation
    first = blocks[selected[0]]
    w_up, b_up = linear_params(first.get_submodule(adapter.up))
    h0, d = w_up.shape
    original_params = sum(p.numel() for r in _roles(adapter).values() for p in first.get_submodule(r).parameters())
    hidden = resolve_hidden(cfg, d, h0, act, adapter.gated, b_up is not None, original_params)
    if cfg.init == "warm" and hidden != h0:
        raise ValueError(f"init='warm' keeps the original width ({h0}), got hidden={cfg.hidden!r}; use init='distill'")
    samples = _capture_ffn_io(model, [blocks[i] for i in selected], adapter, data, max_samples) if needs_data else None

    installed = _install(model, cfg, adapter, blocks, selected, hidden, act, warm=cfg.init == "warm")
    report: dict[str, Any] = {}
    if samples is not None:
        r2 = []
        for i, new, (x, y) in zip(selected, installed, samples, strict=True):
            if cfg.calibrate != "none":
                _calibrate(new, x, cfg, adapter.gated)
            if cfg.init == "distill":
                r2.append(_distill(blocks[i], adapter, x, y, cfg.distill_steps))
        if r2:
            report["distill_r2"] = r2
    kan_params = {id(p) for new in installed for layer in new.values() for p in layer.parameters()}
    _set_trainable(model, cfg.trainable, kan_params)
    model.config.kanformer = {
        "settings": cfg.to_dict(),
        "layers": selected,
        "hidden": hidden,
        "activation": act,
        **report,
    }
    convert(model)
    return model


def build_structure(model: nn.Module) -> None:
    """Rebuild the KAN blocks recorded in ``model.config.kanformer`` (weights uninitialised).

    Called by the registered KAN model classes' constructors, so transformers'
    ``from_pretrained`` then fills every KAN parameter from the checkpoint.
    """
    record = model.config.kanformer
    cfg = KANFFNConfig.from_dict(record["settings"])
    adapter = adapter_for(model)
    blocks = _blocks(model, adapter)
    _install(model, cfg, adapter, blocks, record["layers"], record["hidden"], record["activation"], cfg.init == "warm")
    kan_params = {
        id(p)
        for i in record["layers"]
        for r in _roles(adapter).values()
        for p in blocks[i].get_submodule(r).parameters()
    }
    _set_trainable(model, cfg.trainable, kan_params)
