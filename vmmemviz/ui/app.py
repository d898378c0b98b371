"""Start the desktop app: ``main("default")`` or ``main("path/to/scenario.toml")``."""
from __future__ import annotations

import ctypes
import sys

from PySide6 import QtCore, QtWidgets

from ..model import scenario as S


def keep_singletons_alive() -> None:
    """PySide6 6.12 on Python 3.11 drops a reference to None (and to True / False) on many
    calls (measured here: QPainterPath.lineTo, QPainter.drawRect, ...); after some ten
    thousand paint calls Python aborts with "deallocating None". They are immortal from
    Python 3.12 on; before that, give them so many references they never reach zero."""
    if sys.version_info < (3, 12):
        for obj in (None, True, False):
            ref = ctypes.c_ssize_t.from_address(id(obj))
            if ref.value < 1 << 40:
                ref.value += 1 << 42


keep_singletons_alive()


def main(scenario_name_or_path: str = "default") -> int:
    S.load(scenario_name_or_path)          # a bad file fails here, as one line (InputError)
    QtWidgets.QApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setOrganizationName("vmmemviz")
    app.setApplicationName("vmmemviz")
    app.setDesktopFileName("vmmemviz")
    from .mainwindow import MainWindow
    win = MainWindow(scenario_name_or_path)
    win.show()
    return app.exec()
