"""Run the benchmark: every task x seed x model (KAN, MLP), then the report.

results = run_tabular(TabularConfig(tasks=["wine"], seeds=2), "reports/tabular-wine")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..provenance import environment, timestamp
from ..tasks.tabular import TabularSplits, TabularTask, get_tabular_task, load_tabular, make_splits, score
from .config import TabularConfig
from .models import MODELS, build_model, count_params, plan_widths
from .report import summarize, write_report
from .train import fit, predict


def _task_info(task: TabularTask, n: int, data: TabularSplits) -> dict[str, Any]:
    return {
        "kind": task.kind,
        "source": task.source,
        "dataset": task.dataset,
        "description": task.description,
        "metrics": list(task.metrics),
        "samples": n,
        "features": data.num_features,
        "outputs": data.num_outputs,
        "split_sizes": data.sizes(),
    }


def run_tabular(
    cfg: TabularConfig,
    output_dir: str | Path | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and test both models on every task and seed; write the report to ``output_dir`` if given.

    Every data set is loaded before the first run, so a hub task that cannot be reached fails at
    once (one ValueError line) instead of after the others have trained. Returns the results dict
    that results.json holds: config, environment, per-task facts, the summary rows and every run.
    """
    cfg.validate()
    started, start = timestamp(), time.perf_counter()
    previous_threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        tasks = [get_tabular_task(name) for name in cfg.tasks]
        raw = {task.name: load_tabular(task, cache_dir=cfg.cache_dir) for task in tasks}
        runs: list[dict[str, Any]] = []
        infos: dict[str, dict[str, Any]] = {}
        for task in tasks:
            x, y = raw[task.name]
            for seed in range(cfg.seeds):
                data = make_splits(task, x, y, seed)
                infos.setdefault(task.name, _task_info(task, len(y), data))
                widths = plan_widths(data.num_features, data.num_outputs, cfg)
                for name in MODELS:
                    runs.append(_one_run(task.name, name, widths[name], data, cfg, seed, log))
        env = environment("cpu")
    finally:
        torch.set_num_threads(previous_threads)
    results = {
        "name": cfg.name,
        "description": cfg.description,
        "created": started,
        "command": command,
        "wall_seconds": time.perf_counter() - start,
        "config": cfg.to_dict(),
        "environment": env,
        "tasks": infos,
        "summary": summarize(runs),
        "runs": runs,
    }
    if output_dir is not None:
        paths = write_report(results, output_dir)
        log("wrote " + ", ".join(str(p) for p in paths))
    return results


def _one_run(
    task: str,
    name: str,
    widths: list[int],
    data: TabularSplits,
    cfg: TabularConfig,
    seed: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    # Each model draws its initial weights from the same seeded stream, whatever ran before it.
    torch.manual_seed(seed)
    model = build_model(name, widths, cfg)
    result = fit(model, data.x, data.y, cfg, seed, grid_inputs=name == "kan" and cfg.update_grid)
    metrics = score(data, predict(model, data.x["test"]), "test")
    params = count_params(model)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    log(
        f"{task} seed {seed} {name} {widths} ({params:,} params): {shown}; best epoch {result.best_epoch}/"
        f"{result.epochs}, {result.train_seconds:.1f} s"
    )
    return {
        "task": task,
        "model": name,
        "seed": seed,
        "widths": widths,
        "params": params,
        "metrics": metrics,
        "val_metrics": score(data, predict(model, data.x["val"]), "val"),
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "best_val_loss": result.best_val_loss,
        "train_seconds": result.train_seconds,
    }
