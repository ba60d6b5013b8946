"""Function fitting with grid extension: the KAN paper's toy examples.

from kanformer.paper.fitting import fit_function
stages = fit_function("exp(sin(pi*x)+y^2)", widths=[2, 5, 1], grids=(3, 5, 10))

:func:`fit_kan` is the grid-extension loop on any data; :func:`fit_function` samples one
of :data:`PAPER_FUNCTIONS` and runs it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.special
import torch
from torch import Tensor, nn

from ..layers import KAN


def _bessel(x: Tensor) -> Tensor:
    # scipy's J0 (the paper's target); torch.special.bessel_j0 differs from it in the last bits.
    return torch.from_numpy(scipy.special.j0(20 * x[:, 0].detach().cpu().numpy().astype(np.float64)))


#: name -> (input dimension, f: (N, dim) -> (N,)), inputs uniform on [-1, 1]^dim.
PAPER_FUNCTIONS: dict[str, tuple[int, Callable[[Tensor], Tensor]]] = {
    "J0(20x)": (1, _bessel),
    "exp(sin(pi*x)+y^2)": (2, lambda x: torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2)),
    "x*y": (2, lambda x: x[:, 0] * x[:, 1]),
    "exp(mean(sin^2(pi*x_i/2)), 100d)": (
        100,
        lambda x: torch.exp(torch.sin(math.pi * x / 2).pow(2).mean(1)),
    ),
    "exp((sin(pi(x1^2+x2^2))+sin(pi(x3^2+x4^2)))/2)": (
        4,
        lambda x: torch.exp(
            (torch.sin(math.pi * (x[:, 0] ** 2 + x[:, 1] ** 2)) + torch.sin(math.pi * (x[:, 2] ** 2 + x[:, 3] ** 2)))
            / 2
        ),
    ),
}

#: The paper's grid-extension schedule (intervals per grid).
PAPER_GRIDS: tuple[int, ...] = (3, 5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass
class FitStage:
    grid_size: int
    params: int
    train_rmse: float
    test_rmse: float
    seconds: float


def sample(name: str, n: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """(n, dim) inputs uniform on [-1, 1]^dim and (n, 1) targets of a paper function, in ``dtype``.

    Targets are computed in float64 from the rounded inputs, so they are exact to ``dtype``.
    """
    if name not in PAPER_FUNCTIONS:
        raise ValueError(f"function {name!r} is not known; choose one of {list(PAPER_FUNCTIONS)}")
    dim, fn = PAPER_FUNCTIONS[name]
    x = torch.rand(n, dim, generator=generator, dtype=torch.float64).to(dtype) * 2 - 1
    return x, fn(x.double()).to(dtype).unsqueeze(1)


def rmse(model: torch.nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return (model(x) - y).pow(2).mean().sqrt().item()


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_lbfgs(
    model: torch.nn.Module,
    x: Tensor,
    y: Tensor,
    steps: int,
    tolerance_grad: float = 1e-12,
    tolerance_change: float = 1e-14,
) -> None:
    """``steps`` LBFGS steps (up to 20 iterations each, strong Wolfe) on the MSE of model(x) vs y.

    A step ends early once the gradient or the change of loss/parameters falls below the
    tolerances; float64 fits aiming at RMSE far below 1e-7 need tolerances far below the
    defaults, which are absolute and would stop them at MSE ~ 1e-10.
    """
    opt = torch.optim.LBFGS(
        model.parameters(),
        lr=1,
        max_iter=20,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)


def _check_grids(grids: Sequence[int]) -> None:
    ok = len(grids) >= 1 and all(isinstance(g, int) and g >= 1 for g in grids)
    if not ok or any(b <= a for a, b in zip(grids[:-1], grids[1:], strict=True)):
        raise ValueError(f"grids={list(grids)!r} is invalid: need increasing integers >= 1, e.g. [3, 5, 10]")


def lbfgs_tolerances(dtype: torch.dtype) -> dict[str, float]:
    """LBFGS stopping tolerances for a fit in ``dtype`` (keyword arguments of :func:`train_lbfgs`).

    float64 fits chase RMSE of 1e-7 and below (MSE 1e-14): the float32 tolerances, absolute
    values, would end their steps long before that, so they get pykan's 1e-32.
    """
    if dtype == torch.float64:
        return {"tolerance_grad": 1e-32, "tolerance_change": 1e-32}
    return {}


def _train_stage(model: KAN, x: Tensor, y: Tensor, steps: int, grid_updates: int) -> None:
    """``steps`` LBFGS steps in ``grid_updates + 1`` equal chunks, the grids moved to the data between chunks."""
    chunks = max(grid_updates, 0) + 1
    for c in range(chunks):
        if c:
            model.update_grid(x)
        n = steps * (c + 1) // chunks - steps * c // chunks
        if n:
            train_lbfgs(model, x, y, n, **lbfgs_tolerances(x.dtype))


def fit_kan(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    widths: Sequence[int],
    grids: Sequence[int] = (3, 5, 10),
    steps_per_grid: int = 10,
    seed: int = 0,
    on_stage: Callable[[FitStage, KAN], None] | None = None,
    restarts: int = 1,
    grid_updates: int = 0,
    grid_updates_until: int = 20,
    **layer_kwargs: object,
) -> list[FitStage]:
    """Fit a KAN to (x_train (N, d), y_train (N, 1)) with LBFGS, extending the grid between stages.

    The grid follows the data once (update_grid) before the first stage; each
    extension refines it preserving the learned function (extend_grid), then LBFGS
    continues. The model is built in the dtype of x_train.

    Args:
        restarts: the first stage runs from this many initialisations (seeds ``seed``,
            ``seed + 1``, ...) and the one with the lowest *training* RMSE continues. Narrow
            KANs such as [2, 1, 1] can collapse their hidden activations into one grid
            interval and stall there, which no later grid undoes.
        grid_updates: per stage, move the grids to the data this many times, evenly
            through the stage's steps: hidden activations drift while training and can
            leave (or crowd into a corner of) the grid they started on.
        grid_updates_until: only stages with at most this many intervals move their
            grids. A move refits the coefficients by least squares on the training
            activations; on fine grids some intervals hold no sample, their coefficients
            come out zero and the test error jumps (seen for x*y on G >= 100, 1000 points).
        on_stage: ``on_stage(stage, model)`` sees the model after each stage (extra
            evaluations, progress).

    Returns one :class:`FitStage` per grid size.
    """
    _check_grids(grids)
    if widths[0] != x_train.shape[1]:
        raise ValueError(f"widths[0]={widths[0]} does not match the input dimension {x_train.shape[1]}")
    if not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts={restarts!r} is invalid: need an integer >= 1")
    start = time.perf_counter()
    model, best = None, math.inf
    for r in range(restarts):
        torch.manual_seed(seed + r)
        candidate = KAN(list(widths), grid_size=grids[0], dtype=x_train.dtype, **layer_kwargs)
        candidate.update_grid(x_train)
        _train_stage(candidate, x_train, y_train, steps_per_grid, grid_updates if grids[0] <= grid_updates_until else 0)
        loss = rmse(candidate, x_train, y_train)
        loss = loss if math.isfinite(loss) else math.inf  # a diverged start never wins over a finite one
        if model is None or loss < best:
            model, best = candidate, loss
    assert model is not None
    stages = []
    for i, g in enumerate(grids):
        if i:
            model.extend_grid(g)
            # Parameters are replaced when the grid grows: a fresh optimiser each stage.
            _train_stage(model, x_train, y_train, steps_per_grid, grid_updates if g <= grid_updates_until else 0)
        stage = FitStage(
            grid_size=g,
            params=param_count(model),
            train_rmse=rmse(model, x_train, y_train),
            test_rmse=rmse(model, x_test, y_test),
            seconds=time.perf_counter() - start,
        )
        stages.append(stage)
        if on_stage is not None:
            on_stage(stage, model)
    return stages


def fit_function(
    name: str,
    widths: Sequence[int] = (2, 5, 1),
    grids: Sequence[int] = (3, 5, 10),
    steps_per_grid: int = 10,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    on_stage: Callable[[FitStage, KAN], None] | None = None,
    **layer_kwargs: object,
) -> list[FitStage]:
    """Fit a KAN to a paper function with grid extension (:func:`fit_kan` on fresh samples).

    Train and test sets are drawn from one generator seeded with ``seed`` (train first),
    so :func:`paper_data` with the same arguments gives the same points.
    """
    x_train, y_train, x_test, y_test = paper_data(name, n_train, n_test, seed, dtype)
    if widths[0] != x_train.shape[1]:
        raise ValueError(f"widths[0]={widths[0]} does not match the input dimension {x_train.shape[1]} of {name!r}")
    return fit_kan(x_train, y_train, x_test, y_test, widths, grids, steps_per_grid, seed, on_stage, **layer_kwargs)


def paper_data(
    name: str, n_train: int, n_test: int, seed: int = 0, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """x_train (n_train, d), y_train (n_train, 1), x_test (n_test, d), y_test (n_test, 1) of a paper function."""
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train = sample(name, n_train, gen, dtype)
    x_test, y_test = sample(name, n_test, gen, dtype)
    return x_train, y_train, x_test, y_test
