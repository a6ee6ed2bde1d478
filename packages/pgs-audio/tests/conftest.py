"""pgs-audio tests: make the shared helpers module `pgs_audio_testkit` importable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run these small-tensor tests single-threaded (restored after each test).

    The ops here are tiny; on a shared, loaded CI machine torch's intra-op thread pool makes them
    10-50x slower through oversubscription.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
