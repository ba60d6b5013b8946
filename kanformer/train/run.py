"""finetune: RunConfig -> model, task data, optional kanify -> the accelerate loop.

kanformer finetune --model minilm --task bbc-news --ffn kan ffn.init=warm --max-steps 100
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import set_seed
from torch import nn
from torch.utils.data import DataLoader

from .. import __version__
from ..io import atomic_write
from ..layers import KANLinear
from ..models import load_model, load_processor
from ..plugin import KANFFNConfig, kanify
from ..settings import from_settings
from .config import RunConfig
from .loop import make_accelerator, train


def ffn_config(settings: dict[str, Any] | None) -> KANFFNConfig | None:
    """The run's KAN FFN settings (None: the original model)."""
    return None if settings is None else from_settings(KANFFNConfig, settings)


@dataclass
class FinetuneResult:
    """The final evaluation record (as in metrics.json) and the trained model (this process' copy)."""

    final: dict[str, Any]
    model: nn.Module


def finetune(cfg: RunConfig) -> FinetuneResult:
    """Fine-tune ``cfg.model`` on ``cfg.task`` (kanified when ``cfg.ffn`` is set).

    Runs under the current ``accelerate launch`` (any number of processes) or alone;
    the run directory holds metrics, TensorBoard logs, checkpoints and the model.
    """
    from ..tasks import compute_metrics, get_task, load_splits, make_collator, preprocess

    task = get_task(cfg.task)
    ffn = ffn_config(cfg.ffn)  # validate before anything heavy runs
    accelerator = make_accelerator(cfg)
    # New weights (scratch KAN FFNs, a hub model's new head) come from torch's global RNG: seed it here,
    # or they depend on whatever ran earlier in the process (e.g. the previous runs of a kanformer compare).
    set_seed(cfg.seed)
    model = load_model(cfg.model, head=task.head, num_labels=task.num_labels)
    if not task.is_regression:
        model.config.id2label, model.config.label2id = task.id2label, task.label2id
    processor = load_processor(cfg.model, model)
    with accelerator.main_process_first():  # datasets caches its map() results: one writer
        splits = load_splits(task, cfg.data_dir)
        train_raw = _head(splits[task.train_split], cfg.max_train_samples)
        train_set = preprocess(task, train_raw, processor, train=True, max_length=cfg.max_length)
        eval_sets = {
            s: preprocess(
                task, _head(splits[s], cfg.max_eval_samples), processor, train=False, max_length=cfg.max_length
            )
            for s in task.eval_splits
        }
    collate = make_collator(task, processor)
    if ffn is not None:
        data = None
        if ffn.init == "distill" or ffn.calibrate != "none":
            data = ModelInputs(train_set, cfg.batch_size, collate)
        kanify_cached(model, ffn, data, cfg)
    final = train(
        cfg,
        model,
        train_set,
        eval_sets,
        collate,
        lambda p, r: compute_metrics(task, p, r),
        "main",
        save_extra=[processor],
        accelerator=accelerator,
    )
    # Without accelerate's autocast wrapper: the caller (e.g. a bench) chooses its own precision.
    return FinetuneResult(final, accelerator.unwrap_model(model, keep_fp32_wrapper=False))


def kanify_cached(model: nn.Module, ffn: KANFFNConfig, data: Any, cfg: RunConfig) -> None:
    """kanify, reusing a distilled or calibrated start from ``cfg.start_cache`` when one was fitted before.

    The start depends on the model, the task's training data (order fixed by
    :class:`ModelInputs`, not by the run seed) and the FFN settings, so runs that differ
    only in seed, steps or learning rate share it. The KAN FFN weights and the record
    (``config.kanformer``) are kept; the rest of the model (a new head) is the run's own.
    """
    from ..plugin.hub import convert
    from ..plugin.rebuild import build_structure

    if data is None or cfg.start_cache is None:
        kanify(model, ffn, data=data)
        return
    key_parts = [__version__, cfg.model, cfg.task, cfg.data_dir, cfg.max_length, cfg.batch_size,
                 cfg.max_train_samples, ffn.to_dict()]  # fmt: skip
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = Path(cfg.start_cache) / f"{key}.pt"
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        model.config.kanformer = saved["record"]
        build_structure(model)
        missing, unexpected = model.load_state_dict(saved["state"], strict=False)
        if unexpected or any(k.startswith(_kan_prefixes(model)) for k in missing):
            raise ValueError(f"the cached KAN FFN start {path} does not fit this model: delete it and run again")
        convert(model)
        return
    kanify(model, ffn, data=data)
    state = {k: v for k, v in model.state_dict().items() if k.startswith(_kan_prefixes(model))}
    atomic_write(path, lambda tmp: torch.save({"record": model.config.kanformer, "state": state}, tmp))


def _kan_prefixes(model: nn.Module) -> tuple[str, ...]:
    return tuple(f"{n}." for n, m in model.named_modules() if isinstance(m, KANLinear))


class ModelInputs:
    """Re-iterable model inputs (labels dropped) of a training set, for kanify's distill/calibrate.

    Shuffled in the same order at every pass and for every run seed, so that a distilled
    start depends on the model, the task and the FFN settings only.
    """

    def __init__(self, dataset: Any, batch_size: int, collate: Any, seed: int = 0) -> None:
        self.dataset, self.batch_size, self.collate, self.seed = dataset, batch_size, collate, seed

    def __iter__(self) -> Iterator[dict[str, Any]]:
        order = torch.Generator().manual_seed(self.seed)
        loader = DataLoader(self.dataset, self.batch_size, shuffle=True, collate_fn=self.collate, generator=order)
        for batch in loader:
            yield {k: v for k, v in batch.items() if k != "labels"}


def _head(dataset: Any, n: int | None) -> Any:
    return dataset if n is None or n >= len(dataset) else dataset.select(range(n))
