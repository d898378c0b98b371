"""Calibrate: export a simulated run under pressure as an esxtop capture, calibrate a
scenario from it, run the scenario, compare with the capture."""
from __future__ import annotations

import tomllib

import pytest

from vmmemviz.cli import main
from vmmemviz.importers.esxtop import read_esxtop
from vmmemviz.model.config import calibrate as K
from vmmemviz.model.config.scenario import load, parse


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """The overcommit scenario ends after ballooning, swapping and compressing; exported as an
    esxtop capture and calibrated from it (at most eight simulator runs: under a minute of CPU)."""
    cap_path = tmp_path_factory.mktemp("calibrate") / "overcommit.csv"
    assert main(["run", "overcommit", "--esxtop", str(cap_path)]) == 0
    cap = read_esxtop(cap_path)
    sample = cap.sample()
    return cap_path, sample, K.calibrate(sample, source=str(cap_path), rounds=8, swap_mbps=cap.swap_out_mbps())


def test_calibrate_overcommitted_host(calibrated, tmp_path):
    """Taken as is: sizes, reservation, limit, shares, Tools. Searched against the simulator:
    the workloads, their activity and the pressure history (the next test holds the issue's
    bound; this one what every run of the search must keep: within twice the bound)."""
    cap_path, sample, cal = calibrated
    h = sample["host"]
    assert h["memctl_curr_mb"] > 5 and h["swap_curr_mb"] > 2 and h["zip_zipped_mb"] > 1
    assert cal.rounds[0] > min(cal.rounds) == K._worst(cal)         # the search helped
    out = tmp_path / "cal.toml"
    out.write_text(cal.text)
    sc = load(str(out))
    src = {v.name: v for v in load("overcommit").vms}
    assert sc.host_mb == 32 and [v.name for v in sc.vms] == list(src)
    for v in sc.vms:
        s = src[v.name]
        assert (v.memory_mb, v.tools, v.reservation_mb, v.limit_mb, v.share_count()) == \
            (s.memory_mb, s.tools, s.reservation_mb, s.limit_mb, s.share_count())
    assert "# web01: captured GRANT" in cal.text and "inferred: holds" in cal.text
    doc = tomllib.loads(cal.text)
    # the swap device's speed from SWW/s + ZIP/s while the host swapped (the tour's is 96 pages/s)
    assert abs(doc["settings"]["Sim.SwapRate"] - load("overcommit").settings["Sim.SwapRate"]) <= 10
    # win01's zero pages are most of what it holds: a guest that zeroed its memory at boot
    assert [v.get("guest_os") for v in doc["vm"]] == [None, None, None, "windows"]
    # run the written scenario: it ends where the search said (the same seed, the same run)
    assert K.simulate(cal.text)["host"] == cal.simulated["host"]
    rows = {w: (c, s, b) for w, c, s, b, _ in cal.rows()}
    print(K.compare_table(cal))
    for what, (c, s, b) in rows.items():
        assert abs(s - c) <= 2 * b, (what, c, s, b)


def test_calibration_lands_within_ten_percent(calibrated):
    """The issue's target: PShare saving, Memctl, Swap, Zip and each VM's GRANT within 10% of
    the capture, or within 1% of managed memory for small values."""
    _, sample, cal = calibrated
    misses = [(w, c, s, b) for w, c, s, b, _ in cal.rows() if abs(s - c) > b]
    assert misses == []
    assert cal.simulated["host"]["state"] == sample["host"]["state"]      # and in the capture's state


def test_calibrate_command(tmp_path, capsys):
    cap = tmp_path / "run.csv"
    assert main(["run", "default", "--ticks", "20", "--esxtop", str(cap)]) == 0
    out = tmp_path / "cal.toml"
    assert main(["calibrate", str(cap), "--out", str(out), "--rounds", "1"]) == 0
    text = capsys.readouterr().out
    assert "capture" in text and "web01 GRANT" in text and f"wrote {out}" in text
    assert [v.name for v in load(str(out)).vms] == ["web01", "web02", "win01"]
    assert main(["calibrate", str(tmp_path / "none.csv"), "--out", str(out)]) == 2


def test_scenario_text_takes_the_capture_as_it_is():
    """Sizes, RESV / LIMIT / SHARES, Tools, system groups folded into host overhead, a scale."""
    sample = {"host": {"managed_mb": 8043.0, "system_mb": 300.0, "pshare_saving_mb": 0.0,
                       "zip_zipped_mb": 0.0},
              "vms": {"db01": {"MEMSZ": 4096.0, "GRANT": 3000.0, "RESV": 1024.0, "LIMIT": 3072.0,
                               "SHARES": 81920, "MCTL?": "N", "TCHD": 800.0, "TCHD_W": 200.0,
                               "SWCUR": 100.0, "CACHEUSD": 0.0},
                       "web01": {"MEMSZ": 2048.0, "GRANT": 1000.0, "RESV": 0.0, "LIMIT": -1,
                                 "SHARES": 20480, "MCTL?": "Y", "ZERO": 100.0, "SHRD": 300.0}}}
    g = K.first_guess(sample)
    assert g.held == {"db01": 3100.0, "web01": 1000.0}
    doc = tomllib.loads(K.scenario_text(sample, g, "x", "test"))
    assert doc["host"]["memory_mb"] == 7743 and doc["settings"]["Mem.ShareScanTime"] == 10
    assert "Mem.ShareScanGHz" not in doc["settings"]          # web01 shares pages
    db, web = doc["vm"]
    assert (db["memory_mb"], db["reservation_mb"], db["limit_mb"], db["shares"], db["tools"]) == \
        (4096, 1024, 3072, 81920, False)
    assert "limit_mb" not in web and "reservation_mb" not in web and web["tools"] is True
    assert db["process"][0]["write_fraction"] == 0.25 and db["process"][0]["working_set_mb"] == 800
    zero = sum(1 for st in web["process"][0]["step"] if st.get("content") == "zero")
    os_ = sum(1 for st in web["process"][0]["step"] if st.get("content") == "os")
    assert zero == 4 and os_ == 8                  # 10% zero, 20% OS pages of 40 writes
    small = tomllib.loads(K.scenario_text(sample, g, "x", "test", scale=8))
    assert small["host"]["memory_mb"] == 7743 / 8 and small["vm"][0]["memory_mb"] == 512
    parse(K.scenario_text(sample, g, "x", "test", scale=8))
    sample["vms"]["web01"]["SHRD"] = sample["vms"]["web01"]["ZERO"] = 0.0
    doc = tomllib.loads(K.scenario_text(sample, g, "x", "test"))
    assert doc["settings"]["Mem.ShareScanGHz"] == 0           # nothing shared: TPS off
