"""Session files (``.vmmemviz``, TOML): a scenario embedded, a position, the view, the
selection and the filters, so a window or a figure can be made again exactly.

::

    format = 1                       # refused if newer than this vmmemviz reads
    [scenario]
    name = "Two web servers"
    text = '''...'''                 # run A: the scenario's whole TOML text
    [compare]                        # optional: run B
    sets = ["Mem.ShareForceSalting=0"]   # KEY=VALUE changes of run A (model/config/compare.py)
    # or: name = "...", text = '''...'''  (another scenario, embedded)
    [position]
    event = 120                      # events applied (0 = before the first)
    tick = 35                        # its simulated second: a figure refuses a run that drifted
    [view]
    theme = "light"
    aspect = 1.6                     # width / height the window laid the picture out for
    x0 = 0.0                         # the part of the picture in view (zoom and pan), as
    y0 = 0.0                         #   fractions of it; 0, 0, 1, 1 is all of it
    x1 = 1.0
    y1 = 1.0
    band = "gp.0"                    # optional: one band only
    empty_stores = true
    panels = ["events", "counters"]
    [figure]                         # how `vmmemviz export FILE.vmmemviz` draws it
    title = ""
    legend = true
    caption = false
    transparent = false
    scale = 1
    width = 1280                     # optional, with height: the figure's size
    [selection]                      # optional: the inspected page
    layer = "gp"
    vm = 0                           # not for mp pages
    proc = 0                         # gv pages only
    index = 17
    [filters]
    groups = ["tps", "swap"]         # optional: the event groups shown (default all)
    text = "share"

TOML, not JSON: scenarios are TOML, so the embedded text stays a readable multi-line
string a writer can edit (JSON would be one line of escapes), and comments are allowed.
Every key is declared in ``SCHEMA`` and checked by the scenarios' ``_Check``; a bad file
is one line naming the file, the key and what was expected (docs/sessions.md).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import tomlkit

from vmmemviz.errors import InputError
from vmmemviz.model.config import compare as CMP
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.config.scenario import Key, _Check
from vmmemviz.model.core import events as E

FORMAT = 1
SUFFIX = ".vmmemviz"
MAX_FILE = 2 * SC.MAX_FILE + (1 << 20)    # two embedded scenarios and the rest
MAX_EVENTS = 1 << 48                      # far more than a day-long run makes
PANELS = ("events", "inspector", "counters", "plots")
GROUPS = tuple(E.GROUP_TITLES)                 # the event groups (events.py)
ASPECTS = (0.2, 10.0)                     # the widest and tallest picture a window lays out


def _frac(help, default):
    return Key("mb", help, default, -1, 2, "a fraction of the picture, a little beyond it when panned")


SCENARIO = {
    "name": Key("str", "the scenario's name (the window's title)", None),
    "text": Key("str", "the scenario's TOML text"),
}
COMPARE = {
    "sets": Key("changes", "KEY=VALUE changes that make run B from run A", None, 1, SC.MAX_CHANGES,
                "changes of one compare"),
    "name": Key("str", "run B's name", None),
    "text": Key("str", "run B's scenario TOML text (compare with another scenario)", None),
}
POSITION = {
    "event": Key("int", "events applied (0 = before the first)", 0, 0, MAX_EVENTS,
                 "far more events than a day-long run makes"),
    "tick": Key("int", "the simulated second of that event", None, 0, SC.MAX_TICKS,
                "one simulated day, the longest run"),
}
VIEW = {
    "theme": Key("choice", "the colours", "light", choices=("light", "dark")),
    "aspect": Key("mb", "width / height the picture was laid out for", None, *ASPECTS,
                  "the shapes a window lays out"),
    "x0": _frac("left edge of the part in view", 0.0),
    "y0": _frac("top edge of the part in view", 0.0),
    "x1": _frac("right edge of the part in view", 1.0),
    "y1": _frac("bottom edge of the part in view", 1.0),
    "band": Key("name", "one band only: mp, gp.0, gv.0.1, ...", None),
    "empty_stores": Key("bool", "show backing stores that hold nothing", True),
    "panels": Key("strs", "the panels open", list(PANELS), 0, len(PANELS), choices=PANELS),
}
FIGURE = {
    "title": Key("str", "a title above the picture", ""),
    "legend": Key("bool", "the legend", True),
    "caption": Key("bool", "the event's narration under the picture", False),
    "transparent": Key("bool", "no background", False),
    "scale": Key("mb", "PNG pixels per figure pixel", 1.0, 1, 4, "the export's scales"),
    "width": Key("int", "figure width in pixels", None, 200, 8000, "the export's sizes"),
    "height": Key("int", "figure height in pixels", None, 200, 8000, "the export's sizes"),
}
SELECTION = {
    "layer": Key("name", "the page's layer: gv, gp, mp or a store"),
    "vm": Key("int", "the VM's index (not for mp pages)", None, 0, SC.MAX_VMS, "the VMs of one host"),
    "proc": Key("int", "the process's index (gv pages)", None, 0, SC.MAX_PROCS, "the processes of one VM"),
    "index": Key("int", "the page's number in its layer", lo=0, hi=MAX_EVENTS, limit="a 48-bit page number"),
}
FILTERS = {
    "groups": Key("strs", "the event groups the list shows", None, 0, len(GROUPS), choices=GROUPS),
    "text": Key("str", "the event search text", ""),
}
SCHEMA = {
    "format": Key("int", f"the session format, {FORMAT}", lo=1, hi=FORMAT,
                  limit="the format this vmmemviz reads"),
    "scenario": Key("table", "a [scenario] table with the scenario's text", fields=SCENARIO),
    "compare": Key("table", "a [compare] table: run B", None, fields=COMPARE),
    "position": Key("table", "a [position] table", {}, fields=POSITION),
    "view": Key("table", "a [view] table", {}, fields=VIEW),
    "figure": Key("table", "a [figure] table", {}, fields=FIGURE),
    "selection": Key("table", "a [selection] table: the inspected page", None, fields=SELECTION),
    "filters": Key("table", "a [filters] table", {}, fields=FILTERS),
}


def _defaults(schema: dict) -> dict:
    return {k: copy.copy(s.default) for k, s in schema.items()}


@dataclass
class Session:
    """A session's values; ``a`` / ``b`` are the runs, parsed (``b`` None without compare)."""

    text: str                                    # run A's scenario TOML
    name: str | None = None
    compare: dict | None = None                  # COMPARE's keys
    position: dict = field(default_factory=lambda: _defaults(POSITION))
    view: dict = field(default_factory=lambda: _defaults(VIEW))
    figure: dict = field(default_factory=lambda: _defaults(FIGURE))
    selection: dict | None = None                # SELECTION's keys
    filters: dict = field(default_factory=lambda: _defaults(FILTERS))
    src: str = "<session>"
    a: SC.Scenario | None = None
    b: SC.Scenario | None = None
    label: str = ""                              # what run B is

    @property
    def event(self) -> int:
        return self.position["event"]

    @property
    def ref(self) -> tuple | None:
        """The selection as a page reference (layer, vm, proc, index)."""
        s = self.selection
        return None if s is None else (s["layer"], s["vm"], s["proc"], s["index"])

    def region(self) -> tuple | None:
        """(x0, y0, x1, y1) of the picture in view, or None for all of it."""
        r = tuple(self.view[k] for k in ("x0", "y0", "x1", "y1"))
        return None if r == (0.0, 0.0, 1.0, 1.0) else r


def _check_rules(ck: _Check, s: Session) -> None:
    c = s.compare
    if c is not None and (c["sets"] is None) == (c["text"] is None):
        raise InputError(f"{ck.src}: compare: expected sets (KEY=VALUE changes) or text (run B's "
                         f"scenario), not both and not neither")
    v = s.view
    for a, b in (("x0", "x1"), ("y0", "y1")):
        if not v[a] < v[b]:
            raise ck.fail(f"view.{b}", f"a number greater than view.{a} ({v[a]:g})", v[b])
    if s.selection is not None and s.selection["layer"] == "gv" and s.selection["proc"] is None:
        raise InputError(f"{ck.src}: selection.proc: expected the process's index for a gv page, got no proc key")


def _runs(s: Session) -> None:
    """Parse the embedded scenarios (their errors name the session and the key); runs A and B
    must fit this machine together, as a comparison simulates both (``pair_fits_machine``)."""
    s.a = SC.parse(s.text, f"{s.src}: scenario.text")
    s.a.path = s.src                   # where it came from (the window's recent files, figure names)
    if s.name is not None:
        s.a.name = s.name
    c = s.compare
    if c is None:
        return
    if c["sets"]:
        changes = [CMP.parse_change(x) for x in c["sets"]]       # checked by the schema
        s.b, s.label = CMP.apply(s.text, changes, f"{s.src}: scenario.text"), CMP.label(changes)
        s.b.name = s.a.name
    else:
        s.b = SC.parse(c["text"], f"{s.src}: compare.text")
        if c["name"] is not None:
            s.b.name = c["name"]
        s.label = s.b.name
    SC.pair_fits_machine(s.src, s.a, s.b)


def parse(text: str, src: str = "<session>") -> Session:
    """A session document -> Session (its scenarios parsed); InputError (one line) if bad."""
    doc = SC.toml(text, src)
    fmt = doc.get("format")
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
        raise InputError(f"{src}: format: this session is format {fmt}, written by a newer vmmemviz; "
                         f"this one reads format {FORMAT} (update vmmemviz to open it)")
    ck = _Check(src)
    d = ck.table("", SCHEMA, doc)
    for k, spec in SCHEMA.items():          # a table left out: its keys' defaults
        if spec.kind == "table" and k not in doc and spec.default is not None:
            d[k] = ck.table(k, spec.fields, {})
    s = Session(text=d["scenario"]["text"], name=d["scenario"]["name"], compare=d["compare"],
                position=d["position"], view=d["view"], figure=d["figure"], selection=d["selection"],
                filters=d["filters"], src=src)
    _check_rules(ck, s)
    _runs(s)
    return s


def load(path) -> Session:
    text = SC.read_text(path, MAX_FILE, "a session", "(two embedded scenarios)", "no such session file")
    return parse(text, str(path))


def is_session(path) -> bool:
    return str(path).lower().endswith(SUFFIX)


def _table(values: dict, schema: dict):
    t = tomlkit.table()
    for k in schema:
        v = values.get(k)
        if v is None:
            continue            # TOML has no null: a missing key is its default
        if isinstance(v, str) and "\n" in v:
            v = tomlkit.string(v, multiline=True)
        elif isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{k}: {v} is not a finite number")
        t[k] = list(v) if isinstance(v, (list, tuple, frozenset, set)) else v
    return t


def dumps(s: Session) -> str:
    """The session as TOML; ``parse(dumps(s))`` gives the same values back."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("vmmemviz session: open with vmmemviz FILE.vmmemviz; "
                            "vmmemviz export FILE.vmmemviz --format png --out FIG.png"))
    doc["format"] = FORMAT
    doc["scenario"] = _table({"name": s.name, "text": s.text}, SCENARIO)
    for key in ("compare", "position", "view", "figure", "selection", "filters"):
        values = getattr(s, key)
        if values is not None:
            doc[key] = _table(values, SCHEMA[key].fields)
    return tomlkit.dumps(doc)
