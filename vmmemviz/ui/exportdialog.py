"""Export dialog (Ctrl+E): the current picture as PNG or SVG, or a range of events as GIF,
APNG or numbered PNGs, with the same options as ``vmmemviz export``.

A still is drawn from what the window shows. An animation replays the scenario in a
timeline of its own (the window's simulation thread is left alone): the UI thread renders
one frame per timer tick, a writer thread encodes them (``export.sequence``), so the window
stays responsive; Cancel stops both and leaves no file behind.
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ..errors import InputError
from ..export import render, sequence
from ..export.session import still_body
from .session import view_of

FORMATS = (("PNG image", "png"), ("SVG image (vector)", "svg"), ("Animated GIF", "gif"),
           ("Animated PNG (APNG)", "apng"), ("Numbered PNG frames (folder)", "frames"))
SUFFIX = {"png": ".png", "svg": ".svg", "gif": ".gif", "apng": ".png", "frames": ""}
AHEAD = 3                       # frames rendered ahead of the writer thread


class AnimationJob:
    """An animation export in small steps on the UI thread, encoding on a writer thread."""

    def __init__(self, stage: render.Stage, opts: render.FigureOptions, fmt: str, path, start: int,
                 end: int, fps: float):
        self.stage, self.opts, self.path = stage, opts, path
        self.start_pos, self.end = start, end
        self.fmt = "png" if fmt == "frames" else fmt
        self.shots = sequence.plan(start, end, fps)
        self.frames: queue.Queue = queue.Queue(AHEAD)
        self.next = 0                  # next shot to render
        self.done = 0                  # shots the writer has taken
        self.cancelled = threading.Event()
        self.error: BaseException | None = None
        self.render = None
        self.thread = None

    @property
    def total(self) -> int:
        return len(self.shots) + 1     # the last unit: encoding and writing the file

    def _progress(self, done: int, total: int):
        self.done = done
        return not self.cancelled.is_set()

    def _take(self, shot):
        img = self.frames.get()
        if img is None:
            raise sequence.Cancelled()
        return img

    def _write(self):
        try:
            sequence.write(self.path, self.fmt, self.shots, self._take, self.opts.transparent, self._progress,
                           render.figure_colours(self.opts.theme))
        except BaseException as e:      # handed to the UI thread
            self.error = e

    def step(self) -> bool:
        """Do a little work; True once the export has finished (see ``error``)."""
        if self.thread is None:
            tl = self.stage.tl
            if len(tl) < self.end and not tl.finished():
                tl.advance()              # one simulated second per step
                return False
            if len(tl) < self.end:
                self.error = InputError(f"the scenario has only {len(self.stage.tl)} events")
                return True
            page, self.render = self.stage.renderer(self.start_pos, self.end)
            render.check_pixels(page.width, page.height, self.opts.scale)
            sequence.check_memory(self.fmt, len(self.shots), round(page.width * self.opts.scale),
                                  round(page.height * self.opts.scale))
            self.thread = threading.Thread(target=self._write, name="export-writer", daemon=True)
            self.thread.start()
            return False
        if self.next < len(self.shots) and not self.frames.full() and not self.cancelled.is_set():
            self.frames.put(self.render(self.shots[self.next]))
            self.next += 1
        if self.thread.is_alive():
            return False
        self.thread.join()
        return True

    def cancel(self) -> None:
        self.cancelled.set()
        if self.thread is not None:
            try:
                self.frames.put_nowait(None)
            except queue.Full:
                pass
            while self.thread.is_alive():
                try:
                    self.frames.get_nowait()        # make room, so the writer meets the None
                    self.frames.put_nowait(None)
                except (queue.Empty, queue.Full):
                    pass
                self.thread.join(0.05)


class ExportDialog(QtWidgets.QDialog):
    def __init__(self, mainwindow):
        super().__init__(mainwindow)
        self.win = mainwindow
        self.setWindowTitle("Export figure")
        self.job: AnimationJob | None = None
        self.timer = QtCore.QTimer(self, interval=5)      # also paces waiting for the writer
        self.timer.timeout.connect(self._tick)
        self._build()
        self._sync()

    # -- the form --------------------------------------------------------------------------
    def _build(self):
        frame = self.win.frame
        form = QtWidgets.QFormLayout()
        self.format = QtWidgets.QComboBox()
        for label, key in FORMATS:
            self.format.addItem(label, key)
        self.format.setToolTip("PNG and SVG export the current picture; GIF, APNG and numbered frames animate "
                               "a range of events")
        form.addRow("Format", self.format)

        self.region = QtWidgets.QComboBox()
        self.region.addItem("Layer view", None)
        for b in (frame.bands if frame is not None else ()):
            self.region.addItem(f"One band: {b.title} ({b.key})", b.key)
        if view_of(self.win.layer_view)[1] is not None:
            self.region.addItem("What the view shows (zoomed in)", "view")
            self.region.setCurrentIndex(self.region.count() - 1)
        self.region.addItem("Whole window", "window")
        self.region.setToolTip("What to draw: every band, one band, or a screenshot of the whole window")
        form.addRow("Region", self.region)

        self.scale = QtWidgets.QDoubleSpinBox(minimum=render.SCALES[0], maximum=render.SCALES[1], value=1,
                                              singleStep=0.5, suffix=" x")
        self.scale.setToolTip("Pixels per figure pixel in PNG, GIF and APNG (2 x for sharp slides)")
        form.addRow("Scale", self.scale)

        size = QtWidgets.QHBoxLayout()
        self.fit = QtWidgets.QCheckBox("Fit to the picture", checked=True)
        self.width_ = QtWidgets.QSpinBox(minimum=200, maximum=8000, value=1280, suffix=" px")
        self.height_ = QtWidgets.QSpinBox(minimum=200, maximum=8000, value=800, suffix=" px")
        for w in (self.fit, self.width_, QtWidgets.QLabel("x"), self.height_):
            size.addWidget(w)
        self.fit.setToolTip("1280 wide and as tall as the picture needs; untick to choose the size")
        form.addRow("Size", size)

        self.title = QtWidgets.QLineEdit()
        self.title.setPlaceholderText("no title")
        if frame is not None and frame.chapter is not None:
            self.title.setText(frame.chapter.title)
        form.addRow("Title", self.title)
        self.legend = QtWidgets.QCheckBox("Legend", checked=True)
        self.caption = QtWidgets.QCheckBox("Caption (the current event's narration)", checked=True)
        self.transparent = QtWidgets.QCheckBox("Transparent background")
        self.empty_stores = QtWidgets.QCheckBox("Backing stores that hold nothing", checked=True)
        self.empty_stores.setToolTip("Untick to leave out compression caches, .vswp files and guest swap "
                                     "that hold no page")
        for w in (self.legend, self.caption, self.transparent, self.empty_stores):
            form.addRow("", w)
        self.theme = QtWidgets.QComboBox()
        self.theme.addItem("Light", "light")
        self.theme.addItem("Dark", "dark")
        self.theme.setCurrentIndex(self.theme.findData(self.win.theme))
        self.theme.setToolTip("Colours of the figure; light suits printed documents")
        form.addRow("Colours", self.theme)

        pos = frame.pos if frame is not None else 0
        total = max(1, frame.total if frame is not None else 1)
        rng = QtWidgets.QHBoxLayout()
        self.start = QtWidgets.QSpinBox(minimum=0, maximum=1 << 30, value=max(0, pos - 10))
        self.end = QtWidgets.QSpinBox(minimum=1, maximum=1 << 30, value=max(pos, min(total, 10)))
        self.fps = QtWidgets.QSpinBox(minimum=sequence.FPS_RANGE[0], maximum=sequence.FPS_RANGE[1], value=10,
                                      suffix=" fps")
        for w in (QtWidgets.QLabel("events"), self.start, QtWidgets.QLabel("to"), self.end, self.fps):
            rng.addWidget(w)
        self.fps.setToolTip("Frames a second; each event gets a 0.4 s transition and is held 1 s")
        form.addRow("Range", rng)
        self.chapter = QtWidgets.QComboBox()
        self.chapter.addItem("Events as set above", None)
        self._chapters = self.win.chapter_list()      # as the window lists them, host states too
        for k, (first, title, _) in enumerate(self._chapters):
            self.chapter.addItem(f"{title} (from event {first:,})", k)
        self.chapter.setToolTip("Animate one chapter of the tour: from its start to its end")
        self.chapter.currentIndexChanged.connect(self._pick_chapter)
        if self._chapters:
            form.addRow("Chapter", self.chapter)

        out = QtWidgets.QHBoxLayout()
        self.path = QtWidgets.QLineEdit()
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out.addWidget(self.path, 1)
        out.addWidget(browse)
        form.addRow("Save to", out)

        self.progress = QtWidgets.QProgressBar(visible=False)
        self.status = QtWidgets.QLabel(wordWrap=True)
        self.buttons = QtWidgets.QDialogButtonBox()
        self.export_btn = self.buttons.addButton("Export", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_btn = self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        self.export_btn.clicked.connect(self.start_export)
        self.close_btn.clicked.connect(self.cancel_or_close)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        for w in (self.format, self.region):
            w.currentIndexChanged.connect(self._sync)
        self.fit.toggled.connect(self._sync)
        self.path.setText(str(Path.home() / f"{Path(self.win.scenario.path or 'figure').stem}-{pos}.png"))

    def fmt(self) -> str:
        return self.format.currentData()

    def _sync(self, *_):
        """Enable what applies to the chosen format and region; keep the file suffix in step."""
        anim = self.fmt() in ("gif", "apng", "frames")
        window = self.region.currentData() == "window"
        if anim and window:
            self.region.setCurrentIndex(0)
            window = False
        self.region.model().item(self.region.count() - 1).setEnabled(not anim)
        for w in (self.start, self.end, self.fps, self.chapter):
            w.setEnabled(anim)
        self.scale.setEnabled(self.fmt() != "svg")
        for w in (self.legend, self.caption, self.theme, self.empty_stores):   # a screenshot is as the window is
            w.setEnabled(not window)
        for w in (self.width_, self.height_):
            w.setEnabled(not self.fit.isChecked())
        p = Path(self.path.text())
        if self.path.text():
            stem = p.name[:-len(p.suffix)] if p.suffix in (".png", ".svg", ".gif") else p.name
            self.path.setText(str(p.with_name(stem + SUFFIX[self.fmt()])))

    def _pick_chapter(self, *_):
        """Set the range to the chosen chapter, from before its first event to before the next
        chapter's (the last: to the events known), and its title."""
        k = self.chapter.currentData()
        if k is None:
            return
        first, title, _ = self._chapters[k]
        self.start.setValue(first - 1)
        self.end.setValue(self._chapters[k + 1][0] - 1 if k + 1 < len(self._chapters) else self.win.frame.total)
        self.title.setText(title)

    def _browse(self):
        if self.fmt() == "frames":
            path = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for the frames (it is replaced)",
                                                              str(Path(self.path.text()).parent))
            path = path and str(Path(path) / Path(self.path.text()).name)
        else:
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export to", self.path.text())
        if path:
            self.path.setText(path)

    def options(self) -> render.FigureOptions:
        region = self.region.currentData()
        window = region == "window"
        return render.FigureOptions(
            title=self.title.text().strip(), legend=self.legend.isChecked() and not window,
            caption=self.caption.isChecked() and not window,
            transparent=self.transparent.isChecked(), scale=self.scale.value(),
            size=None if self.fit.isChecked() else (self.width_.value(), self.height_.value()),
            band=None if window or region == "view" else region,
            theme=self.win.theme if window else self.theme.currentData(),
            empty_stores=self.empty_stores.isChecked())

    # -- running ----------------------------------------------------------------------------
    def start_export(self):
        path = Path(self.path.text()).expanduser()
        opts = self.options()
        self.status.setText("")
        try:
            if not path.parent.is_dir():
                raise InputError(f"{path.parent}: no such folder")
            if self.fmt() in ("png", "svg"):
                self._still(path, opts)
                return
            if self.start.value() >= self.end.value():
                raise InputError("the range must run from an earlier event to a later one")
            stage = render.Stage(self.win.scenario, opts)
            self.job = AnimationJob(stage, opts, self.fmt(), path, self.start.value(), self.end.value(),
                                    self.fps.value())
        except (InputError, OSError) as e:
            self.status.setText(f"Not exported: {e}")
            return
        self.progress.setRange(0, self.job.total)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.export_btn.setEnabled(False)
        self.close_btn.setText("Cancel")
        self.timer.start()

    def _still(self, path: Path, opts: render.FigureOptions) -> None:
        """The window's current frame (and inspected chain) as a figure: the same layout,
        width and legend rules as ``vmmemviz export``."""
        frame = self.win.frame
        caption = render.caption_of(frame, self.win.scenario.name, opts.band)
        if self.region.currentData() == "window":
            render.write_still(path, self.fmt(), opts, render.WidgetBody(self.win), None, caption)
        else:
            aspect, region = view_of(self.win.layer_view) if self.region.currentData() == "view" else (None, None)
            pic, legend = still_body(frame, opts, self.win.layer_view.chain, aspect, region)
            render.write_still(path, self.fmt(), opts, pic, legend, caption)
        self.status.setText(f"Wrote {path}")

    def _tick(self):
        job = self.job
        try:
            finished = job.step()
        except BaseException as e:      # a failure while rendering: stop the writer, report
            job.error = e
            job.cancel()
            finished = True
        self.progress.setValue(job.done)
        if finished:
            self._finish()

    def _finish(self):
        self.timer.stop()
        job, self.job = self.job, None
        self.progress.setVisible(False)
        self.export_btn.setEnabled(True)
        self.close_btn.setText("Close")
        if isinstance(job.error, sequence.Cancelled):
            self.status.setText("Cancelled: nothing was written.")
        elif job.error is not None:
            self.status.setText(f"Not exported: {job.error}")
        else:
            self.status.setText(f"Wrote {job.path} ({len(job.shots)} frames)")

    def cancel_or_close(self):
        if self.job is not None:
            self.job.cancel()
            self.job.error = sequence.Cancelled()
            self._finish()
        else:
            self.reject()

    def reject(self):
        if self.job is not None:
            self.cancel_or_close()
        super().reject()
