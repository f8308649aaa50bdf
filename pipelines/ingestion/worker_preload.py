"""Imported once by the embedded cluster's fork server (:mod:`~pipelines.ingestion.engine`): the
parser, Great Expectations and the suites, built before any worker is forked from it, so every
worker (and every worker restarted after a crash) starts with them in a fraction of a second."""

from pipelines.ingestion import batches  # noqa: F401 - imported for the workers to inherit
from pipelines.ingestion.validation.runner import preload
from pipelines.parsing import parse  # noqa: F401

preload()
