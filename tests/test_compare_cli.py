"""`vmmemviz run ... --compare-set / --compare`: two runs at one simulated time and the delta."""
from __future__ import annotations

import json

import pytest

from vmmemviz.cli import main
from vmmemviz.model.config import compare as C
from vmmemviz.model.config import scenario as SC

TICKS = "60"


def run_json(capsys, *argv) -> dict:
    assert main(["run", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_salting_0_saves_more_than_salting_2(tmp_path, capsys):
    """The tps tour with salting 0 (run A) against salting 2 (run B): B shares less."""
    a = tmp_path / "tps-salting0.toml"
    a.write_text(C.apply(SC.load("tps").text, [C.parse_change("Mem.ShareForceSalting=0")]).text)
    got = run_json(capsys, str(a), "--ticks", TICKS, "--compare-set", "Mem.ShareForceSalting=2")
    assert set(got) >= {"a", "b", "delta"} and got["b_is"] == "Mem.ShareForceSalting = 2"
    sa, sb = got["a"]["host"]["pshare_saving_mb"], got["b"]["host"]["pshare_saving_mb"]
    assert sa > sb
    assert got["delta"]["host"]["pshare_saving_mb"] == round(sb - sa, 2)
    assert got["delta"]["vms"].keys() == got["a"]["vms"].keys()
    # run A is exactly what `run --json` prints for that run alone
    alone = run_json(capsys, str(a), "--ticks", TICKS)
    assert got["a"] == alone


def test_steps_align_by_simulated_time(capsys):
    got = run_json(capsys, "tps", "--steps", "700", "--compare-set", "Mem.ShareForceSalting=2")
    # both at the end of the second of A's 700th event: the same tick, other event counts
    assert got["a"]["ticks"] == got["b"]["ticks"] == got["tick"] + 1
    assert got["a"]["events"] >= 700


def test_other_scenario_pairs_vms_by_name(capsys):
    got = run_json(capsys, "tps", "--ticks", "5", "--compare", "translation")
    assert got["b"]["scenario"] == SC.load("translation").name
    assert set(got["delta"]["vms"]) == set(got["a"]["vms"]) & set(got["b"]["vms"])


def test_table_shows_both_runs_and_the_delta(capsys):
    assert main(["run", "tps", "--ticks", "5", "--compare-set", "vm.tools=false"]) == 0
    out = capsys.readouterr().out
    assert "A: vm.tools = true" in out and "B: vm.tools = false" in out and "\nB - A\n" in out


@pytest.mark.parametrize("argv, says", [
    (["--compare-set", "Mem.ShareForceSalting=0", "--compare", "tps"], "not both"),
    (["--compare-set", "Mem.NoSuch=1"], "unknown key 'Mem.NoSuch'"),
    (["--compare-set", "vm[nosuch].tools=false"], "no VM named 'nosuch'"),
    (["--compare", "nosuch"], "not a file and not a built-in scenario"),
    (["--compare-set", "vm.tools=false", "--jsonl"], "writes one run"),
])
def test_bad_compare_is_one_line(argv, says, capsys):
    assert main(["run", "tps", "--ticks", "2", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err
