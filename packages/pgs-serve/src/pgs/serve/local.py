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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """`pgs serve`'s app on 127.0.0.1 in a background thread with its own event loop."""

    def __init__(
        self,
        avatar: str | Path,
        max_sessions: int = 2,
        device: str = "cpu",
        lookahead_frames: int = 0,
        threads: int | None = None,
    ) -> None:
        import asyncio
        import threading

        from aiohttp import web

        from pgs.serve.app import AvatarServer
        from pgs.serve.engine import HeadEngine

        self.engine = HeadEngine(avatar, device, threads=threads)
        self.engine.warm_up()
        self.server = AvatarServer(self.engine, max_sessions, lookahead_frames)
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
