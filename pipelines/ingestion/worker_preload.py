"""Imported once by the embedded cluster's fork server (:mod:`~pipelines.ingestion.engine`): the
parser, Great Expectations and the suites, built before any worker is forked from it, so every
worker (and every worker restarted after a crash) starts with them in a fraction of a second."""

import gc

from pipelines.ingestion import batches  # noqa: F401 - imported for the workers to inherit
from pipelines.ingestion.validation.runner import preload
from pipelines.parsing import parse  # noqa: F401

preload()
# Everything imported and built above lives as long as each worker: out of the cyclic collector's
# scans in every worker forked from here (pipelines/runs/startup.py; measured on five Banten
# batches in one process: collector time 0.28 -> 0.07 s), and its pages stay shared with them.
gc.freeze()
