"""The simulation thread: owns the Timeline, seeks, and sends Frames; the UI only paints.

``build_frame(timeline, pos)`` makes a Frame for any position without threads (tests,
exports). ``SimWorker`` runs in its own QThread: commands (seek, play, inspect, ...) are
posted from the UI thread, coalesced (only the latest seek counts) and served between
simulation ticks, so the UI never waits. While playing, a frame is built only once the UI
has painted the previous one (``ack``), so a slow paint or a host-scale frame never queues.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from PySide6 import QtCore

from vmmemviz.model.core import events as E
from vmmemviz.model.views.pageinfo import inspect
from vmmemviz.model.core.timeline import Timeline
from ..scene import bands as B
from ..scene import palette as P
from .frame import build_frame

TIMELINE_BINS = 1200


def timeline_summary(timeline: Timeline, bins: int = TIMELINE_BINS) -> dict:
    """Markers for the timeline bar: per bin the most notable event group, chapter positions."""
    n = len(timeline)
    rows = timeline.log.rows(0, n)
    order = {g: i + 1 for i, g in enumerate(P.GROUP_ORDER)}
    lut = np.zeros(256, np.uint8)
    for code, k in E.KINDS.items():
        lut[code] = order.get(k.group, 1)
    marks = np.zeros(min(bins, n), np.uint8)
    if n:
        np.maximum.at(marks, np.arange(n) * len(marks) // n, lut[rows["kind"]])
    ticks = rows["tick"]
    chapters = [(int(np.searchsorted(ticks, c.at, side="left")), c.title, c.text)
                for c in timeline.sc.chapters]
    return {"total": n, "finished": timeline.finished(), "marks": marks,
            "groups": ("",) + P.GROUP_ORDER, "chapters": chapters}


class SimWorker(QtCore.QObject):
    """Lives in the simulation thread. Call its public methods from any thread."""

    frameReady = QtCore.Signal(object)        # Frame
    timelineChanged = QtCore.Signal(object)   # timeline_summary dict
    inspected = QtCore.Signal(object)         # model.inspect dict
    described = QtCore.Signal(object, str)    # (ref, tooltip text)
    failed = QtCore.Signal(str)
    loaded = QtCore.Signal(object)            # the new Timeline (read-only use: the event list)
    _wake = QtCore.Signal()

    def __init__(self, scenario):
        super().__init__()
        self._lock = threading.Lock()
        self._cmds = {"load": (scenario, 0)}
        self._inflight = False
        self.playing = False
        self.speed = 4.0              # events per second while playing
        self.timeline = None
        self.aspect = B.ASPECT
        self._to_end = False
        self._play_pos = 0.0
        self._last = time.monotonic()
        self._summary_at = 0.0
        self._wake.connect(self._serve, QtCore.Qt.ConnectionType.QueuedConnection)

    # -- called from the UI thread -------------------------------------------------------
    def _post(self, name, value=None):
        with self._lock:
            self._cmds[name] = value
        self._wake.emit()

    def load(self, scenario, pos: int = 0):
        self._post("load", (scenario, pos))

    def seek(self, pos: int):
        self._post("seek", int(pos))

    def step(self, n: int):
        with self._lock:
            self._cmds["step"] = self._cmds.get("step", 0) + n
        self._wake.emit()

    def to_end(self):
        self._post("end")

    def set_playing(self, on: bool):
        self.playing = on
        self._post("play", on)

    def set_aspect(self, aspect: float):
        """The view's shape changed: lay the bands out again for it."""
        self._post("aspect", float(aspect))

    def set_speed(self, events_per_s: float):
        self.speed = max(0.1, float(events_per_s))

    def inspect(self, ref):
        self._post("inspect", ref)

    def describe(self, ref):
        self._post("describe", ref)

    def ack(self):
        """The UI painted the last frame: the next one may be built."""
        self._inflight = False

    # -- in the simulation thread ----------------------------------------------------------
    @QtCore.Slot()
    def start(self):
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(15)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._serve()

    @QtCore.Slot()
    def stop(self):
        self._timer.stop()

    def _emit_frame(self, pos, prev=None):
        try:
            f = build_frame(self.timeline, pos, prev, self.aspect)
        except Exception as e:        # a model bug must not kill the thread silently
            self.failed.emit(f"{type(e).__name__}: {e}")
            self.playing = False
            return
        self._inflight = True
        self.frameReady.emit(f)

    def _serve(self):
        with self._lock:
            cmds, self._cmds = self._cmds, {}
        if "aspect" in cmds:
            self.aspect = cmds["aspect"]
        if "load" in cmds:
            sc, pos = cmds["load"]
            self.timeline = Timeline(sc)
            self._summary_at = 0.0
            self.loaded.emit(self.timeline)
            self._emit_frame(pos)
            self._summary(force=True)
        tl = self.timeline
        if tl is None:
            return
        target = None
        if "seek" in cmds:
            target = cmds["seek"]
        if cmds.get("step"):
            target = max(0, (target if target is not None else tl.pos) + cmds["step"])
        if "end" in cmds:
            self._to_end = True          # _tick runs the simulation there, a tick at a time
        elif "seek" in cmds or "step" in cmds or "load" in cmds or cmds.get("play"):
            self._to_end = False
        if "play" in cmds:
            self._play_pos = float(tl.pos)
            self._last = time.monotonic()
            if cmds["play"] and tl.pos >= len(tl) and tl.finished():
                target = 0          # play at the end starts again
        if target is None and "aspect" in cmds and "load" not in cmds:
            target = tl.pos          # the same position, laid out for the view's new shape
        if target is not None:
            self._emit_frame(target)
            self._play_pos = float(tl.pos)
            if tl.pos >= len(tl):
                self._summary(force=True)
        if "inspect" in cmds:
            self.inspected.emit(inspect(tl.view, tl.log.rows(0, tl.pos), cmds["inspect"],
                                        [vm.name for vm in tl.view.vms]))
        if "describe" in cmds:
            ref = cmds["describe"]
            try:
                text = B.describe(tl.view, ref, [vm.name for vm in tl.view.vms])
            except (IndexError, ValueError):
                text = ""
            self.described.emit(ref, text)

    def _tick(self):
        tl = self.timeline
        if tl is None:
            return
        now = time.monotonic()
        dt, self._last = now - self._last, now
        if self.playing:
            self._play_pos += self.speed * dt
            if int(self._play_pos) > len(tl) and not tl.finished():
                tl.advance()          # one tick at a time: frames keep coming on a slow model
                self._play_pos = min(self._play_pos, float(len(tl)))
            target = min(int(self._play_pos), len(tl))
            if tl.pos >= len(tl) and tl.finished():
                self.playing = False
                self._summary(force=True)
                self._emit_frame(tl.pos)
                return
            if target > tl.pos and not self._inflight:
                self._emit_frame(target, tl.pos)
        elif self._to_end:            # End: show the growing end while the simulation gets there
            if not tl.finished():
                tl.advance()
            if not self._inflight or tl.finished():
                self._to_end = not tl.finished()
                self._emit_frame(len(tl), len(tl) - 1)
                self._summary(force=True)
                return
        elif not tl.finished():
            tl.advance()              # grow the log in the background, one tick at a time
        self._summary()

    def _summary(self, force=False):
        now = time.monotonic()
        if force or now - self._summary_at > 0.5:
            self._summary_at = now
            self.timelineChanged.emit(timeline_summary(self.timeline))


class Engine(QtCore.QObject):
    """The UI side: owns the thread and the worker. Connect to the worker's signals, then
    ``start()`` (the first frame may come at once)."""

    def __init__(self, scenario, parent=None):
        super().__init__(parent)
        self.thread = QtCore.QThread()
        self.thread.setObjectName("simulation")
        self.worker = SimWorker(scenario)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.start)

    def start(self):
        self.thread.start()

    def shutdown(self):
        QtCore.QMetaObject.invokeMethod(self.worker, "stop", QtCore.Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        self.thread.wait(5000)
