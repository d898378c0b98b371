"""A host-scale run checked tick by tick against the fact sheet's state table (ESXI-FACTS.md,
"Host free-memory states"): which state each event happened in, and what each state may run.

| state | what runs (fact sheet)                                                              |
|-------|-------------------------------------------------------------------------------------|
| high  | background TPS only; below 400% of minFree large pages become break candidates      |
| clear | break large pages, call TPS actively                                                |
| soft  | TPS + ballooning                                                                    |
| hard  | TPS + compression + hypervisor swapping (ballooning stops)                          |
| low   | compression + swapping, VMs above target blocked (the background scanner stops;     |
|       | a page about to be swapped is still offered to sharing first: "share before swap") |
"""
import numpy as np

from vmmemviz.model.core import events
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.reclaim import largepages as LPG

SWAPPING = ("ZIP", "SWAP_OUT", "LLSWAP_OUT")
# technique -> the states it may run in (vmmemviz backs new 2 MB pages only in high)
ALLOWED = {"LP_BACK": {"high"}, "TPS_HINT": {"high", "clear", "soft", "hard"},
           "BALLOON_PIN": {"soft"}, "MEM_WAIT": {"low"}} | {k: {"hard", "low"} for k in SWAPPING}


class Walk:
    """One run to its end: its per-tick records, its event rows and the state each row happened in."""

    def __init__(self, sc):
        tl = Timeline(sc)
        self.ticks = list(tl.records())
        self.rows = tl.log.rows()
        self.names = [vm.name for vm in tl.sim.vms]
        is_state = self.rows["kind"] == events.BY_NAME["HOST_STATE"].code
        last = np.maximum.accumulate(np.where(is_state, np.arange(len(self.rows)), -1))
        self.state = np.where(last >= 0, self.rows["aux"][np.maximum(last, 0)], states.HIGH)

    def sequence(self) -> list[str]:
        """The state each tick ends in."""
        return [r["host"]["state"] for r in self.ticks]

    def rows_of(self, kind: str, state: str | None = None):
        m = self.rows["kind"] == events.BY_NAME[kind].code
        if state is not None:
            m &= self.state == states.STATE_NAMES.index(state)
        return self.rows[m]

    def seen_in(self, kind: str) -> set[str]:
        """The states ``kind`` happened in."""
        m = self.rows["kind"] == events.BY_NAME[kind].code
        return {states.STATE_NAMES[int(s)] for s in np.unique(self.state[m])}


def check_states_in_order(walk: Walk) -> list[str]:
    """The ticks' states reach high, clear, soft, hard and low for the first time in that order;
    every tick's state fits the free memory it reports (hysteresis included). Returns the sequence."""
    seq = walk.sequence()
    first = [seq.index(s) for s in states.STATE_NAMES]        # ValueError: a state never reached
    assert first == sorted(first), f"states first reached out of order: {seq}"
    for r in walk.ticks:
        h = r["host"]
        th = states.thresholds_mb("esxi6", h["managed_mb"], h["minfree_mb"])
        s = states.STATE_NAMES.index(h["state"])
        assert states.next_state(s, h["free_mb"], th, states.high_mark_mb("esxi6", h["minfree_mb"])) == s, h
    return seq


def check_techniques_by_state(walk: Walk, expected: dict[str, tuple[str, ...]]) -> None:
    """Each state runs the techniques ``expected`` of it and none the fact sheet does not give it."""
    for kind, allowed in ALLOWED.items():
        assert walk.seen_in(kind) <= allowed, f"{kind} ran in {walk.seen_in(kind) - allowed}"
    for state, kinds in expected.items():
        missing = [k for k in kinds if not len(walk.rows_of(k, state))]
        assert not missing, f"{state}: {missing} never ran"
    # high: large pages are broken only as candidates (shareable, or all zeros), below 400% of minFree
    brk = walk.rows_of("LP_BREAK", "high")
    assert set(brk["slot"].tolist()) <= {LPG.CANDIDATE, LPG.ZEROS}
    for t in np.unique(brk["tick"]):
        ends = [r["host"] for r in walk.ticks[max(0, t - 1):t + 1]]
        assert min(h["free_mb"] / h["minfree_mb"] for h in ends) < states.LPAGE_BREAK_CANDIDATE, t
    # clear breaks every large page (contention)
    assert (walk.rows_of("LP_BREAK", "clear")["slot"] == LPG.CONTENTION).any()
    # hard and low: compression is tried before the first page goes to a swap store
    for state in ("hard", "low"):
        order = np.flatnonzero(walk.state == states.STATE_NAMES.index(state))
        kinds = walk.rows["kind"][order]
        zips = order[kinds == events.BY_NAME["ZIP"].code]
        swaps = order[np.isin(kinds, [events.BY_NAME[k].code for k in ("SWAP_OUT", "LLSWAP_OUT")])]
        if len(swaps):
            assert len(zips) and zips[0] < swaps[0], state


def blocked(walk: Walk) -> dict[int, list[str]]:
    """Per tick: the VMs whose faults waited (MEM_WAIT)."""
    w = walk.rows_of("MEM_WAIT")
    return {int(t): sorted({walk.names[int(v)] for v in w["vm"][w["tick"] == t]}) for t in np.unique(w["tick"])}
