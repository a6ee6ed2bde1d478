"""Drive a trained checkpoint with a WAV file into an MP4 with sound, through the library API.

The same steps as ``pgs render``, spelled out: load the head (`load_head`), encode the WAV with
the encoder the head was trained with (`encode_driving_audio`), replay head poses, AUs and
backgrounds from the training frames (`drive`, ping-pong when the audio is longer) and write
H.264 + AAC (`write_mp4`). Without ``--checkpoint`` a small head is trained first on a synthetic
speaker; without ``--audio`` a few seconds of new speech-like audio are generated. Prints what
it wrote (frames, seconds, streams, mean frame brightness).

Examples:
    .venv/bin/python examples/drive_with_audio.py --out runs/drive/talk.mp4
    .venv/bin/python examples/drive_with_audio.py --checkpoint runs/demo/run/checkpoints/final.pt \\
        --audio runs/demo/novel.wav --out talk.mp4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np
import soundfile
import torch
from common import add_run_arguments, check_run_arguments, small_config, speaker_folder

from pgs.core.data.dataset import SpeakerDataset
from pgs.core.data.synthetic import SAMPLE_RATE, speech_like_audio
from pgs.core.errors import PgsError
from pgs.core.inference import drive, encode_driving_audio, load_head, to_uint8
from pgs.core.training.trainer import Trainer
from pgs.core.video import write_mp4


def render(checkpoint: Path, wav: Path, out: Path, data: Path | None = None) -> dict:
    """The library calls behind ``pgs render``; returns what was written."""
    loaded = load_head(checkpoint)  # eval mode, canonical features cached
    folder = data or loaded.config.data.folder
    frames = SpeakerDataset.open(folder, "train", audio=None)  # poses, AUs, backgrounds to replay
    features = encode_driving_audio(loaded, wav)  # same encoder and layout as training, or a clear error
    brightness: list[float] = []

    def images():
        for image in drive(loaded, features, frames):  # [H, W, 3] float in [0, 1], one per audio frame
            brightness.append(float(image.mean()))
            yield to_uint8(image)

    write_mp4(images(), out, fps=features.fps, audio=wav)
    return {"frames": features.num_frames, "fps": features.fps, "mean_brightness": float(np.mean(brightness))}


def probe(path: Path) -> dict:
    """Streams of the written file, read back with PyAV."""
    with av.open(str(path)) as container:
        v = container.streams.video[0]
        a = container.streams.audio
        decoded = sum(1 for _ in container.decode(video=0))
        return {
            "video": f"{v.codec_context.name} {v.codec_context.width}x{v.codec_context.height}",
            "video_frames": decoded,
            "audio": f"{a[0].codec_context.name} {a[0].codec_context.sample_rate} Hz" if a else None,
            "seconds": float(container.duration / av.time_base) if container.duration else None,
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, help="a checkpoint written by pgs train (default: train a small one)")
    p.add_argument("--audio", type=Path, help="driving WAV (default: generate new speech-like audio)")
    p.add_argument("--seconds", type=float, default=3.0, help="length of the generated audio (default 3)")
    p.add_argument("--data", type=Path, help="speaker folder for poses/backgrounds (default: the training data)")
    p.add_argument("--out", type=Path, default=Path("runs/drive/talk.mp4"), help="output MP4")
    add_run_arguments(p, steps=80, size=64, frames=40)
    args = p.parse_args(argv)
    check_run_arguments(p, args)
    if args.out.suffix.lower() != ".mp4":
        p.error(f"--out: expected a .mp4 path, got {args.out}")
    if args.seconds <= 0:
        p.error("--seconds must be positive")
    torch.set_num_threads(args.threads)
    work = args.out.parent
    work.mkdir(parents=True, exist_ok=True)

    checkpoint = args.checkpoint
    if checkpoint is None:
        speaker = speaker_folder(args, work)
        print("no --checkpoint: training a small head first ...", flush=True)
        checkpoint = Trainer(small_config(speaker, work / "run", args), quiet=True).run().checkpoint
    wav = args.audio
    if wav is None:
        wav = work / "novel.wav"
        wave, _ = speech_like_audio(args.seconds, np.random.default_rng(args.seed + 1000))
        soundfile.write(wav, wave, SAMPLE_RATE, subtype="PCM_16")
        print(f"no --audio: wrote {args.seconds:g} s of new speech-like audio to {wav}")
    try:
        info = render(checkpoint, wav, args.out, args.data)
    except PgsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    streams = probe(args.out)
    print(
        f"wrote {args.out}: {info['frames']} frames at {info['fps']:g} fps, video {streams['video']} "
        f"({streams['video_frames']} decoded), audio {streams['audio']}, mean brightness {info['mean_brightness']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
