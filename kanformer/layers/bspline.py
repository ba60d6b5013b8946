"""B-spline basis evaluation without Cox–de Boor on the hot path.

The basis is evaluated into a dense (N, C, G + K) feature tensor, consumed by one
matmul.

* Uniform knots (the default, and after ``extend_grid`` of a uniform grid): closed
  form. Basis function m at x is the cardinal B-spline N_K((x - t_0) / h - m),
  computed from truncated powers: a few elementwise passes, no recursion.
* Non-uniform knots (after a data-driven grid update): the knot span by
  ``searchsorted``, then de Boor's triangular recurrence on the K + 1 non-zero values
  only (never the full Cox–de Boor table), scattered into the dense tensor.

Outside the extended knot range ``[t_0, t_last]`` every basis function is zero, so the
spline term vanishes and a layer falls back to its base branch; between the grid edge
and ``t_0`` the border functions fade out smoothly. No input produces NaN or inf.

:class:`SplineLinear` is the memory-lean autograd function: it saves only the input and
recomputes the basis in backward.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .compiled import maybe_compiled


def _cardinal_(
    u: Tensor, order: int, value: bool = True, derivative: bool = False
) -> tuple[Tensor | None, Tensor | None]:
    """N_K(u) and/or N_K'(u), overwriting ``u``; no autograd.

    CPU time here is dominated by allocating (and page-faulting) large temporaries, so
    everything runs in place on at most three buffers.
    """
    c = (order + 1) / 2
    a = u.sub_(c)
    sign = torch.sign(a) if derivative else None
    w = a.abs_().neg_().add_(c)  # c - |u - c|
    tmp = torch.empty_like(w)

    def series(power: int) -> Tensor:
        out = None
        for j in range(int(c) + 1):
            torch.sub(w, j, out=tmp).clamp_min_(0)
            if power == 0:
                tmp.gt_(0)
            elif power > 1:
                tmp.pow_(power)
            coef = (-1) ** j * math.comb(order + 1, j)
            if out is None:
                out = tmp * coef
            else:
                out.add_(tmp, alpha=coef)
        return out

    val = series(order).div_(math.factorial(order)) if value else None
    der = series(order - 1).mul_(sign).mul_(-1 / math.factorial(order - 1)) if derivative else None
    return val, der


class _CardinalFn(torch.autograd.Function):
    """N_K(u) with backward N_K'(u): autograd never sees the in-place passes."""

    @staticmethod
    def forward(ctx, u: Tensor, order: int) -> Tensor:
        ctx.save_for_backward(u)
        ctx.order = order
        return _cardinal_(u.clone(), order)[0]

    @staticmethod
    def backward(ctx, grad: Tensor):
        (u,) = ctx.saved_tensors
        return grad * _cardinal_(u.clone(), ctx.order, value=False, derivative=True)[1], None


def cardinal(u: Tensor, order: int, derivative: bool = False) -> Tensor:
    """Cardinal B-spline N_K(u) of order K, supported on [0, K + 1], elementwise.

    Uses the truncated-power form folded about the centre c = (K + 1) / 2:
    with w = c - |u - c|, N_K(u) = 1/K! sum_{j <= c} (-1)^j C(K+1, j) (w - j)_+^K.
    Folding keeps every term below ((K + 1) / 2)^K / K! <= 2, so float32 loses no
    accuracy to cancellation. With ``derivative`` it returns dN_K/du instead (that
    output is not itself differentiable).
    """
    if not derivative and torch.is_grad_enabled() and u.requires_grad:
        return _CardinalFn.apply(u, order)
    val, der = _cardinal_(u.clone(), order, value=not derivative, derivative=derivative)
    return der if derivative else val


def _uniform_coordinates(x: Tensor, knots: Tensor, order: int) -> tuple[Tensor, Tensor]:
    """u[n, c, m] = (x[n, c] - t_0[c]) / h[c] - m, a fresh (N, C, F) tensor, and 1/h (C,)."""
    nf = knots.shape[1] - order - 1
    inv_h = 1.0 / (knots[:, 1] - knots[:, 0])
    u = ((x - knots[:, 0]) * inv_h).unsqueeze(-1) - torch.arange(nf, dtype=x.dtype, device=x.device)
    return u, inv_h


def uniform_basis(x: Tensor, knots: Tensor, order: int, derivative: bool = False) -> Tensor:
    """Dense basis on uniform knots in closed form (no recursion).

    Args:
        x: (N, C) inputs.
        knots: (C, n) evenly spaced extended knots (rows may differ in range).
        order: spline order K.
        derivative: return d basis / dx instead of the basis (not differentiable).

    Returns:
        (N, C, n - K - 1).
    """
    u, inv_h = _uniform_coordinates(x, knots, order)
    if derivative:
        return _cardinal_(u, order, value=False, derivative=True)[1].mul_(inv_h.unsqueeze(-1))
    if torch.is_grad_enabled() and u.requires_grad:
        return _CardinalFn.apply(u, order)
    return _cardinal_(u, order)[0]


def local_general(x: Tensor, knots: Tensor, order: int, derivative: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """Non-zero basis values on arbitrary increasing knots (de Boor's local recurrence).

    Same contract as :func:`local_uniform`. Knots are padded by K on each side so the
    recurrence can run on border spans; the padded functions are dropped by the caller.
    """
    k = order
    n = knots.shape[1]
    pad = torch.arange(1, k + 1, dtype=knots.dtype, device=knots.device)
    padded = torch.cat(
        [
            knots[:, :1] - pad.flip(0) * (knots[:, 1:2] - knots[:, :1]),
            knots,
            knots[:, -1:] + pad * (knots[:, -1:] - knots[:, -2:-1]),
        ],
        dim=1,
    )
    xt = x.T.contiguous()  # (C, N)
    span = torch.searchsorted(knots.contiguous(), xt, right=True) - 1
    inside = ((span >= 0) & (span <= n - 2)).T
    span = span.clamp(0, n - 2)
    # window[a] = t[span + 1 - K + a], a = 0 .. 2K - 1, in padded coordinates (+K).
    offs = torch.arange(1, 2 * k + 1, device=x.device)
    idx = (span.unsqueeze(-1) + offs).reshape(knots.shape[0], -1)
    window = padded.gather(1, idx).view(knots.shape[0], -1, 2 * k).transpose(0, 1)  # (N, C, 2K)
    left = [None] + [x - window[..., k - d] for d in range(1, k + 1)]
    right = [None] + [window[..., k - 1 + d] - x for d in range(1, k + 1)]

    def safe_div(a: Tensor, b: Tensor) -> Tensor:
        # Repeated knots give empty spans: their terms are zero by convention.
        return torch.where(b != 0, a / torch.where(b != 0, b, torch.ones_like(b)), torch.zeros_like(a))

    vals = [torch.ones_like(x)]
    prev = vals
    for d in range(1, k + 1):
        prev = vals
        saved = torch.zeros_like(x)
        new = []
        for r in range(d):
            temp = safe_div(vals[r], right[r + 1] + left[d - r])
            new.append(saved + right[r + 1] * temp)
            saved = left[d - r] * temp
        new.append(saved)
        vals = new
    mask = inside.to(x.dtype)
    weights = torch.stack(vals, dim=-1) * mask.unsqueeze(-1)
    dweights = None
    if derivative:
        # B'_{m,K} = K [B_{m,K-1} / (t_{m+K} - t_m) - B_{m+1,K-1} / (t_{m+K+1} - t_{m+1})],
        # m = span - K + j; prev[i] is B_{span-K+1+i, K-1}.
        zero = torch.zeros_like(x)

        def knot(a: int) -> Tensor:  # t[span + 1 - K + a]
            return window[..., a]

        ds = []
        for j in range(k + 1):
            lo_term = safe_div(prev[j - 1], knot(j + k - 1) - knot(j - 1)) if j >= 1 else zero
            hi_term = safe_div(prev[j], knot(k + j) - knot(j)) if j < k else zero
            ds.append(k * (lo_term - hi_term))
        dweights = torch.stack(ds, dim=-1) * mask.unsqueeze(-1)
    return span.T - k, weights, dweights


def _scatter_dense(first: Tensor, weights: Tensor, num_functions: int) -> Tensor:
    """Local weights -> dense basis: (N, C), (N, C, K+1) -> (N, C, num_functions)."""
    pos = first.unsqueeze(-1) + torch.arange(weights.shape[-1], device=first.device)
    valid = (pos >= 0) & (pos < num_functions)
    out = weights.new_zeros(*weights.shape[:-1], num_functions)
    # Clamped columns carry zeros, so scatter_add leaves the real entries exact.
    return out.scatter_add_(-1, pos.clamp(0, num_functions - 1), weights * valid)


def general_basis(x: Tensor, knots: Tensor, order: int, derivative: bool = False) -> Tensor:
    """Dense basis on arbitrary increasing knots: (N, C), (C, n) -> (N, C, n - K - 1)."""
    first, w, dw = local_general(x, knots, order, derivative)
    return _scatter_dense(first, dw if derivative else w, knots.shape[1] - order - 1)


def bspline_basis(
    x: Tensor, knots: Tensor, order: int, uniform: bool | None = None, derivative: bool = False
) -> Tensor:
    """Dense B-spline basis (or its x-derivative), differentiable in x.

    Args:
        x: (N, C) inputs.
        knots: (C, n) extended knots, one row per channel.
        order: spline order K (degree), 1..5.
        uniform: rows are evenly spaced (closed-form path); inferred when None.
        derivative: return d basis / dx.

    Returns:
        (N, C, n - K - 1) values.
    """
    from .knots import is_uniform

    if uniform is None:
        uniform = is_uniform(knots)
    fn = uniform_basis if uniform else general_basis
    return fn(x, knots, order, derivative)


def _features(x: Tensor, knots: Tensor, order: int, uniform: bool) -> Tensor:
    return bspline_basis(x, knots, order, uniform).flatten(1)


def _features_and_input_grad(
    x: Tensor, knots: Tensor, order: int, uniform: bool, grad_features: Tensor
) -> tuple[Tensor, Tensor]:
    if uniform:  # one pass shares u and |u - c| between the basis and its derivative
        u, inv_h = _uniform_coordinates(x, knots, order)
        basis, dbasis = _cardinal_(u, order, derivative=True)
        dbasis.mul_(inv_h.unsqueeze(-1))
    else:
        basis = general_basis(x, knots, order)
        dbasis = general_basis(x, knots, order, derivative=True)
    grad_x = dbasis.mul_(grad_features.view_as(dbasis)).sum(-1)
    return basis.flatten(1), grad_x


def _kernels(fused: bool) -> tuple[Callable, Callable]:
    """The two elementwise kernels, eager or compiled by torch.compile (inductor).

    Fusing the basis, its derivative and the reduction into single passes removes most
    of the non-matmul time (and, on CPU, the cost of faulting in large temporaries).
    """
    return (
        maybe_compiled(_features, fused, "B-spline"),
        maybe_compiled(_features_and_input_grad, fused, "B-spline"),
    )


class SplineLinear(torch.autograd.Function):
    """y = B(x) @ W.T for B the dense B-spline basis, saving only x.

    Training memory is that of a Linear layer: the (N, C * F) basis is built in forward,
    used and freed, then rebuilt in backward. ``x`` should be fp32 or fp64; ``weight``'s
    dtype sets the matmul precision (bf16/fp16 under autocast).

    Shapes: x (N, C), weight (O, C * F), knots (C, n) -> (N, O), F = n - K - 1.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, knots: Tensor, order: int, uniform: bool, fused: bool) -> Tensor:
        features, _ = _kernels(fused)
        ctx.save_for_backward(x, weight, knots)
        ctx.config = (order, uniform, fused)
        return features(x, knots, order, uniform).to(weight.dtype) @ weight.T

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight, knots = ctx.saved_tensors
        order, uniform, fused = ctx.config
        features, features_and_input_grad = _kernels(fused)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_features = (grad_out @ weight).to(x.dtype)
            basis, grad_x = features_and_input_grad(x, knots, order, uniform, grad_features)
        elif ctx.needs_input_grad[1]:
            basis = features(x, knots, order, uniform)
        if ctx.needs_input_grad[1]:
            grad_w = grad_out.T @ basis.to(weight.dtype)
        return grad_x, grad_w, None, None, None, None
