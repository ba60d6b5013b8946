"""The tiny comparison the compare tests share: a few steps of tiny models on the fixture data."""

from __future__ import annotations

from typing import Any

#: training of every tiny run (each test overrides max_steps, seeds, save_model as it needs)
TRAIN: dict[str, Any] = {
    "max_steps": 3,
    "batch_size": 4,
    "eval_batch_size": 16,
    "max_length": 32,
    "log_every": 1,
    "max_train_samples": 24,
    "max_eval_samples": 16,
}
#: bench of every tiny run
BENCH: dict[str, Any] = {"batch_size": 2, "seq_len": 16, "warmup": 1, "repeats": 2}
