"""One band's page grid: cells through the palette, and the overlays that depend on zoom
(cell borders, but none inside a 2 KiB compressed page's two units; balloon hatching,
2 MB outlines, shared-frame counts).

The painter's world transform maps the band's cells to the device: cell (c, r) is the
unit square at (c, r). On an SVG device the cells are vector rectangles (runs of one
colour merged); elsewhere one RGB32 image. Overlays follow the level of detail (device
pixels per cell) the same way on every device, so an SVG shows what a PNG shows.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

from vmmemviz.model.core import host as H
from ..scene import bands as B
from ..scene import palette as P

BADGE_LOD = 18       # pixels per cell from which shared frames show their count
HATCH_LOD = 5        # ... from which ballooned cells are hatched
BORDER_LOD = 6       # ... from which cells get borders
OUTLINE_MIN_PX = 6   # large-page outlines are drawn when the page is this many pixels across
FULL_IMAGE_CELLS = 1 << 18   # bands up to this many cells are drawn whole, larger ones by region


def lod_of(painter: QtGui.QPainter) -> float:
    """Device pixels per scene unit (cell) of the painter's world transform: the shorter
    of a unit step along x and along y (as QStyleOptionGraphicsItem computes it)."""
    xf = painter.worldTransform()
    return min(xf.map(QtCore.QLineF(0, 0, 1, 0)).length(), xf.map(QtCore.QLineF(0, 0, 0, 1)).length())


def is_vector(painter: QtGui.QPainter) -> bool:
    eng = painter.paintEngine()
    return eng is not None and eng.type() == QtGui.QPaintEngine.Type.SVG


class GridPainter:
    """Paints one band; keeps the last raster image so a redraw at the same zoom is free."""

    def __init__(self, band: B.Band, theme: str):
        self.band, self.theme = band, theme
        self._cache = None

    def set_band(self, band: B.Band, theme: str) -> None:
        self.band, self.theme = band, theme
        self._cache = None

    def paint(self, painter: QtGui.QPainter, vis: QtCore.QRectF | None = None, cells: bool = True) -> None:
        """Paint the cells of ``vis`` (band-local cells; None: all) and their overlays (only
        the overlays when not ``cells``: the view drew the cells from its overview)."""
        b = self.band
        whole = QtCore.QRectF(0, 0, b.cols, b.rows)
        vis = whole if vis is None else vis.intersected(whole)
        lod = lod_of(painter)
        if cells and is_vector(painter):
            self._paint_vector(painter)
        elif cells:
            self._paint_raster(painter, lod, vis)
        self._overlays(painter, lod, vis)

    def _paint_raster(self, painter, lod: float, exposed: QtCore.QRectF):
        """Draw the visible cells as an RGB32 image, one pixel per cell or, when a cell is
        smaller than a pixel (host scale), one pixel per ``step`` x ``step`` block showing a
        reclaimed page in it, else its first cell (``palette.most_notable``).
        Indexed images cost Qt a conversion on every draw (measured: 12x an RGB32 draw)."""
        codes = self.band.codes
        rows, cols = codes.shape
        step = max(1, int(1.0 / max(lod, 1e-9)))
        if step == 1 and rows * cols <= FULL_IMAGE_CELLS:      # one image, kept while zooming
            r0, r1, c0, c1 = 0, rows, 0, cols
        else:
            r0, c0 = max(0, int(exposed.top()) // step * step), max(0, int(exposed.left()) // step * step)
            r1, c1 = min(rows, int(np.ceil(exposed.bottom())) + step), min(cols, int(np.ceil(exposed.right())) + step)
        if r1 <= r0 or c1 <= c0:
            return
        key = (r0, r1, c0, c1, step)
        if self._cache is None or self._cache[0] != key:
            px = np.take(P.lut32(self.theme), P.most_notable(codes[r0:r1, c0:c1], step))
            h, w = px.shape
            img = QtGui.QImage(px.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGB32)
            self._cache = (key, img, px)          # px keeps the image's memory alive
        img = self._cache[1]
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QtCore.QRectF(c0, r0, img.width() * step, img.height() * step), img)
        painter.restore()

    def _paint_vector(self, painter):
        codes = self.band.codes
        lut = P.lut(self.theme)
        painter.save()
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        rows, cols = codes.shape
        brushes = {}
        for r in range(rows):
            row = codes[r]
            cut = np.flatnonzero(row[1:] != row[:-1]) + 1
            starts = np.concatenate(([0], cut))
            ends = np.concatenate((cut, [cols]))
            for s, e in zip(starts.tolist(), ends.tolist()):
                c = int(row[s])
                if c == P.BG:
                    continue
                if c not in brushes:
                    brushes[c] = QtGui.QBrush(QtGui.QColor(*lut[c]))
                painter.setBrush(brushes[c])
                painter.drawRect(QtCore.QRectF(s, r, e - s, 1))
        painter.restore()

    def _cells(self, code: int, vis: QtCore.QRectF):
        """(row, col) of visible cells with ``code``."""
        codes = self.band.codes
        r0, r1 = max(0, int(vis.top())), min(codes.shape[0], int(np.ceil(vis.bottom())) + 1)
        c0, c1 = max(0, int(vis.left())), min(codes.shape[1], int(np.ceil(vis.right())) + 1)
        rr, cc = np.nonzero(codes[r0:r1, c0:c1] == code)
        return rr + r0, cc + c0

    def _overlays(self, painter, lod: float, vis: QtCore.QRectF):
        b = self.band
        if lod >= BORDER_LOD:            # cell borders, so single pages read as cells
            painter.save()
            pen = QtGui.QPen(QtGui.QColor(P.THEMES[self.theme]["bg"]), 1)
            pen.setCosmetic(True)
            painter.setPen(pen)
            r0, r1 = max(1, int(vis.top())), min(b.rows, int(np.ceil(vis.bottom())) + 1)
            c0, c1 = max(1, int(vis.left())), min(b.cols, int(np.ceil(vis.right())) + 1)
            lines = [QtCore.QLineF(c, 0, c, b.rows) for c in range(c0, c1)]
            lines += [QtCore.QLineF(0, r, b.cols, r) for r in range(r0, r1)]
            painter.drawLines(lines)
            rr, cc = self._cells(P.ZIP2, vis)      # a 2 KiB compressed page: its two units as one cell
            pair = (cc % 2 == 0) & (cc + 1 < b.cols)
            rr, cc = rr[pair], cc[pair]
            keep = b.codes[rr, cc + 1] == P.ZIP2
            if keep.any():
                painter.setPen(QtCore.Qt.PenStyle.NoPen)
                painter.setBrush(QtGui.QColor(P.colour(P.ZIP2, self.theme)))
                px = 1 / lod                 # covers the 1-pixel border, not the row lines
                for r, c in zip(rr[keep].tolist(), cc[keep].tolist()):
                    painter.drawRect(QtCore.QRectF(c + 1 - px, r + px / 2, 2 * px, 1 - px))
            painter.restore()
        if lod >= HATCH_LOD:
            rr, cc = self._cells(P.BALLOON, vis)
            if len(rr):
                painter.save()
                painter.setPen(QtCore.Qt.PenStyle.NoPen)
                brush = QtGui.QBrush(QtGui.QColor(0, 0, 0, 140), QtCore.Qt.BrushStyle.BDiagPattern)
                brush.setTransform(QtGui.QTransform.fromScale(1 / lod, 1 / lod))
                painter.setBrush(brush)
                for r, c in zip(rr.tolist(), cc.tolist()):
                    painter.drawRect(QtCore.QRectF(c, r, 1, 1))
                painter.restore()
        side = min(H.LARGE_PAGES, b.cols, max(1, H.LARGE_PAGES // b.cols))   # a 2 MB page's shorter side, cells
        if b.outlines and side * lod >= OUTLINE_MIN_PX:
            painter.save()
            pen = QtGui.QPen(QtGui.QColor(P.THEMES[self.theme]["fg"]), 1.5)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            for start, n in b.outlines:
                for x, y, w, h in b.range_rects(start, start + n):
                    r = QtCore.QRectF(x - b.x, y - b.y, w, h)
                    # only where a 2 MB page is big enough on screen to see as a box
                    if min(w, h) * lod >= OUTLINE_MIN_PX and r.intersects(vis):
                        painter.drawRect(r)
            painter.restore()
        if b.badges and lod >= BADGE_LOD:
            painter.save()
            xf = painter.worldTransform()
            painter.resetTransform()
            font = QtGui.QFont(painter.font())
            font.setPixelSize(max(8, min(14, int(lod * 0.55))))
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QtGui.QColor("#000000"))
            for i, refs in b.badges:
                r, c = divmod(i, b.cols)
                if vis.contains(QtCore.QPointF(c + 0.5, r + 0.5)):
                    box = xf.mapRect(QtCore.QRectF(c, r, 1, 1))
                    painter.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, str(refs))
            painter.restore()
