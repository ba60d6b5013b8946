"""RunConfig: everything one fine-tuning run needs, as plain values (YAML-backed)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SCHEDULES = ("linear", "cosine", "constant")
PRECISIONS = ("no", "fp16", "bf16")


@dataclass
class RunConfig:
    """One fine-tune of ``model`` on ``task``, original (ffn=None) or kanified.

    Every field can be set in a YAML file (``kanformer finetune --config``) and
    overridden on the command line as ``key=value`` (``ffn.key=value`` for FFN fields).
    """

    model: str = field(default="tiny-bert", metadata={"help": "hub id, local directory or built-in name"})
    task: str = field(
        default="glue/sst2", metadata={"help": "a task name (glue/sst2, cifar10, ...) or a task file (.yaml)"}
    )
    ffn: dict[str, Any] | None = field(default=None, metadata={"help": "KANFFNConfig fields; None = original"})
    data_dir: str | None = field(default=None, metadata={"help": "local files in the task's schema (offline)"})
    output_dir: str = field(default="runs/run", metadata={"help": "the run directory"})
    max_steps: int = field(default=100, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=16, metadata={"help": "per device, per micro-batch"})
    eval_batch_size: int = 64
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimizer step"})
    lr: float = 5e-5
    kan_lr: float | None = field(default=None, metadata={"help": "learning rate of KAN parameters (default: lr)"})
    kan_shared_lr: float | None = field(
        default=None,
        metadata={
            "help": "learning rate of KAN functions shared by channel groups: grkan's rational units (default: kan_lr)"
        },
    )
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW decay; never on biases and norms"})
    schedule: str = field(default="linear", metadata={"help": "linear | cosine | constant, after warm-up"})
    warmup_ratio: float = 0.06
    max_grad_norm: float = field(
        default=1.0,
        metadata={"help": "gradient-norm clip, applied to the KAN layers and to the rest separately (0: off)"},
    )
    mixed_precision: str = field(default="no", metadata={"help": "no | fp16 | bf16"})
    eval_every: int = field(default=0, metadata={"help": "evaluate every N steps (0: only at the end)"})
    save_every: int = field(default=0, metadata={"help": "checkpoint every N steps (0: never)"})
    keep_last: int = field(default=2, metadata={"help": "checkpoints kept"})
    seed: int = 42
    max_length: int = 128
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    resume: bool = field(default=False, metadata={"help": "continue from the latest complete checkpoint"})
    log_every: int = 10
    save_model: bool = field(default=True, metadata={"help": "save the final model in output_dir/model"})
    start_cache: str | None = field(
        default=None,
        metadata={
            "help": "directory keeping distilled/calibrated KAN FFN starts: runs that differ only in seed or "
            "training settings fit them once (kanformer compare sets it)"
        },
    )

    def __post_init__(self) -> None:
        problems = []

        def check(ok: bool, name: str, allowed: str) -> None:
            if not ok:
                problems.append(f"{name}={getattr(self, name)!r} ({allowed})")

        for name in (
            "max_steps",
            "batch_size",
            "eval_batch_size",
            "grad_accum",
            "keep_last",
            "max_length",
            "log_every",
        ):
            check(isinstance(getattr(self, name), int) and getattr(self, name) >= 1, name, "an integer >= 1")
        for name in ("eval_every", "save_every"):
            check(isinstance(getattr(self, name), int) and getattr(self, name) >= 0, name, "an integer >= 0")
        check(self.lr > 0, "lr", "> 0")
        check(self.kan_lr is None or self.kan_lr > 0, "kan_lr", "> 0 or unset")
        check(self.kan_shared_lr is None or self.kan_shared_lr > 0, "kan_shared_lr", "> 0 or unset")
        check(self.schedule in SCHEDULES, "schedule", f"one of {list(SCHEDULES)}")
        check(self.mixed_precision in PRECISIONS, "mixed_precision", f"one of {list(PRECISIONS)}")
        check(0 <= self.warmup_ratio < 1, "warmup_ratio", "in [0, 1)")
        if problems:
            raise ValueError("invalid run settings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FFN_PRESETS: dict[str, dict[str, Any]] = {
    # scratch: for models trained from scratch (or to see what new FFNs alone can learn)
    "kan": {"form": "kan"},
    "kan-match-params": {"form": "kan", "hidden": "match-params"},
    # pretrained models: start from the original FFN's function
    "kan-warm": {"form": "kan", "init": "warm"},
    "kan-distill": {"form": "kan", "hidden": "match-params", "init": "distill"},
    "grkan": {"form": "grkan"},
    # KAT's recipe: rational units fitted to the activation on the pre-activations they see
    "grkan-warm": {"form": "grkan", "init": "warm", "calibrate": "range"},
}
"""Named FFN settings for ``--ffn`` and compare variants; kan-distill and grkan-warm need the task's data."""


def resolve_run_config(
    config_path: str | None = None, flags: dict[str, Any] | None = None, pairs: Sequence[str] = ()
) -> RunConfig:
    """A RunConfig from a YAML file, then command-line flags, then ``key=value`` pairs.

    ``ffn`` may be ``none`` (the original model), a preset name (:data:`FFN_PRESETS`), a
    YAML file of KANFFNConfig fields, or a mapping; ``ffn.<field>=value`` pairs refine it.
    Every problem is one ValueError line.
    """
    from ..plugin import KANFFNConfig
    from ..settings import from_settings, parse_key_values, read_yaml

    settings: dict[str, Any] = dict(read_yaml(config_path)) if config_path else {}
    settings.update({k: v for k, v in (flags or {}).items() if v is not None})
    ffn_pairs = {}
    for key, value in parse_key_values(pairs).items():
        if key.startswith("ffn."):
            ffn_pairs[key[4:]] = value
        else:
            settings[key] = value
    ffn = ffn_settings(settings.pop("ffn", None))
    if ffn_pairs:
        ffn = from_settings(KANFFNConfig, {**(ffn or {}), **ffn_pairs}).to_dict()
    cfg = from_settings(RunConfig, settings, what="run")
    cfg.ffn = ffn
    return cfg


def ffn_settings(spec: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Complete, validated KAN FFN settings for an FFN spec; None for the original model.

    ``spec`` is ``None`` / ``"none"`` / ``"original"`` (the original FFN), a preset name
    (:data:`FFN_PRESETS`), a YAML file of KANFFNConfig fields, or such a mapping.
    Raises ValueError (one line) for anything else.
    """
    from ..plugin import KANFFNConfig
    from ..settings import from_settings, read_yaml

    if isinstance(spec, str):
        if spec.lower() in ("none", "original"):
            return None
        if spec in FFN_PRESETS:
            spec = dict(FFN_PRESETS[spec])
        elif spec.endswith((".yaml", ".yml")):
            spec = read_yaml(spec)
        else:
            raise ValueError(f"ffn={spec!r} is not none, a preset {sorted(FFN_PRESETS)} or a YAML file")
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"ffn must be a mapping of KAN FFN settings, got {type(spec).__name__}")
    return from_settings(KANFFNConfig, spec).to_dict()
