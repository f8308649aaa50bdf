"""Start-up objects kept out of the cyclic garbage collector (pipelines/runs/startup.py)."""

import gc

import pytest

from pipelines.runs.startup import long_lived


@pytest.fixture(autouse=True)
def _restore_gc():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_what_is_built_inside_is_frozen_and_the_collector_comes_back():
    gc.enable()
    gc.unfreeze()
    with long_lived():
        assert not gc.isenabled()  # nothing collected while the long-lived objects are built
        kept = [[i] for i in range(10_000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)
    assert not any(gc.is_finalized(k) for k in kept[:1])  # still alive, only never scanned again


def test_the_collector_comes_back_when_the_block_raises():
    gc.enable()
    with pytest.raises(RuntimeError), long_lived():
        raise RuntimeError("definitions failed to load")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with long_lived():
        pass
    assert not gc.isenabled()
