"""One lock around every launch of a parallel numba kernel (the `cpu` rasterizer, the tri-plane lookup).

numba's workqueue threading layer must not be entered from two threads at once, and one parallel
kernel already uses every core, so kernel launches are serialised process-wide.
"""

from __future__ import annotations

import threading

NUMBA_KERNEL_LOCK = threading.Lock()

__all__ = ["NUMBA_KERNEL_LOCK"]
