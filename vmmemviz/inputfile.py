"""Open an input file the one safe way every reader uses: ``open_input(path)``.

Only regular files are read. The file is opened with ``O_NONBLOCK`` and checked with
``fstat`` before any read, so a FIFO, a device or a directory given as a scenario, guest
image, ``.vmss``, trace or esxtop capture is refused at once with one line instead of
blocking in ``open()`` or ``read()``. A path with a NUL character is refused too.
"""
from __future__ import annotations

import errno
import io
import os
import stat

from vmmemviz.errors import InputError

KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),     # (outputfile's too)
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISSOCK, "a socket"))
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def open_input(path: str | os.PathLike, missing: str = "", denied: str = "") -> io.BufferedReader:
    """``path`` opened for binary reading; InputError (one line) unless it is a regular file.

    ``missing`` / ``denied`` replace the reason when the file does not exist / may not be read.
    """
    p = os.fspath(path)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if "\0" in p:
        raise InputError(f"{p}: expected a file path, got one with a NUL character")
    try:
        fd = os.open(p, _FLAGS)
    except OSError as e:
        reason = {errno.ENOENT: missing, errno.EACCES: denied, errno.EPERM: denied}.get(e.errno)
        raise InputError(f"{p}: {reason or 'cannot open: ' + (e.strerror or str(e))}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in KINDS if test(mode)), "not a regular file")
            raise InputError(f"{p}: expected a regular file, got {kind}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def input_size(path: str | os.PathLike) -> int:
    """Size in bytes of the regular file ``path`` (InputError otherwise)."""
    with open_input(path) as f:
        return os.fstat(f.fileno()).st_size
