"""The built-in `overcommit` scenario: a 2x overcommitted host walks through every host state
and every reclamation technique fires; every reclamation counter is non-zero at some tick."""
import json
import subprocess
import sys

import numpy as np
import pytest

from vmmemviz.model.core import events
from vmmemviz.model.config import scenario
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.core.timeline import Timeline

VM_COUNTERS = ["MCTL?", "MCTLSZ", "MCTLTGT", "MCTLMAX", "SWCUR", "SWTGT", "SWR/s", "SWW/s", "CACHESZ",
               "CACHEUSD", "ZIP/s", "UNZIP/s", "SZTGT", "GSWCUR", "GSWR/s", "GSWW/s",
               "ZERO", "SHRD", "SHRDSVD", "COWH"]
HOST_COUNTERS = ["swap_curr_mb", "zip_zipped_mb", "zip_saved_mb", "memctl_curr_mb", "memctl_target_mb",
                 "memctl_max_mb", "pshare_shared_mb", "pshare_common_mb", "pshare_saving_mb"]
KINDS = ["MEM_TARGET", "BALLOON_TARGET", "BALLOON_PIN", "BALLOON_UNPIN", "GUEST_PAGEOUT", "GUEST_PAGEIN",
         "SWAP_TARGET", "SWAP_OUT", "SWAP_IN", "ZIP_GROW", "ZIP", "UNZIP", "ZIP_EVICT", "ZIP_SHRINK",
         "TPS_SHARE", "TPS_COW", "HOST_STATE"]


def nonzero(v) -> bool:
    return v not in (0, 0.0, None, False, "N")


@pytest.fixture(scope="module")
def timeline():
    tl = Timeline(scenario.load("overcommit"))
    tl.run_to_end()
    return tl


def first_nonzero(history):
    """Counter -> (tick, VM or None) where it is first non-zero."""
    first = {}
    for h in history:
        for k in HOST_COUNTERS:
            if k not in first and nonzero(h["host"][k]):
                first[k] = (h["tick"], None)
        for name, c in h["vms"].items():
            for k in VM_COUNTERS:
                if k not in first and nonzero(c[k]):
                    first[k] = (h["tick"], name)
    return first


def test_every_counter_is_nonzero_at_some_tick(timeline):
    first = first_nonzero(timeline.history)
    missing = [k for k in VM_COUNTERS + HOST_COUNTERS if k not in first]
    assert not missing, f"never non-zero: {missing}"
    print("first non-zero:", {k: v for k, v in sorted(first.items(), key=lambda kv: kv[1][0])})


def test_the_host_walks_through_every_state(timeline):
    # the state as the host reads it (HOST_STATE events: low is entered and left within a tick)
    rows = timeline.log.rows()
    seq = ["high"] + [states.STATE_NAMES[int(a)] for a in rows["aux"][rows["kind"] == events.BY_NAME["HOST_STATE"].code]]
    assert set(seq) == set(states.STATE_NAMES)
    first = [seq.index(s) for s in states.STATE_NAMES]
    assert first == sorted(first), f"states first reached out of order: {dict(zip(states.STATE_NAMES, first))}"


def test_a_state_change_says_the_free_memory_that_caused_it(timeline):
    """On a 32 MB host the thresholds are 1.92, 1.23 and 0.61 MB: the HOST_STATE row carries
    the free machine pages, and its sentence the MB to two decimals, so each change reads
    below (or above) its threshold rather than "1 MB" three times."""
    rows = timeline.log.rows()
    at = np.flatnonzero(rows["kind"] == events.BY_NAME["HOST_STATE"].code)
    names = [vm.name for vm in timeline.view.vms]
    lines = dict(zip(("clear", "soft", "hard", "low"), timeline.sim.mechanism(states.HostStates).thresholds_mb))
    was = "high"
    for i in at[:12]:
        timeline.seek(int(i) + 1)
        row, now = rows[i], states.STATE_NAMES[int(rows[i]["aux"])]
        assert int(row["slot"]) == timeline.view.host.free_count()
        mb = int(row["slot"]) / 256
        assert f"is now {mb:,.2f} MB:" in events.narrate(row, names)
        if states.STATE_NAMES.index(now) > states.STATE_NAMES.index(was):     # down: below its line
            assert mb < lines[now] + 1e-9
        was = now


def test_every_reclamation_event_kind_happens(timeline):
    seen = {events.KINDS[int(k)].name for k in np.unique(timeline.log.rows()["kind"])}
    assert set(KINDS) <= seen, set(KINDS) - seen


def test_reservation_and_limit_hold(timeline):
    sc = timeline.sc
    db01 = next(vm for vm in sc.vms if vm.name == "db01")
    web02 = next(vm for vm in sc.vms if vm.name == "web02")
    for h in timeline.history[1:]:
        assert h["vms"]["db01"]["MCTLSZ"] == 0           # no VMware Tools: no balloon
        # what db01 holds never drops below its reservation
        assert h["vms"]["db01"]["GRANT"] >= db01.reservation_mb
    # web02 is above its limit from early on and is brought back to it while the host is high
    high = [h for h in timeline.history if h["host"]["state"] == "high" and h["vms"]["web02"]["MCTLSZ"] > 0]
    assert high, "web02 is not ballooned down to its limit while the host is in the high state"
    last = timeline.history[-1]["vms"]["web02"]
    assert last["SZTGT"] - last["OVHD"] <= web02.limit_mb + 0.01      # esxtop's SZTGT includes OVHD


def test_cli_json_shows_every_counter():
    r = subprocess.run([sys.executable, "-m", "vmmemviz", "run", "overcommit", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(HOST_COUNTERS) <= set(d["host"])
    for c in d["vms"].values():
        assert set(VM_COUNTERS) <= set(c)
    assert set(d["state_sequence"]) == set(states.STATE_NAMES)


def test_each_reclamation_event_narrates_one_plain_sentence(timeline):
    names = [vm.name for vm in timeline.sim.vms]
    rows = timeline.log.rows()
    for code in range(60, 90):
        idx = np.flatnonzero(rows["kind"] == code)
        for i in idx[:: max(1, len(idx) // 20)]:
            s = events.narrate(rows[i], names)
            assert s.endswith(".") and "\n" not in s and len(s) < 300 and s.count(". ") == 0, s
