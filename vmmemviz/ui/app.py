"""Start the desktop app: ``main("default")``, ``main("path/to/scenario.toml")`` or
``main("path/to/view.vmmemviz")`` (a session), in compare mode with ``compare_sets`` or
``compare_other``."""
from __future__ import annotations

import sys

from PySide6 import QtCore, QtWidgets

from vmmemviz.model.config import scenario as S
from vmmemviz.model.config import session as SS
from .comparestate import CompareState


def main(scenario_name_or_path: str = "default", compare_sets=(), compare_other: str | None = None) -> int:
    """``compare_sets`` (KEY=VALUE), ``compare_other`` (a scenario) or a compare tour (its
    ``[compare]`` table): open in compare mode."""
    session = SS.load(scenario_name_or_path) if SS.is_session(scenario_name_or_path) else None
    # a bad file fails here, as one line (InputError)
    sc = session.a if session is not None else S.load(scenario_name_or_path)
    state = CompareState.pair(sc, compare_sets, compare_other) \
        if compare_sets or compare_other or (sc.compare_sets and session is None) else None
    QtWidgets.QApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setOrganizationName("vmmemviz")
    app.setApplicationName("vmmemviz")
    app.setDesktopFileName("vmmemviz")
    from . import compare
    from .mainwindow import MainWindow
    win = MainWindow(sc)
    if session is not None:
        from .session import restore
        restore(win, session)
    win.show()
    if state is not None:
        compare.start(win, state)
    return app.exec()
