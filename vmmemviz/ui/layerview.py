"""The layer view: every band of a Frame as a page grid, labels, and the event's arrows.

The picture is painted by ``paint.picture`` (the same code draws exports); this view adds
zoom and pan, hover and click. Works without being shown: ``set_frame(frame, progress)``
is synchronous and ``render_to(painter, target, band_key)`` paints the whole picture (or
one band) into any QPainter. Wheel to zoom at the cursor, drag to pan, hover for a page's
tooltip (or a label's full text), click to inspect it (``pageHovered`` / ``pageClicked``
carry the page reference). Zoomed in, a minimap in the corner shows where the view is in
the whole picture and which pages are in sight. Zoomed out so far that cells are smaller
than pixels (host scale), the grids are one downsampled image (paint/overview.py) that a
new frame updates where its pages changed; the minimap is another.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from vmmemviz.model.core import host as H
from ..paint.grid import lod_of
from ..paint.labels import where
from ..paint.overview import Overview
from ..paint.picture import Picture
from ..scene import palette as P
from ..scene.arrows import chain_arrows
from .arrowitem import ArrowItem

MINIMAP_PX = 200         # the minimap's longer side
MINIMAP_MARK = 7         # px: the view's outline in the minimap is at least this large


def overlay_rects(vp: QtCore.QRectF, minimap: QtCore.QSizeF, plate: QtCore.QSizeF) -> tuple:
    """(minimap rect, plate rect) zoomed in: the minimap in the viewport's bottom right
    corner, the plate saying which pages are in sight in the bottom left one, or the top
    left one when the viewport is too narrow for both side by side."""
    m = 12
    box = QtCore.QRectF(vp.right() - minimap.width() - m, vp.bottom() - minimap.height() - m,
                        minimap.width(), minimap.height())
    r = QtCore.QRectF(vp.left() + m, vp.bottom() - plate.height() - m, plate.width(), plate.height())
    if r.right() + m > box.left():
        r.moveTop(vp.top() + m)
    return box, r


class PictureItem(QtWidgets.QGraphicsObject):
    """The grids, headings and labels of the picture, in scene coordinates."""

    def __init__(self, picture: Picture):
        super().__init__()
        self.picture = picture
        self.overview = Overview()       # the grids when cells are smaller than half a pixel
        self.pos = None                  # the frame position shown
        self.labels = []                 # (scene rect, full text) of every label, as last painted
        self._text = (None, None)        # (what the labels depend on, their image over the viewport)
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    def refresh(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self):
        return self.picture.rect()

    def paint(self, painter, option, widget=None):
        step = int(1.0 / max(lod_of(painter), 1e-9))
        pic = self.picture
        if step >= 2 and pic.bands:
            self.overview.paint(painter, pic.bands, step, pic.theme, self.pos)
            pic.paint_grids(painter, option.exposedRect, [b for b in pic.bands if b.outlines], cells=False)
        else:
            pic.paint_grids(painter, option.exposedRect)
        self._paint_labels(painter)

    def _paint_labels(self, painter) -> None:
        """The labels, painted again only when the zoom, the pan, the bands' titles or the
        theme change (not on every frame while playing): kept as an image of the viewport."""
        pic, dev = self.picture, painter.device()
        xf = painter.worldTransform()
        key = ((xf.m11(), xf.m12(), xf.m21(), xf.m22(), xf.dx(), xf.dy()), pic.theme, dev.width(), dev.height(),
               painter.font().toString(), tuple((b.key, b.title, b.count, b.total, b.x, b.y, b.cols) for b in pic.bands))
        if self._text[0] != key:
            ratio = dev.devicePixelRatioF()
            img = QtGui.QImage(round(dev.width() * ratio), round(dev.height() * ratio),
                               QtGui.QImage.Format.Format_ARGB32_Premultiplied)
            img.setDevicePixelRatio(ratio)
            img.fill(QtCore.Qt.GlobalColor.transparent)
            p = QtGui.QPainter(img)
            p.setRenderHints(painter.renderHints())
            p.setFont(painter.font())
            p.setWorldTransform(xf)
            self.labels = pic.paint_labels(p, stagger=True)
            p.end()
            self._text = (key, img)
        painter.save()
        painter.resetTransform()
        painter.drawImage(0, 0, self._text[1])
        painter.restore()


class LayerView(QtWidgets.QGraphicsView):
    pageHovered = QtCore.Signal(object)      # (layer, vm, proc, index) or None
    pageClicked = QtCore.Signal(object)
    aspectChanged = QtCore.Signal(float)     # the viewport's width / height, after a resize settles

    def __init__(self, parent=None, theme: str = "dark"):
        super().__init__(parent)
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.theme = theme
        self.frame = None
        self.picture = Picture(theme)
        self.picture_item = PictureItem(self.picture)
        self.arrow_item = ArrowItem(self.picture.arrows, 10)
        self.chain_item = ArrowItem(self.picture.chain, 11)
        for it in (self.picture_item, self.arrow_item, self.chain_item):
            self.scene().addItem(it)
        self.chain = ()
        self._fit = True
        self._held = None       # a region held in view (fractions of the picture), see hold()
        self.loading = None     # what is being loaded, shown over the view until its first frame
        self._hover = None
        self._minimap = Overview()
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
        self.picture.set_theme(theme)
        if self.frame is not None:
            self._place_overlays()

    def set_frame(self, frame, progress: float = 1.0) -> None:
        """Show ``frame`` now; ``progress`` is the point of its transition (0..1)."""
        self.frame = frame
        self.picture_item.pos = frame.pos
        self.picture_item.overview.follow(frame.bands, frame.changes, frame.base, frame.pos)
        # the minimap only while it shows (zoomed in); else it is reduced again when it next does
        self._minimap.follow(frame.bands, frame.changes if self.zoomed_in() else None, frame.base, frame.pos)
        self._place_overlays(progress)
        self.arrow_item.set_progress(progress)
        self._keep()

    def _place_overlays(self, progress: float | None = None):
        f = self.frame
        self.picture.set_bands(f.bands, f.arrows, self.chain, self.picture.progress if progress is None else progress)
        rect = self.picture_rect()
        self.scene().setSceneRect(rect.adjusted(-rect.width() * 0.05, -rect.height() * 0.05,
                                                rect.width() * 0.05, rect.height() * 0.05))
        self.picture_item.refresh()
        self.arrow_item.refresh(rect)
        self.chain_item.refresh(rect)

    def set_progress(self, p: float) -> None:
        self.picture.progress = p
        self.arrow_item.set_progress(p)

    def set_chain(self, chain) -> None:
        """Highlight an inspected page's chain (list of references; empty to clear)."""
        self.chain = chain_arrows(chain) if chain else ()
        if self.frame is not None:
            self._place_overlays()

    def picture_rect(self) -> QtCore.QRectF:
        return self.picture.rect()

    def render_to(self, painter: QtGui.QPainter, target: QtCore.QRectF, band_key: str | None = None) -> None:
        """Paint the whole picture (or one band with its label) into ``target``, aspect kept."""
        self.picture.render_to(painter, target, band_key)

    def cell_colour(self, key: str, index: int) -> QtGui.QColor:
        """The colour the grid shows for one page (tests, exports)."""
        b = self.picture.by_key[key]
        r, c = divmod(index, b.cols)
        return QtGui.QColor(*P.lut(self.theme)[b.codes[r, c]])

    def cell_center(self, key: str, index: int) -> QtCore.QPoint:
        """Viewport position of a page's cell."""
        b = self.picture.by_key[key]
        r, c = divmod(index, b.cols)
        return self.mapFromScene(QtCore.QPointF(b.x + c + 0.5, b.y + r + 0.5))

    # -- zoom, pan, hover, click -------------------------------------------------------------
    def fit(self) -> None:
        self._fit, self._held = True, None
        if self.frame is not None:
            self.fitInView(self.picture_rect().adjusted(-1, -1, 1, 1), QtCore.Qt.AspectRatioMode.KeepAspectRatio)

    def hold(self, region: tuple) -> None:
        """Show ``region`` (x0, y0, x1, y1 as fractions of the picture) and keep showing it as
        the window lays the picture out again (docks filling, a resize, a frame for the new
        shape), until the user zooms or pans: how a session's zoom is restored."""
        self._fit, self._held = False, region
        self._keep()

    def _keep(self) -> None:
        """After a new layout or size: the whole picture when fitted, the held region if any."""
        if self.frame is None:
            return
        if self._fit:
            self.fit()
        elif self._held is not None:
            pic, (x0, y0, x1, y1) = self.picture_rect(), self._held
            self.fitInView(QtCore.QRectF(pic.left() + x0 * pic.width(), pic.top() + y0 * pic.height(),
                                         (x1 - x0) * pic.width(), (y1 - y0) * pic.height()),
                           QtCore.Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        self._fit, self._held = False, None
        self.scale(factor, factor)

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._aspect_timer.start()
        self._keep()

    def wheelEvent(self, ev):
        self.zoom(1.0015 ** ev.angleDelta().y())

    def page_at(self, pos: QtCore.QPoint):
        """The page under viewport ``pos``; zoomed out, where the pixel covers many pages, the
        reclaimed page it shows if it covers one (paint/overview.py)."""
        if self.frame is None:
            return None
        sp = self.mapToScene(pos)
        for b in self.frame.bands:
            i = b.index_at(sp.x(), sp.y())
            if i is not None:
                return b.ref(self._notable_near(b, i, pos))
        return None

    def _notable_near(self, b, i: int, pos: QtCore.QPoint) -> int:
        """The most notable reclaimed page of band ``b`` under the viewport pixel at ``pos``,
        else ``i``."""
        px = self.mapToScene(QtCore.QRect(pos, QtCore.QSize(1, 1))).boundingRect()
        if px.width() < 2 and px.height() < 2:          # cells are pixels or larger
            return i
        r0, r1 = max(0, int(px.top() - b.y)), min(b.rows, int(np.ceil(px.bottom() - b.y)))
        c0, c1 = max(0, int(px.left() - b.x)), min(b.cols, int(np.ceil(px.right() - b.x)))
        rank = P.lod_order()[0][b.codes[r0:r1, c0:c1]]
        if not rank.size or rank.max() < P.NOTABLE_RANK:
            return i
        r, c = np.unravel_index(int(np.argmax(rank)), rank.shape)
        j = (r0 + r) * b.cols + c0 + c
        return j if j < b.count and (b.owners is None or b.owners[j] != H.NO_VM) else i

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

    def label_at(self, pos: QtCore.QPoint) -> str | None:
        """The full text of the heading or band label at viewport ``pos`` (labels may be
        shortened on screen), or None."""
        sp = self.mapToScene(pos)
        return next((text for rect, text in self.picture_item.labels if rect.contains(sp)), None)

    def viewportEvent(self, ev):
        # Qt's own tooltip event would hide ours (no item has a tooltip): answer it with the
        # page's, or a label's full text
        if ev.type() == QtCore.QEvent.Type.ToolTip:
            ref, text = getattr(self, "_tip", (None, ""))
            if self._hover is None:
                text = self.label_at(ev.pos())
                ref = None if text is None else self._hover
            if ref == self._hover and text:
                QtWidgets.QToolTip.showText(ev.globalPos(), text, self.viewport())
            return True
        return super().viewportEvent(ev)

    # -- orientation when zoomed in ----------------------------------------------------------
    def visible_rect(self) -> QtCore.QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def zoomed_in(self) -> bool:
        pic = self.picture_rect()
        vis = self.visible_rect()
        return self.frame is not None and not self._fit and (vis.width() < pic.width() * 0.9
                                                             or vis.height() < pic.height() * 0.9)

    def minimap_image(self) -> QtGui.QImage:
        """The whole picture's grids, about MINIMAP_PX on its longer side (kept while the
        frame and theme stay, updated where a new frame's pages changed)."""
        pic = self.picture_rect()
        step = max(1, -(-int(max(pic.width(), pic.height())) // MINIMAP_PX))
        return self._minimap.image(self.picture.bands, step, self.theme, self.frame.pos)

    def set_loading(self, text: str | None) -> None:
        """Say ``text`` over the view (None: nothing) while a scenario loads: building a host's
        arrays takes seconds at host scale, and the view would otherwise stay empty or show
        the scenario being left."""
        self.loading = text
        self.viewport().update()

    def _plate(self, painter, text: str, at, anchor: str, alpha: int = 220) -> None:
        """``text`` on a rounded plate of the background colour, its ``anchor`` corner
        ("topLeft" or "center") at ``at`` (viewport coordinates)."""
        t = P.THEMES[self.theme]
        plate = self._plate_rect(painter, text)
        getattr(plate, "move" + anchor[0].upper() + anchor[1:])(at)
        bg = QtGui.QColor(t["bg"])
        bg.setAlpha(alpha)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(plate, 4, 4)
        painter.setPen(QtGui.QColor(t["fg"]))
        painter.drawText(plate, QtCore.Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _plate_rect(painter, text: str) -> QtCore.QRectF:
        fm = QtGui.QFontMetricsF(painter.font())
        return QtCore.QRectF(0, 0, fm.horizontalAdvance(text) + 12, fm.height() + 6)

    def drawForeground(self, painter, rect):
        """While loading, what loads (over the last picture, dimmed); zoomed in, a minimap
        (bottom right) with the part in view outlined, and the page numbers in sight in
        another corner (``overlay_rects``), where a tooltip at the cursor does not pile on both."""
        if self.loading:
            painter.save()
            painter.resetTransform()
            vp = QtCore.QRectF(self.viewport().rect())
            if self.frame is not None:
                dim = QtGui.QColor(P.THEMES[self.theme]["bg"])
                dim.setAlpha(170)
                painter.fillRect(vp, dim)
            self._plate(painter, self.loading, vp.center(), "center", 255)
            painter.restore()
            return
        if not self.zoomed_in():
            return
        t = P.THEMES[self.theme]
        img = self.minimap_image()
        vp = self.viewport().rect()
        pic, vis = self.picture_rect(), self.visible_rect()
        text = where(self.frame.bands, vis, self.frame.vm_names)
        box, plate = overlay_rects(QtCore.QRectF(vp), QtCore.QSizeF(img.size()), self._plate_rect(painter, text).size())
        k = img.width() / pic.width()
        view = QtCore.QRectF(box.left() + (vis.left() - pic.left()) * k, box.top() + (vis.top() - pic.top()) * k,
                             vis.width() * k, vis.height() * k).intersected(box)
        if view.width() < MINIMAP_MARK or view.height() < MINIMAP_MARK:     # zoomed deep: a mark, not a dot
            c = view.center()
            view = QtCore.QRectF(0, 0, max(view.width(), MINIMAP_MARK), max(view.height(), MINIMAP_MARK))
            view.moveCenter(c)
        painter.save()
        painter.resetTransform()
        painter.setOpacity(0.92)
        painter.drawImage(box.topLeft(), img)
        painter.setOpacity(1.0)
        painter.setPen(QtGui.QPen(QtGui.QColor(t["muted"]), 1))
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        painter.drawRect(box.adjusted(-1, -1, 0, 0))
        painter.setPen(QtGui.QPen(QtGui.QColor(t["chain"]), 2))
        painter.drawRect(view.adjusted(0, 0, -1, -1))
        self._plate(painter, text, plate.topLeft(), "topLeft")
        painter.restore()

    def scrollContentsBy(self, dx, dy):
        super().scrollContentsBy(dx, dy)
        if self.zoomed_in():          # the minimap stays put: repaint rather than scroll it
            self.viewport().update()

    def mousePressEvent(self, ev):
        self._press, self._held = ev.position().toPoint(), None       # a drag or a click ends a hold
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
