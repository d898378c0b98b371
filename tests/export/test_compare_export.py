"""Compare figures (export/compare.py): runs A and B side by side, differing pages outlined."""
import numpy as np
import pytest
from PIL import Image

from vmmemviz.cli import main
from vmmemviz.model.config import compare as C
from vmmemviz.model.config import scenario as SC
from vmmemviz.scene import palette as P

SIZE = (900, 700)


def marked(path) -> int:
    """Pixels of the mark colour (magenta; smooth scaling blends its edges, so near it)."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    r, g, b, _ = P.hex_rgba(P.THEMES["light"]["diff"])
    return int((np.abs(rgb - (r, g, b)).max(axis=2) < 40).sum())


def export(tmp_path, name, *argv) -> str:
    out = str(tmp_path / name)
    assert main(["export", "tps", "--out", out, "--size", f"{SIZE[0]}x{SIZE[1]}", *argv]) == 0
    return out


def test_png_marks_where_runs_differ_and_nowhere_for_a_copy(tmp_path):
    diff = export(tmp_path, "salt.png", "--at", "2000", "--format", "png", "--compare-set", "Mem.ShareForceSalting=0")
    same = export(tmp_path, "same.png", "--at", "2000", "--format", "png", "--compare-set", "description=copy")
    with Image.open(diff) as im:
        assert im.size == SIZE
    assert marked(diff) > 50 and marked(same) == 0
    # both halves are drawn: the left and right halves of the copy are the same picture
    a = np.asarray(Image.open(same).convert("L"))
    top, half = 60, SIZE[0] // 2
    assert a[top:400, :half].std() > 10
    assert np.abs(a[top:400, :half].astype(int).mean() - a[top:400, half:].astype(int).mean()) < 3


def test_compare_still_is_stage_at_one_simulated_second(tmp_path):
    from PySide6.QtWidgets import QApplication
    from vmmemviz.export.compare import CompareStage

    app = QApplication.instance() or QApplication([])  # noqa: F841
    a, b, what = C.pair(SC.load("tps"), ["Mem.ShareForceSalting=0"])
    st = CompareStage(a, b, what)
    tick = st.tick_of(2000)
    body = st.show(tick)
    fa, fb = st.frames
    assert fa.tick <= tick and fb.tick <= tick and st.diff.pages > 0
    # each run is named by the setting compared, its value in that run (compare.run_labels)
    assert body.labels == ("A: Mem.ShareForceSalting = 1", "B: Mem.ShareForceSalting = 0")
    assert sum(m.count for m in body.pictures[0].marks.values()) == st.diff.pages    # every band is drawn
    assert "pages differ between the runs" in st.caption()


@pytest.mark.parametrize("fmt, argv", [("svg", ["--at", "2000"]), ("gif", ["--range", "1500:1700", "--fps", "2"])])
def test_svg_and_gif_compare(tmp_path, fmt, argv):
    out = export(tmp_path, f"c.{fmt}", *argv, "--format", fmt, "--compare-set", "Mem.ShareForceSalting=0",
                 "--band", "mp")
    data = open(out, "rb").read()
    if fmt == "svg":
        text = data.decode()
        assert text.startswith("<?xml") and "A: Mem.ShareForceSalting = 1" in text
        assert "differs from the other run" in text and "B: Mem.ShareForceSalting = 0" in text
    else:
        with Image.open(out) as im:
            assert im.n_frames >= 2 and im.size == SIZE


def test_band_missing_in_b_is_one_line(tmp_path, capsys):
    bad = tmp_path / "one-vm.toml"
    bad.write_text(SC.load("translation").text)
    assert main(["export", "tps", "--at", "10", "--format", "png", "--out", str(tmp_path / "x.png"),
                 "--compare", str(bad), "--band", "gp.4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no counterpart in run B" in err and "\n" not in err and not (tmp_path / "x.png").exists()


def test_compare_tour_chapter_figure(tmp_path):
    """A compare tour exports as a compare without a flag; EPT against shadow moves no page."""
    out = str(tmp_path / "mmu.png")
    assert main(["export", "compare-mmu", "--chapter", "churn", "--format", "png", "--out", out]) == 0
    with Image.open(out) as im:
        assert im.width == 1280
    assert marked(out) == 0


def test_one_band_caption_describes_the_vm_drawn(qapp):
    """A one-band figure of lin01 at an event of win01 is captioned with lin01, then the event."""
    from vmmemviz.export import render

    st = render.Stage(SC.load("tps"), render.FigureOptions(band="gp.1", caption=True))
    st.tl.ensure(400)
    pos = next(i + 1 for i in range(400) if int(st.tl.log[i]["vm"]) == 0 and int(st.tl.log[i]["tick"]) > 0)
    f = st.show(pos)
    cap = render.caption_of(f, st.sc.name, "gp.1")
    assert cap.startswith("lin01: guest physical memory") and "granted" in cap
    assert cap.endswith(f"The event is win01's: {f.narration}")
    assert render.caption_of(f, st.sc.name, "gp.0") == f.narration == render.caption_of(f, st.sc.name, "mp")


def test_export_compare_at_a_tick_is_the_cli_figure(tmp_path, qapp):
    """export_compare (for dialogs and sessions) at run A's event's second = the CLI's --at."""
    from vmmemviz.export.compare import CompareStage, export_compare
    from vmmemviz.export.render import FigureOptions

    a, b, what = C.pair(SC.load("compare-mmu"))
    tick = CompareStage(a, b, what).tick_of(300)
    out = tmp_path / "api.png"
    export_compare(a, b, what, out, "png", FigureOptions(caption=True), tick=tick)
    assert main(["export", "compare-mmu", "--at", "300", "--format", "png", "--out", str(tmp_path / "cli.png")]) == 0
    assert out.read_bytes() == (tmp_path / "cli.png").read_bytes()


def test_halves_align_layers_when_b_has_more_stores(qapp):
    """Run B has stores that run A's figure leaves out (A's are empty): both halves are laid
    out as wide and drawn from the top, so each memory layer is at the same height."""
    from PySide6.QtCore import QRectF
    from vmmemviz.export.compare import CompareStage
    from vmmemviz.export.render import FigureOptions

    a, b, what = C.pair(SC.load("compare-tools"))
    st = CompareStage(a, b, what, FigureOptions(empty_stores=False))
    body = st.show(st.chapter_tick(a.chapters[1]))
    pa, pb = body.pictures
    assert len(pb.bands) > len(pa.bands) and pb.aspect() < pa.aspect()
    halves = body.halves(QRectF(0, 0, 1200, 900))
    assert halves[0].top() == halves[1].top() and halves[0].height() < halves[1].height()

    def y(pic, rect, key):       # where the band's grid starts, in pixels
        src = pic.source()
        return rect.top() + (pic.by_key[key].y - src.top()) * rect.width() / src.width()
    for key in ("gv.0.0", "gp.1", "mp"):
        assert y(pa, halves[0], key) == pytest.approx(y(pb, halves[1], key))
