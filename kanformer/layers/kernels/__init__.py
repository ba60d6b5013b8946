"""Optional Triton kernels (``pip install kanformer[gpu]``); CPU users never need them.

:func:`triton_available` says whether Triton imports; :func:`check_triton` raises the
ValueError that says what to do when ``kernel="triton"`` cannot run on a tensor. The
kernels themselves live in :mod:`.bspline_triton` (per-edge B-spline layers) and
:mod:`.rational_triton` (group-rational units), imported on first use so that
``TRITON_INTERPRET=1`` (Triton's CPU interpreter, used by the tests) can be set before.
"""

from __future__ import annotations

import importlib.util
import os

import torch

KERNELS = ("torch", "triton", "auto")
INSTALL_HINT = "pip install kanformer[gpu]"


def triton_available() -> bool:
    """True when the ``triton`` package is installed (it is not imported here)."""
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    """True when Triton's interpreter runs kernels on CPU tensors (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "yes", "on")


def require_triton() -> None:
    """Raise ValueError naming the install command when Triton is missing."""
    if not triton_available():
        raise ValueError(f'kernel="triton" needs the triton package: {INSTALL_HINT} (or use kernel="torch")')


def triton_device_ok(device: torch.device) -> bool:
    """Triton can run on tensors of ``device``: CUDA, or any tensor under the interpreter."""
    return device.type == "cuda" or (interpreting() and device.type == "cpu")


def check_triton(device: torch.device) -> None:
    """Raise ValueError when ``kernel="triton"`` cannot run on a tensor of ``device``."""
    require_triton()
    if not triton_device_ok(device):
        raise ValueError(
            f'kernel="triton" runs on CUDA tensors, got a {device.type} tensor: use kernel="torch" on this device '
            '(or kernel="auto"; Triton\'s CPU interpreter, TRITON_INTERPRET=1, is for tests)'
        )
