"""kanformer compare: a matrix of fine-tunes and benches from one YAML file, and its report."""

from .config import CompareConfig, Experiment, RunSpec, expand, load_compare_config, parse_compare_config
from .run import run_compare

__all__ = [
    "CompareConfig",
    "Experiment",
    "RunSpec",
    "expand",
    "load_compare_config",
    "parse_compare_config",
    "run_compare",
]
