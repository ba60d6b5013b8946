"""B-spline basis evaluation (kanformer.layers.bspline) against a textbook reference.

The reference is the plain recursive Cox–de Boor definition on the extended knot
vector with half-open intervals [t_i, t_{i+1}), written here independently of the
library (numpy, float64).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kanformer import KANLinear
from kanformer.layers.bspline import SplineLinear, bspline_basis, cardinal
from kanformer.layers.knots import uniform_knots

ORDERS = [1, 2, 3, 4, 5]


# ----------------------------------------------------------------- reference
def cox_de_boor(x: np.ndarray, t: np.ndarray, i: int, k: int) -> np.ndarray:
    """B_{i,k}(x) by the recursive definition (0/0 := 0), vectorised over x."""
    if k == 0:
        return ((t[i] <= x) & (x < t[i + 1])).astype(np.float64)
    out = np.zeros_like(x, dtype=np.float64)
    d1 = t[i + k] - t[i]
    if d1 != 0:
        out += (x - t[i]) / d1 * cox_de_boor(x, t, i, k - 1)
    d2 = t[i + k + 1] - t[i + 1]
    if d2 != 0:
        out += (t[i + k + 1] - x) / d2 * cox_de_boor(x, t, i + 1, k - 1)
    return out


def differentiable_reference(x: torch.Tensor, knots: torch.Tensor, order: int) -> torch.Tensor:
    """The same recursive definition in torch ops, which autograd differentiates: (N, C), (C, n) -> (N, C, F)."""

    def rec(xc: torch.Tensor, t: torch.Tensor, i: int, k: int) -> torch.Tensor:
        if k == 0:
            return ((t[i] <= xc) & (xc < t[i + 1])).to(xc.dtype)
        out = torch.zeros_like(xc)
        if t[i + k] != t[i]:
            out = out + (xc - t[i]) / (t[i + k] - t[i]) * rec(xc, t, i, k - 1)
        if t[i + k + 1] != t[i + 1]:
            out = out + (t[i + k + 1] - xc) / (t[i + k + 1] - t[i + 1]) * rec(xc, t, i + 1, k - 1)
        return out

    nf = knots.shape[1] - order - 1
    channels = [torch.stack([rec(x[:, c], knots[c], m, order) for m in range(nf)], -1) for c in range(x.shape[1])]
    return torch.stack(channels, 1)


def reference_basis(x: torch.Tensor, knots: torch.Tensor, order: int) -> torch.Tensor:
    """(N, C), (C, n) -> (N, C, n - K - 1) by Cox–de Boor, per channel."""
    xs, ts = x.double().numpy(), knots.double().numpy()
    nf = ts.shape[1] - order - 1
    out = np.zeros((xs.shape[0], xs.shape[1], nf))
    for c in range(xs.shape[1]):
        for m in range(nf):
            out[:, c, m] = cox_de_boor(xs[:, c], ts[c], m, order)
    return torch.from_numpy(out)


# ------------------------------------------------------------------- inputs
def random_knots(rows: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """Strictly increasing, clearly non-uniform knot rows (gaps vary by ~10x)."""
    gaps = 0.05 + torch.rand(rows, n - 1, generator=gen, dtype=torch.float64)
    start = -1.5 + torch.rand(rows, 1, generator=gen, dtype=torch.float64)
    return torch.cat([start, start + gaps.cumsum(1)], dim=1)


def probe_points(knots: torch.Tensor, order: int, gen: torch.Generator, n_inside: int = 200) -> torch.Tensor:
    """Per channel: points inside [lo, hi], in both border zones, far outside, and on the knots."""
    cols = []
    for row in knots:
        t0, lo, hi, t1 = row[0], row[order], row[-order - 1], row[-1]
        u = lambda a, b, m: a + (b - a) * torch.rand(m, generator=gen, dtype=torch.float64)  # noqa: E731
        pts = torch.cat(
            [
                u(lo, hi, n_inside),
                u(t0, lo, 40),  # left border extension zone
                u(hi, t1, 40),  # right border extension zone
                torch.tensor([-1e6, -1e3, -50.0, 50.0, 1e3, 1e6], dtype=torch.float64),  # far outside
                t0 - 1e-3 * torch.rand(5, generator=gen, dtype=torch.float64),  # just left of t_0
                t1 + 1e-3 * torch.rand(5, generator=gen, dtype=torch.float64),  # just right of t_last
                row,  # exactly on every knot (half-open convention)
            ]
        )
        cols.append(pts)
    return torch.stack(cols, dim=1)


def inside_points(knots: torch.Tensor, order: int, n: int, gen: torch.Generator) -> torch.Tensor:
    lo, hi = knots[:, order], knots[:, -order - 1]
    r = torch.rand(n, knots.shape[0], generator=gen, dtype=torch.float64)
    x = lo + (hi - lo) * r
    return torch.cat([x, lo.unsqueeze(0), hi.unsqueeze(0)], dim=0)


def away_from_knots(x: torch.Tensor, knots: torch.Tensor, margin: float) -> torch.Tensor:
    """Mask (N, C) of points at least ``margin`` from every knot of their channel."""
    d = (x.unsqueeze(-1) - knots.unsqueeze(0)).abs().min(-1).values
    return d > margin


# -------------------------------------------------------------------- tests
def test_reference_sanity() -> None:
    """The test's own reference: cubic cardinal B-spline N_3 has its textbook values."""
    t = np.arange(5, dtype=np.float64)
    vals = cox_de_boor(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 1.5]), t, 0, 3)
    np.testing.assert_allclose(vals, [0, 1 / 6, 4 / 6, 1 / 6, 0, 23 / 48], atol=1e-15)


@pytest.mark.parametrize("order", ORDERS)
def test_uniform_path_matches_cox_de_boor(order: int) -> None:
    """Closed-form uniform path equals Cox–de Boor to 1e-10 inside, in the border zone and outside."""
    gen = torch.Generator().manual_seed(order)
    ranges = torch.tensor([[-1.0, 1.0], [-3.0, 0.5], [0.25, 7.0]], dtype=torch.float64)
    knots = uniform_knots(3, 6, order, ranges, dtype=torch.float64)
    x = probe_points(knots, order, gen)
    got = bspline_basis(x, knots, order, uniform=True)
    ref = reference_basis(x, knots, order)
    assert got.shape == (x.shape[0], 3, 6 + order)
    torch.testing.assert_close(got, ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("order", ORDERS)
def test_general_path_matches_cox_de_boor(order: int) -> None:
    """de Boor local path on random non-uniform knots equals Cox–de Boor to 1e-10."""
    gen = torch.Generator().manual_seed(100 + order)
    knots = random_knots(3, 7 + 2 * order + 1, gen)
    x = probe_points(knots, order, gen)
    got = bspline_basis(x, knots, order, uniform=False)
    ref = reference_basis(x, knots, order)
    assert got.shape == (x.shape[0], 3, 7 + order)
    torch.testing.assert_close(got, ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("order", ORDERS)
def test_general_path_on_uniform_knots_matches_uniform_path(order: int) -> None:
    """Both evaluation paths agree on uniform knots, and uniform=None infers the flag."""
    gen = torch.Generator().manual_seed(200 + order)
    knots = uniform_knots(2, 5, order, (-1.0, 1.0), dtype=torch.float64)
    x = probe_points(knots, order, gen)
    a = bspline_basis(x, knots, order, uniform=True)
    b = bspline_basis(x, knots, order, uniform=False)
    c = bspline_basis(x, knots, order)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    torch.testing.assert_close(a, c, atol=0, rtol=0)


@pytest.mark.parametrize("order", ORDERS)
def test_zero_far_outside(order: int) -> None:
    """Every basis function is exactly zero outside [t_0, t_last), both paths."""
    gen = torch.Generator().manual_seed(300 + order)
    for knots, uniform in [
        (uniform_knots(2, 5, order, (-1.0, 1.0), dtype=torch.float64), True),
        (random_knots(2, 5 + 2 * order + 1, gen), False),
    ]:
        below = knots[:, 0] - torch.tensor([[1e-9], [0.5], [1e3], [1e30]], dtype=torch.float64)
        above = knots[:, -1] + torch.tensor([[1e-9], [0.5], [1e3], [1e30]], dtype=torch.float64)
        x = torch.cat([below, above])
        out = bspline_basis(x, knots, order, uniform=uniform)
        assert torch.all(out == 0), out.abs().max()
        # At t_last itself (end of the half-open support) only rounding-level values remain.
        at_end = bspline_basis(knots[:, -1:].T.contiguous(), knots, order, uniform=uniform)
        assert at_end.abs().max() < 1e-12


@pytest.mark.parametrize("order", ORDERS)
def test_partition_of_unity(order: int) -> None:
    """Inside [lo, hi] (ends included) the basis sums to 1 within 1e-12, both paths."""
    gen = torch.Generator().manual_seed(400 + order)
    for knots, uniform in [
        (uniform_knots(3, 7, order, torch.tensor([[-1.0, 1.0], [-5.0, 2.0], [0.0, 0.1]]), dtype=torch.float64), True),
        (random_knots(3, 7 + 2 * order + 1, gen), False),
    ]:
        x = inside_points(knots, order, 500, gen)
        s = bspline_basis(x, knots, order, uniform=uniform).sum(-1)
        torch.testing.assert_close(s, torch.ones_like(s), atol=1e-12, rtol=0)


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
@pytest.mark.parametrize("order", ORDERS)
def test_derivative_matches_finite_difference(order: int, uniform: bool) -> None:
    """derivative=True equals a central finite difference of the Cox–de Boor reference (away from knots)."""
    gen = torch.Generator().manual_seed(500 + order + 10 * uniform)
    if uniform:
        knots = uniform_knots(2, 6, order, torch.tensor([[-1.0, 1.0], [-2.0, 3.0]]), dtype=torch.float64)
    else:
        knots = random_knots(2, 6 + 2 * order + 1, gen)
    x = probe_points(knots, order, gen, n_inside=150)
    keep = away_from_knots(x, knots, 1e-4).all(1)
    x = x[keep]
    h = 1e-6
    fd = (reference_basis(x + h, knots, order) - reference_basis(x - h, knots, order)) / (2 * h)
    got = bspline_basis(x, knots, order, uniform=uniform, derivative=True)
    scale = 1.0 / (knots.diff(dim=1).min().item())  # derivatives scale like 1 / spacing
    torch.testing.assert_close(got, fd, atol=1e-6 * scale, rtol=1e-6)


@pytest.mark.parametrize("order", ORDERS)
def test_cardinal_is_shifted_reference(order: int) -> None:
    """cardinal(u, K) is the Cox–de Boor B-spline on the integer knots 0..K+1 (and its derivative)."""
    u = torch.linspace(-1.5, order + 2.5, 1001, dtype=torch.float64)
    t = np.arange(order + 2, dtype=np.float64)
    ref = torch.from_numpy(cox_de_boor(u.numpy(), t, 0, order))
    torch.testing.assert_close(cardinal(u, order), ref, atol=1e-12, rtol=0)
    uu = u[(u - u.round()).abs() > 1e-3]
    h = 1e-6
    fd = torch.from_numpy(
        (cox_de_boor(uu.numpy() + h, t, 0, order) - cox_de_boor(uu.numpy() - h, t, 0, order)) / (2 * h)
    )
    torch.testing.assert_close(cardinal(uu, order, derivative=True), fd, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_spline_linear_gradcheck(order: int, uniform: bool) -> None:
    """SplineLinear's hand-written backward passes gradcheck (float64) for x and weight."""
    gen = torch.Generator().manual_seed(600 + order + 10 * uniform)
    c, o = 3, 2
    if uniform:
        knots = uniform_knots(c, 4, order, (-1.0, 1.0), dtype=torch.float64)
    else:
        knots = random_knots(c, 4 + 2 * order + 1, gen)
    nf = knots.shape[1] - order - 1
    lo, hi = knots[:, 0], knots[:, -1]
    # Span the whole support (including the border zones) and a bit beyond.
    x = lo - 0.1 + (hi - lo + 0.2) * torch.rand(12, c, generator=gen, dtype=torch.float64)
    w = torch.randn(o, c * nf, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    w.requires_grad_(True)

    def f(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return SplineLinear.apply(x, w, knots, order, uniform, False)

    assert torch.autograd.gradcheck(f, (x, w), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
def test_spline_linear_forward_and_single_grads(uniform: bool) -> None:
    """SplineLinear forward equals basis @ W.T, and the weight-only / input-only backward paths match autograd."""
    gen = torch.Generator().manual_seed(700 + uniform)
    order = 3
    knots = uniform_knots(4, 5, order, (-1.0, 1.0), dtype=torch.float64) if uniform else random_knots(4, 12, gen)
    nf = knots.shape[1] - order - 1
    x = knots[:, 0] + (knots[:, -1] - knots[:, 0]) * torch.rand(20, 4, generator=gen, dtype=torch.float64)
    w = torch.randn(3, 4 * nf, generator=gen, dtype=torch.float64)
    g = torch.randn(20, 3, generator=gen, dtype=torch.float64)

    xa, wa = x.clone().requires_grad_(), w.clone().requires_grad_()
    ya = bspline_basis(xa, knots, order, uniform).flatten(1) @ wa.T
    ya.backward(g)

    for need_x, need_w in [(True, False), (False, True), (True, True)]:
        xb, wb = x.clone().requires_grad_(need_x), w.clone().requires_grad_(need_w)
        yb = SplineLinear.apply(xb, wb, knots, order, uniform, False)
        torch.testing.assert_close(yb, ya.detach(), atol=1e-12, rtol=0)
        yb.backward(g)
        if need_x:
            torch.testing.assert_close(xb.grad, xa.grad, atol=1e-10, rtol=1e-10)
        if need_w:
            torch.testing.assert_close(wb.grad, wa.grad, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_adapted_layer_matches_float64_reference(order: int) -> None:
    """A float32 KANLinear whose knots update_grid moved (grid_eps < 1: the non-uniform path): its output and
    the gradients of x, spline weights, base weights and bias equal float64 autograd through the textbook
    recursion, for inputs on the grid, in the border zones, exactly on knots and far outside."""
    torch.manual_seed(10 + order)
    layer = KANLinear(5, 4, grid_size=4, spline_order=order)
    layer.update_grid(torch.randn(300, 5) * 0.8, grid_eps=0.1)
    assert not layer.basis.uniform
    knots = layer.basis.knots
    x = torch.cat(
        [
            torch.randn(60, 5) * 1.5,  # inside and in the border zones (the grid spans about +-2.5)
            knots.T[::2],  # exactly on knots
            torch.tensor([-1e4, -30.0, 30.0, 1e4]).unsqueeze(1).expand(4, 5),  # far outside
        ]
    )
    g = torch.randn(x.shape[0], 4)
    xi = x.clone().requires_grad_()
    layer(xi).backward(g)

    xd = x.double().requires_grad_()
    params = {n: p.detach().double().requires_grad_() for n, p in layer.named_parameters()}
    feats = differentiable_reference(xd, knots.double(), order)  # (N, C, F)
    yd = torch.einsum("ncf,ocf->no", feats, params["spline_weight"])
    yd = yd + torch.nn.functional.silu(xd) @ params["base_weight"].T + params["bias"]
    yd.backward(g.double())
    with torch.no_grad():
        torch.testing.assert_close(layer(x).double(), yd, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(xi.grad.double(), xd.grad, atol=1e-4, rtol=1e-5)
    for name, p in layer.named_parameters():
        torch.testing.assert_close(p.grad.double(), params[name].grad, atol=1e-4, rtol=1e-5, msg=name)


def test_knots_must_increase_strictly() -> None:
    """A repeated knot (from a hand-made or corrupted checkpoint) is refused with what to do."""
    layer = KANLinear(3, 2)
    knots = layer.basis.knots.clone()
    knots[1, 5] = knots[1, 4]
    with pytest.raises(ValueError, match="strictly increasing"):
        layer.basis.set_knots(knots)
    state = {**layer.state_dict(), "basis.knots": knots}
    with pytest.raises(ValueError, match="strictly increasing"):
        KANLinear(3, 2).load_state_dict(state)
