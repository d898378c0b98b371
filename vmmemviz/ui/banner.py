"""A message strip above the picture: what a command did or why it failed, until closed.

Errors (a scenario that cannot run, an unreadable image) stay until the user closes them;
notes (what a settings change did, "no later event of this kind") fade after a while.
"""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ..scene import palette as P

NOTE_MS = 20000


class Banner(QtWidgets.QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QtWidgets.QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Close this message")
        close.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.hide)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(8, 3, 3, 3)
        lay.addWidget(self.text, 1)
        lay.addWidget(close, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.error = False
        self.hide()

    def show_message(self, html: str, error: bool = False, theme: str = "dark") -> None:
        self.error = error
        t = P.THEMES[theme]
        edge = "#d55e00" if error else "#0072b2"
        self.setStyleSheet(f"Banner {{ border: 1px solid {edge}; border-left: 5px solid {edge}; "
                           f"border-radius: 3px; }} QLabel {{ color: {t['fg']}; }}")
        self.text.setText(html)
        self.setToolTip("Why the last command failed" if error else "What the last command did")
        self.show()
        if error:
            self._timer.stop()
        else:
            self._timer.start(NOTE_MS)
