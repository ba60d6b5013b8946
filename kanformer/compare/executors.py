"""Run a compare's jobs through a scheduler: submitit's LocalExecutor on this machine, or SLURM.

    kanformer compare CONFIG --executor local --max-parallel 2
    kanformer compare CONFIG --executor slurm --gpus-per-run 4 --slurm partition=gpu time=08:00:00
    kanformer compare CONFIG --status

Every run (model x task x variant x seed) is one training job; one bench job per model x task x
variant follows the training job of its first seed, alone on one device; the report follows them
all. With ``slurm`` the training jobs are one job array (G > 1 GPUs: ``accelerate launch`` inside
each job), the benches a second array (``aftercorr``: bench i waits for training job i) and the
report a CPU job (``afterany``); the command returns once they are queued. With ``local`` the
command keeps N jobs (separate processes) going until every run is done, then writes the report.

The runs directory is the only state (see :mod:`.status`): a run that finished is skipped, one
whose job is queued or running is left to it, one that failed or was interrupted is submitted again
and resumes from its checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..io import atomic_write_json
from .cluster import CLUSTER_KEYS, check_cluster, minutes
from .config import CompareConfig, RunSpec
from .jobs import LOGS, Job, job_command, write_collected_report, write_sources
from .status import ACTIVE, RunStatus, collect_status, record_job, slurm_states

_INSTALL = "--executor slurm needs submitit: pip install kanformer[cluster]"


def cluster_options(config: CompareConfig, pairs: list[str] | None = None) -> dict[str, Any]:
    """The config's ``cluster:`` block overridden by ``--slurm key=value`` pairs; ValueError on a bad key."""
    from ..settings import parse_key_values

    given = {str(k).replace("-", "_"): v for k, v in (config.raw.get("cluster") or {}).items()}
    flags = parse_key_values(pairs or [])
    problems = check_cluster(flags)
    if problems:
        raise ValueError("--slurm: " + " | ".join(p.removeprefix("cluster ") for p in problems))
    return {**given, **flags}


def snapshot(config: CompareConfig, runs_dir: Path) -> Path:
    """The config the jobs read, frozen in the runs directory: editing CONFIG does not change queued jobs."""
    text = yaml.safe_dump({**config.raw, "name": config.name}, sort_keys=False)
    path = runs_dir / ".jobs" / f"{config.name}-{hashlib.sha1(text.encode()).hexdigest()[:10]}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        path.write_text(text)
    return path


@dataclass
class Plan:
    """What to submit: runs to train, and runs whose job benches (after which training job, if any)."""

    train: list[RunSpec]
    bench_after_train: list[RunSpec]  # benched after their own training job of this submission
    bench_after_job: list[tuple[RunSpec, str]]  # after a training job submitted earlier and still active
    bench_now: list[RunSpec]  # trained already
    active: list[RunStatus]  # jobs of an earlier compare still queued or running
    done: int


def plan(rows: list[RunStatus]) -> Plan:
    p = Plan([], [], [], [], [], 0)
    for row in rows:
        train_id, train_state = row.train_job
        bench_id, bench_state = row.bench_job
        if row.state == "done":
            p.done += 1
            continue
        if row.state in ACTIVE:
            p.active.append(row)
        bench_pending = row.needs_bench and bench_state not in ACTIVE
        if row.finished:
            if bench_pending:
                p.bench_now.append(row.spec)
        elif train_state in ACTIVE:
            if bench_pending:
                p.bench_after_job.append((row.spec, str(train_id)))
        else:
            p.train.append(row.spec)
            if bench_pending:
                p.bench_after_train.append(row.spec)
    # carriers of a bench first: the bench array's task i follows the training array's task i
    benched = {s.dirname for s in p.bench_after_train}
    p.train.sort(key=lambda s: s.dirname not in benched)
    return p


def run_executor(
    config: CompareConfig,
    report_dir: Path,
    runs_dir: Path,
    executor: str,
    max_parallel: int | None = None,
    gpus_per_run: int | None = None,
    slurm: list[str] | None = None,
    threads: int | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
    poll_s: float = 1.0,
) -> dict[str, Any]:
    """Submit (slurm) or run (local) every unfinished run of ``config``; returns a summary dict
    (``submitted``: job ids per kind, ``failed``: run ids, ``report``: the report path once written)."""
    if executor not in ("local", "slurm"):
        raise ValueError(f"--executor {executor!r}: choose local or slurm")
    for name, value in (("--max-parallel", max_parallel), ("--gpus-per-run", gpus_per_run), ("--threads", threads)):
        if value is not None and value < 1:
            raise ValueError(f"{name} {value}: give a number >= 1")
    options = cluster_options(config, slurm) if executor == "slurm" else dict(config.raw.get("cluster") or {})
    if executor == "slurm":
        _check_slurm(options, gpus_per_run)  # before anything is written
    runs_dir, report_dir = runs_dir.resolve(), report_dir.resolve()
    rows = collect_status(config, runs_dir)
    p = plan(rows)
    frozen = snapshot(config, runs_dir)
    write_sources(report_dir, frozen, runs_dir, command)
    total = len(rows)
    log(
        f"kanformer compare {config.name} --executor {executor}: {total} runs; {p.done} done, "
        f"{len(p.active)} queued or running, {len(p.train)} to train, "
        f"{len(p.bench_after_train) + len(p.bench_after_job) + len(p.bench_now)} benches to run"
    )
    args = (config, p, frozen, runs_dir, report_dir, options, gpus_per_run, max_parallel, threads, log)
    return _submit_slurm(*args) if executor == "slurm" else _run_local(*args, poll_s)


# ------------------------------------------------------------------------------------------- local


@dataclass
class _Task:
    kind: str
    spec: RunSpec
    after: str | None = None  # the dirname of the training it waits for


def _run_local(
    config: CompareConfig,
    p: Plan,
    frozen: Path,
    runs_dir: Path,
    report_dir: Path,
    options: dict[str, Any],
    gpus_per_run: int | None,
    max_parallel: int | None,
    threads: int | None,
    log: Callable[[str], None],
    poll_s: float,
) -> dict[str, Any]:
    import submitit
    import torch

    from .status import local_state

    slots = max_parallel or options.get("max_parallel") or 1
    n_cuda = torch.cuda.device_count()
    gpus = gpus_per_run or options.get("gpus_per_run") or (1 if n_cuda else 0)
    if n_cuda and gpus > n_cuda:
        raise ValueError(f"--gpus-per-run {gpus}: this machine has {n_cuda} GPU(s)")
    free_gpus = list(range(n_cuda))
    ex = submitit.LocalExecutor(folder=str(runs_dir / ".jobs" / "local" / "%j"))
    ex.update_parameters(timeout_min=60 * 24 * 365)
    training = {s.dirname for s in p.train}
    pending = [_Task("train", s) for s in p.train]
    pending += [_Task("bench", s, s.dirname) for s in p.bench_after_train]
    pending += [_Task("bench", s, s.dirname) for s, _ in p.bench_after_job]
    pending += [_Task("bench", s) for s in p.bench_now]
    # jobs of an earlier compare still running: waited for, not submitted again
    running: dict[int, tuple[_Task, Any, list[int]]] = {}
    for row in p.active:
        kind = row.stage or "train"
        job_id = (row.train_job if kind == "train" else row.bench_job)[0]
        running[id(row)] = (_Task(kind, row.spec), str(job_id), [])
        if kind == "train":
            training.add(row.spec.dirname)
    submitted: dict[str, list[str]] = {"train": [], "bench": []}
    failed: list[str] = []
    started = time.perf_counter()

    def alive(task: _Task, job: Any) -> bool:
        if isinstance(job, str):  # an earlier compare's job: its process ids
            return local_state(job, runs_dir / task.spec.dirname / LOGS, task.kind) == "running"
        return not job.done()

    try:
        while pending or running:
            for key, (task, job, held) in list(running.items()):
                if alive(task, job):
                    continue
                del running[key]
                free_gpus.extend(held)
                ok = _succeeded(task, runs_dir)
                if task.kind == "train":
                    training.discard(task.spec.dirname)
                    if not ok:
                        failed.append(task.spec.id)
                        pending = [t for t in pending if t.after != task.spec.dirname]
                elif not ok:
                    failed.append(f"{task.spec.id} (bench)")
                log(f"{task.spec.id}: {task.kind} " + ("done" if ok else f"FAILED, see {_log(task, runs_dir)}"))
            for task in list(pending):
                if len(running) >= slots:
                    break
                if task.after is not None and task.after in training:
                    continue
                need = (gpus if task.kind == "train" else 1) if n_cuda else 0
                if need > len(free_gpus):
                    continue
                held, free_gpus = free_gpus[:need], free_gpus[need:]
                ex.update_parameters(gpus_per_node=need, visible_gpus=held or ())
                env = {"OMP_NUM_THREADS": str(threads)} if threads else {}
                if task.kind == "train" and gpus > 1 and not n_cuda:
                    env["ACCELERATE_USE_CPU"] = "1"  # G CPU processes: data parallel on this machine's cores
                cmd = job_command(task.kind, frozen, runs_dir, task.spec.dirname, gpus, threads)
                job = ex.submit(Job(task.kind, cmd, str(runs_dir / task.spec.dirname / LOGS), env))
                record_job(runs_dir / task.spec.dirname, task.kind, "local", job.job_id)
                submitted[task.kind].append(job.job_id)
                pending.remove(task)
                running[id(task)] = (task, job, held)
                log(f"{task.spec.id}: {task.kind} started (local job {job.job_id})")
            if pending or running:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        for _task, job, _held in running.values():
            if not isinstance(job, str):
                job.cancel()
        raise
    summary: dict[str, Any] = {"submitted": submitted, "failed": failed, "report": None}
    summary["seconds"] = time.perf_counter() - started
    if failed:
        log(f"{len(failed)} job(s) failed: {', '.join(failed)}; kanformer compare CONFIG --status shows their logs")
        return summary
    paths, missing = write_collected_report(config, runs_dir, report_dir, command=None, config_path=frozen)
    summary["report"] = str(paths[0])
    log(f"report: {paths[0]}" + (f" ({len(missing)} runs missing)" if missing else ""))
    return summary


def _succeeded(task: _Task, runs_dir: Path) -> bool:
    from .run import _bench_done, _finished, run_config

    if task.kind == "bench":
        return _bench_done(runs_dir / "bench" / f"{task.spec.bench_key}.json", task.spec)
    run_dir = runs_dir / task.spec.dirname
    return _finished(run_dir, run_config(task.spec, run_dir).to_dict())


def _log(task: _Task, runs_dir: Path) -> Path:
    return runs_dir / task.spec.dirname / LOGS / f"{task.kind}.err"


# ------------------------------------------------------------------------------------------- SLURM


def _check_slurm(options: dict[str, Any], gpus_per_run: int | None) -> None:
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise ValueError(_INSTALL) from None
    for tool in ("sbatch", "srun"):
        if shutil.which(tool) is None:
            raise ValueError(f"--executor slurm: no {tool} on PATH; run this on a SLURM login node")
    gpus = gpus_per_run or options.get("gpus_per_run") or 1
    partition = options.get("partition")
    most = _partition_gpus(str(partition)) if partition else None
    if most is not None and gpus > most:
        raise ValueError(f"--gpus-per-run {gpus}: partition {partition!r} offers at most {most} GPUs per node")


def _partition_gpus(partition: str) -> int | None:
    """The most GPUs one node of ``partition`` has (sinfo's generic resources), or None if unknown."""
    if shutil.which("sinfo") is None:
        return None
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-p", partition, "-o", "%G"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if not out.strip():
        return None
    counts = [0]
    for gres in re.split(r"[,\s]+", out):
        m = re.match(r"gpu(?::[^:(]+)?:(\d+)", gres)
        if m:
            counts.append(int(m.group(1)))
    return max(counts)


def _sbatch_parameters(options: dict[str, Any], name: str, gpus: int, max_parallel: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"job_name": name, "nodes": 1, "ntasks_per_node": 1}
    if gpus:
        params["gpus_per_node"] = gpus
    for key, target in (("partition", "partition"), ("account", "account"), ("constraint", "constraint")):
        if options.get(key):
            params[target] = str(options[key])
    for key in ("qos", "exclude"):
        if options.get(key):
            params[key] = str(options[key])
    # submitit's own default is 5 minutes: a fine-tune needs more; set cluster.time to fit the partition
    params["time"] = minutes(options["time"]) if options.get("time") is not None else 24 * 60
    if options.get("cpus"):
        params["cpus_per_task"] = int(options["cpus"])
    if options.get("mem") is not None:
        mem = options["mem"]
        extra = {"mem": f"{mem}G" if isinstance(mem, (int, float)) else str(mem)}
        params["additional_parameters"] = extra  # as given (submitit's mem takes a number of GB)
    if options.get("setup"):
        params["setup"] = list(options["setup"])
    parallel = max_parallel or options.get("max_parallel")
    if parallel:
        params["array_parallelism"] = int(parallel)
    return params


def _submit_slurm(
    config: CompareConfig,
    p: Plan,
    frozen: Path,
    runs_dir: Path,
    report_dir: Path,
    options: dict[str, Any],
    gpus_per_run: int | None,
    max_parallel: int | None,
    threads: int | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    import submitit

    gpus = gpus_per_run or options.get("gpus_per_run") or 1
    folder = runs_dir / ".jobs" / "slurm" / "%j"
    env = {"OMP_NUM_THREADS": str(threads)} if threads else {}
    submitted: dict[str, list[str]] = {"train": [], "bench": [], "report": []}

    def submit(kind: str, specs: list[RunSpec], gpu: int, dependency: str | None = None) -> list[str]:
        if not specs:
            return []
        ex = submitit.SlurmExecutor(folder=str(folder), python=sys.executable)
        params = _sbatch_parameters(options, f"kanformer-{config.name}-{kind}", gpu, max_parallel)
        if dependency:
            params["dependency"] = dependency
            params["additional_parameters"] = {**params.get("additional_parameters", {}), "kill-on-invalid-dep": "yes"}
        ex.update_parameters(**params)
        jobs = []
        with ex.batch():
            for spec in specs:
                cmd = job_command(kind, frozen, runs_dir, spec.dirname, gpu if kind == "train" else 1, threads)
                jobs.append(ex.submit(Job(kind, cmd, str(runs_dir / spec.dirname / LOGS), env)))
        ids = [str(j.job_id) for j in jobs]
        for spec, job_id in zip(specs, ids, strict=True):
            record_job(runs_dir / spec.dirname, kind, "slurm", job_id)
        submitted[kind] += ids
        return ids

    train_ids = submit("train", p.train, gpus)
    if train_ids and p.bench_after_train:
        array = train_ids[0].split("_")[0]
        dep = f"aftercorr:{array}" if len(train_ids) > 1 else f"afterok:{train_ids[0]}"
        if len(p.bench_after_train) == 1 and len(train_ids) > 1:  # a lone bench is no array: wait for its task
            dep = f"afterok:{train_ids[0]}"
        submit("bench", p.bench_after_train, 1, dep)
    for spec, train_id in p.bench_after_job:
        submit("bench", [spec], 1, f"afterok:{train_id}")
    submit("bench", p.bench_now, 1)
    waits = {i.split("_")[0] for ids in submitted.values() for i in ids}
    waits |= {str(job_id).split("_")[0] for row in p.active for job_id, _ in (row.train_job, row.bench_job) if job_id}
    report_record = runs_dir / ".jobs" / "report.json"
    previous = json.loads(report_record.read_text()).get("id") if report_record.is_file() else None
    fresh = any(submitted.values())
    if waits and not fresh and previous and slurm_states([previous])[previous] in ACTIVE:
        log(f"nothing to submit: every unfinished run is queued or running; the report follows (job {previous})")
        return {"submitted": submitted, "failed": [], "report": None}
    if waits:
        ex = submitit.SlurmExecutor(folder=str(folder), python=sys.executable)
        params = _sbatch_parameters(options, f"kanformer-{config.name}-report", 0, None)
        params.update(dependency="afterany:" + ":".join(sorted(waits)), time=30)
        ex.update_parameters(**params)
        cmd = job_command("report", frozen, runs_dir, str(report_dir))
        job = ex.submit(Job("report", cmd, str(runs_dir / ".jobs" / LOGS), env))
        submitted["report"].append(str(job.job_id))
        atomic_write_json(report_record, {"id": str(job.job_id), "waits_for": sorted(waits)})
        log(
            f"submitted {len(submitted['train'])} training and {len(submitted['bench'])} bench jobs; the report "
            f"(job {job.job_id}) follows them into {report_dir}. Follow with: kanformer compare CONFIG --status"
        )
        return {"submitted": submitted, "failed": [], "report": None}
    paths, missing = write_collected_report(config, runs_dir, report_dir, config_path=frozen)
    log(f"every run is done; report: {paths[0]}" + (f" ({len(missing)} missing)" if missing else ""))
    return {"submitted": submitted, "failed": [], "report": str(paths[0])}


__all__ = ["CLUSTER_KEYS", "Plan", "check_cluster", "cluster_options", "plan", "run_executor", "snapshot"]
