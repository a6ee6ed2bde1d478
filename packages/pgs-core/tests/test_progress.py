"""The one progress-callback shape: ``progress(phase, done, total)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pgs.core.progress import no_progress, report
from pgs.core.video import write_mp4


def test_write_mp4_reports_encode_progress_per_frame(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int | None]] = []
    frames = (np.full((16, 16, 3), i * 40, np.uint8) for i in range(4))
    write_mp4(frames, tmp_path / "a.mp4", fps=25.0, progress=lambda *args: calls.append(args))
    assert calls == [("encode", 1, None), ("encode", 2, None), ("encode", 3, None), ("encode", 4, None)]


def test_report_calls_only_a_given_callback() -> None:
    calls: list[tuple[str, int, int | None]] = []
    report(lambda *args: calls.append(args), "render", 2, 5)
    report(None, "render", 3, 5)
    assert calls == [("render", 2, 5)]
    assert no_progress("x", 1, None) is None


def test_synthetic_speaker_reports_render_progress(tmp_path: Path) -> None:
    from pgs.core.data.synthetic import generate_speaker

    calls: list[tuple[str, int, int | None]] = []
    generate_speaker(tmp_path / "s", num_frames=11, size=16, seed=0, progress=lambda *args: calls.append(args))
    assert calls == [("render", i, 11) for i in range(1, 12)]
