"""`pgs.core.io.npy.load_npy`: ``.npy`` reads from several threads at once."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import numpy as np
import pytest

from pgs.core.io.npy import load_npy


def test_concurrent_reads_return_the_arrays(tmp_path: Path) -> None:
    paths = []
    for i in range(8):
        path = tmp_path / f"m{i}.npy"
        np.save(path, np.arange(i, i + 24 * 24).reshape(24, 24) % 2 == 0)
        paths.append(path)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(load_npy, paths * 50))
    for k, array in enumerate(results):
        i = k % len(paths)
        assert np.array_equal(array, np.arange(i, i + 24 * 24).reshape(24, 24) % 2 == 0)


def test_mmap_and_pickle_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.ones((3, 2)))
    assert isinstance(load_npy(path, mmap_mode="r"), np.memmap)
    obj = tmp_path / "o.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):  # object arrays need pickle, which is refused
        load_npy(obj)
