"""A label a fixed number of lines high: the window's event caption and tour chapter keep their
height whatever they say, so the picture under them does not move while playing (a click aimed
at a page would land on a heading). The height is ``lines`` lines, or as many as the longest of
the texts it will show needs at its width (``reserve``, up to ``most``). A longer text is set a
little smaller, and only past that cut at a word with "…"; the tooltip has it whole."""
from __future__ import annotations

import html
import math

from PySide6 import QtCore, QtGui, QtWidgets


SHRINK = (1.0, 0.9, 0.8)        # font sizes tried before a text is cut


class Lines(QtWidgets.QLabel):
    def __init__(self, lines: int, tip: str, most: int | None = None, parent=None):
        super().__init__(parent)
        self.least, self.most, self.lines = lines, most or lines, lines
        self.tip, self.parts, self.samples = tip, ("", ""), ()
        self.setWordWrap(True)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.setToolTip(tip)
        self.setFont(self.font())

    def setFont(self, font: QtGui.QFont) -> None:
        """The label's font; its height follows."""
        self.base = QtGui.QFont(font)
        super().setFont(font)
        self._height()

    def reserve(self, samples) -> None:
        """Make room for the longest of ``samples`` ((head, tail) as ``set_parts`` takes them)
        at the label's width, between ``lines`` and ``most`` lines."""
        self.samples = tuple(samples)
        self._height()

    def _height(self) -> None:
        spacing = QtGui.QFontMetrics(self.base).lineSpacing()
        doc = self._doc(self.base)
        need = self.least
        for head, tail in self.samples:
            self._set(doc, head, tail)
            need = max(need, math.ceil((doc.size().height() - 1) / spacing))
        self.lines = min(need, self.most)
        self.setFixedHeight(self.lines * spacing + 2)

    def _doc(self, font) -> QtGui.QTextDocument:
        doc = QtGui.QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultFont(font)
        doc.setTextWidth(max(1, self.contentsRect().width()))
        return doc

    @staticmethod
    def _set(doc, head: str, tail: str) -> None:
        if head:
            doc.setHtml(head + html.escape(tail))
        else:
            doc.setPlainText(tail)

    def set_parts(self, head: str, tail: str) -> None:
        """Show ``head`` (rich text, kept whole; "" for plain text) then ``tail`` (plain text,
        cut to fit)."""
        self.parts = (head, tail)
        self._fit()

    def full_text(self) -> str:
        """What the label says before any cut (its head as rich text)."""
        return self.parts[0] + (html.escape(self.parts[1]) if self.parts[0] else self.parts[1])

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        if self.samples and ev.size().width() != ev.oldSize().width():
            self._height()
        self._fit()

    def _fit(self) -> None:
        head, tail = self.parts
        self.setTextFormat(QtCore.Qt.TextFormat.RichText if head else QtCore.Qt.TextFormat.PlainText)
        doc = self._doc(self.base)
        room = self.lines * QtGui.QFontMetrics(self.base).lineSpacing() + 1

        def shown(t: str) -> str:
            return head + html.escape(t) if head else t

        def fits(t: str) -> bool:
            self._set(doc, head, t)
            return doc.size().height() <= room
        for scale in SHRINK:
            font = QtGui.QFont(self.base)
            font.setPointSizeF(self.base.pointSizeF() * scale)
            doc.setDefaultFont(font)
            if fits(tail):
                break
        super().setFont(font)
        text = tail
        if not fits(tail):
            words = tail.split(" ")
            lo, hi = 0, len(words) - 1
            while lo < hi:                   # the most words that fit with the ellipsis
                mid = (lo + hi + 1) // 2
                if fits(" ".join(words[:mid]) + "…"):
                    lo = mid
                else:
                    hi = mid - 1
            text = " ".join(words[:lo]) + "…"
        self.setText(shown(text))
        whole = QtGui.QTextDocumentFragment.fromHtml(head).toPlainText() + tail if head else tail
        self.setToolTip(f"{whole}\n\n{self.tip}" if text != tail else self.tip)
