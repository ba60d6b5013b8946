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
from ..layers.basis.bspline import BSplineBasis
from ..layers.basis.rational import refit_to_samples
from .adapters import FFNAdapter, activation_name, adapter_for, find_blocks, is_projection, linear_params, set_path
from .config import KANFFNConfig
from .distill import DistillSettings, Teacher, capture_inputs, distill_ffns, new_hidden, reiterable, solve_layer
from .forms import FORMS, LayerSpec

#: samples per group-rational unit when refitting it (calibrate): plenty for a 1-D function
RATIONAL_SAMPLES = 32768

#: inits whose KAN FFN has the warm layout (identity up base, the model's activation on the down base)
WARM_LAYOUT = ("warm", "distill")


#: what kanify records in ``config.kanformer`` about fitting the new FFNs to the original ones
FIT_KEYS = ("distill_r2", "distill_seconds", "distill_e2e_loss", "calibrate_r2")


def start_fit(record: Mapping[str, Any]) -> tuple[list[float] | None, str | None]:
    """Per-layer R^2 of the new FFNs against the original ones at the start, from a kanify record
    (or its :data:`FIT_KEYS`), and its kind: "held-out" (distill) or "in-sample" (calibrate)."""
    if record.get("distill_r2"):
        return record["distill_r2"], "held-out"
    if record.get("calibrate_r2"):
        return record["calibrate_r2"], "in-sample"
    return None, None


def _distill_settings(cfg: KANFFNConfig, rows: int) -> DistillSettings:
    return DistillSettings(rows=rows, steps=cfg.distill_steps, e2e_steps=cfg.distill_e2e_steps)


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
    warm = cfg.init in WARM_LAYOUT
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


@torch.no_grad()
def _output_std(block: nn.Module, adapter: FFNAdapter, d: int, like: Tensor) -> float:
    """Std of the original FFN's output for unit-normal inputs (a scratch KAN FFN starts at this scale)."""
    x = torch.randn(512, d, device=like.device, dtype=like.dtype)
    return float(_ffn_forward(block, adapter, x).float().std())


def _calibrate(
    new: dict[str, KANLinear], block: nn.Module, adapter: FFNAdapter, x: Tensor, cfg: KANFFNConfig, teacher: Teacher
) -> float:
    """Fit each new layer's grid (kan) or rational units (grkan) to the inputs x (S, d) it sees.

    For grkan with a warm start, the down Linear is then re-solved by least squares so that
    the FFN's output matches the original MLP's on those tokens: the rational units only
    approximate the activation, and W2 can absorb most of what they miss. Returns the R^2
    of the calibrated FFN against the original on x (1.0 when nothing is approximated).
    """
    with torch.no_grad():
        first = ("gate", "up") if adapter.gated else ("up",)
        inputs = {role: x for role in first}
        act = block.get_submodule(adapter.act) if adapter.gated else None
        inputs["down"] = new_hidden(new, act, x)
        for role, layer in new.items():
            if cfg.form == "kan":
                layer.update_grid(inputs[role], 1.0 if cfg.calibrate == "range" else cfg.grid_eps)
            else:
                _refit_rationals(layer, inputs[role])
        y = teacher(x)
        if cfg.form == "grkan" and cfg.init == "warm":
            solve_layer(new["down"], inputs["down"], y)
        fitted = new["down"](inputs["down"]).float()
        return float(1 - (fitted - y).pow(2).sum() / (y - y.mean(0)).pow(2).sum().clamp_min(1e-30))


def _refit_rationals(layer: KANLinear, x: Tensor) -> None:
    """Refit a group-rational layer's units to their own target on the inputs they see."""
    target = layer.basis.rational_init
    if target == "identity":
        return  # exact already
    n, groups = x.shape[0], layer.groups
    samples = x.reshape(n, groups, -1).transpose(1, 2).reshape(-1, groups)  # (S, groups)
    if samples.shape[0] > RATIONAL_SAMPLES:  # a 1-D fit: more samples only cost LBFGS time
        keep = torch.randperm(samples.shape[0], generator=torch.Generator().manual_seed(0))[:RATIONAL_SAMPLES]
        samples = samples[keep.to(samples.device)]
    a, b, _ = refit_to_samples(layer.coefficients, layer.basis.denominator, target, samples)
    layer.coefficients.copy_(a)
    layer.basis.denominator.copy_(b)


def _set_trainable(model: nn.Module, trainable: str, kan_params: set[int]) -> None:
    """requires_grad for ``trainable``: all | ffn | ffn+head.

    The head is every module outside the base model (none for a base model). A head tied
    to the input embeddings (GPT-2's LM head) trains them too: they are one tensor.
    """
    if trainable == "all":
        for p in model.parameters():
            p.requires_grad_(True)
        return
    head: set[int] = set()
    if trainable == "ffn+head" and getattr(model, "base_model", model) is not model:
        prefix = model.base_model_prefix + "."
        # remove_duplicate=False also lists a tied head under its own name
        head = {id(p) for name, p in model.named_parameters(remove_duplicate=False) if not name.startswith(prefix)}
    for p in model.parameters():
        p.requires_grad_(id(p) in kan_params or id(p) in head)


def kan_parameter_ids(model: nn.Module) -> set[int]:
    """ids of the parameters of every KANLinear in ``model``."""
    return {id(p) for m in model.modules() if isinstance(m, KANLinear) for p in m.parameters()}


def _install(
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
        new = _build(specs, device=None if w_up.is_meta else device)
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


def kanify(
    model: nn.Module,
    config: KANFFNConfig | None = None,
    data: Iterable[Mapping[str, Tensor]] | None = None,
    max_samples: int | None = None,
) -> nn.Module:
    """Replace the FFN blocks of ``model`` in place with KAN blocks; returns the model.

    Args:
        model: a transformers model (any head) of a supported architecture.
        config: the KAN FFN settings (defaults: form="kan", hidden="keep", init="scratch").
        data: batches of model inputs (dicts of tensors), needed for init="distill" and
            calibrate="range"/"grid": FFN inputs and outputs are sampled from them.
        max_samples: rows (real tokens) of hidden states per block for calibration and
            distillation (default: ``config.distill_rows``).

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
        raise ValueError(
            f"init={cfg.init!r}, calibrate={cfg.calibrate!r} need data: pass kanify(..., data=batches) "
            "(batches of model inputs from the task's training split), or --task with kanformer finetune/inspect"
        )
    if needs_data:
        data = reiterable(data)
        if next(iter(data), None) is None:
            raise ValueError("distillation/calibration data is empty: pass at least one batch of model inputs")
    if cfg.init in WARM_LAYOUT:
        act = activation_name(model, adapter)  # the warm down layer carries the model's own activation
    else:
        act = cfg.rational_init if cfg.form == "grkan" else cfg.base_activation
    first = blocks[selected[0]]
    w_up, b_up = linear_params(first.get_submodule(adapter.up))
    h0, d = w_up.shape
    original_params = sum(p.numel() for r in adapter.projections.values() for p in first.get_submodule(r).parameters())
    hidden = resolve_hidden(cfg, d, h0, act, adapter.gated, b_up is not None, original_params)
    if cfg.init == "warm" and hidden != h0:
        raise ValueError(f"init='warm' keeps the original width ({h0}), got hidden={cfg.hidden!r}; use init='distill'")

    installed, teachers = _install(model, cfg, adapter, blocks, selected, hidden, act)
    report: dict[str, Any] = {}
    if needs_data:
        rows = max_samples if max_samples is not None else cfg.distill_rows
        if cfg.calibrate != "none":
            r2 = []
            for i, new, teacher in zip(selected, installed, teachers, strict=True):
                x = capture_inputs(model, new["up"], data, rows)  # the inputs the calibrated layers below produce
                r2.append(round(_calibrate(new, blocks[i], adapter, x, cfg, teacher), 4))
            report["calibrate_r2"] = r2  # in-sample, against the original FFN
        if cfg.init == "distill":
            done = distill_ffns(
                model, adapter, blocks, selected, installed, teachers, data, _distill_settings(cfg, rows)
            )
            report["distill_r2"] = done.r2
            report["distill_seconds"] = done.seconds
            if done.e2e_loss:
                report["distill_e2e_loss"] = [round(done.e2e_loss[0], 5), round(done.e2e_loss[-1], 5)]
    _set_trainable(model, cfg.trainable, kan_parameter_ids(model))
    model.config.kanformer = {
        "settings": cfg.to_dict(),
        "layers": selected,
        "hidden": hidden,
        "activation": act,
        "adapter": adapter.to_record(),  # rebuild-at-load uses exactly this adapter
        **report,
    }
    convert(model)
    return model


def build_structure(model: nn.Module) -> None:
    """Rebuild the KAN blocks recorded in ``model.config.kanformer`` (weights uninitialised).

    Called by the registered KAN model classes' constructors, so transformers'
    ``from_pretrained`` then fills every KAN parameter from the checkpoint. Grids
    extended after kanify are rebuilt at their saved size (``grid_sizes``).
    """
    record = model.config.kanformer
    cfg = KANFFNConfig.from_dict(record["settings"])
    adapter = adapter_for(model)
    blocks = _blocks(model, adapter)
    _install(model, cfg, adapter, blocks, record["layers"], record["hidden"], record["activation"])
    for name, size in record.get("grid_sizes", {}).items():
        model.get_submodule(name).resize_grid(size)
    apply_trainable(model)


def apply_trainable(model: nn.Module) -> None:
    """Re-apply the recorded ``trainable`` setting (loaders re-create parameters)."""
    cfg = KANFFNConfig.from_dict(model.config.kanformer["settings"])
    _set_trainable(model, cfg.trainable, kan_parameter_ids(model))


def record_grid_sizes(model: nn.Module) -> None:
    """Store each B-spline KAN layer's grid size in ``config.kanformer`` when it differs
    from the settings (after ``extend_grid``), so a saved model rebuilds at that size."""
    record = model.config.kanformer
    default = record["settings"]["grid_size"]
    sizes = {
        name: m.basis.grid_size
        for name, m in model.named_modules()
        if isinstance(m, KANLinear) and isinstance(m.basis, BSplineBasis) and m.basis.grid_size != default
    }
    if sizes:
        record["grid_sizes"] = sizes
    else:
        record.pop("grid_sizes", None)
