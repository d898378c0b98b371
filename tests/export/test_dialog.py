"""The export dialog: stills from what the window shows, animations in steps, cancel."""
import os
import time

import pytest
from PIL import Image
from PySide6 import QtWidgets
from PySide6.QtGui import QColor, QImage

from vmmemviz.engine.chapters import Chapters
from vmmemviz.engine.worker import build_frame
from vmmemviz.model.config import scenario
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.scene.palette import THEMES
from vmmemviz.ui.exportdialog import ExportDialog
from vmmemviz.ui.layerview import LayerView


class Window(QtWidgets.QMainWindow):
    """What the dialog reads from the main window: scenario, frame, theme, layer view."""

    def __init__(self, name="allocation", pos=40):
        super().__init__()
        self.scenario = scenario.load(name)
        self.theme = "light"
        self.layer_view = LayerView(theme=self.theme)
        self.setCentralWidget(self.layer_view)
        self.resize(900, 600)
        tl = Timeline(self.scenario)
        tl.ensure(pos)
        self.frame = build_frame(tl, pos)
        self.layer_view.set_frame(self.frame)
        self.tl = tl

    def chapter_list(self) -> list:
        """As the main window's timeline bar lists them, the whole run simulated."""
        self.tl.run_to_end()
        return Chapters.of(self.tl).summary()


@pytest.fixture
def dialog(qtbot):
    win = Window()
    qtbot.addWidget(win)
    d = ExportDialog(win)
    qtbot.addWidget(d)
    return d


def choose(combo, data):
    combo.setCurrentIndex(combo.findData(data))


@pytest.mark.parametrize("fmt, region", [("png", None), ("svg", "mp"), ("png", "window")])
def test_still_export(dialog, tmp_path, fmt, region):
    choose(dialog.format, fmt)
    choose(dialog.region, region)
    dialog.path.setText(str(tmp_path / f"fig.{fmt}"))
    dialog.export_btn.click()
    assert "Wrote" in dialog.status.text(), dialog.status.text()
    assert os.listdir(tmp_path) == [f"fig.{fmt}"]


def test_animation_runs_in_short_steps_and_writes_every_frame(dialog, tmp_path, qtbot):
    choose(dialog.format, "gif")
    assert not dialog.region.model().item(dialog.region.count() - 1).isEnabled()   # no whole-window GIF
    dialog.start.setValue(60)
    dialog.end.setValue(64)
    dialog.fps.setValue(5)
    dialog.path.setText(str(tmp_path / "a.gif"))
    dialog.export_btn.click()
    job = dialog.job
    dialog.timer.stop()                     # drive it by hand: each step renders one frame at most
    slowest, steps = 0.0, 0
    while dialog.job is not None:
        before = job.next
        t = time.perf_counter()
        dialog._tick()
        slowest = max(slowest, time.perf_counter() - t)
        assert job.next - before <= 1
        steps += 1
        qtbot.wait(1)
    assert steps > len(job.shots) and slowest < 2.0, f"a step took {slowest:.2f} s: the UI would freeze"
    assert "Wrote" in dialog.status.text(), dialog.status.text()
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == len(job.shots) == 5 + 4 * 1


def test_cancel_leaves_nothing(dialog, tmp_path, qtbot):
    choose(dialog.format, "frames")
    dialog.start.setValue(0)
    dialog.end.setValue(200)
    dialog.path.setText(str(tmp_path / "frames"))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.job is not None and dialog.job.done >= 3, timeout=20000)
    dialog.close_btn.click()                # it reads "Cancel" while exporting
    assert dialog.job is None and "Cancelled" in dialog.status.text()
    assert os.listdir(tmp_path) == []


def test_colours_can_differ_from_the_window_and_the_window_keeps_its_own(dialog, tmp_path):
    choose(dialog.format, "png")
    choose(dialog.theme, "dark")
    dialog.path.setText(str(tmp_path / "dark.png"))
    dialog.export_btn.click()
    img = QImage(str(tmp_path / "dark.png"))
    assert img.pixelColor(2, 2) == QColor(THEMES["dark"]["bg"])
    assert dialog.win.layer_view.theme == "light"


@pytest.mark.parametrize("region", [None, "gp.1"])
def test_dialog_still_has_the_cli_s_geometry(dialog, tmp_path, region):
    """1280 wide and laid out for the figures' aspect, whatever the window's size."""
    choose(dialog.format, "png")
    choose(dialog.region, region)
    for size in ((900, 600), (1500, 500)):
        dialog.win.resize(*size)
        dialog.path.setText(str(tmp_path / f"d{size[0]}.png"))
        dialog.export_btn.click()
        assert "Wrote" in dialog.status.text(), dialog.status.text()
    a, b = QImage(str(tmp_path / "d900.png")), QImage(str(tmp_path / "d1500.png"))
    assert a.width() == b.width() == 1280 and a.height() == b.height()


def test_dialog_refuses_an_image_over_the_limit_in_one_line(dialog, tmp_path):
    choose(dialog.format, "png")
    dialog.fit.setChecked(False)
    dialog.width_.setValue(8000)
    dialog.height_.setValue(8000)
    dialog.scale.setValue(4)
    dialog.path.setText(str(tmp_path / "big.png"))
    dialog.export_btn.click()
    assert "limit of 268 megapixels" in dialog.status.text() and os.listdir(tmp_path) == []
