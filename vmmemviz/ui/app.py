"""Start the desktop app: ``main("default")`` or ``main("path/to/scenario.toml")``, in compare
mode with ``compare_sets`` or ``compare_other``."""
from __future__ import annotations

import sys

from PySide6 import QtCore, QtWidgets

from vmmemviz.model.config import scenario as S
from .comparestate import CompareState


def main(scenario_name_or_path: str = "default", compare_sets=(), compare_other: str | None = None) -> int:
    """``compare_sets`` (KEY=VALUE), ``compare_other`` (a scenario) or a compare tour (its
    ``[compare]`` table): open in compare mode."""
    sc = S.load(scenario_name_or_path)     # a bad file fails here, as one line (InputError)
    state = CompareState.pair(sc, compare_sets, compare_other) \
        if compare_sets or compare_other or sc.compare_sets else None
    QtWidgets.QApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setOrganizationName("vmmemviz")
    app.setApplicationName("vmmemviz")
    app.setDesktopFileName("vmmemviz")
    from . import compare
    from .mainwindow import MainWindow
    win = MainWindow(scenario_name_or_path)
    win.show()
    if state is not None:
        compare.start(win, state)
    return app.exec()
