"""Host free-memory states: minFree and the thresholds that decide which reclamation runs.

minFree (ESXi 5+, ``Mem.MemMinFreePct`` = 0): a sliding scale of managed memory, 6% of the
first 4 GB, 4% of 4-12 GB, 2% of 12-28 GB and 1% of the rest (8043 MB managed -> 403 MB).

``Sim.StateModel`` = "esxi6" (vSphere 6.0 table, Epping). The host is in the last state
whose threshold free memory has fallen below:

=====  ====================  =====================================================
state  free memory below     what runs
=====  ====================  =====================================================
high   (400% of minFree)     background TPS only; below 400% large pages become
                             break candidates
clear  100% of minFree       break large pages, call TPS actively
soft   64% of minFree        TPS + ballooning
hard   32% of minFree        TPS + compression + hypervisor swapping (no ballooning)
low    16% of minFree        compression + swapping; VMs above target are blocked
=====  ====================  =====================================================

A state is left upward only once free memory is 10% above the threshold that was crossed
(hysteresis), so the host does not flap between two states.

"esx4" (ESX 4, Waldspurger 2002): high / soft / hard / low at 6 / 4 / 2 / 1% of memory,
no clear state: soft below 4%, hard below 2%, low below 1%.
"""
from __future__ import annotations

from vmmemviz.model.core.events import kind
from vmmemviz.model.core.mechanism import Mechanism

HIGH, CLEAR, SOFT, HARD, LOW = range(5)
STATE_NAMES = ("high", "clear", "soft", "hard", "low")
HYSTERESIS = 0.10
LPAGE_BREAK_CANDIDATE = 4.0   # x minFree

SCALE = ((4096, 0.06), (8192, 0.04), (16384, 0.02), (float("inf"), 0.01))


def minfree_mb(managed_mb: float, min_free_pct: int = 0) -> float:
    """minFree in MB for ``managed_mb`` of managed memory (``Mem.MemMinFreePct``).

    Whole MB, rounded down, as ESXi reports it (8043 MB managed -> 403 MB); teaching-scale
    hosts (under 1 GB managed) keep the fraction so their thresholds stay apart."""
    if min_free_pct:
        return _whole(managed_mb, managed_mb * min_free_pct / 100)
    left, total = managed_mb, 0.0
    for size, pct in SCALE:
        part = min(left, size)
        total += part * pct
        left -= part
        if left <= 0:
            break
    return _whole(managed_mb, total)


def _whole(managed_mb: float, mb: float) -> float:
    return float(int(mb)) if managed_mb >= 1024 else mb


def thresholds_mb(model: str, managed_mb: float, minfree: float) -> list[float]:
    """Free memory (MB) below which the host enters clear, soft, hard and low."""
    if model == "esx4":
        soft = managed_mb * 0.04
        return [soft, soft, managed_mb * 0.02, managed_mb * 0.01]   # no clear state
    return [1.0 * minfree, 0.64 * minfree, 0.32 * minfree, 0.16 * minfree]


def next_state(current: int, free_mb: float, thresholds: list[float]) -> int:
    """The state for ``free_mb``: down at once, up only past threshold + hysteresis."""
    down = sum(free_mb < t for t in thresholds)
    if down >= current:
        return down
    state = current
    while state > down and free_mb >= thresholds[state - 1] * (1 + HYSTERESIS):
        state -= 1
    return state


# -- the mechanism: watch free memory, announce state changes ----------------------------

@kind(30, "HOST_STATE", "state", "Memory Reclamation: the host watches its free memory against minFree; "
      "the state (high, clear, soft, hard, low) decides which reclamation techniques run.")
def apply_host_state(state, rows):
    state.host_state = int(rows["aux"][-1])


@apply_host_state.narrator
def _(row, names):
    return (f"Host free memory fell or rose to {int(row['slot'])} MB: the host is now in the "
            f"{STATE_NAMES[int(row['aux'])]} state ({WHAT_RUNS[int(row['aux'])]}).")


WHAT_RUNS = ("background page sharing only", "large pages broken, page sharing called actively",
             "page sharing and ballooning", "page sharing, compression and hypervisor swapping",
             "compression and swapping; VMs above target are blocked")


class HostStates(Mechanism):
    """Mechanism: evaluates the host state once a tick and emits HOST_STATE on a change.
    Its ``minfree_mb`` and ``thresholds_mb`` are what other mechanisms ask it for."""

    name = "states"

    def __init__(self, sim):
        super().__init__(sim)
        managed = sim.state.host.n_mpn / 256
        self.minfree_mb = minfree_mb(managed, sim.settings["Mem.MemMinFreePct"])
        self.thresholds_mb = thresholds_mb(sim.settings["Sim.StateModel"], managed, self.minfree_mb)

    def tick(self):
        sim = self.sim
        free_mb = sim.state.host.free_count() / 256
        new = next_state(sim.state.host_state, free_mb, self.thresholds_mb)
        if new != sim.state.host_state:
            sim.emit(sim.rows(1, apply_host_state.code, 0, aux=new, slot=int(free_mb)))
