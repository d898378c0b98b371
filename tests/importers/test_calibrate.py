"""Calibrate: export a simulated run under pressure as an esxtop capture, calibrate a
scenario from it, run the scenario, compare with the capture."""
from __future__ import annotations

import tomllib

from vmmemviz.cli import main
from vmmemviz.importers.esxtop import read_esxtop
from vmmemviz.model.config import calibrate as K
from vmmemviz.model.config.scenario import load, parse


def test_calibrate_overcommitted_host(tmp_path, capsys):
    """The overcommit scenario ends in soft after ballooning, swapping and compressing.
    Taken as is: sizes, reservation, limit, shares, Tools. Searched: the workloads and the
    pressure history. Reached (see the report): PShare saving and every VM's GRANT within
    10% / 1% of managed, Memctl within 10%; the swap / zip split within 3x its bound."""
    cap_path = tmp_path / "overcommit.csv"
    assert main(["run", "overcommit", "--esxtop", str(cap_path)]) == 0
    capsys.readouterr()
    cap = read_esxtop(cap_path)
    sample = cap.sample()
    assert sample["host"]["memctl_curr_mb"] > 5 and sample["host"]["swap_curr_mb"] > 2
    assert sample["host"]["zip_zipped_mb"] > 1
    out = tmp_path / "cal.toml"
    assert main(["calibrate", str(cap_path), "--out", str(out), "--rounds", "5"]) == 0
    printed = capsys.readouterr().out
    assert "capture" in printed and "simulated" in printed and "db01 GRANT" in printed
    sc = load(str(out))
    src = {v.name: v for v in load("overcommit").vms}
    assert sc.host_mb == 32 and [v.name for v in sc.vms] == list(src)
    for v in sc.vms:
        s = src[v.name]
        assert (v.memory_mb, v.tools, v.reservation_mb, v.limit_mb) == \
            (s.memory_mb, s.tools, s.reservation_mb, s.limit_mb)
        assert v.share_count() == s.share_count()
    text = out.read_text()
    assert "# web01: captured GRANT" in text and "inferred: holds" in text
    # run the written scenario: its end is the capture's state, within the bounds above
    cal = K.Calibration(text, sample, K.simulate(text), 32)
    rows = {w: (c, s, b, ok) for w, c, s, b, ok in cal.rows()}
    assert rows["host pshare_saving_mb"][3]
    assert all(rows[f"{n} GRANT"][3] for n in src), rows
    assert abs(rows["host memctl_curr_mb"][1] - rows["host memctl_curr_mb"][0]) <= \
        0.15 * rows["host memctl_curr_mb"][0]
    for k in ("host swap_curr_mb", "host zip_zipped_mb"):
        c, s, b, _ = rows[k]
        assert abs(s - c) <= 3 * b, (k, c, s, b)


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
