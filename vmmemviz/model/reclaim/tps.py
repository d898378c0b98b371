"""Transparent page sharing (TPS): identical pages mapped to one read-only machine page.

A background scanner visits each VM's guest physical pages in a random order (every pass
a fresh random permutation GPPN = a i + b mod n, so each page once a pass), hashes the
*bytes* of each page (``content.page_bytes``; the 64-bit hash of a content id is cached,
but it is a hash of the bytes) and looks the hash up in a global hash table (Waldspurger,
OSDI 2002):

* a hit on a **shared** frame: the bytes are compared in full and the GPPN is remapped to
  that read-only MPN; its reference count grows; the page's private MPN is freed;
* a hit on a **hint** (a page hashed once before, not write-protected): the hint page is
  rehashed (a stale hint, whose bytes changed since, is dropped), the bytes are compared
  in full, the hint's frame becomes the shared frame of both pages and the scanned page's
  private frame is freed;
* no hit: the page becomes a hint (``TPS_HINT``), and a later identical page shares with it.

Zero pages collapse at once onto a shared zero MPN (one per salt). A write to a shared page
faults: copy on write (``TPS_COW``) gives the writer a private copy (or makes the frame
private again when the writer held the last reference). Pages inside a 2 MB large page are
hashed and hinted but not shared until the large page is broken (largepages.py).

ESXi knobs honoured (settings.py):

* ``Mem.ShareScanTime`` 60 min to scan each VM once (10-600), ``Mem.ShareScanGHz`` 4 MB/s of
  scanning per GHz of host CPU (``Sim.HostGHz``; 0 disables scanning), split evenly over
  the VMs that share, ``Mem.ShareRateMax`` 1024 pages/s per VM. Pages scanned per second
  per VM = min(ShareRateMax, VM pages / (ShareScanTime x 60), ShareScanGHz x HostGHz MB/s
  / VMs). In the clear state and below TPS is called actively: the ShareScanTime term is
  dropped. In the low state the scanner stops. ``Sim.TimeScale`` makes one tick stand for
  that many seconds of scanning, so a tour can show a 10-minute scan in a minute.
* ``sched.mem.pshare.enable`` = false: the VM is not scanned and its pages are never shared.
* ``Mem.ShareForceSalting``: 0 shares across all VMs; 1 only among VMs with equal
  ``sched.mem.pshare.salt`` (unset = 0); 2 (default) salts with pshare.salt, else the VM's
  own uuid, so in practice pages are shared only inside a VM. The salt is mixed into the
  hash and checked on every match.

The hash table is the live simulator's (it only decides what to share); what it decided is
in the events, and the state keeps per GPPN a ``tps_flags`` byte (HINT: hashed and kept as
a hint; HINT_ZERO: the hinted bytes were zeros). ``share_before_swap`` lets hypervisor
swapping try sharing a page before it swaps it.

Counters (esxtop, MB): per VM ZERO (shared zero pages), SHRD (shared pages), SHRDSVD
(saved: each shared page counts 1 - 1/references), COWH (copy-on-write hint pages: hashed,
hinted, still private) and COW/s (copy-on-write breaks this second, from the tick's rows);
host pshare_shared_mb, pshare_common_mb (shared machine frames), pshare_saving_mb
(shared - common).
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from vmmemviz.model.core import content as C
from vmmemviz.model.core import host as H
from vmmemviz.model.core import counter
from vmmemviz.model.core.events import NONE, by_vm, hx, kind
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.units import PAGES_PER_MB, mb
from vmmemviz.model.core.vm import MAPPED, SHARED
from vmmemviz.model.reclaim import freestates as states

HINT, HINT_ZERO = 1, 2
F_IN_LARGE = 0x10          # TPS_HINT row flag: the page is part of a 2 MB page


# -- hashing ---------------------------------------------------------------------------
def content_hash(cid: int) -> int:
    """64-bit hash of the 4 KiB a page with content ``cid`` holds. The bytes are built, not
    taken from ``page_bytes``' cache: each content is hashed once (``HashMemo`` keeps the hash),
    and caching its 4 KiB would only push out pages compression and comparisons reuse."""
    return int.from_bytes(hashlib.blake2b(C.build_page_bytes(cid), digest_size=8).digest(), "little")


class HashMemo:
    """Hashes of the contents hashed so far, sorted by CID in a large ``main`` and a small
    ``recent`` part (merged into main when it outgrows an eighth of it): a batch is looked up
    with a searchsorted per part, not a Python call per distinct content (1-2 us each, 300
    a VM a tick), and only new contents are hashed. It forgets everything past ``limit``
    CIDs (a CID's hash never changes, so results do not)."""

    def __init__(self, limit: int = 1 << 22):
        self.limit = limit
        self.clear()

    def clear(self) -> None:
        self.main, self.recent = self._empty(), self._empty()

    @staticmethod
    def _empty():
        return np.zeros(0, np.uint32), np.zeros(0, np.uint64)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Hashes of the sorted distinct CIDs ``u``."""
        out = np.zeros(len(u), np.uint64)
        miss = np.ones(len(u), bool)
        for cids, vals in (self.main, self.recent):
            if len(cids):
                pos = np.minimum(np.searchsorted(cids, u), len(cids) - 1)
                found = cids[pos] == u
                out[found] = vals[pos[found]]
                miss &= ~found
        new = u[miss]
        if len(new):
            out[miss] = np.fromiter((content_hash(int(c)) for c in new), np.uint64, len(new))
            if len(self.main[0]) + len(self.recent[0]) + len(new) > self.limit:
                self.clear()
            self.recent = self._merge(self.recent, new, out[miss])
            if len(self.recent[0]) > max(4096, len(self.main[0]) // 8):
                self.main, self.recent = self._merge(self.main, *self.recent), self._empty()
        return out

    @staticmethod
    def _merge(part, cids, vals):
        pos = np.searchsorted(part[0], cids)
        return np.insert(part[0], pos, cids), np.insert(part[1], pos, vals)


_HASHES = HashMemo()


def page_hashes(cids) -> np.ndarray:
    """Hashes of the bytes of pages with contents ``cids`` (one hash per distinct content)."""
    u, inv = np.unique(np.asarray(cids, np.uint32), return_inverse=True)
    return _HASHES(u)[inv].reshape(np.shape(cids))


def salt_mix(group: int) -> np.uint64:
    """What a salt group mixes into the hash (0 for group 0: unsalted)."""
    if group == 0:
        return np.uint64(0)
    return np.uint64(int.from_bytes(hashlib.blake2b(group.to_bytes(4, "little"), digest_size=8).digest(),
                                    "little"))


def same_bytes(cids_a, cids_b) -> np.ndarray:
    """Full comparison of the bytes of pages with contents ``cids_a`` and ``cids_b`` (equal CIDs
    hold equal bytes: only pairs of different CIDs are compared)."""
    a, b = np.asarray(cids_a, np.uint32), np.asarray(cids_b, np.uint32)
    eq = a == b
    d = np.flatnonzero(~eq)
    if len(d):
        pairs, inv = np.unique((a[d].astype(np.uint64) << np.uint64(32)) | b[d], return_inverse=True)
        eq[d] = np.array([C.page_bytes(int(p >> 32)) == C.page_bytes(int(p & 0xFFFFFFFF)) for p in pairs],
                         bool)[inv.reshape(-1)]
    return eq


# -- the hash table --------------------------------------------------------------------
class ShareTable:
    """Entries keyed by salted hash: hints (``vm`` >= 0, ``ref`` = GPPN) and shared frames
    (``vm`` = -1, ``ref`` = MPN), in two sorted parts: a large ``main`` and a small ``recent``
    that new entries go to and that is merged into ``main`` once it outgrows an eighth of it
    (so adding costs little however big the table gets). Entries are checked against the
    state when used; stale ones are marked dead and dropped when the dead outnumber the living.
    An entry index counts through ``main`` and then ``recent``."""

    FIELDS = (("key", np.uint64), ("grp", np.int32), ("vm", np.int32), ("ref", np.int64), ("cid", np.uint32),
              ("alive", bool))

    def __init__(self):
        self.main, self.recent = self._empty(), self._empty()
        self.dead = 0

    @classmethod
    def _empty(cls) -> dict:
        return {name: np.zeros(0, dt) for name, dt in cls.FIELDS}

    def __len__(self) -> int:
        return len(self.main["key"]) + len(self.recent["key"]) - self.dead

    @classmethod
    def _merge(cls, into: dict, new: dict) -> dict:
        order = np.argsort(new["key"], kind="stable")
        pos = np.searchsorted(into["key"], new["key"][order], side="right")
        at = pos + np.arange(len(pos))         # where the new entries land (np.insert's places)
        n = len(into["key"]) + len(at)
        kept = np.ones(n, bool)
        kept[at] = False
        out = {}
        for name, dt in cls.FIELDS:            # the places once for every field
            out[name] = np.empty(n, dt)
            out[name][at] = new[name][order]
            out[name][kept] = into[name]
        return out

    def add(self, key, grp, vm, ref, cid) -> None:
        if len(key) == 0:
            return
        vals = {"key": key, "grp": grp, "vm": vm, "ref": ref, "cid": cid, "alive": True}
        new = {name: np.broadcast_to(np.asarray(vals[name], dt), (len(key),)) for name, dt in self.FIELDS}
        self.recent = self._merge(self.recent, new)
        if len(self.recent["key"]) > max(4096, len(self.main["key"]) // 8):
            self.main, self.recent = self._merge(self.main, self.recent), self._empty()

    def get(self, name: str, entries) -> np.ndarray:
        """Field ``name`` of the given entries."""
        n = len(self.main["key"])
        out = np.empty(len(entries), self.main[name].dtype)
        m = entries < n
        out[m] = self.main[name][entries[m]]
        out[~m] = self.recent[name][entries[~m] - n]
        return out

    def lookup(self, keys) -> tuple[np.ndarray, np.ndarray]:
        """(query index, entry index) of every living entry whose key equals a query key,
        older entries first."""
        keys = np.asarray(keys, np.uint64)
        qs, es = [], []
        offset = 0
        for part in (self.main, self.recent):
            lo = np.searchsorted(part["key"], keys, "left")
            n = np.searchsorted(part["key"], keys, "right") - lo
            qi = np.repeat(np.arange(len(keys)), n)
            ei = np.repeat(lo, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
            live = part["alive"][ei]
            qs.append(qi[live])
            es.append(ei[live] + offset)
            offset += len(part["key"])
        return np.concatenate(qs), np.concatenate(es)

    def kill(self, entries) -> None:
        n = len(self.main["key"])
        entries = np.unique(entries)
        for part, e in ((self.main, entries[entries < n]), (self.recent, entries[entries >= n] - n)):
            e = e[part["alive"][e]]
            part["alive"][e] = False
            self.dead += len(e)
        if self.dead > max(1024, len(self)):
            self.main = {k: v[self.main["alive"]] for k, v in self.main.items()}
            self.recent = {k: v[self.recent["alive"]] for k, v in self.recent.items()}
            self.dead = 0


class Live:
    """What the live simulator keeps for TPS (never part of the state)."""

    def __init__(self, sim):
        self.table = ShareTable()
        self.mpn_grp = np.zeros(sim.state.host.n_mpn, np.uint16)   # salt group of a shared frame
        self.rng = np.random.default_rng([sim.sc.seed, 40])
        salting = sim.settings["Mem.ShareForceSalting"]
        groups: dict = {}
        for vm in sim.vms:
            salt = vm.vm_settings["sched.mem.pshare.salt"]
            if salting == 0:
                g = ("all",)
            elif salting == 1 or salt is not None:
                g = ("salt", 0 if salt is None else salt)
            else:
                g = ("uuid", vm.index)
            vm.salt = groups.setdefault(g, len(groups))
        self.mix = np.array([salt_mix(i) for i in range(len(groups))], np.uint64)
        self.enabled = [bool(vm.vm_settings["sched.mem.pshare.enable"]) for vm in sim.vms]
        n = len(sim.vms)
        self.credit = [0.0] * n
        self.cursor = [0] * n
        self.stride = [(1, 0)] * n
        for vm in sim.vms:
            self.new_pass(vm)

    def new_pass(self, vm) -> None:
        """A fresh random visiting order: GPPN = (a * i + b) mod n with a prime to n."""
        n = vm.n
        a = int(self.rng.integers(1, n)) if n > 1 else 1
        while math.gcd(a, n) != 1:
            a = a % (n - 1) + 1
        self.stride[vm.index] = (a, int(self.rng.integers(0, n)))
        self.cursor[vm.index] = 0

    def next_pages(self, vm, k: int) -> np.ndarray:
        out = []
        while k > 0:
            i = self.cursor[vm.index]
            take = min(k, vm.n - i)
            a, b = self.stride[vm.index]
            out.append((a * np.arange(i, i + take, dtype=np.int64) + b) % vm.n)
            self.cursor[vm.index] += take
            k -= take
            if self.cursor[vm.index] >= vm.n:
                self.new_pass(vm)
        return np.concatenate(out) if out else np.zeros(0, np.int64)


# -- events ----------------------------------------------------------------------------
@kind(40, "TPS_HINT", "tps", "Transparent Page Sharing: the scanner hashed a page and found no identical "
      "page yet. It keeps the hash as a hint (the page is not write-protected); a later page with the "
      "same hash makes it rehash and compare the hint in full, and share both.")
def apply_hint(state, rows):
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)        # columns, not rows[sel]: a structured copy is slow
        vm.tps_flags[g] = np.where(rows["content"][sel] == C.ZERO_CID, HINT | HINT_ZERO, HINT)


@apply_hint.narrator
def _(row, names):
    where = (" It lies in a 2 MB large page, which is not shared: the hash is kept for when the "
             "large page is broken." if row["flags"] & F_IN_LARGE else
             " No identical page yet: the hash is kept as a hint and the page stays writable.")
    return (f"TPS scanned {names[row['vm']]} GPPN {hx(row['gppn'])} (MPN {hx(row['mpn'])}) and hashed "
            f"its 4 KB of bytes (hash 0x{int(row['aux']):08x}...).{where}")


@kind(41, "TPS_SHARE", "tps", "Transparent Page Sharing: two pages hold identical bytes (the hashes "
      "match and a full comparison agrees), so the hypervisor maps both GPPNs to one read-only machine "
      "page with a reference count and frees the other copy. Zero pages collapse onto a shared zero page.")
def apply_share(state, rows):
    """Map each row's GPPN to shared MPN ``mpn``. A private target becomes shared first (its
    own GPPN with it); fills ``proc``/``gvpn`` with that partner, ``slot`` with the freed MPN
    and ``aux`` with the references after the row."""
    host = state.host
    t = rows["mpn"].astype(np.int64)
    ut, first = np.unique(t, return_index=True)
    conv = host.mpn_state[ut] == H.PRIVATE
    ct, crow = ut[conv], first[conv]
    ov, og = host.mpn_owner[ct].astype(np.int64), host.mpn_gppn[ct].astype(np.int64)
    for v in np.unique(ov):
        vm = state.vms[int(v)]
        vm.gp_state[og[ov == v]] = SHARED
        vm.tps_flags[og[ov == v]] = 0
    host.mpn_state[ct] = H.SHARED
    rows["proc"][crow] = ov
    rows["gvpn"][crow] = og
    # owner: stays the VM only while every sharer is in that VM
    other = rows["vm"].astype(np.int64) != host.mpn_owner[t].astype(np.int64)
    host.mpn_owner[np.unique(t[other])] = H.NO_VM
    old = np.empty(len(rows), np.int64)
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        old[sel] = vm.gp_loc[g]
        vm.gp_loc[g] = t[sel]
        vm.gp_state[g] = SHARED
        vm.tps_flags[g] = 0
    remap = old != t
    host.release(old[remap])
    order = np.argsort(t, kind="stable")
    ts, rs = t[order], remap[order].astype(np.int64)
    start = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    run = np.cumsum(rs) - np.repeat(np.cumsum(rs)[start] - rs[start], np.diff(np.r_[start, len(ts)]))
    aux = np.empty(len(rows), np.int64)
    aux[order] = host.mpn_refs[ts] + run
    np.add.at(host.mpn_refs, t[remap], 1)
    rows["slot"] = np.where(remap, old, NONE)
    rows["aux"] = aux


@apply_share.narrator
def _(row, names):
    vm, g, m, refs = names[row["vm"]], hx(row["gppn"]), hx(row["mpn"]), int(row["aux"])
    freed = f" and freed MPN {hx(row['slot'])}" if row["slot"] != NONE else ""
    if row["content"] == C.ZERO_CID:
        if row["slot"] == NONE:
            return (f"{vm} GPPN {g} holds only zeros; its MPN {m} became a shared, read-only zero page "
                    f"that later zero pages collapse onto.")
        if row["gvpn"] != NONE:
            return (f"{vm} GPPN {g} and {names[row['proc']]} GPPN {hx(row['gvpn'])} hold only zeros; the "
                    f"hypervisor made MPN {m} a shared, read-only zero page for both ({refs} references)"
                    f"{freed}.")
        return (f"{vm} GPPN {g} holds only zeros; the hypervisor mapped it to the shared zero page MPN {m} "
                f"({refs} references){freed}.")
    if row["gvpn"] != NONE:
        return (f"{vm} GPPN {g} and {names[row['proc']]} GPPN {hx(row['gvpn'])} hold identical bytes; the "
                f"hypervisor mapped both to shared MPN {m} ({refs} references, read-only){freed}.")
    return (f"{vm} GPPN {g} holds the same bytes as shared MPN {m}; the hypervisor mapped it there "
            f"({refs} references, read-only){freed}.")


@kind(42, "TPS_COW", "tps", "Transparent Page Sharing: a shared page is read-only. A write to it faults "
      "and the hypervisor breaks the sharing (copy on write): the writer gets a private copy and the "
      "shared page loses a reference.")
def apply_cow(state, rows):
    """Give each row's GPPN a private copy of its shared MPN (``slot``): a new frame in
    ``mpn``, or the shared frame itself when it held the last reference (``aux`` = references
    left)."""
    host = state.host
    s = np.empty(len(rows), np.int64)
    for vm, sel in by_vm(state, rows):
        s[sel] = vm.gp_loc[rows["gppn"][sel].astype(np.int64)]
    order = np.argsort(s, kind="stable")
    ss = s[order]
    start = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    j = np.arange(len(ss)) - np.repeat(start, np.diff(np.r_[start, len(ss)]))
    left = np.empty(len(rows), np.int64)
    left[order] = host.mpn_refs[ss].astype(np.int64) - 1 - j      # references after this row
    inplace = left == 0
    new = np.flatnonzero(~inplace)
    mpn = s.copy()
    mpn[new] = host.peek_free(len(new))
    cids = host.mpn_content[s]
    np.subtract.at(host.mpn_refs, s[new], 1)
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        host.take(mpn[sel], H.PRIVATE, vm.index, g, cids[sel])
        vm.gp_state[g] = MAPPED
        vm.gp_loc[g] = mpn[sel]
    rows["slot"] = s
    rows["mpn"] = mpn
    rows["content"] = cids
    rows["aux"] = left


@apply_cow.narrator
def _(row, names):
    vm, g, s = names[row["vm"]], hx(row["gppn"]), hx(row["slot"])
    if row["aux"] == 0:
        return (f"{vm} wrote GPPN {g}, mapped read-only to shared MPN {s}: copy on write. It held the "
                f"last reference, so MPN {s} simply became its private page again.")
    return (f"{vm} wrote GPPN {g}, mapped read-only to shared MPN {s}: copy on write gave it a private "
            f"copy in MPN {hx(row['mpn'])}; MPN {s} keeps {int(row['aux'])} references.")


# -- deciding what to share ------------------------------------------------------------
def _first_of(groups, idx, n) -> np.ndarray:
    """For each of ``n`` groups, the first element of ``idx`` (in order) whose group is
    ``groups[k]``, or -1."""
    out = np.full(n, -1, np.int64)
    u, first = np.unique(groups, return_index=True)
    out[u] = idx[first]
    return out


def _self_query(g, kinv, ek, own, ref) -> np.ndarray:
    """Per table entry: the query it is the page of (its VM's, same GPPN and hash), or -1."""
    out = np.full(len(ek), -1, np.int64)
    if len(g):
        order = np.argsort(g)
        q = order[np.minimum(np.searchsorted(g[order], ref), len(g) - 1)]
        hit = own & (g[q] == ref) & (kinv[q] == ek)
        out[hit] = q[hit]
    return out


def _table_targets(kinv, large, nk, ek, main, sh, cand, selfq, valid):
    """What the table gives the queries (pages; ``kinv``: their hash's index, ``large``: in a
    2 MB page) through the entries found (``ek``: their hash's index, ``main``: in the main
    part, ``sh``: a shared frame, ``cand``: usable by this VM, ``selfq``: the query that is
    the entry's own page, ``valid``). Returns per query whether it has a valid entry of its
    own, and per hash the entry (index into the entries, or -1) of the first shared frame
    and of the first hint that a query of that hash other than the hint's own page finds,
    in the order the queries come (query, then entry, the main part before the recent).
    The plain way is in tests/model/test_fast_paths.py: every (query, entry) pair of a hash."""
    self_ok = np.zeros(len(kinv), bool)
    self_ok[selfq[valid & (selfq >= 0)]] = True
    small = np.flatnonzero(~large)
    ks, first = np.unique(kinv[small], return_index=True)
    q1 = np.full(nk, -1, np.int64)
    q1[ks] = small[first]                              # first query of each hash not in a 2 MB page
    two = np.bincount(kinv[small], minlength=nk) >= 2
    asked = q1[ek] >= 0
    idx = np.arange(len(ek))
    t_sh = _first_of(ek[cand & sh & asked], idx[cand & sh & asked], nk)
    hint = cand & ~sh & asked
    t_hi = np.full(nk, -1, np.int64)
    not_q1s_own = selfq != q1[ek]
    for part in (~main, main):                         # the main part's find wins
        here = hint & part
        first_q = _first_of(ek[here & not_q1s_own], idx[here & not_q1s_own], nk)
        # every such entry is the first query's own page: the second query finds the first
        second = np.where(two, _first_of(ek[here], idx[here], nk), -1)
        got = np.where(first_q >= 0, first_q, second)
        t_hi = np.where(got >= 0, got, t_hi)
    return self_ok, t_sh, t_hi


def _plan(sim, live, vm, gppns, hints: bool, as_small: bool = False):
    """Decide what sharing ``gppns`` of ``vm`` gives. Returns ((hint_rows, their keys),
    share_rows, new_shared, would_share): rows to emit, (key, MPN, cid) of frames that become
    shared, and per given GPPN whether it would be shared (``as_small``: as if large pages
    were broken)."""
    host = sim.state.host
    g_all = np.asarray(gppns, np.int64)
    would = np.zeros(len(g_all), bool)
    ok = vm.gp_state[g_all] == MAPPED
    _, first = np.unique(g_all, return_index=True)
    dup = np.ones(len(g_all), bool)
    dup[first] = False
    ok &= ~dup
    pos = np.flatnonzero(ok)
    g = g_all[pos]
    m = vm.gp_loc[g].astype(np.int64)
    large = ((host.mpn_flags[m] & H.LARGE) != 0) & (not as_small)
    cid = host.mpn_content[m]
    grp = vm.salt
    key = page_hashes(cid) ^ live.mix[grp]
    uk, kinv = np.unique(key, return_inverse=True)
    kinv = kinv.reshape(-1)
    tb = live.table
    ek, e = tb.lookup(uk)           # each entry once: one query per distinct hash
    # check the entries found against the state (rehash hints; shared frames still shared)
    evm, ref, egrp, ekey = tb.get("vm", e), tb.get("ref", e), tb.get("grp", e), tb.get("key", e)
    valid = np.zeros(len(e), bool)
    usable = np.zeros(len(e), bool)
    frame = np.full(len(e), -1, np.int64)
    sh = evm < 0
    fs = ref[sh]
    valid[sh] = ((host.mpn_state[fs] == H.SHARED) & (host.mpn_content[fs] == tb.get("cid", e[sh]))
                 & (live.mpn_grp[fs] == egrp[sh]))
    frame[sh] = fs
    usable[sh] = valid[sh]
    for v in np.unique(evm[~sh]):
        sel = evm == v
        other = sim.vms[int(v)]
        hg = ref[sel]
        mapped = other.gp_state[hg] == MAPPED
        f = np.where(mapped, other.gp_loc[hg], 0).astype(np.int64)
        rehash = page_hashes(host.mpn_content[f]) ^ live.mix[other.salt]
        valid[sel] = mapped & (rehash == ekey[sel])
        frame[sel] = f
        usable[sel] = valid[sel] & (as_small | ((host.mpn_flags[f] & H.LARGE) == 0))
    main = e < len(tb.main["key"])
    tb.kill(e[~valid])              # stale hints and freed shared frames leave the table
    selfq = _self_query(g, kinv, ek, (evm == vm.index) & ~sh, ref)
    self_ok, t_sh, t_hi = _table_targets(kinv, large, len(uk), ek, main, sh, usable & (egrp == grp), selfq, valid)
    # one target per hash, the same for every page with it: a shared frame found in the
    # table, else a hint's frame, else the frame of the batch's first page with that hash
    frame = np.r_[frame, -1]                         # entry -1: no frame
    t_table = np.where(t_sh >= 0, frame[t_sh], frame[t_hi])
    sharer = np.flatnonzero(~large)
    lead = _first_of(kinv[sharer], m[sharer], len(uk))
    target = np.where(t_table >= 0, t_table, lead)[kinv]
    target[large] = -1
    match = target >= 0
    match[match] = same_bytes(cid[match], host.mpn_content[target[match]])
    # without a table target the first page shares with later identical ones; a zero page
    # alone becomes the shared zero page by itself, any other page alone stays a hint
    mates = np.bincount(kinv[match], minlength=len(uk))[kinv]
    alone = match & (t_table[kinv] < 0) & (mates < 2)
    row_ok = match & ((target != m) | (alone & (cid == C.ZERO_CID)))
    shared = match & ~(alone & (cid != C.ZERO_CID))
    would[pos] = shared
    hint = hints & ~shared & ~self_ok
    hint_rows = sim.rows(int(hint.sum()), apply_hint.code, vm.index, gppn=g[hint], mpn=m[hint],
                         content=cid[hint], aux=(key[hint] >> np.uint64(32)).astype(np.uint32),
                         flags=np.where(large[hint], F_IN_LARGE, 0))
    sel = np.flatnonzero(row_ok)
    share_rows = sim.rows(len(sel), apply_share.code, vm.index, gppn=g[sel], mpn=target[sel], content=cid[sel])
    newly, fi = np.unique(target[sel], return_index=True)
    conv = host.mpn_state[newly] == H.PRIVATE
    new_shared = (key[sel][fi[conv]], newly[conv], host.mpn_content[newly[conv]])
    return (hint_rows, key[hint]), share_rows, new_shared, would


def _emit(sim, live, vm, plan) -> None:
    (hint_rows, hint_keys), share_rows, (nkey, nmpn, ncid), _ = plan
    sim.emit(hint_rows)
    sim.emit(share_rows)
    live.table.add(hint_keys, vm.salt, vm.index, hint_rows["gppn"].astype(np.int64), hint_rows["content"])
    live.mpn_grp[nmpn] = vm.salt
    live.table.add(nkey, vm.salt, -1, nmpn, ncid)


def scan_rate(sim, vm, n_sharing: int) -> float:
    """Pages per second the scanner visits in ``vm`` in the current host state."""
    s = sim.settings
    ghz = s["Mem.ShareScanGHz"] * s["Sim.HostGHz"] * PAGES_PER_MB / max(1, n_sharing)
    rate = min(s["Mem.ShareRateMax"], ghz)
    if sim.state.host_state == states.HIGH:
        rate = min(rate, vm.n / (s["Mem.ShareScanTime"] * 60))
    return rate


def hinted(vm, gppns) -> np.ndarray:
    """Per GPPN: TPS hashed it and keeps the hash as a hint (state: replays)."""
    return (vm.tps_flags[gppns] & HINT) != 0


def zero_hinted(vm, gppns) -> np.ndarray:
    """Per GPPN: hinted, and its bytes were zeros when hashed."""
    return (vm.tps_flags[gppns] & HINT_ZERO) != 0


# -- the mechanism -----------------------------------------------------------------------
class PageSharing(Mechanism):
    """Mechanism: the background scanner (tick, after large pages were broken), copy on write
    (fault) and share before swap (before_swap). Its live state (``live``: the hash table,
    the scan order) is never part of the State."""

    name = "tps"
    after = ("states", "largepages")
    counters = (
        counter.vm("ZERO", "MB", "tps", "guest memory that is zero pages (shared onto the one zero MPN)",
                   "Zero MBytes"),
        counter.vm("SHRD", "MB", "tps", "guest memory that is shared with other pages (by TPS)", "Shared MBytes"),
        counter.vm("SHRDSVD", "MB", "tps", "machine memory saved by sharing, attributed to this VM",
                   "Shared Saved MBytes"),
        counter.vm("COWH", "MB", "tps", "copy-on-write hints: pages hashed once, not yet shared",
                   "Copy-On-Write Hint MBytes"),
        counter.vm("COW/s", "pages/s", "tps", "copy-on-write breaks: writes to shared pages that got a "
                   "private copy"),
        counter.host("pshare_shared_mb", "PSHARE/MB", "shared", "guest memory mapped to shared machine pages",
                     "PShare Shared MBytes"),
        counter.host("pshare_common_mb", "PSHARE/MB", "common", "machine memory those shared pages use",
                     "PShare Common MBytes"),
        counter.host("pshare_saving_mb", "PSHARE/MB", "saving", "shared - common, the memory TPS saves",
                     "PShare Savings MBytes"),
    )

    def __init__(self, sim):
        super().__init__(sim)
        self.live = Live(sim)

    @classmethod
    def setup_state(cls, state, scenario):
        for vm in state.vms:
            vm.tps_flags = np.zeros(vm.n, np.uint8)
            vm.ARRAYS = vm.ARRAYS + ("tps_flags",)

    def share_pages(self, vm, gppns, hints: bool = True) -> np.ndarray:
        """Hash ``gppns`` of ``vm`` and share those with an identical page (or with each other);
        with ``hints`` the others are kept as hints. Returns a mask: which GPPNs were shared."""
        gppns = np.asarray(gppns, np.int64)
        if not self.live.enabled[vm.index] or len(gppns) == 0:
            return np.zeros(len(gppns), bool)
        plan = _plan(self.sim, self.live, vm, gppns, hints)
        _emit(self.sim, self.live, vm, plan)
        return plan[3]

    def shareable(self, vm, gppns) -> np.ndarray:
        """Which of ``gppns`` would be shared if their large pages were broken (no events)."""
        gppns = np.asarray(gppns, np.int64)
        if not self.live.enabled[vm.index] or len(gppns) == 0:
            return np.zeros(len(gppns), bool)
        return _plan(self.sim, self.live, vm, gppns, hints=False, as_small=True)[3]

    def before_swap(self, vm, gppns, urgent):
        """Share before swap: try to share ``gppns`` at once; return the GPPNs that were NOT
        shared (still to be swapped). No hints are kept for pages about to leave memory."""
        gppns = np.asarray(gppns, np.int64)
        return gppns[~self.share_pages(vm, gppns, hints=False)]

    def tick(self):
        sim = self.sim
        if sim.state.host_state == states.LOW:
            return
        live = self.live
        sharing = [vm for vm in sim.vms if live.enabled[vm.index]]
        for vm in sharing:
            live.credit[vm.index] += scan_rate(sim, vm, len(sharing)) * sim.settings["Sim.TimeScale"]
            k = int(live.credit[vm.index])
            live.credit[vm.index] -= k
            k = min(k, vm.n)                # no page twice in one tick
            g = live.next_pages(vm, k)
            g = g[vm.gp_state[g] == MAPPED]
            if len(g):
                self.share_pages(vm, g)

    def fault(self, vm, gppns, writes):
        w = gppns[writes & (vm.gp_state[gppns] == SHARED)]
        if len(w):
            self.sim.emit(self.sim.rows(len(w), apply_cow.code, vm.index, gppn=w))

    @staticmethod
    def vm_values(state, vm, sim, tally) -> dict:
        m = tally.shared_frames(vm)
        zero = int(np.count_nonzero(state.host.mpn_content[m] == C.ZERO_CID))
        saved = float(np.sum(1.0 - 1.0 / np.maximum(tally.shared_refs(vm), 1)))
        cowh = int(np.count_nonzero((vm.tps_flags & HINT) & tally.mapped(vm)))
        return {"ZERO": mb(zero), "SHRD": mb(len(m)), "SHRDSVD": mb(saved), "COWH": mb(cowh),
                "COW/s": tally.rows(vm, apply_cow.code)}

    @staticmethod
    def host_values(state, sim, tally) -> dict:
        shared = sum(tally.pages(vm, SHARED) for vm in state.vms)
        common = int(np.count_nonzero(state.host.mpn_state == H.SHARED))
        return {"pshare_shared_mb": mb(shared), "pshare_common_mb": mb(common),
                "pshare_saving_mb": mb(shared - common)}
