"""``kanformer paper fit|special|pde|feynman|continual [CONFIG]``: the KAN paper's experiments.

    from kanformer.paper.commands import register
    register(subparsers)  # adds `paper` with its `fit` and `special` subcommands

Each writes reports/paper/<name>/ (report.md, results.json, PNG plots) unless
``--output-dir`` says otherwise. :func:`paper_fit` and :func:`paper_special` are the same
runs as library calls. User mistakes (bad config, output path that is a file) are one
ValueError line.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..provenance import timestamp

REPORT_ROOT = os.path.join("reports", "paper")

# Torch and the experiment modules load only when a command runs: `kanformer --help` stays fast.
Log = Callable[[str], None] | None


def _print(text: str) -> None:
    print(text, flush=True)  # progress of a run that takes minutes: show each line as it comes


def _output_dir(output_dir: str | None, name: str) -> str:
    path = output_dir or os.path.join(REPORT_ROOT, name)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"output directory {path!r} is a file; pass --output-dir DIR")
    return path


def _finish(results: dict[str, Any], output_dir: str | None, command: str) -> list[Path]:
    from .report import paper_environment, write_report

    results["command"] = command
    results["created"] = timestamp()
    results["environment"] = paper_environment()
    # The run's own thread count, not the process default restored after it.
    results["environment"]["torch_threads"] = results["config"]["threads"]
    return write_report(results, _output_dir(output_dir, results["name"]))


def paper_fit(config: str, output_dir: str | None = None, command: str | None = None, log: Log = _print) -> list[Path]:
    """Run a function-fitting (scaling) config and write its report; returns the paths written."""
    from .config import load_fit_config
    from .scaling import run_scaling

    cfg = load_fit_config(config)
    _output_dir(output_dir, cfg.name)  # fail before minutes of fitting, not after
    results = run_scaling(cfg, log)
    return _finish(results, output_dir, command or f"kanformer paper fit {shlex.quote(config)}")


def paper_special(
    config: str, output_dir: str | None = None, command: str | None = None, log: Log = _print
) -> list[Path]:
    """Run a special-functions config and write its report; returns the paths written."""
    from .config import load_special_config
    from .special import run_special

    cfg = load_special_config(config)
    _output_dir(output_dir, cfg.name)
    results = run_special(cfg, log)
    return _finish(results, output_dir, command or f"kanformer paper special {shlex.quote(config)}")


def paper_pde(config: str, output_dir: str | None = None, command: str | None = None, log: Log = _print) -> list[Path]:
    """Run the 2-D Poisson PINN config and write its report; returns the paths written."""
    from .config import load_pde_config

    cfg = load_pde_config(config)  # torch-free: a bad config fails before torch loads
    _output_dir(output_dir, cfg.name)
    from .pde import run_pde

    results = run_pde(cfg, log)
    return _finish(results, output_dir, command or f"kanformer paper pde {shlex.quote(config)}")


def paper_feynman(
    config: str, output_dir: str | None = None, command: str | None = None, log: Log = _print
) -> list[Path]:
    """Run the Feynman-equations config (prune a wide KAN to a formula per equation) and write its report."""
    from .config import load_feynman_config

    cfg = load_feynman_config(config)  # torch-free: an unknown equation id fails before torch loads
    _output_dir(output_dir, cfg.name)
    from .feynman import run_feynman

    results = run_feynman(cfg, log)
    return _finish(results, output_dir, command or f"kanformer paper feynman {shlex.quote(config)}")


def paper_continual(
    config: str, output_dir: str | None = None, command: str | None = None, log: Log = _print
) -> list[Path]:
    """Run the continual-learning config (KAN vs MLP, one region per phase) and write its report."""
    from .config import load_continual_config

    cfg = load_continual_config(config)  # torch-free: a bad config fails before torch loads
    _output_dir(output_dir, cfg.name)
    from .continual import run_continual

    results = run_continual(cfg, log)
    return _finish(results, output_dir, command or f"kanformer paper continual {shlex.quote(config)}")


def _command(args: argparse.Namespace) -> str:
    argv = getattr(args, "argv", None)  # set by kanformer.cli.main: the command line as typed
    if argv:
        return "kanformer " + shlex.join(argv)
    extra = ["--output-dir", args.output_dir] if args.output_dir else []
    return "kanformer " + shlex.join(["paper", args.paper_command, args.config, *extra])


def _runner(run: Callable[..., list[Path]], default: str) -> Callable[[argparse.Namespace], None]:
    def cmd(args: argparse.Namespace) -> None:
        if args.config == default and not os.path.exists(default):
            raise ValueError(
                f"no CONFIG given and the default {default!r} is not here: run from the kanformer repository "
                "root or pass a config path"
            )
        paths = run(args.config, args.output_dir, _command(args), None if args.quiet else _print)
        print(f"wrote {paths[0]} and {len(paths) - 1} more files", file=sys.stdout)

    return cmd


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``paper fit``, ``special``, ``pde``, ``feynman`` and ``continual`` to a parser's subcommands (CONFIG
    defaults to configs/paper/<experiment's config>.yaml)."""
    paper = sub.add_parser(
        "paper",
        help="the KAN paper's experiments: scaling laws of function fitting, special functions",
        description="Reproduce experiments of the KAN paper (Liu et al., 2024) with kanformer's layers on the "
        "CPU, each from a YAML config (configs/paper/), writing reports/paper/<name>/.",
    )
    experiments = paper.add_subparsers(dest="paper_command", metavar="EXPERIMENT", required=True)
    specs = (
        (
            "fit",
            paper_fit,
            "function fitting with grid extension: test RMSE vs parameters, fitted exponent, MLP baselines",
            "configs/paper/toy.yaml",
        ),
        (
            "special",
            paper_special,
            "special functions (scipy.special): best KAN vs best MLP at matched parameter budgets",
            "configs/paper/special.yaml",
        ),
        (
            "pde",
            paper_pde,
            "2-D Poisson equation, physics-informed: L2 and H1 errors vs parameters of KANs and MLPs",
            "configs/paper/pde.yaml",
        ),
        (
            "feynman",
            paper_feynman,
            "Feynman equations (Table 2): prune a wide KAN to a graph and formula per equation, vs a matched MLP",
            "configs/paper/feynman.yaml",
        ),
        (
            "continual",
            paper_continual,
            "continual learning: five Gaussian peaks shown one region at a time to a KAN and an MLP",
            "configs/paper/continual.yaml",
        ),
    )
    for name, run, text, example in specs:
        p = experiments.add_parser(
            name, help=text, description=text, epilog=f"example: kanformer paper {name} {example}"
        )
        p.add_argument(
            "config", metavar="CONFIG", nargs="?", default=example, help=f"a YAML config (default {example})"
        )
        p.add_argument("--output-dir", help="the report directory (default reports/paper/<name in the config>)")
        p.add_argument("--quiet", action="store_true", help="no progress lines")
        p.set_defaults(func=_runner(run, example))
