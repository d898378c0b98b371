"""One figure: title, the layer view (or one band of it, or the whole window), legend and
caption, laid out on a page of W x H logical pixels and painted into a PNG image (at 1x to
4x) or an SVG file (vector cells).

The picture itself comes from the views (``LayerView.render_to``, ``Legend.render_to``);
this module only lays out the page around them and writes the files.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QBuffer, QIODevice, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QTextOption
from PySide6.QtSvg import QSvgGenerator

from ..scene.palette import THEMES
from .atomic import atomic_file

DEFAULT_SIZE = (1280, 800)
SCALES = (1, 4)              # lowest and highest PNG scale
MARGIN = 16
GAP = 12


@dataclass
class FigureOptions:
    title: str = ""
    legend: bool = True
    caption: bool = False
    transparent: bool = False
    scale: float = 1.0          # PNG only: device pixels per logical pixel
    size: tuple = DEFAULT_SIZE  # logical width, height
    band: str | None = None     # one band of the layer view (its key), or the whole view
    theme: str = "light"


@dataclass
class Footer:
    """Where an animation frame is: drawn under the caption, so a viewer knows the step."""
    text: str
    fraction: float             # 0..1 through the exported range


def _font(px: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(max(1, round(px)))
    f.setBold(bold)
    return f


def _text_height(font: QFont, text: str, width: float) -> float:
    r = QFontMetricsF(font).boundingRect(QRectF(0, 0, width, 1e6), int(Qt.TextWordWrap), text)
    return r.height()


def paint(painter: QPainter, opts: FigureOptions, body, legend, caption: str = "",
          footer: Footer | None = None) -> None:
    """Lay out and paint one figure on ``painter`` over (0, 0, *opts.size).

    ``body`` has ``render_to(painter, rect, band_key)``; ``legend`` (``ui.legend.Legend``
    or None) has ``height_for(width)`` and ``paint(painter, rect)``. Top to bottom: title,
    body, legend, caption, footer.
    """
    w, h = opts.size
    t = THEMES[opts.theme]
    painter.save()
    painter.setRenderHint(QPainter.Antialiasing, True)
    painter.setRenderHint(QPainter.TextAntialiasing, True)
    if not opts.transparent:
        painter.fillRect(QRectF(0, 0, w, h), QColor(t["bg"]))
    inner = QRectF(MARGIN, MARGIN, w - 2 * MARGIN, h - 2 * MARGIN)
    top, bottom = inner.top(), inner.bottom()
    wrap = QTextOption()
    wrap.setWrapMode(QTextOption.WordWrap)

    if opts.title:
        f = _font(22, bold=True)
        th = _text_height(f, opts.title, inner.width())
        painter.setFont(f)
        painter.setPen(QColor(t["fg"]))
        painter.drawText(QRectF(inner.left(), top, inner.width(), th), opts.title, wrap)
        top += th + GAP
    if footer is not None:
        f = _font(13)
        fh = QFontMetricsF(f).height()
        bar = QRectF(inner.left(), bottom - 4, inner.width(), 4)
        painter.fillRect(bar, QColor(t["grid"]))
        painter.fillRect(QRectF(bar.left(), bar.top(), bar.width() * max(0.0, min(1.0, footer.fraction)), 4),
                         QColor("#0072B2"))
        painter.setFont(f)
        painter.setPen(QColor(t["muted"]))
        painter.drawText(QRectF(inner.left(), bar.top() - 4 - fh, inner.width(), fh),
                         int(Qt.AlignLeft | Qt.AlignVCenter), footer.text)
        bottom = bar.top() - 4 - fh - GAP / 2
    if opts.caption and caption:
        f = _font(15)
        ch = _text_height(f, caption, inner.width())
        painter.setFont(f)
        painter.setPen(QColor(t["fg"]))
        painter.drawText(QRectF(inner.left(), bottom - ch, inner.width(), ch), caption, wrap)
        bottom -= ch + GAP
    if legend is not None and opts.legend:
        lh = legend.height_for(inner.width())
        legend.paint(painter, QRectF(inner.left(), bottom - lh, inner.width(), lh))
        bottom -= lh + GAP
    body.render_to(painter, QRectF(inner.left(), top, inner.width(), bottom - top), opts.band)
    painter.restore()


def image(opts: FigureOptions, body, legend, caption: str = "", footer: Footer | None = None) -> QImage:
    """The figure as an ARGB image of (size x scale) device pixels."""
    s = float(opts.scale)
    w, h = opts.size
    img = QImage(QSize(round(w * s), round(h * s)), QImage.Format_ARGB32_Premultiplied)
    img.fill(Qt.transparent)
    p = QPainter(img)
    try:
        p.scale(img.width() / w, img.height() / h)
        paint(p, opts, body, legend, caption, footer)
    finally:
        p.end()
    return img


def png_bytes(img: QImage) -> bytes:
    buf = QBuffer()
    buf.open(QIODevice.WriteOnly)
    if not img.save(buf, "PNG"):
        raise OSError("Qt could not encode the PNG")
    return bytes(buf.data())


def write_png(path, opts: FigureOptions, body, legend, caption: str = "") -> None:
    data = png_bytes(image(opts, body, legend, caption))
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def svg_bytes(opts: FigureOptions, body, legend, caption: str = "") -> bytes:
    """The figure as SVG: cells are vector rectangles, text is text."""
    w, h = opts.size
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setSize(QSize(w, h))
    gen.setViewBox(QRectF(0, 0, w, h))
    gen.setTitle(opts.title or "vmmemviz figure")
    gen.setDescription(caption)
    p = QPainter(gen)
    try:
        paint(p, opts, body, legend, caption)
    finally:
        p.end()
    return bytes(data)


def write_svg(path, opts: FigureOptions, body, legend, caption: str = "") -> None:
    data = svg_bytes(opts, body, legend, caption)
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


class WidgetBody:
    """A whole widget (the main window) as a figure body, scaled into the target rect."""

    def __init__(self, widget):
        self.widget = widget

    def render_to(self, painter: QPainter, target: QRectF, band_key=None) -> None:
        size = QSizeF(self.widget.size())
        k = min(target.width() / size.width(), target.height() / size.height())
        painter.save()
        painter.translate(target.left() + (target.width() - size.width() * k) / 2, target.top())
        painter.scale(k, k)
        self.widget.render(painter)
        painter.restore()
