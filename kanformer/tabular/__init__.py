"""Tabular benchmark: a KAN against an MLP of the same parameter count, same training budget, several seeds.

    from kanformer.tabular import TabularConfig, run_tabular

    results = run_tabular(TabularConfig(tasks=["wine", "diabetes"], seeds=5), "reports/tabular")

The tasks are :mod:`tasks.tabular`'s; ``kanformer tabular [CONFIG]`` runs this from the command line
(configs/tabular.yaml is the default benchmark).
"""

from .config import TabularConfig, tabular_config
from .models import build_kan, build_mlp, count_params, match_mlp_widths, mlp_param_count, plan_widths
from .report import render_markdown, summarize, write_report
from .run import run_tabular
from .train import FitResult, fit, predict

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
