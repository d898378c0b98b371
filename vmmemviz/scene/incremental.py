"""Bands built again from the pages that changed: the bands of one position from those of
another position of the same timeline and the event rows between them.

Each event kind that may change a cell's code is listed with the pages its rows name: the
GPPN (``aux`` pages of an F_RANGE row, 512 of a large page), the MPN, the MPN in ``slot``
(TPS: the freed or the old shared frame), the sharing partner (TPS_SHARE's ``proc`` /
``gvpn``), a process's GVPNs (``gvpn``; ``aux`` of them for ALLOC and FREE). Then the pages
whose code follows theirs: a private MPN's GPPN, a GPPN's GVPN. Only those cells are
computed again, into a copy of their band when any of them changed (bands are read-only and
shared between frames); the other bands are the previous ones. A kind not listed, a new layout (store sizes, the
view's shape) and long jumps build every band (``bands.build_bands``); a new shape of the
view alone wraps the same cells again (``bands.relayout``). Tests compare all with full
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
                      "LLSWAP_IN", "ZIP", "UNZIP", "ZIP_EVICT", "ZIP_GROW", "ZIP_SHRINK", "TPS_SHARE",
                      "TPS_COW", "GUEST_PAGEOUT", "GUEST_PAGEIN"})
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


class BandBuilder:
    """The bands of one timeline's positions, each built from the last one's."""

    def __init__(self):
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
        if self.pos is not None and abs(pos - self.pos) <= MAX_ROWS:
            lo, hi = sorted((self.pos, pos))
            got = self._update(state, log.rows(lo, hi), pos >= self.pos, aspect)
            if got is not None and relaid:
                got = got[0], None
        if got is None:
            occupied = {}
            self.shape = B.shape_key(state, occupied)
            got = B.build_bands(state, aspect, (self.shape, occupied)), None
        self.bands, self.pos, self.aspect = got[0], pos, aspect
        return got

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

    def _update(self, state, rows, forward: bool, aspect: float):
        kinds = {E.KINDS[int(c)].name for c in np.unique(rows["kind"])}
        if not kinds <= HANDLED or (not forward and kinds & BACKED) or \
                named_count(rows) > max(state.host.n_mpn // MAX_SHARE, 1 << 16):
            return None
        occupied = {}
        if not kinds <= KEEP_STORES:
            shape = B.shape_key(state, occupied)
            if shape != self.shape:
                return None
        pages = named_pages(state, rows)
        by_key = {b.key: b for b in self.bands}
        out, changes = dict(by_key), {}

        def redo(key, idx, codes_at, **extra):
            """Band ``key`` with cells ``idx`` computed again: a copy if any of them changed."""
            old = by_key[key]
            new = codes_at(idx)
            diff = new != old.codes.reshape(-1)[idx]
            if not diff.any():
                if extra:
                    out[key] = dataclasses.replace(old, **extra)
                return old.codes.reshape(-1)
            codes = old.codes.copy()
            codes.reshape(-1)[idx[diff]] = new[diff]
            codes.setflags(write=False)        # sent to the UI thread: nobody writes it again
            out[key] = dataclasses.replace(old, codes=codes, **extra)
            changes[key] = idx[diff]
            changes[key].setflags(write=False)
            return codes.reshape(-1)

        h = state.host
        m = Pages.within(pages.mp, h.n_mpn)
        priv = m[(h.mpn_state[m] == H.PRIVATE) & (h.mpn_gppn[m] != NONE) & (h.mpn_owner[m] != H.NO_VM)]
        pages.add_gp(h.mpn_owner[priv], h.mpn_gppn[priv])
        extra = {}
        if not kinds <= KEEP_BADGES:
            extra["badges"] = B._badges(h)
        if not kinds <= KEEP_OUTLINES:
            extra["outlines"] = self._outlines(B.large_starts(h))
        if len(m) or extra:
            mp = redo("mp", m, lambda i: B.mp_codes(state, i), **extra)
        else:
            mp = by_key["mp"].codes.reshape(-1)
        gps = {}
        for v, parts in pages.gp.items():
            vm = state.vms[v]
            g = Pages.within(parts, vm.n)
            if not len(g):
                continue
            gps[v] = redo(f"gp.{v}", g, lambda i, vm=vm: B.gp_codes(state, vm, mp[:h.n_mpn], i))
            used = g[vm.gp_proc[g] != 255]
            for p in np.unique(vm.gp_proc[used]):
                pages.gv[(v, int(p))].append(vm.gp_gvpn[used[vm.gp_proc[used] == p]])
        for (v, p), parts in pages.gv.items():
            proc = state.vms[v].procs[p]
            gv = Pages.within(parts, proc.vpages)
            if len(gv):
                gp = gps.get(v, by_key[f"gp.{v}"].codes.reshape(-1))
                redo(f"gv.{v}.{p}", gv, lambda i, proc=proc, gp=gp: B.gv_codes(proc, gp, i))
        if occupied:                                   # the stores: every slot again (they are small)
            for s in B.layout(self.shape[0], self.shape[1], round(aspect, 1), self.shape[2]):
                if B.store_of(state, s.layer) is not None:
                    out[s.key] = B.store_band(state, s, occupied)
                    changes[s.key] = None
        return tuple(out[b.key] for b in self.bands), changes
