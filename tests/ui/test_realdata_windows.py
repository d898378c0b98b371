"""Real-data windows: a live process (this test process)."""
import os

import numpy as np

from vmmemviz.importers.procsnap import snapshot
from vmmemviz.scene import palette as P
from vmmemviz.ui import realdata as R


def test_process_window_shows_this_process(qtbot):
    keep = np.ones(64 * 4096, np.uint8)          # 64 touched anonymous pages in this process
    snap = snapshot(os.getpid())
    w = R.ProcessWindow(snap, "pytest")
    qtbot.addWidget(w)
    t = snap.totals()
    codes = w.codes
    assert (codes == R.ANON).sum() + (codes == R.THP).sum() + (codes == R.SHARED_).sum() > 0
    assert len(codes) == t["pages"] and (codes != P.BG).all()
    assert (codes == R.ZERO).sum() == t["zero_page"]
    assert (codes == R.SWAPPED).sum() == t["swapped"]
    # a cell of a named mapping describes that mapping's page
    at, m = next((a, m) for a, m in w.where if m.path.endswith("python3.11") or "libpython" in m.path)
    text = w.describe(at)
    assert m.path in text and f"GVPN {int(m.gvpn[0]):#x}" in text
    assert keep.sum() == 64 * 4096
    w.grab().save(str(os.path.join(os.environ.get("TMPDIR", "/tmp"), "process-window.png")))
