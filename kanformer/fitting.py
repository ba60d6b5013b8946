"""The KAN training loop: LBFGS on full batches, best of several starts, grid updates and grid extension.

    from kanformer.fitting import grow_kan
    kan = grow_kan(x, y, [2, 5, 1], grids=(3, 5, 10), steps_per_grid=10)   # x (N, 2), y (N, 1)

One loop for the paper's scaling experiments (:func:`kanformer.paper.fitting.fit_kan`) and for
symbolic regression (:func:`kanformer.interpret.symbolic_fit.train_kan`); they differ only in options.
The loss LBFGS minimises is an ``objective(model, x, y)`` (default: mean squared error), so a
regularised objective (pykan's sparse training: MSE plus λ times :meth:`KAN.regularization_loss`)
plugs in without another loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from .layers import KAN

#: ``objective(model, x, y)`` -> the scalar loss LBFGS minimises.
Objective = Callable[[nn.Module, Tensor, Tensor], Tensor]


def mse(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of model(x) against y: the default objective."""
    return (model(x) - y).pow(2).mean()


def rmse(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Root mean squared error of model(x) against y, without gradients."""
    with torch.no_grad():
        return (model(x) - y).pow(2).mean().sqrt().item()


def param_count(model: nn.Module) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def train_lbfgs(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    steps: int,
    tolerance_grad: float = 1e-12,
    tolerance_change: float = 1e-14,
    objective: Objective = mse,
    before_step: Callable[[int], None] | None = None,
) -> None:
    """``steps`` LBFGS steps (up to 20 iterations each, strong Wolfe) on ``objective(model, x, y)``.

    A step ends early once the gradient or the change of loss/parameters falls below the
    tolerances; float64 fits aiming at RMSE far below 1e-7 need tolerances far below the
    defaults, which are absolute and would stop them at MSE ~ 1e-10 (see :func:`lbfgs_tolerances`).
    ``before_step(i)`` runs before step i (0-based): a schedule of the objective hooks in there.
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
        loss = objective(model, x, y)
        loss.backward()
        return loss

    for i in range(steps):
        if before_step is not None:
            before_step(i)
        opt.step(closure)


def lbfgs_tolerances(dtype: torch.dtype) -> dict[str, float]:
    """LBFGS stopping tolerances for a fit in ``dtype`` (keyword arguments of :func:`train_lbfgs`).

    float64 fits chase RMSE of 1e-7 and below (MSE 1e-14): the float32 tolerances, absolute
    values, would end their steps long before that, so they get pykan's 1e-32.
    """
    if dtype == torch.float64:
        return {"tolerance_grad": 1e-32, "tolerance_change": 1e-32}
    return {}


def check_grids(grids: Sequence[int]) -> None:
    """ValueError unless ``grids`` are increasing integers >= 1."""
    ok = len(grids) >= 1 and all(isinstance(g, int) and g >= 1 for g in grids)
    if not ok or any(b <= a for a, b in zip(grids[:-1], grids[1:], strict=True)):
        raise ValueError(f"grids={list(grids)!r} is invalid: need increasing integers >= 1, e.g. [3, 5, 10]")


def grow_kan(
    x: Tensor,
    y: Tensor,
    widths: Sequence[int],
    grids: Sequence[int] = (3, 5, 10),
    steps_per_grid: int = 10,
    *,
    seed: int = 0,
    restarts: int = 1,
    grid_eps: float | None = None,
    update_grid_each_stage: bool = False,
    grid_updates: int = 0,
    grid_updates_until: int = 20,
    tolerances: Mapping[str, float] | None = None,
    objective: Objective = mse,
    on_stage: Callable[[int, KAN], None] | None = None,
    **layer_kwargs: object,
) -> KAN:
    """A KAN fitted to (x (N, d), y (N, 1)) with LBFGS, one stage per grid size, extending the grid between stages.

    The model is built in x's dtype. Its grids follow the data (update_grid) before the first
    stage; each extension refines them preserving the learned function (extend_grid), then LBFGS
    continues with a fresh optimiser (extension replaces the parameters).

    Args:
        restarts: the first stage runs from this many initialisations (seeds ``seed``,
            ``seed + 1``, ...) and the one with the lowest training RMSE continues (a non-finite
            one never wins). Narrow KANs such as [2, 1, 1] can collapse their hidden activations
            into one grid interval and stall there, which no later grid undoes.
        grid_eps: passed to every update_grid: 1.0 keeps uniform grids (the fast closed-form
            B-spline path), None the layers' own setting.
        update_grid_each_stage: move the grids to the data before every stage, not only the
            first, so hidden activations that drifted stay inside the next layer's grid.
        grid_updates: per stage, move the grids to the data this many more times, evenly
            through the stage's steps.
        grid_updates_until: only stages with at most this many intervals make those
            ``grid_updates``. A move refits the coefficients by least squares on the training
            activations; on fine grids some intervals hold no sample, their coefficients come
            out zero and the test error jumps (seen for x*y on G >= 100, 1000 points).
        tolerances: LBFGS tolerances (keyword arguments of :func:`train_lbfgs`); None picks
            them by dtype (:func:`lbfgs_tolerances`).
        objective: the loss LBFGS minimises, ``objective(model, x, y)``; default MSE. When it has a
            ``set_step(step)`` method, it is called before every LBFGS step with the step's index
            counted over the stages (0, 1, ...): a schedule, such as the warm-up of
            :class:`kanformer.interpret.sparse.SparseObjective`'s ``lamb``, lives in the objective.
        on_stage: ``on_stage(grid_size, model)`` sees the model after each stage (after the
            choice among restarts for the first).
        **layer_kwargs: passed to :class:`KAN` (basis, spline order, ...).
    """
    check_grids(grids)
    if widths[0] != x.shape[1]:
        raise ValueError(f"widths[0]={widths[0]} does not match the input dimension {x.shape[1]}")
    if not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts={restarts!r} is invalid: need an integer >= 1")
    lbfgs = dict(lbfgs_tolerances(x.dtype) if tolerances is None else tolerances)
    set_step = getattr(objective, "set_step", None)
    done = [0]  # LBFGS steps taken by the model being trained (restarts start again at 0)

    def before_step(_: int) -> None:
        if set_step is not None:
            set_step(done[0])
        done[0] += 1

    def stage(model: KAN, grid: int, first: bool) -> None:
        if first or update_grid_each_stage:
            model.update_grid(x, grid_eps)
        chunks = (max(grid_updates, 0) if grid <= grid_updates_until else 0) + 1
        for c in range(chunks):
            if c:
                model.update_grid(x, grid_eps)
            n = steps_per_grid * (c + 1) // chunks - steps_per_grid * c // chunks
            if n:
                train_lbfgs(model, x, y, n, objective=objective, before_step=before_step, **lbfgs)

    model, best = None, math.inf
    for r in range(restarts):
        torch.manual_seed(seed + r)
        done[0] = 0
        candidate = KAN(list(widths), grid_size=grids[0], dtype=x.dtype, **layer_kwargs)
        stage(candidate, grids[0], first=True)
        loss = rmse(candidate, x, y)
        loss = loss if math.isfinite(loss) else math.inf
        if model is None or loss < best:
            model, best = candidate, loss
    assert model is not None
    for i, g in enumerate(grids):
        if i:
            model.extend_grid(g)
            stage(model, g, first=False)
        if on_stage is not None:
            on_stage(g, model)
    return model


__all__ = ["Objective", "check_grids", "grow_kan", "lbfgs_tolerances", "mse", "param_count", "rmse", "train_lbfgs"]
