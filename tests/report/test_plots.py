"""The comparison report's PNG plots, on a synthetic results dict."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from kanformer.report.plots import PLOT_FILES, write_plots
from kanformer.reporting.plots import ORIGINAL_COLOR, variant_colors

TASKS = {"bbc-news": "validation/accuracy", "cola": "validation/matthews_correlation"}
MODELS = {"minilm": 22_000_000, "small-gpt2": 40_000_000}
VARIANTS = ("original", "kan-warm", "kan-cold")
SEEDS = (0, 1)


def _results(throughput: bool = True, curves: bool = True) -> dict[str, Any]:
    """2 tasks x 2 models x 3 variants (incl. the original) x 2 seeds, shaped like results.json."""
    runs, summary = [], []
    for task, metric in TASKS.items():
        for m, (model, params) in enumerate(MODELS.items()):
            for v, variant in enumerate(VARIANTS):
                original = variant == "original"
                base = 0.8 + 0.03 * v - 0.02 * m
                for seed in SEEDS:
                    steps = list(range(10, 110, 10)) if curves else []
                    runs.append(
                        {
                            "id": f"{model}/{task}/{variant}/seed{seed}",
                            **{"model": model, "task": task, "variant": variant, "seed": seed},
                            **{"metric": metric, "value": base + 0.01 * seed},
                            "curve": {
                                "step": steps,
                                "loss": [(2 + 0.2 * seed) * math.exp(-s / (40 + 10 * v)) for s in steps],
                            },
                            "eval_curve": {"step": [], "value": []},
                        }
                    )
                train = 30.0 * (1 + m) * (1 if original else 0.5 - 0.1 * v)
                infer = 4 * train
                summary.append(
                    {
                        **{"model": model, "task": task, "variant": variant, "is_original": original},
                        **{"metric": metric, "mean": base + 0.005, "std": 0.005, "n": len(SEEDS)},
                        "delta": None if original else 0.03 * v,
                        "params": params * (1 + 0.4 * v),
                        "params_ratio": None if original else 1 + 0.4 * v,
                        "train_samples_per_s": train if throughput else None,
                        "train_speed_ratio": None if original or not throughput else train / (30.0 * (1 + m)),
                        "infer_samples_per_s": infer if throughput else None,
                        "infer_speed_ratio": None if original or not throughput else train / (30.0 * (1 + m)),
                        "peak_memory_mib": None,
                    }
                )
    return {"name": "synthetic", "runs": runs, "summary": summary}


def _pixels(path: Path) -> np.ndarray:
    """The PNG as an (H, W, 3) uint8 array; PIL raises on anything that is not a PNG."""
    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"))


def _has_color(pixels: np.ndarray, color: str) -> bool:
    rgb = np.round(np.array(to_rgb(color)) * 255).astype(np.uint8)
    return bool((pixels == rgb).all(axis=-1).any())


def test_all_plots_written_as_readable_pngs(tmp_path: Path) -> None:
    out = tmp_path / "report" / "plots"  # not there yet: write_plots creates it
    paths = write_plots(_results(), out)
    assert paths == [out / name for name in PLOT_FILES.values()]
    for path in paths:
        pixels = _pixels(path)
        height, width, _ = pixels.shape
        assert 900 <= width <= 1200 and height >= 300, path.name
        # Something drawn: many distinct colours, not a flat (or near flat) image.
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, path.name
    assert sorted(p.name for p in out.iterdir()) == sorted(PLOT_FILES.values())


@pytest.fixture(scope="module")
def plots_without_curves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered once for the colour checks: rendering is the slow part of these tests."""
    out = tmp_path_factory.mktemp("plots")
    write_plots(_results(curves=False), out)
    return out


@pytest.mark.parametrize("name", ["accuracy_vs_params", "accuracy_vs_throughput", "throughput"])
def test_every_variant_drawn_in_its_colour(plots_without_curves: Path, name: str) -> None:
    # Solid markers and bars keep exact colours inside; the curves' antialiased lines would not.
    pixels = _pixels(plots_without_curves / PLOT_FILES[name])
    pixels = pixels[: int(0.75 * len(pixels))]  # the panels only: the legend, below them, shows every colour anyway
    colors = variant_colors(VARIANTS)
    assert colors["original"] == ORIGINAL_COLOR
    for variant, color in colors.items():
        assert _has_color(pixels, color), (name, variant)


def test_variant_colors_fixed_by_sorted_names() -> None:
    colors = variant_colors(["kan-warm", "original", "kan-cold", "rational"])
    assert colors == variant_colors(["rational", "kan-cold", "original", "kan-warm"])
    assert colors["original"] == ORIGINAL_COLOR
    assert len(set(colors.values())) == 4
    # Sorted order decides: kan-cold takes the first palette colour, whatever else is present.
    assert colors["kan-cold"] == variant_colors(["kan-cold"])["kan-cold"]
    assert variant_colors(["base", "kan"], originals=["base"])["base"] == ORIGINAL_COLOR


def test_no_throughput_skips_throughput_plots(tmp_path: Path) -> None:
    paths = write_plots(_results(throughput=False), tmp_path)
    assert [p.name for p in paths] == [PLOT_FILES["accuracy_vs_params"], PLOT_FILES["training_curves"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_inference_throughput_alone_still_plotted(tmp_path: Path) -> None:
    results = _results()
    for row in results["summary"]:
        row["train_samples_per_s"] = row["train_speed_ratio"] = None
    names = [p.name for p in write_plots(results, tmp_path)]
    assert PLOT_FILES["throughput"] in names
    assert PLOT_FILES["accuracy_vs_throughput"] not in names


def test_no_curves_skips_training_curves(tmp_path: Path) -> None:
    results = _results(curves=False)
    del results["runs"][0]["curve"]  # a run without the key at all is no curve either
    names = [p.name for p in write_plots(results, tmp_path)]
    assert PLOT_FILES["training_curves"] not in names
    assert len(names) == len(PLOT_FILES) - 1


def test_empty_results_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "plots"
    assert write_plots({"name": "empty", "runs": [], "summary": []}, out) == []
    assert write_plots({}, out) == []
    assert not out.exists()
