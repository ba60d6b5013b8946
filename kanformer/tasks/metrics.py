"""Task metrics through ``evaluate``, with our own metric scripts (``kanformer/metrics``), offline."""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import Task, get_task


def _as_numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, on any device, in any dtype
        values = values.detach().cpu()
        if values.is_floating_point():
            values = values.float()
        values = values.numpy()
    return np.asarray(values)


def compute_metrics(task: Task | str, predictions: Any, references: Any) -> dict[str, float]:
    """Score ``predictions`` against ``references`` with the task's metric.

    ``predictions`` may be the model's logits, shape (N, num_labels): classification takes their
    argmax here, regression squeezes (N, 1) to (N,). Class ids (N,) or regression scores (N,) are used
    as they are. numpy arrays, lists and torch tensors (any device) are accepted. Gather the
    predictions of every process first: this scores what it is given, in this process.

    Returns plain floats: ``accuracy``, ``f1``, ``matthews_correlation``, ``pearson``, ``spearmanr`` as
    the task defines them, plus ``main``: the value of ``task.main_metric``.
    """
    from kanformer.metrics import load_metric

    task = get_task(task)
    preds, refs = _as_numpy(predictions), _as_numpy(references).reshape(-1)
    if task.is_regression:
        if preds.ndim == 2 and preds.shape[1] == 1:
            preds = preds[:, 0]
        preds, refs = preds.astype(np.float64), refs.astype(np.float64)
    elif preds.ndim == 2:
        preds = preds.argmax(axis=-1)
    if preds.ndim != 1:
        raise ValueError(
            f"{task.name}: predictions must be ids/scores (N,) or logits (N, {task.num_labels}), not {preds.shape}"
        )
    if len(preds) != len(refs):
        raise ValueError(f"{task.name}: {len(preds)} predictions for {len(refs)} references")
    if len(preds) == 0:
        raise ValueError(f"{task.name}: no predictions to score")
    if not task.is_regression:
        preds, refs = preds.astype(np.int64), refs.astype(np.int64)
    metric = load_metric(task.metric, task.metric_config)
    result = {key: float(value) for key, value in metric.compute(predictions=preds, references=refs).items()}
    result["main"] = result[task.main_metric]
    return result
