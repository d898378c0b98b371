"""The whole model state: the host's frames and every VM's pages, as numpy arrays.

Only arrays and a few integers: a digest of them names a state, a keyframe is a copy of
them (LZ4-compressed, in blocks of ``BLOCK`` bytes), and restoring one is copying them back.
The random generator and the workload cursors are not state: they belong to the live
simulator, which only ever moves forward (replay re-applies logged events, it does not
re-decide them).

A tracked state (:meth:`State.track`, the timeline's two states) knows, per block, which
keyframe blob it last equalled (``src``) and whether it was written since (``dirty``, marked
by the arrays' own write paths, see :class:`Tracked`). A keyframe then compresses only the
blocks written since the last one and shares the rest (a 64 GiB host touches a few per cent
of its blocks between two keyframes), and a restore writes back only the blocks that are
dirty or came from another blob: seeking costs what changed, not the whole state.
"""
from __future__ import annotations

import hashlib

import lz4.frame
import numpy as np

from vmmemviz.model.core.host import Host


BLOCK = 1 << 16     # bytes of an array per keyframe blob


def _raw(arr: np.ndarray) -> np.ndarray:
    """The bytes of ``arr`` as a flat, writable, untracked uint8 view."""
    assert arr.flags.c_contiguous, "state arrays are contiguous"
    return arr.view(np.ndarray).reshape(-1).view(np.uint8)


def _blocks(arr: np.ndarray) -> int:
    return -(-arr.nbytes // BLOCK)


class Tracked(np.ndarray):
    """A state array that marks the blocks each write touches in ``mark`` (one bool per
    ``BLOCK`` bytes of its root array). Writes are ``a[key] = v`` (any key, also through a
    slice view of it), ``ufunc.at(a, ...)``, ``out=a`` and ``fill`` / ``put`` / ``sort``; model
    code writes state arrays no other way. Ufunc results are plain arrays."""

    mark, root, off = None, 0, None       # mark None: a copy, or not tracked

    def __array_finalize__(self, obj):
        mark = getattr(obj, "mark", None)
        if mark is not None and self.base is not None:      # a view, not a fancy-indexed copy
            lo = self.__array_interface__["data"][0] - obj.root
            if 0 <= lo < len(mark) * BLOCK:         # a view into the root (not a copy)
                self.mark, self.root, self.off = mark, obj.root, lo

    def touch(self, key=Ellipsis) -> None:
        """Mark the blocks ``self[key]`` covers."""
        m = self.mark
        if m is None:
            return
        n = len(self) if self.ndim else 1
        if self.ndim != 1 or key is Ellipsis or isinstance(key, tuple):
            lo, hi = 0, max(n - 1, 0)
        elif isinstance(key, slice):
            r = range(*key.indices(n))
            if not r:
                return
            lo, hi = min(r[0], r[-1]), max(r[0], r[-1])
        else:
            k = np.asarray(key)
            idx = np.flatnonzero(k) if k.dtype == bool else k.ravel().astype(np.int64) % max(n, 1)
            if idx.size == 0:
                return
            m[(self.off + idx * self.strides[0]) // BLOCK] = True
            return
        a, b = self.off + lo * self.strides[0], self.off + hi * self.strides[0]
        m[min(a, b) // BLOCK:max(a, b) // BLOCK + 1] = True

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.touch(key)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kw):
        plain = [i.view(np.ndarray) if isinstance(i, Tracked) else i for i in inputs]
        if out is not None:
            kw["out"] = tuple(o.view(np.ndarray) if isinstance(o, Tracked) else o for o in out)
        res = getattr(ufunc, method)(*plain, **kw)
        if method == "at" and isinstance(inputs[0], Tracked):
            inputs[0].touch(inputs[1])
        for o in out or ():
            if isinstance(o, Tracked):
                o.touch()
        return res

    def fill(self, value):
        super().fill(value)
        self.touch()

    def put(self, *a, **kw):
        super().put(*a, **kw)
        self.touch()

    def sort(self, *a, **kw):
        super().sort(*a, **kw)
        self.touch()


class State:
    def __init__(self, host: Host, vms: list, tick: int = 0):
        self.host, self.vms, self.tick = host, vms, tick
        self.host_state = 0          # states.HIGH..LOW, set by the STATE event
        self.extra = {}              # named arrays mechanisms add (e.g. per-VM caches)
        self.stores = {}             # name -> store.Store, set by build_state
        self.src = {}                # array name -> the blobs its blocks equal (tracked states)
        self.src_id = {}             # array name -> id() of those blobs, for a vectorised compare
        self.dirty = {}              # array name -> blocks written since (tracked states)

    def store_holding(self, page_state: int):
        """The store that holds the GPPNs in ``page_state`` (None for none)."""
        return next((s for s in self.stores.values() if s.page_state == page_state), None)

    def _places(self):
        """(name, holder, attribute) of every array of the state, in a fixed order."""
        for a in self.host.ARRAYS:
            yield f"host.{a}", self.host, a
        for vm in self.vms:
            for a in vm.ARRAYS:
                yield f"{vm.index}.{a}", vm, a
            for p in vm.procs:
                yield f"{vm.index}.{p.index}.pt", p, "pt"
                yield f"{vm.index}.{p.index}.pt_state", p, "pt_state"

    def arrays(self):
        """(name, array) for every array of the state, in a fixed order."""
        for name, holder, a in self._places():
            yield name, getattr(holder, a)
        for k in sorted(self.extra):
            yield k, self.extra[k]

    def track(self, snap: "Snapshot") -> None:
        """Make every array :class:`Tracked`; the state equals keyframe ``snap`` now."""
        def tracked(name, arr):
            t = arr.view(Tracked)
            t.mark = self.dirty[name] = np.zeros(_blocks(arr), bool)
            t.root, t.off = t.__array_interface__["data"][0], 0
            return t
        for name, holder, a in self._places():
            setattr(holder, a, tracked(name, getattr(holder, a)))
        for k in self.extra:
            self.extra[k] = tracked(k, self.extra[k])
        self._equal(snap)

    def _equal(self, snap: "Snapshot") -> None:
        """The state equals ``snap`` now: every block clean, from ``snap``'s blobs."""
        self.src, self.src_id = dict(snap.blobs), dict(snap.ids)
        for d in self.dirty.values():
            d[:] = False

    def scalars(self) -> dict:
        out = {"tick": self.tick, "host_state": self.host_state}
        for vm in self.vms:
            for s in vm.SCALARS:
                out[f"{vm.index}.{s}"] = getattr(vm, s)
        return out

    def set_scalars(self, d: dict) -> None:
        self.tick, self.host_state = d["tick"], d["host_state"]
        for vm in self.vms:
            for s in vm.SCALARS:
                setattr(vm, s, d[f"{vm.index}.{s}"])

    def digest(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for name, arr in self.arrays():
            h.update(name.encode())
            h.update(np.ascontiguousarray(arr).data)
        h.update(repr(sorted(self.scalars().items())).encode())
        return h.hexdigest()

    def snapshot(self) -> "Snapshot":
        return Snapshot(self)

    def restore(self, snap: "Snapshot") -> None:
        """Become keyframe ``snap``, writing back only the blocks that differ from it."""
        for name, arr in self.arrays():
            blobs, raw = snap.blobs[name], _raw(arr)
            d, ids = self.dirty.get(name), self.src_id.get(name)
            todo = range(len(blobs)) if d is None or ids is None else np.flatnonzero(d | (ids != snap.ids[name]))
            for b in todo:
                raw[b * BLOCK:(b + 1) * BLOCK] = np.frombuffer(lz4.frame.decompress(blobs[b]), np.uint8)
        if self.dirty:
            self._equal(snap)
        self.set_scalars(snap.scalars)
        self.host.recount()

    def nbytes(self) -> int:
        return sum(a.nbytes for _, a in self.arrays())


class Snapshot:
    """A keyframe: every array LZ4-compressed in blocks of ``BLOCK`` bytes, and the scalars.
    Of a tracked state only the blocks written since its last keyframe are compressed; the
    others are that keyframe's blobs, shared. ``nbytes`` counts the blobs new here."""

    def __init__(self, state: State):
        self.blobs, self.ids, self.nbytes = {}, {}, 0
        for name, arr in state.arrays():
            raw, old, d = _raw(arr), state.src.get(name), state.dirty.get(name)
            blobs = list(old) if old is not None and d is not None else [None] * _blocks(arr)
            for b in range(len(blobs)) if old is None or d is None else np.flatnonzero(d):
                blobs[b] = lz4.frame.compress(raw[b * BLOCK:(b + 1) * BLOCK].data, compression_level=0)
                self.nbytes += len(blobs[b])
            self.blobs[name] = blobs
            self.ids[name] = np.fromiter(map(id, blobs), np.int64, len(blobs))
        self.scalars = dict(state.scalars())
        if state.dirty:
            state._equal(self)
