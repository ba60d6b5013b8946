"""KANLinear: shapes, gradients, definition, initialisation, precision, serialisation, validation."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from kanformer import KANLinear
from kanformer.layers.bspline import bspline_basis
from kanformer.layers.knots import uniform_knots

BASES = ["bspline", "rbf", "chebyshev", "fourier", "rational"]
SHARINGS = ["edge", "group"]

# Reference base activations written out here (not taken from the library).
ACTS = {
    "silu": lambda x: x * torch.sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
    "identity": lambda x: x,
    "none": lambda x: torch.zeros_like(x),
}


def make(in_features: int = 4, out_features: int = 3, **kw) -> KANLinear:
    """A small layer; group layers get 2 groups unless told otherwise."""
    if kw.get("sharing") == "group":
        kw.setdefault("groups", 2)
    return KANLinear(in_features, out_features, **kw)


@torch.no_grad()
def randomize(layer: KANLinear, scale: float = 0.5) -> KANLinear:
    """Give every parameter (bias included) a generic non-zero value; keep rational denominators away from 0."""
    for name, p in layer.named_parameters():
        if name.endswith("denominator"):
            p.copy_(0.1 + 0.3 * torch.rand_like(p))
        else:
            p.copy_(scale * torch.randn_like(p))
    return layer


def nonzero_inputs(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Inputs in +-[0.2, 1.5]: inside and just outside the grid, never at 0 (|x| is not differentiable there)."""
    mag = 0.2 + 1.3 * torch.rand(*shape, dtype=dtype)
    sign = torch.where(torch.rand(*shape) < 0.5, -1.0, 1.0).to(dtype)
    return mag * sign


def functional(layer: KANLinear):
    """f(x, *params) = layer(x) with the given parameters, and the current parameters."""
    names = [n for n, _ in layer.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in layer.named_parameters())

    def f(x: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, dict(zip(names, ps, strict=True)), (x,))

    return f, names, params


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


# ------------------------------------------------------------ shape + gradcheck
@pytest.mark.parametrize("act", ["silu", "none"])
@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("basis", BASES)
def test_shape_and_gradcheck(basis: str, sharing: str, act: str) -> None:
    """(2, 3, I) -> (2, 3, O), and float64 gradcheck w.r.t. the input and every parameter."""
    layer = randomize(make(4, 3, basis=basis, sharing=sharing, base_activation=act)).double()
    x = nonzero_inputs(2, 3, 4).requires_grad_(True)
    y = layer(x)
    assert y.shape == (2, 3, 3)
    assert y.dtype == torch.float64
    f, names, params = functional(layer)
    expected = {"bias"} | ({"base_weight", "spline_weight"} if sharing == "edge" else {"weight", "coefficients"})
    if sharing == "edge" and act == "none":
        expected.discard("base_weight")
    if basis == "rational":
        expected.add("basis.denominator")
    assert set(names) == expected
    assert gradcheck(f, (x, *params), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("act", ["silu", "none"])
@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("basis", BASES)
def test_extreme_inputs_stay_finite(basis: str, sharing: str, act: str) -> None:
    """Inputs 0, +-1e4 (mixed with ordinary values) give finite outputs and finite gradients."""
    layer = make(4, 3, basis=basis, sharing=sharing, base_activation=act)
    x = torch.tensor(
        [[0.0, 0.0, 0.0, 0.0], [1e4, 1e4, 1e4, 1e4], [-1e4, -1e4, -1e4, -1e4], [0.0, 1e4, -1e4, 0.3]]
    ).requires_grad_(True)
    y = layer(x)
    assert torch.isfinite(y).all(), y
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all(), x.grad
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


# ------------------------------------------------------------------ definition
@pytest.mark.parametrize("act", ["silu", "gelu", "identity", "none"])
@pytest.mark.parametrize("basis", BASES)
def test_edge_layer_equals_definition(basis: str, act: str) -> None:
    """Edge sharing: y_j = b_j + sum_i [w_ij base(x_i) + sum_k c_ijk B_k(x_i)], summed by hand."""
    layer = randomize(make(3, 2, basis=basis, base_activation=act)).double()
    x = nonzero_inputs(7, 3)
    with torch.no_grad():
        y = layer(x)
        basis_vals = layer.basis(x)  # (N, I, F)
        base = ACTS[act](x)
        expected = torch.zeros(7, 2, dtype=torch.float64)
        for n in range(7):
            for j in range(2):
                total = layer.bias[j].item()
                for i in range(3):
                    if layer.base_weight is not None:
                        total += layer.base_weight[j, i].item() * base[n, i].item()
                    for k in range(layer.basis.num_functions):
                        total += layer.spline_weight[j, i, k].item() * basis_vals[n, i, k].item()
                expected[n, j] = total
    torch.testing.assert_close(y, expected, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("act", ["silu", "gelu", "identity", "none"])
@pytest.mark.parametrize("basis", BASES)
def test_group_layer_equals_definition(basis: str, act: str) -> None:
    """Group sharing: u_i = base(x_i) + sum_k c_{g(i)k} B_k(x_i) with contiguous groups, y = W u + b."""
    layer = randomize(make(6, 2, basis=basis, sharing="group", groups=3, base_activation=act)).double()
    x = nonzero_inputs(5, 6)
    with torch.no_grad():
        y = layer(x)
        basis_vals = layer.basis(x)  # (N, I, F)
        u = ACTS[act](x).clone()
        for i in range(6):
            g = i // 2
            u[:, i] += (basis_vals[:, i, :] * layer.coefficients[g]).sum(-1)
        expected = u @ layer.weight.T + layer.bias
    torch.testing.assert_close(y, expected, atol=1e-12, rtol=1e-12)


def test_bspline_layer_basis_is_the_initial_grid() -> None:
    """A fresh bspline layer evaluates B-splines on the uniform extended grid of grid_range."""
    layer = make(3, 2, grid_size=7, spline_order=2, grid_range=(-2.0, 3.0)).double()
    x = torch.linspace(-4, 5, 91, dtype=torch.float64).unsqueeze(1).expand(-1, 3)
    # The knots buffer is float32 (like a parameter of a float32 layer); .double() widens it.
    knots = uniform_knots(3, 7, 2, (-2.0, 3.0), dtype=torch.float32).double()
    torch.testing.assert_close(layer.basis(x), bspline_basis(x, knots, 2), atol=1e-12, rtol=0)
    assert layer.basis.num_functions == 9 and layer.spline_weight.shape == (2, 3, 9)


@pytest.mark.parametrize("sharing", SHARINGS)
def test_edge_functions_sum_to_forward(sharing: str) -> None:
    """sum_i edge_functions(x)[:, j, i] + b_j reproduces the forward pass."""
    layer = randomize(make(4, 3, sharing=sharing)).double()
    x = nonzero_inputs(9, 4)
    with torch.no_grad():
        phi = layer.edge_functions(x)
        assert phi.shape == (9, 3, 4)
        torch.testing.assert_close(phi.sum(-1) + layer.bias, layer(x), atol=1e-12, rtol=1e-12)


# -------------------------------------------------------------------------- init
@pytest.mark.parametrize("in_features", [16, 256, 2048])
@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("basis", BASES)
def test_variance_aware_init(basis: str, sharing: str, in_features: int) -> None:
    """For x ~ N(0, 1) the freshly initialised layer's output std is about 1 at every width."""
    layer = KANLinear(in_features, 32, basis=basis, sharing=sharing)
    n = 2000 if in_features <= 256 else 1000
    with torch.no_grad():
        y = layer(torch.randn(n, in_features))
    assert 0.6 <= y.std().item() <= 1.6, y.std().item()


@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("init_scale", [0.25, 3.0])
def test_init_scale_sets_output_std(init_scale: float, sharing: str) -> None:
    """init_scale multiplies the initial output std."""
    layer = KANLinear(256, 32, sharing=sharing, init_scale=init_scale)
    with torch.no_grad():
        y = layer(torch.randn(2000, 256))
    assert 0.6 * init_scale <= y.std().item() <= 1.6 * init_scale


@pytest.mark.parametrize("act", ["silu", "gelu", "identity"])
@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("basis", BASES)
def test_zero_spline_init_is_base_branch(basis: str, sharing: str, act: str) -> None:
    """spline_init='zero': spline/coefficient params are exactly 0 and the layer equals its base branch."""
    layer = make(8, 5, basis=basis, sharing=sharing, groups=4, base_activation=act, spline_init="zero")
    with torch.no_grad():
        layer.bias.normal_()
    x = 2 * torch.randn(64, 8)
    with torch.no_grad():
        y = layer(x)
        if sharing == "edge":
            assert torch.all(layer.spline_weight == 0)
            expected = F.linear(ACTS[act](x), layer.base_weight, layer.bias)
        else:
            assert torch.all(layer.coefficients == 0)
            expected = F.linear(ACTS[act](x), layer.weight, layer.bias)
    torch.testing.assert_close(y, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("act", ["silu", "none"])
@pytest.mark.parametrize("spline_init", ["noise", "zero"])
@pytest.mark.parametrize("sharing", SHARINGS)
def test_init_weights_are_moderate(sharing: str, spline_init: str, act: str) -> None:
    """Every initial parameter is finite and O(1): no config may start with huge weights.

    (A layer whose learnable term starts at 0 has no signal to calibrate against, but
    that is no reason to draw weights of size 1e5: the first optimiser step would explode.)
    """
    layer = make(16, 4, sharing=sharing, groups=4, base_activation=act, spline_init=spline_init)
    for name, p in layer.named_parameters():
        assert torch.isfinite(p).all(), name
        biggest = p.abs().max().item()
        assert biggest < 10.0, f"{name}: max |value| = {biggest:.3g}"


@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("basis", BASES)
def test_dtype_argument_applies_to_every_parameter(basis: str, sharing: str) -> None:
    """KANLinear(..., dtype=torch.float64), like nn.Linear(dtype=...), creates every parameter in float64."""
    layer = make(4, 3, basis=basis, sharing=sharing, dtype=torch.float64)
    dtypes = {name: p.dtype for name, p in layer.named_parameters()}
    assert all(d == torch.float64 for d in dtypes.values()), dtypes
    assert layer(torch.randn(5, 4, dtype=torch.float64)).dtype == torch.float64


# -------------------------------------------------------------------- autocast
@pytest.mark.parametrize(
    "basis,sharing",
    [("bspline", "edge"), ("bspline", "group"), ("rational", "group"), ("rational", "edge"), ("chebyshev", "group")],
)
def test_bf16_autocast_cpu(basis: str, sharing: str) -> None:
    """Under CPU bf16 autocast: forward+backward run, output is bf16, within 1e-2 (rel.) of fp32.

    Measured: output relative error ~3e-3, input-gradient relative error ~3e-3.
    """
    layer = make(64, 32, basis=basis, sharing=sharing, groups=8)
    x = torch.randn(256, 64)
    x32 = x.clone().requires_grad_(True)
    y32 = layer(x32)
    g = torch.randn_like(y32)
    y32.backward(g)
    ref_x_grad = x32.grad.clone()
    ref_p_grads = {n: p.grad.clone() for n, p in layer.named_parameters()}
    layer.zero_grad()

    x16 = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y16 = layer(x16)
    assert y16.dtype == torch.bfloat16
    y16.backward(g.to(torch.bfloat16))
    assert x16.grad.dtype == torch.float32
    assert rel_err(y16, y32) < 1e-2
    assert rel_err(x16.grad, ref_x_grad) < 2e-2
    for n, p in layer.named_parameters():
        assert p.dtype == torch.float32 and p.grad.dtype == torch.float32, n
        assert torch.isfinite(p.grad).all(), n
        assert rel_err(p.grad, ref_p_grads[n]) < 3e-2, n


# ------------------------------------------------------------------ state dict
def _roundtrip(layer: KANLinear, ctor: dict, x: torch.Tensor) -> KANLinear:
    fresh = KANLinear(**ctor)
    fresh.load_state_dict(copy.deepcopy(layer.state_dict()))
    with torch.no_grad():
        assert torch.equal(fresh(x), layer(x))
    return fresh


@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("basis", BASES)
def test_state_dict_roundtrip(basis: str, sharing: str) -> None:
    """A fresh layer with the same constructor arguments loads a state_dict and gives identical outputs."""
    ctor = dict(in_features=6, out_features=4, basis=basis, sharing=sharing, groups=3)
    layer = randomize(KANLinear(**ctor))
    _roundtrip(layer, ctor, 1.5 * torch.randn(32, 6))


@pytest.mark.parametrize("sharing", SHARINGS)
def test_state_dict_roundtrip_after_grid_changes(sharing: str) -> None:
    """After extend_grid (more knots) and update_grid (non-uniform knots) a fresh default layer loads and matches."""
    ctor = dict(in_features=6, out_features=4, sharing=sharing, groups=3)
    x = 1.5 * torch.randn(64, 6)

    # Same knot count, non-uniform knots: the fresh (uniform) layer must switch to the general path.
    adapted = randomize(KANLinear(**ctor))
    adapted.update_grid(0.7 * torch.randn(200, 6) + 0.2)
    assert not adapted.basis.uniform
    fresh = _roundtrip(adapted, ctor, x)
    assert not fresh.basis.uniform and torch.equal(fresh.basis.knots, adapted.basis.knots)

    layer = randomize(KANLinear(**ctor))
    layer.extend_grid(11)
    fresh = _roundtrip(layer, ctor, x)
    assert fresh.basis.knots.shape == layer.basis.knots.shape == (6 if sharing == "edge" else 3, 11 + 2 * 3 + 1)
    assert fresh.basis.grid_size == 11 and fresh.basis.num_functions == 14
    assert fresh.basis.uniform

    layer.update_grid(0.7 * torch.randn(200, 6) + 0.2)
    assert not layer.basis.uniform
    fresh = _roundtrip(layer, ctor, x)
    assert not fresh.basis.uniform
    assert torch.equal(fresh.basis.knots, layer.basis.knots)
    # Load the non-uniform state into a layer that was itself extended differently.
    other = KANLinear(**ctor)
    other.extend_grid(3)
    other.load_state_dict(layer.state_dict())
    with torch.no_grad():
        assert torch.equal(other(x), layer(x))
    # ... and back: a uniform default state into the adapted layer.
    plain = KANLinear(**ctor)
    other.load_state_dict(plain.state_dict())
    assert other.basis.uniform
    with torch.no_grad():
        assert torch.equal(other(x), plain(x))


# ---------------------------------------------------------------- torch.compile
def _eager_vs_compiled(layer: KANLinear, backend: str) -> None:
    x = nonzero_inputs(2, 5, layer.in_features, dtype=torch.float32)
    xe = x.clone().requires_grad_(True)
    ye = layer(xe)
    ye.square().sum().backward()
    grads_e = {n: p.grad.clone() for n, p in layer.named_parameters()}
    layer.zero_grad()

    torch._dynamo.reset()
    compiled = torch.compile(layer, backend=backend)
    xc = x.clone().requires_grad_(True)
    yc = compiled(xc)
    yc.square().sum().backward()
    torch.testing.assert_close(yc, ye, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(xc.grad, xe.grad, atol=1e-5, rtol=1e-5)
    for n, p in layer.named_parameters():
        torch.testing.assert_close(p.grad, grads_e[n], atol=1e-5, rtol=1e-5)
    torch._dynamo.reset()


@pytest.mark.parametrize("adapted", [False, True], ids=["uniform", "nonuniform"])
def test_compile_eager_backend_matches_eager(adapted: bool) -> None:
    """torch.compile(layer, backend='eager') gives the eager outputs and gradients (uniform and adapted knots)."""
    layer = randomize(make(4, 3))
    if adapted:
        layer.update_grid(torch.randn(100, 4))
        assert not layer.basis.uniform
    _eager_vs_compiled(layer, "eager")


def test_compile_inductor_matches_eager() -> None:
    """torch.compile(layer) with the default inductor backend matches eager (one small case: compiles take seconds)."""
    _eager_vs_compiled(randomize(make(4, 3)), "inductor")


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kwargs,name,value",
    [
        (dict(grid_size=0), "grid_size", "0"),
        (dict(grid_size=-2), "grid_size", "-2"),
        (dict(spline_order=0), "spline_order", "0"),
        (dict(spline_order=6), "spline_order", "6"),
        (dict(grid_range=(1.0, 1.0)), "grid_range", "(1.0, 1.0)"),
        (dict(grid_range=(2.0, 1.0)), "grid_range", "(2.0, 1.0)"),
        (dict(basis="nope"), "basis", "nope"),
        (dict(sharing="nope"), "sharing", "nope"),
        (dict(base_activation="nope"), "base_activation", "nope"),
        (dict(sharing="group", groups=3), "groups", "3"),
        (dict(sharing="group", groups=0), "groups", "0"),
        (dict(sharing="group", groups=16), "groups", "16"),
        (dict(spline_init="nope"), "spline_init", "nope"),
        (dict(spline_share=1.5), "spline_share", "1.5"),
        (dict(grid_eps=-0.1), "grid_eps", "-0.1"),
        (dict(basis="rbf", fused=True), "fused", "rbf"),
        (dict(basis="rational", rational_init="nope"), "rational_init", "nope"),
        (dict(basis="chebyshev", numerator_degree=3), "chebyshev", "numerator_degree"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict, name: str, value: str) -> None:
    """Invalid constructor arguments raise ValueError naming the parameter and the bad value."""
    with pytest.raises(ValueError) as info:
        KANLinear(8, 4, **kwargs)
    msg = str(info.value)
    assert name in msg and value in msg, msg


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_widths_raise(bad: int) -> None:
    """in_features / out_features must be positive integers."""
    with pytest.raises(ValueError, match="in_features"):
        KANLinear(bad, 4)
    with pytest.raises(ValueError, match="out_features"):
        KANLinear(4, bad)


@pytest.mark.parametrize("sharing", SHARINGS)
def test_wrong_input_width_raises(sharing: str) -> None:
    """An input whose last dim is not in_features raises ValueError mentioning in_features and the width."""
    layer = make(4, 3, sharing=sharing)
    for x in [torch.randn(2, 5), torch.randn(3, 2, 3), torch.randn(7)]:
        with pytest.raises(ValueError) as info:
            layer(x)
        msg = str(info.value)
        assert "in_features=4" in msg and str(x.shape[-1]) in msg, msg


def test_grid_methods_validate() -> None:
    """Grid methods reject bad sizes, bad grid_eps, and non-B-spline bases, naming the problem."""
    layer = make(4, 3)
    with pytest.raises(ValueError, match="new_grid_size"):
        layer.extend_grid(0)
    with pytest.raises(ValueError, match="grid_eps"):
        layer.update_grid(torch.randn(10, 4), grid_eps=1.5)
    for basis in ["rbf", "chebyshev", "fourier", "rational"]:
        other = make(4, 3, basis=basis)
        with pytest.raises(ValueError, match=basis):
            other.extend_grid(10)
        with pytest.raises(ValueError, match=basis):
            other.update_grid(torch.randn(10, 4))


# ------------------------------------------------------ edge scale + regulariser
@pytest.mark.parametrize("act", ["silu", "none"])
@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("basis", ["bspline", "rational"])
def test_edge_scale_brute_force(basis: str, sharing: str, act: str) -> None:
    """edge_scale(x)[j, i] = std_n(edge_functions(x)[n, j, i]) / (std_n(x[n, i]) + 0.1)."""
    layer = randomize(make(6, 4, basis=basis, sharing=sharing, groups=3, base_activation=act)).double()
    x = torch.randn(300, 6, dtype=torch.float64) * torch.linspace(0.2, 2.0, 6, dtype=torch.float64)
    with torch.no_grad():
        scale = layer.edge_scale(x)
        phi = layer.edge_functions(x)  # (N, O, I)
        expected = torch.empty(4, 6, dtype=torch.float64)
        for j in range(4):
            for i in range(6):
                expected[j, i] = phi[:, j, i].std() / (x[:, i].std() + 0.1)
    assert scale.shape == (4, 6)
    torch.testing.assert_close(scale, expected, atol=1e-9, rtol=1e-9)
    # Also in float32 (the default dtype), and for a (..., I) batch.
    layer32 = layer.float()
    scale32 = layer32.edge_scale(x.float().view(3, 100, 6))
    torch.testing.assert_close(scale32.double(), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("sharing", SHARINGS)
def test_edge_scale_detects_dead_edge(sharing: str) -> None:
    """An edge whose function is constant has scale ~0; a live edge has scale > 0."""
    layer = randomize(make(4, 2, sharing=sharing, groups=4, base_activation="none")).double()
    with torch.no_grad():
        if sharing == "edge":
            layer.spline_weight[1, 2] = 0.0
        else:
            layer.weight[1, 2] = 0.0
        scale = layer.edge_scale(torch.randn(200, 4, dtype=torch.float64))
    assert scale[1, 2].item() < 1e-5
    assert (scale[0] > 1e-3).all()


@pytest.mark.parametrize("sharing", SHARINGS)
def test_regularization_loss(sharing: str) -> None:
    """regularization_loss is a finite positive scalar, differentiable w.r.t. the parameters."""
    layer = make(6, 4, sharing=sharing, groups=3)
    x = torch.randn(128, 6)
    for lambdas in [{}, dict(lamb_l1=1.0, lamb_entropy=0.0), dict(lamb_coef=1.0, lamb_coefdiff=1.0)]:
        layer.zero_grad()
        reg = layer.regularization_loss(x, **lambdas)
        assert reg.dim() == 0 and torch.isfinite(reg) and reg.item() > 0
        reg.backward()
        grads = [p.grad for n, p in layer.named_parameters() if n != "bias"]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)
    # With only the L1 term, the loss is exactly the sum of the edge scales.
    torch.testing.assert_close(layer.regularization_loss(x, lamb_l1=1.0, lamb_entropy=0.0), layer.edge_scale(x).sum())


@pytest.mark.parametrize("basis", ["rbf", "chebyshev", "fourier", "rational"])
def test_every_basis_saves_only_the_input_and_has_exact_gradients(basis: str) -> None:
    """Per-edge layers of every basis keep x, not the (N, C * F) features, for backward,
    and the recomputing backward matches autograd through the basis (gradcheck, float64)."""
    layer = randomize(make(6, 4, basis=basis, base_activation="none")).double()
    x = (torch.randn(5, 6, dtype=torch.float64) * 0.8).requires_grad_()
    params = (x, layer.spline_weight, *layer.basis.parameters())
    w = lambda: layer.spline_weight.reshape(4, -1)  # noqa: E731
    assert torch.autograd.gradcheck(lambda x, *_: layer.basis.linear(x, w()), params)
    big = make(32, 8, basis=basis, base_activation="none")
    xb = torch.randn(128, 32, requires_grad=True)
    saved: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = big(xb)  # what forward keeps until backward
    y.sum().backward()
    assert max(t.numel() for t in saved) == xb.numel(), [tuple(t.shape) for t in saved]
    assert xb.grad is not None and big.spline_weight.grad is not None
