"""kanify: replace the feed-forward blocks of a transformers model with KAN blocks.

    model = AutoModelForSequenceClassification.from_pretrained(path)
    model = kanify(model, KANFFNConfig(form="kan", init="warm"))

Only the FFN projections (and, for non-gated MLPs, the activation between them)
change: attention, residual paths, LayerNorm placement, dropout and heads stay as they
were, so "same model, different FFN" is an honest comparison.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..layers import KANLinear
from ..layers.basis.rational import refit_to_samples
from .adapters import FFNAdapter, activation_name, adapter_for, linear_params
from .config import KANFFNConfig
from .distill import DistillSettings, Teacher, capture_inputs, distill_ffns, new_hidden, reiterable, solve_layer
from .forms import FORMS, LayerSpec
from .install import WARM_LAYOUT, build_layers, ffn_blocks, install_layers, set_trainable

#: samples per group-rational unit when refitting it (calibrate): plenty for a 1-D function
RATIONAL_SAMPLES = 32768

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
    return DistillSettings(
        rows=rows, steps=cfg.distill_steps, e2e_steps=cfg.distill_e2e_steps, e2e_lr=cfg.distill_e2e_lr
    )


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


def _count(specs: dict[str, LayerSpec]) -> int:
    with torch.device("meta"):
        layers = build_layers(specs)
    return sum(p.numel() for m in layers.values() for p in m.parameters())


def _flops(specs: dict[str, LayerSpec], gated: bool) -> int:
    """Matmul FLOPs per token of a KAN FFN (torch.utils.flop_counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    from ..layers.compiled import eager_kernels

    with torch.device("meta"):
        layers = build_layers(specs)
        x = torch.zeros(1, specs["up"].in_features)
        with eager_kernels(), FlopCounterMode(display=False) as counter:
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

    The settings are recorded in ``model.config.kanformer`` (the model gets its own copy of
    its config first: the caller's config object is left unchanged) and the model becomes a
    registered KAN class, so ``save_pretrained`` + :func:`kanformer.from_pretrained`
    round-trip exactly. The first call registers the KAN classes with transformers
    (:func:`kanformer.register`).
    """
    from .hub import convert  # hub imports transformers: imported on use, so `import kanformer` stays light

    cfg = config or KANFFNConfig()
    if getattr(model.config, "kanformer", None):
        raise ValueError("this model is already kanified (config.kanformer is set); start from the original model")
    adapter = adapter_for(model)
    blocks = ffn_blocks(model, adapter)
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

    installed, teachers = install_layers(model, cfg, adapter, blocks, selected, hidden, act)
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
    set_trainable(model, cfg.trainable)
    _own_config(model)
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


def _own_config(model: nn.Module) -> None:
    """Give ``model`` (and its submodules that share it) a copy of its config, so that recording
    the settings and swapping the config's class leave the caller's config object untouched
    (it may be building other models)."""
    shared = model.config
    own = copy.deepcopy(shared)
    for module in model.modules():
        if vars(module).get("config") is shared:
            module.config = own
