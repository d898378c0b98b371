"""Session files written atomically, and drawn as figures: exactly the saved view.

The format is ``vmmemviz.model.config.session``; this module writes it (a reader never
sees half a file) and renders it: the session's position, its selection's chain, its
theme and band, its zoom (the part of the picture in view, laid out for the window's
shape) and its figure options.
"""
from __future__ import annotations

from vmmemviz.model.config import session as SS
from .atomic import atomic_file


def save(path, session: SS.Session) -> None:
    """``session`` to ``path`` as TOML, atomically."""
    text = SS.dumps(session)
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
