"""What kanify does to a model, before vs after: parameters, FLOPs and weight memory.

    from kanformer.models import load_model
    report = inspect_model(load_model("minilm"), KANFFNConfig(form="kan", hidden="match-params"))
    print(render_inspect(report, title="minilm"))

The model is deep-copied before kanify, so it is left as it was. Reported per state:

* parameters: total (tied weights once), FFN (the projections the architecture
  adapter names: up, down and gate in every block) and trainable;
* FLOPs of one forward on :func:`kanformer.models.sample_inputs` (one sequence of
  128 tokens, or one image), per token or per image, counted by
  ``torch.utils.flop_counter.FlopCounterMode``: matmul, convolution and attention
  kernels; elementwise work (activations, basis functions) is not counted;
* weight memory: bytes of every parameter and buffer, in MiB.

init=distill and calibrate only change weight values, and fused only the kernels,
so the KAN structure is built without them (no data or compilation needed).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from ..layers.compiled import eager_kernels
from ..plugin import KANFFNConfig, kanify
from ..plugin.adapters import FFNAdapter, adapter_for, find_blocks, is_projection, widths
from ..plugin.kanify import FIT_KEYS, start_fit
from ..reporting.tables import table
from ..settings import parse_settings


def parse_ffn_settings(path: str | None = None, pairs: Sequence[str] = ()) -> KANFFNConfig | None:
    """KAN FFN settings from an optional YAML file overridden by ``key=value`` pairs (None if neither)."""
    return parse_settings(KANFFNConfig, path, pairs)


def _hidden(module: nn.Module) -> int:
    """The output width of an up projection (Linear, Conv1D or KANLinear)."""
    return widths(module)[1] if is_projection(module) else int(module.out_features)


def _count_flops(model: nn.Module, inputs: Mapping[str, torch.Tensor]) -> FlopCounterMode:
    custom = {}
    cpu_sdpa = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    count = getattr(flop_counter, "sdpa_flop_count", None)  # (q, k, v shapes) -> FLOPs, as for the GPU kernels
    if cpu_sdpa is not None and count is not None and cpu_sdpa not in flop_counter.flop_registry:

        def cpu_sdpa_flops(q: Any, k: Any, v: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
            return count(q, k, v)

        custom[cpu_sdpa] = cpu_sdpa_flops  # CPU attention is otherwise not counted at all
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), eager_kernels(), FlopCounterMode(display=False, custom_mapping=custom) as counter:
            model(**inputs)
    finally:
        model.train(was_training)
    return counter


def _measure(model: nn.Module, adapter: FFNAdapter, inputs: Mapping[str, torch.Tensor], units: int) -> dict[str, Any]:
    """Totals and per-block numbers of one model state."""
    blocks = find_blocks(model, adapter)
    counter = _count_flops(model, inputs)
    by_module = counter.get_flop_counts()
    prefix = type(model).__name__
    layers = []
    for name, block in blocks:
        roles = {r: block.get_submodule(p) for r, p in adapter.projections.items()}
        keys = [f"{prefix}.{name}.{p}" for p in adapter.projections.values()]
        tracked = [by_module[k] for k in keys if k in by_module]
        layers.append(
            {
                "params": sum(p.numel() for m in roles.values() for p in m.parameters()),
                "hidden": _hidden(roles["up"]),
                "flops": sum(sum(c.values()) for c in tracked) / units if tracked else None,
            }
        )
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    ffn_flops = [layer["flops"] for layer in layers]
    return {
        "params": sum(p.numel() for p in params.values()),
        "ffn_params": sum(layer["params"] for layer in layers),
        "trainable_params": sum(p.numel() for p in params.values() if p.requires_grad),
        "flops": counter.get_total_flops() / units,
        "ffn_flops": None if None in ffn_flops else sum(ffn_flops),
        "weight_mib": sum(t.numel() * t.element_size() for t in [*params.values(), *buffers.values()]) / 2**20,
        "layers": layers,
    }


def model_stats(model: nn.Module, seq_len: int = 128) -> dict[str, Any]:
    """The numbers of ``model`` as it is now (kanified or not), counted as :func:`inspect_model` counts them.

    FLOPs are counted on one :func:`kanformer.models.sample_inputs` sample: ``input_ids``
    of shape (1, seq_len) (seq_len capped by the position table) or ``pixel_values`` of
    shape (1, channels, size, size).

    Returns:
        {"params", "ffn_params", "trainable_params", "flops", "ffn_flops", "weight_mib", "unit",
        "input_shape"}: "flops"/"ffn_flops" per token (text) or per image (vision), "unit"
        "token" or "image", "input_shape" the sample's shape (e.g. [1, seq_len]).
    """
    from ..models import is_vision, sample_inputs

    adapter = adapter_for(model)
    inputs = sample_inputs(model, seq_len=seq_len)
    shape = list(next(iter(inputs.values())).shape)
    vision = is_vision(model)
    stats = _measure(model, adapter, inputs, shape[0] if vision else shape[0] * shape[1])
    stats.pop("layers")
    return {**stats, "unit": "image" if vision else "token", "input_shape": shape}


def _ratio(after: float | None, before: float | None) -> float | None:
    return after / before if after is not None and before else None


def inspect_model(model: nn.Module, ffn: KANFFNConfig | None = None, seq_len: int = 128) -> dict[str, Any]:
    """Parameters, FLOPs and weight memory of ``model`` before and after kanify (JSON-able).

    Args:
        model: a transformers model of a supported architecture; it is not modified.
        ffn: the KAN FFN settings (None: the defaults). If ``model`` is already
            kanified, pass None: only its current state is reported ("before" is None).
        seq_len: tokens of the sample sequence FLOPs are counted on (text models).

    Returns:
        {"model", "settings", "adapter", "kanify", "input", "before", "after", "change", "layers", "notes"}:
        "adapter" the architecture adapter that found the FFN blocks: its "name" (e.g.
        "registered: bert/roberta" or "structural: gated") and fields (block classes, paths);
        "before"/"after" hold params, ffn_params, trainable_params, flops and ffn_flops
        (per token or per image), weight_mib; "change" the after/before ratios;
        "layers" one row per FFN block (params, ratio, hidden width, FFN FLOPs).
    """
    from ..models import is_vision, sample_inputs

    adapter = adapter_for(model)
    record = getattr(model.config, "kanformer", None)
    notes = []
    inputs = sample_inputs(model, seq_len=seq_len)
    shape = list(next(iter(inputs.values())).shape)
    vision = is_vision(model)
    units = shape[0] if vision else shape[0] * shape[1]
    if record:
        if ffn is not None:
            raise ValueError(
                "this model is already kanified (config.kanformer is set): inspect it without FFN settings, "
                "or inspect the original model with the new settings"
            )
        settings, before, after_model = record["settings"], None, model
        notes.append("the model is already kanified: its current state is reported as 'after'")
    else:
        cfg = ffn or KANFFNConfig()
        settings = cfg.to_dict()
        structural = cfg.replace(init="scratch" if cfg.init == "distill" else cfg.init, calibrate="none", fused=False)
        structural = structural.replace(kernel="torch")
        if structural != cfg:
            notes.append(
                "init=distill, calibrate, fused and kernel change weight values or kernels, not sizes: "
                "the KAN structure was built without them"
            )
        with torch.random.fork_rng(devices=[]):  # kanify draws random weights: leave the caller's RNG alone
            after_model = kanify(copy.deepcopy(model), structural)
        before = _measure(model, adapter, inputs, units)
    after = _measure(after_model, adapter, inputs, units)
    record = after_model.config.kanformer
    selected = set(record["layers"])
    fit = dict(zip(record["layers"], start_fit(record)[0] or [], strict=False))  # layer -> R^2 vs original
    rows = []
    for i, a in enumerate(after.pop("layers")):
        b = before["layers"][i] if before else None
        rows.append(
            {
                "layer": i,
                "kan": i in selected,
                "ffn_params_before": b["params"] if b else None,
                "ffn_params_after": a["params"],
                "ratio": _ratio(a["params"], b["params"] if b else None),
                "hidden_before": b["hidden"] if b else None,
                "hidden_after": a["hidden"],
                "ffn_flops_before": b["flops"] if b else None,
                "ffn_flops_after": a["flops"],
                "fit_r2": fit.get(i),
            }
        )
    if before:
        before.pop("layers")
    notes.append(
        "FLOPs: torch.utils.flop_counter on one "
        + ("image" if vision else f"sequence of {shape[1]} tokens")
        + ", matmul/convolution/attention kernels only (activations and basis functions are elementwise, not counted)"
    )
    return {
        "model": {
            "class": type(model).__name__,
            "model_type": model.config.model_type,
            "name_or_path": getattr(model.config, "_name_or_path", "") or None,
        },
        "settings": settings,
        "adapter": {"name": adapter.name, **adapter.to_record()},
        "kanify": {
            "layers": record["layers"],
            "blocks": len(rows),
            "hidden": record["hidden"],
            "activation": record.get("activation"),
            **{k: record[k] for k in FIT_KEYS if k in record},
        },
        "input": {"kind": "image" if vision else "text", "shape": shape, "unit": "image" if vision else "token"},
        "before": before,
        "after": after,
        "change": {k: _ratio(after[k], before[k]) for k in after} if before else None,
        "layers": rows,
        "notes": notes,
    }


def write_inspect_json(report: Mapping[str, Any], path: str, command: str | None = None) -> str:
    """Write ``report`` (plus the command and the software environment) as JSON; returns the path."""
    from ..provenance import environment

    data = {**report, "command": command, "environment": environment("cpu")}
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    from ..io import atomic_write_json

    try:
        atomic_write_json(path, data)
    except OSError as err:
        raise ValueError(f"cannot write {path!r}: {err.strerror or err}") from None
    return path


# ---------------------------------------------------------------- rendering

_DEFAULTS = KANFFNConfig().to_dict()
_ALWAYS = ("form", "hidden", "layers", "basis", "init", "trainable")


def _int(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def _si(v: float | None) -> str:
    if v is None:
        return "-"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= scale:
            return f"{v / scale:.2f} {suffix}"
    return f"{v:.0f}"


def _x(v: float | None) -> str:
    return "-" if v is None else f"x{v:.2f}"


def settings_line(report: Mapping[str, Any]) -> str:
    """The settings that matter, e.g. 'form=kan hidden=keep (h=256) layers=all (2 of 2 blocks) ...'."""
    s, k = report["settings"], report["kanify"]
    always = _ALWAYS if s.get("form") == "kan" else tuple(n for n in _ALWAYS if n != "basis")  # grkan: rational
    parts = []
    for name, value in s.items():
        if name not in always and value == _DEFAULTS.get(name):
            continue
        text = f"{name}={value}" if not isinstance(value, list) else f"{name}=[{','.join(map(str, value))}]"
        if name == "hidden" and isinstance(value, str):
            text += f" (h={k['hidden']})"
        if name == "layers":
            text += f" ({len(k['layers'])} of {k['blocks']} blocks)"
        parts.append(text)
    return " ".join(parts)


def adapter_line(adapter: Mapping[str, Any]) -> str:
    """Which adapter found the FFN blocks and where, e.g.
    'structural: gated (Qwen2MLP: gate_proj, up_proj, down_proj, act_fn)'."""
    paths = [adapter[k] for k in ("gate", "up", "down", "act") if adapter.get(k)]
    return f"{adapter['name']} ({'/'.join(adapter['block_classes'])}: {', '.join(paths)})"


def render_inspect(report: Mapping[str, Any], markdown: bool = False, title: str | None = None) -> str:
    """The report as plain-text (default) or markdown tables."""
    m, unit = report["model"], report["input"]["unit"]
    before, after, change = report["before"], report["after"], report["change"] or {}
    name = title or m["name_or_path"] or m["class"]
    bold = (lambda t: f"**{t}**") if markdown else (lambda t: t)
    out = [
        f"{bold('Model')}: {name} ({m['class']}, {m['model_type']})",
        f"{bold('KAN FFN')}: {settings_line(report)}",
    ]
    if report.get("adapter"):  # reports written before the adapter was recorded have none
        out.append(f"{bold('Adapter')}: {adapter_line(report['adapter'])}")
    out.append("")
    b = before or {}
    summary = [
        ["parameters", _int(b.get("params")), _int(after["params"]), _x(change.get("params"))],
        ["FFN parameters", _int(b.get("ffn_params")), _int(after["ffn_params"]), _x(change.get("ffn_params"))],
        [
            "trainable parameters",
            _int(b.get("trainable_params")),
            _int(after["trainable_params"]),
            _x(change.get("trainable_params")),
        ],
        [f"FLOPs per {unit}", _si(b.get("flops")), _si(after["flops"]), _x(change.get("flops"))],
        [f"FFN FLOPs per {unit}", _si(b.get("ffn_flops")), _si(after["ffn_flops"]), _x(change.get("ffn_flops"))],
        [
            "weight memory (MiB)",
            "-" if not b else f"{b['weight_mib']:.2f}",
            f"{after['weight_mib']:.2f}",
            _x(change.get("weight_mib")),
        ],
    ]
    out += table(["", "before", "after", "after/before"], summary, markdown=markdown)
    out.append("")
    rows = [
        [
            str(r["layer"]),
            "yes" if r["kan"] else "no",
            _int(r["ffn_params_before"]),
            _int(r["ffn_params_after"]),
            _x(r["ratio"]),
            _int(r["hidden_before"]),
            _int(r["hidden_after"]),
        ]
        for r in report["layers"]
    ]
    header = ["layer", "KAN", "FFN params before", "FFN params after", "ratio", "hidden before", "hidden after"]
    if any(r.get("fit_r2") is not None for r in report["layers"]):
        header.append(f"R² vs original ({start_fit(report['kanify'])[1]})")
        for row, r in zip(rows, report["layers"], strict=True):
            row.append("-" if r.get("fit_r2") is None else f"{r['fit_r2']:.3f}")
    out += table(header, rows, markdown=markdown)
    out.append("")
    out += [("* " if markdown else "note: ") + n for n in report["notes"]]
    return "\n".join(out)


__all__ = [
    "adapter_line",
    "inspect_model",
    "model_stats",
    "parse_ffn_settings",
    "render_inspect",
    "settings_line",
    "write_inspect_json",
]
