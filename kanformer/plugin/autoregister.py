"""Let transformers resolve ``kanformer_<type>`` for any model type, on first use.

Importing kanformer registers the KAN config and model classes of the registered
adapters' model types (:func:`kanformer.plugin.hub.register_all`). A model matched by
structure (:func:`kanformer.plugin.adapters.match_structure`) may be of any type: its KAN
classes are registered by kanify in the process that kanifies it, and here, lazily, in a
fresh process that loads its checkpoint. transformers looks ``model_type`` up in
``CONFIG_MAPPING``, whose registered part (``_extra_content``) is replaced by a dict that
registers ``kanformer_<type>`` the first time it is asked for, so
``kanformer.from_pretrained(path)`` and the Auto classes load any kanified checkpoint.
"""

from __future__ import annotations

import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .hub import _AUTO_CLASSES, PREFIX, _mapped_names, kan_config_class, kan_model_class


def register_model_type(model_type: str) -> None:
    """Register the KAN config of the transformers ``model_type`` and the KAN models of its
    Auto-class heads (model_type ``kanformer_<model_type>``); ValueError if transformers lacks it."""
    if model_type not in CONFIG_MAPPING:
        raise ValueError(f"transformers has no model type {model_type!r}")
    kan_config_class(CONFIG_MAPPING[model_type])
    for auto_name in _AUTO_CLASSES:
        for cls_name in _mapped_names(getattr(transformers, auto_name), model_type):
            if hasattr(transformers, cls_name):
                kan_model_class(getattr(transformers, cls_name))


_BUSY: set[str] = set()  # model types being registered (registering looks them up again)


class _LazyKANTypes(dict):
    """``CONFIG_MAPPING._extra_content`` that registers ``kanformer_<type>`` when first looked up."""

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if isinstance(key, str) and key.startswith(PREFIX) and key not in _BUSY:
            base = key.removeprefix(PREFIX)
            if base and not base.startswith(PREFIX) and base in CONFIG_MAPPING:
                _BUSY.add(key)
                try:
                    register_model_type(base)
                finally:
                    _BUSY.discard(key)
        return dict.__contains__(self, key)


def install() -> None:
    """Make ``CONFIG_MAPPING`` register KAN model types on first lookup (idempotent)."""
    if not isinstance(CONFIG_MAPPING._extra_content, _LazyKANTypes):
        CONFIG_MAPPING._extra_content = _LazyKANTypes(CONFIG_MAPPING._extra_content)
