"""Tabular benchmark: a KAN against an MLP of the same parameter count, same training budget, several seeds.

    from kanformer.tabular import TabularConfig, run_tabular

    results = run_tabular(TabularConfig(tasks=["wine", "diabetes"], seeds=5), "reports/tabular")

The tasks are :mod:`tasks.tabular`'s; ``kanformer tabular [CONFIG]`` runs this from the command line
(configs/tabular.yaml is the default benchmark). The names below load on first access, so the
command line's help does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .config import TabularConfig, tabular_config
    from .models import build_kan, build_mlp, count_params, match_mlp_widths, mlp_param_count, plan_widths
    from .report import render_markdown, summarize, write_report
    from .run import run_tabular
    from .train import FitResult, fit, predict

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "TabularConfig": ".config",
        "tabular_config": ".config",
        "build_kan": ".models",
        "build_mlp": ".models",
        "count_params": ".models",
        "match_mlp_widths": ".models",
        "mlp_param_count": ".models",
        "plan_widths": ".models",
        "render_markdown": ".report",
        "summarize": ".report",
        "write_report": ".report",
        "run_tabular": ".run",
        "FitResult": ".train",
        "fit": ".train",
        "predict": ".train",
    },
)

__all__ = [
    "FitResult",
    "TabularConfig",
    "build_kan",
    "build_mlp",
    "count_params",
    "fit",
    "match_mlp_widths",
    "mlp_param_count",
    "plan_widths",
    "predict",
    "render_markdown",
    "run_tabular",
    "summarize",
    "tabular_config",
    "write_report",
]
