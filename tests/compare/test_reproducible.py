"""kanformer compare gives the same numbers for the same settings on one machine, whatever ran
before in the process (a scratch KAN FFN's weights once came from the unseeded global RNG); the
thread count is pinned and recorded; ``--reference`` prints a report's numbers beside another's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from tiny_compare import BENCH, TRAIN

from kanformer.cli import main
from kanformer.compare import load_compare_config, run_compare
from kanformer.report.reference import against_reference, render_against
from kanformer.tasks.fixtures import write_glue_fixture


def _config(tmp: Path, variants: list[str], name: str) -> Path:
    data = {
        "name": name,
        "seeds": [0],
        "train": {**TRAIN, "max_steps": 4, "save_model": False},
        "bench": dict(BENCH),
        "variants": {"original": "none", "kan": {"form": "kan", "grid_size": 3, "hidden": "match-params"}},
        "experiments": [
            {"models": ["tiny-gpt2"], "tasks": ["glue/sst2"], "variants": variants, "data_dir": str(tmp / "data")}
        ],
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("reproducible")
    write_glue_fixture("sst2", tmp / "data", n=24)
    config = load_compare_config(str(_config(tmp, ["original", "kan"], "both")))
    results = run_compare(config, tmp / "report", tmp / "runs", log=lambda _m: None, threads=1)
    return {"tmp": tmp, "results": results}


def _kan_run(results: dict) -> dict:
    return next(r for r in results["runs"] if r["variant"] == "kan")


def test_same_settings_same_numbers_whatever_ran_before(first: dict) -> None:
    tmp = first["tmp"]
    torch.rand(1000)  # a different global RNG state than the first compare's kan run started from
    config = load_compare_config(str(_config(tmp, ["kan"], "alone")))
    again = run_compare(config, tmp / "report2", tmp / "runs2", log=lambda _m: None, threads=1)
    a, b = _kan_run(first["results"]), _kan_run(again)
    assert a["curve"]["loss"] == b["curve"]["loss"]  # exactly: same machine, same threads
    assert a["final"] == b["final"]


def test_threads_are_pinned_recorded_and_restored(first: dict) -> None:
    assert first["results"]["environment"]["torch_threads"] == 1
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="threads=0 is invalid"):
        run_compare(load_compare_config(str(_config(first["tmp"], ["kan"], "alone"))), "r", "r", threads=0)
    assert torch.get_num_threads() == before


def test_reference_read_before_the_report_is_rewritten(
    first: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tmp = first["tmp"]
    report = tmp / "report"
    results = json.loads((report / "results.json").read_text())
    results["summary"][0]["mean"] -= 0.25  # what an older reference might hold
    (report / "results.json").write_text(json.dumps(results))
    args = ["compare", str(_config(tmp, ["original", "kan"], "both")), "--runs-dir", str(tmp / "runs")]
    # Everything finished earlier: nothing re-runs, and the report is written over its own reference.
    assert main([*args, "--output-dir", str(report), "--reference", str(report), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert f"Against the reference {report}:" in out
    assert "| tiny-gpt2 | glue/sst2 | original | accuracy |" in out and "| +0.2500 | " in out
    assert "| +0.0000 | " in out and "x1.00" in out
    assert (
        json.loads((report / "results.json").read_text())["summary"][0]["mean"]
        == first["results"]["summary"][0]["mean"]
    )


def test_missing_reference_fails_before_running(first: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = _config(first["tmp"], ["kan"], "alone")
    code = main(["compare", str(config), "--runs-dir", str(tmp_path / "runs"), "--reference", str(tmp_path / "no")])
    assert code == 2
    assert "holds no results.json" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_against_reference_rows() -> None:
    def row(variant: str, mean: float | None, speed: float | None) -> dict:
        return {"model": "m", "task": "t", "variant": variant, "metric": "validation/accuracy", "mean": mean,
                "train_samples_per_s": speed}  # fmt: skip

    ours = {"summary": [row("original", 0.9, 20.0), row("kan", 0.8, 10.0)]}
    ref = {"summary": [row("original", 0.85, 10.0), row("kan-warm", 0.7, 5.0)]}
    rows = {r["variant"]: r for r in against_reference(ours, ref)}
    assert list(rows) == ["original", "kan", "kan-warm"]
    assert rows["original"]["diff"] == pytest.approx(0.05) and rows["original"]["train_speed_ratio"] == 2.0
    assert rows["kan"]["reference_mean"] is None and rows["kan"]["diff"] is None
    assert rows["kan-warm"]["mean"] is None and rows["kan-warm"]["train_speed_ratio"] is None
    text = render_against(ours, ref, "reports/x")
    assert "| m | t | kan-warm | accuracy | - | 0.7000 | - | - / 5.0 | - |" in text
