"""The HTTP server (aiohttp): the page, WebRTC signalling, live sessions and the batch render API.

Routes:
    ``GET /``                     the page (static/index.html)
    ``GET /health``               JSON: sessions in use, the limit, the head's size and fps
    ``POST /offer``               JSON ``{sdp, type}`` -> ``{sdp, type, session}``; 503 ``busy`` when full
    ``POST /session/{id}/speak``  multipart field ``audio``: the avatar says it now (interrupts)
    ``GET /session/{id}/stats``   JSON: fps, latency p50/p95 (ms), frames sent and dropped
    ``DELETE /session/{id}``      end a session
    ``POST /render``              multipart field ``audio`` -> ``video/mp4`` (like ``pgs render``)

Every error is a JSON ``{"error": "<one line>"}`` with a 4xx/5xx status; one session's failure
never touches another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from aiohttp import web

from pgs.core.errors import PgsError
from pgs.core.interfaces import AudioFeatures
from pgs.serve.engine import HeadEngine
from pgs.serve.pipeline import OutputFrame, SessionPipeline
from pgs.serve.tracks import AvatarAudioTrack, AvatarVideoTrack, consume_microphone
from pgs.serve.uploads import decode_audio

log = logging.getLogger("pgs.serve")

STATIC = Path(__file__).parent / "static"
#: Longest utterance accepted by /speak, and longest audio by /render (seconds).
MAX_SPEAK_SECONDS = 120.0
MAX_RENDER_SECONDS = 600.0
#: Lowest sample rate accepted for uploaded audio (Hz).
MIN_SAMPLE_RATE = 8000
#: Largest upload (bytes).
MAX_UPLOAD = 64 * 1024 * 1024


@dataclass
class Session:
    """One browser (or client) connection."""

    id: str
    pc: object
    pipeline: SessionPipeline
    tasks: list[asyncio.Task] = field(default_factory=list)
    closed: bool = False


class AvatarServer:
    """The server state: the engine, the session table and its limit.

    Args:
        engine: the loaded head (shared by every session).
        max_sessions: live sessions at most; further offers get 503 ``busy``.
        lookahead_frames: see `SessionPipeline`.
    """

    def __init__(self, engine: HeadEngine, max_sessions: int = 2, lookahead_frames: int = 0) -> None:
        self.engine = engine
        self.max_sessions = max_sessions
        self.lookahead_frames = lookahead_frames
        self.sessions: dict[str, Session] = {}

    # ------------------------------------------------------------------ app
    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=MAX_UPLOAD, middlewares=[_errors_as_json])
        app.router.add_get("/", self.page)
        app.router.add_get("/health", self.health)
        app.router.add_post("/offer", self.offer)
        app.router.add_post("/session/{sid}/speak", self.speak)
        app.router.add_get("/session/{sid}/stats", self.stats)
        app.router.add_delete("/session/{sid}", self.delete)
        app.router.add_post("/render", self.render)
        app.on_startup.append(self._single_threaded_loop)
        app.on_shutdown.append(self._shutdown)
        return app

    async def _single_threaded_loop(self, app: web.Application) -> None:
        """The event loop's own tensor work (audio features, uploads) runs on one thread.

        Only the engine's render thread drives a parallel OpenMP team: a second team in the
        process, even idle, slows every render (`pgs.serve.engine`).
        """
        torch.set_num_threads(1)

    async def _shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(self.close_session(s) for s in list(self.sessions.values())))

    async def page(self, request: web.Request) -> web.StreamResponse:
        """The web page."""
        return web.FileResponse(STATIC / "index.html")

    async def health(self, request: web.Request) -> web.Response:
        """Sessions in use and the head's properties."""
        info = self.engine.info
        return web.json_response(
            {
                "sessions": len(self.sessions),
                "max_sessions": self.max_sessions,
                "width": info.width,
                "height": info.height,
                "fps": info.fps,
                "device": info.device,
                "gaussians": info.gaussians,
            }
        )

    # ------------------------------------------------------------------ sessions
    async def offer(self, request: web.Request) -> web.Response:
        """WebRTC signalling: take the client's SDP offer, start a session, answer."""
        from aiortc import RTCPeerConnection, RTCSessionDescription

        try:
            body = await request.json()
            desc = RTCSessionDescription(sdp=str(body["sdp"]), type=str(body["type"]))
        except (ValueError, KeyError, TypeError):
            return _error(400, 'offer: expected JSON {"sdp": ..., "type": "offer"}')
        if desc.type != "offer":
            return _error(400, f"offer: type must be 'offer', got {desc.type!r}")
        if len(self.sessions) >= self.max_sessions:
            return _error(503, f"busy: all {self.max_sessions} sessions are in use; try again later")
        sid = uuid.uuid4().hex[:12]
        pc = RTCPeerConnection()
        video = AvatarVideoTrack(self.engine.fps)
        audio = AvatarAudioTrack(self.engine.sample_rate)

        async def emit(frame: OutputFrame) -> None:
            video.push(frame)
            audio.push(frame)

        pipeline = SessionPipeline(self.engine, emit, self.lookahead_frames)
        session = Session(sid, pc, pipeline)
        self.sessions[sid] = session  # reserve the slot before awaiting anything

        @pc.on("track")
        def on_track(track: object) -> None:
            if getattr(track, "kind", "") == "audio":
                session.tasks.append(
                    asyncio.ensure_future(consume_microphone(track, self.engine.sample_rate, pipeline.feed_live))
                )

        @pc.on("datachannel")
        def on_datachannel(channel: object) -> None:
            session.tasks.append(asyncio.ensure_future(self._send_stats(session, channel)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close_session(session)

        try:
            await pc.setRemoteDescription(desc)
            pc.addTrack(video)
            pc.addTrack(audio)
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except Exception as exc:  # aiortc raises several types for malformed SDP
            await self.close_session(session)
            return _error(400, f"offer: cannot negotiate: {type(exc).__name__}: {exc}".splitlines()[0])
        pipeline.start()
        log.info("session %s started (%d/%d)", sid, len(self.sessions), self.max_sessions)
        local = pc.localDescription
        return web.json_response({"sdp": local.sdp, "type": local.type, "session": sid})

    async def _send_stats(self, session: Session, channel: object) -> None:
        while not session.closed:
            await asyncio.sleep(0.5)
            if getattr(channel, "readyState", "") == "open":
                with contextlib.suppress(Exception):
                    channel.send(json.dumps(session.pipeline.stats.as_dict()))  # type: ignore[attr-defined]

    async def close_session(self, session: Session) -> None:
        """Stop a session's pipeline and connection and free its slot (idempotent)."""
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        await session.pipeline.stop()
        for task in session.tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await session.pc.close()  # type: ignore[attr-defined]
        log.info("session %s closed (%d/%d)", session.id, len(self.sessions), self.max_sessions)

    def _session(self, request: web.Request) -> Session:
        sid = request.match_info["sid"]
        session = self.sessions.get(sid)
        if session is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"session {sid}: no such session (ended?)"}), content_type="application/json"
            )
        return session

    async def speak(self, request: web.Request) -> web.Response:
        """The avatar says an uploaded audio file now (interrupting what it was saying)."""
        session = self._session(request)
        samples = await self._upload_audio(request, MAX_SPEAK_SECONDS)
        duration = session.pipeline.say(samples)
        return web.json_response({"seconds": round(duration, 3)})

    async def stats(self, request: web.Request) -> web.Response:
        """The session's live figures."""
        return web.json_response(self._session(request).pipeline.stats.as_dict())

    async def delete(self, request: web.Request) -> web.Response:
        """End a session."""
        await self.close_session(self._session(request))
        return web.json_response({"closed": True})

    # ------------------------------------------------------------------ batch render
    async def render(self, request: web.Request) -> web.Response:
        """``POST /render`` with multipart field ``audio``: the MP4 ``pgs render`` would write."""
        from pgs.core.video import write_mp4

        with tempfile.TemporaryDirectory(prefix="pgs-serve-") as tmp:
            source = await self._save_upload(request, Path(tmp))
            samples = self._decode(source, MAX_RENDER_SECONDS)
            stream = self.engine.new_stream()
            features = torch.cat([stream.push(torch.from_numpy(samples)), stream.flush()])
            feats = AudioFeatures(features, self.engine.fps, self.engine.loaded.audio_encoder, "upload")
            frames = []
            for i in range(features.shape[0]):
                frames.append(await self.engine.render_async(i, feats.window(i)))
            out = Path(tmp) / "render.mp4"
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: write_mp4(frames, out, self.engine.fps, source))
            data = out.read_bytes()
        return web.Response(body=data, content_type="video/mp4")

    # ------------------------------------------------------------------ uploads
    async def _save_upload(self, request: web.Request, folder: Path) -> Path:
        if not request.content_type.startswith("multipart/"):
            raise _http_error(400, "audio: send the file as multipart/form-data field 'audio'")
        reader = await request.multipart()
        async for part in reader:
            if getattr(part, "name", None) != "audio":
                continue
            suffix = Path(part.filename or "upload").suffix[:8] or ".bin"
            path = folder / f"upload{suffix}"
            size = 0
            with path.open("wb") as handle:
                while chunk := await part.read_chunk(1 << 16):
                    size += len(chunk)
                    if size > MAX_UPLOAD:
                        raise _http_error(413, f"audio: larger than {MAX_UPLOAD // (1 << 20)} MiB")
                    handle.write(chunk)
            if size == 0:
                raise _http_error(400, "audio: the uploaded file is empty")
            return path
        raise _http_error(400, "audio: no multipart field named 'audio'")

    def _decode(self, path: Path, max_seconds: float) -> np.ndarray:
        rate = self.engine.sample_rate
        try:
            samples, source_rate = decode_audio(path, rate)
        except PgsError as exc:
            raise _http_error(400, f"audio: {exc}".splitlines()[0]) from None
        if source_rate < MIN_SAMPLE_RATE:
            raise _http_error(
                400, f"audio: sample rate {source_rate} Hz is too low (need at least {MIN_SAMPLE_RATE} Hz)"
            )
        seconds = samples.shape[0] / rate
        if seconds > max_seconds:
            raise _http_error(400, f"audio: {seconds:.0f} s is longer than the {max_seconds:.0f} s accepted")
        if seconds * self.engine.fps < 1:
            raise _http_error(400, f"audio: {seconds * 1000:.0f} ms is shorter than one video frame")
        return samples

    async def _upload_audio(self, request: web.Request, max_seconds: float) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="pgs-serve-") as tmp:
            path = await self._save_upload(request, Path(tmp))
            return self._decode(path, max_seconds)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _http_error(status: int, message: str) -> web.HTTPException:
    kind = {400: web.HTTPBadRequest, 413: web.HTTPRequestEntityTooLarge}.get(status, web.HTTPBadRequest)
    return kind(text=json.dumps({"error": message}), content_type="application/json")


@web.middleware
async def _errors_as_json(request: web.Request, handler: object) -> web.StreamResponse:
    """Unexpected exceptions become one-line JSON 500s (the server keeps serving)."""
    try:
        return await handler(request)  # type: ignore[operator]
    except web.HTTPException:
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except PgsError as exc:
        return _error(400, str(exc).splitlines()[0])
    except Exception as exc:
        log.exception("request %s %s failed", request.method, request.path)
        return _error(500, f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])
