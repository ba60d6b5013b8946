"""Benchmark task definitions: GLUE, image classification and text classification.

Each task is one frozen :class:`Task` in the :data:`TASKS` registry; the functions below load,
preprocess and score any of them::

    from tasks import get_task, load_splits, preprocess, make_collator, compute_metrics

    task = get_task("glue/mrpc")
    splits = load_splits(task, data_dir="data/mrpc")  # or no data_dir: the Hugging Face Hub
    train = preprocess(task, splits[task.train_split], tokenizer, train=True)
    loader = DataLoader(train, batch_size=32, shuffle=True, collate_fn=make_collator(task, tokenizer))
    ...
    compute_metrics(task, logits, labels)  # {"accuracy": ..., "f1": ..., "main": <f1>}

Test fixtures in the real schemas are in :mod:`tasks.fixtures`.
"""

from typing import TYPE_CHECKING

from kanformer._lazy import lazy_exports

if TYPE_CHECKING:
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

# datasets and the image libraries load on first use: `import tasks.tabular` (numpy only) and
# `kanformer --help` must not pay for them
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(["LOCAL_LOADERS", "hash_split", "load_splits"], ".loading"),
        "compute_metrics": ".metrics",
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
    "make_collator",
    "preprocess",
    "random_horizontal_flip",
    "random_resized_crop",
]
