"""The kanformer command line, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import kanformer


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kanformer", *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_subcommands() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    for sub in ("demo", "bench-layer"):
        assert sub in out.stdout


def test_version() -> None:
    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"kanformer {kanformer.__version__}"


@pytest.mark.e2e
def test_demo_prints_one_row_per_grid() -> None:
    out = run_cli("demo", "--grids", "3", "5", "--steps", "2")
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["3", "5"]
    assert all(float(r[3]) < 1.0 for r in rows)  # test RMSE of a real fit, not a placeholder


@pytest.mark.e2e
def test_bench_layer_writes_report(tmp_path) -> None:
    out = run_cli(
        "bench-layer",
        "--shapes",
        "64x32",
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--no-fused",
        "--output-dir",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "layer.json").read_text())
    names = [r["implementation"] for r in data["results"]]
    assert "efficient-kan formulation" in names and "nn.Linear" in names
    assert data["environment"]["torch"] and data["command"].startswith("kanformer bench-layer")
    assert "efficient-kan formulation" in (tmp_path / "layer.md").read_text()


def test_bad_shape_is_one_line_error() -> None:
    out = run_cli("bench-layer", "--shapes", "big")
    assert out.returncode == 2
    assert "512x768" in out.stderr and "Traceback" not in out.stderr


def test_unknown_function_is_one_line_error() -> None:
    out = run_cli("demo", "--function", "nope")
    assert out.returncode == 2
    assert "nope" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
