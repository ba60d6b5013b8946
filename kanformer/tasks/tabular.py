"""Tabular tasks: small numeric data sets for comparing KANs and MLPs, declared like the other task families.

    from kanformer.tasks.tabular import get_tabular_task, load_tabular, make_splits, score

    task = get_tabular_task("wine")
    x, y = load_tabular(task)            # raw features (N, F) float64 and targets (N,)
    data = make_splits(task, x, y, seed=0)  # 60/20/20 train/val/test, standardised on the training rows
    ...                                  # train on data.x["train"], data.y["train"]
    score(data, outputs, "test")         # {"accuracy": ...} or {"rmse": ..., "r2": ...}, in original units

Four tasks ship with scikit-learn and work offline (breast-cancer, wine, diabetes, digits); the
others come from the Hugging Face Hub through ``datasets.load_dataset`` and fail with one line offline.
This module needs numpy only (plus scikit-learn or datasets when a task is loaded), not torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
"""Fractions of the rows in train, val and test (per class for classification)."""

METRICS = {CLASSIFICATION: ("accuracy",), REGRESSION: ("rmse", "r2")}
"""The metrics of each kind of task; the first ranks runs."""
HIGHER_IS_BETTER = {"accuracy": True, "rmse": False, "r2": True}


@dataclass(frozen=True)
class TabularTask:
    """A tabular data set and how to score it, declaratively."""

    name: str
    """Registry key, e.g. ``"wine"``."""
    kind: str
    """``"classification"`` (scored by accuracy) or ``"regression"`` (RMSE and R^2 in the target's units)."""
    source: str
    """``"sklearn"`` (bundled, offline) or ``"hub"`` (the Hugging Face Hub)."""
    dataset: str
    """scikit-learn loader suffix (``"wine"`` -> ``load_wine``) or hub dataset id."""
    hub_config: str | None = None
    hub_files: str | None = None
    """A file inside the hub repository (``data_files`` of ``load_dataset``), for repos of plain CSV files."""
    target: str | None = None
    """Hub tasks: the target column (None: the last column). Other columns are features; text ones are one-hot."""
    description: str = field(default="", compare=False)

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS[self.kind]

    @property
    def main_metric(self) -> str:
        return self.metrics[0]

    @property
    def offline(self) -> bool:
        return self.source == "sklearn"


_TASK_LIST: tuple[TabularTask, ...] = (
    TabularTask(
        "breast-cancer",
        CLASSIFICATION,
        "sklearn",
        "breast_cancer",
        description="Wisconsin breast cancer: 569 tumours, 30 features, malignant or benign.",
    ),
    TabularTask(
        "wine", CLASSIFICATION, "sklearn", "wine", description="UCI wine: 178 wines, 13 chemical features, 3 cultivars."
    ),
    TabularTask(
        "diabetes",
        REGRESSION,
        "sklearn",
        "diabetes",
        description="Diabetes progression: 442 patients, 10 features, a disease-progression score one year later.",
    ),
    TabularTask(
        "digits",
        CLASSIFICATION,
        "sklearn",
        "digits",
        description="Handwritten digits: 1,797 8x8 images as 64 pixel features, 10 classes.",
    ),
    TabularTask(
        "adult",
        CLASSIFICATION,
        "hub",
        "scikit-learn/adult-census-income",
        target="income",
        description="Adult census income (hub): about 32,600 people, 14 mixed features, income above 50K or not.",
    ),
    TabularTask(
        "california-housing",
        REGRESSION,
        "hub",
        "inria-soda/tabular-benchmark",
        hub_files="reg_num/california.csv",
        description="California housing (hub, tabular-benchmark reg_num): about 20,600 districts, median value.",
    ),
)

TABULAR_TASKS: dict[str, TabularTask] = {task.name: task for task in _TASK_LIST}
"""Every tabular task by name."""
OFFLINE_TASKS: tuple[str, ...] = tuple(t.name for t in _TASK_LIST if t.offline)


def get_tabular_task(name: str | TabularTask) -> TabularTask:
    """The task registered as ``name`` (a :class:`TabularTask` is returned as is); ValueError lists the known ones."""
    if isinstance(name, TabularTask):
        return name
    try:
        return TABULAR_TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown tabular task {name!r}; known tabular tasks: {', '.join(TABULAR_TASKS)}") from None


# --- loading ------------------------------------------------------------------------------------------


def load_tabular(task: str | TabularTask, cache_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The whole data set: features (N, F) float64 (NaN where missing) and targets (N,).

    Classification targets are class ids 0..C-1 (int64), in the sorted order of the raw labels;
    regression targets are float64 in the data set's own units.
    """
    task = get_tabular_task(task)
    x, y = _load_sklearn(task) if task.offline else _load_hub(task, cache_dir)
    if task.kind == CLASSIFICATION:
        _, y = np.unique(y, return_inverse=True)
        y = y.astype(np.int64)
    else:
        y = np.asarray(y, dtype=np.float64)
    if len(x) != len(y) or len(x) < len(SPLITS):
        raise ValueError(f"tabular task {task.name}: {len(x)} rows of features for {len(y)} targets")
    return np.asarray(x, dtype=np.float64), y


def _load_sklearn(task: TabularTask) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets as sklearn_datasets

    loader = getattr(sklearn_datasets, f"load_{task.dataset}")
    x, y = loader(return_X_y=True)
    return x, y


def _load_hub(task: TabularTask, cache_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    import datasets
    import pandas as pd

    try:
        ds = datasets.load_dataset(
            task.dataset, task.hub_config, data_files=task.hub_files, split="train", cache_dir=cache_dir
        )
    except Exception as error:  # offline, unknown id, network: one line with the way out
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise ValueError(
            f"tabular task {task.name}: could not load {task.dataset} from the Hugging Face Hub "
            f"({type(error).__name__}: {first_line}); offline, use the bundled tasks: {', '.join(OFFLINE_TASKS)}"
        ) from None
    frame = ds.to_pandas()
    target = task.target or frame.columns[-1]
    if target not in frame.columns:
        raise ValueError(
            f"tabular task {task.name}: {task.dataset} has no column {target!r} (has: {', '.join(frame.columns)})"
        )
    y = frame.pop(target).to_numpy()
    # Text columns become one indicator per category (missing values are a category of their own).
    features = pd.get_dummies(frame, dummy_na=True, dtype=np.float64)
    return features.to_numpy(dtype=np.float64, na_value=np.nan), y


# --- splits -------------------------------------------------------------------------------------------


@dataclass
class TabularSplits:
    """One seed's train/val/test split of a task, ready to train on.

    ``x[split]`` is (N_split, F) float32, standardised with the training rows' mean and std (missing
    values set to the training mean). ``y[split]`` is (N_split,) int64 class ids, or for regression
    float32 targets standardised with the training mean and std; ``y_raw[split]`` holds the targets in
    their original units, which :func:`score` compares against.
    """

    task: TabularTask
    seed: int
    indices: dict[str, np.ndarray]
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    y_raw: dict[str, np.ndarray]
    num_classes: int
    """Classes of a classification task; 0 for regression."""
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def num_features(self) -> int:
        return int(self.x["train"].shape[1])

    @property
    def num_outputs(self) -> int:
        """Model outputs: one logit per class, or one value for regression."""
        return self.num_classes or 1

    def sizes(self) -> dict[str, int]:
        return {split: len(self.indices[split]) for split in SPLITS}


def split_indices(
    y: np.ndarray, stratify: bool, seed: int, fractions: Sequence[float] = SPLIT_FRACTIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices (train, val, test), each sorted, disjoint and covering every row.

    Stratified: within each class, ``round(fraction * class size)`` rows go to val and to test, so the
    class proportions are the same in every split. Without stratification the whole data set is one
    stratum. Which rows go where depends only on ``seed`` (numpy's PCG64), not on global RNG state.
    """
    if len(fractions) != len(SPLITS) or not math.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"split fractions {tuple(fractions)} must be three positive numbers summing to 1")
    rng = np.random.default_rng(seed)
    strata = y if stratify else np.zeros(len(y), dtype=np.int64)
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for label in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == label))
        n_val, n_test = round(fractions[1] * len(members)), round(fractions[2] * len(members))
        parts[2].append(members[:n_test])
        parts[1].append(members[n_test : n_test + n_val])
        parts[0].append(members[n_test + n_val :])
    train, val, test = (np.sort(np.concatenate(p)) for p in parts)
    return train, val, test


def _standardise(values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values - mean) / std with statistics of ``rows`` only; constant columns get std 1 (digits' blank pixels)."""
    mean = np.nanmean(values[rows], axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)  # a column missing in every training row
    std = np.nanstd(values[rows], axis=0)
    std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
    filled = np.where(np.isnan(values), mean, values)
    return (filled - mean) / std, mean, std


def make_splits(task: str | TabularTask, x: np.ndarray, y: np.ndarray, seed: int) -> TabularSplits:
    """The train/val/test split of ``seed`` (see :func:`split_indices`), standardised on the training rows.

    Args:
        task: the task (or its name).
        x: (N, F) raw features, as :func:`load_tabular` returns them.
        y: (N,) class ids or regression targets.
        seed: picks the split; the same seed always gives the same split.
    """
    task = get_tabular_task(task)
    classification = task.kind == CLASSIFICATION
    train, val, test = split_indices(y, stratify=classification, seed=seed)
    indices = dict(zip(SPLITS, (train, val, test), strict=True))
    features, _, _ = _standardise(x, train)
    xs = {s: features[i].astype(np.float32) for s, i in indices.items()}
    y_raw = {s: y[i] for s, i in indices.items()}
    if classification:
        return TabularSplits(task, seed, indices, xs, dict(y_raw), y_raw, num_classes=int(y.max()) + 1)
    targets, mean, std = _standardise(y.reshape(-1, 1), train)
    ys = {s: targets[i, 0].astype(np.float32) for s, i in indices.items()}
    return TabularSplits(task, seed, indices, xs, ys, y_raw, 0, float(mean[0]), float(std[0]))


# --- metrics ------------------------------------------------------------------------------------------


def to_original_units(data: TabularSplits, outputs: np.ndarray) -> np.ndarray:
    """Regression outputs (N,) or (N, 1), standardised as ``data.y`` is, back in the target's units: (N,)."""
    return np.asarray(outputs, dtype=np.float64).reshape(-1) * data.target_std + data.target_mean


def score(data: TabularSplits, outputs: np.ndarray, split: str = "test") -> dict[str, float]:
    """The task's metrics of model ``outputs`` on ``split``.

    Args:
        data: the split the model was trained on.
        outputs: classification (N, C) logits or scores; regression (N,) or (N, 1) standardised predictions.
        split: ``"train"``, ``"val"`` or ``"test"``.

    Returns:
        ``{"accuracy": ...}``, or ``{"rmse": ..., "r2": ...}`` in the target's original units (R^2 against
        the split's own mean, as scikit-learn's ``r2_score``).
    """
    truth = data.y_raw[split]
    outputs = np.asarray(outputs)
    if len(outputs) != len(truth):
        raise ValueError(f"{len(outputs)} outputs for the {len(truth)} rows of split {split!r}")
    if data.task.kind == CLASSIFICATION:
        return {"accuracy": float(np.mean(outputs.argmax(axis=1) == truth))}
    errors = to_original_units(data, outputs) - truth
    total = float(np.sum((truth - truth.mean()) ** 2))
    r2 = 1.0 - float(np.sum(errors**2)) / total if total > 0 else float("nan")
    return {"rmse": float(np.sqrt(np.mean(errors**2))), "r2": r2}


__all__ = [
    "CLASSIFICATION",
    "HIGHER_IS_BETTER",
    "OFFLINE_TASKS",
    "REGRESSION",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "TABULAR_TASKS",
    "TabularSplits",
    "TabularTask",
    "get_tabular_task",
    "load_tabular",
    "make_splits",
    "score",
    "split_indices",
    "to_original_units",
]
