"""Training: the accelerate fine-tuning loop and its run configuration."""

from .config import RunConfig
from .loop import evaluate_model, latest_checkpoint, param_groups, train

__all__ = ["RunConfig", "evaluate_model", "latest_checkpoint", "param_groups", "train"]
