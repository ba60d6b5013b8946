"""kernel="triton": the Triton B-spline kernels match the torch path and a float64 reference.

No GPU is needed: Triton's interpreter (TRITON_INTERPRET=1, set for the whole test process by
tests/conftest.py when no CUDA device is available) runs the kernels on CPU tensors. Without
triton (``pip install kanformer[gpu]`` or ``.[dev]``) the module is skipped with its reason.
"""

from __future__ import annotations

import os
import sys
import warnings

import pytest
import torch
from hopper_build import assert_builds_for_hopper
from recording_backend import recording_backend

from kanformer import KANLinear
from kanformer.layers import kernels
from kanformer.plugin import KANFFNConfig

if not kernels.triton_available():
    _REASON = "triton is not installed (pip install kanformer[gpu]): the Triton kernel tests did not run"
    print(f"\nSKIPPED tests/layers/test_triton_kernels.py: {_REASON}", file=sys.__stderr__)
    pytest.skip(_REASON, allow_module_level=True)
if torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
    # One process builds the kernels either for the interpreter or for the GPU: there, test_triton_cuda.py runs.
    pytest.skip(
        "a CUDA device is present: tests/layers/test_triton_cuda.py tests the compiled kernels", allow_module_level=True
    )


def _pair(kernel_opts: dict, seed: int = 0) -> tuple[KANLinear, KANLinear]:
    """The same layer twice: kernel="triton" and kernel="torch"."""
    torch.manual_seed(seed)
    ref = KANLinear(**kernel_opts)
    with torch.no_grad():  # non-trivial values everywhere (a zero bias would hide its gradient)
        for p in ref.parameters():
            p.add_(0.3 * torch.randn_like(p))
    tri = KANLinear(**kernel_opts, kernel="triton")
    tri.load_state_dict(ref.state_dict())
    return tri, ref


def _run(layer: KANLinear, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Output and the gradients of x and every parameter for output gradient g."""
    layer.zero_grad(set_to_none=True)
    xi = x.clone().requires_grad_()
    y = layer(xi)
    y.backward(g)
    grads = {"x": xi.grad, **{n: p.grad for n, p in layer.named_parameters()}}
    return y.detach(), grads


def _check(tri, ref, opts: dict, x, g, atol: float, rtol: float) -> None:  # noqa: ANN001
    y_t, g_t = _run(tri, x, g)
    y_r, g_r = _run(ref, x, g)
    torch.testing.assert_close(y_t, y_r, atol=atol, rtol=rtol)
    assert set(g_t) == set(g_r) and all(v is not None for v in g_t.values())
    for name in g_r:
        torch.testing.assert_close(g_t[name], g_r[name], atol=atol, rtol=rtol, msg=name)
    # float64 reference: the torch path in double precision
    ref64 = KANLinear(**opts, dtype=torch.float64)
    ref64.load_state_dict({k: v.double() for k, v in ref.state_dict().items()})
    y_d, g_d = _run(ref64, x.double(), g.double())
    torch.testing.assert_close(y_t.double(), y_d, atol=atol, rtol=rtol)
    for name in g_d:
        torch.testing.assert_close(g_t[name].double(), g_d[name], atol=atol, rtol=rtol, msg=f"{name} vs float64")


CASES = [
    # (K, G, grid_range, base activation, bias, x shape (..., in), out, input scale)
    pytest.param(1, 3, (-1.0, 1.0), "silu", True, (37, 19), 23, 1.0, id="K1-odd-shapes"),
    pytest.param(2, 5, (-2.0, 3.0), "gelu", True, (2, 3, 17), 18, 1.5, id="K2-batch-dims"),
    pytest.param(3, 5, (-3.0, 3.0), "gelu_tanh", True, (1, 20), 33, 1.0, id="K3-one-token"),
    pytest.param(3, 11, (-0.5, 0.5), "relu", True, (40, 16), 16, 20.0, id="K3-far-outside"),
    pytest.param(3, 7, (-1.0, 1.0), "identity", False, (24, 21), 9, 1.0, id="K3-no-bias"),
    pytest.param(2, 2, (0.0, 4.0), "none", True, (30, 18), 17, 2.0, id="K2-no-base"),
    pytest.param(5, 4, (-2.0, 2.0), "silu", True, (19, 17), 20, 1.2, id="K5"),
]


@pytest.mark.parametrize("order,grid,grid_range,act,bias,shape,out,scale", CASES)
def test_matches_torch_and_float64(order, grid, grid_range, act, bias, shape, out, scale) -> None:  # noqa: ANN001
    """Forward and the gradients of x, coefficients, base weight and bias."""
    opts = dict(
        in_features=shape[-1],
        out_features=out,
        grid_size=grid,
        spline_order=order,
        grid_range=grid_range,
        base_activation=act,
        bias=bias,
    )
    tri, ref = _pair(opts)
    torch.manual_seed(1)
    x = torch.randn(*shape) * scale
    if scale > 10:  # far outside: some inputs on the grid, most beyond the extended knots
        x[: shape[0] // 4] /= scale
    g = torch.randn(*shape[:-1], out)
    _check(tri, ref, opts, x, g, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_half(dtype: torch.dtype) -> None:
    """bf16/fp16 autocast (fp32 accumulation): close to the torch path and to float64."""
    opts = dict(in_features=24, out_features=20, grid_size=5, spline_order=3, grid_range=(-2.0, 2.0))
    tri, ref = _pair(opts)
    x = torch.randn(3, 11, 24)
    g = torch.randn(3, 11, 20)
    with torch.autocast("cpu", dtype=dtype):
        y_t, g_t = _run(tri, x, g.to(dtype))
        y_r, g_r = _run(ref, x, g.to(dtype))
    assert y_t.dtype == dtype
    ref64 = KANLinear(**opts, dtype=torch.float64)
    ref64.load_state_dict({k: v.double() for k, v in ref.state_dict().items()})
    y_d, g_d = _run(ref64, x.double(), g.double())
    for a, b in [(y_t, y_r), (y_t, y_d)]:
        torch.testing.assert_close(a.double(), b.double(), atol=5e-2, rtol=2e-2)
    for name in g_d:
        scale = g_d[name].abs().max().item()
        for other in (g_r[name], g_d[name]):
            err = (g_t[name].double() - other.double()).abs().max().item()
            assert err <= 2e-2 * scale + 1e-2, (name, err, scale)


def test_input_half_without_autocast() -> None:
    """bf16 inputs to an fp32 layer: basis and base activation in fp32, output in the weights' dtype.

    (The torch path evaluates the base activation in the input's bf16, so it is the looser match.)"""
    opts = dict(in_features=16, out_features=16)
    tri, ref = _pair(opts)
    x = torch.randn(20, 16).bfloat16()
    g = torch.randn(20, 16)
    y_t, g_t = _run(tri, x, g)
    y_r, g_r = _run(ref, x, g)
    assert y_t.dtype == torch.float32 and g_t["x"].dtype == torch.bfloat16
    ref64 = KANLinear(**opts, dtype=torch.float64)
    ref64.load_state_dict({k: v.double() for k, v in ref.state_dict().items()})
    y_d, g_d = _run(ref64, x.double(), g.double())
    torch.testing.assert_close(y_t.double(), y_d, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(y_t, y_r, atol=2e-2, rtol=1e-2)
    for name in g_d:
        torch.testing.assert_close(g_t[name].double(), g_d[name].to(g_t[name].dtype).double(), atol=2e-2, rtol=1e-2)


def test_non_uniform_knots_fall_back_with_a_warning() -> None:
    tri, ref = _pair(dict(in_features=8, out_features=8))
    data = torch.randn(200, 8) * 0.7
    tri.update_grid(data, grid_eps=0.2)
    ref.update_grid(data, grid_eps=0.2)
    with pytest.warns(UserWarning, match="not uniform"):
        y = tri(data[:10])
    torch.testing.assert_close(y, ref(data[:10]))


def test_cpu_tensor_outside_the_interpreter_says_use_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    layer = KANLinear(4, 4, kernel="triton")
    with pytest.raises(ValueError, match='use kernel="torch"'):
        layer(torch.randn(2, 4))
    auto = KANLinear(4, 4, kernel="auto")  # auto: the torch path on CPU
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert auto(torch.randn(2, 4)).shape == (2, 4)


def test_missing_triton_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import kanformer.layers.kan_linear as kl

    monkeypatch.setattr(kernels, "triton_available", lambda: False)
    monkeypatch.setattr(kl, "require_triton", kernels.require_triton)
    with pytest.raises(ValueError, match=r"pip install kanformer\[gpu\]"):
        KANLinear(4, 4, kernel="triton")


def test_invalid_kernel_options() -> None:
    with pytest.raises(ValueError, match="kernel"):
        KANLinear(4, 4, kernel="cuda")
    with pytest.raises(ValueError, match='use kernel="torch"'):
        KANLinear(4, 4, basis="rbf", kernel="triton")
    with pytest.raises(ValueError, match="kernel"):
        KANFFNConfig(kernel="triton", basis="rbf")  # form=grkan: tests/layers/test_rational_triton.py
    with pytest.raises(ValueError, match="kernel"):
        KANFFNConfig(kernel="fast")
    assert KANFFNConfig().kernel == "torch" and KANLinear(4, 4).kernel == "torch"


def test_kanify_passes_the_kernel_through() -> None:
    from kanformer import kanify
    from kanformer.models import load_model

    model = kanify(load_model("tiny-bert"), KANFFNConfig(kernel="triton", init="warm"))
    layers = [m for m in model.modules() if isinstance(m, KANLinear)]
    assert layers and all(m.kernel == "triton" for m in layers)
    assert model.config.kanformer["settings"]["kernel"] == "triton"


def test_bench_layer_measures_the_triton_path() -> None:
    from kanformer.bench.layer import TRITON, bench_layer

    results = bench_layer([(16, 16)], warmup=0, repeats=1, fused=False, triton=True)
    row = next(r for r in results if r.implementation == TRITON)
    assert row.params == 16 * 16 * 9 + 16 and row.forward_backward_ms > 0


# ------------------------------------------------- torch.library ops: opcheck, torch.compile, autocast


def _op_args(order: int = 3, grid: int = 4, m: int = 9, n_in: int = 5, n_out: int = 7, base: bool = True):
    """Arguments of kanformer::bspline_linear on a uniform grid over (-1.5, 1.5), and an output gradient."""
    torch.manual_seed(2)
    h = 3.0 / grid
    t0 = torch.full((n_in,), -1.5 - order * h)
    inv_h = torch.full((n_in,), 1 / h)
    x = torch.randn(m, n_in) * 1.5
    coef = torch.randn(n_out, n_in * (grid + order))
    wb, bias = (torch.randn(n_out, n_in), torch.randn(n_out)) if base else (None, None)
    return (x, t0, inv_h, wb, coef, bias, order, 2 if base else 0), torch.randn(m, n_out)


@pytest.mark.parametrize("base", [True, False], ids=["base-bias", "spline-only"])
def test_opcheck(base: bool) -> None:
    """Schema, fake (meta) implementation, autograd registration and AOT dispatch of every op."""
    from kanformer.layers.kernels import bspline_triton as bt

    (x, t0, inv_h, wb, coef, bias, order, act), g = _op_args(base=base)
    grads = [t.clone().requires_grad_() if t is not None else None for t in (x, wb, coef, bias)]
    xg, wbg, cg, bg = grads
    nf = coef.shape[1] // x.shape[1]
    checks = [
        (bt.spline_linear, (xg, t0, inv_h, wbg, cg, bg, order, act)),
        (bt.spline_grad_input, (x, t0, inv_h, wb, coef, g, order, act)),
        (bt.spline_grad_weight, (x, t0, inv_h, g, nf, order, act, False)),
    ]
    if base:
        checks.append((bt.spline_grad_weight, (x, t0, inv_h, g, nf, order, act, True)))
    for op, args in checks:
        result = torch.library.opcheck(op, args)
        assert set(result.values()) == {"SUCCESS"}, (op, result)


@pytest.mark.parametrize("autocast", [None, torch.bfloat16], ids=["fp32", "autocast-bf16"])
def test_compile_fullgraph_matches_eager(autocast: torch.dtype | None) -> None:
    """A KAN FFN (two kernel="triton" layers) compiles with fullgraph=True, i.e. without a graph break;
    forward and backward graphs hold the Triton ops, and outputs and all gradients equal the uncompiled
    layers' (under bf16 autocast too: the ops then get bf16 weights and return bf16)."""
    from kanformer import KAN

    torch.manual_seed(0)
    ffn = KAN([12, 20, 12], grid_size=4, kernel="triton")
    graphs: dict[str, list[str]] = {"forward": [], "backward": []}
    compiled = torch.compile(ffn, fullgraph=True, backend=recording_backend(graphs))
    x = torch.randn(2, 5, 12) * 1.5
    g = torch.randn(2, 5, 12)
    runs = []
    for model in (compiled, ffn):
        ffn.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
            y = model(xi)
        y.backward(g.to(y.dtype))
        runs.append((y.detach(), xi.grad, {n: p.grad for n, p in ffn.named_parameters()}))
    (y_c, dx_c, dp_c), (y_e, dx_e, dp_e) = runs
    assert y_c.dtype == y_e.dtype == (autocast or torch.float32)
    assert graphs["forward"].count("kanformer.bspline_linear.default") == 2
    assert graphs["backward"].count("kanformer.bspline_linear_grad_input.default") == 2
    assert graphs["backward"].count("kanformer.bspline_linear_grad_weight.default") == 4  # dC and dW_b per layer
    torch.testing.assert_close(y_c, y_e, atol=0, rtol=0)
    torch.testing.assert_close(dx_c, dx_e, atol=0, rtol=0)
    for name, grad in dp_e.items():
        torch.testing.assert_close(dp_c[name], grad, atol=0, rtol=0, msg=name)


def test_op_autocast_casts_only_the_weights() -> None:
    """Called under autocast, the op computes in the autocast dtype with the weights cast and x and the
    knots untouched (register_autocast would round the knots to bf16), and its gradients reach the
    fp32 weights in fp32."""
    from kanformer.layers.kernels.bspline_triton import spline_linear

    (x, t0, inv_h, wb, coef, bias, order, act), _ = _op_args()
    wb, coef = wb.requires_grad_(), coef.requires_grad_()
    t0 = t0 + 0.0123  # not representable in bf16
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = spline_linear(x, t0, inv_h, wb, coef, bias, order, act)
    expected = spline_linear(x, t0, inv_h, wb.bfloat16(), coef.bfloat16(), bias.bfloat16(), order, act)
    rounded_knots = spline_linear(x, t0.bfloat16().float(), inv_h, wb.bfloat16(), coef.bfloat16(), bias, order, act)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, expected, atol=0, rtol=0)
    assert not torch.equal(y, rounded_knots.bfloat16())
    y.float().sum().backward()
    assert wb.grad.dtype == coef.grad.dtype == torch.float32 and coef.grad.abs().sum() > 0


@pytest.mark.compile
def test_kanified_model_compiles_fullgraph() -> None:
    """A whole kanified model with kernel="triton" compiles with fullgraph=True; loss and gradients
    match the uncompiled model."""
    from kanformer import kanify
    from kanformer.models import load_model

    torch.manual_seed(0)
    # Small KAN FFNs in the last block keep the interpreted kernels quick; the whole model is compiled.
    model = kanify(load_model("tiny-bert", num_labels=2), KANFFNConfig(kernel="triton", hidden=16, layers="last:1"))
    model.eval()  # no dropout: both runs see the same graph
    ids, labels = torch.randint(0, 100, (2, 6)), torch.tensor([0, 1])
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    runs = []
    for m in (compiled, model):
        model.zero_grad(set_to_none=True)
        loss = m(input_ids=ids, labels=labels).loss
        loss.backward()
        runs.append((loss.detach(), {n: p.grad for n, p in model.named_parameters() if "intermediate" in n}))
    (loss_c, g_c), (loss_e, g_e) = runs
    assert g_e and all(g is not None for g in g_e.values())
    torch.testing.assert_close(loss_c, loss_e, atol=1e-6, rtol=1e-6)
    for name, grad in g_e.items():
        torch.testing.assert_close(g_c[name], grad, atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.compile
def test_kernels_compile_for_hopper() -> None:
    """The kernels compile (Triton -> PTX -> cubin with the bundled ptxas) for sm_90, no GPU needed:
    the interpreter alone would not catch code that only the compiler rejects."""
    assert_builds_for_hopper(
        """
        from kanformer.layers.kernels import bspline_triton as bt

        P, F32 = "*bf16", "*fp32"
        common = {"M": "i32", "N_OUT": "i32", "N_IN": "i32", "NF": "i32", "stride_xm": "i32"}
        kernels = [
            (bt._forward_kernel,
             {"x_ptr": F32, "t0_ptr": F32, "ih_ptr": F32, "wb_ptr": P, "c_ptr": P, "b_ptr": P, "y_ptr": P,
              **common, "stride_ym": "i32"},
             {"K": 3, "ACT": 2, "HAS_BIAS": True, "IEEE": False, "BM": 128, "BN": 128, "BK": 32}),
            (bt._grad_input_kernel,
             {"x_ptr": F32, "t0_ptr": F32, "ih_ptr": F32, "wb_ptr": P, "c_ptr": P, "dy_ptr": P, "dx_ptr": F32,
              **common, "stride_dym": "i32", "stride_dxm": "i32"},
             {"K": 3, "ACT": 4, "FP": 8, "IEEE": False, "BM": 64, "BO": 32, "BC": 16}),
            (bt._grad_weight_kernel,
             {"x_ptr": F32, "t0_ptr": F32, "ih_ptr": F32, "dy_ptr": P, "dw_ptr": P, **common, "stride_dym": "i32"},
             {"K": 2, "ACT": 3, "BASE": False, "IEEE": False, "BO": 128, "BJ": 128, "BM": 32}),
        ]
        """,
        num_warps=4,
        env={"TRITON_DEFAULT_FP_FUSION": "1"},
    )
