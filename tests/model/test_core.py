"""The simulation core: scenarios, events, translation, determinism, seeking, invariants."""
import json
import subprocess
import sys

import numpy as np
import pytest
from read_after_write import Writes

from vmmemviz.errors import InputError
from vmmemviz.model.core import content as C
from vmmemviz.model.core import events
from vmmemviz.model.guest import guestos as guest
from vmmemviz.model.views import invariants
from vmmemviz.model.guest import mmu
from vmmemviz.model.config import scenario
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.events import apply_rows
from vmmemviz.model.core.simulator import Simulator, build_state
from vmmemviz.model.core.timeline import Timeline

SMALL = """
seed = 7
duration = {duration}
[host]
memory_mb = 8
[settings]
{settings}
[[vm]]
name = "lin"
memory_mb = 2
guest_os = "linux"
mmu = "{mmu}"
[[vm.process]]
name = "app"
size_mb = 1
start_mb = 0.25
alloc_mb = 0.02
free_mb = {free_mb}
touches = 15
write_fraction = 0.5
[[vm]]
name = "win"
memory_mb = 2
guest_os = "windows"
[[vm.process]]
name = "svc"
size_mb = 0.5
start_mb = 0.1
touches = 8
"""


def small(duration=20, mmu="ept", free_mb=0.0, settings=""):
    return scenario.parse(SMALL.format(duration=duration, mmu=mmu, free_mb=free_mb, settings=settings),
                          "small.toml")


def test_model_never_imports_qt():
    code = ("import sys, vmmemviz.model.core.timeline, vmmemviz.model.views.pageinfo, vmmemviz.model.views.invariants, "
            "vmmemviz.model.views.counters, vmmemviz.cli;"
            "import pkgutil, importlib, vmmemviz.model as m;"
            "[importlib.import_module('vmmemviz.model.' + x.name) for x in pkgutil.iter_modules(m.__path__)];"
            "bad = [k for k in sys.modules if k.startswith(('PySide6', 'pyqtgraph', 'shiboken'))];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_vm_starts_with_no_memory_and_windows_zeroes_all_at_boot():
    sim = Simulator(small(duration=1))
    st = build_state(sim.sc)
    assert all((vm.gp_state == V.UNTOUCHED).all() for vm in st.vms)
    sim.run()
    lin, win = sim.vms
    # Windows touched everything at boot: every page is backed; Linux only what it used
    assert (win.gp_state == V.MAPPED).all()
    assert (lin.gp_state == V.MAPPED).sum() < lin.n // 2
    zero_frames = sim.state.host.mpn_content[win.gp_loc[win.gp_guest == guest.FREE]]
    assert (zero_frames == C.ZERO_CID).all()


def test_kernel_pages_are_identical_across_vms_of_one_os():
    sc = scenario.parse(SMALL.format(duration=1, mmu="ept", free_mb=0, settings="")
                        .replace('guest_os = "windows"', 'guest_os = "linux"'), "two-linux.toml")
    sim = Simulator(sc)
    sim.run()
    a, b = sim.vms
    k = a.gp_guest == guest.KERNEL
    ca = sim.state.host.mpn_content[a.gp_loc[k]]
    cb = sim.state.host.mpn_content[b.gp_loc[b.gp_guest == guest.KERNEL]]
    assert np.array_equal(ca, cb)
    assert C.page_bytes(int(ca[3])) == C.page_bytes(int(cb[3]))
    assert len(set(ca.tolist())) == len(ca)    # distinct pages within the image


def test_walk_costs_and_shadow_exits():
    assert mmu.walk_refs("ept", False) == 24
    assert mmu.walk_refs("ept", True) == 19
    assert mmu.walk_refs("shadow", False) == 4
    for mode in ("ept", "shadow"):
        sim = Simulator(small(mmu=mode))
        sim.run()
        lin = sim.vms[0]
        assert lin.tlb_misses > 0 and lin.tlb_hits > 0
        per_miss = 24 if mode == "ept" else 4
        assert lin.walk_refs == lin.tlb_misses * per_miss
        if mode == "shadow":
            assert lin.vm_exits == lin.pt_updates > 0
        else:
            assert lin.vm_exits == 0 and lin.pt_updates > 0


def test_tlb_rows_agree_with_one_at_a_time():
    tl = Timeline(small())
    tl.run_to_end()
    rows = tl.log.rows().copy()
    st = build_state(tl.sc)
    for i in range(len(rows)):
        one = rows[i:i + 1].copy()
        apply_rows(st, one)
        assert one[0] == rows[i], f"event {i} differs when applied alone"
    assert st.digest() == tl.sim.state.digest()


def test_guest_never_gives_memory_back():
    sim = Simulator(small(duration=30, free_mb=0.02))
    sim.run()
    lin = sim.vms[0]
    frees = [r for r in sim.log.rows() if r["kind"] == guest.apply_free.code]
    assert frees
    # pages on the guest free list that still hold machine memory
    backed_free = (lin.gp_guest == guest.FREE) & (lin.gp_state == V.MAPPED)
    assert backed_free.sum() > 0


def test_same_scenario_same_digest_and_events():
    a, b = Simulator(small()), Simulator(small())
    a.run()
    b.run()
    assert a.state.digest() == b.state.digest()
    assert np.array_equal(a.log.rows(), b.log.rows())
    c = Simulator(scenario.parse(SMALL.format(duration=20, mmu="ept", free_mb=0, settings="")
                                 .replace("seed = 7", "seed = 8"), "x"))
    c.run()
    assert c.state.digest() != a.state.digest()


def play_digests(tl):
    """Digest after each event, applying the rows one at a time to a fresh state."""
    st = build_state(tl.sc)
    out = [st.digest()]
    for i in range(len(tl)):
        apply_rows(st, tl.log.rows(i, i + 1).copy())
        out.append(st.digest())
    return out


def test_seek_back_and_forth_equals_play():
    tl = Timeline(small(duration=25), keyframe_every=50)
    tl.run_to_end()
    assert len(tl.keyframes) > 3
    play = play_digests(tl)
    rng = np.random.default_rng(3)
    for k in list(rng.integers(0, len(tl) + 1, 40)) + [len(tl), 0, 1, len(tl) - 1]:
        tl.seek(int(k))
        assert tl.view.digest() == play[int(k)], f"seek to {k}"
    tl.seek(len(tl))
    assert tl.view.digest() == tl.sim.state.digest()


def test_keyframe_memory_is_bounded():
    tl = Timeline(small(duration=60), keyframe_every=20, keyframe_budget=40_000)
    tl.run_to_end()
    assert tl.history_bytes() <= 40_000 + max(s.nbytes for _, s in tl.keyframes)
    tl.seek(len(tl) // 3)
    play = play_digests(tl)
    assert tl.view.digest() == play[len(tl) // 3]


def test_invariants_after_every_event():
    tl = Timeline(small(duration=30, free_mb=0.01))
    tl.run_to_end()
    st = build_state(tl.sc)
    for i in range(len(tl)):
        apply_rows(st, tl.log.rows(i, i + 1).copy())
        invariants.check(st)


def test_invariant_checker_catches_a_broken_refcount():
    sim = Simulator(small(duration=2))
    sim.run()
    m = int(sim.vms[0].gp_loc[0])
    sim.state.host.mpn_refs[m] = 2
    with pytest.raises(invariants.Broken, match="reference count"):
        invariants.check(sim.state)


def test_a_read_returns_the_bytes_last_written():
    sim = Simulator(small(duration=40))
    writes = Writes(sim)
    sim.run()
    assert len(writes.last) > 50
    writes.check(sim.state, set())


def test_narration_is_one_sentence_per_event():
    tl = Timeline(small(duration=5))
    tl.run_to_end()
    names = [vm.name for vm in tl.sim.vms]
    seen = set()
    for i in range(len(tl)):
        s = events.narrate(tl.log[i], names)
        assert s.endswith(".") and "\n" not in s and len(s) < 300
        seen.add(events.KINDS[int(tl.log[i]["kind"])].name)
    assert {"POWER_ON", "KERNEL_LOAD", "BOOT_ZERO", "ALLOC", "BACK", "ACCESS"} <= seen


@pytest.mark.parametrize("mb,expected", [(8043, 403), (4096, 245), (32768, 942), (16, 0.96)])
def test_minfree_sliding_scale(mb, expected):
    assert states.minfree_mb(mb) == pytest.approx(expected)


def test_state_thresholds_and_hysteresis():
    """Epping, vSphere 6.0 states (entered below 100/64/32/16% of minFree) with "an upper and
    lower boundary": a state is left upward only above the threshold of the state above it."""
    th = states.thresholds_mb("esxi6", 8043, 403)
    mark = states.high_mark_mb("esxi6", 403)
    assert th == pytest.approx([403, 0.64 * 403, 0.32 * 403, 0.16 * 403]) and mark == 4 * 403
    assert states.next_state(states.HIGH, 1000, th, mark) == states.HIGH        # below 400%: still high
    assert states.next_state(states.HIGH, 300, th, mark) == states.CLEAR
    assert states.next_state(states.HIGH, 50, th, mark) == states.LOW
    assert states.next_state(states.LOW, 100, th, mark) == states.LOW
    assert states.next_state(states.LOW, 140, th, mark) == states.HARD          # back in hard above 32%
    assert states.next_state(states.HARD, 200, th, mark) == states.HARD
    assert states.next_state(states.HARD, 300, th, mark) == states.SOFT
    assert states.next_state(states.SOFT, 500, th, mark) == states.CLEAR


def test_state_reading_fits_the_field_capture():
    """ESXI-FACTS.md, field evidence: an 8043 MB ESXi 6 host reports clear (1) with free 590 MB
    and minFree 403 MB (146%) after heavy ballooning and swapping; "clear between 400% and
    100%" as the host recovers; high again only above 400%."""
    minfree = states.minfree_mb(8043)
    th, mark = states.thresholds_mb("esxi6", 8043, minfree), states.high_mark_mb("esxi6", minfree)
    s = states.LOW
    for free in (60, 150, 300, 450, 590):           # reclamation gives memory back
        s = states.next_state(s, free, th, mark)
    assert minfree == 403 and s == states.CLEAR
    assert states.next_state(s, 1500, th, mark) == states.CLEAR
    assert states.next_state(s, 1620, th, mark) == states.HIGH


def test_esx4_mode_is_consistent():
    """ESX 4 / Waldspurger 2002: minFree a fixed 6% of memory, states high/soft/hard/low at
    6/4/2/1%, no clear state, no 400% large-page mark."""
    assert states.minfree_mb(10000, 0, "esx4") == 600
    th, mark = states.thresholds_mb("esx4", 10000, 600), states.high_mark_mb("esx4", 600)
    assert mark == 600
    assert states.next_state(states.HIGH, 350, th, mark) == states.SOFT         # no clear state
    assert states.next_state(states.SOFT, 550, th, mark) == states.SOFT
    assert states.next_state(states.SOFT, 610, th, mark) == states.HIGH
    assert states.next_state(states.HIGH, 90, th, mark) == states.LOW
    assert states.next_state(states.LOW, 210, th, mark) == states.HARD


@pytest.mark.parametrize("text,needle", [
    ("[host]\nmemory_mb = 8\n", "vm: expected at least one [[vm]]"),
    ("[host]\nmemory_mb = 'x'\n[[vm]]\nname='a'\nmemory_mb=1\n", "host.memory_mb: expected"),
    ("[host]\nmemory_mb = 8\n[[vm]]\nname='a'\nmemory_mb=1\nguest_os='beos'\n", "vm[a].guest_os: expected one of"),
    ("[host]\nmemory_mb = 8\n[[vm]]\nname='a'\nmemory_mb=1\ncolour=1\n", "vm[a].colour: unknown key"),
    ("[host]\nmemory_mb = 8\n[settings]\n'Mem.ShareScanTime' = 5\n[[vm]]\nname='a'\nmemory_mb=1\n",
     "'Mem.ShareScanTime': expected 10 to 600"),
    ("[host]\nmemory_mb = 8\n[[vm]]\nname='a'\nmemory_mb=1\n[[vm.process]]\nname='p'\nsize_mb=1\n"
     "[[vm.process.step]]\nat=1\nop='write'\npages='zz'\n", "vm[a].process[0].step[0].pages: expected"),
    ("[host\nmemory_mb = 8\n", "not valid TOML"),
])
def test_bad_scenarios_get_one_clear_line(text, needle):
    with pytest.raises(InputError) as e:
        scenario.parse(text, "bad.toml")
    msg = str(e.value)
    assert msg.startswith("bad.toml") and needle in msg and "\n" not in msg


def test_cli_json_and_errors(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vmmemviz", "run", "default", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["events"] > 100 and len(d["digest"]) == 32
    assert set(d["host"]) >= {"managed_mb", "free_mb", "minfree_mb", "state"}
    assert set(d["vms"]["web01"]) >= {"MEMSZ", "GRANT", "TCHD", "OVHD"}
    assert d["vms"]["win01"]["GRANT"] == d["vms"]["win01"]["MEMSZ"]
    r2 = subprocess.run([sys.executable, "-m", "vmmemviz", "run", "default", "--json"],
                        capture_output=True, text=True)
    assert json.loads(r2.stdout)["digest"] == d["digest"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[host]\nmemory_mb = -1\n")
    r3 = subprocess.run([sys.executable, "-m", "vmmemviz", "run", str(bad)], capture_output=True, text=True)
    assert r3.returncode == 2 and r3.stderr.count("\n") == 1 and "host.memory_mb" in r3.stderr
    assert "Traceback" not in r3.stderr


def test_cli_steps_and_events():
    r = subprocess.run([sys.executable, "-m", "vmmemviz", "run", "default", "--steps", "7", "--events"],
                       capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 7 and "POWER_ON" in lines[0]


def test_tick_index_bisects_the_log_as_searchsorted_over_a_copy():
    """``tick_index`` finds a tick's first row (and the row after it) in the live log and in a
    snapshot without copying the log, as ``np.searchsorted`` over the whole tick column does."""
    sim = Simulator(scenario.load("swap"))
    sim.run(ticks=12)
    ticks = sim.log.rows()["tick"]
    for log in (sim.log, sim.log.snapshot()):
        for t in range(-1, 14):
            for side in ("left", "right"):
                assert log.tick_index(t, side) == int(np.searchsorted(ticks, t, side=side)), (t, side)
        hi = len(ticks) // 2
        assert log.tick_index(int(ticks[hi - 1]), hi=hi) == int(np.searchsorted(ticks[:hi], ticks[hi - 1]))
