"""Arrows of the current event(s), read from the event rows and the state after them.

An arrow joins a page range of one band to a page range of another: translation
GV -> GP -> MP and the TLB / shadow / EPT shortcut GV -> MP (labelled with the walk cost),
backing GP -> MP, sharing GP -> shared MP, balloon (GP pinned, its MP freed), and flows
between machine memory and a store (swap, compression, guest paging: drawn with moving
dots). A "mark" outlines a range (power-on overhead, freed pages, large-page groups).
A kind that moves content declares its arrow (``Kind.src`` -> ``Kind.dst``, ``Kind.flow``);
the others are read by their group and the columns they fill, so new mechanisms get arrows
without changes here; ``BY_KIND`` reads the few whose columns carry more (a TPS partner).
The arrows of a step of many events (playing fast, host scale) are bundled per band region.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vmmemviz.model.core import events as E
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.core.events import F_RANGE, F_TLB_HIT, NONE
from vmmemviz.model.guest.mmu import walk_refs
from . import bands as B

BUNDLE_AT = 2000
REGIONS = 16              # regions per band when bundling (a step of many events)
PAGE_COLUMNS = {"gv": "gvpn", "gp": "gppn", "mp": "mpn"}      # a page layer -> the row column naming it


@dataclass(frozen=True)
class Arrow:
    kind: str            # translate, shortcut, back, share, balloon, swap, zip, gswap, mark, split, chain
    src: tuple           # (band key, lo, hi): pages lo..hi-1
    dst: tuple
    label: str = ""
    count: int = 1
    flow: bool = False   # content moving between memory and a store (drawn with moving dots)


def band_key(ref: tuple) -> str:
    layer, vm, proc, _ = ref
    if layer == "gv":
        return f"gv.{vm}.{proc}"
    if layer == "mp":
        return "mp"
    return B.store_key(layer, vm)


def _one(key, i, n=1):
    return (key, int(i), int(i) + int(n))


def _mark(key, i, n=1, label=""):
    r = _one(key, i, n)
    return Arrow("mark", r, r, label, int(n))


def _runs(a: np.ndarray, b: np.ndarray):
    """Split paired index arrays into runs where both are consecutive: (a0, b0, n)."""
    if len(a) == 0:
        return []
    cut = np.flatnonzero((np.diff(a) != 1) | (np.diff(b) != 1)) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut, [len(a)]))
    return [(int(a[s]), int(b[s]), int(e - s)) for s, e in zip(starts, ends)]


def _tps_share(row, n):
    """Both sharers into the kept MPN (the partner is ``proc``/``gvpn``: VM and GPPN); the
    MPN it freed is outlined."""
    mp = _one("mp", row["mpn"])
    out = [Arrow("share", _one(f"gp.{int(row['vm'])}", row["gppn"]), mp, "shared")]
    if int(row["gvpn"]) != int(NONE):
        out.append(Arrow("share", _one(f"gp.{int(row['proc'])}", row["gvpn"]), mp))
    if int(row["slot"]) != int(NONE):
        out.append(_mark("mp", row["slot"]))
    return out


def _tps_cow(row, n):
    """A write to a shared page: the GPPN gets a private copy; the shared MPN is outlined."""
    return [Arrow("back", _one(f"gp.{int(row['vm'])}", row["gppn"]), _one("mp", row["mpn"]), "copy on write"),
            _mark("mp", row["slot"])]


def _zip_evict(row, n):
    """The oldest compressed page goes from its cache slot to a slot (``aux``) of the store its
    kind writes (the .vswp, or the host cache while it has room)."""
    v, to = int(row["vm"]), E.KINDS[int(row["kind"])].dst
    return [Arrow("swap", _one(B.store_key("zip", v), row["slot"]), _one(B.store_key(to, v), row["aux"]),
                  f"cache full: to {'.vswp' if to == 'vswp' else 'the host cache'}", flow=True)]


def _scan(row, n):
    """TPS hashed a page: outline it in both layers, no arrow (nothing moved)."""
    return [_mark(f"gp.{int(row['vm'])}", row["gppn"]), _mark("mp", row["mpn"])]


def _large_break(row, n):
    """The 2 MB range splits (drawn as a "split": tinted, its small pages appearing)."""
    key, i = ("mp", row["mpn"]) if int(row["mpn"]) != int(NONE) else (f"gp.{int(row['vm'])}", row["gppn"])
    r = _one(key, i, n)
    return [Arrow("split", r, r, "large page broken into 4 KB pages", int(n))]


# kinds whose columns mean more than the generic reading below can know
BY_KIND = {"TPS_SHARE": _tps_share, "TPS_COW": _tps_cow, "TPS_HINT": _scan, "ZIP_EVICT": _zip_evict,
           "ZIP_EVICT_LL": _zip_evict, "LP_BREAK": _large_break}


def row_arrows(row, state) -> list:
    """Arrows of one event row, given the state after it."""
    k = E.KINDS[int(row["kind"])]
    if k.name in BY_KIND:
        return BY_KIND[k.name](row, int(row["aux"]) if row["flags"] & F_RANGE else 1)
    g = k.group
    vmi, proc = int(row["vm"]), int(row["proc"])
    has = {c: int(row[c]) != int(NONE) for c in ("gvpn", "gppn", "mpn", "slot")}
    n = int(row["aux"]) if row["flags"] & F_RANGE else 1
    gv, gp, mp = f"gv.{vmi}.{proc}", f"gp.{vmi}", "mp"
    vm = state.vms[vmi] if vmi < len(state.vms) else None
    if g == "access" and has["gvpn"] and has["gppn"] and has["mpn"]:
        if row["flags"] & F_TLB_HIT:
            label = "TLB hit"
        elif vm is not None and vm.cfg.mmu == "shadow":
            label = f"shadow page table: {int(row['aux'])} refs"
        else:
            label = f"EPT 2-D walk: {int(row['aux'])} refs (native {walk_refs('shadow', False)})"
        return [Arrow("translate", _one(gv, row["gvpn"]), _one(gp, row["gppn"])),
                Arrow("translate", _one(gp, row["gppn"]), _one(mp, row["mpn"])),
                Arrow("shortcut", _one(gv, row["gvpn"]), _one(mp, row["mpn"]), label)]
    if k.flow:
        bands = {"gv": gv, "gp": gp, "mp": mp}
        ends = [_end(layer, row, has, bands, vmi, n) for layer in (k.src, k.dst)]
        if None in ends:
            return [_mark(*e[:2], n) for e in ends if e is not None]
        return [Arrow(k.flow, ends[0], ends[1], count=n, flow=True)]
    if g == "balloon" and has["gppn"]:
        out = [Arrow("balloon", _one(gp, row["gppn"], n), _one(mp, row["mpn"], n), "pinned: MPN freed", n)
               if has["mpn"] else _mark(gp, row["gppn"], n)]
        return out
    if g == "tps" and has["gppn"] and has["mpn"]:
        return [Arrow("share", _one(gp, row["gppn"], n), _one(mp, row["mpn"]), "shared", n)]
    if has["gvpn"] and vm is not None and proc < len(vm.procs):
        p = vm.procs[proc]
        v0 = int(row["gvpn"])
        span = int(row["aux"]) if g == "guest" else n
        gvs = np.arange(v0, min(v0 + max(span, 1), p.vpages))
        live = gvs[p.pt_state[gvs] == G.RESIDENT]
        if len(live):
            return [Arrow("translate", _one(gv, a), _one(gp, b, m), count=m)
                    for a, b, m in _runs(live, p.pt[live].astype(np.int64))]
        return [_mark(gv, v0, len(gvs))]
    if has["gppn"] and has["mpn"]:
        return [Arrow("back", _one(gp, row["gppn"], n), _one(mp, row["mpn"], n), count=n)]
    if has["mpn"]:
        size = int(row["aux"]) if g == "core" else n
        return [_mark(mp, row["mpn"], max(size, 1))]
    if has["gppn"]:
        return [_mark(gp, row["gppn"], n)]
    return []


def _end(layer: str, row, has: dict, bands: dict, vmi: int, n: int):
    """One end of a declared flow: the page the row names in a page layer (else the machine
    or guest physical page it names), or the slot in a store's band."""
    if layer not in PAGE_COLUMNS:
        return _one(B.store_key(layer, vmi), row["slot"], n) if has["slot"] else None
    for lay in (layer, "mp", "gp"):
        if has[PAGE_COLUMNS[lay]]:
            return _one(bands[lay], row[PAGE_COLUMNS[lay]], n)
    return None


def event_arrows(rows: np.ndarray, state, bands) -> tuple:
    """Arrows of ``rows`` (the events of one step), bundled past BUNDLE_AT. Stepping many at
    once, the translations of the accesses and the backings of single GPPNs (most rows while
    playing) are bundled as arrays."""
    rows = rows[-BUNDLE_AT:]
    names = rows.dtype.names
    if len(rows) <= 1:
        out = row_arrows(dict(zip(names, rows[0].tolist())), state) if len(rows) else []
        return tuple(bundle(out, bands) if len(out) > BUNDLE_AT // 4 else out)
    named = (rows["gppn"] != NONE) & (rows["mpn"] != NONE) & (rows["vm"] < len(state.vms))
    walked = _ACCESS[rows["kind"]] & (rows["gvpn"] != NONE) & named
    backed = _BACKS[rows["kind"]] & (rows["gvpn"] == NONE) & named
    other = np.flatnonzero(~walked & ~backed)
    made = np.zeros(len(rows), np.int64)
    made[walked], made[backed] = 3, 1
    out = []
    for i, r in zip(other.tolist(), rows[other].tolist()):     # plain ints: a numpy row's fields cost 10x
        a = row_arrows(dict(zip(names, r)), state)
        made[i] = len(a)
        out += [((i, j), x) for j, x in enumerate(a)]
    last = int(np.searchsorted(np.cumsum(made), BUNDLE_AT, side="right"))   # the row past BUNDLE_AT arrows ends it
    out = [o for o in out if o[0][0] <= last]
    walked[last + 1:] = backed[last + 1:] = False
    out += _walk_bundles(rows, np.flatnonzero(walked), state, bands)
    idx = np.flatnonzero(backed)
    n = np.where(rows["flags"][idx] & F_RANGE, rows["aux"][idx], 1).astype(np.int64)
    out += _bundled(rows, idx, bands, (("back", "gp", "mp"),), n)
    return tuple(bundle([a for _, a in sorted(out, key=lambda o: o[0])], bands))


_ACCESS = np.zeros(256, bool)
_ACCESS[[c for c, k in E.KINDS.items() if k.group == "access" and k.name not in BY_KIND]] = True
# kinds whose row naming a GPPN and an MPN but no GVPN is one "back" arrow (``row_arrows``)
_BACKS = np.zeros(256, bool)
_BACKS[[c for c, k in E.KINDS.items() if k.name not in BY_KIND and not k.flow and k.group not in ("balloon", "tps")]] = True
WALK = (("translate", "gv", "gp"), ("translate", "gp", "mp"), ("shortcut", "gv", "mp"))


def _walk_bundles(rows, idx, state, bands) -> list:
    """``row_arrows`` of the access rows ``idx`` (GV -> GP -> MP and the shortcut), bundled as
    ``bundle`` does (``_bundled``)."""
    if not len(idx):
        return []
    r = rows[idx]
    shadow = np.array([v.cfg.mmu == "shadow" for v in state.vms], bool)[r["vm"].astype(np.int64)]
    hit = (r["flags"] & F_TLB_HIT) != 0
    refs = r["aux"].astype(np.int64)
    label_id = np.where(hit, -1, np.where(shadow, refs, -2 - refs))       # equal labels, equal ids
    return _bundled(rows, idx, bands, WALK, np.ones(len(idx), np.int64), label_id)


def _bundled(rows, idx, bands, specs, n, label_id=None) -> list:
    """Arrows (kind, source layer, target layer) in ``specs`` of each row ``idx`` from its page
    in one layer to its page in the other, ``n`` pages each, bundled as ``bundle`` does:
    ``((row, arrow), Arrow)`` in the order of each bundle's first arrow; a shortcut's label
    from ``label_id`` where its rows agree."""
    if not len(idx):
        return []
    size = {b.key: max(1, -(-b.count // REGIONS)) for b in bands}
    r = rows[idx]
    vm, proc = r["vm"].astype(np.int64), r["proc"].astype(np.int64)
    pages = {"gv": r["gvpn"].astype(np.int64), "gp": r["gppn"].astype(np.int64), "mp": r["mpn"].astype(np.int64)}
    pair = vm << 8 | proc
    uniq, inv = np.unique(pair, return_inverse=True)
    keys = {q: {"gv": f"gv.{q >> 8}.{q & 255}", "gp": f"gp.{q >> 8}", "mp": "mp"} for q in uniq.tolist()}
    layers = {layer for _, src, dst in specs for layer in (src, dst)}
    sizes = {layer: np.array([size.get(keys[q][layer], 0) for q in uniq.tolist()], np.int64)[inv] for layer in layers}
    out = []
    for sub, (kind, src, dst) in enumerate(specs):
        at = np.flatnonzero((sizes[src] > 0) & (sizes[dst] > 0))
        if not len(at):
            continue
        s, d = pages[src][at], pages[dst][at]
        band = pair[at] if src == "gv" else vm[at] << 8      # the source band (the target's is known from it)
        key = (band * (REGIONS + 1) + s // sizes[src][at]) * (REGIONS + 1) + d // sizes[dst][at]
        order = np.argsort(key, kind="stable")             # stable: a bundle's first arrow first
        starts = np.flatnonzero(np.diff(key[order], prepend=-1))
        first = at[order[starts]]

        def reduce(ufunc, values):
            return ufunc.reduceat(values[order], starts)

        m = n[at]
        s_lo, s_hi = reduce(np.minimum, s), reduce(np.maximum, s + m)
        d_lo, d_hi = reduce(np.minimum, d), reduce(np.maximum, d + m)
        count = reduce(np.add, m)
        same = None
        if kind == "shortcut" and label_id is not None:
            lab = label_id[at]
            same = reduce(np.minimum, lab) == reduce(np.maximum, lab)
        for k, i in enumerate(first.tolist()):
            kb = keys[int(pair[i])]
            label = _walk_label(int(label_id[i])) if same is not None and same[k] else ""
            out.append(((int(idx[i]), sub), Arrow(kind, (kb[src], int(s_lo[k]), int(s_hi[k])),
                                                  (kb[dst], int(d_lo[k]), int(d_hi[k])), label, int(count[k]))))
    return out


def _walk_label(label_id: int) -> str:
    """``row_arrows``' shortcut label from its id in ``_walk_bundles``."""
    if label_id == -1:
        return "TLB hit"
    if label_id >= 0:
        return f"shadow page table: {label_id} refs"
    return f"EPT 2-D walk: {-2 - label_id} refs (native {walk_refs('shadow', False)})"


def bundle(arrows: list, bands) -> list:
    """Merge arrows of the same kind between the same regions of the same bands."""
    size = {b.key: max(1, -(-b.count // REGIONS)) for b in bands}
    groups = {}
    for a in arrows:
        (sk, slo, shi), (dk, dlo, dhi) = a.src, a.dst
        if sk not in size or dk not in size:
            continue
        key = (a.kind, sk, slo // size[sk], dk, dlo // size[dk])
        prev = groups.get(key)
        if prev is None:
            groups[key] = a
        else:
            groups[key] = Arrow(a.kind, (sk, min(prev.src[1], slo), max(prev.src[2], shi)),
                                (dk, min(prev.dst[1], dlo), max(prev.dst[2], dhi)),
                                prev.label if prev.label == a.label else "", prev.count + a.count, a.flow)
    return list(groups.values())


def chain_arrows(chain: list) -> tuple:
    """The inspected page's chain GV -> GP -> MP (or store) as highlighted arrows."""
    refs = [(band_key(r), r[3]) for r in chain]
    out = [_mark(k, i) for k, i in refs]
    out = [Arrow("chain", m.src, m.dst) for m in out]
    out += [Arrow("chain", _one(a, i), _one(b, j)) for (a, i), (b, j) in zip(refs, refs[1:])]
    return tuple(out)
