"""Light and dark themes: the Qt palette of the widgets, from the same colours as the picture."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from ..scene.palette import THEMES

NAMES = ("dark", "light")


def qcolor(hex_: str, alpha: int = 255) -> QtGui.QColor:
    c = QtGui.QColor(hex_)
    c.setAlpha(alpha)
    return c


def apply(app: QtWidgets.QApplication, name: str) -> None:
    """Fusion style with a palette for ``name`` ("dark" or "light")."""
    t = THEMES[name]
    app.setStyle("Fusion")
    pal = QtGui.QPalette()
    R = QtGui.QPalette.ColorRole
    dark = name == "dark"
    window = "#23272E" if dark else "#ECEDEF"
    base = "#1B1E23" if dark else "#FFFFFF"
    pal.setColor(R.Window, qcolor(window))
    pal.setColor(R.WindowText, qcolor(t["fg"]))
    pal.setColor(R.Base, qcolor(base))
    pal.setColor(R.AlternateBase, qcolor("#2A2F37" if dark else "#F3F4F6"))
    pal.setColor(R.Text, qcolor(t["fg"]))
    pal.setColor(R.Button, qcolor("#2E333B" if dark else "#E2E4E8"))
    pal.setColor(R.ButtonText, qcolor(t["fg"]))
    pal.setColor(R.ToolTipBase, qcolor("#2E333B" if dark else "#FFFFE8"))
    pal.setColor(R.ToolTipText, qcolor(t["fg"]))
    pal.setColor(R.PlaceholderText, qcolor(t["muted"]))
    pal.setColor(R.Highlight, qcolor("#0072B2"))
    pal.setColor(R.HighlightedText, qcolor("#FFFFFF"))
    pal.setColor(R.Link, qcolor("#56B4E9" if dark else "#0072B2"))
    for role in (R.WindowText, R.Text, R.ButtonText):
        pal.setColor(QtGui.QPalette.ColorGroup.Disabled, role, qcolor(t["muted"]))
    app.setPalette(pal)
