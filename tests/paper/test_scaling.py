"""The paper experiments: exponent fit, targets vs scipy, config checks, tiny end-to-end runs of both commands."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.special
import torch
from PIL import Image

from kanformer.paper.commands import paper_special, register
from kanformer.paper.config import SPECIAL_FUNCTION_NAMES
from kanformer.paper.fitting import fit_function, sample
from kanformer.paper.report import rerender
from kanformer.paper.scaling import fit_exponent, load_fit_config, torch_threads
from kanformer.paper.special import SPECIAL_FUNCTIONS, load_special_config, special_sample, to_unit

TINY_FIT = """
name: tiny-fit
n_train: 200
n_test: 200
steps_per_grid: 3
mlp_depths: [2]
mlp_widths: [5]
mlp_steps: 3
functions:
  - function: exp(sin(pi*x)+y^2)
    widths: [2, 1, 1]
    grids: [3, 5, 10]
"""

TINY_SPECIAL = """
name: tiny-special
n_train: 200
n_val: 100
n_test: 100
kan_shapes: [[2, 1, 1]]
kan_grids: [3, 5]
steps_per_grid: 3
mlp_depths: [2]
mlp_widths: [5]
mlp_steps: 3
budgets: [22, 1000]
functions: [jv]
"""


def _yaml(tmp_path: Path, text: str, name: str = "config.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kanformer")
    register(parser.add_subparsers(dest="command"))
    return parser


# ------------------------------------------------------------- exponent fit
def test_fit_exponent_recovers_a_known_slope_on_the_falling_stretch() -> None:
    params = [10, 20, 40, 80, 160, 320, 640]
    law = [3.0 * n**-4 for n in params]
    # Flat before the law starts (unresolved), saturated after 160, rising (overfitting) at the end.
    rmse = [law[1] * 1.02, law[1], law[2], law[3], law[4], law[4] * 0.9, law[4] * 1.5]
    fit = fit_exponent(params, rmse, flat_slope=0.5)
    assert fit.params == [20, 40, 80, 160]
    assert fit.exponent == pytest.approx(4.0, abs=1e-9)
    assert fit.prefactor == pytest.approx(3.0, rel=1e-9)


def test_fit_exponent_of_a_flat_curve_is_none() -> None:
    fit = fit_exponent([10, 20, 40], [1e-3, 0.99e-3, 0.98e-3])
    assert fit.exponent is None and len(fit.params) < 2
    assert fit_exponent([10], [1.0]).exponent is None
    assert fit_exponent([10, 20], [math.nan, 1.0]).exponent is None


# ------------------------------------------------------------------ targets
def test_j0_target_matches_scipy() -> None:
    x, y = sample("J0(20x)", 300, torch.Generator().manual_seed(1), torch.float64)
    assert x.dtype == y.dtype == torch.float64 and y.shape == (300, 1)
    assert (x.abs() <= 1).all()
    np.testing.assert_array_equal(y[:, 0].numpy(), scipy.special.j0(20 * x[:, 0].numpy()))
    x32, y32 = sample("J0(20x)", 300, torch.Generator().manual_seed(1))
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32[:, 0].numpy(), scipy.special.j0(20 * x32[:, 0].double().numpy()), atol=1e-7)


def test_special_dataset_matches_scipy_and_closed_forms() -> None:
    gen = torch.Generator().manual_seed(0)
    x, y = special_sample("jv", 500, gen)
    (v_lo, v_hi), (x_lo, x_hi) = SPECIAL_FUNCTIONS["jv"].domain
    assert v_lo <= x[:, 0].min() and x[:, 0].max() <= v_hi and x_lo <= x[:, 1].min() and x[:, 1].max() <= x_hi
    np.testing.assert_array_equal(y[:, 0].numpy(), scipy.special.jv(x[:, 0].numpy(), x[:, 1].numpy()))
    u = to_unit("jv", x)
    assert u.min() >= -1 and u.max() <= 1 and u.min() < -0.9 and u.max() > 0.9
    # Re Y_2^1(theta, phi) = -1/2 sqrt(15 / (2 pi)) sin(theta) cos(theta) cos(phi): checks the argument order.
    x, y = special_sample("sph_harm_m1_n2", 200, gen)
    theta, phi = x[:, 0], x[:, 1]
    expected = -0.5 * math.sqrt(15 / (2 * math.pi)) * torch.sin(theta) * torch.cos(theta) * torch.cos(phi)
    torch.testing.assert_close(y[:, 0], expected, rtol=1e-10, atol=1e-12)
    for name in SPECIAL_FUNCTIONS:
        _, y = special_sample(name, 400, gen)
        assert torch.isfinite(y).all() and y.std() > 0, name


# ------------------------------------------------------------------- config
def test_fit_config_validation_lists_every_problem(tmp_path: Path) -> None:
    path = _yaml(
        tmp_path,
        """
name: ../toy
dtype: float16
mlp_depths: [1, 2]
functions:
  - function: x*y
    widths: [3, 1]
    grids: [5, 3]
  - function: sin(x)
    widths: [1, 1]
    grids: [3]
  - function: J0(20x)
    widths: [1, 1]
    grids: [3, 5]
    steps: 4
""",
    )
    with pytest.raises(ValueError) as err:
        load_fit_config(path)
    text = str(err.value)
    assert "\n" not in text and path in text
    needles = ("name='../toy'", "dtype='float16'", "mlp_depths=[1, 2]", "widths=[3, 1]", "grids=[5, 3]")
    for needle in (*needles, "'sin(x)'", "['steps']"):
        assert needle in text, needle


def test_fit_config_type_errors_and_function_problems_together(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "n_train: lots\nfunctions:\n  - function: x*y\n    widths: [2, 1]\n    grids: [3, 3]\n")
    with pytest.raises(ValueError) as err:
        load_fit_config(path)
    assert "n_train='lots'" in str(err.value) and "grids=[3, 3]" in str(err.value)
    with pytest.raises(ValueError, match="functions must be a non-empty list"):
        load_fit_config(_yaml(tmp_path, "seed: 1\n", "empty.yaml"))


def test_special_config_validation_lists_every_problem(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "functions: [jv, gamma]\nkan_shapes: [[3, 1]]\nkan_grids: [10, 5]\nbudgets: [0]\n")
    with pytest.raises(ValueError) as err:
        load_special_config(path)
    text = str(err.value)
    assert "\n" not in text
    for needle in ("['gamma']", "kan_shapes=[[3, 1]]", "kan_grids=[10, 5]", "budgets=[0]"):
        assert needle in text, needle
    cfg = load_special_config(_yaml(tmp_path, TINY_SPECIAL, "ok.yaml"))
    assert cfg.functions == ["jv"] and cfg.kan_shapes == [[2, 1, 1]] and cfg.dtype == "float64"


# ------------------------------------------------------------------ end to end
def test_fit_function_builds_the_model_in_the_data_dtype() -> None:
    dtypes = []
    with torch_threads(1):  # what the commands use: tiny problems, shared CPU
        stages = fit_function(
            "x*y",
            widths=[2, 2, 1],
            grids=(3, 5),
            steps_per_grid=2,
            n_train=100,
            n_test=100,
            dtype=torch.float64,
            on_stage=lambda stage, model: dtypes.append(next(model.parameters()).dtype),
        )
    assert [s.grid_size for s in stages] == [3, 5] and dtypes == [torch.float64, torch.float64]
    assert stages[1].params > stages[0].params


def _png_ok(path: Path) -> None:
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 300 and img.size[1] > 200


def test_tiny_fit_sweep_writes_report_png_and_json(tmp_path: Path) -> None:
    config = _yaml(tmp_path, TINY_FIT)
    out = tmp_path / "report"
    args = _parser().parse_args(["paper", "fit", config, "--output-dir", str(out), "--quiet"])
    args.func(args)
    data = json.loads((out / "results.json").read_text())
    (f,) = data["functions"]
    assert [s["grid_size"] for s in f["kan"]["stages"]] == [3, 5, 10]
    assert all(s["test_rmse"] < 1.0 for s in f["kan"]["stages"])
    assert [(m["depth"], m["width"]) for m in f["mlps"]] == [(2, 5)] and f["best_mlp_depth"] == 2
    assert set(f["kan"]["fit"]) == {"exponent", "prefactor", "params", "rmse"}
    assert data["config"]["dtype"] == "float64" and data["environment"]["cpu_cores"] >= 1
    assert data["command"].startswith("kanformer paper fit ")
    report = (out / "report.md").read_text()
    assert "exp(sin(pi*x)+y^2)" in report and "![scaling.png](scaling.png)" in report and "float64" in report
    kan_rows = [line for line in report.splitlines() if line.startswith(("| 3 |", "| 5 |", "| 10 |"))]
    assert len(kan_rows) == 3
    _png_ok(out / "scaling.png")


def test_tiny_special_run_writes_budget_table(tmp_path: Path) -> None:
    out = tmp_path / "special"
    paths = paper_special(_yaml(tmp_path, TINY_SPECIAL), str(out), log=None)
    assert paths[0] == out / "report.md" and {p.name for p in paths} >= {"pareto.png", "best_at_budget.png"}
    data = json.loads((out / "results.json").read_text())
    (f,) = data["functions"]
    assert len(f["points"]) == 3  # KAN at G=3 and G=5, one MLP
    small, large = f["budgets"]
    kan_params = sorted(p["params"] for p in f["points"] if p["kind"] == "kan")
    # KAN [2, 1, 1]: 3 edges x (G + 3 coefficients + 1 base weight) + 2 biases = 23 at G=3; the MLP 2-5-1 has 21.
    assert small["budget"] == 22 and small["kan"] is None and small["mlp"]["params"] == 21
    assert large["kan"]["val_rmse"] == min(p["val_rmse"] for p in f["points"] if p["kind"] == "kan")
    assert kan_params == [23, 29] and large["kan_over_mlp"] > 0
    report = (out / "report.md").read_text()
    assert "| jv | `jv(v, x)` | 1000 |" in report
    for name in ("pareto.png", "best_at_budget.png"):
        _png_ok(out / name)
    # Rendering again from results.json (NaN stored as null) gives the same report.
    (out / "report.md").unlink()
    rerender(out)
    assert (out / "report.md").read_text() == report


def test_bad_config_is_one_line_error(tmp_path: Path) -> None:
    args = _parser().parse_args(["paper", "special", str(tmp_path / "missing.yaml")])
    with pytest.raises(ValueError, match="does not exist"):
        args.func(args)
    blocker = tmp_path / "file"
    blocker.write_text("")
    args = _parser().parse_args(["paper", "fit", _yaml(tmp_path, TINY_FIT), "--output-dir", str(blocker)])
    with pytest.raises(ValueError, match="is a file"):
        args.func(args)


def test_least_squares_optimum_of_a_one_layer_kan_beats_lbfgs_and_leaves_the_model() -> None:
    from kanformer.layers import KAN
    from kanformer.paper.fitting import paper_data, rmse, train_lbfgs
    from kanformer.paper.scaling import least_squares_rmse

    data = paper_data("J0(20x)", 300, 300, 0, torch.float64)
    model = KAN([1, 1], grid_size=30, dtype=torch.float64)
    model.update_grid(data[0])
    train_lbfgs(model, data[0], data[1], 2)
    before = [p.clone() for p in model.parameters()]
    train, test = least_squares_rmse(model, *data)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert train < rmse(model, data[0], data[1]) and train < 1e-2 and test < 2e-2


def test_special_function_names_are_the_functions() -> None:
    """kanformer.paper.config lists the special functions' names without importing scipy."""
    assert tuple(SPECIAL_FUNCTIONS) == SPECIAL_FUNCTION_NAMES
