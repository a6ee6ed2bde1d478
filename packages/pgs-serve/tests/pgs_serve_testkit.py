"""Helpers of the pgs-serve tests: a tiny trained synthetic head, a server in a background thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pgs.core.avatar import build_avatar, save_avatar
from pgs.core.data.synthetic import generate_speaker
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import Trainer


def tiny_config(folder: Path, output: Path, size: int) -> TrainConfig:
    """Few steps at small size; 250 deformation steps make the mouth respond visibly (~3 grey levels) to speech."""
    refine = {"refine_from": 20, "refine_every": 20, "refine_until": 100}
    data: dict[str, Any] = {
        "data": {"folder": str(folder), "audio": {"name": "mel"}},
        "model": {"face": {"num_points": 500}, "mouth": {"num_points": 200}},
        "stages": {
            "static_iterations": 30,
            "deform_iterations": 250,
            "finetune_iterations": 0,
            "gaussian_lr": {"means": 4e-4, "position_lr_scale": 1.0, "means_decay": 1.0},
        },
        "density": {
            "face": {"name": "pixel-aware", "params": refine},
            "mouth": {"name": "pixel-aware", "params": refine},
        },
        "output": str(output),
        "log_every": 50,
        "checkpoint_every": 10_000,
        "eval_frames": 2,
        "rasterizer": {"name": "auto"},
    }
    return TrainConfig.model_validate(data)


def make_tiny_avatar(root: Path, size: int = 48, frames: int = 60) -> tuple[Path, Path, Path]:
    """Synthesise a speaker, train it briefly and export an avatar.

    Returns:
        (speaker folder, checkpoint, avatar file).
    """
    torch.set_num_threads(1)
    speaker = generate_speaker(root / "speaker", num_frames=frames, size=size, seed=3)
    trainer = Trainer(tiny_config(speaker, root / "run", size), quiet=True)
    result = trainer.run()
    checkpoint = Path(result.checkpoint or root / "run" / "checkpoints" / "final.pt")
    avatar = save_avatar(build_avatar(checkpoint), root / "head.pgs")
    return speaker, checkpoint, avatar


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """`pgs serve`'s app on 127.0.0.1 in a background thread with its own event loop."""

    def __init__(self, avatar: Path, max_sessions: int = 2) -> None:
        import asyncio
        import threading

        from aiohttp import web

        from pgs.serve.app import AvatarServer
        from pgs.serve.engine import HeadEngine

        self.engine = HeadEngine(avatar, "cpu")
        self.engine.warm_up()
        self.server = AvatarServer(self.engine, max_sessions)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def start() -> None:
            self.runner = web.AppRunner(self.server.app())
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="pgs-serve-test", daemon=True)
        self.thread.start()
        if not started.wait(30):
            raise RuntimeError("test server did not start")

    def sessions(self) -> int:
        """Live sessions on the server."""
        return len(self.server.sessions)

    def stop(self) -> None:
        """Shut the app down and stop the loop."""
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.engine.close()
