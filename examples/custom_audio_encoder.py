"""Register an audio encoder in-process (no package, no entry point) and train with it.

`BandEnergy` is a deliberately small encoder: for each video frame, 16 steps of 20 ms centred on
the frame time, log energy in a few equal-width frequency bands -> features [F, 16, bands].
It is registered with ``registry("pgs.audio_encoders").register(SPEC)``, checked with the
contract plugin authors use (`pgs.core.testing.check_audio_encoder`), and selected in the run
config by name (``data.audio.name: band-energy``) like any installed encoder. Prints the feature
shape, the contract result and the held-out PSNR of the trained head; writes ``report.json``.

Examples:
    .venv/bin/python examples/custom_audio_encoder.py --out runs/custom_audio
    .venv/bin/python examples/custom_audio_encoder.py --bands 8 --steps 80
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from common import add_run_arguments, check_run_arguments, small_config, speaker_folder
from pydantic import Field

from pgs.core.groups import AUDIO_ENCODERS
from pgs.core.interfaces import AudioEncoderConfig, WaveformEncoder
from pgs.core.registry import ComponentSpec, registry
from pgs.core.testing import check_audio_encoder
from pgs.core.training.trainer import Trainer


class BandEnergyConfig(AudioEncoderConfig):  # inherits `fps`
    bands: int = Field(4, gt=0, le=64, description="Equal-width frequency bands (0-8 kHz).")


class BandEnergy(WaveformEncoder):
    """Log band energies of 20 ms windows, 16 per video frame, centred on the frame time.

    `WaveformEncoder` (pgs-core's template) checks the input, counts frames, resamples to
    `sample_rate`, decodes files and wraps the result; this class only computes features.
    """

    name, layout, sample_rate, steps = "band-energy", "band-energy", 16000, 16
    description = "Example in-process encoder: log energy in equal frequency bands, 16 steps per frame"

    def __init__(self, config: BandEnergyConfig) -> None:
        self.config, self.channels = config, config.bands

    def _features(self, wave: torch.Tensor, frames: int) -> torch.Tensor:
        # step k of frame i is centred at t_i + (k - 7.5) * 20 ms; each window is 20 ms = 320 samples
        t = torch.arange(frames)[:, None] / self.config.fps + (torch.arange(self.steps) - 7.5) * 0.02
        starts = (t * self.sample_rate).round().long() - 160 + 320  # + 320: zero padding below
        padded = torch.nn.functional.pad(wave, (320, 640 + int(starts.max()) - wave.numel()))
        windows = padded[starts[..., None] + torch.arange(320)]  # [F, 16, 320]
        power = torch.fft.rfft(windows * torch.hann_window(320), dim=-1).abs() ** 2  # [F, 16, 161]
        bands = torch.stack([b.mean(-1) for b in power[..., 1:].chunk(self.channels, dim=-1)], dim=-1)
        return torch.log(bands + 1e-6)


SPEC = ComponentSpec.of(AUDIO_ENCODERS, BandEnergyConfig, BandEnergy)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bands", type=int, default=4, help="frequency bands (default 4)")
    p.add_argument("--out", type=Path, default=Path("runs/custom_audio"), help="output folder")
    add_run_arguments(p, steps=80, size=64, frames=40)
    args = p.parse_args(argv)
    check_run_arguments(p, args)
    torch.set_num_threads(args.threads)

    registry(AUDIO_ENCODERS).register(SPEC, replace=True)  # the whole registration
    check_audio_encoder(SPEC, BandEnergyConfig(bands=args.bands))  # the plugin contract, one call
    print(f"registered {SPEC.name!r}: contract passed; installed encoders now {registry(AUDIO_ENCODERS).names()}")

    args.out.mkdir(parents=True, exist_ok=True)
    speaker = speaker_folder(args, args.out)
    features = registry(AUDIO_ENCODERS).create("band-energy", {"bands": args.bands}).encode_file(speaker / "aud.wav")
    print(f"features of {speaker / 'aud.wav'}: {list(features.features.shape)} ({features.layout})")

    config = small_config(speaker, args.out / "run", args, audio="band-energy", audio_params={"bands": args.bands})
    trainer = Trainer(config, quiet=True)
    result = trainer.run()
    heldout = trainer.evaluate(max_frames=len(trainer.val_set))
    baseline = trainer.mean_image_baseline()
    report = {
        "encoder": SPEC.name,
        "feature_shape": list(features.features.shape),
        "audio_layout": result.report["audio_layout"],
        "heldout": heldout,
        "mean_image_baseline": baseline,
        "checkpoint": str(result.checkpoint),
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(
        f"trained with audio layout {report['audio_layout']!r}: held-out PSNR {heldout['psnr']:.2f} dB "
        f"(mean training image {baseline['psnr']:.2f} dB); checkpoint {result.checkpoint}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
