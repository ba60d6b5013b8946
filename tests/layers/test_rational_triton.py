"""The group-rational Triton kernels (grkan) match the torch path and a float64 reference.

Without a GPU, Triton's interpreter (TRITON_INTERPRET=1, set by tests/conftest.py when no CUDA
device is available) runs the kernels on CPU tensors. On a GPU (scripts/gpu_check.sh) the same
tests run the compiled kernels on CUDA tensors. Without triton (``pip install kanformer[gpu]``)
the module is skipped with its reason.
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
from kanformer.layers.basis.rational import GroupRational, _units
from kanformer.plugin import KANFFNConfig

if not kernels.triton_available():
    _REASON = "triton is not installed (pip install kanformer[gpu]): the group-rational Triton tests did not run"
    print(f"\nSKIPPED tests/layers/test_rational_triton.py: {_REASON}", file=sys.__stderr__)
    if os.environ.get("KANFORMER_REQUIRE_CUDA") == "1":
        raise RuntimeError(_REASON)
    pytest.skip(_REASON, allow_module_level=True)

from kanformer.layers.kernels.rational_triton import group_rational, group_rational_backward  # noqa: E402

# The interpreter runs on CPU tensors; with a GPU and no interpreter the compiled kernels run on CUDA.
DEVICE = "cuda" if torch.cuda.is_available() and not kernels.interpreting() else "cpu"
if os.environ.get("KANFORMER_REQUIRE_CUDA") == "1" and DEVICE != "cuda":
    raise RuntimeError("KANFORMER_REQUIRE_CUDA=1 but the kernels would run in Triton's interpreter")
GROUP = dict(basis="rational", sharing="group", base_activation="none")


def _coefficients(groups: int, m: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Numerator (G, m + 1) and denominator (G, n) of both signs, with one b exactly 0 (zero gradient)."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(groups, m + 1, generator=gen)
    b = torch.randn(groups, n, generator=gen)
    if n:
        b[0, -1] = 0.0
    return a.to(DEVICE), b.to(DEVICE)


def _grads(fn, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, g: torch.Tensor):  # noqa: ANN001, ANN202
    """Output and the gradients of x, a and b for output gradient g."""
    x, a, b = (t.detach().clone().requires_grad_() for t in (x, a, b))
    y = fn(x, a, b)
    y.backward(g.to(y.dtype))
    return y.detach(), x.grad, a.grad, b.grad if b.grad is not None else torch.zeros_like(b)  # None: n = 0


def _torch_path(x, a, b):  # noqa: ANN001, ANN202
    return GroupRational.apply(x.reshape(-1, x.shape[-1]), a, b, False).reshape(x.shape)


def _float64(x, a, b):  # noqa: ANN001, ANN202
    """The safe Padé unit differentiated by autograd in float64."""
    return _units(x.reshape(-1, x.shape[-1]).double(), a.double(), b.double()).reshape(x.shape)


def _assert_near(actual: torch.Tensor, expected: torch.Tensor, tol: float, what: str) -> None:
    """|actual - expected| <= tol * (max |expected| + 1) everywhere (scale-aware: gradients are large sums)."""
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    err = (actual.double() - expected.double()).abs().max().item() if actual.numel() else 0.0
    bound = tol * (expected.double().abs().max().item() + 1.0) if expected.numel() else 0.0
    assert err <= bound, f"{what}: max error {err:.3g} > {bound:.3g}"


CASES = [
    # (x shape (..., C), groups, (m, n), input scale)
    pytest.param((37, 24), 4, (5, 4), 1.5, id="odd-shapes"),
    pytest.param((1, 40), 8, (5, 4), 1.0, id="one-token"),
    pytest.param((2, 3, 20), 2, (3, 2), 1.0, id="batch-dims"),
    pytest.param((9, 272), 2, (4, 3), 1.0, id="two-channel-tiles-per-group"),
    pytest.param((45, 12), 12, (1, 1), 2.0, id="one-channel-groups"),
    pytest.param((50, 36), 1, (6, 0), 0.7, id="one-group-polynomial"),
    pytest.param((33, 16), 4, (5, 4), 40.0, id="far-outside"),
]


@pytest.mark.parametrize("shape,groups,orders,scale", CASES)
def test_op_matches_torch_and_float64(shape, groups, orders, scale) -> None:  # noqa: ANN001
    """Forward and the gradients of x, numerator and denominator, against the torch path (fp32) and float64."""
    a, b = _coefficients(groups, *orders)
    torch.manual_seed(1)
    x = (torch.randn(*shape) * scale).to(DEVICE)
    if scale > 10:  # far outside [-3, 3]: a quarter of the tokens inside it, some exactly 0
        x[: shape[0] // 4] /= scale
        x[0, :3] = 0.0
    g = torch.randn(*shape).to(DEVICE)
    tri = _grads(group_rational, x, a, b, g)
    ref = _grads(_torch_path, x, a, b, g)
    f64 = _grads(_float64, x, a, b, g)
    for name, t, r, d in zip(("y", "dx", "da", "db"), tri, ref, f64, strict=True):
        assert t.dtype == r.dtype == torch.float32, name
        _assert_near(t, r, 2e-5, f"{name} vs torch")
        _assert_near(t, d, 2e-5, f"{name} vs float64")
    if orders[1]:
        assert tri[3][0, -1] == 0 and (tri[3][1:] != 0).all(), "a zero denominator coefficient has zero gradient"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_op_half_inputs_accumulate_in_fp32(dtype: torch.dtype) -> None:
    """Half x: output and dx in x's dtype (rounded once), coefficient gradients summed in fp32 as
    tightly as the fp32 path (a half-precision sum over 1,200 elements would miss by ~1e-2)."""
    a, b = _coefficients(4, 5, 4, seed=3)
    x = (torch.randn(60, 40) * 2).to(DEVICE, dtype)
    g = torch.randn(60, 40).to(DEVICE, dtype)
    y, dx, da, db = _grads(group_rational, x, a, b, g)
    y_d, dx_d, da_d, db_d = _grads(_float64, x, a, b, g)  # exact half inputs, float64 maths
    assert y.dtype == dx.dtype == dtype and da.dtype == db.dtype == torch.float32
    _assert_near(y, y_d, 1e-2, "y")
    _assert_near(dx, dx_d, 1e-2, "dx")
    _assert_near(da, da_d, 2e-5, "da")
    _assert_near(db, db_d, 2e-5, "db")
    # bf16 coefficients (a model cast to bf16): read exactly, gradients returned in their dtype.
    _, _, da_h, db_h = _grads(group_rational, x, a.to(dtype), b.to(dtype), g)
    assert da_h.dtype == db_h.dtype == dtype


def test_op_saves_only_its_inputs() -> None:
    """Backward recomputes P and Q: autograd keeps nothing but x and the coefficients."""
    from kanformer.bench.measure import saved_bytes

    a, b = (t.requires_grad_() for t in _coefficients(2, 5, 4))
    x = torch.randn(64, 32, device=DEVICE, requires_grad=True)
    assert saved_bytes(lambda: group_rational(x, a, b), exclude=[x, a, b]) == 0
    assert saved_bytes(lambda: _float64(x, a, b), exclude=[x, a, b]) > 0  # the measure sees saved tensors


def test_op_under_autocast_casts_nothing() -> None:
    """Under autocast the op computes exactly as outside it: x keeps its dtype (fp32 in, fp32 out; bf16
    in, bf16 out), the fp32 coefficients are not rounded, and their gradients arrive in fp32."""
    a, b = (t.requires_grad_() for t in _coefficients(4, 5, 4))
    for x in (torch.randn(20, 16, device=DEVICE), torch.randn(20, 16, device=DEVICE).bfloat16()):
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            y = group_rational(x, a, b)
        assert y.dtype == x.dtype
        torch.testing.assert_close(y, group_rational(x, a, b), atol=0, rtol=0)
        y.float().sum().backward()
    assert a.grad.dtype == b.grad.dtype == torch.float32
    with torch.no_grad():
        rounded = group_rational(x, a.bfloat16(), b.bfloat16())
    assert not torch.equal(group_rational(x, a, b).detach(), rounded)


def test_op_errors_and_empty_input() -> None:
    a, b = _coefficients(3, 2, 2)
    with pytest.raises(ValueError, match="must divide"):
        group_rational(torch.randn(4, 10, device=DEVICE), a, b)
    with pytest.raises(ValueError, match="denominator"):
        group_rational(torch.randn(4, 9, device=DEVICE), a, b[:2])
    x = torch.randn(0, 9, device=DEVICE, requires_grad=True)
    y = group_rational(x, a, b)
    assert y.shape == (0, 9)
    dx, da, db = group_rational_backward(x.detach(), a, b, torch.zeros(0, 9, device=DEVICE))
    assert dx.shape == (0, 9) and not da.any() and not db.any()


# ------------------------------------------------------------------------ KANLinear dispatch


def _layer_pair(opts: dict) -> tuple[KANLinear, KANLinear]:
    """The same group-rational layer with kernel="triton" and kernel="torch", non-trivial everywhere."""
    torch.manual_seed(0)
    ref = KANLinear(**opts).to(DEVICE)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.3 * torch.randn_like(p))
    tri = KANLinear(**opts, kernel="triton").to(DEVICE)
    tri.load_state_dict(ref.state_dict())
    return tri, ref


def _layer_run(layer: KANLinear, x: torch.Tensor, g: torch.Tensor, autocast: torch.dtype | None = None):  # noqa: ANN202
    layer.zero_grad(set_to_none=True)
    xi = x.clone().requires_grad_()
    with torch.autocast(DEVICE, dtype=autocast or torch.bfloat16, enabled=autocast is not None):
        y = layer(xi)
    y.backward(g.to(y.dtype))
    return y.detach(), {"x": xi.grad, **{n: p.grad for n, p in layer.named_parameters()}}


@pytest.mark.parametrize("act,bias", [("none", True), ("silu", False)], ids=["grkan", "base-silu-no-bias"])
def test_layer_matches_torch_and_float64(act: str, bias: bool) -> None:
    """A sharing="group" rational KANLinear: output and the gradients of x, weight, coefficients,
    denominators and bias, with leading batch dims and a width that is no multiple of the tiles."""
    opts = dict(in_features=30, out_features=11, groups=3, numerator_degree=4, denominator_degree=3, **GROUP)
    opts.update(base_activation=act, bias=bias)
    tri, ref = _layer_pair(opts)
    x = (torch.randn(2, 7, 30) * 2).to(DEVICE)
    g = torch.randn(2, 7, 11).to(DEVICE)
    y_t, g_t = _layer_run(tri, x, g)
    y_r, g_r = _layer_run(ref, x, g)
    ref64 = KANLinear(**opts, dtype=torch.float64).to(DEVICE)
    ref64.load_state_dict({k: v.double() for k, v in ref.state_dict().items()})
    y_d, g_d = _layer_run(ref64, x.double(), g.double())
    assert set(g_t) == set(g_r) == {"x", "weight", "coefficients", "basis.denominator", *(["bias"] if bias else [])}
    _assert_near(y_t, y_r, 2e-5, "y vs torch")
    _assert_near(y_t, y_d, 2e-5, "y vs float64")
    for name in g_r:
        _assert_near(g_t[name], g_r[name], 2e-5, f"{name} vs torch")
        _assert_near(g_t[name], g_d[name], 2e-5, f"{name} vs float64")


@pytest.mark.parametrize("input_dtype", [torch.float32, torch.bfloat16], ids=["fp32-input", "bf16-input"])
def test_layer_under_bf16_autocast(input_dtype: torch.dtype) -> None:
    """bf16 autocast: output in bf16 and every gradient close to the torch path and to float64. bf16
    activations reach the kernel as they are (the torch path reads them in fp32: the same values)."""
    opts = dict(in_features=24, out_features=20, groups=4, **GROUP)
    tri, ref = _layer_pair(opts)
    x = torch.randn(3, 11, 24).to(DEVICE, input_dtype)
    g = torch.randn(3, 11, 20).to(DEVICE)
    y_t, g_t = _layer_run(tri, x, g, torch.bfloat16)
    y_r, g_r = _layer_run(ref, x, g, torch.bfloat16)
    ref64 = KANLinear(**opts, dtype=torch.float64).to(DEVICE)
    ref64.load_state_dict({k: v.double() for k, v in ref.state_dict().items()})
    y_d, g_d = _layer_run(ref64, x.double(), g.double())
    assert y_t.dtype == torch.bfloat16 and g_t["x"].dtype == input_dtype
    _assert_near(y_t, y_r, 1e-2, "y vs torch")
    _assert_near(y_t, y_d, 3e-2, "y vs float64")
    for name in g_d:
        assert g_t[name].dtype == g_r[name].dtype, name
        _assert_near(g_t[name], g_r[name], 1e-2, f"{name} vs torch")
        _assert_near(g_t[name], g_d[name], 3e-2, f"{name} vs float64")


def test_layer_float64_falls_back_with_a_warning() -> None:
    tri, ref = _layer_pair(dict(in_features=8, out_features=8, groups=2, **GROUP))
    tri, ref = tri.double(), ref.double()
    x = torch.randn(5, 8, device=DEVICE, dtype=torch.float64)
    with pytest.warns(UserWarning, match="float64"):
        y = tri(x)
    torch.testing.assert_close(y, ref(x))


def test_layer_dispatch_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Group-rational layers take kernel="triton"; other rational layers say to use torch; a CPU tensor
    outside the interpreter says to use kernel="torch"; kernel="auto" runs torch on CPU, silently."""
    assert KANLinear(8, 4, groups=2, kernel="triton", **GROUP).kernel == "triton"
    with pytest.raises(ValueError, match='use kernel="torch"'):
        KANLinear(8, 4, basis="rational", sharing="edge", kernel="triton")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    layer = KANLinear(8, 4, groups=2, kernel="triton", **GROUP)
    with pytest.raises(ValueError, match='use kernel="torch"'):
        layer(torch.randn(2, 8))
    with pytest.raises(ValueError, match='use kernel="torch"'):
        group_rational(torch.randn(2, 8), *(t.cpu() for t in _coefficients(2, 5, 4)))
    auto = KANLinear(8, 4, groups=2, kernel="auto", **GROUP)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert auto(torch.randn(2, 8)).shape == (2, 4)


def test_missing_triton_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import kanformer.layers.kan_linear as kl

    monkeypatch.setattr(kernels, "triton_available", lambda: False)
    monkeypatch.setattr(kl, "require_triton", kernels.require_triton)
    with pytest.raises(ValueError, match=r"pip install kanformer\[gpu\]"):
        KANLinear(8, 4, groups=2, kernel="triton", **GROUP)


def test_ffn_config_takes_triton_for_grkan() -> None:
    """form=grkan (and form=kan with rational units shared per group) accepts kernel="triton" and kanify
    passes it to every layer; other rational forms are an error that says what to use."""
    from kanformer import kanify
    from kanformer.models import load_model

    KANFFNConfig(kernel="triton", form="kan", basis="rational", sharing="group")
    with pytest.raises(ValueError, match="kernel"):
        KANFFNConfig(kernel="triton", form="kan", basis="rational", sharing="edge")
    model = kanify(load_model("tiny-bert"), KANFFNConfig(kernel="triton", form="grkan", init="warm"))
    layers = [m for m in model.modules() if isinstance(m, KANLinear)]
    assert layers and all(m.kernel == "triton" and m.sharing == "group" for m in layers)
    model = kanify(load_model("tiny-bert"), KANFFNConfig(kernel="auto", form="kan", basis="rational", sharing="group"))
    assert all(m.kernel == "auto" for m in model.modules() if isinstance(m, KANLinear))


# ------------------------------------------------- torch.library ops: opcheck, torch.compile


def test_opcheck() -> None:
    """Schema, fake (meta) implementations, autograd registration and AOT dispatch of both ops."""
    a, b = _coefficients(3, 4, 2)
    x = torch.randn(7, 12, device=DEVICE) * 1.5
    g = torch.randn(7, 12, device=DEVICE)
    grads = [t.clone().requires_grad_() for t in (x, a, b)]
    for op, args in [(group_rational, tuple(grads)), (group_rational_backward, (x, a, b, g))]:
        result = torch.library.opcheck(op, args)
        assert set(result.values()) == {"SUCCESS"}, (op, result)


@pytest.mark.parametrize("autocast", [None, torch.bfloat16], ids=["fp32", "autocast-bf16"])
def test_compile_fullgraph_matches_eager(autocast: torch.dtype | None) -> None:
    """A grkan FFN (two group-rational KANLinear layers, kernel="triton") compiles with fullgraph=True,
    i.e. without a graph break; its graphs hold the Triton ops, and outputs and every gradient equal the
    uncompiled layers' exactly (under bf16 autocast too)."""
    torch.manual_seed(0)
    ffn = torch.nn.Sequential(
        KANLinear(12, 20, groups=4, kernel="triton", **GROUP), KANLinear(20, 12, groups=4, kernel="triton", **GROUP)
    ).to(DEVICE)
    graphs: dict[str, list[str]] = {"forward": [], "backward": []}
    compiled = torch.compile(ffn, fullgraph=True, backend=recording_backend(graphs))
    x = (torch.randn(2, 5, 12) * 1.5).to(DEVICE)
    g = torch.randn(2, 5, 12).to(DEVICE)
    runs = []
    for model in (compiled, ffn):
        ffn.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_()
        with torch.autocast(DEVICE, dtype=autocast or torch.bfloat16, enabled=autocast is not None):
            y = model(xi)
        y.backward(g.to(y.dtype))
        runs.append((y.detach(), xi.grad, {n: p.grad for n, p in ffn.named_parameters()}))
    (y_c, dx_c, dp_c), (y_e, dx_e, dp_e) = runs
    assert y_c.dtype == y_e.dtype == (autocast or torch.float32)
    assert graphs["forward"].count("kanformer.group_rational.default") == 2
    assert graphs["backward"].count("kanformer.group_rational_backward.default") == 2
    torch.testing.assert_close(y_c, y_e, atol=0, rtol=0)
    torch.testing.assert_close(dx_c, dx_e, atol=0, rtol=0)
    assert len(dp_e) == 8
    for name, grad in dp_e.items():
        torch.testing.assert_close(dp_c[name], grad, atol=0, rtol=0, msg=name)


@pytest.mark.compile
def test_kanified_grkan_model_compiles_fullgraph() -> None:
    """A whole grkan-kanified model with kernel="triton" compiles with fullgraph=True; its loss and the
    gradients of every KAN parameter match the same model on the torch path, uncompiled."""
    from kanformer import kanify
    from kanformer.models import load_model

    models = {}
    for kernel in ("torch", "triton"):
        torch.manual_seed(0)
        cfg = KANFFNConfig(form="grkan", kernel=kernel, init="warm", layers="last:1")
        models[kernel] = kanify(load_model("tiny-bert", num_labels=2), cfg).to(DEVICE).eval()  # eval: no dropout
    models["triton"].load_state_dict(models["torch"].state_dict())
    ids, labels = torch.randint(0, 100, (2, 6), device=DEVICE), torch.tensor([0, 1], device=DEVICE)
    runs = []
    for kernel in ("triton", "torch"):
        model = models[kernel]
        run = torch.compile(model, fullgraph=True, backend="aot_eager") if kernel == "triton" else model
        loss = run(input_ids=ids, labels=labels).loss
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters() if ".layer.1." in n}  # the kanified block
        runs.append((loss.detach(), grads))
    (loss_t, g_t), (loss_r, g_r) = runs
    assert sum("coefficients" in n or "denominator" in n for n in g_r) == 4
    assert all(g is not None for g in g_r.values())
    torch.testing.assert_close(loss_t, loss_r, atol=1e-5, rtol=1e-5)
    for name, grad in g_r.items():
        _assert_near(g_t[name], grad, 1e-4, name)


def test_bench_layer_measures_the_units() -> None:
    """bench-layer's Triton run times grkan's units alone, the torch path against the Triton kernel."""
    from kanformer.bench.layer import UNITS_TRITON, GroupRationalUnits, bench_layer

    results = bench_layer([(16, 16)], device=DEVICE, warmup=0, repeats=1, fused=False, triton=True)
    rows = {r.implementation: r for r in results}
    torch_row = rows["grkan units d (torch, eager)"]
    assert rows[UNITS_TRITON].params == torch_row.params == 8 * (6 + 4)
    assert rows[UNITS_TRITON].forward_backward_ms > 0 and rows[UNITS_TRITON].saved_mib == 0
    units = GroupRationalUnits(16, 8, fused=False, triton=True).to(DEVICE)
    x = torch.randn(5, 16, device=DEVICE)
    with torch.autocast(DEVICE, dtype=torch.bfloat16):  # the units see bf16 activations, as in a bf16 model
        assert units(x).dtype == torch.bfloat16
    units.triton = False
    torch.testing.assert_close(units(x), group_rational(x, units.coefficients, units.basis.denominator))


@pytest.mark.compile
def test_kernels_compile_for_hopper() -> None:
    """The kernels compile (Triton -> PTX -> cubin with the bundled ptxas) for sm_90, no GPU needed:
    the interpreter alone would not catch code that only the compiler rejects."""
    assert_builds_for_hopper(
        """
        from kanformer.layers.kernels import rational_triton as rt

        X, F32 = "*bf16", "*fp32"
        ints = {"N": "i32", "C": "i32", "D": "i32"}
        consts = {"M_DEG": 5, "N_DEG": 4, "BC": 128, "TILE": 4096}
        kernels = [
            (rt._forward_kernel, {"x_ptr": X, "a_ptr": F32, "b_ptr": F32, "y_ptr": X, **ints}, consts),
            (rt._backward_kernel,
             {"x_ptr": X, "dy_ptr": X, "a_ptr": F32, "b_ptr": F32, "dx_ptr": X, "part_ptr": F32, **ints, "ROWS": "i32"},
             {**consts, "NCP": 16}),
        ]
        """,
        num_warps=8,
    )
