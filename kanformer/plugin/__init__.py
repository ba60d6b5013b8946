"""The transformers plugin: KAN FFN settings, architecture adapters, kanify, save/load."""

from .adapters import ADAPTERS, FFNAdapter, register_adapter
from .config import KANFFNConfig
from .forms import FORMS, register_form
from .hub import _install_plain_load_guard, from_pretrained, register_all
from .kanify import kanify

register_all()
_install_plain_load_guard()

__all__ = [
    "ADAPTERS",
    "FORMS",
    "FFNAdapter",
    "KANFFNConfig",
    "from_pretrained",
    "kanify",
    "register_adapter",
    "register_form",
]
