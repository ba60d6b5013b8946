"""The transformers plugin: KAN FFN settings, architecture adapters, kanify, save/load.

Importing it does not import transformers: only :mod:`.hub` needs it at import, and its
:func:`from_pretrained` and :func:`register` load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from .adapters import ADAPTERS, FFNAdapter, register_adapter
from .config import KANFFNConfig
from .forms import FORMS, register_form
from .kanify import kanify

if TYPE_CHECKING:
    from .hub import from_pretrained, register

__getattr__, __dir__ = lazy_exports(__name__, {"from_pretrained": ".hub", "register": ".hub"})

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
