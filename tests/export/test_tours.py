"""Every scenario shipped in resources/scenarios loads and plays to its end."""
import pytest

from vmmemviz.model.core import events
from vmmemviz.model.config import scenario
from vmmemviz.model.core.simulator import Simulator
from vmmemviz.model.core.timeline import Timeline

# datacenter (256 GiB) takes minutes a tick, hostscale (64 GiB, 28 ticks) over a minute:
# tests/model/test_datacenter.py and test_hostscale.py play them scaled down
TOURS = sorted(p for p in scenario.BUILTIN_DIR.glob("*.toml") if p.stem not in ("datacenter", "hostscale"))
TEACHING = ("translation", "boot", "allocation")


@pytest.mark.parametrize("path", TOURS, ids=[p.stem for p in TOURS])
def test_tour_plays_to_its_end(path):
    """The simulation alone (seeking like play is the model's own tests' business)."""
    sc = scenario.load(str(path))
    sim = Simulator(sc)
    sim.run()
    n = len(sim.log)
    assert sim.done() and n > 0
    names = [vm.name for vm in sim.vms]
    for i in (*range(min(n, 50)), n - 1):
        assert events.narrate(sim.log[i], names).strip()
    for ch in sc.chapters:
        assert 0 <= ch.at < sc.duration and ch.title.strip()


@pytest.mark.parametrize("name", TEACHING)
def test_teaching_tour_is_small_enough_to_step_through(name):
    sc = scenario.load(name)
    tl = Timeline(sc)
    n = tl.run_to_end()
    assert 50 <= n <= 600, n
    assert sc.host_pages + sum(vm.pages for vm in sc.vms) <= 4096
    assert len(sc.chapters) >= 4
    ticks = {int(t) for t in tl.log.rows()["tick"]}
    assert all(ch.at in ticks for ch in sc.chapters), "every chapter starts with an event to show"
