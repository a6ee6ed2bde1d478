"""pgs-serve test fixtures: a tiny trained head (avatar files) and a live server on 127.0.0.1."""

from __future__ import annotations

import os
import sys
import time
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
def _server(tiny: dict[str, Path]) -> Iterator[ServerThread]:
    thread = ServerThread(tiny["still"], max_sessions=2)
    yield thread
    thread.stop()


@pytest.fixture
def server(_server: ServerThread) -> ServerThread:
    """The server of the one-pose avatar, with every session of earlier tests gone.

    Constant pose: frame differences come from the audio alone.
    """
    deadline = time.monotonic() + 45  # a peer that vanished is dropped when ICE consent expires (~30 s)
    while _server.sessions() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _server.sessions() == 0, "sessions of an earlier test are still open"
    return _server
