"""Fixtures for the importer tests: real guest memory images made with QEMU, cached.

Images come from make-guest-dump.sh (../shared/tools relative to the repo root, else the
vendored copy in support/), are cached in ~/.cache/vmmemviz-test-images (outside git) and
made again when missing. Two runs with the same arguments are two "identical VMs".
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("VMMEMVIZ_TEST_IMAGES", Path.home() / ".cache" / "vmmemviz-test-images"))
GUEST_MB, FILL_MB = 128, 8   # a 64 MB Debian guest does not boot; 128 MB does


def dump_script() -> Path:
    shared = ROOT.parent / "shared" / "tools" / "make-guest-dump.sh"
    return shared if shared.exists() else Path(__file__).parent / "support" / "make-guest-dump.sh"


def guest_images(names=("a", "b")) -> dict[str, Path]:
    """{name: base path} with base.elf and base.raw present; makes missing ones (locked)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = {}
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # pytest-xdist workers share the cache
        for name in names:
            base = CACHE / f"g{GUEST_MB}m-{name}"
            if not (base.with_suffix(".elf").exists() and base.with_suffix(".raw").exists()):
                assert os.geteuid() == 0, (
                    f"test images missing in {CACHE} and making them needs root "
                    f"(run: sudo sh {dump_script()} {CACHE} {GUEST_MB} {FILL_MB} {base.name})")
                with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                    subprocess.run(["sh", str(dump_script()), tmp, str(GUEST_MB), str(FILL_MB), name],
                                   check=True, stdout=subprocess.DEVNULL)
                    for ext in (".elf", ".raw"):
                        shutil.move(os.path.join(tmp, name + ext), base.with_suffix(ext))
            out[name] = base
    return out


@pytest.fixture(scope="session")
def images() -> dict[str, Path]:
    return guest_images()
