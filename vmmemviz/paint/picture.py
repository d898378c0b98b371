"""The whole picture of a Frame (or one band of it) painted into a rect of any QPainter:
grids, headings and labels, the event's arrows and the inspected chain. The window's
view and every export paint through this.

One band alone gets a label line above its grid at a legible size and only the arrows
that start and end in it; the whole picture keeps its arrows inside the target.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

from ..scene import bands as B
from ..scene import palette as P
from .arrows import ArrowPainter
from .grid import GridPainter
from .labels import LAYER_TITLES, band_text, paint_labels
from .marks import MarkPainter

BAND_LABEL_PX = 17           # a one-band figure's label
PAD = 0.01                   # around the picture, a fraction of its width

LAYER_NAMES = {"gv": "guest virtual memory", "gp": "guest physical memory"}


def band_label(b) -> str:
    """A one-band figure's label: which band, of which layer, how large."""
    if b.layer == "mp":
        return f"{LAYER_TITLES['mp']}  ·  {band_text(b).split('  ·  ', 1)[1]}"
    if b.layer in LAYER_NAMES:
        title, size = band_text(b).split("  ·  ", 1)
        return f"{title}: {LAYER_NAMES[b.layer]}  ·  {size}"
    return band_text(b)


def fit_rect(aspect: float, target: QtCore.QRectF) -> QtCore.QRectF:
    """The largest rect of ``aspect`` (width / height) centred in ``target``."""
    w = min(target.width(), target.height() * aspect)
    h = w / aspect
    return QtCore.QRectF(target.left() + (target.width() - w) / 2, target.top() + (target.height() - h) / 2, w, h)


class Picture:
    """Bands, arrows and chain of one position; grid images are kept between paints."""

    def __init__(self, theme: str = "dark", transparent: bool = False):
        self.theme, self.transparent = theme, transparent
        self.bands, self.by_key, self._rect = (), {}, QtCore.QRectF(0, 0, 1, 1)
        self.grids: dict[str, GridPainter] = {}
        self.arrows, self.chain = ArrowPainter(), ArrowPainter()
        self.progress = 1.0
        self.view: QtCore.QRectF | None = None      # a zoomed view: the scene rect shown
        self.marks: dict[str, MarkPainter] = {}
        self._masks: dict = {}

    def set_bands(self, bands, arrows=(), chain=(), progress: float = 1.0) -> None:
        self.bands, self.by_key = tuple(bands), {b.key: b for b in bands}
        self._rect = QtCore.QRectF(*B.scene_rect(self.bands)) if self.bands else QtCore.QRectF(0, 0, 1, 1)
        for key in set(self.grids) - set(self.by_key):
            del self.grids[key]
        for b in self.bands:
            g = self.grids.get(b.key)
            if g is None:
                self.grids[b.key] = GridPainter(b, self.theme)
            elif g.band.codes is not b.codes or g.theme != self.theme:
                g.set_band(b, self.theme)
        self.arrows.set_arrows(arrows, self.by_key, self.theme)
        self.chain.set_arrows(chain, self.by_key, self.theme)
        self.progress = progress

    def set_marks(self, masks: dict) -> None:
        """Outline the pages that differ from another run: ``masks`` maps a band key to a
        flat bool mask of its pages (``scene.compare.FrameDiff.a`` / ``.b``); {} clears.
        The masks belong to the bands set last: set them again after ``set_bands``."""
        self._masks = masks
        self.marks = {k: MarkPainter(self.by_key[k], m, self.theme) for k, m in masks.items() if k in self.by_key}

    def set_theme(self, theme: str) -> None:
        self.theme = theme
        self.set_bands(self.bands, self.arrows.arrows, self.chain.arrows, self.progress)
        if self.marks:
            self.set_marks(self._masks)

    # -- geometry ---------------------------------------------------------------------------
    def rect(self) -> QtCore.QRectF:
        """Scene rect of the whole picture: every band, its label and its row's heading."""
        return QtCore.QRectF(self._rect)

    def source(self, band_key: str | None = None) -> QtCore.QRectF:
        """What a figure shows, in scene units: the picture, or one band's grid, padded,
        or the part of the picture in a zoomed ``view``."""
        if band_key is None and self.view is not None:
            return QtCore.QRectF(self.view)
        if band_key is None:
            src = self.rect()
        else:
            b = self.by_key[band_key]
            src = QtCore.QRectF(b.x, b.y, b.cols, b.rows)
        pad = src.width() * PAD        # by the width: pictures as wide keep their layers at one height
        return src.adjusted(-pad, -pad, pad, pad)

    def header(self, band_key: str | None = None) -> float:
        """Pixels above the grid for a one-band figure's label."""
        return 0.0 if band_key is None else round(BAND_LABEL_PX * 1.9)

    def aspect(self, band_key: str | None = None) -> float:
        src = self.source(band_key)
        return src.width() / max(1e-9, src.height())

    def used(self, band_key: str | None = None) -> tuple:
        """(palette codes shown, whether 2 MB outlines are shown): what the legend names."""
        shown = self.bands if band_key is None else (self.by_key[band_key],)
        codes = set()
        for b in shown:
            codes.update(np.unique(b.codes).tolist())
        return codes - {P.BG}, any(b.outlines for b in shown)

    # -- painting -----------------------------------------------------------------------------
    def paint_grids(self, painter: QtGui.QPainter, vis: QtCore.QRectF, shown=None, cells: bool = True) -> None:
        """Paint the grids (of ``shown`` bands, default all) in scene coordinates, the
        cells in ``vis`` (scene rect); only their overlays when not ``cells``."""
        for b in (self.bands if shown is None else shown):
            painter.save()
            painter.translate(b.x, b.y)
            self.grids[b.key].paint(painter, vis.translated(-b.x, -b.y), cells)
            if b.key in self.marks:
                self.marks[b.key].paint(painter)
            painter.restore()

    def paint_labels(self, painter: QtGui.QPainter, stagger: bool = False) -> list:
        """Headings and band labels in scene coordinates; their (scene rect, full text).
        ``stagger``: names of narrow VM columns on two lines (labels.staggered)."""
        return paint_labels(painter, self.bands, self.theme, stagger=stagger)

    def render_to(self, painter: QtGui.QPainter, target: QtCore.QRectF, band_key: str | None = None) -> None:
        """Paint into ``target`` (device units of the painter), aspect kept, nothing outside."""
        t = P.THEMES[self.theme]
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
        if not self.transparent:
            painter.fillRect(target, QtGui.QColor(t["bg"]))
        painter.setClipRect(target, QtCore.Qt.ClipOperation.IntersectClip)
        src = self.source(band_key)
        out = fit_rect(src.width() / src.height(), target.adjusted(0, self.header(band_key), 0, 0))
        k = out.width() / src.width()
        if band_key is not None:          # the label starts where the grid does
            left = out.left() + (self.by_key[band_key].x - src.left()) * k
            self._band_label(painter, QtCore.QRectF(left, target.top(), target.right() - left, self.header(band_key)),
                             self.by_key[band_key])
        painter.translate(out.left() - src.left() * k, out.top() - src.top() * k)
        painter.scale(k, k)
        vis = painter.clipBoundingRect().intersected(src)    # what the clip leaves, in scene units
        bounds = painter.worldTransform().mapRect(src)
        if band_key is None:
            self.paint_grids(painter, vis)
            self.paint_labels(painter)
            self.arrows.paint(painter, self.progress, bounds)
            self.chain.paint(painter, 1.0, bounds)
        else:
            self.paint_grids(painter, vis, (self.by_key[band_key],))
            for art, progress in ((self.arrows, self.progress), (self.chain, 1.0)):
                inside = [a for a in art.arrows if a.src[0] == a.dst[0] == band_key]
                if inside:
                    one = ArrowPainter()
                    one.set_arrows(inside, self.by_key, self.theme)
                    one.paint(painter, progress, bounds)
        painter.restore()

    def _band_label(self, painter, rect: QtCore.QRectF, b) -> None:
        font = QtGui.QFont(painter.font())
        font.setPixelSize(BAND_LABEL_PX)
        font.setBold(True)
        painter.save()
        painter.setFont(font)
        painter.setPen(QtGui.QColor(P.THEMES[self.theme]["fg"]))
        text = QtGui.QFontMetricsF(font).elidedText(band_label(b), QtCore.Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter), text)
        painter.restore()
