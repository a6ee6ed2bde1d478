"""Drive a trained head with an audio file into an MP4 (what ``pgs render`` does), as a library call."""

from __future__ import annotations

from pathlib import Path

from pgs.core.console import stderr
from pgs.core.errors import DataError


def render_video(
    checkpoint: Path,
    audio: Path,
    out: Path,
    data: Path | None = None,
    device: str = "auto",
    rasterizer: str | None = None,
    fps: float = 25.0,
    quiet: bool = False,
    overwrite: bool = True,
) -> Path:
    """Drive a checkpoint (or an avatar file) with an audio file into an MP4 with that audio muxed in.

    Args:
        checkpoint: a ``.pt`` written by ``pgs train`` or a ``.pgs`` avatar file.
        audio: driving audio (any format `pgs.core.io.audio` reads) or precomputed ``.npy`` features.
        out: the MP4 to write.
        data: speaker folder whose poses and backgrounds are replayed (default: the training data,
            or the avatar's own replay).
        device: torch device (``auto``: CUDA when available).
        rasterizer: backend overriding the training config's.
        fps: video frame rate.
        quiet: no progress bar.
        overwrite: replace an existing `out`.

    Returns:
        `out`.

    Raises:
        DataError: `out` cannot be written (checked before any work), or exists and not `overwrite`.
    """
    from rich.progress import Progress

    from pgs.core.io.run_folder import check_output_file

    check_output_file(out, overwrite, what="--out")

    from pgs.core.data.dataset import SpeakerDataset
    from pgs.core.inference import drive, encode_driving_audio, load_head, to_uint8
    from pgs.core.video import write_mp4

    loaded = load_head(checkpoint, device, rasterizer)
    frames: object = loaded.replay  # an avatar file carries its poses and backgrounds
    if frames is None or data is not None:
        folder = data or loaded.config.data.folder
        if folder is None:
            raise DataError(f"{checkpoint}: no speaker folder recorded; pass --data")
        frames = SpeakerDataset.open(folder, "train", audio=None, require_aus=loaded.config.data.require_aus)
    features = encode_driving_audio(loaded, audio, fps)
    images = (to_uint8(img) for img in drive(loaded, features, frames))
    sound = None if audio.suffix == ".npy" else audio
    with Progress(console=stderr, transient=True, disable=quiet) as progress:
        task = progress.add_task("render", total=features.num_frames)
        return write_mp4(images, out, fps, sound, progress=lambda _phase, n, _total: progress.update(task, completed=n))


__all__ = ["render_video"]
