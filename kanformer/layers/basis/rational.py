"""KAT's safe Padé unit: P_m(x) / (1 + sum_i |b_i| |x|^i).

One definition of the denominator, used in forward and (through autograd) backward,
on every device: Q(x) = 1 + sum_{i=1..n} |b_i| |x|^i >= 1, so the unit has no poles.
(KAT's reference code computes the denominator differently in its CPU and CUDA paths.)
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor, nn

from ..activations import BASE_ACTIVATIONS
from ..compiled import compile_now, maybe_compiled
from .base import Basis, register_basis

RATIONAL_TARGETS = {name: fn for name, fn in BASE_ACTIVATIONS.items() if fn is not None}


def rational(x: Tensor, numerator: Tensor, denominator: Tensor) -> Tensor:
    """P(x) / Q(x) elementwise.

    Args:
        x: (...,) inputs.
        numerator: (m + 1,) coefficients a_0..a_m of P.
        denominator: (n,) coefficients b_1..b_n of Q = 1 + sum |b_i| |x|^i.
    """
    p = sum(a * x**i for i, a in enumerate(numerator))
    q = 1 + sum(b.abs() * x.abs() ** (i + 1) for i, b in enumerate(denominator))
    return p / q


def _grouped(t: Tensor, groups: int) -> Tensor:
    """(N, C) -> (N, G, C / G): contiguous channel blocks share a unit."""
    return t.reshape(t.shape[0], groups, -1)


def _per_group(coefficient: Tensor) -> Tensor:
    """(G,) -> (1, G, 1), broadcastable against :func:`_grouped` inputs."""
    return coefficient.view(1, -1, 1)


def _numerator_denominator(x: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """P(x) and Q(x) by Horner's rule: x (N, G, D), a (G, m + 1), b (G, n) -> (N, G, D) each."""
    m, n = a.shape[1] - 1, b.shape[1]
    p = _per_group(a[:, m]) * torch.ones_like(x)
    for i in range(m - 1, -1, -1):
        p = p * x + _per_group(a[:, i])
    q = torch.zeros_like(x)
    for i in range(n - 1, -1, -1):
        q = (q + _per_group(b[:, i].abs())) * x.abs()
    return p, q + 1


def _units(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Group-shared safe Padé units: x (N, C), a (G, m + 1), b (G, n) -> (N, C)."""
    p, q = _numerator_denominator(_grouped(x, a.shape[0]), a, b)
    return (p / q).reshape(x.shape)


def _units_backward(x: Tensor, a: Tensor, b: Tensor, grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of sum(grad * units(x)) in x (N, C), a (G, m + 1) and b (G, n), recomputing P and Q."""
    groups, m, n = a.shape[0], a.shape[1] - 1, b.shape[1]
    xg, ax = _grouped(x, groups), _grouped(x, groups).abs()
    p, q = _numerator_denominator(xg, a, b)
    y = p / q
    dp = torch.zeros_like(xg)  # P'(x)
    for i in range(m, 0, -1):
        dp = dp * xg + _per_group(i * a[:, i])
    dq = torch.zeros_like(xg)  # Q'(x) = sign(x) sum i |b_i| |x|^(i-1)
    for i in range(n, 0, -1):
        dq = dq * ax + _per_group(i * b[:, i - 1].abs())
    r = _grouped(grad, groups) / q
    grad_x = (r * (dp - y * dq.mul(xg.sign()))).reshape(x.shape)
    grad_a, t = [], r  # dy/da_i = x^i / Q
    for _ in range(m + 1):
        grad_a.append(t.sum((0, 2)))
        t = t * xg
    grad_b, t = [], -r * y  # dy/d|b_i| = -y |x|^i / Q
    for _ in range(n):
        t = t * ax
        grad_b.append(t.sum((0, 2)))
    grad_b = torch.stack(grad_b, 1) * b.sign() if n else torch.zeros_like(b)
    return grad_x, torch.stack(grad_a, 1), grad_b


class GroupRational(torch.autograd.Function):
    """KAT's group-rational activation, saving only its input.

    Autograd through the basis would keep the (N, C, m + 1) feature tensor and a dozen
    (N, C) temporaries; this keeps x and recomputes P and Q in backward, where the
    coefficient gradients are reduced per group. ``fused`` (True, False or "auto") compiles both kernels.

    Shapes: x (N, C), numerator (G, m + 1), denominator (G, n) -> (N, C); G divides C.
    """

    @staticmethod
    def forward(ctx, x: Tensor, numerator: Tensor, denominator: Tensor, fused: bool | str) -> Tensor:
        ctx.save_for_backward(x, numerator, denominator)
        fused = compile_now(fused, x.numel() * numerator.shape[1])  # backward does the same
        ctx.fused = fused
        return maybe_compiled(_units, fused, "group-rational")(x, numerator, denominator)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, a, b = ctx.saved_tensors
        kernel = maybe_compiled(_units_backward, ctx.fused, "group-rational", token_args=(0, 3))
        grad_x, grad_a, grad_b = kernel(x, a, b, grad.contiguous())
        return grad_x, grad_a, grad_b, None


def _refine(x: Tensor, y: Tensor, a0: Tensor, b0: Tensor) -> tuple[Tensor, Tensor]:
    """LBFGS on the mean squared error of P/Q against y, from (a0, b0)."""
    a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    opt = torch.optim.LBFGS([a, b], lr=1, max_iter=500, tolerance_grad=1e-14, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = ((rational(x, a, b) - y) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return a.detach(), b.detach().abs()


@cache
def fit_rational(
    target: str, m: int = 5, n: int = 4, domain: tuple[float, float] = (-3.0, 3.0)
) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """Least-squares fit of the safe Padé unit to ``target`` on ``domain`` (float64).

    The better of two starts (the best polynomial, Q = 1; a linearised solve of
    P - f * sum c_i |x|^i = f) is refined by LBFGS on the true squared error, unless it is
    already exact (identity: P = x, Q = 1).

    Returns:
        (numerator a_0..a_m, denominator b_1..b_n, max abs error on the domain).
    """
    if target not in RATIONAL_TARGETS:
        raise ValueError(f"rational_init={target!r} is not known; choose one of {sorted(RATIONAL_TARGETS)}")
    fn = RATIONAL_TARGETS[target]
    x = torch.linspace(*domain, 2001, dtype=torch.float64, device="cpu")  # never on a meta device
    y = fn(x)
    powers = torch.stack([x**i for i in range(m + 1)], 1)

    def solve(cols: Tensor, driver: str = "gelsd") -> Tensor:
        # SVD drivers only (gelsd, gelss): minimum-norm solutions even when columns repeat (for odd
        # targets -f|x|^i duplicates x^(i+1)), and bit-identical on every call. gelsy (pivoted QR) is
        # not: MKL picks its code path by buffer alignment, and LBFGS carried the last-bit differences
        # into the coefficients, so grkan's warm start (and a fine-tune from it) changed between runs.
        return torch.linalg.lstsq(cols, y.unsqueeze(1), driver=driver).solution.squeeze(1)

    # Two starts: the best polynomial (Q = 1), and the linearised rational fit
    # P - f sum c_i |x|^i = f with |c| taken as the denominator. Keep the best.
    starts = [(solve(powers), torch.zeros(n, dtype=torch.float64, device="cpu"))]
    if target not in ("identity", "gelu"):  # similar shapes: the gelu fit is a good start
        ga, gb, _ = fit_rational("gelu", m, n, domain)
        cpu = dict(dtype=torch.float64, device="cpu")
        starts.append((torch.tensor(ga, **cpu), torch.tensor(gb, **cpu)))
    if n:
        cols = torch.cat([powers, torch.stack([-y * x.abs() ** (i + 1) for i in range(n)], 1)], 1)
        for driver in ("gelsd", "gelss"):
            lin = solve(cols, driver)
            starts.append((lin[: m + 1], lin[m + 1 :].abs()))
    err = lambda ab: (rational(x, *ab) - y).abs().max().item()  # noqa: E731
    best = min(starts, key=err)
    if n and err(best) > 1e-12:
        # Refine both starts; |b| has no gradient at 0, so the polynomial start gets a
        # small positive denominator first.
        refined = [_refine(x, y, a0, torch.where(b0 > 0, b0, 1e-2)) for a0, b0 in starts]
        best = min([*starts, *refined], key=err)
    a, b = best
    return tuple(a.tolist()), tuple(b.abs().tolist()), err(best)


@register_basis
class RationalBasis(Basis):
    """Features x^p / Q_r(x), p = 0..m, with a learnable denominator per row.

    A learnable edge function sum_p c_p x^p / Q(x) is then exactly a safe Padé unit whose
    numerator is the layer's coefficients. ``rational_init`` picks the function the unit
    starts as (its denominator is fitted; :meth:`reference_coefficients` gives the
    numerator): identity, gelu or silu. Max fit errors on [-3, 3] for m=5, n=4 are
    reported by :func:`fit_rational`.

    A denominator coefficient at exactly 0 gets zero gradient through |b| (the identity
    start): such a unit trains as a polynomial until its numerator moves it elsewhere.
    """

    name = "rational"

    def __init__(
        self,
        channels: int,
        rows: int,
        *,
        grid_size: int,
        spline_order: int,
        grid_range: tuple[float, float],
        numerator_degree: int = 5,
        denominator_degree: int = 4,
        rational_init: str = "gelu",
        fused: bool | str = False,
    ) -> None:
        super().__init__(channels, rows)
        self.fused = fused
        a, b, self.fit_error = fit_rational(rational_init, numerator_degree, denominator_degree)
        self.rational_init = rational_init
        self.num_functions = numerator_degree + 1
        self._reference = a  # a plain tuple: no buffer to materialise after meta-device loading
        self.denominator = nn.Parameter(torch.tensor(b, dtype=torch.float32).repeat(rows, 1))

    def forward(self, x: Tensor) -> Tensor:
        b = self.expand_rows(self.denominator).to(x.dtype).abs()  # (C, n)
        ax = x.abs().unsqueeze(-1)
        q = 1 + (b * ax ** torch.arange(1, b.shape[1] + 1, device=x.device, dtype=x.dtype)).sum(-1)
        powers = x.unsqueeze(-1) ** torch.arange(self.num_functions, device=x.device, dtype=x.dtype)
        return powers / q.unsqueeze(-1)

    def units(self, x: Tensor, numerator: Tensor) -> Tensor:
        """Each channel's unit sum_p numerator[r, p] x^p / Q_r(x), one row r per channel group:
        x (N, C), numerator (rows, F) -> (N, C). Equals ``(self(x) * numerator per channel).sum(-1)``
        without the (N, C, F) features, in training memory too."""
        return GroupRational.apply(x, numerator.to(x.dtype), self.denominator.to(x.dtype), self.fused)

    def reference_coefficients(self) -> Tensor:
        return torch.tensor(self._reference, device=self.denominator.device)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, init={self.rational_init}, fit_error={self.fit_error:.1e}"


def refit_to_samples(
    numerator: Tensor, denominator: Tensor, target: str, samples: Tensor, steps: int = 200
) -> tuple[Tensor, Tensor, Tensor]:
    """Refit safe Padé units to ``target`` where the data actually are.

    Minimises the mean squared error over ``samples`` instead of a fixed interval, so
    each unit matches its activation on the inputs it will see (a safe Padé unit has
    the same slope at both tails and cannot follow an asymmetric activation everywhere).

    Args:
        numerator: (R, m + 1) starting coefficients, one row per unit.
        denominator: (R, n) starting denominators.
        target: an activation name of :data:`RATIONAL_TARGETS`.
        samples: (S, R) inputs of each unit.

    Returns:
        (numerator, denominator, rms error per unit (R,)), float64 on the samples' device.
    """
    fn = RATIONAL_TARGETS[target]
    x = samples.double().T  # (R, S)
    y = fn(x)
    a = numerator.detach().double().clone().requires_grad_()
    b = denominator.detach().double().abs().clamp_min(1e-3).requires_grad_()

    def units(a: Tensor, b: Tensor) -> Tensor:
        p = sum(a[:, i : i + 1] * x**i for i in range(a.shape[1]))
        q = 1 + sum(b[:, i : i + 1].abs() * x.abs() ** (i + 1) for i in range(b.shape[1]))
        return p / q

    opt = torch.optim.LBFGS([a, b], lr=1, max_iter=steps, tolerance_grad=1e-12, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = (units(a, b) - y).pow(2).mean(1).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        rms = (units(a, b) - y).pow(2).mean(1).sqrt()
    return a.detach(), b.detach().abs(), rms
