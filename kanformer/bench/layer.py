"""``kanformer bench-layer``: one KAN layer against its baselines, side by side.

Compared at each shape (tokens, d):
  * kanformer ``KANLinear`` d -> d, B-spline, eager and with fused (compiled) kernels, and
    with the Triton kernels (``kernel="triton"``) on CUDA when triton is installed; with
    ``adapted``, also eager after ``update_grid(grid_eps=0.2)`` on standard-normal samples
    (non-uniform knots: the Cox–de Boor path);
  * the efficient-kan formulation d -> d: Cox–de Boor basis on a (tokens, d, G + K)
    tensor, then one dense matmul (written below as the baseline; same maths and
    parameters as efficient-kan's KANLinear, incl. its per-edge spline scaler);
  * nn.Linear d -> d;
  * an MLP feed-forward block d -> 4d -> d with GELU (about the KAN layer's parameters);
  * with the Triton kernels, also KAT's group-rational activation alone (the unit of a grkan
    layer, 8 groups): the torch path (compiled with ``fused``) against the Triton kernel.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import KANLinear
from ..layers.basis.rational import RationalBasis
from .measure import peak_bytes, saved_bytes, time_fn


class EfficientKANFormulation(nn.Module):
    """The efficient-kan layer's computation, as a baseline (shapes (N, I) -> (N, O)).

    Basis by the full Cox–de Boor table on (N, I, G + 2K) tensors, all kept by
    autograd; spline weights scaled per edge; one matmul for the spline term.
    """

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, spline_order: int = 3) -> None:
        super().__init__()
        self.in_features, self.out_features, self.spline_order = in_features, out_features, spline_order
        h = 2.0 / grid_size
        grid = torch.arange(-spline_order, grid_size + spline_order + 1) * h - 1.0
        self.register_buffer("grid", grid.expand(in_features, -1).contiguous())
        nf = grid_size + spline_order
        self.base_weight = nn.Parameter(torch.randn(out_features, in_features) / math.sqrt(in_features))
        self.spline_weight = nn.Parameter(torch.randn(out_features, in_features, nf) * 0.1 / math.sqrt(in_features))
        self.spline_scaler = nn.Parameter(torch.ones(out_features, in_features))

    def b_splines(self, x: Tensor) -> Tensor:
        g = self.grid
        x = x.unsqueeze(-1)
        bases = ((x >= g[:, :-1]) & (x < g[:, 1:])).to(x.dtype)
        for k in range(1, self.spline_order + 1):
            bases = (x - g[:, : -(k + 1)]) / (g[:, k:-1] - g[:, : -(k + 1)]) * bases[:, :, :-1] + (
                g[:, k + 1 :] - x
            ) / (g[:, k + 1 :] - g[:, 1:(-k)]) * bases[:, :, 1:]
        return bases

    def forward(self, x: Tensor) -> Tensor:
        base = F.linear(F.silu(x), self.base_weight)
        w = (self.spline_weight * self.spline_scaler.unsqueeze(-1)).view(self.out_features, -1)
        return base + F.linear(self.b_splines(x).view(x.shape[0], -1), w)


class MLPFeedForward(nn.Module):
    """d -> hidden -> d with GELU, the transformer FFN: (N, d) -> (N, d)."""

    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class GroupRationalUnits(nn.Module):
    """KAT's group-rational activation alone, (N, d) -> (N, d), run as a grkan KANLinear runs it: the
    torch path (fp32, compiled when ``fused``) or the Triton kernel (``triton``, reading the input
    in its dtype). Under autocast the input is first cast to the autocast dtype, as the unit of
    a grkan layer receives the previous Linear's output."""

    def __init__(self, d: int, groups: int = 8, fused: bool = True, triton: bool = False) -> None:
        super().__init__()
        opts = dict(grid_size=1, spline_order=1, grid_range=(-1.0, 1.0))  # unused by the rational basis
        self.basis = RationalBasis(d, groups, fused=fused, **opts)
        self.coefficients = nn.Parameter(self.basis.reference_coefficients().float().repeat(groups, 1))
        self.triton = triton

    def forward(self, x: Tensor) -> Tensor:
        dev = x.device.type
        dtype = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype
        x = x.to(dtype)
        if self.triton:
            from ..layers.kernels.rational_triton import group_rational

            return group_rational(x, self.coefficients, self.basis.denominator)
        return self.basis.units(x.float(), self.coefficients).to(dtype)


UNITS_TRITON = "grkan units d (triton)"
BASELINE = "efficient-kan formulation"


TRITON = "kanformer KANLinear (triton)"
ADAPTED = "kanformer KANLinear (eager, adapted grid)"


def implementations(
    d: int, grid_size: int, spline_order: int, fused: bool, triton: bool = False, adapted: bool = False
) -> dict[str, nn.Module]:
    """The layers compared at width d, by display name."""
    kan = dict(grid_size=grid_size, spline_order=spline_order)
    impls: dict[str, nn.Module] = {
        "kanformer KANLinear (eager)": KANLinear(d, d, fused=False, **kan),
    }
    if adapted:  # knots at a blend of uniform and the quantiles of the benchmark's N(0, 1) inputs
        layer = KANLinear(d, d, fused=False, **kan)
        layer.update_grid(torch.randn(4096, d), grid_eps=0.2)
        impls[ADAPTED] = layer
    if fused:
        impls["kanformer KANLinear (fused)"] = KANLinear(d, d, fused=True, **kan)
    if triton:
        impls[TRITON] = KANLinear(d, d, kernel="triton", **kan)
        groups = math.gcd(d, 8)
        impls[f"grkan units d (torch, {'fused' if fused else 'eager'})"] = GroupRationalUnits(d, groups, fused=fused)
        impls[UNITS_TRITON] = GroupRationalUnits(d, groups, triton=True)
    impls[BASELINE] = EfficientKANFormulation(d, d, **kan)
    impls["nn.Linear"] = nn.Linear(d, d)
    impls["MLP FFN d-4d-d"] = MLPFeedForward(d, 4 * d)
    return impls


@dataclass
class LayerResult:
    tokens: int
    d: int
    implementation: str
    params: int
    forward_ms: float
    forward_backward_ms: float
    forward_backward_p95_ms: float
    saved_mib: float
    peak_mib: float | None
    compile_s: float
    speedup_vs_baseline: float | None = None
    peak_ratio_vs_baseline: float | None = None


def _measure(module: nn.Module, x: Tensor, grad: Tensor, dtype: torch.dtype, warmup: int, repeats: int) -> dict:
    """Times and memory of one module on input x with output gradient grad."""
    dev = x.device
    xi = x.clone().requires_grad_()
    params = list(module.parameters())
    autocast = torch.autocast(dev.type, dtype=dtype, enabled=dtype != torch.float32)

    def forward() -> Tensor:
        with autocast:
            return module(xi)

    def infer() -> None:
        with torch.no_grad():
            forward()

    def train_step() -> None:
        forward().backward(grad)
        xi.grad = None
        for p in params:
            p.grad = None

    fb = time_fn(train_step, dev, warmup, repeats)
    fw = time_fn(infer, dev, warmup, repeats)
    peak = peak_bytes(train_step, dev)
    return dict(
        params=sum(p.numel() for p in params),
        forward_ms=fw.median_ms,
        forward_backward_ms=fb.median_ms,
        forward_backward_p95_ms=fb.p95_ms,
        saved_mib=saved_bytes(forward, exclude=[xi, *params, *module.buffers()]) / 2**20,
        peak_mib=None if peak is None else peak / 2**20,
        compile_s=fb.compile_s,
    )


def bench_layer(
    shapes: list[tuple[int, int]],
    *,
    grid_size: int = 5,
    spline_order: int = 3,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    fused: bool = True,
    triton: bool | None = None,
    adapted: bool = False,
    warmup: int = 3,
    repeats: int = 10,
    seed: int = 0,
) -> list[LayerResult]:
    """Measure every implementation at every (tokens, d) shape.

    ``dtype`` other than fp32 runs under autocast (bf16/fp16) with fp32 parameters.
    ``triton``: also measure ``kernel="triton"``; None = on CUDA when triton is installed.
    ``adapted``: also measure the eager layer on non-uniform knots (after ``update_grid``).
    """
    from ..layers.kernels import check_triton, triton_available

    dev = torch.device(device)
    if triton is None:
        triton = dev.type == "cuda" and triton_available()
    elif triton:
        check_triton(dev)
    results: list[LayerResult] = []
    for tokens, d in shapes:
        torch.manual_seed(seed)
        x = torch.randn(tokens, d, device=dev)
        grad = torch.randn(tokens, d, device=dev)
        for name, module in implementations(d, grid_size, spline_order, fused, triton, adapted).items():
            result = _measure(module.to(dev), x, grad, dtype, warmup, repeats)
            results.append(LayerResult(tokens=tokens, d=d, implementation=name, **result))
        base = next(r for r in results if r.tokens == tokens and r.d == d and r.implementation == BASELINE)
        for r in results:
            if r.tokens == tokens and r.d == d:
                r.speedup_vs_baseline = base.forward_backward_ms / r.forward_backward_ms
                if r.peak_mib and base.peak_mib:
                    r.peak_ratio_vs_baseline = r.peak_mib / base.peak_mib
    return results


def results_table(results: list[LayerResult]) -> str:
    """A markdown table of ``results``."""
    from ..reporting.tables import table

    def fmt(v: float | None, spec: str, unit: str = "") -> str:
        return "n/a" if v is None else format(v, spec) + unit

    header = [
        "shape",
        "implementation",
        "params",
        "fwd ms",
        "fwd+bwd ms (p95)",
        "saved MiB",
        "peak MiB",
        "compile s",
        "fwd+bwd speed-up vs efficient-kan",
        "peak vs efficient-kan",
    ]
    rows = [
        [
            f"{r.tokens} tok, {r.d}",
            r.implementation,
            f"{r.params / 1e6:.2f}M",
            f"{r.forward_ms:.1f}",
            f"{r.forward_backward_ms:.1f} ({r.forward_backward_p95_ms:.1f})",
            f"{r.saved_mib:.1f}",
            fmt(r.peak_mib, ".1f"),
            f"{r.compile_s:.1f}",
            fmt(r.speedup_vs_baseline, ".2f", "x"),
            fmt(r.peak_ratio_vs_baseline, ".2f", "x"),
        ]
        for r in results
    ]
    return "\n".join(table(header, rows, align="ll", spaced_rule=True))


def results_json(results: list[LayerResult]) -> list[dict]:
    return [asdict(r) for r in results]


def write_layer_report(results: list[LayerResult], env: dict, command: str, out_dir: str) -> tuple[str, str]:
    """Write ``layer.md`` and ``layer.json`` into ``out_dir`` (atomically); return their paths."""
    from pathlib import Path

    from ..io import atomic_write_json, atomic_write_text
    from ..provenance import describe

    md = "\n".join(
        [
            "# KAN layer benchmark",
            "",
            f"Command: `{command}`",
            "",
            f"Hardware and software: {describe(env)}.",
            "",
            "Forward is inference (no_grad); forward+backward is one training step (medians over repeats;"
            " p95 in brackets). Saved = bytes autograd keeps for backward; peak = peak live memory of one"
            " training step above what was live before it (on CPU: resident-set peak). Compile = the first"
            " forward+backward less the median: torch.compile's one-off cost in the fused row (paid once per"
            " process: later shapes reuse the kernels), first-call overheads elsewhere.",
            "",
            results_table(results),
            "",
        ]
    )
    out = Path(out_dir)
    md_path = atomic_write_text(out / "layer.md", md)
    json_path = atomic_write_json(
        out / "layer.json", {"command": command, "environment": env, "results": results_json(results)}
    )
    return str(md_path), str(json_path)
