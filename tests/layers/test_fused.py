"""fused=True (torch.compile'd basis kernels) computes exactly what the eager path does."""

from __future__ import annotations

import logging
import warnings

import pytest
import torch

from kanformer import KANLinear
from kanformer.layers import compiled


@pytest.mark.compile
@pytest.mark.parametrize("kind", ["bspline", "bspline-adapted", "group-rational"])
def test_fused_matches_eager(kind: str) -> None:
    """Outputs and all gradients agree; the token dimension may change between calls."""
    opts = dict(basis="rational", sharing="group", groups=4, base_activation="none") if kind == "group-rational" else {}
    eager = KANLinear(24, 16, **opts)
    if kind == "bspline-adapted":  # non-uniform knots: the general (de Boor) path inside the compiled kernel
        eager.update_grid(torch.randn(300, 24) * 0.7)
    if kind == "group-rational":  # denominators away from their fitted start, so every gradient is non-trivial
        with torch.no_grad():
            eager.basis.denominator.add_(0.3 * torch.randn_like(eager.basis.denominator))
    fused = KANLinear(24, 16, fused=True, **opts)
    fused.load_state_dict(eager.state_dict())
    for tokens in (64, 96):  # a second token count runs the same kernel (the token axis is dynamic)
        x = torch.randn(2, tokens, 24) * 1.5
        xe, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
        with warnings.catch_warnings():  # no fallback: a graph break would make the kernels eager (and slow)
            warnings.filterwarnings("error", message="fused .* kernels are unavailable")
            ye, yf = eager(xe), fused(xf)
        torch.testing.assert_close(yf, ye, atol=1e-5, rtol=1e-5)
        g = torch.randn_like(ye)
        ye.backward(g)
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="fused .* kernels are unavailable")
            yf.backward(g)
        torch.testing.assert_close(xf.grad, xe.grad, atol=1e-5, rtol=1e-5)
        for (name, pe), pf in zip(eager.named_parameters(), fused.parameters(), strict=True):
            torch.testing.assert_close(pf.grad, pe.grad, atol=1e-4, rtol=1e-5, msg=name)
            pe.grad = pf.grad = None


def test_fused_needs_a_fused_basis() -> None:
    with pytest.raises(ValueError, match="fused"):
        KANLinear(4, 4, basis="rbf", fused=True)


@pytest.mark.parametrize("kind", ["bspline", "group-rational"])
def test_auto_compiles_only_calls_above_the_threshold(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """fused="auto": a call over fewer basis entries than AUTO_MIN_ELEMENTS runs eager, a larger one compiled
    (forward and backward kernels); fused=False never compiles."""
    compiled_fns: list[str] = []

    def record(fn, what, token_args):  # noqa: ANN001, ANN202
        compiled_fns.append(fn.__name__)
        return fn

    monkeypatch.setattr(compiled, "_CACHE", {})
    monkeypatch.setattr(compiled, "_with_fallback", record)
    # 100 tokens x 24 inputs x 6 functions (rational; B-splines have 8): above the 64 quadrature nodes of the init
    monkeypatch.setattr(compiled, "AUTO_MIN_ELEMENTS", 100 * 24 * 6)
    opts = dict(basis="rational", sharing="group", groups=4, base_activation="none") if kind == "group-rational" else {}
    for fused, tokens, expect in [("auto", 8, []), (False, 400, []), ("auto", 128, ["forward", "backward"])]:
        compiled_fns.clear()
        monkeypatch.setattr(compiled, "_CACHE", {})
        layer = KANLinear(24, 16, fused=fused, **opts)
        layer(torch.randn(tokens, 24, requires_grad=True)).sum().backward()
        assert len(compiled_fns) == len(expect), (fused, tokens, compiled_fns)


def test_fused_values() -> None:
    assert compiled.compile_now(True, 0) and not compiled.compile_now(False, 10**9)
    assert not compiled.compile_now("auto", compiled.AUTO_MIN_ELEMENTS - 1)
    assert compiled.compile_now("auto", compiled.AUTO_MIN_ELEMENTS)
    assert KANLinear(4, 4, basis="rbf", fused="auto").basis is not None  # auto: the other bases run eager
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="fused"):
            KANLinear(4, 4, fused=bad)


@pytest.mark.compile
def test_widths_past_the_recompile_limit_run_eager(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each layer width compiles its own kernel; past dynamo's recompile limit the further widths run eager
    (one warning) while the compiled ones stay compiled, and every width still computes the right values."""
    monkeypatch.setattr(compiled, "_CACHE", {})
    torch._dynamo.reset()
    first, second = KANLinear(10, 4, fused=True), KANLinear(11, 4, fused=True)
    # config.patch, not monkeypatch: undoing a setattr on dynamo's config module deletes the key
    with (
        torch._dynamo.config.patch(recompile_limit=1),
        warnings.catch_warnings(record=True) as caught,
        caplog.at_level(logging.WARNING, logger="torch._dynamo"),
    ):
        warnings.simplefilter("always")
        for layer, grad in ((first, True), (first, False), (second, True), (second, False), (second, True)):
            x = (torch.randn(32, layer.in_features) * 1.5).requires_grad_(grad)
            eager = KANLinear(layer.in_features, 4)
            eager.load_state_dict(layer.state_dict())
            torch.testing.assert_close(layer(x), eager(x), atol=1e-5, rtol=1e-5)
    messages = [str(w.message) for w in caught if "fused" in str(w.message)]
    assert len(messages) == 1 and "recompile_limit" in messages[0], messages
    # requires_grad does not cost a kernel (first width: one compile for both), and once full, dynamo is
    # not asked again for the eager width: at most its one recompile-limit log line, not one per call
    assert sum("recompile_limit" in r.getMessage() for r in caplog.records) <= 1, caplog.records
    torch._dynamo.reset()


def test_flop_counting_runs_eager_and_leaves_the_kernels_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """dynamo refuses to trace under FlopCounterMode, and a refused call leaves the compiled kernel unusable
    (every later call eager: the quickstart's grkan-warm seed 1 trained eager after seed 0's bench). FLOP
    counting (kanformer inspect, bench) runs the kernels eager; later calls use the compiled kernel."""
    from kanformer.bench.inspect import _count_flops

    calls: list[str] = []

    def fake_compile(fn, **_: object):
        def run(*args: object) -> object:
            calls.append(fn.__name__)
            return fn(*args)

        return run

    monkeypatch.setattr(compiled, "_CACHE", {})
    monkeypatch.setattr(torch, "compile", fake_compile)
    layer = KANLinear(12, 5, basis="rational", sharing="group", groups=4, fused=True)
    calls.clear()  # construction evaluates the units once
    x = torch.randn(64, 12)
    counter = _count_flops(_Wrap(layer), {"x": x})
    assert counter.get_total_flops() > 0 and calls == []
    layer(x)
    assert calls == ["_units"]


class _Wrap(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)
