"""CIFAR tasks from imagefolder fixtures; the hand-written augmentation; the hub column renames."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from kanformer.tasks import (
    collate_images,
    get_task,
    image_size,
    load_splits,
    make_collator,
    preprocess,
    random_horizontal_flip,
    random_resized_crop,
)
from kanformer.tasks.fixtures import write_imagefolder_fixture


@pytest.mark.parametrize(("name", "num_classes"), [("cifar10", 10), ("cifar100", 100)])
def test_cifar_imagefolder_preprocesses_to_the_processor_size(name, num_classes, tmp_path, hf_cache, vit_processor):
    task = get_task(name)
    assert task.num_labels == num_classes and task.eval_splits == ("test",)
    write_imagefolder_fixture(tmp_path, num_classes, n=num_classes + 2, size=(40, 36))
    splits = load_splits(task, tmp_path, cache_dir=hf_cache)
    assert list(splits) == ["train", "test"]
    assert splits["train"].features["label"].num_classes == num_classes
    assert sorted(set(splits["test"]["label"])) == list(range(num_classes))

    train = preprocess(task, splits["train"], vit_processor, train=True)
    test = preprocess(task, splits["test"], vit_processor, train=False)
    row = train[0]
    assert row["pixel_values"].shape == (3, 32, 32) and row["pixel_values"].dtype == torch.float32
    assert row["labels"] == splits["train"][0]["label"]

    # Training augmentation draws new crops and flips at every read; evaluation is deterministic.
    first, second = train[:6]["pixel_values"], train[:6]["pixel_values"]
    assert first.shape == (6, 3, 32, 32) and not torch.equal(first, second)
    once, again = test[:6]["pixel_values"], test[:6]["pixel_values"]
    assert torch.equal(once, again)
    images = [image.convert("RGB") for image in splits["test"][:6]["image"]]
    assert torch.equal(once, vit_processor(images=images, return_tensors="pt")["pixel_values"])
    assert -1.0 <= float(once.min()) and float(once.max()) <= 1.0  # ViT: mean = std = 0.5

    batch = next(iter(DataLoader(train, batch_size=4, shuffle=True, collate_fn=make_collator(task, vit_processor))))
    assert batch["pixel_values"].shape == (4, 3, 32, 32) and batch["labels"].dtype == torch.int64
    default = next(iter(DataLoader(test, batch_size=4)))
    assert default["pixel_values"].shape == (4, 3, 32, 32)


def test_wrong_number_of_class_folders_is_a_one_line_error(tmp_path, hf_cache):
    write_imagefolder_fixture(tmp_path, 7, n=7)
    with pytest.raises(ValueError, match="has 7 classes .* expected 10") as error:
        load_splits("cifar10", tmp_path, cache_dir=hf_cache)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="no test/ folder"):
        load_splits("cifar10", write_imagefolder_fixture(tmp_path / "only-train", 10, n=10, splits=["train"]))


def test_cifar_hub_columns_are_renamed(monkeypatch):
    def fake_load_dataset(path, name=None, **kwargs):
        assert path == "uoft-cs/cifar100" and name is None
        image = Image.new("RGB", (32, 32), (10, 20, 30))
        features = datasets.Features(
            img=datasets.Image(),
            fine_label=datasets.ClassLabel(num_classes=100),
            coarse_label=datasets.ClassLabel(num_classes=20),
        )
        split = datasets.Dataset.from_dict({"img": [image], "fine_label": [42], "coarse_label": [3]}, features=features)
        return datasets.DatasetDict(train=split, test=split)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    splits = load_splits("cifar100")
    assert list(splits) == ["train", "test"]
    assert {"image", "label"} <= set(splits["train"].column_names) and "img" not in splits["train"].column_names
    assert splits["test"][0]["label"] == 42


def test_label_names_follow_imagefolder_order():
    for name in ("cifar10", "cifar100"):
        names = get_task(name).label_names
        assert list(names) == sorted(names) and len(set(names)) == len(names)
    assert len(get_task("cifar100").label_names) == 100
    assert get_task("cifar10").label_names[:2] == ("airplane", "automobile")


def test_image_size_reads_processor_sizes(vit_processor):
    from transformers import ConvNextImageProcessor

    assert image_size(vit_processor) == (32, 32)
    assert image_size(ConvNextImageProcessor(size={"shortest_edge": 48})) == (48, 48)


def _gradient(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float64)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float64)[:, None, None]
    channels = [np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1))]
    channels.append(np.full((height, width, 1), 7.0))
    return Image.fromarray(np.concatenate(channels, axis=2).astype(np.uint8))


def test_random_resized_crop_output_and_randomness():
    image = _gradient(60, 40)
    generator = torch.Generator().manual_seed(1)
    crops = [random_resized_crop(image, (24, 20), generator=generator) for _ in range(5)]
    assert all(crop.size == (20, 24) for crop in crops)
    assert len({crop.tobytes() for crop in crops}) == 5
    # Same seed, same crops: the generator is the only source of randomness.
    again = [random_resized_crop(image, (24, 20), generator=torch.Generator().manual_seed(1)) for _ in range(1)]
    assert again[0].tobytes() == crops[0].tobytes()


def test_random_resized_crop_full_scale_keeps_the_whole_view():
    image = _gradient(30, 30)
    crop = random_resized_crop(image, (30, 30), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert crop.tobytes() == image.tobytes()
    # Impossible draws (a box wider than a tall image) fall back to the central box of a valid ratio.
    tall = _gradient(10, 100)
    fallback = random_resized_crop(tall, (8, 8), scale=(1.0, 1.0), ratio=(2.0, 3.0))
    assert fallback.size == (8, 8)


def test_random_horizontal_flip():
    image = _gradient(16, 8)
    mirrored = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert random_horizontal_flip(image, p=1.0).tobytes() == mirrored.tobytes()
    assert random_horizontal_flip(image, p=0.0).tobytes() == image.tobytes()
    generator = torch.Generator().manual_seed(0)
    flips = [random_horizontal_flip(image, generator=generator).tobytes() == mirrored.tobytes() for _ in range(200)]
    assert 60 < sum(flips) < 140


def test_collate_images_stacks_rows():
    rows = [{"pixel_values": torch.zeros(3, 4, 4), "labels": 1}, {"pixel_values": torch.ones(3, 4, 4), "labels": 2}]
    batch = collate_images(rows)
    assert batch["pixel_values"].shape == (2, 3, 4, 4) and batch["labels"].tolist() == [1, 2]


def test_processor_kind_mismatch_is_an_error(vit_processor, tmp_path, hf_cache, minilm_tokenizer):
    write_imagefolder_fixture(tmp_path, 10, n=10)
    splits = load_splits("cifar10", tmp_path, cache_dir=hf_cache)
    with pytest.raises(ValueError, match="pass an image processor"):
        preprocess("cifar10", splits["train"], minilm_tokenizer, train=True)
