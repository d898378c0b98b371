"""Smoke test of a frozen bundle, run inside it: `VMMEMVIZ_BUNDLE_SELFTEST=OUT.png vmmemviz`.

It checks what trimming Qt could break, independently of what the CLI does:
the scientific stack imports and works (numpy, lz4 round trip), Qt starts on the
current platform (offscreen in tests, xcb/wayland on a desktop), the SVG image
format and icon engine plugins load, the bundled resources are found, and a
pyqtgraph ImageItem page grid and the About box render to a non-blank image,
saved to OUT.png. Prints one line per check and `selftest ok` at the end; exits
non-zero on the first failure.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def _check(label: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {label}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        raise SystemExit(1)


def run(out: str) -> int:
    import lz4.frame
    import numpy as np

    data = np.arange(4096, dtype=np.uint8).tobytes() * 4
    _check("lz4 round trip", lz4.frame.decompress(lz4.frame.compress(data)) == data)
    m = np.random.default_rng(1).random((64, 64)) + 64 * np.eye(64)
    _check("numpy linear algebra (BLAS)", np.allclose(m @ np.linalg.inv(m), np.eye(64)))

    try:
        from PIL import Image
    except ImportError:  # not a dependency (yet): nothing to check
        Image = None
    if Image is not None:
        import io

        frames = [Image.new("RGB", (8, 8), c) for c in ((0, 114, 178), (230, 159, 0))]
        for fmt in ("GIF", "PNG"):  # GIF and APNG (an animated PNG) exports
            buf = io.BytesIO()
            frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100)
            buf.seek(0)
            _check(f"Pillow animated {fmt}", getattr(Image.open(buf), "n_frames", 1) == 2)

    from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

    import pyqtgraph as pg
    import vmmemviz

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    _check("Qt platform", bool(app.platformName()), app.platformName())
    _check("vmmemviz version", vmmemviz.__version__ != "0+unknown", vmmemviz.__version__)

    from vmmemviz.assets import ROOT as resources
    svg = resources / "icons" / "vmmemviz.svg"
    _check("icon resources", svg.is_file() and (resources / "icons" / "vmmemviz-64.png").is_file())
    scenarios = sorted((resources / "scenarios").glob("*.toml"))
    print(f"info built-in scenarios: {len(scenarios)}")
    formats = {bytes(f.data()).decode() for f in QtGui.QImageReader.supportedImageFormats()}
    _check("image format plugins", {"svg", "png", "ico"} <= formats, " ".join(sorted(formats)))
    _check("QSvgRenderer", QtSvg.QSvgRenderer(str(svg)).isValid())
    icon = QtGui.QIcon(str(svg))
    _check("SVG icon engine", not icon.pixmap(32, 32).isNull())

    # A page grid the way the app draws one: a uint8 array through a lookup table.
    lut = np.array([[29, 41, 53], [0, 114, 178], [230, 159, 0], [0, 158, 115]], dtype=np.uint8)
    grid = (np.arange(64 * 64).reshape(64, 64) // 7 % 4).astype(np.uint8)
    view = pg.GraphicsLayoutWidget()
    view.resize(320, 320)
    vb = view.addViewBox(lockAspect=True)
    vb.addItem(pg.ImageItem(grid, lut=lut, levels=(0, 3)))
    vb.autoRange(padding=0)
    view.show()
    app.processEvents()
    image = view.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 8) for y in range(0, image.height(), 8)}
    _check("pyqtgraph page grid renders", len(colours) >= 3, f"{len(colours)} colours")
    view.close()

    from vmmemviz.ui import about

    box = about.about_box(None)
    box.show()
    app.processEvents()
    _check("about box renders", not box.grab().toImage().isNull(), box.windowTitle())
    box.close()

    if out:
        _check("save PNG", image.save(out, "PNG"), out)
    print(f"info Python {sys.version.split()[0]}, Qt {QtCore.qVersion()}, numpy {np.__version__}, "
          f"pyqtgraph {pg.__version__}, lz4 {lz4.library_version_string()}")
    print("selftest ok", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(os.environ.get("VMMEMVIZ_BUNDLE_SELFTEST", "")))
