"""The engine/UI boundary: the UI thread reads only frozen LogSnapshots while the simulation
thread appends (reading the live EventLog returned 108,700 rows for a 70,000-row range)."""
import threading

import numpy as np
import pytest

from vmmemviz.engine.worker import Engine
from vmmemviz.model.config import scenario
from vmmemviz.model.core.events import EVENT_DTYPE, EventLog

BATCHES = 800
READ_MAX = 70000          # rows a read asks for at most (the review's range)


def numbered(a: int, k: int) -> np.ndarray:
    rows = np.zeros(k, EVENT_DTYPE)
    rows["content"] = np.arange(a, a + k)      # each row says which one it is
    return rows


def test_snapshots_read_right_while_the_log_grows():
    """An appender thread logs batches of every size (small ones fill blocks, large ones are
    handed over whole) and publishes a snapshot after each, as the worker does; this thread
    reads random ranges of the latest one meanwhile. Every read has exactly its rows."""
    log = EventLog()
    latest = [log.snapshot()]
    done = threading.Event()
    sizes = np.random.default_rng(7).choice([1, 7, 300, EventLog.BLOCK // 4 + 1], BATCHES,
                                            p=[0.3, 0.3, 0.35, 0.05])

    def append():
        n = 0
        for k in sizes:
            log.append(numbered(n, int(k)))
            n += int(k)
            latest[0] = log.snapshot()
        done.set()

    t = threading.Thread(target=append)
    t.start()
    rng = np.random.default_rng(1)
    reads = 0
    while not done.is_set() or reads < 200:
        snap = latest[0]
        n = len(snap)
        a = int(rng.integers(0, n + 1))
        b = min(n, a + int(rng.integers(0, READ_MAX)))
        got = snap.rows(a, b)
        assert len(got) == b - a, (a, b, len(got))
        assert np.array_equal(got["content"], np.arange(a, b))
        assert not got.flags.writeable
        reads += 1
    t.join()
    assert len(latest[0]) == int(sizes.sum()) and reads >= 200


class Preempted(list):
    """The live log's block starts: the first read of one lets the writer run (a thread switch
    at the worst moment, made certain)."""

    def __init__(self, items, writer):
        super().__init__(items)
        self.writer = writer

    def __getitem__(self, i):
        v = super().__getitem__(i)
        writer, self.writer = self.writer, None
        if writer is not None:
            writer()
        return v


def test_a_read_interrupted_by_an_append_gets_its_rows():
    """The UI thread is reading when the simulation seals the open block and starts a new one.
    Reading the live log there returned the range plus as many rows again from the new, empty
    block; the UI reads the snapshot it was sent, which no append touches."""
    log = EventLog()
    n = EventLog.BLOCK - 5
    for a in range(0, n, 5000):                    # small batches fill the open block
        log.append(numbered(a, min(5000, n - a)))
    ui_log = log.snapshot()                        # what the worker sent (the old UI held ``log``)
    log._starts = Preempted(log._starts, lambda: log.append(numbered(n, 10)))
    got = ui_log.rows(n - 100, n)
    assert len(got) == 100 and np.array_equal(got["content"], np.arange(n - 100, n))
    log.append(numbered(len(log), 40000))          # the simulation goes on; the snapshot stays
    assert len(ui_log) == n and np.array_equal(ui_log.rows(n - 100, n + 50)["content"], np.arange(n - 100, n))


@pytest.mark.slow
def test_what_the_worker_sends_never_changes(qtbot):
    """Every snapshot the running worker sends still reads as the log's prefix at the end."""
    engine = Engine(scenario.load("overcommit"))      # a run of seconds: the log grows over many summaries
    w = engine.worker
    snaps, sources = [], []
    w.logGrew.connect(snaps.append)
    w.loaded.connect(sources.append)
    engine.start()
    try:
        qtbot.waitUntil(lambda: bool(sources and snaps) and w.timeline is not None and w.timeline.finished()
                        and len(snaps[-1]) == len(w.timeline), timeout=60000)
    finally:
        engine.shutdown()
    final = w.timeline.log.rows()
    assert len(snaps) > 3 and sources[0].vm_names
    for snap in snaps + [sources[0].log]:
        assert np.array_equal(snap.rows(0, len(snap)), final[:len(snap)])
