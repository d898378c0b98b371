"""Session files: the format round-trips, is versioned, and refuses bad input in one line."""
from __future__ import annotations

import os
import random
import re

import pytest

from vmmemviz.errors import InputError
from vmmemviz.export.session import save
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.config import session as SS


@pytest.fixture(scope="module")
def text():
    return SC.load("default").text


def full(text) -> SS.Session:
    return SS.Session(
        text=text, name="Shown name", compare={"sets": ["Mem.ShareForceSalting=0", "vm.tools=false"],
                                               "name": None, "text": None},
        position={"event": 40, "tick": 3},
        view={"theme": "dark", "aspect": 1.7, "x0": 0.1, "y0": 0.2, "x1": 0.6, "y1": 0.7, "band": "gp.0",
              "empty_stores": False, "panels": ["events", "plots"]},
        figure={"title": 'A "title" with \\ and """', "legend": False, "caption": True, "transparent": True,
                "scale": 2.0, "width": 900, "height": 700},
        selection={"layer": "gv", "vm": 1, "proc": 0, "index": 5},
        filters={"groups": ["tps", "swap"], "text": "share"})


def test_a_session_round_trips(tmp_path, text):
    s = full(text + '\n# a comment with """ and \\ and \'\'\'\n')
    p = tmp_path / "s.vmmemviz"
    save(p, s)
    back = SS.load(p)
    for k in ("text", "name", "compare", "position", "view", "figure", "selection", "filters"):
        assert getattr(back, k) == getattr(s, k), k
    assert back.a.name == "Shown name" and back.b is not None and back.label == "Mem.ShareForceSalting = 0, vm.tools = false"
    assert back.b.settings["Mem.ShareForceSalting"] == 0 and not back.b.vms[0].tools
    assert back.ref == ("gv", 1, 0, 5) and back.region() == (0.1, 0.2, 0.6, 0.7)
    assert [p.name for p in tmp_path.iterdir()] == ["s.vmmemviz"]       # no temp file left


def test_defaults_fill_a_minimal_session(text):
    s = SS.parse(SS.dumps(SS.Session(text=text)).replace("[view]", "[view]\n"), "m.vmmemviz")
    minimal = SS.parse(f"format = 1\n[scenario]\ntext = '''{text}'''\n", "m.vmmemviz")
    assert minimal.view == s.view and minimal.figure == s.figure and minimal.position == {"event": 0, "tick": None}
    assert minimal.b is None and minimal.region() is None and minimal.ref is None


def test_a_newer_format_is_refused_in_one_clear_line(text):
    with pytest.raises(InputError) as e:
        SS.parse(f"format = 2\n[scenario]\ntext = '''{text}'''\n", "new.vmmemviz")
    assert str(e.value) == ("new.vmmemviz: format: this session is format 2, written by a newer vmmemviz; "
                            "this one reads format 1 (update vmmemviz to open it)")


BAD = [
    ("format = 0", "format: expected an integer from 1 to 1"),
    ("format = true", "format: expected an integer"),
    ("[position]\nevent = -1", "position.event: expected an integer from 0"),
    ("[position]\nevent = 1e400", "position.event: expected an integer"),
    ("[position]\nevent = 99999999999999999999", "position.event: expected an integer from 0 to"),
    ("[position]\nevent = 1_000_000_000_000_000", "position.event: expected an integer from 0 to"),
    ("[position]\ntick = 86401", "position.tick: expected an integer from 0 to 86,400"),
    ("[view]\naspect = nan", "view.aspect: expected a number from 0.2 to 10"),
    ("[view]\nx0 = inf", "view.x0: expected a number"),
    ("[view]\nx0 = 0.5\nx1 = 0.5", "view.x1: expected a number greater than view.x0 (0.5), got 0.5"),
    ("[view]\ntheme = 'pink'", "view.theme: expected one of light, dark, got 'pink'"),
    ("[view]\npanels = ['events', 'radar']", "view.panels: expected an array of at most 4 strings, each one of"),
    ("[view]\npanels = 'events'", "view.panels: expected an array"),
    ("[view]\nband = ''", "view.band: expected a name of 1 to 80 printable characters"),
    ("[figure]\nscale = 5", "figure.scale: expected a number from 1 to 4"),
    ("[figure]\nwidth = 100", "figure.width: expected an integer from 200 to 8,000"),
    ("[figure]\nlegend = 'yes'", "figure.legend: expected true or false"),
    ("[filters]\ngroups = ['tps', 1]", "filters.groups: expected an array"),
    ("[selection]\nlayer = 'gv'\nindex = 3", "selection.proc: expected the process's index for a gv page"),
    ("[selection]\nlayer = 'gp'", "selection.index: expected the page's number in its layer, got no index key"),
    ("[compare]\nsets = ['Nope.Key=1']", "compare.sets[0] 'Nope.Key=1': unknown key 'Nope.Key'"),
    ("[compare]\nsets = []", "compare.sets: expected a list of \"KEY=VALUE\" strings, from 1 to 100"),
    ("[compare]\nsets = ['Mem.ShareForceSalting=7']", "with Mem.ShareForceSalting=7: settings"),
    ("[compare]\n", "compare: expected sets (KEY=VALUE changes) or text"),
    ("[compare]\ntext = 'x = 1'", "compare.text: x: unknown key"),
    ("[comparison]\nsets = []", "comparison: unknown key (expected one of format, scenario"),
    ("view = 3", "view: expected a table, got 3"),
]


@pytest.mark.parametrize("extra, message", BAD)
def test_bad_sessions_are_one_line_naming_file_and_key(text, extra, message):
    top, tables = ("", extra) if extra.startswith("[") else (extra, "")
    if "format" not in top:
        top = "format = 1\n" + top
    doc = f"{top}\n[scenario]\ntext = '''{text}'''\n{tables}\n"
    with pytest.raises(InputError) as e:
        SS.parse(doc, "bad.vmmemviz")
    msg = str(e.value)
    assert msg.startswith("bad.vmmemviz") and "\n" not in msg and message in msg, msg


def test_a_bad_embedded_scenario_names_the_session_and_key():
    with pytest.raises(InputError, match=r"^bad\.vmmemviz: scenario\.text: host: expected a \[host\] table"):
        SS.parse("format = 1\n[scenario]\ntext = 'seed = 1'\n", "bad.vmmemviz")


def test_files_that_are_not_sessions(tmp_path, text):
    fifo = tmp_path / "f.vmmemviz"
    os.mkfifo(fifo)
    latin = tmp_path / "l.vmmemviz"
    latin.write_bytes(b"format = 1\n# caf\xe9\n")
    huge = tmp_path / "h.vmmemviz"
    with open(huge, "wb") as f:
        f.truncate(SS.MAX_FILE + 1)
    cut = tmp_path / "c.vmmemviz"
    cut.write_text(SS.dumps(SS.Session(text=text))[:200])
    for p, why in ((fifo, "expected a regular file, got a FIFO"), (tmp_path, "expected a regular file, got a directory"),
                   (latin, "line 2, column 6: expected UTF-8 text, got the byte 0xe9"), (huge, "size: expected a session of at most 33 MB"),
                   (cut, "not valid TOML"), (tmp_path / "none.vmmemviz", "no such session file")):
        with pytest.raises(InputError) as e:
            SS.load(p)
        assert str(e.value).startswith(str(p)) and why in str(e.value), str(e.value)


def _mutate(rng: random.Random, doc: str) -> str:
    """One random edit: a byte flipped, a span cut or repeated, a value replaced by another type."""
    i = rng.randrange(len(doc))
    k = rng.randrange(5)
    if k == 0:
        return doc[:i] + chr(rng.randrange(32, 0x3000)) + doc[i + 1:]
    if k == 1:
        return doc[:i] + doc[i + rng.randrange(1, 80):]
    if k == 2:
        return doc[:i]
    if k == 3:
        j = min(len(doc), i + rng.randrange(1, 200))
        return doc[:j] + doc[i:j] + doc[j:]
    values = ["nan", "-inf", "1e308", "-1", "9223372036854775807", "true", "'x'", "[]", "{}", '""', "[1, 'a']"]
    return re.sub(r"= [^\n]*", lambda m: f"= {rng.choice(values)}" if rng.random() < 0.15 else m.group(0), doc)


def test_mutated_sessions_fail_only_with_input_error(text):
    good = SS.dumps(full(text))
    rng = random.Random(14)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(300):
        doc = good
        for _ in range(rng.randrange(1, 4)):
            doc = _mutate(rng, doc)
        try:
            SS.parse(doc, "fuzz.vmmemviz")
            outcomes["ok"] += 1
        except InputError as e:
            assert "\n" not in str(e) and str(e).startswith("fuzz.vmmemviz")
            outcomes["refused"] += 1
    assert outcomes["refused"] > 100 and outcomes["ok"] > 0, outcomes
