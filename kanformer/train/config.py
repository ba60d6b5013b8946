"""RunConfig: everything one fine-tuning run needs, as plain values (YAML-backed)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..settings import above, at_least, between, setting, validate

SCHEDULES = ("linear", "cosine", "constant")
PRECISIONS = ("no", "fp16", "bf16")


@dataclass
class RunConfig:
    """One fine-tune of ``model`` on ``task``, original (ffn=None) or kanified.

    Every field can be set in a YAML file (``kanformer finetune --config``), as a flag
    (``--max-steps 100``) and as ``key=value`` (``ffn.key=value`` for FFN fields).
    """

    model: str = setting("tiny-bert", "hub id, local directory or built-in name")
    task: str = setting("glue/sst2", "a task name (glue/sst2, cifar10, ...) or a task file (.yaml)")
    ffn: dict[str, Any] | None = setting(None, "KANFFNConfig fields; None = original", flag=False)
    data_dir: str | None = setting(None, "local files in the task's schema (offline)")
    output_dir: str = setting("runs/run", "the run directory (holds metrics.json)")
    max_steps: int = setting(100, "optimizer steps", check=at_least(1))
    batch_size: int = setting(16, "per device, per micro-batch", check=at_least(1))
    eval_batch_size: int = setting(64, "evaluation batch size", check=at_least(1))
    grad_accum: int = setting(1, "micro-batches per optimizer step", check=at_least(1))
    lr: float = setting(5e-5, "learning rate", check=above(0))
    kan_lr: float | None = setting(None, "learning rate of KAN parameters (default: lr)", check=above(0))
    kan_shared_lr: float | None = setting(
        None,
        "learning rate of KAN functions shared by channel groups: grkan's rational units (default: kan_lr)",
        check=above(0),
    )
    weight_decay: float = setting(0.01, "AdamW decay; never on biases and norms")
    schedule: str = setting("linear", "learning-rate schedule after warm-up", choices=SCHEDULES)
    warmup_ratio: float = setting(0.06, "warm-up steps as a fraction of max_steps", check=between(0, 1, open_high=True))
    max_grad_norm: float = setting(
        1.0, "gradient-norm clip, applied to the KAN layers and to the rest separately (0: off)"
    )
    mixed_precision: str = setting("no", "autocast precision", choices=PRECISIONS)
    eval_every: int = setting(0, "evaluate every N steps (0: only at the end)", check=at_least(0))
    save_every: int = setting(0, "checkpoint every N steps (0: never)", check=at_least(0))
    keep_last: int = setting(2, "checkpoints kept", check=at_least(1))
    seed: int = setting(42, "random seed")
    max_length: int = setting(128, "tokens per text sample", check=at_least(1))
    max_train_samples: int | None = setting(None, "use at most this many training samples")
    max_eval_samples: int | None = setting(None, "use at most this many evaluation samples")
    resume: bool = setting(False, "continue from the latest complete checkpoint")
    log_every: int = setting(10, "log every N steps", check=at_least(1))
    save_model: bool = setting(True, "save the final model in output_dir/model")
    start_cache: str | None = setting(
        None,
        "directory keeping distilled/calibrated KAN FFN starts: runs that differ only in seed or "
        "training settings fit them once (kanformer compare sets it)",
    )

    def __post_init__(self) -> None:
        validate(self, "run")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FFN_PRESETS: dict[str, dict[str, Any]] = {
    # scratch: for models trained from scratch (or to see what new FFNs alone can learn)
    "kan": {"form": "kan"},
    "kan-match-params": {"form": "kan", "hidden": "match-params"},
    # pretrained models: start from the original FFN's function
    "kan-warm": {"form": "kan", "init": "warm"},
    # at the MLP's parameter count, width beats grid resolution when fitting a pretrained MLP: G=1, K=1
    # (h=512 on MiniLM) keeps unseen articles' embeddings at cos 0.93, pykan's G=5, K=3 (h=171) at
    # 0.77-0.82 (reports/distill/fidelity.md)
    "kan-distill": {"form": "kan", "hidden": "match-params", "init": "distill", "grid_size": 1, "spline_order": 1},
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
    from ..plugin.config import KANFFNConfig
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


FFN_SPEC_HELP = (
    "SPEC: none (the original FFN), a preset (" + ", ".join(FFN_PRESETS) + "), a YAML file of KAN FFN "
    "settings, or key=value pairs (grid_size=7 layers=[0,1]), optionally after a preset or file "
    "('kan-warm grid_size=7')"
)


def split_ffn_spec(spec: str) -> tuple[str | None, list[str]]:
    """``"kan-warm grid_size=7 layers=[0, 1]"`` -> ``("kan-warm", ["grid_size=7", "layers=[0, 1]"])``.

    The base (a preset, a YAML file or none) is optional; pairs are split where a new ``key=`` starts."""
    parts = [p for p in re.split(r"\s+(?=[A-Za-z_][\w.-]*=)", spec.strip()) if p]
    if parts and "=" not in parts[0].split()[0]:
        base, _, rest = parts[0].partition(" ")
        if rest.strip():
            raise ValueError(f"--ffn {spec!r}: after {base!r} write key=value pairs, e.g. {base!r} grid_size=7")
        return base, parts[1:]
    return None, parts


def _spec_settings(spec: str) -> dict[str, Any] | None:
    """The KAN FFN settings a spec string names (not yet validated); None for the original FFN."""
    from ..settings import parse_key_values, read_yaml

    base, pairs = split_ffn_spec(spec)
    settings: dict[str, Any] = {}
    if base is None:
        pass
    elif base.lower() in ("none", "original"):
        if pairs:
            raise ValueError(f"--ffn {spec!r}: the original FFN ({base}) takes no KAN settings")
        return None
    elif base in FFN_PRESETS:
        settings = dict(FFN_PRESETS[base])
    elif base.endswith((".yaml", ".yml")):
        settings = read_yaml(base)
    else:
        raise ValueError(f"ffn={base!r} is not none, a preset {sorted(FFN_PRESETS)}, a YAML file or key=value pairs")
    return {**settings, **parse_key_values(pairs)}


def ffn_settings(spec: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Complete, validated KAN FFN settings for an FFN spec; None for the original model.

    ``spec`` is ``None`` / ``"none"`` / ``"original"`` (the original FFN), a preset name
    (:data:`FFN_PRESETS`), a YAML file of KANFFNConfig fields, ``key=value`` pairs (over
    the defaults, or over a preset or file written first: ``"kan-warm grid_size=7"``), or
    such a mapping. Raises ValueError (one line) for anything else.
    """
    from ..plugin.config import KANFFNConfig
    from ..settings import from_settings

    if isinstance(spec, str):
        spec = _spec_settings(spec)
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"ffn must be a mapping of KAN FFN settings, got {type(spec).__name__}")
    return from_settings(KANFFNConfig, spec).to_dict()


def ffn_with_pairs(spec: str | None, pairs: Sequence[str] = ()) -> dict[str, Any] | None:
    """:func:`ffn_settings` of ``spec`` with ``key=value`` pairs over it (the same as writing them
    inside the spec); None when neither is given or the spec is the original FFN without pairs.
    Each pair must be one ``key=value`` argument."""
    from ..settings import parse_key_values

    if spec is None and not pairs:
        return None
    extra = parse_key_values(pairs)
    settings = {} if spec is None else _spec_settings(spec)
    if settings is None:
        if extra:
            raise ValueError(f"--ffn {spec!r}: the original FFN takes no KAN settings ({' '.join(pairs)})")
        return None
    return ffn_settings({**settings, **extra})
