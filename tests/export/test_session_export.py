"""``vmmemviz session`` writes a session headless; ``vmmemviz export FILE.vmmemviz`` draws
exactly its view."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vmmemviz.cli import main
from vmmemviz.model.config import session as SS
from vmmemviz.export.session import save


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))


def test_a_headless_session_exports_as_export_at_n(tmp_path, capsys):
    s = tmp_path / "s.vmmemviz"
    assert main(["session", "default", "--at", "30", "--theme", "dark", "--out", str(s)]) == 0
    assert capsys.readouterr().out == f"wrote {s}\n"
    back = SS.load(s)
    assert back.event == 30 and back.position["tick"] >= 1 and back.view["theme"] == "dark" and back.b is None
    assert main(["export", str(s), "--format", "png", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["export", "default", "--at", "30", "--theme", "dark", "--format", "png",
                 "--out", str(tmp_path / "e.png")]) == 0
    a, b = pixels(tmp_path / "s.png"), pixels(tmp_path / "e.png")
    assert a.shape == b.shape and np.array_equal(a, b)
    # an option on the command line overrides the session's
    assert main(["export", str(s), "--format", "png", "--theme", "light", "--out", str(tmp_path / "l.png")]) == 0
    assert not np.array_equal(pixels(tmp_path / "l.png"), a)


def test_a_zoomed_session_draws_the_part_in_view(tmp_path):
    base = tmp_path / "s.vmmemviz"
    assert main(["session", "default", "--at", "40", "--out", str(base)]) == 0
    s = SS.load(base)
    s.view.update(aspect=1.6, x0=0.0, y0=0.5, x1=0.5, y1=1.0)
    save(tmp_path / "z.vmmemviz", s)
    assert main(["export", str(tmp_path / "z.vmmemviz"), "--format", "png", "--no-legend",
                 "--out", str(tmp_path / "z.png")]) == 0
    assert main(["export", str(base), "--format", "png", "--no-legend", "--out", str(tmp_path / "f.png")]) == 0
    z, f = pixels(tmp_path / "z.png"), pixels(tmp_path / "f.png")
    assert z.shape[1] == f.shape[1] == 1280 and not np.array_equal(z, f)
    assert len(np.unique(z.reshape(-1, 4), axis=0)) > 4          # cells, not an empty page


def test_a_selection_draws_its_chain(tmp_path):
    base = tmp_path / "s.vmmemviz"
    assert main(["session", "default", "--at", "40", "--out", str(base)]) == 0
    s = SS.load(base)
    s.selection = {"layer": "gp", "vm": 0, "proc": None, "index": 0}
    save(tmp_path / "sel.vmmemviz", s)
    assert main(["export", str(tmp_path / "sel.vmmemviz"), "--format", "png", "--out", str(tmp_path / "sel.png")]) == 0
    assert main(["export", str(base), "--format", "png", "--out", str(tmp_path / "s.png")]) == 0
    assert not np.array_equal(pixels(tmp_path / "sel.png"), pixels(tmp_path / "s.png"))


@pytest.mark.parametrize("edit, says", [
    (lambda s: s.position.update(tick=999), "position.tick: expected event 40 at second 999 as saved"),
    (lambda s: s.position.update(event=10 ** 9), "has "),
    (lambda s: s.__setattr__("selection", {"layer": "gp", "vm": 7, "proc": None, "index": 0}),
     "selection: expected a page of the picture"),
    (lambda s: s.view.update(band="gp.9"), "not a band of"),
])
def test_a_session_that_cannot_be_drawn_is_one_line(tmp_path, capsys, edit, says):
    base = tmp_path / "s.vmmemviz"
    assert main(["session", "default", "--at", "40", "--out", str(base)]) == 0
    s = SS.load(base)
    edit(s)
    save(base, s)
    capsys.readouterr()
    assert main(["export", str(base), "--format", "png", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "x.png").exists()


def test_a_scenario_export_still_needs_a_position(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["export", "default", "--format", "png", "--out", str(tmp_path / "x.png")])
    assert e.value.code == 2
    assert "one of the arguments --at --chapter --range is required" in capsys.readouterr().err


@pytest.mark.parametrize("compare", [["--compare-set", "Mem.ShareForceSalting=0", "--compare-set", "vm.tools=false"],
                                     ["--compare", "allocation"]])
def test_a_compare_session_exports_as_export_compare_at_n(tmp_path, compare):
    s = tmp_path / "c.vmmemviz"
    assert main(["session", "default", "--at", "25", *compare, "--out", str(s)]) == 0
    back = SS.load(s)
    assert back.b is not None and (back.compare["text"] is None) == (compare[0] == "--compare-set")
    assert main(["export", str(s), "--format", "png", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["export", "default", "--at", "25", *compare, "--format", "png", "--out", str(tmp_path / "e.png")]) == 0
    a, b = pixels(tmp_path / "s.png"), pixels(tmp_path / "e.png")
    assert a.shape == b.shape and np.array_equal(a, b)
    assert main(["export", "default", "--at", "25", "--format", "png", "--out", str(tmp_path / "one.png")]) == 0
    assert pixels(tmp_path / "one.png").shape != a.shape           # two runs side by side, not one
