"""Training: the accelerate fine-tuning loop and its run configuration.

Names load on first access, so :mod:`kanformer.train.config` (RunConfig, FFN presets) imports no torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .config import RunConfig
    from .loop import (
        clip_gradients,
        clip_sets,
        evaluate_model,
        latest_checkpoint,
        make_accelerator,
        param_groups,
        train,
    )
    from .run import finetune

_LOOP = ("clip_gradients", "clip_sets", "evaluate_model", "latest_checkpoint", "make_accelerator")
_EXPORTS = {"RunConfig": ".config", "finetune": ".run", "param_groups": ".loop", "train": ".loop"}
__getattr__, __dir__ = lazy_exports(__name__, {**_EXPORTS, **dict.fromkeys(_LOOP, ".loop")})

__all__ = [
    "RunConfig",
    "clip_gradients",
    "clip_sets",
    "evaluate_model",
    "finetune",
    "latest_checkpoint",
    "make_accelerator",
    "param_groups",
    "train",
]
