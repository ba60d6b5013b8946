"""The settings of a tabular KAN vs MLP benchmark (configs/tabular.yaml), checked before anything runs.

    cfg = tabular_config(read_yaml("configs/tabular.yaml") | {"seeds": 2})

Every field has the default of the shipped benchmark, so ``TabularConfig()`` is configs/tabular.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..settings import above, at_least, from_settings, problem, setting, validate

SCHEDULES = ("cosine", "constant")
MLP_ACTIVATIONS = ("silu", "gelu", "relu", "tanh")


def _offline_tasks() -> list[str]:
    from ..tasks.tabular import OFFLINE_TASKS

    return list(OFFLINE_TASKS)


def _bases() -> list[str]:
    from ..layers.basis import BASES

    return sorted(BASES)


def _activations() -> list[str]:
    from ..layers.activations import BASE_ACTIVATIONS

    return sorted(BASE_ACTIVATIONS)


@dataclass
class TabularConfig:
    """One benchmark: every task x model (KAN, MLP) x seed, trained on the same budget."""

    name: str = setting("tabular", "report name; the report goes to reports/<name> unless told otherwise")
    description: str = setting("", "a sentence for the report")
    tasks: list[str] = setting(help="tasks to run (default: the offline ones)", default_factory=_offline_tasks)
    seeds: int = setting(
        5, "seeds 0..seeds-1; each draws its own split, initialisation and batch order", check=at_least(1)
    )
    # KAN [features, *kan_hidden, outputs]; KANLinear options:
    kan_hidden: list[int] = setting(
        help="hidden widths of the KAN [features, *kan_hidden, outputs]",
        default_factory=lambda: [16],
        check=at_least(1),
    )
    basis: str = setting("bspline", "KAN edge-function basis", choices=_bases)
    grid_size: int = setting(5, "grid intervals of each edge function", check=at_least(1))
    spline_order: int = setting(3, "B-spline order", check=at_least(1))
    grid_range: tuple[float, float] = setting(
        (-2.0, 2.0), "the KAN's grid range", check=(lambda r: r[0] < r[1], "need low < high")
    )
    base_activation: str = setting("silu", "the KAN's base activation", choices=_activations)
    update_grid: bool = setting(True, "fit the KAN's grids to the training inputs before training (B-splines only)")
    # MLP [features, H x mlp_depth, outputs], H solved so its parameters match the KAN's:
    mlp_depth: int = setting(2, "hidden layers of the MLP (its width is solved to match the KAN)", check=at_least(1))
    mlp_activation: str = setting("silu", "the MLP's activation", choices=MLP_ACTIVATIONS)
    param_tolerance: float = setting(
        0.05,
        "largest relative difference of the two parameter counts",
        check=(lambda t: 0 < t < 1, "must be in (0, 1)"),
    )
    # The shared training budget: AdamW, early stopping on the validation loss.
    epochs: int = setting(200, "most training epochs", check=at_least(1))
    patience: int = setting(
        20,
        "stop after this many epochs without a better validation loss; the best epoch's weights are kept",
        check=at_least(1),
    )
    batch_size: int = setting(64, "samples per batch", check=at_least(1))
    lr: float = setting(3e-3, "AdamW learning rate", check=above(0))
    weight_decay: float = setting(1e-4, "AdamW weight decay", check=at_least(0))
    schedule: str = setting(
        "cosine", "learning rate per step: cosine decay to 0 over epochs, or constant", choices=SCHEDULES
    )
    threads: int = setting(
        1,
        "torch CPU threads (0: torch's default); 1 because models this small gain nothing from intra-op threads "
        "and on a shared CPU 2 threads ran 40x slower than 1",
        check=at_least(0),
    )
    cache_dir: str | None = setting(None, "datasets cache for hub tasks")

    def __post_init__(self) -> None:
        if isinstance(self.grid_range, list):
            self.grid_range = tuple(self.grid_range)
        self.validate()

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
        """Raise one SettingsError (a ValueError) line naming every problem."""
        validate(self, "tabular")

    def cross_checks(self, invalid: frozenset[str] = frozenset()) -> list[str]:
        """The task names, repeated tasks, update_grid vs basis, and the layer's own checks (of the
        fields not in ``invalid``, which are already reported)."""
        from ..layers import KAN
        from ..tasks.tabular import get_tabular_task

        problems: list[str] = []
        if "tasks" not in invalid:
            if not self.tasks:
                problems.append(problem(self, "tasks", "need at least one task"))
            for name in dict.fromkeys(self.tasks):
                try:
                    get_tabular_task(name)
                except ValueError as err:
                    problems.append(str(err))
            repeated = sorted({t for t in self.tasks if self.tasks.count(t) > 1})
            if repeated:
                problems.append(problem(self, "tasks", f"lists {repeated} more than once"))
        if not invalid & {"update_grid", "basis"} and self.update_grid and self.basis != "bspline":
            problems.append(f"update_grid=True (update_grid needs basis 'bspline', not {self.basis!r})")
        if not problems and not invalid & set(self.kan_options()):
            try:  # the layer checks its own options: build the smallest KAN rather than repeat them
                KAN([1, 1], **self.kan_options())
            except ValueError as err:  # "spline_order=7 is invalid: ..." in the common format
                problems.append(re.sub(r"^(\w+=.*?) is invalid: (.*)$", r"\1 (\2)", str(err)))
        return problems


def tabular_config(settings: Mapping[str, Any] | None = None) -> TabularConfig:
    """A checked :class:`TabularConfig` from a YAML mapping (keys may use - for _); problems are one ValueError line."""
    return from_settings(TabularConfig, dict(settings or {}), what="tabular")
