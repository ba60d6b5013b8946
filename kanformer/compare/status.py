"""Where each run of a compare stands, from its run directory and the scheduler.

The runs directory is the only state. A run directory holds, besides the fine-tune's files:

    job.json      the jobs submitted for it: {"train": {"executor", "id", "submitted"}, "bench": {...}}
    logs/         <kind>.out and <kind>.err of each job (appended on every attempt), <kind>.pid

A job recorded in job.json is asked about: SLURM through ``squeue`` (then ``sacct``), a local job
through its process id. ``kanformer compare CONFIG --status`` prints :func:`render_status`.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import atomic_write_json
from .config import CompareConfig, RunSpec, expand
from .jobs import JOB_FILE, LOGS, bench_carriers

ACTIVE = ("queued", "running")
#: SLURM job states (squeue/sacct) -> ours
_SLURM = {
    "PENDING": "queued",
    "REQUEUED": "queued",
    "REQUEUE_HOLD": "queued",
    "CONFIGURING": "running",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SUSPENDED": "running",
    "RESIZING": "running",
    "STAGE_OUT": "running",
}


@dataclass
class RunStatus:
    """One row of ``--status``: state is done, running, queued, failed or not started."""

    spec: RunSpec
    state: str
    stage: str = ""  # train or bench: the job the state is about
    job: str | None = None
    log: Path | None = None
    tail: list[str] | None = None
    note: str = ""
    finished: bool = False
    needs_bench: bool = False
    train_job: tuple[str | None, str | None] = (None, None)
    """(job id, state) of the recorded train job; the state is queued, running, ended or unknown"""
    bench_job: tuple[str | None, str | None] = (None, None)


def read_jobs(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / JOB_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def record_job(run_dir: Path, kind: str, executor: str, job_id: str) -> None:
    """Note a submitted job in the run directory (the submitting process alone writes job.json)."""
    import time

    jobs = read_jobs(run_dir)
    jobs[kind] = {"executor": executor, "id": str(job_id), "submitted": time.strftime("%Y-%m-%dT%H:%M:%S")}
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / JOB_FILE, jobs)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def local_state(job_id: str, log_dir: Path | None = None, kind: str = "") -> str:
    """running while the submitit controller (its pid is the job id) or the job's command lives, else ended."""
    pids = [int(job_id)] if job_id.isdigit() else []
    if log_dir is not None and (log_dir / f"{kind}.pid").is_file():
        try:
            pids.append(int((log_dir / f"{kind}.pid").read_text().split()[-1]))
        except (OSError, ValueError, IndexError):
            pass
    return "running" if any(_pid_alive(p) for p in pids) else "ended"


def slurm_states(ids: Iterable[str]) -> dict[str, str]:
    """Our state of each SLURM job id (``123`` or ``123_4``): queued, running, ended or unknown (no squeue)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    if shutil.which("squeue") is None:
        return dict.fromkeys(ids, "unknown")
    states: dict[str, str] = {}
    try:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-o", "%i|%T", "-u", getpass.getuser()],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return dict.fromkeys(ids, "unknown")
    for line in out.splitlines():
        job, _, state = line.strip().partition("|")
        if job in ids:
            states[job] = _SLURM.get(state.strip().split()[0] if state.strip() else "", "running")
    rest = [i for i in ids if i not in states]
    if rest and shutil.which("sacct"):  # gone from the queue: sacct says how it ended (or that it is requeued)
        try:
            out = subprocess.run(
                ["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(rest)],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            job, _, state = line.strip().partition("|")
            if job in rest:
                states[job] = _SLURM.get(state.split()[0] if state else "", "ended")
    return {i: states.get(i, "ended") for i in ids}


def tail(path: Path, lines: int = 8) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip() and not line.startswith("=== ")][-lines:]


def collect_status(config: CompareConfig, runs_dir: Path, tail_lines: int = 8) -> list[RunStatus]:
    """The state of every run of ``config`` in ``runs_dir`` (asks the scheduler about recorded jobs)."""
    from ..train.loop import latest_checkpoint
    from .run import _bench_done, _finished, _stale, run_config

    specs = expand(config)
    carriers = {s.dirname for s in bench_carriers(specs).values()}
    records = {s.dirname: read_jobs(runs_dir / s.dirname) for s in specs}
    slurm = slurm_states(
        job["id"] for jobs in records.values() for job in jobs.values() if job.get("executor") == "slurm"
    )

    def job_state(spec: RunSpec, kind: str) -> tuple[str | None, str | None]:
        job = records[spec.dirname].get(kind)
        if not job:
            return None, None
        if job.get("executor") == "slurm":
            return job["id"], slurm.get(job["id"], "unknown")
        return job["id"], local_state(job["id"], runs_dir / spec.dirname / LOGS, kind)

    rows = []
    for spec in specs:
        run_dir = runs_dir / spec.dirname
        cfg_dict = run_config(spec, run_dir).to_dict()
        logs = run_dir / LOGS
        finished = _finished(run_dir, cfg_dict)
        bench_path = runs_dir / "bench" / f"{spec.bench_key}.json"
        needs_bench = spec.dirname in carriers and not _bench_done(bench_path, spec)
        stage = "bench" if finished else "train"
        job, state = job_state(spec, stage)
        if finished and not needs_bench:
            rows.append(RunStatus(spec, "done"))
        elif state in ACTIVE:
            rows.append(RunStatus(spec, state, stage, job, logs / f"{stage}.err"))
        elif state in ("ended", "unknown"):
            log = logs / f"{stage}.err"
            note = "the scheduler does not answer" if state == "unknown" else ""
            rows.append(RunStatus(spec, "failed", stage, job, log, tail(log, tail_lines), note))
        else:
            note = ""
            if not finished and _stale(run_dir, cfg_dict):
                note = "settings changed: starts again"
            elif not finished and latest_checkpoint(run_dir) is not None:
                note = "interrupted: resumes from its checkpoint"
            rows.append(RunStatus(spec, "not started", stage if finished else "", note=note))
    for row in rows:
        row.finished = row.state == "done" or row.stage == "bench"
        row.needs_bench = row.spec.dirname in carriers and not _bench_done(
            runs_dir / "bench" / f"{row.spec.bench_key}.json", row.spec
        )
        row.train_job, row.bench_job = job_state(row.spec, "train"), job_state(row.spec, "bench")
    return rows


def render_status(rows: list[RunStatus], runs_dir: Path) -> str:
    """A plain-text table of runs, a count per state, and the last lines of each failed job's log."""
    from collections import Counter

    width = max([len(r.spec.id) for r in rows] + [3])
    out = [f"{'run':<{width}}  {'state':<11}  {'job':<6}  {'id':<14}  note"]
    for r in rows:
        out.append(f"{r.spec.id:<{width}}  {r.state:<11}  {r.stage:<6}  {r.job or '':<14}  {r.note}".rstrip())
    counts = Counter(r.state for r in rows)
    order = ("done", "running", "queued", "failed", "not started")
    out += ["", f"{len(rows)} runs in {runs_dir}: " + ", ".join(f"{counts[s]} {s}" for s in order if counts[s])]
    for r in rows:
        if r.state == "failed":
            out += ["", f"{r.spec.id} failed ({r.stage} job {r.job}): {r.log}"]
            out += [f"    {line}" for line in r.tail or ["(the log is empty)"]]
    return "\n".join(out)


__all__ = ["JOB_FILE", "RunStatus", "collect_status", "record_job", "render_status", "slurm_states"]
