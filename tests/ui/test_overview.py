"""The zoomed-out view's downsampled grids (paint/overview.py): a frame built from the last
one updates them to what sampling every band again gives; the view paints them when cells
are smaller than half a pixel, and its labels are painted once while the view stays."""
import dataclasses

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from vmmemviz.engine.frame import build_frame
from vmmemviz.export.render import FigureOptions, figure_picture
from vmmemviz.model.config import scenario
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.paint.overview import Overview
from vmmemviz.scene import palette as P
from vmmemviz.scene.incremental import BandBuilder
from vmmemviz.ui.layerview import LayerView


@pytest.fixture(scope="module")
def frames():
    tl = Timeline(scenario.load("balloon"))
    tl.ensure(6000)
    builder, out, pos = BandBuilder(), [], 0
    for step in (0, 300, 7, 1, 900, 40, -200, 2500, 3, 600):
        pos = max(0, pos + step)
        out.append(build_frame(tl, pos, builder=builder))
    return out


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_following_frames_gives_the_pixels_of_sampling_them_again(frames, step):
    kept = Overview()
    kept.image(frames[0].bands, step, "dark", frames[0].pos)
    followed = 0
    for f in frames[1:]:
        kept.follow(f.bands, f.changes, f.base, f.pos)
        followed += kept.key is not None
        img = kept.image(f.bands, step, "dark", f.pos)
        fresh = Overview().image(f.bands, step, "dark", f.pos)
        assert img.size() == fresh.size()
        assert np.array_equal(kept.px, Overview()._sampled(f.bands, step, "dark"))
        assert img == fresh
    assert followed >= 6                  # most frames were followed, not sampled again


def _lone(frame, code=P.SWAP):
    """``frame`` with one page of the machine-memory band (not at a block's corner) set to ``code``."""
    mp = next(b for b in frame.bands if b.key == "mp")
    codes = mp.codes.copy()
    assert not (codes == code).any()
    codes[5, 7] = code
    bands = tuple(dataclasses.replace(b, codes=codes) if b.key == "mp" else b for b in frame.bands)
    return dataclasses.replace(frame, bands=bands, changes=None, base=None)


def _has(img: QtGui.QImage, code: int, theme: str = "dark") -> bool:
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    px = np.frombuffer(img.constBits(), np.uint32, img.sizeInBytes() // 4)
    return bool((px & 0xFFFFFF == P.lut32(theme)[code] & 0xFFFFFF).any())


@pytest.mark.parametrize("step", [4, 16])
def test_a_lone_reclaimed_page_stays_visible_zoomed_out(frames, step):
    """A pixel shows a reclaimed page it covers: one swapped page among thousands."""
    f = _lone(frames[3])
    assert _has(Overview().image(f.bands, step, "dark", f.pos), P.SWAP)
    assert not _has(Overview().image(frames[3].bands, step, "dark", f.pos), P.SWAP)


def test_a_block_shows_a_reclaimed_page_it_holds_else_its_first_cell():
    """Plain pages keep their share of the picture: a private page among free ones does not win."""
    codes = np.full((8, 8), P.FREE, np.uint8)
    codes[1, 2], codes[4, 0], codes[6, 5], codes[7, 7] = P.vm_code(0), P.SHARED, P.ZIP, P.HOSTCACHE
    assert P.most_notable(codes, 4).tolist() == [[P.FREE, P.FREE], [P.SHARED, P.HOSTCACHE]]


def test_a_lone_reclaimed_page_shows_in_the_zoomed_out_view_and_a_small_figure(qtbot, frames):
    f = _lone(frames[3], P.HOSTCACHE)
    v = LayerView()
    qtbot.addWidget(v)
    v.resize(300, 200)
    v.show()
    v.set_frame(f)
    v.zoom(0.2)
    img = v.viewport().grab().toImage()
    assert v.picture_item.overview.key[1] >= 3 and _has(img, P.HOSTCACHE)
    mp = next(b for b in f.bands if b.key == "mp")
    at = v.mapFromScene(QtCore.QPointF(mp.x + 7.5, mp.y + 5.5))     # hovering its pixel names it
    assert v.page_at(at) == ("mp", None, None, 5 * mp.cols + 7)
    v.set_frame(frames[3])
    assert v.page_at(at) != ("mp", None, None, 5 * mp.cols + 7)     # a plain pixel: the page at its corner
    fig = QtGui.QImage(240, 160, QtGui.QImage.Format.Format_RGB32)       # the grids drawn by GridPainter
    p = QtGui.QPainter(fig)
    figure_picture(f, FigureOptions()).render_to(p, QtCore.QRectF(0, 0, 240, 160))
    p.end()
    assert _has(fig, P.HOSTCACHE, FigureOptions().theme)


def test_the_zoomed_out_view_paints_the_overview_and_keeps_its_labels(qtbot, frames):
    v = LayerView()
    qtbot.addWidget(v)
    v.resize(300, 200)
    v.show()
    v.set_frame(frames[0])
    v.zoom(0.2)                          # cells far smaller than a pixel
    v.viewport().grab()
    assert v.picture_item.overview.key is not None and v.picture_item.overview.key[1] >= 2
    labels = v.picture_item._text[1]
    for f in frames[1:4]:
        v.set_frame(f)
        v.viewport().grab()
    assert v.picture_item._text[1] is labels          # same view: the labels were not painted again
    v.zoom(3.0)
    v.viewport().grab()
    assert v.picture_item._text[1] is not labels


def test_a_figure_of_a_frame_built_from_the_last_has_the_pixels_of_one_built_from_scratch(qapp, frames):
    tl = Timeline(scenario.load("balloon"))
    opts = FigureOptions()
    for f in frames[-3:]:
        assert f.changes is not None                      # built from the last frame
        images = []
        for frame in (f, build_frame(tl, f.pos)):
            img = QtGui.QImage(900, 640, QtGui.QImage.Format.Format_RGB32)
            p = QtGui.QPainter(img)
            figure_picture(frame, opts).render_to(p, QtCore.QRectF(0, 0, 900, 640))
            p.end()
            images.append(img)
        assert images[0] == images[1]


def plain_top(bands, step: int) -> np.ndarray:
    """The rank of the most notable page under each pixel, the plain way: every cell ranked
    through the palette's table, the ranks reduced by pixel."""
    ov = Overview()
    ov._sampled(bands, step, "dark")              # for its maps and shape only
    top = np.zeros_like(ov.top)
    rank = P.lod_order()[0]
    for b in bands:
        pi, pj = ov.maps[b.key]
        if len(pi) and len(pj):
            r = rank[b.codes]
            r[r < P.NOTABLE_RANK] = 0
            np.maximum.at(top, (pi[:, None].repeat(b.cols, 1), pj[None, :].repeat(b.rows, 0)), r)
    return top


@pytest.mark.parametrize("share", [0.0, 0.001, 0.3])
def test_reducing_every_band_finds_the_most_notable_page_of_each_pixel(frames, share):
    """Few reclaimed pages go each to its pixel, many are reduced band by band (two ways of
    one reduction): both give the plain reduction's ranks and colours, at several steps."""
    rng = np.random.default_rng(4)
    notable = np.flatnonzero(P.lod_order()[0] >= P.NOTABLE_RANK).astype(np.uint8)
    bands = []
    for b in frames[-1].bands:
        codes = b.codes.copy()
        hit = rng.random(codes.shape) < share
        codes[hit] = rng.choice(notable, int(hit.sum()))
        bands.append(dataclasses.replace(b, codes=codes))
    for step in (2, 5, 16):
        ov = Overview()
        px = ov._sampled(bands, step, "dark")
        want = plain_top(bands, step)
        assert np.array_equal(ov.top, want)
        assert (want > 0).any()                # the balloon tour has ballooned pages
        assert np.array_equal(px, P.lut32("dark")[np.where(want > 0, P.lod_order()[1][want], ov.sample)])
