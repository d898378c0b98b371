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

import tomllib

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable

from vmmemviz.errors import InputError
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.config import settings as S
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
    """What run B changes, in words: ``Mem.ShareForceSalting = 0, vm.tools = false``."""
    return ", ".join(" = ".join(p.strip() for p in c.text.split("=", 1)) for c in changes)


LABEL_KEYS = 3          # more keys differ than this: run A is named by its scenario's name


def _said(v) -> str:
    """A value as a change writes it: ``0``, ``false``, ``shadow``; ``unset`` for no value."""
    return "unset" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def _keys(text: str) -> tuple[list, dict]:
    """A scenario text's VM names and every key a change can name, with its value there or
    its default (``Mem.ShareForceSalting``, ``host.memory_mb``, ``vm[web01].mmu``, ...)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return [], {}
    out = {k: doc.get(k, SC.SCHEMA[k].default) for k in SC._TOP if k not in ("name", "description")}
    out |= {f"host.{k}": doc.get("host", {}).get(k, key.default) for k, key in SC.HOST.items()}
    out |= S.defaults(S.HOST_SETTINGS) | doc.get("settings", {})
    vms = [vm for vm in doc.get("vm", []) if isinstance(vm, dict)]
    for vm in vms:
        name = vm.get("name")
        out |= {f"vm[{name}].{k}": vm.get(k, key.default) for k, key in SC.VM.items()
                if key.kind not in ("tables", "settings") and k not in ("name", "count")}
        out |= {f"vm[{name}].{k}": v for k, v in (S.defaults(S.VM_SETTINGS) | vm.get("settings", {})).items()}
    return [vm.get("name") for vm in vms], out


def _differing(a_text: str, b_text: str) -> dict | None:
    """The keys whose values differ from run A to run B, with run A's value; a key that
    differs in every VM alike is said once (``vm.tools``, ``sched.mem.pshare.enable``).
    None when the runs have other VMs."""
    names_a, ka = _keys(a_text)
    names_b, kb = _keys(b_text)
    if names_a != names_b:
        return None
    out, per_vm = {}, {}
    for k, v in ka.items():
        if kb.get(k, v) != v:
            if k.startswith("vm["):
                name, key = k[3:].split("].", 1)
                per_vm.setdefault(key, {})[name] = v
            else:
                out[k] = v
    for key, vals in per_vm.items():
        if len(vals) == len(names_a) and len(set(map(repr, vals.values()))) == 1:
            out[key if key in S.VM_SETTINGS else f"vm.{key}"] = next(iter(vals.values()))
        else:
            out |= {f"vm[{name}].{key}": v for name, v in vals.items()}
    return out


def run_labels(a: SC.Scenario, b: SC.Scenario, what: str) -> tuple[str, str]:
    """What runs A and B are, for the window's compare heads, compare figures and ``run``
    tables: run B is ``what`` (its changes, a tour's title, another scenario's name); run A
    is named by the same settings' values in A (``Mem.ShareForceSalting = 0``), or by its
    scenario's name when the runs differ in more than a few keys, in none, or in their VMs.
    Read from the two texts, so a session (which keeps run B's text) says the same."""
    diff = _differing(a.text, b.text)
    if not diff or len(diff) > LABEL_KEYS:
        return a.name, what
    keys = sorted(diff, key=lambda k: (what.find(k) % (len(what) + 1), k))    # in B's order
    return ", ".join(f"{k} = {_said(diff[k])}" for k in keys), what


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
