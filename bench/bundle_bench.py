"""Bundle build benchmark: how long packaging/build.sh takes to build dist/vmmemviz/, against
the time this machine takes to import the stack it bundles (measured in the same run, so a
loaded machine shows in both). Budget: 90 s for the build (about 16 s on a quiet machine).

    python bench/bundle_bench.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET_S = 90


def timed(cmd, **kw) -> float:
    t = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True, **kw)
    return time.monotonic() - t


def main():
    base = timed([sys.executable, "-c", "import numpy, lz4, PySide6.QtWidgets, pyqtgraph, vmmemviz.cli"])
    with tempfile.TemporaryDirectory() as d:
        build = timed(["bash", str(REPO / "packaging" / "build.sh"), "--distpath", f"{d}/dist",
                       "--workpath", f"{d}/work"], env={"VMMEMVIZ_PYTHON": sys.executable,
                                                        "PYINSTALLER_CONFIG_DIR": f"{d}/cfg",
                                                        "PATH": "/usr/bin:/bin"})
    print(f"bundle build: {build:.1f} s = {build / base:.0f}x importing the stack ({base:.2f} s)  "
          f"[budget {BUDGET_S} s: {'met' if build <= BUDGET_S else 'NOT met'}]")


if __name__ == "__main__":
    main()
