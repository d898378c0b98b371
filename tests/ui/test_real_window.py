"""The real app in a real X window: Xvfb, `python -m vmmemviz`, keys sent with xdotool,
the screen grabbed with ImageMagick's `import` and checked for the expected colours."""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from vmmemviz.scene import palette as P

W, H = 1600, 1000
TOOLS = ("Xvfb", "xdotool", "import")


@pytest.fixture
def display(tmp_path):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing {missing}: run `make sysdeps` (Debian packages xvfb, xdotool, imagemagick)")
    r, w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", f"{W}x{H}x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    num = b""
    while not num.endswith(b"\n"):
        chunk = os.read(r, 16)
        if not chunk:
            break
        num += chunk
    os.close(r)
    assert num.strip(), "Xvfb did not start"
    yield f":{int(num)}"
    xvfb.terminate()
    xvfb.wait(10)


def x(env, *args, timeout=30):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=True).stdout


def grab(env, path):
    x(env, "import", "-window", "root", str(path) + ".png")
    x(env, "import", "-window", "root", "-depth", "8", f"rgb:{path}.rgb")
    rgb = np.fromfile(f"{path}.rgb", np.uint8).reshape(H, W, 3).astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def count(img, hex_colour):
    return int(np.count_nonzero(img == int(hex_colour[1:], 16)))


def test_real_window_steps_with_keys_and_shows_the_pages(display, tmp_path):
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True, mode=0o700)
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", HOME=str(home),
               XDG_CONFIG_HOME=str(home / "cfg"), XDG_RUNTIME_DIR=str(home / "run"))
    app = subprocess.Popen([sys.executable, "-m", "vmmemviz", "default"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wid = x(env, "xdotool", "search", "--sync", "--onlyvisible", "--name", "vmmemviz", timeout=60).split()[0]
        assert "Three small VMs" in x(env, "xdotool", "getwindowname", wid)
        x(env, "xdotool", "windowfocus", "--sync", wid)
        time.sleep(2.0)
        start = grab(env, tmp_path / "start")
        win01_zero = P.colour(P.vm_code(2, zero=True))
        assert len(np.unique(start)) > 20, "the window looks blank"
        assert count(start, win01_zero) == 0            # nothing backed yet at position 0
        x(env, "xdotool", "key", "--delay", "150", *["Right"] * 7)   # ... BOOT_ZERO of win01
        time.sleep(2.0)
        after = grab(env, tmp_path / "after")
        assert count(after, win01_zero) > 5000           # win01's zeroed memory, in two layers
        assert count(after, P.vm_hue(0)) > 200           # web01's kernel pages
        assert count(after, P.colour(P.HV)) > 50         # the VMMs' overhead frames
        # hover a hypervisor-overhead frame: the tooltip names it
        hv = after == int(P.colour(P.HV)[1:], 16)
        inner = hv[1:-1, 1:-1] & hv[:-2, 1:-1] & hv[2:, 1:-1] & hv[1:-1, :-2] & hv[1:-1, 2:]
        ys, xs = np.nonzero(inner)                     # inside a cell, first in the picture
        px, py = int(xs[0]) + 1, int(ys[0]) + 1
        x(env, "xdotool", "mousemove", str(px - 1), str(py))
        x(env, "xdotool", "mousemove", str(px), str(py))
        time.sleep(1.5)
        tip = grab(env, tmp_path / "tooltip")
        box = (slice(py, py + 120), slice(px, px + 400))
        assert np.count_nonzero(tip[box] != after[box]) > 500, "no tooltip under the cursor"
        x(env, "xdotool", "key", "End")
        time.sleep(3.0)
        end = grab(env, tmp_path / "end")
        assert count(end, P.vm_hue(1)) > count(after, P.vm_hue(1))   # web02 has touched memory since
        assert app.poll() is None, app.stdout.read().decode(errors="replace")
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
