"""Words on the picture: a heading per row of bands (the layer) and a label per band.

Text is drawn at a pixel size that follows the zoom up to a cap. A label that does not fit
its band's width is shortened (the size first, then the VM's name alone, a smaller font,
then elided); ``paint_labels`` returns every label's scene rect and full text, so the view
can show the whole text as a tooltip. At host scale a VM's column keeps at least its number,
and (in the window) each run of VMs named alike gets a group label on the heading's line
("sql01–28") of the VMs' row and of their processes' row, so numbers that repeat across
groups, and process names that repeat across VMs ("java"), still say which VM.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PySide6 import QtCore, QtGui

from ..scene import bands as B
from ..scene import palette as P
from .grid import lod_of

LAYER_TITLES = {"gv": "Guest virtual memory (per process)", "gp": "Guest physical memory (per VM)",
                "mp": "Machine memory (host physical)", "store": "Backing stores"}
SHORT_TITLES = {"gv": "Guest virtual", "gp": "Guest physical"}   # where a group of VMs needs the room
MIN_PX = 8           # labels are never smaller than this
READABLE_PX = 10     # ... and a shorter text at this size or more goes before a longer one below it


def row_of(band) -> str:
    return "store" if B.is_store(band) else band.layer


def row_tops(bands) -> dict:
    """{row: the top of its highest band}: its heading is the line above that band's label."""
    tops = {}
    for b in bands:
        tops[row_of(b)] = min(tops.get(row_of(b), b.y), b.y)
    return tops


def heading_rects(bands) -> list:
    """Scene rects of the rows' heading lines, the picture's width each, in ``row_tops``'
    order: where ``paint_labels`` writes them, and what an arrow's label keeps off."""
    width = max(b.x + b.cols for b in bands)
    lab = B.label_height(int(width))
    return [QtCore.QRectF(0, y - 2 * lab, width, lab) for y in row_tops(bands).values()]


def size_text(cells: int, kib: int = 4) -> str:
    mb = cells * kib / 1024
    if mb >= 1024:
        return f"{round(mb / 1024, 1):g} GiB"
    return f"{round(mb, 1):g} MiB" if mb >= 1 else f"{cells * kib} KiB"


def band_text(b) -> str:
    """A band's full label: its title and size."""
    return _band_text(b.title, b.total, b.count, B.band_kib(b))


@lru_cache(maxsize=4096)
def _band_text(title: str, total: int, count: int, kib: int) -> str:
    size = size_text(total or count, kib) + (f", {size_text(count, kib)} shown" if total > count else "")
    return f"{title}  ·  {size}"


def fitted(b, font: QtGui.QFont, room: float, font_key: str | None = None):
    """(text, font) of a band's label in ``room`` pixels: the full text, the title with the
    store's size but not the part shown (a 24 MiB .vswp showing 2 MiB), the title alone,
    both in smaller fonts (a process keeps its VM's name: "db01 / postgres", not "postgres"),
    then a process's name alone, smaller, elided, or (a VM's column) the digits of its name;
    None when not even that fits (the tooltip still has it). ``font_key``: the font's
    ``toString()`` when the caller has it."""
    short = b.proc_name if b.layer == "gv" else b.title
    digits = number(short, b.vm) if b.layer == "gp" else ""
    sized = _band_text(b.title, 0, b.total, B.band_kib(b)) if b.total > b.count else ""
    fit = _fitted(band_text(b), b.title, short, digits, font_key or font.toString(), int(room), sized)
    if fit is None:
        return None
    f = QtGui.QFont(font)
    f.setPixelSize(fit[1])
    return fit[0], f


@lru_cache(maxsize=4096)
def _fitted(full: str, title: str, short: str, digits: str, font_key: str, room: int, sized: str = ""):
    """(text, pixel size) or None: ``fitted`` for one font and width (labels are painted
    on every frame; measuring text is what costs). The whole title at READABLE_PX or more,
    else the short one there (a 1280x800 window read "db01 / postgres" at 8 px), else either
    down to MIN_PX."""
    font = QtGui.QFont()
    font.fromString(font_key)
    small = QtGui.QFont(font)
    whole = (full, sized, title) if sized else (full, title)
    top = font.pixelSize()
    readable, tiny = range(top, READABLE_PX - 1, -1), range(min(top, READABLE_PX - 1), MIN_PX - 1, -1)
    for texts, sizes in ((whole, readable), ((short,), readable), (whole, tiny), ((short,), tiny)):
        for px in sizes:
            small.setPixelSize(px)
            for text in texts:
                if QtGui.QFontMetricsF(small).horizontalAdvance(text) <= room:
                    return text, px
    text = QtGui.QFontMetricsF(small).elidedText(short, QtCore.Qt.TextElideMode.ElideRight, room)
    if len(text) >= 4:
        return text, small.pixelSize()
    if digits and QtGui.QFontMetricsF(small).horizontalAdvance(digits) <= room:
        return digits, small.pixelSize()      # a VM's column too narrow for its name: web07 -> 07
    return None


DIGITS = "0123456789"


def number(title: str, vm) -> str:
    """The number a VM's column shows when its name does not fit: web07 -> 07."""
    return title[len(title.rstrip(DIGITS)):] or str(vm)


def vm_groups(titles) -> list:
    """Runs of neighbouring VM names that differ only in their number ("sql01" .. "sql28"):
    (first index, last index, label "sql01–28"); a name alone is a run of one."""
    out = []
    for i, t in enumerate(titles):
        stem = t.rstrip(DIGITS)
        if out and stem != t and stem == titles[out[-1][0]].rstrip(DIGITS) != titles[out[-1][0]]:
            out[-1][1] = i
        else:
            out.append([i, i])
    return [(a, b, titles[a] if a == b else f"{titles[a]}–{number(titles[b], b)}") for a, b in out]


def staggered(gps, font: QtGui.QFont, lod: float) -> dict:
    """VM columns (``gps``: the gp bands, left to right) too narrow for their names (else
    their numbers) but two columns wide enough: on two lines, alternate columns on the
    upper one; {band key: (text, line)}."""
    if len(gps) < 2:
        return {}
    fm = QtGui.QFontMetricsF(font)
    pitch = (gps[1].x - gps[0].x) * lod
    digits = [number(b.title, b.vm) for b in gps]
    for texts in ([b.title for b in gps], digits):      # the names, else their numbers
        widths = [fm.horizontalAdvance(t) for t in texts]
        if all(w <= b.cols * lod for w, b in zip(widths, gps)):
            return {}                                    # one line holds them
        if max(widths) <= 2 * pitch - fm.averageCharWidth():
            break
    else:
        return {}
    out = {b.key: (t, k % 2) for k, (b, t) in enumerate(zip(gps, texts))}
    last = gps[-1]
    if last.key in out and widths[-1] > last.cols * lod:          # nothing right of it to reach over
        out[last.key] = (digits[-1], out[last.key][1])
    return out


def _unnamed(cols, names, two: dict, font: QtGui.QFont, lod: float, font_key: str) -> bool:
    """Whether some column (``cols``: VM columns, or processes' columns; ``names``: their VMs'
    names) shows less than its VM's name (its number, its process alone, or nothing)."""
    for b, name in zip(cols, names):
        shown = two[b.key][0] if b.key in two else (fitted(b, font, b.cols * lod, font_key) or ("",))[0]
        if not shown.startswith(name):
            return True
    return False


def vm_runs(cols, names) -> list:
    """(first column, last column, label, VMs) of each run of VMs named alike (``vm_groups``)
    among ``cols`` (left to right; ``names``: each one's VM, so a VM's processes are one)."""
    spans, vms = [], []
    for i, name in enumerate(names):
        if vms and vms[-1] == name:
            spans[-1][1] = i
        else:
            vms.append(name)
            spans.append([i, i])
    return [(cols[spans[a][0]], cols[spans[b][1]], text, b - a + 1) for a, b, text in vm_groups(vms)]


def _heading(row: str, first_run, bold: QtGui.QFont, font: QtGui.QFont, xf: QtGui.QTransform, x0: float) -> str:
    """The title of a row of VM columns (device x ``x0``): its short form (``SHORT_TITLES``,
    the tooltip keeps the whole) where the whole one would cover the first group of VMs
    (``vm_runs``) and leave its label no room; ``font``: the groups'."""
    first, last, text, _ = first_run
    end = xf.map(QtCore.QPointF(last.x + last.cols, last.y)).x()
    fm = QtGui.QFontMetricsF(font)
    need = 2 * fm.averageCharWidth() + fm.horizontalAdvance(text)
    whole = LAYER_TITLES[row]
    return SHORT_TITLES[row] if x0 + QtGui.QFontMetricsF(bold).horizontalAdvance(whole) + need > end else whole


def _paint_groups(painter: QtGui.QPainter, runs, font: QtGui.QFont, xf: QtGui.QTransform, base: float,
                  after: float, lab: float, rule: QtGui.QColor, what: str = "{} VMs") -> list:
    """Label each run of VMs named alike (``vm_runs``) on the heading's line (device y
    ``base``): from its first column, or right of device x ``after`` (the heading's end,
    the group before) or of the device's left edge, while inside its run, else its stem alone ("sql"), else not at all,
    and a ``rule`` on to the run's end; ``(scene rect, text)`` of each run (``what``: how
    its tooltip counts the VMs)."""
    fm = QtGui.QFontMetricsF(font)
    painter.setFont(font)
    pen = QtGui.QPen(rule, 1)
    pen.setCosmetic(True)
    mid, space = base - fm.xHeight() / 2, fm.averageCharWidth()
    out = []
    for first, last, text, vms in runs:
        start = xf.map(QtCore.QPointF(first.x, first.y)).x()
        x = max(start, after + 2 * space, space)        # a run that starts out of sight: at the edge
        end = xf.map(QtCore.QPointF(last.x + last.cols, last.y)).x()
        for t in dict.fromkeys((text, text.rstrip(DIGITS + "–"))):
            w = fm.horizontalAdvance(t)
            if t and x + w <= end:
                painter.drawText(QtCore.QPointF(x, base), t)
                if end - x - w > 3 * space:         # a rule to the run's last column: how far it spans
                    painter.save()
                    painter.setPen(pen)
                    r = end - space
                    painter.drawLine(QtCore.QPointF(x + w + space, mid), QtCore.QPointF(r, mid))
                    painter.drawLine(QtCore.QPointF(r, mid - 3), QtCore.QPointF(r, mid + 3))
                    painter.restore()
                after = x + w
                break
        out.append((QtCore.QRectF(first.x, min(first.y, last.y) - 2 * lab, last.x + last.cols - first.x, lab),
                    f"{text}: {what.format(vms)}" if vms > 1 else text))
    return out


def paint_labels(painter: QtGui.QPainter, bands, theme: str, headings: bool = True, stagger: bool = False) -> list:
    """Paint the headings and labels of ``bands`` (scene coordinates: the painter's
    transform); returns ``(scene rect, full text)`` of each. ``stagger``: VM columns too
    narrow for their names get them on two lines where two columns hold them (the window)."""
    if not bands:
        return []
    t = P.THEMES[theme]
    xf = painter.worldTransform()
    lod = lod_of(painter)
    width = max(b.x + b.cols for b in bands)
    lab = B.label_height(int(width))
    px = max(10, min(15, int(lab * lod * 0.6)))
    out = []
    painter.save()
    painter.resetTransform()
    font = QtGui.QFont(painter.font())
    font.setPixelSize(px)
    font_key = font.toString()
    small = QtGui.QFont(font)
    small.setPixelSize(MIN_PX + 1)
    gps = sorted((b for b in bands if b.layer == "gp"), key=lambda b: b.x)
    two = staggered(gps, small, lod) if stagger else {}
    if headings:
        bold = QtGui.QFont(font)
        bold.setBold(True)
        bold.setPixelSize(px + 2)
        heads = row_tops(bands)            # each row of bands has a heading: its layer
        fm_b = QtGui.QFontMetricsF(bold)
        for (row, y), head in zip(heads.items(), heading_rects(bands)):
            p = xf.map(QtCore.QPointF(0, y - lab))
            base = p.y() - fm_b.descent() - 2
            if row == "gp" and two:        # over the two lines of VM names
                base = min(base, xf.map(QtCore.QPointF(0, y)).y() - 2 * QtGui.QFontMetricsF(small).height()
                           - fm_b.descent() - 3)
            runs, title = (), LAYER_TITLES[row]
            if stagger and row in ("gp", "gv"):
                cols = gps if row == "gp" else sorted((b for b in bands if b.layer == "gv"), key=lambda b: (b.x, b.y))
                names = [b.owner for b in cols]
                if _unnamed(cols, names, two, font, lod, font_key):
                    runs = vm_runs(cols, names)
                    title = _heading(row, runs[0], bold, font, xf, p.x())
            painter.setFont(bold)
            painter.setPen(QtGui.QColor(t["fg"]))
            painter.drawText(QtCore.QPointF(p.x(), base), title)
            out.append((head, LAYER_TITLES[row]))
            if runs:
                end = p.x() + fm_b.horizontalAdvance(title)
                out[:0] = _paint_groups(painter, runs, font, xf, base, end, lab,
                                        QtGui.QColor(t["muted"]), "{} VMs" if row == "gp" else "the processes of {} VMs")
    device = QtCore.QRectF(painter.window()) if painter.device() is not None else None
    for b in bands:
        if b.layer == "mp":
            continue                        # its heading says it all
        corner = xf.map(QtCore.QPointF(b.x, b.y))
        out.append((QtCore.QRectF(b.x, b.y - lab, b.cols, lab), band_text(b)))
        if device is not None and not device.intersects(QtCore.QRectF(corner.x(), corner.y() - 2 * px, b.cols * lod, 2 * px)):
            continue                        # out of sight
        fit = (two[b.key][0], small) if b.key in two else fitted(b, font, b.cols * lod, font_key)
        if fit is None:
            continue
        text, f = fit
        if two.get(b.key, ("", 0))[1]:
            corner.setY(corner.y() - QtGui.QFontMetricsF(f).height())
        painter.setFont(f)
        painter.setPen(QtGui.QColor(t["fg"] if b.layer == "gp" else t["muted"]))
        painter.drawText(QtCore.QPointF(corner.x(), corner.y() - QtGui.QFontMetricsF(f).descent() - 2), text)
    painter.restore()
    return out


UNITS = {"mp": "MPN", "gp": "GPPN", "gv": "GVPN"}          # stores: slots


def where(bands, rect: QtCore.QRectF, names=()) -> str:
    """Which pages a view of the scene rect ``rect`` shows: the band under its centre, the
    first and last page number in sight, the band's size and (machine memory, a host store)
    the VM most of those pages belong to, named from ``names`` (deep zoom keeps its bearings)."""
    c = rect.center()
    b = min(bands, key=lambda b: (max(b.x - c.x(), 0, c.x() - b.x - b.cols) ** 2
                                  + max(b.y - c.y(), 0, c.y() - b.y - b.rows) ** 2), default=None)
    if b is None:
        return ""
    r0 = int(min(max(rect.top() - b.y, 0), b.rows - 1))
    r1 = int(min(max(rect.bottom() - b.y, 0), b.rows - 1))
    c0 = int(min(max(rect.left() - b.x, 0), b.cols - 1))
    c1 = int(min(max(rect.right() - b.x, 0), b.cols - 1))
    lo, hi = r0 * b.cols + c0, min(b.count - 1, r1 * b.cols + c1)
    name = LAYER_TITLES["mp"] if b.layer == "mp" else f"{b.title} ({LAYER_TITLES[row_of(b)].split(' (')[0].lower()})"
    text = (f"{name}: {UNITS.get(b.layer, 'slot')} 0x{lo:x} – 0x{max(lo, hi):x} "
            f"of {size_text(b.total or b.count, B.band_kib(b))}")
    if b.vm is None and names:
        vm = _mostly(b, lo, max(lo, hi) + 1, len(names))
        if vm is not None:
            text += f", mostly {names[vm]}"
    return text


def _mostly(b, lo: int, hi: int, vms: int):
    """The VM most pages lo..hi-1 of a host-wide band belong to (by their colour, or the
    slots' owners), or None."""
    if b.owners is not None:
        own = b.owners[lo:hi]
        own = own[own < vms]
    elif vms <= P.VM_SLOTS:
        codes = b.codes.reshape(-1)[lo:hi]
        own = (codes[codes >= P.VM_BASE].astype(np.int64) - P.VM_BASE) // 2
    else:
        return None                      # VM colours repeat: the colour does not say which VM
    return int(np.bincount(own).argmax()) if len(own) else None
