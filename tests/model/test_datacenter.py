"""The built-in `datacenter` scenario (64 VMs from three ``count = N`` tables): the host walks
through every state and every reclamation technique shows.

The full size (a 256 GiB host) takes far too long for the suite, so it runs the same file
scaled down by ``SCALE`` (model/config/scale.py: sizes and rates divided, 64 VMs still), up to
the tick its swapping reaches the .vswp, and checks it tick by tick against the fact sheet's
state table (walk.py). ``bench/scale_bench.py --only datacenter --dc-scale N`` runs it at any
scale (1 = full size). Checked by hand (issue 15), the ticks end in
  1/32 and 1/4: high 0-7, clear 8-10, soft 11-12, hard 13, low 14-19;
  1/8:          high 0-7, clear 8-10, soft 11,    hard 12, low 13-19;
  full size:    high 0-6, clear 7-11, soft 12-13, hard 14, low 15-19
(minFree is 1.23% of the full host, the 1% the scaled copies keep puts the thresholds lower).
"""
import numpy as np
import pytest

from vmmemviz.assets import asset
from vmmemviz.model.config import scenario
from vmmemviz.model.config.scale import scaled
from vmmemviz.model.config.settings import HOST_SETTINGS
from vmmemviz.model.core import events
from walk import Walk, blocked, check_states_in_order, check_techniques_by_state

SCALE = 32
VSWP_BY = 17                                # ticks: low from 14, the host cache full and the .vswp written at 16
KINDS = ["TPS_SHARE", "LP_BACK", "LP_BREAK", "BALLOON_PIN", "ZIP", "SWAP_OUT", "LLSWAP_OUT"]


def small():
    """The file at 1/SCALE (loading it at full size needs a machine that can hold 256 GiB's arrays)."""
    path = asset("scenarios/datacenter.toml")
    return scenario.parse(scaled(path.read_text(), SCALE), str(path))


@pytest.fixture(scope="module")
def walk():
    sc = small()
    sc.duration = VSWP_BY
    return Walk(sc)


def test_sixty_four_vms_from_three_tables():
    sc = small()
    assert len(sc.vms) == 64 and sc.host_pages * SCALE * 4096 == 256 << 30
    assert {vm.name for vm in sc.vms} >= {"sql01", "sql20", "web01", "web36", "batch01", "batch08"}


def test_the_host_walks_through_every_state_each_for_a_tick_at_least(walk):
    seq = check_states_in_order(walk)
    assert seq[:4] == ["high"] * 4 and seq[-1] == "low", seq


def test_every_reclamation_technique_shows(walk):
    seen = {events.KINDS[int(k)].name for k in np.unique(walk.rows["kind"])}
    assert set(KINDS) <= seen, set(KINDS) - seen


def test_each_state_runs_what_the_fact_sheet_gives_it(walk):
    check_techniques_by_state(walk, {
        "high": ("TPS_HINT", "LP_BACK", "LP_BREAK"),
        "clear": ("LP_BREAK", "TPS_SHARE"),
        "soft": ("BALLOON_PIN",),
        "hard": ("ZIP", "LLSWAP_OUT"),
        "low": ("ZIP", "SWAP_OUT", "MEM_WAIT"),
    })


def test_low_blocks_the_batch_vms_above_their_target(walk):
    """Low shares and busy: the batch VMs are above their target, so they are the ones that wait."""
    waits = blocked(walk)
    assert waits and all(n.startswith("batch") for ns in waits.values() for n in ns), waits


def test_scaling_divides_every_rate_also_a_default_one():
    """Sizes and per-second rates shrink together, also a rate the file leaves at its default
    (Sim.SwapRate here), so the scaled host swaps as fast for its size as the full one."""
    full = scenario.load("datacenter")
    sc = small()
    assert sc.host_pages * SCALE == full.host_pages
    assert "Sim.SwapRate" not in full.settings
    assert sc.settings["Sim.SwapRate"] == HOST_SETTINGS["Sim.SwapRate"][0] // SCALE
    assert sc.settings["Sim.BalloonRate"] == full.settings["Sim.BalloonRate"] // SCALE
