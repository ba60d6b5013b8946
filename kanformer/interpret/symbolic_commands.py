"""``kanformer symbolic``: train a KAN on a paper function, prune it, name its edges and print its formula.

Wire it into the CLI with ``register(sub)`` on the subparsers of ``kanformer``. Torch and the
training code load when the command runs, so ``kanformer symbolic --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..paper.functions import PAPER_SHAPES
from ..reporting.tables import table

if TYPE_CHECKING:
    from .symbolic import EdgeReport, SymbolicKAN


def fits_table(reports: Sequence[EdgeReport], model: SymbolicKAN) -> str:
    """One row per fitted edge: the best function, its R^2, whether it is locked, and its current (a, b, c, d)."""
    rows = []
    for r in reports:
        params = model.affine[r.layer][r.out, r.in_].tolist() if r.locked else list(r.fit.params)
        rows.append([r.edge, r.fit.name, f"{r.fit.r2:.6f}", "yes" if r.locked else "no", *(f"{v:.4f}" for v in params)])
    header = ["edge", "function", "R^2", "locked", "a", "b", "c", "d"]
    return "\n".join(table(header, rows, align="ll", markdown=False))


def cmd_symbolic(args: argparse.Namespace) -> None:
    """Train, prune, fit symbolic functions, retrain their affine parameters, and print the formula."""
    import torch

    from ..fitting import train_lbfgs
    from ..paper.fitting import PAPER_FUNCTIONS
    from .symbolic import SymbolicKAN, auto_symbolic, default_variables, formula, formula_rmse, prune
    from .symbolic_fit import paper_data, train_kan

    if args.function not in PAPER_FUNCTIONS:
        raise ValueError(f"--function {args.function!r} is not known; choose one of {list(PAPER_FUNCTIONS)}")
    if not 0.0 < args.r2 <= 1.0:
        raise ValueError(f"--r2 {args.r2} is invalid: give a threshold in (0, 1], e.g. 0.99")
    dim = PAPER_FUNCTIONS[args.function][0]
    widths = args.widths or [dim, 1, 1]
    data = paper_data(args.function, seed=args.seed)
    print(f"Training a KAN {widths} on {args.function}, grids {args.grids}, LBFGS on the CPU")
    kan = train_kan(data, widths, args.grids, args.steps, args.seed, args.restarts)
    model = SymbolicKAN(kan)
    masks = prune(model, data.x_train)
    total = sum(m.numel() for m in masks)
    print(f"pruned: {total - sum(int(m.sum()) for m in masks)} of {total} edges removed")
    reports = auto_symbolic(model, data.x_train, args.r2)
    # Retraining the locked edges' (a, b, c, d) together is what makes the coefficients exact.
    train_lbfgs(model, data.x_train, data.y_train, args.steps)
    model.canonicalize()
    print(fits_table(reports, model))
    variables = default_variables(dim)
    expr = formula(model, variables, digits=args.digits)
    print(f"formula: {expr}")
    try:
        print(f"test RMSE of the formula: {formula_rmse(expr, variables, data.x_test, data.y_test):.3e}")
    except ValueError:  # free edges left: the formula has undefined functions, report the model instead
        with torch.no_grad():
            rmse = (model(data.x_test) - data.y_test).square().mean().sqrt().item()
        print(f"test RMSE of the partly symbolic model (some edges stayed splines): {rmse:.3e}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``kanformer symbolic`` to the CLI's subparsers."""
    p = sub.add_parser(
        "symbolic",
        help="symbolic regression: train a KAN on a paper function and print its formula",
        description="Train a KAN on a function of kanformer.paper.fitting (LBFGS, grid extension), prune it, fit "
        "every edge to a library of functions (x, x^2, sin, exp, ...) as c*f(a*x+b)+d, lock fits with "
        "R^2 >= --r2, retrain their parameters and print the network's formula with its test RMSE.",
        epilog="example: kanformer symbolic --function 'exp(sin(pi*x)+y^2)' --widths 2 1 1",
    )
    p.add_argument("--function", required=True, help=f"one of {list(PAPER_SHAPES)}")
    p.add_argument("--widths", type=int, nargs="+", help="KAN widths (default: [inputs, 1, 1], e.g. 2 1 1)")
    p.add_argument("--grids", type=int, nargs="+", default=[3, 5, 10, 20], help="grid sizes, one stage each")
    p.add_argument("--r2", type=float, default=0.99, help="lock an edge's fit when its R^2 reaches this")
    p.add_argument("--steps", type=int, default=10, help="LBFGS steps (of 20 iterations) per stage")
    p.add_argument("--digits", type=int, default=4, help="decimals of the formula's coefficients")
    p.add_argument("--restarts", type=int, default=5, help="initialisations tried on the first grid (best continues)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_symbolic)
