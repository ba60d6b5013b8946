"""B-spline basis evaluation for KAN layers.

The basis is evaluated into a dense (N, C, G + K) feature tensor, consumed by one
matmul.

* Uniform knots (the default, and after ``extend_grid`` of a uniform grid): closed
  form. Basis function m at x is the cardinal B-spline N_K((x - t_0) / h - m),
  computed from truncated powers: a few elementwise passes, no recursion.
* Non-uniform knots (after a data-driven grid update): Cox–de Boor's recurrence on the
  dense table, with per-level reciprocal knot gaps precomputed per row and every pass an
  in-place op on contiguous buffers; basis and derivative come out of one pass.

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

from .compiled import compile_now, maybe_compiled

# (-1)^j C(K + 1, j) and 1 / K! as plain numbers: torch.compile traces a table lookup, while a
# call of math.comb inside the kernel breaks its graph (and then runs it eagerly, in pieces).
_SIGNED_BINOMIAL = {k: [(-1) ** j * math.comb(k + 1, j) for j in range(k + 2)] for k in range(1, 6)}
_INV_FACTORIAL = [1 / math.factorial(k) for k in range(6)]


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
            coef = _SIGNED_BINOMIAL[order][j]
            if out is None:
                out = tmp * coef
            else:
                out.add_(tmp, alpha=coef)
        return out

    val = series(order).mul_(_INV_FACTORIAL[order]) if value else None
    der = series(order - 1).mul_(sign).mul_(-_INV_FACTORIAL[order - 1]) if derivative else None
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


def _level_tables(knots: Tensor, order: int) -> list[tuple[Tensor, Tensor]]:
    """Cox–de Boor's per-degree coefficients: for d = 1..K, (r, s), each (n - 1, C).

    Degree d, function m, channel c: r = 1 / (t_{m+d} - t_m) and s = -t_m r, so the blend weight
    (x - t_m) / (t_{m+d} - t_m) is one fused x r + s. Entries past the degree's last function
    (m > n - 2 - d) are finite and unused.
    """
    c, n = knots.shape
    padded = torch.cat([knots, knots[:, -1:].expand(c, order)], dim=1)  # repeated last knot: unused entries
    windows = padded.unfold(1, order + 1, 1)[:, : n - 1]  # (C, P, K + 1): t_m .. t_{m+K}
    gap = windows[..., 1:] - windows[..., :1]  # (C, P, K): t_{m+d} - t_m
    r = 1 / torch.where(gap > 0, gap, torch.ones_like(gap))
    tables = torch.stack([r, -windows[..., :1] * r]).permute(3, 0, 2, 1).contiguous()  # (K, 2, P, C)
    return [(rd, sd) for rd, sd in tables]


def _general_(
    x: Tensor, knots: Tensor, order: int, value: bool = True, derivative: bool = False
) -> tuple[Tensor | None, Tensor | None]:
    """Basis and/or its x-derivative on strictly increasing knots, (N, C) -> views (N, C, F); no autograd.

    Cox–de Boor on the whole table, laid out (N, n - 1, C) so that x and the per-degree tables
    broadcast along a contiguous channel axis, and every pass writes one of three buffers in
    place (as :func:`_cardinal_`: on CPU, allocations, comparisons and strided loops cost more
    than the arithmetic). It starts at degree 1, the hat functions max(0, min(w_m, 1 - w_{m+1})),
    which needs no comparison of x with the knots. Each degree keeps the buffers' full width: the
    entries past its last function (m > n - 2 - d) are finite and never reach a kept function.
    """
    c, n = knots.shape
    p, nf = n - 1, n - order - 1
    lo, hi = knots[:, 0], knots[:, -1]
    # Every function is 0 outside [t_0, t_last): clamping x a width beyond keeps that and bounds the
    # blend weights (no inf * 0 from huge or infinite inputs).
    width = hi - lo
    xb = torch.clamp(x, lo - width, hi + width).unsqueeze(1)  # (N, 1, C)
    b = x.new_empty(x.shape[0], p, c)
    w, u = torch.empty_like(b), torch.empty_like(b)
    # Every write goes to a whole buffer (out=) or in place into a view: torch.compile (fused=True) traces
    # both, but not out= into a view.
    tables = _level_tables(knots, order)
    r, s = tables[0]
    torch.addcmul(s, xb, r, out=b)  # w_m = (x - t_m) / (t_{m+1} - t_m)
    torch.addcmul(1 - s, xb, -r, out=u)  # 1 - w_m
    b[:, :-1].clamp_max_(u[:, 1:])  # degree 1: max(0, min(w_m, 1 - w_{m+1}))
    b.clamp_min_(0)[:, -1] = 0
    prev = b
    for r, s in tables[1:]:  # the last column stays unused
        torch.addcmul(s, xb, r, out=w)  # w_m = (x - t_m) / (t_{m+d} - t_m)
        w.mul_(b)  # v_m = w_m b_m
        torch.sub(b, w, out=u)  # u_m = (1 - w_m) b_m
        w[:, :-1].add_(u[:, 1:])  # b'_m = v_m + u_{m+1}
        prev, b, w = b, w, b  # prev: the degree before
    val = b[:, :nf].transpose(1, 2) if value else None
    der = None
    if derivative:  # B'_m = K [b_m / (t_{m+K} - t_m) - b_{m+1} / (t_{m+K+1} - t_{m+1})], b of degree K - 1
        if order == 1:  # degree 0, [t_m <= x < t_{m+1}] = [x >= t_m] - [x >= t_{m+1}], in bytes (faster on CPU)
            step = torch.ge(xb, knots.T).view(torch.uint8)  # (N, n, C)
            prev = w
            prev.copy_(step[:, :-1] - step[:, 1:])
        q = prev.mul_(tables[-1][0] * order)
        der = u[:, :nf]
        der.copy_(q[:, :nf]).sub_(q[:, 1 : nf + 1])
        der = der.transpose(1, 2)
    return val, der


class _GeneralFn(torch.autograd.Function):
    """The non-uniform basis (N, C) -> (N, C, F) with backward sum_f grad * B'_f: autograd never sees
    the in-place passes."""

    @staticmethod
    def forward(ctx, x: Tensor, knots: Tensor, order: int) -> Tensor:
        ctx.save_for_backward(x, knots)
        ctx.order = order
        return _general_(x, knots, order)[0]

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, knots = ctx.saved_tensors
        der = _general_(x, knots, ctx.order, value=False, derivative=True)[1]
        return der.mul_(grad).sum(-1), None, None


def general_basis(x: Tensor, knots: Tensor, order: int, derivative: bool = False) -> Tensor:
    """Dense basis on arbitrary knots (Cox–de Boor), differentiable in x.

    Args:
        x: (N, C) inputs.
        knots: (C, n) strictly increasing extended knots (every grid in :mod:`.knots` is).
        order: spline order K.
        derivative: return d basis / dx instead of the basis (not differentiable).

    Returns:
        (N, C, n - K - 1).
    """
    if derivative:
        return _general_(x, knots, order, value=False, derivative=True)[1]
    if torch.is_grad_enabled() and x.requires_grad:
        return _GeneralFn.apply(x, knots, order)
    return _general_(x, knots, order)[0]


def bspline_basis(
    x: Tensor, knots: Tensor, order: int, uniform: bool | None = None, derivative: bool = False
) -> Tensor:
    """Dense B-spline basis (or its x-derivative), differentiable in x.

    Args:
        x: (N, C) inputs.
        knots: (C, n) strictly increasing extended knots, one row per channel.
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
    else:  # one Cox–de Boor pass gives both
        basis, dbasis = _general_(x, knots, order, derivative=True)
    grad_x = dbasis.mul_(grad_features.view_as(dbasis)).sum(-1)
    return basis.flatten(1), grad_x


def _kernels(fused: bool) -> tuple[Callable, Callable]:
    """The two elementwise kernels, eager or compiled by torch.compile (inductor).

    Fusing the basis, its derivative and the reduction into single passes removes most
    of the non-matmul time (and, on CPU, the cost of faulting in large temporaries).
    """
    return (
        maybe_compiled(_features, fused, "B-spline"),
        maybe_compiled(_features_and_input_grad, fused, "B-spline", token_args=(0, 4)),
    )


class SplineLinear(torch.autograd.Function):
    """y = B(x) @ W.T for B the dense B-spline basis, saving only x.

    Training memory is that of a Linear layer: the (N, C * F) basis is built in forward,
    used and freed, then rebuilt in backward. ``x`` should be fp32 or fp64; ``weight``'s
    dtype sets the matmul precision (bf16/fp16 under autocast).

    Shapes: x (N, C), weight (O, C * F), knots (C, n) -> (N, O), F = n - K - 1.
    ``fused``: True, False or "auto" (:func:`kanformer.layers.compiled.compile_now`).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, knots: Tensor, order: int, uniform: bool, fused: bool | str) -> Tensor:
        fused = compile_now(fused, x.numel() * weight.shape[1] // max(x.shape[1], 1))  # backward does the same
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
