"""Bands built again from the pages that changed: the bands of one position from those of
another position of the same timeline and the event rows between them.

Each event kind that may change a cell's code is listed with the pages its rows name: the
GPPN (``aux`` pages of an F_RANGE row, 512 of a large page), the MPN, the MPN in ``slot``
(TPS: the freed or the old shared frame), the sharing partner (TPS_SHARE's ``proc`` /
``gvpn``), a process's GVPNs (``gvpn``; ``aux`` of them for ALLOC and FREE). Then the pages
whose code follows theirs: a private MPN's GPPN, a GPPN's GVPN. Only those cells are
computed again, into a copy of their band when any of them changed (bands are read-only and
shared between frames); the other bands are the previous ones. A long jump starts from the
codes a ``CodeTrail`` (codetrail.py) kept at an anchor before the target, when the builder
has one; a kind not listed, a new layout (store sizes, the view's shape) and long jumps
without a trail build every band (``bands.build_bands``); a new shape of the view alone
wraps the same cells again (``bands.relayout``). Tests compare all with full
builds on random walks forwards and backwards.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict

import numpy as np

from vmmemviz.model.core import events as E
from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import NONE
from vmmemviz.model.core.vm import expand
from . import bands as B

NO_PAGES = frozenset({"HOST_STATE", "ACTIVE_SAMPLE", "ACTIVE_ESTIMATE", "MEM_WAIT", "MEM_TARGET",
                      "SWAP_TARGET", "BALLOON_TARGET", "TPS_HINT", "LP_BREAK"})
ONE_PAGE = frozenset({"ACCESS", "BALLOON_PIN", "BALLOON_UNPIN", "SWAP_OUT", "SWAP_IN", "LLSWAP_OUT",
                      "LLSWAP_IN", "ZIP", "UNZIP", "ZIP_EVICT", "ZIP_EVICT_LL", "ZIP_GROW", "ZIP_SHRINK",
                      "TPS_SHARE", "TPS_COW", "GUEST_PAGEOUT", "GUEST_PAGEIN"})
GV_RANGE = frozenset({"ALLOC", "FREE"})                       # aux GVPNs from gvpn
BACKED = frozenset({"BACK", "KERNEL_LOAD", "BOOT_ZERO"})      # MPNs: the lowest free, not in the row
HANDLED = NO_PAGES | ONE_PAGE | GV_RANGE | BACKED | {"LP_BACK"}
KEEP_STORES = NO_PAGES | BACKED | {"ACCESS", "LP_BACK", "ALLOC", "TPS_SHARE", "TPS_COW"}
KEEP_BADGES = NO_PAGES | BACKED | {"ACCESS", "ALLOC", "FREE", "GUEST_PAGEOUT", "GUEST_PAGEIN", "LP_BACK"}
KEEP_OUTLINES = (NO_PAGES - {"LP_BREAK"}) | {"ACCESS", "ALLOC", "FREE", "GUEST_PAGEOUT", "GUEST_PAGEIN"}
MAX_ROWS = 1 << 16          # a longer jump is built from scratch
MAX_SHARE = 16              # ... and one naming more than 1/16 of the machine pages (and 64 Ki)


def _codes(names) -> np.ndarray:
    return np.array([k.code for k in E.KINDS.values() if k.name in names], np.uint8)


class Pages:
    """Pages named by rows: MPNs, GPPNs per VM, GVPNs per (VM, process)."""

    def __init__(self):
        self.mp, self.gp, self.gv = [], defaultdict(list), defaultdict(list)

    def add_gp(self, vms, gppns) -> None:
        vms, gppns = np.asarray(vms), np.asarray(gppns, np.int64)
        for v in np.unique(vms):
            self.gp[int(v)].append(gppns[vms == v])

    @staticmethod
    def within(parts, n: int) -> np.ndarray:
        """The pages of ``parts`` below ``n`` (a page may repeat: computing it twice is cheaper
        than sorting them all)."""
        idx = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        return idx[(idx >= 0) & (idx < n)]


def named_count(rows) -> int:
    """About how many pages the rows name (ranges and large pages counted whole)."""
    k = rows["kind"]
    ranges = np.isin(k, _codes(BACKED | GV_RANGE)) & ((rows["flags"] & E.F_RANGE != 0) | np.isin(k, _codes(GV_RANGE)))
    return len(rows) + int(rows["aux"][ranges].astype(np.int64).sum()) + \
        (H.LARGE_PAGES - 1) * int(np.count_nonzero(k == E.BY_NAME["LP_BACK"].code))


def named_pages(state, rows) -> Pages:
    """The pages the rows name (``state``: the view after them, for BACK's machine pages)."""
    out = Pages()
    k = rows["kind"]
    one = rows[np.isin(k, _codes(ONE_PAGE))]
    has = one["gppn"] != NONE
    out.add_gp(one["vm"][has], one["gppn"][has])
    out.mp.append(one["mpn"][one["mpn"] != NONE])
    tps = one[np.isin(one["kind"], _codes({"TPS_SHARE", "TPS_COW"}))]
    out.mp.append(tps["slot"][tps["slot"] != NONE])
    partner = tps[(tps["kind"] == E.BY_NAME["TPS_SHARE"].code) & (tps["gvpn"] != NONE)]
    out.add_gp(partner["proc"], partner["gvpn"])
    guest = one[np.isin(one["kind"], _codes({"GUEST_PAGEOUT", "GUEST_PAGEIN"})) & (one["gvpn"] != NONE)]
    for r in guest:
        out.gv[(int(r["vm"]), int(r["proc"]))].append(np.array([r["gvpn"]], np.int64))
    for r in rows[np.isin(k, _codes(GV_RANGE))]:
        out.gv[(int(r["vm"]), int(r["proc"]))].append(np.arange(int(r["gvpn"]), int(r["gvpn"]) + int(r["aux"])))
    large = rows[k == E.BY_NAME["LP_BACK"].code]
    span = np.arange(H.LARGE_PAGES)
    out.add_gp(np.repeat(large["vm"], H.LARGE_PAGES), (large["gppn"].astype(np.int64)[:, None] + span).ravel())
    out.mp.append((large["mpn"].astype(np.int64)[:, None] + span).ravel())
    backed = rows[np.isin(k, _codes(BACKED))]
    if len(backed):
        idx, gppns, _ = expand(backed)
        vms = backed["vm"][idx]
        out.add_gp(vms, gppns)
        for v in np.unique(vms):
            vm, g = state.vms[int(v)], gppns[vms == v]
            out.mp.append(vm.gp_loc[g[g < vm.n]])
    return out


def recompute(state, pages, flat, put) -> None:
    """The codes of ``pages`` (named_pages) computed again from ``state``: machine pages
    first, then the guest physical pages that show them (a private MPN's GPPN too), then the
    guest virtual pages that show those. ``flat(key)``: a band's codes now, flat (band keys
    of bands.py); ``put(key, idx, codes)``: store the codes of its cells ``idx``."""
    h = state.host
    m = Pages.within(pages.mp, h.n_mpn)
    priv = m[(h.mpn_state[m] == H.PRIVATE) & (h.mpn_gppn[m] != NONE) & (h.mpn_owner[m] != H.NO_VM)]
    pages.add_gp(h.mpn_owner[priv], h.mpn_gppn[priv])
    if len(m):
        put("mp", m, B.mp_codes(state, m))
    mp = flat("mp")[:h.n_mpn]
    for v, parts in pages.gp.items():
        vm = state.vms[v]
        g = Pages.within(parts, vm.n)
        if not len(g):
            continue
        put(f"gp.{v}", g, B.gp_codes(state, vm, mp, g))
        used = g[vm.gp_proc[g] != 255]
        for p in np.unique(vm.gp_proc[used]):
            pages.gv[(v, int(p))].append(vm.gp_gvpn[used[vm.gp_proc[used] == p]])
    for (v, p), parts in pages.gv.items():
        proc = state.vms[v].procs[p]
        gv = Pages.within(parts, proc.vpages)
        if len(gv):
            put(f"gv.{v}.{p}", gv, B.gv_codes(proc, flat(f"gp.{v}"), gv))


def followable(state, rows, forward: bool, share: int = MAX_SHARE) -> set | None:
    """The kinds of ``rows`` when the incremental pass can follow them that way, else None
    (a kind not listed, BACKED backwards, or naming more than 1/``share`` of the machine
    pages and 64 Ki)."""
    kinds = {E.KINDS[int(c)].name for c in np.unique(rows["kind"])}
    if not kinds <= HANDLED or (not forward and kinds & BACKED) or \
            named_count(rows) > max(state.host.n_mpn // share, 1 << 16):
        return None
    return kinds


class BandBuilder:
    """The bands of one timeline's positions, each built from the last one's."""

    def __init__(self, trail=None):
        self.trail = trail              # a CodeTrail of the timeline (codetrail.py), or None
        self.pos = None
        self.bands = ()
        self.aspect = None
        self.shape = None
        self._large = (None, ())        # (large_starts, outlines of them) last computed

    def build(self, state, log, pos: int, aspect: float = B.ASPECT):
        """(bands of ``state``, the view at ``pos``; changes since the last build: {band key:
        flat indices of the cells computed again}, or None when every band is new)."""
        got, relaid = None, self.pos is not None and self.aspect != aspect
        if relaid:                    # the view's new shape: the same cells, wrapped again
            self.bands, self.aspect = B.relayout(self.bands, aspect, shape=self.shape), aspect
        near = self.pos is not None and abs(pos - self.pos) <= MAX_ROWS
        if near and (self.trail is None or abs(pos - self.pos) <= self.trail.every):
            got, near = self._near(state, log, pos, aspect, relaid), False
        if got is None and self.trail is not None:
            got = self._from_trail(state, log, pos, aspect)
        if got is None and near and self.pos is not None:
            got = self._near(state, log, pos, aspect, relaid)
        if got is None:
            occupied = {}
            self.shape = B.shape_key(state, occupied)
            got = B.build_bands(state, aspect, (self.shape, occupied)), None
        self.bands, self.pos, self.aspect = got[0], pos, aspect
        return got

    def _near(self, state, log, pos: int, aspect: float, relaid: bool):
        """The last bands brought to ``pos`` by the rows between (None: they cannot be)."""
        lo, hi = sorted((self.pos, pos))
        got = self._update(state, log.rows(lo, hi), pos >= self.pos, aspect)
        return got if got is None or not relaid else (got[0], None)

    def _from_trail(self, state, log, pos: int, aspect: float):
        """The bands at ``pos`` from the trail's codes at the anchor before it, brought to
        ``pos`` by the rows between (None: no anchor is before it, or they cannot be)."""
        at = self.trail.anchor_at(pos)
        if at is None or followable(state, log.rows(at, pos), True) is None:
            return None
        occupied = {}
        shape = B.shape_key(state, occupied)
        slots = B.layout(shape[0], shape[1], round(aspect, 1), shape[2])
        grids = B.grids_for(slots)
        self.trail.fill(at, {k: g[1] for k, g in grids.items()})
        self.bands = B.assemble(state, slots, {k: g[0] for k, g in grids.items()}, occupied,
                                self._outlines(B.large_starts(state.host)))
        self.shape, self.pos, self.aspect = shape, at, aspect
        got = None
        try:
            got = self._update(state, log.rows(at, pos), True, aspect, fresh=True)
        finally:
            if got is None:
                self.pos = None      # half-brought bands: the next build starts from scratch
        return got[0], None

    def _outlines(self, starts: np.ndarray) -> tuple:
        """The large-page outlines at ``starts``: the last ones with the few that changed (a
        tuple of 30k pairs made anew costs more than the rest of a frame of 400 events)."""
        was, old = self._large
        if was is None:
            out = B.outlines_of(starts)
        else:
            added = np.setdiff1d(starts, was, assume_unique=True)
            gone = np.searchsorted(was, np.setdiff1d(was, starts, assume_unique=True))
            if len(added) + len(gone) > 256:
                out = B.outlines_of(starts)
            else:          # (index in the old ones, 0 insert before it / 1 drop it, start)
                edits = sorted([(int(i), 0, int(a)) for i, a in zip(np.searchsorted(was, added), added)] +
                               [(int(i), 1, 0) for i in gone])
                pieces, cur = [], 0
                for i, drop, a in edits:
                    pieces.append(old[cur:i])
                    pieces.append(() if drop else ((a, H.LARGE_PAGES),))
                    cur = i + drop
                pieces.append(old[cur:])
                out = tuple(itertools.chain.from_iterable(pieces))
        self._large = starts, out
        return out

    def _update(self, state, rows, forward: bool, aspect: float, fresh: bool = False):
        """(the last bands brought over ``rows`` to ``state``, {key: cells computed again}), or
        None when they cannot be. ``fresh``: the bands are this builder's own, at ``state``'s
        layout, stores, badges and outlines: their codes are written in place."""
        kinds = followable(state, rows, forward)
        if kinds is None:
            return None
        occupied = {}
        if not fresh and not kinds <= KEEP_STORES:
            shape = B.shape_key(state, occupied)
            if shape != self.shape:
                return None
        pages = named_pages(state, rows)
        by_key = {b.key: b for b in self.bands}
        out, changes = dict(by_key), {}

        def flat(key):
            return out[key].codes.reshape(-1)

        def put(key, idx, new):
            """Band ``key`` with cells ``idx`` set to ``new``: a copy if any of them changed."""
            old = out[key]
            diff = new != old.codes.reshape(-1)[idx]
            if not diff.any():
                return
            if fresh:
                old.codes.reshape(-1)[idx[diff]] = new[diff]
                return
            codes = old.codes.copy()
            codes.reshape(-1)[idx[diff]] = new[diff]
            codes.setflags(write=False)        # sent to the UI thread: nobody writes it again
            out[key] = dataclasses.replace(old, codes=codes)
            changes[key] = idx[diff]
            changes[key].setflags(write=False)

        recompute(state, pages, flat, put)
        h = state.host
        extra = {}                 # (fresh bands have them at ``state`` already)
        if not fresh and not kinds <= KEEP_BADGES:
            extra["badges"] = B._badges(h)
        if not fresh and not kinds <= KEEP_OUTLINES:
            extra["outlines"] = self._outlines(B.large_starts(h))
        if extra:
            out["mp"] = dataclasses.replace(out["mp"], **extra)
        if occupied:                                   # the stores: every slot again (they are small)
            for s in B.layout(self.shape[0], self.shape[1], round(aspect, 1), self.shape[2]):
                if B.store_of(state, s.layer) is not None:
                    out[s.key] = B.store_band(state, s, occupied)
                    changes[s.key] = None
        return tuple(out[b.key] for b in self.bands), changes
