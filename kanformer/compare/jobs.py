"""The jobs of a compare run by an executor (``kanformer compare CONFIG --executor local|slurm``).

Each job is a command of its own, so the scheduler sees one process tree per run:

    python -m kanformer.compare.jobs train  CONFIG RUNS_DIR RUN [--threads N]   # one fine-tune -> result.json
    python -m kanformer.compare.jobs bench  CONFIG RUNS_DIR RUN [--threads N]   # one single-process bench
    python -m kanformer.compare.jobs report CONFIG RUNS_DIR REPORT_DIR           # the report of what finished

``train`` may run under ``accelerate launch`` (G > 1 GPUs): every process trains, the main one writes
result.json. ``bench`` is always one process, started after its training job saved the model, so nothing
benchmarks a sharded (FSDP/ZeRO-3) model. :class:`Job` is what submitit pickles: it runs one such command
with stdout and stderr appended to ``RUN/logs/<kind>.out|.err``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..io import atomic_write_json
from .config import CompareConfig, RunSpec, expand, load_compare_config

LOGS = "logs"
JOB_FILE = "job.json"  # the scheduler job ids of a run (kanformer.compare.status)
PORT = "{port}"  # replaced in a train command by a free port when the job starts


@dataclass
class Job:
    """One scheduler job: ``command`` with its output appended to ``log_dir/<kind>.out|.err``.

    Raises when the command fails, so the scheduler (and submitit) record the job as failed.
    """

    kind: str
    command: list[str]
    log_dir: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def stdout(self) -> Path:
        return Path(self.log_dir) / f"{self.kind}.out"

    @property
    def stderr(self) -> Path:
        return Path(self.log_dir) / f"{self.kind}.err"

    def __call__(self) -> int:
        Path(self.log_dir).mkdir(parents=True, exist_ok=True)
        command = [_free_port() if part == PORT else part for part in self.command]
        stamp = f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {socket.gethostname()}: {' '.join(command)}\n"
        with open(self.stdout, "a") as out, open(self.stderr, "a") as err:
            out.write(stamp)
            err.write(stamp)
            out.flush()
            err.flush()
            proc = subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, **self.env})
            (Path(self.log_dir) / f"{self.kind}.pid").write_text(f"{socket.gethostname()} {proc.pid}\n")
            try:
                code = proc.wait()
            except BaseException:  # cancelled (SIGINT/SIGTERM from the scheduler): stop the run too
                proc.kill()
                proc.wait()
                raise
        if code != 0:
            raise RuntimeError(f"{self.kind} job exited with status {code}; see {self.stderr}")
        return code


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def job_command(
    kind: str, config_path: Path, runs_dir: Path, target: str, gpus: int = 1, threads: int | None = None
) -> list[str]:
    """The command line of one job; a train job on G > 1 GPUs (or CPU processes) runs under ``accelerate launch``."""
    args = ["-m", "kanformer.compare.jobs", kind, str(config_path), str(runs_dir), target]
    if threads is not None and kind != "report":
        args += ["--threads", str(threads)]
    if kind == "train" and gpus > 1:
        launch = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(gpus)]
        launch += ["--num_machines", "1", "--main_process_port", PORT, "--dynamo_backend", "no"]
        return [sys.executable, *launch, *args]
    return [sys.executable, *args]


def bench_carriers(specs: list[RunSpec]) -> dict[str, RunSpec]:
    """The run whose job benches each model x task x variant: its first seed."""
    carriers: dict[str, RunSpec] = {}
    for spec in specs:
        carriers.setdefault(spec.bench_key, spec)
    return carriers


def _clear(run_dir: Path) -> None:
    """Empty a run directory left by other settings, keeping the job record and logs."""
    for path in run_dir.iterdir() if run_dir.is_dir() else []:
        if path.name not in (LOGS, JOB_FILE):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _spec(config: CompareConfig, name: str) -> RunSpec:
    for spec in expand(config):
        if spec.dirname == name:
            return spec
    raise ValueError(f"run {name!r} is not in comparison {config.name!r}")


def train(config: CompareConfig, runs_dir: Path, name: str) -> None:
    """Fine-tune one run (resuming its checkpoint) and write its result.json; under accelerate launch
    every process trains and the main one writes."""
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    from ..train.run import finetune
    from .run import RESULT, _finished, _run_record, _stale, run_config

    spec = _spec(config, name)
    run_dir = runs_dir / spec.dirname
    cfg = run_config(spec, run_dir)
    cfg_dict = cfg.to_dict()
    if _finished(run_dir, cfg_dict):
        print(f"{spec.id}: finished earlier")
        return
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    if state.is_main_process and _stale(run_dir, cfg_dict):
        print(f"{spec.id}: settings changed since the last run, starting it again")
        _clear(run_dir)
    state.wait_for_everyone()
    t0 = time.perf_counter()
    model = finetune(cfg).model
    seconds = time.perf_counter() - t0
    if state.is_main_process:
        record = getattr(model.config, "kanformer", None)
        atomic_write_json(run_dir / RESULT, _run_record(spec, cfg_dict, run_dir, seconds, record))
        print(f"{spec.id}: finished in {seconds:.0f} s")
    state.wait_for_everyone()


def bench(config: CompareConfig, runs_dir: Path, name: str) -> None:
    """Bench the saved model of one run (one process), for its model x task x variant."""
    from .run import _bench, _bench_done, _model_for_bench

    spec = _spec(config, name)
    path = runs_dir / "bench" / f"{spec.bench_key}.json"
    if _bench_done(path, spec):
        print(f"{spec.bench_key}: benched earlier")
        return
    _bench(spec, _model_for_bench(spec, runs_dir / spec.dirname), path)
    print(f"{spec.bench_key}: benched")


def collect(config: CompareConfig, runs_dir: Path) -> tuple[list[dict], list[dict], list[str]]:
    """(run records, bench records, ids of the runs not finished) from the runs directory."""
    from .run import RESULT, _bench_done, _finished, run_config

    records, benches, missing = [], {}, []
    for spec in expand(config):
        run_dir = runs_dir / spec.dirname
        if _finished(run_dir, run_config(spec, run_dir).to_dict()):
            records.append(json.loads((run_dir / RESULT).read_text()))
        else:
            missing.append(spec.id)
        path = runs_dir / "bench" / f"{spec.bench_key}.json"
        if spec.bench_key not in benches and _bench_done(path, spec, require_paired=False):
            benches[spec.bench_key] = json.loads(path.read_text())
    return records, list(benches.values()), missing


def write_collected_report(
    config: CompareConfig, runs_dir: Path, report_dir: Path, command: str | None = None, config_path: str | None = None
) -> tuple[list[Path], list[str]]:
    """The report of every finished run, the missing ones listed (results.json ``missing``); returns
    (paths, missing ids). ``sources.json`` beside it lets ``kanformer report`` collect again later."""
    from ..report import build_results, write_report

    records, benches, missing = collect(config, runs_dir)
    if not records:
        raise ValueError(f"no run of {config.name!r} has finished in {runs_dir}; see kanformer compare CONFIG --status")
    results = build_results(config, records, benches, command=command)
    results["missing"] = missing
    report_dir.mkdir(parents=True, exist_ok=True)
    if config_path is not None:
        write_sources(report_dir, config_path, runs_dir, command)
    return write_report(results, report_dir), missing


SOURCES = "sources.json"


def write_sources(report_dir: Path, config_path: str | Path, runs_dir: Path, command: str | None) -> Path:
    """Where a report's runs live, so ``kanformer report DIR`` can render whatever finished since."""
    report_dir.mkdir(parents=True, exist_ok=True)
    data = {"config": str(Path(config_path).resolve()), "runs_dir": str(Path(runs_dir).resolve()), "command": command}
    return atomic_write_json(report_dir / SOURCES, data)


def render_report(report_dir: str | Path) -> tuple[list[Path], list[str]]:
    """``kanformer report DIR``: a complete results.json is rendered again as it is; a report whose runs
    are still coming (written by an executor, with sources.json) is collected again from its runs
    directory, the runs not finished yet marked missing."""
    from ..report import load_results, rerender

    report_dir = Path(report_dir)
    sources = report_dir / SOURCES
    complete = (report_dir / "results.json").is_file() and not load_results(report_dir).get("missing")
    if complete or not sources.is_file():
        return rerender(report_dir), []
    data = json.loads(sources.read_text())
    config = load_compare_config(data["config"])
    return write_collected_report(config, Path(data["runs_dir"]), report_dir, command=data.get("command"))


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kanformer.compare.jobs", description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["train", "bench", "report"])
    parser.add_argument("config")
    parser.add_argument("runs_dir")
    parser.add_argument("target", help="a run's directory name (train, bench) or the report directory (report)")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    import datasets

    datasets.disable_progress_bars()
    config = load_compare_config(args.config)
    runs_dir = Path(args.runs_dir)
    if args.kind == "train":
        train(config, runs_dir, args.target)
    elif args.kind == "bench":
        bench(config, runs_dir, args.target)
    else:
        paths, missing = write_collected_report(config, runs_dir, Path(args.target), config_path=args.config)
        print(f"report: {paths[0]}" + (f" ({len(missing)} runs missing)" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
