"""Benchmark: `vmmemviz.importers.analyze` against the `lz4` command line on one 1 GiB image.

Makes (or reuses) a 1 GiB guest memory image with ../shared/tools/make-guest-dump.sh
(1024 MB guest, 300 MB of filled tmpfs), cached in ~/.cache/vmmemviz-bench. Times
`lz4 -1 -c FILE > /dev/null` and our analyze() on the same file in the same run (each after a
warm-up read, best of N), prints MB/s and the ratio ours/lz4. Target: ratio >= 0.7.
Not a pytest test: `python bench/analyze_bench.py [IMAGE] [--repeat N]`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vmmemviz.importers.analyze import analyze  # noqa: E402

CACHE = Path(os.environ.get("VMMEMVIZ_BENCH_CACHE", Path.home() / ".cache" / "vmmemviz-bench"))
TARGET = 0.7


def dump_script() -> Path:
    for p in (ROOT.parent / "shared" / "tools" / "make-guest-dump.sh",
              ROOT / "tests" / "importers" / "support" / "make-guest-dump.sh"):
        if p.exists():
            return p
    sys.exit("analyze_bench: make-guest-dump.sh not found (../shared/tools or tests/importers/support)")


def bench_image() -> Path:
    raw = CACHE / "bench1g.raw"
    if not raw.exists():
        print(f"making a 1 GiB guest image in {CACHE} (about a minute, needs root) ...",
              file=sys.stderr)
        subprocess.run(["sh", str(dump_script()), str(CACHE), "1024", "300", "bench1g"], check=True)
    return raw


def time_lz4(path: Path) -> float:
    lz4 = shutil.which("lz4")
    if not lz4:
        sys.exit("analyze_bench: the lz4 command line is not installed (apt-get install lz4)")
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run([lz4, "-1", "-c", str(path)], stdout=null, check=True)
    return time.perf_counter() - t


def time_ours(path: Path) -> tuple[float, dict]:
    t = time.perf_counter()
    r = analyze([str(path)])
    return time.perf_counter() - t, r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", help="image to use (default: cached 1 GiB guest)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    path = Path(a.image) if a.image else bench_image()
    mb = path.stat().st_size / 2**20
    time_lz4(path)  # warm the page cache for both
    t_lz4 = min(time_lz4(path) for _ in range(a.repeat))
    runs = [time_ours(path) for _ in range(a.repeat)]
    t_ours, result = min(runs, key=lambda r: r[0])
    ratio = t_lz4 / t_ours
    print(f"image      {path} ({mb:.0f} MB, {result['pages']} pages, {result['zero']} zero, "
          f"{result['distinct']} distinct)")
    print(f"lz4 -1     {t_lz4:7.3f} s  {mb / t_lz4:8.0f} MB/s")
    print(f"analyze    {t_ours:7.3f} s  {mb / t_ours:8.0f} MB/s")
    print(f"ratio      {ratio:.2f} (analyze / lz4 throughput; target >= {TARGET})")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
