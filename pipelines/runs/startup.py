"""Start-up of a command: the objects that live as long as the process, kept out of Python's
cyclic garbage collector.

Importing Dagster, pandas, DuckDB and Great Expectations and loading the definitions builds over a
million objects that live as long as the process. CPython's collector scans every tracked object
at each full collection, and triggers collections by allocation counts: a Banten run's process
made 7 full collections (1.1 s) and 1,274 younger ones (0.4 s), and a quiet night's check, which
only imports and reads, spent 0.6 s of its 2.3 s in the collector (2026-12-02, measured with
``gc.callbacks`` on a machine at ~1.5x its usual times). Module-level objects are never garbage,
so: no collection while they are built, then :func:`gc.freeze` moves them to the permanent
generation, which no collection scans again; what the run itself creates is collected as usual.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Build what lives as long as the process (imports, the definitions) without the collector,
    then freeze it (see the module docstring). The collector is on again after the block if it
    was before, also when the block raises."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
