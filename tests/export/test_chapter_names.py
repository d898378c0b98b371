"""``export --chapter`` names the chapters the window names: authored ones, the automatic
host-state chapters of a tour, and both as the chapter line shows them."""
import pytest
from PIL import Image

from vmmemviz.engine.chapters import Chapters
from vmmemviz.errors import InputError
from vmmemviz.export import cli, render
from vmmemviz.export import compare as XC
from vmmemviz.model.config import scenario
from vmmemviz.model.core.timeline import Timeline


@pytest.fixture(scope="module")
def overcommit():
    tl = Timeline(scenario.load("overcommit"))
    tl.run_to_end()
    return tl, Chapters.of(tl)


def captured(monkeypatch, module):
    """The (title, caption) of every still ``module.write_still`` writes."""
    seen, write = [], module.write_still

    def spy(path, fmt, opts, body, legend, caption=""):
        seen.append((opts.title, caption))
        write(path, fmt, opts, body, legend, caption)
    monkeypatch.setattr(module, "write_still", spy)
    return seen


def test_a_host_state_chapter_is_exported_with_its_text_as_caption(qapp, tmp_path, monkeypatch, overcommit):
    tl, ch = overcommit
    seen = captured(monkeypatch, render)
    out = tmp_path / "hard.png"
    assert cli._export(cli.parse(["overcommit", "--chapter", "Host state hard", "--format", "png",
                                  "--out", str(out)])) == 0
    with Image.open(out) as im:
        assert im.size[0] == 1280
    first = next(c for _, t, c in ch.summary() if t == "Host state hard")
    assert seen == [("Host state hard", first)] and first.startswith("free memory ")
    chapter, end = render.find_chapter(tl, "Host state hard")
    assert chapter.text == first
    assert ch.at(end).title.endswith("Host state hard") and not ch.at(end + 1).title.endswith("Host state hard")


def test_names_as_the_window_shows_them(overcommit):
    tl, ch = overcommit
    softs = [(p, c) for p, c in zip(ch.positions(), (c for _, _, c in ch.placed)) if c.title == "Host state soft"]
    chapter, end = render.find_chapter(tl, "host state SOFT#2")        # any case; the second of a name
    assert chapter == softs[1][1] and softs[1][0] <= end < softs[2][0]
    assert ch.at(end).title.endswith("Host state soft")
    both = "Low: VMs above target are blocked · Host state hard"     # the chapter line's title
    chapter, end = render.find_chapter(tl, both)
    assert chapter.title == both and ch.at(end).title == both and chapter.text.startswith("db01's batch job")
    chapter, end = render.find_chapter(tl, "above target are")        # a unique part of a listed title
    assert chapter.title == "Low: VMs above target are blocked" and end == len(tl)
    soft = sum(t == "Host state soft" for _, t, _ in ch.summary())
    for name, says in ((f"Host state soft#{soft + 1}", f"has {soft} chapters named 'Host state soft' "
                        f"\\(expected #1 to #{soft}\\)"),
                       ("Host state soft#0", "expected #1 to"),
                       ("host state", "'host state' matches several chapters of .*Host state soft \\("),
                       ("nope", "'nope' is not a chapter of .*chapters: Overcommitted; Host state clear")):
        with pytest.raises(InputError, match=f"^--chapter: .*{says}") as e:
            render.find_chapter(tl, name)
        assert "\n" not in str(e.value)


def test_a_comparison_names_run_a_s_host_states(qapp, tmp_path, monkeypatch):
    seen = captured(monkeypatch, XC.R)
    out = tmp_path / "c.png"
    assert cli._export(cli.parse(["compare-tools", "--chapter", "Host state clear ⇄ soft", "--format", "png",
                                  "--out", str(out)])) == 0
    assert out.exists() and len(seen) == 1
    title, caption = seen[0]
    assert title == "Host state clear ⇄ soft" and caption.startswith("Host state clear ⇄ soft: free memory ")


def test_a_comparison_of_a_host_state_chapter_shows_run_a_inside_it(qapp, tmp_path, monkeypatch):
    """A comparison shows both runs at the end of a second; a host state ends at an event, often
    inside a second: the still is the last second's end inside the chapter (it was the end of
    the chapter's last second, after run A had left the state), or one line when none is."""
    import re
    tl = Timeline(scenario.load("compare-idletax"))
    tl.run_to_end()
    spans = {c.title: (first, last) for first, last, c in Chapters.of(tl).spans(len(tl))}
    seen = captured(monkeypatch, XC.R)
    out = tmp_path / "c.png"
    assert cli._export(cli.parse(["compare-idletax", "--chapter", "Host state soft ⇄ hard", "--format", "png",
                                  "--out", str(out)])) == 0
    shown = int(re.search(r"\(A: ([\d,]+) events", seen[0][1])[1].replace(",", ""))
    first, last = spans["Host state soft ⇄ hard"]
    assert first <= shown <= last and last > shown                 # the chapter's last second goes on
    with pytest.raises(InputError, match=r"^--chapter: 'Host state hard' lies within run A's second at \d+ s"):
        cli._export(cli.parse(["compare-idletax", "--chapter", "Host state hard", "--format", "png",
                               "--out", str(tmp_path / "h.png")]))
    assert not (tmp_path / "h.png").exists()


def test_a_comparison_without_chapter_builds_no_third_run(qapp, tmp_path, monkeypatch):
    """Run A's own Stage is for finding a chapter: a comparison at --at builds only A and B
    (a third timeline held one more copy of A's arrays, beside the pair the fit check counts)."""
    made = []
    monkeypatch.setattr(render, "Stage", lambda *a, **k: made.append(a))
    assert cli._export(cli.parse(["compare-tools", "--at", "50", "--format", "png",
                                  "--out", str(tmp_path / "c.png")])) == 0
    assert made == [] and (tmp_path / "c.png").exists()


def test_chapter_names_as_typed(overcommit):
    """'<->' for '⇄' as a keyboard has it; one line for a scenario without chapters and for
    a number past the only chapter of a name."""
    tl, ch = overcommit
    assert render.find_chapter(tl, "host state LOW <-> hard")[0].title == "Host state low ⇄ hard"
    with pytest.raises(InputError, match=r"has 1 chapter named 'Overcommitted' \(expected #1\)$"):
        render.find_chapter(tl, "Overcommitted#2")
    with pytest.raises(InputError, match=r"^--chapter: .* has no chapters \(the tours have them\)"):
        render.find_chapter(Timeline(scenario.load("default")), "anything")


def test_a_chapter_the_run_never_reaches_is_one_line():
    """A comparison's --compare-set duration=20 may leave a tour's chapters past its end: one
    line names when the chapter begins and when the run ends (the still drew the run's end
    under that chapter's caption)."""
    from vmmemviz.model.config import compare
    _, sc, _ = compare.pair(scenario.load("tps"), ["duration=20"])
    late = next(c for c in sc.chapters if c.at >= 20)
    with pytest.raises(InputError, match=rf"^--chapter: '{late.title}' begins at {late.at} s, after the last second"):
        render.find_chapter(Timeline(sc), late.title)


def test_an_animation_footer_names_the_chapter_as_the_window_does(qapp, overcommit):
    """The footer named only the authored chapter: over a host state change it said
    'Overcommitted' where the window's chapter line said 'Overcommitted · Host state clear'."""
    tl, ch = overcommit
    first = next(p for p, t, _ in ch.summary() if t == "Host state clear")
    stage = render.Stage(scenario.load("overcommit"))
    stage.tl.ensure(first + 1)                     # as an export of --range simulates: that far only
    for pos in (first - 1, first):
        assert stage.show(pos).chapter.title == ch.at(pos).title      # what the footer names
    assert ch.at(first).title == "Overcommitted · Host state clear" and ch.at(first - 1).title == "Overcommitted"


def test_a_comparison_names_run_a_s_chapter_as_the_window_does(qapp):
    """Its caption and footers named only the authored chapter of the second."""
    from vmmemviz.model.config import compare
    a, b, what = compare.pair(scenario.load("compare-idletax"))
    stage = XC.CompareStage(a, b, what)
    stage.show(15)
    pos = stage.frames[0].pos
    own = Chapters.of(stage.ta).at(pos)
    assert "Host state" in own.title and stage.caption().startswith(f"{own.title}: ")
