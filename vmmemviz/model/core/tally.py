"""A tally of one state for its counters: each figure several counters read is counted once.

``all_counters`` makes one ``Tally`` per call and hands it to every mechanism's ``vm_values``
/ ``host_values``: a VM's pages per ``gp_state`` (GRANT, SHRD, SWCUR, SWTGT, CNSM and the host
sums read the same few counts), its shared pages' frames (TPS and CNSM), the tick's rows per
VM and kind (every per-second rate: one pass over the rows instead of one per rate and VM).
A tally is of one state at one position: it is never kept past the call that made it.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core.events import EVENT_DTYPE
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import SHARED


class Tally:
    def __init__(self, state, recent=None):
        """``recent``: the event rows of the current tick up to the state's position, for the
        per-second rates (default: none, rates of 0)."""
        self.state = state
        self.recent = np.zeros(0, EVENT_DTYPE) if recent is None else recent
        self._memo = {}

    def once(self, key, compute):
        """``compute()``, computed at most once per ``key`` in this tally."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def pages(self, vm, gp_state: int) -> int:
        """Pages of ``vm`` in ``gp_state``."""
        return self.once(("pages", vm.index, gp_state), lambda: int(np.count_nonzero(vm.gp_state == gp_state)))

    def shared_frames(self, vm) -> np.ndarray:
        """The MPNs ``vm``'s shared pages map, in GPPN order."""
        return self.once(("shared", vm.index),
                         lambda: vm.gp_loc[np.flatnonzero(vm.gp_state == SHARED)].astype(np.int64))

    def shared_refs(self, vm) -> np.ndarray:
        """References of the frame of each of ``vm``'s shared pages (``shared_frames`` order)."""
        return self.once(("refs", vm.index), lambda: self.state.host.mpn_refs[self.shared_frames(vm)])

    def _by_vm_and_kind(self) -> np.ndarray:
        rows = self.recent
        return np.bincount((rows["vm"].astype(np.intp) << 8) | rows["kind"], minlength=1 << 16).reshape(256, 256)

    def rows(self, vm, *codes) -> int:
        """The tick's rows so far of ``vm`` of the kinds ``codes``."""
        counts = self.once("by vm and kind", self._by_vm_and_kind)
        return int(counts[vm.index, sorted(set(codes))].sum())

    def rate(self, vm, *codes) -> float:
        """MB/s of ``vm``'s rows of the kinds ``codes`` (a page a row)."""
        return mb(self.rows(vm, *codes))

    def aux(self, vm, code: int) -> int:
        """The sum of ``aux`` over the tick's rows so far of ``vm`` of the kind ``code``."""
        of_kind = self.once(("kind", code), lambda: self.recent[self.recent["kind"] == code])
        return int(of_kind["aux"][of_kind["vm"] == vm.index].sum())
