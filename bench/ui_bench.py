"""UI benchmark: full redraw of the layer view against a bare pyqtgraph ImageItem redraw of
the same cells, at teaching scale and at host scale (64 GiB host, 32 VMs), frames built in
the worker while playing at host scale against a bare copy of their cells, and the UI's
answer time to input while the simulation plays at full speed. Prints ratios; no pass/fail.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_bench.py [--quick]
    .venv/bin/python bench/ui_bench.py --parts FACTOR TICKS   # the datacenter's tick parts
    .venv/bin/python bench/ui_bench.py --playback STEP        # only host-scale frames, STEP events each
    .venv/bin/python bench/ui_bench.py --seeks SCENARIO       # only seeks shown, after a run to the end

``--parts`` times every part of the first TICKS ticks of the built-in ``datacenter`` divided by
FACTOR (1: full size) as the window's worker runs them (``Timeline.advance_for``): the worker
answers its user between parts, so the longest part bounds how long a key may wait. At full
size it needs about 5 GB: run it under an address-space cap (``ulimit -v 16000000``).

Targets: host-scale redraw within 2x the bare redraw; a frame while playing within 40 ms
(25 frames a second); input answered within 50 ms.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from vmmemviz.engine.worker import build_frame  # noqa: E402
from vmmemviz.model.config import scenario  # noqa: E402
from vmmemviz.model.core.timeline import Timeline  # noqa: E402
from vmmemviz.scene import bands as B  # noqa: E402
from vmmemviz.scene import palette as P  # noqa: E402
from vmmemviz.scene.incremental import BandBuilder  # noqa: E402
from vmmemviz.ui.layerview import LayerView  # noqa: E402
from vmmemviz.ui.mainwindow import SPEEDS, MainWindow  # noqa: E402

SIZE = (1400, 900)


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1000


def picture(bands) -> np.ndarray:
    """Every band's cells in one raster, as the bare ImageItem gets them."""
    x, y, w, h = B.scene_rect(bands)
    img = np.zeros((int(np.ceil(h)) + 1, int(np.ceil(w)) + 1), np.uint8)
    for b in bands:
        r0, c0 = int(b.y - y), int(b.x - x)
        img[r0:r0 + b.rows, c0:c0 + b.cols] = b.codes
    return img


def redraw(label: str, frames, n: int):
    """Median ms of set_frame + synchronous repaint of the next of ``frames`` (consecutive
    frames as playing sends them), the view against a bare ImageItem given the next raster."""
    view = LayerView()
    view.resize(*SIZE)
    view.show()
    k = [0]

    def ours():
        k[0] = (k[0] + 1) % len(frames)
        view.set_frame(frames[k[0]])
        view.viewport().grab()

    raster = [picture(f.bands) for f in frames]
    gv = pg.GraphicsView()
    vb = pg.ViewBox(lockAspect=True, invertY=True)
    gv.setCentralItem(vb)
    item = pg.ImageItem(axisOrder="row-major")
    vb.addItem(item)
    gv.resize(*SIZE)
    gv.show()
    lut = P.lut()
    item.setImage(raster[0], lut=lut, levels=(0, 255), autoLevels=False)
    vb.autoRange(padding=0)

    def bare():
        k[0] = (k[0] + 1) % len(frames)
        item.setImage(raster[k[0]], lut=lut, levels=(0, 255), autoLevels=False)
        gv.viewport().grab()

    ours()
    k[0] = 0
    t_ours = timed(ours, n)
    k[0] = 0
    t_bare = timed(bare, n)
    cells = sum(b.count for b in frames[0].bands)
    print(f"{label:9s} redraw ({cells:,} cells, {len(frames[0].arrows)} arrows): layer view {t_ours:7.1f} ms, "
          f"bare ImageItem {t_bare:7.1f} ms, ratio {t_ours / t_bare:4.2f} (target <= 2)")
    view.close()
    gv.close()
    return t_ours / t_bare


def consecutive(tl, start: int, step: int, count: int) -> list:
    """``count`` frames ``step`` events apart, each built from the last, as playing sends them."""
    builder = BandBuilder()
    return [build_frame(tl, start + i * step, start + (i - 1) * step if i else None, builder=builder)
            for i in range(count)]


def playback(tl, start: int, step: int, frames: int):
    """Median ms of a frame built as the worker builds them while playing (from the last
    frame, counters passed on), ``step`` events apart, and of a from-scratch frame, against
    a bare copy of every band's cells measured in the same run."""
    builder = BandBuilder()
    first = build_frame(tl, start, builder=builder)
    kept = (first.pos, first.counters)
    pos = [start]

    def next_frame():
        pos[0] += step
        build_frame(tl, pos[0], pos[0] - step, builder=builder, counters=kept)

    each = []
    for _ in range(frames):
        t = time.perf_counter()
        next_frame()
        each.append(time.perf_counter() - t)
    t_play, t_p90 = statistics.median(each) * 1000, float(np.percentile(each, 90)) * 1000
    t_full = timed(lambda: build_frame(tl, pos[0]), 2)
    t_bare = timed(lambda: [b.codes.copy() for b in first.bands], 5)
    print(f"hostscale frame while playing ({step} events a frame): median {t_play:6.1f} ms (p90 {t_p90:5.1f}), from scratch "
          f"{t_full:6.1f} ms, bare copy of the cells {t_bare:5.1f} ms; ratio {t_play / t_bare:4.2f} "
          f"(from scratch {t_full / t_bare:4.2f}); {1000 / t_play:4.1f} frames/s (target >= 25)")


def window(name: str):
    """A main window on scenario ``name`` with settings of its own, shown at 1500x950."""
    s = QtCore.QSettings(f"/tmp/vmmemviz-bench-{os.getpid()}.ini", QtCore.QSettings.Format.IniFormat)
    s.clear()
    w = MainWindow(name, s)
    w.resize(1500, 950)
    w.show()
    return w, QtWidgets.QApplication.instance()


def input_latency(label: str, name: str, seconds: float):
    """Post key presses to the window every 20 ms while it plays at full speed; how long
    until each is handled? Compared with the same window idle."""
    w, app = window(name)
    t0 = time.monotonic()
    while w.frame is None and time.monotonic() - t0 < 120:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
    sent, lat = {}, []

    class Filter(QtCore.QObject):
        def eventFilter(self, obj, ev):
            if ev.type() == QtCore.QEvent.Type.KeyPress and ev.key() == QtCore.Qt.Key.Key_F24:
                lat.append(time.perf_counter() - sent.pop(ev.nativeVirtualKey()))
                return True
            return False

    f = Filter()
    w.installEventFilter(f)

    def measure(dur):
        lat.clear()
        end, i = time.monotonic() + dur, 0
        frames0 = w.frame.pos
        while time.monotonic() < end:
            i += 1
            sent[i] = time.perf_counter()
            app.postEvent(w, QtGui.QKeyEvent(QtCore.QEvent.Type.KeyPress, QtCore.Qt.Key.Key_F24,
                                              QtCore.Qt.KeyboardModifier.NoModifier, 0, i, 0))
            stop = time.monotonic() + 0.02
            while time.monotonic() < stop:
                app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
        ms = np.array(lat) * 1000
        return np.percentile(ms, 95), ms.max(), w.frame.pos - frames0

    idle95, idlemax, _ = measure(min(2.0, seconds))
    w.set_speed_index(len(SPEEDS) - 1)
    w.set_playing(True)
    p95, mx, moved = measure(seconds)
    w.set_playing(False)
    print(f"{label:9s} input while playing at {SPEEDS[-1]:g} events/s ({moved:,} events shown): "
          f"p95 {p95:5.1f} ms, max {mx:5.1f} ms (idle p95 {idle95:4.1f} ms, max {idlemax:4.1f}); "
          f"ratio to the 50 ms target {mx / 50:4.2f}")
    w.close()
    return mx


def seek_shown(label: str, name: str, n: int) -> list:
    """Run the window to the scenario's end, then seek to ``n`` random events as a click on
    the timeline does, each once the last one's counters have come and the panels painted
    them: how long until its picture is painted (the seek, the frame built in the worker, the
    layer view painted)? Compared with a repaint of the same window."""
    w, app = window(name)
    wake = QtCore.QTimer()          # waiting for events, not spinning: the worker needs the CPU
    wake.start(50)

    def until(cond, limit):
        t0 = time.monotonic()
        while not cond() and time.monotonic() - t0 < limit:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents |
                              QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        if not cond():
            raise SystemExit(f"{label}: the window did not get there within {limit} s")

    until(lambda: w.frame is not None, 120)
    t = time.perf_counter()
    w.to_end()
    until(lambda: w.frame.finished and w.frame.pos == w.frame.total, 1800)
    total = w.frame.total
    print(f"{label:9s} ({total:,} events, run to the end in the window in {time.perf_counter() - t:.0f} s)")
    took, came, paint = [], [], []
    for k in np.random.default_rng(2).integers(1, total, n).tolist():
        until(lambda: w.frame.counters_pos == w.frame.pos, 60)     # the last seek's counters came,
        settle = time.monotonic()                                   # and the panels painted them:
        until(lambda: time.monotonic() - settle > 0.3, 1)          # a click, not a drag along the bar
        t = time.perf_counter()
        w.seek(k)
        until(lambda: w.frame.pos == k, 60)
        came.append(time.perf_counter() - t)
        w.repaint()                         # what is queued to paint, painted now
        took.append(time.perf_counter() - t)
        t = time.perf_counter()
        w.repaint()
        paint.append(time.perf_counter() - t)
    ms = np.array(took) * 1000
    print(f"{label:9s} a seek shown (click to painted): median {np.median(ms):.0f} ms, max {ms.max():.0f} ms, "
          f"{int((ms > 100).sum())} of {n} over 100 ms; a bare repaint of the window {1000 * np.median(paint):.0f} ms "
          f"-> median {np.median(ms) / max(1000 * np.median(paint), 1e-3):.1f}x  [target <= 100 ms]")
    print(f"{label:9s}   of which the frame built in the worker and received: median {1000 * np.median(came):.0f} ms; "
          f"painted after it: median {1000 * np.median(np.subtract(took, came)):.0f} ms")
    w.close()
    return took


def tick_parts(factor: float, ticks: int) -> None:
    """The longest parts of the datacenter's first ``ticks`` ticks, named."""
    from vmmemviz.assets import asset
    from vmmemviz.model.config.scale import scaled

    text = asset("scenarios/datacenter.toml").read_text()
    t = time.perf_counter()
    tl = Timeline(scenario.parse(scaled(text, factor) if factor != 1 else text, "datacenter"))
    print(f"datacenter / {factor:g}: {tl.sim.state.host.n_mpn:,} machine pages, timeline made in "
          f"{time.perf_counter() - t:.1f} s")
    names = [f"process {vm.name}/{p.name}" for vm in tl.sim.state.vms for p in vm.procs] + \
        [f"mechanism {type(m).__name__}" for m in tl.sim.mechanisms] + \
        [f"end of tick: {type(m).__name__}" for m in tl.sim.mechanisms]
    took = []
    while tl.sim.now < ticks and not tl.finished():
        tick, i = tl.sim.now, len([1 for w in took if w[1] == tl.sim.now])
        t = time.perf_counter()
        tl.advance_for(0)                    # one part: no time to spare
        dt = time.perf_counter() - t
        vms = len(tl.sim.state.vms) if tick == 0 else 0      # tick 0 begins by powering on each VM
        k = i - vms
        what = ("the tick's counters" if tl.sim.now != tick else
                f"power on {tl.sim.state.vms[i].name}" if k < 0 else names[k])
        took.append((dt, tick, what))
    for tick in range(ticks):
        parts = [p for p in took if p[1] == tick]
        if parts:
            print(f"tick {tick}: {len(parts)} parts, {sum(p[0] for p in parts):.1f} s; longest: " +
                  "; ".join(f"{p[2]} {p[0] * 1000:.0f} ms" for p in sorted(parts, reverse=True)[:4]))


def main():
    if "--parts" in sys.argv:
        i = sys.argv.index("--parts")
        tick_parts(float(sys.argv[i + 1]), int(sys.argv[i + 2]))
        return
    quick = "--quick" in sys.argv
    if "--seeks" in sys.argv:
        QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
        name = sys.argv[sys.argv.index("--seeks") + 1]
        seek_shown(name, name, 12)
        return
    if "--playback" in sys.argv:
        big = Timeline(scenario.load("hostscale"))
        big.ensure(60000)
        playback(big, len(big) // 2, int(sys.argv[sys.argv.index("--playback") + 1]), 24)
        return
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    tl = Timeline(scenario.load("default"))
    redraw("teaching", consecutive(tl, 2000, 1, 21), 20)
    t = time.perf_counter()
    big = Timeline(scenario.load("hostscale"))
    big.ensure(60000 if not quick else 1000)
    n = len(big)
    print(f"(host scale: {big.view.host.n_mpn:,} machine pages, {len(big.view.vms)} VMs, "
          f"{n:,} events simulated in {time.perf_counter() - t:.0f} s)")
    for step in (40, 400):               # 1000 and 10000 events/s at 25 frames a second
        playback(big, n // 2, step, 6 if quick else 12)
    redraw("hostscale", consecutive(big, n // 2, 40, 7), 6)
    del big
    input_latency("teaching", "default", 3.0)
    input_latency("hostscale", "hostscale", 6.0 if quick else 15.0)
    seek_shown("overcommit", "overcommit", 12)
    app.quit()


if __name__ == "__main__":
    main()
