"""A label a fixed number of lines high: the window's event caption and tour chapter keep their
height whatever they say, so the picture under them does not move while playing (a click aimed
at a page would land on a heading). A longer text is set a little smaller, and only past that
cut at a word with "…"; the tooltip has it whole."""
from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets


SHRINK = (1.0, 0.9, 0.8)        # font sizes tried before a text is cut


class Lines(QtWidgets.QLabel):
    def __init__(self, lines: int, tip: str, parent=None):
        super().__init__(parent)
        self.lines, self.tip, self.parts = lines, tip, ("", "")
        self.setWordWrap(True)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.setToolTip(tip)
        self.setFont(self.font())

    def setFont(self, font: QtGui.QFont) -> None:
        """The label's font, and its height: ``lines`` lines of it."""
        self.base = QtGui.QFont(font)
        super().setFont(font)
        self.setFixedHeight(self.lines * QtGui.QFontMetrics(font).lineSpacing() + 2)

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
        self._fit()

    def _fit(self) -> None:
        head, tail = self.parts
        self.setTextFormat(QtCore.Qt.TextFormat.RichText if head else QtCore.Qt.TextFormat.PlainText)
        doc = QtGui.QTextDocument()
        doc.setDocumentMargin(0)
        doc.setTextWidth(max(1, self.contentsRect().width()))
        room = self.lines * QtGui.QFontMetrics(self.base).lineSpacing() + 1

        def shown(t: str) -> str:
            return head + html.escape(t) if head else t

        def fits(t: str) -> bool:
            if head:
                doc.setHtml(shown(t))
            else:
                doc.setPlainText(t)
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
