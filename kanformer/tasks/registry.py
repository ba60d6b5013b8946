"""Tasks: one frozen :class:`Task` per benchmark, read from a declarative task file.

The shipped tasks are the YAML files under ``kanformer/tasks/definitions/`` (package data), named by
their path there: ``glue/mrpc.yaml`` is ``"glue/mrpc"``. :data:`TASKS` holds them by name, and
:func:`get_task` also accepts the path of any task file (``my-task.yaml``); :mod:`kanformer.tasks.files`
reads and checks those files. A new kind of local source needs one loader in
:mod:`kanformer.tasks.loading`; anything ``datasets`` loads (a Hub id, or local csv/json/parquet
files and image folders through ``data_files``) needs none.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

TEXT = "text"
IMAGE = "image"


@dataclass(frozen=True)
class Task:
    """A benchmark task, declaratively.

    The columns and split names are those of the :class:`datasets.DatasetDict` that
    :func:`kanformer.tasks.load_splits` returns, whatever the source (hub columns are renamed to
    them through ``hub_columns``). Every field is a key of the task file (see
    :mod:`kanformer.tasks.files`), except ``num_labels`` (optional there) and ``path``.
    """

    name: str
    """Registry key, e.g. ``"glue/mrpc"``."""
    kind: str
    """``"text"`` (a tokenizer preprocesses it) or ``"image"`` (an image processor does)."""
    input_columns: tuple[str, ...]
    """Text columns fed to the tokenizer (one, or a pair), or the one image column."""
    label_column: str
    num_labels: int
    """Number of classes; 1 for regression."""
    label_names: tuple[str, ...]
    """Class names in label-id order (empty for regression)."""
    metric: str
    """Name of our metric module in :mod:`kanformer.metrics` (``"glue"`` or ``"accuracy"``)."""
    metric_config: str | None
    """Config name passed to ``evaluate.load`` (the GLUE task), or None."""
    main_metric: str
    """The key of the metric result that ranks runs (``compute_metrics`` also returns it as ``"main"``)."""
    local_loader: str
    """Key of the offline loader in :data:`kanformer.tasks.loading.LOCAL_LOADERS`."""
    hub_id: str | None = None
    """Hugging Face Hub dataset id, or None when the task has no hub source."""
    hub_config: str | None = None
    hub_columns: tuple[tuple[str, str], ...] = ()
    """Renames applied to hub data: (hub column, our column) pairs."""
    train_split: str = "train"
    eval_splits: tuple[str, ...] = ("validation",)
    is_regression: bool = False
    prefer_local: bool = False
    """With ``source="auto"`` and no ``data_dir``, load the local source (e.g. a packaged data set)."""
    train_crop_scale: tuple[float, float] = (0.08, 1.0)
    """Image tasks: the area range of the random resized crop used for training."""
    train_hflip: bool = True
    """Image tasks: flip training images horizontally with probability 1/2."""
    description: str = field(default="", compare=False)
    data_files: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """The ``data_files`` loader: (split, file paths or glob patterns) pairs, relative to the task file's
    folder (or to ``data_dir`` when one is given)."""
    builder: str | None = None
    """The ``data_files`` loader: the ``datasets`` builder (csv, json, parquet or imagefolder)."""
    path: str | None = field(default=None, compare=False)
    """The task file this task was read from."""

    @property
    def splits(self) -> tuple[str, ...]:
        """The train split followed by the evaluation splits."""
        return (self.train_split, *self.eval_splits)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column that the loaded splits must have."""
        return (*self.input_columns, self.label_column)

    @property
    def head(self) -> str:
        """The model head that fits the task (a key of :data:`kanformer.models.HEADS`)."""
        return "image-classification" if self.kind == IMAGE else "sequence-classification"

    @property
    def id2label(self) -> dict[int, str]:
        """For a model config: label id -> name (empty for regression)."""
        return dict(enumerate(self.label_names))

    @property
    def label2id(self) -> dict[str, int]:
        """For a model config: name -> label id (empty for regression)."""
        return {name: i for i, name in enumerate(self.label_names)}


DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
"""The shipped task files: ``<name>.yaml``, where a name may hold a folder (``glue/mrpc``)."""
TASK_FILE_SUFFIXES = (".yaml", ".yml")


class _Registry(Mapping[str, Task]):
    """The shipped tasks by name, read from :data:`DEFINITIONS_DIR` on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._tasks: dict[str, Task] | None = None

    def _load(self) -> dict[str, Task]:
        if self._tasks is None:
            from .files import load_task_file

            files = sorted(p for suffix in TASK_FILE_SUFFIXES for p in self.directory.rglob(f"*{suffix}"))
            tasks = {}
            for path in files:
                name = path.relative_to(self.directory).with_suffix("").as_posix()
                tasks[name] = load_task_file(path, name=name)
            self._tasks = dict(sorted(tasks.items(), key=lambda item: _ORDER.get(item[0], (len(_ORDER), item[0]))))
        return self._tasks

    def __getitem__(self, name: str) -> Task:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"TASKS({', '.join(self)})"


_ORDER = {
    name: (i, name)
    for i, name in enumerate(
        [f"glue/{t}" for t in ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")]
        + ["cifar10", "cifar100", "fashion-mnist", "digits", "bbc-news"]
    )
}
"""Listing order of the shipped tasks (GLUE first, in GLUE's order); others follow by name."""

TASKS: Mapping[str, Task] = _Registry(DEFINITIONS_DIR)
"""Every shipped task by name: ``glue/<task>``, ``cifar10``, ``cifar100``, ``fashion-mnist``, ``digits``,
``bbc-news`` (read from the task files on first use)."""


def is_task_file(name: str) -> bool:
    """Whether ``name`` names a task file (a .yaml/.yml path) rather than a registered task."""
    return name.endswith(TASK_FILE_SUFFIXES)


def get_task(name: str | Path | Task) -> Task:
    """The task registered as ``name``, or read from the task file ``name`` (a path ending in .yaml or
    .yml); a :class:`Task` is returned as is. Every problem is a one-line ValueError (an unknown name
    lists the known ones; a task file's problems name the file and the fields)."""
    if isinstance(name, Task):
        return name
    if isinstance(name, Path) or (isinstance(name, str) and is_task_file(name)):
        from .files import load_task_file

        return load_task_file(name)
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(name, TASKS, n=1) if isinstance(name, str) else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown task {name!r}{hint}; known tasks: {', '.join(TASKS)}; or the path of a task file (.yaml)"
        ) from None
