"""The shared head: loaded once, rendering frames for every session on one worker thread.

`HeadEngine` holds the model (canonical features cached), the replayed poses, AUs and
backgrounds (an avatar file's, or a training folder's decoded once at start), and the streaming
audio encoder settings. Sessions ask it for frames with `render_async`; all renders run on one
thread in submission order (a worker thread, or the main thread under ``pgs serve``), so
concurrent sessions share the CPU fairly and the model and the rasterizer are never entered by
two threads at once (numba's default threading layer is not re-entrant).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pgs.core.allocator import keep_freed_memory
from pgs.core.avatar import DEFAULT_LOOP_FRAMES, Replay
from pgs.core.errors import DataError
from pgs.core.groups import AUDIO_ENCODERS
from pgs.core.inference import LoadedHead, load_head, ping_pong, to_uint8
from pgs.core.interfaces import AUDIO_WINDOW, StreamingAudioEncoder
from pgs.core.registry import registry


@dataclass(frozen=True)
class EngineInfo:
    """What a client may want to know about the served head."""

    width: int
    height: int
    fps: float
    sample_rate: int
    replay_frames: int
    device: str
    rasterizer: str
    gaussians: int


def pick_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; other names are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DataError(f"--device {device}: CUDA is not available here (use --device cpu or auto)")
    return device


def render_thread_setup(threads: int) -> None:
    """Thread counts of the calling (render) thread: torch intra-op (OpenMP, per thread) and numba.

    The render thread should be the only one in the process that runs parallel tensor work: the
    event loop sets itself to one thread (`pgs.serve.app.AvatarServer` on startup), and
    ``pgs serve`` renders on the main thread (`pgs.serve.caller_thread`). Freed tensor memory
    is kept for the next frame (`pgs.core.allocator.keep_freed_memory`, process-wide).
    """
    keep_freed_memory()
    torch.set_num_threads(threads)
    try:
        import numba
    except ImportError:  # the torch rasterizer needs no numba
        return
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


class HeadEngine:
    """A trained head ready to serve.

    Args:
        checkpoint: a trainer checkpoint (``.pt``) or an avatar file (``pgs export --avatar``).
        device: ``cpu``, ``cuda`` or ``auto``.
        data: speaker folder to replay for a plain checkpoint (default: the training data).
        loop_frames: frames of the replay loop read from a training folder.
        rasterizer: backend name (default ``auto``: gsplat on CUDA, the numba ``cpu`` backend
            on CPU when installed).
        fps: video frame rate.
        threads: CPU threads of one render (torch intra-op and numba), set on the render thread;
            None: torch's default (all cores). On a machine busy with other work, 1 is faster: a
            parallel kernel waits for its slowest thread. Ignored with `executor` (its owner
            thread sets them: `render_thread_setup`).
        executor: where renders run (default: one worker thread). ``pgs serve`` passes a
            `pgs.serve.caller_thread.CallerThreadExecutor` to render on the main thread, which
            is about 1.5x faster on the CPU path (see that module).

    Raises:
        DataError: the file does not load, its encoder cannot stream, or the folder is bad.
    """

    def __init__(
        self,
        checkpoint: str | Path,
        device: str = "auto",
        data: str | Path | None = None,
        loop_frames: int = DEFAULT_LOOP_FRAMES,
        rasterizer: str | None = "auto",
        fps: float = 25.0,
        threads: int | None = None,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.device = pick_device(device)
        self.loaded: LoadedHead = load_head(checkpoint, self.device, rasterizer)
        self.replay: Replay = self.loaded.replay or self._replay_from_folder(checkpoint, data, loop_frames)
        self.fps = float(fps)
        self._encoder = self._streaming_encoder(checkpoint)
        self.sample_rate = int(self._encoder.sample_rate)
        self.samples_per_frame = round(self.sample_rate / self.fps)
        if self.samples_per_frame * self.fps != self.sample_rate:
            raise DataError(f"{checkpoint}: the audio rate {self.sample_rate} Hz is not a multiple of {self.fps} fps")
        # Camera and AU of each replay index, on the device, built once (nothing decoded per frame).
        self._cameras = [self.replay.camera(i).to(self.device) for i in range(len(self.replay))]
        self._aus = self.replay.aus.to(self.device)
        self._backgrounds = self.replay.backgrounds.to(self.device)
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="pgs-render",
            initializer=render_thread_setup,
            initargs=(threads or torch.get_num_threads(),),
        )
        head = self.loaded.head
        self.info = EngineInfo(
            width=self.replay.width,
            height=self.replay.height,
            fps=self.fps,
            sample_rate=self.sample_rate,
            replay_frames=len(self.replay),
            device=self.device,
            rasterizer=type(head.rasterizer).__name__,
            gaussians=int(head.face.num_gaussians + head.mouth.num_gaussians),
        )

    @staticmethod
    def _replay_from_folder(checkpoint: str | Path, data: str | Path | None, loop_frames: int) -> Replay:
        from pgs.core.avatar import build_avatar

        return build_avatar(checkpoint, data, loop_frames).replay

    def _streaming_encoder(self, checkpoint: str | Path) -> object:
        name = self.loaded.audio_encoder
        if name in ("", "npy"):
            raise DataError(
                f"{checkpoint}: the model was trained on precomputed {self.loaded.audio_layout} features, which cannot "
                "be computed live; serve a model trained with a streaming encoder (mel or mfcc)"
            )
        encoder = registry(AUDIO_ENCODERS).create(name, self.loaded.audio_params)
        if not hasattr(encoder, "streaming"):
            raise DataError(f"{checkpoint}: audio encoder {name!r} has no streaming mode (mel and mfcc have)")
        return encoder

    def new_stream(self) -> StreamingAudioEncoder:
        """A fresh incremental audio encoder for one session."""
        return self._encoder.streaming(self.sample_rate)  # type: ignore[attr-defined]

    @property
    def feature_shape(self) -> tuple[int, int]:
        """(steps, channels) of one feature frame."""
        return int(self._encoder.steps), int(self._encoder.channels)  # type: ignore[attr-defined]

    @property
    def lookahead_seconds(self) -> float:
        """Audio the encoder needs after a frame's time before that frame's features are final."""
        return float(self._encoder.lookahead_seconds)  # type: ignore[attr-defined]

    def render(self, index: int, window: Tensor) -> np.ndarray:
        """Render video frame `index` (pose ``ping_pong(index)``) for an audio window.

        Args:
            index: frame number in the session (selects the replayed pose, AUs and background).
            window: [AUDIO_WINDOW, steps, channels] features.

        Returns:
            [H, W, 3] uint8 RGB.
        """
        k = ping_pong(index, len(self.replay))
        background = self._backgrounds[k].float() / 255.0
        with torch.no_grad():
            out = self.loaded.head(self._cameras[k], window.to(self.device), self._aus[k], background)
        return to_uint8(out.image[0].cpu())

    async def render_async(self, index: int, window: Tensor) -> np.ndarray:
        """`render` on the engine's worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.render, index, window)

    def silence_window(self) -> Tensor:
        """[AUDIO_WINDOW, steps, channels] features of pure silence (warms the kernels up)."""
        stream = self.new_stream()
        feats = stream.push(torch.zeros(self.sample_rate))
        feats = torch.cat([feats, stream.flush()])
        return feats[:AUDIO_WINDOW]

    def warm_up(self, frames: int = 5) -> None:
        """Render a few frames on the render thread before the first client arrives.

        Compilation, caches and thread pools get ready: the first renders after loading are several
        times slower than the steady state.
        """
        window = self.silence_window()
        for i in range(frames):
            self._executor.submit(self.render, i, window).result()

    def close(self) -> None:
        """Stop the render executor (queued renders are cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
