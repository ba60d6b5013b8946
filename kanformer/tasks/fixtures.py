"""Small data sets in the real schemas, written to disk for tests (and quick local trials).

- :func:`write_glue_fixture`: GLUE files (csv, json lines or parquet) with the hub's columns.
- :func:`write_imagefolder_fixture`: ``train/`` and ``test/`` folders of PNGs, one folder per class.
- :func:`write_fashion_mnist_fixture`: the four gzipped Fashion-MNIST IDX files.
- :func:`write_text_folder_fixture`: ``<class>/*.txt`` articles, the BBC News layout.

Everything is drawn from ``random.Random(seed)``/``numpy.random.default_rng(seed)``: the same call
writes the same files.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .registry import TASKS, Task, get_task

WORDS = (
    "the a cat dog bird river city house market bank storm music film team player minister court "
    "company price report quickly slowly never always bright dark green old new small large happy sad "
    "runs jumps sees builds sells writes reads wins loses opens closes holds NA null none"
).split()
"""Word list of the random sentences; "NA", "null" and "none" check that text stays text."""

GLUE_FORMATS = ("csv", "json", "parquet")


def random_sentence(rng: random.Random, low: int = 3, high: int = 12) -> str:
    """A random sentence of ``low``..``high`` words from :data:`WORDS`, sometimes with a comma or quote."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    if len(words) > 3 and rng.random() < 0.3:
        words[1] += ","
    if rng.random() < 0.1:
        words[-1] = f'"{words[-1]}"'
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", "?", "!"))


def _labels(task: Task, n: int, rng: random.Random) -> list:
    if task.is_regression:
        return [round(rng.uniform(0.0, 5.0), 3) for _ in range(n)]
    labels = [i % task.num_labels for i in range(n)]  # every class present once n >= num_labels
    rng.shuffle(labels)
    return labels


def glue_rows(task: Task | str, n: int, seed: int = 0) -> dict[str, list]:
    """``n`` random rows of a GLUE task as columns: its text columns, ``label`` and ``idx``."""
    task = get_task(_glue_name(task) if isinstance(task, str) else task)
    rng = random.Random(f"{task.name}:{seed}")
    rows: dict[str, list] = {c: [random_sentence(rng) for _ in range(n)] for c in task.input_columns}
    rows[task.label_column] = _labels(task, n, rng)
    rows["idx"] = list(range(n))
    return rows


def _glue_name(name: str) -> str:
    return name if name in TASKS else f"glue/{name}"


def write_glue_fixture(
    task_name: str,
    directory: str | Path,
    n: int = 16,
    *,
    fmt: str = "csv",
    seed: int = 0,
    splits: Sequence[str] | None = None,
) -> Path:
    """Write ``<split>.<fmt>`` for each split of GLUE task ``task_name`` ("mrpc" or "glue/mrpc") into
    ``directory`` (created), ``n`` rows each, in the hub's schema; ``fmt`` is csv, json (JSON lines) or
    parquet. ``splits`` defaults to the task's train and evaluation splits. Returns ``directory``."""
    task = get_task(_glue_name(task_name))
    if task.metric != "glue":
        raise ValueError(f"{task.name} is not a GLUE task")
    if fmt not in GLUE_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(GLUE_FORMATS)}, not {fmt!r}")
    import datasets

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    label_type = datasets.Value("float32" if task.is_regression else "int64")
    features = datasets.Features(
        {
            **{c: datasets.Value("string") for c in task.input_columns},
            task.label_column: label_type,
            "idx": datasets.Value("int32"),
        }
    )
    for offset, split in enumerate(splits if splits is not None else task.splits):
        ds = datasets.Dataset.from_dict(glue_rows(task, n, seed=seed * 1000 + offset), features=features)
        path = directory / f"{split}.{fmt}"
        if fmt == "csv":
            ds.to_csv(str(path), index=False)
        elif fmt == "json":
            ds.to_json(str(path), lines=True)
        else:
            ds.to_parquet(str(path))
    return directory


def _class_colour(label: int, num_classes: int) -> np.ndarray:
    hue = label / max(num_classes, 1)
    return np.array([255 * hue, 255 * (1 - hue), 128 + 127 * np.sin(6.28 * hue)], dtype=np.float64)


def write_imagefolder_fixture(
    directory: str | Path,
    num_classes: int,
    n: int,
    *,
    splits: Sequence[str] = ("train", "test"),
    size: tuple[int, int] = (32, 32),
    seed: int = 0,
    class_names: Sequence[str] | None = None,
) -> Path:
    """Write ``n`` RGB PNGs per split as ``directory/<split>/<class>/<i>.png`` (noise around a colour per
    class), classes assigned round-robin so that each appears once ``n >= num_classes``.

    Class folders are ``class_000``, ``class_001``, ... (zero-padded, so imagefolder's sorted order is
    the label order) unless ``class_names`` (in label order, sorted) are given. Returns ``directory``.
    """
    from PIL import Image

    if n < num_classes:
        raise ValueError(f"n={n} images per split cannot cover {num_classes} classes")
    names = list(class_names) if class_names is not None else [f"class_{i:03d}" for i in range(num_classes)]
    if len(names) != num_classes or names != sorted(names):
        raise ValueError("class_names must be num_classes names in sorted order")
    directory = Path(directory)
    rng = np.random.default_rng(seed)
    height, width = size
    for split in splits:
        for i in range(n):
            label = i % num_classes
            folder = directory / split / names[label]
            folder.mkdir(parents=True, exist_ok=True)
            noise = rng.normal(0.0, 40.0, size=(height, width, 3))
            pixels = np.clip(_class_colour(label, num_classes) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:05d}.png")
    return directory


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_fashion_mnist_fixture(directory: str | Path, n_train: int = 20, n_test: int = 10, *, seed: int = 0) -> Path:
    """Write the four gzipped IDX files of Fashion-MNIST (random 28x28 images, labels 0..9) into
    ``directory``, named as Debian's ``dataset-fashion-mnist`` names them. Returns ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (directory / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images)))
        (directory / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(labels)))
    return directory


def write_text_folder_fixture(
    directory: str | Path, class_names: Sequence[str], n_per_class: int = 5, *, seed: int = 0
) -> Path:
    """Write ``directory/<class>/<i>.txt`` articles of a few random sentences (the BBC News layout)."""
    directory = Path(directory)
    rng = random.Random(seed)
    for name in class_names:
        (directory / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            text = f"{name} story {i}\n\n" + " ".join(random_sentence(rng) for _ in range(rng.randint(2, 6)))
            (directory / name / f"{i + 1:03d}.txt").write_text(text + "\n", encoding="utf-8")
    return directory
