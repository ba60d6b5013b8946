"""The KAN paper's PDE experiment (Sec. 3.4): a physics-informed solve of the 2-D Poisson equation.

    cfg = load_pde_config("configs/paper/pde.yaml")
    results = run_pde(cfg)  # JSON-able: per model its parameters, L2 and H1 errors, final loss

laplacian(u) = f on [-1, 1]^2 with u = 0 on the boundary and exact solution
u* = sin(pi x) sin(pi y), so f = -2 pi^2 sin(pi x) sin(pi y). The loss is
mean((laplacian(u) - f)^2) over an interior collocation grid plus alpha * mean(u^2) over
boundary points (alpha = 0.1 by default; pykan's PDE example uses 0.01). The Laplacian comes
from torch.autograd with create_graph=True.

kanformer's B-spline layers evaluate through :class:`kanformer.layers.bspline.SplineLinear`,
an autograd function whose backward is not itself differentiable (in-place kernels), so
a second derivative of a KAN cannot go through ``KAN.forward``. :func:`kan_forward`
evaluates the same network (same knots, weights, base branch and bias) with a plain
Cox–de Boor recursion of out-of-place torch ops, which autograd differentiates any
number of times; training and the H1 error use it, and it matches ``KAN.forward`` to
rounding (checked in tests/paper/test_pde.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..fitting import lbfgs_tolerances, param_count, train_lbfgs
from ..layers import KAN
from .config import PDEConfig
from .scaling import ACTIVATIONS, build_mlp, say, torch_threads

Log = Callable[[str], None] | None
PI = math.pi


# ------------------------------------------------------------- the problem
def exact_solution(x: Tensor) -> Tensor:
    """u*(x, y) = sin(pi x) sin(pi y): (N, 2) -> (N, 1)."""
    return (torch.sin(PI * x[:, :1]) * torch.sin(PI * x[:, 1:2])).reshape(-1, 1)


def exact_gradient(x: Tensor) -> Tensor:
    """grad u*: (N, 2) -> (N, 2)."""
    sx, sy = torch.sin(PI * x[:, 0]), torch.sin(PI * x[:, 1])
    cx, cy = torch.cos(PI * x[:, 0]), torch.cos(PI * x[:, 1])
    return torch.stack([PI * cx * sy, PI * sx * cy], dim=1)


def source(x: Tensor) -> Tensor:
    """f = laplacian(u*) = -2 pi^2 sin(pi x) sin(pi y): (N, 2) -> (N, 1)."""
    return -2 * PI**2 * exact_solution(x)


def interior_points(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """An n x n grid strictly inside [-1, 1]^2 (the endpoints of linspace(-1, 1, n + 2) dropped): (n^2, 2)."""
    t = torch.linspace(-1, 1, n + 2, dtype=dtype)[1:-1]
    return torch.cartesian_prod(t, t)


def boundary_points(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """n points on each of the four sides of [-1, 1]^2: (4n, 2)."""
    t = torch.linspace(-1, 1, n, dtype=dtype)
    one = torch.ones_like(t)
    return torch.cat([torch.stack(s, 1) for s in ((t, -one), (t, one), (-one, t), (one, t))])


def grid_points(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """An n x n grid on [-1, 1]^2, boundary included: (n^2, 2)."""
    t = torch.linspace(-1, 1, n, dtype=dtype)
    return torch.cartesian_prod(t, t)


# --------------------------------------------------- twice-differentiable KAN
def cox_de_boor(x: Tensor, knots: Tensor, order: int) -> Tensor:
    """B-spline basis by the Cox–de Boor recursion, out-of-place ops only: (N, C), (C, n) -> (N, C, n - order - 1).

    Piecewise polynomial in x, so autograd gives exact first and second derivatives
    inside each knot interval (the indicator of order 0 has zero gradient).
    """
    t = knots.unsqueeze(0)  # (1, C, n)
    xe = x.unsqueeze(-1)  # (N, C, 1)
    b = ((xe >= t[..., :-1]) & (xe < t[..., 1:])).to(x.dtype)
    for k in range(1, order + 1):
        left = (xe - t[..., : -(k + 1)]) / (t[..., k:-1] - t[..., : -(k + 1)]) * b[..., :-1]
        right = (t[..., k + 1 :] - xe) / (t[..., k + 1 :] - t[..., 1:-k]) * b[..., 1:]
        b = left + right
    return b


def kan_forward(model: KAN, x: Tensor) -> Tensor:
    """``model(x)`` for a B-spline KAN with edge-wise weights, differentiable any number of times."""
    for layer in model.layers:
        basis = layer.basis
        knots = basis.expand_rows(basis.knots).to(x.dtype)
        feats = cox_de_boor(x, knots, basis.spline_order).flatten(1)  # (N, C * F)
        y = feats @ layer.spline_weight.reshape(layer.out_features, -1).T
        if layer.base_weight is not None:
            y = y + layer._act(x) @ layer.base_weight.T
        x = y + layer.bias if layer.bias is not None else y
    return x


def differentiable(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """The forward to differentiate twice: :func:`kan_forward` for a KAN, the module itself otherwise."""
    if isinstance(model, KAN):
        return lambda x: kan_forward(model, x)
    return model


# -------------------------------------------------------------- loss, errors
def laplacian(fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(u, grad u, laplacian u) of a scalar field at x (N, 2), kept in the graph (create_graph=True)."""
    x = x.detach().requires_grad_(True)
    u = fn(x)
    grad = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    lap = sum(torch.autograd.grad(grad[:, i].sum(), x, create_graph=True)[0][:, i] for i in range(x.shape[1]))
    return u, grad, lap.reshape(-1, 1)


def pinn_loss(
    fn: Callable[[Tensor], Tensor], interior: Tensor, boundary: Tensor, alpha: float
) -> tuple[Tensor, Tensor, Tensor]:
    """(loss, pde term, boundary term): mean residual^2 inside + alpha * mean u^2 on the boundary."""
    _, _, lap = laplacian(fn, interior)
    pde = (lap - source(interior)).pow(2).mean()
    bc = fn(boundary).pow(2).mean()
    return pde + alpha * bc, pde, bc


def errors(fn: Callable[[Tensor], Tensor], x: Tensor) -> dict[str, float]:
    """Root-mean-square L2 and H1 errors against u* on points x (a uniform grid: means approximate
    integrals over the square divided by its area): L2 = sqrt(mean (u - u*)^2),
    H1 = sqrt(mean (u - u*)^2 + mean |grad u - grad u*|^2)."""
    x = x.detach().requires_grad_(True)
    u = fn(x)
    grad = torch.autograd.grad(u.sum(), x)[0]
    e0 = (u.detach() - exact_solution(x.detach())).pow(2).mean().item()
    e1 = (grad - exact_gradient(x.detach())).pow(2).sum(1).mean().item()
    return {"l2": math.sqrt(e0), "h1": math.sqrt(e0 + e1)}


# --------------------------------------------------------------------- runs
def _train(
    model: nn.Module, data: tuple[Tensor, Tensor], alpha: float, steps: int, dtype: torch.dtype
) -> tuple[float, float]:
    """``steps`` LBFGS steps on the PINN loss; returns (loss before, loss after)."""
    interior, boundary = data
    fn = differentiable(model)

    def objective(m: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return pinn_loss(fn, interior, boundary, alpha)[0]

    before = pinn_loss(fn, interior, boundary, alpha)[0].item()
    train_lbfgs(model, interior, interior, steps, objective=objective, **lbfgs_tolerances(dtype))
    after = pinn_loss(fn, interior, boundary, alpha)[0].item()
    return before, after


def _point(kind: str, label: str, model: nn.Module, test: Tensor, loss: float, seconds: float) -> dict[str, Any]:
    err = errors(differentiable(model), test)
    return {"kind": kind, "label": label, "params": param_count(model), "loss": loss, "seconds": seconds, **err}


def solve_kan(
    cfg: PDEConfig, data: tuple[Tensor, Tensor], test: Tensor, log: Log = None
) -> tuple[list[dict[str, Any]], list[float]]:
    """A KAN of cfg.kan_widths trained on each grid of cfg.kan_grids in turn (grid extension between
    stages); returns a point per grid and the loss after every stage (the first entry: before training)."""
    dtype = getattr(torch, cfg.dtype)
    torch.manual_seed(cfg.seed)
    model = KAN(cfg.kan_widths, grid_size=cfg.kan_grids[0], dtype=dtype)
    points, losses = [], []
    for i, grid in enumerate(cfg.kan_grids):
        start = time.perf_counter()
        if i:
            model.extend_grid(grid)
        if cfg.grid_update and i == 0:
            # Place every layer's grid on the activations of all training points, boundary included
            # (uniform over their range), once: later stages keep the extended grid, since a refit on a
            # finer grid undid the previous stage's training in trials.
            model.update_grid(torch.cat(data), grid_eps=1.0)
        before, after = _train(model, data, cfg.alpha, cfg.steps_per_grid, dtype)
        if not losses:
            losses.append(before)
        losses.append(after)
        p = _point("kan", f"KAN {cfg.kan_widths} G={grid}", model, test, after, time.perf_counter() - start)
        p.update(grid=grid, widths=list(cfg.kan_widths))
        points.append(p)
        say(log, f"[pde] {p['label']}: {p['params']} params, loss {after:.3g}, L2 {p['l2']:.3g}, H1 {p['h1']:.3g}")
    return points, losses


def solve_mlp(
    cfg: PDEConfig, depth: int, width: int, data: tuple[Tensor, Tensor], test: Tensor, log: Log = None
) -> dict[str, Any]:
    """An MLP (cfg.mlp_activation) trained with the KAN's whole LBFGS budget (cfg.mlp_steps steps)."""
    dtype = getattr(torch, cfg.dtype)
    torch.manual_seed(cfg.seed)
    model = build_mlp(2, depth, width, cfg.mlp_activation, dtype)
    start = time.perf_counter()
    _, after = _train(model, data, cfg.alpha, cfg.mlp_steps, dtype)
    p = _point("mlp", f"MLP depth {depth} width {width}", model, test, after, time.perf_counter() - start)
    p.update(depth=depth, width=width)
    say(log, f"[pde] {p['label']}: {p['params']} params, loss {after:.3g}, L2 {p['l2']:.3g}, H1 {p['h1']:.3g}")
    return p


def run_pde(cfg: PDEConfig, log: Log = print) -> dict[str, Any]:
    """Every KAN grid and every MLP of the config; results as the report writes them."""
    assert cfg.mlp_activation in ACTIVATIONS
    dtype = getattr(torch, cfg.dtype)
    with torch_threads(cfg.threads):
        start = time.perf_counter()
        data = (interior_points(cfg.n_interior, dtype), boundary_points(cfg.n_boundary, dtype))
        test = grid_points(cfg.n_test, dtype)
        kan, losses = solve_kan(cfg, data, test, log)
        mlps = [solve_mlp(cfg, d, w, data, test, log) for d in cfg.mlp_depths for w in cfg.mlp_widths]
        seconds = time.perf_counter() - start
    return {
        "experiment": "pde",
        "name": cfg.name,
        "description": cfg.description,
        "config": cfg.as_dict(),
        "points": kan + mlps,
        "kan_losses": losses,
        "seconds": seconds,
    }
