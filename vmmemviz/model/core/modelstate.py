"""The whole model state: the host's frames and every VM's pages, as numpy arrays.

Only arrays and a few integers: a digest of them names a state, a keyframe is a copy of
them (LZ4-compressed), and restoring one is copying them back. The random generator and
the workload cursors are not state: they belong to the live simulator, which only ever
moves forward (replay re-applies logged events, it does not re-decide them).
"""
from __future__ import annotations

import hashlib

import lz4.frame
import numpy as np

from vmmemviz.model.core.host import Host


class State:
    def __init__(self, host: Host, vms: list, tick: int = 0):
        self.host, self.vms, self.tick = host, vms, tick
        self.host_state = 0          # states.HIGH..LOW, set by the STATE event
        self.extra = {}              # named arrays mechanisms add (e.g. per-VM caches)
        self.stores = {}             # name -> store.Store, set by build_state

    def store_holding(self, page_state: int):
        """The store that holds the GPPNs in ``page_state`` (None for none)."""
        return next((s for s in self.stores.values() if s.page_state == page_state), None)

    def arrays(self):
        """(name, array) for every array of the state, in a fixed order."""
        for a in self.host.ARRAYS:
            yield f"host.{a}", getattr(self.host, a)
        for vm in self.vms:
            for a in vm.ARRAYS:
                yield f"{vm.index}.{a}", getattr(vm, a)
            for p in vm.procs:
                yield f"{vm.index}.{p.index}.pt", p.pt
                yield f"{vm.index}.{p.index}.pt_state", p.pt_state
        for k in sorted(self.extra):
            yield k, self.extra[k]

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
        for name, arr in self.arrays():
            arr[...] = np.frombuffer(lz4.frame.decompress(snap.blobs[name]), arr.dtype).reshape(arr.shape)
        self.set_scalars(snap.scalars)
        self.host.recount()

    def nbytes(self) -> int:
        return sum(a.nbytes for _, a in self.arrays())


class Snapshot:
    """A keyframe: every array LZ4-compressed, and the scalars."""

    def __init__(self, state: State):
        self.blobs = {name: lz4.frame.compress(np.ascontiguousarray(arr).data, compression_level=0)
                      for name, arr in state.arrays()}
        self.scalars = dict(state.scalars())
        self.nbytes = sum(len(b) for b in self.blobs.values())
