"""kanformer compare end to end on tiny models and generated fixtures: report files, skipping
finished runs, resuming an interrupted compare, re-rendering, and up-front config validation."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tiny_compare import BENCH, TRAIN

import kanformer.train.run as train_run
from kanformer.cli import main
from kanformer.compare import expand, load_compare_config, parse_compare_config, run_compare
from kanformer.report import rerender
from kanformer.tasks.fixtures import write_glue_fixture

ROOT = Path(__file__).resolve().parents[2]


def _config(data_dir: Path) -> dict:
    return {
        "name": "tiny",
        "seeds": [0, 1],
        "train": dict(TRAIN),
        "bench": dict(BENCH),
        "variants": {"original": "none", "kan": {"form": "kan", "grid_size": 3}},
        "experiments": [
            {
                "models": ["tiny-bert"],
                "tasks": ["glue/sst2"],
                "variants": ["original", "kan"],
                "data_dir": str(data_dir),
            },
            {"models": ["tiny-vit"], "tasks": ["digits"], "variants": ["original", "kan-warm"], "seeds": [0]},
        ],
    }


def _write(tmp: Path, data: dict) -> Path:
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("compare")
    write_glue_fixture("sst2", tmp / "data", n=24)
    config_path = _write(tmp, _config(tmp / "data"))
    report, runs = tmp / "report", tmp / "runs"
    code = main(["compare", str(config_path), "--output-dir", str(report), "--runs-dir", str(runs)])
    assert code == 0
    return {"tmp": tmp, "config": config_path, "report": report, "runs": runs}


@pytest.mark.e2e
def test_report_files_and_rows(done: dict) -> None:
    report = done["report"]
    for name in ("report.md", "results.json", "results.csv", "runs.csv"):
        assert (report / name).stat().st_size > 0, name
    for png in ("accuracy_vs_params.png", "accuracy_vs_throughput.png", "throughput.png", "training_curves.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png

    with open(report / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["task"], r["variant"]) for r in rows] == [
        ("tiny-bert", "glue/sst2", "original"),
        ("tiny-bert", "glue/sst2", "kan"),
        ("tiny-vit", "digits", "original"),
        ("tiny-vit", "digits", "kan-warm"),
    ]
    assert [int(r["n"]) for r in rows] == [2, 2, 1, 1]
    with open(report / "runs.csv") as f:
        assert len(list(csv.DictReader(f))) == 6

    results = json.loads((report / "results.json").read_text())
    by = {(s["model"], s["variant"]): s for s in results["summary"]}
    orig, kan = by[("tiny-bert", "original")], by[("tiny-bert", "kan")]
    values = [r["value"] for r in results["runs"] if r["model"] == "tiny-bert" and r["variant"] == "kan"]
    assert kan["mean"] == pytest.approx(sum(values) / 2)
    assert kan["delta"] == pytest.approx(kan["mean"] - orig["mean"])
    assert orig["delta"] == 0 and orig["params_ratio"] == 1
    assert kan["params_ratio"] == pytest.approx(kan["params"] / orig["params"])
    assert kan["params"] > orig["params"] and kan["train_samples_per_s"] > 0 and kan["infer_samples_per_s"] > 0
    # Curves come from the runs' TensorBoard event files: log_every=1 -> one loss per step.
    assert all(r["curve"]["step"] == [1, 2, 3] for r in results["runs"])

    text = (report / "report.md").read_text()
    assert "### glue/sst2 (validation/accuracy)" in text and "### digits (validation/accuracy)" in text
    assert "| tiny-bert | kan |" in text and "(n=2)" in text
    assert "![metric vs parameters](accuracy_vs_params.png)" in text
    assert "CPU" in text and "torch" in text and "kanformer compare" in text


@pytest.mark.e2e
def test_speed_ratios_are_read_against_the_paired_original(done: dict) -> None:
    """A kanified variant is benched together with the original (interleaved); its ratios use that pair."""
    results = json.loads((done["report"] / "results.json").read_text())
    bench = {(b["model"], b["variant"]): b for b in results["bench"]}
    assert bench[("tiny-bert", "original")]["paired_original"] is None
    kan = bench[("tiny-bert", "kan")]
    paired = kan["paired_original"]
    assert paired["params"] == bench[("tiny-bert", "original")]["params"]  # the original's structure
    row = next(s for s in results["summary"] if (s["model"], s["variant"]) == ("tiny-bert", "kan"))
    assert row["train_speed_ratio"] == pytest.approx(kan["train"]["samples_per_s"] / paired["train"]["samples_per_s"])
    assert row["infer_speed_ratio"] == pytest.approx(
        kan["inference"]["samples_per_s"] / paired["inference"]["samples_per_s"]
    )
    # Two benches of one structure never time identically: the pair, not the original's row, was used.
    original_row = next(s for s in results["summary"] if (s["model"], s["variant"]) == ("tiny-bert", "original"))
    assert row["train_speed_ratio"] != pytest.approx(
        kan["train"]["samples_per_s"] / original_row["train_samples_per_s"], rel=1e-9
    )
    assert "their timed calls interleaved (paired)" in (done["report"] / "report.md").read_text()


@pytest.mark.e2e
def test_bench_counts_match_inspect(done: dict) -> None:
    from kanformer.bench.inspect import inspect_model
    from kanformer.models import load_model

    results = json.loads((done["report"] / "results.json").read_text())
    kan = next(b for b in results["bench"] if b["model"] == "tiny-bert" and b["variant"] == "kan")
    saved = load_model(str(done["runs"] / "tiny-bert__glue-sst2__kan__seed0" / "model"))
    after = inspect_model(saved)["after"]
    assert (kan["params"], kan["ffn_params"]) == (after["params"], after["ffn_params"])


@pytest.mark.e2e
def test_rerun_skips_finished_runs(done: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(done["runs"], runs)
    stamps = {p: p.stat().st_mtime_ns for p in runs.glob("*/result.json")}
    calls = []
    real = train_run.finetune
    try:
        train_run.finetune = lambda cfg: calls.append(cfg) or real(cfg)
        code = main(["compare", str(done["config"]), "--output-dir", str(tmp_path / "r"), "--runs-dir", str(runs)])
    finally:
        train_run.finetune = real
    assert code == 0 and calls == []
    assert capsys.readouterr().out.count("finished earlier, skipped") == 6
    assert stamps == {p: p.stat().st_mtime_ns for p in runs.glob("*/result.json")}
    assert (tmp_path / "r" / "report.md").is_file()


@pytest.mark.e2e
def test_interrupted_compare_resumes(done: dict, tmp_path: Path) -> None:
    """Killed during the 3rd fine-tune: the next compare skips the first two and runs the rest."""
    data = _config(done["tmp"] / "data")
    data["experiments"] = data["experiments"][:1]
    config = load_compare_config(str(_write(tmp_path, data)))
    real = train_run.finetune
    calls = []

    def dies_third(cfg):  # noqa: ANN001, ANN202
        calls.append(cfg.output_dir)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(cfg)

    train_run.finetune = dies_third
    try:
        with pytest.raises(KeyboardInterrupt):
            run_compare(config, tmp_path / "report", tmp_path / "runs", log=lambda _m: None)
    finally:
        train_run.finetune = real
    assert not (tmp_path / "report" / "report.md").exists()
    assert len(list((tmp_path / "runs").glob("*/result.json"))) == 2

    calls.clear()
    train_run.finetune = lambda cfg: calls.append(cfg.output_dir) or real(cfg)
    try:
        results = run_compare(config, tmp_path / "report", tmp_path / "runs", log=lambda _m: None)
    finally:
        train_run.finetune = real
    assert [Path(c).name for c in calls] == [s.dirname for s in expand(config)][2:]
    assert len(results["runs"]) == 4 and (tmp_path / "report" / "report.md").is_file()


@pytest.mark.e2e
def test_changed_variant_reruns_only_its_runs(done: dict, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(done["runs"], runs)
    data = _config(done["tmp"] / "data")
    data["variants"]["kan"]["grid_size"] = 4
    config = load_compare_config(str(_write(tmp_path, data)))
    real = train_run.finetune
    calls = []
    train_run.finetune = lambda cfg: calls.append(Path(cfg.output_dir).name) or real(cfg)
    try:
        results = run_compare(config, tmp_path / "report", runs, log=lambda _m: None)
    finally:
        train_run.finetune = real
    assert calls == ["tiny-bert__glue-sst2__kan__seed0", "tiny-bert__glue-sst2__kan__seed1"]
    kan = next(r for r in results["runs"] if r["variant"] == "kan")
    assert kan["ffn"]["grid_size"] == 4


@pytest.mark.e2e
def test_report_command_rerenders_from_results(done: dict, tmp_path: Path) -> None:
    copy = tmp_path / "report"
    shutil.copytree(done["report"], copy)
    before = (copy / "report.md").read_text()
    for p in [copy / "report.md", copy / "results.csv", *copy.glob("*.png")]:
        p.unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.md").read_text() == before
    assert (copy / "results.csv").read_text() == (done["report"] / "results.csv").read_text()
    assert len(list(copy.glob("*.png"))) == 4
    # Nothing re-ran: rerender reads results.json only.
    assert rerender(copy)[0].name == "report.md"


def test_report_command_on_a_folder_without_results(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "results.json" in err


def test_bad_config_lists_every_problem_before_running(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = _config(tmp_path)
    data["experiments"] = [
        {"models": ["tiny-bertt", "tiny-bert"], "tasks": ["glue/sst3"], "variants": ["original", "kann"]},
        {"models": ["tiny-vit"], "tasks": ["glue/sst2"], "variants": ["original"]},
    ]
    data["train"]["max_stepz"] = 3
    path = _write(tmp_path, data)
    with pytest.raises(ValueError) as err:
        load_compare_config(str(path))
    message = str(err.value)
    assert message.startswith("invalid comparison config settings: ") and len(err.value.problems) == 5
    for needle in ("'tiny-bertt'", "did you mean 'tiny-bert'", "'glue/sst3'", "'kann'", "max_stepz"):
        assert needle in message, needle
    assert "takes image input but task 'glue/sst2' takes text input" in message

    runs = tmp_path / "runs"
    assert main(["compare", str(path), "--runs-dir", str(runs), "--output-dir", str(tmp_path / "r")]) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and "invalid comparison config settings" in out.err
    assert not runs.exists() and not (tmp_path / "r").exists()


@pytest.mark.e2e
def test_dry_run_lists_the_matrix(done: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(done["config"]), "--dry-run", "--runs-dir", str(done["runs"])]) == 0
    out = capsys.readouterr().out
    assert "6 runs" in out and "tiny-bert/glue/sst2/kan/seed1" in out and "finished" in out


@pytest.mark.parametrize(
    "path", sorted((ROOT / "configs" / "study").glob("*.yaml")) + [ROOT / "configs/quickstart.yaml"]
)
def test_shipped_configs_are_valid(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The study configs name Hub models and bench on CUDA (neither available here): only those two
    checks are bypassed."""
    import kanformer.bench.model as bench_model
    import kanformer.models as models

    real = models.check_model
    monkeypatch.setattr(models, "check_model", lambda name: None if "/" in name or "-base" in name else real(name))
    monkeypatch.setattr(bench_model, "resolve_device", lambda settings: settings.device)
    config = load_compare_config(str(path))
    specs = expand(config)
    assert specs and all(s.variant in config.variants for s in specs)
    if path.parent.name == "study":
        assert {s.seed for s in specs} == {0, 1, 2} and any(v is None for v in config.variants.values())


def test_duplicate_runs_are_rejected() -> None:
    data = {"experiments": [{"models": ["tiny-bert"], "tasks": ["digits", "bbc-news"], "variants": ["original"]}]}
    with pytest.raises(ValueError, match="'tiny-bert' takes text input but task 'digits' takes image input"):
        parse_compare_config(data)
    dup = {"experiments": [{"models": ["tiny-bert", "tiny-bert"], "tasks": ["bbc-news"], "variants": ["original"]}]}
    with pytest.raises(ValueError, match="appears twice"):
        expand(parse_compare_config(dup))


@pytest.mark.e2e
def test_compare_under_accelerate_launch(done: dict, tmp_path: Path) -> None:
    """Two CPU processes: every fine-tune runs data-parallel, the main process alone benches and
    writes the report, and each run is announced once."""
    data = _config(done["tmp"] / "data")
    data["seeds"] = [0]
    data["experiments"] = data["experiments"][:1]
    config = _write(tmp_path, data)
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "kanformer"]
    launch += ["compare", str(config), "--output-dir", str(tmp_path / "r"), "--runs-dir", str(tmp_path / "runs")]
    out = subprocess.run(launch, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert [r["num_processes"] for r in results["runs"]] == [2, 2]
    assert len(results["bench"]) == 2 and (tmp_path / "r" / "report.md").is_file()
    assert out.stdout.count("tiny-bert/glue/sst2/kan/seed0: fine-tuning") == 1


def test_variant_training_overrides() -> None:
    data = {
        "train": {"lr": 1e-4, "max_steps": 5},
        "variants": {"original": None, "kan-fast": {"ffn": "kan-warm", "train": {"kan_lr": 1e-3}}},
        "experiments": [
            {"models": ["tiny-bert"], "tasks": ["bbc-news"], "variants": ["original", "kan-fast"]},
            {"models": ["tiny-gpt2"], "tasks": ["bbc-news"], "variants": ["kan-fast"], "train": {"max_steps": 7}},
        ],
    }
    specs = expand(parse_compare_config(data))
    trains = {(s.model, s.variant): s.train for s in specs}
    assert trains[("tiny-bert", "original")] == {"lr": 1e-4, "max_steps": 5}
    assert trains[("tiny-bert", "kan-fast")] == {"lr": 1e-4, "max_steps": 5, "kan_lr": 1e-3}
    assert trains[("tiny-gpt2", "kan-fast")] == {"lr": 1e-4, "max_steps": 7, "kan_lr": 1e-3}
    assert next(s for s in specs if s.variant == "kan-fast").ffn["init"] == "warm"
    data["variants"]["kan-fast"]["train"] = {"kan_lr": -1}
    with pytest.raises(ValueError, match="settings: variant 'kan-fast' train: invalid run settings: kan_lr"):
        parse_compare_config(data)


@pytest.mark.e2e
def test_failed_bench_keeps_the_finished_fine_tune(done: dict, tmp_path: Path) -> None:
    import kanformer.compare.run as compare_run

    data = _config(done["tmp"] / "data")
    data["seeds"], data["experiments"] = [0], data["experiments"][:1]
    data["experiments"][0]["variants"] = ["original"]
    config = load_compare_config(str(_write(tmp_path, data)))
    real_bench = compare_run._bench
    compare_run._bench = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("out of memory"))
    try:
        with pytest.raises(RuntimeError):
            run_compare(config, tmp_path / "report", tmp_path / "runs", log=lambda _m: None)
    finally:
        compare_run._bench = real_bench
    calls = []
    real = train_run.finetune
    train_run.finetune = lambda cfg: calls.append(cfg) or real(cfg)
    try:
        results = run_compare(config, tmp_path / "report", tmp_path / "runs", log=lambda _m: None)
    finally:
        train_run.finetune = real
    assert calls == [] and len(results["bench"]) == 1 and results["summary"][0]["train_samples_per_s"] > 0


def test_baseline_is_the_variant_named_original() -> None:
    from kanformer.report import summarize
    from kanformer.report.markdown import summary_lines

    def run(variant: str, value: float | None) -> dict:
        return {"model": "m", "task": "t", "variant": variant, "seed": 0, "metric": "validation/accuracy",
                "value": value, "finetune_seconds": 1.0}  # fmt: skip

    runs = [run("other-lr", None), run("original", 0.7), run("kan", 0.6)]
    rows = summarize(runs, [], originals={"other-lr", "original"})
    by = {r["variant"]: r for r in rows}
    assert by["original"]["delta"] == 0 and by["kan"]["delta"] == pytest.approx(-0.1)
    text = "\n".join(summary_lines(rows))
    assert "best is `original` at 0.7000 (the original)" in text and "`kan`, is -0.1000" in text


def test_a_variant_is_compared_with_its_declared_baseline() -> None:
    """A KAN variant trained longer is compared with the original trained as long, not with ``original``."""
    from kanformer.report import build_results
    from kanformer.report.markdown import render_markdown

    data = {
        "train": {"max_steps": 5},
        "variants": {
            "original-long": {"ffn": "none", "train": {"max_steps": 15}},
            "kan-long": {"ffn": "kan-warm", "train": {"max_steps": 15}, "baseline": "original-long"},
        },
        "experiments": [
            {"models": ["tiny-bert"], "tasks": ["bbc-news"],
             "variants": ["original", "kan-warm", "original-long", "kan-long"]},
        ],
    }  # fmt: skip
    config = parse_compare_config(data)
    assert config.baselines == {"kan-long": "original-long"}

    def run(variant: str, seed: int, value: float) -> dict:
        return {"id": f"tiny-bert/bbc-news/{variant}/seed{seed}", "model": "tiny-bert", "task": "bbc-news",
                "variant": variant, "seed": seed, "metric": "validation/accuracy", "value": value,
                "finetune_seconds": 1.0}  # fmt: skip

    values = {
        "original": (0.70, 0.72),
        "kan-warm": (0.60, 0.62),
        "original-long": (0.90, 0.92),
        "kan-long": (0.89, 0.91),
    }
    runs = [run(v, s, x) for v, pair in values.items() for s, x in enumerate(pair)]
    results = build_results(config, runs, [], environment={})
    rows = {r["variant"]: r for r in results["summary"]}
    assert rows["kan-warm"]["baseline"] == "original" and rows["kan-warm"]["delta"] == pytest.approx(-0.10)
    assert rows["kan-long"]["baseline"] == "original-long" and rows["kan-long"]["delta"] == pytest.approx(-0.01)
    assert rows["kan-long"]["beyond_noise"] is False
    text = render_markdown(results)
    assert "`kan-long` -0.0100 vs `original-long`, within seed noise" in text
    assert "-0.0100 (within 2 SE 0.0283) vs `original-long`" in text
    # original-long leads original beyond noise, but it is no KAN variant
    assert "A KAN variant beat the original model beyond seed noise in 0 of 1 model/task pairs" in text


def test_a_kan_ahead_of_its_own_baseline_is_a_win_and_pairs_set_the_ratios() -> None:
    from kanformer.report import summarize
    from kanformer.report.markdown import summary_lines

    def run(variant: str, seed: int, value: float) -> dict:
        return {"model": "m", "task": "t", "variant": variant, "seed": seed, "metric": "validation/accuracy",
                "value": value, "finetune_seconds": 1.0}  # fmt: skip

    def bench(variant: str, train: float, memory: float, paired: dict | None) -> dict:
        return {"model": "m", "task": "t", "variant": variant, "params": 10, "train": {"samples_per_s": train},
                "peak_memory_mib": memory, "paired_original": paired}  # fmt: skip

    values = {"original": (0.80, 0.81), "original-long": (0.90, 0.91), "kan-long": (0.95, 0.96)}
    runs = [run(v, s, x) for v, pair in values.items() for s, x in enumerate(pair)]
    paired = {"params": 8, "train": {"samples_per_s": 20.0}, "peak_memory_mib": 50.0}
    benches = [bench("original", 40.0, 100.0, None), bench("kan-long", 10.0, 100.0, paired)]
    rows = {
        r["variant"]: r for r in summarize(runs, benches, {"original", "original-long"}, {"kan-long": "original-long"})
    }
    kan = rows["kan-long"]
    assert kan["delta"] == pytest.approx(0.05) and kan["beyond_noise"] and kan["baseline"] == "original-long"
    # every bench ratio against the pair, not the original's row (40 samples/s, 100 MiB, 10 params)
    assert (kan["train_speed_ratio"], kan["memory_ratio"], kan["params_ratio"]) == (0.5, 2.0, 1.25)
    text = "\n".join(summary_lines(list(rows.values())))
    assert "beyond seed noise in 1 of 1 model/task pairs." in text and "one seed" not in text
    # original best: still seeds enough to estimate the noise
    runs = [
        run(v, s, x) for v, pair in {"original": (0.9, 0.91), "kan": (0.5, 0.52)}.items() for s, x in enumerate(pair)
    ]
    text = "\n".join(summary_lines(summarize(runs, [], {"original"})))
    assert "in 0 of 1 model/task pairs." in text and "one seed" not in text


def test_a_report_reads_bench_records_from_before_the_pairing(tmp_path: Path) -> None:
    """Such records are benched again by compare, but a report collected from the runs still shows them."""
    from kanformer.compare.run import _bench_done

    (tmp_path / "data").mkdir()
    spec = next(s for s in expand(parse_compare_config(_config(tmp_path / "data"))) if s.variant == "kan")
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"settings": dict(spec.bench), "ffn": spec.ffn, "params": 1}))
    assert not _bench_done(path, spec) and _bench_done(path, spec, require_paired=False)
    path.write_text(json.dumps({"settings": dict(spec.bench), "ffn": spec.ffn, "paired_original": {"params": 1}}))
    assert _bench_done(path, spec)


@pytest.mark.parametrize(
    ("spec", "experiment_variants", "message"),
    [
        ({"ffn": "kan-warm", "baseline": "kan-warm"}, ["original", "kan-warm", "k"],
         "variant 'k': baseline='kan-warm' must name an original (ffn: none) variant, e.g. ['original']"),
        ({"ffn": "kan-warm", "baseline": "nope"}, ["original", "k"], "baseline='nope' must name an original"),
        ({"ffn": "kan-warm", "baseline": "original"}, ["k"],
         "variant 'k': its baseline 'original' must be listed in experiments[1] as well"),
    ],
)  # fmt: skip
def test_bad_baseline_is_one_clear_problem(spec: dict, experiment_variants: list, message: str) -> None:
    data = {
        "variants": {"k": spec},
        "experiments": [
            {"models": ["tiny-bert"], "tasks": ["bbc-news"], "variants": ["original"]},
            {"models": ["tiny-bert"], "tasks": ["bbc-news"], "variants": experiment_variants, "seeds": [1]},
        ],
    }
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_compare_config(data)


def test_cuda_bench_without_cuda_is_rejected_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a GPU machine
    data = {"bench": {"device": "cuda"}, "experiments": [{"models": ["tiny-bert"], "tasks": ["bbc-news"],
                                                        "variants": ["original"]}]}  # fmt: skip
    with pytest.raises(ValueError, match="no CUDA device is visible"):
        parse_compare_config(data)
