"""KANLinear: a drop-in replacement for nn.Linear with a learnable function on every edge.

    y_j = b_j + sum_i [ w_ij * base(x_i) + phi_ij(x_i) ],   phi_ij(x) = sum_k c_ijk B_k(x)

``sharing="edge"`` is the classic KAN: every edge (i, j) has its own coefficients c_ij.
``sharing="group"`` is KAT's group-rational form: the learnable function depends only
on the group of input i and a plain linear map follows,

    u_i = base(x_i) + phi_{g(i)}(x_i),   y = W u + b,

which costs one Linear plus ``groups * F`` coefficients: affordable at transformer
width.

Initialisation (variance-aware, for x ~ N(0, 1) per input):
  * edge: base weights and spline coefficients are drawn N(0, s^2) with s chosen so
    that the output variance is ``init_scale**2``, split between the base and spline
    branches by ``spline_share``; the second moments E[base(x)^2] and E[B_k(x)^2] are
    computed by Gauss-Hermite quadrature for the actual basis, so the scale holds for
    every basis, grid and width.
  * group: the shared functions start as the basis' reference function (rational) or
    small noise, and W is scaled by the measured E[u^2].
  * ``spline_init="zero"``: the learnable term starts at exactly 0, so the layer is its
    base branch (used for function-preserving warm starts).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .activations import BASE_ACTIVATIONS
from .basis import BASES, Basis
from .basis.base import compute_dtype
from .basis.bspline import BSplineBasis
from .bspline import bspline_basis
from .compiled import check_fused
from .kernels import KERNELS, check_triton, require_triton, triton_available, triton_device_ok
from .knots import adaptive_grid, extend_knots, interior, refine_grid, uniform_knots

SHARING = ("edge", "group")
FUSED_BASES = ("bspline", "rational")
TRITON_LAYERS = (("bspline", "edge"), ("rational", "group"))  # (basis, sharing) with Triton kernels
SPLINE_INIT = ("noise", "zero")


def _require(ok: bool, name: str, value: object, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid: {allowed}")


def _gauss_normal(n: int = 64) -> tuple[Tensor, Tensor]:
    """Nodes and weights with sum_q w_q f(x_q) ~ E[f(x)] for x ~ N(0, 1)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return torch.tensor(nodes, device="cpu"), torch.tensor(weights / math.sqrt(2 * math.pi), device="cpu")


class KANLinear(nn.Module):
    """A KAN layer mapping (..., in_features) -> (..., out_features).

    Args:
        in_features, out_features: widths, as for nn.Linear.
        basis: one of ``BASES`` ("bspline", "rbf", "chebyshev", "fourier", "rational").
        grid_size: intervals of the grid (bspline/rbf), degree (chebyshev), number of
            frequencies (fourier). Ignored by rational.
        spline_order: B-spline order K, 1..5 (cubic = 3).
        grid_range: (lo, hi) the grid covers at initialisation.
        base_activation: "silu", "gelu", "gelu_tanh", "relu", "identity" or "none" (no base branch).
        bias: learn an additive bias.
        sharing: "edge" (phi_ij per edge) or "group" (phi per input-channel group).
        groups: number of channel groups for sharing="group"; must divide in_features.
        spline_init: "noise" (variance-aware random start) or "zero".
        init_scale: target output std for unit-variance inputs.
        spline_share: fraction of the initial output variance carried by the learnable
            term when both branches exist (edge sharing).
        grid_eps: default blend for :meth:`update_grid` (1 = uniform, 0 = quantiles).
        fused: compile the basis kernels with torch.compile (bspline and rational): True, False
            or "auto" (compiled for calls over at least
            :data:`~kanformer.layers.compiled.AUTO_MIN_ELEMENTS` basis entries, eager below and
            for the other bases). Compilation costs seconds once per process and layer width;
            where it fails the layer runs eager after one warning.
        kernel: "torch" (the default), "triton" (fused Triton kernels for basis="bspline",
            sharing="edge" on uniform knots, and for the group-rational units of basis="rational",
            sharing="group" (KAT; the Linear runs in torch): CUDA tensors, ``pip install kanformer[gpu]``) or
            "auto" (Triton on CUDA tensors where it is installed and supported, else torch).
            With "triton", knots made non-uniform by :meth:`update_grid` and float64 inputs run
            the torch path after one warning. The Triton kernels are torch.library ops:
            ``torch.compile(fullgraph=True)`` of a model holding such layers has no graph break.
        **basis_kwargs: extra options of the basis (rational: ``numerator_degree``,
            ``denominator_degree``, ``rational_init``).

    Parameters (edge): ``base_weight`` (O, I), ``spline_weight`` (O, I, F), ``bias`` (O,).
    Parameters (group): ``weight`` (O, I), ``coefficients`` (groups, F), ``bias`` (O,).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        basis: str = "bspline",
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        base_activation: str = "silu",
        bias: bool = True,
        sharing: str = "edge",
        groups: int = 8,
        spline_init: str = "noise",
        init_scale: float = 1.0,
        spline_share: float = 0.5,
        grid_eps: float = 0.02,
        fused: bool | str = False,
        kernel: str = "torch",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **basis_kwargs: object,
    ) -> None:
        super().__init__()
        _require(isinstance(in_features, int) and in_features >= 1, "in_features", in_features, "an integer >= 1")
        _require(isinstance(out_features, int) and out_features >= 1, "out_features", out_features, "an integer >= 1")
        _require(basis in BASES, "basis", basis, f"choose one of {sorted(BASES)}")
        _require(isinstance(grid_size, int) and grid_size >= 1, "grid_size", grid_size, "an integer >= 1")
        _require(spline_order in range(1, 6), "spline_order", spline_order, "an integer in 1..5")
        lo, hi = (float(v) for v in grid_range)
        _require(lo < hi, "grid_range", tuple(grid_range), "need low < high")
        _require(
            base_activation in BASE_ACTIVATIONS,
            "base_activation",
            base_activation,
            f"choose one of {sorted(BASE_ACTIVATIONS)}",
        )
        _require(sharing in SHARING, "sharing", sharing, f"choose one of {list(SHARING)}")
        _require(spline_init in SPLINE_INIT, "spline_init", spline_init, f"choose one of {list(SPLINE_INIT)}")
        _require(0.0 <= spline_share <= 1.0, "spline_share", spline_share, "a fraction in [0, 1]")
        _require(0.0 <= grid_eps <= 1.0, "grid_eps", grid_eps, "a fraction in [0, 1]")
        if sharing == "group":
            ok = isinstance(groups, int) and 1 <= groups <= in_features and in_features % groups == 0
            _require(ok, "groups", groups, f"a divisor of in_features={in_features}")
        check_fused(fused)
        if fused is True and basis not in FUSED_BASES:
            raise ValueError(
                f"fused=True is invalid for basis={basis!r}: only {list(FUSED_BASES)} have fused kernels "
                '(fused="auto" runs the others eager)'
            )
        _require(kernel in KERNELS, "kernel", kernel, f"choose one of {list(KERNELS)}")
        if kernel == "triton":
            if (basis, sharing) not in TRITON_LAYERS:
                raise ValueError(
                    f'kernel="triton" is invalid for basis={basis!r}, sharing={sharing!r}: the Triton kernels cover '
                    'basis="bspline" with sharing="edge" and basis="rational" with sharing="group"; use kernel="torch" '
                    '(or "auto") for this layer'
                )
            require_triton()
        self.kernel = kernel
        self._triton_warned = False

        self.in_features, self.out_features = in_features, out_features
        self.sharing, self.base_activation_name = sharing, base_activation
        self.groups = groups if sharing == "group" else in_features
        self.grid_eps = grid_eps
        self._act = BASE_ACTIVATIONS[base_activation]
        opts = dict(grid_size=grid_size, spline_order=spline_order, grid_range=(lo, hi), **basis_kwargs)
        if basis in FUSED_BASES:
            opts["fused"] = fused
        try:
            self.basis: Basis = BASES[basis](in_features, self.groups, **opts)
        except TypeError as err:  # an option the basis does not take
            raise ValueError(f"basis={basis!r} does not accept these options: {err}") from None
        nf = self.basis.num_functions
        factory = {"device": device, "dtype": dtype}
        if sharing == "edge":
            self.base_weight = nn.Parameter(torch.empty(out_features, in_features, **factory)) if self._act else None
            self.spline_weight = nn.Parameter(torch.empty(out_features, in_features, nf, **factory))
        else:
            self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
            self.coefficients = nn.Parameter(torch.empty(self.groups, nf, **factory))
        self.bias = nn.Parameter(torch.zeros(out_features, **factory)) if bias else None
        self.basis.to(device=device, dtype=dtype if dtype is not None and dtype.is_floating_point else None)
        self.reset_parameters(spline_init=spline_init, init_scale=init_scale, spline_share=spline_share)

    # ------------------------------------------------------------------ init
    @torch.no_grad()
    def _quadrature(self) -> tuple[Tensor, Tensor]:
        """Gauss-Hermite nodes broadcast to every input, (Q, I), and weights (Q,)."""
        x, w = _gauss_normal()
        p = next(self.parameters())
        return x.unsqueeze(1).expand(-1, self.in_features).to(p.device, torch.float32), w.to(p.device, torch.float32)

    @torch.no_grad()
    def reset_parameters(self, spline_init: str = "noise", init_scale: float = 1.0, spline_share: float = 0.5) -> None:
        """Re-draw all parameters (see the module docstring for the scheme)."""
        _require(spline_init in SPLINE_INIT, "spline_init", spline_init, f"choose one of {list(SPLINE_INIT)}")
        if any(p.is_meta for p in self.parameters()):
            return  # built on the meta device (e.g. by from_pretrained): weights come from a checkpoint
        xq, wq = self._quadrature()
        m2_base = float(wq @ self._act(xq[:, 0]).pow(2)) if self._act else 0.0
        feats = self.basis(xq).mean(1).double()  # (Q, F): channels are identical at init
        gram = torch.einsum("q,qf,qg->fg", wq.double(), feats, feats)  # E[B B^T]
        ref = self.basis.reference_coefficients()
        ref = ref.double().to(gram.device) if ref is not None else None
        # E[phi^2] at unit coefficient scale (for a reference function, c = v * ref).
        m2_phi = float(ref @ gram @ ref) if ref is not None else float(gram.trace())
        if self.bias is not None:
            self.bias.zero_()
        n_in = self.in_features
        if self.sharing == "edge":
            share = 0.0 if spline_init == "zero" else (spline_share if self._act else 1.0)
            if self.base_weight is not None:
                self.base_weight.normal_(0, init_scale * math.sqrt((1 - share) / (n_in * m2_base)))
            std = init_scale * math.sqrt(share / (n_in * m2_phi))
            if ref is None:
                self.spline_weight.normal_(0, std)
            else:
                v = torch.randn(self.out_features, n_in, 1, dtype=torch.float64, device=ref.device) * std
                self.spline_weight.copy_(v * ref)
            return
        # Group sharing: u = base(x) + phi_g(x), then W scaled by the measured E[u^2].
        if spline_init == "zero":
            self.coefficients.zero_()
        elif ref is not None:
            self.coefficients.copy_(ref.expand_as(self.coefficients))
        else:
            target = spline_share * m2_base if self._act else 1.0
            self.coefficients.normal_(0, math.sqrt(target / float(gram.trace())))
        m2_u = float(wq @ self.activation(xq).pow(2).mean(1))
        if m2_u < 1e-8:  # u starts at 0 (zero spline, no base): scale W for unit-variance u
            m2_u = 1.0
        self.weight.normal_(0, init_scale / math.sqrt(n_in * m2_u))

    # --------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        """(..., in_features) -> (..., out_features)."""
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"input width {x.shape[-1]} does not match in_features={self.in_features} "
                f"(input shape {tuple(x.shape)}); pass (..., {self.in_features})"
            )
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        device_type = x.device.type
        if device_type != "meta" and torch.is_autocast_enabled(device_type):
            out_dtype = torch.get_autocast_dtype(device_type)
            with torch.autocast(device_type, enabled=False):
                y = self._forward2d(x2, out_dtype)
        else:
            y = self._forward2d(x2, self._weight_dtype())
        return y.reshape(*lead, self.out_features)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters of functions shared by many channels: group coefficients and basis state
        (rational denominators). Their gradients sum over every channel and token that shares
        them, so they are orders of magnitude larger than a weight's."""
        shared = list(self.basis.parameters())
        return [*shared, self.coefficients] if self.sharing == "group" else shared

    def _weight_dtype(self) -> torch.dtype:
        return (self.spline_weight if self.sharing == "edge" else self.weight).dtype

    def _use_triton(self, x: Tensor) -> bool:
        """Whether this forward runs the Triton kernels (see ``kernel``)."""
        kernel = getattr(self, "kernel", "torch")  # layers pickled before the option existed
        if kernel == "torch" or (self.basis.name, self.sharing) not in TRITON_LAYERS:
            return False
        if kernel == "triton":
            check_triton(x.device)
        elif not (triton_available() and x.device.type == "cuda" and triton_device_ok(x.device)):
            return False
        why = None
        if x.dtype == torch.float64 or self._weight_dtype() == torch.float64:
            why = "float64 is not supported by the Triton kernels"
        elif self.sharing == "edge" and not self.basis.uniform:
            why = "the knots are not uniform (moved by update_grid with grid_eps < 1)"
        if why is None:
            return True
        if kernel == "triton" and not getattr(self, "_triton_warned", False):
            self._triton_warned = True
            warnings.warn(f'kernel="triton": {why}; this layer runs the torch path', stacklevel=3)
        return False

    def _forward_triton(self, x: Tensor, dtype: torch.dtype) -> Tensor:
        from .kernels.bspline_triton import ACT_CODES, spline_linear

        knots = self.basis.knots.to(torch.float32)
        t0 = knots[:, 0].contiguous()
        inv_h = (1.0 / (knots[:, 1] - knots[:, 0])).contiguous()
        w = self.spline_weight.reshape(self.out_features, -1).to(dtype)
        wb = self.base_weight.to(dtype) if self.base_weight is not None else None
        bias = self.bias.to(dtype) if self.bias is not None else None
        act = ACT_CODES[self.base_activation_name]
        return spline_linear(x, t0, inv_h, wb, w, bias, self.basis.spline_order, act)

    def _forward2d(self, x: Tensor, dtype: torch.dtype) -> Tensor:
        if self._use_triton(x):
            return self._forward_triton(x, dtype) if self.sharing == "edge" else self._forward_units_triton(x, dtype)
        xb = x.to(compute_dtype(x))
        bias = self.bias.to(dtype) if self.bias is not None else None
        if self.sharing == "edge":
            w = self.spline_weight.reshape(self.out_features, -1).to(dtype)
            y = self.basis.linear(xb, w)
            if self.base_weight is not None:
                y = y + F.linear(self._act(x).to(dtype), self.base_weight.to(dtype))
            return y + bias if bias is not None else y
        return F.linear(self.activation(xb).to(dtype), self.weight.to(dtype), bias)

    def activation(self, x: Tensor) -> Tensor:
        """Group sharing: u_i = base(x_i) + phi_{g(i)}(x_i), (N, C) -> (N, C)."""
        u = self.basis.units(x, self.coefficients)
        return u + self._act(x) if self._act else u

    def _forward_units_triton(self, x: Tensor, dtype: torch.dtype) -> Tensor:
        """Group sharing with the group-rational Triton kernel: (N, I) -> (N, O) in ``dtype``."""
        from .kernels.rational_triton import group_rational

        # The kernel computes in fp32 from any input dtype: half activations that the Linear takes in
        # their own dtype are read as they are (half the traffic, and only x is saved for backward).
        if self._act is not None or x.dtype != dtype:
            x = x.to(compute_dtype(x))
        u = group_rational(x, self.coefficients, self.basis.denominator)
        if self._act is not None:
            u = u + self._act(x)
        bias = self.bias.to(dtype) if self.bias is not None else None
        return F.linear(u.to(dtype), self.weight.to(dtype), bias)

    def edge_functions(self, x: Tensor) -> Tensor:
        """Every edge function phi_ij(x_i) incl. its base term: (N, I) -> (N, O, I).

        Materialises (N, O, I): meant for plots and checks on small layers.
        """
        x = x.reshape(-1, self.in_features)
        xb = x.to(compute_dtype(x))
        if self.sharing == "group":
            return self.weight.unsqueeze(0) * self.activation(xb).unsqueeze(1)
        out = torch.einsum("nif,oif->noi", self.basis(xb), self.spline_weight.to(xb.dtype))
        if self.base_weight is not None:
            out = out + self.base_weight.unsqueeze(0) * self._act(xb).unsqueeze(1)
        return out

    # ------------------------------------------------------------ regulariser
    def edge_scale(self, x: Tensor) -> Tensor:
        """Importance of each edge: std over the batch of phi_ij(x_i) / (std(x_i) + 0.1).

        pykan's default metric ("edge_forward_spline_n"), computed from the (I, F+1,
        F+1) covariance of the per-input features, never a (N, O, I) tensor.

        Args:
            x: (..., in_features) a batch of inputs.

        Returns:
            (out_features, in_features) non-negative scales.
        """
        x = x.reshape(-1, self.in_features)
        xb = x.to(compute_dtype(x))
        in_std = xb.std(0) + 0.1
        if self.sharing == "group":
            return self.weight.abs().to(xb.dtype) * (self.activation(xb).std(0) / in_std)
        feats = self.basis(xb)
        coef = self.spline_weight.to(xb.dtype)
        if self.base_weight is not None:
            feats = torch.cat([self._act(xb).unsqueeze(-1), feats], -1)
            coef = torch.cat([self.base_weight.to(xb.dtype).unsqueeze(-1), coef], -1)
        centred = feats - feats.mean(0)
        cov = torch.einsum("nif,nig->ifg", centred, centred) / max(x.shape[0] - 1, 1)
        var = torch.einsum("oif,ifg,oig->oi", coef, cov, coef)
        return var.clamp_min(0).add(1e-12).sqrt() / in_std

    def regularization_loss(
        self,
        x: Tensor,
        lamb_l1: float = 1.0,
        lamb_entropy: float = 2.0,
        lamb_coef: float = 0.0,
        lamb_coefdiff: float = 0.0,
    ) -> Tensor:
        """pykan's regulariser on a batch x (..., in_features): a scalar.

        l1 = sum of edge scales; entropy of the scales normalised per row and per
        column; plus optional L1 of the coefficients and of their differences.
        """
        scale = self.edge_scale(x)
        p_row = scale / (scale.sum(1, keepdim=True) + 1)
        p_col = scale / (scale.sum(0, keepdim=True) + 1)
        ent_row = -(p_row * torch.log2(p_row + 1e-4)).sum(1).mean()
        ent_col = -(p_col * torch.log2(p_col + 1e-4)).sum(0).mean()
        reg = lamb_l1 * scale.sum() + lamb_entropy * (ent_row + ent_col)
        if lamb_coef or lamb_coefdiff:
            c = self.spline_weight if self.sharing == "edge" else self.coefficients
            reg = reg + lamb_coef * c.abs().mean(-1).sum() + lamb_coefdiff * c.diff(dim=-1).abs().mean(-1).sum()
        return reg

    # ----------------------------------------------------------------- grids
    def _spline_basis(self) -> BSplineBasis:
        if not isinstance(self.basis, BSplineBasis):
            raise ValueError(f"grid updates need basis='bspline', this layer has basis={self.basis.name!r}")
        return self.basis

    def _row_samples(self, x: Tensor) -> Tensor:
        """(N, I) inputs -> (S, rows) samples of each knot row (groups pool their inputs)."""
        if self.sharing == "edge":
            return x
        n = x.shape[0]
        return x.view(n, self.groups, -1).transpose(1, 2).reshape(-1, self.groups)

    @torch.no_grad()
    def _refit(self, samples: Tensor, new_knots: Tensor) -> None:
        """Move to ``new_knots`` (rows, n'), refitting coefficients by least squares on samples (S, rows)."""
        basis = self._spline_basis()
        k = basis.spline_order
        s = samples.double()
        old = bspline_basis(s, basis.knots.double(), k, basis.uniform)  # (S, R, F)
        new = bspline_basis(s, new_knots.double(), k)  # (S, R, F')
        driver = "gelsd" if s.device.type == "cpu" else None
        t = torch.linalg.lstsq(new.transpose(0, 1), old.transpose(0, 1), driver=driver).solution  # (R, F', F)
        name = "spline_weight" if self.sharing == "edge" else "coefficients"
        old_c = getattr(self, name)
        eq = "inf,oif->oin" if self.sharing == "edge" else "gnf,gf->gn"
        c = torch.einsum(eq, t, old_c.double()).to(old_c).contiguous()
        if c.shape == old_c.shape:
            old_c.copy_(c)  # same shape: keep the Parameter (and optimiser state) in place
        else:
            setattr(self, name, nn.Parameter(c))
        basis.set_knots(new_knots)

    @torch.no_grad()
    def update_grid(self, x: Tensor, grid_eps: float | None = None) -> None:
        """Move the knots to the data x (..., in_features) and refit the coefficients.

        pykan semantics: per row, grid points are ``grid_eps * uniform + (1 - grid_eps) *
        quantiles`` of the samples (range widened by 1%), extended by ``spline_order``
        knots each side; then the coefficients are refitted by least squares so the
        layer's outputs on x are preserved. With grid_eps=1 the grid stays uniform.
        """
        basis = self._spline_basis()
        eps = self.grid_eps if grid_eps is None else grid_eps
        _require(0.0 <= eps <= 1.0, "grid_eps", eps, "a fraction in [0, 1]")
        samples = self._row_samples(x.reshape(-1, self.in_features).to(basis.knots.dtype))
        grid = adaptive_grid(samples.double(), basis.grid_size, eps)
        self._refit(samples, extend_knots(grid, basis.spline_order))

    @torch.no_grad()
    def extend_grid(self, new_grid_size: int) -> None:
        """Refine the grid to ``new_grid_size`` intervals, preserving the function on it.

        New grid points interpolate the old ones (so refining by an integer factor keeps
        every old knot and is exact up to rounding); coefficients are refitted by least
        squares on dense samples of [lo, hi]. Outside [lo, hi] the border functions
        change with the finer spacing.
        """
        basis = self._spline_basis()
        _require(
            isinstance(new_grid_size, int) and new_grid_size >= 1, "new_grid_size", new_grid_size, "an integer >= 1"
        )
        k = basis.spline_order
        grid = interior(basis.knots.double(), k)
        new_knots = extend_knots(refine_grid(grid, new_grid_size), k)
        frac = torch.linspace(0, 1, 16 * (new_grid_size + k), dtype=torch.float64, device=grid.device)
        samples = (grid[:, :1] + frac * (grid[:, -1:] - grid[:, :1])).T  # (S, rows)
        self._refit(samples, new_knots)

    def resize_grid(self, grid_size: int) -> None:
        """Give the layer a fresh uniform grid of ``grid_size`` intervals (structure only).

        The coefficients are re-allocated, not refitted: use it to match a checkpoint
        whose grid was extended before it was saved; :meth:`extend_grid` preserves the
        function instead.
        """
        basis = self._spline_basis()
        if grid_size == basis.grid_size:
            return
        k = basis.spline_order
        lo, hi = interior(basis.knots, k)[:, [0, -1]].T
        basis.set_knots(
            uniform_knots(
                basis.rows, grid_size, k, torch.stack([lo, hi], 1), dtype=basis.knots.dtype, device=basis.knots.device
            )
        )
        self._resize_coefficients(basis.num_functions)

    def _resize_coefficients(self, nf: int) -> None:
        name = "spline_weight" if self.sharing == "edge" else "coefficients"
        old = getattr(self, name)
        if old.shape[-1] != nf:
            setattr(self, name, nn.Parameter(old.new_zeros(*old.shape[:-1], nf), requires_grad=old.requires_grad))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001
        # A grid extended or moved before saving: adopt its knots before loading.
        key = prefix + "basis.knots"
        if key in state_dict and isinstance(self.basis, BSplineBasis):
            knots = state_dict[key]
            self.basis.set_knots(knots)
            self._resize_coefficients(self.basis.num_functions)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, sharing={self.sharing}, "
            f"base_activation={self.base_activation_name}, bias={self.bias is not None}"
        )
