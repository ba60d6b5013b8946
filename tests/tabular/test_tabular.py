"""The tabular KAN vs MLP benchmark: tasks, splits, metrics, parameter matching, the report and the command."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from kanformer.tabular import (
    TabularConfig,
    build_kan,
    build_mlp,
    count_params,
    match_mlp_widths,
    mlp_param_count,
    plan_widths,
    run_tabular,
    tabular_config,
)
from kanformer.tabular.commands import register
from kanformer.tasks.tabular import (
    OFFLINE_TASKS,
    TABULAR_TASKS,
    get_tabular_task,
    load_tabular,
    make_splits,
    score,
    split_indices,
)

# A budget that learns wine in well under a second per run.
TINY = {"kan_hidden": [4], "epochs": 15, "patience": 5, "batch_size": 32, "lr": 1e-2}


def _quiet(_: str) -> None:
    pass


def test_wine_end_to_end_writes_the_report(tmp_path) -> None:
    cfg = TabularConfig(tasks=["wine"], seeds=2, **TINY)
    results = run_tabular(cfg, tmp_path, command="kanformer tabular --tasks wine --seeds 2", log=_quiet)

    assert {p.name for p in tmp_path.iterdir()} == {"report.md", "results.json", "metrics.png"}
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["command"] == "kanformer tabular --tasks wine --seeds 2"
    assert saved["environment"]["cpu_cores"] >= 1 and saved["environment"]["torch"]
    assert [(r["model"], r["seed"]) for r in saved["runs"]] == [("kan", 0), ("mlp", 0), ("kan", 1), ("mlp", 1)]
    assert saved["tasks"]["wine"]["split_sizes"] == {"train": 106, "val": 36, "test": 36}

    rows = {r["model"]: r for r in saved["summary"]}
    assert set(rows) == {"kan", "mlp"}
    assert rows["kan"]["widths"] == [13, 4, 3] and rows["mlp"]["widths"][0] == 13
    assert abs(rows["kan"]["params"] - rows["mlp"]["params"]) <= 0.05 * rows["kan"]["params"]
    for row in rows.values():
        accuracy = row["metrics"]["accuracy"]
        assert accuracy["n"] == 2 and accuracy["std"] is not None
        assert accuracy["mean"] > 0.8, row  # three classes: chance is about 0.4
    assert results["summary"] == saved["summary"]

    report = (tmp_path / "report.md").read_text()
    assert "### wine (classification: accuracy)" in report
    for model in ("kan", "mlp"):
        row = rows[model]
        acc = row["metrics"]["accuracy"]
        line = f"| {model.upper()} | {row['widths']} | {row['params']:,} | {acc['mean']:.4f} ± {acc['std']:.4f} (n=2) |"
        assert line in report
    assert "![test metric per task, KAN vs MLP](metrics.png)" in report
    assert "beyond seed noise on" in report and "CPU, " in report


@pytest.mark.parametrize(
    ("features", "outputs", "hidden", "depth"),
    [(13, 3, [16], 2), (64, 10, [16], 2), (10, 1, [8], 1), (30, 2, [16, 8], 3)],
)
def test_mlp_parameters_match_the_kan(features: int, outputs: int, hidden: list[int], depth: int) -> None:
    cfg = TabularConfig(kan_hidden=hidden, mlp_depth=depth)
    widths = plan_widths(features, outputs, cfg)
    kan, mlp = build_kan(widths["kan"], cfg), build_mlp(widths["mlp"], cfg.mlp_activation)
    assert widths["mlp"][0] == features and widths["mlp"][-1] == outputs and len(widths["mlp"]) == depth + 2
    assert count_params(mlp) == mlp_param_count(widths["mlp"])
    assert abs(count_params(mlp) - count_params(kan)) / count_params(kan) <= 0.05
    # The next wider MLP is no closer: the solved width is the best one.
    wider = [features, *[widths["mlp"][1] + 1] * depth, outputs]
    assert abs(mlp_param_count(wider) - count_params(kan)) >= abs(count_params(mlp) - count_params(kan))
    x = torch.randn(5, features)
    assert kan(x).shape == mlp(x).shape == (5, outputs)


def test_unmatchable_parameter_count_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match=r"no MLP of depth 2 matches 100 parameters within 5%") as err:
        match_mlp_widths(64, 10, 2, target=100)
    assert "\n" not in str(err.value)


def test_splits_are_deterministic_disjoint_and_stratified() -> None:
    _, y = load_tabular("wine")
    train, val, test = split_indices(y, stratify=True, seed=0)
    again = split_indices(y, stratify=True, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    assert not np.array_equal(test, split_indices(y, stratify=True, seed=1)[2])
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert sorted([*train, *val, *test]) == list(range(len(y)))
    for label, size in zip(*np.unique(y, return_counts=True), strict=True):
        assert (y[test] == label).sum() == round(0.2 * size)
        assert (y[val] == label).sum() == round(0.2 * size)
        assert (y[train] == label).sum() == size - 2 * round(0.2 * size)


def test_features_are_standardised_on_the_training_rows() -> None:
    x, y = load_tabular("digits")
    data = make_splits("digits", x, y, seed=3)
    train = data.x["train"]
    varying = x[data.indices["train"]].std(0) > 0
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(0)[varying], 1, atol=1e-4)
    assert np.isfinite(data.x["test"]).all()  # digits has blank pixels: std 0 must not divide
    raw_test = x[data.indices["test"]]
    mean, std = x[data.indices["train"]].mean(0), x[data.indices["train"]].std(0)
    expected = (raw_test - mean) / np.where(varying, std, 1.0)
    np.testing.assert_allclose(data.x["test"][:, varying], expected[:, varying], rtol=1e-4, atol=1e-5)


def test_regression_metrics_are_in_original_units() -> None:
    x, y = load_tabular("diabetes")
    data = make_splits("diabetes", x, y, seed=0)
    truth = y[data.indices["test"]]
    np.testing.assert_array_equal(data.y_raw["test"], truth)  # disease-progression scores, 25..346
    mean, std = y[data.indices["train"]].mean(), y[data.indices["train"]].std()
    assert data.target_mean == pytest.approx(mean) and data.target_std == pytest.approx(std)
    np.testing.assert_allclose(data.y["test"], (truth - mean) / std, rtol=1e-5)

    # Predicting the training mean everywhere (0 in standardised units).
    zero = score(data, np.zeros((len(truth), 1)), "test")
    assert zero["rmse"] == pytest.approx(np.sqrt(np.mean((truth - mean) ** 2)))
    assert zero["r2"] == pytest.approx(1 - np.sum((truth - mean) ** 2) / np.sum((truth - truth.mean()) ** 2))
    # Off by a tenth of a standard deviation everywhere: RMSE is a tenth of the target's std, in its units.
    shifted = score(data, data.y["test"] + 0.1, "test")
    assert shifted["rmse"] == pytest.approx(0.1 * std, rel=1e-4)
    assert shifted["r2"] == pytest.approx(1 - len(truth) * (0.1 * std) ** 2 / np.sum((truth - truth.mean()) ** 2))


def test_unknown_task_is_a_one_line_error_listing_the_known_ones() -> None:
    with pytest.raises(ValueError) as err:
        get_tabular_task("iris")
    message = str(err.value)
    assert "\n" not in message and "'iris'" in message
    assert all(name in message for name in TABULAR_TASKS)
    with pytest.raises(ValueError, match="unknown tabular task 'iris'; known tabular tasks: breast-cancer"):
        tabular_config({"tasks": ["wine", "iris"]})


def test_bad_settings_are_one_line_errors() -> None:
    with pytest.raises(ValueError) as err:
        tabular_config({"seeds": 0, "grid_size": 0, "schedule": "step", "update_grid": True, "basis": "rational"})
    message = str(err.value)
    assert "\n" not in message
    assert all(s in message for s in ("seeds=0", "schedule='step'", "update_grid needs basis 'bspline'"))
    with pytest.raises(ValueError, match="unknown tabular setting"):
        tabular_config({"epoch": 3})


def test_hub_task_offline_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Couldn't reach 'scikit-learn/adult-census-income' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(ValueError) as err:
        load_tabular("adult")
    message = str(err.value)
    assert "\n" not in message and "scikit-learn/adult-census-income" in message
    assert "offline, use the bundled tasks: " + ", ".join(OFFLINE_TASKS) in message


def test_cli_register_runs_a_config(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text("name: tiny\ntasks: [diabetes]\nseeds: 3\nkan_hidden: [4]\nepochs: 3\npatience: 2\n")
    parser = argparse.ArgumentParser(prog="kanformer")
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "report"
    args = parser.parse_args(["tabular", str(config), "--seeds", "1", "--output-dir", str(out)])
    args.func(args)

    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["seeds"] == 1 and saved["config"]["tasks"] == ["diabetes"]
    assert [r["model"] for r in saved["runs"]] == ["kan", "mlp"]
    assert all(set(r["metrics"]) == {"rmse", "r2"} for r in saved["runs"])
    printed = capsys.readouterr().out
    assert "diabetes" in printed and "rmse" in printed and "wrote " in printed

    bad = parser.parse_args(["tabular", "--tasks", "nope", "--output-dir", str(tmp_path / "never")])
    with pytest.raises(ValueError, match="unknown tabular task 'nope'"):
        bad.func(bad)
    assert not (tmp_path / "never").exists()
