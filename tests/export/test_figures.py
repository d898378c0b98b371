"""Still figures through the real layer view: PNG size follows the scale, SVG holds the grid."""
import xml.etree.ElementTree as ET

import pytest
from PySide6.QtGui import QImage

from vmmemviz.export import render
from vmmemviz.model.config import scenario


@pytest.fixture(scope="module")
def stage(qapp):
    st = render.Stage(scenario.load("default"))
    st.tl.run_to_end()
    return st


def test_png_size_follows_scale_and_size(tmp_path, stage):
    for scale in (1, 2.5):
        out = tmp_path / f"s{scale}.png"
        stage.write_still(out, "png", render.FigureOptions(size=(640, 400), scale=scale), 20)
        img = QImage(str(out))
        assert (img.width(), img.height()) == (round(640 * scale), round(400 * scale))


def test_default_size_fits_the_picture(stage):
    body = stage.body(render.FigureOptions())
    stage.show(40)
    whole = render.layout(render.FigureOptions(), body.aspect(None), stage.legend)
    wide = render.layout(render.FigureOptions(band="mp"), body.aspect("mp"), stage.legend)
    assert whole.width <= wide.width == render.DEFAULT_WIDTH and wide.height < whole.height
    for page, key in ((whole, None), (wide, "mp")):
        assert abs(page.body.width() / page.body.height() - body.aspect(key)) < 0.05
    tall = render.layout(render.FigureOptions(), 0.8)
    assert tall.width < render.DEFAULT_WIDTH and tall.body.height() <= render.MAX_BODY_HEIGHT + 1
    narrow = render.layout(render.FigureOptions(), 0.05)
    assert narrow.width == render.MIN_WIDTH


def test_svg_parses_and_holds_the_grid_and_the_text(tmp_path, stage):
    out = tmp_path / "f.svg"
    opts = render.FigureOptions(title="Three layers", caption=True)
    stage.write_still(out, "svg", opts, 40)
    root = ET.parse(out).getroot()
    tags = [e.tag.rsplit("}", 1)[-1] for e in root.iter()]
    rows = sum(b.rows for b in stage.frame.bands)
    assert tags.count("rect") + tags.count("path") >= rows > 20    # every grid row: runs of cells
    assert tags.count("polyline") >= rows                           # and the lines between cells
    text = " ".join(t for e in root.iter() if e.tag.endswith("text") for t in e.itertext())
    assert "Three layers" in text and "machine memory" in text.lower() and "web01" in text
    assert "non-scaling-stroke" not in out.read_text()      # librsvg would draw lines a cell wide
    w, h = (float(v) for v in root.get("viewBox").split()[2:])
    assert 600 < w <= 1280 and 400 < h and root.get("width").endswith("mm")
    assert float(root.get("width")[:-2]) == pytest.approx(w / 96 * 25.4, abs=0.1)   # w CSS pixels


def test_transparent_png_has_a_clear_background(tmp_path, stage):
    out = tmp_path / "t.png"
    stage.write_still(out, "png", render.FigureOptions(transparent=True, band="mp"), 40)
    img = QImage(str(out))
    assert img.hasAlphaChannel() and img.pixelColor(1, 1).alpha() == 0


def test_caption_is_the_narration_and_legend_can_be_left_out(stage):
    stage.show(40)
    body = stage.body(render.FigureOptions())
    cap = stage.frame.narration
    with_all = render.layout(render.FigureOptions(caption=True), body.aspect(), stage.legend, cap)
    bare = render.layout(render.FigureOptions(legend=False), body.aspect(), stage.legend, cap)
    assert with_all.caption is not None and with_all.legend is not None
    assert bare.caption is None and bare.legend is None and bare.height < with_all.height
    assert cap.strip()


TOURS = [scenario.load(str(p)) for p in sorted(scenario.BUILTIN_DIR.glob("*.toml"))]
TEACHING = [sc.path.rsplit("/", 1)[-1][:-5] for sc in TOURS if sc.chapters and sc.host_pages <= 1 << 14]


@pytest.mark.parametrize("name", TEACHING)
def test_every_tour_exports_its_last_chapter(tmp_path, qapp, name):
    """Each built-in tour, at the first event of its last chapter, as a captioned figure."""
    st = render.Stage(scenario.load(name))
    st.tl.run_to_end()
    ticks = st.tl.log.rows()["tick"]
    pos = int((ticks < st.sc.chapters[-1].at).sum()) + 1
    out = tmp_path / f"{name}.png"
    st.write_still(out, "png", render.FigureOptions(title=st.sc.chapters[-1].title, caption=True), pos)
    img = QImage(str(out))
    assert img.width() >= render.MIN_WIDTH and img.height() > 300
