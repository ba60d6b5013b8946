"""Whole-model benchmarks: training-step and inference throughput, latency and peak memory.

    from kanformer.models import load_model
    result = bench_model(load_model("tiny-bert"), BenchSettings(batch_size=8, seq_len=128))
    results = bench_variants("minilm", {"original": None, "kan": "kan"}, BenchSettings())
    print(render_bench(results))

Every batch has a fixed shape (:func:`kanformer.models.sample_inputs`: full-length,
pad-free token sequences or random images), so variants are compared on the same work.

* training: one full optimizer step per call (forward with labels, backward, AdamW
  step, ``zero_grad(set_to_none=True)``) in train mode (dropout on), on a deep copy of
  the model: the caller's model and weights are left alone. AdamW's state is created
  during warm-up, so the timed steps are steady-state;
* inference: one forward per call in eval mode under ``torch.inference_mode``;
* peak memory: :func:`kanformer.bench.measure.peak_bytes` of one more call after the
  timed ones (on CPU the process' peak resident set, coarse for small models);
* parameters and FLOPs: :func:`kanformer.bench.inspect.model_stats`, the numbers
  ``kanformer inspect`` reports.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import PreTrainedModel

from ..reporting.tables import table
from .inspect import _int, _ratio, _si, _x, model_stats
from .measure import peak_bytes, time_fns
from .settings import BenchSettings

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(settings: BenchSettings) -> torch.device:
    """The torch device of ``settings``; ValueError (one line) when it is a CUDA device that is not visible."""
    device = torch.device(settings.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={settings.device!r} was asked for but no CUDA device is visible; use device=cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device={settings.device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return device


# ---------------------------------------------------------------- one model


def _class_names(model: torch.nn.Module) -> list[str]:
    # Kanified models are subclasses named KAN<Base>: the base's name tells the head.
    return [c.__name__ for c in type(model).__mro__]


def _objective(model: PreTrainedModel) -> str:
    """What a training step optimizes: the model's own loss on labels, or a stand-in for heads without one."""
    names = _class_names(model)
    if any(n.endswith(("ForCausalLM", "LMHeadModel")) for n in names):
        return "causal-lm"
    if any(n.endswith(("ForSequenceClassification", "ForImageClassification")) for n in names):
        problem = getattr(model.config, "problem_type", None)
        if problem == "multi_label_classification":
            return "multi-label"
        if problem == "regression" or model.config.num_labels == 1:
            return "regression"
        return "classification"
    return "output-mean"  # a bare encoder (head "base"): no loss of its own


def _labels(objective: str, inputs: Mapping[str, Tensor], num_labels: int, batch: int, device: torch.device) -> Any:
    """Targets of shape (batch,) (classes, or regression with one label), (batch, num_labels) or the input ids."""
    gen = torch.Generator().manual_seed(1)
    if objective == "causal-lm":
        return inputs["input_ids"]  # transformers shifts them by one token inside the loss
    if objective == "classification":
        return torch.randint(0, num_labels, (batch,), generator=gen).to(device)
    if objective == "multi-label":
        return torch.randint(0, 2, (batch, num_labels), generator=gen).float().to(device)
    if objective == "regression":
        shape = (batch,) if num_labels == 1 else (batch, num_labels)
        return torch.randn(*shape, generator=gen).to(device)
    return None


def _loss_fn(model: PreTrainedModel, inputs: dict[str, Tensor], labels: Tensor | None) -> Callable[[], Tensor]:
    if labels is None:
        return lambda: model(**inputs)[0].float().mean()
    return lambda: model(**inputs, labels=labels).loss


@contextlib.contextmanager
def _forked_rng(device: torch.device, seed: int = 0) -> Iterator[None]:
    """Seed dropout and kanify's draws for a block, leaving the caller's RNG state alone."""
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _mib(n: int | None) -> float | None:
    return None if n is None else n / 2**20


def bench_model(model: PreTrainedModel, settings: BenchSettings | None = None) -> dict[str, Any]:
    """Training-step and inference speed and peak memory of ``model`` (JSON-able).

    Batches are :func:`kanformer.models.sample_inputs`: ``input_ids`` of shape
    (batch_size, seq_len) for text models, ``pixel_values`` of shape (batch_size,
    channels, size, size) for vision models. Labels: class ids of shape (batch_size,)
    for classifiers (float targets for regression), the input ids for causal LMs; a
    model without a head minimizes the mean of its output. ``model`` is not modified:
    everything runs on a deep copy moved to ``settings.device``.

    Returns:
        {"params", "ffn_params", "trainable_params", "flops_per_sample", "flops_per_token", "unit",
        "objective", "train", "inference", "peak_memory_mib", "inference_peak_memory_mib",
        "batch_size", "seq_len", "input_shape", "device", "dtype", "warmup", "repeats"}:
        counts as ``kanformer inspect`` reports them; FLOPs of one sample's forward
        ("flops_per_token" None for vision, "unit" "token" or "image");
        "train" {"step_ms", "step_ms_p05", "step_ms_p95", "compile_s", "samples_per_s", "tokens_per_s"}
        and "inference" {"latency_ms_p50", "latency_ms_p95", "compile_s", "samples_per_s", "tokens_per_s"}
        (None when not measured; "tokens_per_s" None for vision; "compile_s" the first call less the
        median: torch.compile's one-off cost for fused kernels, first-call overheads otherwise,
        :attr:`kanformer.bench.measure.Timing.compile_s`); peak memories in MiB
        above what was live before one training step / one inference forward (None where
        not measurable); "seq_len" None for vision.

    Raises:
        ValueError: a CUDA device was asked for and none is visible.
    """
    return bench_models([model], settings)[0]


def bench_models(models: Sequence[PreTrainedModel], settings: BenchSettings | None = None) -> list[dict[str, Any]]:
    """:func:`bench_model` of several models at once, their timed calls interleaved round by round
    (:func:`kanformer.bench.measure.time_fns`): a speed ratio between two of them is not skewed by
    the machine's drift between two benches.

    Returns one dict per model, in order, with exactly :func:`bench_model`'s keys. Every model's
    device copy (and, for training, its AdamW state) is live at once: memory grows with the number
    of models, while each peak is still that of one step above what was live before it.

    Raises:
        ValueError: a CUDA device was asked for and none is visible.
    """
    from ..models import sample_inputs

    settings = settings or BenchSettings()
    device = resolve_device(settings)
    dtype = DTYPES[settings.dtype]
    batch = settings.batch_size

    def autocast() -> contextlib.AbstractContextManager:
        if settings.dtype == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=dtype)

    results = [_counts(model, settings) for model in models]
    with _forked_rng(device):
        works = [copy.deepcopy(model).to(device) for model in models]
        inputs = [sample_inputs(work, batch_size=batch, seq_len=settings.seq_len) for work in works]
        for result, x in zip(results, inputs, strict=True):
            result["input_shape"] = list(next(iter(x.values())).shape)

        def speed(ms: float, result: dict[str, Any]) -> dict[str, Any]:
            tokens = None if result["seq_len"] is None else batch * result["seq_len"]  # None: vision
            return {"samples_per_s": batch / ms * 1e3, "tokens_per_s": None if tokens is None else tokens / ms * 1e3}

        # Inference first: the training steps below change the copies' weights.
        if settings.inference:
            forwards = [_forward(work.eval(), x, autocast) for work, x in zip(works, inputs, strict=True)]
            timings = time_fns(forwards, device, warmup=settings.warmup, repeats=settings.repeats)
            for result, t, forward in zip(results, timings, forwards, strict=True):
                result["inference"] = {
                    "latency_ms_p50": t.median_ms,
                    "latency_ms_p95": t.p95_ms,
                    "compile_s": t.compile_s,
                    **speed(t.median_ms, result),
                }
                result["inference_peak_memory_mib"] = _mib(peak_bytes(forward, device))

        if settings.train:
            steps = []
            for result, work, x in zip(results, works, inputs, strict=True):
                result["objective"], step = _train_step(work.train(), x, settings, device, autocast)
                steps.append(step)
            timings = time_fns(steps, device, warmup=settings.warmup, repeats=settings.repeats)
            for result, t, step in zip(results, timings, steps, strict=True):
                result["train"] = {
                    "step_ms": t.median_ms,
                    "step_ms_p05": t.p05_ms,
                    "step_ms_p95": t.p95_ms,
                    "compile_s": t.compile_s,
                    **speed(t.median_ms, result),
                }
                # After the timed steps, so AdamW's state is already live and not counted as step memory.
                result["peak_memory_mib"] = _mib(peak_bytes(step, device))
    return results


def _counts(model: PreTrainedModel, settings: BenchSettings) -> dict[str, Any]:
    """The parts of :func:`bench_model`'s result that need no timing; timings start as None."""
    from ..models import is_vision

    stats = model_stats(model, seq_len=settings.seq_len)
    vision = is_vision(model)
    seq_len = None if vision else stats["input_shape"][1]  # after the cap sample_inputs applies
    return {
        "params": stats["params"],
        "ffn_params": stats["ffn_params"],
        "trainable_params": stats["trainable_params"],
        "flops_per_sample": stats["flops"] if vision else stats["flops"] * seq_len,
        "flops_per_token": None if vision else stats["flops"],
        "unit": stats["unit"],
        "objective": None,
        "train": None,
        "inference": None,
        "peak_memory_mib": None,
        "inference_peak_memory_mib": None,
        "batch_size": settings.batch_size,
        "seq_len": seq_len,
        "input_shape": None,
        "device": settings.device,
        "dtype": settings.dtype,
        "warmup": settings.warmup,
        "repeats": settings.repeats,
    }


def _forward(
    work: PreTrainedModel, inputs: dict[str, Tensor], autocast: Callable[[], contextlib.AbstractContextManager]
) -> Callable[[], None]:
    def forward() -> None:
        with torch.inference_mode(), autocast():
            work(**inputs)

    return forward


def _train_step(
    work: PreTrainedModel,
    inputs: dict[str, Tensor],
    settings: BenchSettings,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> tuple[str, Callable[[], None]]:
    """(objective, one training step: forward + backward + AdamW step) of ``work``."""
    objective = _objective(work)
    labels = _labels(objective, inputs, work.config.num_labels, settings.batch_size, device)
    loss_fn = _loss_fn(work, inputs, labels)
    params = [p for p in work.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    # fp16 training needs loss scaling to be a real training step; disabled it is a no-op.
    scaler = torch.amp.GradScaler(device.type, enabled=settings.dtype == "fp16")

    def step() -> None:
        with autocast():
            loss = loss_fn()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    return objective, step


# ---------------------------------------------------------------- variants of one model


def variant_name(spec: str | None) -> str:
    """The display name of an FFN spec: the spec itself, a YAML file's stem, ``original`` for None."""
    if spec is None:
        return "original"
    if spec.endswith((".yaml", ".yml")):
        return Path(spec).stem
    return spec


def _ratios(result: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, float | None]:
    def speed(r: Mapping[str, Any], part: str) -> float | None:
        return r[part]["samples_per_s"] if r[part] else None

    return {
        "params": _ratio(result["params"], base["params"]),
        "train_samples_per_s": _ratio(speed(result, "train"), speed(base, "train")),
        "inference_samples_per_s": _ratio(speed(result, "inference"), speed(base, "inference")),
        "peak_memory": _ratio(result["peak_memory_mib"], base["peak_memory_mib"]),
    }


def bench_variants(
    model_name: str,
    variants: dict[str, str | dict | None],
    settings: BenchSettings,
    task: str | None = None,
    pairs: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """:func:`bench_model` of ``model_name`` with each FFN variant, in ``variants`` order, their timed
    calls interleaved (:func:`bench_models`).

    Args:
        model_name: a MODEL argument of :func:`kanformer.models.load_model`, loaded fresh per variant.
        variants: display name -> FFN spec: None / "none" / "original" (the original FFN), a
            preset (:data:`kanformer.train.config.FFN_PRESETS`), a YAML file or a mapping of
            KANFFNConfig fields.
        settings: how to measure.
        task: a task name (kanformer.tasks.TASKS) or task file: its head (image or sequence classification) and
            num_labels; None: the model's ``auto`` head.
        pairs: KANFFNConfig fields overriding every KAN variant's settings.

    Returns:
        One :func:`bench_model` dict per variant plus "variant", "model", "task", "ffn"
        (the resolved settings, None for the original), "notes" and "ratios" (params,
        train_samples_per_s, inference_samples_per_s, peak_memory relative to the first
        variant whose spec is None; None without one).

    Raises:
        ValueError: one line, for an unknown model, task, preset or setting, or a missing
            CUDA device, before anything is measured.
    """
    from ..models import load_model
    from ..plugin import KANFFNConfig, kanify
    from ..settings import from_settings
    from ..train.config import ffn_settings

    resolve_device(settings)
    head, num_labels = "auto", None
    if task is not None:
        from ..tasks import get_task

        t = get_task(task)
        head, num_labels = t.head, t.num_labels
    # Resolve every spec first: a typo in the last one should not cost the benchmarks before it.
    resolved: dict[str, dict[str, Any] | None] = {}
    for name, spec in variants.items():
        ffn = ffn_settings(spec)
        if ffn is not None and pairs:
            ffn = from_settings(KANFFNConfig, {**ffn, **pairs}).to_dict()
        resolved[name] = ffn

    models, notes = [], []
    for ffn in resolved.values():
        model = load_model(model_name, head=head, num_labels=num_labels)
        notes.append([])
        if ffn is not None:
            cfg = KANFFNConfig.from_dict(ffn)
            # No data is used: distillation and calibration only change weight values, not the work per step.
            structural = cfg.without_data()
            if structural != cfg:
                notes[-1].append("init=distill and calibrate change weight values, not sizes: built without them")
            with _forked_rng(torch.device("cpu")):
                model = kanify(model, structural)
        models.append(model)
    results = [
        {"variant": name, "model": model_name, "task": task, "ffn": ffn, "notes": note, **result}
        for (name, ffn), note, result in zip(resolved.items(), notes, bench_models(models, settings), strict=True)
    ]
    base = next((r for r in results if r["ffn"] is None), None)
    for r in results:
        r["ratios"] = _ratios(r, base) if base is not None else None
    return results


# ---------------------------------------------------------------- rendering


def _num(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def _with_ratio(text: str, ratio: float | None) -> str:
    return text if ratio is None or text == "-" else f"{text} ({_x(ratio)})"


def _compile_s(result: Mapping[str, Any]) -> float | None:
    parts = [result[k].get("compile_s") for k in ("train", "inference") if result.get(k)]
    parts = [p for p in parts if p is not None]
    return sum(parts) if parts else None


def render_bench(results: list[dict[str, Any]], markdown: bool = False) -> str:
    """The results of :func:`bench_variants` (or :func:`bench_model` dicts) as a plain-text or markdown table.

    One row per variant: parameters, FFN parameters, FLOPs per sample, training
    samples/s (and the ratio to the original), tokens/s, inference samples/s (ratio),
    p50/p95 latency, training peak memory and the one-off first-call cost (compilation
    of fused kernels); then a line with the batch shape, device, dtype and repeats.
    """
    if not results:
        return "no results"
    first = results[0]
    unit = first["unit"]
    header = [
        "variant",
        "params",
        "FFN params",
        f"FLOPs/{'image' if unit == 'image' else 'sample'}",
        "train samples/s",
        "train tokens/s",
        "infer samples/s",
        "p50 ms",
        "p95 ms",
        "peak MiB",
        "compile s",
    ]
    rows = []
    for i, r in enumerate(results):
        train, infer, ratios = r["train"] or {}, r["inference"] or {}, r.get("ratios") or {}
        rows.append(
            [
                str(r.get("variant", i)),
                _int(r["params"]),
                _int(r["ffn_params"]),
                _si(r["flops_per_sample"]),
                _with_ratio(_num(train.get("samples_per_s")), ratios.get("train_samples_per_s")),
                _si(train.get("tokens_per_s")),
                _with_ratio(_num(infer.get("samples_per_s")), ratios.get("inference_samples_per_s")),
                _num(infer.get("latency_ms_p50"), 2),
                _num(infer.get("latency_ms_p95"), 2),
                _num(r["peak_memory_mib"]),
                _num(_compile_s(r)),
            ]
        )
    out = []
    if first.get("model"):
        task = f", task {first['task']}" if first.get("task") else ""
        out += [("**Model**" if markdown else "Model") + f": {first['model']}{task}", ""]
    out += table(header, rows, markdown=markdown)
    shape = "x".join(str(n) for n in first["input_shape"])
    b, n = first["batch_size"], first["seq_len"]
    parts = [
        f"batch {shape} ({b} samples of {n} tokens)" if n else f"batch {shape} ({b} images)",
        f"device {first['device']}",
        f"dtype {first['dtype']}",
        f"median of {first['repeats']} repeats after {first['warmup']} warm-up",
    ]
    if first["train"]:
        parts.append("train = one full AdamW step")
    parts.append("compile s = first call less the median, train + inference (fused kernels compile once per process)")
    if any(r.get("ratios") for r in results):
        parts.append("(xN) = vs the original")
    out += ["", ("* " if markdown else "") + ", ".join(parts)]
    notes = sorted({n for r in results for n in r.get("notes", [])})
    out += [("* " if markdown else "note: ") + n for n in notes]
    return "\n".join(out)


__all__ = [
    "BenchSettings",
    "bench_model",
    "bench_models",
    "bench_variants",
    "render_bench",
    "resolve_device",
    "variant_name",
]
