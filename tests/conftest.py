"""Shared test setup, once for every test folder: offline, quiet, one torch thread, seeded.

The environment variables are set here, before any test module imports huggingface_hub,
datasets or transformers (they read them at import). Subprocesses the tests start inherit
them. Folder conftests hold only their folder's fixtures.
"""

from __future__ import annotations

import os
import sys
import warnings

ENVIRONMENT = {
    # No Hub access: everything the tests use is local (wheels, fixtures, tiny configs).
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    # Quiet: no progress bars, only errors logged.
    "TRANSFORMERS_VERBOSITY": "error",
    "DATASETS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}
for _name, _value in ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
if "huggingface_hub" in sys.modules and os.environ["HF_HUB_OFFLINE"] == "1":  # imported before us (a plugin)
    import huggingface_hub.constants

    huggingface_hub.constants.HF_HUB_OFFLINE = True

import pytest  # noqa: E402
import torch  # noqa: E402

if not torch.cuda.is_available():
    # No GPU: Triton (when installed) runs kernels in its CPU interpreter. Triton reads this once,
    # when a process first uses it, so it is set here, before any test can import it.
    os.environ.setdefault("TRITON_INTERPRET", "1")
import transformers  # noqa: E402  (lazy: cheap to import)

transformers.utils.logging.disable_progress_bar()
warnings.filterwarnings("ignore", module="transformers")


@pytest.fixture(autouse=True)
def _one_thread():
    """Run every test on one intra-op torch thread, restored afterwards.

    The models and layers are tiny, so a second thread buys nothing, and on a busy 2-core
    machine OpenMP's spinning threads made the plugin tests ~10x slower (11 min instead of
    ~40 s). Subprocesses that train set OMP_NUM_THREADS=1 themselves.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Seed torch's global RNG before each test so results do not depend on test order."""
    torch.manual_seed(0)
