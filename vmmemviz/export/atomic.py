"""Atomic output: a reader never sees a half-written export, whatever happens.

Every file is written to a hidden temp file in the same folder and renamed over the
target at the end; a set of numbered PNGs is written into a hidden temp folder that then
takes the target folder's place. On an error or a cancel the temp file or folder is
removed and the target is left as it was. Temp files and folders are created with the
usual modes (0o666 / 0o777), so the process umask applies as to any new file; the umask
is never read or changed.
"""
from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path


def _parent(path: Path) -> Path:
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"{parent}: no such folder")
    return parent


def _fresh(folder: Path, name: str, suffix: str, make) -> Path:
    """A new hidden path in ``folder`` made by ``make(path)`` (which fails if it exists)."""
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(4)}{suffix}"
        try:
            make(tmp)
            return tmp
        except FileExistsError:
            continue


def _new_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


@contextmanager
def atomic_file(path):
    """Yield a temp path beside ``path``; on success it becomes ``path``."""
    path = Path(path)
    tmp = _fresh(_parent(path), path.name, ".part", _new_file)
    try:
        yield tmp
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
    tmp = _fresh(_parent(path), path.name, ".part", os.mkdir)
    try:
        yield tmp
        if path.exists():
            old = _fresh(path.parent, path.name, ".old", os.mkdir)
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
