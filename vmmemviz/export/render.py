"""One figure: title, the picture (or one band of it, or the whole window), legend and
caption, laid out on a page of W x H logical pixels and painted into a PNG image (at 1x to
4x) or an SVG file (vector cells, text as text).

The picture and the legend are painted by ``vmmemviz.paint`` (as the window paints them);
this module lays out the page around them and writes the files. Without a size, a figure
is 1280 wide, from the CLI, the dialog and in animations alike, and as tall as the
picture's aspect needs (up to MAX_BODY_HEIGHT: a taller picture is centred), so there is
no empty strip of page. Figures are laid out for one aspect (``bands.ASPECT``) whatever
the window's, and their legend names only the colours they show.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QBuffer, QIODevice, QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QTextOption
from PySide6.QtSvg import QSvgGenerator

from vmmemviz.model.core import events
from ..engine.chapters import Chapters
from ..engine.frame import build_frame
from ..errors import InputError
from ..paint.legend import Legend
from ..paint.picture import Picture, band_label, fit_rect
from ..scene import bands as B
from ..scene import palette as P
from ..scene.compare import position_at
from ..scene.palette import THEMES
from ..outputfile import atomic_file

DEFAULT_WIDTH = 1280
MAX_BODY_HEIGHT = 1000       # a taller picture (one VM's band) is centred in a body this high
SCALES = (1, 4)              # lowest and highest PNG scale
MAX_PIXELS = 1 << 28         # largest image (268 megapixels, 1 GiB of ARGB): Qt crashes near 2^30
MARGIN = 16
GAP = 12
BAR = 4                      # the progress bar of an animation frame
ACCENT = "#0072B2"


@dataclass
class FigureOptions:
    title: str = ""
    legend: bool = True
    caption: bool = False
    transparent: bool = False
    scale: float = 1.0          # pixels per logical pixel in PNG, GIF, APNG (not SVG)
    size: tuple | None = None   # logical (width, height); None: fitted to the picture
    band: str | None = None     # one band of the layer view (its key), or the whole view
    theme: str = "light"
    empty_stores: bool = True   # show backing stores that hold nothing


@dataclass
class Footer:
    """Where an animation frame is, under the caption: text and a progress bar."""
    text: str
    fraction: float             # 0..1 through the exported range


FONT_PX = {"title": (22, True), "caption": (15, False), "footer": (13, False), "legend": (14, False)}


def font(role: str) -> QFont:
    """The font of one part of a figure, in pixels (a figure does not depend on screen DPI)."""
    px, bold = FONT_PX[role]
    f = QFont()
    f.setPixelSize(px)
    f.setBold(bold)
    return f


def text_height(font: QFont, text: str, width: float) -> float:
    if not text:
        return 0.0
    return QFontMetricsF(font).boundingRect(QRectF(0, 0, width, 1e6), int(Qt.TextWordWrap), text).height()


@dataclass
class Page:
    """Where everything goes: the rects of one figure."""
    width: float
    height: float
    title: QRectF | None
    body: QRectF
    legend: QRectF | None
    caption: QRectF | None
    footer: QRectF | None


def _heights(opts, width, legend, caption, footer, caption_height) -> tuple:
    w = width - 2 * MARGIN
    title = text_height(font("title"), opts.title, w)
    leg = legend.height_for(w) if legend is not None and opts.legend else 0.0
    cap = max(caption_height, text_height(font("caption"), caption, w)) if opts.caption else 0.0
    foot = QFontMetricsF(font("footer")).height() + 2 * BAR if footer is not None else 0.0
    return title, leg, cap, foot


def layout(opts: FigureOptions, aspect: float, legend=None, caption: str = "", footer=None,
           caption_height: float = 0.0, header: float = 0.0) -> Page:
    """The page for a body of ``aspect`` (width / height) under ``header`` pixels (a band's
    label). ``caption_height`` reserves room for the longest caption of an animation, so
    every frame has the same layout."""
    width = opts.size[0] if opts.size else DEFAULT_WIDTH
    title, leg, cap, foot = _heights(opts, width, legend, caption, footer, caption_height)
    chrome = sum(h + GAP for h in (title, leg, cap, foot) if h)
    w = width - 2 * MARGIN
    body = header + min(w / aspect, MAX_BODY_HEIGHT)
    height = opts.size[1] if opts.size else round(2 * MARGIN + chrome + body)
    top, bottom = MARGIN, height - MARGIN
    title_rect = None
    if title:
        title_rect = QRectF(MARGIN, top, w, title)
        top += title + GAP
    below = {}
    for part, h in (("footer", foot), ("caption", cap), ("legend", leg)):      # from the bottom up
        if h:
            below[part] = QRectF(MARGIN, bottom - h, w, h)
            bottom -= h + GAP
    return Page(width, height, title_rect, QRectF(MARGIN, top, w, max(1.0, bottom - top)),
                below.get("legend"), below.get("caption"), below.get("footer"))


def check_pixels(width: float, height: float, scale: float) -> None:
    """Refuse an image over MAX_PIXELS before allocating it, in one line."""
    w, h = round(width * scale), round(height * scale)
    if w * h > MAX_PIXELS:
        raise InputError(f"a {w}x{h} image ({w * h / 1e6:.0f} megapixels) is over the limit of "
                         f"{MAX_PIXELS / 1e6:.0f} megapixels (2^28 pixels): choose a smaller --size or --scale")


def paint(painter: QPainter, opts: FigureOptions, page: Page, body, legend, caption: str = "",
          footer: Footer | None = None) -> None:
    """Paint one figure laid out as ``page``. ``body`` (a ``paint.picture.Picture``) has
    ``aspect``, ``header`` and ``render_to(painter, rect, band_key)``; ``legend``
    (``paint.legend.Legend``) has ``height_for(width)`` and ``paint(painter, rect)``."""
    t = THEMES[opts.theme]
    painter.save()
    painter.setRenderHint(QPainter.Antialiasing, True)
    painter.setRenderHint(QPainter.TextAntialiasing, True)
    if not opts.transparent:
        painter.fillRect(QRectF(0, 0, page.width, page.height), QColor(t["bg"]))
    wrap = QTextOption()
    wrap.setWrapMode(QTextOption.WordWrap)
    body.render_to(painter, page.body, opts.band)
    if not opts.transparent:     # a matte: what the body draws beyond its rect (SVG has no clip)
        head = body.header(opts.band)
        inner = fit_rect(body.aspect(opts.band), page.body.adjusted(0, head, 0, 0)).adjusted(0, -head, 0, 0)
        bg = QColor(t["bg"])
        for r in (QRectF(0, 0, page.width, inner.top()), QRectF(0, inner.bottom(), page.width, page.height),
                  QRectF(0, inner.top(), inner.left(), inner.height()),
                  QRectF(inner.right(), inner.top(), page.width, inner.height())):
            painter.fillRect(r, bg)
    if page.title is not None:
        painter.setFont(font("title"))
        painter.setPen(QColor(t["fg"]))
        painter.drawText(page.title, opts.title, wrap)
    if page.legend is not None:
        legend.paint(painter, page.legend)
    if page.caption is not None:
        painter.setFont(font("caption"))
        painter.setPen(QColor(t["fg"]))
        painter.drawText(page.caption, caption, wrap)
    if page.footer is not None:
        r = page.footer
        bar = QRectF(r.left(), r.bottom() - BAR, r.width(), BAR)
        painter.fillRect(bar, QColor(t["grid"]))
        painter.fillRect(QRectF(bar.left(), bar.top(), bar.width() * min(1.0, max(0.0, footer.fraction)), BAR),
                         QColor(ACCENT))
        painter.setFont(font("footer"))
        painter.setPen(QColor(t["muted"]))
        painter.drawText(QRectF(r.left(), r.top(), r.width(), r.height() - 2 * BAR),
                         int(Qt.AlignLeft | Qt.AlignVCenter), footer.text)
    painter.restore()


def image(opts: FigureOptions, page: Page, body, legend, caption: str = "", footer: Footer | None = None) -> QImage:
    """The figure as an ARGB image of (page size x scale) device pixels."""
    check_pixels(page.width, page.height, opts.scale)
    img = QImage(QSize(round(page.width * opts.scale), round(page.height * opts.scale)),
                 QImage.Format_ARGB32_Premultiplied)
    img.fill(Qt.transparent)
    p = QPainter(img)
    try:
        p.scale(img.width() / page.width, img.height() / page.height)
        paint(p, opts, page, body, legend, caption, footer)
    finally:
        p.end()
    return img


def png_bytes(img: QImage) -> bytes:
    buf = QBuffer()
    buf.open(QIODevice.WriteOnly)
    if not img.save(buf, "PNG"):
        raise OSError("Qt could not encode the PNG")
    return bytes(buf.data())


def svg_bytes(opts: FigureOptions, page: Page, body, legend, caption: str = "") -> bytes:
    """The figure as SVG: cells are vector rectangles, text is text."""
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    gen = QSvgGenerator()    # SVG Tiny 1.2: Qt's SVG 1.1 clipping leaks a text clip onto later items
    gen.setOutputDevice(buf)
    gen.setSize(QSize(round(page.width), round(page.height)))
    gen.setResolution(96)            # so the SVG is as many CSS pixels wide as the page
    gen.setViewBox(QRectF(0, 0, page.width, page.height))
    gen.setTitle(opts.title or "vmmemviz figure")
    gen.setDescription(caption)
    p = QPainter(gen)
    try:
        paint(p, opts, page, body, legend, caption)
    finally:
        p.end()
    return portable_strokes(bytes(data).decode()).encode()


_GROUP = re.compile(r'(<g [^>]*?stroke-width=")([0-9.e+-]+)("[^>]*?transform="matrix\(([^)]*)\)"[^>]*>)(.*?)(</g>)',
                    re.S)
_DASHES = re.compile(r'(stroke-dasharray=")([0-9.,e+-]+)"')


def portable_strokes(svg: str) -> str:
    """Cosmetic pens (one pixel wide at any zoom) come out of Qt as
    ``vector-effect="non-scaling-stroke"``, which browsers honour but librsvg, and so many
    document converters, do not: they draw the grid lines as wide as a cell. Bake the
    group's scale into the stroke width and dashes instead; browsers draw the same picture."""
    def fix(m):
        if "non-scaling-stroke" not in m.group(5):
            return m.group(0)
        a, b, c, d = (float(v) for v in m.group(4).split(",")[:4])
        k = abs(a * d - b * c) ** 0.5 or 1.0
        def dashes(text):
            return _DASHES.sub(lambda g: g.group(1) + ",".join(f"{float(v) / k:.6g}" for v in g.group(2).split(","))
                               + '"', text)
        body = m.group(5).replace(' vector-effect="non-scaling-stroke"', "")
        return f"{dashes(m.group(1))}{float(m.group(2)) / k:.6g}{dashes(m.group(3))}{body}{m.group(6)}"
    return _GROUP.sub(fix, svg)


def write_still(path, fmt: str, opts: FigureOptions, body, legend, caption: str = "") -> None:
    """One figure to ``path`` as ``png`` or ``svg``, atomically."""
    page = layout(opts, body.aspect(opts.band), legend, caption, header=body.header(opts.band))
    data = (svg_bytes(opts, page, body, legend, caption) if fmt == "svg" else
            png_bytes(image(opts, page, body, legend, caption)))
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def figure_colours(theme: str) -> list:
    """Every colour a figure uses on purpose, background first (GIF palettes keep them exact)."""
    t = THEMES[theme]
    cells = ["#%02X%02X%02X" % tuple(int(v) for v in c[:3]) for c in P.lut(theme)]
    return list(dict.fromkeys([t["bg"], t["fg"], t["muted"], t["arrow"], t["grid"], ACCENT,
                               *P.ARROW_COLOURS.values(), *cells]))


class WidgetBody:
    """A whole widget (the main window) as a figure body."""

    def __init__(self, widget):
        self.widget = widget

    def aspect(self, band_key=None) -> float:
        return self.widget.width() / max(1, self.widget.height())

    def header(self, band_key=None) -> float:
        return 0.0

    def render_to(self, painter: QPainter, target: QRectF, band_key=None) -> None:
        r = fit_rect(self.aspect(), target)
        painter.save()
        painter.translate(r.topLeft())
        painter.scale(r.width() / self.widget.width(), r.height() / self.widget.height())
        self.widget.render(painter, QPoint(0, 0))
        painter.restore()


def figure_picture(frame, opts: FigureOptions, chain=(), progress: float = 1.0, bands=None,
                   aspect: float = B.ASPECT, width: int | None = None) -> Picture:
    """The picture of ``frame`` (or of its ``bands`` recoloured) as a figure draws it: laid
    out for ``aspect`` or ``width`` cells wide (one band re-wrapped to a figure's shape), in
    the figure's colours, empty stores left out unless asked for."""
    pic = Picture(opts.theme, opts.transparent)
    bands = B.relayout(frame.bands if bands is None else bands, aspect, opts.empty_stores, width)
    if opts.band is not None:       # one band alone: its cells wrapped to a figure's shape
        bands = tuple(B.reflow(b) if b.key == opts.band else b for b in bands)
    pic.set_bands(bands, frame.arrows, chain, progress)
    return pic


def figure_legend(vm_names, opts: FigureOptions, *pictures, bands=None) -> Legend:
    """The legend of what ``pictures`` show (one band of them with ``opts.band``, or the
    band of each picture in ``bands``), with the compare's mark if any picture has marks."""
    used, outlines = set(), False
    for i, pic in enumerate(pictures):
        codes, lines = pic.used(opts.band if bands is None else bands[i])
        used |= codes
        outlines |= lines
    return Legend(vm_names, opts.theme, font("legend"), used, outlines,
                  marks=any(m.count for pic in pictures for m in pic.marks.values()))


def caption_of(frame, scenario_name: str, band: str | None = None) -> str:
    """The narration of the frame's event; before the first event (where the app tells
    how to start playing) what the figure shows. A figure of one VM's ``band`` whose event
    is another VM's is captioned with the VM it draws (its counters), then the event."""
    if frame is None or frame.pos == 0:
        return f"{scenario_name}: before the first event; no VM has machine memory yet."
    b = next((b for b in frame.bands if b.key == band), None)
    ev = int(frame.event["vm"])
    if b is None or b.vm is None or ev == b.vm or ev >= len(frame.vm_names):
        return frame.narration
    c = frame.counters["vms"][frame.vm_names[b.vm]]
    return (f"{band_label(b)}, after event {frame.pos} ({frame.tick} s): granted {c['GRANT']} MB, "
            f"shared {c['SHRD']} MB, ballooned {c['MCTLSZ']} MB, swapped {c['SWCUR']} MB. "
            f"The event is {frame.vm_names[ev]}'s: {frame.narration}")


def chapter_span(tl, chapter) -> int:
    """The position at the end of ``chapter`` (its last event): simulates that far."""
    later = [c.at for c in tl.sc.chapters if c.at > chapter.at]
    return position_at(tl, later[0] - 1) if later else tl.run_to_end()


def find_chapter(tl, name: str) -> tuple:
    """(chapter, the position at its end) of ``tl``'s scenario named ``name`` as the window names
    it: an authored chapter, a host state ("Host state hard"), or both as the chapter line shows
    them ("TITLE · Host state hard"); any case; a unique part of a title of the chapter list will
    do. A name several chapters have is the first of them, ``NAME#N`` the N-th. Simulates to the
    end, but for an authored chapter's whole title (to its end only)."""
    low = re.sub(r"\s*<-?>\s*", " ⇄ ", name.strip().lower())     # "low <-> hard" as typed for "low ⇄ hard"
    if not tl.sc.chapters:
        raise InputError(f"--chapter: {tl.sc.name} has no chapters (the tours have them); use --at N or --range A:B")
    mine = [c for c in tl.sc.chapters if c.title.lower() == low]
    if len(mine) == 1 and mine[0].at >= tl.sc.duration:     # (a comparison's run B may be shorter)
        raise InputError(f"--chapter: {name!r} begins at {mine[0].at} s, after the last second of "
                         f"{tl.sc.name} ({tl.sc.duration - 1} s)")
    if len(mine) == 1:
        return mine[0], chapter_span(tl, mine[0])
    tl.run_to_end()                     # the host-state chapters are known at the end
    chapters = Chapters.of(tl)
    named = chapters.spans(len(tl))
    title, n = low, 1
    nth = re.fullmatch(r"(.*?)\s*#(\d+)", low)
    if nth and not any(c.title.lower() == low for _, _, c in named):
        title, n = nth[1], int(nth[2])
    same = [(last, c) for _, last, c in named if c.title.lower() == title]
    if not same:
        listed = dict.fromkeys(t for _, t, _ in chapters.summary())
        part = [t for t in listed if title in t.lower()]
        if len(part) != 1:
            counts = {t: sum(t == u for _, u, _ in chapters.summary()) for t in (part or listed)}
            titles = "; ".join(f"{t} ({k} times)" if k > 1 else t for t, k in counts.items())
            why = "matches several chapters" if part else "is not a chapter"
            raise InputError(f"--chapter: {name!r} {why} of {tl.sc.name} (chapters: {titles}; "
                             "NAME#N for the N-th of a name)")
        same = [(last, c) for _, last, c in named if c.title == part[0]]
    if not 1 <= n <= len(same):
        raise InputError(f"--chapter: {name!r}: {tl.sc.name} has {len(same)} chapter{'s' * (len(same) > 1)} named "
                         f"{same[0][1].title!r} (expected " + (f"#1 to #{len(same)})" if len(same) > 1 else "#1)"))
    last, chapter = same[n - 1]
    return chapter, last


class Stage:
    """A scenario's own timeline: any position of it as a figure (the app's simulation
    thread is left alone)."""

    def __init__(self, sc, opts: FigureOptions | None = None):
        from vmmemviz.model.core.timeline import Timeline

        self.sc, self.opts = sc, opts or FigureOptions()
        self.tl = Timeline(sc)
        self.chapters = Chapters(sc)      # a frame's chapter as the window names it (host states too)
        self.names = [vm.name for vm in sc.vms]
        self.frame = None
        self.picture, self._shown = None, None

    def band_keys(self) -> list:
        self.show(self.tl.pos)
        return [b.key for b in self.picture.bands]

    def show(self, pos: int, progress: float = 1.0):
        """Put the picture at ``pos`` (``progress`` into the transition from pos - 1); the Frame."""
        if self.frame is None or self.frame.pos != pos:
            self.frame = build_frame(self.tl, pos, chapters=self.chapters)
            self.picture = None
        key = (pos, self.opts.theme, self.opts.transparent, self.opts.empty_stores, self.opts.band)
        if self.picture is None or self._shown != key:
            self.picture, self._shown = figure_picture(self.frame, self.opts), key
        self.picture.progress = progress
        return self.frame

    def legend(self, *positions) -> Legend:
        """The legend of what the figure shows at ``positions``."""
        pictures = []
        for pos in positions:
            self.show(pos)
            pictures.append(self.picture)
        return figure_legend(self.names, self.opts, *pictures)

    def write_still(self, path, fmt: str, pos: int, caption: str | None = None) -> None:
        legend = self.legend(pos)
        f = self.show(pos)
        write_still(path, fmt, self.opts, self.picture, legend,
                    caption_of(f, self.sc.name, self.opts.band) if caption is None else caption)

    def animation_page(self, start: int, end: int, legend) -> Page:
        """One layout for every frame of start..end, with room for the longest caption."""
        opts = self.opts
        self.show(end)
        aspect, head = self.picture.aspect(opts.band), self.picture.header(opts.band)
        cap = 0.0
        if opts.caption:
            w = layout(opts, aspect).width - 2 * MARGIN         # the width depends on the options only
            cap = max(text_height(font("caption"), self._narration(p), w) for p in range(start, end + 1))
            if opts.band is not None and self.picture.by_key[opts.band].vm is not None:   # and the VM's line
                cap += text_height(font("caption"), caption_of(self.frame, self.sc.name, opts.band), w)
        return layout(opts, aspect, legend, "", Footer("", 0), cap, head)

    def _narration(self, pos: int) -> str:
        if pos == 0:
            return caption_of(None, self.sc.name)
        return events.narrate(self.tl.log[pos - 1], self.names)

    def renderer(self, start: int, end: int):
        """(page, ``render(shot) -> QImage`` for ``sequence.write``): every frame on one page
        layout and one legend (of the range's first and last pictures), with where it is
        in the range under the caption."""
        legend = self.legend(start, end)
        page = self.animation_page(start, end, legend)

        def render(shot) -> QImage:
            f = self.show(shot.pos, shot.progress)
            chapter = f" · {f.chapter.title}" if f.chapter is not None else ""
            footer = Footer(f"Event {shot.pos} · {f.tick} s{chapter}",
                            (shot.pos - 1 + shot.progress - start) / max(1, end - start))
            return image(self.opts, page, self.picture, legend, caption_of(f, self.sc.name, self.opts.band), footer)
        return page, render
