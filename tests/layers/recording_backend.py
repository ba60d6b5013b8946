"""A torch.compile backend for tests that checks which ops a compiled graph holds."""

from __future__ import annotations

import torch


def recording_backend(graphs: dict[str, list[str]]):  # noqa: ANN201
    """An aot_eager-like torch.compile backend that appends the call_function targets of the forward and
    backward graphs to ``graphs["forward"]`` and ``graphs["backward"]``."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    def record(kind: str):  # noqa: ANN202
        def compiler(gm: torch.fx.GraphModule, _inputs: list) -> object:
            graphs[kind] += [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]
            return make_boxed_func(gm.forward)

        return compiler

    return aot_autograd(fw_compiler=record("forward"), bw_compiler=record("backward"))
