"""The timeline bar: chapters as labelled sections, event markers coloured by kind, a playhead.

Click or drag on the event marks to seek (``seekRequested``); the worker coalesces the
requests. Click a chapter's label to go to that chapter's first event. Chapters and marks
are painted once per summary, size and theme into a pixmap; a new position paints only the
playhead over it (it moves on every frame while playing).
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ..engine.chapters import HOST_STATE
from ..scene import palette as P

CHAPTER_H, MARK_H, PAD = 18, 14, 6


def fit_title(title: str, width: float, fm: QtGui.QFontMetricsF) -> str:
    """A chapter's title as its section has room for: whole, else its short form (a host
    state chapter's states alone, "low ⇄ hard"; an authored title's words before its colon),
    elided if even that is too wide: at 1280 px "Host stat…" named no state."""
    short = title.removeprefix(HOST_STATE).split(": ")[0]
    for text in (title, short):
        if fm.horizontalAdvance(text) <= width:
            return text
    return fm.elidedText(short, QtCore.Qt.TextElideMode.ElideRight, width)


class TimelineBar(QtWidgets.QWidget):
    seekRequested = QtCore.Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = {"total": 0, "finished": False, "marks": None, "groups": (), "chapters": []}
        self.pos = 0
        self.theme = "dark"
        self._chapter_click = False     # a press on a chapter label: no drag-seek after it
        self._back = None               # (summary, size, theme, ratio, QPixmap of chapters and marks)
        self.setMinimumHeight(CHAPTER_H + MARK_H + 2 * PAD)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)
        self.setToolTip("Timeline: click or drag to seek. Marks show the events by kind; "
                        "the sections above are the scenario's chapters: click one to go to its start.")

    def sizeHint(self):
        return QtCore.QSize(800, CHAPTER_H + MARK_H + 2 * PAD)

    def set_summary(self, summary: dict) -> None:
        self.summary = summary
        self.update()

    def set_position(self, pos: int) -> None:
        self.pos = pos
        self.update()

    def set_theme(self, theme: str) -> None:
        self.theme = theme
        self.update()

    def _track(self) -> QtCore.QRectF:
        return QtCore.QRectF(PAD, PAD, self.width() - 2 * PAD, CHAPTER_H + MARK_H)

    def _x(self, pos: int) -> float:
        tr = self._track()
        total = max(1, self.summary["total"])
        return tr.left() + tr.width() * min(pos, total) / total

    def pos_at(self, x: float) -> int:
        tr = self._track()
        f = min(1.0, max(0.0, (x - tr.left()) / max(1.0, tr.width())))
        return round(f * self.summary["total"])

    def chapter_at(self, x: float):
        """(position of its first event, title, text) of the chapter drawn at ``x``, or None."""
        prev = None
        for ch in self.summary["chapters"]:
            if self._x(ch[0]) > x:
                break
            prev = ch
        return prev

    def _in_chapters(self, y: float) -> bool:
        return bool(self.summary["chapters"]) and y < self._track().top() + CHAPTER_H

    def _background(self) -> QtGui.QPixmap:
        """Chapters and event marks, painted again only when they or the bar's size change."""
        ratio = self.devicePixelRatioF()
        key = (self.summary, self.size(), self.theme, ratio)
        if self._back is not None and self._back[0] is self.summary and self._back[1:4] == key[1:]:
            return self._back[4]
        t = P.THEMES[self.theme]
        pm = QtGui.QPixmap(self.size() * ratio)
        pm.setDevicePixelRatio(ratio)
        pm.fill(QtCore.Qt.GlobalColor.transparent)
        p = QtGui.QPainter(pm)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        tr = self._track()
        marks_r = QtCore.QRectF(tr.left(), tr.top() + CHAPTER_H, tr.width(), MARK_H)
        p.fillRect(tr, QtGui.QColor(t["grid"]))
        chapters = self.summary["chapters"]
        fm = QtGui.QFontMetricsF(self.font())
        for i, (at, title, _) in enumerate(chapters):
            x0 = self._x(at)
            x1 = self._x(chapters[i + 1][0]) if i + 1 < len(chapters) else tr.right()
            sec = QtCore.QRectF(x0, tr.top(), max(0.0, x1 - x0), CHAPTER_H)
            shade = QtGui.QColor(t["muted"])
            shade.setAlpha(70 if i % 2 else 40)
            p.fillRect(sec, shade)
            p.setPen(QtGui.QColor(t["fg"]))
            if sec.width() > 4 * fm.averageCharWidth():     # narrower: the tooltip names it
                p.drawText(sec.adjusted(4, 0, -2, 0), QtCore.Qt.AlignmentFlag.AlignVCenter,
                           fit_title(title, sec.width() - 6, fm))
            p.setPen(QtGui.QPen(QtGui.QColor(t["fg"]), 1))
            p.drawLine(QtCore.QPointF(x0, tr.top()), QtCore.QPointF(x0, tr.bottom()))
        marks = self.summary["marks"]
        if marks is not None and len(marks):           # one pixel per bin, stretched: one draw
            rgba = np.array([P.hex_rgba(P.GROUP_COLOURS.get(g, t["muted"])) for g in self.summary["groups"]],
                            np.uint32)
            argb = (rgba[:, 3] << 24) | (rgba[:, 0] << 16) | (rgba[:, 1] << 8) | rgba[:, 2]
            argb[0] = 0                                 # bins without events stay clear
            px = np.ascontiguousarray(argb[marks])
            img = QtGui.QImage(px.data, len(px), 1, 4 * len(px), QtGui.QImage.Format.Format_ARGB32)
            p.drawImage(marks_r, img)
        if not self.summary["finished"]:        # on a plate: the marks under it stay out of the word
            label = "simulating…"
            w = fm.horizontalAdvance(label) + 8
            plate = QtCore.QRectF(marks_r.right() - w, marks_r.top(), w, marks_r.height())
            p.fillRect(plate, QtGui.QColor(t["bg"]))
            p.setPen(QtGui.QColor(t["muted"]))
            p.drawText(plate, QtCore.Qt.AlignmentFlag.AlignCenter, label)
        p.end()
        self._back = key + (pm,)
        return pm

    def paintEvent(self, ev):
        t = P.THEMES[self.theme]
        p = QtGui.QPainter(self)
        p.drawPixmap(0, 0, self._background())
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        tr = self._track()
        x = self._x(self.pos)
        p.setPen(QtGui.QPen(QtGui.QColor(t["highlight"]), 2))
        p.drawLine(QtCore.QPointF(x, tr.top() - 3), QtCore.QPointF(x, tr.bottom() + 3))
        p.setBrush(QtGui.QColor(t["highlight"]))
        p.drawEllipse(QtCore.QPointF(x, tr.bottom() + 1), 4, 4)
        p.end()

    def mousePressEvent(self, ev):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        p = ev.position()
        ch = self.chapter_at(p.x()) if self._in_chapters(p.y()) else None
        self._chapter_click = ch is not None
        self.seekRequested.emit(ch[0] if ch else self.pos_at(p.x()))

    def mouseMoveEvent(self, ev):
        p = ev.position()
        if ev.buttons() & QtCore.Qt.MouseButton.LeftButton and not self._chapter_click:
            self.seekRequested.emit(self.pos_at(p.x()))
        ch = self.chapter_at(p.x())
        if ch:
            how = "Click: go to this chapter's start." if self._in_chapters(p.y()) else "Click or drag to seek."
            self.setToolTip(f"<b>{ch[1]}</b><br>{ch[2]}<br><i>{how}</i>")
