"""The Feynman experiment on a reduced config: the data follow the formulas, the exactness check tells
exact, numerical and wrong formulas apart, pruning reaches the true graph of easy equations, the
report is written, and an unknown equation id is one line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import sympy
import torch
import yaml

from kanformer.interpret.plot import edge_alphas
from kanformer.interpret.symbolic import SymbolicKAN, active_nodes
from kanformer.layers import KAN
from kanformer.paper.commands import paper_feynman
from kanformer.paper.config import parse_feynman_config
from kanformer.paper.feynman import (
    EQUATIONS,
    equation_data,
    exactness,
    input_ranges,
    matched_width,
    pruned_param_count,
    snap_numbers,
    truth,
)
from kanformer.paper.report import feynman_graph_figure, feynman_readme_table, rerender
from kanformer.paper.scaling import mlp_param_count

ROOT = Path(__file__).resolve().parents[2]

# Small enough for seconds, large enough that the easy equations still prune to their true graph.
REDUCED = {
    "equations": ["III.10.19", "II.2.42"],
    "n_train": 300,
    "n_test": 300,
    "sparse_steps": 15,
    "grids": [5, 10],
    "steps": 5,
    "polish_steps": 20,
}


def test_data_follow_the_formula_on_the_ranges() -> None:
    eq = EQUATIONS["I.12.11"]  # 1 + a*sin(theta), a on [-1, 1], theta on [0, 2 pi]
    data = equation_data(eq, 500, 100, seed=3, dtype=torch.float64)
    a, theta = data.x_train[:, 0], data.x_train[:, 1]
    torch.testing.assert_close(data.y_train[:, 0], 1 + a * torch.sin(theta))
    assert data.variables == ("a", "theta") and data.x_test.shape == (100, 2)
    assert -1 <= a.min() < -0.9 and 0.9 < a.max() <= 1
    assert 0 <= theta.min() < 0.1 and 2 * math.pi - 0.1 < theta.max() <= 2 * math.pi
    again = equation_data(eq, 500, 100, seed=3, dtype=torch.float64)
    torch.testing.assert_close(again.x_test, data.x_test)  # seeded
    assert not torch.equal(equation_data(eq, 500, 100, seed=4, dtype=torch.float64).x_train, data.x_train)


@pytest.mark.parametrize("eq_id", list(EQUATIONS))
def test_every_equation_is_finite_on_its_ranges_and_fits_the_paper_shapes(eq_id: str) -> None:
    eq = EQUATIONS[eq_id]
    data = equation_data(eq, 200, 8, seed=0, dtype=torch.float64)  # raises when not finite
    assert {s.name for s in truth(eq).free_symbols} == set(eq.variables)
    assert all(lo < hi for lo, hi in input_ranges(eq)) and data.y_train.std() > 0
    for shape in (eq.paper.human_shape, eq.paper.smallest_pruned_shape, eq.paper.best_pruned_shape):
        assert shape[0] == len(eq.variables) and shape[-1] == 1
    assert 0 < eq.paper.pruned_rmse < 1 and 0 < eq.paper.mlp_rmse < 1


def test_symbols_carry_the_sign_of_their_range() -> None:
    symbols = {s.name: s for s in truth(EQUATIONS["I.44.4"]).free_symbols}  # n on [0, 1], a on [0.5, 2]
    assert symbols["a"].is_positive and symbols["n"].is_nonnegative and not symbols["n"].is_positive


def test_snap_numbers_reads_simple_numbers_as_pykan_formulas_are_read() -> None:
    a, b = sympy.symbols("a b", real=True)
    assert snap_numbers(0.0796 * a + 3.1412 * b) == a / (4 * sympy.pi) + sympy.pi * b
    assert snap_numbers(0.9991 * a**2 - 0.33333 - 0.0009 * b) == a**2 - sympy.Rational(1, 3)
    assert snap_numbers(0.1628 * a).atoms(sympy.Float)  # no simple number within 1%: stays
    assert snap_numbers(1.03 * a, tolerance=1e-2).atoms(sympy.Float)
    k = 0.1739841  # the scale of a sum under a root moves out, so c and k snap together
    assert snap_numbers(k**-0.5 * sympy.sqrt(k * a**2 + k * b**2 + k)) == sympy.sqrt(a**2 + b**2 + 1)


def _data(eq_id: str, n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    data = equation_data(EQUATIONS[eq_id], n, n, seed=0, dtype=torch.float64)
    return data.x_test, data.y_test


def test_exactness_tells_exact_numerical_wrong_and_unfinished_formulas_apart() -> None:
    a, b, c = sympy.symbols("a b c")
    x, y = _data("II.2.42")
    exact = exactness(1.0000000001 * a * b - 0.9999999999 * b + 1e-11, EQUATIONS["II.2.42"], x, y)
    assert exact["exact"] == "sympy" and exact["snapped"] == "a*b - b" and exact["rmse"] < 1e-9
    assert exactness(a * b, EQUATIONS["II.2.42"], x, y)["exact"] == "no"
    junk = exactness(a * b - b + 5e-5 * sympy.sin(37 * a), EQUATIONS["II.2.42"], x, y)
    assert junk["exact"] == "sympy" and 1e-5 < junk["rmse"] < 1e-4  # terms below 1e-2 are read as 0
    off = a * b - 1.03 * b  # 1.03 is no simple number: not proven, RMSE ~ 0.03 * std(b)
    assert exactness(off, EQUATIONS["II.2.42"], x, y)["exact"] == "no"
    assert exactness(off, EQUATIONS["II.2.42"], x, y, exact_tolerance=0.1)["exact"] == "numerical"
    broken = a * b - b + 0.5 * sympy.log(1e-4 * b + 2e-4)  # snaps to log(0): no, and no error
    assert exactness(broken, EQUATIONS["II.2.42"], x, y)["exact"] == "no"
    free = sympy.Function("phi_0_0_1")(b) * a
    assert exactness(free, EQUATIONS["II.2.42"], x, y) == {"exact": "free edges", "rmse": None, "snapped": None}
    x3, y3 = _data("II.6.15a")  # c*sqrt(a**2 + b**2)/(4 pi): pi is snapped, positivity lets sympy finish
    fitted = 0.0795774715459 * c * (3.0 * a**2 + 3.0 * b**2) ** 0.5 / 3.0**0.5
    assert exactness(fitted, EQUATIONS["II.6.15a"], x3, y3)["exact"] == "sympy"


def test_pruned_param_count_counts_only_the_kept_graph() -> None:
    kan = KAN([2, 3, 1], grid_size=5, dtype=torch.float64)
    model = SymbolicKAN(kan)
    model.masks[0][1:, :] = False  # hidden nodes 1 and 2 lose their inputs: graph [2, 1, 1]
    assert [len(n) for n in active_nodes(model)] == [2, 1, 1]
    per_edge = kan.layers[0].spline_weight.shape[-1] + 1  # G + k coefficients and the base weight
    assert pruned_param_count(model) == 3 * per_edge + 2  # 3 edges, biases of h1.0 and out
    assert pruned_param_count(SymbolicKAN(kan)) == sum(p.numel() for p in kan.parameters())


@pytest.mark.parametrize(("in_dim", "depth", "params"), [(2, 3, 29), (3, 2, 74), (2, 4, 500), (2, 3, 1)])
def test_matched_width_is_the_closest_mlp(in_dim: int, depth: int, params: int) -> None:
    w = matched_width(in_dim, depth, params)
    gap = abs(mlp_param_count(in_dim, depth, w) - params)
    assert all(gap <= abs(mlp_param_count(in_dim, depth, v) - params) for v in range(1, 60))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One reduced run of ``paper_feynman`` (two easy equations, ~10 s on one core) for the tests below."""
    root = tmp_path_factory.mktemp("feynman")
    (root / "cfg.yaml").write_text(yaml.safe_dump({"name": "feynman-test", **REDUCED}))
    paper_feynman(str(root / "cfg.yaml"), str(root / "out"), command="kanformer paper feynman cfg.yaml", log=None)
    return root / "out"


def _rows(report: Path) -> dict[str, dict]:
    return {e["id"]: e for e in json.loads((report / "results.json").read_text())["equations"]}


def test_pruning_reaches_the_true_graph_and_formula_of_easy_equations(report: Path) -> None:
    rows = _rows(report)
    root = rows["III.10.19"]  # sqrt(1 + a^2 + b^2) from [2, 5, 1]: one hidden node sums a^2 and b^2
    assert root["kan"]["shape"] == [2, 1, 1] == root["paper"]["smallest_pruned_shape"]
    assert root["kan"]["test_rmse"] < 1e-3 and root["formula_exact"] in ("sympy", "numerical")
    product = rows["II.2.42"]  # (a - 1)*b: a product needs two hidden nodes, (u + v)^2 - (u - v)^2
    assert product["kan"]["shape"] == [2, 2, 1]
    assert product["formula_exact"] == "sympy" and product["formula_snapped"] == "a*b - b"
    for row in rows.values():  # the MLP matches the pruned KAN's size and both are real fits
        assert abs(row["mlp"]["params"] - row["kan"]["params"]) <= 0.2 * row["kan"]["params"]
        assert 0 < row["mlp"]["test_rmse"] < row["target_std"]


def test_report_carries_tables_plots_and_provenance(report: Path) -> None:
    results = json.loads((report / "results.json").read_text())
    assert results["command"] == "kanformer paper feynman cfg.yaml" and results["config"]["seed"] == 0
    assert results["environment"]["torch"] and results["environment"]["torch_threads"] == 1
    assert results["config"]["mlp_steps"] == 15 + 5 * 2
    text = (report / "report.md").read_text()
    assert "quoted from Liu et al. 2024, Table 2" in text and "| III.10.19 |" in text
    assert "`kanformer paper feynman cfg.yaml`" in text and "## Environment" in text
    for name in ("feynman_rmse.png", "graph_III.10.19.png", "graph_II.2.42.png"):
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{name}]({name})" in text
    (report / "graph_II.2.42.png").unlink()
    rerender(report)  # the pruned graphs are drawn from results.json alone
    assert (report / "graph_II.2.42.png").is_file()


def test_graph_figure_draws_the_kept_edges_with_their_names(report: Path) -> None:
    row = _rows(report)["III.10.19"]
    fig = feynman_graph_figure(row)
    assert set(edge_alphas(fig)) == {(0, 0, 0), (0, 0, 1), (1, 0, 0)}  # a -> h, b -> h, h -> f
    texts = {t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))}
    assert {"a", "b", "f"} <= texts and set(row["drawing"]["layers"][0]["labels"]) <= texts


def test_unknown_equation_id_is_one_line_listing_the_valid_ids(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as err:
        parse_feynman_config({"equations": ["I.16.6", "I.99.9"]}, "cfg")
    assert "I.99.9" in str(err.value) and "III.17.37" in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "bad.yaml").write_text("equations: [I.99.9]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "kanformer", "paper", "feynman", str(tmp_path / "bad.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "I.99.9" in proc.stderr and "II.2.42" in proc.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lamb": -1}, "lamb=-1"),
        ({"grids": [3, 5]}, "must start above sparse_grid"),
        ({"equations": []}, "non-empty"),
        ({"hidden": [0]}, "hidden=[0]"),
        ({"r2_threshold": 2}, "r2_threshold=2"),
        ({"mlp_depth": 1}, "mlp_depth=1"),
    ],
)
def test_bad_config_is_one_line(settings: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_feynman_config(settings, "test config")
    text = str(err.value)
    assert "\n" not in text and message in text and text.startswith("test config")


def test_readme_feynman_table_is_the_committed_report() -> None:
    """README.md's Feynman table holds reports/paper/feynman/results.json's numbers, as
    :func:`feynman_readme_table` renders them (regenerate the table with it after a new run)."""
    expected = feynman_readme_table(json.loads((ROOT / "reports/paper/feynman/results.json").read_text()))
    lines = (ROOT / "README.md").read_text().splitlines()
    assert expected[0] in lines, "README.md has no Feynman table; paste feynman_readme_table(results)"
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected, "README.md's Feynman table differs from results.json"
