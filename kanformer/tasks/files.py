"""Task files: one YAML mapping per task, read into a :class:`~kanformer.tasks.Task` and checked.

A task on local CSV files (paths relative to the task file; ``data_dir`` replaces that folder)::

    description: Support tickets, two classes.
    kind: text                      # text (a tokenizer) or image (an image processor)
    input_columns: [subject, body]  # one text column or a pair; for images the one image column
    label_column: label             # default: label
    label_names: [bug, question]    # class names in label-id order; labels may be names or ids
    data_files:                     # split -> file, list of files or glob pattern
      train: tickets/train.csv
      validation: tickets/validation.csv

A task on the Hugging Face Hub::

    kind: image
    input_columns: [image]
    label_names: [cat, dog]
    hub_id: someone/cats-vs-dogs
    hub_columns: {img: image}       # hub column -> our column
    eval_splits: [test]

The keys are the fields of :class:`~kanformer.tasks.Task` (:data:`KEYS`); only ``kind`` and
``input_columns`` are required, and ``label_names`` (or ``num_labels``) for classification. Defaults:
``metric: accuracy`` (``glue`` with a ``metric_config`` scores like GLUE: F1, Matthews correlation,
Pearson/Spearman), ``train_split: train``, ``eval_splits: [validation]``, ``builder`` from the files'
extension (csv, json, jsonl, parquet; ``imagefolder`` for image tasks). Every problem of a file is
reported at once, in one ValueError line naming the file and the fields.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .task import DEFINITIONS_DIR, IMAGE, LOCAL_LOADER_NAMES, TEXT, Task

KEYS = (
    "name",
    "description",
    "kind",
    "input_columns",
    "label_column",
    "label_names",
    "num_labels",
    "is_regression",
    "metric",
    "metric_config",
    "main_metric",
    "hub_id",
    "hub_config",
    "hub_columns",
    "local_loader",
    "data_files",
    "builder",
    "train_split",
    "eval_splits",
    "prefer_local",
    "train_crop_scale",
    "train_hflip",
)
"""Every key a task file may hold."""
REQUIRED = ("kind", "input_columns")

KINDS = (TEXT, IMAGE)
BUILDERS = ("csv", "json", "parquet", "imagefolder")
"""``datasets`` builders for ``data_files``."""
EXTENSION_BUILDERS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
GLUE_METRIC_KEYS = {
    "cola": ("matthews_correlation",),
    "stsb": ("pearson", "spearmanr"),
    "mrpc": ("f1", "accuracy"),
    "qqp": ("f1", "accuracy"),
}
"""The results of our ``glue`` metric by config (the rest: accuracy); the first is the default main_metric."""
GLUE_CONFIGS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte",
                "wnli", "hans", "ax")  # fmt: skip
"""The configs of our ``glue`` metric (``kanformer/metrics/glue``)."""


def metric_keys(metric: str, config: str | None) -> tuple[str, ...]:
    """The keys that our metric ``metric`` (with ``config``) returns, the default ``main_metric`` first."""
    if metric == "glue":
        return GLUE_METRIC_KEYS.get(config or "", ("accuracy",))
    return ("accuracy",)


def load_task_file(path: str | os.PathLike, *, name: str | None = None) -> Task:
    """The task that the YAML file ``path`` declares (named ``name``, else its ``name`` key, else the file's
    stem; a shipped file is named as in :data:`~kanformer.tasks.TASKS`).

    Raises one ValueError line naming the file and every problem (unknown keys with a did-you-mean,
    missing required keys, values of the wrong type, inconsistent values).
    """
    path = Path(path).expanduser()
    where = f"task file {str(path)!r}"
    if not path.exists():
        raise ValueError(f"{where} does not exist")
    if path.is_dir():
        raise ValueError(f"{where} is a directory, not a YAML file")
    try:
        from ..settings import load_yaml

        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or " ".join(str(err).split())
        raise ValueError(f"{where} is not valid YAML{line}: {problem}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{where} cannot be read: {err}") from None
    if not isinstance(data, Mapping):
        kind = "nothing" if data is None else f"a {type(data).__name__}"
        raise ValueError(f"{where} must hold a mapping of task fields (kind: text, input_columns: [...]), not {kind}")
    if name is None and data.get("name") is None and path.resolve().is_relative_to(DEFINITIONS_DIR):
        name = path.resolve().relative_to(DEFINITIONS_DIR).with_suffix("").as_posix()  # a shipped task by path
    return parse_task(data, name=name, path=path, where=where)


def parse_task(
    data: Mapping[str, Any], *, name: str | None = None, path: str | os.PathLike | None = None, where: str = "task"
) -> Task:
    """A :class:`Task` from a task file's mapping; ``where`` starts the ValueError (e.g. the file's name)."""
    problems: list[str] = []
    fields = _Fields(data, problems)

    unknown = [str(k) for k in data if k not in KEYS]
    for key in unknown:
        close = difflib.get_close_matches(key.replace("-", "_"), KEYS, n=1)
        problems.append(f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    for key in REQUIRED:
        if data.get(key) is None:
            problems.append(f"{key} is missing")

    stem = Path(path).stem if path is not None else "task"
    own_name = fields.text("name")
    name = name or own_name or stem
    description = fields.text("description") or ""
    kind = fields.choice("kind", KINDS)
    input_columns = fields.names("input_columns")
    label_column = fields.text("label_column") or "label"
    is_regression = fields.flag("is_regression", False)
    label_names = fields.names("label_names", allow_numbers=True) or ()
    num_labels = fields.integer("num_labels")
    metric = fields.choice("metric", ("accuracy", "glue")) or "accuracy"
    metric_config = fields.text("metric_config")
    main_metric = fields.text("main_metric")
    hub_id = fields.text("hub_id")
    hub_config = fields.text("hub_config")
    hub_columns = fields.renames("hub_columns")
    data_files = fields.split_files("data_files")
    builder = fields.choice("builder", BUILDERS)
    local_loader = fields.text("local_loader")
    train_split = fields.text("train_split") or "train"
    eval_splits = fields.names("eval_splits") or ("validation",)
    prefer_local = fields.flag("prefer_local", False)
    train_crop_scale = fields.scale("train_crop_scale") or (0.08, 1.0)
    train_hflip = fields.flag("train_hflip", True)

    # -- consistency of the values that were read
    if kind == IMAGE and input_columns is not None and len(input_columns) != 1:
        problems.append(f"input_columns: an image task takes one image column, not {list(input_columns)}")
    if kind == TEXT and input_columns is not None and len(input_columns) > 2:
        problems.append(f"input_columns: a text task takes one text column or a pair, not {len(input_columns)}")
    if label_names and len(set(label_names)) != len(label_names):
        problems.append(f"label_names repeats a name: {list(label_names)}")
    if is_regression:
        if label_names:
            problems.append("label_names: a regression task (is_regression: true) has no classes")
        if num_labels not in (None, 1):
            problems.append(f"num_labels={num_labels}: a regression task predicts one value (num_labels: 1)")
        num_labels = 1
    else:
        if label_names and num_labels is not None and num_labels != len(label_names):
            problems.append(f"num_labels={num_labels} but label_names has {len(label_names)} names")
        if not label_names and num_labels is not None:
            label_names = tuple(str(i) for i in range(num_labels))
        if data.get("label_names") is None and data.get("num_labels") is None:
            problems.append("label_names is missing (the class names in label-id order; or num_labels)")
        elif len(label_names) < 2 and fields.ok("label_names", "num_labels"):
            problems.append(f"a classification task needs at least 2 classes, not {len(label_names)}")
        num_labels = len(label_names)
    if metric == "glue" and metric_config not in GLUE_CONFIGS:
        problems.append(f"metric_config={metric_config!r}: the glue metric needs one of {', '.join(GLUE_CONFIGS)}")
    keys = metric_keys(metric, metric_config)
    if is_regression and not set(keys) & {"pearson", "spearmanr"} and fields.ok("metric", "metric_config"):
        problems.append(f"metric: {metric} does not score a regression task; use metric: glue, metric_config: stsb")
    if main_metric is None:
        main_metric = keys[0]
    elif main_metric not in keys and fields.ok("metric", "metric_config"):
        problems.append(f"main_metric={main_metric!r} is not one of the metric's results: {', '.join(keys)}")
    if train_split in eval_splits:
        problems.append(f"train_split {train_split!r} is also in eval_splits {list(eval_splits)}")
    splits = (train_split, *eval_splits)
    if data_files:
        missing = [s for s in splits if s not in dict(data_files)]
        extra = [s for s, _ in data_files if s not in splits]
        if missing:
            problems.append(f"data_files has no files for split(s) {', '.join(missing)} (splits: {', '.join(splits)})")
        if extra:
            problems.append(
                f"data_files has split(s) {', '.join(extra)} that are neither train_split nor in eval_splits"
            )
        if builder is None and "builder" not in data:
            builder = _builder(kind, data_files, problems)
    elif builder is not None:
        problems.append("builder is for data_files; add data_files or drop builder")
    if local_loader is None:
        local_loader = "data_files" if data_files else ("imagefolder" if kind == IMAGE else "files")
    else:
        if local_loader not in LOCAL_LOADER_NAMES:
            close = difflib.get_close_matches(local_loader, LOCAL_LOADER_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"local_loader={local_loader!r} is not a loader{hint}; known: {', '.join(LOCAL_LOADER_NAMES)}"
            )
        elif (local_loader == "data_files") != bool(data_files):
            problems.append("local_loader: data_files goes with the data_files key, and only with it")
    if hub_config is not None and hub_id is None:
        problems.append("hub_config is set but hub_id is not")
    if hub_columns and hub_id is None:
        problems.append("hub_columns is set but hub_id is not")

    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise ValueError(f"{where} has {count}: " + " | ".join(problems))
    return Task(
        name=name,
        kind=kind,
        input_columns=input_columns,
        label_column=label_column,
        num_labels=num_labels,
        label_names=label_names,
        metric=metric,
        metric_config=metric_config,
        main_metric=main_metric,
        local_loader=local_loader,
        hub_id=hub_id,
        hub_config=hub_config,
        hub_columns=hub_columns,
        train_split=train_split,
        eval_splits=eval_splits,
        is_regression=is_regression,
        prefer_local=prefer_local,
        train_crop_scale=train_crop_scale,
        train_hflip=train_hflip,
        description=" ".join(description.split()),
        data_files=data_files,
        builder=builder,
        path=str(Path(path).resolve()) if path is not None else None,
    )


def _builder(kind: str | None, data_files: tuple[tuple[str, tuple[str, ...]], ...], problems: list[str]) -> str | None:
    """The builder that the data files' extensions call for (imagefolder for image tasks)."""
    if kind == IMAGE:
        return "imagefolder"
    suffixes = {Path(f).suffix.lower() for _, files in data_files for f in files}
    builders = {EXTENSION_BUILDERS.get(s) for s in suffixes}
    if len(builders) == 1 and None not in builders:
        return builders.pop()
    problems.append(
        f"builder: cannot tell it from the data_files extensions {sorted(suffixes)}; "
        f"set builder to one of {', '.join(BUILDERS)}"
    )
    return None


class _Fields:
    """Typed reads of a task file's values; each wrong value adds one problem and reads as None."""

    def __init__(self, data: Mapping[str, Any], problems: list[str]) -> None:
        self.data, self.problems = data, problems
        self.bad: set[str] = set()

    def ok(self, *keys: str) -> bool:
        """Whether none of ``keys`` had a wrong value (so a later check does not report it twice)."""
        return not self.bad & set(keys)

    def _wrong(self, key: str, value: Any, expected: str) -> None:
        self.bad.add(key)
        self.problems.append(f"{key}={value!r} must be {expected}")

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key.endswith(("config", "split")):
            return str(value)
        self._wrong(key, value, "text")
        return None

    def choice(self, key: str, options: tuple[str, ...]) -> str | None:
        value = self.data.get(key)
        if value is None or value in options:
            return value
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self._wrong(key, value, f"one of {', '.join(options)}{hint}")
        return None

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self._wrong(key, value, "true or false")
        return default

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        self._wrong(key, value, "a positive integer")
        return None

    def names(self, key: str, *, allow_numbers: bool = False) -> tuple[str, ...] | None:
        """A list of names (one name alone is a list of one); numbers too with ``allow_numbers``."""
        value = self.data.get(key)
        if value is None:
            return None
        values = value if isinstance(value, list) else [value]

        def good(v: Any) -> bool:
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            return (isinstance(v, str) and v != "") or (allow_numbers and number)

        if not values or not all(good(v) for v in values):
            self._wrong(key, value, "a name or a non-empty list of names")
            return None
        return tuple(str(v) for v in values)

    def renames(self, key: str) -> tuple[tuple[str, str], ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return tuple(value.items())
        self._wrong(key, value, "a mapping of hub column -> our column (e.g. {img: image})")
        return ()

    def split_files(self, key: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        out = []
        if isinstance(value, Mapping):
            for split, files in value.items():
                files = files if isinstance(files, list) else [files]
                if not isinstance(split, str) or not files or not all(isinstance(f, str) and f for f in files):
                    break
                out.append((split, tuple(files)))
            else:
                return tuple(out)
        self._wrong(key, value, "a mapping of split -> file, list of files or glob pattern (e.g. {train: train.csv})")
        return ()

    def scale(self, key: str) -> tuple[float, float] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and 0 < value[0] <= value[1] <= 1
        ):
            return float(value[0]), float(value[1])
        self._wrong(key, value, "[low, high] with 0 < low <= high <= 1 (fractions of the image area)")
        return None


__all__ = ["KEYS", "load_task_file", "metric_keys", "parse_task"]
