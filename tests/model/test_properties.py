"""Property tests: random small scenarios keep the invariants after every event, replay
deterministically, and seek to the same state as play."""
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from vmmemviz.model.views import invariants
from vmmemviz.model.config import scenario
from vmmemviz.model.core.events import apply_rows
from vmmemviz.model.core.simulator import build_state
from vmmemviz.model.core.timeline import Timeline

vm_strategy = st.fixed_dictionaries({
    "os": st.sampled_from(["linux", "windows"]),
    "mmu": st.sampled_from(["ept", "shadow"]),
    "mem": st.sampled_from([0.5, 1, 2]),
    "size": st.sampled_from([0.25, 0.5, 1]),
    "start": st.sampled_from([0, 0.05, 0.2]),
    "alloc": st.sampled_from([0, 0.01, 0.05]),
    "free": st.sampled_from([0, 0.01]),
    "touches": st.integers(0, 30),
    "wf": st.sampled_from([0.0, 0.3, 1.0]),
})


def build(seed, vms, duration):
    text = f"seed = {seed}\nduration = {duration}\n[host]\nmemory_mb = 16\n"
    for i, v in enumerate(vms):
        text += (f"[[vm]]\nname = 'vm{i}'\nmemory_mb = {v['mem']}\nguest_os = '{v['os']}'\nmmu = '{v['mmu']}'\n"
                 f"[[vm.process]]\nname = 'p'\nsize_mb = {v['size']}\nstart_mb = {v['start']}\n"
                 f"alloc_mb = {v['alloc']}\nfree_mb = {v['free']}\ntouches = {v['touches']}\n"
                 f"write_fraction = {v['wf']}\n"
                 f"[[vm.process.step]]\nat = 2\nop = 'write'\npages = 3\ncontent = 'zero'\n")
    return scenario.parse(text, "prop.toml")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), vms=st.lists(vm_strategy, min_size=1, max_size=3),
       duration=st.integers(1, 15), seeks=st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_random_scenarios(seed, vms, duration, seeks):
    sc = build(seed, vms, duration)
    tl = Timeline(sc, keyframe_every=16)
    tl.run_to_end()
    st_ = build_state(sc)
    digests = [st_.digest()]
    for i in range(len(tl)):
        apply_rows(st_, tl.log.rows(i, i + 1).copy())
        invariants.check(st_)
        digests.append(st_.digest())
    assert digests[-1] == tl.sim.state.digest()
    for f in seeks:
        k = int(round(f * len(tl)))
        tl.seek(k)
        assert tl.view.digest() == digests[k]
    again = Timeline(build(seed, vms, duration))
    again.run_to_end()
    assert np.array_equal(again.log.rows(), tl.log.rows())
