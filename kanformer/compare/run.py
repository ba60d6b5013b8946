"""Run a comparison: every fine-tune of the matrix plus one bench per model x task x variant.

    config = load_compare_config("configs/quickstart.yaml")
    results = run_compare(config, report_dir="reports/quickstart", runs_dir="runs/quickstart")

Runs directory (``runs_dir``), the resumable state:
    <model>__<task>__<variant>__seed<N>/   a finetune run directory, plus result.json when it finished
    bench/<model>__<task>__<variant>.json  the bench numbers

A run whose result.json records the same settings is skipped; one that stopped midway
resumes from its last complete checkpoint (``train.save_every``); one whose settings
changed starts again. Under ``accelerate launch`` every process takes part in each
fine-tune and the main process alone benches and writes the report.
"""

from __future__ import annotations

import gc
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..io import atomic_write_json
from ..settings import from_settings
from .config import CompareConfig, RunSpec, expand

RESULT = "result.json"


def run_config(spec: RunSpec, run_dir: Path) -> Any:
    """The RunConfig of one matrix entry (resume on: a restarted compare continues)."""
    from ..train.config import RunConfig

    settings = {
        **spec.train,
        "model": spec.model,
        "task": spec.task,
        "seed": spec.seed,
        "output_dir": str(run_dir),
        "data_dir": spec.data_dir,
        "resume": True,
        # seeds of one variant share its distilled/calibrated start (fitted once, seed-independent)
        "start_cache": str(run_dir.parent / "starts"),
    }
    cfg = from_settings(RunConfig, {k: v for k, v in settings.items() if v is not None}, what="run")
    cfg.ffn = spec.ffn
    return cfg


def _comparable(cfg_dict: dict[str, Any]) -> dict[str, Any]:
    # Where a run lives and whether it resumes do not change what it computes.
    return {k: v for k, v in cfg_dict.items() if k not in ("output_dir", "resume", "start_cache")}


def _finished(run_dir: Path, cfg_dict: dict[str, Any]) -> bool:
    path = run_dir / RESULT
    if not path.is_file():
        return False
    try:
        recorded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return _comparable(recorded.get("run_config", {})) == _comparable(cfg_dict)


def _stale(run_dir: Path, cfg_dict: dict[str, Any]) -> bool:
    """A run directory left by different settings: its checkpoints must not be resumed."""
    import yaml

    path = run_dir / "config.yaml"
    if not path.is_file():
        return False
    try:
        recorded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return True
    return _comparable(recorded) != _comparable(cfg_dict)


def read_scalars(run_dir: Path, tag: str) -> tuple[list[int], list[float]]:
    """(steps, values) of a TensorBoard scalar over every event file under run_dir/tb (resumed runs
    append files; a later file's value wins for a step)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    points: dict[int, float] = {}
    folders = sorted({p.parent for p in (run_dir / "tb").rglob("events.out.tfevents*")})
    for folder in folders:
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        acc.Reload()
        if tag in acc.Tags().get("scalars", []):
            for event in acc.Scalars(tag):
                points[int(event.step)] = float(event.value)
    steps = sorted(points)
    return steps, [points[s] for s in steps]


def _run_record(
    spec: RunSpec, cfg_dict: dict[str, Any], run_dir: Path, seconds: float, kanify: dict[str, Any] | None = None
) -> dict[str, Any]:
    from ..plugin.kanify import FIT_KEYS
    from ..tasks import get_task

    task = get_task(spec.task)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    key = f"{task.eval_splits[0]}/{task.main_metric}"
    final = metrics["final"]
    steps, loss = read_scalars(run_dir, "train/loss")
    evals = [e for e in metrics["evaluations"] if key in e]
    return {
        "id": spec.id,
        "model": spec.model,
        "task": spec.task,
        "variant": spec.variant,
        "seed": spec.seed,
        "metric": key,
        "value": final[key],
        "final": final,
        "best": metrics.get("best"),
        "finetune_seconds": seconds,
        "train_peak_memory_mib": metrics.get("peak_memory_mib"),
        "num_processes": metrics.get("num_processes"),
        "curve": {"step": steps, "loss": loss},
        "eval_curve": {"step": [e["step"] for e in evals], "value": [e[key] for e in evals]},
        "ffn": spec.ffn,
        # the KAN width and how well the start matched the original FFNs (kept per run)
        "kanify": {k: kanify[k] for k in ("hidden", *FIT_KEYS) if k in kanify} if kanify else None,
        "run_config": cfg_dict,
    }


def _bench(spec: RunSpec, model: Any, path: Path) -> dict[str, Any]:
    """Bench the run's model; a kanified one together with the original model, their timed calls
    interleaved (``paired_original``): the report reads speed ratios against that pair, because two
    benches taken minutes apart carry the machine's drift (on a shared 2-core VM two variants of one
    structure, benched after their fine-tunes, came out x0.78 and x0.99 of the same original)."""
    from ..bench.model import BenchSettings, bench_models

    settings = from_settings(BenchSettings, spec.bench, what="bench")
    models = [model] if spec.ffn is None else [model, _fresh_model(spec, None)]
    result, *paired = bench_models(models, settings)
    record = {
        "model": spec.model,
        "task": spec.task,
        "variant": spec.variant,
        "settings": dict(spec.bench),
        "ffn": spec.ffn,
        **result,
        "paired_original": paired[0] if paired else None,
    }
    atomic_write_json(path, record)
    return record


def _bench_done(path: Path, spec: RunSpec, require_paired: bool = True) -> bool:
    """Whether ``path`` holds this spec's bench; ``require_paired``: a KAN variant's record must also
    hold its interleaved original (records from before the pairing are benched again, but a report
    may still read them: its ratios then fall back on the original's row)."""
    if not path.is_file():
        return False
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    paired = not require_paired or spec.ffn is None or record.get("paired_original") is not None
    return paired and record.get("settings") == dict(spec.bench) and record.get("ffn") == spec.ffn


def run_compare(
    config: CompareConfig,
    report_dir: str | Path,
    runs_dir: str | Path,
    command: str | None = None,
    log: Callable[[str], None] = print,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run (or resume) every run of ``config``, then write the report; returns the results dict
    (what results.json holds: runs, bench, summary, config, command, environment).

    ``threads`` pins torch's intra-op threads for every fine-tune and bench (then restores them):
    CPU results depend on it (a reduction split over 2 threads rounds differently than over 1),
    so a report can be reproduced exactly only with the thread count its environment records.
    """
    import torch

    if threads is not None and threads < 1:
        raise ValueError(f"threads={threads} is invalid: a number of threads >= 1")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run_compare(config, Path(report_dir), Path(runs_dir), command, log)
    finally:
        torch.set_num_threads(previous_threads)


def _run_compare(
    config: CompareConfig, report_dir: Path, runs_dir: Path, command: str | None, log: Callable[[str], None]
) -> dict[str, Any]:
    import torch
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    from ..report import build_results, write_report
    from ..train.loop import latest_checkpoint
    from ..train.run import finetune

    # As AcceleratorState does: a bare PartialState() ignores ACCELERATE_USE_CPU and then
    # reports every CPU process as the main one.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    say = log if state.is_main_process else (lambda _msg: None)
    specs = expand(config)
    say(
        f"kanformer compare {config.name}: {len(specs)} runs; runs in {runs_dir}, report in {report_dir}; "
        f"{torch.get_num_threads()} torch threads"
    )
    started = time.perf_counter()
    records, benches = [], {}
    for i, spec in enumerate(specs, 1):
        run_dir = runs_dir / spec.dirname
        cfg = run_config(spec, run_dir)
        cfg_dict = cfg.to_dict()
        bench_path = runs_dir / "bench" / f"{spec.bench_key}.json"
        need_bench = spec.bench_key not in benches and not _bench_done(bench_path, spec)
        finished = _finished(run_dir, cfg_dict)  # a finished run is never stale: same settings
        if finished and not need_bench:
            say(f"[{i}/{len(specs)}] {spec.id}: finished earlier, skipped")
        else:
            if state.is_main_process and _stale(run_dir, cfg_dict):
                say(f"[{i}/{len(specs)}] {spec.id}: settings changed since the last run, starting it again")
                shutil.rmtree(run_dir)
            state.wait_for_everyone()
            t0 = time.perf_counter()
            if finished:
                model = _model_for_bench(spec, run_dir)  # only the bench is missing
            else:
                resuming = latest_checkpoint(run_dir) is not None
                say(f"[{i}/{len(specs)}] {spec.id}: " + ("resuming" if resuming else "fine-tuning"))
                model = finetune(cfg).model
            seconds = time.perf_counter() - t0
            if state.is_main_process and not finished:
                # Written as soon as the fine-tune is complete: a run killed before this point runs (or
                # resumes) again; a failed bench does not throw the fine-tune away.
                record = getattr(model.config, "kanformer", None)
                atomic_write_json(run_dir / RESULT, _run_record(spec, cfg_dict, run_dir, seconds, record))
            if need_bench and state.is_main_process:
                say(f"[{i}/{len(specs)}] {spec.id}: benchmarking")
                benches[spec.bench_key] = _bench(spec, model, bench_path)
            del model
            gc.collect()
            state.wait_for_everyone()
        records.append(json.loads((run_dir / RESULT).read_text()))
        if spec.bench_key not in benches and bench_path.is_file():
            benches[spec.bench_key] = json.loads(bench_path.read_text())
    results = build_results(
        config, records, list(benches.values()), command=command, seconds=time.perf_counter() - started
    )
    if state.is_main_process:
        paths = write_report(results, report_dir)
        say(f"report: {paths[0]}")
    state.wait_for_everyone()
    return results


def _model_for_bench(spec: RunSpec, run_dir: Path) -> Any:
    """The run's saved model, or (save_model: false) the same structure freshly built: speed and
    memory do not depend on the trained values."""
    from ..models import load_model

    if (run_dir / "model" / "config.json").is_file():
        return load_model(str(run_dir / "model"))
    return _fresh_model(spec, spec.ffn)


def _fresh_model(spec: RunSpec, ffn: dict[str, Any] | None) -> Any:
    """The run's model with its task head, kanified with ``ffn`` (None: the original), untrained;
    its embeddings sized to the tokenizer as the fine-tune sizes them (:func:`load_processor`)."""
    from ..models import load_model, load_processor
    from ..plugin import KANFFNConfig, kanify
    from ..tasks import get_task

    task = get_task(spec.task)
    model = load_model(spec.model, head=task.head, num_labels=task.num_labels)
    load_processor(spec.model, model)
    if ffn is not None:
        kanify(model, KANFFNConfig.from_dict(ffn).without_data())
    return model


__all__ = ["RESULT", "read_scalars", "run_compare", "run_config"]
