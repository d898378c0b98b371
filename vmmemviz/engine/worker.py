"""The simulation thread: owns the Timeline, seeks, and sends Frames; the UI only paints.

``build_frame(timeline, pos)`` makes a Frame for any position without threads (tests,
exports). ``SimWorker`` runs in its own QThread: commands (seek, play, inspect, ...) are
posted from the UI thread, coalesced (only the latest seek counts) and served between
parts of simulation ticks (``Timeline.advance_for``, at most SLICE_S at a time), so the UI
never waits for a whole tick, which takes seconds at host scale. While playing, a frame is
built only once the UI has painted the previous one (``ack``), so a slow paint or a
host-scale frame never queues.
Frames are built from the last one and the pages that changed since (a BandBuilder per
loaded timeline; a far seek's from the codes its CodeTrail kept near the target); while
playing (or going to the end), the counters (a pass over every page) are computed at most
every COUNTERS_EVERY_S (less often when a pass takes long) and passed on to the frames that
play forward from them; a pause sends the position's own. A move the user
asks for (seek, step, find) at host scale, where the counters pass costs as much as the
picture, sends the picture first with the counters it had, then the position's own.

The UI thread never touches the Timeline, the Simulator or the live EventLog: it gets a
:class:`Source` when a scenario loads, frozen :class:`~vmmemviz.model.core.events.LogSnapshot`
copies of the log as it grows (``logGrew``), Frames, and answers to its commands. An
exception while serving a command (an unreadable image while loading, a model bug) becomes
``failed(message)``; the thread keeps serving.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from types import MappingProxyType

import numpy as np
from PySide6 import QtCore

from vmmemviz.errors import InputError
from vmmemviz.model.core import events as E
from vmmemviz.model.core.events import LogSnapshot
from vmmemviz.model.views.pageinfo import describe, inspect
from vmmemviz.model.core.timeline import Timeline
from ..scene import bands as B
from ..scene.compare import position_at
from ..scene import palette as P
from ..scene.codetrail import CodeTrail
from ..scene.incremental import BandBuilder
from .chapters import Chapters
from .frame import build_frame

TIMELINE_BINS = 1200
HUNT_S = 0.05              # a find past the log so far: simulate this long per timer tick
SLICE_S = 0.03             # simulate at most this long (and one tick part) between serving commands
PLAY_SLICE_S = 0.004       # ... while playing: the UI thread paints, and both need the one GIL
COUNTERS_EVERY_S = 0.2     # while playing, counters are computed at most this often (the panels' pace)
COUNTERS_COST = 5          # ... and at host scale (a second a pass) at most a fifth of the time
END_FRAME_COST = 3         # going to the end, frames take at most a third of the time (host scale)
AUTO = 0                   # speed: play the whole run in about PLAY_S seconds (``SimWorker.auto_rate``)
PLAY_S = 120               # ... two minutes: the tours run 150 to 82,000 events over 14 to 150 simulated s
AUTO_MIN = 4               # ... and never slower than this (a short tour: its events still animate one by one)
SPLIT_PAGES = 1 << 22      # on a host of this many machine pages (16 GiB) or more, a move shows its
#                            picture first, with the counters it had; its own follow in the next
#                            frame (a counters pass at 64 GiB costs as much as a far seek's picture)


@dataclasses.dataclass(frozen=True)
class Source:
    """What the UI may know of a loaded scenario: nothing here changes after it is sent."""

    scenario: object            # the Scenario the UI asked for (the worker only reads it)
    vm_names: tuple
    settings: MappingProxyType  # the host settings in effect (defaults filled in)
    log: LogSnapshot            # the log when loaded; ``logGrew`` sends newer ones


def timeline_summary(timeline: Timeline, chapters: Chapters | None = None, bins: int = TIMELINE_BINS) -> dict:
    """Markers for the timeline bar: per bin the most notable event group, and the chapters
    as (position of their first event, title, text)."""
    n = len(timeline)
    rows = timeline.log.rows(0, n)
    order = {g: i + 1 for i, g in enumerate(P.GROUP_ORDER)}
    lut = np.zeros(256, np.uint8)
    for code, k in E.KINDS.items():
        lut[code] = order.get(k.group, 1)
    marks = np.zeros(min(bins, n), np.uint8)
    if n:             # bin b holds the events i with i * bins // n == b: from ceil(b * n / bins)
        starts = -(-np.arange(len(marks)) * n // len(marks))
        marks = np.maximum.reduceat(lut[rows["kind"]], starts)
    if chapters is None:
        chapters = Chapters.of(timeline)
    return {"total": n, "finished": timeline.finished(), "marks": marks,
            "groups": ("",) + P.GROUP_ORDER, "chapters": chapters.summary()}


class SimWorker(QtCore.QObject):
    """Lives in the simulation thread. Call its public methods from any thread."""

    frameReady = QtCore.Signal(object)        # Frame
    timelineChanged = QtCore.Signal(object)   # timeline_summary dict
    inspected = QtCore.Signal(object)         # model.inspect dict
    described = QtCore.Signal(object, str)    # (ref, tooltip text)
    failed = QtCore.Signal(str)               # a command failed: one line for the user
    notice = QtCore.Signal(str)               # an answer in words ("no later BALLOON event")
    loaded = QtCore.Signal(object)            # Source of the new scenario
    logGrew = QtCore.Signal(object)           # LogSnapshot: the log has more rows
    tickSought = QtCore.Signal(object, int)   # ((tick, share), position) a seek_tick went to; its frame follows
    _wake = QtCore.Signal()

    def __init__(self, scenario):
        super().__init__()
        self._lock = threading.Lock()
        self._cmds = {"load": (scenario, 0)}
        self._inflight = False
        self.playing = False
        self.speed = AUTO             # events per second while playing, or AUTO
        self.timeline = None
        self.chapters = None
        self.builder = None
        self._frame = None             # the last frame sent
        self._counted = 0.0            # when its counters were computed
        self._counting = 0.0           # how long that frame took
        self._built = (0.0, 0.0)       # when the last frame was built, how long it took
        self._sent = -1                # rows of the last LogSnapshot sent
        self.aspect = B.ASPECT
        self._to_end = False
        self._hunt = None              # (n, hit, what): a find forward waiting for the simulation
        self._recounted = None         # the frame whose counters were last computed again (once each)
        self._play_pos = 0.0
        self._last = time.monotonic()
        self._summary_at, self._summarized = 0.0, None    # when, and of which (rows, finished)
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

    def seek_tick(self, tick: int, share: float = 1.0):
        """Go into simulated second ``tick`` (-1: the start), ``share`` of its events applied (1:
        all), simulating on as far as that needs: a comparison's run B follows run A's time so."""
        self._post("tick", (int(tick), float(share)))

    def step(self, n: int):
        with self._lock:
            self._cmds["step"] = self._cmds.get("step", 0) + n
        self._wake.emit()

    def to_end(self):
        self._post("end")

    def find_kind(self, kind: int, direction: int):
        """Go to the next (direction 1) or previous (-1) event of ``kind`` (a KINDS code); presses
        before the worker answers add up, as steps do."""
        with self._lock:
            k, n = self._cmds.get("find", (kind, 0))
            self._cmds["find"] = (int(kind), (n if k == kind else 0) + int(direction))
        self._wake.emit()

    def find_chapter(self, direction: int):
        """Go to the first event of the next (1) or previous (-1) chapter; presses add up."""
        with self._lock:
            self._cmds["chapter"] = self._cmds.get("chapter", 0) + int(direction)
        self._wake.emit()

    def set_playing(self, on: bool):
        self._post("play", on)

    def set_aspect(self, aspect: float):
        """The view's shape changed: lay the bands out again for it."""
        self._post("aspect", float(aspect))

    def set_speed(self, events_per_s: float):
        """Events per second while playing; AUTO (0): ``auto_rate``, as the run goes."""
        self._post("speed", AUTO if events_per_s == AUTO else max(0.1, float(events_per_s)))

    def rate(self) -> float:
        """Events per second playing goes at now: the speed, or auto's here (each frame says
        it: "]" steps up from auto's, played or not)."""
        return self.auto_rate() if self.speed == AUTO else self.speed

    def auto_rate(self) -> float:
        """AUTO's events per second: each simulated second of the run in PLAY_S / duration
        seconds (the whole run in about PLAY_S), at least AUTO_MIN: a busy second plays fast,
        a quiet one slowly, and nothing needs the run's length (estimated from its first
        seconds, a boot's burst made balloon play 9x too fast). Overcommit's 82,000 events play
        in about two minutes, not six hours; a tour of 150 events one by one."""
        tl = self.timeline
        n = len(tl)
        if not n:
            return float(AUTO_MIN)
        tick = int(tl.log[min(tl.pos, n - 1)]["tick"])          # the second being played
        events = tl.log.tick_index(tick, "right") - tl.log.tick_index(tick)
        return max(float(AUTO_MIN), events * tl.sc.duration / PLAY_S)

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

    def _fail(self, e: Exception) -> None:
        """One line for the user; playing stops (a model bug must not kill the thread silently)."""
        self.playing = False
        self._to_end = False
        self._hunt = None
        self.failed.emit(str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}")

    def _grew(self) -> LogSnapshot:
        """Send the UI a frozen copy of the log when it has grown; place new chapters."""
        snap = self.timeline.log.snapshot()
        if len(snap) != self._sent:
            self._sent = len(snap)
            self.chapters.update(snap)
            self.logGrew.emit(snap)
        return snap

    def _emit_frame(self, pos, prev=None, split=False):
        """Build the frame at ``pos`` (arrows from ``prev``) and send it. ``split``: a move the
        user asked for, whose picture goes first at host scale (``SPLIT_PAGES``)."""
        try:
            last, now = self._frame, time.monotonic()
            reuse = last is not None and (
                (self.playing or self._to_end) and prev is not None and
                now - self._counted < max(COUNTERS_EVERY_S, COUNTERS_COST * self._counting) or
                split and self.timeline.sim.state.host.n_mpn >= SPLIT_PAGES)
            f = build_frame(self.timeline, pos, prev, self.aspect, self.builder,
                            (last.counters_pos, last.counters) if reuse else None, self.chapters)
            self._built = now, time.monotonic() - now
            if not reuse:
                self._counted, self._counting = self._built
            self._grew()
            f = dataclasses.replace(f, rate=self.rate())
        except Exception as e:
            self._fail(e)
            return
        self._inflight = True
        self._frame = f
        self.frameReady.emit(f)

    def _serve(self):
        with self._lock:
            cmds, self._cmds = self._cmds, {}
        try:
            self._serve_cmds(cmds)
        except Exception as e:          # e.g. an image that cannot be read while loading
            self._fail(e)

    def _load(self, sc, pos):
        tl = Timeline(sc)
        self.timeline = tl
        self.builder = BandBuilder(CodeTrail(tl))
        self._frame = None
        self.chapters = Chapters(sc)
        self._sent = -1
        self._summary_at, self._summarized = 0.0, None
        self.loaded.emit(Source(sc, tuple(vm.name for vm in tl.view.vms),
                                MappingProxyType(dict(tl.sim.settings)), tl.log.snapshot()))
        self._emit_frame(pos)
        self._summary(force=True)

    def _nearest(self, n: int, hit) -> int | None:
        """The position of the ``n``-th event after (n > 0) or before (n < 0) the view's position
        that ``hit(snapshot) -> sorted event indices`` finds in the log so far (backwards, the
        first one when there are fewer)."""
        idx = np.asarray(hit(self._grew()))
        pos = self.timeline.pos
        if n < 0:
            before = idx[idx + 1 < pos]
            return int(before[max(n, -len(before))]) + 1 if len(before) else None
        after = idx[idx + 1 > pos]
        return int(after[n - 1]) + 1 if len(after) >= n else None

    def _find(self, n: int, hit, what: str) -> int | None:
        """``_nearest``; forward past the log so far, ``_tick`` hunts on while the simulation runs
        (any other move cancels that)."""
        if n == 0:
            return None
        target = self._nearest(n, hit)
        if target is None and n > 0 and not self.timeline.finished():
            self._hunt = (n, hit, what)
        elif target is None:
            self.notice.emit(f"No {'later' if n > 0 else 'earlier'} {what}.")
        return target

    def _hunting(self) -> None:
        """Run the simulation on (up to HUNT_S a timer tick) until the hunted event exists; at
        the end, the last one there is."""
        tl = self.timeline
        n, hit, what = self._hunt
        stop = time.monotonic() + HUNT_S
        while not tl.finished() and time.monotonic() < stop:
            self._simulate(min(SLICE_S, stop - time.monotonic()))
            target = self._nearest(n, hit)
            if target is not None:
                self._hunt = None
                self._emit_frame(target)
                return
        if tl.finished():
            self._hunt = None
            for k in range(n - 1, 0, -1):           # fewer than n: go to the last one
                target = self._nearest(k, hit)
                if target is not None:
                    self._emit_frame(target)
                    return
            self.notice.emit(f"No later {what}.")

    def _serve_cmds(self, cmds):
        if "aspect" in cmds:
            self.aspect = cmds["aspect"]
        if "speed" in cmds:
            self.speed = cmds["speed"]
        if "play" in cmds:
            self.playing = cmds["play"]
        if "load" in cmds:
            self._load(*cmds["load"])
        tl = self.timeline
        if tl is None:
            return
        target = None
        if "seek" in cmds:
            target = cmds["seek"]
        if "tick" in cmds:
            tick, share = cmds["tick"]
            end = position_at(tl, tick)
            start = tl.log.tick_index(tick, hi=end)
            target = start + round(share * (end - start))
            self.tickSought.emit(cmds["tick"], target)
        if cmds.get("step"):
            target = max(0, (target if target is not None else tl.pos) + cmds["step"])
        if cmds.keys() & {"seek", "tick", "step", "end", "play", "load", "find", "chapter"}:
            self._hunt = None
        if "end" in cmds:
            self._to_end = True          # _tick runs the simulation there, a tick at a time
        elif cmds.keys() & {"seek", "tick", "step", "load"} or cmds.get("play"):
            self._to_end = False
        if "play" in cmds:
            self._play_pos = float(tl.pos)
            self._last = time.monotonic()
            if cmds["play"] and tl.pos >= len(tl) and tl.finished():
                target = 0          # play at the end starts again
        if "find" in cmds:
            code, n = cmds["find"]
            target = self._find(n, lambda snap: np.flatnonzero(snap.column("kind") == code),
                                f"{E.KINDS[code].name} event")
        if "chapter" in cmds:
            target = self._find(cmds["chapter"], lambda snap: np.array(self.chapters.positions(), np.int64) - 1,
                                "chapter")
        moved = target is not None
        if target is None and "aspect" in cmds and "load" not in cmds:
            target = tl.pos          # the same position, laid out for the view's new shape
        if target is not None:
            self._emit_frame(target, split=moved)
            self._play_pos = float(tl.pos)
            if tl.pos >= len(tl):
                self._summary(force=True)
        if "inspect" in cmds:
            self.inspected.emit(inspect(tl.view, tl.log.rows(0, tl.pos), cmds["inspect"],
                                        [vm.name for vm in tl.view.vms]))
        if "describe" in cmds:
            ref = cmds["describe"]
            try:
                text = describe(tl.view, ref, [vm.name for vm in tl.view.vms])
            except (IndexError, ValueError):
                text = ""
            self.described.emit(ref, text)

    def _tick(self):
        with self._lock:
            pending = bool(self._cmds)
        if pending:                 # a command posted before this tick (a pause) goes first
            self._serve()
        if self.timeline is None:
            return
        try:
            self._play()
        except Exception as e:
            self._fail(e)

    def _play(self):
        tl = self.timeline
        now = time.monotonic()
        dt, self._last = now - self._last, now
        if self.playing:
            self._play_pos += self.rate() * dt
            if int(self._play_pos) > len(tl) and not tl.finished() and tl.pos >= len(tl):
                self._simulate(SLICE_S)   # once the events known are shown: frames keep coming
                #                           while a host-scale tick (seconds) runs
                self._play_pos = min(self._play_pos, float(len(tl)))
            target = min(int(self._play_pos), len(tl))
            if tl.pos >= len(tl) and tl.finished():
                self.playing = False
                self._summary(force=True)
                self._emit_frame(tl.pos)
                return
            if target > tl.pos and not self._inflight:
                self._emit_frame(target, tl.pos)
        elif self._hunt is not None:
            self._hunting()
        elif self._to_end:            # End: show the growing end while the simulation gets there
            if not tl.finished():
                self._simulate(SLICE_S)
            due = time.monotonic() - self._built[0] >= END_FRAME_COST * self._built[1]
            if not self._inflight and due or tl.finished():
                self._to_end = not tl.finished()
                self._emit_frame(len(tl), len(tl) - 1)
                self._summary(force=True)
                return
        elif self._frame is not None and self._frame.counters_pos != self._frame.pos and not self._inflight \
                and self._recounted is not self._frame:     # (once: a recount that fails is not retried)
            self._recounted = self._frame
            self._emit_frame(self._frame.pos)   # paused, or a move's picture went first: its own counters
        elif not tl.finished():
            self._simulate(SLICE_S)   # grow the log in the background
        self._summary()

    def _simulate(self, seconds: float) -> None:
        """Run the simulation on for about ``seconds`` (at least one tick part); while playing,
        PLAY_SLICE_S a timer tick: the UI thread, painting frame after frame, needs the GIL
        too, and a simulation holding it makes keys and paints wait (a timer tick is 15 ms)."""
        self.timeline.advance_for(min(seconds, PLAY_SLICE_S) if self.playing else seconds)

    def _summary(self, force=False):
        """The timeline bar's markers, at most twice a second and only for a log that changed
        (at host scale a summary reads millions of rows: 18 ms of the thread a click waits for)."""
        now, of = time.monotonic(), (len(self.timeline), self.timeline.finished())
        if force or now - self._summary_at > 0.5 and of != self._summarized:
            self._summary_at, self._summarized = now, of
            self._grew()
            self.timelineChanged.emit(timeline_summary(self.timeline, self.chapters))


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
