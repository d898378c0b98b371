"""Start the desktop app: ``main("default")`` or ``main("path/to/scenario.toml")``."""
from __future__ import annotations

import sys

from PySide6 import QtCore, QtWidgets

from vmmemviz.model.config import scenario as S


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
