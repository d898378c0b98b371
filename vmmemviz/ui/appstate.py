"""The application state the panels observe (as napari's viewer model): what is loaded, the
position shown, the inspected page, the event filters and the theme.

Widgets never call each other: a user action changes the state (``set_filters``,
``select``, ...), the state emits a signal only when a value really changes, and every panel
connected to that signal follows. Everything it holds is immutable: Frames, the worker's
Source and LogSnapshots, :class:`Filters`, reference tuples.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6 import QtCore

from vmmemviz.model.core import events as E
from ..scene import palette as P

SEARCH_MIN = 2          # characters: one letter matches nearly nothing useful (a stray "q")


def groups() -> tuple[str, ...]:
    """Every event group, in the timeline's order, then any a mechanism added."""
    known = list(P.GROUP_ORDER)
    return tuple(known + sorted({k.group for k in E.KINDS.values()} - set(known)))


@dataclass(frozen=True)
class Filters:
    """Which events the list shows and stepping visits: kind groups and a search text."""

    groups: frozenset = field(default_factory=lambda: frozenset(groups()))
    text: str = ""

    @property
    def search(self) -> str:
        """The text the search uses: shorter than SEARCH_MIN characters searches nothing."""
        t = self.text.strip().lower()
        return t if len(t) >= SEARCH_MIN else ""

    def active(self) -> bool:
        return bool(self.search) or not set(groups()) <= self.groups


class AppState(QtCore.QObject):
    sourceChanged = QtCore.Signal(object)      # engine.worker.Source: a scenario was loaded
    logChanged = QtCore.Signal(object)         # LogSnapshot: the log grew
    frameChanged = QtCore.Signal(object)       # the Frame shown (the position)
    selectionChanged = QtCore.Signal(object)   # the inspected page's reference, or None
    filtersChanged = QtCore.Signal(object)     # Filters
    themeChanged = QtCore.Signal(str)

    def __init__(self, theme: str = "dark", parent=None):
        super().__init__(parent)
        self.source = None
        self.log = None
        self.frame = None
        self.selection = None
        self.filters = Filters()
        self.theme = theme

    def set_source(self, source, fresh: bool = True) -> None:
        """A scenario was loaded. ``fresh`` (another scenario, not a settings re-run of this
        one): the selection and the filters of the old one do not carry over."""
        self.source, self.log = source, source.log
        if fresh:
            self.select(None)
            self.set_filters(Filters())
        self.sourceChanged.emit(source)

    def set_log(self, snapshot) -> None:
        if self.log is None or len(snapshot) > len(self.log):
            self.log = snapshot
            self.logChanged.emit(snapshot)

    def set_frame(self, frame) -> None:
        self.frame = frame
        self.frameChanged.emit(frame)

    def select(self, ref) -> None:
        ref = tuple(ref) if ref is not None else None
        if ref != self.selection:
            self.selection = ref
            self.selectionChanged.emit(ref)

    def set_filters(self, filters: Filters) -> None:
        if filters != self.filters:
            self.filters = filters
            self.filtersChanged.emit(filters)

    def set_theme(self, name: str) -> None:
        if name != self.theme:
            self.theme = name
            self.themeChanged.emit(name)
