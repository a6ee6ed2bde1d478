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
from pgs.core.data.prefetch import FRAME_CACHE_BYTES, FramePrefetcher, frame_nbytes
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


@pytest.mark.parametrize("cache_bytes", [0, FRAME_CACHE_BYTES])
def test_prefetched_frames_equal_direct_reads_in_sampler_order(speaker: Path, cache_bytes: int):
    ds = SpeakerDataset.open(speaker)
    sampler = FrameSampler(len(ds), 3)
    reference = FrameSampler(len(ds), 3)
    with FramePrefetcher(ds, depth=3, cache_bytes=cache_bytes) as prefetcher:
        for _ in range(2 * len(ds) + 3):  # across epoch boundaries
            index = sampler.next()
            frame = prefetcher.get(index, sampler.peek(3))
            expected = ds[reference.next()]
            _same_frame(frame, expected)
        assert prefetcher._executor is not None
        if cache_bytes:  # the whole clip is cached after one epoch: nothing left to decode ahead
            assert not prefetcher._pending and len(prefetcher._cache) == len(ds)
        else:
            assert 0 < len(prefetcher._pending) <= 3 and not prefetcher._cache
    assert prefetcher._executor is None and not prefetcher._pending and not prefetcher._cache
    assert not [t for t in threading.enumerate() if t.name.startswith("pgs-frames")]


class _CountingDataset:
    """A dataset wrapper counting decodes and the torch thread count of the decoding thread."""

    def __init__(self, dataset: SpeakerDataset) -> None:
        self.dataset = dataset
        self.decodes: list[int] = []
        self.threads: set[int] = set()

    def __getitem__(self, index: int):
        self.decodes.append(index)
        if threading.current_thread().name.startswith("pgs-frames"):
            self.threads.add(torch.get_num_threads())
        return self.dataset[index]


def test_cache_keeps_frames_within_its_budget_and_the_worker_uses_one_torch_thread(speaker: Path):
    ds = SpeakerDataset.open(speaker)
    size = frame_nbytes(ds[0])
    counting = _CountingDataset(ds)
    with FramePrefetcher(counting, depth=2, cache_bytes=int(2.5 * size)) as prefetcher:  # type: ignore[arg-type]
        for index in (0, 1, 2, 0, 1, 2, 0, 1, 2):
            _same_frame(prefetcher.get(index), ds[index])
        assert sorted(prefetcher._cache) == [0, 1] and prefetcher.cached_bytes == 2 * size <= 2.5 * size
        assert counting.decodes == [0, 1, 2, 2, 2]  # 0 and 1 decoded once; 2 every time: over budget
        _same_frame(prefetcher.get(3, [4, 5]), ds[3])
        _same_frame(prefetcher.get(4, [5]), ds[4])  # decoded ahead in the worker thread
    assert counting.threads == {1}
    with pytest.raises(ValueError, match="budget"):
        FramePrefetcher(ds, cache_bytes=-1)


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
