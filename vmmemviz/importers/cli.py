"""Subcommands for real data: ``vmmemviz analyze IMAGE... [--json]`` and
``vmmemviz snapshot PID [--json]``. ``register(subparsers)`` adds them; each handler takes
the argparse namespace and returns an exit code (InputError goes up to the main CLI). The
sub-parsers are the main CLI's ``vmmemviz.argparsing.ArgumentParser``: a bad argument is one line."""
from __future__ import annotations

import json
import os
import sys
import time

from vmmemviz.argparsing import bounded_int


class _Bar:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, label: str, stream=None):
        self.label, self.stream, self.last = label, stream or sys.stderr, 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        self.stream.write(f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}%  "
                          f"{done * 4096 / 2**20:,.0f}/{total * 4096 / 2**20:,.0f} MB")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "    -"


def analyze_table(r: dict) -> str:
    head = (f"{'image':<32} {'kind':<4} {'pages':>9} {'MB':>8} {'zero':>6} {'distinct':>9} "
            f"{'reclaim':>7} {'lz4<=2K':>7} {'lz4<=1K':>7}")
    lines = [head]

    def row(name, kind, d):
        p = d["pages"]
        lines.append(f"{name[-32:]:<32} {kind:<4} {p:>9,} {p * 4096 / 2**20:>8,.1f} "
                     f"{_pct(d['zero'], p)} {d['distinct']:>9,} {_pct(d['reclaimable'], p):>7} "
                     f"{_pct(d['lz4_le_2k'], p):>7} {_pct(d['lz4_le_1k'], p):>7}")

    for im in r["images"]:
        row(os.path.basename(im["path"]), im["kind"], im)
    if len(r["images"]) > 1:
        row("all (sharing across images)", "", r)
        inside = sum(i["reclaimable"] for i in r["images"])
        lines.append(f"sharing across images reclaims {r['reclaimable'] - inside:,} pages more than "
                     f"sharing inside each image ({inside:,})")
    lines.append("reclaim = pages - distinct contents (ideal page sharing); lz4<=2K/1K = pages that "
                 "compress to a 2 KB / 1 KB slot")
    return "\n".join(lines)


def _analyze(args) -> int:
    from .analyze import analyze

    bar = None if args.json or args.quiet else _Bar("analyze")
    try:
        r = analyze(args.images, progress=bar)
    finally:
        if bar:
            bar.close()
    print(json.dumps(r, indent=1) if args.json else analyze_table(r))
    return 0


def snapshot_summary(snap) -> dict:
    maps = []
    for m in snap.mappings:
        maps.append({"start": m.start, "end": m.end, "perms": m.perms, "path": m.path,
                     "pages": m.pages, "present": int(m.present.sum()),
                     "swapped": int(m.swapped.sum()), "zero_page": int(m.has("ZERO_PAGE").sum()),
                     "thp": int(m.has("THP").sum()), "ksm": int(m.has("KSM").sum()),
                     "anon": int(m.has("ANON").sum()), "shared": int((m.mapcount > 1).sum()),
                     "skipped": m.skipped})
    return {"pid": snap.pid, "totals": snap.totals(), "mappings": maps}


def _snapshot(args) -> int:
    from .procsnap import snapshot

    s = snapshot_summary(snapshot(args.pid))
    if args.json:
        print(json.dumps(s, indent=1))
        return 0
    cols = ("pages", "present", "swapped", "zero_page", "thp", "ksm", "anon", "shared")
    print(f"{'start-end':<27} {'perm':<4} " + " ".join(f"{c:>9}" for c in cols) + "  path")
    for m in s["mappings"]:
        print(f"{m['start']:012x}-{m['end']:012x}  {m['perms']:<4} "
              + " ".join(f"{m[c]:>9,}" for c in cols) + f"  {m['path']}")
    t = s["totals"]
    print(f"{'total':<27} {'':<4} " + " ".join(f"{t[c]:>9,}" for c in cols))
    return 0


def register(subparsers) -> None:
    a = subparsers.add_parser(
        "analyze", help="sharing and compression potential of real guest memory images",
        description="Read guest memory images (QEMU/libvirt ELF core, raw pmemsave/.vmem, "
                    "VMware .vmem + .vmss/.vmsn) and count zero pages, distinct pages, what "
                    "page sharing could reclaim (inside each image and across them) and how "
                    "many pages LZ4 compresses to 2 KB / 1 KB.")
    a.add_argument("images", nargs="+", metavar="IMAGE")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    a.set_defaults(func=_analyze)
    s = subparsers.add_parser(
        "snapshot", help="page state of a live Linux process (/proc pagemap, kpageflags; root)",
        description="Read /proc/PID/maps, pagemap, /proc/kpageflags and /proc/kpagecount and "
                    "count per mapping: present, swapped, zero-page, THP, KSM, anonymous and "
                    "shared pages. Needs root.")
    s.add_argument("pid", type=bounded_int(1, 1 << 22, "Linux's largest PID"), metavar="PID")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_snapshot)
