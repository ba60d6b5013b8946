"""kanformer: Kolmogorov–Arnold feed-forward blocks for transformers, measured honestly."""

__version__ = "0.1.0"

from .layers import KAN, KANLinear  # noqa: E402
from .plugin import KANFFNConfig, from_pretrained, kanify  # noqa: E402

__all__ = ["KAN", "KANFFNConfig", "KANLinear", "__version__", "from_pretrained", "kanify"]
