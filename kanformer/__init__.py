"""kanformer: Kolmogorov–Arnold feed-forward blocks for transformers, measured honestly."""

from .layers import KAN, KANLinear

__version__ = "0.1.0"

__all__ = ["KAN", "KANLinear", "__version__"]
