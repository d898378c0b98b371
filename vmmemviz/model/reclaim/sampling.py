"""Active memory: which guest pages were touched lately (esxtop TCHD, %ACTV).

Every access sets a GPPN's ACCESSED bit. Every ``Mem.SamplePeriod`` seconds (default 60)
the period ends (``ACTIVE_SAMPLE``): ACCESSED moves to PREV_ACCESSED and is cleared.
TCHD counts pages accessed in the current or the previous period. The active fraction
*f* the idle memory tax uses (Waldspurger 2002) is estimated, as ESXi does, from a
random sample of 100 pages taken at the end of each period.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core.events import hx, kind
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.vm import ACCESSED

PREV_ACCESSED = 2
SAMPLE_PAGES = 100


def touched(vm) -> int:
    return int(np.count_nonzero(vm.gp_flags & (ACCESSED | PREV_ACCESSED)))


@kind(31, "ACTIVE_SAMPLE", "state", "Active memory: at the end of each sample period the hypervisor "
      "estimates how much of each VM's memory was used lately from a random sample of its pages.")
def apply_active_sample(state, rows):
    for r in rows:
        vm = state.vms[r["vm"]]
        vm.gp_flags[:] = ((vm.gp_flags & ACCESSED) << 1) | (vm.gp_flags & ~np.uint8(ACCESSED | PREV_ACCESSED))
        vm.active_pct = int(r["aux"])


@apply_active_sample.narrator
def _(row, names):
    return (f"Sample period over: {int(row['aux'])}% of {names[row['vm']]}'s sampled pages "
            f"(from GPPN {hx(row['gppn'])}) were touched; active memory estimate updated.")


class ActiveSampling(Mechanism):
    """Mechanism: ends a sample period every Mem.SamplePeriod seconds."""

    name = "sampling"
    after = ("states",)

    def tick(self):
        sim = self.sim
        period = sim.settings["Mem.SamplePeriod"]
        if sim.now == 0 or sim.now % period:
            return
        for vm in sim.vms:
            sample = sim.rng.integers(0, vm.n, SAMPLE_PAGES)
            pct = int(100 * np.count_nonzero(vm.gp_flags[sample] & ACCESSED) / SAMPLE_PAGES)
            sim.emit(sim.rows(1, apply_active_sample.code, vm.index, aux=pct, gppn=int(sample[0])))
