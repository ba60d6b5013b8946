"""GLUE tasks from generated local files (csv, json lines, parquet), tokenized by real tokenizers."""

from __future__ import annotations

import datasets
import pytest
import torch
from torch.utils.data import DataLoader

from kanformer.tasks import TASKS, get_task, load_splits, make_collator, preprocess
from kanformer.tasks.fixtures import GLUE_FORMATS, write_glue_fixture

GLUE = [name for name, task in TASKS.items() if task.metric == "glue"]
# Each task in one format (rotating through all three); mrpc in every format.
CASES = [(name, GLUE_FORMATS[i % 3]) for i, name in enumerate(GLUE)]
CASES += [("glue/mrpc", fmt) for fmt in GLUE_FORMATS if ("glue/mrpc", fmt) not in CASES]
N = 12

EXPECTED_COLUMNS = {
    "cola": ("sentence",),
    "sst2": ("sentence",),
    "mnli": ("premise", "hypothesis"),
    "mrpc": ("sentence1", "sentence2"),
    "rte": ("sentence1", "sentence2"),
    "stsb": ("sentence1", "sentence2"),
    "wnli": ("sentence1", "sentence2"),
    "qnli": ("question", "sentence"),
    "qqp": ("question1", "question2"),
}


def test_every_glue_task_is_registered_with_its_columns():
    assert sorted(GLUE) == sorted(f"glue/{t}" for t in EXPECTED_COLUMNS)
    for name, columns in EXPECTED_COLUMNS.items():
        task = get_task(f"glue/{name}")
        assert task.input_columns == columns and task.label_column == "label"
        assert (task.hub_id, task.hub_config) == ("nyu-mll/glue", name)
    assert get_task("glue/stsb").is_regression and get_task("glue/stsb").num_labels == 1
    assert get_task("glue/mnli").eval_splits == ("validation_matched", "validation_mismatched")
    assert get_task("glue/mnli").num_labels == 3


def test_gpt2_tokenizer_is_the_real_one(gpt2_tokenizer):
    assert gpt2_tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert gpt2_tokenizer.pad_token_id == gpt2_tokenizer.eos_token_id == 50256


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n.split('/')[1]}-{f}" for n, f in CASES])
def test_glue_task_loads_and_preprocesses(name, fmt, tmp_path, hf_cache, tokenizers):
    task = get_task(name)
    write_glue_fixture(name, tmp_path, n=N, fmt=fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}.{fmt}" for s in task.splits)

    splits = load_splits(task, data_dir=tmp_path, cache_dir=hf_cache)
    assert list(splits) == list(task.splits)
    for split in task.splits:
        ds = splits[split]
        assert ds.num_rows == N
        assert set(task.columns) <= set(ds.column_names)
        assert all(isinstance(text, str) and text for c in task.input_columns for text in ds[c])
        if task.is_regression:
            assert all(0.0 <= y <= 5.0 for y in ds["label"])
        else:
            assert ds.features["label"] == datasets.ClassLabel(names=list(task.label_names))
            assert set(ds["label"]) == set(range(task.num_labels))

    for kind, tokenizer in tokenizers.items():
        for split in task.splits:
            out = preprocess(task, splits[split], tokenizer, train=split == task.train_split, max_length=16)
            expected = {"input_ids", "attention_mask", "labels"} | ({"token_type_ids"} if kind == "minilm" else set())
            assert set(out.column_names) == expected, kind
            assert out.num_rows == N
            row = out[0]
            assert 0 < len(row["input_ids"]) <= 16 and len(row["attention_mask"]) == len(row["input_ids"])
            first = splits[split][0]
            texts = [first[c] for c in task.input_columns]
            assert row["input_ids"] == tokenizer(*texts, truncation=True, max_length=16)["input_ids"]
            if kind == "minilm":
                assert row["input_ids"][0] == tokenizer.cls_token_id
                assert (max(row["token_type_ids"]) == 1) == (len(task.input_columns) == 2)
            assert out.features["labels"] == datasets.Value("float32" if task.is_regression else "int64")
            assert out["labels"] == pytest.approx(splits[split]["label"])

        batch = next(iter(DataLoader(out, batch_size=5, collate_fn=make_collator(task, tokenizer))))
        assert batch["input_ids"].shape == batch["attention_mask"].shape
        assert batch["input_ids"].shape[0] == 5
        assert batch["labels"].dtype == (torch.float32 if task.is_regression else torch.int64)


def test_mnli_has_both_validation_splits(tmp_path, hf_cache, minilm_tokenizer):
    write_glue_fixture("mnli", tmp_path, n=9, fmt="parquet")
    splits = load_splits("glue/mnli", tmp_path, cache_dir=hf_cache)
    assert set(splits) == {"train", "validation_matched", "validation_mismatched"}
    assert splits["validation_matched"]["premise"] != splits["validation_mismatched"]["premise"]
    for split in ("validation_matched", "validation_mismatched"):
        assert preprocess("glue/mnli", splits[split], minilm_tokenizer, train=False).num_rows == 9


def test_missing_column_is_a_one_line_error(tmp_path, hf_cache):
    rows = {"sentence1": ["A b c."] * 4, "label": [0, 1, 0, 1]}
    for split in ("train", "validation"):
        datasets.Dataset.from_dict(rows).to_csv(str(tmp_path / f"{split}.csv"))
    with pytest.raises(ValueError) as error:
        load_splits("glue/mrpc", tmp_path, cache_dir=hf_cache)
    message = str(error.value)
    assert "\n" not in message
    assert "missing column(s) sentence2" in message and "glue/mrpc" in message


def test_missing_split_file_is_a_one_line_error(tmp_path, hf_cache):
    write_glue_fixture("mnli", tmp_path, n=4, fmt="json", splits=["train", "validation_matched"])
    with pytest.raises(ValueError, match=r"no file for split\(s\) validation_mismatched") as error:
        load_splits("glue/mnli", tmp_path, cache_dir=hf_cache)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="needs data_dir"):
        load_splits("glue/rte", source="local")


def test_csv_keeps_na_like_text_and_maps_label_names(tmp_path, hf_cache):
    train = {"sentence": ["NA", "null", "", "a fine film"], "label": ["negative", "positive", "negative", "positive"]}
    datasets.Dataset.from_dict(train).to_csv(str(tmp_path / "train.csv"))
    datasets.Dataset.from_dict(train).to_csv(str(tmp_path / "validation.csv"))
    splits = load_splits("glue/sst2", tmp_path, cache_dir=hf_cache)
    assert splits["train"]["sentence"] == ["NA", "null", "", "a fine film"]
    assert splits["train"]["label"] == [0, 1, 0, 1]


def test_out_of_range_labels_are_rejected(tmp_path, hf_cache):
    rows = {"sentence": ["a", "b"], "label": [0, 2]}
    for split in ("train", "validation"):
        datasets.Dataset.from_dict(rows).to_json(str(tmp_path / f"{split}.jsonl"))
    with pytest.raises(ValueError, match=r"span 0\.\.2, expected 0\.\.1"):
        load_splits("glue/cola", tmp_path, cache_dir=hf_cache)


def test_hub_source_and_its_offline_error(monkeypatch, tmp_path):
    calls = []

    def fake_load_dataset(path, name=None, **kwargs):
        calls.append((path, name))
        rows = {"sentence": ["x y", "z"], "label": [0, 1], "idx": [0, 1]}
        features = datasets.Features(
            sentence=datasets.Value("string"),
            label=datasets.ClassLabel(names=["negative", "positive"]),
            idx=datasets.Value("int32"),
        )
        split = datasets.Dataset.from_dict(rows, features=features)
        return datasets.DatasetDict(train=split, validation=split, test=split)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    splits = load_splits("glue/sst2")
    assert calls == [("nyu-mll/glue", "sst2")] and list(splits) == ["train", "validation"]

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ValueError, match="offline, pass data_dir with local files") as error:
        load_splits("glue/sst2")
    assert "\n" not in str(error.value)


def test_collator_needs_a_pad_token(gpt2_tokenizer):
    tokenizer = type(gpt2_tokenizer).from_pretrained(gpt2_tokenizer.name_or_path)
    assert tokenizer.pad_token is None
    with pytest.raises(ValueError, match="pad_token = tokenizer.eos_token"):
        make_collator("glue/sst2", tokenizer)
