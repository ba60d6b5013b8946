"""The KAN paper's Feynman equations (Sec. 3.3, Table 2): from a wide KAN to the pruned graph and formula.

    cfg = load_feynman_config("configs/paper/feynman.yaml")
    results = run_feynman(cfg)  # JSON-able: per equation the pruned graph, RMSEs, formula, MLP, the paper's row

Per equation (:data:`kanformer.paper.feynman_equations.EQUATIONS`):

1. Data from the dimensionless formula: inputs uniform on their ranges (:func:`equation_data`).
2. :func:`kanformer.interpret.sparse.discover` on a wide KAN [inputs, *hidden, 1]: sparse training with
   pykan's regulariser, pruning by attribution scores, retraining with grid extension (the spline
   KAN is measured on the test set here), then auto-symbolic layer by layer and the formula.
3. Is the formula the truth? (:func:`exactness`) "sympy": its floats snap to simple numbers
   (rationals, or multiples of pi) and sympy simplifies the difference to 0. "numerical": not
   proven so, but its test RMSE is at most ``exact_tolerance`` x std(y). Otherwise "no".
4. An MLP (``mlp_depth`` Linear layers) whose width gives the parameter count closest to the
   pruned KAN's, trained with the same LBFGS budget as the spline KAN on the same data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy
import torch
from torch import Tensor

from ..fitting import lbfgs_tolerances, rmse, train_lbfgs
from ..interpret.plot import importance_alphas
from ..interpret.sparse import Dataset, SparseObjective, discover, function_data
from ..interpret.symbolic import SymbolicKAN, active_nodes, edge_importance, formula, formula_rmse
from .config import FeynmanConfig
from .feynman_equations import EQUATIONS, FeynmanEquation
from .scaling import fit_mlp, mlp_param_count, say, torch_threads

Log = Callable[[str], None] | None

#: points per edge curve stored for the pruned-graph plots (results.json stays small)
GRAPH_POINTS = 41


# ------------------------------------------------------------------ data
def equation(eq_id: str) -> FeynmanEquation:
    """The equation of a Table 2 id; one-line ValueError naming the valid ids otherwise."""
    if eq_id not in EQUATIONS:
        raise ValueError(f"Feynman equation {eq_id!r} is not known; choose one of {list(EQUATIONS)}")
    return EQUATIONS[eq_id]


def input_ranges(eq: FeynmanEquation) -> list[tuple[float, float]]:
    """(low, high) of every input as numbers ("2*pi" -> 6.28...)."""
    return [(float(sympy.sympify(lo)), float(sympy.sympify(hi))) for lo, hi in eq.ranges]


def truth(eq: FeynmanEquation) -> sympy.Expr:
    """The dimensionless formula over symbols that carry their range's sign (positive when low > 0,
    nonnegative when low = 0, else real), so sympy may simplify sqrt(a**2) and log(a*b)."""
    from ..interpret.sparse import parse_function

    expr, names = parse_function(eq.formula, eq.variables)
    return expr.xreplace({sympy.Symbol(v): _symbol(v, lo) for v, (lo, _) in zip(names, input_ranges(eq), strict=True)})


def _symbol(name: str, low: float) -> sympy.Symbol:
    if low > 0:
        return sympy.Symbol(name, positive=True)
    if low == 0:
        return sympy.Symbol(name, nonnegative=True)
    return sympy.Symbol(name, real=True)


def equation_data(eq: FeynmanEquation, n_train: int, n_test: int, seed: int, dtype: torch.dtype) -> Dataset:
    """Train and test samples of the equation: x (N, inputs) uniform on the ranges, y (N, 1), in dtype."""
    data = function_data(
        eq.formula, n_train, n_test, seed, variables=eq.variables, ranges=input_ranges(eq)
    )  # float64 samples and targets
    cast = [t.to(dtype) for t in (data.x_train, data.y_train, data.x_test, data.y_test)]
    return Dataset(*cast, data.variables)


# ------------------------------------------------------------------ the pruned network
def pruned_param_count(model: SymbolicKAN) -> int:
    """Parameters of the pruned KAN as a plain KAN of its shape would hold them: per kept edge its
    spline coefficients and base weight, per kept hidden or output node its bias."""
    nodes = active_nodes(model)
    total = 0
    for layer, (kan_layer, mask) in enumerate(zip(model.kan.layers, model.masks, strict=True)):
        ins, outs = nodes[layer], nodes[layer + 1]
        edges = int(mask[outs][:, ins].sum()) if ins and outs else 0
        per_edge = kan_layer.spline_weight.shape[-1] + (1 if kan_layer.base_weight is not None else 0)
        total += edges * per_edge + (len(outs) if kan_layer.bias is not None else 0)
    return total


def pruned_shape(model: SymbolicKAN) -> list[int]:
    """Widths of the pruned graph (connected nodes per layer), e.g. [2, 2, 1]."""
    return [len(n) for n in active_nodes(model)]


@torch.no_grad()
def graph_drawing(model: SymbolicKAN, x: Tensor, points: int = GRAPH_POINTS) -> dict[str, Any]:
    """The pruned graph as plain data for :func:`kanformer.interpret.plot.network_figure`: the kept
    nodes renumbered per layer, and per kept edge its curve over the range of its input on x (N, d),
    its opacity (importance / layer max) and its name (the symbolic function, or "spline")."""
    nodes = active_nodes(model)
    importance = edge_importance(model, x)
    layers = []
    for layer, h in enumerate(model.layer_inputs(x)):
        ins, outs = nodes[layer], nodes[layer + 1]
        kept = [(o, i) for o, i in model.masks[layer].nonzero().tolist() if i in ins and o in outs]
        kept.sort(key=lambda e: (ins.index(e[1]), outs.index(e[0])))
        lo, hi = h.min(0).values, h.max(0).values
        frac = torch.linspace(0, 1, points, dtype=h.dtype)
        grid = lo + frac[:, None] * (hi - lo)  # (P, I): column i spans input i's range
        curves = model.edge_outputs(layer, grid)  # (P, O, I)
        scale = torch.stack([importance[layer][o, i] for o, i in kept]) if kept else torch.zeros(0)
        alphas = importance_alphas(scale).tolist() if kept else []
        layers.append(
            {
                "in_features": len(ins),
                "out_features": len(outs),
                "edges": [[outs.index(o), ins.index(i)] for o, i in kept],
                "alphas": [round(a, 4) for a in alphas],
                "x": [_rounded(grid[:, i]) for _, i in kept],
                "y": [_rounded(curves[:, o, i]) for o, i in kept],
                "labels": [model.names[layer].get((o, i), "spline") for o, i in kept],
            }
        )
    return {"widths": [len(n) for n in nodes], "layers": layers}


def _rounded(t: Tensor) -> list[float]:
    return [float(f"{v:.5g}") for v in t.tolist()]


# ------------------------------------------------------------------ is it the truth?
def snap_numbers(expr: sympy.Expr, tolerance: float = 1e-2, max_complexity: int = 14) -> sympy.Expr:
    """Every float of expr replaced by the simplest number near it, as pykan's formulas are read: 0 when
    |value| <= tolerance, else the simplest of p/q, p/q * pi, p/(q * pi) within ``tolerance`` x |value|
    (complexity |p| + q, + 2 with pi, at most ``max_complexity``); floats with none stay.
    0.9991 -> 1, -0.0009 -> 0, 3.1412 -> pi, 0.0796 -> 1/(4 pi); 0.1628 and 1.03 stay.

    First the scale of a sum under a fractional power moves out (sympy multiplies it into the
    coefficient in front): 2.3974*sqrt(0.17399*a**2 + 0.17399) -> 1.0000*sqrt(a**2 + 1.0000), whose
    numbers snap although 2.3974 and 0.17399 do not."""
    expr = expr.replace(_scaled_power, _pull_scale)
    replace = {}
    for f in expr.atoms(sympy.Float):
        simple = _simple_number(float(f), tolerance, max_complexity)
        if simple is not None:
            replace[f] = simple
    return expr.xreplace(replace)


def _simple_number(value: float, tolerance: float, max_complexity: int) -> sympy.Expr | None:
    if abs(value) <= tolerance:
        return sympy.Integer(0)
    best: tuple[int, float, sympy.Expr] | None = None
    for factor, cost in ((sympy.Integer(1), 0), (sympy.pi, 2), (1 / sympy.pi, 2)):
        for q in range(1, max_complexity + 1):
            p = round(value * q / float(factor))
            error = abs(p / q * float(factor) - value)
            complexity = abs(p) + q + cost
            if p and complexity <= max_complexity and error <= tolerance * abs(value):
                if best is None or (complexity, error) < best[:2]:
                    best = (complexity, error, sympy.Rational(p, q) * factor)
    return None if best is None else best[2]


def _scaled_power(e: sympy.Basic) -> bool:
    return bool(e.is_Pow and e.base.is_Add and not e.exp.is_Integer)


def _pull_scale(e: sympy.Pow) -> sympy.Expr:
    coeffs = [t.as_coeff_Mul()[0] for t in e.base.args]
    k = max(coeffs, key=lambda c: abs(float(c)))
    if not (k.is_Float and float(k) > 0):
        return e
    return k**e.exp * sympy.Pow(sympy.Add(*(t / k for t in e.base.args)), e.exp)


def exactness(
    expr: sympy.Expr,
    eq: FeynmanEquation,
    x: Tensor,
    y: Tensor,
    snap_tolerance: float = 1e-2,
    exact_tolerance: float = 1e-6,
) -> dict[str, Any]:
    """Whether a fitted formula (full-precision floats) is the equation's truth, checked on x (N, d), y (N, 1).

    Returns {"exact": "sympy" | "numerical" | "no" | "free edges", "rmse": the formula's RMSE on
    (x, y) or None, "snapped": the snapped formula when sympy proved it}.

    "sympy": its floats snap (:func:`snap_numbers`, within ``snap_tolerance``) to a formula that
    agrees with the truth to 1e-9 relative on x and whose difference sympy simplifies to 0 (simplify
    runs only on such candidates: on wrong ones it can take long). "numerical": not so, but the
    formula's RMSE is at most ``exact_tolerance`` x std(y). A loose snap cannot make a wrong formula
    pass: the snapped one must still equal the truth.
    """
    try:
        with np.errstate(all="ignore"):  # a wrong formula may leave its domain (log of a negative): NaN
            fit_rmse = formula_rmse(expr, eq.variables, x, y)
    except ValueError:  # spline edges left: not a closed form
        return {"exact": "free edges", "rmse": None, "snapped": None}
    target = truth(eq)
    by_name = {s.name: s for s in target.free_symbols}
    symbols = [by_name.get(v, sympy.Symbol(v)) for v in eq.variables]
    expr = expr.xreplace({sympy.Symbol(v): s for v, s in zip(eq.variables, symbols, strict=True)})
    snapped = snap_numbers(expr, snap_tolerance)
    if _agrees(snapped, target, symbols, x) and sympy.simplify(snapped - target) == 0:
        return {"exact": "sympy", "rmse": fit_rmse, "snapped": str(snapped)}
    scale = float(y.std()) if y.numel() > 1 else 1.0
    numerical = math.isfinite(fit_rmse) and fit_rmse <= exact_tolerance * max(scale, 1e-12)
    return {"exact": "numerical" if numerical else "no", "rmse": fit_rmse, "snapped": None}


def _agrees(expr: sympy.Expr, target: sympy.Expr, symbols: Sequence[sympy.Symbol], x: Tensor) -> bool:
    """Both expressions finite and equal to 1e-9 relative at every row of x (N, len(symbols))."""
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):  # snapping can leave log(0*b), 1/0, ...
        return False
    xs = x.detach().double().cpu().numpy().T
    with np.errstate(all="ignore"):
        a, b = (
            np.broadcast_to(np.asarray(sympy.lambdify(symbols, e, "numpy")(*xs), dtype=np.float64), xs.shape[1:])
            for e in (expr, target)
        )
    return bool(np.all(np.abs(a - b) <= 1e-9 * (1 + np.abs(b))))


# ------------------------------------------------------------------ runs
def run_equation(eq: FeynmanEquation, cfg: FeynmanConfig, log: Log = None) -> dict[str, Any]:
    """Steps 1-4 of the module docstring for one equation; the results row."""
    dtype = getattr(torch, cfg.dtype)
    data = equation_data(eq, cfg.n_train, cfg.n_test, cfg.seed, dtype)
    widths = [len(eq.variables), *cfg.hidden, 1]
    pruned: dict[str, Any] = {}

    def measure(model: SymbolicKAN) -> None:  # the retrained spline KAN, before any edge is named
        pruned.update(
            shape=pruned_shape(model),
            params=pruned_param_count(model),
            train_rmse=rmse(model, data.x_train, data.y_train),
            test_rmse=rmse(model, data.x_test, data.y_test),
        )

    start = time.perf_counter()
    found = discover(
        data.x_train,
        data.y_train,
        widths,
        sparsity=SparseObjective(cfg.lamb, cfg.lamb_l1, cfg.lamb_entropy, warmup=cfg.warmup),
        sparse_grid=cfg.sparse_grid,
        sparse_steps=cfg.sparse_steps,
        grids=cfg.grids,
        steps=cfg.steps,
        r2_threshold=cfg.r2_threshold,
        seed=cfg.seed,
        variables=eq.variables,
        on_pruned=measure,
    )
    polished = not any(bool((m & ~lk).any()) for m, lk in zip(found.model.masks, found.model.locked, strict=True))
    if polished:  # a closed form: fit its own parameters to rounding, as pykan does before reading it
        train_lbfgs(found.model, data.x_train, data.y_train, cfg.polish_steps, **lbfgs_tolerances(dtype))
    kan_seconds = time.perf_counter() - start
    shown = formula(found.model, eq.variables) if polished else found.formula
    full = formula(found.model, eq.variables, digits=15)
    check = exactness(full, eq, data.x_test, data.y_test, cfg.snap_tolerance, cfg.exact_tolerance)
    width = matched_width(len(eq.variables), cfg.mlp_depth, pruned["params"])
    mlp = fit_mlp(
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
        cfg.mlp_depth,
        width,
        cfg.mlp_steps,
        seed=cfg.seed,
        activation=cfg.mlp_activation,
    )
    row = {
        "id": eq.id,
        "formula": eq.formula,
        "original": eq.original,
        "variables": list(eq.variables),
        "ranges": [list(r) for r in eq.ranges],
        "note": eq.note,
        "target_std": float(data.y_test.std()),
        "wide_widths": widths,
        "sparse_train_rmse": found.sparse_rmse,
        "kan": {**pruned, "seconds": kan_seconds},
        "graph": found.graph,
        "drawing": graph_drawing(found.model, data.x_train),
        "found_formula": str(shown),
        "formula_train_rmse": rmse(found.model, data.x_train, data.y_train),
        "polished": polished,
        **{f"formula_{k}": v for k, v in check.items()},
        "edges": [{"edge": r.edge, "function": r.fit.name, "r2": r.fit.r2, "locked": r.locked} for r in found.reports],
        "mlp": {
            "depth": mlp.depth,
            "width": mlp.width,
            "params": mlp.params,
            "train_rmse": mlp.train_rmse,
            "test_rmse": mlp.test_rmse,
            "seconds": mlp.seconds,
        },
        "paper": paper_row(eq),
    }
    say(
        log,
        f"[feynman] {eq.id} {eq.formula}: pruned to {pruned['shape']}, KAN test RMSE {pruned['test_rmse']:.3g} "
        f"({pruned['params']} params), formula {shown} (exact: {check['exact']}), "
        f"MLP test RMSE {mlp.test_rmse:.3g} ({mlp.params} params), {kan_seconds + mlp.seconds:.0f} s",
    )
    return row


def matched_width(in_dim: int, depth: int, params: int) -> int:
    """The MLP width whose parameter count (:func:`mlp_param_count`) is closest to ``params`` (ties: smaller)."""
    best, width = None, 1
    for w in range(1, max(2, params) + 1):
        gap = abs(mlp_param_count(in_dim, depth, w) - params)
        if best is None or gap < best:
            best, width = gap, w
        elif mlp_param_count(in_dim, depth, w) > params:
            break
    return width


def paper_row(eq: FeynmanEquation) -> dict[str, Any]:
    """The equation's row of the paper's Table 2, as published."""
    p = eq.paper
    return {
        "human_shape": list(p.human_shape),
        "smallest_pruned_shape": list(p.smallest_pruned_shape),
        "best_pruned_shape": list(p.best_pruned_shape),
        "human_rmse": p.human_rmse,
        "pruned_rmse": p.pruned_rmse,
        "unpruned_rmse": p.unpruned_rmse,
        "mlp_rmse": p.mlp_rmse,
    }


def run_feynman(cfg: FeynmanConfig, log: Log = print) -> dict[str, Any]:
    """Every equation of the config, one after the other; results as the report writes them."""
    eqs = [equation(e) for e in cfg.equations]
    with torch_threads(cfg.threads):
        start = time.perf_counter()
        rows = [run_equation(eq, cfg, log) for eq in eqs]
        seconds = time.perf_counter() - start
    return {
        "experiment": "feynman",
        "name": cfg.name,
        "description": cfg.description,
        "config": cfg.as_dict(),
        "equations": rows,
        "seconds": seconds,
    }
