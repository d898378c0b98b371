"""Atomic output: a reader never sees a half-written export, whatever happens.

Every file is written to a hidden temp file in the same folder and renamed over the
target at the end; a set of numbered PNGs is written into a hidden temp folder that then
takes the target folder's place. On an error or a cancel the temp file or folder is
removed and the target is left as it was.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

_UMASK = os.umask(0o022)   # read once (os.umask can only be read by setting it)
os.umask(_UMASK)


def _parent(path: Path) -> Path:
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"{parent}: no such folder")
    return parent


@contextmanager
def atomic_file(path):
    """Yield a temp path beside ``path``; on success it becomes ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=_parent(path))
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path):
    """Yield a temp folder beside ``path``; on success it replaces the folder ``path``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path}: exists and is not a folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=_parent(path)))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
