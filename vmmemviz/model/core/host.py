"""The host: machine memory as an array of machine page numbers (MPNs).

Structure of arrays, one entry per 4 KiB machine frame:

* ``mpn_state``   FREE, HV (hypervisor / VMM overhead), PRIVATE (backs one GPPN),
  SHARED (read-only, backs ``mpn_refs`` GPPNs through TPS), ZIP (compression cache)
* ``mpn_owner``   VM index, or NO_VM (free, or shared across VMs)
* ``mpn_gppn``    the GPPN a private frame backs (first sharer for a shared one)
* ``mpn_content`` content id of the bytes in the frame
* ``mpn_refs``    reference count (GPPNs mapped to it)
* ``mpn_flags``   LARGE (part of a 2 MB page)

14 bytes per frame. Frames are handed out lowest-free-first, which depends on the state
alone, so replaying events from a keyframe picks exactly the frames live play picked.
"""
from __future__ import annotations

import numpy as np

FREE, HV, PRIVATE, SHARED, ZIP = 0, 1, 2, 3, 4
MPN_STATE_NAMES = ("free", "hypervisor", "private", "shared", "compression cache")
NO_VM = 255
LARGE = 1
LARGE_PAGES = 512          # 4 KiB frames in one 2 MB large page


def run_of(mpns):
    """``mpns`` as a slice when they are one run of consecutive frames (the lowest free frames
    usually are; a 2 MB page always is): writing a slice is several times cheaper than a
    fancy-indexed write of the same frames, and gives the same arrays."""
    if isinstance(mpns, np.ndarray) and mpns.ndim == 1 and len(mpns) > 1:
        a, b = int(mpns[0]), int(mpns[-1])
        if b - a + 1 == len(mpns) and (np.diff(mpns.astype(np.int64)) == 1).all():
            return slice(a, b + 1)
    return mpns


class OutOfMemory(RuntimeError):
    """No free machine frame left: the reclamation mechanisms should have run earlier."""


class Host:
    ARRAYS = ("mpn_state", "mpn_owner", "mpn_gppn", "mpn_content", "mpn_refs", "mpn_flags")

    def __init__(self, n_mpn: int):
        self.n_mpn = int(n_mpn)
        self.mpn_state = np.zeros(n_mpn, np.uint8)
        self.mpn_owner = np.full(n_mpn, NO_VM, np.uint8)
        self.mpn_gppn = np.full(n_mpn, 0xFFFFFFFF, np.uint32)
        self.mpn_content = np.zeros(n_mpn, np.uint32)
        self.mpn_refs = np.zeros(n_mpn, np.uint32)
        self.mpn_flags = np.zeros(n_mpn, np.uint8)
        self._low = 0   # cache: no free frame below this index (never affects results)
        self._free = self.n_mpn   # cache: free frames, kept by take/release (recount())

    # -- allocation ---------------------------------------------------------------
    def free_count(self) -> int:
        return self._free

    def recount(self, free: int) -> None:
        """Reset the caches after the arrays were restored from a keyframe taken with ``free``
        free frames (counting them again took 5 ms of a seek at 64 GiB)."""
        self._free, self._low = free, 0

    def peek_free(self, k: int) -> np.ndarray:
        """The ``k`` lowest free MPNs (without taking them)."""
        out = []
        need = k
        i = self._low
        chunk = max(65536, 4 * k)
        while need > 0 and i < self.n_mpn:
            seg = np.flatnonzero(self.mpn_state[i:i + chunk] == FREE)
            if need == k:         # none found yet: no free frame below here (or below seg[0])
                self._low = i + int(seg[0]) if len(seg) else min(i + chunk, self.n_mpn)
            take = seg[:need] + i
            out.append(take)
            need -= len(take)
            i += chunk
        if need > 0:
            raise OutOfMemory(f"host out of machine memory: {k} frames wanted, "
                              f"{k - need} free")
        return np.concatenate(out).astype(np.uint32) if out else np.zeros(0, np.uint32)

    def take(self, mpns, state: int, owner, gppn, content, flags=0) -> None:
        mpns = run_of(mpns)
        self._free -= int(np.count_nonzero(self.mpn_state[mpns] == FREE)) - (
            int(np.size(self.mpn_state[mpns])) if state == FREE else 0)
        self.mpn_state[mpns] = state
        self.mpn_owner[mpns] = owner
        self.mpn_gppn[mpns] = gppn
        self.mpn_content[mpns] = content
        self.mpn_refs[mpns] = 1
        self.mpn_flags[mpns] = flags

    def release(self, mpns) -> None:
        mpns = np.asarray(mpns, dtype=np.int64)
        if mpns.size == 0:
            return
        self._free += int(np.count_nonzero(self.mpn_state[np.unique(mpns)] != FREE))
        self.mpn_state[mpns] = FREE
        self.mpn_owner[mpns] = NO_VM
        self.mpn_gppn[mpns] = 0xFFFFFFFF
        self.mpn_content[mpns] = 0
        self.mpn_refs[mpns] = 0
        self.mpn_flags[mpns] = 0
        self._low = min(self._low, int(mpns.min()))

    def nbytes(self) -> int:
        return sum(getattr(self, a).nbytes for a in self.ARRAYS)
