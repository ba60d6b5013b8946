"""The transformers plugin: KAN FFN settings, architecture adapters, kanify, save/load."""

from . import autoregister
from .adapters import ADAPTERS, FFNAdapter, register_adapter
from .config import KANFFNConfig
from .forms import FORMS, register_form
from .hub import _install_plain_load_guard, from_pretrained, register_all
from .kanify import kanify

register_all()
autoregister.install()  # kanformer_<type> of structurally matched models, at first lookup
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
