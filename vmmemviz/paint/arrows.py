"""Arrows between page ranges of the bands, painted with cosmetic (pixel) pens.

``progress`` (0..1) is the point of the transition: an arrow grows from its source to its
destination, and flows (swap, compression, guest paging) carry dots along it. Geometry is
computed once per frame; many arrows (a bundle while playing) are drawn without
antialiasing, each curve its own path.
"""
from __future__ import annotations

import math

from PySide6 import QtCore, QtGui

from ..scene import bands as B
from ..scene import palette as P
from .grid import lod_of
from .labels import heading_rects

WIDTH_PX = {"translate": 1.3, "shortcut": 1.6, "chain": 2.5, "mark": 2.0}
LABELS_MAX = 8       # more arrows than this (a bundle while playing): no labels
MANY = 60            # more arrows than this: no antialiasing, no heads (measured: 160 crossing
                     # antialiased curves take 28 ms drawn one by one, 365 ms as one path)


def range_box(band, lo: int, hi: int) -> QtCore.QRectF:
    rects = band.range_rects(lo, hi)
    r = QtCore.QRectF(*rects[0])
    for x in rects[1:]:
        r = r.united(QtCore.QRectF(*x))
    return r


def place_labels(anchors, sizes, bounds: QtCore.QRectF | None = None, grids=(), text=()) -> list:
    """Device rects for labels of ``sizes`` (w, h) beside their ``anchors`` (each a list of
    points along its arrow, the middle first): right of a point, else left, else above or
    below it, then further out in rows, the first place that overlaps no label placed
    before; among those next to a point (the first row out), the first off the page grids
    and the text (``grids``, ``text``: device rects) when there is one, else the first off
    the text (a label over cells still reads; over a heading neither does). Inside
    ``bounds`` when given."""
    placed = []
    for points, (w, h) in zip(anchors, sizes):
        tries = []
        for k, a in ((k, a) for k in range(4) for a in points):   # rows further out
            x, y, dy = a.x(), a.y(), k * (h + 2)
            for cx, cy in ((x + 8, y - h / 2 + dy), (x - 8 - w, y - h / 2 + dy),
                           (x - w / 2, y - h - 8 - dy), (x - w / 2, y + 8 + dy), (x + 8, y - h / 2 - dy)):
                r = QtCore.QRectF(cx, cy, w, h)
                if bounds is not None:          # keep it inside the picture
                    r.moveLeft(min(max(r.left(), bounds.left()), bounds.right() - w))
                    r.moveTop(min(max(r.top(), bounds.top()), bounds.bottom() - h))
                tries.append((k, r))
        free = [(k, r) for k, r in tries if not any(r.intersects(p) for p in placed)] or tries[:1]
        legible = [(k, r) for k, r in free if not any(r.intersects(g) for g in text)]
        clear = [(k, r) for k, r in legible if k <= 1 and not any(r.intersects(g) for g in grids)]
        placed.append((clear or legible or free)[0][1])
    return placed


def arrow_colour(kind: str, theme: str) -> QtGui.QColor:
    t = P.THEMES[theme]
    if kind in P.ARROW_COLOURS:
        return QtGui.QColor(P.ARROW_COLOURS[kind])
    if kind == "chain":
        return QtGui.QColor(t["chain"])
    if kind == "back":
        return QtGui.QColor(P.GROUP_COLOURS["core"] if theme == "light" else "#56B4E9")
    return QtGui.QColor(t["arrow"])


class ArrowPainter:
    """The arrows of one frame (or a chain): geometry computed once, painted at any progress."""

    def __init__(self):
        self.arrows, self.bands, self.theme = (), {}, "dark"
        self._geo = []

    def set_arrows(self, arrows, bands: dict, theme: str) -> None:
        self.arrows, self.bands, self.theme = tuple(arrows), bands, theme
        self._geo = [g for g in (self._geometry(a) for a in self.arrows) if g is not None]

    def _geometry(self, a):
        """(arrow, source box, cubic control points as (x, y) tuples or None, destination box)."""
        sb, db = self.bands.get(a.src[0]), self.bands.get(a.dst[0])
        if sb is None or db is None:
            return None
        s, d = range_box(sb, a.src[1], a.src[2]), range_box(db, a.dst[1], a.dst[2])
        if a.kind == "mark" or a.src == a.dst:
            return a, s, None, d
        if d.center().y() > s.bottom():          # downwards
            p0, p3 = (s.center().x(), s.bottom()), (d.center().x(), d.top())
        elif d.bottom() < s.top():               # upwards
            p0, p3 = (s.center().x(), s.top()), (d.center().x(), d.bottom())
        else:                                    # same row of bands: arc over them
            p0, p3 = (s.center().x(), s.top()), (d.center().x(), d.top())
        dy = p3[1] - p0[1]
        bend = 0.25 * (p3[0] - p0[0]) if a.kind == "shortcut" else 0.0
        if abs(dy) < 1e-6:
            lift = max(6.0, abs(p3[0] - p0[0]) * 0.3)
            c1, c2 = (p0[0], p0[1] - lift), (p3[0], p3[1] - lift)
        else:
            c1, c2 = (p0[0] - bend, p0[1] + dy * 0.45), (p3[0] - bend, p3[1] - dy * 0.45)
        return a, s, (p0, c1, c2, p3), d

    @staticmethod
    def _at(pts, t):
        p0, c1, c2, p3 = pts
        u = 1 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        return (a * p0[0] + b * c1[0] + c * c2[0] + d * p3[0], a * p0[1] + b * c1[1] + c * c2[1] + d * p3[1])

    @staticmethod
    def _head_part(pts, t):
        """Control points of the curve's part from 0 to t (de Casteljau)."""
        if t >= 1:
            return pts
        def lerp(p, q):
            return (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)
        p0, p1, p2, p3 = pts
        p01, p12, p23 = lerp(p0, p1), lerp(p1, p2), lerp(p2, p3)
        p012, p123 = lerp(p01, p12), lerp(p12, p23)
        return p0, p01, p012, lerp(p012, p123)

    def paint(self, painter, progress: float = 1.0, bounds: QtCore.QRectF | None = None) -> None:
        """Paint in scene coordinates (the painter's transform); ``progress`` (0..1) is the
        point of the transition; labels stay inside ``bounds`` (device pixels)."""
        if not self._geo:
            return
        many = len(self._geo) > MANY
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, not many)
        lod = max(1e-6, lod_of(painter))
        px = 1.0 / lod                           # one device pixel in scene units
        paths, heads, boxes, dots, labels = {}, {}, {}, [], []
        p = min(1.0, max(0.0, progress))
        P_ = QtCore.QPointF
        for a, src, pts, dst in self._geo:
            if a.kind == "split":
                self._split(painter, a, p, lod)
                if p >= 0.6 and a.label:
                    labels.append(([src.topRight()], a.label))
                continue
            if pts is None:
                boxes.setdefault(a.kind, []).append(src)
                continue
            if a.kind == "chain" or a.count <= 64:      # outline the pages the arrow joins
                boxes.setdefault(a.kind, []).extend([src, dst])
            end = p if a.kind != "shortcut" else max(0.0, (p - 0.3) / 0.7)
            if end <= 0.01:
                continue
            q0, q1, q2, q3 = self._head_part(pts, end)
            key = (a.kind, min(3, int(math.log2(max(1, a.count))) // 2))
            path = QtGui.QPainterPath(P_(*q0))
            path.cubicTo(P_(*q1), P_(*q2), P_(*q3))
            paths.setdefault(key, []).append(path)
            if not many:
                back = q2 if (q2[0] - q3[0]) ** 2 + (q2[1] - q3[1]) ** 2 > 1e-12 else q1
                heads.setdefault(a.kind, []).append((q3, back))
            if a.flow:
                for k in range(4):
                    t = (p - 0.18 * k) if p < 1 else 0.2 + 0.2 * k
                    if 0 <= t <= 1:
                        dots.append((a.kind, self._at(pts, t)))
            if p >= 0.6 and len(self._geo) <= LABELS_MAX and (a.label or a.count > 1):
                labels.append(([P_(*self._at(pts, t)) for t in (0.5, 0.4, 0.6, 0.3, 0.7)],
                               a.label or f"{a.count} pages"))
        for kind, rects in boxes.items():
            for pen in self._pens(kind, WIDTH_PX["mark"]):
                painter.setPen(pen)
                painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                for r in rects[:2000]:
                    painter.drawRect(r.adjusted(-px, -px, px, px))
        for (kind, wclass), group in paths.items():
            for pen in self._pens(kind, WIDTH_PX.get(kind, 1.8) + 0.8 * wclass):
                painter.setPen(pen)
                painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                for path in group:      # one path each: a stroked path of crossing curves is slow
                    painter.drawPath(path)
        size = 9 * px
        for kind, tips in heads.items():
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            painter.setBrush(arrow_colour(kind, self.theme))
            head = QtGui.QPainterPath()
            for (tx, ty), (bx, by) in tips:
                dx, dy = tx - bx, ty - by
                norm = math.hypot(dx, dy) or 1.0
                ux, uy = dx / norm, dy / norm
                cx, cy = tx - ux * size, ty - uy * size
                head.moveTo(P_(tx, ty))
                head.lineTo(P_(cx + uy * size * 0.45, cy - ux * size * 0.45))
                head.lineTo(P_(cx - uy * size * 0.45, cy + ux * size * 0.45))
                head.closeSubpath()
            painter.drawPath(head)
        for kind, (x, y) in dots:
            painter.setPen(QtGui.QPen(QtGui.QColor(P.THEMES[self.theme]["bg"]), 1.0 * px))
            painter.setBrush(arrow_colour(kind, self.theme))
            painter.drawEllipse(P_(x, y), 4 * px, 4 * px)
        if labels:              # off the grids, the band labels and the row headings, where there is room
            bands = list(self.bands.values())
            lab = B.label_height(int(max(b.x + b.cols for b in bands)))
            self._labels(painter, labels, bounds, [QtCore.QRectF(b.x, b.y, b.cols, b.rows) for b in bands],
                         [QtCore.QRectF(b.x, b.y - lab, b.cols, lab) for b in bands] + heading_rects(bands))
        painter.restore()

    def _split(self, painter, a, p: float, lod: float) -> None:
        """A 2 MB large page breaking into 4 KB pages: its range is tinted, a dashed outline
        marks the page that was, and the lines between its small pages spread out from
        the middle as the transition plays."""
        band = self.bands[a.src[0]]
        col = QtGui.QColor(P.GROUP_COLOURS["lpage"])
        tint = QtGui.QColor(col)
        tint.setAlpha(round(150 - 60 * p))
        rects = [QtCore.QRectF(*r) for r in band.range_rects(a.src[1], a.src[2])]
        painter.save()
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        for r in rects:
            painter.fillRect(r, tint)
        if lod >= 3:                 # the 4 KB pages, when a page is a few pixels wide
            pen = QtGui.QPen(QtGui.QColor(P.THEMES[self.theme]["bg"]), 1)
            pen.setCosmetic(True)
            painter.setPen(pen)
            lines = []
            for r in rects:
                cx, reach = r.center().x(), p * r.width() / 2
                lines += [QtCore.QLineF(x, r.top(), x, r.bottom()) for x in range(int(r.left()) + 1, int(r.right()))
                          if abs(x - cx) <= reach]
                lines += [QtCore.QLineF(max(r.left(), cx - reach), y, min(r.right(), cx + reach), y)
                          for y in range(int(r.top()) + 1, int(r.bottom()))]
            painter.drawLines(lines)
        pen = QtGui.QPen(col, 3)
        pen.setCosmetic(True)
        pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for r in rects:
            painter.drawRect(r)
        painter.restore()

    def _pens(self, kind: str, width: float) -> list:
        """The pens a line of ``kind`` is stroked with: the inspected chain gets a halo in
        the background colour under it, so it stands apart from the event's arrows."""
        pens = []
        if kind == "chain":
            pens.append(QtGui.QPen(QtGui.QColor(P.THEMES[self.theme]["bg"]), width + 3))
        pens.append(QtGui.QPen(arrow_colour(kind, self.theme), width))
        for pen in pens:
            pen.setCosmetic(True)
            if kind == "shortcut":
                pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        return pens

    def _labels(self, painter, labels, bounds, grids, text):
        """Text at a fixed pixel size, on a translucent plate so it reads over the grids;
        the labels kept apart, and off the grids and the text (scene rects: the band labels
        and row headings) where there is room (``place_labels``)."""
        t = P.THEMES[self.theme]
        xf = painter.worldTransform()
        painter.save()
        painter.resetTransform()
        font = QtGui.QFont(painter.font())
        font.setPixelSize(12)
        painter.setFont(font)
        fm = QtGui.QFontMetricsF(font)
        labels = labels[:40]
        boxes = place_labels([[xf.map(pt) for pt in pts] for pts, _ in labels],
                             [(fm.horizontalAdvance(text) + 10, fm.height() + 4) for _, text in labels],
                             bounds, [xf.mapRect(g) for g in grids], [xf.mapRect(g) for g in text])
        for (_, text), box in zip(labels, boxes):
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            plate = QtGui.QColor(t["bg"])
            plate.setAlpha(215)
            painter.setBrush(plate)
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QtGui.QColor(t["fg"]))
            painter.drawText(box, QtCore.Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
