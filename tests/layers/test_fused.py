"""fused=True (torch.compile'd basis kernels) computes exactly what the eager path does."""

from __future__ import annotations

import pytest
import torch

from kanformer import KANLinear


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
    for tokens in (64, 96):  # a second shape exercises the dynamic-shape recompile
        x = torch.randn(2, tokens, 24) * 1.5
        xe, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
        ye, yf = eager(xe), fused(xf)
        torch.testing.assert_close(yf, ye, atol=1e-5, rtol=1e-5)
        g = torch.randn_like(ye)
        ye.backward(g)
        yf.backward(g)
        torch.testing.assert_close(xf.grad, xe.grad, atol=1e-5, rtol=1e-5)
        for (name, pe), pf in zip(eager.named_parameters(), fused.parameters(), strict=True):
            torch.testing.assert_close(pf.grad, pe.grad, atol=1e-4, rtol=1e-5, msg=name)
            pe.grad = pf.grad = None


def test_fused_needs_a_fused_basis() -> None:
    with pytest.raises(ValueError, match="fused"):
        KANLinear(4, 4, basis="rbf", fused=True)
