"""``kanformer demo``: fit the KAN paper's first example with grid extension."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="fit the KAN paper's first example with grid extension (the default job)")
    p.add_argument("--function", default="exp(sin(pi*x)+y^2)", help="a name from kanformer.paper.fitting")
    p.add_argument("--widths", type=int, nargs="+", default=[2, 5, 1])
    p.add_argument("--grids", type=int, nargs="+", default=[3, 5, 10])
    p.add_argument("--steps", type=int, default=10, help="LBFGS steps (of 20 iterations) per grid")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Fit the function and print the error per grid."""
    from ..paper.fitting import fit_function
    from ..reporting.tables import table

    print(f"Fitting {args.function} with a KAN {args.widths}, grids {args.grids}, LBFGS on the CPU")
    stages = fit_function(args.function, widths=args.widths, grids=args.grids, steps_per_grid=args.steps)
    header = ["grid", "params", "train RMSE", "test RMSE", "seconds"]
    rows = []
    for s in stages:
        rows.append([str(s.grid_size), str(s.params), f"{s.train_rmse:.2e}", f"{s.test_rmse:.2e}", f"{s.seconds:.1f}"])
    print("\n".join(table(header, rows, align="rrrrr", markdown=False)))
