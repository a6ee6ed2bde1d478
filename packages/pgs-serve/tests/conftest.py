"""pgs-serve test fixtures: a tiny trained head (avatar files) and a live server on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from pgs_serve_testkit import ServerThread, make_tiny_avatar  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trained 48x48 synthetic head: speaker folder, checkpoint, avatar, and a one-pose avatar."""
    from pgs.core.avatar import build_avatar, save_avatar

    root = tmp_path_factory.mktemp("serve")
    speaker, checkpoint, avatar = make_tiny_avatar(root)
    still = save_avatar(build_avatar(checkpoint, max_frames=1), root / "still.pgs")
    return {"speaker": speaker, "checkpoint": checkpoint, "avatar": avatar, "still": still, "root": root}


@pytest.fixture(scope="session")
def server(tiny: dict[str, Path]) -> Iterator[ServerThread]:
    """A server of the one-pose avatar (constant pose: frame differences come from the audio alone)."""
    thread = ServerThread(tiny["still"], max_sessions=2)
    yield thread
    thread.stop()
