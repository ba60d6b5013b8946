"""Tasks as data: the shipped YAML task files, a user's own task file end to end, and one-line errors."""

from __future__ import annotations

import csv
import fnmatch
import json
import random
from pathlib import Path

import pytest

import kanformer.tasks
from kanformer.cli import main
from kanformer.tasks import TASKS, Task, get_task, load_splits, load_task_file, parse_task
from kanformer.tasks.fixtures import write_imagefolder_fixture
from kanformer.tasks.registry import DEFINITIONS_DIR

ROOT = Path(__file__).resolve().parents[2]


# --- the shipped task files: the registry as it was when the tasks were Python code ---------------------


def _glue(config: str, columns: tuple[str, ...], labels: tuple[str, ...], main: str = "accuracy", **kw) -> Task:
    return Task(
        name=f"glue/{config}",
        kind="text",
        input_columns=columns,
        label_column="label",
        num_labels=len(labels) or 1,
        label_names=labels,
        metric="glue",
        metric_config=config,
        main_metric=main,
        local_loader="files",
        hub_id="nyu-mll/glue",
        hub_config=config,
        is_regression=not labels,
        **kw,
    )


def _image(name: str, labels: tuple[str, ...], local_loader: str, **kw) -> Task:
    return Task(
        name=name,
        kind="image",
        input_columns=("image",),
        label_column="label",
        num_labels=len(labels),
        label_names=labels,
        metric="accuracy",
        metric_config=None,
        main_metric="accuracy",
        local_loader=local_loader,
        **kw,
    )


PAIR = ("sentence1", "sentence2")
CIFAR100 = tuple(
    """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can
    castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin
    elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster
    man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck
    pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk
    skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger
    tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
)
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
BEFORE = [
    _glue("cola", ("sentence",), ("unacceptable", "acceptable"), "matthews_correlation"),
    _glue("sst2", ("sentence",), ("negative", "positive")),
    _glue("mrpc", PAIR, ("not_equivalent", "equivalent"), "f1"),
    _glue("stsb", PAIR, (), "pearson"),
    _glue("qqp", ("question1", "question2"), ("not_duplicate", "duplicate"), "f1"),
    _glue(
        "mnli",
        ("premise", "hypothesis"),
        ("entailment", "neutral", "contradiction"),
        eval_splits=("validation_matched", "validation_mismatched"),
    ),
    _glue("qnli", ("question", "sentence"), ("entailment", "not_entailment")),
    _glue("rte", PAIR, ("entailment", "not_entailment")),
    _glue("wnli", PAIR, ("not_entailment", "entailment")),
    _image(
        "cifar10",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "imagefolder",
        hub_id="uoft-cs/cifar10",
        hub_columns=(("img", "image"),),
        eval_splits=("test",),
    ),
    _image(
        "cifar100",
        CIFAR100,
        "imagefolder",
        hub_id="uoft-cs/cifar100",
        hub_columns=(("img", "image"), ("fine_label", "label")),
        eval_splits=("test",),
    ),
    _image(
        "fashion-mnist",
        FASHION,
        "fashion_mnist_idx",
        hub_id="zalando-datasets/fashion_mnist",
        eval_splits=("test",),
        prefer_local=True,
        train_crop_scale=(1.0, 1.0),
        train_hflip=False,
    ),
    _image(
        "digits",
        tuple(str(d) for d in range(10)),
        "sklearn_digits",
        prefer_local=True,
        train_crop_scale=(0.6, 1.0),
        train_hflip=False,
    ),
    Task(
        name="bbc-news",
        kind="text",
        input_columns=("text",),
        label_column="label",
        num_labels=5,
        label_names=("business", "entertainment", "politics", "sports", "tech"),
        metric="accuracy",
        metric_config=None,
        main_metric="accuracy",
        local_loader="bbc_news",
        prefer_local=True,
    ),
]


def test_every_shipped_task_file_is_the_task_it_was() -> None:
    """Each definitions/<name>.yaml reads into the Task the Python registry held, field for field."""
    assert list(TASKS) == [t.name for t in BEFORE]
    for before in BEFORE:
        task = TASKS[before.name]
        assert task == before, before.name
        assert task.num_labels == before.num_labels and task.columns == before.columns
        assert task.description, f"{before.name} has no description"
        assert Path(task.path) == DEFINITIONS_DIR / f"{before.name}.yaml"
        assert get_task(task.path) == task  # the same file by path


def test_task_code_lives_in_kanformer_and_task_files_ship_as_package_data() -> None:
    """No top-level `tasks` package is installed (a user's tasks.py would clash with it); the task files
    are package data of kanformer.tasks."""
    assert Path(kanformer.tasks.__file__).parent == ROOT / "kanformer" / "tasks"
    assert not (ROOT / "tasks" / "__init__.py").exists()
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = setuptools["packages"]["find"]["include"]
    assert include == ["kanformer*"] and not any(fnmatch.fnmatch("tasks", pattern) for pattern in include)
    patterns = setuptools["package-data"]["kanformer.tasks"]
    files = [p.relative_to(DEFINITIONS_DIR.parent).as_posix() for p in DEFINITIONS_DIR.rglob("*.yaml")]
    assert len(files) == len(TASKS)
    for name in files:  # setuptools' globs: * stays within a folder, ** crosses folders
        assert any(fnmatch.fnmatch(name, p.replace("**/", "*/")) for p in patterns), name


# --- a task of one's own ----------------------------------------------------------------------------------


def _write_reviews(directory: Path, rows: dict[str, int], seed: int = 0) -> None:
    """CSV files of short reviews (text) with a sentiment label given by name: neg or pos."""
    rng = random.Random(seed)
    words = {"pos": "good great fine lovely superb".split(), "neg": "bad awful poor dull boring".split()}
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in rows.items():
        with open(directory / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "review", "sentiment"])
            for i in range(n):
                label = ("neg", "pos")[i % 2]
                text = " ".join(rng.choice(words[label] + ["the", "film", "was"]) for _ in range(rng.randint(3, 9)))
                writer.writerow([i, text, label])


REVIEWS_TASK = """\
description: Film reviews, positive or negative (a local CSV).
kind: text
input_columns: review
label_column: sentiment
label_names: [neg, pos]
data_files:
  train: reviews/train.csv
  validation: reviews/validation.csv
"""


def test_finetune_on_a_task_file_of_local_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kanformer finetune --task reviews.yaml`: a user's task on local CSV files (paths relative to the
    task file, whatever the working directory), trained a few steps, scored with the task's metric."""
    _write_reviews(tmp_path / "tasks" / "reviews", {"train": 40, "validation": 16})
    (tmp_path / "tasks" / "reviews.yaml").write_text(REVIEWS_TASK)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code = main(
        ["finetune", "--model", "tiny-bert", "--task", "../tasks/reviews.yaml", "--output-dir", str(tmp_path / "run"),
         "--max-steps", "3", "--ffn", "kan", "batch_size=8", "max_length=32"]
    )  # fmt: skip
    assert code == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    final = metrics["final"]
    assert final["step"] == 3 and final["validation/samples"] == 16
    assert 0.0 <= final["validation/accuracy"] <= 1.0 and final["validation/main"] == final["validation/accuracy"]
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}


def test_task_file_formats_and_folders(tmp_path: Path, hf_cache: str) -> None:
    """JSON lines with label ids, an image folder through glob patterns, and data_dir replacing the
    task file's folder."""
    data = tmp_path / "data"
    data.mkdir()
    for split, n in (("train", 6), ("dev", 4)):
        rows = [{"question": f"q{i}", "answer": f"a{i}", "y": i % 3} for i in range(n)]
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "qa.yaml").write_text(
        "kind: text\ninput_columns: [question, answer]\nlabel_column: y\nnum_labels: 3\n"
        "data_files: {train: data/train.jsonl, dev: data/dev.jsonl}\neval_splits: [dev]\n"
    )
    task = get_task(str(tmp_path / "qa.yaml"))
    assert (task.name, task.builder, task.label_names, task.splits) == ("qa", "json", ("0", "1", "2"), ("train", "dev"))
    splits = load_splits(task, cache_dir=hf_cache)
    assert splits["dev"].num_rows == 4 and splits["train"].features["y"].names == ["0", "1", "2"]
    # data_dir: the same relative paths, from another folder
    moved = tmp_path / "copy"
    (moved / "data").mkdir(parents=True)
    for f in data.iterdir():
        (moved / "data" / f.name).write_bytes(f.read_bytes())
    assert load_splits(task, moved, cache_dir=hf_cache)["train"].num_rows == 6

    write_imagefolder_fixture(tmp_path / "img", 3, 6, class_names=["cat", "dog", "owl"])
    (tmp_path / "pets.yaml").write_text(
        "name: pets\nkind: image\ninput_columns: image\nlabel_names: [cat, dog, owl]\n"
        "data_files: {train: 'img/train/**', test: ['img/test/*/*.png']}\neval_splits: test\ntrain_hflip: false\n"
    )
    pets = get_task(str(tmp_path / "pets.yaml"))
    assert (pets.builder, pets.head, pets.train_hflip) == ("imagefolder", "image-classification", False)
    images = load_splits(pets, cache_dir=hf_cache)
    assert images["test"].num_rows == 6 and images["train"].features["label"].names == ["cat", "dog", "owl"]


def test_compare_and_bench_take_task_files(tmp_path: Path) -> None:
    """A compare config's tasks: and bench --task accept a task file's path like a task name."""
    from kanformer.bench.model import BenchSettings, bench_variants
    from kanformer.compare import expand, parse_compare_config

    _write_reviews(tmp_path / "tasks" / "reviews", {"train": 8, "validation": 4})
    path = str(tmp_path / "tasks" / "reviews.yaml")
    Path(path).write_text(REVIEWS_TASK)
    config = parse_compare_config(
        {"experiments": [{"models": ["tiny-bert"], "tasks": [path, "bbc-news"], "variants": ["original"]}]}
    )
    assert [spec.task for spec in expand(config)] == [path, "bbc-news"]
    with pytest.raises(ValueError, match="takes text input") as err:
        parse_compare_config({"experiments": [{"models": ["tiny-vit"], "tasks": [path], "variants": ["original"]}]})
    assert "\n" not in str(err.value)
    settings = BenchSettings(batch_size=2, seq_len=8, warmup=1, repeats=2)
    result = bench_variants("tiny-bert", {"original": "none"}, settings, task=path)
    assert len(result) == 1


# --- one line per bad file ----------------------------------------------------------------------------------


def test_a_bad_task_file_is_one_line_naming_the_file_and_every_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: txt\nlable_names: [a, b]\neval_splits: 3\ntrain_hflip: 'yes'\nmetric: glue\n"
        "data_files: {train: x.tsv}\ntrain_crop_scale: [0.5]\n"
    )
    with pytest.raises(ValueError) as err:
        load_task_file(bad)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"task file {str(bad)!r} has ")
    for part in (
        "unknown key 'lable_names' (did you mean 'label_names'?)",
        "input_columns is missing",
        "kind='txt' must be one of text, image (did you mean 'text'?)",
        "eval_splits=3",
        "train_hflip='yes' must be true or false",
        "label_names is missing",
        "metric_config=None",
        "builder: cannot tell",
        "train_crop_scale=[0.5]",
    ):
        assert part in message, part


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("kind: [\n", "is not valid YAML at line"),
        ("- kind: text\n", "must hold a mapping"),
        ("kind: text\ninput_columns: [a, b, c]\nlabel_names: [x, y]\n", "a text task takes one text column or a pair"),
        ("kind: image\ninput_columns: [a, b]\nlabel_names: [x, y]\n", "an image task takes one image column"),
        ("kind: text\ninput_columns: a\nlabel_names: [x, y]\nnum_labels: 3\n", "num_labels=3 but label_names has 2"),
        ("kind: text\ninput_columns: a\nlabel_names: [x, x]\n", "label_names repeats a name"),
        ("kind: text\ninput_columns: a\nis_regression: true\n", "metric: accuracy does not score a regression"),
        ("kind: text\ninput_columns: a\nlabel_names: [x, y]\nmain_metric: f1\n", "main_metric='f1' is not one"),
        ("kind: text\ninput_columns: a\nlabel_names: [x, y]\nlocal_loader: file\n", "did you mean 'files'?"),
        ("kind: text\ninput_columns: a\nlabel_names: [x, y]\nhub_config: c\n", "hub_config is set but hub_id"),
        ("kind: text\ninput_columns: a\nlabel_names: [x]\n", "at least 2 classes"),
        ("kind: text\ninput_columns: a\nlabel_names: [x, y]\neval_splits: [train]\n", "also in eval_splits"),
    ],
)
def test_task_file_problems(text: str, expect: str, tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_task_file(path)
    assert expect in str(err.value) and "\n" not in str(err.value) and "task.yaml" in str(err.value)


def test_parse_task_defaults() -> None:
    task = parse_task({"kind": "text", "input_columns": "text", "label_names": ["a", "b"], "hub_id": "me/data"})
    assert (task.name, task.metric, task.main_metric, task.local_loader, task.splits) == (
        "task",
        "accuracy",
        "accuracy",
        "files",
        ("train", "validation"),
    )
    glue = parse_task({"kind": "text", "input_columns": ["a", "b"], "is_regression": True, "metric": "glue",
                       "metric_config": "stsb"})  # fmt: skip
    assert (glue.num_labels, glue.label_names, glue.main_metric) == (1, (), "pearson")


def test_cli_reports_a_bad_task_file_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "bad.yaml").write_text("kind: text\ninput_column: text\n")
    for task in (str(tmp_path / "bad.yaml"), str(tmp_path / "missing.yaml"), "glue/mrcp"):
        assert main(["finetune", "--task", task, "--output-dir", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "did you mean 'glue/mrpc'?" in err


def test_the_readme_task_file_example_is_valid(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("# tickets.yaml\n")
    example = text[start : text.index("```", start)]
    (tmp_path / "tickets.yaml").write_text(example)
    task = load_task_file(tmp_path / "tickets.yaml")
    assert (task.name, task.input_columns, task.num_labels, task.builder) == ("tickets", ("subject", "body"), 2, "csv")
