"""Video frames on Dask's worker processes are allocated as in a plain process (batch/worker_memory.py), and a
local cluster's workers each hold to a core (batch/worker_cores.py)."""
import ctypes
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.distributed")

import cloudpickle  # noqa: E402

from emoscope.batch import dask_client  # noqa: E402


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def a_frame_is_mmapped() -> bool:
    """Whether a 640 x 480 BGR frame's buffer comes from its own mmap (glibc's count of mmapped blocks)."""
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    before = libc.mallinfo2().hblks
    frame = np.ones((480, 640, 3), np.uint8)
    mmapped = libc.mallinfo2().hblks > before
    del frame
    return mmapped


try:
    ctypes.CDLL(None).mallinfo2
    GLIBC = sys.platform.startswith("linux")
except (OSError, AttributeError):
    GLIBC = False
needs_glibc = pytest.mark.skipif(not GLIBC, reason="glibc's malloc (Linux)")


@needs_glibc
def test_dasks_trim_setting_alone_would_mmap_every_frame():
    """The cost the plugin undoes, shown in a plain process with the nanny's variable (so the next test can fail)."""
    here = str(Path(__file__).parent)
    run = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {here!r}); "
                          "from test_worker_memory import a_frame_is_mmapped; print(a_frame_is_mmapped())"],
                         capture_output=True, text=True, env={"MALLOC_TRIM_THRESHOLD_": "65536"}, timeout=60)
    assert run.stdout.strip() == "True", run.stderr


@needs_glibc
def test_frames_on_a_local_clusters_worker_process_are_not_mmapped_one_by_one():
    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the worker process cannot import this file
    with dask_client(None, workers=1) as client:
        environment = client.submit(lambda: __import__("os").environ.get("MALLOC_TRIM_THRESHOLD_")).result()
        assert environment == "65536"     # the nanny set it: what the plugin is for
        assert client.submit(a_frame_is_mmapped, pure=False).result() is False


def thread_cores() -> list[list[int]]:
    """The cores each thread of this process may run on."""
    return [sorted(os.sched_getaffinity(int(thread))) for thread in os.listdir("/proc/self/task")]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="Linux, 2 cores")
def test_a_local_clusters_workers_each_hold_to_a_core_of_their_own():
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with dask_client(None, workers=2) as client:
        per_worker = client.run(thread_cores)
    cores = [{core for thread in threads for core in thread} for threads in per_worker.values()]
    assert all(len(held) == 1 for held in cores) and len(set.union(*cores)) == 2, per_worker
