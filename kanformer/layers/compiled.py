"""torch.compile for the layers' elementwise kernels, with an eager fallback.

Inductor fuses a kernel's dozen elementwise passes into one loop, which is most of a KAN
layer's non-matmul time. Compilation costs seconds once per shape family; where it
cannot run (no C++ compiler, no Triton) the kernels run eagerly after one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

_CACHE: dict[Callable, Callable] = {}


def _with_fallback(fn: Callable, what: str) -> Callable:
    # dynamic=True: one kernel for every token count. Static-then-dynamic recompiles give kernels
    # whose float rounding depends on which shapes a process saw first, so a rerun of one seed
    # would differ with the runs before it.
    compiled = torch.compile(fn, dynamic=True)
    state = {"ok": True}

    def call(*args: object) -> object:
        if state["ok"]:
            try:
                return compiled(*args)
            except Exception as err:  # no C++ compiler / Triton: keep working, eagerly
                state["ok"] = False
                warnings.warn(
                    f"fused {what} kernels are unavailable ({type(err).__name__}: {err}); running eager", stacklevel=2
                )
        return fn(*args)

    return call


def maybe_compiled(fn: Callable, fused: bool, what: str) -> Callable:
    """``fn`` compiled by torch.compile when ``fused`` (once per process), else ``fn`` itself.

    Inside an outer torch.compile the eager function is returned: the outer graph fuses it.
    """
    if not fused or torch.compiler.is_compiling():
        return fn
    if fn not in _CACHE:
        _CACHE[fn] = _with_fallback(fn, what)
    return _CACHE[fn]
