"""A clean install: ``pip install .`` (not editable) into a fresh venv, then the installed
``vmmemviz`` from outside the checkout lists the built-in scenarios and runs one.

Offline and fast: the new venv reaches the dependencies (numpy, PySide6, ... and pip and
setuptools to build with) of the interpreter running the tests through a path file, and
pip builds without isolation and without an index. The checkout is copied first, so the
build leaves nothing in it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def sh(*args, **kw) -> str:
    """Run a command; its stdout, or a failure that shows its stderr."""
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, args))}:\n{r.stderr[-3000:]}"
    return r.stdout


def test_pip_install_into_a_clean_venv_runs_from_outside_the_checkout(tmp_path):
    src = tmp_path / "src"
    for part in ("vmmemviz", "resources"):
        shutil.copytree(REPO / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / f, src / f)
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", str(venv))
    py = venv / "bin" / "python"
    site = Path(sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    sh(py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(src),
       env=env, cwd=tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = sh(py, "-c", "import vmmemviz; print(vmmemviz.__file__)", env=env, cwd=outside).strip()
    assert Path(where).is_relative_to(site), where          # the installed copy, not the checkout
    exe = venv / "bin" / "vmmemviz"
    listed = sh(exe, "list", env=env, cwd=outside)
    names = {line.split()[0] for line in listed.splitlines()}
    assert names == {p.stem for p in (REPO / "resources" / "scenarios").glob("*.toml")}
    d = json.loads(sh(exe, "run", "translation", "--json", env=env, cwd=outside))
    assert d["events"] > 50 and len(d["digest"]) == 32 and set(d["vms"]) == {"shadow01", "ept01"}
