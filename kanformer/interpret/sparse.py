"""pykan's prune-to-formula workflow: sparse training of a wide KAN, pruning, retraining, formula.

    from kanformer.interpret.sparse import discover, function_data
    data = function_data("exp(sin(pi*x) + y^2)")
    found = discover(data.x_train, data.y_train, [2, 5, 1])
    print(found.graph)      # widths [2, 1, 1]: x -> h1.3, y -> h1.3, h1.3 -> out
    print(found.formula)    # exp(y**2 + sin(3.1416*x))

The steps (each a library call of its own):

1. Sparse training (:class:`SparseObjective` through :func:`kanformer.fitting.grow_kan`'s objective hook):
   MSE + lamb * pykan's regulariser (L1 of the edge scales plus the entropy of their rows and
   columns, :meth:`kanformer.layers.KAN.regularization_loss`) on a coarse grid (3 intervals, as
   pykan's tutorial). Measured: on grid 3 every one of six initialisations of [2, 5, 1]
   concentrates exp(sin(pi x) + y^2) on one hidden node; on grid 5 only four of six do.
2. Pruning by pykan's attribution scores (:func:`kanformer.interpret.symbolic.attribution_scores`,
   node threshold 1e-2, edge threshold 3e-2).
3. Retraining of the pruned network (pruned edges stay 0) with grid extension.
4. auto_symbolic one layer at a time, retraining after each, so the next layer's splines adapt
   to the locked functions before they are named; a last retraining makes the coefficients exact.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch
from torch import Tensor, nn

from ..fitting import grow_kan, mse, rmse, train_lbfgs
from .symbolic import (
    EdgeReport,
    SymbolicKAN,
    auto_symbolic,
    default_variables,
    formula,
    graph_summary,
    prune,
)


@dataclass
class SparseObjective:
    """MSE + lamb * pykan's regulariser, the objective of sparse training (pykan's ``fit(lamb=...)``).

    Args:
        lamb: overall weight of the regulariser (pykan's ``lamb``); 0 is plain MSE.
        lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff: pykan's weights of the L1 of the edge
            scales, their entropy, the coefficients' L1 and their differences' L1.
        warmup: schedule: the weight grows linearly from 0 to ``lamb`` over this many LBFGS steps
            (grow_kan calls :meth:`set_step` before each), so the fit forms before it is sparsified.
    """

    lamb: float = 1e-2
    lamb_l1: float = 1.0
    lamb_entropy: float = 2.0
    lamb_coef: float = 0.0
    lamb_coefdiff: float = 0.0
    warmup: int = 0
    current: float = field(default=math.nan, repr=False)

    def __post_init__(self) -> None:
        for name in ("lamb", "lamb_l1", "lamb_entropy", "lamb_coef", "lamb_coefdiff"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value!r} is invalid: need a number >= 0 (0 turns that term off)")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"warmup={self.warmup!r} is invalid: need an integer >= 0 (LBFGS steps)")
        self.set_step(self.warmup)

    def set_step(self, step: int) -> None:
        """The schedule: the weight in force for LBFGS step ``step``."""
        self.current = self.lamb * (min(1.0, step / self.warmup) if self.warmup else 1.0)

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        loss = mse(model, x, y)
        if self.current:
            weights = {k: getattr(self, k) for k in ("lamb_l1", "lamb_entropy", "lamb_coef", "lamb_coefdiff")}
            loss = loss + self.current * model.regularization_loss(x, **weights)
        return loss


@dataclass
class Discovery:
    """What :func:`discover` found: the symbolic model, its graph, formula and errors."""

    model: SymbolicKAN
    variables: tuple[str, ...]
    graph: str
    formula: sympy.Expr
    reports: list[EdgeReport]
    sparse_rmse: float
    pruned_rmse: float
    train_rmse: float


def discover(
    x: Tensor,
    y: Tensor,
    widths: Sequence[int],
    *,
    sparsity: SparseObjective | None = None,
    sparse_grid: int = 3,
    sparse_steps: int = 20,
    grids: Sequence[int] = (5, 10, 20),
    steps: int = 10,
    r2_threshold: float = 0.99,
    complexity_weight: float = 1.2,
    seed: int = 0,
    variables: Sequence[str] | None = None,
    digits: int = 4,
    log: Callable[[str], None] | None = None,
    on_pruned: Callable[[SymbolicKAN], None] | None = None,
) -> Discovery:
    """Sparse-train a (wide) KAN on x (N, d), y (N, 1), prune it, retrain with grid extension,
    name its edges layer by layer and return the formula (see the module's docstring).

    Args:
        sparsity: the objective of the first stage (default :class:`SparseObjective`(), lamb=1e-2).
        sparse_grid, sparse_steps: grid and LBFGS steps (of 20 iterations) of sparse training.
        grids, steps: the retraining's grid extension, ``steps`` LBFGS steps per grid; also the
            retraining after each layer's symbolic fits.
        r2_threshold: auto_symbolic locks an edge's fit with at least this R^2.
        complexity_weight: cost of a unit of complexity in nines of R^2 when fits are ranked. 1.2
            is pykan's ``weight_simple=0.8`` (0.8 per unit against 0.2 * log2(1 - R^2)): a wide KAN's
            splines are rarely exactly linear, and x*y needs its linear edges named "x", not sqrt.
        on_pruned: ``on_pruned(model)`` sees the pruned network after its retraining, before any
            edge is named: the spline model's own accuracy (say on test data) is measured there.
    """
    say = log or (lambda _: None)
    sparsity = SparseObjective() if sparsity is None else sparsity
    variables = default_variables(x.shape[1]) if variables is None else tuple(variables)
    if len(widths) < 2 or widths[0] != x.shape[1] or widths[-1] != y.shape[1]:
        raise ValueError(
            f"widths {list(widths)} do not fit the data: need {x.shape[1]} inputs first and {y.shape[1]} output last"
        )
    kan = grow_kan(
        x,
        y,
        widths,
        (sparse_grid,),
        sparse_steps,
        seed=seed,
        grid_eps=1.0,
        update_grid_each_stage=True,
        tolerances={},
        objective=sparsity,
    )
    sparse_rmse = rmse(kan, x, y)
    say(f"sparse training (lamb={sparsity.lamb:g}, grid {sparse_grid}): train RMSE {sparse_rmse:.3e}")
    model = SymbolicKAN(kan)
    prune(model, x, criterion="attribution")
    graph = graph_summary(model, variables)
    say(f"pruned to {graph}")
    for g in grids:
        for layer in model.kan.layers:
            layer.extend_grid(g)
        train_lbfgs(model, x, y, steps)
    pruned_rmse = rmse(model, x, y)
    say(f"retrained the pruned network on grids {list(grids)}: train RMSE {pruned_rmse:.3e}")
    if on_pruned is not None:
        on_pruned(model)
    reports: list[EdgeReport] = []
    for layer in range(len(model.widths) - 1):
        reports += auto_symbolic(model, x, r2_threshold, complexity_weight=complexity_weight, layers=[layer])
        train_lbfgs(model, x, y, steps)
    model.canonicalize()
    expr = formula(model, variables, digits=digits)
    return Discovery(model, variables, graph, expr, reports, sparse_rmse, pruned_rmse, rmse(model, x, y))


def equivalent(expr: sympy.Expr, truth: sympy.Expr | str, tolerance: float = 1e-3) -> bool:
    """Whether a fitted formula equals ``truth`` once its floats are snapped to simple rationals
    within ``tolerance`` (sympy.nsimplify) and the difference is simplified to 0."""
    truth = sympy.sympify(truth) if isinstance(truth, str) else truth
    snapped = sympy.nsimplify(expr, tolerance=tolerance, rational=True)
    return sympy.simplify(sympy.expand(snapped - truth)) == 0


# ------------------------------------------------------------------ user functions and data

_INDEXED = re.compile(r"^x([1-9][0-9]*)$")


def parse_function(text: str, variables: Sequence[str] | None = None) -> tuple[sympy.Expr, tuple[str, ...]]:
    """A function of x, y, z or x1..xn from text (sympy syntax; ``^`` is a power, pi and e are the
    constants): (expression, its variables in order).

    Variables: x, y, z (those up to the last one used: "y" alone is a function of x and y),
    or x1..xn (up to the largest index used); or, when ``variables`` names them (e.g. the
    Feynman equations' ("theta", "sigma")), exactly those, in that order. One-line ValueError
    for text sympy cannot parse or other names.
    """
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    names: dict[str, object] = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E}
    if variables is not None:
        names.update({v: sympy.Symbol(v) for v in variables})  # names sympy knows (beta, gamma) stay symbols
    try:
        expr = parse_expr(text, local_dict=names, transformations=(*standard_transformations, convert_xor))
    except Exception as err:  # noqa: BLE001 - sympy raises SyntaxError, TokenError, TypeError, ...
        reason = " ".join(str(err).split())[:80] or type(err).__name__
        raise ValueError(f"--function {text!r} cannot parse: sympy rejects it ({reason})") from None
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"--function {text!r} is not an expression of x, y, z or x1..xn")
    used = sorted(str(s) for s in expr.free_symbols)
    if variables is not None:
        unknown = sorted(set(used) - set(variables))
        if unknown:
            raise ValueError(f"function {text!r} uses {unknown}: its variables are {list(variables)}")
        return expr, tuple(variables)
    if not used:
        raise ValueError(f"--function {text!r} has no variable: use x, y, z or x1..xn")
    xyz = ("x", "y", "z")
    if all(v in xyz for v in used):
        variables = xyz[: max(xyz.index(v) for v in used) + 1]
    elif all(_INDEXED.match(v) for v in used):
        n = max(int(_INDEXED.match(v).group(1)) for v in used)  # type: ignore[union-attr]
        variables = tuple(f"x{k + 1}" for k in range(n))
    else:
        raise ValueError(f"--function {text!r} uses {used}: variables are x, y, z or x1..xn (not mixed)")
    return expr, variables


@dataclass
class Dataset:
    """Train and test samples (x (N, d), y (N, 1), float64) and the input names."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    variables: tuple[str, ...]


def function_data(
    text: str,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    *,
    variables: Sequence[str] | None = None,
    ranges: Sequence[tuple[float, float]] | None = None,
) -> Dataset:
    """Uniform samples of a function given as text (:func:`parse_function`, ``variables`` as there):
    input k uniform on ``ranges[k]`` = (low, high), default [-1, 1] for every input.
    x: (n, d) float64, train and test drawn one after the other from one seeded generator."""
    expr, variables = parse_function(text, variables)
    d = len(variables)
    bounds = torch.tensor([(-1.0, 1.0)] * d if ranges is None else [tuple(map(float, r)) for r in ranges])
    if bounds.shape != (d, 2) or not bool((bounds[:, 1] > bounds[:, 0]).all()):
        raise ValueError(f"ranges={ranges!r} is invalid: need one (low, high) with low < high per variable {variables}")
    low, span = bounds[:, 0].double(), (bounds[:, 1] - bounds[:, 0]).double()
    fn = sympy.lambdify([sympy.Symbol(v) for v in variables], expr, modules="numpy")
    gen = torch.Generator().manual_seed(seed)
    xs = [low + span * torch.rand(n, d, generator=gen, dtype=torch.float64) for n in (n_train, n_test)]
    with np.errstate(all="ignore"):
        ys = [np.broadcast_to(np.asarray(fn(*x.numpy().T), dtype=np.float64), (x.shape[0],)) for x in xs]
    if not all(np.isfinite(y).all() for y in ys):
        domain = f"[-1, 1]^{d}" if ranges is None else " x ".join(f"[{lo:g}, {hi:g}]" for lo, hi in bounds.tolist())
        raise ValueError(f"--function {text!r} is not finite everywhere on {domain}")
    return Dataset(xs[0], torch.tensor(ys[0]).unsqueeze(1), xs[1], torch.tensor(ys[1]).unsqueeze(1), variables)


def csv_data(path: str, target: str, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A CSV file's rows: ``target`` is y, every other column an input; a seeded shuffle holds out
    ``test_fraction`` of the rows for testing. Inputs are named after their columns when those are
    valid names (else x1..xn). One-line ValueError for a missing file or column, or a non-number."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as err:
        raise ValueError(f"--data {path!r} cannot be read ({err.strerror or err})") from None
    if not rows or target not in rows[0]:
        header = rows[0] if rows else []
        raise ValueError(f"--data {path!r} has no column {target!r} (columns: {header})")
    header, body = rows[0], [r for r in rows[1:] if r]
    if len(header) < 2 or len(body) < 8:
        raise ValueError(f"--data {path!r} needs the target and at least one input column, and 8 rows or more")
    try:
        values = np.array([[float(v) for v in r] for r in body], dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"--data {path!r} holds a value that is not a number ({err})") from None
    if values.shape[1] != len(header) or not np.isfinite(values).all():
        raise ValueError(f"--data {path!r}: every row needs {len(header)} finite numbers")
    t = header.index(target)
    inputs = [h for i, h in enumerate(header) if i != t]
    ok = all(h.isidentifier() and h not in ("pi", "e", "E") for h in inputs) and len(set(inputs)) == len(inputs)
    variables = tuple(inputs) if ok else tuple(f"x{k + 1}" for k in range(len(inputs)))
    order = np.random.default_rng(seed).permutation(len(values))
    n_test = max(1, int(round(test_fraction * len(values))))
    data = torch.tensor(values[order])
    x, y = torch.cat([data[:, :t], data[:, t + 1 :]], 1), data[:, t : t + 1]
    return Dataset(x[n_test:], y[n_test:], x[:n_test], y[:n_test], variables)
