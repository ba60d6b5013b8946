"""Benchmark task definitions: GLUE, image classification and text classification.

Each task is one frozen :class:`Task` in the :data:`TASKS` registry; the functions below load,
preprocess and score any of them::

    from kanformer.tasks import get_task, load_splits, preprocess, make_collator, compute_metrics

    task = get_task("glue/mrpc")
    splits = load_splits(task, data_dir="data/mrpc")  # or no data_dir: the Hugging Face Hub
    train = preprocess(task, splits[task.train_split], tokenizer, train=True)
    loader = DataLoader(train, batch_size=32, shuffle=True, collate_fn=make_collator(task, tokenizer))
    ...
    compute_metrics(task, logits, labels)  # {"accuracy": ..., "f1": ..., "main": <f1>}

Test fixtures in the real schemas are in :mod:`kanformer.tasks.fixtures`; tabular tasks (numeric
features, KAN vs MLP) in :mod:`kanformer.tasks.tabular`.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .files import load_task_file, parse_task
    from .loading import LOCAL_LOADERS, hash_split, load_splits
    from .metrics import compute_metrics
    from .preprocessing import (
        ImageTransform,
        collate_images,
        image_size,
        make_collator,
        preprocess,
        random_horizontal_flip,
        random_resized_crop,
    )
    from .registry import IMAGE, TASKS, TEXT, Task, get_task

# datasets and the image libraries load on first use: `import kanformer.tasks.tabular` (numpy only) and
# `kanformer --help` must not pay for them
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(["LOCAL_LOADERS", "hash_split", "load_splits"], ".loading"),
        "compute_metrics": ".metrics",
        **dict.fromkeys(["load_task_file", "parse_task"], ".files"),
        **dict.fromkeys(
            [
                "ImageTransform",
                "collate_images",
                "image_size",
                "make_collator",
                "preprocess",
                "random_horizontal_flip",
                "random_resized_crop",
            ],
            ".preprocessing",
        ),
        **dict.fromkeys(["IMAGE", "TASKS", "TEXT", "Task", "get_task"], ".registry"),
    },
)

__all__ = [
    "IMAGE",
    "LOCAL_LOADERS",
    "TASKS",
    "TEXT",
    "ImageTransform",
    "Task",
    "collate_images",
    "compute_metrics",
    "get_task",
    "hash_split",
    "image_size",
    "load_splits",
    "load_task_file",
    "make_collator",
    "parse_task",
    "preprocess",
    "random_horizontal_flip",
    "random_resized_crop",
]
