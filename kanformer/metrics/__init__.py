"""Our own ``evaluate`` metric scripts, shipped inside the package and loaded from a local path.

Each metric lives in ``kanformer/metrics/<name>/<name>.py`` (the layout ``evaluate.load`` expects of a
local directory), so nothing is fetched from the Hugging Face Hub::

    from kanformer.metrics import load_metric

    load_metric("glue", "cola").compute(predictions=[0, 1, 1], references=[0, 1, 0])
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

METRICS_DIR = Path(__file__).resolve().parent
METRICS = ("accuracy", "glue")


def metric_path(name: str) -> str:
    """The local directory of metric ``name``, to pass to ``evaluate.load``."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known metrics: {', '.join(METRICS)}")
    return str(METRICS_DIR / name)


@functools.cache
def load_metric(name: str, config_name: str | None = None) -> Any:
    """``evaluate.load`` of our metric ``name`` (with ``config_name``, e.g. a GLUE task), kept in memory.

    The module is cached per (name, config): compute() with explicit predictions and references
    starts afresh on every call, so one object serves any number of evaluations in one process.
    """
    import evaluate

    return evaluate.load(metric_path(name), config_name, keep_in_memory=True)
