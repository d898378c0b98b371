"""Arrows between page ranges of the bands, drawn in one item with cosmetic (pixel) pens.

``progress`` (0..1) is the point of the transition: an arrow grows from its source to its
destination, and flows (swap, compression, guest paging) carry dots along it. Arrows of
one colour share one QPainterPath, so thousands repaint in milliseconds.
"""
from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

from ..scene import palette as P

WIDTH_PX = {"translate": 1.3, "shortcut": 1.6, "chain": 2.5, "mark": 2.0}
SEGMENTS = 20
LABELS_MAX = 8       # more arrows than this (a bundle while playing): no labels


def range_box(band, lo: int, hi: int) -> QtCore.QRectF:
    rects = band.range_rects(lo, hi)
    r = QtCore.QRectF(*rects[0])
    for x in rects[1:]:
        r = r.united(QtCore.QRectF(*x))
    return r


def arrow_colour(kind: str, theme: str) -> QtGui.QColor:
    t = P.THEMES[theme]
    if kind in P.ARROW_COLOURS:
        return QtGui.QColor(P.ARROW_COLOURS[kind])
    if kind == "chain":
        return QtGui.QColor(t["highlight"])
    if kind == "back":
        return QtGui.QColor(P.GROUP_COLOURS["core"] if theme == "light" else "#56B4E9")
    return QtGui.QColor(t["arrow"])


class ArrowItem(QtWidgets.QGraphicsObject):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.arrows, self.bands, self.theme, self.progress = (), {}, "dark", 1.0
        self._rect = QtCore.QRectF()
        self.setZValue(10)

    def set_arrows(self, arrows, bands: dict, theme: str, rect: QtCore.QRectF) -> None:
        self.prepareGeometryChange()
        self.arrows, self.bands, self.theme, self._rect = tuple(arrows), bands, theme, QtCore.QRectF(rect)
        self.update()

    def set_progress(self, p: float) -> None:
        self.progress = min(1.0, max(0.0, p))
        self.update()

    def boundingRect(self):
        return self._rect.adjusted(-50, -50, 50, 50)

    def _geometry(self, a):
        sb, db = self.bands.get(a.src[0]), self.bands.get(a.dst[0])
        if sb is None or db is None:
            return None
        s, d = range_box(sb, a.src[1], a.src[2]), range_box(db, a.dst[1], a.dst[2])
        if a.kind == "mark" or (a.src == a.dst):
            return s, None
        if d.center().y() > s.bottom():          # downwards
            p0, p3 = QtCore.QPointF(s.center().x(), s.bottom()), QtCore.QPointF(d.center().x(), d.top())
        elif d.bottom() < s.top():               # upwards
            p0, p3 = QtCore.QPointF(s.center().x(), s.top()), QtCore.QPointF(d.center().x(), d.bottom())
        else:                                    # same row of bands: arc over them
            p0, p3 = QtCore.QPointF(s.center().x(), s.top()), QtCore.QPointF(d.center().x(), d.top())
        dy = p3.y() - p0.y()
        bend = 0.25 * (p3.x() - p0.x()) if a.kind == "shortcut" else 0.0
        if abs(dy) < 1e-6:
            lift = max(6.0, abs(p3.x() - p0.x()) * 0.3)
            c1, c2 = QtCore.QPointF(p0.x(), p0.y() - lift), QtCore.QPointF(p3.x(), p3.y() - lift)
        else:
            c1 = QtCore.QPointF(p0.x() - bend, p0.y() + dy * 0.45)
            c2 = QtCore.QPointF(p3.x() - bend, p3.y() - dy * 0.45)
        return s, (p0, c1, c2, p3), d

    @staticmethod
    def _bez(pts, t):
        p0, c1, c2, p3 = pts
        u = 1 - t
        return QtCore.QPointF(u ** 3 * p0.x() + 3 * u * u * t * c1.x() + 3 * u * t * t * c2.x() + t ** 3 * p3.x(),
                              u ** 3 * p0.y() + 3 * u * u * t * c1.y() + 3 * u * t * t * c2.y() + t ** 3 * p3.y())

    def paint(self, painter, option, widget=None):
        if not self.arrows:
            return
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        lod = max(1e-6, QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform()))
        px = 1.0 / lod                           # one device pixel in scene units
        paths, heads, boxes, dots, labels = {}, {}, {}, [], []
        p = self.progress
        for a in self.arrows:
            g = self._geometry(a)
            if g is None:
                continue
            key = (a.kind, min(4, int(math.log2(max(1, a.count)))))
            if g[1] is None:
                boxes.setdefault(a.kind, []).append(g[0])
                continue
            src, pts, dst = g
            if a.kind == "chain" or a.count <= 64:      # outline the pages the arrow joins
                boxes.setdefault(a.kind, []).extend([src, dst])
            path = paths.setdefault(key, QtGui.QPainterPath())
            path.moveTo(pts[0])
            end = p if a.kind != "shortcut" else max(0.0, (p - 0.3) / 0.7)
            n = max(2, int(SEGMENTS * end))
            for i in range(1, n + 1):
                path.lineTo(self._bez(pts, end * i / n))
            if end > 0.02:
                tip = self._bez(pts, end)
                back = self._bez(pts, max(0.0, end - 0.04))
                heads.setdefault(a.kind, []).append((tip, back))
            if a.kind in ("swap", "zip", "gswap"):
                for k in range(4):
                    t = (p - 0.18 * k) if p < 1 else 0.2 + 0.2 * k
                    if 0 <= t <= 1:
                        dots.append((a.kind, self._bez(pts, t)))
            if p >= 0.6 and len(self.arrows) <= LABELS_MAX and (a.label or a.count > 1):
                labels.append((self._bez(pts, 0.5), a.label or f"{a.count} pages"))
        for kind, rects in boxes.items():
            pen = QtGui.QPen(arrow_colour(kind, self.theme), WIDTH_PX.get("mark", 2))
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            for r in rects:
                painter.drawRect(r.adjusted(-px, -px, px, px))
        for (kind, wclass), path in paths.items():
            col = arrow_colour(kind, self.theme)
            pen = QtGui.QPen(col, WIDTH_PX.get(kind, 1.8) + wclass)
            pen.setCosmetic(True)
            if kind == "shortcut":
                pen.setStyle(QtCore.Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        size = 9 * px
        for kind, tips in heads.items():
            col = arrow_colour(kind, self.theme)
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            painter.setBrush(col)
            head = QtGui.QPainterPath()
            for tip, back in tips:
                dx, dy = tip.x() - back.x(), tip.y() - back.y()
                norm = math.hypot(dx, dy) or 1.0
                ux, uy = dx / norm, dy / norm
                b = QtCore.QPointF(tip.x() - ux * size, tip.y() - uy * size)
                head.moveTo(tip)
                head.lineTo(b.x() + uy * size * 0.45, b.y() - ux * size * 0.45)
                head.lineTo(b.x() - uy * size * 0.45, b.y() + ux * size * 0.45)
                head.closeSubpath()
            painter.drawPath(head)
        for kind, pt in dots:
            painter.setPen(QtGui.QPen(QtGui.QColor(P.THEMES[self.theme]["bg"]), 1.0 * px))
            painter.setBrush(arrow_colour(kind, self.theme))
            painter.drawEllipse(pt, 4 * px, 4 * px)
        if labels:
            self._labels(painter, labels)

    def _labels(self, painter, labels):
        """Text at a fixed pixel size, on a translucent plate so it reads over the grids."""
        t = P.THEMES[self.theme]
        xf = painter.worldTransform()
        painter.save()
        painter.resetTransform()
        font = QtGui.QFont(painter.font())
        font.setPixelSize(12)
        painter.setFont(font)
        fm = QtGui.QFontMetricsF(font)
        for pt, text in labels[:40]:
            d = xf.map(pt)
            w = fm.horizontalAdvance(text) + 10
            box = QtCore.QRectF(d.x() + 8, d.y() - fm.height() / 2 - 2, w, fm.height() + 4)
            dev = painter.device()
            if dev is not None and box.right() > dev.width():     # keep it inside the picture
                box.moveRight(d.x() - 8)
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            plate = QtGui.QColor(t["bg"])
            plate.setAlpha(215)
            painter.setBrush(plate)
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QtGui.QColor(t["fg"]))
            painter.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
