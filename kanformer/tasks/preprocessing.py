"""Turn a loaded split into model inputs: tokenized text, or augmented / resized image tensors.

Text: ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the tokenizer makes them) as
unpadded lists, plus ``labels``; batch them with :func:`make_collator` (dynamic padding).
Images: ``pixel_values`` (a float tensor, 3 x H x W at the processor's size) and ``labels``,
computed on the fly when an example is read, so training augmentation differs at every epoch;
PyTorch's default collate stacks them (``make_collator`` returns :func:`collate_images`).

The image augmentation is written here with torch and PIL (torchvision is not a dependency):
``random_resized_crop`` and ``random_horizontal_flip``, drawing from torch's RNG (seeded by the
training loop; each DataLoader worker gets its own torch seed) or from a ``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import datasets
import torch

from .registry import IMAGE, TEXT, Task, get_task


def preprocess(
    task: Task | str,
    dataset: datasets.Dataset,
    processor: Any,
    *,
    train: bool,
    max_length: int = 128,
    generator: torch.Generator | None = None,
) -> datasets.Dataset:
    """``dataset`` (one split from :func:`kanformer.tasks.load_splits`) ready for a torch DataLoader.

    - text tasks: ``processor`` is a tokenizer; each example (or sentence pair) is tokenized with
      truncation to ``max_length`` and no padding, the raw columns are dropped and the label column
      becomes ``labels`` (int64 ids; float32 scores for regression). ``train`` changes nothing.
    - image tasks: ``processor`` is an image processor (e.g. ``ViTImageProcessor``); images are converted
      to RGB (grayscale -> 3 channels), and with ``train=True`` randomly resized-cropped to the processor's
      size (``task.train_crop_scale``) and flipped (``task.train_hflip``); with ``train=False`` the
      processor's own deterministic resize (and centre crop, if it has one). Then rescaled and normalised
      by the processor. Rows read as ``{"pixel_values": FloatTensor[3, H, W], "labels": int}``.
      Augmentation draws from torch's global RNG unless ``generator`` is given; leave it None with
      DataLoader workers (each worker gets its own torch seed, but would copy one generator's state).
    """
    task = get_task(task)
    if task.kind == TEXT:
        return _preprocess_text(task, dataset, processor, max_length)
    if task.kind == IMAGE:
        transform = ImageTransform(task, processor, train=train, generator=generator)
        return dataset.with_transform(transform)
    raise ValueError(f"{task.name}: unknown task kind {task.kind!r}")


# --- text -------------------------------------------------------------------------------------------


def _preprocess_text(task: Task, dataset: datasets.Dataset, tokenizer: Any, max_length: int) -> datasets.Dataset:
    if not hasattr(tokenizer, "tokenize"):
        raise ValueError(f"{task.name} is a text task: pass a tokenizer, not {type(tokenizer).__name__}")
    columns, label = task.input_columns, task.label_column

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        encoded = dict(tokenizer(*(batch[c] for c in columns), truncation=True, max_length=max_length))
        encoded["labels"] = batch[label]
        return encoded

    out = dataset.map(tokenize, batched=True, remove_columns=dataset.column_names, desc=f"Tokenizing {task.name}")
    dtype = "float32" if task.is_regression else "int64"
    if out.features["labels"] != datasets.Value(dtype):
        out = out.cast_column("labels", datasets.Value(dtype))
    return out


# --- images -----------------------------------------------------------------------------------------


def _size_entry(size: Any, key: str) -> int | None:
    if size is None:
        return None
    value = size.get(key) if isinstance(size, Mapping) else getattr(size, key, None)
    return int(value) if value is not None else None


def image_size(processor: Any) -> tuple[int, int]:
    """(height, width) of the images that ``processor`` produces (its crop size when it centre-crops)."""
    candidates = []
    if getattr(processor, "do_center_crop", False):
        candidates.append(getattr(processor, "crop_size", None))
    candidates.append(getattr(processor, "size", None))
    for size in candidates:
        if isinstance(size, int):
            return size, size
        height, width = _size_entry(size, "height"), _size_entry(size, "width")
        if height and width:
            return height, width
        edge = _size_entry(size, "shortest_edge")
        if edge:
            return edge, edge
    raise ValueError(f"cannot tell the output size of image processor {type(processor).__name__} (size={candidates})")


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _randint(high_exclusive: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(0, high_exclusive, (), generator=generator))


def random_resized_crop(
    image: Any,
    size: tuple[int, int],
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> Any:
    """Crop a random box covering ``scale`` of the PIL ``image``'s area with aspect ratio in ``ratio``
    (log-uniform), and resize it (bilinear) to ``size`` = (height, width).

    After 10 draws that do not fit, falls back to the largest central box whose ratio is within ``ratio``.
    """
    from PIL import Image

    width, height = image.size
    area = width * height
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    box = None
    for _ in range(10):
        target = area * _uniform(scale[0], scale[1], generator)
        aspect = math.exp(_uniform(log_low, log_high, generator))
        crop_w = int(round(math.sqrt(target * aspect)))
        crop_h = int(round(math.sqrt(target / aspect)))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            left = _randint(width - crop_w + 1, generator)
            top = _randint(height - crop_h + 1, generator)
            box = (left, top, left + crop_w, top + crop_h)
            break
    if box is None:
        aspect = width / height
        if aspect < ratio[0]:
            crop_w, crop_h = width, int(round(width / ratio[0]))
        elif aspect > ratio[1]:
            crop_w, crop_h = int(round(height * ratio[1])), height
        else:
            crop_w, crop_h = width, height
        left, top = (width - crop_w) // 2, (height - crop_h) // 2
        box = (left, top, left + crop_w, top + crop_h)
    out_h, out_w = size
    return image.resize((out_w, out_h), resample=Image.Resampling.BILINEAR, box=box)


def random_horizontal_flip(image: Any, p: float = 0.5, *, generator: torch.Generator | None = None) -> Any:
    """The PIL ``image`` mirrored left-right with probability ``p``."""
    from PIL import Image

    if float(torch.rand((), generator=generator)) < p:
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image


class ImageTransform:
    """The on-the-fly transform of :func:`preprocess` for image tasks (a class, so that it pickles
    with the processor for DataLoader workers started with ``spawn``)."""

    def __init__(self, task: Task, processor: Any, *, train: bool, generator: torch.Generator | None = None):
        if hasattr(processor, "tokenize") or not callable(processor):
            raise ValueError(f"{task.name} is an image task: pass an image processor, not {type(processor).__name__}")
        self.task = task
        self.processor = processor
        self.train = train
        self.generator = generator
        self.size = image_size(processor)

    def augment(self, image: Any) -> Any:
        image = random_resized_crop(image, self.size, scale=self.task.train_crop_scale, generator=self.generator)
        if self.task.train_hflip:
            image = random_horizontal_flip(image, generator=self.generator)
        return image

    def __call__(self, batch: dict[str, list]) -> dict[str, Any]:
        images = [image.convert("RGB") for image in batch[self.task.input_columns[0]]]
        options: dict[str, Any] = {}
        if self.train:
            images = [self.augment(image) for image in images]
            # Already at the output size: no resize, and no centre crop that would cut the augmented view.
            options["do_resize"] = False
            if hasattr(self.processor, "do_center_crop"):
                options["do_center_crop"] = False
        pixel_values = self.processor(images=images, return_tensors="pt", **options)["pixel_values"]
        return {"pixel_values": pixel_values, "labels": torch.as_tensor(batch[self.task.label_column])}


def collate_images(rows: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack image rows into ``{"pixel_values": [B, 3, H, W], "labels": [B]}``."""
    return {
        "pixel_values": torch.stack([torch.as_tensor(row["pixel_values"]) for row in rows]),
        "labels": torch.as_tensor([int(row["labels"]) for row in rows], dtype=torch.long),
    }


def make_collator(task: Task | str, processor: Any, *, pad_to_multiple_of: int | None = None) -> Callable:
    """The DataLoader ``collate_fn`` for ``preprocess``'d rows.

    Text: ``DataCollatorWithPadding`` (pads to the longest example in the batch; needs a pad token:
    for GPT-2 set ``tokenizer.pad_token = tokenizer.eos_token`` first, and the model's
    ``config.pad_token_id`` to match). Images: :func:`collate_images`.
    """
    task = get_task(task)
    if task.kind == IMAGE:
        return collate_images
    if getattr(processor, "pad_token", None) is None:
        raise ValueError(
            f"{task.name}: the tokenizer has no pad token; set tokenizer.pad_token = tokenizer.eos_token "
            "(and model.config.pad_token_id) before batching"
        )
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(processor, pad_to_multiple_of=pad_to_multiple_of, return_tensors="pt")
