"""The KAN paper's continual-learning toy (Sec. 3.5): five Gaussian peaks learned one region at a time.

    cfg = load_continual_config("configs/paper/continual.yaml")
    results = run_continual(cfg)  # JSON-able: per model and phase the RMSE on every region seen so far

The target is y(x) = sum_i exp(-s (x - c_i)^2) on [-1, 1] with P peaks at c_i = -1 + (2i + 1)/P,
and [-1, 1] is cut into P regions [c_i - 1/P, c_i + 1/P], one per peak (pykan's tutorial: P = 5,
100 evenly spaced samples per region, s = 300). Phase i trains on region i's samples only,
continuing from the model the previous phase left. A B-spline KAN [1, 1] remembers: a cubic
B-spline is non-zero on 4 grid intervals, so samples of region i move only the coefficients
of the basis functions that touch region i, and LBFGS, whose steps lie in the span of past
gradients, leaves every other coefficient exactly where it was. An MLP has no such locality:
fitting the new region moves every weight, and it forgets.

Forgetting of region i (as in Rahman et al., 2025, "Catastrophic forgetting in KANs"): its RMSE
after the last phase minus its RMSE right after phase i, when it was learned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..fitting import lbfgs_tolerances, param_count, rmse, train_lbfgs
from ..layers import KAN
from .config import ContinualConfig, config_dict, load_continual_config, parse_continual_config  # noqa: F401
from .scaling import DTYPES, build_mlp, say, torch_threads

Log = Callable[[str], None] | None
Phase = tuple[Tensor, Tensor]

#: Decimals of the stored curves (results.json): they are only plotted; every error is computed
#: from the unrounded predictions.
CURVE_DECIMALS = 6


# ------------------------------------------------------------------ the data
def peak_centres(n_peaks: int) -> list[float]:
    """The P peak centres -1 + (2i + 1)/P, i = 0..P-1: the middles of P equal regions of [-1, 1]."""
    return [-1 + (2 * i + 1) / n_peaks for i in range(n_peaks)]


def regions(n_peaks: int) -> list[tuple[float, float]]:
    """The P regions [c_i - 1/P, c_i + 1/P]: they tile [-1, 1], neighbours share an end."""
    return [(c - 1 / n_peaks, c + 1 / n_peaks) for c in peak_centres(n_peaks)]


def target(x: Tensor, n_peaks: int, sharpness: float) -> Tensor:
    """y = sum_i exp(-sharpness (x - c_i)^2): (N, 1) -> (N, 1)."""
    return sum(torch.exp(-sharpness * (x - c) ** 2) for c in peak_centres(n_peaks))


def phase_data(cfg: ContinualConfig, dtype: torch.dtype = torch.float64) -> list[Phase]:
    """Per phase (region), ``points_per_peak`` evenly spaced inputs (n, 1) over it and their targets (n, 1)."""
    out = []
    for lo, hi in regions(cfg.n_peaks):
        x = torch.linspace(lo, hi, cfg.points_per_peak, dtype=torch.float64).unsqueeze(1)
        out.append((x.to(dtype), target(x, cfg.n_peaks, cfg.sharpness).to(dtype)))
    return out


def evaluation_points(cfg: ContinualConfig, dtype: torch.dtype = torch.float64) -> Phase:
    """``n_test`` evenly spaced inputs (n_test, 1) on [-1, 1] and their targets (n_test, 1)."""
    x = torch.linspace(-1, 1, cfg.n_test, dtype=torch.float64).unsqueeze(1)
    return x.to(dtype), target(x, cfg.n_peaks, cfg.sharpness).to(dtype)


def region_masks(x: Tensor, n_peaks: int) -> list[Tensor]:
    """Per region, which of the points x (N, 1) lie in it (ends included): P boolean masks (N,)."""
    return [(x[:, 0] >= lo) & (x[:, 0] <= hi) for lo, hi in regions(n_peaks)]


# ---------------------------------------------------------------- the models
def build_kan(cfg: ContinualConfig, dtype: torch.dtype = torch.float64) -> KAN:
    """The KAN [1, 1] of the config: cfg.kan_grid intervals on [-1, 1], no grid updates ever.

    Without ``kan_base`` it is only its spline, phi(x) = sum_k c_k B_k(x): pykan's tutorial freezes
    the base branch and the bias for this example, since both act on every x and would let a new
    phase move the old regions.
    """
    torch.manual_seed(cfg.seed)
    return KAN(
        [1, 1],
        basis=cfg.kan_basis,
        grid_size=cfg.kan_grid,
        base_activation="silu" if cfg.kan_base else "none",
        bias=cfg.kan_base,
        init_scale=cfg.kan_init_scale,
        dtype=dtype,
    )


def build_continual_mlp(cfg: ContinualConfig, dtype: torch.dtype = torch.float64) -> nn.Module:
    """The MLP of the config (1 input, cfg.mlp_depth Linear layers of cfg.mlp_width, 1 output)."""
    torch.manual_seed(cfg.seed)
    return build_mlp(1, cfg.mlp_depth, cfg.mlp_width, cfg.mlp_activation, dtype)


# ------------------------------------------------------------------ training
def _region_rmse(pred: Tensor, y: Tensor, mask: Tensor) -> float:
    return (pred[mask] - y[mask]).pow(2).mean().sqrt().item()


def learn_in_phases(
    model: nn.Module,
    phases: list[Phase],
    evaluation: Phase,
    masks: list[Tensor],
    steps: int,
    log: Log = None,
    label: str = "model",
) -> list[dict[str, Any]]:
    """Train ``model`` on each phase's data in turn (``steps`` LBFGS steps, a fresh optimiser each phase).

    After phase i (1-based) it records: the RMSE on each of the regions 1..i (evaluation points in the
    region), on the whole curve, on the phase's own training points, and the prediction (n_test,) over
    the evaluation points. Returns one such mapping per phase.
    """
    x_eval, y_eval = evaluation
    tolerances = lbfgs_tolerances(x_eval.dtype)
    records = []
    for i, (x, y) in enumerate(phases):
        train_lbfgs(model, x, y, steps, **tolerances)
        with torch.no_grad():
            pred = model(x_eval)
        record = {
            "phase": i + 1,
            "region_rmse": [_region_rmse(pred, y_eval, m) for m in masks[: i + 1]],
            "full_rmse": _region_rmse(pred, y_eval, torch.ones_like(masks[0])),
            "train_rmse": rmse(model, x, y),
            "prediction": [round(v, CURVE_DECIMALS) for v in pred[:, 0].tolist()],
        }
        records.append(record)
        seen = ", ".join(f"{e:.2g}" for e in record["region_rmse"])
        say(
            log,
            f"[continual] {label} after phase {i + 1}: RMSE on regions seen [{seen}], full {record['full_rmse']:.3g}",
        )
    return records


def forgetting(records: list[dict[str, Any]]) -> list[float]:
    """Per region i: its RMSE after the last phase minus its RMSE right after phase i (> 0: forgotten)."""
    last = records[-1]["region_rmse"]
    return [last[i] - records[i]["region_rmse"][i] for i in range(len(records))]


def run_model(
    kind: str, model: nn.Module, label: str, cfg: ContinualConfig, dtype: torch.dtype, log: Log = None
) -> dict[str, Any]:
    """One model through every phase of the config: its parameters, per-phase records and forgetting."""
    evaluation = evaluation_points(cfg, dtype)
    masks = region_masks(evaluation[0], cfg.n_peaks)
    start = time.perf_counter()
    records = learn_in_phases(model, phase_data(cfg, dtype), evaluation, masks, cfg.steps_per_phase, log, label)
    forgot = forgetting(records)
    return {
        "kind": kind,
        "label": label,
        "params": param_count(model),
        "seconds": time.perf_counter() - start,
        "phases": records,
        "forgetting": forgot,
        "max_forgetting": max(forgot),
    }


def kan_label(cfg: ContinualConfig) -> str:
    base = ", SiLU base + bias trained" if cfg.kan_base else ""
    return f"KAN [1, 1] {cfg.kan_basis} G={cfg.kan_grid}{base}"


def mlp_label(cfg: ContinualConfig) -> str:
    return f"MLP depth {cfg.mlp_depth} width {cfg.mlp_width} ({cfg.mlp_activation})"


def run_continual(cfg: ContinualConfig, log: Log = print) -> dict[str, Any]:
    """Both models of the config through the phases; results as the report writes them."""
    dtype = DTYPES[cfg.dtype]
    with torch_threads(cfg.threads):
        start = time.perf_counter()
        kan = run_model("kan", build_kan(cfg, dtype), kan_label(cfg), cfg, dtype, log)
        mlp = run_model("mlp", build_continual_mlp(cfg, dtype), mlp_label(cfg), cfg, dtype, log)
        seconds = time.perf_counter() - start
    x_eval, y_eval = evaluation_points(cfg, torch.float64)
    return {
        "experiment": "continual",
        "name": cfg.name,
        "description": cfg.description,
        "config": config_dict(cfg),
        "regions": [list(r) for r in regions(cfg.n_peaks)],
        "samples": [
            {
                "x": [round(v, CURVE_DECIMALS) for v in x[:, 0].tolist()],
                "y": [round(v, CURVE_DECIMALS) for v in y[:, 0].tolist()],
            }
            for x, y in phase_data(cfg, torch.float64)
        ],
        "curve": {
            "x": [round(v, CURVE_DECIMALS) for v in x_eval[:, 0].tolist()],
            "target": [round(v, CURVE_DECIMALS) for v in y_eval[:, 0].tolist()],
        },
        "models": [kan, mlp],
        "seconds": seconds,
    }
