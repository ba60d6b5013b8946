"""The PDE experiment on a reduced config: the PINN residual falls, the exact solution has ~0
residual, L2/H1 errors of a known function, the twice-differentiable KAN matches KAN.forward,
bad configs are one line."""

from __future__ import annotations

import math

import pytest
import torch

from kanformer.layers import KAN
from kanformer.paper.config import PDEConfig, parse_pde_config
from kanformer.paper.pde import (
    boundary_points,
    errors,
    exact_solution,
    grid_points,
    interior_points,
    kan_forward,
    laplacian,
    pinn_loss,
    solve_kan,
)
from kanformer.paper.scaling import torch_threads


def test_exact_solution_has_zero_residual() -> None:
    loss, pde, bc = pinn_loss(exact_solution, interior_points(11), boundary_points(11), 0.1)
    assert pde.item() < 1e-20 and bc.item() < 1e-28 and loss.item() < 1e-20


def test_laplacian_of_a_polynomial() -> None:
    x = torch.rand(20, 2, dtype=torch.float64)
    _, grad, lap = laplacian(lambda z: z[:, :1] ** 3 + z[:, 1:] ** 2 * z[:, :1], x)
    torch.testing.assert_close(lap[:, 0], 6 * x[:, 0] + 2 * x[:, 0])
    torch.testing.assert_close(grad[:, 1], 2 * x[:, 1] * x[:, 0])


def test_l2_h1_of_known_functions() -> None:
    x = grid_points(201)
    assert errors(exact_solution, x) == pytest.approx({"l2": 0.0, "h1": 0.0}, abs=1e-12)
    # u = u* + c: L2 = H1 = |c|.
    err = errors(lambda z: exact_solution(z) + 0.3, x)
    assert err["l2"] == pytest.approx(0.3) and err["h1"] == pytest.approx(0.3)
    # u = 0: L2^2 = mean sin^2 sin^2 -> 1/4; |grad u*|^2 mean -> pi^2/2 (grid mean ~ integral / area).
    err = errors(lambda z: 0 * z[:, :1], x)
    assert err["l2"] == pytest.approx(0.5, rel=1e-2)
    assert err["h1"] == pytest.approx(math.sqrt(0.25 + math.pi**2 / 2), rel=1e-2)


def test_kan_forward_matches_and_differentiates_twice() -> None:
    torch.manual_seed(0)
    model = KAN([2, 3, 1], grid_size=4, dtype=torch.float64)
    x = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    model.update_grid(x, grid_eps=1.0)
    model.extend_grid(8)
    torch.testing.assert_close(kan_forward(model, x), model(x))
    _, _, lap = laplacian(lambda z: kan_forward(model, z), x[:5])
    lap.sum().backward()  # second derivatives reach the spline coefficients
    assert all(layer.spline_weight.grad.abs().sum() > 0 for layer in model.layers)


def test_pinn_residual_falls_for_a_tiny_kan() -> None:
    cfg = PDEConfig(kan_widths=[2, 3, 1], kan_grids=[3, 5], steps_per_grid=5, n_interior=8, n_boundary=8)
    data = (interior_points(cfg.n_interior), boundary_points(cfg.n_boundary))
    with torch_threads(1):
        points, losses = solve_kan(cfg, data, grid_points(11))
    assert losses[-1] < losses[0] / 10
    assert len(points) == 2 and all(math.isfinite(p["l2"]) and math.isfinite(p["h1"]) for p in points)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"alpha": -1}, "alpha=-1"),
        ({"kan_widths": [3, 5, 1]}, "kan_widths=[3, 5, 1]"),
        ({"kan_grids": [10, 5]}, "kan_grids=[10, 5]"),
        ({"mlp_activation": "sine"}, "mlp_activation='sine'"),
        ({"stepz_per_grid": 3}, "did you mean 'steps_per_grid'"),
        ({"n_interior": "many"}, "n_interior"),
    ],
)
def test_bad_config_is_one_line(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=None) as err:
        parse_pde_config(settings, "test config")
    text = str(err.value)
    assert "\n" not in text and message in text and text.startswith("test config")
