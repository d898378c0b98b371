"""Output files, atomic: a reader never sees a half-written export, whatever happens.

Every file is written to a hidden temp file in the same folder and renamed over the
target at the end; a set of numbered PNGs is written into a hidden temp folder that then
takes the target folder's place. On an error or a cancel the temp file or folder is
removed and the target is left as it was. Temp files and folders are created with the
usual modes (0o666 / 0o777), so the process umask applies as to any new file; the umask
is never read or changed. ``out_file`` is ``atomic_file`` for an option or field the user
named: checked before any work (``check_out``), and any error writing it one line
(``writing``, also for the exports that write through ``atomic_file`` / ``atomic_dir``).
"""
from __future__ import annotations

import os
import secrets
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path

from vmmemviz.errors import InputError
from vmmemviz.inputfile import KINDS


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


def check_out(path, what: str, inputs=(), folder: bool = False) -> None:
    """Before any work: one line naming ``what`` (an option, a field) where ``path`` cannot
    become a file (``folder``: or a folder of frames): an empty or unusable name, no such
    folder or none that may be written in, a folder, FIFO or device there already (a rename
    would replace it with a file), or one of the files ``inputs`` the command reads (names of
    built-in scenarios are not files): writing it would replace what it was made from."""
    text = os.fspath(path)
    if not text:
        raise InputError(f"{what}: expected a file name, got an empty one")
    try:
        mode = os.stat(text).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:                # a name too long, a loop of links, ...
        raise InputError(f"{what}: cannot write {text}: {e.strerror or e}") from None
    if mode is not None and stat.S_ISDIR(mode) and not folder:
        raise InputError(f"{what}: cannot write {text}: a folder is there")
    if not folder and text.endswith((os.sep, os.altsep or os.sep)):     # "new/" was written as "new"
        raise InputError(f"{what}: cannot write {text}: expected a file name, got a folder's (it ends in {os.sep})")
    if mode is not None and not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
        kind = next((name for test, name in KINDS if test(mode)), "not a regular file")
        raise InputError(f"{what}: cannot write {text}: {kind} is there (expected a new name or a regular file)")
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise InputError(f"{what}: cannot write {text}: no such folder {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what}: cannot write {text}: no permission to write in {parent}")
    if mode is None:
        return                          # a new name is none of the inputs
    for inp in inputs:
        if inp is not None and os.path.isfile(inp) and os.path.samefile(text, inp):
            raise InputError(f"{what}: {text} is the input {os.fspath(inp)}; writing it would replace it: "
                             f"choose another file")


@contextmanager
def writing(path, what: str):
    """Any error writing ``path`` in the block (no permission, disk full, a name too long)
    as one line naming ``what``."""
    try:
        yield
    except OSError as e:
        raise InputError(f"{what}: cannot write {os.fspath(path)}: {e.strerror or e}") from None


@contextmanager
def out_file(path, what: str, inputs=()):
    """``atomic_file`` checked first (``check_out``, against the files ``inputs`` too), and any
    error writing it one line naming ``what`` (``writing``): the target is left as it was."""
    check_out(path, what, inputs)
    with writing(path, what), atomic_file(path) as tmp:
        yield tmp


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
