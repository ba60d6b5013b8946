"""bench-layer measures what it says: the baseline is efficient-kan's maths, numbers are sane."""

from __future__ import annotations

import torch

from kanformer.bench.layer import ADAPTED, BASELINE, EfficientKANFormulation, bench_layer, implementations
from kanformer.bench.measure import peak_bytes, saved_bytes
from kanformer.layers.bspline import bspline_basis
from kanformer.layers.knots import uniform_knots


def test_efficient_kan_formulation_basis_is_the_bspline_basis() -> None:
    """The baseline's Cox–de Boor table is the same basis as ours (so the comparison is like for like)."""
    ek = EfficientKANFormulation(6, 3, grid_size=5, spline_order=3).double()
    ek.grid = uniform_knots(6, 5, 3, (-1.0, 1.0), dtype=torch.float64)  # exact, not float32-rounded
    x = torch.rand(200, 6, dtype=torch.float64) * 2.4 - 1.2
    ours = bspline_basis(x, ek.grid, 3)
    torch.testing.assert_close(ek.b_splines(x), ours, atol=1e-12, rtol=0)


def test_bench_layer_numbers_are_positive_and_params_exact() -> None:
    results = bench_layer([(64, 16)], warmup=1, repeats=2, fused=False, adapted=True)
    by_name = {r.implementation: r for r in results}
    d, nf = 16, 8
    assert by_name["kanformer KANLinear (eager)"].params == by_name[ADAPTED].params == d * d * (1 + nf) + d
    assert by_name[BASELINE].params == d * d * (2 + nf)
    assert by_name["MLP FFN d-4d-d"].params == 2 * 4 * d * d + 4 * d + d
    for r in results:
        assert r.forward_ms > 0 and r.forward_backward_ms > 0 and r.saved_mib >= 0
    assert by_name[BASELINE].speedup_vs_baseline == 1.0


def test_saved_bytes_counts_only_new_tensors() -> None:
    """Our spline path saves nothing beyond its input and parameters; the baseline saves its basis tables."""
    x = torch.randn(128, 32, requires_grad=True)
    from kanformer import KANLinear

    ours = KANLinear(32, 32, base_activation="none")
    ek = EfficientKANFormulation(32, 32)
    assert saved_bytes(lambda: ours(x), exclude=[x, *ours.parameters(), *ours.buffers()]) == 0
    assert saved_bytes(lambda: ek(x), exclude=[x, *ek.parameters()]) >= 128 * 32 * 8 * 4


def test_peak_bytes_sees_a_large_allocation() -> None:
    peak = peak_bytes(lambda: torch.ones(64, 2**20).sum(), torch.device("cpu"))
    assert peak is None or peak >= 200 * 2**20


def test_adapted_row_runs_on_non_uniform_knots() -> None:
    layer = implementations(8, 5, 3, fused=False, adapted=True)[ADAPTED]
    assert not layer.basis.uniform


def test_time_fn_keeps_the_first_call_apart() -> None:
    """compile_s is the one-off cost of the first call (a compilation), not part of the median."""
    import time

    from kanformer.bench.measure import time_fn

    calls = []

    def step() -> None:
        time.sleep(0.3 if not calls else 0.001)
        calls.append(1)

    t = time_fn(step, torch.device("cpu"), warmup=2, repeats=3)
    assert len(calls) == 5  # the first call is one of the warm-ups
    assert t.median_ms < 50 and 0.25 < t.compile_s < 1.0
