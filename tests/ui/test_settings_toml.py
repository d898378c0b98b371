"""Settings written into the user's scenario file with a round-trip TOML library: comments,
quoting and layout stay; a file the change cannot be made in gives one clear InputError."""
import tomllib

import pytest

from vmmemviz.errors import InputError
from vmmemviz.model.config import scenario
from vmmemviz.ui.settingsdialog import apply_settings_text, counter_changes, settings_changes

TEXT = '''# my lab host
name = "lab"   # shown in the title
duration = 30

[host]
memory_mb = 16

[[vm]]
name = 'web01'            # single quotes
memory_mb = 4

[[vm]]
name = "web02"  # comment after the name
memory_mb = 4

[vm.settings]
"sched.mem.maxmemctl" = 50   # keep me
'''


def test_quoting_and_comments_survive_and_values_land():
    out = apply_settings_text(TEXT, {"Mem.IdleTax": 0}, {"web01": {"sched.mem.maxmemctl": 100},
                                                          "web02": {"sched.mem.maxmemctl": 20}})
    for kept in ("# my lab host", '# shown in the title', "name = 'web01'            # single quotes",
                 'name = "web02"  # comment after the name'):
        assert kept in out
    doc = tomllib.loads(out)
    assert doc["settings"] == {"Mem.IdleTax": 0}
    assert [v["settings"]["sched.mem.maxmemctl"] for v in doc["vm"]] == [100, 20]
    sc = scenario.parse(out)
    assert sc.settings["Mem.IdleTax"] == 0 and sc.vms[0].settings == {"sched.mem.maxmemctl": 100}


def test_none_removes_a_key_and_an_emptied_table():
    out = apply_settings_text(TEXT, {}, {"web02": {"sched.mem.maxmemctl": None}})
    assert "maxmemctl" not in out and "[vm.settings]" not in out and "# comment after the name" in out


def test_not_toml_is_one_clear_line():
    with pytest.raises(InputError, match=r"^lab.toml: not valid TOML"):
        apply_settings_text("name = 'x\n", {"Mem.IdleTax": 0}, {}, "lab.toml")


def test_the_change_in_words_and_the_counters_that_moved_most():
    sc = scenario.parse(TEXT)
    assert settings_changes(sc, {"Mem.IdleTax": 0}, {"web01": {}, "web02": {}}) == [
        "Mem.IdleTax = 0", "web02 sched.mem.maxmemctl back to its default"]
    before = {"host": {"state": "high", "free_mb": 8.0}, "vms": {"web01": {"MCTLSZ": 0.0, "GRANT": 4.0}}}
    after = {"host": {"state": "soft", "free_mb": 6.0}, "vms": {"web01": {"MCTLSZ": 1.5, "GRANT": 3.9}}}
    assert counter_changes(before, after, 3) == [("host", "state", "high", "soft"),
                                                 ("web01", "MCTLSZ", 0.0, 1.5), ("host", "free_mb", 8.0, 6.0)]
