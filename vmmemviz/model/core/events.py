"""Events: every change of model state is one typed row, the unit a user steps through.

An event row (``EVENT_DTYPE``) records what happened: tick, kind, VM, process, GVPN,
GPPN, MPN, a slot (swap or compression slot), the page's new content id and a free
``aux`` word whose meaning the kind defines (a count, a walk cost, flags). Mechanism
modules register their kinds with :func:`kind`; each kind has

* ``apply(state, rows)``: carry out a run of rows of this kind on the state, vectorised.
  Applying rows one at a time gives exactly the state that applying them as one run
  gives (tests check it), so a seek can stop on any event.
* ``narrate(row, names)``: one plain-English sentence about the row.

Live simulation and replay go through the same ``apply``: the simulator only decides
(with its random generator) *what* happens and fills the rows; ``apply`` does it.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable

import numpy as np

NONE = np.uint32(0xFFFFFFFF)

EVENT_DTYPE = np.dtype([
    ("tick", "<u4"), ("kind", "u1"), ("vm", "u1"), ("proc", "u1"), ("flags", "u1"),
    ("gvpn", "<u4"), ("gppn", "<u4"), ("mpn", "<u4"), ("slot", "<u4"),
    ("content", "<u4"), ("aux", "<u4"),
])

# row flags
F_WRITE = 1      # the access wrote the page
F_TLB_HIT = 2    # the translation came from the TLB
F_RANGE = 4      # the row covers ``aux`` consecutive GPPNs from ``gppn``


@dataclass(frozen=True)
class Kind:
    code: int
    name: str
    group: str            # for colours and filters: core, access, guest, tps, lpage, balloon, swap, zip, state
    apply: Callable
    narrate: Callable
    help: str             # one paragraph for F1 help: which part of the guide this is
    # a kind that moves page content declares its arrow: from the layer or store the
    # content leaves (src: "gv", "gp", "mp" or a store's name) to the one it goes to (dst),
    # drawn as a flow in the colour of ``flow`` (an arrow colour group: "swap", "zip", "gswap")
    src: str | None = None
    dst: str | None = None
    flow: str | None = None


# event group -> what its kinds are about (filter tooltips, help)
GROUP_TITLES = {"core": "VM power-on and backing guest pages with machine pages",
                "access": "Memory accesses: TLB hits, page walks",
                "guest": "Guest OS and applications: allocate, free, boot, guest-level paging",
                "tps": "Transparent page sharing: hashing, sharing, copy-on-write", "lpage": "2 MB large pages",
                "balloon": "Ballooning (vmmemctl)", "swap": "Hypervisor swapping, to the host cache or .vswp",
                "zip": "Memory compression", "state": "Host free-memory states, targets, active-memory sampling"}

KINDS: dict[int, Kind] = {}
BY_NAME: dict[str, Kind] = {}


def kind(code: int, name: str, group: str, help: str, src: str | None = None, dst: str | None = None,
         flow: str | None = None):
    """Decorator pair: ``@kind(...)`` on the apply function, then ``.narrator`` on the narrate."""
    assert (src is None) == (dst is None) == (flow is None), f"{name}: src, dst and flow go together"

    def register(apply):
        def narrator(fn):
            k = Kind(code, name, group, apply, fn, help, src, dst, flow)
            assert code not in KINDS, f"event kind {code} registered twice"
            KINDS[code] = BY_NAME[name] = k
            return fn
        apply.narrator = narrator
        apply.code = code
        return apply
    return register


def writing(store: str) -> tuple:
    """Codes of the kinds that write pages into ``store`` (e.g. SWW/s for the .vswp)."""
    return tuple(c for c, k in KINDS.items() if k.dst == store)


def reading(store: str) -> tuple:
    """Codes of the kinds that bring pages back from ``store``."""
    return tuple(c for c, k in KINDS.items() if k.src == store)


def make_rows(n: int, tick: int, kind_code: int, vm: int = 0, **fields) -> np.ndarray:
    """``n`` rows of one kind; ``fields`` give scalars or arrays for any column."""
    rows = np.zeros(n, EVENT_DTYPE)
    rows["tick"] = tick
    rows["kind"] = kind_code
    rows["vm"] = vm
    for k in ("gvpn", "gppn", "mpn", "slot"):
        rows[k] = NONE
    for k, v in fields.items():
        rows[k] = v
    return rows


def as_bytes(rows: np.ndarray) -> np.ndarray:
    """Rows as a flat uint8 view. numpy copies, concatenates and fancy-indexes structured arrays
    field by field, 10-40x slower than the same bytes: the log's bulk copies go through this."""
    return np.ascontiguousarray(rows, EVENT_DTYPE).view(np.uint8).reshape(-1)


def take_rows(rows: np.ndarray, index) -> np.ndarray:
    """``rows[index]`` (an integer index), copied as whole rows of bytes."""
    return np.ascontiguousarray(rows, EVENT_DTYPE).view(np.dtype((np.void, EVENT_DTYPE.itemsize)))[index].view(EVENT_DTYPE)


def concat_rows(parts) -> np.ndarray:
    """``np.concatenate(parts)`` of row arrays, copied as bytes."""
    return np.concatenate([as_bytes(p) for p in parts]).view(EVENT_DTYPE)


def assign_last(arr: np.ndarray, index, values) -> None:
    """``arr[index] = values`` where, for a repeated index, the last value wins (as one by one)."""
    index = np.asarray(index)
    _, first_from_end = np.unique(index[::-1], return_index=True)
    pick = len(index) - 1 - first_from_end
    arr[index[pick]] = np.asarray(values)[pick]


def per_vm_target(key: str) -> Callable:
    """An apply function for a kind that announces a per-VM target (SZTGT, MCTLTGT, SWTGT): each
    row sets ``state.extra[key][vm]`` to its ``aux``."""
    def apply(state, rows):
        assign_last(state.extra[key], rows["vm"], rows["aux"])
    return apply


def by_vm(state, rows: np.ndarray):
    """(vm, mask of its rows) for each VM the rows name, lowest first: the loop of apply functions."""
    vms = rows["vm"]
    for v in np.unique(vms):
        yield state.vms[int(v)], vms == v


def runs(rows: np.ndarray):
    """Yield (start, stop) of maximal runs of rows with the same kind."""
    n = len(rows)
    if n == 0:
        return
    k = rows["kind"]
    cut = np.flatnonzero(k[1:] != k[:-1]) + 1
    bounds = np.concatenate(([0], cut, [n]))
    for a, b in zip(bounds[:-1], bounds[1:]):
        yield int(a), int(b)


def apply_rows(state, rows: np.ndarray) -> None:
    """Carry out ``rows`` on ``state`` in order."""
    for a, b in runs(rows):
        KINDS[int(rows["kind"][a])].apply(state, rows[a:b])
    if len(rows):
        state.tick = int(rows["tick"][-1])


def narrate(row, names) -> str:
    """One sentence for one row. ``names`` is the list of VM names."""
    return KINDS[int(row["kind"])].narrate(row, names)


def hx(v) -> str:
    """Page numbers are shown in hex, as ESXi's tools do."""
    return f"0x{int(v):x}"


class _Rows:
    """Row access by index and column, over ``rows(a, b)`` and ``n``."""

    n: int

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.rows(i, i + 1)[0]

    def column(self, name: str, a: int = 0, b: int | None = None) -> np.ndarray:
        """One column of rows a..b."""
        return self.rows(a, b)[name]

    def tick_index(self, tick: int, side: str = "left", hi: int | None = None) -> int:
        """The first row (before ``hi``) of a tick >= ``tick`` (``side="right"``: > ``tick``).
        Ticks never decrease, so a bisection reads a few rows, not a copy of the log."""
        snap = self.snapshot()
        find = bisect.bisect_left if side == "left" else bisect.bisect_right
        return find(snap, tick, 0, snap.n if hi is None else hi, key=lambda r: int(r["tick"]))


@dataclass(frozen=True)
class LogSnapshot(_Rows):
    """The first ``n`` rows of an EventLog: what the UI thread reads while the log grows."""

    chunks: tuple               # row arrays, in order
    starts: tuple               # index of each chunk's first row, then n
    n: int

    def snapshot(self) -> "LogSnapshot":
        return self

    def rows(self, a: int = 0, b: int | None = None) -> np.ndarray:
        """Rows a..b, read only (a copy when they span chunks, else a view)."""
        out = self.writable_rows(a, b)
        out.flags.writeable = False
        return out

    def writable_rows(self, a: int = 0, b: int | None = None) -> np.ndarray:
        """Rows a..b for the simulation thread (a view when in one chunk: do not modify)."""
        b = self.n if b is None else min(b, self.n)
        a = max(0, min(a, b))
        i = max(0, int(np.searchsorted(self.starts, a, side="right")) - 1)
        parts = []
        while i < len(self.chunks) and self.starts[i] < b:
            s0 = self.starts[i]
            parts.append(self.chunks[i][max(a - s0, 0):b - s0])
            i += 1
        return parts[0] if len(parts) == 1 else concat_rows(parts) if parts else np.zeros(0, EVENT_DTYPE)


class EventLog(_Rows):
    """All rows so far, append-only, in blocks: appending never copies what is logged."""

    BLOCK = 65536

    def __init__(self):
        self._chunks = []          # full arrays, in order
        self._starts = [0]         # index of each chunk's first row; last = rows in chunks
        self._cur = np.zeros(self.BLOCK, EVENT_DTYPE)
        self._cur_n = 0
        self.n = 0

    def _seal(self) -> None:
        if self._cur_n:
            self._chunks.append(self._cur[:self._cur_n])
            self._starts.append(self._starts[-1] + self._cur_n)
            self._cur = np.zeros(self.BLOCK, EVENT_DTYPE)
            self._cur_n = 0

    def append(self, rows: np.ndarray) -> None:
        k = len(rows)
        if k > self.BLOCK // 4:
            self._seal()
            self._chunks.append(rows)     # the simulator hands rows over; it never reuses them
            self._starts.append(self._starts[-1] + k)
        else:
            if self._cur_n + k > self.BLOCK:
                self._seal()
            as_bytes(self._cur[self._cur_n:self._cur_n + k])[:] = as_bytes(rows)
            self._cur_n += k
        self.n += k

    def snapshot(self) -> "LogSnapshot":
        """The rows logged so far, frozen: another thread may read it while this log grows
        (a new block never moves old rows; replaying a row only writes its derived columns
        with the values they already hold)."""
        chunks = tuple(self._chunks) + ((self._cur[:self._cur_n],) if self._cur_n else ())
        return LogSnapshot(chunks, tuple(self._starts) + ((self.n,) if self._cur_n else ()), self.n)

    def rows(self, a: int = 0, b: int | None = None) -> np.ndarray:
        """Rows a..b (a copy when they span blocks, else a view: do not modify)."""
        return self.snapshot().writable_rows(a, b)
