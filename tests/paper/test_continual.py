"""The continual-learning experiment on a reduced config: the B-spline KAN keeps the regions it learned
while the MLP forgets them, and the same check fails for KANs whose locality is broken (a global
basis, a trained base branch); phases move only the coefficients their samples touch; the command
writes its report; bad configs are one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from kanformer.cli import build_parser, main
from kanformer.fitting import train_lbfgs
from kanformer.paper.config import ContinualConfig, load_continual_config, parse_continual_config
from kanformer.paper.continual import (
    build_continual_mlp,
    build_kan,
    peak_centres,
    phase_data,
    regions,
    run_model,
    target,
)
from kanformer.paper.report import rerender
from kanformer.paper.scaling import torch_threads

# Five peaks as in the paper; fewer samples, a coarser grid (63 parameters), an MLP of 61 parameters and few
# LBFGS steps: seconds, not minutes.
REDUCED = {"points_per_peak": 40, "n_test": 200, "steps_per_phase": 5, "kan_grid": 60, "mlp_width": 6}

# The KAN's forgetting on REDUCED is ~2e-5 (basis functions straddling a region's end are refitted by the
# neighbouring phase); the broken variants and the MLP forget 0.1 or more.
FORGETTING_TOLERANCE = 1e-3


def _run(kind: str, **settings: Any) -> dict[str, Any]:
    cfg = ContinualConfig(**{**REDUCED, **settings})
    model = build_kan(cfg) if kind == "kan" else build_continual_mlp(cfg)
    with torch_threads(1):
        return run_model(kind, model, kind, cfg, torch.float64)


def remembers(run: dict[str, Any]) -> bool:
    """Every region is still fitted after the last phase about as well as right after its own phase."""
    return run["max_forgetting"] < FORGETTING_TOLERANCE


def first_region(run: dict[str, Any]) -> list[float]:
    """Region 1's RMSE after each phase."""
    return [p["region_rmse"][0] for p in run["phases"]]


def test_regions_tile_the_interval_around_the_peaks() -> None:
    ends = [end for region in regions(5) for end in region]
    assert ends == pytest.approx([-1, -0.6, -0.6, -0.2, -0.2, 0.2, 0.2, 0.6, 0.6, 1])
    centres = torch.tensor(peak_centres(5), dtype=torch.float64).unsqueeze(1)
    # Each peak is 1 high; the others add exp(-300 * 0.4^2) ~ 1e-21 at most.
    torch.testing.assert_close(target(centres, 5, 300.0), torch.ones(5, 1, dtype=torch.float64))
    phases = phase_data(ContinualConfig(**REDUCED))
    assert len(phases) == 5
    for (x, y), (lo, hi) in zip(phases, regions(5), strict=True):
        assert x.shape == y.shape == (40, 1) and x.min() == pytest.approx(lo) and x.max() == pytest.approx(hi)


def _zero_prediction_rmse(cfg: ContinualConfig) -> float:
    """Region 1's RMSE of a model that predicts 0 (never learned the peak): ~0.42 at sharpness 300."""
    _, y = phase_data(cfg)[0]
    return y.pow(2).mean().sqrt().item()


def test_kan_keeps_the_first_region_while_the_mlp_forgets_it() -> None:
    kan, mlp = _run("kan"), _run("mlp")
    untrained = _zero_prediction_rmse(ContinualConfig(**REDUCED))
    kan_first, mlp_first = first_region(kan), first_region(mlp)
    assert max(kan_first) < 5e-3 and remembers(kan)  # learned in phase 1 and kept through phase 5
    assert [len(p["region_rmse"]) for p in kan["phases"]] == [1, 2, 3, 4, 5]
    # The MLP (as many parameters) learned some of region 1 in phase 1, then lost it: more than 10x worse,
    # and worse than a model that never saw the peak.
    assert mlp_first[0] < untrained and mlp_first[-1] > 10 * mlp_first[0] and mlp_first[-1] > 2 * untrained
    assert not remembers(mlp)
    assert abs(kan["params"] - mlp["params"]) <= 5


@pytest.mark.parametrize(
    "settings",
    [{"kan_basis": "chebyshev"}, {"kan_basis": "fourier", "kan_grid": 30}, {"kan_base": True}],
    ids=["chebyshev-basis", "fourier-basis", "trained-base-branch"],
)
def test_a_kan_without_locality_fails_the_same_check(settings: dict[str, Any]) -> None:
    """Global basis functions, or a global base branch and bias, let a new phase move the old regions."""
    run = _run("kan", **settings)
    assert run["phases"][0]["region_rmse"][0] < 0.05  # it did learn region 1 ...
    assert not remembers(run)  # ... and forgot it


def test_a_phase_moves_only_the_coefficients_its_samples_touch() -> None:
    cfg = ContinualConfig(**REDUCED)
    kan = build_kan(cfg)
    (x1, y1), (x2, y2) = phase_data(cfg)[:2]
    train_lbfgs(kan, x1, y1, 3, tolerance_grad=1e-32, tolerance_change=1e-32)
    before = kan.layers[0].spline_weight.detach().clone()
    train_lbfgs(kan, x2, y2, 3, tolerance_grad=1e-32, tolerance_change=1e-32)
    after = kan.layers[0].spline_weight.detach()
    with torch.no_grad():
        touched = kan.layers[0].basis(x2).abs().amax(0)[0] > 0  # (F,): B_k non-zero at some phase-2 sample
    assert torch.equal(after[..., ~touched], before[..., ~touched])
    assert (after[..., touched] != before[..., touched]).any()
    assert touched.sum() < touched.numel() / 3


def test_command_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "continual.yaml"
    config.write_text(
        "name: tiny-continual\nn_peaks: 3\npoints_per_peak: 30\nn_test: 120\nsteps_per_phase: 3\nkan_grid: 30\n"
    )
    out = tmp_path / "report"
    assert main(["paper", "continual", str(config), "--output-dir", str(out), "--quiet"]) == 0
    assert "wrote" in capsys.readouterr().out
    data = json.loads((out / "results.json").read_text())
    assert data["command"] == f"kanformer paper continual {config} --output-dir {out} --quiet"
    assert data["config"]["n_peaks"] == 3 and data["environment"]["cpu_cores"] >= 1
    kan, mlp = data["models"]
    assert (kan["kind"], mlp["kind"]) == ("kan", "mlp") and kan["params"] == 33  # G + 3 coefficients
    assert [len(p["prediction"]) for p in kan["phases"]] == [120] * 3 and len(data["curve"]["x"]) == 120
    report = (out / "report.md").read_text()
    assert "![continual.png](continual.png)" in report and "## Environment" in report
    assert report.count("| 3 | ") == 2  # the last phase's row in both error tables
    assert "| 1 | " in report and "| - | - |" in report  # phase 1: regions 2 and 3 not seen yet
    with Image.open(out / "continual.png") as img:
        assert img.format == "PNG" and img.size[0] > 600 and img.size[1] > 300
    (out / "report.md").unlink()
    rerender(out)
    assert (out / "report.md").read_text() == report


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_peaks": 1}, "n_peaks=1 (must be >= 2)"),
        ({"kan_basis": "wavelet"}, "kan_basis='wavelet' (choose one of"),
        ({"sharpness": -3}, "sharpness=-3.0 (must be > 0)"),
        ({"steps_per_phase": 0}, "steps_per_phase=0"),
        ({"mlp_activation": "sine"}, "mlp_activation='sine'"),
        ({"kan_grids": 5}, "did you mean 'kan_grid'"),
    ],
)
def test_bad_config_is_one_line(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_continual_config(settings, "test config")
    text = str(err.value)
    assert "\n" not in text and message in text and text.startswith("test config")


def test_bad_config_file_exits_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("kan_grid: 0\nmlp_depth: 1\n")
    assert main(["paper", "continual", str(config), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "kan_grid=0" in err and "mlp_depth=1" in err
    assert not (tmp_path / "out").exists()


def test_default_config_is_the_papers_setup() -> None:
    args = build_parser().parse_args(["paper", "continual"])
    assert args.config == "configs/paper/continual.yaml"
    cfg = load_continual_config(str(Path(__file__).parents[2] / args.config))
    assert (cfg.n_peaks, cfg.points_per_peak, cfg.sharpness, cfg.kan_grid, cfg.kan_basis) == (
        5,
        100,
        300,
        200,
        "bspline",
    )
    assert not cfg.kan_base and cfg.name == "continual"


def test_missing_default_config_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no configs/ here
    assert main(["paper", "continual"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "configs/paper/continual.yaml" in err and "repository root" in err
