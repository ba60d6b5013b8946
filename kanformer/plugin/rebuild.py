"""Rebuild a kanified model's KAN blocks from its record (``config.kanformer``) at load time.

The registered KAN model classes (:mod:`~kanformer.plugin.hub`) call these so that
transformers' ``from_pretrained`` finds a KAN parameter for every saved key.
"""

from __future__ import annotations

from torch import nn

from ..layers import KANLinear
from ..layers.basis.bspline import BSplineBasis
from ..layers.kernels import triton_available
from .adapters import adapter_for
from .config import KANFFNConfig
from .install import ffn_blocks, install_layers, set_trainable


def build_structure(model: nn.Module) -> None:
    """Rebuild the KAN blocks recorded in ``model.config.kanformer`` (weights uninitialised).

    Called by the registered KAN model classes' constructors, so transformers'
    ``from_pretrained`` then fills every KAN parameter from the checkpoint. Grids
    extended after kanify are rebuilt at their saved size (``grid_sizes``).
    """
    record = model.config.kanformer
    cfg = KANFFNConfig.from_dict(record["settings"])
    if cfg.kernel == "triton" and not triton_available():
        cfg = cfg.replace(kernel="auto")  # saved on a GPU machine: load anywhere, run the torch path here
    adapter = adapter_for(model)
    blocks = ffn_blocks(model, adapter)
    install_layers(model, cfg, adapter, blocks, record["layers"], record["hidden"], record["activation"])
    for name, size in record.get("grid_sizes", {}).items():
        model.get_submodule(name).resize_grid(size)
    apply_trainable(model)


def apply_trainable(model: nn.Module) -> None:
    """Re-apply the recorded ``trainable`` setting (loaders re-create parameters)."""
    set_trainable(model, KANFFNConfig.from_dict(model.config.kanformer["settings"]).trainable)


def record_grid_sizes(model: nn.Module) -> None:
    """Store each B-spline KAN layer's grid size in ``config.kanformer`` when it differs
    from the settings (after ``extend_grid``), so a saved model rebuilds at that size."""
    record = model.config.kanformer
    default = record["settings"]["grid_size"]
    sizes = {
        name: m.basis.grid_size
        for name, m in model.named_modules()
        if isinstance(m, KANLinear) and isinstance(m.basis, BSplineBasis) and m.basis.grid_size != default
    }
    if sizes:
        record["grid_sizes"] = sizes
    else:
        record.pop("grid_sizes", None)
