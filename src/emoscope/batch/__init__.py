"""Batch analysis of many images and videos on a Dask cluster ([distributed] extra).

Images go in chunks, a video in one task, a video longer than one segment in segments cut at its
keyframes, one task each, whose results are stitched into one run's (:mod:`emoscope.segments`,
:mod:`emoscope.stitching`). Every worker builds one Analyzer, once. Results are written as they
complete: per input a JSON (images) or a timeline + summary (videos), then one table of every face
and an aggregate report. ``manifest.json`` in the output folder records each finished input with its
sha256 and each finished segment of a long video, so that running the same command again does only
what is missing and a killed job resumes.

- ``inputs``: what a batch is given, expanded to files; ``manifest``: the output folder's record;
- ``tasks``, ``segment_tasks``: what the workers run; ``segment_rows``: what a segment's task returns;
- ``long_video``: a long video's segments stored, then stitched into sinks (its annotated MP4 drawn per
  segment on the workers and joined); ``run``: the driver's loop
  (local or remote cluster); ``report``: the aggregate outputs.
"""
from .inputs import VIDEO_SUFFIXES, expand_inputs, output_key
from .long_video import SegmentedRecord, SegmentedVideo, analyze_on_cluster
from .manifest import MANIFEST, prepare_output
from .report import BatchReport
from .run import SCHEDULER, dask_client, run_batch

__all__ = ["MANIFEST", "SCHEDULER", "VIDEO_SUFFIXES", "BatchReport", "SegmentedRecord", "SegmentedVideo",
           "analyze_on_cluster", "dask_client", "expand_inputs", "output_key", "prepare_output", "run_batch"]
