"""Real-data windows: a live process (this test process) and an esxtop capture."""
import os

import numpy as np

from vmmemviz.importers.esxtop import read_esxtop
from vmmemviz.importers.procsnap import snapshot
from vmmemviz.model.config import scenario
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


CAPTURE = ('"(PDH-CSV 4.0) (UTC)(0)","\\\\esx1\\Memory\\Machine MBytes","\\\\esx1\\Memory\\Free MBytes",'
           '"\\\\esx1\\Memory\\Kernel MinFree MBytes","\\\\esx1\\Memory\\Kernel Managed MBytes",'
           '"\\\\esx1\\Memory\\Kernel State","\\\\esx1\\Group Memory(100:web01)\\Memory Size MBytes",'
           '"\\\\esx1\\Group Memory(100:web01)\\Touched MBytes"\n')


def test_capture_window_feeds_the_panels(qtbot, tmp_path):
    path = tmp_path / "cap.csv"
    rows = [CAPTURE]
    for i in range(5):
        rows.append(f'"11/27/2026 08:00:{i * 5:02d}","8192","{4000 - 500 * i}","403","8043","{min(i, 4)}",'
                    f'"2048","{100 + 10 * i}"\n')
    path.write_text("".join(rows))
    cap = read_esxtop(str(path))
    w = R.CaptureWindow(cap)
    qtbot.addWidget(w)
    assert len(w.hist) == 5 and w.hist[2]["tick"] == 10
    w.slider.setValue(3)
    f = w.frame(3)
    assert f.counters["host"]["free_mb"] == 2500 and f.counters["host"]["state"] == "hard"
    assert f.counters["vms"]["web01"]["TCHD"] == 130
    out = w.save_skeleton(str(tmp_path / "sk.vmmemviz.toml"))
    sc = scenario.load(out)
    assert sc.vms[0].name == "web01" and sc.vms[0].memory_mb == 2048
