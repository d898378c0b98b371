"""The built-in `hostscale` (32 VMs of 4 GiB on a 64 GiB host) walks through every host state,
tick by tick, each with the reclamation the fact sheet gives it and none it does not (walk.py).

A full-size run takes minutes, so the test runs the same file at 1/16 (model/config/scale.py:
sizes, rates and page counts divided, minFree kept at the full host's share of memory), which
ends its ticks in the states the full size does (by hand, issue 15): high 0-5, clear 6-8,
soft 9-10, hard 11, low 12-18, then hard again until soft from 24 (25 at 1/16).
"""
import pytest

from vmmemviz.assets import asset
from vmmemviz.model.config import scenario
from vmmemviz.model.config.scale import scaled
from walk import Walk, blocked, check_states_in_order, check_techniques_by_state

SCALE = 16


@pytest.fixture(scope="module")
def walk():
    path = asset("scenarios/hostscale.toml")
    return Walk(scenario.parse(scaled(path.read_text(), SCALE), str(path)))


def test_the_host_goes_down_through_every_state_and_back_up_when_the_batch_ends(walk):
    seq = check_states_in_order(walk)
    low = [t for t, s in enumerate(seq) if s == "low"]
    assert len(low) >= 3 and low == list(range(low[0], low[-1] + 1)), seq     # one spell, several ticks
    after = seq[low[-1] + 1:]
    assert after[0] == "hard" and "soft" in after and "low" not in after, seq  # the batch freed its memory
    assert seq[:5] == ["high"] * 5, seq                                        # a while in high first


def test_each_state_runs_what_the_fact_sheet_gives_it(walk):
    check_techniques_by_state(walk, {
        "high": ("TPS_HINT", "LP_BACK", "LP_BREAK"),          # background sharing; candidates below 400%
        "clear": ("LP_BREAK", "TPS_SHARE"),                   # large pages broken, sharing called
        "soft": ("BALLOON_PIN",),
        "hard": ("TPS_SHARE", "ZIP", "LLSWAP_OUT", "SWAP_OUT"),
        "low": ("ZIP", "MEM_WAIT"),
    })


def test_low_blocks_vms_above_target_and_only_in_low(walk):
    """Idle memory is taxed (an idle page costs 4 active ones), so the idle SQL servers are above
    their target and wait, not the busy batch VMs whose faults filled the host."""
    waits = blocked(walk)
    seq = walk.sequence()
    assert waits and all(seq[t] == "low" or seq[t - 1] == "low" for t in waits), (waits, seq)
    assert all(n.startswith("win") for ns in waits.values() for n in ns), waits
