"""Soak test: the main window plays a tour at full speed for N minutes while random seeks,
steps, chapter jumps and PNG exports (through the export dialog, as a user makes them) come
in; reports the memory growth and every error.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/soak.py [--minutes 10] [--scenario balloon]

RSS is measured from the end of the warm-up (the simulation has reached the scenario's end
once, and the caches have filled) to the end. Targets: RSS growth <= 5%, 0 errors. Exits 1
when a target is missed.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtWidgets  # noqa: E402

from vmmemviz.ui.mainwindow import SPEEDS, MainWindow  # noqa: E402

GROWTH_MAX = 0.05
ACTION_EVERY_MS = 700


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Soak:
    def __init__(self, win: MainWindow, minutes: float, out: Path, seed: int):
        self.win, self.out = win, out
        self.rng = random.Random(seed)
        self.start = time.monotonic()
        self.stop_at = self.start + minutes * 60
        self.warm_until = self.start + max(10.0, minutes * 60 * 0.1)
        self.errors: list[str] = []
        self.counts = {"seek": 0, "step": 0, "chapter": 0, "export": 0, "play again": 0}
        self.base = None
        self.peak = 0.0
        self.samples: list[tuple[float, float]] = []
        win.worker.failed.connect(lambda msg: self.errors.append(f"worker: {msg}"))
        self.timer = QtCore.QTimer()
        self.timer.timeout.connect(self.act)
        self.timer.start(ACTION_EVERY_MS)

    def act(self):
        try:
            self._act()
        except Exception:                   # a failure in the window's code: count it, go on
            self.errors.append(traceback.format_exc(limit=3))

    def _act(self):
        w, now = self.win, time.monotonic()
        rss = rss_mb()
        self.peak = max(self.peak, rss)
        self.samples.append((now - self.start, rss))
        if self.base is None and now > self.warm_until and w.frame is not None and w.frame.finished:
            self.base = rss
        if now > self.stop_at:
            self.timer.stop()
            QtWidgets.QApplication.instance().quit()
            return
        if not w.playing:
            w.toggle_play()                 # at the end, play starts again from the beginning
            self.counts["play again"] += 1
        f = w.frame
        r = self.rng.random()
        if f is None:
            return
        if r < 0.45:
            w.seek(self.rng.randrange(0, max(1, f.total)))
            self.counts["seek"] += 1
        elif r < 0.6:
            w.step(self.rng.choice((-10, -1, 1, 10)))
            self.counts["step"] += 1
        elif r < 0.7:
            w.worker.find_chapter(self.rng.choice((-1, 1)))
            self.counts["chapter"] += 1
        else:
            self.export()

    def export(self):
        from vmmemviz.ui.exportdialog import ExportDialog
        path = self.out / f"soak-{self.counts['export']}.png"
        dlg = ExportDialog(self.win)
        try:
            dlg.path.setText(str(path))
            dlg.start_export()
            if not path.is_file() or path.stat().st_size < 1000:
                self.errors.append(f"export: no PNG written ({dlg.status.text()})")
        finally:
            dlg.deleteLater()
            path.unlink(missing_ok=True)
        self.counts["export"] += 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to play (default 10)")
    ap.add_argument("--scenario", default="balloon", help="the tour to play (default balloon)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    errors_in_slots: list[str] = []
    sys.excepthook = lambda *exc: errors_in_slots.append("".join(traceback.format_exception(*exc, limit=3)))
    with tempfile.TemporaryDirectory(prefix="vmmemviz-soak-") as tmp:
        qs = QtCore.QSettings(str(Path(tmp) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
        win = MainWindow(args.scenario, qs)
        win.resize(1400, 900)
        win.anim.setValue(0)
        win.set_speed_index(len(SPEEDS) - 1)
        win.show()
        soak = Soak(win, args.minutes, Path(tmp), args.seed)
        app.exec()
        win.close()
    errors = soak.errors + errors_in_slots
    end = soak.samples[-1][1] if soak.samples else float("nan")
    base = soak.base
    growth = (end - base) / base if base else float("nan")
    print(f"soak: {args.scenario} at {SPEEDS[-1]:g} events/s for {args.minutes:g} min; "
          + ", ".join(f"{k} {v}" for k, v in soak.counts.items()))
    if base is None:
        print("RSS: the simulation never finished its first run: no baseline (try more --minutes)")
    else:
        print(f"RSS: {base:.1f} MB after warm-up -> {end:.1f} MB at the end (peak {soak.peak:.1f} MB): "
              f"growth {growth * 100:+.1f}% (target <= {GROWTH_MAX * 100:.0f}%)")
    marks = [next(r for t, r in soak.samples if t >= m * 60) for m in range(int(args.minutes) + 1)
             if any(t >= m * 60 for t, _ in soak.samples)]
    print("RSS by minute (MB): " + " ".join(f"{r:.0f}" for r in marks))
    print(f"errors: {len(errors)} (target 0)")
    for e in errors[:10]:
        print("  " + e.strip().replace("\n", "\n  "))
    return 0 if base is not None and growth <= GROWTH_MAX and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
