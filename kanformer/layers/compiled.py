"""torch.compile for the layers' elementwise kernels, with an eager fallback.

Inductor fuses a kernel's dozen elementwise passes into one loop, which is most of a KAN
layer's non-matmul time. Compilation costs seconds once per layer width; where it cannot
run (no C++ compiler, no Triton) the kernels run eagerly after one warning.

``fused="auto"`` compiles a call only when it is large enough to repay that: from
:data:`AUTO_MIN_ELEMENTS` basis entries (tokens x channels x functions) on, e.g. 1024
tokens of a 384-wide layer with 8 functions (3.1M). Small layers and batches (toy KANs,
tests, single-sample inference) stay eager and never compile.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

import torch

#: ``fused="auto"`` compiles kernel calls over at least this many basis entries.
AUTO_MIN_ELEMENTS = 1 << 20

_CACHE: dict[Callable, Callable] = {}


def check_fused(fused: object) -> None:
    """Raise ValueError unless ``fused`` is True, False or "auto"."""
    if not (fused is True or fused is False or fused == "auto"):
        raise ValueError(f"fused={fused!r} is invalid: choose True, False or 'auto'")


def compile_now(fused: bool | str, elements: int) -> bool:
    """Whether a kernel call over ``elements`` basis entries runs compiled under the ``fused`` setting."""
    return fused is True or (fused == "auto" and elements >= AUTO_MIN_ELEMENTS)


def _with_fallback(fn: Callable, what: str, token_args: tuple[int, ...]) -> Callable:
    # Static shapes except the token axis, marked dynamic on every call: one kernel per layer width,
    # with the widths known to inductor (it then vectorises: 2-3x faster than dynamic=True), and the
    # same kernel for every token count >= 2 whatever shapes the process saw first, so reruns of a seed
    # round identically.
    # fullgraph: a graph break would leave the kernel eager in pieces, slower than plain eager; it raises
    # here instead and ends in the fallback's warning.
    compiled = torch.compile(fn, dynamic=False, fullgraph=True)
    state = {"ok": True, "full": False}
    seen: set[tuple] = set()  # signatures dynamo has compiled a kernel for

    def call(*args: object) -> object:
        # requires_grad is a guard, not part of the kernel: detached inputs (inside autograd.Function,
        # where these kernels run) keep training and no-grad calls on one kernel.
        args = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args)
        key = _signature(args, token_args)
        if state["ok"] and (not state["full"] or key in seen):
            try:
                for i in token_args:
                    torch._dynamo.maybe_mark_dynamic(args[i], 0)
                out = compiled(*args)
                seen.add(key)
                return out
            except Exception as err:
                if type(err).__name__ == "FailOnRecompileLimitHit":
                    # More layer widths than dynamo keeps kernels for (its recompile_limit): the widths
                    # compiled so far stay compiled, the others run eager without asking dynamo again
                    # (each ask would log its own recompile-limit warning).
                    if not state["full"]:
                        state["full"] = True
                        warnings.warn(
                            f"fused {what} kernels: more layer widths than torch._dynamo.config.recompile_limit "
                            f"({torch._dynamo.config.recompile_limit}); the further ones run eager",
                            stacklevel=2,
                        )
                    return fn(*args)
                state["ok"] = False  # no C++ compiler / Triton, a graph break: keep working, eagerly
                warnings.warn(
                    f"fused {what} kernels are unavailable ({type(err).__name__}: {err}); running eager", stacklevel=2
                )
        return fn(*args)

    return call


def _signature(args: tuple, token_args: tuple[int, ...]) -> tuple:
    """What dynamo specialises a kernel on: shapes but the token axis (0, 1 or many), dtypes, other args."""
    out = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            shape = (min(a.shape[0], 2), *a.shape[1:]) if i in token_args and a.dim() else tuple(a.shape)
            out.append((shape, a.dtype, a.device.type))
        else:
            out.append(a)
    return tuple(out)


_EAGER = {"depth": 0}


@contextlib.contextmanager
def eager_kernels() -> Iterator[None]:
    """Run every kernel eagerly inside the block, e.g. under a torch dispatch mode (FlopCounterMode):
    dynamo refuses to trace there, and a refused call would leave the compiled kernel unusable for the
    rest of the process (its frames are then skipped), i.e. every later call eager."""
    _EAGER["depth"] += 1
    try:
        yield
    finally:
        _EAGER["depth"] -= 1


def maybe_compiled(fn: Callable, fused: bool, what: str, token_args: tuple[int, ...] = (0,)) -> Callable:
    """``fn`` compiled by torch.compile when ``fused`` (once per process and layer width), else ``fn``.

    ``token_args``: positions of the arguments whose first axis is the token axis (dynamic).
    Inside an outer torch.compile the eager function is returned: the outer graph fuses it.
    """
    if not fused or torch.compiler.is_compiling() or _EAGER["depth"]:
        return fn
    if fn not in _CACHE:
        _CACHE[fn] = _with_fallback(fn, what, token_args)
    return _CACHE[fn]
