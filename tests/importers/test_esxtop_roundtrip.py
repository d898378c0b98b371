"""esxtop out: ``run --esxtop`` writes a batch capture that reads back as ``run --json``."""
from __future__ import annotations

import json

import pytest

from vmmemviz.cli import main
from vmmemviz.importers.esxtop import read_esxtop
from vmmemviz.model.config import scenario

TICKS = {"hostscale": 1,          # a real-sized host: one tick is enough to check the names
         # overcommitted at its first tick: 3 samples of a lagging state read best as ESXi 5.x numbering
         "compare-idletax": 5}
# datacenter (256 GiB) takes minutes for its first tick: tests/model/test_datacenter.py runs it scaled
NAMES = [n for n in scenario.builtin_names() if n != "datacenter"]


@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name, tmp_path, capsys):
    out = tmp_path / f"{name}.csv"
    ticks = TICKS.get(name, 3)
    assert main(["run", name, "--ticks", str(ticks), "--json", "--esxtop", str(out)]) == 0
    run = json.loads(capsys.readouterr().out)
    cap = read_esxtop(out)
    assert cap.samples == ticks and cap.why_vm == "groups with a vmx world" and not cap.system
    back = cap.sample()
    assert back["host"].pop("state_raw") == ("high", "clear", "soft", "hard", "low").index(
        run["host"]["state"])
    assert back["host"] == run["host"]
    sc = scenario.load(name)
    for v in sc.vms:                       # Alloc Min / Max / Shares from the scenario
        got = back["vms"][v.name]
        assert (got.pop("RESV"), got.pop("LIMIT"), got.pop("SHARES")) == \
            (v.reservation_mb, -1 if v.limit_mb is None else v.limit_mb, v.share_count())
    assert back["vms"] == run["vms"]
    assert [c for c in cap.columns.values() if "Group Memory" in c][:1] == [
        f"\\\\vmmemviz\\Group Memory(100000:{next(iter(run['vms']))})\\Memory Size MBytes"]
    assert not list(tmp_path.glob(".*.part"))


def test_write_is_atomic(tmp_path, capsys):
    from vmmemviz.importers.esxtop_out import write_esxtop

    out = tmp_path / "old.csv"
    out.write_text("keep me")
    bad = [{"tick": 0, "host": {"state": "high"}, "vms": {}},
           {"tick": 1, "host": {"state": "no such state"}, "vms": {}}]
    with pytest.raises(ValueError):
        write_esxtop(out, bad)
    assert out.read_text() == "keep me" and not list(tmp_path.glob(".*.part"))
    assert main(["run", "translation", "--ticks", "1", "--esxtop", str(tmp_path / "no" / "x.csv")]) == 2
    assert "no such folder" in capsys.readouterr().err
