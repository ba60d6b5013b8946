"""Function fitting with grid extension: the KAN paper's toy examples.

from kanformer.paper.fitting import fit_function
stages = fit_function("exp(sin(pi*x)+y^2)", widths=[2, 5, 1], grids=(3, 5, 10))
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..layers import KAN


def _bessel(x: Tensor) -> Tensor:
    return torch.special.bessel_j0(20 * x[:, 0])


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


@dataclass
class FitStage:
    grid_size: int
    params: int
    train_rmse: float
    test_rmse: float
    seconds: float


def sample(name: str, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(n, dim) inputs uniform on [-1, 1]^dim and (n, 1) targets of a paper function."""
    if name not in PAPER_FUNCTIONS:
        raise ValueError(f"function {name!r} is not known; choose one of {list(PAPER_FUNCTIONS)}")
    dim, fn = PAPER_FUNCTIONS[name]
    x = torch.rand(n, dim, generator=generator, dtype=torch.float64).float() * 2 - 1
    return x, fn(x).unsqueeze(1)


def rmse(model: torch.nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return (model(x) - y).pow(2).mean().sqrt().item()


def train_lbfgs(model: torch.nn.Module, x: Tensor, y: Tensor, steps: int) -> None:
    """``steps`` LBFGS steps (20 iterations each, strong Wolfe) on the MSE of model(x) vs y."""
    opt = torch.optim.LBFGS(
        model.parameters(),
        lr=1,
        max_iter=20,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)


def fit_function(
    name: str,
    widths: Sequence[int] = (2, 5, 1),
    grids: Sequence[int] = (3, 5, 10),
    steps_per_grid: int = 10,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    **layer_kwargs: object,
) -> list[FitStage]:
    """Fit a KAN to a paper function with LBFGS, extending the grid between stages.

    The grid follows the data once (update_grid) before the first stage; each
    extension refines it preserving the learned function (extend_grid), then LBFGS
    continues. Returns one :class:`FitStage` per grid size.
    """
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train = sample(name, n_train, gen)
    x_test, y_test = sample(name, n_test, gen)
    if widths[0] != x_train.shape[1]:
        raise ValueError(f"widths[0]={widths[0]} does not match the input dimension {x_train.shape[1]} of {name!r}")
    torch.manual_seed(seed)
    model = KAN(list(widths), grid_size=grids[0], **layer_kwargs)
    model.update_grid(x_train)
    stages = []
    start = time.perf_counter()
    for i, g in enumerate(grids):
        if i:
            model.extend_grid(g)
        # Parameters are replaced when the grid grows: a fresh optimiser each stage.
        train_lbfgs(model, x_train, y_train, steps_per_grid)
        stages.append(
            FitStage(
                grid_size=g,
                params=sum(p.numel() for p in model.parameters()),
                train_rmse=rmse(model, x_train, y_train),
                test_rmse=rmse(model, x_test, y_test),
                seconds=time.perf_counter() - start,
            )
        )
    return stages
