"""One training run on a tabular split: AdamW, a per-step schedule, early stopping on the validation loss."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import TabularConfig


@dataclass
class FitResult:
    """What a run did: its best epoch (whose weights the model ends with) and its cost."""

    best_epoch: int
    epochs: int
    """Epochs trained before early stopping (or the budget) ended the run."""
    best_val_loss: float
    train_seconds: float
    """Wall time of training, including the validation passes and a KAN's grid update."""


def _loss(outputs: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy for (N, C) logits and int64 labels; MSE for (N, 1) predictions of standardised targets."""
    if targets.dtype == torch.int64:
        return F.cross_entropy(outputs, targets)
    return F.mse_loss(outputs.squeeze(-1), targets)


def _lr_factor(schedule: str, total_steps: int) -> Callable[[int], float]:
    if schedule == "constant":
        return lambda step: 1.0
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray | Tensor, batch_size: int = 4096) -> np.ndarray:
    """Model outputs for (N, F) inputs: (N, outputs) float32, in eval mode."""
    model.eval()
    x = torch.as_tensor(x)
    return torch.cat([model(chunk) for chunk in x.split(batch_size)]).numpy()


def fit(
    model: nn.Module,
    x: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    cfg: TabularConfig,
    seed: int,
    grid_inputs: bool = False,
) -> FitResult:
    """Train ``model`` on ``x["train"]`` (N, F) / ``y["train"]`` (N,) and keep the weights of its best epoch.

    Every epoch visits the training rows once in a seed-determined order, in batches of
    ``cfg.batch_size``; the learning rate follows ``cfg.schedule`` per step over the full budget of
    ``cfg.epochs``, so an early-stopped run has seen the same schedule as a full one up to that point.
    After each epoch the loss on ``x["val"]`` decides early stopping (``cfg.patience``).

    Args:
        grid_inputs: a KAN: fit its grids to the training inputs before the first step.
    """
    xt, yt = torch.as_tensor(x["train"]), torch.as_tensor(y["train"])
    xv, yv = torch.as_tensor(x["val"]), torch.as_tensor(y["val"])
    steps_per_epoch = math.ceil(len(xt) / cfg.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(cfg.schedule, cfg.epochs * steps_per_epoch))
    # The batch order has its own generator: identical for both models of a seed, whatever their init drew.
    order = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    if grid_inputs:
        model.update_grid(xt)
    best_loss, best_epoch, best_state, epoch = math.inf, 0, None, 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        for rows in torch.randperm(len(xt), generator=order).split(cfg.batch_size):
            loss = _loss(model(xt[rows]), yt[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(_loss(model(xv), yv))
        if val_loss < best_loss:  # a NaN loss never counts as better
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= cfg.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return FitResult(best_epoch, epoch, best_loss, time.perf_counter() - start)
