"""Each worker of a local cluster on a core of its own.

A local cluster's single-threaded workers still start threads of their libraries (the video decoder's, OpenCV's),
and the system moves processes between cores: two workers on a 2-core machine then ran 11% slower than the same
workers each held to one core (60-s segments of a 10-minute video: 101.9 s against 90.7 s; BENCHMARKS.md). Held to
one core, a worker's threads share it instead of taking from the other worker. Only on Linux, and only where
there are at least as many cores as workers; a cluster started elsewhere is the user's to place.
"""
from __future__ import annotations

import os

from distributed import WorkerPlugin

TASKS = "/proc/self/task"   # the process's threads (Linux)


def hold_to_core(ordinal: int, workers: int) -> int | None:
    """Hold this process, every thread it has and those it starts later, to core ``ordinal`` of the cores it may
    use; the core, or None where it cannot (not Linux, fewer cores than ``workers``)."""
    if not hasattr(os, "sched_setaffinity") or not os.path.isdir(TASKS):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < workers:
        return None
    core = cores[ordinal % len(cores)]
    hold_threads({core})
    return core


def hold_threads(cores: set[int]) -> None:
    """Every thread of this process on ``cores`` (Linux); threads started later inherit their starter's."""
    for thread in os.listdir(TASKS):
        try:
            os.sched_setaffinity(int(thread), cores)
        except (ProcessLookupError, PermissionError):   # a thread that ended meanwhile
            continue


class OneCorePerWorker(WorkerPlugin):
    """:func:`hold_to_core` on each of a local cluster's ``workers``, by the worker's name (0, 1, ...)."""

    name = "emoscope-one-core-per-worker"

    def __init__(self, workers: int):
        self.workers = workers

    def setup(self, worker) -> None:
        if isinstance(worker.name, int):
            hold_to_core(worker.name, self.workers)
