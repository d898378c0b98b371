"""Packaging: the icon, the desktop integration, the About box and the frozen bundle.

The bundle is built once per test run with packaging/build.sh into a temporary
folder (never the repository's dist/ or build/), shared by the pytest-xdist
workers through a file lock, and then run headless.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
RESOURCES = REPO / "resources"
ICONS = RESOURCES / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MIME_TYPE = "application/x-vmmemviz-scenario"
SESSION_TYPE = "application/x-vmmemviz-session"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.update(extra)
    return env


def _tool(name: str) -> str:
    """Path of a system tool the test needs; CI must have it (the Makefile installs it)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (make sysdeps installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def _qimage(path: Path):
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable image"
    return image


def _colours(image, step: int = 4) -> set[int]:
    return {image.pixel(x, y) for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)}


# --- the icon ---------------------------------------------------------------------

def test_icon_pngs_exist_at_every_size_and_are_drawn():
    for size in PNG_SIZES:
        image = _qimage(ICONS / f"vmmemviz-{size}.png")
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        assert len(_colours(image, step=1 if size < 64 else 4)) >= 6, f"{size} px looks blank"
        # rounded corners: the corner pixel is (nearly) transparent, the centre opaque
        assert image.pixelColor(0, 0).alpha() < 64
        assert image.pixelColor(size // 2, size // 2).alpha() == 255


def test_icon_pngs_are_up_to_date_with_the_svg(tmp_path):
    """render_icons.py renders the committed PNGs again (within antialiasing noise)."""
    subprocess.run([sys.executable, str(PACKAGING / "render_icons.py"), "--out", str(tmp_path)],
                   check=True, env=_env(), capture_output=True, timeout=120)
    for size in PNG_SIZES:
        fresh, committed = _qimage(tmp_path / f"vmmemviz-{size}.png"), _qimage(ICONS / f"vmmemviz-{size}.png")
        assert fresh.size() == committed.size()
        step = max(1, size // 32)
        diffs = [abs(fresh.pixelColor(x, y).red() - committed.pixelColor(x, y).red())
                 + abs(fresh.pixelColor(x, y).alpha() - committed.pixelColor(x, y).alpha())
                 for x in range(0, size, step) for y in range(0, size, step)]
        assert sum(diffs) / len(diffs) < 4, f"vmmemviz-{size}.png differs from the SVG: rerun render_icons.py"


@pytest.mark.parametrize("name, sizes", [
    ("vmmemviz.ico", [16, 24, 32, 48, 64, 128, 256]),
    ("vmmemviz.icns", [16, 32, 64, 128, 256, 512, 1024, 32, 64, 256, 512]),
])
def test_ico_and_icns_hold_every_size(name, sizes):
    from PySide6.QtGui import QImageReader

    reader = QImageReader(str(ICONS / name))
    assert reader.canRead(), reader.errorString()
    found = []
    for i in range(reader.imageCount()):
        reader.jumpToImage(i)
        found.append(reader.read().width())
    assert found == sizes


# --- desktop entry and MIME type ---------------------------------------------------

def _desktop_entry(path: Path) -> dict[str, str]:
    entry = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entry[key] = value
    return entry


def test_desktop_file_validates_and_opens_scenarios_and_sessions():
    validate = _tool("desktop-file-validate")
    result = subprocess.run([validate, str(RESOURCES / "vmmemviz.desktop")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
    entry = _desktop_entry(RESOURCES / "vmmemviz.desktop")
    assert entry["Exec"] == "vmmemviz %f"
    assert entry["Icon"] == "vmmemviz"
    assert entry["MimeType"] == f"{MIME_TYPE};{SESSION_TYPE};"


def test_mime_xml_claims_only_the_scenario_and_session_globs():
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(RESOURCES / "vmmemviz-mime.xml").getroot()
    types = root.findall("m:mime-type", ns)
    assert [t.get("type") for t in types] == [MIME_TYPE, SESSION_TYPE]
    assert [[g.get("pattern") for g in t.findall("m:glob", ns)] for t in types] == \
        [["*.vmmemviz.toml"], ["*.vmmemviz"]]


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def test_install_desktop_then_uninstall_leaves_the_folder_as_it_was(tmp_path):
    data = tmp_path / "share"
    (data / "applications").mkdir(parents=True)
    (data / "applications" / "other.desktop").write_text("[Desktop Entry]\n")
    before = _tree(data)
    bundle_exe = tmp_path / "with space" / "vmmemviz"
    bundle_exe.parent.mkdir()
    bundle_exe.write_text("#!/bin/sh\n")
    bundle_exe.chmod(0o755)
    env = _env(XDG_DATA_HOME=str(data))
    script = str(PACKAGING / "install-desktop.sh")

    subprocess.run(["bash", script, "--exec", str(bundle_exe)], check=True, env=env,
                   capture_output=True, timeout=60)
    desktop = data / "applications" / "vmmemviz.desktop"
    assert _desktop_entry(desktop)["Exec"] == f'"{bundle_exe}" %f'
    for size in PNG_SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "vmmemviz.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "vmmemviz.svg").is_file()
    assert (data / "mime" / "packages" / "vmmemviz-mime.xml").is_file()
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout
    if shutil.which("update-mime-database"):
        # What a file manager would do: ask the MIME database what a scenario / session file is.
        probe = ("from PySide6.QtCore import QMimeDatabase as D; d = D(); "
                 "print(*(d.mimeTypeForFile(f, D.MatchMode.MatchExtension).name() "
                 "for f in ('tour.vmmemviz.toml', 'figure.vmmemviz')))")
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        assert out == [MIME_TYPE, SESSION_TYPE]
        cache = (data / "applications" / "mimeinfo.cache").read_text()
        assert MIME_TYPE in cache and SESSION_TYPE in cache

    subprocess.run(["bash", script, "--uninstall"], check=True, env=env, capture_output=True, timeout=60)
    assert _tree(data) == before


# --- About box -------------------------------------------------------------------

def test_about_box_shows_icon_version_versions_and_credits(qtbot, monkeypatch):
    import lz4
    import numpy
    import PySide6
    import pyqtgraph
    from PySide6 import QtCore, QtWidgets

    import vmmemviz
    from vmmemviz.ui import about

    box = about.about_box(None)
    qtbot.addWidget(box)
    text = box.text()
    assert f"vmmemviz {vmmemviz.__version__}" in text
    for version in (QtCore.qVersion(), PySide6.__version__, pyqtgraph.__version__,
                    numpy.__version__, lz4.__version__, sys.version.split()[0]):
        assert version in text
    assert "Waldspurger" in text and "OSDI 2002" in text and "Simon Greaves" in text
    assert not box.iconPixmap().isNull()
    box.show()
    qtbot.waitExposed(box)
    assert len(_colours(box.grab().toImage(), step=4)) > 3

    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "exec", lambda self: shown.append(self.windowTitle()) or 0)
    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    about.show_about(parent)
    assert shown == ["About vmmemviz"]


# --- the frozen bundle -------------------------------------------------------------

def _build_bundle(root: Path) -> Path:
    """Build dist/vmmemviz/ under root with packaging/build.sh and return it."""
    result = subprocess.run(
        ["bash", str(PACKAGING / "build.sh"), "--distpath", str(root / "dist"),
         "--workpath", str(root / "work")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        # own PyInstaller cache: never shared with a build running elsewhere
        env=_env(PYINSTALLER_CONFIG_DIR=str(root / "pyinstaller-config"),
                 VMMEMVIZ_PYTHON=sys.executable),  # the interpreter running the tests
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    shutil.rmtree(root / "work", ignore_errors=True)
    return root / "dist" / "vmmemviz"


@pytest.fixture(scope="session")
def bundle(tmp_path_factory, request) -> Path:
    """The bundle, built once per run even when several xdist workers ask for it."""
    pytest.importorskip("PyInstaller")
    if not hasattr(request.config, "workerinput"):  # not an xdist worker
        return _build_bundle(tmp_path_factory.mktemp("bundle"))
    root = tmp_path_factory.getbasetemp().parent / "vmmemviz-bundle"  # shared by this run's workers
    root.mkdir(exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = root / "built"
            if not done.exists():
                _build_bundle(root)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root / "dist" / "vmmemviz"


def test_bundle_builds_and_is_trimmed(bundle):
    # its build time is a benchmark (bench/bundle_bench.py), not asserted here: a loaded
    # machine took 242 s where a quiet one takes about 16 s
    assert os.access(bundle / "vmmemviz", os.X_OK)
    internal = bundle / "_internal"
    assert (internal / "vmmemviz" / "resources" / "icons" / "vmmemviz.svg").is_file()
    assert (internal / "vmmemviz" / "resources" / "vmmemviz.desktop").is_file()
    for scenario in (RESOURCES / "scenarios").glob("*.toml"):
        assert (internal / "vmmemviz" / "resources" / "scenarios" / scenario.name).is_file()
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    names = {p.name for p in files}
    for unwanted in ("libQt6Qml.so.6", "libQt6Quick.so.6", "libQt6Pdf.so.6", "libQt6Network.so.6",
                     "libQt6WebEngineCore.so.6", "libQt6Multimedia.so.6", "libqeglfs.so",
                     "libqvnc.so", "libqgtk3.so", "QtTest.abi3.so", "QtNetwork.abi3.so"):
        assert unwanted not in names, f"{unwanted} should be trimmed"
    translations = [p.name for p in files if p.suffix == ".qm"]
    assert all(name.endswith("_en.qm") for name in translations), translations
    assert not [p for p in bundle.rglob("*") if p.is_symlink() and not p.exists()], "dangling links"
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    assert size_mb < 210, f"bundle is {size_mb:.0f} MB (trimmed: about 180 MB)"


def test_frozen_app_selftest_renders_headless(bundle, tmp_path):
    """The frozen Qt/pyqtgraph/numpy/lz4 stack works with the trimmed plugins."""
    out = tmp_path / "selftest.png"
    result = subprocess.run([str(bundle / "vmmemviz")], capture_output=True, text=True, timeout=120,
                            env=_env(VMMEMVIZ_BUNDLE_SELFTEST=str(out)))
    assert result.returncode == 0 and "selftest ok" in result.stdout, result.stdout + result.stderr
    assert len(_colours(_qimage(out))) >= 3


def test_bundle_installs_its_own_desktop_entry(bundle, tmp_path):
    """dist/vmmemviz/install-desktop.sh points the launcher at that bundle, and undoes it."""
    data = tmp_path / "share"
    data.mkdir()
    env = _env(XDG_DATA_HOME=str(data))
    subprocess.run(["bash", str(bundle / "install-desktop.sh")], check=True, env=env,
                   capture_output=True, timeout=60)
    entry = _desktop_entry(data / "applications" / "vmmemviz.desktop")
    assert entry["Exec"] == f'"{bundle / "vmmemviz"}" %f'
    assert (data / "icons" / "hicolor" / "48x48" / "apps" / "vmmemviz.png").is_file()
    subprocess.run(["bash", str(bundle / "install-desktop.sh"), "--uninstall"], check=True,
                   env=env, capture_output=True, timeout=60)
    assert _tree(data) == {}


def test_frozen_app_prints_its_version(bundle):
    import vmmemviz

    result = subprocess.run([str(bundle / "vmmemviz"), "--version"], capture_output=True,
                            text=True, timeout=60, env=_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"vmmemviz {vmmemviz.__version__}"


def test_frozen_app_exports_a_png_of_a_built_in_tour(bundle, tmp_path):
    """`vmmemviz export TOUR --at N --format png --out PATH`, from the frozen app, headless."""
    out = tmp_path / "translation.png"
    result = subprocess.run(
        [str(bundle / "vmmemviz"), "export", "translation", "--at", "5", "--format", "png",
         "--out", str(out)],
        capture_output=True, text=True, timeout=180, env=_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = _qimage(out)
    assert image.width() >= 320 and image.height() >= 200
    assert len(_colours(image, step=4)) >= 5, "the exported PNG looks blank"
    background = image.pixel(0, 0)
    samples = [image.pixel(x, y) for x in range(0, image.width(), 4) for y in range(0, image.height(), 4)]
    drawn = sum(p != background for p in samples) / len(samples)
    assert drawn > 0.05, f"only {drawn:.1%} of the exported PNG differs from its background"
