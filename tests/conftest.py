import gc
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Once a window's engine has started, Python's cyclic collector runs only on a timer of
    the Qt event loop (engine/worker.py); tests without an event loop collect after each test,
    so cycles of one test (a host-scale timeline) are not kept through the next."""
    yield
    if not gc.isenabled():
        gc.collect()
