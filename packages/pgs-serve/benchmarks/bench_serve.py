"""Live serving under load: N concurrent WebRTC sessions from Python aiortc clients fed a WAV file.

The clients run in a separate process (`pgs.serve.client.run_sessions`), as a browser would.
Each client sends the WAV (looped) as its microphone and receives the avatar. Reported per
session: sustained FPS (video frames received per second after a 2 s warm-up, client side),
audio-to-frame latency p50/p95 (server side: from the arrival of the audio sample at a frame's
time to the frame's hand-over to the video track; see `pgs.serve.pipeline`) and dropped frames
(frames the server skipped because rendering fell behind). Also the single-frame render time of
the head alone, for reference.

The head: a benchmark avatar written on the fly (random networks with the shapes of a trained
head, ``mel`` audio features, 20k head-sized face Gaussians + 3k inside-mouth ones from
`pgs.core.testing.scenes.head_scene`, 25 replayed poses, a grey background), so the figures do
not depend on a training run. ``--avatar FILE`` serves a real trained head instead (`pgs export
--avatar`), at its own frame size.

    python packages/pgs-serve/benchmarks/bench_serve.py --size 256 --sessions 1 --seconds 20
    python packages/pgs-serve/benchmarks/bench_serve.py --all          # 256/512 x 1/2 sessions, JSON
    python packages/pgs-serve/benchmarks/bench_serve.py --avatar avatar.pgs --all   # 1 and 2 sessions
    make bench                                                         # the pytest-benchmark cases
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pgs.core.avatar import Avatar, Replay, save_avatar
from pgs.core.model.branch import BranchConfig
from pgs.core.model.talking_head import TalkingHead, TalkingHeadConfig
from pgs.core.testing.scenes import head_scene
from pgs.core.training.config import TrainConfig
from pgs.serve.caller_thread import CallerThreadExecutor
from pgs.serve.client import run_sessions
from pgs.serve.engine import HeadEngine, render_thread_setup
from pgs.serve.local import ServerThread

FACE, MOUTH = 20_000, 3_000
MEL_CHANNELS = 80
REPO = Path(__file__).resolve().parents[3]
WAV = REPO.parent / "shared" / "data" / "hdtf_RD_Radio34_002.wav"


def make_bench_avatar(path: Path, size: int, face: int = FACE, mouth: int = MOUTH, poses: int = 25) -> Path:
    """Write a benchmark avatar (see the module docstring) to `path`."""
    config = TalkingHeadConfig(face=BranchConfig(num_points=16), mouth=BranchConfig.mouth(num_points=16))
    head = TalkingHead.from_config(config, audio_channels=MEL_CHANNELS, rasterizer="torch", audio_layout="mel80")
    face_g, cams = head_scene(face, size, size, cameras=poses, sh_degree=config.face.sh_degree, seed=0)
    mouth_g, _ = head_scene(mouth, size, size, sh_degree=config.mouth.sh_degree, seed=1)
    mouth_g.means.mul_(0.3).add_(torch.tensor([0.0, 0.04, -0.04]))  # a small cloud behind the lips
    mouth_g.log_scales.sub_(0.5)
    head.face.set_gaussians(face_g)
    head.mouth.set_gaussians(mouth_g)
    train = TrainConfig.model_validate({"model": head.config.model_dump(mode="json"), "rasterizer": {"name": "auto"}})
    checkpoint = {
        "config": train.model_dump(mode="json"),
        "audio": {"channels": MEL_CHANNELS, "layout": "mel80", "encoder": "mel", "params": {}},
        "model": head.state_dict(),
    }
    replay = Replay(
        viewmats=cams.viewmats.float(),
        Ks=cams.Ks.float(),
        width=size,
        height=size,
        aus=torch.rand(poses, 6, generator=torch.Generator().manual_seed(0)),
        backgrounds=torch.full((poses, size, size, 3), 128, dtype=torch.uint8),
    )
    return save_avatar(Avatar(checkpoint, replay), path)


def _wav() -> Path:
    if WAV.is_file():
        return WAV
    import wave

    path = Path(tempfile.gettempdir()) / "pgs_bench_speechlike.wav"
    if not path.is_file():
        rate = 16000
        t = np.arange(rate * 8) / rate
        envelope = 0.5 * (1 + np.sin(2 * np.pi * 3.0 * t)) ** 2
        signal = 0.3 * envelope * np.sin(2 * np.pi * (150 + 50 * np.sin(2 * np.pi * 0.5 * t)) * t)
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(rate)
            handle.writeframes((signal * 32767).astype(np.int16).tobytes())
    return path


def measure(
    size: int,
    sessions: int,
    seconds: float,
    threads: int,
    folder: Path,
    face: int = FACE,
    mouth: int = MOUTH,
    avatar: Path | None = None,
) -> dict:
    """One configuration: a fresh server of a `size` avatar (or the given one), `sessions` clients for `seconds`."""
    render_thread_setup(threads)
    if avatar is None:
        avatar = folder / f"bench_{size}_{face}_{mouth}.pgs"
        if not avatar.is_file():
            make_bench_avatar(avatar, size, face, mouth)
    renderer = CallerThreadExecutor()  # renders on this thread, as `pgs serve` does
    engine = HeadEngine(avatar, "cpu", executor=renderer)
    engine.warm_up()
    server = ServerThread(engine=engine, max_sessions=max(2, sessions))
    try:
        render_s = min(server.render_seconds())  # best single render
        # the clients run in their own process, as a browser would: their decoding does not
        # compete with the server for this process's interpreter lock
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            clients = pool.submit(run_sessions, server.url, sessions, seconds, str(_wav()))
            renderer.run(stop=clients.done)
            per_session = clients.result()
    finally:
        engine.close()
        server.stop()
    return {
        "avatar": "benchmark (random networks)" if avatar.parent == folder else str(avatar),
        "size": server.engine.info.width,
        "sessions": sessions,
        "gaussians": server.engine.info.gaussians,
        "rasterizer": server.engine.info.rasterizer,
        "threads": threads,
        "seconds": seconds,
        "render_ms": round(render_s * 1000, 1),
        "per_session": per_session,
    }


@pytest.fixture(scope="module")
def bench_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the benchmark avatars (written once per module)."""
    return tmp_path_factory.mktemp("bench_serve")


@pytest.mark.parametrize(("size", "sessions"), [(256, 1), (256, 2), (512, 1)])
def test_serve_sessions(benchmark, bench_folder: Path, size: int, sessions: int) -> None:
    """Sustained FPS, latency and drops of `sessions` live sessions at `size` (figures in extra_info)."""
    result = benchmark.pedantic(measure, args=(size, sessions, 12.0, 2, bench_folder), rounds=1, iterations=1)
    for i, session in enumerate(result["per_session"]):
        for key, value in session.items():
            benchmark.extra_info[f"s{i}_{key}"] = value
    benchmark.extra_info["render_ms"] = result["render_ms"]
    assert all(s["frames_received"] > 0 for s in result["per_session"])


def main() -> None:
    """Command line: one configuration, or the whole matrix with --all; one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--face", type=int, default=FACE, help=f"face Gaussians (default {FACE})")
    parser.add_argument("--mouth", type=int, default=MOUTH, help=f"inside-mouth Gaussians (default {MOUTH})")
    parser.add_argument("--all", action="store_true", help="256 and 512, 1 and 2 sessions")
    parser.add_argument(
        "--avatar", type=Path, help="serve this avatar file (pgs export --avatar) instead of the benchmark head"
    )
    args = parser.parse_args()
    runs = [(256, 1), (256, 2), (512, 1), (512, 2)] if args.all else [(args.size, args.sessions)]
    if args.avatar is not None:  # a real head has one size: its own
        runs = [(0, 1), (0, 2)] if args.all else [(0, args.sessions)]
    with tempfile.TemporaryDirectory() as tmp:
        for size, sessions in runs:
            result = measure(
                size, sessions, args.seconds, args.threads, Path(tmp), args.face, args.mouth, args.avatar
            )
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
