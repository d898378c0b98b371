"""Still figures: one geometry (1280 wide) everywhere, SVG equal to PNG in content, clean
one-band figures, a legend of what is shown, an image size limit, chapters by name."""
import ast
import pathlib
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from vmmemviz.errors import InputError
from vmmemviz.export import render
from vmmemviz.model.config import scenario
from vmmemviz.scene import palette as P

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stage(qapp):
    st = render.Stage(scenario.load("default"))
    st.tl.run_to_end()
    return st


def still(stage, tmp_path, name, pos=40, **opts):
    stage.opts = render.FigureOptions(**opts)
    out = tmp_path / name
    stage.write_still(out, name.rsplit(".", 1)[1], pos)
    return out


def test_png_size_follows_scale_and_size(tmp_path, stage):
    for scale in (1, 2.5):
        img = QImage(str(still(stage, tmp_path, f"s{scale}.png", 20, size=(640, 400), scale=scale)))
        assert (img.width(), img.height()) == (round(640 * scale), round(400 * scale))


def test_default_width_is_1280_for_the_picture_a_band_and_an_animation(tmp_path, stage):
    for opts in ({}, {"band": "mp"}, {"band": "gp.0"}, {"band": "zip.1"}):
        assert QImage(str(still(stage, tmp_path, "w.png", **opts))).width() == render.DEFAULT_WIDTH == 1280
    stage.opts = render.FigureOptions(caption=True)
    page, _ = stage.renderer(3, 5)
    assert page.width == 1280
    tall = render.layout(render.FigureOptions(), 0.3)      # a tall picture: centred, not a tall page
    assert tall.width == 1280 and tall.body.height() <= render.MAX_BODY_HEIGHT + 1


def test_the_body_has_the_picture_s_aspect(stage):
    stage.opts = render.FigureOptions()
    stage.show(40)
    pic = stage.picture
    for key in (None, "mp"):
        page = render.layout(stage.opts, pic.aspect(key), stage.legend(40), header=pic.header(key))
        body = page.body.adjusted(0, pic.header(key), 0, 0)
        assert abs(body.width() / body.height() - pic.aspect(key)) < 0.05


class Recorder(QPainter):
    """A painter that notes every text it draws."""

    def __init__(self, device):
        super().__init__(device)
        self.texts = []

    def drawText(self, *args):
        self.texts.append(next(a for a in args if isinstance(a, str)))
        return super().drawText(*args)


def painted_texts(stage, device, page, legend, caption):
    p = Recorder(device)
    try:
        render.paint(p, stage.opts, page, stage.picture, legend, caption)
    finally:
        p.end()
    return p.texts


@pytest.mark.parametrize("band", [None, "mp"])
def test_svg_shows_what_the_png_shows(qapp, band):
    """The same texts (refcount badges included or not, in both) and the same cells."""
    st = render.Stage(scenario.load("tps"), render.FigureOptions(band=band, caption=True, title="TPS"))
    st.tl.ensure(3000)
    code = next(c for c, k in __import__("vmmemviz.model.core.events", fromlist=["KINDS"]).KINDS.items()
                if k.name == "TPS_SHARE")
    pos = next(i for i in range(len(st.tl)) if st.tl.log[i]["kind"] == code) + 40
    legend = st.legend(pos)
    f = st.show(pos)
    cap = render.caption_of(f, st.sc.name)
    page = render.layout(st.opts, st.picture.aspect(band), legend, cap, header=st.picture.header(band))
    img = QImage(int(page.width), int(page.height), QImage.Format.Format_ARGB32_Premultiplied)
    png = painted_texts(st, img, page, legend, cap)
    gen = QSvgGenerator()
    gen.setFileName("/dev/null")
    gen.setSize(img.size())
    svg = painted_texts(st, gen, page, legend, cap)
    assert png == svg and "TPS" in png and any("shared" in t for t in png)
    data = render.svg_bytes(st.opts, page, st.picture, legend, cap).decode()
    root = ET.fromstring(data)
    words = [t for e in root.iter() if e.tag.endswith("text") for t in e.itertext()]
    assert sorted(w.strip() for w in words if w.strip()) == sorted(t.strip() for t in png if t.strip())


def test_svg_parses_and_holds_the_grid_and_the_text(tmp_path, stage):
    out = still(stage, tmp_path, "f.svg", title="Three layers", caption=True)
    root = ET.parse(out).getroot()
    tags = [e.tag.rsplit("}", 1)[-1] for e in root.iter()]
    rows = sum(b.rows for b in stage.picture.bands)
    assert tags.count("rect") + tags.count("path") >= rows > 20    # every grid row: runs of cells
    text = " ".join(t for e in root.iter() if e.tag.endswith("text") for t in e.itertext())
    assert "Three layers" in text and "machine memory" in text.lower() and "web01" in text
    assert "non-scaling-stroke" not in out.read_text()      # librsvg would draw lines a cell wide
    w, h = (float(v) for v in root.get("viewBox").split()[2:])
    assert w == 1280 and 400 < h and root.get("width").endswith("mm")
    assert float(root.get("width")[:-2]) == pytest.approx(w / 96 * 25.4, abs=0.1)   # w CSS pixels


def rgb(path):
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    return np.frombuffer(img.constBits(), np.uint32).reshape(img.height(), img.width()) & 0xFFFFFF


def test_one_band_figure_is_its_label_and_grid_with_no_blank_and_no_stray_arrow(tmp_path, stage):
    out = still(stage, tmp_path, "b.png", band="gp.0")
    px = rgb(out)
    bg = int(P.THEMES["light"]["bg"][1:], 16)
    ink = np.flatnonzero((px != bg).any(axis=1))
    assert ink[0] < 40                                      # the label is at the top, no blank third
    cell_rows = np.flatnonzero((px == int(P.colour(P.FREE, "light")[1:], 16)).sum(axis=1) > 100)
    assert cell_rows[0] < 100                               # the grid right under it
    legend = stage.legend(40)
    labels = [e[0] for e in legend.entries()]
    assert labels[0] == "web01" and "web02" not in labels and "shared (TPS)" not in labels
    assert "free / not backed" in labels
    pic = stage.picture
    inside = [a for a in pic.arrows.arrows if a.src[0] == a.dst[0] == "gp.0"]
    assert len(inside) < len(pic.arrows.arrows)            # the event's arrow leaves gp.0: not drawn


def test_arrows_and_labels_stay_inside_the_picture(stage, qapp):
    stage.opts = render.FigureOptions()
    stage.show(40)
    pic = stage.picture
    assert pic.arrows.arrows                    # the event's arrows, drawn but kept inside
    from PySide6.QtCore import QRectF
    for key in (None, "gp.1"):
        img = QImage(1000, 700, QImage.Format.Format_RGB32)
        img.fill(QColor("#FF00FF"))
        p = QPainter(img)
        pic.render_to(p, QRectF(100, 100, 500, 300), key)
        p.end()
        px = np.frombuffer(img.constBits(), np.uint32).reshape(700, 1000) & 0xFFFFFF
        outside = px.copy()
        outside[100:400, 100:600] = 0xFF00FF
        assert (outside == 0xFF00FF).all() and (px[100:400, 100:600] != 0xFF00FF).all()


def test_empty_stores_can_be_left_out(tmp_path, stage):
    stage.opts = render.FigureOptions(empty_stores=False)
    stage.show(40)
    assert not [b for b in stage.picture.bands if b.layer in ("zip", "vswp", "gswap")]
    stage.opts = render.FigureOptions()
    stage.frame = None
    stage.show(40)
    assert [b for b in stage.picture.bands if b.layer == "vswp"]


def test_an_image_over_the_limit_is_refused_before_it_is_allocated():
    opts = render.FigureOptions(size=(8000, 8000), scale=4)
    page = render.layout(opts, 1.4)
    with pytest.raises(InputError, match=r"32000x32000 image .* limit of 268 megapixels"):
        render.image(opts, page, None, None)
    render.check_pixels(8000, 8000, 2)                      # 256 megapixels: allowed


def test_transparent_png_has_a_clear_background(tmp_path, stage):
    img = QImage(str(still(stage, tmp_path, "t.png", transparent=True, band="mp")))
    assert img.hasAlphaChannel() and img.pixelColor(1, 1).alpha() == 0


def test_caption_is_the_narration_and_legend_can_be_left_out(stage):
    stage.opts = render.FigureOptions()
    f = stage.show(40)
    cap = f.narration
    a = stage.picture.aspect()
    with_all = render.layout(render.FigureOptions(caption=True), a, stage.legend(40), cap)
    bare = render.layout(render.FigureOptions(legend=False), a, stage.legend(40), cap)
    assert with_all.caption is not None and with_all.legend is not None
    assert bare.caption is None and bare.legend is None and bare.height < with_all.height
    assert cap.strip()


def test_a_chapter_by_name_is_the_end_of_the_chapter(qapp):
    st = render.Stage(scenario.load("balloon"))
    ch, pos = render.find_chapter(st.tl, "balloon inflates")
    later = min(c.at for c in st.sc.chapters if c.at > ch.at)
    ticks = st.tl.log.rows(0, len(st.tl))["tick"]
    assert ticks[pos - 1] < later <= ticks[pos]
    with pytest.raises(InputError, match="not a chapter .*chapters: Two guests"):
        render.find_chapter(st.tl, "no such thing")


@pytest.mark.parametrize("package, above", [("export", ("ui", "cli")), ("paint", ("engine", "export", "ui", "cli"))])
def test_figure_code_imports_only_downwards(package, above):
    """export never imports ui; the painting layer only scene and model (and Qt's GUI)."""
    for path in (ROOT / "vmmemviz" / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = (node.module or "") if node.level == 0 else "vmmemviz." + (node.module or "")
                names = [name] if node.level < 2 else ["vmmemviz." + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for n in names:
                assert not re.match(rf"vmmemviz\.({'|'.join(above)})\b", n), f"{package}/{path.name} imports {n}"
            if package == "paint":
                assert not any(n.startswith("PySide6.QtWidgets") for n in names), f"paint/{path.name}: widgets"
                assert not (n == "PySide6" and "QtWidgets" in [a.name for a in node.names]), f"paint/{path.name}: widgets"


TOURS = [scenario.load(str(p)) for p in sorted(scenario.BUILTIN_DIR.glob("*.toml"))]
TEACHING = [sc.path.rsplit("/", 1)[-1][:-5] for sc in TOURS if sc.chapters and sc.host_pages <= 1 << 14]


@pytest.mark.parametrize("name", TEACHING)
def test_every_tour_exports_its_last_chapter(tmp_path, qapp, name):
    """Each built-in tour, at the end of its last chapter, as a figure captioned by the chapter."""
    sc = scenario.load(name)
    ch = sc.chapters[-1]
    st = render.Stage(sc, render.FigureOptions(title=ch.title, caption=True))
    pos = render.chapter_span(st.tl, ch)
    out = tmp_path / f"{name}.png"
    st.write_still(out, "png", pos, ch.text)
    img = QImage(str(out))
    assert img.width() == 1280 and img.height() > 300
