"""``kanformer symbolic``: sparse-train a KAN on a function or a CSV file, prune it, name its edges, print its formula.

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


def _data(args: argparse.Namespace):  # noqa: ANN202 - a sparse.Dataset, imported when the command runs
    from ..paper.fitting import PAPER_FUNCTIONS
    from .sparse import Dataset, csv_data, function_data
    from .symbolic import default_variables
    from .symbolic_fit import paper_data

    if args.data is not None:
        if args.target is None:
            raise ValueError("--data needs --target COLUMN, the column to predict")
        return csv_data(args.data, args.target, seed=args.seed)
    if args.target is not None:
        raise ValueError("--target goes with --data FILE.csv")
    if args.function is None:
        raise ValueError("give --function EXPRESSION or --data FILE.csv --target COLUMN")
    if args.function in PAPER_FUNCTIONS:  # the paper's names, J0 and the 100-d one included
        d = paper_data(args.function, seed=args.seed)
        return Dataset(d.x_train, d.y_train, d.x_test, d.y_test, default_variables(d.x_train.shape[1]))
    return function_data(args.function, seed=args.seed)


def cmd_symbolic(args: argparse.Namespace) -> None:
    """Sparse-train a wide KAN, prune it, retrain, fit symbolic functions layer by layer, print the formula."""
    from ..fitting import check_grids
    from .sparse import SparseObjective, discover
    from .symbolic import formula_rmse

    if not 0.0 < args.r2 <= 1.0:
        raise ValueError(f"--r2 {args.r2} is invalid: give a threshold in (0, 1], e.g. 0.99")
    sparsity = SparseObjective(args.lamb, args.lamb_l1, args.lamb_entropy, warmup=args.warmup)
    check_grids([args.sparse_grid, *args.grids])
    data = _data(args)
    dim = data.x_train.shape[1]
    widths = args.widths or [dim, 5, 1]
    if widths[0] != dim:
        raise ValueError(f"--widths {widths} does not match the {dim} inputs ({', '.join(data.variables)})")
    if widths[-1] != 1:
        raise ValueError(f"--widths {widths} must end in 1: the function has one output")
    print(
        f"Training a KAN {widths} on {args.function or args.data}: sparse on grid {args.sparse_grid}, "
        f"then grids {args.grids}, LBFGS on the CPU"
    )
    found = discover(
        data.x_train,
        data.y_train,
        widths,
        sparsity=sparsity,
        sparse_grid=args.sparse_grid,
        sparse_steps=args.sparse_steps,
        grids=args.grids,
        steps=args.steps,
        r2_threshold=args.r2,
        seed=args.seed,
        variables=data.variables,
        digits=args.digits,
        log=print,
    )
    print(f"graph: {found.graph}")
    print(fits_table(found.reports, found.model))
    print(f"formula: {found.formula}")
    try:
        print(f"test RMSE of the formula: {formula_rmse(found.formula, data.variables, data.x_test, data.y_test):.3e}")
    except ValueError:  # free edges left: the formula has undefined functions, report the model instead
        import torch

        with torch.no_grad():
            rmse = (found.model(data.x_test) - data.y_test).square().mean().sqrt().item()
        print(f"test RMSE of the partly symbolic model (some edges stayed splines): {rmse:.3e}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``kanformer symbolic`` to the CLI's subparsers."""
    p = sub.add_parser(
        "symbolic",
        help="symbolic regression: sparse-train a KAN, prune it and print its graph and formula",
        description="pykan's workflow: train a (wide) KAN with pykan's sparsity regulariser (MSE + lamb * (L1 + "
        "entropy of the edge scales)), prune edges and hidden nodes by pykan's attribution scores, retrain with grid "
        "extension, fit every edge to a library (x, x^2, sin, exp, ...) as c*f(a*x+b)+d one layer at a time, lock "
        "fits with R^2 >= --r2, retrain their parameters and print the pruned graph and the formula.",
        epilog="examples: kanformer symbolic --function 'exp(sin(pi*x)+y^2)' --widths 2 5 1;  "
        "kanformer symbolic --data points.csv --target f",
    )
    p.add_argument(
        "--function",
        help=f"an expression of x, y, z or x1..xn in sympy syntax (pi, e, ^ allowed), or one of {list(PAPER_SHAPES)}",
    )
    p.add_argument(
        "--data", metavar="FILE.csv", help="fit a CSV file's rows instead (header row; inputs: other columns)"
    )
    p.add_argument("--target", metavar="COLUMN", help="with --data: the column to predict")
    p.add_argument("--widths", type=int, nargs="+", help="KAN widths (default: [inputs, 5, 1])")
    p.add_argument("--lamb", type=float, default=1e-2, help="weight of the sparsity regulariser (0: none)")
    p.add_argument("--lamb-l1", type=float, default=1.0, help="regulariser: weight of the L1 of the edge scales")
    p.add_argument("--lamb-entropy", type=float, default=2.0, help="regulariser: weight of their entropy")
    p.add_argument("--warmup", type=int, default=0, help="LBFGS steps over which lamb grows from 0")
    p.add_argument("--sparse-grid", type=int, default=3, help="grid of the sparse training")
    p.add_argument("--sparse-steps", type=int, default=20, help="LBFGS steps (of 20 iterations) of sparse training")
    p.add_argument("--grids", type=int, nargs="+", default=[5, 10, 20], help="grids of the retraining after pruning")
    p.add_argument("--r2", type=float, default=0.99, help="lock an edge's fit when its R^2 reaches this")
    p.add_argument("--steps", type=int, default=10, help="LBFGS steps per retraining stage")
    p.add_argument("--digits", type=int, default=4, help="decimals of the formula's coefficients")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_symbolic)
