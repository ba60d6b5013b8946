"""Fixtures of the kanify plugin tests: rational-fit cache states.

The tiny models live in plugin_helpers.py; offline, quiet and one-thread settings are in
tests/conftest.py.
"""

from __future__ import annotations

import pytest

from kanformer import KANLinear


@pytest.fixture
def warm_rational_cache() -> None:
    """Build each rational start once on the CPU.

    The rational fits are cached per process, and a layer built on the meta device
    (match-params sizing, from_pretrained) fits its start on the CPU the first time.
    Tests of the sizing itself warm the cache through the public KANLinear constructor so
    they test one thing; the cold case is test_hidden.py::test_match_params_in_a_fresh_process.
    """
    for target in ("identity", "gelu", "gelu_tanh", "silu"):
        KANLinear(8, 8, basis="rational", sharing="group", groups=8, base_activation="none", rational_init=target)


@pytest.fixture
def cold_rational_cache() -> None:
    """The state of a fresh Python process: no rational fit cached yet."""
    from kanformer.layers.basis.rational import fit_rational

    fit_rational.cache_clear()
