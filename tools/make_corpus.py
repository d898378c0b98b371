"""Rebuild resources/corpus/linux-guest-pages.npz: real 4 KiB guest pages per content class.

Source: two boots of the same tiny Linux guest (Debian's linux-image-amd64 kernel, a busybox
initramfs, 128 MB under QEMU TCG), dumped with ``/work/shared/tools/make-guest-dump.sh`` as
GUEST.raw and GUEST2.raw: "two identical VMs". The script the dump runs fills a tmpfs with a
repeated text line and with /dev/urandom; those synthetic pages are left out (zero pages and
incompressible pages are classes of their own in content.py).

* ``os``   -- the kernel image (physical 16 MB, CONFIG_PHYSICAL_START, to 30 MB) and every other
  page found byte for byte in both boots: the OS image, identical across identical VMs.
* ``text`` -- compressible pages found in one boot only: kernel heap, slab, page tables,
  stacks, per-boot data: what is private to one VM.

Each class is deduplicated and sampled evenly by address (so the LZ4 size distribution of the
sample is that of the dump), at most ``--pages`` per class, and stored in address order.

    python tools/make_corpus.py /tmp/guestdump/guest.raw /tmp/guestdump/guest2.raw
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import lz4.block
import numpy as np

PAGE = 4096
KERNEL_MB = (16, 30)
FILL_LINE = b"guest page content: the quick brown fox"
OUT = Path(__file__).resolve().parent.parent / "resources" / "corpus" / "linux-guest-pages.npz"


def lz4_size(page: np.ndarray) -> int:
    return len(lz4.block.compress(page.tobytes(), store_size=False))


def classify(a: np.ndarray, b: np.ndarray) -> dict:
    """Page numbers of ``a`` per class (see the module docstring), distinct contents only."""
    other = {hashlib.blake2b(p.tobytes(), digest_size=16).digest() for p in b}
    seen, out = set(), {"os": [], "text": []}
    for g, p in enumerate(a):
        raw = p.tobytes()
        if not p.any() or raw.count(FILL_LINE) > 40:
            continue
        lz = lz4_size(p)
        if lz > PAGE - 96:                      # incompressible: RANDOM is its own class
            continue
        h = hashlib.blake2b(raw, digest_size=16).digest()
        if h in seen:
            continue
        seen.add(h)
        kernel = KERNEL_MB[0] * 256 <= g < KERNEL_MB[1] * 256
        out["os" if kernel or h in other else "text"].append(g)
    return {k: np.array(v, np.int64) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", help="raw guest physical memory of the first boot")
    ap.add_argument("second", help="raw guest physical memory of a second boot of the same guest")
    ap.add_argument("--pages", type=int, default=384, help="pages kept per class")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    a = np.fromfile(args.first, np.uint8)
    b = np.fromfile(args.second, np.uint8)
    a, b = a[:len(a) // PAGE * PAGE].reshape(-1, PAGE), b[:len(b) // PAGE * PAGE].reshape(-1, PAGE)
    classes = classify(a, b)
    arrays = {}
    for name, g in classes.items():
        keep = g[np.linspace(0, len(g) - 1, min(args.pages, len(g))).astype(np.int64)]
        arrays[name] = a[keep]
        arrays[name + "_gppn"] = keep
        sizes = np.array([lz4_size(p) for p in a[keep]])
        print(f"{name}: {len(g)} distinct pages, kept {len(keep)}; LZ4 <=1K {np.mean(sizes <= 1024):.0%}, "
              f"<=2K {np.mean(sizes <= 2048):.0%}, median {int(np.median(sizes))} B")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.out).with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays, source=np.array(
        "two boots of a Linux guest (make-guest-dump.sh 128 MB, Debian linux-image-amd64, busybox)"))
    tmp.replace(args.out)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
