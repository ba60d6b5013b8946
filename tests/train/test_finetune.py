"""finetune end to end on generated fixtures in the real schemas: every GLUE task, CIFAR, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kanformer.tasks import get_task
from kanformer.tasks.fixtures import write_glue_fixture, write_imagefolder_fixture
from kanformer.train import RunConfig, finetune
from kanformer.train.config import resolve_run_config

GLUE = ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"]
EXPECTED_KEYS = {
    "cola": {"matthews_correlation"},
    "stsb": {"pearson", "spearmanr"},
    "mrpc": {"f1", "accuracy"},
    "qqp": {"f1", "accuracy"},
}


@pytest.mark.parametrize("name", GLUE)
def test_every_glue_task_runs(name: str, tmp_path: Path) -> None:
    """A few steps of a kanified tiny BERT; metrics with the task's keys on every eval split."""
    write_glue_fixture(name, tmp_path / "data", n=16)
    cfg = RunConfig(
        model="tiny-bert",
        task=f"glue/{name}",
        data_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        batch_size=4,
        ffn={"form": "kan"} if name in ("mrpc", "stsb", "mnli") else None,
    )
    final = finetune(cfg).final
    task = get_task(f"glue/{name}")
    for split in task.eval_splits:
        for key in EXPECTED_KEYS.get(name, {"accuracy"}) | {"main"}:
            assert isinstance(final[f"{split}/{key}"], float), (split, key)
        assert final[f"{split}/samples"] == 16
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["final"] == final and metrics["main_metric"] == f"{task.eval_splits[0]}/main"


@pytest.mark.parametrize(("name", "classes"), [("cifar10", 10), ("cifar100", 100)])
def test_cifar_runs_from_an_imagefolder(name: str, classes: int, tmp_path: Path) -> None:
    write_imagefolder_fixture(tmp_path / "data", classes, classes)
    cfg = RunConfig(
        model="tiny-vit",
        task=name,
        data_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        batch_size=4,
        ffn={"form": "grkan"},
    )
    final = finetune(cfg).final
    assert 0.0 <= final["test/accuracy"] <= 1.0 and final["test/samples"] == classes


def test_gpt2_classification_pads_with_eos(tmp_path: Path) -> None:
    """GPT-2 has no pad token: batches larger than one still work (eos as pad)."""
    write_glue_fixture("rte", tmp_path / "data", n=12)
    cfg = RunConfig(
        model="tiny-gpt2",
        task="glue/rte",
        data_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        batch_size=4,
    )
    result = finetune(cfg)
    assert result.model.config.pad_token_id == 50256 and result.final["validation/samples"] == 12


def test_resolve_run_config_layers() -> None:
    cfg = resolve_run_config(None, {"model": "tiny-bert", "ffn": "kan-warm"}, ["lr=1e-3", "ffn.grid_size=7"])
    assert cfg.lr == 1e-3 and cfg.ffn["init"] == "warm" and cfg.ffn["grid_size"] == 7
    assert resolve_run_config(None, {"ffn": "none"}).ffn is None
    with pytest.raises(ValueError, match="ffn"):
        resolve_run_config(None, {"ffn": "bogus"})
    with pytest.raises(ValueError, match="unknown run setting"):
        resolve_run_config(None, {}, ["epochz=3"])


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kanformer", "finetune", *args], capture_output=True, text=True, timeout=300, env=env
    )


@pytest.mark.e2e
def test_cli_finetune_and_bad_input(tmp_path: Path) -> None:
    write_glue_fixture("sst2", tmp_path / "data", n=12)
    out = _cli(
        "--model",
        "tiny-bert",
        "--task",
        "glue/sst2",
        "--data-dir",
        str(tmp_path / "data"),
        "--output-dir",
        str(tmp_path / "run"),
        "--max-steps",
        "2",
        "--ffn",
        "kan",
        "batch_size=4",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["final"]["step"] == 2
    bad = _cli("--task", "glue/nope")
    assert bad.returncode == 2 and "known tasks" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.e2e
def test_two_process_data_parallel_on_cpu(tmp_path: Path) -> None:
    """accelerate launch --multi_gpu with ACCELERATE_USE_CPU=1: really 2 processes, the same
    parameters on both ranks after training, and evaluation over exactly the dataset's size."""
    write_glue_fixture("sst2", tmp_path / "data", n=25)  # odd: the last eval batch is padded across ranks
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    script = Path(__file__).with_name("ddp_script.py")
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(script),
        str(tmp_path / "data"),
        str(tmp_path / "run"),
    ]
    out = subprocess.run(launch, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    ranks = [json.loads(p.read_text()) for p in sorted((tmp_path / "run").glob("rank*.json"))]
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world"] == 2 for r in ranks)
    assert ranks[0]["params"] == ranks[1]["params"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["num_processes"] == 2 and metrics["final"]["validation/samples"] == 25


CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*/*.yaml"))
RUN_CONFIGS = [p for p in CONFIGS if p.parent.name in ("glue", "cifar")]


def test_study_configs_cover_every_model_task_and_variant() -> None:
    names = {p.stem for p in RUN_CONFIGS}
    for model in ("bert", "gpt2"):
        for task in GLUE:
            assert {f"{model}-{task}-original", f"{model}-{task}-kan"} <= names
    for task in ("cifar10", "cifar100"):
        assert {f"vit-b16-{task}-original", f"vit-b16-{task}-kan"} <= names
    assert {p.stem for p in CONFIGS if p.parent.name == "accelerate"} == {
        "single_gpu",
        "multi_gpu",
        "fsdp",
        "deepspeed_zero2",
    }


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.stem)
def test_study_config_resolves(path: Path) -> None:
    cfg = resolve_run_config(str(path))
    get_task(cfg.task)
    assert (cfg.ffn is None) == path.stem.endswith("original")


def test_yaml_config_runs_with_overrides(tmp_path: Path) -> None:
    """A study config, pointed at a tiny model and local fixtures, runs as written."""
    write_glue_fixture("mrpc", tmp_path / "data", n=12)
    cfg = resolve_run_config(
        "configs/glue/bert-mrpc-kan.yaml",
        {"model": "tiny-bert", "data_dir": str(tmp_path / "data"), "output_dir": str(tmp_path / "run"), "max_steps": 2},
        ["mixed_precision=no", "batch_size=4", "eval_every=0", "save_every=1"],
    )
    final = finetune(cfg).final
    assert final["validation/samples"] == 12 and (tmp_path / "run" / "checkpoints" / "step_00000002").is_dir()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--task", "glue/nope"], "known tasks"),
        (["--model", "no-such-model-xyz", "--task", "digits", "--max-steps", "1"], "no-such-model-xyz"),
        (["--config", "{bad}"], "not valid YAML"),
        (["--config", "/nonexistent.yaml"], "does not exist"),
        (["epochz=3"], "unknown run setting"),
        (["ffn.gridsize=3", "--ffn", "kan"], "did you mean 'grid_size'"),
        (["--ffn", "bogus"], "preset"),
        (["--task", "glue/mrpc", "--data-dir", "{empty}"], "mrpc"),
    ],
)
def test_finetune_bad_input_is_one_line(args: list[str], expect: str, tmp_path: Path, capsys) -> None:
    from kanformer.cli import main

    (tmp_path / "bad.yaml").write_text("model: [\n")
    (tmp_path / "empty").mkdir()
    args = [a.format(bad=tmp_path / "bad.yaml", empty=tmp_path / "empty") for a in args]
    assert main(["finetune", "--output-dir", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert expect in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_distilled_start_from_the_task_data_is_fitted_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """finetune with init=distill samples the task's training split (the record holds one held-out
    R^2 per layer); with a start cache, a second run of another seed reuses the fitted KAN FFNs
    exactly instead of distilling again."""
    import torch

    from kanformer.train.run import kanify_cached

    kanify_module = sys.modules["kanformer.plugin.kanify"]  # the module (the package exports the function)

    write_glue_fixture("sst2", tmp_path / "data", n=16)
    ffn = {"form": "kan", "hidden": 16, "init": "distill", "distill_steps": 5}
    common = dict(model="tiny-bert", task="glue/sst2", data_dir=str(tmp_path / "data"), max_steps=1, batch_size=4)
    cache = str(tmp_path / "starts")
    first = finetune(RunConfig(**common, output_dir=str(tmp_path / "a"), ffn=ffn, start_cache=cache, seed=0))
    r2 = first.model.config.kanformer["distill_r2"]
    assert len(r2) == first.model.config.num_hidden_layers and all(isinstance(r, float) for r in r2)
    assert len(list((tmp_path / "starts").glob("*.pt"))) == 1

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("distilled again despite the cache")

    monkeypatch.setattr(kanify_module, "distill_ffns", refuse)
    from kanformer.models import load_model
    from kanformer.train.run import ffn_config

    cfg = RunConfig(**common, output_dir=str(tmp_path / "b"), ffn=ffn, start_cache=cache, seed=1)
    models = [load_model("tiny-bert", head="sequence-classification", num_labels=2) for _ in range(2)]
    for m in models:
        kanify_cached(m, ffn_config(ffn), [{"input_ids": torch.tensor([[5, 6, 7]])}], cfg)
    assert models[0].config.kanformer["distill_r2"] == r2
    kan = [k for k in models[0].state_dict() if ".intermediate.dense." in k or ".output.dense." in k]
    assert kan and all(torch.equal(models[0].state_dict()[k], models[1].state_dict()[k]) for k in kan)
