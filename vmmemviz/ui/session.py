"""Sessions in the window: File > Save session… gathers what the window shows into a
``.vmmemviz`` file; opening one restores it.

Where each piece lives: the scenario is the window's (``win.scenario``), compare mode's run
B is ``win.comparison.state`` (``ui.comparestate``), the position,
selection, filters and theme are the application state's (``win.state``), the zoom and
pan are the layer view's (its visible part as fractions of the picture, and the shape it
lays the picture out for), the panels open are the docks'. Restoring loads the scenario at
the saved event; the selection and filters follow once the worker has loaded it (a new
scenario starts clean), the zoom once its first frame is painted.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ..errors import InputError
from ..export import session as XS
from vmmemviz.model.config import session as SS
from . import compare
from .appstate import Filters, groups
from .comparestate import CompareState

FILTER = "Sessions (*.vmmemviz)"


def view_of(layer_view) -> tuple[float, tuple | None]:
    """(aspect the picture is laid out for, the part in view as fractions, or None when it
    is all in view): what a figure of this view needs."""
    vp = layer_view.viewport()
    aspect = min(max(round(vp.width() / max(1, vp.height()), 1), SS.ASPECTS[0]), SS.ASPECTS[1])
    if layer_view.frame is None or layer_view._fit:
        return aspect, None
    pic, vis = layer_view.picture_rect(), layer_view.visible_rect()

    def frac(v, lo, size):
        return min(2.0, max(-1.0, (v - lo) / size))
    return aspect, (frac(vis.left(), pic.left(), pic.width()), frac(vis.top(), pic.top(), pic.height()),
                    frac(vis.right(), pic.left(), pic.width()), frac(vis.bottom(), pic.top(), pic.height()))


def gather(win) -> SS.Session:
    """The window as a session."""
    f, st = win.frame, win.state
    s = SS.Session(text=win.scenario.text, name=win.scenario.name)
    if win.comparison is not None:          # compare mode: run B's text, as ui.comparestate keeps it
        cs = win.comparison.state
        s.compare = {"sets": None, "name": cs.label, "text": cs.text_b}
    s.position.update(event=f.pos if f is not None else 0, tick=f.tick if f is not None else None)
    aspect, region = view_of(win.layer_view)
    s.view.update(theme=win.theme, aspect=aspect,
                  panels=[k for k, d in win.docks.items() if d.toggleViewAction().isChecked()])
    if region is not None:
        s.view.update(zip(("x0", "y0", "x1", "y1"), region))
    if st.selection is not None:
        s.selection = dict(zip(("layer", "vm", "proc", "index"), st.selection))
    all_groups = set(groups())
    s.filters.update(text=st.filters.text,
                     groups=None if all_groups <= st.filters.groups else sorted(st.filters.groups & all_groups))
    return s


def save(win, path) -> None:
    """The window's session to ``path`` (atomically)."""
    XS.save(path, gather(win))
    win.statusBar().showMessage(f"Saved session {path}", 5000)


def save_dialog(win) -> None:
    stem = Path(win.scenario.path or "session").stem
    path, _ = QtWidgets.QFileDialog.getSaveFileName(win, "Save session", str(Path.home() / f"{stem}{SS.SUFFIX}"),
                                                    FILTER)
    if not path:
        return
    if not SS.is_session(path):
        path += SS.SUFFIX
    try:
        save(win, path)
    except InputError as e:         # the file cannot be written (outputfile.out_file): it names it
        QtWidgets.QMessageBox.warning(win, "Cannot save session", str(e))
    except ValueError as e:
        QtWidgets.QMessageBox.warning(win, "Cannot save session", f"{path}: {e}")


class _Restore(QtCore.QObject):
    """Follows the load of a session's scenario: selection and filters once the worker
    has it, the zoom once its frame is shown (held by the layer view until the user moves it)."""

    def __init__(self, win, s: SS.Session, sc):
        super().__init__(win)
        self.win, self.s, self.sc = win, s, sc
        self._opening = None            # the banner's text while simulating up to the event
        win.state.sourceChanged.connect(self._source)

    def _source(self, src):
        if src.scenario is not self.sc:
            return
        st, s = self.win.state, self.s
        st.sourceChanged.disconnect(self._source)
        g = s.filters["groups"]
        st.set_filters(Filters(frozenset(groups()) if g is None else frozenset(g), s.filters["text"]))
        st.select(s.ref)
        st.frameChanged.connect(self._frame)
        if s.b is not None:
            compare.start(self.win, CompareState.of(self.sc, s.b, s.label))
        if s.event:         # a host-scale run takes a while to get there: say what the wait is
            self.win.message(f"Opening the session at event {s.event:,}: simulating up to it…")
            self._opening = self.win.banner.text.text()

    def _frame(self, frame):
        self.win.state.frameChanged.disconnect(self._frame)
        QtCore.QTimer.singleShot(0, lambda: self._shown(frame))     # after the window has painted it

    def _shown(self, frame):
        s, lv = self.s, self.win.layer_view
        if s.region() is not None:
            lv.hold(s.region())      # kept as the docks settle and the picture is laid out again
        tick = s.position["tick"]
        if self.win.banner.text.text() == self._opening:      # it got there: the wait is over
            self.win.banner.hide()
        if frame.pos != s.event:
            self.win.message(f"The session's event {s.event:,} is past the end of this run ({frame.pos:,} events).",
                             error=True)
        elif tick is not None and frame.tick != tick:
            self.win.message(f"The session saved event {s.event:,} at second {tick}; this vmmemviz runs it at "
                             f"second {frame.tick} (the simulator changed since).", error=True)
        self.deleteLater()


def restore(win, s: SS.Session) -> None:
    """Show the session ``s`` in ``win``: scenario, position, theme, panels, then (as the
    worker answers) selection, filters, compare mode and zoom."""
    win.set_theme(s.view["theme"])
    for key, dock in win.docks.items():
        dock.setVisible(key in s.view["panels"])
    sc = dataclasses.replace(s.a)      # a new object: this load, not an earlier one of the same scenario
    _Restore(win, s, sc)
    win.show_scenario(sc, s.event)
