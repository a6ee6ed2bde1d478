"""`pgs.core.allocator.keep_freed_memory`: glibc's thresholds are set on Linux, nothing elsewhere."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from pgs.core import allocator


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_applies_on_glibc_in_a_fresh_process():
    code = (
        "import numpy as np; from pgs.core.allocator import keep_freed_memory\n"
        "assert keep_freed_memory()\n"
        "for _ in range(3): a = np.ones(8 << 20, np.uint8); del a\n"  # 8 MiB blocks still allocate
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_does_nothing_off_glibc(monkeypatch):
    monkeypatch.setattr(allocator.platform, "system", lambda: "Darwin")
    assert allocator.keep_freed_memory() is False
