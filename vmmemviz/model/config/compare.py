"""Two runs side by side: run B is run A's scenario with ``KEY=VALUE`` changes, or another file.

A change names a key the way scenario errors name it::

    Mem.ShareForceSalting=0        a host setting ([settings]; Mem.*, LPage.*, Sim.*)
    sched.mem.pshare.enable=false  a VM setting, in every VM ([vm.settings])
    host.memory_mb=4096            a [host] key
    seed=7  duration=300           a top-level key
    vm.tools=false                 a [[vm]] key in every VM (also vm[*].tools)
    vm[web01].mmu=shadow           ... in the VM whose name (or count pattern) is web01
    vm[web01].sched.mem.maxmemctl=0

The value is a TOML value (``0``, ``false``, ``"shadow"``); a bare word is a string
(``shadow``); nothing (``KEY=``) removes the key, back to its default. The edited text keeps
everything else as written (tomlkit) and must parse as a scenario, so a bad value gets the
scenario's own one-line error, named after the change.
"""
from __future__ import annotations

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable

from vmmemviz.errors import InputError
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.config.scenario import Change, parse_change  # noqa: F401 (the grammar of a key is the schema's)


def _put(table, key: str, value) -> None:
    if value is None:
        if key in table:
            del table[key]
    else:
        table[key] = value


def _sub(parent, name: str):
    """``parent``'s table ``name``, made when missing: inline in an inline table (``vm =
    [{name = "a", ...}]``), which cannot hold a table of the other kind."""
    if name not in parent:
        parent[name] = tomlkit.inline_table() if isinstance(parent, InlineTable) else tomlkit.table()
    return parent[name]


def _put_setting(parent, key: str, value) -> None:
    """``key`` in ``parent``'s settings table; a table emptied by an unset goes too."""
    _put(_sub(parent, "settings"), key, value)
    if not parent["settings"]:
        del parent["settings"]


def apply_text(text: str, changes: list[Change], src: str = "<scenario>") -> str:
    """The scenario ``text`` with ``changes`` made, everything else as written (not parsed)."""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise InputError(f"{src}: not valid TOML ({e})") from None
    for ch in changes:
        try:
            _change(doc, ch, src)
        except (TOMLKitError, ValueError, TypeError) as e:     # a layout tomlkit cannot edit
            raise InputError(f"{src}: {ch.text}: cannot be made in this file's TOML ({e})") from None
    return tomlkit.dumps(doc)


def _change(doc, ch: Change, src: str) -> None:
    if ch.table in ("", "host"):
        _put(doc if not ch.table else _sub(doc, ch.table), ch.key, ch.value)
    elif ch.table == "settings":
        _put_setting(doc, ch.key, ch.value)
    else:
        vms = [vm for vm in doc.get("vm", []) if isinstance(vm, dict) and ch.vm in ("*", vm.get("name"))]
        if not vms:
            names = ", ".join(str(vm.get("name")) for vm in doc.get("vm", []) if isinstance(vm, dict))
            raise InputError(f"{src}: {ch.text}: no VM named {ch.vm!r} (VMs: {names})")
        for vm in vms:
            (_put if ch.table == "vm" else _put_setting)(vm, ch.key, ch.value)


def apply(text: str, changes: list[Change], src: str = "<scenario>") -> SC.Scenario:
    """The scenario ``text`` with ``changes`` made, parsed (errors name the change)."""
    return SC.parse(apply_text(text, changes, src), f"{src} with {', '.join(c.text for c in changes)}")


def label(changes: list[Change]) -> str:
    """What run B changes, in words: ``Mem.ShareForceSalting=0, vm.tools=false``."""
    return ", ".join(c.text.replace(" ", "") for c in changes)


def pair(sc: SC.Scenario, sets: list[str] = (), other: str | None = None) -> tuple[SC.Scenario, SC.Scenario, str]:
    """Runs A and B and what B is (``sets`` changes, or the ``other`` scenario file or name;
    with neither, the scenario's own ``[compare]`` table); both must fit this machine together."""
    a, b, what = _pair(sc, sets, other)
    SC.pair_fits_machine(sc.path or sc.name, a, b)
    return a, b, what


def _pair(sc: SC.Scenario, sets, other) -> tuple[SC.Scenario, SC.Scenario, str]:
    if not sets and not other and sc.compare_sets:
        changes = [parse_change(s, f"{sc.path or sc.name}: compare.set") for s in sc.compare_sets]
        return sc, apply(sc.text, changes, sc.path or sc.name), sc.compare_title or label(changes)
    if bool(sets) == bool(other):
        raise InputError("compare: expected --compare-set KEY=VALUE (one or more) or --compare OTHER.toml, "
                         "not both and not neither")
    if other:
        b = SC.load(other)
        return sc, b, b.name
    changes = [parse_change(s) for s in sets]
    return sc, apply(sc.text, changes, sc.path or sc.name), label(changes)


def _numbers(row: dict) -> dict:
    return {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def delta(a: dict, b: dict) -> dict:
    """B minus A for every number both counter sets have: ``{"host": {...}, "vms": {name: {...}}}``
    (VMs in both runs; sizes stay in MB, rounded like the counters)."""
    def d(x: dict, y: dict) -> dict:
        x, y = _numbers(x), _numbers(y)
        return {k: round(y[k] - x[k], 2) for k in x if k in y}
    return {"host": d(a["host"], b["host"]),
            "vms": {n: d(row, b["vms"][n]) for n, row in a["vms"].items() if n in b["vms"]}}
