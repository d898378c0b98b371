"""Read-after-write checking shared by the model tests: spy on a simulator's events and
check that every GVPN reads back the content last written to it, wherever the page is."""
import lz4.block
import numpy as np

from vmmemviz.model.core import content as C
from vmmemviz.model.core import events
from vmmemviz.model.views import invariants
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.core import vm as V

PATHS = {"shared": V.SHARED, "swapped": V.SWAPPED, "compressed": V.COMPRESSED}


class Writes:
    """Spy on a simulator's events: the content last written to each (vm, proc, GVPN)."""

    def __init__(self, sim):
        self.last = {}
        emit = sim.emit

        def spy(rows):
            out = emit(rows)
            for r in out[out["kind"] == events.BY_NAME["ACCESS"].code]:
                if r["flags"] & events.F_WRITE:
                    self.last[(int(r["vm"]), int(r["proc"]), int(r["gvpn"]))] = int(r["content"])
            for r in out[out["kind"] == events.BY_NAME["FREE"].code]:
                for g in range(int(r["gvpn"]), int(r["gvpn"]) + int(r["aux"])):
                    self.last.pop((int(r["vm"]), int(r["proc"]), g), None)
            return out

        sim.emit = spy

    def check(self, state, seen: set) -> None:
        """Every tracked GVPN reads back what was written; note which paths the pages were on."""
        by_proc = {}
        for (v, p, g), cid in self.last.items():
            by_proc.setdefault((v, p), []).append((g, cid))
        for (v, p), items in by_proc.items():
            vm = state.vms[v]
            proc = vm.procs[p]
            gv = np.array([g for g, _ in items])
            want = np.array([c for _, c in items], np.uint32)
            got = invariants.guest_content(state, vm, proc, gv)
            for i in np.flatnonzero(got != want):
                assert C.page_bytes(int(got[i])) == C.page_bytes(int(want[i])), \
                    f"{vm.name}/{proc.name} GVPN {gv[i]:#x}: read {got[i]:#x}, wrote {want[i]:#x}"
            if (proc.pt_state[gv] == G.GSWAPPED).any():
                seen.add("guest swap")
            res = gv[proc.pt_state[gv] == G.RESIDENT]
            states_ = vm.gp_state[proc.pt[res]]
            seen.update(name for name, s in PATHS.items() if (states_ == s).any())
            # a compressed page really is LZ4 of its bytes, and decompresses to them
            z = proc.pt[res][states_ == V.COMPRESSED][:3]
            for cid in vm.zip_content[vm.gp_loc[z]]:
                data = C.page_bytes(int(cid))
                packed = lz4.block.compress(data, store_size=False)
                assert len(packed) <= 2048
                assert lz4.block.decompress(packed, uncompressed_size=C.PAGE_SIZE) == data
