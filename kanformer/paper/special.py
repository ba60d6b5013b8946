"""Special functions (the KAN paper's Table 1): best KAN vs best MLP at matched parameter budgets.

    cfg = load_special_config("configs/paper/special.yaml")
    results = run_special(cfg)

Every function has two inputs, sampled uniformly on a box where it is finite and smooth
(:data:`SPECIAL_FUNCTIONS` lists the boxes) and rescaled to [-1, 1]^2 before they reach
a model; targets come from ``scipy.special`` in float64. Each KAN shape is fitted with
grid extension (every grid is a candidate model) and each MLP (depth x width) with the
same LBFGS. Under a parameter budget B the best model of each kind is the one with the
lowest *validation* RMSE among those with at most B parameters; its *test* RMSE is
reported, so the selection does not peek at the test set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special as sp
import torch
from torch import Tensor, nn

from .config import SpecialConfig, config_dict, load_special_config, parse_special_config  # noqa: F401
from .fitting import FitStage, fit_kan, rmse
from .scaling import DTYPES, Log, mlp_sweep, say, torch_threads

Box = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class SpecialFunction:
    """f(a, b) of two float64 arrays, the scipy call it stands for, and the box (a range, b range) sampled."""

    api: str
    domain: Box
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _sph_harm(m: int, n: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    # Real part: Y_n^m is complex for m != 0, and Re Y carries the azimuthal dependence.
    return lambda theta, phi: np.real(sp.sph_harm_y(n, m, theta, phi))


def _lpmv(m: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda v, x: sp.lpmv(m, v, x)


_BESSEL: Box = ((0.0, 2.0), (1.0, 4.0))  # order v, argument x >= 1: away from Y_v's and K_v's pole at 0
_ELLIPTIC: Box = ((-1.5, 1.5), (0.0, 0.9))  # amplitude phi, parameter m < 1: F(phi|m) stays finite
_LEGENDRE: Box = ((0.0, 3.0), (-0.8, 0.8))  # degree v, x off -1 where P_v of non-integer v is singular
_SPHERE: Box = ((0.0, math.pi), (0.0, 2 * math.pi))  # polar theta, azimuth phi

#: name -> the function, a subset of the paper's Table 1 (2-d inputs each).
SPECIAL_FUNCTIONS: dict[str, SpecialFunction] = {
    "ellipj": SpecialFunction("ellipj(u, m)[0] (sn)", ((-2.0, 2.0), (0.0, 1.0)), lambda u, m: sp.ellipj(u, m)[0]),
    "ellipkinc": SpecialFunction("ellipkinc(phi, m)", _ELLIPTIC, sp.ellipkinc),
    "ellipeinc": SpecialFunction("ellipeinc(phi, m)", _ELLIPTIC, sp.ellipeinc),
    "jv": SpecialFunction("jv(v, x)", _BESSEL, sp.jv),
    "yv": SpecialFunction("yv(v, x)", _BESSEL, sp.yv),
    "kv": SpecialFunction("kv(v, x)", _BESSEL, sp.kv),
    "iv": SpecialFunction("iv(v, x)", _BESSEL, sp.iv),
    "lpmv_m0": SpecialFunction("lpmv(0, v, x)", _LEGENDRE, _lpmv(0)),
    "lpmv_m1": SpecialFunction("lpmv(1, v, x)", _LEGENDRE, _lpmv(1)),
    "lpmv_m2": SpecialFunction("lpmv(2, v, x)", _LEGENDRE, _lpmv(2)),
    "sph_harm_m0_n1": SpecialFunction("Re sph_harm_y(1, 0, theta, phi)", _SPHERE, _sph_harm(0, 1)),
    "sph_harm_m1_n1": SpecialFunction("Re sph_harm_y(1, 1, theta, phi)", _SPHERE, _sph_harm(1, 1)),
    "sph_harm_m0_n2": SpecialFunction("Re sph_harm_y(2, 0, theta, phi)", _SPHERE, _sph_harm(0, 2)),
    "sph_harm_m1_n2": SpecialFunction("Re sph_harm_y(2, 1, theta, phi)", _SPHERE, _sph_harm(1, 2)),
    "sph_harm_m2_n2": SpecialFunction("Re sph_harm_y(2, 2, theta, phi)", _SPHERE, _sph_harm(2, 2)),
}


def _function(name: str) -> SpecialFunction:
    if name not in SPECIAL_FUNCTIONS:
        raise ValueError(f"special function {name!r} is not known; choose one of {list(SPECIAL_FUNCTIONS)}")
    return SPECIAL_FUNCTIONS[name]


def special_sample(
    name: str, n: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    """(n, 2) inputs uniform on the function's box and (n, 1) scipy targets (computed in float64)."""
    spec = _function(name)
    lo = torch.tensor([r[0] for r in spec.domain], dtype=torch.float64)
    hi = torch.tensor([r[1] for r in spec.domain], dtype=torch.float64)
    x = lo + torch.rand(n, 2, generator=generator, dtype=torch.float64) * (hi - lo)
    a, b = x.numpy().T
    y = torch.from_numpy(np.asarray(spec.fn(a, b), dtype=np.float64))
    return x.to(dtype), y.to(dtype).unsqueeze(1)


def to_unit(name: str, x: Tensor) -> Tensor:
    """Inputs (n, 2) on the function's box -> (n, 2) on [-1, 1]^2, what the models see."""
    box = torch.tensor(_function(name).domain, dtype=x.dtype)  # (2, 2): rows are (lo, hi) per input
    return 2 * (x - box[:, 0]) / (box[:, 1] - box[:, 0]) - 1


# ---------------------------------------------------------------- selection
def best_under_budget(points: Sequence[Mapping[str, Any]], kind: str, budget: int) -> Mapping[str, Any] | None:
    """The ``kind`` point with the lowest validation RMSE among those with <= budget parameters."""
    fits = [p for p in points if p["kind"] == kind and p["params"] <= budget and math.isfinite(p["val_rmse"])]
    return min(fits, key=lambda p: p["val_rmse"]) if fits else None


# --------------------------------------------------------------------- run
def _kan_points(
    name: str,
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    cfg: SpecialConfig,
    log: Log,
) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    for shape in cfg.kan_shapes:

        def record(stage: FitStage, model: nn.Module, shape: list[int] = shape) -> None:
            point = {
                "kind": "kan",
                "label": f"KAN {shape} G={stage.grid_size}",
                "shape": shape,
                "grid": stage.grid_size,
                "params": stage.params,
                "train_rmse": stage.train_rmse,
                "val_rmse": rmse(model, *val),
                "test_rmse": stage.test_rmse,
                "seconds": stage.seconds,
            }
            points.append(point)
            say(log, f"[{name}] {point['label']}: {stage.params} params, test RMSE {stage.test_rmse:.3g}")

        fit_kan(
            *data,
            widths=shape,
            grids=cfg.kan_grids,
            steps_per_grid=cfg.steps_per_grid,
            on_stage=record,
            **cfg.kan_options(),
        )
    return points


def run_special(cfg: SpecialConfig, log: Log = print) -> dict[str, Any]:
    """KAN shapes x grids and MLP depths x widths on every function of ``cfg``: a JSON-able dict."""
    with torch_threads(cfg.threads):
        return _run_special(cfg, log)


def _run_special(cfg: SpecialConfig, log: Log) -> dict[str, Any]:
    dtype = DTYPES[cfg.dtype]
    start = time.perf_counter()
    functions = []
    for name in cfg.functions:
        spec = SPECIAL_FUNCTIONS[name]
        gen = torch.Generator().manual_seed(cfg.seed)
        splits = [special_sample(name, n, gen, dtype) for n in (cfg.n_train, cfg.n_val, cfg.n_test)]
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = [(to_unit(name, x), y) for x, y in splits]
        data = (x_tr, y_tr, x_te, y_te)
        points = _kan_points(name, data, (x_va, y_va), cfg, log)
        # An MLP over the largest budget can never be chosen: not trained at all.
        runs = mlp_sweep(
            data,
            cfg.mlp_depths,
            cfg.mlp_widths,
            cfg.mlp_steps,
            cfg.seed,
            cfg.mlp_activation,
            name,
            log,
            (x_va, y_va),
            max_params=max(cfg.budgets),
        )
        points += [
            {
                "kind": "mlp",
                "label": f"MLP depth {r.depth} width {r.width}",
                "depth": r.depth,
                "width": r.width,
                "params": r.params,
                "train_rmse": r.train_rmse,
                "val_rmse": r.val_rmse,
                "test_rmse": r.test_rmse,
                "seconds": r.seconds,
            }
            for r in runs
        ]
        budgets = []
        for budget in cfg.budgets:
            kan, mlp = best_under_budget(points, "kan", budget), best_under_budget(points, "mlp", budget)
            ratio = kan["test_rmse"] / mlp["test_rmse"] if kan and mlp and mlp["test_rmse"] > 0 else None
            budgets.append({"budget": budget, "kan": kan, "mlp": mlp, "kan_over_mlp": ratio})
        functions.append(
            {
                "function": name,
                "api": f"scipy.special.{spec.api}",
                "domain": [list(r) for r in spec.domain],
                "target_std": float(torch.cat([y_tr, y_va, y_te]).std()),
                "points": points,
                "budgets": budgets,
            }
        )
    return {
        "experiment": "special",
        "name": cfg.name,
        "description": cfg.description,
        "config": config_dict(cfg),
        "functions": functions,
        "wall_seconds": time.perf_counter() - start,
    }
