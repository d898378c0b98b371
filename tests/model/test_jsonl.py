"""`vmmemviz run SCENARIO --jsonl`: one object per tick, the keys of --json."""
import json
import subprocess
import sys

from ticks import tick_records


def test_jsonl_is_one_record_per_tick_with_the_keys_of_json():
    r = subprocess.run([sys.executable, "-m", "vmmemviz", "run", "default", "--jsonl", "--ticks", "5"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [rec["tick"] for rec in recs] == [0, 1, 2, 3, 4]
    assert all(set(rec) == {"tick", "host", "vms"} for rec in recs)
    j = json.loads(subprocess.run([sys.executable, "-m", "vmmemviz", "run", "default", "--json", "--ticks", "5"],
                                  capture_output=True, text=True).stdout)
    assert recs[-1]["host"].keys() == j["host"].keys() and recs[-1]["vms"].keys() == j["vms"].keys()
    assert recs[-1]["vms"]["web01"].keys() == j["vms"]["web01"].keys()
    assert recs[-1]["host"]["free_mb"] == j["host"]["free_mb"]       # the last tick is the end state
    assert recs == list(tick_records("default", 5))
