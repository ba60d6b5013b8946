"""kanformer: Kolmogorov–Arnold feed-forward blocks for transformers, measured honestly.

Importing kanformer imports nothing else (not torch, not transformers) and changes no
other library: the public names load on first access, and the transformers plugin
registers its classes with transformers when first used (:func:`kanify`,
:func:`from_pretrained`) or when :func:`register` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .layers import KAN, KANLinear
    from .plugin.config import KANFFNConfig
    from .plugin.hub import from_pretrained, register
    from .plugin.kanify import kanify

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "KAN": ".layers",
        "KANLinear": ".layers",
        "KANFFNConfig": ".plugin.config",
        "kanify": ".plugin.kanify",
        "from_pretrained": ".plugin.hub",
        "register": ".plugin.hub",
    },
)

__all__ = ["KAN", "KANFFNConfig", "KANLinear", "__version__", "from_pretrained", "kanify", "register"]
