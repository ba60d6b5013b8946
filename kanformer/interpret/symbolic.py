"""Symbolic regression of trained KANs: name each edge function, prune, and print the network's formula.

Workflow (``kanformer symbolic`` runs it on the KAN paper's toy functions)::

    from kanformer.fitting import train_lbfgs

    model = SymbolicKAN(kan)                  # a copy of a trained KAN, with masks and locks
    prune(model, x)                           # drop unimportant edges and hidden nodes
    reports = auto_symbolic(model, x)         # fit y ~ c*f(a*x + b) + d to every edge, lock good fits
    train_lbfgs(model, x, y, steps=10)        # retrain the affine parameters: coefficients become exact
    print(formula(model, ("x", "y")))         # exp(y**2 + sin(3.1416*x))

Every edge of a :class:`SymbolicKAN` is in one of three states: pruned (contributes 0),
free (the KAN's spline edge function) or locked (``c * f(a * x + b) + d`` for a library
function ``f`` and trainable ``a, b, c, d``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
import torch
from scipy.optimize import least_squares
from torch import Tensor, nn

from ..layers import KAN

# ------------------------------------------------------------------ library


@dataclass(frozen=True)
class SymbolicFunction:
    """A library function ``f`` for edge fits ``c * f(a * x + b) + d``.

    Attributes:
        name: short name shown in tables ("sin", "x^2", ...).
        torch_fn: elementwise and domain-safe (finite for every real input), used for fitting.
        sympy_fn: the exact mathematical function, used in formulas.
        complexity: cost of the function when ranking fits (simpler wins near-ties).
        degree: p when ``f(s * t) = |s|**p * f(sign(s) * t)``: the scale ``a`` is then
            redundant with ``c`` and is normalised to +-1.
        parity: +1 even, -1 odd, 0 neither; lets a fit choose ``a >= 0``.
        shift: (s, sign) when ``f(t + s) = sign * f(t)``: the offset ``b`` is reduced to (-s/2, s/2].
    """

    name: str
    torch_fn: Callable[[Tensor], Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: int
    degree: float | None = None
    parity: int = 0
    shift: tuple[float, int] | None = None


# Clamps keep the grid search finite; a fit that relies on a clamped region scores a poor R^2.
_EPS = 1e-4
_EXP_MAX = 40.0


def _safe_inverse(t: Tensor) -> Tensor:
    return torch.where(t >= 0, 1.0, -1.0).to(t) / t.abs().clamp_min(_EPS)


def _library(*functions: SymbolicFunction) -> dict[str, SymbolicFunction]:
    return {f.name: f for f in functions}


#: The default library, name -> :class:`SymbolicFunction`. "0" is the constant edge (c * 0 + d).
LIBRARY: dict[str, SymbolicFunction] = _library(
    SymbolicFunction("0", torch.zeros_like, lambda t: sympy.Integer(0), 0),
    SymbolicFunction("x", lambda t: t, lambda t: t, 1, degree=1, parity=-1),
    SymbolicFunction("x^2", torch.square, lambda t: t**2, 2, degree=2, parity=1),
    SymbolicFunction("x^3", lambda t: t**3, lambda t: t**3, 3, degree=3, parity=-1),
    SymbolicFunction("x^4", lambda t: t**4, lambda t: t**4, 4, degree=4, parity=1),
    SymbolicFunction("1/x", _safe_inverse, lambda t: 1 / t, 2, degree=-1, parity=-1),
    SymbolicFunction("sqrt", lambda t: t.clamp_min(0).sqrt(), sympy.sqrt, 2, degree=0.5),
    SymbolicFunction("abs", torch.abs, sympy.Abs, 2, degree=1, parity=1),
    SymbolicFunction("exp", lambda t: t.clamp_max(_EXP_MAX).exp(), sympy.exp, 2),
    SymbolicFunction("log", lambda t: t.clamp_min(_EPS).log(), sympy.log, 2),
    SymbolicFunction("sin", torch.sin, sympy.sin, 3, parity=-1, shift=(math.pi, -1)),
    SymbolicFunction("tanh", torch.tanh, sympy.tanh, 4, parity=-1),
    SymbolicFunction("tan", torch.tan, sympy.tan, 4, parity=-1, shift=(math.pi, 1)),
    SymbolicFunction("gaussian", lambda t: torch.exp(-(t**2)), lambda t: sympy.exp(-(t**2)), 4, parity=1),
    SymbolicFunction("sigmoid", torch.sigmoid, lambda t: 1 / (1 + sympy.exp(-t)), 4),
)


# ------------------------------------------------------------------ edge fits

#: Default search grid of the standardised a and b of edge fits.
AB_GRID: tuple[float, ...] = tuple(float(v) for v in np.linspace(-10, 10, 41))


@dataclass(frozen=True)
class SymbolicFit:
    """``y ~ c * f(a * x + b) + d`` for the library function called ``name``; ``score`` ranks fits."""

    name: str
    r2: float
    a: float
    b: float
    c: float
    d: float
    score: float

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.a, self.b, self.c, self.d)


def r_squared(y: Tensor, prediction: Tensor) -> float:
    """Coefficient of determination of prediction (N,) for y (N,); 1.0 when y is constant and matched."""
    ss_res = float((y - prediction).square().sum())
    ss_tot = float((y - y.mean()).square().sum())
    if ss_tot <= 1e-24 * max(1.0, float(y.square().sum())):
        return 1.0 if ss_res <= 1e-20 * max(1.0, float(y.square().sum())) else 0.0
    return 1.0 - ss_res / ss_tot


def fit_score(r2: float, complexity: int, complexity_weight: float = 0.3, max_nines: float = 4.0) -> float:
    """Rank of a fit: the "nines" of R^2 (capped, so exact fits tie) minus a cost per unit of complexity."""
    nines = -math.log10(max(1.0 - r2, 10.0**-max_nines))
    return nines - complexity_weight * complexity


def _grid_search(
    fn: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, grid: Tensor
) -> tuple[tuple[float, float], float]:
    """The (a, b) in grid x grid maximising R^2 = corr(f(a x + b), y)^2 for x, y (N,), and that R^2."""
    u = grid.view(-1, 1, 1) * x.view(1, 1, -1) + grid.view(1, -1, 1)  # (A, B, N)
    f = torch.nan_to_num(fn(u), nan=0.0, posinf=0.0, neginf=0.0)
    f = f - f.mean(-1, keepdim=True)
    y = y - y.mean()
    num = (f * y).sum(-1).square()
    den = f.square().sum(-1) * y.square().sum()
    # A constant f (or y) explains nothing: R^2 = 0 rather than 0/0.
    r2 = torch.where(den > 1e-12, num / den.clamp_min(1e-300), torch.zeros_like(num))
    ia, ib = divmod(int(r2.argmax()), grid.numel())
    return (float(grid[ia]), float(grid[ib])), float(r2.max())


def _linear_cd(f: Tensor, y: Tensor) -> tuple[float, float]:
    """Least-squares c, d of y ~ c * f + d, f and y (N,)."""
    fc = f - f.mean()
    var = float(fc.square().sum())
    c = float((fc * (y - y.mean())).sum()) / var if var > 1e-12 else 0.0
    return c, float(y.mean() - c * f.mean())


def _refine(fn: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, p0: Sequence[float]) -> np.ndarray:
    """Levenberg-Marquardt on all four of (a, b, c, d) from ``p0``; x, y (N,) float64."""

    def residual(p: np.ndarray) -> np.ndarray:
        pred = p[2] * fn(p[0] * x + p[1]) + p[3]
        return torch.nan_to_num(pred - y, nan=1e6, posinf=1e6, neginf=-1e6).numpy()

    tol = 1e-12
    # Capped: near-degenerate fits (tan near a pole, a -> 0 limits) otherwise take thousands of evaluations.
    fit = least_squares(
        residual, np.asarray(p0, dtype=np.float64), method="lm", xtol=tol, ftol=tol, gtol=tol, max_nfev=200
    )
    return fit.x


def canonical_params(
    function: SymbolicFunction, a: float, b: float, c: float, d: float
) -> tuple[float, float, float, float]:
    """The same curve ``c * f(a * x + b) + d`` with redundant freedom removed (a = +-1 for powers, a >= 0 for
    odd/even functions, b reduced by the function's shift), so tables and formulas read the same way every time."""
    if function.degree is not None and a != 0:
        c *= abs(a) ** function.degree
        b /= abs(a)
        a = math.copysign(1.0, a)
    if function.parity and a < 0:
        a, b = -a, -b
        c = -c if function.parity < 0 else c
    if function.shift is not None:
        s, sign = function.shift
        k = math.ceil(b / s - 0.5)  # b - k*s lies in (-s/2, s/2]
        b -= k * s
        c *= sign**k
    return a, b, c, d


def fit_edge(
    x: Tensor,
    y: Tensor,
    library: dict[str, SymbolicFunction] | None = None,
    *,
    grid: Sequence[float] = AB_GRID,
    grid_points: int = 256,
    refine: int | None = None,
    complexity_weight: float = 0.3,
) -> list[SymbolicFit]:
    """Fit ``y ~ c * f(a * x + b) + d`` for every library function; best first.

    For each f, (a, b) is searched on ``grid`` x ``grid`` in standardised coordinates
    (on at most ``grid_points`` samples) with (c, d) solved by least squares; the
    ``refine`` functions that fit best there (all by default: the grid ranks steep
    functions such as exp poorly) get all four parameters refined by
    Levenberg-Marquardt on every sample. Parameters are returned in canonical form.

    Args:
        x: (N,) edge inputs.
        y: (N,) edge outputs.
        library: name -> SymbolicFunction (default :data:`LIBRARY`).
        grid: candidate values of the standardised a and b.
        grid_points: samples used by the grid search.
        refine: how many of the best grid fits are refined (None: all; the rest keep their grid fit).
        complexity_weight: score cost per unit of complexity, in nines of R^2.

    Returns:
        one :class:`SymbolicFit` per library function, sorted by score (best first).
    """
    library = LIBRARY if library is None else library
    x, y = x.detach().reshape(-1).double().cpu(), y.detach().reshape(-1).double().cpu()
    if x.shape != y.shape or x.numel() < 4:
        raise ValueError(
            f"fit_edge needs x and y of the same shape (N,), N >= 4; got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    # Standardising makes one (a, b) grid and one tolerance fit every input and output scale.
    mx, sx = float(x.mean()), float(x.std()) or 1.0
    my, sy = float(y.mean()), float(y.std()) or 1.0
    xs, ys = (x - mx) / sx, (y - my) / sy
    step = max(1, xs.numel() // grid_points)
    grid_t = torch.as_tensor(grid, dtype=torch.float64)
    starts = {fn.name: _grid_search(fn.torch_fn, xs[::step], ys[::step], grid_t) for fn in library.values()}
    fits = []
    for rank, name in enumerate(sorted(starts, key=lambda n: starts[n][1], reverse=True)):
        fn, (a, b) = library[name], starts[name][0]
        p = (a, b, *_linear_cd(fn.torch_fn(a * xs + b), ys))
        if refine is None or rank < refine:
            p = _refine(fn.torch_fn, xs, ys, p)
        a, b, c, d = (float(v) for v in p)
        # Back from standardised coordinates: y = my + sy * (c * f(a * (x - mx) / sx + b) + d).
        a, b, c, d = canonical_params(fn, a / sx, b - a * mx / sx, c * sy, d * sy + my)
        r2 = r_squared(y, c * fn.torch_fn(a * x + b) + d)
        fits.append(SymbolicFit(name, r2, a, b, c, d, fit_score(r2, fn.complexity, complexity_weight)))
    return sorted(fits, key=lambda f: f.score, reverse=True)


# ------------------------------------------------------------------ the model


class SymbolicKAN(nn.Module):
    """A trained KAN whose edges can be pruned or locked to symbolic functions.

    Holds a deep copy of ``kan`` (the original is never changed) and per layer l:
    ``masks[l]`` (O, I) bool, active edges; ``locked[l]`` (O, I) bool, symbolic edges;
    ``affine[l]`` (O, I, 4) the (a, b, c, d) of locked edges; ``biases[l]`` (O,) the node
    biases (start as the KAN's; pruning folds removed edges' means into them).

    Evaluates every edge separately, (N, O, I) per layer: meant for small networks.
    Shapes: (N, widths[0]) -> (N, widths[-1]).
    """

    def __init__(self, kan: KAN, library: dict[str, SymbolicFunction] | None = None) -> None:
        super().__init__()
        self.kan = copy.deepcopy(kan)
        self.widths = list(kan.widths)
        self.library = LIBRARY if library is None else library
        p = next(self.kan.parameters())
        shapes = [(layer.out_features, layer.in_features) for layer in self.kan.layers]
        # Buffers, so .to(device) moves the masks with the parameters.
        for layer, shape in enumerate(shapes):
            self.register_buffer(f"mask{layer}", torch.ones(shape, dtype=torch.bool, device=p.device))
            self.register_buffer(f"locked{layer}", torch.zeros(shape, dtype=torch.bool, device=p.device))
        self.names: list[dict[tuple[int, int], str]] = [{} for _ in shapes]
        unit = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=p.dtype, device=p.device)
        self.affine = nn.ParameterList(nn.Parameter(unit.repeat(*s, 1)) for s in shapes)
        self.biases = nn.ParameterList(
            nn.Parameter(layer.bias.detach().clone() if layer.bias is not None else p.new_zeros(layer.out_features))
            for layer in self.kan.layers
        )
        for layer in self.kan.layers:
            if layer.bias is not None:
                layer.bias.requires_grad_(False)  # replaced by self.biases

    @property
    def masks(self) -> list[Tensor]:
        """Per layer (O, I) bool: the edges not pruned (edit in place)."""
        return [getattr(self, f"mask{layer}") for layer in range(len(self.widths) - 1)]

    @property
    def locked(self) -> list[Tensor]:
        """Per layer (O, I) bool: the edges locked to a symbolic function (edit through :meth:`lock`)."""
        return [getattr(self, f"locked{layer}") for layer in range(len(self.widths) - 1)]

    def lock(self, layer: int, out: int, in_: int, name: str, params: Sequence[float] = (1, 0, 1, 0)) -> None:
        """Replace edge (layer, in_ -> out) by ``c * f(a * x + b) + d``, f = library[name], params (a, b, c, d)."""
        if name not in self.library:
            raise ValueError(f"function {name!r} is not in the library; choose one of {list(self.library)}")
        self.locked[layer][out, in_] = True
        self.names[layer][(out, in_)] = name
        with torch.no_grad():
            self.affine[layer][out, in_] = torch.as_tensor(list(params), dtype=self.affine[layer].dtype)

    @torch.no_grad()
    def canonicalize(self) -> None:
        """Put every locked edge's (a, b, c, d) in canonical form (see :func:`canonical_params`); retraining
        moves redundant parameters (the scale of x^2 against its c, ...) freely. The function is unchanged."""
        for layer, names in enumerate(self.names):
            for (o, i), name in names.items():
                params = canonical_params(self.library[name], *self.affine[layer][o, i].tolist())
                self.affine[layer][o, i] = torch.as_tensor(params, dtype=self.affine[layer].dtype)

    def edge_outputs(self, layer: int, h: Tensor) -> Tensor:
        """Every edge's output for layer inputs h: (N, I) -> (N, O, I); pruned edges give 0."""
        free = self.masks[layer] & ~self.locked[layer]
        if bool(free.any()):
            out = self.kan.layers[layer].edge_functions(h).to(h.dtype) * free
        else:
            out = h.new_zeros(h.shape[0], *free.shape)
        sym = torch.zeros_like(out)
        for (o, i), name in self.names[layer].items():
            if self.masks[layer][o, i]:
                a, b, c, d = self.affine[layer][o, i]
                sym[:, o, i] = c * self.library[name].torch_fn(a * h[:, i] + b) + d
        return out + sym

    def layer_inputs(self, x: Tensor) -> list[Tensor]:
        """The input of every layer for x (N, widths[0]): a list of (N, widths[l])."""
        inputs = []
        for layer in range(len(self.widths) - 1):
            inputs.append(x)
            x = self.edge_outputs(layer, x).sum(-1) + self.biases[layer]
        return inputs

    def forward(self, x: Tensor) -> Tensor:
        """(N, widths[0]) -> (N, widths[-1])."""
        h = self.layer_inputs(x)[-1]
        return self.edge_outputs(len(self.widths) - 2, h).sum(-1) + self.biases[-1]


def edge_importance(model: SymbolicKAN, x: Tensor) -> list[Tensor]:
    """Per layer (O, I): std over x of each edge's output / (std of its input + 0.1), the metric of
    :meth:`KANLinear.edge_scale`, here for spline and symbolic edges alike. x: (N, widths[0])."""
    with torch.no_grad():
        return [model.edge_outputs(layer, h).std(0) / (h.std(0) + 0.1) for layer, h in enumerate(model.layer_inputs(x))]


def attribution_scores(model: SymbolicKAN, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """pykan's attribution scores (``MultKAN.attribute``): how much each edge and node feeds the outputs.

    Every output node scores 1. Going backwards, edge (l, i -> j) scores its target node's score
    times the edge's share of that node's spread, std(phi_ji(h_i)) / (std(node_j) + 1e-4), and a
    node scores the sum of its outgoing edges' scores. Unlike the local :func:`edge_importance`,
    an edge into a node that the output ignores scores ~0, and the scores are relative, so one
    threshold fits every output scale. x: (N, widths[0]).

    Returns:
        (edge scores per layer (O, I), node scores per layer of nodes (widths[l],), inputs first).
    """
    with torch.no_grad():
        inputs = model.layer_inputs(x)
        p = model.biases[-1]
        node = torch.ones(model.widths[-1], dtype=p.dtype, device=p.device)
        edges: list[Tensor] = []
        nodes: list[Tensor] = [node]
        for layer in reversed(range(len(model.widths) - 1)):
            values = model.edge_outputs(layer, inputs[layer])  # (N, O, I)
            spread = values.sum(-1).std(0)  # (O,)
            score = node.unsqueeze(1) * values.std(0) / (spread.unsqueeze(1) + 1e-4)
            node = score.sum(0)
            edges.insert(0, score)
            nodes.insert(0, node)
    return edges, nodes


#: Pruning criteria of :func:`prune`.
PRUNE_CRITERIA = ("scale", "attribution")


def prune(
    model: SymbolicKAN,
    x: Tensor,
    edge_threshold: float | None = None,
    node_threshold: float | None = None,
    criterion: str = "scale",
) -> list[Tensor]:
    """Remove unimportant edges and hidden nodes (with all their edges), in place.

    Criteria:
        "scale" (thresholds 1e-2, 1e-2): an edge goes when its :func:`edge_importance` is <=
            edge_threshold, a hidden node when its largest incoming or outgoing importance is
            <= node_threshold. Local: fine for a network already of the right shape.
        "attribution" (pykan's ``prune()``; thresholds 3e-2 for edges, 1e-2 for nodes): scores
            from :func:`attribution_scores`, which follow the output backwards, so a hidden node
            whose only role is to feed an ignored edge goes too. Used after sparse training.

    A removed edge's mean output over x is added to its node's bias, so an edge that is
    constant on the data is removed without changing the network's output.

    Args:
        model: the network to prune.
        x: (N, widths[0]) inputs that define importance.

    Returns:
        the edge masks after pruning, per layer (O, I) bool.
    """
    if criterion not in PRUNE_CRITERIA:
        raise ValueError(f"criterion={criterion!r} is invalid: choose one of {list(PRUNE_CRITERIA)}")
    attribution = criterion == "attribution"
    edge_threshold = (3e-2 if attribution else 1e-2) if edge_threshold is None else edge_threshold
    node_threshold = 1e-2 if node_threshold is None else node_threshold
    if attribution:
        scales, node_scores = attribution_scores(model, x)
    else:
        scales = edge_importance(model, x)
    keep = [s > edge_threshold for s in scales]
    for layer in range(len(scales) - 1):  # hidden nodes: outputs of layer, inputs of layer + 1
        if attribution:
            dead = node_scores[layer + 1] <= node_threshold
        else:
            dead = (scales[layer].amax(1) <= node_threshold) | (scales[layer + 1].amax(0) <= node_threshold)
        keep[layer][dead, :] = False
        keep[layer + 1][:, dead] = False
    with torch.no_grad():
        # Layer by layer, so each layer's means see the already-pruned layers before it.
        h = x
        for layer, kept in enumerate(keep):
            values = model.edge_outputs(layer, h)
            removed = model.masks[layer] & ~kept
            model.biases[layer] += (values.mean(0) * removed).sum(1)
            model.masks[layer] &= kept
            h = model.edge_outputs(layer, h).sum(-1) + model.biases[layer]
    return [m.clone() for m in model.masks]


def active_nodes(model: SymbolicKAN) -> list[list[int]]:
    """Per layer of nodes (inputs first), the nodes still connected: a hidden node needs an active
    incoming and an active outgoing edge; inputs and outputs are always listed."""
    masks = model.masks
    nodes = [list(range(model.widths[0]))]
    for layer in range(1, len(model.widths) - 1):
        alive = masks[layer - 1].any(1) & masks[layer].any(0)
        nodes.append(alive.nonzero().flatten().tolist())
    nodes.append(list(range(model.widths[-1])))
    return nodes


def graph_summary(model: SymbolicKAN, variables: Sequence[str] | None = None) -> str:
    """The pruned graph in words: its widths and every active edge, e.g.
    ``widths [2, 1, 1]: x -> h1.2, y -> h1.2, h1.2 -> out`` (h<layer>.<node> names hidden nodes)."""
    variables = default_variables(model.widths[0]) if variables is None else tuple(variables)
    nodes = active_nodes(model)
    last = len(model.widths) - 1

    def name(level: int, i: int) -> str:
        if level == 0:
            return variables[i]
        if level == last:
            return "out" if model.widths[-1] == 1 else f"out{i}"
        return f"h{level}.{i}"

    edges = []
    for layer, mask in enumerate(model.masks):
        for o, i in mask.nonzero().tolist():
            if i in nodes[layer] and o in nodes[layer + 1]:
                edges.append(f"{name(layer, i)} -> {name(layer + 1, o)}")
    return f"widths {[len(n) for n in nodes]}: " + ", ".join(edges)


# ------------------------------------------------------------------ auto symbolic


@dataclass(frozen=True)
class EdgeReport:
    """The best fit of edge (layer, in_ -> out) and whether it was locked."""

    layer: int
    out: int
    in_: int
    fit: SymbolicFit
    locked: bool

    @property
    def edge(self) -> str:
        return f"L{self.layer} {self.in_}->{self.out}"


def auto_symbolic(
    model: SymbolicKAN,
    x: Tensor,
    r2_threshold: float = 0.99,
    *,
    complexity_weight: float = 0.3,
    layers: Sequence[int] | None = None,
) -> list[EdgeReport]:
    """Fit every active, free edge of ``model`` to its library and lock the best fit with R^2 >= r2_threshold.

    Layers are fitted first to last, each on its inputs as the earlier locks leave them.

    Args:
        model: changed in place.
        x: (N, widths[0]) inputs spanning the domain of interest.
        layers: fit only these layers (default all), e.g. one at a time with retraining between.

    Returns:
        one :class:`EdgeReport` per fitted edge (locked or not).
    """
    reports = []
    for layer in range(len(model.widths) - 1) if layers is None else layers:
        with torch.no_grad():
            h = model.layer_inputs(x)[layer]
            values = model.edge_outputs(layer, h)
        for o, i in (model.masks[layer] & ~model.locked[layer]).nonzero().tolist():
            fits = fit_edge(h[:, i], values[:, o, i], model.library, complexity_weight=complexity_weight)
            good = [f for f in fits if f.r2 >= r2_threshold]
            best = good[0] if good else max(fits, key=lambda f: f.r2)  # the closest miss, for reports
            if good:
                model.lock(layer, o, i, best.name, best.params)
            reports.append(EdgeReport(layer, o, i, best, bool(good)))
    return reports


# ------------------------------------------------------------------ formula


def default_variables(n: int) -> tuple[str, ...]:
    """Input names: x (1 input), x, y (2 inputs), else x1 .. xn."""
    return {1: ("x",), 2: ("x", "y")}.get(n, tuple(f"x{k + 1}" for k in range(n)))


def _expand(expr: sympy.Expr) -> sympy.Expr:
    # exp(a + b) stays one exponential: splitting it would hide the structure we want to read.
    return sympy.expand(expr, power_exp=False, power_base=False, log=False)


def _round_numbers(expr: sympy.Expr, digits: int) -> sympy.Expr:
    """Round every float to ``digits`` decimals; whole numbers become integers (1.0*y -> y), 0 drops the term."""
    replace = {}
    for f in expr.atoms(sympy.Float):
        v = round(float(f), digits)
        replace[f] = sympy.Integer(int(v)) if v == int(v) else sympy.Float(v)
    return expr.xreplace(replace)


def tidy(expr: sympy.Expr, digits: int = 4) -> sympy.Expr:
    """Expand and round floats to ``digits`` decimals.

    sympy itself writes exp(u + 2.0) as 7.389*exp(u), so the redundant scale and offset
    of an exp edge end up as one coefficient in front.
    """
    return _round_numbers(_expand(expr), digits)


def formula(model: SymbolicKAN, variables: Sequence[str] | None = None, digits: int = 4, output: int = 0) -> sympy.Expr:
    """The sympy expression of output ``output`` of the model, in ``variables`` (default
    :func:`default_variables`), tidied with :func:`tidy`. Free (not locked) edges appear as
    undefined functions phi_<layer>_<out>_<in>."""
    variables = default_variables(model.widths[0]) if variables is None else tuple(variables)
    if len(variables) != model.widths[0]:
        raise ValueError(f"{len(variables)} variable names given for {model.widths[0]} inputs")
    nodes: list[sympy.Expr] = [sympy.Symbol(v) for v in variables]
    for layer in range(len(model.widths) - 1):
        nodes = [_node_expr(model, layer, o, nodes) for o in range(model.widths[layer + 1])]
    return tidy(nodes[output], digits)


def _node_expr(model: SymbolicKAN, layer: int, out: int, inputs: list[sympy.Expr]) -> sympy.Expr:
    terms = [sympy.Float(float(model.biases[layer][out].detach()))]
    for i, h in enumerate(inputs):
        if not model.masks[layer][out, i]:
            continue
        if model.locked[layer][out, i]:
            a, b, c, d = (sympy.Float(float(v)) for v in model.affine[layer][out, i].detach())
            terms.append(c * model.library[model.names[layer][(out, i)]].sympy_fn(a * h + b) + d)
        else:
            terms.append(sympy.Function(f"phi_{layer}_{out}_{i}")(h))
    return sympy.Add(*terms)


def formula_rmse(expr: sympy.Expr, variables: Sequence[str], x: Tensor, y: Tensor) -> float:
    """RMSE of a closed-form expr on inputs x (N, len(variables)) against targets y (N,) or (N, 1)."""
    symbols = [sympy.Symbol(v) for v in variables]
    if expr.atoms(sympy.core.function.AppliedUndef):
        raise ValueError(f"the formula still has free edges ({expr}); lock them before evaluating it")
    fn = sympy.lambdify(symbols, expr, modules="numpy")
    xs = x.detach().double().cpu().numpy()
    pred = np.broadcast_to(np.asarray(fn(*xs.T), dtype=np.float64), (xs.shape[0],))
    return float(np.sqrt(np.mean((pred - y.detach().double().cpu().numpy().reshape(-1)) ** 2)))
