"""The layer view: every band of a Frame as a page grid, labels, and the event's arrows.

Works without being shown: ``set_frame(frame, progress)`` is synchronous and
``render_to(painter, target, band_key)`` paints the whole picture (or one band) into any
QPainter. On an SVG paint device a grid draws its cells as vector rectangles (runs of one
colour merged) instead of one image, so an exported SVG is crisp and holds the grid.
On screen: wheel to zoom at the cursor, drag to pan, hover for a page's tooltip, click to
inspect it (``pageHovered`` / ``pageClicked`` carry the page reference).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from vmmemviz.model.core import host as H
from ..scene import bands as B
from ..scene import palette as P
from ..scene.arrows import chain_arrows
from ..scene.palette import lut32
from .arrowitem import ArrowItem


BADGE_LOD = 18       # pixels per cell from which shared frames show their count
HATCH_LOD = 5        # ... from which ballooned cells are hatched
LAYER_TITLES = {"gv": "Guest virtual memory (per process)", "gp": "Guest physical memory (per VM)",
                "mp": "Machine memory (host physical)", "store": "Backing stores"}
OUTLINE_MIN_PX = 6   # large-page outlines are drawn when the page is this many pixels across
FULL_IMAGE_CELLS = 1 << 18   # bands up to this many cells are drawn whole, larger ones by region


class GridItem(pg.ImageItem):
    """One band: an indexed image through the palette's lookup table, plus overlays."""

    def __init__(self, band: B.Band, theme: str):
        super().__init__(axisOrder="row-major")
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.theme = theme
        self.set_band(band, theme)

    def set_band(self, band: B.Band, theme: str) -> None:
        self.band, self.theme = band, theme
        self._cache = None
        self.setPos(band.x, band.y)
        # the ImageItem keeps the codes and the lut (its API, bounds); paint() below draws them
        self.setImage(band.codes, lut=P.lut(theme), autoLevels=False)

    def paint(self, painter, option, widget=None):
        svg = painter.paintEngine() is not None and painter.paintEngine().type() == QtGui.QPaintEngine.Type.SVG
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if svg:
            self._paint_vector(painter)
        else:
            self._paint_raster(painter, lod, option.exposedRect if option is not None else self.boundingRect())
        vis = option.exposedRect if option is not None and not svg else self.boundingRect()
        self._overlays(painter, lod if not svg else 40, vis)

    def _paint_raster(self, painter, lod: float, exposed: QtCore.QRectF):
        """Draw the visible cells as an RGB32 image, one pixel per cell or, when a cell is
        smaller than a pixel (host scale), one cell of every ``step`` (cells become pixels).
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
            px = np.take(lut32(self.theme), np.ascontiguousarray(codes[r0:r1:step, c0:c1:step]))
            h, w = px.shape
            img = QtGui.QImage(px.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGB32)
            self._cache = (key, img, px)          # px keeps the image's memory alive
        img = self._cache[1]
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QtCore.QRectF(c0, r0, img.width() * step, img.height() * step), img)

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
        if lod >= 6:            # cell borders, so single pages read as cells
            painter.save()
            pen = QtGui.QPen(QtGui.QColor(P.THEMES[self.theme]["bg"]), 1)
            pen.setCosmetic(True)
            painter.setPen(pen)
            r0, r1 = max(1, int(vis.top())), min(b.rows, int(np.ceil(vis.bottom())) + 1)
            c0, c1 = max(1, int(vis.left())), min(b.cols, int(np.ceil(vis.right())) + 1)
            lines = [QtCore.QLineF(c, 0, c, b.rows) for c in range(c0, c1)]
            lines += [QtCore.QLineF(0, r, b.cols, r) for r in range(r0, r1)]
            painter.drawLines(lines)
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


class LabelsItem(QtWidgets.QGraphicsObject):
    """Band titles over their grids, at a pixel size that follows the zoom up to a cap."""

    def __init__(self):
        super().__init__()
        self.bands, self.theme, self._rect = (), "dark", QtCore.QRectF()
        self.setZValue(5)

    def set_bands(self, bands, theme, rect):
        self.prepareGeometryChange()
        self.bands, self.theme, self._rect = bands, theme, QtCore.QRectF(rect)
        self.update()

    def boundingRect(self):
        return self._rect

    def paint(self, painter, option, widget=None):
        if not self.bands:
            return
        t = P.THEMES[self.theme]
        xf = painter.worldTransform()
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(xf)
        width = max(b.x + b.cols for b in self.bands)
        lab = B.label_height(int(width))
        px = max(10, min(15, int(lab * lod * 0.6)))
        painter.save()
        painter.resetTransform()
        font = QtGui.QFont(painter.font())
        font.setPixelSize(px)
        bold = QtGui.QFont(font)
        bold.setBold(True)
        bold.setPixelSize(px + 2)
        heads = {}
        for b in self.bands:                    # each row of bands has a heading: its layer
            row = b.layer if b.layer in ("gv", "gp", "mp") else "store"     # any store the model has
            heads[row] = min(heads.get(row, b.y), b.y)
        painter.setFont(bold)
        fm_b = QtGui.QFontMetricsF(bold)
        painter.setPen(QtGui.QColor(t["fg"]))
        for row, y in heads.items():
            p = xf.map(QtCore.QPointF(0, y - lab))
            painter.drawText(QtCore.QPointF(p.x(), p.y() - fm_b.descent() - 2), LAYER_TITLES[row])
        painter.setFont(font)
        fm = QtGui.QFontMetricsF(font)
        for b in self.bands:
            if b.layer == "mp":
                continue                        # its heading says it all
            corner = xf.map(QtCore.QPointF(b.x, b.y))
            kib = B.band_kib(b)
            size = _size(b.total or b.count, kib) + (f", {_size(b.count, kib)} shown" if b.total > b.count else "")
            room = b.cols * lod
            if room < fm.horizontalAdvance("web01…"):
                continue                        # too narrow to name (host scale): the tooltip does
            text = fm.elidedText(f"{b.title}  ·  {size}", QtCore.Qt.TextElideMode.ElideRight, room)
            painter.setPen(QtGui.QColor(t["fg"] if b.layer == "gp" else t["muted"]))
            painter.drawText(QtCore.QPointF(corner.x(), corner.y() - fm.descent() - 2), text)
        painter.restore()


def _size(cells: int, kib: int = 4) -> str:
    mb = cells * kib / 1024
    if mb >= 1024:
        return f"{round(mb / 1024, 1):g} GiB"
    return f"{round(mb, 1):g} MiB" if mb >= 1 else f"{cells * kib} KiB"


class LayerView(QtWidgets.QGraphicsView):
    pageHovered = QtCore.Signal(object)      # (layer, vm, proc, index) or None
    pageClicked = QtCore.Signal(object)
    aspectChanged = QtCore.Signal(float)     # the viewport's width / height, after a resize settles
    # pyqtgraph items outside a ViewBox connect to these on their GraphicsView
    sigDeviceRangeChanged = QtCore.Signal(object)
    sigDeviceTransformChanged = QtCore.Signal(object)

    def __init__(self, parent=None, theme: str = "dark"):
        super().__init__(parent)
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.theme = theme
        self.frame = None
        self.grids: dict[str, GridItem] = {}
        self.labels = LabelsItem()
        self.arrow_item = ArrowItem()
        self.chain_item = ArrowItem()
        self.chain_item.setZValue(11)
        for it in (self.labels, self.arrow_item, self.chain_item):
            self.scene().addItem(it)
        self.chain = ()
        self._fit = True
        self._hover = None
        self.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing | QtGui.QPainter.RenderHint.TextAntialiasing)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QtWidgets.QGraphicsView.DragMode.ScrollHandDrag)
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.viewport().setMouseTracking(True)        # hover without a button pressed
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setToolTip("")
        self._aspect_timer = QtCore.QTimer(self, singleShot=True, interval=150)
        self._aspect_timer.timeout.connect(
            lambda: self.aspectChanged.emit(self.viewport().width() / max(1, self.viewport().height())))
        self.set_theme(theme)

    # -- content ---------------------------------------------------------------------------
    def set_theme(self, theme: str) -> None:
        self.theme = theme
        bg = QtGui.QColor(P.THEMES[theme]["bg"])
        self.scene().setBackgroundBrush(bg)
        self.setBackgroundBrush(bg)
        if self.frame is not None:
            for g in self.grids.values():
                g.set_band(g.band, theme)
            self._place_overlays()

    def set_frame(self, frame, progress: float = 1.0) -> None:
        """Show ``frame`` now; ``progress`` is the point of its transition (0..1)."""
        self.frame = frame
        keys = [b.key for b in frame.bands]
        if set(keys) != set(self.grids):
            for g in self.grids.values():
                self.scene().removeItem(g)
            self.grids = {}
        for b in frame.bands:
            g = self.grids.get(b.key)
            if g is None:
                g = self.grids[b.key] = GridItem(b, self.theme)
                self.scene().addItem(g)
            elif g.band.codes is not b.codes:
                g.set_band(b, self.theme)
        self._place_overlays()
        self.arrow_item.set_progress(progress)
        if self._fit:
            self.fit()

    def _place_overlays(self):
        f = self.frame
        rect = self.picture_rect()
        self.scene().setSceneRect(rect.adjusted(-rect.width() * 0.05, -rect.height() * 0.05,
                                                rect.width() * 0.05, rect.height() * 0.05))
        by_key = {b.key: b for b in f.bands}
        self.labels.set_bands(f.bands, self.theme, rect)
        self.arrow_item.set_arrows(f.arrows, by_key, self.theme, rect)
        self.chain_item.set_arrows(self.chain, by_key, self.theme, rect)

    def set_progress(self, p: float) -> None:
        self.arrow_item.set_progress(p)

    def set_chain(self, chain) -> None:
        """Highlight an inspected page's chain (list of references; empty to clear)."""
        self.chain = chain_arrows(chain) if chain else ()
        if self.frame is not None:
            self._place_overlays()

    def picture_rect(self) -> QtCore.QRectF:
        if self.frame is None or not self.frame.bands:
            return QtCore.QRectF(0, 0, 1, 1)
        return QtCore.QRectF(*B.scene_rect(self.frame.bands))

    def band_rect(self, key: str) -> QtCore.QRectF:
        b = next(b for b in self.frame.bands if b.key == key)
        lab = B.label_height(int(self.picture_rect().width()))
        return QtCore.QRectF(b.x - 1, b.y - 2 * lab, b.cols + 2, b.rows + 2 * lab + 1)   # label, row heading

    def render_to(self, painter: QtGui.QPainter, target: QtCore.QRectF, band_key: str | None = None) -> None:
        """Paint the whole picture (or one band with its label) into ``target``, aspect kept."""
        src = self.picture_rect() if band_key is None else self.band_rect(band_key)
        pad = src.width() * 0.01
        src = src.adjusted(-pad, -pad, pad, pad)
        k = min(target.width() / src.width(), target.height() / src.height())
        out = QtCore.QRectF(0, 0, src.width() * k, src.height() * k)
        out.moveCenter(target.center())
        painter.save()
        painter.fillRect(target, QtGui.QColor(P.THEMES[self.theme]["bg"]))
        painter.setClipRect(out)          # nothing of the neighbouring bands
        self.scene().render(painter, out, src, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio)
        painter.restore()

    def cell_colour(self, key: str, index: int) -> QtGui.QColor:
        """The colour the grid shows for one page (tests, exports)."""
        b = self.grids[key].band
        r, c = divmod(index, b.cols)
        return QtGui.QColor(*P.lut(self.theme)[b.codes[r, c]])

    def cell_center(self, key: str, index: int) -> QtCore.QPoint:
        """Viewport position of a page's cell."""
        b = self.grids[key].band
        r, c = divmod(index, b.cols)
        return self.mapFromScene(QtCore.QPointF(b.x + c + 0.5, b.y + r + 0.5))

    # -- zoom, pan, hover, click -------------------------------------------------------------
    def fit(self) -> None:
        self._fit = True
        if self.frame is not None:
            self.fitInView(self.picture_rect().adjusted(-1, -1, 1, 1), QtCore.Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        self._fit = False
        self.scale(factor, factor)

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._aspect_timer.start()
        if self._fit:
            self.fit()

    def wheelEvent(self, ev):
        self.zoom(1.0015 ** ev.angleDelta().y())

    def page_at(self, pos: QtCore.QPoint):
        if self.frame is None:
            return None
        sp = self.mapToScene(pos)
        for b in self.frame.bands:
            i = b.index_at(sp.x(), sp.y())
            if i is not None:
                return b.ref(i)
        return None

    def mouseMoveEvent(self, ev):
        super().mouseMoveEvent(ev)
        ref = self.page_at(ev.position().toPoint())
        if ref != self._hover:
            self._hover = ref
            if ref is None:
                QtWidgets.QToolTip.hideText()
            self.pageHovered.emit(ref)

    def show_page_tip(self, ref, text: str) -> None:
        """Show the tooltip for ``ref`` if the cursor is still on it."""
        self._tip = (ref, text)
        if ref == self._hover and text:
            QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), text, self.viewport())

    def viewportEvent(self, ev):
        # Qt's own tooltip event would hide ours (no item has a tooltip): answer it with the page's
        if ev.type() == QtCore.QEvent.Type.ToolTip:
            ref, text = getattr(self, "_tip", (None, ""))
            if ref is not None and ref == self._hover and text:
                QtWidgets.QToolTip.showText(ev.globalPos(), text, self.viewport())
            return True
        return super().viewportEvent(ev)

    def mousePressEvent(self, ev):
        self._press = ev.position().toPoint()
        super().mousePressEvent(ev)

    def mouseReleaseEvent(self, ev):
        super().mouseReleaseEvent(ev)
        p = ev.position().toPoint()
        if ev.button() == QtCore.Qt.MouseButton.LeftButton and (p - getattr(self, "_press", p)).manhattanLength() < 4:
            ref = self.page_at(p)
            if ref is not None:
                self.pageClicked.emit(ref)
        elif (p - getattr(self, "_press", p)).manhattanLength() >= 4:
            self._fit = False
