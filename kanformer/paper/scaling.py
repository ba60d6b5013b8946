"""Scaling laws of the KAN paper: test RMSE against parameter count under grid extension, next to MLPs.

    cfg = load_fit_config("configs/paper/toy.yaml")
    results = run_scaling(cfg)  # JSON-able: per function the KAN stages, the MLP runs, fitted exponents

The paper (Liu et al., 2024, Sec. 3.1) predicts test RMSE ~ N^-(k+1) = N^-4 for cubic
splines when the KAN shape represents the function exactly. :func:`fit_exponent`
measures the exponent on the stretch of the curve where the error still falls (its rule
is in its docstring). MLPs of several depths and widths, trained with the same LBFGS on
the same points, are the baseline; their exponent is fitted across widths per depth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from .config import (  # noqa: F401 - the configs, re-exported where they were defined
    DTYPE_NAMES,
    MLP_ACTIVATIONS,
    FitConfig,
    ToyFunction,
    TrainingSettings,
    config_dict,
    load_fit_config,
    parse_fit_config,
)
from .fitting import (
    PAPER_FUNCTIONS,
    FitStage,
    fit_kan,
    lbfgs_tolerances,
    paper_data,
    param_count,
    rmse,
    train_lbfgs,
)

T = TypeVar("T")

DTYPES: dict[str, torch.dtype] = {name: getattr(torch, name) for name in DTYPE_NAMES}
_MODULES: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}
ACTIVATIONS: dict[str, type[nn.Module]] = {name: _MODULES[name] for name in MLP_ACTIVATIONS}

Log = Callable[[str], None] | None


# ------------------------------------------------------------------ MLP baselines
def build_mlp(
    in_dim: int, depth: int, width: int, activation: str = "silu", dtype: torch.dtype = torch.float64
) -> nn.Sequential:
    """An MLP (N, in_dim) -> (N, 1) with ``depth`` Linear layers (depth - 1 hidden layers of ``width``)."""
    if depth < 2 or width < 1:
        raise ValueError(f"MLP depth={depth}, width={width} is invalid: need depth >= 2 and width >= 1")
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth - 1):
        layers += [nn.Linear(d, width, dtype=dtype), ACTIVATIONS[activation]()]
        d = width
    layers.append(nn.Linear(d, 1, dtype=dtype))
    return nn.Sequential(*layers)


def mlp_param_count(in_dim: int, depth: int, width: int) -> int:
    """Parameters of :func:`build_mlp` (in_dim, depth, width), without building it."""
    return (in_dim + 1) * width + (depth - 2) * (width + 1) * width + width + 1


@dataclass
class MLPRun:
    depth: int
    width: int
    params: int
    train_rmse: float
    test_rmse: float
    seconds: float
    val_rmse: float | None = None


def fit_mlp(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    depth: int,
    width: int,
    steps: int,
    seed: int = 0,
    activation: str = "silu",
    x_val: Tensor | None = None,
    y_val: Tensor | None = None,
) -> MLPRun:
    """Train an MLP on (x_train (N, d), y_train (N, 1)) with :func:`train_lbfgs` in the data's dtype."""
    torch.manual_seed(seed)
    model = build_mlp(x_train.shape[1], depth, width, activation, x_train.dtype)
    start = time.perf_counter()
    train_lbfgs(model, x_train, y_train, steps, **lbfgs_tolerances(x_train.dtype))
    return MLPRun(
        depth=depth,
        width=width,
        params=param_count(model),
        train_rmse=rmse(model, x_train, y_train),
        test_rmse=rmse(model, x_test, y_test),
        seconds=time.perf_counter() - start,
        val_rmse=None if x_val is None or y_val is None else rmse(model, x_val, y_val),
    )


# -------------------------------------------------------------- exponent fit
@dataclass
class ScalingFit:
    """RMSE ~ prefactor * N^-exponent on the points whose parameter counts are ``params`` (the fit window)."""

    exponent: float | None
    prefactor: float | None
    params: list[int]
    rmse: list[float]


def fit_exponent(params: Sequence[float], rmse: Sequence[float], flat_slope: float = 0.5) -> ScalingFit:
    """Least-squares slope of log RMSE against log N on the stretch where the error still falls.

    The rule, on the points sorted by N (non-finite or non-positive RMSE dropped, equal N
    merged keeping the lower RMSE):

    1. cut after the lowest RMSE: beyond it the error rises (overfitting, LBFGS noise);
    2. drop trailing segments whose local slope d log RMSE / d log N is flatter than
       ``-flat_slope``: the error has saturated (float precision, optimiser);
    3. drop leading segments that flat: the model does not resolve the function yet
       (e.g. J0(20x) on 3 intervals), the pre-asymptotic regime.

    Flat segments in the middle stay. Fewer than two points left: no exponent (None).

    Args:
        params: (P,) parameter counts.
        rmse: (P,) test RMSE at those counts.
        flat_slope: local slopes above ``-flat_slope`` count as flat.
    """
    best: dict[float, float] = {}
    for n, r in zip(params, rmse, strict=True):
        if math.isfinite(r) and r > 0 and n > 0:
            best[n] = min(r, best.get(n, math.inf))
    ns = sorted(best)
    if len(ns) < 2:
        return ScalingFit(None, None, [int(n) for n in ns], [best[n] for n in ns])
    log_n = np.log(np.asarray(ns, dtype=np.float64))
    log_r = np.log(np.asarray([best[n] for n in ns], dtype=np.float64))
    stop = int(np.argmin(log_r)) + 1
    slopes = np.diff(log_r) / np.diff(log_n)  # slopes[i]: segment from point i to i + 1
    start = 0
    while stop - start >= 2 and slopes[stop - 2] > -flat_slope:
        stop -= 1
    while stop - start >= 2 and slopes[start] > -flat_slope:
        start += 1
    window = ns[start:stop]
    if len(window) < 2:
        return ScalingFit(None, None, [int(n) for n in window], [best[n] for n in window])
    slope, intercept = np.polyfit(log_n[start:stop], log_r[start:stop], 1)
    return ScalingFit(float(-slope), float(math.exp(intercept)), [int(n) for n in window], [best[n] for n in window])


@torch.no_grad()
def least_squares_rmse(
    model: nn.Module, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor
) -> tuple[float, float]:
    """Train and test RMSE of the *optimal* parameters of a model linear in its parameters.

    A one-layer KAN is: y = b + w * base(x) + sum_k c_k B_k(x). Its best fit on the
    training set is then a linear least-squares problem, which separates the spline
    approximation law (what the paper's N^-4 is about) from what LBFGS reaches. The
    design matrix column of parameter i is the model's output with parameter vector e_i
    (exact for a linear model with zero output at zero parameters). The model is left as
    it was.

    Args:
        model: linear in its parameters, (N, d) -> (N, 1).
        x_train, y_train, x_test, y_test: (N, d) inputs and (N, 1) targets.
    """
    params = list(model.parameters())
    saved = parameters_to_vector(params)
    unit = torch.zeros_like(saved)

    def design(x: Tensor) -> Tensor:
        cols = []
        for i in range(unit.numel()):
            unit[i] = 1
            vector_to_parameters(unit, params)
            cols.append(model(x).reshape(-1))
            unit[i] = 0
        return torch.stack(cols, 1)  # (N, P)

    try:
        a_train, a_test = design(x_train), design(x_test)
    finally:
        vector_to_parameters(saved, params)
    # gelsd: minimum-norm solution, as the base and bias columns lie in the spline span.
    theta = torch.linalg.lstsq(a_train.cpu(), y_train.cpu(), driver="gelsd").solution.to(a_train)
    return (
        (a_train @ theta - y_train).pow(2).mean().sqrt().item(),
        (a_test @ theta - y_test).pow(2).mean().sqrt().item(),
    )


# -------------------------------------------------------------------- sweep
@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads, then restore the previous count.

    These problems are tiny (1000 points, at most a few thousand parameters): on a
    shared CPU extra threads mostly spin and wait, a fit ran 5-7x slower with 2 threads
    than with 1 while other jobs were running.
    """
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def say(log: Log, text: str) -> None:
    """One progress line, unless ``log`` is None (quiet)."""
    if log is not None:
        log(text)


def mlp_sweep(
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    depths: Sequence[int],
    widths: Sequence[int],
    steps: int,
    seed: int,
    activation: str,
    label: str,
    log: Log,
    val: tuple[Tensor, Tensor] | None = None,
    max_params: int | None = None,
) -> list[MLPRun]:
    """Every (depth, width) MLP on one dataset (x_train, y_train, x_test, y_test), skipping those over max_params."""
    runs = []
    for depth in depths:
        for width in widths:
            if max_params is not None and mlp_param_count(data[0].shape[1], depth, width) > max_params:
                continue
            run = fit_mlp(*data, depth, width, steps, seed, activation, *(val or (None, None)))
            say(
                log,
                f"[{label}] MLP depth {depth} width {width}: {run.params} params, "
                f"test RMSE {run.test_rmse:.3g} ({run.seconds:.1f} s)",
            )
            runs.append(run)
    return runs


def pareto_front(rows: Sequence[Mapping[str, Any]], key: str = "test_rmse") -> list[Mapping[str, Any]]:
    """The rows no cheaper-or-equal row beats on ``key`` (finite values only), by increasing ``params``.

    Missing values (None, as results.json stores NaN) are skipped like NaN.
    """
    front: list[Mapping[str, Any]] = []
    for r in sorted(rows, key=lambda r: (r["params"], math.inf if r[key] is None else r[key])):
        value = r[key]
        if value is not None and math.isfinite(value) and (not front or value < front[-1][key]):
            front.append(r)
    return front


def _min_rmse(rows: Sequence[Mapping[str, Any]]) -> float:
    values = [r["test_rmse"] for r in rows if math.isfinite(r["test_rmse"])]
    return min(values) if values else math.inf


def run_scaling(cfg: FitConfig, log: Log = print) -> dict[str, Any]:
    """Run the sweep of ``cfg``: a JSON-able dict with, per function, the KAN stages, MLP runs and fits."""
    with torch_threads(cfg.threads):
        return _run_scaling(cfg, log)


def _run_scaling(cfg: FitConfig, log: Log) -> dict[str, Any]:
    start = time.perf_counter()
    functions = [_sweep_function(spec, cfg, log) for spec in cfg.functions]
    return {
        "experiment": "fit",
        "name": cfg.name,
        "description": cfg.description,
        "config": config_dict(cfg),
        "functions": functions,
        "wall_seconds": time.perf_counter() - start,
    }


def _sweep_function(spec: ToyFunction, cfg: FitConfig, log: Log) -> dict[str, Any]:
    """KAN grid extension, its least-squares reference (one-layer KANs) and the MLP grid on one function."""
    data = paper_data(spec.function, cfg.n_train, cfg.n_test, cfg.seed, DTYPES[cfg.dtype])
    label, steps = spec.function, spec.steps_per_grid or cfg.steps_per_grid
    optimum: list[dict[str, float]] = []

    def progress(stage: FitStage, model: nn.Module) -> None:
        text = (
            f"[{label}] KAN G={stage.grid_size}: {stage.params} params, train RMSE {stage.train_rmse:.3g}, "
            f"test RMSE {stage.test_rmse:.3g} ({stage.seconds:.1f} s)"
        )
        if len(model.layers) == 1:
            train, test = least_squares_rmse(model, *data)
            optimum.append({"params": stage.params, "train_rmse": train, "test_rmse": test})
            text += f"; least-squares optimum: test RMSE {test:.3g}"
        say(log, text)

    stages = fit_kan(
        *data, widths=spec.widths, grids=spec.grids, steps_per_grid=steps, on_stage=progress, **cfg.kan_options()
    )
    kan_fit = fit_exponent([s.params for s in stages], [s.test_rmse for s in stages], cfg.flat_slope)
    reference = None
    if optimum:
        fit = fit_exponent([r["params"] for r in optimum], [r["test_rmse"] for r in optimum], cfg.flat_slope)
        reference = {"stages": optimum, "fit": asdict(fit)}
    mlps = mlp_sweep(data, cfg.mlp_depths, cfg.mlp_widths, cfg.mlp_steps, cfg.seed, cfg.mlp_activation, label, log)
    mlp_rows = [asdict(m) for m in mlps]
    front = pareto_front(mlp_rows)
    front_fit = fit_exponent([r["params"] for r in front], [r["test_rmse"] for r in front], cfg.flat_slope)
    mlp_fits = {
        str(d): asdict(
            fit_exponent(
                [m.params for m in mlps if m.depth == d], [m.test_rmse for m in mlps if m.depth == d], cfg.flat_slope
            )
        )
        for d in cfg.mlp_depths
    }
    best_depth = min(cfg.mlp_depths, key=lambda d: _min_rmse([r for r in mlp_rows if r["depth"] == d]))
    say(log, f"[{label}] KAN exponent {_alpha_text(kan_fit.exponent)}; best MLP depth {best_depth}")
    return {
        "function": spec.function,
        "dim": PAPER_FUNCTIONS[spec.function][0],
        "kan": {
            "widths": spec.widths,
            "grids": spec.grids,
            "steps_per_grid": steps,
            "stages": [asdict(s) for s in stages],
            "fit": asdict(kan_fit),
            "least_squares": reference,
        },
        "mlps": mlp_rows,
        "mlp_fits": mlp_fits,
        "best_mlp_depth": best_depth,
        "mlp_front": {"params": [r["params"] for r in front], "fit": asdict(front_fit)},
    }


def _alpha_text(exponent: float | None) -> str:
    return "none" if exponent is None else f"{exponent:.2f}"
