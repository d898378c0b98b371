"""The built-in `datacenter` scenario (64 VMs from three ``count = N`` tables): the host walks
through every state and every reclamation technique shows.

The full size (a 256 GiB host) takes far too long for the suite, so it runs the same file
scaled down by ``SCALE`` (model/config/scale.py: sizes and rates divided, 64 VMs still), up to
the tick the low state is reached; ``bench/scale_bench.py --only datacenter --dc-scale N``
runs it at any scale (1 = full size).
"""
import numpy as np
import pytest

from vmmemviz.assets import asset
from vmmemviz.model.config import scenario
from vmmemviz.model.config.scale import scaled
from vmmemviz.model.config.settings import HOST_SETTINGS
from vmmemviz.model.core import events
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.reclaim import freestates as states

SCALE = 32
LOW_BY = 16                                 # ticks: at 1/32 the burst from tick 14 reaches low at 15
KINDS = ["TPS_SHARE", "LP_BACK", "LP_BREAK", "BALLOON_PIN", "ZIP", "SWAP_OUT", "LLSWAP_OUT"]


def small():
    """The file at 1/SCALE (loading it at full size needs a machine that can hold 256 GiB's arrays)."""
    path = asset("scenarios/datacenter.toml")
    return scenario.parse(scaled(path.read_text(), SCALE), str(path))


@pytest.fixture(scope="module")
def timeline():
    sc = small()
    sc.duration = LOW_BY
    tl = Timeline(sc)
    tl.run_to_end()
    return tl


def test_sixty_four_vms_from_three_tables():
    sc = small()
    assert len(sc.vms) == 64 and sc.host_pages * SCALE * 4096 == 256 << 30
    assert {vm.name for vm in sc.vms} >= {"sql01", "sql28", "web01", "web28", "batch01", "batch08"}


def test_the_host_walks_through_every_state(timeline):
    rows = timeline.log.rows()
    seq = ["high"] + [states.STATE_NAMES[int(a)] for a in rows["aux"][rows["kind"] == events.BY_NAME["HOST_STATE"].code]]
    first = [seq.index(s) for s in states.STATE_NAMES]       # ValueError: a state never reached
    assert first == sorted(first), f"states first reached out of order: {seq}"


def test_every_reclamation_technique_shows(timeline):
    seen = {events.KINDS[int(k)].name for k in np.unique(timeline.log.rows()["kind"])}
    assert set(KINDS) <= seen, set(KINDS) - seen


def test_scaling_divides_every_rate_also_a_default_one():
    """Sizes and per-second rates shrink together, also a rate the file leaves at its default
    (Sim.SwapRate here), so the scaled host swaps as fast for its size as the full one."""
    full = scenario.load("datacenter")
    sc = small()
    assert sc.host_pages * SCALE == full.host_pages
    assert "Sim.SwapRate" not in full.settings
    assert sc.settings["Sim.SwapRate"] == HOST_SETTINGS["Sim.SwapRate"][0] // SCALE
    assert sc.settings["Sim.BalloonRate"] == full.settings["Sim.BalloonRate"] // SCALE
