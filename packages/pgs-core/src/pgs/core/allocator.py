"""Process-wide heap setting for long render loops: freed tensor memory is kept for reuse.

PyTorch allocates CPU tensors with the C library's ``malloc``. glibc serves blocks above a
dynamic threshold (128 KiB at start) with fresh ``mmap`` pages and gives them back on free, and
it trims the heap's free top above 128 KiB. A render loop allocates and frees the same
megabyte-sized activations and images every frame, so each frame pays for page faults on memory
it had a moment ago. `keep_freed_memory` raises both thresholds (``mallopt``): blocks up to
32 MiB come from the heap, and up to `keep_bytes` of freed heap stay mapped. Measured on a
2-core VM with ``pgs serve``'s 20k + 3k Gaussian benchmark head at 256x256: 27.3 -> 24.8 ms per
render (three runs each); a trained head's renders did not change.

Only on Linux with glibc; elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

#: ``mallopt`` parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024


def keep_freed_memory(keep_bytes: int = 512 * 1024 * 1024) -> bool:
    """Serve blocks up to 32 MiB from the heap and keep up to `keep_bytes` of it when freed.

    Args:
        keep_bytes: free heap kept mapped at its top before glibc returns memory to the system.

    Returns:
        True when the settings were applied (Linux, glibc), False otherwise.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1
    return mallopt(_M_TRIM_THRESHOLD, min(int(keep_bytes), 2**31 - 1)) == 1 and ok


__all__ = ["MMAP_THRESHOLD_MAX", "keep_freed_memory"]
