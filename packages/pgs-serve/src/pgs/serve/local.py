"""Run the server inside another program: the app on a background thread with its own event loop.

Used by the tests and the benchmark; also a way to embed ``pgs serve`` in a Python process.

Example::

    server = ServerThread("avatar.pgs", max_sessions=2)
    print(server.url)          # http://127.0.0.1:<free port>
    ...
    server.stop()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgs.serve.engine import HeadEngine


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """`pgs serve`'s app in a background thread with its own event loop.

    Args:
        avatar: avatar file or checkpoint (ignored when `engine` is given).
        max_sessions: concurrent live sessions.
        device: where the head runs (a new engine only).
        lookahead_frames: see `pgs.serve.pipeline`.
        threads: CPU threads per render (a new engine only).
        engine: serve this loaded head instead of loading `avatar` (its renders run wherever its
            executor runs them: ``pgs serve`` drives them on the main thread).
        host: address to listen on.
        port: port (default: a free one).
    """

    def __init__(
        self,
        avatar: str | Path | None = None,
        max_sessions: int = 2,
        device: str = "cpu",
        lookahead_frames: int = 0,
        threads: int | None = None,
        *,
        engine: HeadEngine | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        import asyncio
        import threading

        from aiohttp import web

        from pgs.serve.app import AvatarServer
        from pgs.serve.engine import HeadEngine

        if engine is None:
            if avatar is None:
                raise ValueError("ServerThread needs an avatar file or an engine")
            engine = HeadEngine(avatar, device, threads=threads)
            engine.warm_up()
        self.engine = engine
        self.server = AvatarServer(self.engine, max_sessions, lookahead_frames)
        self.port = free_port() if port is None else port
        self.url = f"http://{host}:{self.port}"
        failure: list[BaseException] = []
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def start() -> None:
            self.runner = web.AppRunner(self.server.app())
            await self.runner.setup()
            await web.TCPSite(self.runner, host, self.port).start()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(start())
            except BaseException as error:  # e.g. the port is taken: reported by the constructor
                failure.append(error)
                started.set()
                return
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="pgs-serve-loop", daemon=True)
        self.thread.start()
        if not started.wait(30):
            raise RuntimeError("the server did not start")
        if failure:
            raise failure[0]

    def render_seconds(self, repeats: int = 10) -> list[float]:
        """Wall time of single renders on the engine's render thread, as sessions get them.

        Each render is submitted to the engine's executor and waited for from this thread, with
        the silence window (so not while this thread drives a caller-thread executor). The tests
        and the benchmark scale their frame-rate expectations by it.

        Returns:
            `repeats` durations in seconds, in order.
        """
        import time

        engine = self.engine
        window = engine.silence_window()
        times = []
        for i in range(repeats):
            start = time.perf_counter()
            engine._executor.submit(engine.render, i, window).result()
            times.append(time.perf_counter() - start)
        return times

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
