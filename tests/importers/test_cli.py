"""`vmmemviz analyze` and `vmmemviz snapshot` through register() and the main CLI."""
from __future__ import annotations

import argparse
import json
import os

from vmmemviz.importers.analyze import analyze
from vmmemviz.importers.cli import register


def parser():
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command"))
    return p


def test_analyze_json_and_table(images, capsys):
    paths = [str(images["a"].with_suffix(".elf")), str(images["b"].with_suffix(".elf"))]
    args = parser().parse_args(["analyze", *paths, "--json"])
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == analyze(paths)
    assert out.err == ""                       # no progress bar with --json
    args = parser().parse_args(["analyze", *paths])
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "all (sharing across images)" in out.out and "g128m-b.elf" in out.out
    assert "100.0%" in out.err                 # the progress bar ends at 100%


def test_snapshot_json(capsys):
    args = parser().parse_args(["snapshot", str(os.getpid()), "--json"])
    assert args.func(args) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["pid"] == os.getpid() and s["totals"]["present"] > 100
    assert any(m["path"] == "[stack]" and m["present"] > 0 for m in s["mappings"])


def test_main_cli_bad_input_one_line(tmp_path, capsys):
    from vmmemviz.cli import main

    p = tmp_path / "x.raw"
    p.write_bytes(b"abc")
    assert main(["analyze", "-q", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vmmemviz: " + str(p)) and "\n" not in err
