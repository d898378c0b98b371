"""Draw the waldspurger tour's sharing curve beside Waldspurger's own numbers (OSDI 2002,
figure 7) as docs/images/waldspurger.svg: shared and reclaimed memory, in percent of VM
memory, for 1 to 10 identical Linux VMs.

    PYTHONPATH=. python tools/waldspurger_figure.py [OUT.svg]
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "model"))
from test_waldspurger import PAPER, tour_curve  # noqa: E402

W, H, L, B, T, R = 560, 360, 60, 50, 40, 150


def xy(n: float, frac: float) -> tuple:
    return L + (n - 1) / 9 * (W - L - R), H - B - frac * (H - B - T)


def svg(curve: dict) -> str:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           f'font-size="12"><rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="22" font-size="14">Identical Linux VMs: memory shared and reclaimed</text>']
    for pct in range(0, 101, 20):
        x0, y = xy(1, pct / 100)
        x1, _ = xy(10, 0)
        out.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#ddd"/>'
                   f'<text x="{x0 - 8}" y="{y + 4}" text-anchor="end">{pct}%</text>')
    for n in range(1, 11):
        x, y = xy(n, 0)
        out.append(f'<text x="{x}" y="{y + 18}" text-anchor="middle">{n}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">VMs</text>')
    for key, colour in (("shared", "#1f77b4"), ("reclaimed", "#d62728")):
        pts = " ".join("%.1f,%.1f" % xy(n, curve[n][key]) for n in range(1, 11))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, paper in PAPER.items():
            if key in paper:
                x, y = xy(n, paper[key])
                out.append(f'<rect x="{x - 5}" y="{y - 5}" width="10" height="10" fill="none" '
                           f'stroke="{colour}" stroke-width="2"/>')
        lx, ly = W - R + 12, T + (20 if key == "shared" else 40)
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 20}" y2="{ly - 4}" stroke="{colour}" '
                   f'stroke-width="2"/><text x="{lx + 26}" y="{ly}">{key} (model)</text>')
    out.append(f'<rect x="{W - R + 17}" y="{T + 55}" width="10" height="10" fill="none" stroke="black"/>'
               f'<text x="{W - R + 38}" y="{T + 64}">paper</text></svg>')
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else ROOT / "docs" / "images" / "waldspurger.svg"
    out.write_text(svg(tour_curve()))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
