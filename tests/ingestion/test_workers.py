"""Batches prepared in forked workers and committed in the order they were put
(pipelines.ingestion.workers); a worker that dies costs its batch a retry here, not the run."""

from __future__ import annotations

import logging
import os

from pipelines.ingestion.batches import Pending, prepare_batch
from pipelines.ingestion.incoming import Incoming
from pipelines.ingestion.workers import InOrder
from tests.ingestion.toy_parser import toy_parse


def _batch(n: int, size: int = 2) -> list[Pending]:
    out = []
    for i in range(size):
        name = f"36.01.01.{2001 + i}_2024.csv"
        content = "\n".join(str(j) for j in range(n + i + 1)).encode()
        out.append(Pending(Incoming("households", name, "landing", None, lambda c=content: c), content, "sha",
                           f"b{n}-{i}"))
    return out


def _run(workers: int, batches: list[list[Pending]], parse=toy_parse):
    committed, forks = [], []

    def commit(batch, prepared):
        committed.append(([p.sid for p in batch], prepared.results))

    with InOrder(workers, parse, None, lambda: forks.append(1), commit) as queue:
        for b in batches:
            queue.put(b)
        queue.put([])
        queue.finish()
    return committed, forks


def test_workers_commit_what_one_process_commits_in_the_same_order():
    batches = [_batch(n) for n in range(6)]
    inline, no_fork = _run(0, batches)
    pooled, forks = _run(2, batches)
    assert pooled == inline and [sids for sids, _ in inline] == [[p.sid for p in b] for b in batches]
    assert no_fork == [] and forks == [1]  # before_fork once, and only with workers


def test_nothing_to_prepare_starts_no_worker():
    committed, forks = _run(4, [])
    assert committed == [] and forks == []


MAIN = os.getpid()


def _dies_in_a_worker(stream, files, hints):
    if os.getpid() != MAIN:
        os._exit(1)  # a worker killed mid-batch (OOM killer, segfault in a C extension)
    return toy_parse(stream, files, hints)


def test_a_dead_worker_s_batch_is_prepared_here(caplog):
    batches = [_batch(n) for n in range(3)]
    expected, _ = _run(0, batches)
    with caplog.at_level(logging.WARNING, logger="pipelines.ingestion.workers"):
        committed, _ = _run(2, batches, parse=_dies_in_a_worker)
    assert committed == expected
    assert any("worker died" in r.getMessage() for r in caplog.records)
    assert prepare_batch("households", [p.item for p in batches[0]], toy_parse, None).results == expected[0][1]


def _dies_on_the_first_batch(stream, files, hints):
    if os.getpid() != MAIN and files[0][1] == b"0":
        os._exit(1)
    return toy_parse(stream, files, hints)


def test_the_batches_after_a_dead_worker_go_to_new_workers(caplog):
    batches = [_batch(n) for n in range(6)]
    expected, _ = _run(0, batches)
    with caplog.at_level(logging.WARNING, logger="pipelines.ingestion.workers"):
        committed, _ = _run(1, batches, parse=_dies_on_the_first_batch)
    assert committed == expected
    assert any("starting new workers" in r.getMessage() for r in caplog.records)
