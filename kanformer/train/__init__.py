"""Training: the accelerate fine-tuning loop and its run configuration."""

from .config import RunConfig
from .loop import clip_gradients, clip_sets, evaluate_model, latest_checkpoint, make_accelerator, param_groups, train
from .run import finetune

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
