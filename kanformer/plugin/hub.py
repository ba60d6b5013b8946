"""Saving and loading kanified models through transformers.

kanify turns a model's config into a registered subclass (model_type
``kanformer_<type>``) and the model into a registered subclass whose constructor
rebuilds the KAN blocks from ``config.kanformer``. So ``save_pretrained`` /
``from_pretrained`` (ours, or the Auto classes once registered) restore the KAN model
with every key accounted for, through transformers' own loader (which also undoes v5's
key renames, e.g. for ViT).

Loading a KAN checkpoint into a plain transformers class would silently re-initialise
the FFNs; once registered it raises instead.

Nothing here runs at import: :func:`register` (called by kanify, :func:`from_pretrained`
and kanformer's model loader, or by the user) changes transformers' Auto mappings and
``PreTrainedModel.from_pretrained``, once per process, so a process that never touches a
KAN model keeps transformers as it was.
"""

from __future__ import annotations

import functools
from typing import Any

import transformers
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .adapters import ADAPTERS
from .rebuild import apply_trainable, build_structure, record_grid_sizes

PREFIX = "kanformer_"
_REGISTERED = False
_CONFIGS: dict[type, type] = {}
_MODELS: dict[type, type] = {}

_AUTO_CLASSES = [
    "AutoModel",
    "AutoModelForCausalLM",
    "AutoModelForMaskedLM",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "AutoModelForQuestionAnswering",
    "AutoModelForImageClassification",
]


def kan_config_class(base: type[PretrainedConfig]) -> type[PretrainedConfig]:
    """The registered KAN variant of a config class (model_type ``kanformer_<type>``)."""
    if getattr(base, "model_type", "").startswith(PREFIX):
        return base
    if base not in _CONFIGS:
        cls = type(f"KAN{base.__name__}", (base,), {"model_type": PREFIX + base.model_type})
        cls.__module__ = __name__
        AutoConfig.register(cls.model_type, cls, exist_ok=True)
        _CONFIGS[base] = cls
    return _CONFIGS[base]


def kan_model_class(base: type[PreTrainedModel]) -> type[PreTrainedModel]:
    """The KAN variant of a transformers model class, registered with the Auto classes."""
    if getattr(base, "_kanformer_class", False):
        return base
    if base not in _MODELS:

        class KANModel(base):  # type: ignore[misc, valid-type]
            _kanformer_class = True
            config_class = kan_config_class(base.config_class)

            def __init__(self, config: PretrainedConfig, *args: Any, **kwargs: Any) -> None:
                super().__init__(config, *args, **kwargs)
                build_structure(self)

            @classmethod
            def from_pretrained(cls, *args: Any, **kwargs: Any) -> Any:
                out = super().from_pretrained(*args, **kwargs)
                apply_trainable(out[0] if isinstance(out, tuple) else out)  # the loader resets requires_grad
                return out

            def save_pretrained(self, *args: Any, **kwargs: Any) -> Any:
                record_grid_sizes(self)
                return super().save_pretrained(*args, **kwargs)

        KANModel.__name__ = KANModel.__qualname__ = f"KAN{base.__name__}"
        KANModel.__module__ = __name__
        _MODELS[base] = KANModel
        for auto_name in _AUTO_CLASSES:
            auto = getattr(transformers, auto_name)
            # a model type may map to several classes (DeiT): the first one is the default
            if _mapped_names(auto, base.config_class.model_type)[:1] == [base.__name__]:
                auto.register(KANModel.config_class, KANModel, exist_ok=True)
    return _MODELS[base]


def _mapped_names(auto: type, model_type: str) -> list[str]:
    """Class names an Auto class maps ``model_type`` to (a string or a tuple of them)."""
    names = auto._model_mapping._model_mapping.get(model_type)
    if names is None:
        return []
    return [names] if isinstance(names, str) else list(names)


def register() -> None:
    """Register the KAN configs and models of every supported architecture with transformers'
    Auto classes, and make plain transformers classes refuse KAN checkpoints.

    Once per process (later calls do nothing). kanify, :func:`from_pretrained` and
    ``kanformer.models.load_model`` call it; call it yourself to load KAN checkpoints with
    ``AutoModel*.from_pretrained`` in a process that has not used them.
    """
    global _REGISTERED
    if _REGISTERED:
        return
    _install_plain_load_guard()
    _install_lazy_kan_types()  # kanformer_<type> of structurally matched models, at first lookup
    for model_type in ADAPTERS:
        for auto_name in _AUTO_CLASSES:
            for cls_name in _mapped_names(getattr(transformers, auto_name), model_type):
                if hasattr(transformers, cls_name):
                    kan_model_class(getattr(transformers, cls_name))
    _REGISTERED = True


def convert(model: PreTrainedModel) -> None:
    """Turn a kanified model and its config into their registered KAN classes, in place."""
    register()
    model.config.__class__ = kan_config_class(type(model.config))
    model.__class__ = kan_model_class(type(model))
    _register_output_capture(model)


def _register_output_capture(model: PreTrainedModel) -> None:
    """transformers v5 records hidden states and attentions through hooks it looks up by the model's
    class name, registered in ``__init__``; a class swapped in afterwards must be registered too, or
    ``output_hidden_states=True`` silently returns None."""
    try:
        from transformers.utils.output_capturing import _CAN_RECORD_REGISTRY
    except ImportError:  # an older transformers without the registry: nothing to do
        return
    _CAN_RECORD_REGISTRY[model] = getattr(model, "_can_record_outputs", None)


def from_pretrained(path: str, **kwargs: Any) -> PreTrainedModel:
    """Load a kanified model saved with ``save_pretrained``.

    Args:
        path: a local directory or hub id of a kanformer checkpoint.
        **kwargs: passed to transformers' ``from_pretrained`` (dtype, device_map, ...).
    """
    register()  # the config's model_type (kanformer_<type>) is known to AutoConfig from here
    config = AutoConfig.from_pretrained(path)
    settings = getattr(config, "kanformer", None)
    archs = getattr(config, "architectures", None) or []
    if not settings or not archs:
        raise ValueError(
            f"{path} is not a kanformer checkpoint (its config has no 'kanformer' settings); "
            "load it with transformers, then call kanformer.kanify"
        )
    base_name = archs[0].removeprefix("KAN")
    if not hasattr(transformers, base_name):
        raise ValueError(f"{path}: architecture {archs[0]!r} is not a transformers model class")
    return kan_model_class(getattr(transformers, base_name)).from_pretrained(path, config=config, **kwargs)


def _install_plain_load_guard() -> None:
    """Make plain transformers classes refuse kanformer checkpoints (clear error, no silent re-init)."""
    original = PreTrainedModel.from_pretrained.__func__
    if getattr(original, "_kanformer_guard", False):
        return

    @functools.wraps(original)
    def guarded(cls: type[PreTrainedModel], *args: Any, **kwargs: Any) -> Any:
        out = original(cls, *args, **kwargs)
        model = out[0] if isinstance(out, tuple) else out
        if getattr(model.config, "kanformer", None) and not getattr(cls, "_kanformer_class", False):
            raise ValueError(
                f"this checkpoint holds KAN feed-forward blocks (kanformer) but was loaded with the plain class "
                f"{cls.__name__}, which would re-initialise them; use kanformer.from_pretrained(path) or "
                f"transformers.AutoModel*.from_pretrained(path) after kanformer.register()"
            )
        return out

    guarded._kanformer_guard = True  # type: ignore[attr-defined]
    PreTrainedModel.from_pretrained = classmethod(guarded)  # type: ignore[method-assign]


# A model matched by structure may be of any model type: its KAN classes are registered by kanify in
# the process that kanifies it, and lazily, here, in a fresh process that loads its checkpoint.
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


def _install_lazy_kan_types() -> None:
    """Make ``CONFIG_MAPPING`` register KAN model types on first lookup (idempotent)."""
    if not isinstance(CONFIG_MAPPING._extra_content, _LazyKANTypes):
        CONFIG_MAPPING._extra_content = _LazyKANTypes(CONFIG_MAPPING._extra_content)
