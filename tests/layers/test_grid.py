"""Grid adaptation: KANLinear.update_grid / extend_grid and the knot helpers in kanformer.layers.knots."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kanformer import KANLinear
from kanformer.fitting import train_lbfgs
from kanformer.layers.bspline import bspline_basis
from kanformer.layers.knots import adaptive_grid, extend_knots, interior, is_uniform, refine_grid, uniform_knots

SHARINGS = ["edge", "group"]


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def target(x: torch.Tensor) -> torch.Tensor:
    """A smooth target that a single KAN layer can represent (sums of sin(pi x_i))."""
    s = torch.sin(torch.pi * x)
    return torch.stack([s[:, 0] + 0.5 * s[:, 1], s[:, 0] - s[:, 1]], dim=1)


def trained_layer(sharing: str) -> tuple[KANLinear, torch.Tensor]:
    """A KANLinear(2, 2) fitted by 3 LBFGS steps to ``target`` on 1000 uniform points of [-1, 1]^2."""
    torch.manual_seed(0)
    layer = KANLinear(2, 2, sharing=sharing, groups=1)
    x = torch.rand(1000, 2) * 2 - 1
    y = target(x)
    train_lbfgs(layer, x, y, steps=3)
    with torch.no_grad():
        rmse = (layer(x) - y).square().mean().sqrt().item()
    assert rmse < 2e-2, rmse  # measured ~5e-3 (edge), ~8e-3 (group)
    return layer, x


# ------------------------------------------------------------------ update_grid
@pytest.mark.parametrize("grid_eps", [0.02, 1.0])
@pytest.mark.parametrize("sharing", SHARINGS)
def test_update_grid_with_zero_spline_is_exact(sharing: str, grid_eps: float) -> None:
    """With spline_init='zero' the layer is its base branch, so moving the knots changes nothing (1e-6)."""
    layer = KANLinear(6, 4, sharing=sharing, groups=3, spline_init="zero")
    x = torch.randn(500, 6) * torch.linspace(0.3, 3.0, 6)
    knots_before = layer.basis.knots.clone()
    with torch.no_grad():
        y0 = layer(x)
        layer.update_grid(x, grid_eps=grid_eps)
        y1 = layer(x)
    assert not torch.equal(layer.basis.knots, knots_before)
    torch.testing.assert_close(y1, y0, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("grid_eps", [0.02, 1.0])
@pytest.mark.parametrize("sharing", SHARINGS)
def test_update_grid_preserves_trained_layer(sharing: str, grid_eps: float) -> None:
    """After a brief fit, update_grid keeps the outputs on the fitted data to relative error < 5e-3.

    A cubic spline on 5 intervals is not exactly representable on moved knots, so some
    error is unavoidable. Measured (seed 0): edge 1.2e-3 (eps 0.02) / 5.9e-4 (eps 1),
    group 5.0e-4 / 7.1e-4; over seeds 0-5 the worst was 4.2e-3. Without the coefficient
    refit the error would be ~4e-2.
    """
    layer, x = trained_layer(sharing)
    with torch.no_grad():
        y0 = layer(x)
        layer.update_grid(x, grid_eps=grid_eps)
        y1 = layer(x)
    assert layer.basis.uniform == (grid_eps == 1.0)
    assert rel_err(y1, y0) < 5e-3


def test_update_grid_refit_is_least_squares_optimal() -> None:
    """update_grid's refit is as good as the best possible coefficients on the new knots (within 5%)."""
    layer, x = trained_layer("edge")
    with torch.no_grad():
        y0 = layer(x)
        layer.update_grid(x, grid_eps=0.02)
        y1 = layer(x)
        fixed = (F.silu(x) @ layer.base_weight.T + layer.bias).double()
        design = bspline_basis(x.double(), layer.basis.knots.double(), 3).flatten(1)  # (N, I * F)
        best = torch.linalg.lstsq(design, y0.double() - fixed).solution
        y_opt = design @ best + fixed
    err, err_opt = (y1.double() - y0.double()).norm().item(), (y_opt - y0.double()).norm().item()
    assert err <= 1.05 * err_opt + 1e-7, (err, err_opt)


@pytest.mark.parametrize("sharing", SHARINGS)
def test_update_grid_eps_controls_uniformity(sharing: str) -> None:
    """grid_eps=1 gives a uniform grid over the widened sample range; grid_eps=0.02 a data-following one."""
    layer = KANLinear(4, 3, sharing=sharing, groups=2)
    x = torch.randn(400, 4) * torch.tensor([0.5, 1.0, 2.0, 4.0]) + torch.tensor([0.0, 1.0, -1.0, 3.0])
    layer.update_grid(x, grid_eps=1.0)
    assert layer.basis.uniform
    knots = layer.basis.knots
    assert is_uniform(knots)
    grid = interior(knots, 3)
    rows = x if sharing == "edge" else x.view(-1, 2, 2).transpose(1, 2).reshape(-1, 2)
    lo, hi = rows.min(0).values, rows.max(0).values
    w = hi - lo
    torch.testing.assert_close(grid[:, 0], lo - 0.01 * w, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grid[:, -1], hi + 0.01 * w, atol=1e-5, rtol=1e-5)

    layer.update_grid(x, grid_eps=0.02)
    assert not layer.basis.uniform
    assert not is_uniform(layer.basis.knots)
    assert (layer.basis.knots.diff(dim=1) > 0).all()


def test_update_grid_default_eps_and_leading_dims() -> None:
    """update_grid(x) uses the layer's grid_eps and accepts (..., I) inputs like forward."""
    x = torch.randn(4, 50, 3)
    a = KANLinear(3, 2, grid_eps=1.0)
    a.update_grid(x)
    assert a.basis.uniform
    b = KANLinear(3, 2, grid_eps=1.0)
    b.update_grid(x.reshape(-1, 3), grid_eps=1.0)
    assert torch.equal(a.basis.knots, b.basis.knots)


# ------------------------------------------------------------------ extend_grid
@pytest.mark.parametrize("adapted", [False, True], ids=["uniform", "after_update_grid"])
@pytest.mark.parametrize("sharing", SHARINGS)
def test_extend_grid_preserves_outputs(sharing: str, adapted: bool) -> None:
    """extend_grid 5 -> 10 -> 20 keeps outputs inside the grid to relative error < 1e-4 (measured ~1e-6)."""
    layer = KANLinear(4, 3, sharing=sharing, groups=2)
    if adapted:
        layer.update_grid(0.5 * torch.randn(2000, 4) + 0.1)
        assert not layer.basis.uniform
    # Inputs inside each channel's grid [lo, hi].
    grid = layer.basis.expand_rows(interior(layer.basis.knots, 3))
    x = grid[:, 0] + (grid[:, -1] - grid[:, 0]) * torch.rand(2000, 4)
    with torch.no_grad():
        y0 = layer(x)
        for size in [10, 20]:
            old_grid = interior(layer.basis.knots, 3).clone()
            layer.extend_grid(size)
            assert layer.basis.grid_size == size
            assert layer.basis.knots.shape[1] == size + 2 * 3 + 1
            assert layer.basis.uniform == (not adapted)
            new_grid = interior(layer.basis.knots, 3)
            # Integer refinement keeps every old grid point.
            torch.testing.assert_close(new_grid[:, ::2], old_grid, atol=1e-6, rtol=1e-6)
            assert rel_err(layer(x), y0) < 1e-4
    name = "spline_weight" if sharing == "edge" else "coefficients"
    param = dict(layer.named_parameters())[name]
    assert param.shape[-1] == 20 + 3
    # The replaced parameter is a live leaf of the module: gradients reach it.
    layer(x).sum().backward()
    assert param.grad is not None and param.grad.abs().sum() > 0


# ---------------------------------------------------------------- knot helpers
def test_uniform_knots_shape_and_spacing() -> None:
    """uniform_knots: (R, G + 2K + 1), spacing (hi - lo) / G, interior exactly [lo, ..., hi]."""
    k = uniform_knots(3, 5, 3, (-1.0, 1.0), dtype=torch.float64)
    assert k.shape == (3, 12) and k.dtype == torch.float64
    torch.testing.assert_close(k.diff(dim=1), torch.full((3, 11), 0.4, dtype=torch.float64))
    torch.testing.assert_close(k[:, 3], torch.full((3,), -1.0, dtype=torch.float64))
    torch.testing.assert_close(k[:, -4], torch.full((3,), 1.0, dtype=torch.float64))
    ranges = torch.tensor([[-1.0, 1.0], [0.0, 10.0]])
    k2 = uniform_knots(2, 4, 2, ranges)
    assert k2.shape == (2, 9) and k2.dtype == torch.float32
    torch.testing.assert_close(k2.diff(dim=1)[:, 0], torch.tensor([0.5, 2.5]))
    torch.testing.assert_close(interior(k2, 2)[:, [0, -1]], ranges)
    assert is_uniform(k) and is_uniform(k2)


def test_extend_knots_and_interior_are_inverse() -> None:
    """extend_knots adds K knots per side continuing the end spacings; interior undoes it."""
    g = torch.tensor([[0.0, 0.1, 0.5, 2.0], [-1.0, 0.0, 1.0, 2.0]], dtype=torch.float64)
    e = extend_knots(g, 2)
    assert e.shape == (2, 8)
    torch.testing.assert_close(interior(e, 2), g)
    torch.testing.assert_close(e[0, :2], torch.tensor([-0.2, -0.1], dtype=torch.float64))
    torch.testing.assert_close(e[0, -2:], torch.tensor([3.5, 5.0], dtype=torch.float64))
    assert not is_uniform(e[:1]) and is_uniform(e[1:])


@pytest.mark.parametrize("grid_size", [1, 5, 12])
def test_adaptive_grid_eps1_is_uniform_over_widened_range(grid_size: int) -> None:
    """adaptive_grid(grid_eps=1): uniform over [min - 1% w, max + 1% w], strictly increasing, even if constant."""
    s = torch.randn(300, 4, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.0, 0.0], dtype=torch.float64)
    s[:, 3] = 7.0  # constant column, 2 is constant 0
    g = adaptive_grid(s, grid_size, 1.0)
    assert g.shape == (4, grid_size + 1)
    assert (g.diff(dim=1) > 0).all()
    assert is_uniform(g)
    lo, hi = s.min(0).values, s.max(0).values
    w = hi - lo
    torch.testing.assert_close(g[:2, 0], (lo - 0.01 * w)[:2])
    torch.testing.assert_close(g[:2, -1], (hi + 0.01 * w)[:2])
    for c, v in [(2, 0.0), (3, 7.0)]:  # a constant column gets a small range around its value
        assert g[c, 0] < v < g[c, -1]


@pytest.mark.parametrize("grid_eps", [0.0, 0.02, 0.5])
def test_adaptive_grid_strictly_increasing_with_ties(grid_eps: float) -> None:
    """Heavily tied / constant data still give strictly increasing grid points that bracket the data."""
    s = torch.cat([torch.zeros(900, 3), torch.randn(100, 3)]).double()
    s[:, 2] = 3.0
    g = adaptive_grid(s, 8, grid_eps)
    assert (g.diff(dim=1) > 0).all()
    assert (g[:, 0] < s.min(0).values).all() and (g[:, -1] > s.max(0).values).all()


def test_adaptive_grid_eps0_follows_quantiles() -> None:
    """grid_eps=0: interior grid points are sample quantiles (denser where the data is)."""
    s = torch.randn(10001, 1, dtype=torch.float64)
    g = adaptive_grid(s, 4, 0.0)[0]
    q = torch.quantile(s[:, 0], torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
    torch.testing.assert_close(g[1:-1], q, atol=1e-3, rtol=0)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_refine_grid_integer_factor_contains_old_points(factor: int) -> None:
    """refine_grid by an integer factor keeps every old point and splits each interval evenly."""
    old = torch.tensor([[-1.0, -0.3, 0.0, 0.9, 2.5], [0.0, 1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    new = refine_grid(old, 4 * factor)
    assert new.shape == (2, 4 * factor + 1)
    torch.testing.assert_close(new[:, ::factor], old, atol=1e-12, rtol=0)
    steps = new.diff(dim=1).view(2, 4, factor)
    torch.testing.assert_close(steps, steps[..., :1].expand_as(steps), atol=1e-12, rtol=0)
    assert is_uniform(new[1:])


def test_refine_grid_non_integer_keeps_ends_and_uniformity() -> None:
    """refine_grid to any size keeps the end points; a uniform grid stays uniform."""
    old = torch.linspace(-2, 3, 6, dtype=torch.float64).unsqueeze(0)
    new = refine_grid(old, 7)
    torch.testing.assert_close(new, torch.linspace(-2, 3, 8, dtype=torch.float64).unsqueeze(0))
