"""BenchSettings: how ``kanformer bench`` measures (torch-free, so the command line's help stays fast)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from ..settings import at_least, setting, validate

DTYPE_NAMES = ("fp32", "bf16", "fp16")
_DEVICE_RE = re.compile(r"^(cpu|cuda(:\d+)?)$")


@dataclass
class BenchSettings:
    """How :func:`~kanformer.bench.model.bench_model` measures: batch shape, repeats, device and precision."""

    batch_size: int = setting(8, "samples per batch (every batch has the same shape)", check=at_least(1))
    seq_len: int = setting(128, "tokens per sample for text models (capped by the position table)", check=at_least(1))
    warmup: int = setting(2, "untimed calls first (AdamW's state is created here)", check=at_least(0))
    repeats: int = setting(5, "timed calls: medians and percentiles are over these", check=at_least(1))
    device: str = setting("cpu", "cpu or cuda[:N]", check=(lambda d: bool(_DEVICE_RE.match(d)), "cpu, cuda or cuda:N"))
    dtype: str = setting("fp32", "fp32, or bf16 / fp16 autocast around the forward (for GPUs)", choices=DTYPE_NAMES)
    train: bool = setting(True, "measure full training steps")
    inference: bool = setting(True, "measure inference forwards")

    def __post_init__(self) -> None:
        validate(self, "bench")

    def cross_checks(self, invalid: frozenset[str] = frozenset()) -> list[str]:
        """Problems between fields (those in ``invalid`` are already reported)."""
        if not invalid & {"train", "inference"} and self.train is False and self.inference is False:
            return ["train=False and inference=False (nothing to measure)"]
        return []

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
