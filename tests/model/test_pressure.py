"""What ESXi does when memory runs out, checked tick by tick over `run --jsonl` records.

Sources: Epping, "vSphere 6.0 memory reclamation states" (low: VMs above target blocked,
aggressive reclaim until back in hard); Waldspurger, OSDI 2002 s.5 (min-funding revocation,
idle memory tax); Epping, "Large pages and TPS" (Windows boot zeroing on EPT backed by 2 MB
pages, broken only below high). See docs/fidelity.md.
"""
import numpy as np
import pytest

from ticks import tick_records

IDLE_BUSY = """seed = 5
duration = {duration}
[host]
memory_mb = 24
[settings]
"Mem.IdleTax" = {tax}
"Mem.SamplePeriod" = 10
"Mem.ShareForceSalting" = 2
"Mem.AllocGuestLargePage" = 0
"Sim.BalloonRate" = 32
[[vm]]
name = "idle01"
memory_mb = 16
guest_os = "linux"
[[vm.process]]
name = "cache"
size_mb = 12
start_mb = 12
[[vm.process.step]]
at = 1
op = "write"
pages = "0x0-0xbff"
content = "text"
[[vm]]
name = "busy01"
memory_mb = 16
guest_os = "linux"
[[vm.process]]
name = "db"
size_mb = 15
start_mb = 2
alloc_mb = 0.2
touches = 400
write_fraction = 0.5
content = {{ text = 0.9, random = 0.1 }}
"""


def lost(recs: list, name: str) -> float:
    """Machine memory taken from a VM: its GRANT at its peak less at the end (MB)."""
    grant = [r["vms"][name]["GRANT"] for r in recs]
    return max(grant) - grant[-1]


def test_idle_memory_tax_makes_the_idle_vm_pay():
    """Waldspurger 2002 s.5.3: with Mem.IdleTax 75 an idle page costs 4 active ones, so an idle
    VM with the same shares gives at least twice what a busy one gives."""
    recs = list(tick_records(IDLE_BUSY.format(tax=75, duration=120)))
    idle, busy = lost(recs, "idle01"), lost(recs, "busy01")
    assert idle > 2.0
    assert idle >= 2 * busy, (idle, busy)


WINDOWS_EPT = """seed = 2
duration = 80
[host]
memory_mb = 64
[settings]
"Mem.AllocGuestLargePage" = 1
"Mem.ShareForceSalting" = 0
"Mem.ShareScanTime" = 10
"Sim.TimeScale" = 60
[[vm]]
name = "win01"
memory_mb = 32
guest_os = "windows"
mmu = "ept"
[[vm]]
name = "lin01"
memory_mb = 40
guest_os = "linux"
mmu = "ept"
[[vm.process]]
name = "batch"
size_mb = 38
start_mb = 4
alloc_mb = 0.5
touches = 300
write_fraction = 1.0
content = { text = 0.7, random = 0.3 }
"""


@pytest.fixture(scope="module")
def windows_ept():
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.timeline import Timeline
    tl = Timeline(scenario.parse(WINDOWS_EPT, "windows.toml"))
    return list(tl.records()), tl.log.rows()


def test_idle_windows_on_ept_holds_large_pages_until_the_host_passes_below_high(windows_ept):
    """Epping, "Large pages and TPS": boot zeroing on a hardware MMU is backed by 2 MB pages
    (LPAGE about the VM's memory, ZERO about 0); only below high (the 400% mark) are they
    broken and their zero pages shared."""
    from vmmemviz.model.core import events
    from vmmemviz.model.reclaim import largepages as LPG
    recs, rows = windows_ept
    brk = rows[(rows["kind"] == events.BY_NAME["LP_BREAK"].code) & (rows["vm"] == 0)]
    first = int(brk["tick"].min())
    assert first > 10                                     # the host was above the mark until then
    assert set(brk["slot"].tolist()) <= {LPG.CANDIDATE, LPG.ZEROS}       # broken below 400% of minFree
    for r in recs[:first]:
        win = r["vms"]["win01"]
        assert r["host"]["free_mb"] >= 4 * r["host"]["minfree_mb"], r["tick"]
        assert win["LPAGE"] >= 0.85 * win["MEMSZ"] and win["ZERO"] <= 0.05 * win["MEMSZ"], r["tick"]
    last = recs[-1]["vms"]["win01"]
    assert last["LPAGE"] < 0.1 * last["MEMSZ"] and last["ZERO"] > 0.8 * last["MEMSZ"]


@pytest.mark.parametrize("name", ["largepages", "overcommit", "default"])
def test_lpage_never_exceeds_grant(name, windows_ept):
    """A large page is broken before any 4 KB part of it is ballooned, compressed or swapped
    (fact sheet, Large pages): LPAGE <= GRANT in every tick."""
    for recs in (tick_records(name), windows_ept[0]):
        for r in recs:
            for vm, c in r["vms"].items():
                assert c["LPAGE"] <= c["GRANT"] + 1e-9, (name, r["tick"], vm)


FRAME_TAKING = ("BACK", "LP_BACK", "SWAP_IN", "UNZIP", "TPS_COW", "KERNEL_LOAD", "BOOT_ZERO")


def test_in_the_low_state_no_vm_above_its_target_grows():
    """Epping (quoting VMware engineering): in the low state ESX blocks VMs above their target
    from allocating. No access by a VM that is above its SZTGT while the host is in low gives
    it machine memory; the overcommit tour reaches low and blocks (MEM_WAIT)."""
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core import events
    from vmmemviz.model.core.simulator import Simulator
    from vmmemviz.model.reclaim.allocation import consumed, sztgt
    from vmmemviz.model.reclaim.freestates import LOW, HostStates

    sim = Simulator(scenario.load("overcommit"))
    codes = [events.BY_NAME[k].code for k in FRAME_TAKING]
    emit, access = sim.emit, sim.access
    seen = {"blocked": None, "blocked accesses": 0, "waits": 0}

    def spy_access(vm, proc, *args):
        sim.mechanism(HostStates).evaluate()
        above = sim.state.host_state == LOW and consumed(sim.state, vm) > sztgt(sim.state, vm)
        seen["blocked"] = vm.index if above else None
        seen["blocked accesses"] += above
        access(vm, proc, *args)
        seen["blocked"] = None

    def spy_emit(rows):
        if seen["blocked"] is not None:
            taking = rows[np.isin(rows["kind"], codes)]
            assert not (taking["vm"] == seen["blocked"]).any(), (sim.now, sim.vms[seen["blocked"]].name)
        seen["waits"] += int(np.count_nonzero(rows["kind"] == events.BY_NAME["MEM_WAIT"].code))
        return emit(rows)

    sim.access, sim.emit = spy_access, spy_emit
    sim.run()
    assert seen["waits"] > 0 and seen["blocked accesses"] > 0


def test_the_overcommit_tour_shows_blocking_in_its_low_chapter():
    sc_low = next(c.at for c in __import__("vmmemviz.model.config.scenario", fromlist=["load"]).load(
        "overcommit").chapters if c.title.startswith("Low"))
    waits = [(r["tick"], n) for r in tick_records("overcommit") for n, v in r["vms"].items()
             if v["MEMWAIT/s"] > 0]
    assert waits and all(t >= sc_low for t, _ in waits)


def test_every_tick_reports_a_state_that_fits_its_free_memory():
    """The state a tick reports is re-read after reclamation: ``next_state`` leaves it as it is
    (for the free memory the record rounds to 0.01 MB: a page either side of a threshold may
    round across it)."""
    from vmmemviz.model.reclaim import freestates as states
    for name in ("overcommit", "balloon"):
        for r in tick_records(name):
            h = r["host"]
            managed, minfree = h["managed_mb"], h["minfree_mb"]
            th, mark = states.thresholds_mb("esxi6", managed, minfree), states.high_mark_mb("esxi6", minfree)
            s = states.STATE_NAMES.index(h["state"])
            assert any(states.next_state(s, h["free_mb"] + d, th, mark) == s for d in (-0.005, 0.005)), \
                (name, r["tick"], h)


def test_low_lasts_until_the_host_is_back_in_hard():
    """Epping: in low the host "reclaims aggressively until ESX moves into the hard state".
    Swapping takes time (Sim.SwapRate), so in the overcommit tour low lasts several ticks:
    every tick of it ends below the hard mark (32% of minFree), VMs above target wait, and the
    first tick after it ends above that mark."""
    recs = list(tick_records("overcommit"))
    low = [r["tick"] for r in recs if r["host"]["state"] == "low"]
    spells = np.split(low, np.flatnonzero(np.diff(low) > 1) + 1)
    longest = max(spells, key=len)
    assert len(longest) >= 3, spells
    for t in longest:
        h = recs[t]["host"]
        assert h["free_mb"] <= 0.32 * h["minfree_mb"] + 0.01
    assert sum(v["MEMWAIT/s"] > 0 for t in longest for v in recs[t]["vms"].values()) >= 2
    after = recs[longest[-1] + 1]["host"]
    assert after["state"] != "low" and after["free_mb"] > 0.32 * after["minfree_mb"] - 0.01


def test_sztgt_includes_the_vm_overhead():
    """Interpreting esxtop Statistics, 3.3: "SZTGT includes the overhead memory for a VM"."""
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.timeline import Timeline
    from vmmemviz.model.reclaim.allocation import sztgt
    tl = Timeline(scenario.load("balloon"))
    for r in tl.records():
        pass
    for vm in tl.sim.vms:
        shown = r["vms"][vm.name]
        assert shown["OVHD"] > 0
        assert abs(shown["SZTGT"] - shown["OVHD"] - sztgt(tl.sim.state, vm) / 256) <= 0.011


@pytest.mark.parametrize("name", ["balloon", "tps", "compression"])
def test_while_memory_is_plentiful_no_target_is_below_what_a_vm_holds(name):
    """Waldspurger 2002 s.5 (min-funding revocation): memory is taken from a VM only when it is
    short. With the host in high and free memory above the 400% mark, every VM's target is its
    demand, what it would hold without reclamation: at least what it consumes (SZTGT less OVHD
    >= CNSM), also just after its consumption fell (pages shared, its balloon deflated)."""
    checked = 0
    for r in tick_records(name):
        h = r["host"]
        if h["state"] != "high" or h["free_mb"] < 4 * h["minfree_mb"]:
            continue
        for vm, v in r["vms"].items():
            assert v["SZTGT"] - v["OVHD"] >= v["CNSM"] - 0.02, (name, r["tick"], vm, v["SZTGT"], v["CNSM"])
            checked += 1
    assert checked
