"""Video frames on Dask workers at the speed of a plain process.

Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536`` so that pandas-style workloads give
memory back to the system. Setting it also turns off glibc's adaptive mmap threshold, which stays at
128 KiB: every decoded frame (0.9 MB at 640 x 480), resized copy and model input is then a fresh mmap
whose pages fault in again, frame after frame. Measured on one core, 1,200 frames of a tiled-portrait
video: 9.7 s in a plain process, 12.8 s with that variable set, 9.4 s with it set and the thresholds
below. :class:`FrameMemory` sets on every worker, including those that join later, the thresholds that
glibc's own adaptation reaches for large blocks (mmap from 32 MiB, trim above 64 MiB). Only where the C
library is glibc's and the variable is set; elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys

from distributed import WorkerPlugin

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3    # glibc's mallopt parameters (malloc.h)
MMAP_FROM = 32 * 2**20      # glibc's largest adaptive mmap threshold on 64-bit systems
TRIM_ABOVE = 2 * MMAP_FROM  # the trim threshold its adaptation sets beside it


def undo_dask_malloc_trim() -> bool:
    """Set glibc's large-block thresholds back where Dask's ``MALLOC_TRIM_THRESHOLD_`` fixed them;
    True when they were set."""
    if not sys.platform.startswith("linux") or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):   # not glibc
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_FROM)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE))


class FrameMemory(WorkerPlugin):
    """:func:`undo_dask_malloc_trim` on each worker as it starts (registered by ``dask_client``)."""

    name = "emoscope-frame-memory"

    def setup(self, worker) -> None:
        undo_dask_malloc_trim()
