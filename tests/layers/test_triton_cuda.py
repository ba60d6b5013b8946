"""kernel="triton" on a real GPU: compiled kernels match the torch path (scripts/gpu_check.sh).

Skipped without CUDA or triton, and when Triton's interpreter is on (then
test_triton_kernels.py covers the kernels). Run this file in its own pytest process: the
kernels are built for the interpreter or for the GPU once per process.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch

from kanformer import KANLinear
from kanformer.layers import kernels

_REASON = None
if not torch.cuda.is_available():
    _REASON = "no CUDA device: the compiled Triton kernels were not tested (scripts/gpu_check.sh runs them on a GPU)"
elif not kernels.triton_available():
    _REASON = "triton is not installed (pip install kanformer[gpu])"
elif kernels.interpreting() or "kanformer.layers.kernels.bspline_triton" in sys.modules:
    _REASON = "Triton's interpreter is on in this process: run this file alone, without TRITON_INTERPRET"
if _REASON:
    if os.environ.get("KANFORMER_REQUIRE_CUDA") == "1":
        raise RuntimeError(_REASON)
    pytest.skip(_REASON, allow_module_level=True)


def _pair(opts: dict) -> tuple[KANLinear, KANLinear]:
    torch.manual_seed(0)
    ref = KANLinear(**opts).cuda()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.3 * torch.randn_like(p))
    tri = KANLinear(**opts, kernel="triton").cuda()
    tri.load_state_dict(ref.state_dict())
    return tri, ref


def _run(layer: KANLinear, x: torch.Tensor, g: torch.Tensor, dtype: torch.dtype | None):
    layer.zero_grad(set_to_none=True)
    xi = x.clone().requires_grad_()
    with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
        y = layer(xi)
    y.backward(g.to(y.dtype))
    return y.detach().float(), {"x": xi.grad, **{n: p.grad for n, p in layer.named_parameters()}}


@pytest.mark.parametrize(
    "order,grid,act,shape,out,dtype",
    [
        (1, 3, "silu", (333, 77), 129, None),
        (2, 5, "gelu", (4, 50, 96), 200, None),
        (3, 5, "gelu_tanh", (1, 768), 3072, None),
        (3, 5, "identity", (1000, 768), 768, torch.bfloat16),
        (3, 8, "silu", (517, 384), 100, torch.float16),
    ],
)
def test_cuda_matches_torch(order, grid, act, shape, out, dtype) -> None:  # noqa: ANN001
    opts = dict(in_features=shape[-1], out_features=out, grid_size=grid, spline_order=order, base_activation=act)
    tri, ref = _pair(opts)
    x = torch.randn(*shape, device="cuda") * 1.5
    g = torch.randn(*shape[:-1], out, device="cuda")
    y_t, g_t = _run(tri, x, g, dtype)
    y_r, g_r = _run(ref, x, g, dtype)
    tol = 1e-4 if dtype is None else 3e-2
    scale = y_r.abs().max().item()
    assert (y_t - y_r).abs().max().item() <= tol * scale + tol, "output"
    for name in g_r:
        s = g_r[name].abs().max().item()
        err = (g_t[name].float() - g_r[name].float()).abs().max().item()
        assert err <= tol * s + tol, (name, err, s)


def test_cuda_compile_of_a_layer_runs() -> None:
    """torch.compile of a module with kernel="triton" runs (graph breaks allowed) and agrees."""
    tri, ref = _pair(dict(in_features=64, out_features=64))
    compiled = torch.compile(tri)
    x = torch.randn(128, 64, device="cuda")
    torch.testing.assert_close(compiled(x), ref(x), atol=1e-4, rtol=1e-4)
