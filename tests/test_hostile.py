"""Hostile input, seeded: every case ends in a result or one clear line, never a crash or a hang.

Cases: mutations of every built-in scenario (type swaps, NaN / inf / huge / negative values,
deleted, duplicated and unknown keys, count = N, control characters, deep nesting, broken
bytes), a sample of the scenarios that parse run for a few ticks; random bytes and
truncations of guest images (ELF core, raw, .vmss), traces and esxtop captures; FIFOs,
directories, devices and NUL characters given as files; command-line argument fuzz.
Each case runs under a deadline (SIGALRM). ``VMMEMVIZ_HOSTILE_SEEDS=10`` runs ten times as
many cases (different seeds) as CI does.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import signal
import tomllib

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
from importers.esxtop_builder import vm_values, write_capture
from importers.test_fuzz import mutations

SEEDS = int(os.environ.get("VMMEMVIZ_HOSTILE_SEEDS", "1"))
PAGE = 4096


class Hang(Exception):
    pass


class Cases:
    """Runs cases under a deadline and keeps the counts and every failure."""

    def __init__(self):
        self.counts = {"ok": 0, "one line": 0}
        self.failures: list[str] = []

    def run(self, what: str, fn, seconds: float = 5.0):
        def alarm(*_):
            raise Hang(f"still running after {seconds} s")

        old = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            result = fn()
            self.counts["ok"] += 1
            return result
        except InputError as e:
            msg = str(e)
            if not msg or "\n" in msg or "\r" in msg:
                self.failures.append(f"{what}: InputError of more than one line: {msg!r}")
            self.counts["one line"] += 1
        except Exception as e:  # noqa: BLE001 - a crash is what this suite looks for
            self.failures.append(f"{what}: {type(e).__name__}: {str(e)[:200]}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        return None

    def report(self, capsys, label: str, at_least: int) -> None:
        n = sum(self.counts.values()) + len(self.failures)
        with capsys.disabled():
            print(f"\nhostile {label}: {n} cases ({self.counts['ok']} results, "
                  f"{self.counts['one line']} one-line errors, {len(self.failures)} failures)")
        assert not self.failures, "\n".join(self.failures[:15])
        assert n >= at_least


# -- scenarios ---------------------------------------------------------------------------

VALUES = ["x", "", 5, 0, -1, 2**63 - 1, 2**64, -2**63, 10**12, 1.5, -0.5, math.nan, math.inf,
          -math.inf, 1e308, 5e-324, True, [], [1, 2], {}, {"a": 1}, "a\nb", "\x00", "\x1b[31m",
          "web{:02d}", "0x0-0xffffffffffffffff", "0x10-0x1", [{}], [[[[]]]], "~nosuchuser/x",
          "x" * 5000, "/dev/zero", "."]


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def dumps(doc: dict) -> str:
    return "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items()) + "\n"


def places(node, path=()):
    """Every (container, key) in a document."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in list(items):
        yield node, k
        if isinstance(v, (dict, list)):
            yield from places(v, path + (k,))


def mutate(doc: dict, rng) -> dict:
    d = copy.deepcopy(doc)
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        spots = list(places(d))
        parent, key = spots[int(rng.integers(len(spots)))]
        op = int(rng.integers(7))
        if op <= 2:                                     # a value of another type or size
            parent[key] = copy.deepcopy(VALUES[int(rng.integers(len(VALUES)))])
        elif op == 3:
            if isinstance(parent, dict):
                del parent[key]
            elif len(parent) > 1:
                parent.pop(key)
        elif op == 4:                                   # duplicated item / unknown key
            if isinstance(parent, list):
                parent.append(copy.deepcopy(parent[key]))
            else:
                parent[f"{key}_copy"] = copy.deepcopy(parent[key])
        elif op == 5:                                   # scale a number
            v = parent[key]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                parent[key] = v * float(rng.choice([-1, 0, 1e3, 1e9, 1e300]))
        else:                                           # count = N on a VM
            vms = d.get("vm")
            if isinstance(vms, list) and vms and isinstance(vms[0], dict):
                vm = vms[int(rng.integers(len(vms)))]
                if isinstance(vm, dict):
                    vm["count"] = int(rng.choice([0, 1, 2, 3, 300, 2**40]))
                    if rng.random() < 0.7:
                        vm["name"] = str(rng.choice(["v{:02d}", "v{}", "v{}{}", "v", "v{:s}", "v{0.x}"]))
    return d


def text_mutations(text: str, rng, n: int):
    """Broken TOML text: truncations, flipped bytes, duplicated lines, deep nesting."""
    data = text.encode()
    for i in range(n):
        op = i % 5
        if op == 0:
            yield data[:int(rng.integers(len(data)))]
        elif op == 1:
            b = bytearray(data)
            for _ in range(4):
                b[int(rng.integers(len(b)))] = int(rng.integers(256))
            yield bytes(b)
        elif op == 2:
            lines = data.split(b"\n")
            k = int(rng.integers(len(lines)))
            yield b"\n".join(lines[:k + 1] + lines[k:])
        elif op == 3:
            depth = int(rng.choice([10, 500, 1000, 5000]))
            yield b"deep = " + b"[" * depth + b"]" * depth + b"\n" + data
        else:
            yield bytes(rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8))


def small(sc) -> bool:
    return sc.host_pages <= 64 * 256 and sum(vm.pages for vm in sc.vms) <= 256 * 256


def simulate(sc):
    sc.duration = min(sc.duration, 3)
    Simulator(sc).run()


def test_scenario_mutations(tmp_path, capsys):
    cases = Cases()
    simulated = 0
    for s in range(SEEDS):
        for name in scenario.builtin_names():
            rng = np.random.default_rng([s, len(name), sum(map(ord, name))])
            text = scenario.resolve(name).read_text()
            doc = tomllib.loads(text)
            n = 20 if len(doc.get("vm", [])) > 8 else 150
            for k in range(n):
                src = dumps(mutate(doc, rng))
                sc = cases.run(f"{name} mutation {s}/{k}: {src[:300]!r}", lambda: scenario.parse(src, "m.toml"))
                if sc is not None and small(sc):
                    simulated += 1
                    cases.run(f"{name} mutation {s}/{k} simulated: {src[:300]!r}", lambda: simulate(sc), 30)
            p = tmp_path / f"{name}.toml"
            for k, data in enumerate(text_mutations(text, rng, 40 if n == 150 else 10)):
                p.write_bytes(data)
                cases.run(f"{name} text {s}/{k}: {data[:200]!r}", lambda: scenario.load(str(p)))
    with capsys.disabled():
        print(f"\nhostile scenarios: {simulated} of them simulated for 3 ticks")
    cases.report(capsys, "scenarios", 1000 * SEEDS)


# -- files ---------------------------------------------------------------------------------

def file_mutations(data: bytes, rng, n: int):
    """test_fuzz's truncations, flipped bytes and 0xff runs, then huge numbers and random bytes."""
    k = n * 3 // 5
    yield from mutations(data, rng, k, head=len(data))
    for i in range(n - k):
        if i % 2:
            yield bytes(rng.integers(0, 256, int(rng.integers(0, 2 * len(data) + 1)), dtype=np.uint8))
            continue
        at = int(rng.integers(0, len(data) - 8))
        big = int(rng.choice([2**63, 2**62 + 1, 2**40, 2**32 - 1])).to_bytes(8, "little")
        yield data[:at] + big + data[at + 8:]


def read_image(p):
    img = open_image(p)
    img.pages(img.page_numbers()[:64])


def samples(tmp_path):
    """(label, reader, good file bytes, suffix) for each reader."""
    vmem = tmp_path / "vm.vmem"
    vmem.write_bytes(bytes(range(256)) * 16 * 4)
    elf = B.elf_core([(0, bytes(2 * PAGE)), (0x10_0000, b"\x01" * PAGE), (0xFD00_0000, bytes(PAGE))],
                     notes=B.note(b"CORE", 1, bytes(336)) + B.note(b"QEMU", 0, bytes(440)))
    vmss = B.vmss({"cpu": B.vmss_tag("CR", 3, (0, 1)),
                   "memory": B.vmss_tag("Memory", b"\0" * 40) + B.memory_group([(0, 0, 2), (9, 2, 2)])})
    csv = tmp_path / "good.csv"
    write_capture(csv, [{"Free MBytes": 100 + t} for t in range(3)],
                  {(1, "a"): [vm_values(64, 32)] * 3, (2, "b"): [vm_values(64, 16)] * 3})
    return [
        ("elf", read_image, elf, ".elf"),
        ("raw", read_image, bytes(3 * PAGE), ".raw"),
        ("vmss", lambda p: read_image(vmem), vmss, "vm.vmss"),
        ("lackey", read_trace, b"==1== Lackey\nI  0401ab70,3\n S 1fff000778,8\n L 1fff000770,8\n M 10,4\n", ".lackey"),
        ("lackey-cr", read_trace, b"I  0401ab70,3\r S 1fff000778,8\r L 10,4\r", ".lackey"),
        ("din", read_trace, b"0 1000\n1 2000\n2 3000\n4 10\n", ".din"),
        ("pin", read_trace, b"0x1: R 0x1000\n0x2: W 0x2000\n#eof\n", ".pin"),
        ("esxtop", read_esxtop, csv.read_bytes(), ".csv"),
        ("scenario", scenario.load, scenario.resolve("allocation").read_bytes(), ".toml"),
    ]


def test_file_mutations(tmp_path, capsys):
    cases = Cases()
    for s in range(SEEDS):
        rng = np.random.default_rng([s, 13])
        for label, read, good, suffix in samples(tmp_path):
            for k, data in enumerate([good, *file_mutations(good, rng, 120)]):
                p = tmp_path / (suffix if suffix.startswith("vm.") else f"m{k}{suffix}")
                p.write_bytes(data)
                if k == 0:
                    read(p)                 # the unbroken sample reads
                    continue
                cases.run(f"{label} {s}/{k}: {data[:120]!r}", lambda: read(p))
    cases.report(capsys, "files", 1000 * SEEDS)


def test_special_files_are_one_line_and_never_block(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "fifo.vmem").write_bytes(bytes(PAGE))
    os.mkfifo(tmp_path / "fifo.vmss")
    readers = [("image", read_image), ("trace", read_trace), ("esxtop", read_esxtop),
               ("scenario", scenario.load), ("vmss", lambda p: read_image(tmp_path / "fifo.vmem"))]
    cases = Cases()
    for label, read in readers:
        for path in (fifo, tmp_path, "/dev/null", "/dev/zero", f"{tmp_path}/a\0b", tmp_path / "missing.toml"):
            cases.run(f"{label} {path!r}", lambda: read(path), 3)
    cases.report(capsys, "special files", 30)
    assert cases.counts["one line"] == 5 * 6, cases.counts


# -- command line -------------------------------------------------------------------------

TOKENS = ["run", "list", "analyze", "snapshot", "--ticks", "--steps", "--json", "--events", "-q",
          "--quiet", "--bogus", "-x", "default", "allocation", "nonexist.toml", "dir/x.toml", "0", "-1",
          "1", "2", "99999999999", "86401", "9" * 40, "nan", "1e3", "0x10", "abc", "a\nb", "\x00",
          "é", "", "-", "--", "4194304", "x" * 5000, "--ticks=2", "--steps=5", "--version"]


def argv_for(rng, fifo: str) -> list[str]:
    head = str(rng.choice(["run", "list", "analyze", "snapshot", "--bogus", "-h"]))
    args = [head] + [str(rng.choice(TOKENS + [fifo])) for _ in range(int(rng.integers(0, 5)))]
    if head == "run" and "--ticks=2" not in args:
        args += ["--ticks", "2"]            # a valid run stays short
    return args


def test_cli_argument_fuzz(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    cases = Cases()
    exits: dict = {}
    rng = np.random.default_rng(11)
    for k in range(150 * SEEDS):
        argv = argv_for(rng, fifo)
        out, err = io.StringIO(), io.StringIO()

        def call():
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = cli.main(argv)
                except SystemExit as e:
                    code = e.code
            lines = err.getvalue().strip().splitlines()
            assert code in (0, 2), (code, err.getvalue()[-300:])
            if code == 2:
                assert len(lines) == 1 and lines[0].startswith("vmmemviz"), err.getvalue()[-500:]
            exits[code] = exits.get(code, 0) + 1

        cases.run(f"argv {argv!r}", call, 20)
    with capsys.disabled():
        print(f"\nhostile command lines: exit statuses {exits}")
    cases.report(capsys, "command lines", 150 * SEEDS)


@pytest.mark.parametrize("argv,needle", [
    (["run", "default", "--ticks", "99999999999"], "--ticks: expected an integer from 1 to 86,400"),
    (["run"], "the following arguments are required: scenario"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["snapshot", "0"], "PID: expected an integer from 1 to 4,194,304"),
    (["export", "default", "--range", "-1:2", "--format", "gif", "--out", "o.gif"],
     "--range: expected A:B with 0 <= A < B, got '-1:2'"),          # was "expected one argument"
    (["export", "default", "--at", "3", "--size", "-300x300", "--out", "o.png"], "--size: expected WxH"),
    (["export", "default", "--at", "3", "--format", "png", "--out", "o.png", "a\nb"],
     "unrecognized arguments: a\\nb"),                                  # was two lines
    (["export", "default", "--at", "3", "--format", "png", "--out", "o.png", "--bogus\r\nx"],
     "unrecognized arguments: --bogus\\r\\nx"),
    # found by the third fuzz: an empty --compare was taken for none (one run, exit 0)
    (["run", "default", "--compare", ""], "--compare: expected a scenario file or name, got an empty one"),
    (["export", "default", "--at", "3", "--format", "png", "--out", "o.png", "--compare", ""],
     "--compare: expected a scenario file or name, got an empty one"),
    (["session", "default", "--out", "o.vmmemviz", "--compare", ""], "--compare: expected a scenario file or name"),
    # int() and float() read 1_000, Arabic-Indic and full-width digits: a number is ASCII digits
    (["run", "default", "--ticks", "1_000"], "--ticks: expected an integer from 1 to 86,400"),
    (["run", "default", "--steps", "\u0663"], "--steps: expected an integer from 0"),
    (["esxtop", "capture.csv", "--sample", "1_0"], "--sample: expected an integer, got '1_0'"),
    (["calibrate", "capture.csv", "--out", "o.toml", "--sample", "\uff11"], "--sample: expected an integer"),
    (["calibrate", "capture.csv", "--out", "o.toml", "--scale", "1_0"], "--scale: expected a number from 1 to 1,024"),
    (["export", "default", "--at", "1_0", "--format", "png", "--out", "o.png"], "--at: expected an integer, got '1_0'"),
    (["export", "default", "--range", "0:1_0", "--format", "gif", "--out", "o.gif"], "--range: expected A:B"),
    (["export", "default", "--at", "3", "--size", "4_00x300", "--format", "png", "--out", "o.png"], "--size: expected WxH"),
    (["session", "default", "--at", "\u0663", "--out", "o.vmmemviz"], "--at: expected an integer from 0"),
    (["export", "default", "--range", "0:3", "--fps", "1_0", "--format", "gif", "--out", "o.gif"],
     "--fps: expected a number, got '1_0'"),
])
def test_argument_errors_are_one_line_and_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and needle in err and err.count("\n") == 1 and "usage" not in err
    assert not os.listdir(tmp_path)


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("capture") / "run.csv"
    assert cli.main(["run", "default", "--ticks", "4", "--esxtop", str(path)]) == 0
    return path


@pytest.mark.parametrize("args,needle", [
    (["--scale", "0"], "--scale: expected a number from 1 to 1,024"),
    (["--scale", "nan"], "--scale: expected a number from 1 to 1,024"),
    (["--scale", "inf"], "--scale: expected a number from 1 to 1,024"),
    (["--rounds", "-1"], "--rounds: expected an integer from 1 to 64"),
    (["--scale", "100"], "scale 100: the captured host (16.00 MB, its smallest VM"),
    (["--out", "{tmp}"], "--out: cannot write {tmp}: a folder is there"),
    (["--out", "{tmp}/no/o.toml"], "--out: cannot write {tmp}/no/o.toml: no such folder"),
    (["--out", ""], "--out: expected a file name, got an empty one"),
])
def test_calibrate_refuses_bad_numbers_and_outputs_in_one_line_before_it_runs(capture, tmp_path, capsys, args, needle):
    """Found by fuzzing: these were tracebacks (ZeroDivisionError, NaN to int, an --out that
    could not be written only after the whole search ran) or a line that named no option."""
    args = [a.format(tmp=tmp_path) for a in args]
    argv = ["calibrate", str(capture), "--rounds", "1", "--out", str(tmp_path / "o.toml"), *args]
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and needle.format(tmp=tmp_path) in err and err.count("\n") == 1, err
    assert "run 1/1" not in err and not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("counter,factor,field", [
    ("Memory Size MBytes", 0, "vm[web01].memory_mb: expected a number from 0.25"),
    ("Kernel Managed MBytes", 1e9, "host.memory_mb: expected a number from 1 to 8,388,608"),
])
def test_calibrate_names_the_capture_when_its_sample_makes_no_scenario(capture, tmp_path, capsys, counter, factor, field):
    """Found by the third fuzz: a VM with MEMSZ 0 or a host a billion times larger was refused by
    the scenario check as "<calibrated>: ...", naming no file: now the capture, its sample and
    the field of the scenario made from it."""
    rows = capture.read_text().splitlines()
    head = rows[0].split('","')
    j = next(i for i, c in enumerate(head) if c.endswith("\\" + counter) and "web01" in c or
             c.endswith("\\Memory\\" + counter))
    last = rows[-1].split('","')
    last[j] = f"{float(last[j]) * factor:g}"
    bad = tmp_path / "bad.csv"
    bad.write_text("\r\n".join(rows[:-1] + ['","'.join(last)]) + "\r\n")
    assert cli.main(["calibrate", str(bad), "--rounds", "1", "--out", str(tmp_path / "o.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vmmemviz: {bad} sample {len(rows) - 2} (") and field in err, err
    assert "<calibrated>" not in err and err.count("\n") == 1 and not (tmp_path / "o.toml").exists(), err


def test_run_esxtop_into_a_folder_or_nowhere_is_one_line_before_the_run(tmp_path, capsys):
    for out, needle in ((tmp_path, "a folder is there"), ("", "expected a file name")):
        assert cli.main(["run", "default", "--ticks", "2", "--esxtop", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"--esxtop: " in err and needle in err and err.count("\n") == 1


def test_a_kernel_state_past_every_numbering_reads_as_unknown(tmp_path, capsys):
    path = tmp_path / "state5.csv"
    path.write_text('"(PDH-CSV 4.0) (UTC)(0)","\\\\h\\Memory\\Free MBytes","\\\\h\\Memory\\Kernel MinFree MBytes",'
                    '"\\\\h\\Memory\\Kernel State","\\\\h\\Group Memory(100:vm1)\\Memory Size MBytes",'
                    '"\\\\h\\Vcpu(100:vm1:101:vmx)\\% Used"\r\n"11/27/2026 08:00:00","1000","100","5","1024","1"\r\n')
    assert cli.main(["esxtop", str(path)]) == 0         # was: ValueError from min() of nothing
    assert "state: unknown (5)" in capsys.readouterr().out


def test_a_compare_change_to_a_vm_written_as_an_inline_table(tmp_path, capsys):
    path = tmp_path / "inl.toml"
    path.write_text('duration = 3\nvm = [{name = "a", memory_mb = 4}]\n[host]\nmemory_mb = 16\n')
    for change in ("vm[a].sched.mem.maxmemctl=0", "vm[a].sched.mem.pshare.salt=7", "vm[a].sched.mem.pshare.salt="):
        assert cli.main(["run", str(path), "--compare-set", change, "--json"]) == 0, capsys.readouterr().err
        assert '"delta"' in capsys.readouterr().out


def test_an_output_onto_its_own_input_is_refused_and_the_input_kept(capture, tmp_path, capsys):
    """--out (or --esxtop) naming the file the command reads replaced it (found by fuzzing)."""
    src = tmp_path / "s.toml"
    src.write_text(scenario.load("default").text)
    before, cap = src.read_bytes(), capture.read_bytes()
    for argv, inp in ((["run", str(src), "--ticks", "2", "--esxtop", str(src)], src),
                      (["export", str(src), "--at", "3", "--format", "png", "--out", str(src)], src),
                      (["session", str(src), "--out", str(src)], src),
                      (["calibrate", str(capture), "--rounds", "1", "--out", str(capture)], capture)):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert f"is the input {inp}; writing it would replace it" in err and err.count("\n") == 1, err
    assert src.read_bytes() == before and capture.read_bytes() == cap


def test_an_output_onto_a_file_the_scenarios_read_is_refused_and_the_file_kept(tmp_path, monkeypatch, capsys):
    """Found by the third fuzz: --out was checked against the scenario named first only, so
    the --compare scenario, a process's trace or a VM's guest image (read as the run goes)
    was replaced by the PNG, the capture or the session written (exit 0, the input lost)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.trace").write_bytes(b"".join(b" L %010x,8\n" % (0x1000 + i * 64) for i in range(200)))
    (tmp_path / "im.raw").write_bytes(bytes(range(256)) * 16 * 32)
    text = scenario.load("default").text
    (tmp_path / "s.toml").write_text(text.replace("write_fraction = 0.3\n", "write_fraction = 0.3\ntrace = \"t.trace\"\n", 1))
    (tmp_path / "i.toml").write_text(text.replace('guest_os = "windows"', 'guest_os = "windows"\nimage = "im.raw"'))
    (tmp_path / "other.toml").write_text(text)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    png = ["--at", "3", "--format", "png"]
    for argv, inp in ((["export", "s.toml", *png, "--out", "t.trace"], "t.trace"),
                      (["export", "i.toml", *png, "--out", "im.raw"], "im.raw"),
                      (["export", "default", *png, "--compare", "other.toml", "--out", "other.toml"], "other.toml"),
                      (["export", "default", *png, "--compare", "s.toml", "--out", "t.trace"], "t.trace"),
                      (["run", "s.toml", "--ticks", "2", "--esxtop", "t.trace"], "t.trace"),
                      (["session", "s.toml", "--out", "t.trace"], "t.trace"),
                      (["session", "default", "--compare", "other.toml", "--out", "other.toml"], "other.toml"),
                      (["session", "default", "--compare", "i.toml", "--out", "im.raw"], "im.raw")):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"{inp} is the input " in err and "writing it would replace it" in err and err.count("\n") == 1, err
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before, argv


def test_outputs_that_are_not_new_or_regular_files_are_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    """Found by the second fuzz: a 300-character name was a traceback (stat's ENAMETOOLONG),
    a FIFO or a device as --out was replaced by a regular file (a rename over /dev/null, as
    root), and an empty --out for session or export said "Device or resource busy"."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo("fifo")
    long = "n" * 300 + ".png"
    cases = [(["run", "default", "--ticks", "2", "--esxtop", "fifo"], "--esxtop: cannot write fifo: a FIFO (named pipe) is there"),
             (["export", "default", "--at", "3", "--format", "png", "--out", "/dev/null"],
              "--out: cannot write /dev/null: a character device is there"),
             (["export", "default", "--range", "0:3", "--format", "png", "--out", "fifo"], "a FIFO (named pipe) is there"),
             (["export", "default", "--at", "3", "--format", "png", "--out", long], "File name too long"),
             (["run", "default", "--ticks", "2", "--esxtop", long], "File name too long"),
             (["session", "default", "--at", "5", "--out", ""], "--out: expected a file name, got an empty one"),
             (["export", "default", "--range", "0:3", "--format", "png", "--out", ""], "expected a file name"),
             # a new name ending in "/" (a folder the user meant) was written as a file "new"
             (["export", "default", "--at", "3", "--format", "png", "--out", "new/"],
              "--out: cannot write new/: expected a file name, got a folder's (it ends in /)"),
             (["run", "default", "--ticks", "2", "--esxtop", "new/"], "--esxtop: cannot write new/: expected a file name"),
             (["session", "default", "--out", "new/"], "--out: cannot write new/: expected a file name")]
    for argv, needle in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1, (argv, err)
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null") and not os.path.isfile("fifo")
    assert not os.path.exists("new")


def test_an_output_that_fails_only_when_written_is_one_line_on_every_export_path(tmp_path, monkeypatch, capsys):
    """A folder or a missing parent is refused before any work; a 250-character name passes
    that check but its hidden temp name (".NAME.xxxxxxxx.part") is too long for the file
    system, so it fails only when written: each path says one line and leaves nothing."""
    monkeypatch.chdir(tmp_path)
    os.mkdir("taken.png")
    paths = {"export --at": (["export", "default", "--at", "3", "--format", "png"], "png"),
             "export --range": (["export", "default", "--range", "0:2", "--format", "gif", "--size", "400x300"], "gif"),
             "export png --range": (["export", "default", "--range", "0:2", "--format", "png", "--size", "400x300"], ""),
             "export --compare-set": (["export", "default", "--at", "3", "--format", "png",
                                       "--compare-set", "Mem.ShareForceSalting=0"], "png"),
             "session": (["session", "default", "--at", "3"], "vmmemviz")}
    for what, (argv, suffix) in paths.items():
        long = "n" * (250 - len(suffix) - 1) + "." + suffix if suffix else "n" * 250
        for out, needle in (("taken.png", "a folder is there") if suffix else ("no/frames", "no such folder"),
                            ("no/o." + (suffix or "png"), "no such folder"),
                            (long, "File name too long")):
            assert cli.main([*argv, "--out", out]) == 2, (what, out)
            err = capsys.readouterr().err
            assert f"--out: cannot write {out}: " in err and needle in err and err.count("\n") == 1, (what, err)
        assert sorted(os.listdir()) == ["taken.png"], what
