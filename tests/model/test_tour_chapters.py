"""Each built-in tour's chapters say what the model does at their ticks (issue 11).

A chapter whose title names a host state is in that state at its first tick or reaches it
within the chapter (the state a tick reports, as `run --jsonl` prints it). The other claims a
chapter makes that can be checked are in CLAIMS: per tour and chapter start, the events that
must happen in the chapter and the counters that must move.
"""
import re

import numpy as np
import pytest

from vmmemviz.model.config import scenario
from vmmemviz.model.core.events import BY_NAME
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.reclaim.freestates import STATE_NAMES

STATE_IN_TITLE = re.compile(r"^(High|Clear|Soft|Hard|Low)\b")


class Run:
    """One tour run to its end: per-tick records and the event rows."""

    def __init__(self, name):
        self.sc = scenario.load(name)
        tl = Timeline(self.sc)
        self.ticks = list(tl.records())
        self.rows = tl.sim.log.rows()

    def chapter(self, at):
        """(records, event rows) of the chapter starting at tick ``at``."""
        starts = [c.at for c in self.sc.chapters]
        assert at in starts, f"{self.sc.name}: no chapter at {at} (chapters at {starts})"
        end = next((s for s in starts if s > at), self.sc.duration)
        recs = [r for r in self.ticks if at <= r["tick"] < end]
        return recs, self.rows[(self.rows["tick"] >= at) & (self.rows["tick"] < end)]


_runs = {}


def run(name) -> Run:
    if name not in _runs:
        _runs[name] = Run(name)
    return _runs[name]


def events(rows, name, vm=None):
    sel = rows["kind"] == BY_NAME[name].code
    return int(np.count_nonzero(sel if vm is None else sel & (rows["vm"] == vm)))


def vm_index(r: Run, name):
    return [v.name for v in r.sc.vms].index(name)


def grows(recs, vm, key):
    return recs[-1]["vms"][vm][key] > recs[0]["vms"][vm][key]


# tour -> chapter start -> check(run, records, rows): the claim its text makes
CLAIMS = {
    "swap": {
        44: lambda r, recs, rows: (events(rows, "BALLOON_PIN", vm_index(r, "guest01")) > 0
                                   and events(rows, "GUEST_PAGEOUT", vm_index(r, "guest01")) > 0),
        72: lambda r, recs, rows: (events(rows, "SWAP_OUT", vm_index(r, "nocache01")) > 0
                                   and events(rows, "SWAP_IN", vm_index(r, "nocache01")) > 0
                                   and events(rows, "SWAP_OUT", vm_index(r, "nocache01"))
                                   > 5 * events(rows, "SWAP_OUT", vm_index(r, "guest01"))),
    },
    "balloon": {
        16: lambda r, recs, rows: (grows(recs, "idle01", "MCTLSZ")
                                   and recs[-1]["vms"]["busy01"]["MCTLSZ"] == 0),
        53: lambda r, recs, rows: events(rows, "GUEST_PAGEOUT", vm_index(r, "idle01")) > 0,
        60: lambda r, recs, rows: (recs[-1]["vms"]["idle01"]["MCTLSZ"] == 0
                                   and events(rows, "BALLOON_UNPIN") > 0
                                   and grows([r.ticks[59], recs[-1]], "busy01", "ZERO")),
    },
    "compression": {
        0: lambda r, recs, rows: all(v["MCTLSZ"] == 0 for t in recs for v in t["vms"].values()),
        61: lambda r, recs, rows: (recs[0]["host"]["state"] in ("hard", "low")
                                   and events(rows, "ZIP") > 0 and events(rows, "SWAP_OUT") > 0),
        80: lambda r, recs, rows: events(rows, "ZIP_EVICT") > 0,
    },
    "hostcache": {
        81: lambda r, recs, rows: (events(rows, "LLSWAP_OUT") > 0 and events(rows, "SWAP_OUT") > 0
                                   and np.flatnonzero(rows["kind"] == BY_NAME["LLSWAP_OUT"].code)[0]
                                   < np.flatnonzero(rows["kind"] == BY_NAME["SWAP_OUT"].code)[0]),
    },
    "largepages": {
        # free memory below 400% of minFree at the chapter's start: large pages broken and shared
        57: lambda r, recs, rows: (events(rows[rows["tick"] == 57], "LP_BREAK") > 0
                                   and events(r.rows[r.rows["tick"] < 57], "LP_BREAK") == 0
                                   and recs[-1]["host"]["pshare_saving_mb"] > recs[0]["host"]["pshare_saving_mb"]),
    },
    "overcommit": {
        110: lambda r, recs, rows: (recs[0]["host"]["state"] == "low" and events(rows, "MEM_WAIT") > 0),
    },
}


def state_chapters():
    for name in scenario.builtin_names():
        for c in scenario.load(name).chapters:
            m = STATE_IN_TITLE.match(c.title)
            if m:
                yield name, c.at, m.group(1).lower()


@pytest.mark.parametrize("name,at,state", list(state_chapters()))
def test_a_chapter_named_after_a_state_is_in_it(name, at, state):
    """Its first tick is in that state, or a tick of the chapter reaches it."""
    recs, _ = run(name).chapter(at)
    seen = [r["host"]["state"] for r in recs]
    assert state in seen, f"{name} chapter at {at}: states {seen}"


@pytest.mark.parametrize("name,at", [(n, a) for n, chs in CLAIMS.items() for a in chs])
def test_each_chapter_does_what_its_text_says(name, at):
    r = run(name)
    recs, rows = r.chapter(at)
    assert CLAIMS[name][at](r, recs, rows)


def test_every_chapter_with_a_state_in_its_title_is_checked():
    """The state chapters found are the ones these tests were written against."""
    assert sorted((n, s) for n, _, s in state_chapters()) == sorted(
        [("swap", "soft"), ("swap", "hard"), ("balloon", "soft"), ("hostcache", "hard"), ("overcommit", "low")])
    assert set(STATE_NAMES) >= {s for _, _, s in state_chapters()}
