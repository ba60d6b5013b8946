"""kanformer plot: KAN network diagrams, KAN FFN edge grids and the CLI command, on tiny models."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
from matplotlib.lines import Line2D
from PIL import Image

from kanformer import KAN, KANFFNConfig, KANLinear, kanify
from kanformer.interpret.plot import (
    MIN_ALPHA,
    edge_alphas,
    ffn_edges,
    kan_figure,
    plot_ffn_edges,
    plot_kan,
    top_edges,
)
from kanformer.interpret.plot_commands import register
from kanformer.models import load_model, sample_inputs


def _assert_png(path: Path, min_bytes: int = 15_000) -> tuple[int, int]:
    """A real PNG with something drawn in it; returns its (width, height) in pixels."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > min_bytes, path.stat().st_size
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        return img.size


def _line(fig: object, gid: str) -> Line2D:
    (line,) = [ln for ln in fig.findobj(Line2D) if ln.get_gid() == gid]
    return line


# ------------------------------------------------------------------ plain KAN
def test_plot_kan_writes_png_and_fades_unimportant_edges(tmp_path: Path) -> None:
    """[2, 5, 1]: every edge drawn; an edge whose weights are zeroed is the faintest, with a flat phi."""
    kan = KAN([2, 5, 1])
    with torch.no_grad():
        kan.layers[0].spline_weight[2, 1] = 0
        kan.layers[0].base_weight[2, 1] = 0
    x = torch.rand(256, 2) * 2 - 1
    fig = kan_figure(kan, x, var_names=["a", "b"], out_names=["f"])
    alphas = edge_alphas(fig)
    assert set(alphas) == {(0, o, i) for o in range(5) for i in range(2)} | {(1, 0, i) for i in range(5)}
    layer0 = {k: a for k, a in alphas.items() if k[0] == 0}
    assert alphas[(0, 2, 1)] == pytest.approx(MIN_ALPHA, abs=1e-4)
    assert alphas[(0, 2, 1)] < min(a for k, a in layer0.items() if k != (0, 2, 1)) - 0.05
    for layer in (0, 1):  # normalised per layer: the most important edge of each layer is opaque
        assert max(a for k, a in alphas.items() if k[0] == layer) == pytest.approx(1.0)
    assert float(abs(_line(fig, "phi:0:2:1").get_ydata()).max()) < 1e-6  # the zeroed function is drawn flat
    assert _line(fig, "phi:0:2:1").get_alpha() == pytest.approx(MIN_ALPHA, abs=1e-4)  # its panel fades too
    texts = {t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))}
    assert {"a", "b", "f"} <= texts

    out = plot_kan(kan, x, tmp_path / "kan.png")
    assert out == tmp_path / "kan.png"
    width, height = _assert_png(out)
    assert width >= 500 and height >= 350


def test_plot_kan_top_keeps_most_important_edges(tmp_path: Path) -> None:
    """[4, 4, 2, 1] with top=5: layer 0 draws exactly its 5 largest edge_scale edges; small layers draw all."""
    kan = KAN([4, 4, 2, 1], grid_size=3)
    x = torch.randn(300, 4)
    fig = kan_figure(kan, x, top=5)
    drawn = {(o, i) for (layer, o, i) in edge_alphas(fig) if layer == 0}
    with torch.no_grad():
        expected = set(top_edges(kan.layers[0].edge_scale(x), 5))
    assert drawn == expected and len(drawn) == 5
    assert sum(1 for k in edge_alphas(fig) if k[0] == 2) == 2
    _assert_png(plot_kan(kan, x, tmp_path / "kan.png"))  # default: all 16 + 8 + 2 edges
    assert len(edge_alphas(kan_figure(kan, x))) == 26


@pytest.mark.parametrize(
    "kwargs",
    [{"sharing": "group", "groups": 2}, {"basis": "rational", "sharing": "group", "groups": 2}, {"basis": "fourier"}],
)
def test_plot_kan_group_sharing_and_other_bases(tmp_path: Path, kwargs: dict) -> None:
    """Group sharing is labelled as such; non-B-spline bases draw through edge_functions alike."""
    kan = KAN([4, 2, 1], **kwargs)
    fig = kan_figure(kan, torch.randn(128, 4))
    labels = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert ("group sharing" in labels) == (kwargs.get("sharing") == "group")
    assert len(edge_alphas(fig)) == 8 + 2
    _assert_png(plot_kan(kan, torch.randn(128, 4), tmp_path / "kan.png"))


def test_plot_kan_rejects_bad_arguments(tmp_path: Path) -> None:
    kan = KAN([2, 3, 1])
    x = torch.randn(50, 2)
    with pytest.raises(ValueError, match=r"expected \(N, 2\)"):
        plot_kan(kan, torch.randn(50, 3), tmp_path / "a.png")
    with pytest.raises(ValueError, match="at least 2"):
        plot_kan(kan, torch.randn(1, 2), tmp_path / "a.png")
    with pytest.raises(ValueError, match="var_names"):
        plot_kan(kan, x, tmp_path / "a.png", var_names=["only one"])
    with pytest.raises(ValueError, match="top"):
        plot_kan(kan, x, tmp_path / "a.png", top=0)
    with pytest.raises(ValueError, match="does not exist"):
        plot_kan(kan, x, tmp_path / "missing" / "a.png")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- kanified BERT
@pytest.fixture(scope="module")
def kan_bert() -> torch.nn.Module:
    """tiny-bert with both FFN blocks kanified (scratch: random edge functions)."""
    torch.manual_seed(0)
    return kanify(load_model("tiny-bert"), KANFFNConfig())


def _captured_inputs(model: torch.nn.Module, module: torch.nn.Module, batch: dict) -> torch.Tensor:
    """The projection's inputs, captured independently of the code under test."""
    seen = []
    hook = module.register_forward_hook(lambda m, inp, out: seen.append(inp[0].reshape(-1, inp[0].shape[-1])))
    with torch.no_grad():
        model(**batch)
    hook.remove()
    return torch.cat(seen)


def test_plot_ffn_edges_of_kanified_bert_layer(kan_bert: torch.nn.Module, tmp_path: Path) -> None:
    """Layer 0 up (64 -> 256): the panels are the top-k edges of edge_scale on the real FFN inputs."""
    data = sample_inputs(kan_bert, batch_size=2, seq_len=24)
    module = kan_bert.bert.encoder.layer[0].intermediate.dense
    assert isinstance(module, KANLinear)
    with torch.no_grad():
        scale = module.edge_scale(_captured_inputs(kan_bert, module, data))
    edges = ffn_edges(kan_bert, 0, data, top=6)
    assert [(p.out_index, p.in_index) for p in edges.panels] == top_edges(scale, 6)
    importances = [p.importance for p in edges.panels]
    assert importances == sorted(importances, reverse=True)
    torch.testing.assert_close(edges.scale, scale.float())
    assert edges.rows == 48 and edges.module_path == "bert.encoder.layer.0.intermediate.dense"
    p = edges.panels[0]
    assert p.x[0] == pytest.approx(float(p.observed.min())) and p.x[-1] == pytest.approx(float(p.observed.max()))
    with torch.no_grad():  # the drawn curve is the layer's own edge function
        grid = torch.zeros(len(p.x), 64)
        grid[:, p.in_index] = torch.from_numpy(p.x)
        expected = module.edge_functions(grid)[:, p.out_index, p.in_index]
    torch.testing.assert_close(torch.from_numpy(p.y), expected.float(), rtol=1e-4, atol=1e-5)

    out = plot_ffn_edges(kan_bert, 0, data, tmp_path / "ffn.png", top=4)
    _assert_png(out)
    _assert_png(plot_ffn_edges(kan_bert, 1, [data, data], tmp_path / "down.png", top=2, role="down"))


def test_plot_ffn_edges_drops_padding(kan_bert: torch.nn.Module) -> None:
    """Rows masked out by attention_mask (padding) are not counted as FFN inputs."""
    batch = sample_inputs(kan_bert, batch_size=2, seq_len=10)
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, 4:] = 0
    edges = ffn_edges(kan_bert, 0, {**batch, "attention_mask": mask}, top=2)
    assert edges.rows == 14


def test_plot_ffn_edges_group_sharing(tmp_path: Path) -> None:
    """sharing=group: each panel names the group whose shared shape it uses, and the title says so."""
    model = kanify(load_model("tiny-bert"), KANFFNConfig(sharing="group", groups=8, layers=[1]))
    data = sample_inputs(model, batch_size=1, seq_len=32)
    edges = ffn_edges(model, 1, data, top=5, role="down")  # 256 -> 64: groups of 32 inputs
    assert edges.sharing == "group" and all(p.group == p.in_index // 32 for p in edges.panels)
    from kanformer.interpret.plot import ffn_figure

    fig = ffn_figure(edges)
    assert "group sharing" in fig.get_suptitle()
    assert all("group" in ax.get_title() for ax in fig.axes if ax.get_title())
    _assert_png(plot_ffn_edges(model, 1, data, tmp_path / "group.png", top=3, role="down"))


def test_plot_ffn_edges_errors(kan_bert: torch.nn.Module, tmp_path: Path) -> None:
    """Not kanified, layer out of range, a layer left as MLP, unknown role, empty data: one-line ValueErrors."""
    plain = load_model("tiny-bert")
    data = sample_inputs(plain, seq_len=8)
    cases = [
        (plain, 0, data, "up", "not kanified"),
        (kan_bert, 2, data, "up", "out of range.*2 FFN blocks"),
        (kan_bert, -1, data, "up", "out of range"),
        (kanify(load_model("tiny-bert"), KANFFNConfig(layers=[1])), 0, data, "up", "not a KAN block.*\\[1\\]"),
        (kan_bert, 0, data, "gate", "role 'gate'"),
        (kan_bert, 0, [], "up", "data is empty"),
    ]
    for model, layer, batches, role, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            plot_ffn_edges(model, layer, batches, tmp_path / "x.png", role=role)
        assert "\n" not in str(info.value)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------ CLI
def _cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="kanformer")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["plot", *argv])
    args.func(args)


def test_cli_plots_a_saved_kan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """kanformer plot FILE --output OUT: a PNG of the saved network; misuse is a ValueError."""
    kan = KAN([2, 3, 1], grid_size=4)
    kan.update_grid(torch.rand(100, 2) * 4 - 2)
    kan.extend_grid(6)
    source = kan.save(tmp_path / "net.pt")
    out = tmp_path / "net.png"
    _cli([str(source), "--output", str(out)])
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    _assert_png(out)
    with pytest.raises(ValueError, match="--layer apply to transformer models"):
        _cli([str(source), "--layer", "1", "--output", str(out)])
    with pytest.raises(ValueError, match="must end in .png"):
        _cli([str(source), "--output", str(tmp_path / "net.jpg")])
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(ValueError, match="not a KAN saved"):
        _cli([str(tmp_path / "junk.pt"), "--output", str(out)])
    with pytest.raises(ValueError, match="does not exist"):
        _cli([str(tmp_path / "nope.pt")])


def test_cli_plots_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A built-in model is kanified first (and says so); a kanified save_pretrained directory is used as is."""
    out = tmp_path / "bert.png"
    _cli(["tiny-bert", "init=warm", "--top", "2", "--role", "down", "--text", "A short test sentence.", "-o", str(out)])
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote {out}" and "not kanified" in captured.err
    _assert_png(out)

    saved = tmp_path / "kan-bert"
    kanify(load_model("tiny-bert"), KANFFNConfig()).save_pretrained(saved)
    out2 = tmp_path / "saved.png"
    _cli([str(saved), "--layer", "1", "--top", "2", "--output", str(out2)])
    captured = capsys.readouterr()
    assert "not kanified" not in captured.err
    _assert_png(out2)
    with pytest.raises(ValueError, match="already kanified"):
        _cli([str(saved), "grid_size=3", "--output", str(out2)])
    with pytest.raises(ValueError, match="out of range"):
        _cli([str(saved), "--layer", "7", "--output", str(out2)])
