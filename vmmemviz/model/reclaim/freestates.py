"""Host free-memory states: minFree and the thresholds that decide which reclamation runs.

minFree (ESXi 5+, ``Mem.MemMinFreePct`` = 0): a sliding scale of managed memory, 6% of the
first 4 GB, 4% of 4-12 GB, 2% of 12-28 GB and 1% of the rest (8043 MB managed -> 403 MB).

``Sim.StateModel`` = "esxi6" (vSphere 6.0 table, Epping). A state is entered when free
memory falls below its threshold:

=====  ====================  =====================================================
state  entered below         what runs
=====  ====================  =====================================================
high   (400% of minFree)     background TPS only; below 400% large pages become
                             break candidates
clear  100% of minFree       break large pages, call TPS actively
soft   64% of minFree        TPS + ballooning
hard   32% of minFree        TPS + compression + hypervisor swapping (no ballooning)
low    16% of minFree        compression + swapping; VMs above target are blocked
=====  ====================  =====================================================

The reading (documented in docs/fidelity.md): each state has a lower and an upper boundary
(Epping: "there is an upper and lower boundary when transitioning between states"). It is
entered when free memory falls below its own threshold and left upward only when free
memory rises above the threshold of the state above it: clear is left for high only above
400% of minFree, soft for clear above 100%, hard for soft above 64%, low for hard above 32%
("it reclaims aggressively until the host is back in hard"). This fits the field capture
(an 8 GB ESXi 6 host in clear at 146% of minFree after heavy ballooning and swapping) and
the field test ("high above 400%, clear between 400% and 100%" as the host recovers). The
state is evaluated at the start of the mechanisms' turn each tick (what reclamation runs),
before faults that need machine memory (so the low state blocks as soon as it is reached)
and at the end of the tick, after reclamation, so the state a tick reports always fits the
free memory it reports.

"esx4" (ESX 4, Waldspurger 2002): minFree is a fixed 6% of memory and the states are high /
soft / hard / low, entered below 4 / 2 / 1% of memory and left upward above 6 / 4 / 2%; no
clear state, no 400% mark: large pages become break candidates in the soft state.
"""
from __future__ import annotations

from vmmemviz.model.core import counter
from vmmemviz.model.core.events import kind
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.units import PAGES_PER_MB

HIGH, CLEAR, SOFT, HARD, LOW = range(5)
STATE_NAMES = ("high", "clear", "soft", "hard", "low")
LPAGE_BREAK_CANDIDATE = 4.0   # x minFree (esxi6): the high state's upper mark

SCALE = ((4096, 0.06), (8192, 0.04), (16384, 0.02), (float("inf"), 0.01))
ESXI6_SHARES = (1.0, 0.64, 0.32, 0.16)          # clear, soft, hard, low: x minFree
ESX4_SHARES = (0.06, 0.04, 0.02, 0.01)          # high mark, soft, hard, low: x managed memory
# where each state starts, esxi6 (what runs there is WHAT_RUNS)
BELOW = ("free memory above minFree (below 400% of it, large pages become break candidates)",
         "free memory below 100% of minFree", "free memory below 64% of minFree",
         "free memory below 32% of minFree", "free memory below 16% of minFree")


def minfree_mb(managed_mb: float, min_free_pct: int = 0, model: str = "esxi6") -> float:
    """minFree in MB for ``managed_mb`` of managed memory (``Mem.MemMinFreePct``; ESX 4: 6%).

    Whole MB, rounded down, as ESXi reports it (8043 MB managed -> 403 MB); teaching-scale
    hosts (under 1 GB managed) keep the fraction so their thresholds stay apart."""
    if model == "esx4" and not min_free_pct:
        min_free_pct = 6
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
        _, soft, hard, low = (managed_mb * s for s in ESX4_SHARES)
        return [soft, soft, hard, low]   # no clear state
    return [s * minfree for s in ESXI6_SHARES]


def threshold_lines(model: str, managed_mb: float, minfree: float) -> list[tuple[str, float]]:
    """(state, MB) of each line to draw, top down: the high mark (where large pages become
    break candidates; 6% of memory in ESX 4), then where clear (not in ESX 4), soft, hard and
    low begin."""
    clear, soft, hard, low = thresholds_mb(model, managed_mb, minfree)
    if model == "esx4":
        return [("high", ESX4_SHARES[0] * managed_mb), ("soft", soft), ("hard", hard), ("low", low)]
    return [("high", LPAGE_BREAK_CANDIDATE * minfree), ("clear", clear), ("soft", soft), ("hard", hard),
            ("low", low)]


def band(lines: list[tuple[str, float]], state: str) -> tuple[float, float]:
    """Free memory (lo, hi) a host can report ``state`` in, with the hysteresis above: from
    where the state below is entered up to where this state is left upward. ``lines`` as
    :func:`threshold_lines` gives them (the high mark, then where each state is entered)."""
    names = [n for n, _ in lines]
    i = names.index(state)
    lo = lines[i + 1][1] if i + 1 < len(lines) else 0.0
    return lo, lines[i - 1][1] if i > 0 else float("inf")


def state_help(state: int) -> str:
    """One line about a state: where it begins (esxi6) and what runs in it."""
    return f"{STATE_NAMES[state]}: {BELOW[state]}; {WHAT_RUNS[state]}."


def high_mark_mb(model: str, minfree: float) -> float:
    """Free memory (MB) above which a host leaves clear (esx4: soft) for high."""
    return minfree if model == "esx4" else LPAGE_BREAK_CANDIDATE * minfree


def next_state(current: int, free_mb: float, thresholds: list[float], high_mark: float) -> int:
    """The state for ``free_mb``: down at once below a state's threshold, up one state at a
    time only above the threshold of the state above (``high_mark`` for high)."""
    down = sum(free_mb < t for t in thresholds)
    if down >= current:
        return down
    marks = [high_mark, *thresholds]
    state = current
    while state > down:
        up = HIGH if state == SOFT and thresholds[0] == thresholds[1] else state - 1   # esx4: no clear
        if free_mb < marks[up]:
            break
        state = up
    return state


# -- the mechanism: watch free memory, announce state changes ----------------------------

@kind(30, "HOST_STATE", "state", "Memory Reclamation: the host watches its free memory against minFree; "
      "the state (high, clear, soft, hard, low) decides which reclamation techniques run.")
def apply_host_state(state, rows):
    state.host_state = int(rows["aux"][-1])


def free_text(row) -> str:
    """A HOST_STATE row's free memory in words (the row's slot holds free machine pages):
    two decimals below 100 MB, where a teaching host's thresholds are a few MB apart."""
    mb = int(row["slot"]) / PAGES_PER_MB
    return f"{mb:,.2f} MB" if mb < 100 else f"{mb:,.0f} MB"


@apply_host_state.narrator
def _(row, names):
    return (f"Host free memory is now {free_text(row)}: the host is in the "
            f"{STATE_NAMES[int(row['aux'])]} state ({WHAT_RUNS[int(row['aux'])]}).")


WHAT_RUNS = ("background page sharing only", "large pages broken, page sharing called actively",
             "page sharing and ballooning", "page sharing, compression and hypervisor swapping",
             "compression and swapping; VMs above target are blocked")


class HostStates(Mechanism):
    """Mechanism: evaluates the host state once a tick and emits HOST_STATE on a change.
    Its ``minfree_mb`` and ``thresholds_mb`` are what other mechanisms ask it for."""

    name = "states"
    counters = (
        counter.host("minfree_mb", "VMKMEM", "minfree", "the free memory the VMkernel wants to keep "
                     "(Mem.MemMinFreePct, 0 = sliding scale 6/4/2/1%)", "Kernel MinFree MBytes"),
        counter.host("state", "VMKMEM", "state", "high, clear, soft, hard or low; decides which reclamation "
                     "runs", "Kernel State", unit=""),
    )

    def __init__(self, sim):
        super().__init__(sim)
        managed = sim.state.host.n_mpn / PAGES_PER_MB
        model = sim.settings["Sim.StateModel"]
        self.minfree_mb = minfree_mb(managed, sim.settings["Mem.MemMinFreePct"], model)
        self.thresholds_mb = thresholds_mb(model, managed, self.minfree_mb)
        self.high_mark_mb = high_mark_mb(model, self.minfree_mb)
        self.model = model

    @property
    def lpage_break_mb(self) -> float:
        """Free memory below which large pages become break candidates: 400% of minFree
        (esx4: the soft state; ESX 4 had no such mark)."""
        return self.thresholds_mb[SOFT - 1] if self.model == "esx4" else LPAGE_BREAK_CANDIDATE * self.minfree_mb

    def tick(self):
        """At the start of the mechanisms' turn: the state reclamation acts on."""
        self.evaluate()

    def end_tick(self):
        """After reclamation: the state the tick reports fits the free memory it reports."""
        self.evaluate()

    def blocks(self, vm, pages):
        """Before faults take machine memory the state follows free memory (so the low state
        blocks as soon as it is reached); it never blocks by itself."""
        self.evaluate()
        return False

    def evaluate(self):
        sim = self.sim
        free = sim.state.host.free_count()
        new = next_state(sim.state.host_state, free / PAGES_PER_MB, self.thresholds_mb, self.high_mark_mb)
        if new != sim.state.host_state:
            sim.emit(sim.rows(1, apply_host_state.code, 0, aux=new, slot=free))

    @staticmethod
    def host_values(state, sim, tally):
        return {"minfree_mb": round(sim.mechanism(HostStates).minfree_mb, 2), "state": STATE_NAMES[state.host_state]}
