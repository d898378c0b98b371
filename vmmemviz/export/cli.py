"""``vmmemviz export``: figures and animations from a scenario, headless.

    vmmemviz export SCENARIO (--at N | --chapter NAME | --range A:B) --format png|svg|gif|apng
        --out PATH [--scale S] [--size WxH] [--no-legend] [--caption] [--title T]
        [--transparent] [--band KEY] [--no-empty-stores] [--fps F] [--theme light|dark]
        [--compare-set KEY=VALUE ... | --compare OTHER.toml]
    vmmemviz export FILE.vmmemviz --format png|svg --out PATH [options]

``--at N`` draws the state after event N (0 = before the first) as one PNG or SVG;
``--chapter NAME`` the state at the end of a tour's chapter, its text as the caption: any
chapter the window names, authored or a host state (``render.find_chapter``).
``--range A:B`` animates events A..B: a GIF, an APNG, or (png) a folder of numbered PNGs.
A session file (``.vmmemviz``, docs/sessions.md) draws exactly its saved view at its
position; an option given on the command line overrides the session's.
``--compare-set KEY=VALUE`` / ``--compare OTHER.toml`` (or a compare tour's ``[compare]``)
draw runs A and B side by side at the same simulated time, the differing pages outlined
(``export/compare.py``).
Needs no display: without DISPLAY / WAYLAND_DISPLAY it uses Qt's offscreen platform.
Bad arguments print one line and exit 2 (``ExportParser``).
"""
from __future__ import annotations

import argparse
import os
import sys

from ..argparsing import ArgumentParser, ascii_float, ascii_int, decimal, integer, scenario_name
from ..errors import InputError
from ..outputfile import check_out, writing

STILL, ANIMATED = ("png", "svg"), ("gif", "apng")


def _range(text: str) -> tuple:
    a, sep, b = text.partition(":")
    lo, hi = ascii_int(a), ascii_int(b)
    if lo is None or hi is None:
        raise argparse.ArgumentTypeError(f"expected A:B (two event numbers), got {text!r}")
    if not sep or not 0 <= lo < hi:
        raise argparse.ArgumentTypeError(f"expected A:B with 0 <= A < B, got {text!r}")
    return lo, hi


def _size(text: str) -> tuple:
    w, sep, h = text.lower().partition("x")
    size = ascii_int(w), ascii_int(h)
    if None in size:
        raise argparse.ArgumentTypeError(f"expected WxH in pixels like 1280x800, got {text!r}")
    if not sep or not all(200 <= v <= 8000 for v in size):
        raise argparse.ArgumentTypeError(f"expected WxH, each from 200 to 8000 pixels, got {text!r}")
    return size


def _scale(text: str) -> float:
    from .render import SCALES
    s = ascii_float(text)
    if s is None or not SCALES[0] <= s <= SCALES[1]:
        raise argparse.ArgumentTypeError(f"expected a number from {SCALES[0]} to {SCALES[1]}, got {text!r}")
    return s


class ExportParser(ArgumentParser):
    """The export command's parser: a bad argument is one line (no usage block, control
    characters escaped as the main CLI's are), exit 2."""


def parser() -> ExportParser:
    p = ExportParser(
        prog="vmmemviz export",
        description="Draw a scenario's layers at one event (--at), at the end of a chapter (--chapter), "
                    "or animate a range of events (--range).")
    p.add_argument("scenario", help="a .toml file, the name of a built-in scenario or tour, or a "
                   ".vmmemviz session")
    when = p.add_mutually_exclusive_group()         # required, but for a session (parse)
    when.add_argument("--at", type=integer, metavar="N", help="the state after event N (0 = before the first)")
    when.add_argument("--chapter", metavar="NAME",
                      help="the state at the end of a tour's chapter, named as the window names it: an "
                           "authored chapter, a host state ('Host state hard') or both ('TITLE · Host "
                           "state hard'); any case, or a unique part of a title of the chapter list. A name "
                           "several chapters have is the first of them; NAME#N is the N-th ('Host state "
                           "soft#2'). The chapter's text is the caption and its title the default title")
    when.add_argument("--range", type=_range, metavar="A:B", help="animate from event A to event B")
    p.add_argument("--format", required=True, choices=STILL + ANIMATED,
                   help="png or svg with --at / --chapter; gif, apng or png (a folder of numbered frames) with --range")
    p.add_argument("--out", required=True, metavar="PATH", help="the file to write (a folder for png --range)")
    p.add_argument("--scale", type=_scale, default=1.0, metavar="S", help="PNG pixels per figure pixel, 1 to 4")
    p.add_argument("--size", type=_size, metavar="WxH", help="figure size in pixels (default: 1280 wide, as tall as the picture needs)")
    p.add_argument("--no-legend", dest="legend", action="store_false", help="leave the legend out")
    p.add_argument("--caption", action="store_true", help="add the current event's narration under the picture")
    p.add_argument("--title", default=None, metavar="T", help="a title above the picture")
    p.add_argument("--transparent", action="store_true", help="no background (PNG, SVG, APNG, GIF)")
    p.add_argument("--band", metavar="KEY", help="one band only: mp, gp.0, gv.0.1, ... (default: every band)")
    p.add_argument("--no-empty-stores", dest="empty_stores", action="store_false",
                   help="leave out backing stores that hold nothing")
    p.add_argument("--fps", type=decimal, default=10, metavar="F", help="animation frame rate (default 10)")
    p.add_argument("--theme", choices=("light", "dark"), default="light", help="colours (default light)")
    p.add_argument("--compare-set", action="append", default=[], metavar="KEY=VALUE",
                   help="draw run B beside the scenario's run A: the scenario with KEY=VALUE changed "
                        "(repeatable), the pages that differ outlined. Both runs are drawn at the same "
                        "simulated time: --at N at the end of the second of A's event N, --range A:B one "
                        "step per simulated second over A's events A..B. A compare tour (a [compare] "
                        "table) compares without this flag")
    p.add_argument("--compare", type=scenario_name, metavar="OTHER.toml",
                   help="draw run B from another scenario (file or built-in name) beside run A; VMs pair by name")
    return p


def register(subparsers) -> None:
    """``vmmemviz export ...``: everything after ``export`` goes to ``ExportParser``."""
    p = subparsers.add_parser(        # no option prefix: every word after export is passed on as it is
        "export", add_help=False, prefix_chars="\0", description="see vmmemviz export --help",
        help="write a figure (PNG, SVG) or an animation (GIF, APNG, numbered PNGs) headless")
    p.add_argument("args", nargs="*")
    p.set_defaults(func=lambda ns: _export(parse(ns.args)))


def parse(argv) -> argparse.Namespace:
    """The export's arguments; for a session file, what they leave out is the session's."""
    from vmmemviz.model.config import session as SS
    from .session import cli_defaults

    p = parser()
    args = p.parse_args(argv)
    given = (args.at, args.chapter, args.range) != (None, None, None)
    if not SS.is_session(args.scenario):
        if not given:
            p.error("one of the arguments --at --chapter --range is required")
        args.session = None
        return args
    s = SS.load(args.scenario)
    return p.parse_args(argv, argparse.Namespace(session=s, **cli_defaults(s, given)))


def headless() -> None:
    """Use Qt's offscreen platform when there is no display to draw on."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _check(args) -> None:
    still = "--at" if args.at is not None else "--chapter" if args.chapter is not None else None
    if still and args.format in ANIMATED:
        raise InputError(f"--format {args.format}: an animation needs --range A:B, not {still}")
    if args.range is not None and args.format == "svg":
        raise InputError("--format svg: a still image; use --at N (or gif, apng, png with --range)")
    if args.at is not None and args.at < 0:
        raise InputError(f"--at: expected an event number >= 0, got {args.at}")
    _check_out(args)
    if args.size:                 # before simulating anything: the figure is this size
        from .render import check_pixels
        check_pixels(*args.size, args.scale)


def _check_out(args, *runs) -> None:
    """--out checked (``check_out``) against every file the export reads: the scenarios named
    and the images and traces of the scenarios ``runs``."""
    inputs = (args.scenario, args.compare, *(f for sc in runs for f in sc.files))
    check_out(args.out, "--out", inputs, folder=args.format == "png" and args.range is not None)


def _last_second(tl, chapter, last: int) -> int:
    """The last simulated second whose end run A (``tl``) shows inside ``chapter``, which ends
    at position ``last``: a comparison shows both runs at the end of a second, and a host state
    ends at an event, often inside one."""
    from vmmemviz.engine.chapters import Chapters
    from vmmemviz.scene.compare import position_at

    first = next(f for f, end, c in Chapters.of(tl).spans(len(tl)) if c == chapter and end == last)
    tick = int(tl.log[last - 1]["tick"])
    if position_at(tl, tick) > last:        # the second goes on past the chapter
        tick -= 1
    if tick < 0 or position_at(tl, tick) < first:
        raise InputError(f"--chapter: {chapter.title!r} lies within run A's second at {tick + 1} s, and a "
                         "comparison shows both runs at the end of a second: no second ends inside it")
    return tick


def _export_compare(args, sc, chapter, tick, opts) -> int:
    from vmmemviz.model.config import compare
    from .compare import export_compare

    s = args.session
    a, b, what = (s.a, s.b, s.label) if s is not None and s.b is not None and not args.compare_set \
        and not args.compare else compare.pair(sc, args.compare_set, args.compare)
    _check_out(args, b)
    opts.caption = True              # a compare figure says what differs
    with writing(args.out, "--out"):
        export_compare(a, b, what, args.out, args.format, opts, at=args.at, chapter=chapter,
                       span=args.range, fps=args.fps, progress=_Progress(), tick=tick)
    return 0


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

    sc = args.session.a if args.session is not None else scenario.load(args.scenario)
    _check_out(args, sc)                   # its images and traces too, before any run
    pair = args.compare_set or args.compare or sc.compare_sets or (args.session is not None and args.session.b is not None)
    stage = render.Stage(sc) if args.chapter is not None or not pair else None   # run A: where its chapters are
    chapter, at = render.find_chapter(stage.tl, args.chapter) if args.chapter is not None else (None, None)
    app = QApplication.instance() or QApplication(["vmmemviz"])   # noqa: F841 (keeps Qt alive)
    title = args.title if args.title is not None else chapter.title if chapter is not None else ""
    opts = render.FigureOptions(
        title=title, legend=args.legend, caption=args.caption or chapter is not None, transparent=args.transparent,
        scale=args.scale, band=args.band, theme=args.theme, size=args.size, empty_stores=args.empty_stores)
    if pair:
        auto = chapter is not None and chapter not in sc.chapters      # ends at an event, not a second
        return _export_compare(args, sc, chapter, _last_second(stage.tl, chapter, at) if auto else None, opts)
    stage.opts = opts
    if chapter is None:
        at = args.at
        last = args.at if args.at is not None else args.range[1]
        total = stage.tl.ensure(last)          # simulate only as far as the export needs
        if last > total:
            raise InputError(f"{args.scenario}: has {total} events; --{'at' if args.at is not None else 'range'} "
                             f"asks for event {last}")
    if args.band is not None and args.band not in stage.band_keys():
        raise InputError(f"--band: {args.band!r} is not a band of {args.scenario} "
                         f"(bands: {', '.join(stage.band_keys())})")
    with writing(args.out, "--out"):      # no permission, disk full, ...: nothing is left behind
        if at is not None and args.session is not None:
            from .session import write_still
            write_still(args.session, stage.tl, args.out, args.format, opts, at)
            return 0
        if at is not None:
            stage.write_still(args.out, args.format, at, chapter.text if chapter is not None else None)
            return 0
        shots = sequence.plan(*args.range, args.fps)
        page, render_shot = stage.renderer(*args.range)
        render.check_pixels(page.width, page.height, opts.scale)
        sequence.check_memory(args.format, len(shots), round(page.width * opts.scale),
                              round(page.height * opts.scale))
        sequence.write(args.out, args.format, shots, render_shot, opts.transparent, progress=_Progress(),
                       colours=render.figure_colours(opts.theme))
    return 0
