"""Frames decoded ahead: the same frames, in the sampler's order, errors where they belong."""

from __future__ import annotations

import threading
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.data import SpeakerDataset
from pgs.core.data.prefetch import FramePrefetcher
from pgs.core.errors import DataError
from pgs.core.training.trainer import FrameSampler


def _same_frame(a, b) -> None:
    assert a.index == b.index and a.img_id == b.img_id and a.aud_id == b.aud_id
    assert torch.equal(a.image, b.image) and torch.equal(a.background, b.background)
    for f in fields(a.masks):
        assert torch.equal(getattr(a.masks, f.name), getattr(b.masks, f.name))
    assert torch.equal(a.audio, b.audio) and torch.equal(a.aus, b.aus)


@settings(max_examples=30, deadline=None)
@given(frames=st.integers(1, 9), seed=st.integers(0, 1000), skip=st.integers(0, 25), count=st.integers(0, 12))
def test_peek_predicts_next_without_advancing(frames, seed, skip, count):
    sampler = FrameSampler(frames, seed)
    for _ in range(skip):
        sampler.next()
    state = sampler.state_dict()
    peeked = sampler.peek(count)
    after = sampler.state_dict()
    assert torch.equal(state["generator"], after["generator"]) and state["position"] == after["position"]
    assert peeked == [sampler.next() for _ in range(count)]


def test_prefetched_frames_equal_direct_reads_in_sampler_order(speaker: Path):
    ds = SpeakerDataset.open(speaker)
    sampler = FrameSampler(len(ds), 3)
    reference = FrameSampler(len(ds), 3)
    with FramePrefetcher(ds, depth=3) as prefetcher:
        for _ in range(2 * len(ds) + 3):  # across epoch boundaries
            index = sampler.next()
            frame = prefetcher.get(index, sampler.peek(3))
            expected = ds[reference.next()]
            _same_frame(frame, expected)
        assert prefetcher._executor is not None
        assert 0 < len(prefetcher._pending) <= 3
    assert prefetcher._executor is None and not prefetcher._pending
    assert not [t for t in threading.enumerate() if t.name.startswith("pgs-frames")]


def test_decoding_errors_surface_for_the_frame_that_needs_it(speaker: Path):
    ds = SpeakerDataset.open(speaker)
    bad = speaker / "gt_imgs" / "2.jpg"
    bad.write_bytes(bad.read_bytes()[:50])
    with FramePrefetcher(ds) as prefetcher:
        _same_frame(prefetcher.get(0, [2, 1]), ds[0])  # 2 is decoded (and fails) in the background
        _same_frame(prefetcher.get(1, [2]), ds[1])
        with pytest.raises(DataError, match=str(bad)):
            prefetcher.get(2, [3])
        _same_frame(prefetcher.get(3), ds[3])


def test_depth_zero_decodes_in_place(speaker: Path):
    ds = SpeakerDataset.open(speaker)
    prefetcher = FramePrefetcher(ds, depth=0)
    _same_frame(prefetcher.get(1, [2, 3]), ds[1])
    assert prefetcher._executor is None
    with pytest.raises(ValueError, match="depth"):
        FramePrefetcher(ds, depth=-1)
