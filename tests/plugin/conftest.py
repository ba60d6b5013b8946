"""Setup of the kanify plugin tests: offline, quiet transformers; rational-fit cache fixtures.

The tiny models live in plugin_helpers.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import warnings  # noqa: E402

import pytest  # noqa: E402

try:  # another test folder may have imported huggingface_hub before this conftest ran
    import huggingface_hub.constants as _hf_constants

    if os.environ["HF_HUB_OFFLINE"] == "1":
        _hf_constants.HF_HUB_OFFLINE = True
except ImportError:  # pragma: no cover
    pass

import transformers  # noqa: E402

from kanformer import KANLinear  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
warnings.filterwarnings("ignore", module="transformers")


@pytest.fixture
def warm_rational_cache() -> None:
    """Build each rational start once on the CPU.

    The rational fits are cached per process; building a rational layer on the meta
    device (match-params sizing, from_pretrained) only works once the fit is cached (see
    test_hidden.py::test_match_params_in_a_fresh_process). Tests of the sizing itself
    warm the cache through the public KANLinear constructor so they test one thing.
    """
    for target in ("identity", "gelu", "gelu_tanh", "silu"):
        KANLinear(8, 8, basis="rational", sharing="group", groups=8, base_activation="none", rational_init=target)


@pytest.fixture
def cold_rational_cache() -> None:
    """The state of a fresh Python process: no rational fit cached yet."""
    from kanformer.layers.basis.rational import fit_rational

    fit_rational.cache_clear()


@pytest.fixture(autouse=True)
def _one_thread():
    """Run the plugin tests on one intra-op thread.

    The models are tiny, so a second thread buys nothing, and on a busy 2-core machine
    OpenMP's spinning threads made the suite ~10x slower (11 min instead of ~40 s).
    Restored afterwards so other test folders keep their setting.
    """
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
