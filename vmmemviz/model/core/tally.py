"""A tally of one state for its counters: each figure several counters read is counted once.

``all_counters`` makes one ``Tally`` per call and hands it to every mechanism's ``vm_values``
/ ``host_values``: a VM's pages per ``gp_state`` (GRANT, SHRD, SWCUR, SWTGT, CNSM and the host
sums read the same few counts), its shared pages' frames (TPS and CNSM), the tick's rows per
VM and kind (every per-second rate: one pass over the rows instead of one per rate and VM).
A tally is of one state at one position: it is never kept past the call that made it, and
of the arrays it makes it keeps one VM's at a time (a 1 TiB host's would not fit beside it).
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core.events import EVENT_DTYPE
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import MAPPED, SHARED, SWAPPED


class Tally:
    """Counts of one state, each made at most once, for one call of the counters."""

    def __init__(self, state, recent=None):
        """``recent``: the event rows of the current tick up to the state's position, for the
        per-second rates (default: none, rates of 0)."""
        self.state = state
        self.recent = np.zeros(0, EVENT_DTYPE) if recent is None else recent
        self._memo = {}
        self._arrays = (None, {})

    def once(self, key, compute):
        """``compute()``, computed at most once per ``key`` in this tally."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def pages(self, vm, gp_state: int) -> int:
        """Pages of ``vm`` in ``gp_state``."""
        return self.once(("pages", vm.index, gp_state), lambda: self._count(vm, gp_state))

    def _count(self, vm, gp_state: int) -> int:
        if gp_state == MAPPED:
            return int(np.count_nonzero(self.mapped(vm)))
        if gp_state == SHARED:
            return len(self.shared_frames(vm))
        if gp_state >= SWAPPED and not self.pages_out(vm):
            return 0
        return int(np.count_nonzero(vm.gp_state == gp_state))

    def pages_out(self, vm) -> int:
        """Pages of ``vm`` out of machine memory: in SWAPPED or a later state (compressed, in
        the host cache). Mostly none, which a max() tells without a mask; then no later state
        needs a pass of its own."""
        return self.once(("out", vm.index), lambda: 0 if vm.gp_state.max(initial=0) < SWAPPED
                         else int(np.count_nonzero(vm.gp_state >= SWAPPED)))

    def _array(self, vm, name: str, compute) -> np.ndarray:
        """``compute()``, an array per page of ``vm``, kept only while the same VM asks (its
        counters are computed one VM after the other): a call holds one VM's arrays at most."""
        if self._arrays[0] is not vm:
            self._arrays = (vm, {})
        arrays = self._arrays[1]
        if name not in arrays:
            arrays[name] = compute()
        return arrays[name]

    def mapped(self, vm) -> np.ndarray:
        """Per GPPN of ``vm``: privately mapped."""
        return self._array(vm, "mapped", lambda: vm.gp_state == MAPPED)

    def shared_frames(self, vm) -> np.ndarray:
        """The MPNs ``vm``'s shared pages map, in GPPN order."""
        return self._array(vm, "shared", lambda: vm.gp_loc[np.flatnonzero(vm.gp_state == SHARED)].astype(np.int64))

    def shared_refs(self, vm) -> np.ndarray:
        """References of the frame of each of ``vm``'s shared pages (``shared_frames`` order)."""
        return self._array(vm, "refs", lambda: self.state.host.mpn_refs[self.shared_frames(vm)])

    def _rows_by_kind(self, vm) -> list:
        by_vm_and_kind = self.once("rows", lambda: np.bincount(
            (self.recent["vm"].astype(np.intp) << 8) | self.recent["kind"], minlength=1 << 16).reshape(256, 256))
        return by_vm_and_kind[vm.index].tolist()

    def rows(self, vm, *codes) -> int:
        """The tick's rows so far of ``vm`` of the kinds ``codes``."""
        counts = self.once(("rows", vm.index), lambda: self._rows_by_kind(vm))
        return sum(counts[c] for c in set(codes))

    def kinds(self, way, store: str) -> tuple:
        """``way(store)``, looked up once: ``way`` is events.reading or events.writing, the
        kinds that move pages out of or into ``store``."""
        return self.once((way, store), lambda: way(store))

    def rate(self, vm, *codes) -> float:
        """MB/s of ``vm``'s rows of the kinds ``codes`` (a page a row)."""
        return mb(self.rows(vm, *codes))

    def aux(self, vm, code: int) -> int:
        """The sum of ``aux`` over the tick's rows so far of ``vm`` of the kind ``code``."""
        of_kind = self.once(("kind", code), lambda: self.recent[self.recent["kind"] == code])
        return int(of_kind["aux"][of_kind["vm"] == vm.index].sum())
