"""pykan's workflow: sparse training, attribution pruning, formulas from a wide KAN; user functions and CSV data."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
import torch
from symbolic_formulas import exp_coefficients

from kanformer import KAN
from kanformer.fitting import grow_kan
from kanformer.interpret.sparse import (
    SparseObjective,
    csv_data,
    discover,
    equivalent,
    function_data,
    parse_function,
)
from kanformer.interpret.symbolic import SymbolicKAN, active_nodes, attribution_scores, graph_summary, prune
from kanformer.interpret.symbolic_commands import register

X, Y = sympy.symbols("x y")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kanformer")
    register(parser.add_subparsers(dest="command"))
    return parser


# ------------------------------------------------------------------ parsing and data


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        ("exp(sin(pi*x)+y^2)", ("x", "y")),
        ("y**2", ("x", "y")),
        ("z + e", ("x", "y", "z")),
        ("x1*x3", ("x1", "x2", "x3")),
        ("sin(x)", ("x",)),
    ],
)
def test_parse_function_reads_variables_and_constants(text: str, variables: tuple[str, ...]) -> None:
    expr, got = parse_function(text)
    assert got == variables
    assert not expr.free_symbols - {sympy.Symbol(v) for v in variables}


def test_parse_function_knows_pi_and_e() -> None:
    expr, _ = parse_function("e^x + pi")
    assert sympy.simplify(expr - (sympy.exp(X) + sympy.pi)) == 0


@pytest.mark.parametrize(
    ("text", "message"), [("sin(x", "cannot parse"), ("a*b", "variables"), ("x*x2", "mixed"), ("3", "no variable")]
)
def test_parse_function_rejects_bad_input_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_function(text)
    assert "\n" not in str(err.value)


def test_function_data_samples_the_expression() -> None:
    data = function_data("x*y + 1", n_train=64, n_test=32)
    assert data.x_train.shape == (64, 2) and data.y_test.shape == (32, 1)
    torch.testing.assert_close(data.y_train[:, 0], data.x_train[:, 0] * data.x_train[:, 1] + 1)


def test_function_data_rejects_a_function_not_finite_on_the_domain() -> None:
    with pytest.raises(ValueError, match="not finite"):
        function_data("log(x)", n_train=64, n_test=8)


def _write_csv(path: Path, header: list[str], rows: np.ndarray) -> None:
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(f"{v!r}" for v in r) for r in rows.tolist()) + "\n")


def test_csv_data_uses_the_other_columns_as_inputs(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).uniform(-1, 1, size=(50, 3))
    rows[:, 1] = rows[:, 0] * rows[:, 2]
    _write_csv(tmp_path / "d.csv", ["a", "f", "b"], rows)
    data = csv_data(str(tmp_path / "d.csv"), "f")
    assert data.variables == ("a", "b") and data.x_train.shape == (40, 2) and data.x_test.shape == (10, 2)
    torch.testing.assert_close(data.y_train[:, 0], data.x_train[:, 0] * data.x_train[:, 1])


def test_csv_data_without_the_target_column_is_one_line(tmp_path: Path) -> None:
    _write_csv(tmp_path / "d.csv", ["a", "b"], np.zeros((10, 2)))
    with pytest.raises(ValueError, match="no column 'f'"):
        csv_data(str(tmp_path / "d.csv"), "f")
    with pytest.raises(ValueError, match="cannot be read"):
        csv_data(str(tmp_path / "missing.csv"), "f")


# ------------------------------------------------------------------ objective, pruning


def test_sparse_objective_rejects_negative_lamb_and_warms_up() -> None:
    with pytest.raises(ValueError, match="lamb=-0.1"):
        SparseObjective(lamb=-0.1)
    obj = SparseObjective(lamb=0.1, warmup=4)
    obj.set_step(0)
    assert obj.current == 0
    obj.set_step(2)
    assert obj.current == pytest.approx(0.05)
    obj.set_step(10)
    assert obj.current == pytest.approx(0.1)


def test_grow_kan_drives_the_objective_schedule() -> None:
    seen: list[int] = []

    class Recording(SparseObjective):
        def set_step(self, step: int) -> None:
            seen.append(step)
            super().set_step(step)

    x = torch.rand(64, 2, dtype=torch.float64) * 2 - 1
    grow_kan(x, x[:, :1] * x[:, 1:], [2, 2, 1], grids=(3, 5), steps_per_grid=2, objective=Recording(warmup=2))
    assert seen[1:] == [0, 1, 2, 3]  # the first call is the constructor's


def test_sparse_objective_adds_the_regulariser() -> None:
    torch.manual_seed(0)
    kan = KAN([2, 3, 1], dtype=torch.float64)
    x = torch.rand(64, 2, dtype=torch.float64)
    y = torch.zeros(64, 1, dtype=torch.float64)
    plain = SparseObjective(lamb=0.0)(kan, x, y)
    sparse = SparseObjective(lamb=0.5)(kan, x, y)
    torch.testing.assert_close(sparse - plain, 0.5 * kan.regularization_loss(x))


def test_attribution_prunes_a_node_whose_output_edge_is_zero() -> None:
    """Node 2 has large incoming edges but feeds nothing: attribution scores it 0 and prune removes it."""
    torch.manual_seed(0)
    kan = KAN([2, 3, 1], dtype=torch.float64)
    with torch.no_grad():
        kan.layers[1].spline_weight[:, 2] = 0
        kan.layers[1].base_weight[:, 2] = 0
    model = SymbolicKAN(kan)
    x = torch.rand(256, 2, dtype=torch.float64) * 2 - 1
    edges, nodes = attribution_scores(model, x)
    assert [tuple(e.shape) for e in edges] == [(3, 2), (1, 3)] and [n.numel() for n in nodes] == [2, 3, 1]
    assert float(nodes[1][2]) < 1e-8 and float(edges[0][2].max()) < 1e-8
    prune(model, x, criterion="attribution")
    assert active_nodes(model) == [[0, 1], [0, 1], [0]]
    assert graph_summary(model).startswith("widths [2, 2, 1]: ")
    torch.testing.assert_close(model(x), kan(x))


def test_prune_rejects_an_unknown_criterion() -> None:
    model = SymbolicKAN(KAN([2, 2, 1]))
    with pytest.raises(ValueError, match="criterion"):
        prune(model, torch.zeros(8, 2), criterion="magic")


def test_equivalent_snaps_floats_and_simplifies() -> None:
    expr = sympy.Float(0.25) * (X + Y) ** 2 - sympy.Float(0.2500001) * (X - Y) ** 2
    assert equivalent(expr, "x*y")
    assert not equivalent(expr + sympy.Float(0.1) * X, "x*y")


# ------------------------------------------------------------------ the whole path


@pytest.mark.e2e
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_wide_kan_prunes_to_the_paper_formula(seed: int) -> None:
    """[2, 5, 1] -> sparse training -> [2, 1, 1] -> exp(sin(pi x) + y^2), coefficients within 1e-2."""
    data = function_data("exp(sin(pi*x)+y^2)", seed=seed)
    found = discover(data.x_train, data.y_train, [2, 5, 1], seed=seed)
    assert found.graph.startswith("widths [2, 1, 1]"), found.graph
    coeffs = exp_coefficients(found.formula)
    truth = {"c1": 1.0, "c2": math.pi, "c3": 0.0, "c4": 1.0, "c_y": 0.0, "c5": 0.0, "c0": 0.0}
    for key, value in truth.items():
        assert coeffs[key] == pytest.approx(value, abs=1e-2), (key, found.formula)


@pytest.mark.e2e
@pytest.mark.parametrize("seed", [0, 1])
def test_wide_kan_finds_x_times_y(seed: int) -> None:
    data = function_data("x*y", seed=seed)
    found = discover(data.x_train, data.y_train, [2, 5, 1], seed=seed)
    assert found.graph.startswith("widths [2, 2, 1]"), found.graph
    fn = sympy.lambdify((X, Y), found.formula, modules="numpy")
    x = data.x_test.numpy()
    np.testing.assert_allclose(fn(x[:, 0], x[:, 1]), x[:, 0] * x[:, 1], atol=1e-3)
    assert equivalent(found.formula, "x*y"), found.formula


@pytest.mark.e2e
def test_cli_symbolic_fits_a_csv_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = np.random.default_rng(0).uniform(-1, 1, size=(500, 3))
    rows[:, 2] = rows[:, 0] * rows[:, 1]
    _write_csv(tmp_path / "d.csv", ["u", "v", "f"], rows)
    args = _parser().parse_args(["symbolic", "--data", str(tmp_path / "d.csv"), "--target", "f"])
    args.func(args)
    out = capsys.readouterr().out
    (line,) = [s for s in out.splitlines() if s.startswith("formula: ")]
    assert equivalent(sympy.sympify(line.removeprefix("formula: ")), "u*v"), line


def test_cli_bad_expression_is_one_line_and_a_non_zero_exit() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kanformer", "symbolic", "--function", "sin(x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "cannot parse" in proc.stderr
