"""The settings of a tabular KAN vs MLP benchmark (configs/tabular.yaml), checked before anything runs.

    cfg = tabular_config(read_yaml("configs/tabular.yaml") | {"seeds": 2})

Every field has the default of the shipped benchmark, so ``TabularConfig()`` is configs/tabular.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..settings import from_settings

SCHEDULES = ("cosine", "constant")
MLP_ACTIVATIONS = ("silu", "gelu", "relu", "tanh")


def _offline_tasks() -> list[str]:
    from ..tasks.tabular import OFFLINE_TASKS

    return list(OFFLINE_TASKS)


@dataclass
class TabularConfig:
    """One benchmark: every task x model (KAN, MLP) x seed, trained on the same budget."""

    name: str = "tabular"
    """Report name; the report goes to reports/<name> unless told otherwise."""
    description: str = ""
    tasks: list[str] = field(default_factory=_offline_tasks)
    seeds: int = 5
    """Seeds 0..seeds-1; each draws its own split, initialisation and batch order."""
    # KAN [features, *kan_hidden, outputs]; KANLinear options:
    kan_hidden: list[int] = field(default_factory=lambda: [16])
    basis: str = "bspline"
    grid_size: int = 5
    spline_order: int = 3
    grid_range: tuple[float, float] = (-2.0, 2.0)
    base_activation: str = "silu"
    update_grid: bool = True
    """Fit the KAN's grids to the training inputs before training (B-splines only)."""
    # MLP [features, H x mlp_depth, outputs], H solved so its parameters match the KAN's:
    mlp_depth: int = 2
    mlp_activation: str = "silu"
    param_tolerance: float = 0.05
    """Largest relative difference of the two parameter counts."""
    # The shared training budget: AdamW, early stopping on the validation loss.
    epochs: int = 200
    patience: int = 20
    """Stop after this many epochs without a better validation loss; the best epoch's weights are kept."""
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    """Learning rate per step: cosine decay to 0 over ``epochs`` or constant."""
    threads: int = 1
    """torch CPU threads (0: torch's default). One, because models this small gain nothing from intra-op
    threads, and on a shared CPU the threads spin against other processes: 2 threads ran 40x slower than 1."""
    cache_dir: str | None = None
    """datasets cache for hub tasks."""

    def kan_options(self) -> dict[str, Any]:
        """The keyword arguments of every KANLinear."""
        return {
            "basis": self.basis,
            "grid_size": self.grid_size,
            "spline_order": self.spline_order,
            "grid_range": tuple(self.grid_range),
            "base_activation": self.base_activation,
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["grid_range"] = list(self.grid_range)
        return out

    def validate(self) -> None:
        """Raise one ValueError line naming every problem."""
        from ..layers import KAN
        from ..tasks.tabular import get_tabular_task

        problems: list[str] = []

        def need(ok: bool, text: str) -> None:
            if not ok:
                problems.append(text)

        if not isinstance(self.tasks, list) or not self.tasks or not all(isinstance(t, str) for t in self.tasks):
            problems.append(f"tasks must be a non-empty list of task names, got {self.tasks!r}")
        else:
            for name in self.tasks:
                try:
                    get_tabular_task(name)
                except ValueError as err:
                    problems.append(str(err))
            repeated = sorted({t for t in self.tasks if self.tasks.count(t) > 1})
            need(not repeated, f"tasks lists {repeated} more than once")
        need(self.seeds >= 1, f"seeds={self.seeds} must be >= 1")
        need(bool(self.kan_hidden) and min(self.kan_hidden) >= 1, f"kan_hidden={self.kan_hidden} needs widths >= 1")
        need(self.mlp_depth >= 1, f"mlp_depth={self.mlp_depth} must be >= 1")
        need(
            self.mlp_activation in MLP_ACTIVATIONS, f"mlp_activation={self.mlp_activation!r}: one of {MLP_ACTIVATIONS}"
        )
        need(0 < self.param_tolerance < 1, f"param_tolerance={self.param_tolerance} must be in (0, 1)")
        need(self.epochs >= 1, f"epochs={self.epochs} must be >= 1")
        need(self.patience >= 1, f"patience={self.patience} must be >= 1")
        need(self.batch_size >= 1, f"batch_size={self.batch_size} must be >= 1")
        need(self.lr > 0, f"lr={self.lr} must be > 0")
        need(self.weight_decay >= 0, f"weight_decay={self.weight_decay} must be >= 0")
        need(self.schedule in SCHEDULES, f"schedule={self.schedule!r}: one of {SCHEDULES}")
        need(self.threads >= 0, f"threads={self.threads} must be >= 0")
        need(not self.update_grid or self.basis == "bspline", f"update_grid needs basis 'bspline', not {self.basis!r}")
        try:  # the layer checks its own options: build the smallest KAN rather than repeat them
            KAN([1, 1], **self.kan_options())
        except ValueError as err:
            problems.append(str(err))
        if problems:
            raise ValueError(f"invalid tabular settings: {'; '.join(problems)}")


def tabular_config(settings: Mapping[str, Any] | None = None) -> TabularConfig:
    """A checked :class:`TabularConfig` from a YAML mapping (keys may use - for _); problems are one ValueError line."""
    values = {str(k).strip().replace("-", "_"): v for k, v in (settings or {}).items()}
    # from_settings only converts lists of integers: the task names are checked in validate().
    tasks = values.pop("tasks", None)
    cfg = from_settings(TabularConfig, values, what="tabular")
    if tasks is not None:
        cfg.tasks = [tasks] if isinstance(tasks, str) else tasks
    cfg.validate()
    return cfg
