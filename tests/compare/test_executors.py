"""kanformer compare --executor local|slurm: the local executor gives the sequential runner's numbers,
a killed job shows as failed and resumes, SLURM submission is checked against a fake sbatch, a second
compare does not submit twice, bad input is one line, and clashing report rows are refused."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from tiny_compare import BENCH, TRAIN

from kanformer.cli import main
from kanformer.compare import expand, load_compare_config, parse_compare_config, run_compare
from kanformer.compare.executors import run_executor
from kanformer.compare.status import collect_status, read_jobs
from kanformer.tasks.fixtures import write_glue_fixture


def _config(tmp: Path, train: dict | None = None, seeds: tuple[int, ...] = (0,)) -> Path:
    data = {
        "name": "tiny",
        "seeds": list(seeds),
        "train": {**TRAIN, "save_model": False, **(train or {})},
        "bench": dict(BENCH),
        "variants": {"original": "none", "kan": {"form": "kan", "grid_size": 3}},
        "experiments": [
            {"models": ["tiny-bert"], "tasks": ["glue/sst2"], "variants": ["original", "kan"], "data_dir": str(tmp)}
        ],
    }
    write_glue_fixture("sst2", tmp, n=24)
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _numbers(results: dict) -> list[tuple]:
    return [(r["id"], r["value"], r["final"], r["curve"]["loss"]) for r in results["runs"]]


@pytest.mark.e2e
def test_local_executor_matches_the_sequential_runner(tmp_path: Path) -> None:
    config = load_compare_config(str(_config(tmp_path)))
    sequential = run_compare(config, tmp_path / "seq", tmp_path / "seq-runs", log=lambda _m: None, threads=1)
    lines: list[str] = []
    summary = run_executor(
        config, tmp_path / "par", tmp_path / "par-runs", "local", max_parallel=2, threads=1, log=lines.append,
        poll_s=0.2,
    )  # fmt: skip
    assert summary["failed"] == [] and len(summary["submitted"]["train"]) == 2
    parallel = json.loads((tmp_path / "par" / "results.json").read_text())
    assert _numbers(parallel) == _numbers(sequential)
    assert len(parallel["bench"]) == 2 and not parallel["missing"]
    # two training jobs were running at once, each its own process with its logs in its run directory
    assert lines[1].endswith(f"train started (local job {summary['submitted']['train'][0]})")
    assert "train started" in lines[2]
    for spec in expand(config):
        logs = tmp_path / "par-runs" / spec.dirname / "logs"
        assert (logs / "train.out").is_file() and (logs / "train.err").is_file()
        assert read_jobs(logs.parent)["train"]["executor"] == "local"
    # a second compare finds everything done: nothing submitted, the report written again
    again = run_executor(config, tmp_path / "par", tmp_path / "par-runs", "local", log=lambda _m: None)
    assert again["submitted"] == {"train": [], "bench": []} and again["report"]


@pytest.mark.e2e
def test_killed_local_job_is_failed_then_resumed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _config(tmp_path, {"max_steps": 40, "save_every": 5, "eval_every": 0})
    config = load_compare_config(str(path))
    runs, report = tmp_path / "runs", tmp_path / "report"
    victim = expand(config)[1]  # the kan run
    out: dict = {}
    thread = threading.Thread(
        target=lambda: out.update(
            run_executor(config, report, runs, "local", max_parallel=2, threads=1, log=lambda _m: None, poll_s=0.2)
        )
    )
    thread.start()
    run_dir, deadline = runs / victim.dirname, time.time() + 300
    while not list(run_dir.glob("checkpoints/*/*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    pid = int((run_dir / "logs" / "train.pid").read_text().split()[-1])
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=600)
    assert out["failed"] == [victim.id] and out["report"] is None

    args = ["compare", str(path), "--runs-dir", str(runs), "--output-dir", str(report)]
    assert main([*args, "--status"]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith(victim.id))
    assert "failed" in row and "train" in row
    assert f"{victim.id} failed (train job" in text and str(run_dir / "logs" / "train.err") in text
    assert "1 done" in text and "1 failed" in text

    # kanformer report renders what finished and marks the missing run
    assert main(["report", str(report)]) == 0
    assert "1 runs missing" in capsys.readouterr().out
    text = (report / "report.md").read_text()
    assert f"`{victim.id}`" in text and "Partial report: 1 of 2 runs have not finished" in text

    assert main([*args, "--executor", "local", "--threads", "1"]) == 0
    assert "resumed from" in (run_dir / "logs" / "train.out").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["resumed_from_step"] >= 5
    results = json.loads((report / "results.json").read_text())
    assert len(results["runs"]) == 2 and results["missing"] == []
    assert all(r.state == "done" for r in collect_status(config, runs))


# ------------------------------------------------------------------------------------------- SLURM

_SBATCH = """#!/bin/sh
n=$(cat "$FAKE_SLURM/next" 2>/dev/null || echo 1000)
cp "$1" "$FAKE_SLURM/sbatch-$n.sh"
echo $((n + 1)) > "$FAKE_SLURM/next"
echo "Submitted batch job $n"
"""
_SQUEUE = """#!/bin/sh
cat "$FAKE_SLURM/squeue" 2>/dev/null
"""
_SACCT = """#!/bin/sh
cat "$FAKE_SLURM/sacct" 2>/dev/null
"""
_SINFO = """#!/bin/sh
echo "gpu:a100:4(S:0-1)"
"""


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir, record = tmp_path / "bin", tmp_path / "slurm"
    bin_dir.mkdir()
    record.mkdir()
    for name, text in (("sbatch", _SBATCH), ("squeue", _SQUEUE), ("sacct", _SACCT), ("sinfo", _SINFO),
                       ("srun", "#!/bin/sh\nexit 0\n")):  # fmt: skip
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM", str(record))
    return record


def _scripts(record: Path) -> dict[int, str]:
    return {int(p.stem.split("-")[1]): p.read_text() for p in sorted(record.glob("sbatch-*.sh"))}


def test_slurm_submission(tmp_path: Path, fake_slurm: Path, capsys: pytest.CaptureFixture) -> None:
    import submitit

    path = _config(tmp_path, seeds=(0, 1))
    data = yaml.safe_load(path.read_text())
    data["cluster"] = {"partition": "gpu", "account": "lab", "cpus": 8, "mem": "64G", "time": "02:00:00"}
    path.write_text(yaml.safe_dump(data))
    runs, report = tmp_path / "runs", tmp_path / "report"
    args = ["compare", str(path), "--runs-dir", str(runs), "--output-dir", str(report), "--executor", "slurm"]
    assert main([*args, "--gpus-per-run", "2", "--max-parallel", "3", "--slurm", "constraint=a100"]) == 0
    scripts = _scripts(fake_slurm)
    assert sorted(scripts) == [1000, 1001, 1002]
    train, bench, rep = scripts[1000], scripts[1001], scripts[1002]
    for line in ("--array=0-3%3", "--gpus-per-node=2", "--partition=gpu", "--account=lab", "--cpus-per-task=8",
                 "--mem=64G", "--time=120", "--constraint=a100", "--nodes=1", "--ntasks-per-node=1"):  # fmt: skip
        assert f"#SBATCH {line}\n" in train, line
    assert f"#SBATCH --output={runs / '.jobs/slurm/%A_%a/%A_%a_0_log.out'}" in train
    assert "#SBATCH --array=0-1%2" in bench and "--gpus-per-node=1" in bench  # one bench per variant
    assert "#SBATCH --dependency=aftercorr:1000" in bench and "--kill-on-invalid-dep=yes" in bench
    assert "#SBATCH --dependency=afterany:1000:1001" in rep and "gpus-per-node" not in rep

    specs = expand(load_compare_config(str(path)))
    ids = {s.dirname: read_jobs(runs / s.dirname)["train"]["id"] for s in specs}
    assert sorted(ids.values()) == [f"1000_{i}" for i in range(4)]
    # what each array task runs: accelerate launch on 2 GPUs, logs into its run directory
    first = min(ids, key=ids.get)
    job = submitit.SlurmJob(runs / ".jobs" / "slurm" / "%j", ids[first]).submission().function
    assert job.command[1:5] == ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes"]
    assert job.command[5] == "2" and job.command[-4] == "train"
    assert job.command[-2:] == [str(runs.resolve()), first] and job.command[-3].endswith(".yaml")
    assert Path(job.log_dir) == (runs / first / "logs").resolve() and job.stdout.name == "train.out"
    benches = [read_jobs(runs / s.dirname).get("bench", {}).get("id") for s in specs]
    assert sorted(b for b in benches if b) == ["1001_0", "1001_1"]

    # a second compare while they are queued submits nothing
    queued = [f"{i}|PENDING" for i in [*ids.values(), "1001_0", "1001_1", "1002"]]
    (fake_slurm / "squeue").write_text("\n".join(queued) + "\n")
    capsys.readouterr()
    assert main(args) == 0
    assert sorted(_scripts(fake_slurm)) == [1000, 1001, 1002]
    assert main([*args[:-2], "--status"]) == 0
    assert "4 queued" in capsys.readouterr().out

    # one ends badly: --status shows it failed with its log's last lines; the next compare resubmits it alone
    bad = specs[1]
    (fake_slurm / "squeue").write_text("\n".join(q for q in queued if not q.startswith(ids[bad.dirname])) + "\n")
    (fake_slurm / "sacct").write_text(f"{ids[bad.dirname]}|FAILED\n")
    (runs / bad.dirname / "logs").mkdir(parents=True)
    (runs / bad.dirname / "logs" / "train.err").write_text("loading\ntorch.OutOfMemoryError: CUDA out of memory\n")
    assert main([*args[:-2], "--status"]) == 0
    out = capsys.readouterr().out
    assert f"{bad.id} failed (train job {ids[bad.dirname]})" in out and "CUDA out of memory" in out
    assert str(runs / bad.dirname / "logs" / "train.err") in out
    assert main(args) == 0
    new = _scripts(fake_slurm)
    assert sorted(new) == [1000, 1001, 1002, 1003, 1004]
    assert "--array" not in new[1003] and read_jobs(runs / bad.dirname)["train"]["id"] == "1003"


@pytest.mark.parametrize(
    ("extra", "setup", "needle"),
    [
        (["--slurm", "partiton=gpu"], None, "unknown cluster setting(s) ['partiton']"),
        (["--gpus-per-run", "8", "--slurm", "partition=gpu"], None, "offers at most 4 GPUs"),
        ([], "no-sbatch", "no sbatch on PATH"),
        ([], "no-submitit", "pip install kanformer[cluster]"),
    ],
)
def test_slurm_bad_input_is_one_line(
    tmp_path: Path,
    fake_slurm: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    extra,
    setup,
    needle,  # noqa: ANN001
) -> None:
    if setup == "no-sbatch":
        (tmp_path / "bin" / "sbatch").unlink()
        monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    if setup == "no-submitit":
        monkeypatch.setitem(sys.modules, "submitit", None)
    runs = tmp_path / "runs"
    path = _config(tmp_path)
    code = main(["compare", str(path), "--runs-dir", str(runs), "--executor", "slurm", *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert not runs.exists() and not list(fake_slurm.glob("sbatch-*"))


def test_unknown_cluster_key_in_config(tmp_path: Path) -> None:
    data = yaml.safe_load(_config(tmp_path).read_text())
    data["cluster"] = {"partition": "gpu", "gpus": 2}
    with pytest.raises(ValueError, match=r"unknown cluster setting\(s\) \['gpus'\]"):
        parse_compare_config(data)


def test_same_row_with_other_settings_is_refused() -> None:
    block = {"models": ["tiny-bert"], "tasks": ["bbc-news"], "variants": ["original"]}
    data = {"experiments": [{**block, "seeds": [0]}, {**block, "seeds": [1], "train": {"lr": 1e-3}}]}
    with pytest.raises(ValueError) as err:
        expand(parse_compare_config(data))
    message = str(err.value)
    assert message.count("\n") == 0
    assert "tiny-bert/bbc-news/original is in experiments[0] and experiments[1]" in message and "lr" in message
    data["experiments"][1]["train"] = {}  # the same settings: one row of two seeds
    assert len(expand(parse_compare_config(data))) == 2
