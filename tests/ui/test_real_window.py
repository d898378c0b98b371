"""The real app in a real X window: Xvfb, `python -m vmmemviz`, keys and clicks sent with
xdotool, the screen grabbed with ImageMagick's `import` and checked for the expected colours.
No fixed waits: every check polls the screen until it holds or a timeout passes."""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from vmmemviz.scene import palette as P

TOOLS = ("Xvfb", "xdotool", "import")
pytestmark = pytest.mark.slow


@pytest.fixture(params=[(1600, 1000)])
def display(request):
    """An Xvfb screen of ``request.param`` (width, height): the window fills it when smaller."""
    W, H = request.param
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
    yield f":{int(num)}", W, H
    xvfb.terminate()
    xvfb.wait(10)


def x(env, *args, timeout=30):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=True).stdout


def grab(env, path):
    x(env, "import", "-window", "root", str(path) + ".png")
    x(env, "import", "-window", "root", "-depth", "8", f"rgb:{path}.rgb")
    w, h = (int(v) for v in x(env, "identify", "-format", "%w %h", str(path) + ".png").split())
    rgb = np.fromfile(f"{path}.rgb", np.uint8).reshape(h, w, 3).astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def until(env, path, holds, timeout=30.0, what="the screen"):
    """Grab the screen until ``holds(image)``; the last grab, or fail naming ``what``."""
    stop = time.monotonic() + timeout
    while True:
        img = grab(env, path)
        if holds(img):
            return img
        if time.monotonic() > stop:
            pytest.fail(f"{what} did not show within {timeout:.0f} s (last screen: {path}.png)")
        time.sleep(0.2)          # a poll interval, not a wait for something to happen


def start_app(display, home, *args):
    (home / "run").mkdir(parents=True, mode=0o700)
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", HOME=str(home),
               XDG_CONFIG_HOME=str(home / "cfg"), XDG_RUNTIME_DIR=str(home / "run"))
    app = subprocess.Popen([sys.executable, "-m", "vmmemviz", *args], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wid = x(env, "xdotool", "search", "--sync", "--onlyvisible", "--name", "vmmemviz", timeout=60).split()[0]
    x(env, "xdotool", "windowfocus", "--sync", wid)
    return app, env, wid


def stop_app(app):
    app.terminate()
    try:
        app.wait(10)
    except subprocess.TimeoutExpired:
        app.kill()


def count(img, hex_colour):
    return int(np.count_nonzero(img == int(hex_colour[1:], 16)))


def test_real_window_steps_with_keys_and_shows_the_pages(display, tmp_path):
    app, env, wid = start_app(display[0], tmp_path / "home", "default")
    try:
        assert "Three small VMs" in x(env, "xdotool", "getwindowname", wid)
        win01_zero = P.colour(P.vm_code(2, zero=True))
        start = until(env, tmp_path / "start", lambda img: len(np.unique(img)) > 20, what="the window")
        assert count(start, win01_zero) == 0            # nothing backed yet at position 0
        x(env, "xdotool", "key", "--delay", "150", *["Right"] * 7)   # ... BOOT_ZERO of win01
        after = until(env, tmp_path / "after", lambda img: count(img, win01_zero) > 5000,
                      what="win01's zeroed memory, in two layers")
        assert count(after, P.vm_hue(0)) > 200           # web01's kernel pages
        assert count(after, P.colour(P.HV)) > 50         # the VMMs' overhead frames
        # hover a hypervisor-overhead frame: the tooltip names it
        hv = after == int(P.colour(P.HV)[1:], 16)
        inner = hv[1:-1, 1:-1] & hv[:-2, 1:-1] & hv[2:, 1:-1] & hv[1:-1, :-2] & hv[1:-1, 2:]
        ys, xs = np.nonzero(inner)                     # inside a cell, first in the picture
        px, py = int(xs[0]) + 1, int(ys[0]) + 1
        x(env, "xdotool", "mousemove", str(px - 1), str(py))
        x(env, "xdotool", "mousemove", str(px), str(py))
        box = (slice(py, py + 120), slice(px, px + 400))
        until(env, tmp_path / "tooltip", lambda img: np.count_nonzero(img[box] != after[box]) > 500,
              what="a tooltip under the cursor")
        x(env, "xdotool", "key", "End")
        until(env, tmp_path / "end", lambda img: count(img, P.vm_hue(1)) > count(after, P.vm_hue(1)),
              what="web02's touched memory after End")
        assert app.poll() is None, app.stdout.read().decode(errors="replace")
    finally:
        stop_app(app)


@pytest.mark.parametrize("display", [(1280, 800)], indirect=True)
def test_typing_a_search_then_clicking_the_view_gives_the_keys_back(display, tmp_path):
    """At 1280x800: Ctrl+F, type a search (the list shows only KERNEL_LOAD events), Right stays
    in the box; a click on the picture, then Right steps to the first event the list shows
    (web01's kernel load: its pages appear)."""
    app, env, wid = start_app(display[0], tmp_path / "home", "default")
    try:
        web01 = P.vm_hue(0)
        picture = (slice(110, 640), slice(0, 700))        # the layer view's part of the screen

        def pages(img):
            return count(img[picture], web01)
        start = until(env, tmp_path / "start", lambda img: len(np.unique(img)) > 20, what="the window")
        assert start.shape == (800, 1280) and pages(start) < 50
        x(env, "xdotool", "key", "ctrl+f")
        x(env, "xdotool", "type", "--delay", "60", "kernel_load")
        x(env, "xdotool", "key", "Right", "Right")          # in the box: the cursor moves, not the view
        typed = until(env, tmp_path / "typed", lambda img: np.count_nonzero(img != start) > 200,
                      what="the typed search")
        assert pages(typed) < 50, "Right went to the view while typing"
        x(env, "xdotool", "mousemove", "200", "400", "click", "1")     # on the picture
        x(env, "xdotool", "key", "Right")
        until(env, tmp_path / "stepped", lambda img: pages(img) > 200, what="web01's kernel pages after Right")
        assert app.poll() is None, app.stdout.read().decode(errors="replace")
    finally:
        stop_app(app)
