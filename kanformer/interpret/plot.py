"""Pictures of what a KAN learned: its 1-D edge functions phi_oi, drawn where their inputs live.

    from kanformer.interpret.plot import plot_kan, plot_ffn_edges
    plot_kan(kan, x, "kan.png")                                      # x: (N, widths[0]) samples
    plot_ffn_edges(model, layer=0, data=batch, path="ffn.png")       # a kanified transformers model

A plain KAN becomes a network diagram: a row of nodes per layer (inputs at the bottom,
outputs at the top) and, between two rows, one small panel per edge showing phi_oi over
the range of the values input i takes on the samples. Lines and panels are as opaque as
the edge is important, so edges a trained network does not use fade out.

A kanified transformer is far too wide for a diagram (a BERT-base FFN has 3M edges), so
:func:`plot_ffn_edges` draws a grid of the most important edges of one FFN projection,
each over the range of its observed inputs with their histogram underneath.

Importance is :meth:`KANLinear.edge_scale`: the spread of phi_oi(x_i) over the samples
relative to the spread of x_i. Curves come from :meth:`KANLinear.edge_functions`, so every
basis and both sharing modes work; with ``sharing="group"`` phi_oi = w_oi * u_g(x) and the
shape is shared by every input of group g, which the titles say.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, never through
pyplot (see :mod:`kanformer.reporting.plots`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor, nn

from ..layers import KAN, KANLinear
from ..reporting.plots import DPI, save_png

#: points at which each edge function is evaluated
CURVE_POINTS = 101
#: plot_kan draws at most this many edges per layer when ``top`` is not given
DEFAULT_TOP_EDGES = 32
#: opacity of an edge of zero importance: faint, so the network's structure stays visible
MIN_ALPHA = 0.06
#: rows of FFN inputs kept by plot_ffn_edges (tokens); enough for stable importances and histograms
MAX_FFN_ROWS = 8192

_EDGE_COLOR = "black"
_CURVE_COLOR = "#1f4e99"
_HIST_COLOR = "0.55"
_ROW_IN = 1.75  # height of one layer of the diagram, inches
_MAX_WIDTH_IN = 16.0
_INSET_HEIGHT = 0.46  # of a layer's height
_INSET_MAX_IN = 1.15  # insets of layers with few edges stay about square


# ------------------------------------------------------------------ shared
def _as_rows(x: Tensor, width: int, what: str) -> Tensor:
    """(..., width) -> (N, width) samples; ValueError naming ``what`` otherwise."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{what} must be a tensor of shape (N, {width}), got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] != width:
        raise ValueError(f"{what} has shape {tuple(x.shape)}: expected (N, {width})")
    x = x.detach().reshape(-1, width)
    if x.shape[0] < 2:
        raise ValueError(f"{what} has {x.shape[0]} sample(s): importances are spreads, so pass at least 2")
    return x


def _ranges(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-column (lo, hi) of samples (N, I); a constant column gets a unit-wide range so it still plots."""
    lo, hi = x.min(0).values, x.max(0).values
    flat = (hi - lo) <= 1e-12
    return torch.where(flat, lo - 0.5, lo), torch.where(flat, hi + 0.5, hi)


@torch.no_grad()
def edge_curves(
    layer: KANLinear, lo: Tensor, hi: Tensor, edges: Sequence[tuple[int, int]], points: int = CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """phi_oi evaluated on an even grid over [lo_i, hi_i] for each edge (o, i).

    Args:
        layer: the KAN layer.
        lo, hi: (I,) the range of every input.
        edges: (o, i) pairs.

    Returns:
        xs, ys: (E, points) float arrays, row e for edges[e].
    """
    frac = torch.linspace(0, 1, points, dtype=lo.dtype, device=lo.device)
    grid = lo + frac[:, None] * (hi - lo)  # (P, I): column i spans input i's range
    o_idx = torch.tensor([o for o, _ in edges], dtype=torch.long, device=lo.device)
    i_idx = torch.tensor([i for _, i in edges], dtype=torch.long, device=lo.device)
    # edge_functions materialises (points, O, I): chunk the points so a wide FFN layer stays small.
    chunk = max(1, 2_000_000 // (layer.in_features * layer.out_features))
    ys = [layer.edge_functions(grid[s : s + chunk])[:, o_idx, i_idx] for s in range(0, points, chunk)]
    xs = grid[:, i_idx].T
    return xs.float().cpu().numpy(), torch.cat(ys).T.float().cpu().numpy()


def top_edges(scale: Tensor, k: int) -> list[tuple[int, int]]:
    """The k most important edges (o, i) of an (O, I) importance matrix, most important first."""
    k = min(k, scale.numel())
    flat = scale.detach().float().flatten().cpu()
    order = torch.topk(flat, k).indices.tolist()
    cols = scale.shape[1]
    return [(j // cols, j % cols) for j in order]


def _group_of(layer: KANLinear, i: int) -> int | None:
    """The group whose shared function input i uses (contiguous blocks of inputs), None for edge sharing."""
    if layer.sharing != "group":
        return None
    return i // (layer.in_features // layer.groups)


def _new_figure(width_in: float, height_in: float, **kwargs: Any) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: the folder {str(path.parent)!r} does not exist")
    return save_png(fig, path)


# ------------------------------------------------------------- plain KAN
def edge_alphas(fig: Figure) -> dict[tuple[int, int, int], float]:
    """The opacity each edge was drawn with in a :func:`kan_figure`: (layer, o, i) -> alpha.

    Read back from the figure's edge lines (their gid is ``edge:<layer>:<o>:<i>``), so it
    reports what was drawn; edges left out by ``top`` are absent.
    """
    out = {}
    for line in fig.findobj(Line2D):
        gid = line.get_gid()
        if gid and gid.startswith("edge:"):
            layer, o, i = (int(v) for v in gid.split(":")[1:])
            out[(layer, o, i)] = float(line.get_alpha())
    return out


def _names(names: Sequence[str] | None, n: int, symbol: str, what: str) -> list[str]:
    if names is None:
        return [f"${symbol}_{{{k + 1}}}$" for k in range(n)]
    names = [str(v) for v in names]
    if len(names) != n:
        raise ValueError(f"{what} has {len(names)} names, the network has {n}")
    return names


def _spread(n: int) -> np.ndarray:
    """x positions of n evenly spaced items on [0, 1]."""
    return (np.arange(n) + 0.5) / n


@dataclass
class LayerDrawing:
    """One layer of a network diagram (:func:`network_figure`): the edges drawn and their curves.

    Attributes:
        in_features, out_features: nodes below and above the layer.
        edges: (o, i) pairs drawn, in drawing order (left to right).
        alphas: per edge, the opacity of its line and panel (see :func:`importance_alphas`).
        xs, ys: (E, P) the curve phi_oi drawn in each edge's panel.
        labels: per edge, a short text over its panel (e.g. the symbolic function it was fitted to).
        note: appended to the layer's side label ("layer 0" + note).
    """

    in_features: int
    out_features: int
    edges: list[tuple[int, int]]
    alphas: Sequence[float]
    xs: np.ndarray
    ys: np.ndarray
    labels: Sequence[str] | None = None
    note: str = ""


def importance_alphas(scale: Tensor) -> Tensor:
    """Opacities of edges from their importances (any shape): normalised by the largest, so the most
    important edge is opaque and an edge of zero importance is drawn at :data:`MIN_ALPHA`."""
    scale = scale.float()
    peak = float(scale.max()) if scale.numel() else 0.0
    rel = scale / peak if peak > 0 else torch.zeros_like(scale)
    return MIN_ALPHA + (1 - MIN_ALPHA) * rel.clamp(0, 1)


@torch.no_grad()
def kan_figure(
    kan: KAN,
    x: Tensor,
    var_names: Sequence[str] | None = None,
    out_names: Sequence[str] | None = None,
    top: int | None = None,
) -> Figure:
    """The network diagram of :func:`plot_kan` as a Figure (see there for the arguments)."""
    if not isinstance(kan, KAN):
        raise ValueError(f"plot_kan draws a kanformer KAN, got {type(kan).__name__}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ValueError(f"top={top!r} is invalid: an integer >= 1 (edges drawn per layer)")
    cap = top if top is not None else DEFAULT_TOP_EDGES
    widths = kan.widths
    x = _as_rows(x, widths[0], "x").to(next(kan.parameters()).device)
    var_names = _names(var_names, widths[0], "x", "var_names")
    out_names = _names(out_names, widths[-1], "y", "out_names")

    layers = []
    for layer, h in zip(kan.layers, kan.layer_inputs(x), strict=True):
        h = h.reshape(-1, layer.in_features)
        scale = layer.edge_scale(h)
        # Normalised per layer: a layer's importances are comparable among themselves, not across layers.
        alpha = importance_alphas(scale).cpu()
        edges = sorted(top_edges(scale, cap), key=lambda e: (e[1], e[0]))
        lo, hi = _ranges(h)
        xs, ys = edge_curves(layer, lo, hi, edges)
        n_edges = layer.in_features * layer.out_features
        note = f": top {len(edges)} of {n_edges}" if len(edges) < n_edges else ""
        if layer.sharing == "group":
            note += f"\ngroup sharing ({layer.groups} groups)"
        alphas = [float(alpha[o, i]) for o, i in edges]
        layers.append(LayerDrawing(layer.in_features, layer.out_features, edges, alphas, xs, ys, note=note))
    title = (
        f"KAN {widths}: edge functions phi_oi over each layer's inputs (N={x.shape[0]}); "
        "opacity = importance / layer max"
    )
    return network_figure(list(widths), layers, var_names, out_names, title)


def network_figure(
    widths: Sequence[int],
    layers: Sequence[LayerDrawing],
    var_names: Sequence[str],
    out_names: Sequence[str],
    title: str,
) -> Figure:
    """Draw a KAN-shaped network: a row of nodes per layer (inputs at the bottom), and between two rows
    one small panel per drawn edge with its curve, line and panel as opaque as ``alphas`` say.

    Edge lines carry the gid ``edge:<layer>:<o>:<i>`` and curves ``phi:<layer>:<o>:<i>``
    (:func:`edge_alphas` reads them back). ``widths[l]`` nodes per row; ``layers[l]`` joins rows l, l + 1.
    """
    n_layers = len(layers)
    band = max([len(d.edges) for d in layers] + [math.ceil(w / 2) for w in widths])
    width_in = min(_MAX_WIDTH_IN, max(4.5, 0.62 * band + 1.2))
    height_in = _ROW_IN * n_layers + 1.1
    fig = _new_figure(width_in, height_in)
    # Fixed margins rather than a layout engine: the insets live in data coordinates of one axes.
    left, right, bottom, top_margin = 0.45 / width_in, 0.15 / width_in, 0.45 / height_in, 0.65 / height_in
    ax = fig.add_axes((left, bottom, 1 - left - right, 1 - bottom - top_margin))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.12, n_layers + 0.12)
    ax.axis("off")
    axes_w_in = width_in * (1 - left - right)
    unit_h_in = height_in * (1 - bottom - top_margin) / (n_layers + 0.24)

    for l_idx, d in enumerate(layers):
        x_in, x_out = _spread(d.in_features), _spread(d.out_features)
        inset_w = min(0.86 / max(len(d.edges), 1), _INSET_MAX_IN / axes_w_in)
        inset_h = min(_INSET_HEIGHT, _INSET_MAX_IN / unit_h_in)
        y_mid = l_idx + 0.5
        for j, ((o, i), cx) in enumerate(zip(d.edges, _spread(len(d.edges)), strict=True)):
            a = float(d.alphas[j])
            y0, y1 = y_mid - inset_h / 2, y_mid + inset_h / 2
            # One line per edge: input node -> bottom of its panel, top of its panel -> output node.
            ax.plot(
                [x_in[i], cx, np.nan, cx, x_out[o]],
                [l_idx, y0, np.nan, y1, l_idx + 1],
                color=_EDGE_COLOR,
                lw=0.9,
                alpha=a,
                gid=f"edge:{l_idx}:{o}:{i}",
                zorder=1,
            )
            inset = ax.inset_axes((cx - inset_w / 2, y0, inset_w, inset_h), transform=ax.transData)
            _edge_inset(inset, d.xs[j], d.ys[j], a, gid=f"phi:{l_idx}:{o}:{i}")
            if d.labels is not None:
                inset.set_title(d.labels[j], fontsize=6, pad=1.5, alpha=max(a, 0.5))
        label = f"layer {l_idx}{d.note}"
        ax.text(-0.01, y_mid, label, rotation=90, ha="right", va="center", fontsize=7, color="0.3", clip_on=False)

    for level, names in ((0, var_names), (n_layers, out_names)):
        xs_n = _spread(len(names))
        size = max(5.0, min(10.0, 70.0 / len(names)))
        for name, px in zip(names, xs_n, strict=True):
            dy, va = (-0.07, "top") if level == 0 else (0.07, "bottom")
            ax.text(px, level + dy, name, ha="center", va=va, fontsize=size)
    for level, w in enumerate(widths):
        ax.scatter(_spread(w), np.full(w, level), s=max(6, min(36, 400 / w)), color="black", zorder=3)
    fig.suptitle(title, fontsize=8.5)
    return fig


def _edge_inset(ax: Axes, xs: np.ndarray, ys: np.ndarray, alpha: float, gid: str) -> None:
    ax.plot(xs, ys, color=_CURVE_COLOR, lw=1.3, alpha=alpha, gid=gid)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.patch.set_alpha(0.0)  # edge lines pass behind the panels; an opaque patch would cut them
    for spine in ax.spines.values():
        spine.set_alpha(alpha)
        spine.set_linewidth(0.6)
    span = float(ys.max() - ys.min())
    pad = 0.08 * span if span > 0 else 0.5  # a constant function still gets a visible flat line
    ax.set_ylim(float(ys.min()) - pad, float(ys.max()) + pad)
    ax.set_xlim(float(xs[0]), float(xs[-1]))


def plot_kan(
    kan: KAN,
    x: Tensor,
    path: str | os.PathLike,
    var_names: Sequence[str] | None = None,
    out_names: Sequence[str] | None = None,
    top: int | None = None,
) -> Path:
    """Draw a plain KAN as a network diagram and write it as a PNG; returns the path.

    Nodes of each layer sit in a row, inputs at the bottom and outputs at the top. Every
    edge i -> o of every layer is a line through a small panel showing phi_oi over the
    range of that layer's inputs on ``x``; line and panel are as opaque as the edge is
    important (:meth:`KANLinear.edge_scale` divided by the layer's largest), so unused
    edges fade out. :func:`edge_alphas` reads the opacities back from :func:`kan_figure`.

    Args:
        kan: the network.
        x: (N, widths[0]) input samples, N >= 2 (e.g. the training inputs).
        path: the PNG to write (its folder must exist).
        var_names, out_names: labels of the input and output nodes (default x_1.., y_1..).
        top: edges drawn per layer, the most important ones (default: all, at most
            :data:`DEFAULT_TOP_EDGES`).

    Raises:
        ValueError: x of the wrong shape, names of the wrong length, a bad ``top`` or path.
    """
    return _save(kan_figure(kan, x, var_names=var_names, out_names=out_names, top=top), path)


# --------------------------------------------------------- transformer FFN
@dataclass(frozen=True)
class EdgePanel:
    """One edge of an FFN projection: phi_oi sampled over its input's observed range."""

    out_index: int
    in_index: int
    importance: float
    group: int | None  # group sharing: the group whose function input i uses
    x: np.ndarray  # (P,) grid over the observed range of input i
    y: np.ndarray  # (P,) phi_oi(x)
    observed: np.ndarray  # (N,) the inputs i took on the data


@dataclass(frozen=True)
class FFNEdges:
    """The most important edges of one KAN FFN projection, measured on real inputs."""

    layer: int
    role: str
    module_path: str
    sharing: str
    groups: int
    rows: int  # input rows (tokens) the importances were measured on
    scale: Tensor  # (O, I) importance of every edge
    panels: list[EdgePanel]


def _batches(data: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    batches = [data] if isinstance(data, Mapping) else list(data)
    if not batches:
        raise ValueError("data is empty: pass a dict of model inputs or a list of them")
    for b in batches:
        if not isinstance(b, Mapping):
            raise ValueError(f"data must be a dict of model inputs or a list of them, found a {type(b).__name__}")
    return batches


def _ffn_projection(model: nn.Module, layer: int, role: str) -> tuple[str, KANLinear]:
    """(path, KAN layer) of projection ``role`` in FFN block ``layer``; ValueError naming the problem."""
    from ..plugin.adapters import adapter_for, find_blocks

    record = getattr(getattr(model, "config", None), "kanformer", None)
    if not record:
        raise ValueError(
            f"{type(model).__name__} is not kanified (its config has no kanformer record): "
            "run kanformer.kanify(model, ...) or load a kanified save_pretrained directory"
        )
    adapter = adapter_for(model)
    blocks = find_blocks(model, adapter)
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(blocks):
        raise ValueError(
            f"layer {layer!r} is out of range: the model has {len(blocks)} FFN blocks (0..{len(blocks) - 1})"
        )
    roles = adapter.projections
    if role not in roles:
        raise ValueError(f"role {role!r} is unknown for {model.config.model_type}: choose one of {list(roles)}")
    name, block = blocks[layer]
    module = block.get_submodule(roles[role])
    if not isinstance(module, KANLinear):
        raise ValueError(
            f"layer {layer} is not a KAN block ({roles[role]} is a {type(module).__name__}); "
            f"the kanified layers are {record.get('layers')}"
        )
    return f"{name}.{roles[role]}", module


@torch.no_grad()
def _capture_inputs(model: nn.Module, module: nn.Module, batches: list[Mapping[str, Any]], limit: int) -> Tensor:
    """The rows (tokens) ``module`` receives while the model runs on ``batches``: (N, in_features).

    Padding is dropped when a batch's attention_mask lines up with the captured rows, so
    pad tokens do not widen the ranges or skew the importances.
    """
    seen: list[Tensor] = []
    hook = module.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    device = next(model.parameters()).device
    rows: list[Tensor] = []
    total = 0
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            batch = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}
            seen.clear()
            model(**batch)
            mask = batch.get("attention_mask")
            for t in seen:
                if isinstance(mask, Tensor) and t.shape[:-1] == mask.shape:
                    t = t[mask.bool()]
                rows.append(t.reshape(-1, t.shape[-1]))
                total += rows[-1].shape[0]
            if total >= limit:
                break
    finally:
        hook.remove()
        model.train(was_training)
    if not total:
        raise ValueError("the chosen FFN projection saw no inputs on data: check that the batches reach that layer")
    return torch.cat(rows)[:limit]


@torch.no_grad()
def ffn_edges(
    model: nn.Module,
    layer: int,
    data: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    top: int = 16,
    role: str = "up",
    max_rows: int = MAX_FFN_ROWS,
) -> FFNEdges:
    """Measure the edges of one KAN FFN projection on data and keep the ``top`` most important.

    Args:
        model: a kanified transformers model.
        layer: index of the FFN block (0-based, in forward order).
        data: a dict of model inputs, or a list of them (e.g. tokenised sentences).
        top: number of edges kept.
        role: the projection: "up" (d -> h), "down" (h -> d) or, for gated MLPs, "gate".
        max_rows: input rows (tokens) kept at most.

    Returns:
        the importances (O, I) of every edge and a panel per kept edge, most important first.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top={top!r} is invalid: an integer >= 1 (number of edges drawn)")
    path, module = _ffn_projection(model, layer, role)
    x = _as_rows(_capture_inputs(model, module, _batches(data), max_rows), module.in_features, "the FFN inputs")
    scale = module.edge_scale(x).float()
    edges = top_edges(scale, top)
    lo, hi = _ranges(x)
    xs, ys = edge_curves(module, lo, hi, edges)
    observed = x.float().cpu().numpy()
    panels = [
        EdgePanel(o, i, float(scale[o, i]), _group_of(module, i), xs[j], ys[j], observed[:, i])
        for j, (o, i) in enumerate(edges)
    ]
    return FFNEdges(layer, role, path, module.sharing, module.groups, x.shape[0], scale.cpu(), panels)


def ffn_figure(edges: FFNEdges, title: str | None = None) -> Figure:
    """A grid of panels, one per edge of ``edges``: phi_oi over the observed inputs, histogram below."""
    n = len(edges.panels)
    cols = min(n, max(1, math.ceil(math.sqrt(n))), 6)
    rows = math.ceil(n / cols)
    fig = _new_figure(2.25 * cols + 0.3, 1.85 * rows + 0.9, layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False).flat)
    for ax in axes[n:]:
        ax.remove()
    for ax, p in zip(axes, edges.panels, strict=False):
        # The histogram sits on a twin axis in the bottom quarter: where the inputs are, not how many.
        hist = ax.twinx()
        counts, _, _ = hist.hist(
            p.observed, bins=40, range=(float(p.x[0]), float(p.x[-1])), color=_HIST_COLOR, alpha=0.6
        )
        hist.set_ylim(0, 4 * max(float(counts.max()), 1.0))
        hist.set_yticks([])
        hist.patch.set_visible(False)
        ax.set_zorder(hist.get_zorder() + 1)  # the curve above the bars
        ax.patch.set_visible(False)
        ax.plot(p.x, p.y, color=_CURVE_COLOR, lw=1.4)
        ax.set_xlim(float(p.x[0]), float(p.x[-1]))
        name = f"in {p.in_index} -> out {p.out_index} ({p.importance:.3g})"
        if p.group is not None:
            name += f"\nshared shape: group {p.group}"
        ax.set_title(name, fontsize=7.5)
        ax.tick_params(labelsize=6)
        ax.grid(True, alpha=0.25)
    if title is None:
        total = edges.scale.numel()
        title = (
            f"FFN block {edges.layer}, {edges.role} projection ({edges.module_path}): "
            f"the {n} most important of {total:,} edges\n"
            f"phi_oi(x_i) over the observed range of x_i; grey: histogram of x_i over {edges.rows:,} tokens"
        )
        if edges.sharing == "group":
            title += (
                f"\ngroup sharing: phi_oi = w_oi * u_g(x_i), one shape u_g per group of "
                f"{edges.scale.shape[1] // edges.groups} inputs"
            )
    fig.suptitle(title, fontsize=8.5)
    return fig


def plot_ffn_edges(
    model: nn.Module,
    layer: int,
    data: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    path: str | os.PathLike,
    top: int = 16,
    role: str = "up",
) -> Path:
    """Draw the ``top`` most important edges of one KAN FFN projection and write a PNG; returns the path.

    The inputs of the projection are captured with a forward hook while the model runs on
    ``data`` (padding dropped via attention_mask); importances are
    :meth:`KANLinear.edge_scale` on them. Each panel shows phi_oi(x_i) over the observed
    range of x_i with a histogram of the observed values, titled "in i -> out o (importance)".

    Args:
        model: a kanified transformers model (:func:`kanformer.kanify` or a saved kanified model).
        layer: FFN block index, 0-based.
        data: a dict of model inputs or a list of them.
        path: the PNG to write (its folder must exist).
        top: number of edges drawn.
        role: "up" (d -> h) or "down" (h -> d); "gate" for gated MLPs.

    Raises:
        ValueError: the model is not kanified, ``layer`` is out of range or not a KAN block,
            an unknown role, empty data.
    """
    return _save(ffn_figure(ffn_edges(model, layer, data, top=top, role=role)), path)
