"""``pgs serve``: load a head once and serve the page, WebRTC sessions and ``POST /render``."""

from __future__ import annotations

import argparse
from pathlib import Path

from pgs.core.registry import CommandSpec

EXAMPLES = """\
examples:
  pgs serve avatar.pgs                          http://127.0.0.1:8010/ (an avatar from pgs export --avatar)
  pgs serve runs/a/checkpoints/final.pt         replays the training folder's poses and torso
  pgs serve avatar.pgs --host 0.0.0.0 --port 9000 --max-sessions 4
  curl -F audio=@speech.wav http://127.0.0.1:8010/render -o talk.mp4

Exit code 2 with one line when the head does not load.
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="avatar file (.pgs) or training checkpoint (.pt)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8010, help="port (default 8010)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default auto)")
    parser.add_argument("--max-sessions", type=_positive_int, default=2, help="concurrent live sessions (default 2)")
    parser.add_argument("--data", type=Path, help="speaker folder to replay for a .pt (default: the training data)")
    parser.add_argument("--rasterizer", default="auto", help="rasterizer backend (default auto)")
    parser.add_argument(
        "--threads", type=_positive_int, default=None, help="CPU threads per render (default: all cores)"
    )
    parser.add_argument(
        "--lookahead-frames",
        type=int,
        choices=(0, 1, 2, 3),
        default=0,
        help="future audio frames waited for per video frame (3 = offline-exact, +40 ms each; default 0)",
    )


def _run(args: argparse.Namespace) -> int:
    """Load the head, serve it from a background event loop and render on this (the main) thread."""
    import logging

    import torch

    from pgs.core.cli.console import stderr
    from pgs.serve.caller_thread import CallerThreadExecutor
    from pgs.serve.engine import HeadEngine, render_thread_setup
    from pgs.serve.local import ServerThread

    render_thread_setup(args.threads or torch.get_num_threads())
    renderer = CallerThreadExecutor()  # renders run here: about 1.5x faster than on a worker thread
    engine = HeadEngine(args.checkpoint, args.device, args.data, rasterizer=args.rasterizer, executor=renderer)
    server = None
    try:
        engine.warm_up()
        info = engine.info
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        server = ServerThread(
            engine=engine,
            max_sessions=args.max_sessions,
            lookahead_frames=args.lookahead_frames,
            host=args.host,
            port=args.port,
        )
        stderr.print(
            f"serving {args.checkpoint} ({info.width}x{info.height}, {info.gaussians} Gaussians, {info.device}, "
            f"{info.rasterizer}) at http://{args.host}:{args.port}/ (max {args.max_sessions} sessions; Ctrl-C stops)"
        )
        try:
            renderer.run()  # until Ctrl-C or SIGTERM (KeyboardInterrupt)
        except KeyboardInterrupt:  # pragma: no cover - interactive
            pass
    finally:
        engine.close()  # first: renders still queued are cancelled, so closing sessions never waits on them
        if server is not None:
            server.stop()
    return 0


SPEC = CommandSpec(
    name="serve",
    help="serve a trained head live in the browser (WebRTC) and over HTTP",
    add_arguments=_add_arguments,
    run=_run,
    description=(
        "Load a trained head once and serve a page at / where a person speaks into the microphone, uploads an "
        "audio file or watches the idle head, streamed over WebRTC at 25 fps with its sound, with live FPS, "
        "latency and dropped-frame figures. POST /render (multipart field 'audio') returns an MP4 like pgs render."
        "\n\n" + EXAMPLES
    ),
)
