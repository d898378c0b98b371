"""``vmmemviz export``: figures and animations from a scenario, headless.

    vmmemviz export SCENARIO (--at N | --range A:B) --format png|svg|gif|apng --out PATH
        [--scale S] [--size WxH] [--no-legend] [--caption] [--title T] [--transparent]
        [--band KEY] [--fps F] [--theme light|dark]

``--at N`` draws the state after event N (0 = before the first) as one PNG or SVG.
``--range A:B`` animates events A..B: a GIF, an APNG, or (png) a folder of numbered PNGs.
Needs no display: without DISPLAY / WAYLAND_DISPLAY it uses Qt's offscreen platform.
Bad arguments print one line and exit 2.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..errors import InputError

STILL, ANIMATED = ("png", "svg"), ("gif", "apng")


def _range(text: str) -> tuple:
    a, sep, b = text.partition(":")
    try:
        lo, hi = int(a), int(b)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B (two event numbers), got {text!r}") from None
    if not sep or not 0 <= lo < hi:
        raise argparse.ArgumentTypeError(f"expected A:B with 0 <= A < B, got {text!r}")
    return lo, hi


def _size(text: str) -> tuple:
    w, sep, h = text.lower().partition("x")
    try:
        size = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH in pixels like 1280x800, got {text!r}") from None
    if not sep or not all(200 <= v <= 8000 for v in size):
        raise argparse.ArgumentTypeError(f"expected WxH, each from 200 to 8000 pixels, got {text!r}")
    return size


def _scale(text: str) -> float:
    from .render import SCALES
    try:
        s = float(text)
    except ValueError:
        s = -1
    if not SCALES[0] <= s <= SCALES[1]:
        raise argparse.ArgumentTypeError(f"expected a number from {SCALES[0]} to {SCALES[1]}, got {text!r}")
    return s


def _one_line_errors(p: argparse.ArgumentParser) -> None:
    """Make argparse report bad arguments in one line (no usage block), exit 2."""
    def error(message):
        print(f"vmmemviz export: {message} (see vmmemviz export --help)", file=sys.stderr)
        sys.exit(2)

    def parse_known_args(args=None, namespace=None):
        ns, extra = argparse.ArgumentParser.parse_known_args(p, args, namespace)
        if extra:
            error(f"unrecognized arguments: {' '.join(extra)}")
        return ns, extra
    p.error = error
    p.parse_known_args = parse_known_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write a figure (PNG, SVG) or an animation (GIF, APNG, numbered PNGs) headless",
        description="Draw a scenario's layers at one event (--at) or animate a range of events (--range).")
    p.add_argument("scenario", help="a .toml file or the name of a built-in scenario or tour")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", type=int, metavar="N", help="the state after event N (0 = before the first)")
    when.add_argument("--range", type=_range, metavar="A:B", help="animate from event A to event B")
    p.add_argument("--format", required=True, choices=STILL + ANIMATED,
                   help="png or svg with --at; gif, apng or png (a folder of numbered frames) with --range")
    p.add_argument("--out", required=True, metavar="PATH", help="the file to write (a folder for png --range)")
    p.add_argument("--scale", type=_scale, default=1.0, metavar="S", help="PNG pixels per figure pixel, 1 to 4")
    p.add_argument("--size", type=_size, metavar="WxH", help="figure size in pixels (default: 1280 wide, as tall as the picture needs)")
    p.add_argument("--no-legend", dest="legend", action="store_false", help="leave the legend out")
    p.add_argument("--caption", action="store_true", help="add the current event's narration under the picture")
    p.add_argument("--title", default="", metavar="T", help="a title above the picture")
    p.add_argument("--transparent", action="store_true", help="no background (PNG, SVG, APNG, GIF)")
    p.add_argument("--band", metavar="KEY", help="one band only: mp, gp.0, gv.0.1, ... (default: every band)")
    p.add_argument("--fps", type=float, default=10, metavar="F", help="animation frame rate (default 10)")
    p.add_argument("--theme", choices=("light", "dark"), default="light", help="colours (default light)")
    p.set_defaults(func=_export)
    _one_line_errors(p)


def headless() -> None:
    """Use Qt's offscreen platform when there is no display to draw on."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _check(args) -> None:
    if args.at is not None and args.format in ANIMATED:
        raise InputError(f"--format {args.format}: an animation needs --range A:B, not --at")
    if args.range is not None and args.format == "svg":
        raise InputError("--format svg: a still image; use --at N (or gif, apng, png with --range)")
    if args.at is not None and args.at < 0:
        raise InputError(f"--at: expected an event number >= 0, got {args.at}")
    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        raise InputError(f"--out: {parent}: no such folder")
    if os.path.isdir(args.out) and not (args.format == "png" and args.range is not None):
        raise InputError(f"--out: {args.out} is a folder; give a file name")


class _Progress:
    """Frames done, on one line of stderr, when stderr is a terminal."""

    def __init__(self):
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            sys.stderr.write(f"\rvmmemviz export: frame {done}/{total}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _export(args) -> int:
    _check(args)
    headless()
    from PySide6.QtWidgets import QApplication

    from vmmemviz.model.config import scenario
    from . import render, sequence

    sc = scenario.load(args.scenario)
    app = QApplication.instance() or QApplication(["vmmemviz"])   # noqa: F841 (keeps Qt alive)
    stage = render.Stage(sc, theme=args.theme)
    last = args.at if args.at is not None else args.range[1]
    total = stage.tl.ensure(last)          # simulate only as far as the export needs
    if last > total:
        raise InputError(f"{args.scenario}: has {total} events; --{'at' if args.at is not None else 'range'} "
                         f"asks for event {last}")
    if args.band is not None and args.band not in stage.band_keys():
        raise InputError(f"--band: {args.band!r} is not a band of {args.scenario} "
                         f"(bands: {', '.join(stage.band_keys())})")
    opts = render.FigureOptions(title=args.title, legend=args.legend, caption=args.caption,
                                transparent=args.transparent, scale=args.scale, band=args.band,
                                theme=args.theme, size=args.size)
    try:
        if args.at is not None:
            stage.write_still(args.out, args.format, opts, args.at)
            return 0
        shots = sequence.plan(*args.range, args.fps)
        page, render_shot = stage.renderer(opts, *args.range)
        sequence.check_memory(args.format, len(shots), round(page.width * opts.scale),
                              round(page.height * opts.scale))
        sequence.write(args.out, args.format, shots, render_shot, opts.transparent, progress=_Progress(),
                       colours=render.figure_colours(opts.theme))
    except OSError as e:            # no permission, disk full, ...: nothing was left behind
        raise InputError(f"--out: cannot write {args.out}: {e.strerror or e}") from None
    return 0
