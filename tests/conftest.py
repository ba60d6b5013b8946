"""Shared test setup: every test starts from the same RNG state."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Seed torch's global RNG before each test so results do not depend on test order."""
    torch.manual_seed(0)
