"""The layer view off-screen: colours of known cells, rendering to images and SVG, transitions."""
import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from vmmemviz.engine.worker import build_frame
from vmmemviz.model.core import events as E
from vmmemviz.model.config import scenario
from vmmemviz.model.views.pageinfo import inspect
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.scene import bands as B
from vmmemviz.scene import palette as P
from vmmemviz.ui.layerview import LayerView
from vmmemviz.ui.legend import Legend


@pytest.fixture(scope="module")
def tl():
    t = Timeline(scenario.load("default"))
    t.ensure(300)
    return t


def pos_after(tl, name):
    code = E.BY_NAME[name].code
    return next(i for i in range(len(tl)) if tl.log[i]["kind"] == code) + 1


def test_cells_have_the_colours_of_their_pages(qtbot, tl):
    v = LayerView()                       # never shown
    qtbot.addWidget(v)
    pos = pos_after(tl, "BOOT_ZERO")
    f = build_frame(tl, pos)
    v.set_frame(f)
    row = f.event
    vm, g0 = int(row["vm"]), int(row["gppn"])
    assert v.cell_colour(f"gp.{vm}", g0).name().upper() == P.colour(P.vm_code(vm, True)).upper()
    assert v.cell_colour("mp", int(row["mpn"])).name().upper() == P.colour(P.vm_code(vm, True)).upper()
    assert v.cell_colour("mp", tl.view.host.n_mpn - 1).name().upper() == P.colour(P.FREE).upper()
    v.set_theme("light")
    assert v.cell_colour("mp", tl.view.host.n_mpn - 1).name().upper() == P.colour(P.FREE, "light").upper()


def test_render_to_paints_the_grid_and_a_band(qtbot, tl):
    v = LayerView()
    qtbot.addWidget(v)
    f = build_frame(tl, pos_after(tl, "BOOT_ZERO"))
    v.set_frame(f)
    img = QtGui.QImage(1200, 800, QtGui.QImage.Format.Format_RGB32)
    p = QtGui.QPainter(img)
    v.render_to(p, QtCore.QRectF(0, 0, 1200, 800))
    p.end()
    arr = np.frombuffer(img.constBits(), np.uint32).reshape(800, 1200) & 0xFFFFFF
    zero = int(P.colour(P.vm_code(2, True))[1:], 16)
    assert np.count_nonzero(arr == zero) > 20000          # win01's zeroed memory, twice
    assert len(np.unique(arr)) > 8
    one = QtGui.QImage(600, 300, QtGui.QImage.Format.Format_RGB32)
    p = QtGui.QPainter(one)
    v.render_to(p, QtCore.QRectF(0, 0, 600, 300), "gp.2")
    p.end()
    a1 = np.frombuffer(one.constBits(), np.uint32).reshape(300, 600) & 0xFFFFFF
    assert np.count_nonzero(a1 == zero) > 0.3 * a1.size   # the band fills the target


def test_svg_holds_the_grid_as_vector_cells(qtbot, tl):
    v = LayerView()
    qtbot.addWidget(v)
    f = build_frame(tl, pos_after(tl, "BOOT_ZERO"))
    v.set_frame(f)
    mp = next(b for b in f.bands if b.key == "mp")
    runs = sum(1 + int(np.count_nonzero(r[1:] != r[:-1])) for r in mp.codes)   # one rect per run of a colour
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    gen = QtSvg.QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setSize(QtCore.QSize(800, 600))
    gen.setViewBox(QtCore.QRect(0, 0, 800, 600))
    p = QtGui.QPainter(gen)
    v.render_to(p, QtCore.QRectF(0, 0, 800, 600), "mp")
    p.end()
    svg = bytes(buf.data()).decode()
    assert "<image" not in svg
    assert svg.count("<rect") >= runs > mp.rows
    assert P.colour(P.vm_code(2, True)).lower() in svg.lower()


def test_transition_progress_and_inspected_chain(qtbot, tl):
    v = LayerView()
    qtbot.addWidget(v)
    pos = pos_after(tl, "ACCESS")
    f = build_frame(tl, pos)
    v.set_frame(f, progress=0.25)
    assert v.arrow_item.progress == 0.25 and len(v.arrow_item.arrows) == 3
    img = QtGui.QImage(400, 300, QtGui.QImage.Format.Format_RGB32)
    p = QtGui.QPainter(img)
    v.render_to(p, QtCore.QRectF(0, 0, 400, 300))
    p.end()
    row = f.event
    info = inspect(tl.view, tl.log.rows(0, pos), ("mp", None, None, int(row["mpn"])), list(f.vm_names))
    v.set_chain(info["chain"])
    keys = {a.src[0] for a in v.chain_item.arrows} | {a.dst[0] for a in v.chain_item.arrows}
    assert {"mp", f"gp.{int(row['vm'])}"} <= keys


def test_hover_and_click_name_the_page(qtbot, tl):
    v = LayerView()
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    f = build_frame(tl, 200)
    v.set_frame(f)
    pt = v.cell_center("mp", 300)
    assert v.page_at(pt) == ("mp", None, None, 300)
    with qtbot.waitSignal(v.pageHovered) as hov:
        qtbot.mouseMove(v.viewport(), pt)
    assert hov.args[0] == ("mp", None, None, 300)
    with qtbot.waitSignal(v.pageClicked) as sig:
        qtbot.mouseClick(v.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pt)
    assert sig.args[0] == ("mp", None, None, 300)


def test_legend_names_every_vm_and_paints(qtbot):
    lg = Legend(("web01", "web02"), "dark")
    labels = [e[0] for e in lg.entries()]
    assert labels[:2] == ["web01", "web02"] and "shared (TPS)" in labels
    h = lg.height_for(300)
    assert h > lg.height_for(3000) > 0
    img = QtGui.QImage(300, int(h), QtGui.QImage.Format.Format_RGB32)
    img.fill(0)
    p = QtGui.QPainter(img)
    lg.paint(p, QtCore.QRectF(0, 0, 300, h))
    p.end()
    arr = np.frombuffer(img.constBits(), np.uint32) & 0xFFFFFF
    assert int(P.vm_hue(0)[1:], 16) in set(arr.tolist())


def test_the_legend_names_all_64_vms_of_a_host_and_its_zoomed_out_pixels():
    """Past the 24th VM hues repeat: the VMs sharing a hue share a row, and every one is named."""
    names = tuple(f"sql{i:02d}" for i in range(1, 21)) + tuple(f"web{i:02d}" for i in range(1, 37)) + \
        tuple(f"batch{i:02d}" for i in range(1, 9))
    lg = Legend(names, "dark", note=True)
    entries = lg.entries()
    rows = entries[:[e[0] for e in entries].index("zero page (pale VM colour)")]
    named = [n for label, _, _ in rows for n in label.split(", ")]
    assert sorted(named) == sorted(names)
    for label, col, _ in rows:            # a row's hue is the hue of every VM it names
        assert {P.colour(P.vm_code(names.index(n))) for n in label.split(", ")} == {col}
    assert len({c for _, c, _ in rows}) == len(rows) == 24
    assert entries[-1] == (P.LOD_NOTE, P.THEMES["dark"]["muted"], "note")
    assert P.LOD_NOTE not in [e[0] for e in Legend(names, "dark").entries()]     # figures: not unless asked


def test_shared_frames_show_their_count_when_zoomed_in(qtbot):
    t = Timeline(scenario.load("tps"))
    code = E.BY_NAME["TPS_SHARE"].code
    t.ensure(3000)
    pos = next(i for i in range(len(t)) if t.log[i]["kind"] == code) + 1
    v = LayerView()
    qtbot.addWidget(v)
    f = build_frame(t, pos)
    v.set_frame(f)
    mp = next(b for b in f.bands if b.key == "mp")
    assert mp.badges and all(refs >= 2 for _, refs in mp.badges)

    def black_pixels(width):
        img = QtGui.QImage(width, width // 2, QtGui.QImage.Format.Format_RGB32)
        p = QtGui.QPainter(img)
        v.render_to(p, QtCore.QRectF(0, 0, width, width // 2), "mp")
        p.end()
        return int(np.count_nonzero((np.frombuffer(img.constBits(), np.uint32) & 0xFFFFFF) == 0))

    assert black_pixels(600) == 0                       # cells a few pixels wide: no badges
    assert black_pixels(mp.cols * 24) > 0               # 24 pixels a cell: the counts are written


def test_a_narrow_vm_column_keeps_its_number_and_every_label_has_its_full_text(qtbot, tl):
    from vmmemviz.paint.labels import band_text, fitted
    f = build_frame(tl, 200)
    gp = next(b for b in f.bands if b.layer == "gp")
    font = QtGui.QFont()
    font.setPixelSize(10)
    assert fitted(gp, font, 1000)[0] == band_text(gp)
    text, small = fitted(gp, font, 14)
    assert text == gp.title[-2:] and small.pixelSize() >= 8          # web01 -> "01"
    v = LayerView()
    qtbot.addWidget(v)
    v.resize(420, 300)                                               # labels shortened on screen
    v.show()
    v.set_frame(f)
    qtbot.waitUntil(lambda: bool(v.picture_item.labels))
    lab = B.label_height(int(max(b.x + b.cols for b in f.bands)))
    assert v.label_at(v.mapFromScene(QtCore.QPointF(gp.x + 1, gp.y - lab / 2))) == band_text(gp)


@pytest.fixture
def view(qtbot, tl):
    """A layer view on screen, 600 x 400, at event 200."""
    v = LayerView(theme="dark")
    qtbot.addWidget(v)
    v.resize(600, 400)
    v.show()
    v.set_frame(build_frame(tl, 200))
    return v


def test_zoomed_in_a_minimap_shows_where_the_view_is(view):
    v = view
    assert not v.zoomed_in()
    v.zoom(10)
    assert v.zoomed_in()
    img = v.viewport().grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    px = np.frombuffer(img.constBits(), np.uint32).reshape(img.height(), img.bytesPerLine() // 4) & 0xFFFFFF
    chain = int(P.THEMES["dark"]["chain"][1:], 16)
    ys, xs = np.nonzero(px == chain)
    assert len(ys) and xs.min() > 600 - 220 and ys.min() > 400 - 260    # the view's box, bottom right
    from vmmemviz.paint.labels import where
    assert "0x" in where(v.frame.bands, v.visible_rect())
    v.zoom(60)                           # so deep the view is less than a minimap pixel: still marked
    img = v.viewport().grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    px = np.frombuffer(img.constBits(), np.uint32).reshape(img.height(), img.bytesPerLine() // 4) & 0xFFFFFF
    ys, xs = np.nonzero(px == chain)
    assert len(ys) and xs.max() - xs.min() >= 5 and ys.max() - ys.min() >= 5


def test_a_large_page_break_tints_its_range_as_it_splits(qtbot):
    from vmmemviz.paint.arrows import ArrowPainter
    t = Timeline(scenario.load("largepages"))
    t.run_to_end()                       # large pages are broken only below the 400% mark (t = 57)
    pos = pos_after(t, "LP_BREAK")
    f = build_frame(t, pos)
    split = [a for a in f.arrows if a.kind == "split"]
    assert split
    mp = next(b for b in f.bands if b.key == "mp")
    art = ArrowPainter()
    art.set_arrows(split, {"mp": mp}, "light")

    def tinted(progress):
        img = QtGui.QImage(mp.cols * 4, mp.rows * 4 + 40, QtGui.QImage.Format.Format_RGB32)
        img.fill(QtGui.QColor("#FFFFFF"))
        p = QtGui.QPainter(img)
        p.scale(4, 4)
        p.translate(-mp.x, -mp.y)
        art.paint(p, progress)
        p.end()
        return np.frombuffer(img.constBits(), np.uint32) & 0xFFFFFF

    start, end = tinted(0.0), tinted(1.0)
    assert np.count_nonzero(start != 0xFFFFFF) > 512 * 4 and np.count_nonzero(end != 0xFFFFFF) > 512 * 4
    assert np.count_nonzero(start != end) > 512            # the 4 KB pages have appeared


def test_a_2kib_compressed_page_is_one_double_cell(qtbot):
    from vmmemviz.paint.grid import GridPainter
    codes = np.array([[P.ZIP2, P.ZIP2, P.ZIP2, P.ZIP2, P.ZIP, P.FREE, P.FREE, P.FREE]], np.uint8)
    band = B.Band("zip.0", "zip", 0, None, "web01 compression cache", 8, 8, 0, 0, codes)
    img = QtGui.QImage(160, 20, QtGui.QImage.Format.Format_RGB32)
    p = QtGui.QPainter(img)
    p.scale(20, 20)
    GridPainter(band, "light").paint(p)
    p.end()
    at = [img.pixelColor(x, 10).name().upper() for x in (20, 40, 60, 100)]
    zip2, bg = P.colour(P.ZIP2, "light").upper(), P.THEMES["light"]["bg"].upper()
    assert at == [zip2, bg, zip2, bg]        # no border inside a pair, borders between pages


def test_where_names_the_pages_in_sight_their_band_size_and_whose_they_are(tl):
    from vmmemviz.paint.labels import where
    tl.seek(300)
    bands, names = B.build_bands(tl.view), [vm.name for vm in tl.view.vms]
    mp = next(b for b in bands if b.key == "mp")
    i = int(np.flatnonzero(mp.codes.reshape(-1) == P.vm_code(1))[0])
    r, c = divmod(i, mp.cols)
    text = where(bands, QtCore.QRectF(mp.x + c + 0.1, mp.y + r + 0.1, 0.8, 0.8), names)
    assert text.startswith(f"Machine memory (host physical): MPN 0x{i:x} – 0x{i:x} of ")
    assert text.endswith(f", mostly {names[1]}")
    gp = next(b for b in bands if b.key == "gp.0")
    text = where(bands, QtCore.QRectF(gp.x + 0.1, gp.y + 0.1, 0.8, 0.8), names)
    assert text.startswith(f"{names[0]} (guest physical memory): GPPN 0x0 – 0x0 of ") and "mostly" not in text


def test_vm_names_too_wide_for_their_column_take_two_lines(qtbot):
    from vmmemviz.paint.labels import staggered
    gps = [B.Band(f"gp.{i}", "gp", i, None, f"lnx{i:02d}", 400, 20, 22.0 * i, 50.0, np.zeros((20, 20), np.uint8),
                  owner=f"lnx{i:02d}")
           for i in range(12)]
    font = QtGui.QFont()
    font.setPixelSize(9)
    two = staggered(gps, font, 1.0)
    assert sorted(two) == sorted(b.key for b in gps)                    # from the first column on
    assert [two[b.key][1] for b in gps] == [0, 1] * 6                     # alternate lines
    assert two["gp.0"][0] == "lnx00" and two["gp.11"][0] == "11"          # the last reaches over nothing
    assert staggered(gps, font, 3.0) == {}                                # names fit: one line
    digits = staggered(gps, font, 0.4)                                    # names not even in two columns:
    assert digits and all(t == b.key[3:].zfill(2) for b in gps for t in [digits.get(b.key, (b.key[3:].zfill(2),))[0]])
    assert staggered(gps, font, 0.1) == {}                                # not even numbers: none


def test_vm_groups_are_runs_of_names_alike():
    from vmmemviz.paint.labels import vm_groups
    assert vm_groups(["sql01", "sql02", "web01", "web02", "web03", "batch01", "db", "db"]) == [
        (0, 1, "sql01–02"), (2, 4, "web01–03"), (5, 5, "batch01"), (6, 6, "db"), (7, 7, "db")]
    assert vm_groups(["win01", "lin01", "lin02", "lin03", "db01"]) == [
        (0, 0, "win01"), (1, 3, "lin01–03"), (4, 4, "db01")]


def test_host_scale_vm_columns_are_numbered_under_their_group(qtbot):
    """64 VMs in three groups (the datacenter), zoomed out: every column has its number,
    from the first one, and each group's label spans its run on the heading's line, over the
    VM columns and over their processes' columns."""
    from vmmemviz.paint.labels import paint_labels, staggered
    names = [f"sql{i:02d}" for i in range(1, 29)] + [f"web{i:02d}" for i in range(1, 29)] + \
        [f"batch{i:02d}" for i in range(1, 9)]
    vms = tuple((n, 4096, (("app", 2048),), ()) for n in names)
    slots = B.layout(64 * 4096, vms, 1.4)
    bands = [B.Band(s.key, s.layer, s.vm, s.proc, s.title, s.count, s.cols, s.x, s.y,
                    np.zeros((-(-s.count // s.cols), s.cols), np.uint8), owner=s.owner) for s in slots]
    gps = sorted((b for b in bands if b.layer == "gp"), key=lambda b: b.x)
    width = max(b.x + b.cols for b in bands)
    img = QtGui.QImage(700, 500, QtGui.QImage.Format.Format_RGB32)
    bg = QtGui.QColor(P.THEMES["dark"]["bg"])
    img.fill(bg)
    p = QtGui.QPainter(img)
    p.scale(700 / width, 700 / width)
    lod = 700 / width
    small = QtGui.QFont(p.font())
    small.setPixelSize(9)
    two = staggered(gps, small, lod)
    labels = dict((text, rect) for rect, text in paint_labels(p, bands, "dark", stagger=True))
    p.end()
    assert set(two) == {b.key for b in gps} and two["gp.0"][0] == "01" and two["gp.28"][0] == "01"
    for text, first, last in (("sql01–28: 28 VMs", 0, 27), ("web01–28: 28 VMs", 28, 55), ("batch01–08: 8 VMs", 56, 63)):
        r = labels[text]                      # a tooltip over the run's columns, on the heading's line
        assert r.left() == gps[first].x and r.right() == gps[last].x + gps[last].cols and r.bottom() < gps[0].y
    gvs = sorted((b for b in bands if b.layer == "gv"), key=lambda b: b.x)
    for text, first, last in (("web01–28: the processes of 28 VMs", 28, 55), ("batch01–08: the processes of 8 VMs", 56, 63)):
        r = labels[text]                      # the processes' row names its VMs' groups too
        assert r.left() == gvs[first].x and r.right() == gvs[last].x + gvs[last].cols and r.bottom() < gvs[0].y
    line = QtGui.QFontMetricsF(small).height()
    top = round(gps[0].y * lod - 2 * line) - 3       # above the two lines of numbers: the groups' line
    for first in (28, 56):                           # web and batch: written from their first column
        x0 = round(gps[first].x * lod) + 1
        assert any(img.pixelColor(x, y) != bg for x in range(x0, x0 + 20) for y in range(top - 12, top))


def _rows(s) -> int:
    return -(-s.count // s.cols)


def test_band_heights_follow_what_they_hold():
    """At host scale a VM's mostly empty stores share one label line under it and take far less
    height than guest memory; a store that holds more is taller. At teaching size they stack,
    as wide as the VM's column, so their titles fit."""
    def stores(used):
        return (("zip", "compression cache", 4096, 256), ("vswp", ".vswp", 1 << 18, used),
                ("gswap", "guest swap", 1 << 18, 256))
    many = tuple((f"lnx{i:02d}", 1 << 18, (("app", 1 << 17),), stores(1 << 16 if i == 3 else 256)) for i in range(32))
    slots = B.layout(1 << 22, many, 1.4)
    by = {s.key: s for s in slots}
    assert len({by[f"{layer}.0"].y for layer in ("zip", "vswp", "gswap")}) == 1
    kept = [s for s in slots if s.layer not in B.MEMORY_LAYERS and s.vm == 0]
    lab = B.label_height(max(s.x + s.cols for s in slots))
    height = max(s.y + _rows(s) for s in kept) - min(s.y for s in kept) + lab      # an empty VM's stores
    assert height < _rows(by["gp.0"]) / 2 and height < _rows(by["mp"])
    assert by["vswp.3"].count >= 1 << 16 and 8 * by["vswp.0"].count <= 1 << 16
    assert by["vswp.3"].y + _rows(by["vswp.3"]) > by["vswp.0"].y + 2 * _rows(by["vswp.0"])   # stacked, taller
    tl = Timeline(scenario.load("overcommit"))
    tl.ensure(3000)
    mp_pages, vms, host = B.shape_key(tl.view, {})
    small = {s.key: s for s in B.layout(mp_pages, vms, 1.4, host)}
    assert len({small[f"{layer}.0"].y for layer in ("zip", "vswp", "gswap")}) == 3
    assert {small[f"{layer}.0"].cols for layer in ("zip", "vswp", "gswap")} == {small["gp.0"].cols}


def test_a_held_region_stays_in_view_until_the_user_presses_or_zooms(qtbot, tl, view):
    v = view
    region = (0.25, 0.2, 0.5, 0.6)

    def centre():                        # where the view's centre is, as fractions of the picture
        pic, c = v.picture_rect(), v.visible_rect().center()
        return ((c.x() - pic.left()) / pic.width(), (c.y() - pic.top()) / pic.height())
    v.hold(region)
    assert centre() == pytest.approx((0.375, 0.4), abs=0.01)
    v.resize(900, 300)                    # another shape, then a frame laid out for it
    v.set_frame(build_frame(tl, 250, aspect=3.0))
    assert centre() == pytest.approx((0.375, 0.4), abs=0.01) and v.zoomed_in()
    qtbot.mouseClick(v.viewport(), QtCore.Qt.MouseButton.RightButton, pos=QtCore.QPoint(850, 250))
    v.centerOn(v.picture_rect().center())
    v.resize(600, 400)
    v.set_frame(build_frame(tl, 260))
    assert centre() != pytest.approx((0.375, 0.4), abs=0.05)    # a press ended the hold
    v.hold(region)
    v.zoom(2)
    v.centerOn(v.picture_rect().center())
    v.set_frame(build_frame(tl, 270, aspect=3.0))
    assert centre() != pytest.approx((0.375, 0.4), abs=0.05)    # and so does a zoom


def test_the_window_s_legend_gives_a_swatch_per_hue_when_hues_repeat(qtbot):
    """On screen, where the columns are labelled, 64 VMs take one row of swatches, each naming
    its VMs in a tooltip, not six rows of names; a figure's legend still names them all."""
    from vmmemviz.ui.legend import LegendWidget
    names = tuple(f"sql{i:02d}" for i in range(1, 21)) + tuple(f"web{i:02d}" for i in range(1, 37)) + \
        tuple(f"batch{i:02d}" for i in range(1, 9))
    full, compact = Legend(names, "dark", note=True), Legend(names, "dark", note=True, compact=True)
    swatches = [e for e in compact.entries() if e[2] == "swatch"]
    assert [(label, col) for label, col, _ in swatches] == [(label, col) for label, col, _ in full.entries()[:24]]
    assert compact.entries()[24] == (P.HUES_NOTE, P.THEMES["dark"]["muted"], "note")
    assert compact.height_for(700) <= 0.6 * full.height_for(700)          # 5 rows, not 9
    assert Legend(names[:20], "dark", compact=True).entries() == Legend(names[:20], "dark").entries()   # no repeat
    w = LegendWidget()
    qtbot.addWidget(w)
    w.resize(700, 100)
    w.set_vms(names, "dark")
    x0, y0 = compact._places(700 - 2 * 6)[0][3][:2]        # the fourth swatch
    assert w.legend.label_at(700 - 2 * 6, x0 + 2, y0 + 2) == "sql04, web08, web32"
    assert w.legend.label_at(700 - 2 * 6, x0 + 2, y0 + 200) is None


def test_a_process_label_keeps_its_vm_in_a_smaller_font_before_its_bare_name(qtbot):
    from vmmemviz.paint import labels as L
    font = QtGui.QFont()
    font.setPixelSize(12)
    small = QtGui.QFont(font)
    small.setPixelSize(11)
    room = int(QtGui.QFontMetricsF(small).horizontalAdvance("db01 / postgres")) + 1   # too narrow at 12 px
    assert QtGui.QFontMetricsF(font).horizontalAdvance("db01 / postgres") > room
    text, px = L._fitted("db01 / postgres  ·  18 MiB", "db01 / postgres", "postgres", "", font.toString(), room)
    assert (text, px) == ("db01 / postgres", 11)


def test_a_heading_over_the_first_group_of_vms_is_shortened_so_the_group_is_named(qtbot):
    """The datacenter's 20 sql VMs lie under "Guest physical memory (per VM)": the heading
    says "Guest physical" so "sql01–20" is written in their run (its tooltip keeps the whole);
    where the whole heading leaves room (28 of 64 VMs in a group) it stays whole."""
    from vmmemviz.paint.labels import LAYER_TITLES, _heading, vm_runs
    font = QtGui.QFont()
    font.setPixelSize(11)
    bold = QtGui.QFont(font)
    bold.setBold(True)
    bold.setPixelSize(13)
    got = {}
    for sql in (20, 28):
        names = [f"sql{i:02d}" for i in range(1, sql + 1)] + [f"web{i:02d}" for i in range(1, 57 - sql)] + \
            [f"batch{i:02d}" for i in range(1, 9)]
        slots = B.layout(64 * 4096, tuple((n, 4096, (("app", 2048),), ()) for n in names), 1.4)
        gps = sorted((s for s in slots if s.layer == "gp"), key=lambda s: s.x)
        width = max(s.x + s.cols for s in slots)
        xf = QtGui.QTransform.fromScale(700 / width, 700 / width)
        runs = vm_runs(gps, [s.owner for s in gps])
        assert runs[0][2] == f"sql01–{sql}"
        got[sql] = _heading("gp", runs[0], bold, font, xf, 0.0)
    assert got == {20: "Guest physical", 28: LAYER_TITLES["gp"]}


def test_a_store_too_narrow_for_the_part_shown_keeps_its_size(qtbot):
    """A 24 MiB .vswp showing 2 MiB whose label cannot say both says its size before it says
    its title alone."""
    from vmmemviz.paint.labels import band_text, fitted
    b = B.Band("vswp.0", "vswp", 0, None, "db01 .vswp", 512, 64, 0, 0, np.zeros((8, 64), np.uint8),
               total=6144, owner="db01")
    font = QtGui.QFont()
    font.setPixelSize(12)
    fm = QtGui.QFontMetricsF(font)
    assert band_text(b) == "db01 .vswp  ·  24 MiB, 2 MiB shown"
    room = int(fm.horizontalAdvance("db01 .vswp  ·  24 MiB")) + 1
    assert fitted(b, font, room)[0] == "db01 .vswp  ·  24 MiB"
    assert fitted(b, font, int(fm.horizontalAdvance("db01 .vswp")) + 1)[0] == "db01 .vswp"


def test_every_legend_row_says_what_its_pages_are_in_its_tooltip(qtbot):
    """Hovering a row of the legend explained nothing (its label again): each fixed colour has a
    meaning in ESXi's terms, shown in its tooltip."""
    from vmmemviz.ui.legend import LegendWidget
    rows = [label for label, _, style in Legend(("web01",), "dark").entries() if style != "note"][1:]
    assert rows and all(label in P.MEANING for label in rows), set(rows) - set(P.MEANING)
    w = LegendWidget()
    qtbot.addWidget(w)
    w.resize(700, 100)
    w.set_vms(("web01",), "dark")
    w.show()
    x, y = next((ex, ey) for ex, ey, _, label, _, _ in w.legend._places(700 - 2 * 6)[0] if label == "ballooned / pinned")
    pos = QtCore.QPoint(int(x + 6 + 2), int(y + 3 + 2))
    QtWidgets.QApplication.sendEvent(w, QtGui.QHelpEvent(QtCore.QEvent.Type.ToolTip, pos, w.mapToGlobal(pos)))
    assert QtWidgets.QToolTip.text().startswith("ballooned / pinned: guest pages the balloon driver (vmmemctl")


def test_arrow_labels_keep_apart_and_off_the_grids_where_there_is_room():
    """Was: each label right of its arrow's middle, whatever was there: two arrows' middles
    10 px apart put their labels one over the other."""
    from vmmemviz.paint.arrows import place_labels

    P_, R_ = QtCore.QPointF, QtCore.QRectF
    anchors = [P_(200, 100), P_(204, 110), P_(198, 95), P_(210, 104)]
    sizes = [(120, 18)] * 4
    boxes = place_labels([[a] for a in anchors], sizes, R_(0, 0, 800, 600))
    for i, a in enumerate(boxes):
        assert all(not a.intersects(b) for b in boxes[i + 1:]), (i, boxes)
        assert a.top() < anchors[i].y() + 50 and abs(a.center().x() - anchors[i].x()) < 150    # still by its arrow
    # the old placement: all four at (x + 8, y - h / 2) overlapped
    old = [R_(a.x() + 8, a.y() - 9, 120, 18) for a in anchors]
    assert old[0].intersects(old[1])
    # a grid right of the point and a free margin left of it: the label goes left, off the grid
    grid = R_(170, 50, 400, 200)
    box, = place_labels([[P_(175, 150)]], [(100, 18)], R_(0, 0, 800, 600), [grid])
    assert not box.intersects(grid) and box.right() == 167
    # no room anywhere off the grid: still placed, by its point, inside the picture
    box, = place_labels([[P_(300, 150)]], [(100, 18)], R_(170, 50, 400, 200), [grid])
    assert R_(170, 50, 400, 200).contains(box) and box.left() == 308
    # along its arrow, a point off the grid is taken before a place on it
    box, = place_labels([[P_(300, 150), P_(300, 280)]], [(100, 18)], R_(0, 0, 800, 600), [grid])
    assert not box.intersects(grid) and box.top() > 250


def test_zoomed_in_the_minimap_and_the_plate_take_different_corners():
    """Was: the plate saying which pages are in sight sat just above the minimap, bottom right,
    where the cursor's tooltip lands too when a page there is hovered."""
    from vmmemviz.ui.layerview import overlay_rects

    vp = QtCore.QRectF(0, 0, 900, 600)
    box, plate = overlay_rects(vp, QtCore.QSizeF(200, 120), QtCore.QSizeF(420, 24))
    assert vp.contains(box) and vp.contains(plate) and not box.intersects(plate)
    assert box.right() > vp.width() - 20 and box.bottom() > vp.height() - 20        # bottom right
    assert plate.left() < 20 and plate.bottom() > vp.height() - 20                  # bottom left
    box, plate = overlay_rects(QtCore.QRectF(0, 0, 500, 400), QtCore.QSizeF(200, 120), QtCore.QSizeF(420, 24))
    assert not box.intersects(plate) and plate.top() < 20                          # narrow: top left


def test_a_label_takes_its_short_name_at_a_readable_size_before_its_whole_title_in_a_tiny_one(qtbot):
    """At 1280x800 the process columns read "db01 / postgres" at 8 px: where only "postgres"
    fits at READABLE_PX or more, it is that (the tooltip keeps the whole)."""
    from vmmemviz.paint import labels as L
    font = QtGui.QFont()
    font.setPixelSize(12)
    at = QtGui.QFont(font)
    at.setPixelSize(L.READABLE_PX)
    room = int(QtGui.QFontMetricsF(at).horizontalAdvance("db01 / postgres")) - 1      # fits below it only
    tiny = QtGui.QFont(font)
    tiny.setPixelSize(L.MIN_PX)
    assert QtGui.QFontMetricsF(tiny).horizontalAdvance("db01 / postgres") <= room
    text, px = L._fitted("db01 / postgres  ·  18 MiB", "db01 / postgres", "postgres", "", font.toString(), room)
    assert text == "postgres" and px >= L.READABLE_PX


def test_an_arrow_label_keeps_off_the_row_headings(qtbot, tl):
    """Balloon's "10 pages" label lay over "Guest physical memory (per VM)": the headings are
    obstacles like the grids. Each heading's line lies above its row's band labels, across the
    picture, and a label whose arrow passes through it is placed off it where there is room."""
    from vmmemviz.paint.arrows import place_labels
    from vmmemviz.paint.labels import heading_rects, row_tops
    bands = build_frame(tl, 200).bands
    heads = heading_rects(bands)
    lab = B.label_height(int(max(b.x + b.cols for b in bands)))
    assert len(heads) == len(row_tops(bands)) == 4
    for r, top in zip(heads, row_tops(bands).values()):
        assert r.bottom() <= top - lab + 1e-9 and r.left() <= min(b.x for b in bands) and \
            r.right() >= max(b.x + b.cols for b in bands) - 1e-9
    gp = heads[list(row_tops(bands)).index("gp")]
    on = QtCore.QPointF(gp.left() + 40, gp.center().y())
    box, = place_labels([[on]], [(30, 4)], _scene_rect(bands), heads)
    assert not box.intersects(gp)


def test_an_arrow_label_with_no_room_off_the_grids_lies_over_cells_not_over_a_heading():
    """Compare at 1280x800: every place by the arrow touched a grid, and the label took the
    first free one, right of its point, over "Guest physical memory (per VM)". Text is kept
    off before cells are."""
    from vmmemviz.paint.arrows import place_labels
    R_ = QtCore.QRectF
    heading = R_(0, 90, 350, 14)                 # a row heading across the picture
    grids = [R_(0, 40, 350, 48), R_(0, 106, 350, 60)]      # the rows above and below it
    box, = place_labels([[QtCore.QPointF(120, 96)]], [(70, 18)], R_(0, 0, 350, 400), grids, [heading])
    assert not box.intersects(heading)
    assert abs(box.center().x() - 120) < 80 and abs(box.center().y() - 96) < 60    # still by its arrow
    old, = place_labels([[QtCore.QPointF(120, 96)]], [(70, 18)], R_(0, 0, 350, 400), grids + [heading])
    assert old.intersects(heading)              # as it was: headings among the grids


def test_a_painted_arrow_label_is_placed_off_the_headings_too(qtbot, tl, monkeypatch):
    from vmmemviz.paint import arrows as A
    from vmmemviz.paint.labels import row_tops
    pos = next(p for p in range(1, 300) if any(a.label for a in build_frame(tl, p).arrows))
    seen, place = [], A.place_labels
    monkeypatch.setattr(A, "place_labels", lambda anchors, sizes, bounds=None, grids=(), text=():
                        seen.append((len(grids), len(text))) or place(anchors, sizes, bounds, grids, text))
    v = LayerView()
    qtbot.addWidget(v)
    v.resize(900, 600)
    f = build_frame(tl, pos)
    v.set_frame(f)
    v.grab()
    assert seen and seen[-1] == (len(f.bands), len(f.bands) + len(row_tops(f.bands)))   # grids; labels, headings


def _scene_rect(bands):
    x, y, w, h = B.scene_rect(bands)
    return QtCore.QRectF(x, y, w, h)
