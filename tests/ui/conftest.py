"""Waiting in tests for a signal that another thread emits (the simulation worker, a
calibration): ``qtbot.waitSignal`` runs its slot in the emitting thread, which stops the
blocker's timer from there (Qt refuses: "Timers cannot be stopped from another thread"), and
the timer later fires on a deleted object, a crash of the whole test process."""
from __future__ import annotations

import contextlib

import pytest
from PySide6 import QtCore


class _Catch(QtCore.QObject):
    """Receives a signal in the GUI thread: a bound method of an object of this thread, so Qt
    queues the call here whatever thread emits."""

    def __init__(self):
        super().__init__()
        self.args = None

    def got(self, *args):
        self.args = args


@pytest.fixture
def wait_worker(qtbot):
    """``with wait_worker(signal, timeout) as sig:`` waits, after the block, until ``signal``
    (emitted in another thread) has reached the GUI thread; ``sig.args`` are its arguments."""
    @contextlib.contextmanager
    def wait(signal, timeout=10000):
        c = _Catch()
        signal.connect(c.got)
        try:
            yield c
            qtbot.waitUntil(lambda: c.args is not None, timeout=timeout)
        finally:
            signal.disconnect(c.got)
    return wait
