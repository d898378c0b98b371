"""Active memory (Waldspurger, OSDI 2002 s.5.3; vSphere docs "smoothed over several time
periods ... respond rapidly to increases ... more slowly to decreases"): slow and fast moving
averages, the fast one with the partial period folded in, %ACTV the maximum; esxtop %ACTV,
%ACTVS, %ACTVF, %ACTVN, TCHD, TCHD_W."""
import pytest

from ticks import tick_records
from test_pressure import IDLE_BUSY
from vmmemviz.model.reclaim import sampling as S


def test_estimates_rise_fast_fall_slowly_and_take_the_maximum():
    actv, slow, fast, nxt = S.estimates(0, 0, 80, period_over=False)
    assert (slow, fast) == (0, 0) and actv == round(S.FAST_GAIN * 80)        # partial period folded in
    assert nxt == round(S.FAST_GAIN * 80)
    actv, slow, fast, _ = S.estimates(0, 0, 80, period_over=True)
    assert slow == round(S.SLOW_GAIN * 80) and fast == round(S.FAST_GAIN * 80) and actv >= fast
    # going idle: the fast average drops at once, the slow one holds the estimate up
    actv, slow, fast, _ = S.estimates(60, 60, 0, period_over=True)
    assert fast == 30 and slow == 54 and actv == 54


@pytest.fixture(scope="module")
def recs():
    return list(tick_records(IDLE_BUSY.format(tax=75, duration=120)))


def test_counters_follow_the_estimates(recs):
    for r in recs:
        for c in r["vms"].values():
            assert c["%ACTV"] >= max(c["%ACTVS"], c["%ACTVF"])
            assert c["TCHD_W"] <= c["TCHD"] <= c["MEMSZ"]
    idle = [r["vms"]["idle01"] for r in recs]
    busy = [r["vms"]["busy01"] for r in recs]
    assert idle[-1]["TCHD"] == 0 and idle[-1]["%ACTV"] < 10      # idle since tick 1: not 100% long after
    assert busy[-1]["%ACTV"] > 40 and busy[-1]["TCHD_W"] > 0


def test_no_swings_between_samples(recs):
    """The estimate moves at most by the fast gain's share per second, never 85 -> 0."""
    for name in ("idle01", "busy01"):
        a = [r["vms"][name]["%ACTV"] for r in recs]
        assert max(abs(x - y) for x, y in zip(a, a[1:])) <= 100 * S.FAST_GAIN
