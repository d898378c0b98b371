"""Bands: the model State as page-grid images, one uint8 palette code per page.

Top to bottom: guest virtual (one grid per process, under its VM), guest physical (one
grid per VM, side by side), machine memory (one grid, full width), backing stores (per VM:
compression cache, .vswp, guest swap; stacked, or in a column too narrow for their titles
side by side on one label line where that halves their height), then the stores of the
whole host (the host cache), once, full width (narrower beside a large host, so it is not a
hairline). A band's ``layer`` is the layer name ``model.inspect`` uses, so a cell is the
reference ``(layer, vm, proc, index)`` (a host store's cell names the VM whose page
it holds).

Stores are the model's (``state.stores``, model/core/store.py): every store a mechanism
declares gets a band per VM (``Store.per_host``: one for the host), sized, filled and
titled by the store itself. The code functions take an index (``idx``) so a frame can be
built again for the pages that changed only (scene/incremental.py).
The layout (cell positions) depends only on the sizes and the view's shape, so it is
stable while playing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from vmmemviz.model.catalog import MECHANISMS
from vmmemviz.model.core import content as C
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.core import host as H
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.store import extent_of
from . import palette as P
from . import parallel

BADGE_MAX = 20000       # shared-frame count badges are sent only up to this many
ASPECT = 1.4            # default width / height of the picture (the view asks for its own)
TITLE_WIDTH = 8         # label heights of width a store's title needs to show
PROC_SEP = " / "        # a process band's title: its VM's name, this, the process's name


@dataclass(frozen=True)
class Band:
    key: str                 # "gv.0.1", "gp.0", "mp", "zip.0", "vswp.0", "gswap.0"
    layer: str               # gv, gp, mp, zip, vswp, gswap (model.inspect layers)
    vm: int | None
    proc: int | None
    title: str
    count: int               # pages; cells past it are padding (palette.BG)
    cols: int
    x: float                 # top-left of the grid, in cells
    y: float
    codes: np.ndarray = field(repr=False)     # (rows, cols) uint8 palette codes
    badges: tuple = ()       # (index, refcount) of shared frames
    outlines: tuple = ()     # (start, length) of large-page groups
    total: int = 0           # a store's full size in slots (0: the band shows all pages)
    slot_kib: int = 4        # KiB a cell stands for (the compression cache counts 1 KiB units)
    owners: np.ndarray | None = field(default=None, repr=False)   # a host store: the VM per slot
    owner: str = ""          # the VM's name, for a VM's bands ("" for the host's)

    @property
    def proc_name(self) -> str | None:
        """A process band's process name (its title is the VM's name, ``PROC_SEP``, the
        process's: read by the VM's name, as either may hold the separator), else None."""
        return self.title[len(self.owner) + len(PROC_SEP):] if self.layer == "gv" else None

    @property
    def rows(self) -> int:
        return -(-self.count // self.cols)

    def ref(self, index: int) -> tuple:
        vm = self.vm if self.owners is None else int(self.owners[index])
        return (self.layer, vm, self.proc, int(index))

    def index_at(self, x: float, y: float) -> int | None:
        """The page under scene point (x, y), or None (also a free slot of a host store: it
        belongs to no VM)."""
        c, r = int(np.floor(x - self.x)), int(np.floor(y - self.y))
        if 0 <= c < self.cols and 0 <= r < self.rows:
            i = r * self.cols + c
            if i < self.count and (self.owners is None or self.owners[i] != H.NO_VM):
                return i
        return None

    def range_rects(self, lo: int, hi: int) -> list:
        """Scene rectangles (x, y, w, h) covering pages lo..hi-1: at most three row spans."""
        lo, hi = max(0, lo), min(self.count, hi)
        if hi <= lo:
            return []
        cols = self.cols
        r0, c0 = divmod(lo, cols)
        r1, c1 = divmod(hi - 1, cols)
        if r0 == r1:
            return [(self.x + c0, self.y + r0, c1 - c0 + 1, 1)]
        out = [(self.x + c0, self.y + r0, cols - c0, 1)]
        if r1 > r0 + 1:
            out.append((self.x, self.y + r0 + 1, cols, r1 - r0 - 1))
        out.append((self.x, self.y + r1, c1 + 1, 1))
        return out


# a store's cells take the colour of its event group
STORE_CODES = {"zip": P.ZIP, "swap": P.SWAP, "guest": P.GSWAP}
MEMORY_LAYERS = ("gv", "gp", "mp")
HOST_STORES = frozenset(s.name for m in MECHANISMS for s in m.stores if s.per_host)


def store_key(layer: str, vm) -> str:
    """The band key of a store: one band per VM, or one for the host."""
    return layer if layer in HOST_STORES else f"{layer}.{vm}"


def store_code(store) -> int:
    """The palette code of a store's cells (and of the pages it holds); a store for the whole
    host (the host cache) has its own."""
    return P.HOSTCACHE if store.per_host else STORE_CODES.get(store.group, P.SWAP)


def is_store(band) -> bool:
    """A band of a backing store (the model's ``state.stores``), not a memory layer."""
    return band.layer not in MEMORY_LAYERS


def band_kib(band) -> int:
    """Size of what a band's cells hold, in KiB: a page, or a store's slot."""
    return band.slot_kib


def store_of(state, layer: str):
    """The model's store (``state.stores``) a store band shows, or None for a memory layer."""
    return state.stores.get(layer)


# -- codes ---------------------------------------------------------------------------------
# A full build computes CHUNK pages at a time, so a pass's temporaries stay in the CPU's cache
# (a uint8 compare then costs ~0.05 ns a page, against ~0.2 through memory). A state's code
# is a lookup in a 256-entry table, two pages per take (numpy's take costs per element, not
# per byte); a mapped page's code is a take from the codes of the layer below, added in where
# its table entry is 0 (uint8 arithmetic: no branches, no masked copies, which cost 20x more).
CHUNK = 1 << 16
MP_CODES = {H.HV: P.HV, H.SHARED: P.SHARED, H.ZIP: P.ZIP}            # others: free
GP_CODES = {V.SHARED: P.SHARED, V.BALLOONED: P.BALLOON}      # and each store's page state


ALL = slice(None)         # every page (the code functions' default index)


def _table(codes: dict, default: int, below=None) -> np.ndarray:
    """A state's code per state value; 0 for ``below`` (its code is the page's below)."""
    out = np.full(256, default, np.uint8)
    for s, code in codes.items():
        out[s] = code
    if below is not None:
        out[below] = 0
    return out


MP_TABLE = _table(MP_CODES, P.FREE, H.PRIVATE)
GV_TABLE = _table({G.GSWAPPED: P.GSWAP}, P.UNMAPPED, G.RESIDENT)


@lru_cache(maxsize=8)
def _pairs(table: bytes) -> np.ndarray:
    """``table`` (256 codes) for two states at once: a little-endian uint16 of two state values
    gives the uint16 of their two codes."""
    t = np.frombuffer(table, np.uint8).astype("<u2")
    i = np.arange(1 << 16)
    return t[i & 0xFF] | (t[i >> 8] << 8)


def _lookup(table: np.ndarray, states: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[:] = table[states]`` (uint8 states and codes, ``out`` contiguous); pages all in
    one state (an untouched half of a VM, a run of private frames) are a fill."""
    if len(states) and states[0] == states[-1] and (states == states[0]).all():
        out.fill(table[states[0]])
        return out
    if len(states) % 2 or not states.flags.c_contiguous:
        return np.take(table, states, out=out, mode="clip")
    np.take(_pairs(table.tobytes()), states.view("<u2"), out=out.view("<u2"), mode="clip")
    return out


def _below(codes: np.ndarray, here: np.ndarray, below: np.ndarray, at: np.ndarray) -> None:
    """``codes`` (0 where ``here``) += ``below[at]`` where ``here``: the code of the page below
    (a chunk of pages none of which is ``here``, half a VM's untouched, costs no take)."""
    if here.any():
        codes += here.view(np.uint8) * np.take(below, at.astype(np.intp), mode="clip")


def _parts(n: int, idx):
    """(output part, input index) pairs: every page ``n`` in chunks, or the pages ``idx``."""
    if idx is not ALL:
        return ((ALL, idx),)
    return ((slice(a, min(n, a + CHUNK)),) * 2 for a in range(0, n, CHUNK))


def _out(n: int, idx, out):
    return np.empty(n if idx is ALL else len(idx), np.uint8) if out is None else out


def mp_codes(state, idx=ALL, out=None) -> np.ndarray:
    """Codes of the MPNs ``idx`` (default all; into ``out`` when given)."""
    h = state.host
    out = _out(h.n_mpn, idx, out)
    few = len(state.vms) <= P.VM_SLOTS
    for o, i in _parts(h.n_mpn, idx):
        st, owner = h.mpn_state[i], h.mpn_owner[i]
        codes = _lookup(MP_TABLE, st, out[o])
        if few:
            vm = owner * np.uint8(2) + np.uint8(P.VM_BASE)     # NO_VM wraps, but is not private
        else:
            vm = (P.VM_BASE + 2 * (owner.astype(np.int32) % P.VM_SLOTS)).astype(np.uint8)
        vm += (h.mpn_content[i] == C.ZERO_CID).view(np.uint8)
        vm *= (st == H.PRIVATE).view(np.uint8)
        codes += vm
    return out


def gp_table(state) -> np.ndarray:
    """The code of each ``gp_state`` (0 for a mapped page: its machine page's)."""
    return _table(GP_CODES | {s.page_state: store_code(s) for s in state.stores.values()
                              if s.page_state is not None}, P.FREE, V.MAPPED)


def gp_codes(state, vm, mp: np.ndarray, idx=ALL, out=None) -> np.ndarray:
    """Codes of the GPPNs ``idx``: a mapped GPPN shows the code of its machine page (``mp``:
    every MPN's code)."""
    out, table = _out(vm.n, idx, out), gp_table(state)
    for o, i in _parts(vm.n, idx):
        st = vm.gp_state[i]
        _below(_lookup(table, st, out[o]), st == V.MAPPED, mp, vm.gp_loc[i])
    return out


def gv_codes(proc, gp: np.ndarray, idx=ALL, out=None) -> np.ndarray:
    """Codes of the GVPNs ``idx`` of ``proc``; ``gp``: every GPPN's code of its VM."""
    out = _out(proc.vpages, idx, out)
    for o, i in _parts(proc.vpages, idx):
        st = proc.pt_state[i]
        _below(_lookup(GV_TABLE, st, out[o]), st == G.RESIDENT, gp, proc.pt[i])
    return out


def store_codes(size: int, occupied: np.ndarray, code: int) -> np.ndarray:
    codes = np.full(size, P.FREE, np.uint8)
    n = min(size, len(occupied))
    codes[:n][occupied[:n]] = code
    return codes


def _grid(flat: np.ndarray, cols: int) -> np.ndarray:
    rows = -(-len(flat) // cols)
    out = np.full(rows * cols, P.BG, np.uint8)
    out[:len(flat)] = flat
    return out.reshape(rows, cols)


# -- layout ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    key: str
    layer: str
    vm: int | None
    proc: int | None
    title: str
    count: int
    cols: int
    x: float
    y: float
    total: int = 0           # a store's full size, when the band shows only its used part
    owner: str = ""          # the VM's name, for a VM's bands (Band.owner)


def label_height(width: int) -> float:
    """Height of a band's label line, in cells (labels scale with the picture)."""
    return max(4.0, width / 40)


def gap(width: int, columns: int = 1) -> int:
    """Space between bands, in cells: narrower with many VM columns side by side."""
    return max(1, min(round(width / 64), round(width / (12 * columns))))


@lru_cache(maxsize=16)
def layout(mp_pages: int, vms: tuple, aspect: float = ASPECT, host: tuple = (), width: int | None = None) -> tuple:
    """Slots for every band. ``vms``: per VM (name, gp pages, ((proc name, pages), ...),
    ((store layer, title, size, shown), ...)); ``host``: the host's stores, as (store layer,
    title, size, shown). ``width`` (in cells): this width, default ``fit_width``'s."""
    return _place(mp_pages, vms, width or fit_width(mp_pages, vms, aspect, host), host)[0]


@lru_cache(maxsize=16)
def fit_width(mp_pages: int, vms: tuple, aspect: float = ASPECT, host: tuple = ()) -> int:
    """The width (in cells, a multiple of 16) whose picture is closest to ``aspect`` (width /
    height): the picture gets wider as the width grows, so a bisection finds it, then its
    neighbours are compared."""
    lo, hi = 3, (1 << 15) // 16            # widths lo*16 .. hi*16
    while hi - lo > 1:
        mid = (lo + hi) // 2
        _, height = _place(mp_pages, vms, mid * 16, host, False)
        lo, hi = (mid, hi) if mid * 16 / height < aspect else (lo, mid)
    return min(range(max(3, lo - 2) * 16, (hi + 3) * 16, 16),
               key=lambda w: abs(np.log(w / _place(mp_pages, vms, w, host, False)[1] / aspect)))


def _place(mp_pages: int, vms: tuple, w: int, host: tuple = (), make: bool = True):
    """(the slots of every band at width ``w``, the picture's height); ``make`` False: the
    height only (the width search: a slot costs more than the arithmetic that places it)."""
    n = len(vms)
    g, lab = gap(w, n), label_height(w)
    cw = max(4, int((w - g * (n - 1)) // n))
    slots, y = [], lab         # each row of bands starts with a heading line (the layer's name)
    # guest virtual: each VM's processes side by side inside its column
    row_h = 0
    for i, (name, _, procs, _) in enumerate(vms):
        x0 = i * (cw + g)
        if not procs:
            continue
        pw = max(2, int((cw - g * (len(procs) - 1)) // len(procs)))
        for j, (pname, pages) in enumerate(procs):
            if make:
                slots.append(Slot(f"gv.{i}.{j}", "gv", i, j, f"{name}{PROC_SEP}{pname}", pages, pw,
                                  x0 + j * (pw + g), y + lab, owner=name))
            row_h = max(row_h, -(-pages // pw))
    if row_h:
        y += lab + row_h + 2 * g + lab
    row_h = 0
    for i, (name, pages, _, _) in enumerate(vms):
        if make:
            slots.append(Slot(f"gp.{i}", "gp", i, None, name, pages, cw, i * (cw + g), y + lab, owner=name))
        row_h = max(row_h, -(-pages // cw))
    y += lab + row_h + 2 * g + lab
    mw = n * cw + g * (n - 1)
    slots.append(Slot("mp", "mp", None, None, "machine memory", mp_pages, mw, 0, y + lab))
    y += lab + -(-mp_pages // mw) + 2 * g + lab
    # a VM's stores stacked under it, so their titles show; in a column too narrow for titles
    # (many VMs) side by side on one label line where that halves their height (stacked, the
    # labels of mostly empty stores took more height than their cells)
    row_h = 0.0
    for i, vm in enumerate(vms):
        x0 = i * (cw + g)
        placed = _stores_placed(i, vm, cw, g, lab, x0, y, False, make)
        if cw < TITLE_WIDTH * lab:
            side = _stores_placed(i, vm, cw, g, lab, x0, y, True, make)
            placed = side if 2 * side[1] <= placed[1] else placed
        slots += placed[0]
        row_h = max(row_h, placed[1])
    y += row_h
    for layer, title, size, shown in host:   # the host's stores: once, full width when small (a
        rows = max(4, -(-mp_pages // mw) // 12)  # few rows), else at least a 12th of machine memory
        if size <= mw * 4 and 4 * -(-size // mw) >= rows:   # high (four rows); narrower if need be
            cols = mw
        else:          # (a small store beside a large host: full width would be a hairline)
            cols = max(16, min(mw, -(-min(size, max(shown, mw * 4)) // rows)) // 16 * 16)
        shown = min(size, max(shown, cols * rows))
        slots.append(Slot(layer, layer, None, None, f"{title} (all VMs)", shown, cols, 0, y + lab, size))
        y += lab + -(-shown // cols) + g
    if not host and not any(stores for *_, stores in vms):
        y -= lab               # no stores: no heading for them
    return tuple(slots), max(y - g, 1.0)


def _stores_placed(i: int, vm: tuple, cw: int, g: int, lab: float, x0: float, y: float, side: bool,
                   make: bool = True):
    """(slots of VM ``i``'s stores under its column at (``x0``, ``y``), stacked or ``side`` by
    side, and their height); ``vm`` as ``layout`` takes it; ``make``: as ``_place``'s."""
    name, pages, _, stores = vm
    # rows: at least a twelfth of the VM's own band high (four rows), or it is invisible
    least, h, slots = max(4, pages // cw // 12), 0.0, []
    sw = max(2, int((cw - g * (len(stores) - 1)) // max(1, len(stores)))) if side else cw
    for j, (layer, title, size, shown) in enumerate(stores):
        shown = min(size, max(shown, sw * least))
        rows = -(-shown // sw)
        if make:
            slots.append(Slot(f"{layer}.{i}", layer, i, None, f"{name} {title}", shown, sw,
                              x0 + (j * (sw + g) if side else 0), y + lab + (0 if side else h), size, name))
        h = max(h, lab + rows + g) if side else h + lab + rows + g
    return slots, h


def _stores(state, vm, occupied: dict) -> tuple:
    out = []
    for s in state.stores.values():
        if s.per_host:
            continue
        size = s.size(state, vm)
        shown = shown_slots(size, s.extent(state, vm))
        occupied[(vm.index, s.name)] = s.occupied(state, vm, shown)    # past them, none in use
        out.append((s.name, s.title, size, shown))
    return tuple(out)


def _host_stores(state, occupied: dict) -> tuple:
    """The host's stores as (layer, title, size, shown); ``occupied[(None, layer)]`` gets the
    VM holding each slot (NO_VM: free)."""
    out = []
    for s in state.stores.values():
        if not s.per_host:
            continue
        size = s.size(state, state.vms[0]) if state.vms else 0
        owners = np.full(size, H.NO_VM, np.uint8)
        for vm in state.vms:
            owners[s.occupied(state, vm, size)] = vm.index
        occupied[(None, s.name)] = owners
        out.append((s.name, s.title, size, shown_slots(size, extent_of(owners != H.NO_VM))))
    return tuple(out)


def shown_slots(size: int, used: int) -> int:
    """Slots a store band shows: a small store all of it; a large one (a .vswp is as large
    as the VM) the next power of two above what is used, at least 256: stores fill
    lowest-slot-first, and a mostly empty multi-GB file would crowd the picture."""
    if size <= 1024:
        return size
    return min(size, max(256, 1 << max(0, used - 1).bit_length()))


def shape_key(state, occupied: dict) -> tuple:
    """What the layout depends on: (MPNs, VMs, host stores) as ``layout`` takes them; fills
    ``occupied`` with each store's slots in use (the VMs' stores scanned in two shares,
    parallel.py)."""
    stores = [s for share in parallel.run(lambda vms: [_stores(state, vm, occupied) for vm in vms],
                                          parallel.halves(state.vms)) for s in share]
    return state.host.n_mpn, tuple(
        (vm.name, vm.n, tuple((p.name, p.vpages) for p in vm.procs), st)
        for vm, st in zip(state.vms, stores)), _host_stores(state, occupied)


def store_band(state, s: Slot, occupied: dict) -> Band:
    """The band of one store's slot ``s`` (``occupied``: as ``shape_key`` filled it)."""
    store = store_of(state, s.layer)
    occ = occupied[(s.vm, s.layer)]
    owners = None
    if store.per_host:
        owners = np.full(s.count, H.NO_VM, np.uint8)
        owners[:min(s.count, len(occ))] = occ[:s.count]
        owners.setflags(write=False)
        occ = occ != H.NO_VM
    flat = store_codes(s.count, occ, store_code(store))
    if not store.per_host:
        _two_kib(flat, store.wide(state, state.vms[s.vm], len(flat)))
    return Band(s.key, s.layer, s.vm, s.proc, s.title, s.count, s.cols, s.x, s.y, _grid(flat, s.cols),
                (), (), s.total, store.slot_kib, owners, s.owner)


def _grid_for(s: Slot) -> tuple:
    """(the (rows, cols) grid of slot ``s``, padded with BG, and its first ``s.count`` cells
    flat, to compute the codes into)."""
    out = np.empty(-(-s.count // s.cols) * s.cols, np.uint8)
    out[s.count:] = P.BG
    return out.reshape(-1, s.cols), out[:s.count]


def build_bands(state, aspect: float = ASPECT, known=None) -> tuple:
    """Every band of ``state``, laid out for a picture of about ``aspect`` (width / height);
    ``known``: (``shape_key``, its ``occupied``) when already computed. Each layer's codes are
    computed into their grid: machine memory, then the guest physical pages that show it,
    then the guest virtual pages that show those."""
    occupied = {}
    (mp_pages, vms, host), occupied = known or (shape_key(state, occupied), occupied)
    slots = layout(mp_pages, vms, round(aspect, 1), host)
    grids = grids_for(slots)
    page_codes(state, {k: g[1] for k, g in grids.items()})
    return assemble(state, slots, {k: g[0] for k, g in grids.items()}, occupied, _outlines(state.host))


def page_codes(state, out: dict) -> dict:
    """The codes of every page of the page bands (not stores), into ``out`` ({band key: flat
    uint8 array}; allocated where a key is missing): machine memory, then the guest physical
    pages that show it, then the guest virtual pages that show those."""
    def into(key, n):
        return out.setdefault(key, np.empty(n, np.uint8))
    mp = mp_codes(state, out=into("mp", state.host.n_mpn))
    for i, vm in enumerate(state.vms):
        gp = gp_codes(state, vm, mp, out=into(f"gp.{i}", vm.n))
        for j, p in enumerate(vm.procs):
            gv_codes(p, gp, out=into(f"gv.{i}.{j}", p.vpages))
    return out


def grids_for(slots) -> dict:
    """{key: (the (rows, cols) grid of a page band's slot, padded with BG; its cells flat)}."""
    return {s.key: _grid_for(s) for s in slots if not is_store(s)}


def assemble(state, slots, grids: dict, occupied: dict, outlines: tuple) -> tuple:
    """The bands of ``slots``: the page bands' ``grids`` ({key: codes (rows, cols)}, filled),
    the stores' computed from ``state`` (``occupied``: as ``shape_key`` filled it); the
    machine band's large-page ``outlines``."""
    out = []
    for s in slots:
        if is_store(s):
            out.append(store_band(state, s, occupied))
            continue
        mp = s.layer == "mp"
        out.append(Band(s.key, s.layer, s.vm, s.proc, s.title, s.count, s.cols, s.x, s.y,
                        grids[s.key], _badges(state.host) if mp else (), outlines if mp else (), s.total,
                        owner=s.owner))
    return tuple(out)


def _shape(bands, empty_stores: bool) -> tuple:
    """(the bands kept by key, and ``layout``'s MPNs, VMs and host stores) of ``bands``, the
    stores that hold nothing left out unless ``empty_stores``."""
    def empty(b):
        return is_store(b) and not np.any((b.codes != P.FREE) & (b.codes != P.BG))
    keep = {b.key: b for b in bands if empty_stores or not empty(b)}
    gps = sorted((b for b in keep.values() if b.layer == "gp"), key=lambda b: b.vm)
    vms = tuple((g.title, g.count,
                 tuple((b.proc_name, b.count)
                       for b in sorted((b for b in keep.values() if b.layer == "gv" and b.vm == g.vm),
                                       key=lambda b: b.proc)),
                 tuple((b.layer, b.title, b.total or b.count, b.count)
                       for b in keep.values() if b.vm == g.vm and is_store(b)))
                for g in gps)
    host = tuple((b.layer, b.title, b.total or b.count, b.count)
                 for b in keep.values() if b.vm is None and is_store(b))
    return keep, keep["mp"].count, vms, host


def relayout_width(bands, aspect: float = ASPECT, empty_stores: bool = True) -> int:
    """The width (in cells) ``relayout`` gives ``bands`` for ``aspect``."""
    _, mp_pages, vms, host = _shape(bands, empty_stores)
    return fit_width(mp_pages, vms, round(aspect, 1), host)


def relayout(bands, aspect: float = ASPECT, empty_stores: bool = True, width: int | None = None,
             shape: tuple | None = None) -> tuple:
    """``bands`` laid out again for a picture of about ``aspect`` (figures have one shape
    whatever the window's), or ``width`` cells wide, leaving out the stores that hold nothing
    unless ``empty_stores``. Cells, badges and outlines are page indices, so they stay as they are.
    ``shape``: their ``shape_key`` when known (a store's band may show more slots than it
    uses, so its count is not its ``shape_key`` size)."""
    keep, mp_pages, vms, host = _shape(bands, empty_stores)
    if shape is not None:
        mp_pages, vms, host = shape
    out = []
    for s in layout(mp_pages, vms, round(aspect, 1), host, width):
        old = keep[s.key]
        flat = np.full(s.count, P.FREE, np.uint8)
        n = min(s.count, old.count)
        flat[:n] = old.codes.ravel()[:n]
        owners = None
        if old.owners is not None:
            owners = np.full(s.count, H.NO_VM, np.uint8)
            owners[:n] = old.owners[:n]
        out.append(Band(s.key, s.layer, s.vm, s.proc, old.title, s.count, s.cols, s.x, s.y,
                        _grid(flat, s.cols), old.badges, old.outlines, s.total, old.slot_kib, owners, old.owner))
    return tuple(out)


def reflow(band: Band, aspect: float = 2.4) -> Band:
    """One band alone, its cells re-wrapped to about ``aspect`` (width / height) at the
    origin: a power-of-two row length, so a 2 MB page (512 cells) stays a block."""
    cols = 1 << max(2, round(np.log2(max(4.0, np.sqrt(band.count * aspect)))))
    flat = band.codes.ravel()[:band.count]
    return Band(band.key, band.layer, band.vm, band.proc, band.title, band.count, cols, 0, 0,
                _grid(flat, cols), band.badges, band.outlines, band.total, band.slot_kib, band.owners, band.owner)


def _two_kib(flat: np.ndarray, wide) -> None:
    """A page held in two slots (compressed to 2 KiB: two 1 KiB units of the cache): both get ZIP2."""
    if wide is not None:
        n = min(len(flat), len(wide))
        flat[:n][wide[:n]] = P.ZIP2


def where_in(values: np.ndarray, first: int, span: int = 0, chunk: int = 1 << 18) -> np.ndarray:
    """The flat indices of the uint8 ``values`` from ``first`` to ``first + span``, a chunk at
    a time into one scratch buffer (temporaries as big as a host's frames are new memory,
    faulted in at every seek): one subtraction a chunk, whose minimum skips a chunk without
    any, as most are when they are few (a host's shared frames, its reclaimed pages)."""
    first, span = np.uint8(first), np.uint8(span)
    out, tmp = [], np.empty(min(chunk, len(values)), np.uint8)
    for a in range(0, len(values), chunk):
        part = np.subtract(values[a:a + chunk], first, dtype=np.uint8, out=tmp[:min(chunk, len(values) - a)])
        if part.min() <= span:
            out.append(np.flatnonzero(part <= span) + a)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _badges(h) -> tuple:
    idx = where_in(h.mpn_state, H.SHARED)
    if len(idx) > BADGE_MAX:
        return ()
    return tuple(zip(idx.tolist(), h.mpn_refs[idx].tolist()))


def large_starts(h) -> np.ndarray:
    """The first MPN of every 2 MB large page."""
    n = h.n_mpn - h.n_mpn % H.LARGE_PAGES
    return np.flatnonzero(h.mpn_flags[:n:H.LARGE_PAGES] & H.LARGE) * H.LARGE_PAGES


def outlines_of(starts: np.ndarray) -> tuple:
    return tuple(zip(starts.tolist(), [H.LARGE_PAGES] * len(starts)))


def _outlines(h) -> tuple:
    return outlines_of(large_starts(h))


def scene_rect(bands) -> tuple:
    """(x, y, w, h) around every band, its label and its row's heading."""
    w = max(b.x + b.cols for b in bands)
    lab = label_height(int(w))
    top = min(b.y for b in bands) - 2 * lab
    return (0.0, top, w, max(b.y + b.rows for b in bands) - top)
