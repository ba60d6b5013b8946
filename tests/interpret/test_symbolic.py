"""Symbolic regression of trained KANs: edge fits, pruning, formulas, and the paper's exp(sin(pi x) + y^2)."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest
import sympy
import torch
from symbolic_formulas import exp_coefficients

from kanformer import KAN
from kanformer.fitting import train_lbfgs
from kanformer.interpret.symbolic import (
    LIBRARY,
    SymbolicKAN,
    auto_symbolic,
    canonical_params,
    fit_edge,
    formula,
    formula_rmse,
    prune,
    tidy,
)
from kanformer.interpret.symbolic_commands import register
from kanformer.interpret.symbolic_fit import paper_data, train_kan

X, Y = sympy.symbols("x y")
PAPER = "exp(sin(pi*x)+y^2)"


@pytest.mark.parametrize("name", list(LIBRARY))
def test_library_torch_and_sympy_functions_agree(name: str) -> None:
    fn = LIBRARY[name]
    t = sympy.Symbol("t")
    exact = sympy.lambdify(t, fn.sympy_fn(t), modules="numpy")
    # sqrt and log are real only for t > 0; tan stays away from its poles on |t| <= 1.4.
    domain = np.linspace(0.2, 1.4, 25) if name in ("sqrt", "log") else np.linspace(-1.4, 1.4, 24)
    got = fn.torch_fn(torch.from_numpy(domain)).numpy()
    np.testing.assert_allclose(got, np.broadcast_to(exact(domain), domain.shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["x^2", "x^3", "1/x", "sqrt", "abs", "sin", "tan", "tanh", "gaussian"])
def test_canonical_params_keep_the_curve(name: str) -> None:
    fn = LIBRARY[name]
    x = torch.linspace(0.1, 0.5, 50, dtype=torch.float64)
    a, b, c, d = -1.7, 4.0, 0.8, -0.3  # a*x + b in (3.15, 3.83): away from 0 and from tan's poles
    a2, b2, c2, d2 = canonical_params(fn, a, b, c, d)
    torch.testing.assert_close(c2 * fn.torch_fn(a2 * x + b2) + d2, c * fn.torch_fn(a * x + b) + d)
    if fn.parity:
        assert a2 >= 0
    if fn.shift is not None:
        assert -fn.shift[0] / 2 < b2 <= fn.shift[0] / 2


def test_fit_edge_recovers_a_shifted_scaled_sine() -> None:
    x = torch.linspace(-2, 2, 500, dtype=torch.float64)
    best = fit_edge(x, 2 * torch.sin(3 * x + 0.5) - 1)[0]
    assert best.name == "sin" and best.r2 > 0.9999
    np.testing.assert_allclose(best.params, (3.0, 0.5, 2.0, -1.0), atol=1e-3)


def test_fit_edge_prefers_the_simpler_function_on_a_tie() -> None:
    """0.5 (x - 0.3)^2 + 1 is also matched closely by wide gaussians and cosines: x^2 must win."""
    x = torch.linspace(-1, 1, 400, dtype=torch.float64)
    fits = fit_edge(x, 0.5 * (x - 0.3) ** 2 + 1)
    assert fits[0].name == "x^2"
    np.testing.assert_allclose(fits[0].params, (1.0, -0.3, 0.5, 1.0), atol=1e-6)
    assert fits[-1].score < fits[0].score


def test_fit_edge_on_a_constant_edge_picks_zero() -> None:
    best = fit_edge(torch.linspace(-1, 1, 100), torch.full((100,), 0.25))[0]
    assert best.name == "0" and best.d == pytest.approx(0.25)


def _small_kan(widths: list[int]) -> KAN:
    torch.manual_seed(0)
    return KAN(widths, grid_size=5).double()


def test_symbolic_kan_starts_as_the_kan_and_leaves_it_unchanged() -> None:
    kan = _small_kan([2, 3, 1])
    before = [p.clone() for p in kan.parameters()]
    model = SymbolicKAN(kan)
    x = torch.rand(64, 2, dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(model(x), kan(x))
    model.lock(0, 0, 0, "sin", (1.0, 0.0, 1.0, 0.0))
    prune(model, x, edge_threshold=10.0)
    assert all(torch.equal(a, b) for a, b in zip(before, kan.parameters(), strict=True))


@pytest.mark.parametrize("value", [0.0, 0.7])
def test_prune_removes_an_edge_with_zero_contribution(value: float) -> None:
    """An edge that is 0, or constant (B-splines sum to 1 on the grid), is removed; the output stays the same."""
    kan = _small_kan([2, 3, 1])
    with torch.no_grad():
        kan.layers[0].spline_weight[1, 0] = value
        kan.layers[0].base_weight[1, 0] = 0
    model = SymbolicKAN(kan)
    x = torch.rand(256, 2, dtype=torch.float64) * 2 - 1
    masks = prune(model, x)
    expected = torch.ones(3, 2, dtype=torch.bool)
    expected[1, 0] = False
    assert torch.equal(masks[0], expected) and bool(masks[1].all())
    torch.testing.assert_close(model(x), kan(x))


def test_prune_removes_a_hidden_node_that_feeds_nothing() -> None:
    kan = _small_kan([2, 3, 1])
    with torch.no_grad():
        kan.layers[1].spline_weight[:, 2] = 0
        kan.layers[1].base_weight[:, 2] = 0
    model = SymbolicKAN(kan)
    x = torch.rand(256, 2, dtype=torch.float64) * 2 - 1
    masks = prune(model, x)
    assert not masks[0][2].any() and not masks[1][:, 2].any()
    assert masks[0][:2].all() and masks[1][:, :2].all()
    torch.testing.assert_close(model(x), kan(x))


def test_formula_merges_redundant_parameters_and_rounds_coefficients() -> None:
    """Hand-locked edges whose parameters are redundant (a scale and an offset on exp) still read cleanly."""
    model = SymbolicKAN(_small_kan([2, 1, 1]))
    with torch.no_grad():
        model.biases[0].fill_(0.25)
        model.biases[1].fill_(0.0)
    model.lock(0, 0, 0, "sin", (math.pi, 0.0, 2.0, 0.5))  # h = 2 sin(pi x) + 0.5 + ...
    model.lock(0, 0, 1, "x^2", (1.0, 1e-7, 2.0, -1.25))  # ... + 2 y^2 - 1.25 + 0.25 = 2 (sin(pi x) + y^2) - 0.5
    model.lock(1, 0, 0, "exp", (0.5, 0.25, 3.0, 0.0))  # 3 exp(h / 2 + 0.25) = 3 exp(sin(pi x) + y^2)
    expr = formula(model, ("x", "y"), digits=4)
    assert expr == 3 * sympy.exp(sympy.sin(sympy.Float(3.1416) * X) + Y**2)
    x = torch.rand(100, 2, dtype=torch.float64)
    with torch.no_grad():
        assert formula_rmse(expr, ("x", "y"), x, model(x)) < 1e-3


def test_tidy_expands_powers_but_keeps_exponentials_whole() -> None:
    expr = sympy.Float(2.0) * (Y + sympy.Float(0.5)) ** 2 + sympy.exp(X + Y**2) + sympy.Float(1e-6) * X
    assert tidy(expr, digits=3) == 2 * Y**2 + 2 * Y + sympy.Float(0.5) + sympy.exp(X + Y**2)


def test_formula_shows_free_edges_as_functions() -> None:
    model = SymbolicKAN(_small_kan([1, 1]))
    assert formula(model).atoms(sympy.core.function.AppliedUndef)
    with pytest.raises(ValueError, match="free edges"):
        formula_rmse(formula(model), ("x",), torch.zeros(3, 1), torch.zeros(3))


def test_symbolic_regression_recovers_the_paper_formula() -> None:
    """Train [2, 1, 1] on exp(sin(pi x) + y^2), lock every edge, retrain (a, b, c, d): the exact formula."""
    data = paper_data(PAPER, seed=0)
    kan = train_kan(data, [2, 1, 1], grids=(3, 5, 10, 20), steps=10, seed=0)
    model = SymbolicKAN(kan)
    prune(model, data.x_train)
    reports = auto_symbolic(model, data.x_train, r2_threshold=0.99)
    assert [(r.fit.name, r.locked) for r in reports] == [("sin", True), ("x^2", True), ("exp", True)]
    assert all(r.fit.r2 > 0.999 for r in reports)
    train_lbfgs(model, data.x_train, data.y_train, steps=10)
    expr = formula(model, ("x", "y"), digits=4)

    coeffs = exp_coefficients(expr)
    assert coeffs["c0"] == 0.0, expr  # no additive constant at all
    truth = {"c1": 1.0, "c2": math.pi, "c3": 0.0, "c4": 1.0, "c_y": 0.0, "c5": 0.0}
    for key, value in truth.items():
        assert coeffs[key] == pytest.approx(value, abs=1e-2), (key, expr)
    points = np.random.default_rng(0).uniform(-1, 1, size=(1000, 2))
    got = sympy.lambdify((X, Y), expr, modules="numpy")(points[:, 0], points[:, 1])
    want = np.exp(np.sin(np.pi * points[:, 0]) + points[:, 1] ** 2)
    assert np.max(np.abs(got / want - 1)) < 1e-3, expr
    assert formula_rmse(expr, ("x", "y"), data.x_test, data.y_test) < 1e-3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kanformer")
    register(parser.add_subparsers(dest="command"))
    return parser


@pytest.mark.e2e
def test_cli_symbolic_prints_the_graph_table_and_formula(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["symbolic", "--function", PAPER, "--widths", "2", "5", "1"])
    args.func(args)
    out = capsys.readouterr().out
    (graph,) = [s for s in out.splitlines() if s.startswith("graph: ")]
    assert "widths [2, 1, 1]" in graph
    assert "L0 0->" in out and "L1 " in out
    (line,) = [s for s in out.splitlines() if s.startswith("formula: ")]
    # the printed formula (4 digits) is exp(sin(pi x) + y^2) with every coefficient within 1e-2 (the
    # issue's criterion; its last digits move with float rounding of the fits, e.g. 1.0004*exp(...) - 0.0004)
    coeffs = exp_coefficients(sympy.sympify(line.removeprefix("formula: ")))
    truth = {"c0": 0.0, "c1": 1.0, "c2": math.pi, "c3": 0.0, "c4": 1.0, "c_y": 0.0, "c5": 0.0}
    for key, value in truth.items():
        assert coeffs[key] == pytest.approx(value, abs=1e-2), (key, line)
    (rmse,) = [s for s in out.splitlines() if "test RMSE" in s]
    assert float(rmse.split()[-1]) < 1e-3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--function", "sin(x"], "cannot parse"),
        (["--function", "nope"], "variables are x, y, z"),
        (["--function", PAPER, "--widths", "3", "1"], "does not match"),
        (["--function", "x*y", "--widths", "3", "5", "1"], "does not match"),
        (["--function", PAPER, "--r2", "1.5"], "--r2"),
        (["--function", PAPER, "--lamb", "-1"], "lamb=-1"),
        (["--function", PAPER, "--grids", "3", "5"], "grids="),
        ([], "--function"),
        (["--data", "nowhere.csv"], "--target"),
    ],
)
def test_cli_symbolic_user_errors_raise_value_error(argv: list[str], message: str) -> None:
    args = _parser().parse_args(["symbolic", *argv])
    with pytest.raises(ValueError, match=message):
        args.func(args)
