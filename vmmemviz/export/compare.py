"""Compare figures: runs A and B side by side in one figure, the pages that differ marked.

Both runs are drawn at the same simulated time (the end of one second, ``scene.compare.
position_at``): a still at the second of run A's event N (``--at N``) or at the end of a
chapter; an animation steps both runs one simulated second at a time, over the seconds of
run A's events A..B (``--range A:B``). Each half is laid out for half the figure's aspect,
headed by what each run is (``compare.run_labels``: "A: Mem.ShareForceSalting = 0" /
"B: Mem.ShareForceSalting = 2"), and outlines the pages that differ from the
other half (``paint.marks``; "differs from the other run" in the legend). Run B's VM
colours are run A's for the same VM name, so one legend names both.

``export_compare`` is the one entry (CLI, dialogs, sessions): it writes PNG or SVG stills
and GIF, APNG or numbered-PNG animations through ``render`` and ``sequence``.
"""
from __future__ import annotations

import dataclasses

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

from vmmemviz.model.config.compare import run_labels
from vmmemviz.model.core.timeline import Timeline
from ..engine.chapters import Chapters
from ..engine.frame import build_frame
from ..errors import InputError
from ..paint.picture import fit_rect
from ..scene import bands as B
from ..scene import compare as D
from ..scene.palette import THEMES
from . import render as R
from . import sequence

RUN_LABEL_PX = 18            # "A: ..." / "B: ..." above each half
GUTTER = 0.03                # between the halves, a fraction of the body's width


class CompareBody:
    """Two pictures side by side under their run labels: a figure body (``render.paint``)."""

    def __init__(self, pictures, labels, keys, theme: str):
        self.pictures, self.labels, self.keys, self.theme = pictures, labels, keys, theme

    def _key(self, i: int, band_key):
        return None if band_key is None else self.keys[i]

    def header(self, band_key=None) -> float:
        return round(RUN_LABEL_PX * 1.9) + self.pictures[0].header(band_key)

    def aspect(self, band_key=None) -> float:
        one = min(p.aspect(self._key(i, band_key)) for i, p in enumerate(self.pictures))
        return 2 * one / (1 - GUTTER)

    def halves(self, target: QRectF, band_key=None) -> list:
        """The rect each picture is drawn into under its run label: side by side, both at
        the top, so the same layer is at the same height when both are laid out alike."""
        head = self.header(band_key)
        inner = fit_rect(self.aspect(band_key), target.adjusted(0, head, 0, 0))
        w = inner.width() * (1 - GUTTER) / 2
        top = inner.top() - head + round(RUN_LABEL_PX * 1.9)
        return [QRectF(inner.left() if i == 0 else inner.right() - w, top, w,
                       pic.header(self._key(i, band_key)) + w / pic.aspect(self._key(i, band_key)))
                for i, pic in enumerate(self.pictures)]

    def render_to(self, painter: QPainter, target: QRectF, band_key=None) -> None:
        label_h = round(RUN_LABEL_PX * 1.9)
        f = QFont()
        f.setPixelSize(RUN_LABEL_PX)
        f.setBold(True)
        for i, (pic, text, rect) in enumerate(zip(self.pictures, self.labels, self.halves(target, band_key))):
            pic.render_to(painter, rect, self._key(i, band_key))
            painter.save()
            painter.setFont(f)
            painter.setPen(QColor(THEMES[self.theme]["fg"]))
            r = QRectF(rect.left(), rect.top() - label_h, rect.width(), label_h)
            painter.drawText(r, int(Qt.AlignLeft | Qt.AlignVCenter),
                             QFontMetricsF(f).elidedText(text, Qt.ElideRight, rect.width()))
            painter.restore()


class CompareStage:
    """Runs A and B (``compare.pair``): either at any simulated second as a figure body."""

    def __init__(self, a, b, label: str, opts: R.FigureOptions | None = None):
        self.a, self.b, self.label = a, b, label
        self.heads = tuple(f"{run}: {text}" for run, text in zip("AB", run_labels(a, b, label)))
        self.opts = opts or R.FigureOptions()
        self.ta, self.tb = Timeline(a), Timeline(b)
        self.tick = None
        self.chapter = None             # a still's chapter (else run A's, as the window names it)
        self.chapters = Chapters(a)
        self.frames = self.diff = self.body = None

    # -- time ---------------------------------------------------------------------------------
    def tick_of(self, pos: int) -> int:
        """The simulated second of run A's event ``pos`` (0: the first second)."""
        total = self.ta.ensure(pos)
        if pos > total:
            raise InputError(f"{self.a.path or self.a.name}: has {total} events; asks for event {pos}")
        return int(self.ta.log[pos - 1]["tick"]) if pos else 0

    def chapter_tick(self, chapter) -> int:
        """The last second of ``chapter`` (the one before the next chapter starts)."""
        later = [c.at for c in self.a.chapters if c.at > chapter.at]
        return (later[0] if later else min(self.a.duration, self.b.duration)) - 1

    # -- pictures -----------------------------------------------------------------------------
    def _keys(self) -> tuple:
        """The band ``opts.band`` of run A and the same band of run B (paired by VM name)."""
        if self.opts.band is None:
            return None, None
        fa, fb = self.frames
        ia = {b.key: D.ident(b, fa.vm_names) for b in fa.bands}
        if self.opts.band not in ia:
            raise InputError(f"--band: {self.opts.band!r} is not a band of {self.a.name} "
                             f"(bands: {', '.join(ia)})")
        kb = [b.key for b in fb.bands if D.ident(b, fb.vm_names) == ia[self.opts.band]]
        if not kb:
            raise InputError(f"--band: {self.opts.band!r} of run A has no counterpart in run B ({self.label})")
        return self.opts.band, kb[0]

    def show(self, tick: int, progress: float = 1.0, prev: int | None = None) -> CompareBody:
        """Both runs at the end of second ``tick`` (arrows since the end of ``prev``)."""
        if self.tick != tick:
            fr = []
            for tl in (self.ta, self.tb):
                p0 = D.position_at(tl, prev) if prev is not None else None
                fr.append(build_frame(tl, D.position_at(tl, tick), p0, chapters=self.chapters if tl is self.ta else None))
            self.frames, self.tick = tuple(fr), tick
            self.diff = D.diff_frames(*fr)
            fa, fb = fr
            lut = D.vm_lut(fa.vm_names, fb.vm_names)
            recoloured = tuple(dataclasses.replace(b, codes=lut[b.codes]) for b in fb.bands)
            keys = self._keys()
            # one width for both, so the same layers are as wide and as high side by side
            width = max(B.relayout_width(f.bands, B.ASPECT / 2, self.opts.empty_stores) for f in fr)
            pics = []
            for i, (f, bands, masks) in enumerate(((fa, fa.bands, self.diff.a), (fb, recoloured, self.diff.b))):
                o = dataclasses.replace(self.opts, band=keys[i])
                pic = R.figure_picture(f, o, bands=bands, width=width)
                pic.set_marks({k: d.mask for k, d in masks.items()})
                pics.append(pic)
            self.body = CompareBody(pics, self.heads, keys, self.opts.theme)
        for pic in self.body.pictures:
            pic.progress = progress
        return self.body

    def legend(self, *ticks):
        """The legend of what the figure shows at ``ticks`` (VMs named as run A colours them)."""
        pics, keys = [], []
        for t in ticks:
            body = self.show(t)
            pics += body.pictures
            keys += body.keys
        return R.figure_legend(D.legend_names(*(f.vm_names for f in self.frames)), self.opts, *pics, bands=keys)

    def caption(self) -> str:
        """Where both runs are and how much differs; the chapter's text in a tour."""
        fa, fb = self.frames
        d = self.diff.summary()
        only = "".join(f"; only in {run}: {', '.join(n)}" for run, n in (("A", d["only_a"]), ("B", d["only_b"])) if n)
        text = (f"After {self.tick + 1} s (A: {fa.pos:,} events, B: {fb.pos:,}): {d['pages']:,} pages differ "
                f"between the runs (outlined), {d['layers'].get('mp', 0):,} of them machine pages{only}.")
        chapter = self._chapter()
        return f"{chapter.title}: {chapter.text}\n{text}" if chapter is not None and chapter.text else text

    def _chapter(self):
        """A still's chapter, else run A's where it is shown, as the window's chapter line names
        it (engine.chapters: the host state too)."""
        return self.chapter if self.chapter is not None else self.frames[0].chapter

    # -- files --------------------------------------------------------------------------------
    def write_still(self, path, fmt: str, tick: int) -> None:
        legend = self.legend(tick)
        body = self.show(tick)
        R.write_still(path, fmt, self.opts, body, legend, self.caption())

    def renderer(self, t0: int, t1: int):
        """(page, ``render(shot) -> QImage``) for seconds t0..t1 (a shot's ``pos`` is a second)."""
        legend = self.legend(t0, t1)
        opts = self.opts
        body = self.show(t1)
        cap = 0.0
        if opts.caption:          # room for the longest chapter text above the last line
            w = R.layout(opts, body.aspect(opts.band)).width - 2 * R.MARGIN
            last = self.caption().rsplit("\n", 1)[-1]
            texts = [last, *(f"{c.title}: {c.text}\n{last}" for c in self.a.chapters + Chapters.longest(self.a))]
            cap = max(R.text_height(R.font("caption"), t, w) for t in texts)
        page = R.layout(opts, body.aspect(opts.band), legend, "", R.Footer("", 0), cap, body.header(opts.band))

        def render(shot) -> QImage:
            body = self.show(shot.pos, shot.progress, shot.pos - 1 if shot.pos > t0 else None)
            fa, fb = self.frames
            chapter = self._chapter()
            foot = R.Footer(f"{shot.pos + 1} s · A event {fa.pos} · B event {fb.pos}"
                            + (f" · {chapter.title}" if chapter is not None else ""),
                            (shot.pos - 1 + shot.progress - t0) / max(1, t1 - t0))
            return R.image(opts, page, body, legend, self.caption(), foot)
        return page, render


def export_compare(a, b, label: str, out, fmt: str, opts: R.FigureOptions | None = None, at: int | None = None,
                   chapter=None, span: tuple | None = None, fps: float = 10, progress=None,
                   tick: int | None = None) -> None:
    """Write a compare figure of runs A and B (``compare.pair``) to ``out``: a still (png,
    svg) at the end of simulated second ``tick``, at the second of run A's event ``at`` or
    at the end of authored ``chapter`` (a still's caption names ``chapter``, also one of run
    A's host states with its ``tick``); or an animation (gif, apng, png = a folder of frames) over
    the seconds of run A's events ``span`` = (first, last), one simulated second a step."""
    stage = CompareStage(a, b, label, opts)
    opts = stage.opts
    if span is None:
        if tick is None:
            tick = stage.chapter_tick(chapter) if chapter is not None else stage.tick_of(at or 0)
        stage.chapter = chapter
        stage.write_still(out, fmt, tick)
        return
    t0, t1 = stage.tick_of(span[0]), stage.tick_of(span[1])
    shots = sequence.plan(t0, max(t0, t1), fps)
    page, render_shot = stage.renderer(t0, max(t0, t1))
    R.check_pixels(page.width, page.height, opts.scale)
    sequence.check_memory(fmt, len(shots), round(page.width * opts.scale), round(page.height * opts.scale))
    sequence.write(out, fmt, shots, render_shot, opts.transparent, progress=progress,
                   colours=R.figure_colours(opts.theme) + [THEMES[opts.theme]["diff"]])
