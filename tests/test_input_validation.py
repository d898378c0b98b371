"""Each class of bad input the review found ends in one line naming file, key and limit."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from vmmemviz import cli
from vmmemviz.errors import InputError
from vmmemviz.importers.esxtop import read_esxtop
from vmmemviz.importers.images import open_image
from vmmemviz.importers.traces import read_trace
from vmmemviz.model.config import scenario
from vmmemviz.model.core.simulator import Simulator

from importers import builders as B

BASE = """{top}
[host]
memory_mb = 64
{host}
[[vm]]
name = "web01"
memory_mb = 8
{vm}
[[vm.process]]
name = "httpd"
size_mb = 4
{proc}
"""


def bad(needle: str, top="", host="", vm="", proc="", src="s.toml") -> str:
    text = BASE.format(top=top, host=host, vm=vm, proc=proc)
    if proc.startswith("size_mb"):
        text = text.replace("size_mb = 4\n", "", 1)
    with pytest.raises(InputError) as e:
        scenario.parse(text, src)
    msg = str(e.value)
    assert msg.startswith(f"{src}: ") and "\n" not in msg and needle in msg, msg
    return msg


@pytest.mark.parametrize("kw,needle", [
    ({"top": "settings = 5"}, "s.toml: settings: expected a table of settings by name, got 5"),
    ({"vm": "settings = 5"}, "vm[web01].settings: expected a table"),
    ({"proc": "step = 5"}, "vm[web01].process[0].step: expected [[step]] tables, got 5"),
    ({"top": "chapter = 5"}, "chapter: expected [[chapter]] tables, got 5"),
    ({"top": "chapter = [5]"}, "chapter[0]: expected a table (as [[chapter]] writes one), got 5"),
    ({"top": "vm = 5"}, "not valid TOML"),
    ({"host": "tlb_entries = {a = 1}"}, "host.tlb_entries: expected an integer from 1 to 4,096"),
])
def test_tables_of_the_wrong_type(kw, needle):
    bad(needle, **kw)


@pytest.mark.parametrize("where,key", [
    ("vm", "memory_mb"), ("vm", "reservation_mb"), ("vm", "limit_mb"), ("vm", "overhead_mb"),
    ("host", "memory_mb"), ("host", "host_cache_mb"), ("proc", "size_mb"), ("proc", "start_mb"),
    ("proc", "alloc_mb"), ("proc", "free_mb"), ("proc", "working_set_mb"), ("proc", "write_fraction"),
])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nan_and_inf_are_refused(where, key, value):
    kw = {where: f"{key} = {value}"}
    if where == "host" and key == "memory_mb":
        text = BASE.format(top="", host="", vm="", proc="").replace("memory_mb = 64", f"memory_mb = {value}")
        with pytest.raises(InputError, match=rf"host\.memory_mb: expected a number .* got {value}"):
            scenario.parse(text, "s.toml")
        return
    if where == "vm" and key == "memory_mb":
        text = BASE.format(top="", host="", vm="", proc="").replace("memory_mb = 8", f"memory_mb = {value}")
        with pytest.raises(InputError, match=rf"vm\[web01\]\.memory_mb: expected a number"):
            scenario.parse(text, "s.toml")
        return
    bad(f".{key}: expected a number", **kw)


def test_content_weights_must_be_finite():
    bad("process[0].content: expected a table of weights", proc="content = { text = nan, zero = 1 }")
    bad("process[0].content: expected a table of weights", proc="content = { text = 1e300, zero = 1e300 }")


@pytest.mark.parametrize("kw,needle", [
    ({"host": "tlb_entries = 100000"}, "host.tlb_entries: expected an integer from 1 to 4,096 (x86"),
    ({"proc": "touches = 99999999999"}, "process[0].touches: expected an integer from 0 to 1,048,576"),
    ({"proc": "size_mb = 1e12"}, "process[0].size_mb: expected a number from 0.00390625 to 16,777,215 (32-bit"),
    ({"vm": "overhead_mb = 1e12"}, "vm[web01].overhead_mb: expected a number from 0 to 25,165,824 (ESXi 8's largest VM"),
    ({"proc": "[[vm.process.step]]\nat = 1\nop = 'write'\npages = 18446744073709551616"},
     "step[0].pages: expected a page count from 1 to 4,294,967,040 or a GVPN range like \"0x0-0xf\" below "
     "0xffffff00 (a process's largest size)"),
    ({"proc": "[[vm.process.step]]\nat = 1\nop = 'write'\npages = 5000"},
     "step[0].pages: expected a count of at most the process's 1,024 pages"),
    ({"proc": "[[vm.process.step]]\nat = 18446744073709551616\nop = 'write'\npages = 5"},
     "step[0].at: expected an integer from 0 to 86,400"),
    ({"top": "duration = 1000000000000"}, "duration: expected an integer from 1 to 86,400 (one simulated day"),
    ({"top": "seed = -1"}, "seed: expected an integer from 0"),
    ({"vm": "shares = 2000000"}, "shares: expected low, normal, high or an integer from 1 to 1,000,000"),
])
def test_upper_bounds_name_their_limit(kw, needle):
    bad(needle, **kw)


@pytest.mark.parametrize("pages", ["\u0663-\u0664", "0_0-0x1", "0x0-0x_f", "\u00a00-1", "\uff10-\uff11"])
def test_a_gvpn_range_is_ascii_digits_as_written_not_what_int_reads(pages):
    """Found by the third fuzz: int(text, 0) reads Arabic-Indic and full-width digits, underscores
    and a no-break space around the numbers, so "\u0663-\u0664" was the range 3-4."""
    bad(f"step[0].pages: expected a page count from 1 to 4,294,967,040 or a GVPN range like \"0x0-0xf\"",
        proc=f"[[vm.process.step]]\nat = 1\nop = 'write'\npages = \"{pages}\"")


def test_a_gvpn_range_in_hex_decimal_octal_or_binary_is_still_read():
    text = BASE.format(top="", host="", vm="", proc="".join(
        f"[[vm.process.step]]\nat = 1\nop = 'write'\npages = \"{p}\"\n" for p in
        ("0x0-0xf", " 0X10 - 0x1F ", "32-47", "0o60-0o77", "0b1000000-0b1001111")))
    steps = scenario.parse(text, "s.toml").vms[0].processes[0].steps
    assert [(st.start, st.stop) for st in steps] == [(0, 16), (16, 32), (32, 48), (48, 64), (64, 80)]


def test_host_and_vm_memory_bounds():
    text = BASE.format(top="", host="", vm="", proc="")
    with pytest.raises(InputError, match=r"host\.memory_mb: expected a number from 1 to 8,388,608 \(8 TB"):
        scenario.parse(text.replace("memory_mb = 64", "memory_mb = 25165824"), "s.toml")
    with pytest.raises(InputError, match=r"vm\[web01\]\.memory_mb: expected a number from 0.25 to 25,165,824"):
        scenario.parse(text.replace("memory_mb = 8", "memory_mb = 1e9"), "s.toml")


def test_a_scenario_larger_than_this_machine_is_refused_before_memory_error(monkeypatch):
    monkeypatch.setattr(scenario, "machine_bytes", lambda: 1 << 30)
    text = BASE.format(top="", host="", vm="", proc="").replace("memory_mb = 64", "memory_mb = 4194304")
    with pytest.raises(InputError) as e:
        scenario.parse(text, "s.toml")
    msg = str(e.value)
    assert "can simulate (its 1.0 GiB of memory)" in msg and "1,073,741,824 machine pages" in msg


def test_a_host_cache_larger_than_this_machine_can_hold_is_refused_too(monkeypatch):
    """The host cache's slots (5 B each) count, and the cache is at most 1 TB: an 8 TB cache
    on a 64 MB host took 70 s and 12.6 GB a run (a comparison's two ran out of memory); a
    1 TB one on a machine of 2 GiB is refused at once, naming host_cache_mb."""
    text = BASE.format(top="", host="", vm="", proc="")
    with pytest.raises(InputError, match=r"host\.host_cache_mb: expected a number from 0 to 1,048,576 \(1 TB"):
        scenario.parse(text.replace("memory_mb = 64", "memory_mb = 64\nhost_cache_mb = 8388608"), "s.toml")
    monkeypatch.setattr(scenario, "machine_bytes", lambda: 2 << 30)
    scenario.parse(text.replace("memory_mb = 64", "memory_mb = 64\nhost_cache_mb = 1024"), "s.toml")
    with pytest.raises(InputError) as e:
        scenario.parse(text.replace("memory_mb = 64", "memory_mb = 64\nhost_cache_mb = 1048576"), "s.toml")
    assert "host.host_cache_mb" in str(e.value) and "268,435,456 host cache slots x 5 B" in str(e.value)


def test_admission_control_refuses_with_the_numbers():
    msg = bad("vm[web01]: cannot power on (ESXi admission control)",
              vm="reservation_mb = 8\noverhead_mb = 60")
    assert "reservation 8 MB + overhead 60.00 MB = 68.00 MB" in msg and "64 MB has only 64.00 MB" in msg
    two = BASE.format(top="", host="", vm="reservation_mb = 8", proc="") + \
        '[[vm]]\nname = "db01"\nmemory_mb = 60\nreservation_mb = 56\n'
    with pytest.raises(InputError, match=r"vm\[db01\]: cannot power on .* only 55\.\d\d MB unreserved"):
        scenario.parse(two, "s.toml")


def test_a_vm_larger_than_its_host_is_refused_not_a_runtime_error():
    text = BASE.format(top="", host="", vm="guest_os = 'windows'", proc="").replace("memory_mb = 8", "memory_mb = 100")
    with pytest.raises(InputError, match=r"vm\[web01\]\.memory_mb: expected at most what the host can give "
                                         r"it, 64\.00 MB .* got 100"):
        scenario.parse(text, "s.toml")
    other = '[[vm]]\nname = "db01"\nmemory_mb = 62\nreservation_mb = 20\n[[vm.process]]\nname = "p"\n' \
            'size_mb = 60\nstart_mb = 60\n'
    with pytest.raises(InputError, match=r"vm\[web01\]\.memory_mb: expected at most what the host can give "
                                         r"it, 44\.00 MB \(the host's 64 MB less the other VMs' reservations, "
                                         r"20\.00 MB\)"):
        scenario.parse(text.replace("memory_mb = 100", "memory_mb = 64") + other, "s.toml")
    for largest in (text.replace("memory_mb = 100", "memory_mb = 64"),
                    text.replace("memory_mb = 100", "memory_mb = 44") + other):
        sc = scenario.parse(largest, "s.toml")
        sc.duration = 3
        Simulator(sc).run()      # the largest VMs that pass boot (Windows zeroes all its memory)


def test_deep_nesting_is_one_line():
    with pytest.raises(InputError, match="nested at most a few hundred deep"):
        scenario.parse("a = " + "[" * 1000 + "]" * 1000, "deep.toml")


def test_names_with_control_characters():
    text = BASE.format(top="", host="", vm="", proc="").replace('"web01"', '"web\\n01"')
    with pytest.raises(InputError) as e:
        scenario.parse(text, "s.toml")
    assert str(e.value) == r"s.toml: vm[web\n01].name: expected a name of 1 to 80 printable characters, got 'web\n01'"
    assert "\n" not in str(InputError("a\nb\rc\x00"))


def test_host_cache_mb_is_still_accepted():
    sc = scenario.parse(BASE.format(top="", host="host_cache_mb = 16", vm="", proc=""), "s.toml")
    assert sc.host_cache_pages == 16 * 256


def test_a_nul_in_an_image_or_trace_path():
    bad("vm[web01].image: expected a file path (not empty, no NUL character)", vm='image = "a\\u0000b"')
    bad("process[0].trace: expected a file path", proc='trace = "a\\u0000b"')
    bad("vm[web01].image: expected a file path whose ~user has a home directory, got '~nosuchuser/x'",
        vm='image = "~nosuchuser/x"')
    with pytest.raises(InputError, match="NUL character"):
        open_image("a\0b")
    with pytest.raises(InputError, match="NUL character"):
        read_trace("a\0b")


# -- count = N (issue 15) ----------------------------------------------------------------

COUNT = """seed = 3
duration = 4
[host]
memory_mb = 64
[[vm]]
name = "web{:02d}"
count = 3
memory_mb = 8
[[vm.process]]
name = "httpd"
size_mb = 4
start_mb = 1
touches = 50
[[vm]]
name = "db"
memory_mb = 8
"""


def test_count_makes_copies_named_from_the_pattern_that_behave_apart():
    sc = scenario.parse(COUNT, "c.toml")
    assert [vm.name for vm in sc.vms] == ["web01", "web02", "web03", "db"]
    assert sc.vms[0].processes is not sc.vms[1].processes
    sim = Simulator(sc)
    sim.run()
    touched = [np.flatnonzero(vm.gp_flags) for vm in sim.vms[:3]]
    assert all(len(t) for t in touched)
    assert len({t.tobytes() for t in touched}) == 3          # each copy accessed other pages
    again = Simulator(scenario.parse(COUNT, "c.toml"))
    again.run()
    assert again.state.host.mpn_content.tobytes() == sim.state.host.mpn_content.tobytes()


def test_copies_cannot_multiply_work_past_what_a_tick_can_do():
    text = COUNT.replace("count = 3", "count = 200").replace("touches = 50", "touches = 100000")
    text = text.replace("memory_mb = 64", "memory_mb = 4096").replace("memory_mb = 8\n", "memory_mb = 1\n")
    with pytest.raises(InputError, match=r"vm\.process\.touches: expected at most 16,777,216 in all VMs "
                                         r"\(copies made by count included.*got 20,000,000"):
        scenario.parse(text, "c.toml")


@pytest.mark.parametrize("name,count,needle", [
    ("web", 3, "vm[web].name: expected a name pattern with one integer field"),
    ("web{}{}", 2, "expected a name pattern"),
    ("web{:s}", 2, "expected a name pattern"),
    ("db", 1, "expected a name pattern"),
    ("web{:02d}", 0, "vm[web{:02d}].count: expected an integer from 1 to 250"),
    ("web{:02d}", 251, "count: expected an integer from 1 to 250"),
    ("d{}", 2, "vm[0].name: expected a unique name, got 'db'"),
])
def test_count_is_validated(name, count, needle):
    text = COUNT.replace('name = "web{:02d}"\ncount = 3', f'name = "{name}"\ncount = {count}')
    text = text.replace('name = "db"', 'name = "d1"') if name == "d{}" else text
    if name == "d{}":
        needle = "vm[1].name: expected a unique name, got 'd1'"
    with pytest.raises(InputError) as e:
        scenario.parse(text, "c.toml")
    assert needle in str(e.value), str(e.value)


# -- readers -------------------------------------------------------------------------------

def test_vmss_region_numbers_past_2_63_are_one_line(tmp_path):
    vmem = tmp_path / "vm.vmem"
    vmem.write_bytes(bytes(4 * 4096))
    for ppn in (2**63, 2**64 - 1, 2**40):
        (tmp_path / "vm.vmss").write_bytes(B.vmss({"memory": B.memory_group([(ppn, 0, 2)])}))
        with pytest.raises(InputError, match=r"expected guest page numbers below 0x10000000000"):
            open_image(vmem)


def test_a_cr_only_lackey_trace_is_read(tmp_path):
    p = tmp_path / "cr.lackey"
    p.write_bytes(b"==1== Lackey\rI  0401ab70,3\r S 1fff000778,8\r L 10,4\r")
    t = read_trace(p)
    assert t.vpn.tolist() == [0x401ab70 >> 12, 0x1fff000778 >> 12, 0]
    assert t.is_write.tolist() == [False, True, False]
    crlf = tmp_path / "crlf.lackey"
    crlf.write_bytes(b"I  0401ab70,3\r\n S 1fff000778,8\r\n")
    assert len(read_trace(crlf, block_bytes=14).vpn) == 2       # a CR LF split across blocks


def test_a_scenario_name_too_long_for_a_file_is_one_line():
    with pytest.raises(InputError, match="File name too long"):
        scenario.load("x" * 5000)


def test_a_huge_scenario_file_is_refused_before_it_is_read(tmp_path):
    p = tmp_path / "huge.toml"
    with open(p, "wb") as f:
        f.truncate(17 << 20)
    with pytest.raises(InputError, match=r"huge\.toml: size: expected a scenario of at most 16 MB"):
        scenario.load(p)


def test_a_fifo_scenario_on_the_command_line_does_not_block(tmp_path):
    fifo = tmp_path / "s.toml"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "vmmemviz", "run", str(fifo)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stderr == f"vmmemviz: {fifo}: expected a regular file, got a FIFO (named pipe)\n"


def test_elf_truncated_header_is_one_line(tmp_path):
    p = tmp_path / "t.elf"
    p.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 4, 62))
    with pytest.raises(InputError, match="truncated"):
        open_image(p)


def test_text_that_is_not_utf8_says_where_and_a_bom_is_read(tmp_path):
    """UTF-16 and a stray Latin-1 byte are one line with what was expected (the line and
    column of the byte); a UTF-8 byte-order mark, as Windows editors write, is read."""
    text = BASE.format(top="", host="", vm="", proc="")
    (tmp_path / "u16.toml").write_bytes(text.encode("utf-16"))
    with pytest.raises(InputError, match=r"u16\.toml: expected UTF-8 text, got UTF-16"):
        scenario.load(tmp_path / "u16.toml")
    (tmp_path / "lat1.toml").write_bytes(text.replace('"httpd"', '"caf\xe9"').encode("latin-1"))
    with pytest.raises(InputError, match=r"lat1\.toml: line 10, column 12: expected UTF-8 text, got the byte 0xe9"):
        scenario.load(tmp_path / "lat1.toml")
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [vm.name for vm in scenario.load(tmp_path / "bom.toml").vms] == ["web01"]


def test_an_array_of_tables_names_the_element_that_is_not_one():
    text = 'vm = [{name = "web01", memory_mb = 8}, "x"]\n[host]\nmemory_mb = 64\n'
    with pytest.raises(InputError, match=r"s\.toml: vm\[1\]: expected a table \(as \[\[vm\]\] writes one\), got 'x'"):
        scenario.parse(text, "s.toml")


def test_too_many_vms_counts_the_ones_before_the_table():
    text = BASE.format(top="", host="", vm="", proc="") + \
        '[[vm]]\nname = "v{:03d}"\ncount = 250\nmemory_mb = 0.25\n'
    with pytest.raises(InputError, match=r"vm\[v\{:03d\}\]\.count: expected at most 250 VMs in all \(.*\), got 251 "
                                         r"\(1 before this table and 250 here\)"):
        scenario.parse(text, "s.toml")


def test_a_missing_trace_or_image_is_named_by_its_field(tmp_path):
    """The file's own error comes under the scenario and the field that named it."""
    text = BASE.format(top="duration = 2", host="", vm='image = "none.elf"', proc='trace = "none.lackey"')
    for kind, field in (("image", "vm[web01].image"), ("trace", "vm[web01].process[0].trace")):
        path = tmp_path / f"{kind}.toml"
        path.write_text(text.replace('image = "none.elf"', "") if kind == "trace" else
                        text.replace('trace = "none.lackey"', ""))
        with pytest.raises(InputError) as e:
            Simulator(scenario.load(path))
        assert str(e.value).startswith(f"{path}: {field}: ") and "cannot open" in str(e.value), str(e.value)


def test_a_comparison_whose_two_runs_do_not_fit_together_is_refused(monkeypatch):
    """Each run alone fits; a comparison simulates both at once (an 8 TB host cache passed
    alone and was killed out of memory as a pair)."""
    from vmmemviz.model.config import compare
    sc = scenario.parse(BASE.format(top="", host="", vm="", proc="").replace("memory_mb = 64", "memory_mb = 4096"),
                        "s.toml")
    monkeypatch.setattr(scenario, "machine_bytes", lambda: int(scenario._need(sc)[0] * 1.5))
    scenario.parse(sc.text, "s.toml")                               # alone: it fits
    with pytest.raises(InputError, match=r"s\.toml: compare: expected runs A and B that this machine can simulate "
                                         r"side by side"):
        compare.pair(sc, ["Mem.ShareForceSalting=0"])


ESXTOP_HEAD = ('"(PDH-CSV 4.0) (UTC)(0)","\\\\h\\Memory\\Free MBytes","\\\\h\\Group Memory(100:vm1)\\Memory Size MBytes",'
               '"\\\\h\\Group Memory(100:vm1)\\Memctl Installed?","\\\\h\\Vcpu(100:vm1:101:vmx)\\% Used"\r\n')


def esxtop_rows(*cells) -> str:
    """A capture: the header, then one row per (free, memsz, mctl) with a blank line after the first."""
    rows = [f'"11/27/2026 08:00:{i:02d}","{f}","{m}","{c}","1"\r\n' for i, (f, m, c) in enumerate(cells)]
    return ESXTOP_HEAD + rows[0] + "\r\n" + "".join(rows[1:])


def test_an_esxtop_cell_that_is_not_a_number_names_its_line_and_column(tmp_path, capsys):
    """Empty cells and N/A, as real captures have, stay missing; any other word (it was read as
    missing too), an infinity or a number no host comes near (OverflowErrors in calibrate) is one line: the file, the line as an
    editor numbers it (a blank line counted: a bad timestamp said the line before), the
    column's header and what was expected."""
    good = tmp_path / "good.csv"
    good.write_text(esxtop_rows(("1000", "1024", "Y"), ("", "N/A", "N"), ("n/a", "1024.5", "")), newline="")
    cap = read_esxtop(good)
    assert [cap.sample(i)["host"].get("free_mb") for i in range(3)] == [1000, None, None]
    assert [cap.sample(i)["vms"]["vm1"]["MEMSZ"] for i in range(3)] == [1024, None, 1024.5]
    assert [cap.sample(i)["vms"]["vm1"]["MCTL?"] for i in range(3)] == ["Y", "N", None]
    col = "\\\\h\\Group Memory(100:vm1)\\"
    for cells, line, needle in ((("1000", "abc", "Y"), 4, f"{col}Memory Size MBytes: expected a number from -1e+15 "
                                                        "to 1e+15 (or an empty cell or N/A where esxtop has none), got 'abc'"),
                                (("inf", "1", "Y"), 4, "\\\\h\\Memory\\Free MBytes: expected a number"),
                                (("1", "-1e308", "Y"), 4, f"{col}Memory Size MBytes: expected a number from -1e+15"),
                                (("1", "1", "maybe"), 4, f"{col}Memctl Installed?: expected Y or N"),
                                (("1", "1", "Y"), 5, "timestamp: expected MM/DD/YYYY hh:mm:ss, got 'x'")):
        bad = tmp_path / "bad.csv"
        text = esxtop_rows(("1", "1", "Y"), cells) if line == 4 else esxtop_rows(("1", "1", "Y"), cells, cells)
        bad.write_text(text.replace('"11/27/2026 08:00:02"', '"x"'), newline="")
        assert cli.main(["esxtop", str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"vmmemviz: {bad}:{line}: ") and needle in err and err.count("\n") == 1, err


@pytest.mark.parametrize("free,memsz,mctl", [
    ("1_000", "1", "Y"), ("1", "1_024", "Y"), ("\uff11\uff12", "1", "Y"), ("1", "\u0663", "Y"),
    ("\u00a05", "1", "Y"), ("Y", "1", "Y"), ("1", "yes", "Y"), ("1", "1", "1_0"),
])
def test_an_esxtop_cell_esxtop_never_writes_is_refused_not_read_as_a_number(tmp_path, capsys, free, memsz, mctl):
    """float() reads 1_000, full-width and Arabic-Indic digits and a no-break space, and the
    reader read Y / yes / true as 1 in any column: esxtop writes none of them, so such a cell
    is a corrupt or hand-edited capture, one line naming its line and column."""
    bad = tmp_path / "bad.csv"
    bad.write_text(esxtop_rows(("1", "1", "Y"), (free, memsz, mctl)), newline="", encoding="utf-8")
    assert cli.main(["esxtop", str(bad)]) == 2
    err = capsys.readouterr().err
    column = "Free MBytes" if free != "1" else "Memory Size MBytes" if memsz != "1" else "Memctl Installed?"
    assert err.startswith(f"vmmemviz: {bad}:4: ") and f"{column}: expected" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("tail,says", [
    ('description = """A long text\nthat runs on\n\n\n', 'Unterminated string (at line 2, column 15: opened there'),
    ("description = 'one line", """Expected "'" (at line 2, column 15: opened there"""),
    ('chapter = [\n  {at = 0, title = "a # ]"},  # ]\n\n', "(at line 2, column 11: opened there"),
    ("[[chapter", "Expected ']]' at the end of an array declaration (at line 2, column 1: opened there"),
    ("seed", "Expected '=' after a key in a key/value pair (at the end of the file, line 2)"),
])
def test_toml_open_at_the_end_of_the_file_names_the_line_it_was_opened_on(tmp_path, tail, says):
    """tomllib says "(at end of document)" for a string, array or header never closed: the line
    and column where it was opened (or the last line) are said instead, like its other errors."""
    p = tmp_path / "open.toml"
    p.write_text('name = "t"\n' + tail)
    with pytest.raises(InputError) as e:
        scenario.load(p)
    assert str(e.value).startswith(f"{p}: not valid TOML: ") and says in str(e.value), str(e.value)


def test_a_scenario_given_as_a_path_is_named_as_typed_not_as_the_built_in(tmp_path, monkeypatch, capsys):
    """``./default`` was echoed as ``default`` (pathlib drops "./"), the built-in's name: a
    missing ./default now says that file is missing, and a bad one names ./default."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "./default", "--ticks", "2"]) == 2
    assert capsys.readouterr().err == ("vmmemviz: ./default: no such scenario file (the built-in scenario is "
                                       "named default, without a folder or .toml)\n")
    with pytest.raises(InputError, match=r"^\./nope\.toml: no such scenario file$"):
        scenario.load("./nope.toml")
    (tmp_path / "default").write_text(BASE.format(top="duration = 0", host="", vm="", proc=""))
    with pytest.raises(InputError, match=r"^\./default: duration: expected an integer from 1 to 86,400"):
        scenario.load("./default")
    (tmp_path / "default").write_text(BASE.format(top='name = "mine"', host="", vm="", proc=""))
    sc = scenario.load("./default")
    assert sc.name == "mine" and sc.path == "./default"


def test_a_session_whose_two_runs_do_not_fit_together_is_refused_on_load(tmp_path, monkeypatch):
    """A session may embed a comparison; its runs A and B were not checked together (compare.pair
    checks --compare and --compare-set): a window or an export would run out of memory."""
    from vmmemviz.model.config import session
    text = BASE.format(top="", host="", vm="", proc="").replace("memory_mb = 64", "memory_mb = 4096")
    sc = scenario.parse(text, "s.toml")
    monkeypatch.setattr(scenario, "machine_bytes", lambda: int(scenario._need(sc)[0] * 1.5))
    for compare in ({"sets": ["Mem.ShareForceSalting=0"], "name": None, "text": None},
                    {"sets": None, "name": "B", "text": text}):
        p = tmp_path / "two.vmmemviz"
        p.write_text(session.dumps(session.Session(text=text, compare=compare)))
        assert session.parse(session.dumps(session.Session(text=text))).b is None       # run A alone fits
        with pytest.raises(InputError) as e:
            session.load(p)
        assert str(e.value).startswith(f"{p}: compare: expected runs A and B that this machine can simulate "
                                       "side by side"), str(e.value)
        assert cli.main(["export", str(p), "--format", "png", "--out", str(tmp_path / "o.png")]) == 2
    assert sorted(os.listdir(tmp_path)) == ["two.vmmemviz"]


def test_negative_free_memory_says_nothing_of_the_kernel_state_numbering(tmp_path, capsys):
    """Found by fuzzing: Free MBytes -1 fitted no state of either numbering (min() of nothing);
    such a sample is not counted, and the capture reads."""
    path = tmp_path / "neg.csv"
    path.write_text('"(PDH-CSV 4.0) (UTC)(0)","\\\\h\\Memory\\Free MBytes","\\\\h\\Memory\\Kernel MinFree MBytes",'
                    '"\\\\h\\Memory\\Kernel State","\\\\h\\Group Memory(100:vm1)\\Memory Size MBytes"\r\n'
                    '"11/27/2026 08:00:00","-1","100","3","1024"\r\n"11/27/2026 08:00:01","50","100","3","1024"\r\n')
    assert cli.main(["esxtop", str(path), "--json"]) == 0, capsys.readouterr().err
    assert '"state": "hard"' in capsys.readouterr().out     # 3 read as ESXi 6.x hard: 50 MB is 50% of minFree


def test_a_chapter_text_wrapped_in_the_file_is_one_paragraph():
    """Exported captions kept the file's line breaks (compare-idletax's caption broke its lines at
    90 characters inside a 1,200-pixel-wide text); a blank line is a new paragraph."""
    top = 'chapter = [{at = 0, title = "t", text = """one two\nthree  \n  four\n\nnext"""}]'
    sc = scenario.parse(BASE.format(top=top, host="", vm="", proc=""), "s.toml")
    assert sc.chapters[0].text == "one two three four\n\nnext"
