"""``vmmemviz export`` as users run it: headless, in a subprocess, with no display at all."""
import os
import subprocess
import sys

import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = ROOT
    return subprocess.run([sys.executable, "-m", "vmmemviz", "export", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_headless_png_and_apng_with_no_display(tmp_path):
    r = run("default", "--at", "5", "--format", "png", "--out", str(tmp_path / "a.png"), "--scale", "2",
            "--size", "600x400", "--caption", "--title", "Allocation")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "a.png") as im:
        assert im.size == (1200, 800)
    r = run("default", "--range", "3:5", "--format", "apng", "--out", str(tmp_path / "a.apng"),
            "--size", "400x300", "--fps", "5")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "a.apng") as im:
        assert im.n_frames == 3 + 2 * 1
    assert sorted(os.listdir(tmp_path)) == ["a.apng", "a.png"]


@pytest.mark.parametrize("args, says", [
    (["--at", "5", "--format", "jpeg"], "--format"),
    (["--at", "5", "--range", "1:3", "--format", "png"], "not allowed with"),
    (["--format", "png"], "one of the arguments --at --chapter --range is required"),
    (["--at", "1", "--format", "png", "--size", "8000x8000", "--scale", "4"], "limit of 268 megapixels"),
    (["--chapter", "nope", "--format", "png"], "has no chapters (the tours have them)"),
    (["--chapter", "x", "--format", "gif"], "not --chapter"),
    (["--range", "5:3", "--format", "gif"], "--range"),
    (["--at", "5", "--format", "png", "--scale", "9"], "--scale"),
    (["--at", "5", "--format", "png", "--size", "big"], "--size"),
    (["--at", "5", "--format", "png", "--bogus"], "unrecognized arguments: --bogus"),
    (["--at", "5", "--format", "gif"], "needs --range"),
    (["--range", "1:3", "--format", "svg"], "still image"),
    (["--at", "999999", "--format", "png"], "events; --at asks for event 999999"),
    (["--at", "5", "--format", "png", "--band", "nope"], "bands: gv.0.0"),
    (["--range", "1:3", "--format", "gif", "--fps", "500"], "--fps"),
])
def test_bad_arguments_give_one_line_and_exit_2(tmp_path, args, says):
    r = run("default", *args, "--out", str(tmp_path / "x"))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], r.stderr
    assert os.listdir(tmp_path) == []


def test_missing_scenario_and_folder_are_one_line(tmp_path):
    for r in (run("no-such-tour", "--at", "1", "--format", "png", "--out", str(tmp_path / "x.png")),
              run("boot", "--at", "1", "--format", "png", "--out", str(tmp_path / "no" / "x.png")),
              run("boot", "--at", "1", "--format", "svg", "--out", str(tmp_path)),
              run("boot", "--at", "1", "--format", "png", "--out", "/proc/cannot-write-here.png")):
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_default_width_is_1280_and_a_chapter_is_captioned_by_its_text(tmp_path):
    r = run("balloon", "--chapter", "balloon inflates", "--format", "svg", "--out", str(tmp_path / "c.svg"))
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "c.svg").read_text()
    assert 'viewBox="0 0 1280 ' in svg and "Soft state: the balloon inflates" in svg and "pins free guest" in svg
    r = run("default", "--range", "3:4", "--format", "gif", "--fps", "2", "--out", str(tmp_path / "a.gif"))
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "a.gif") as im:
        assert im.size[0] == 1280


def test_help_is_the_export_command_s():
    r = run("--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: vmmemviz export") and "--chapter" in r.stdout
