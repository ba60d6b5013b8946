"""The transformers plugin: KAN FFN settings, architecture adapters, kanify, save/load.

Importing it does not import transformers: only :mod:`.hub` needs it at import, and its
:func:`from_pretrained` and :func:`register` load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .adapters import ADAPTERS, FFNAdapter, register_adapter
    from .config import KANFFNConfig
    from .forms import FORMS, register_form
    from .hub import from_pretrained, register
    from .kanify import kanify

# Names load on first access, so kanformer.plugin.config (KANFFNConfig) imports no torch.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ADAPTERS": ".adapters",
        "FFNAdapter": ".adapters",
        "register_adapter": ".adapters",
        "KANFFNConfig": ".config",
        "FORMS": ".forms",
        "register_form": ".forms",
        "from_pretrained": ".hub",
        "register": ".hub",
        "kanify": ".kanify",
    },
)

__all__ = [
    "ADAPTERS",
    "FORMS",
    "FFNAdapter",
    "KANFFNConfig",
    "from_pretrained",
    "kanify",
    "register",
    "register_adapter",
    "register_form",
]
