"""The About box: icon, name, version, what the app is, the versions it runs on, credits.

`show_about(parent)` shows it modally; `about_box(parent)` builds it without
showing (tests, the bundle self-test, a caller that wants `open()` instead).
"""
from __future__ import annotations

import html
import platform

from PySide6 import QtCore, QtGui, QtWidgets
from vmmemviz.assets import asset

DESCRIPTION = (
    "See how an ESXi-like hypervisor manages memory: guest virtual, guest physical "
    "and machine pages, and their backing stores, drawn as page grids, event by event."
)
CREDITS = (
    "Mechanisms after Carl A. Waldspurger, “Memory Resource Management in VMware ESX "
    "Server”, OSDI 2002, and the “VMware Virtual Machine Memory Guide” by Simon Greaves."
)
ICON_DIR = asset("icons")


def app_icon() -> QtGui.QIcon:
    """The application icon at every size we ship (PNGs, SVG as a fallback)."""
    icon = QtGui.QIcon()
    for png in sorted(ICON_DIR.glob("vmmemviz-*.png")):
        icon.addFile(str(png))
    if icon.isNull():
        icon = QtGui.QIcon(str(ICON_DIR / "vmmemviz.svg"))
    return icon


def versions() -> dict[str, str]:
    """Name -> version of what this copy of vmmemviz runs on, in display order."""
    import lz4
    import numpy
    import PySide6
    import pyqtgraph

    return {
        "Python": platform.python_version(),
        "Qt": QtCore.qVersion(),
        "PySide6": PySide6.__version__,
        "pyqtgraph": pyqtgraph.__version__,
        "numpy": numpy.__version__,
        "lz4": getattr(lz4, "__version__", "?"),
    }


def _version() -> str:
    import vmmemviz

    return vmmemviz.__version__


def about_text() -> str:
    """The box's rich text (also what `versions()` says, as one line)."""
    runs_on = ", ".join(f"{name} {ver}" for name, ver in versions().items())
    return (
        f"<h3>vmmemviz {html.escape(_version())}</h3>"
        f"<p>{html.escape(DESCRIPTION)}</p>"
        f"<p><small>{html.escape(runs_on)}</small></p>"
        f"<p><small>{html.escape(CREDITS)}</small></p>"
    )


def about_box(parent: QtWidgets.QWidget | None = None) -> QtWidgets.QMessageBox:
    """Build the About box (not shown)."""
    box = QtWidgets.QMessageBox(parent)
    box.setWindowTitle("About vmmemviz")
    box.setTextFormat(QtCore.Qt.TextFormat.RichText)
    box.setText(about_text())
    icon = app_icon()
    box.setWindowIcon(icon)
    box.setIconPixmap(icon.pixmap(64, 64))
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok)
    box.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    return box


def show_about(parent: QtWidgets.QWidget | None = None) -> None:
    """Show the About box modally (returns when it is closed)."""
    about_box(parent).exec()
