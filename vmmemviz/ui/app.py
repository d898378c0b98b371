"""Start the desktop app: ``main("default")``, ``main("path/to/scenario.toml")`` or
``main("path/to/view.vmmemviz")``."""
from __future__ import annotations

import sys

from PySide6 import QtCore, QtWidgets

from vmmemviz.model.config import scenario as S
from vmmemviz.model.config import session as SS


def main(scenario_name_or_path: str = "default") -> int:
    """The window on a scenario, or on a session file (``.vmmemviz``)."""
    session = SS.load(scenario_name_or_path) if SS.is_session(scenario_name_or_path) else None
    if session is None:
        S.load(scenario_name_or_path)      # a bad file fails here, as one line (InputError)
    QtWidgets.QApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setOrganizationName("vmmemviz")
    app.setApplicationName("vmmemviz")
    app.setDesktopFileName("vmmemviz")
    from .mainwindow import MainWindow
    win = MainWindow(scenario_name_or_path if session is None else session.a)
    if session is not None:
        from .session import restore
        restore(win, session)
    win.show()
    return app.exec()
