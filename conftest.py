"""Workspace-wide pytest setup: the `gpu` marker skips without CUDA; shared test-data location."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Real test material lives beside the checkout (never committed): ../shared/data/.
SHARED_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu`-marked tests when CUDA is not available."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (gpu marker); none is available here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; tests needing a file there skip with a reason when it is absent."""
    return SHARED_DATA
