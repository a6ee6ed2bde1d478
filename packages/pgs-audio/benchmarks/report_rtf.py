"""Print the real-time factor of each audio encoder on 60 s of audio (CPU).

Usage::

    .venv/bin/python packages/pgs-audio/benchmarks/report_rtf.py [--seconds 60] [--threads N] [--only mel,mfcc]

RTF = encoding time / audio duration; "x mel" is the ratio to the mel encoder measured in the same
run (the figure to compare across machines, since absolute times depend on load). HuBERT and
wav2vec2 run their full architectures with random weights (same cost as real checkpoints).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch

from pgs.audio import create_encoder

ENCODERS = {
    "mel": {},
    "mfcc": {},
    "hubert": {"random_init": True},
    "wav2vec2": {"random_init": True},
}


def main() -> None:
    """Parse arguments, encode, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="audio duration (default 60)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--only", default="", help="comma-separated encoder names (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rate = 16000
    t = torch.arange(int(args.seconds * rate), dtype=torch.float64) / rate
    wave = (0.3 * torch.sin(2 * math.pi * 150 * t) * (0.5 + 0.5 * torch.sin(2 * math.pi * 4 * t)) ** 2).float()
    names = [n for n in args.only.split(",") if n] or list(ENCODERS)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.seconds:g} s of 16 kHz audio, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start")
    print(f"{'encoder':<10} {'frames':>7} {'seconds':>9} {'RTF':>8} {'x mel':>8}")
    mel_time = None
    for name in names:
        encoder = create_encoder(name, **ENCODERS[name])
        start = time.perf_counter()
        feats = encoder.encode(wave, rate)
        took = time.perf_counter() - start
        if name == "mel":
            mel_time = took
        ratio = f"{took / mel_time:8.1f}" if mel_time else f"{'-':>8}"
        print(f"{name:<10} {feats.num_frames:>7} {took:9.3f} {took / args.seconds:8.4f} {ratio}", flush=True)
    if "mel" in names:
        stream = create_encoder("mel").streaming()  # type: ignore[attr-defined]
        chunk = 320
        start = time.perf_counter()
        for s in range(0, wave.shape[0], chunk):
            stream.push(wave[s : s + chunk])
        stream.flush()
        took = time.perf_counter() - start
        per_chunk = took / (wave.shape[0] / chunk) * 1000
        print(f"mel streaming, 20 ms chunks: RTF {took / args.seconds:.4f} "
              f"({per_chunk:.2f} ms per chunk; look-ahead {stream.lookahead_seconds * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
