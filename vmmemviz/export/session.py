"""Session files written atomically, and drawn as figures: exactly the saved view.

The format is ``vmmemviz.model.config.session``; this module writes it (a reader never
sees half a file), makes one headless (``vmmemviz session``), and draws one: the
session's position, its selection's chain, its theme and band, its zoom (the part of the
picture in view, laid out for the window's shape) and its figure options. The window's
export dialog draws a still through ``still_body`` too, so both give the same pixels.

    vmmemviz session SCENARIO [--at N] [--compare-set KEY=VALUE ... | --compare OTHER.toml]
        [--theme light|dark] [--band KEY] --out FILE.vmmemviz
"""
from __future__ import annotations

from vmmemviz.errors import InputError
from vmmemviz.model.config import compare as CMP
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.config import session as SS
from ..outputfile import check_out, out_file


def save(path, session: SS.Session, what: str = "Save session", inputs=()) -> None:
    """``session`` to ``path`` as TOML, atomically (``outputfile.out_file``: a path that
    cannot be written, or one of the files ``inputs``, is one line naming ``what``, and is
    left as it was)."""
    text = SS.dumps(session)
    with out_file(path, what, inputs) as tmp:
        tmp.write_text(text, encoding="utf-8")


# -- drawing ------------------------------------------------------------------------------

def figure_options(s: SS.Session):
    """The session's view and [figure] table as export options."""
    from .render import FigureOptions
    f, v = s.figure, s.view
    size = (f["width"], f["height"]) if f["width"] is not None and f["height"] is not None else None
    return FigureOptions(title=f["title"], legend=f["legend"], caption=f["caption"], transparent=f["transparent"],
                         scale=f["scale"], size=size, band=v["band"], theme=v["theme"],
                         empty_stores=v["empty_stores"])


def cli_defaults(s: SS.Session, position_given: bool) -> dict:
    """``vmmemviz export`` options as the session sets them (the command line overrides)."""
    o = figure_options(s)
    out = {"theme": o.theme, "band": o.band, "legend": o.legend, "caption": o.caption, "title": o.title,
           "transparent": o.transparent, "scale": o.scale, "size": o.size, "empty_stores": o.empty_stores}
    return out if position_given else {**out, "at": s.event}


def chain_of(tl, frame, ref) -> tuple:
    """The highlighted chain of the page ``ref`` at the timeline's position (InputError if
    ``ref`` is no page of the frame)."""
    from ..scene.arrows import chain_arrows
    from vmmemviz.model.views.pageinfo import inspect

    if ref is None:
        return ()
    layer, vm, proc, index = ref
    if not any(b.ref(0)[:3] == (layer, vm, proc) and 0 <= index < b.count for b in frame.bands):
        raise InputError(f"selection: expected a page of the picture (layer, vm, proc, index), got {ref}")
    return chain_arrows(inspect(tl.view, tl.log.rows(0, tl.pos), ref, list(frame.vm_names))["chain"])


def still_body(frame, opts, chain=(), aspect: float | None = None, region: tuple | None = None):
    """(picture, legend) of a still of ``frame``: the figure's own layout (every band, or
    ``opts.band``), or with ``region`` (x0, y0, x1, y1, fractions) the part of the picture
    a zoomed window shows, laid out for the window's ``aspect``."""
    from ..paint.picture import Picture
    from ..scene import bands as B
    from . import render
    from PySide6.QtCore import QRectF

    if opts.band is None and region is not None:
        pic = Picture(opts.theme, opts.transparent)
        pic.set_bands(B.relayout(frame.bands, aspect or B.ASPECT), frame.arrows, chain)
        r = pic.rect()
        x0, y0, x1, y1 = region
        pic.view = QRectF(r.left() + x0 * r.width(), r.top() + y0 * r.height(),
                          (x1 - x0) * r.width(), (y1 - y0) * r.height())
    else:
        pic = render.figure_picture(frame, opts, chain)
        if opts.band is not None and opts.band not in pic.by_key:
            keys = ", ".join(b.key for b in frame.bands)
            raise InputError(f"{opts.band}: not a band of this picture, or a store that holds nothing "
                             f"(bands: {keys})")
    return pic, render.figure_legend(frame.vm_names, opts, pic)


def write_still(s: SS.Session, tl, path, fmt: str, opts, pos: int) -> None:
    """The session's view at ``pos`` of ``tl`` (its run A's timeline) as a PNG or SVG."""
    from ..engine.frame import build_frame
    from ..scene import bands as B
    from . import render

    aspect = s.view["aspect"] or B.ASPECT
    frame = build_frame(tl, pos, aspect=aspect)
    tick = s.position["tick"]
    if pos == s.event and tick is not None and frame.tick != tick:
        raise InputError(f"{s.src}: position.tick: expected event {pos} at second {tick} as saved, but this "
                         f"vmmemviz runs it at second {frame.tick} (the simulator changed since)")
    try:
        chain = chain_of(tl, frame, s.ref)
    except InputError as e:
        raise InputError(f"{s.src}: {e}") from None
    pic, legend = still_body(frame, opts, chain, aspect, s.region())
    render.write_still(path, fmt, opts, pic, legend, render.caption_of(frame, s.a.name))


# -- vmmemviz session ---------------------------------------------------------------------

def make(scenario: str, at: int = 0, sets=(), other: str | None = None, theme: str = "light",
         band: str | None = None) -> SS.Session:
    """A session of ``scenario`` at event ``at`` (simulated that far to find its tick)."""
    from vmmemviz.model.core.timeline import Timeline

    sc = SC.load(scenario)
    compare = None
    if sets or other:
        _, b, _ = CMP.pair(sc, list(sets), other)
        compare = {"sets": list(sets), "name": None, "text": None} if sets else \
            {"sets": None, "name": b.name, "text": b.text}
    tl = Timeline(sc)
    total = tl.ensure(at)
    if at > total:
        raise InputError(f"{scenario}: has {total} events; --at asks for event {at}")
    if band is not None:
        from ..engine.frame import build_frame
        keys = [b.key for b in build_frame(tl, at).bands]
        if band not in keys:
            raise InputError(f"--band: {band!r} is not a band of {scenario} (bands: {', '.join(keys)})")
    tl.seek(at)
    row = tl.current()
    s = SS.Session(text=sc.text, name=sc.name, compare=compare)
    s.position.update(event=at, tick=int(row["tick"]) if row is not None else 0)
    s.view.update(theme=theme, band=band)
    return SS.parse(SS.dumps(s), scenario)      # checked as a reader will check it


def _session(args) -> int:
    check_out(args.out, "--out", (args.scenario, args.compare))     # before the run, not after
    s = make(args.scenario, args.at, args.compare_set or (), args.compare, args.theme, args.band)
    save(args.out, s, "--out", (*s.a.files, *(s.b.files if s.b is not None else ())))   # their traces, images
    print(f"wrote {args.out}")
    return 0


def register(subparsers) -> None:
    from ..argparsing import bounded_int, scenario_name

    p = subparsers.add_parser("session", help="write a session file (.vmmemviz): a scenario at an event, "
                              "for `vmmemviz FILE.vmmemviz` and `vmmemviz export FILE.vmmemviz`")
    p.add_argument("scenario", help="a .toml file or the name of a built-in scenario")
    p.add_argument("--at", type=bounded_int(0, SS.MAX_EVENTS), default=0, metavar="N",
                   help="the position: after event N (default 0, before the first)")
    b = p.add_mutually_exclusive_group()
    b.add_argument("--compare-set", action="append", metavar="KEY=VALUE",
                   help="run B is the scenario with this change (repeat for more)")
    b.add_argument("--compare", type=scenario_name, metavar="OTHER.toml", help="run B is another scenario (embedded)")
    p.add_argument("--theme", choices=("light", "dark"), default="light", help="colours (default light)")
    p.add_argument("--band", metavar="KEY", help="one band only: mp, gp.0, gv.0.1, ...")
    p.add_argument("--out", required=True, metavar="FILE.vmmemviz")
    p.set_defaults(func=_session)
