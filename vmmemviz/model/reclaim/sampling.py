"""Active memory: which guest pages were touched lately (esxtop TCHD, TCHD_W, %ACTV, %ACTVS,
%ACTVF, %ACTVN).

Every access sets a GPPN's ACCESSED bit, every write its WRITTEN bit (mmu.py). A sample
period lasts ``Mem.SamplePeriod`` seconds (default 60). At its start the hypervisor picks a
random sample of 100 pages; the fraction of them touched is the period's active fraction.
At the end of the period (``ACTIVE_SAMPLE``) ACCESSED and WRITTEN move to PREV_ACCESSED and
PREV_WRITTEN and are cleared, and the estimates are updated as Waldspurger (OSDI 2002,
s.5.3) describes and ESXi's documentation repeats ("smoothed over several time periods
using techniques that respond rapidly to increases in working set size and more slowly to
decreases"): a slow and a fast exponentially weighted moving average of the sampled
fraction (%ACTVS, %ACTVF; gains ``SLOW_GAIN`` and ``FAST_GAIN``, the model's choice: the
paper gives none), and a version of the fast one that folds in the current, partial period
(re-estimated every second, ``ACTIVE_ESTIMATE``). %ACTV, the estimate the idle memory tax
uses (allocation.py), is the maximum of the three; %ACTVN is what %ACTV will be when the
period ends if nothing else is touched. TCHD / TCHD_W count the pages accessed / written in
the current or the previous period.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core import counter
from vmmemviz.model.core.events import hx, kind
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import ACCESSED
from vmmemviz.model.guest.mmu import WRITTEN

PREV_ACCESSED = 2
PREV_WRITTEN = 8
SAMPLE_PAGES = 100
SLOW_GAIN, FAST_GAIN = 0.1, 0.5
SLOW, FAST, NEXT = "active.slow", "active.fast", "active.next"


def touched(vm) -> int:
    return int(np.count_nonzero(vm.gp_flags & (ACCESSED | PREV_ACCESSED)))


def written(vm) -> int:
    return int(np.count_nonzero(vm.gp_flags & (WRITTEN | PREV_WRITTEN)))


def estimates(slow: float, fast: float, partial: float, period_over: bool) -> tuple:
    """(%ACTV, %ACTVS, %ACTVF, %ACTVN) from the averages and the sampled fraction so far."""
    s_next = slow + SLOW_GAIN * (partial - slow)
    f_next = fast + FAST_GAIN * (partial - fast)
    if period_over:
        slow, fast = s_next, f_next
    folded = fast + FAST_GAIN * max(0.0, partial - fast)      # only an increase folds in early
    return (round(max(slow, fast, folded)), round(slow), round(fast), round(max(s_next, f_next)))


@kind(31, "ACTIVE_SAMPLE", "state", "Active memory: at the end of each sample period the hypervisor "
      "estimates how much of each VM's memory was used lately from a random sample of its pages: a slow "
      "and a fast moving average, and the fast one with the current period folded in.")
def apply_active_sample(state, rows):
    for r in rows:
        vm = state.vms[r["vm"]]
        now = np.uint8(ACCESSED | WRITTEN)
        vm.gp_flags[:] = ((vm.gp_flags & now) << 1) | (vm.gp_flags & ~np.uint8(now | PREV_ACCESSED | PREV_WRITTEN))
        _set(state, vm, r)
        state.extra[SLOW][vm.index] = r["slot"]
        state.extra[FAST][vm.index] = r["content"]


def _set(state, vm, r) -> None:
    vm.active_pct = int(r["aux"])
    state.extra[NEXT][vm.index] = r["mpn"]


@apply_active_sample.narrator
def _(row, names):
    return (f"Sample period over for {names[row['vm']]} (sample from GPPN {hx(row['gppn'])}): active memory "
            f"%ACTV {int(row['aux'])}% (slow average {int(row['slot'])}%, fast {int(row['content'])}%).")


@kind(32, "ACTIVE_ESTIMATE", "state", "Active memory: within a sample period the hypervisor folds what "
      "the sample shows so far into the fast average, so the estimate rises at once when a VM gets busy.")
def apply_active_estimate(state, rows):
    for r in rows:
        _set(state, state.vms[r["vm"]], r)


@apply_active_estimate.narrator
def _(row, names):
    return (f"{names[row['vm']]}'s sampled pages show {int(row['gvpn'])}% touched so far this period: "
            f"%ACTV is now {int(row['aux'])}% (predicted next %ACTVN {int(row['mpn'])}%).")


class ActiveSampling(Mechanism):
    """Mechanism: re-estimates active memory every second and ends a sample period every
    Mem.SamplePeriod seconds (a new random sample of 100 pages per VM)."""

    name = "sampling"
    after = ("states",)
    counters = (
        counter.vm("TCHD", "MB", "mem", "memory touched lately, estimated by sampling (active memory)",
                   "Touched MBytes"),
        counter.vm("TCHD_W", "MB", "mem", "memory written lately, estimated by sampling", "Touched Write MBytes"),
        counter.vm("%ACTV", "%", "mem", "active share of guest memory: the largest of the slow and fast moving "
                   "averages of the sampled fraction and the fast one with the current period folded in",
                   "% Active Estimate"),
        counter.vm("%ACTVS", "%", "mem", "slow moving average of the sampled active fraction",
                   "% Active Slow Estimate"),
        counter.vm("%ACTVF", "%", "mem", "fast moving average of the sampled active fraction",
                   "% Active Fast Estimate"),
        counter.vm("%ACTVN", "%", "mem", "what %ACTV will be at the end of this sample period",
                   "% Active Next Minute Prediction"),
    )

    def __init__(self, sim):
        super().__init__(sim)
        self.sample = [sim.rng.integers(0, vm.n, SAMPLE_PAGES) for vm in sim.vms]

    @classmethod
    def setup_state(cls, state, sc):
        for key in (SLOW, FAST, NEXT):
            state.extra[key] = np.zeros(len(state.vms), np.uint32)

    def tick(self):
        sim = self.sim
        over = sim.now > 0 and sim.now % sim.settings["Mem.SamplePeriod"] == 0
        for vm in sim.vms:
            sample = self.sample[vm.index]
            partial = 100 * np.count_nonzero(vm.gp_flags[sample] & ACCESSED) / SAMPLE_PAGES
            slow, fast = (float(sim.state.extra[k][vm.index]) for k in (SLOW, FAST))
            actv, s, f, nxt = estimates(slow, fast, partial, over)
            if over:
                sim.emit(sim.rows(1, apply_active_sample.code, vm.index, aux=actv, slot=s, content=f, mpn=nxt,
                                  gppn=int(sample[0])))
                self.sample[vm.index] = sim.rng.integers(0, vm.n, SAMPLE_PAGES)
            elif (actv, nxt) != (vm.active_pct, int(sim.state.extra[NEXT][vm.index])):
                sim.emit(sim.rows(1, apply_active_estimate.code, vm.index, aux=actv, mpn=nxt, gvpn=round(partial)))

    @staticmethod
    def vm_values(state, vm, sim, tally):
        return {"TCHD": mb(touched(vm)), "%ACTV": vm.active_pct,
                "%ACTVS": int(state.extra[SLOW][vm.index]), "%ACTVF": int(state.extra[FAST][vm.index]),
                "%ACTVN": int(state.extra[NEXT][vm.index]), "TCHD_W": mb(written(vm))}
