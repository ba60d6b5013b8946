"""The fine-tuning loop: one accelerate ``Accelerator``, any supported model and task.

    from kanformer.train import RunConfig, finetune
    result = finetune(RunConfig(model="minilm", task="bbc-news", ffn={"init": "warm"}, max_steps=100))

Run directory (``output_dir``):
    config.yaml        the resolved RunConfig
    metrics.json       every evaluation, the best one, throughput and memory
    tb/                TensorBoard events (loss, lr, grad norm, eval metrics, samples/s, tokens/s, memory)
    checkpoints/step_N accelerate states (model, optimizer, scheduler, RNG, sampler), last ``keep_last``
    model/             the final model (kanified models keep their KAN settings) and its processor

A killed run started again with ``resume=True`` continues from its last complete
checkpoint and ends with the same weights as an uninterrupted run (same seed).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType, ProjectConfiguration, set_seed
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_scheduler

from ..io import atomic_write_json, atomic_write_text
from ..layers import KANLinear
from .config import RunConfig

CHECKPOINTS = "checkpoints"
_COMPLETE = "kanformer_state.json"  # written last: a checkpoint without it is incomplete


def make_accelerator(cfg: RunConfig) -> Accelerator:
    """The run's Accelerator: mixed precision, accumulation, TensorBoard in run_dir/tb, seedable sampler.

    Several runs in one process (tests, ``kanformer compare``) may differ in precision or
    accumulation: accelerate keeps those in process-wide singletons, so they are reset
    here; the distributed process group (PartialState) is kept.
    """
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    run_dir = Path(cfg.output_dir)
    return Accelerator(
        mixed_precision=cfg.mixed_precision,
        gradient_accumulation_steps=cfg.grad_accum,
        log_with="tensorboard",
        project_config=ProjectConfiguration(project_dir=str(run_dir), logging_dir=str(run_dir / "tb")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )


def _kan_parameter_ids(model: nn.Module) -> set[int]:
    return {id(p) for m in model.modules() if isinstance(m, KANLinear) for p in m.parameters()}


def _shared_parameter_ids(model: nn.Module) -> set[int]:
    return {id(p) for m in model.modules() if isinstance(m, KANLinear) for p in m.shared_parameters()}


def param_groups(model: nn.Module, cfg: RunConfig) -> list[dict[str, Any]]:
    """AdamW groups: no decay on biases and norm weights; KAN parameters at ``kan_lr``, the KAN
    layers' shared functions (group coefficients, rational denominators) at ``kan_shared_lr``."""
    kan, shared = _kan_parameter_ids(model), _shared_parameter_ids(model)
    no_decay = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if name == "bias" or "norm" in type(module).__name__.lower() or "LayerNorm" in name:
                no_decay.add(id(p))
    kan_lr = cfg.kan_lr if cfg.kan_lr is not None else cfg.lr
    shared_lr = cfg.kan_shared_lr if cfg.kan_shared_lr is not None else kan_lr
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for p in model.parameters():
        if p.requires_grad:
            lr = shared_lr if id(p) in shared else kan_lr if id(p) in kan else cfg.lr
            groups.setdefault((lr, id(p) in no_decay), []).append(p)
    return [
        {"params": params, "lr": lr, "weight_decay": 0.0 if nd else cfg.weight_decay}
        for (lr, nd), params in groups.items()
    ]


def clip_sets(model: nn.Module) -> list[list[nn.Parameter]]:
    """The parameter sets whose gradient norms are clipped separately: the KAN layers' shared
    functions (group coefficients, rational denominators), their other parameters, the rest.

    One global norm is unfair to a model with KAN layers. Shared coefficients collect
    gradient from every token and channel of their group (first step on MiniLM: norm 599
    for grkan-warm's rational coefficients, 6.0 for kan-distill's spline weights, 0.84
    for the whole original model), so a global clip at 1.0 shrinks every other gradient by
    up to ~600x, towards AdamW's eps, and the pretrained weights all but stop training.
    Clipped per set, the backbone's updates are the original model's and the KAN layers'
    weights are not held back by their shared coefficients.
    """
    shared = _shared_parameter_ids(model)
    kan = _kan_parameter_ids(model) - shared
    trainable = [p for p in model.parameters() if p.requires_grad]
    sets = [[p for p in trainable if id(p) in ids] for ids in (shared, kan)]
    sets.append([p for p in trainable if id(p) not in shared and id(p) not in kan])
    return [s for s in sets if s]


def clip_gradients(
    accelerator: Accelerator, model: nn.Module, sets: list[list[nn.Parameter]], max_norm: float
) -> Tensor | None:
    """Clip each set's gradient norm to ``max_norm``; returns the total norm before clipping.

    FSDP and DeepSpeed clip the whole sharded (prepared) ``model`` in one call, with their
    own norm reductions: there the sets are clipped as one.
    """
    if len(sets) == 1 or accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return accelerator.clip_grad_norm_(model.parameters(), max_norm)
    accelerator.unscale_gradients()  # fp16: once, before any norm
    norms = torch.stack([torch.nn.utils.clip_grad_norm_(s, max_norm) for s in sets])
    return norms.square().sum().sqrt()


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint in ``run_dir/checkpoints``, or None."""
    root = Path(run_dir) / CHECKPOINTS
    done = [d for d in root.glob("step_*") if (d / _COMPLETE).exists()] if root.exists() else []
    return max(done, key=lambda d: int(d.name.split("_")[1]), default=None)


def _save_checkpoint(accelerator: Accelerator, run_dir: Path, step: int, micro: int, keep: int) -> None:
    root = run_dir / CHECKPOINTS
    final, tmp = root / f"step_{step:08d}", root / f".tmp_step_{step:08d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        atomic_write_json(tmp / _COMPLETE, {"step": step, "micro_batches": micro})
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        done = sorted(root.glob("step_*"), key=lambda d: int(d.name.split("_")[1]))
        for old in done[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _hparams(cfg: RunConfig) -> dict[str, bool | str | int | float]:
    """TensorBoard accepts only bool/str/int/float hyper-parameters."""
    flat: dict[str, bool | str | int | float] = {}
    for k, v in cfg.to_dict().items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                flat[f"ffn.{k2}"] = v2 if isinstance(v2, (bool, str, int, float)) else str(v2)
        elif isinstance(v, (bool, str, int, float)):
            flat[k] = v
        else:
            flat[k] = str(v)
    return flat


def _peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def evaluate_model(
    accelerator: Accelerator, model: nn.Module, loaders: dict[str, DataLoader], metric_fn: Any
) -> dict[str, dict[str, float]]:
    """Metrics per eval split; predictions gathered over processes without duplicates."""
    model.eval()
    results = {}
    for split, loader in loaders.items():
        preds, refs = [], []
        with torch.no_grad():
            for batch in loader:
                logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
                p, r = accelerator.gather_for_metrics((logits.float(), batch["labels"]))
                preds.append(p.cpu())
                refs.append(r.cpu())
        results[split] = metric_fn(torch.cat(preds), torch.cat(refs))
        results[split]["samples"] = int(sum(r.shape[0] for r in refs))
    model.train()
    return results


def _cycle_position(micro: int, per_epoch: int) -> tuple[int, int]:
    return micro // per_epoch, micro % per_epoch


def train(
    cfg: RunConfig,
    model: nn.Module,
    train_set: Any,
    eval_sets: dict[str, Any],
    collate: Any,
    metric_fn: Any,
    main_metric: str,
    save_extra: Iterable[Any] = (),
    accelerator: Accelerator | None = None,
) -> dict[str, Any]:
    """Fine-tune ``model`` (already built, kanified or not) and write the run directory.

    Args:
        train_set, eval_sets: map-style datasets of model-input dicts (with "labels").
        collate: the DataLoader collate function.
        metric_fn: (predictions logits (N, C) or (N,), references (N,)) -> {name: value}.
        main_metric: the key of metric_fn's result that "best" tracks (higher is better).
        save_extra: objects with save_pretrained (tokenizer, image processor) saved with the model.
        accelerator: one made by :func:`make_accelerator` (made here when None).

    Returns:
        the final metrics record (also in metrics.json); the trained model is ``model``
        itself (accelerate wraps it only on multi-process runs: see ``unwrap_model``).
    """
    run_dir = Path(cfg.output_dir)
    accelerator = accelerator or make_accelerator(cfg)
    set_seed(cfg.seed)
    if accelerator.is_main_process:
        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    g = torch.Generator().manual_seed(cfg.seed)
    train_dl = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate, generator=g)
    eval_dls = {k: DataLoader(v, batch_size=cfg.eval_batch_size, collate_fn=collate) for k, v in eval_sets.items()}
    optimizer = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr)
    clipped = clip_sets(model)
    scheduler = get_scheduler(
        cfg.schedule,
        optimizer,
        num_warmup_steps=int(cfg.warmup_ratio * cfg.max_steps),
        num_training_steps=cfg.max_steps,
    )
    model, optimizer, train_dl, scheduler = accelerator.prepare(model, optimizer, train_dl, scheduler)
    if accelerator.device.type == "cuda":  # the run's own peak, not an earlier run's in this process
        torch.cuda.reset_peak_memory_stats(accelerator.device)
    eval_dls = {k: accelerator.prepare(v) for k, v in eval_dls.items()}
    accelerator.init_trackers("tb", config=_hparams(cfg))

    step = micro = 0
    resumed_from = None
    history: list[dict[str, Any]] = []
    ckpt = latest_checkpoint(run_dir) if cfg.resume else None
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
        state = json.loads((ckpt / _COMPLETE).read_text())
        step, micro = state["step"], state["micro_batches"]
        if (run_dir / "metrics.json").exists():
            history = [
                e for e in json.loads((run_dir / "metrics.json").read_text())["evaluations"] if e["step"] <= step
            ]
        resumed_from = step
        accelerator.print(f"resumed from {ckpt} at step {step}")

    per_epoch = len(train_dl)
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not accelerator.is_local_main_process, desc="train")
    model.train()
    window = {"loss": 0.0, "n": 0, "samples": 0, "tokens": 0, "t": time.perf_counter()}

    def run_eval() -> None:
        results = evaluate_model(accelerator, model, eval_dls, metric_fn)
        record = {"step": step, **{f"{s}/{k}": v for s, r in results.items() for k, v in r.items()}}
        history.append(record)
        accelerator.log({k: v for k, v in record.items() if k != "step"}, step=step)
        if accelerator.is_main_process:
            _write_metrics(run_dir, history, main_metric, list(eval_dls), extra={})

    while step < cfg.max_steps:
        epoch, offset = _cycle_position(micro, per_epoch)
        train_dl.set_epoch(epoch)
        loader = accelerator.skip_first_batches(train_dl, offset) if offset else train_dl
        for batch in loader:
            with accelerator.accumulate(model):
                out = model(**batch)
                accelerator.backward(out.loss)
                grad_norm = None
                if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                    grad_norm = clip_gradients(accelerator, model, clipped, cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            micro += 1
            window["loss"] += out.loss.detach().float().item()
            window["n"] += 1
            window["samples"] += batch["labels"].shape[0] * accelerator.num_processes
            if "attention_mask" in batch:
                window["tokens"] += int(batch["attention_mask"].sum()) * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                dt = time.perf_counter() - window["t"]
                logs = {
                    "train/loss": window["loss"] / max(window["n"], 1),
                    "train/lr": scheduler.get_last_lr()[0],
                    "train/samples_per_s": window["samples"] / dt,
                    "train/peak_memory_mib": _peak_memory_mib(accelerator.device),
                }
                if window["tokens"]:
                    logs["train/tokens_per_s"] = window["tokens"] / dt
                if grad_norm is not None:
                    logs["train/grad_norm"] = float(grad_norm)
                accelerator.log(logs, step=step)
                window.update(loss=0.0, n=0, samples=0, tokens=0, t=time.perf_counter())
            if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.max_steps:
                run_eval()
            if cfg.save_every and step % cfg.save_every == 0:
                _save_checkpoint(accelerator, run_dir, step, micro, cfg.keep_last)
            if step >= cfg.max_steps:
                break
    bar.close()
    run_eval()
    final = history[-1]
    if accelerator.is_main_process:
        extra = {
            "peak_memory_mib": _peak_memory_mib(accelerator.device),
            "num_processes": accelerator.num_processes,
            "resumed_from_step": resumed_from,
        }
        _write_metrics(run_dir, history, main_metric, list(eval_dls), extra=extra)
    if cfg.save_model:
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            _save_model(accelerator.unwrap_model(model), run_dir / "model", save_extra)
    accelerator.wait_for_everyone()
    # Not end_training(): it also destroys the process group, and kanformer compare runs
    # several fine-tunes in one accelerate launch.
    for tracker in accelerator.trackers:
        tracker.finish()
    return final


def _write_metrics(run_dir: Path, history: list[dict], main_metric: str, splits: list[str], extra: dict) -> None:
    key = f"{splits[0]}/{main_metric}"
    best = max((e for e in history if key in e), key=lambda e: e[key], default=None)
    atomic_write_json(
        run_dir / "metrics.json",
        {"main_metric": key, "best": best, "final": history[-1] if history else None, "evaluations": history, **extra},
    )


def _save_model(model: nn.Module, path: Path, extra: Iterable[Any]) -> None:
    tmp = path.with_name(f".tmp_{path.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    for obj in extra:
        obj.save_pretrained(str(tmp))
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


__all__ = ["clip_gradients", "clip_sets", "evaluate_model", "latest_checkpoint", "param_groups", "train"]
