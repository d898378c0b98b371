"""Where the assets are: ``resources/`` beside the package in a checkout; once installed
(wheel or bundle) the same folder is the data package ``vmmemviz/resources``."""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
# installed (pip install ., the PyInstaller bundle) first, then the checkout
ROOT = next((p for p in (_HERE / "resources", _HERE.parent / "resources") if (p / "scenarios").is_dir()),
            _HERE / "resources")


def asset(*parts: str) -> Path:
    """The path of one asset, e.g. ``asset("scenarios", "default.toml")``."""
    return ROOT.joinpath(*parts)
