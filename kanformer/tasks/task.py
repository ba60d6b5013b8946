"""The :class:`Task` record: one benchmark, as its task file declares it."""

from __future__ import annotations

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

LOCAL_LOADER_NAMES = ("files", "data_files", "imagefolder", "fashion_mnist_idx", "sklearn_digits", "bbc_news")
"""The offline loaders a task file may name (``local_loader``); :data:`kanformer.tasks.loading.LOCAL_LOADERS`
implements them."""
