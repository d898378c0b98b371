"""Raw guest memory image (QEMU ``pmemsave``, a bare VMware ``.vmem``).

No header: byte offset = guest physical address, so page ``i`` of the file is GPPN ``i``.
The size must be a whole number of 4 KiB pages.
"""
from __future__ import annotations

from vmmemviz.errors import InputError

from ._base import PAGE, GuestImage, Region, file_size


class RawImage(GuestImage):
    kind = "raw"

    def __init__(self, path: str):
        size = file_size(path)
        if size == 0:
            raise InputError(f"{path}: size: expected a raw guest memory image, got an empty file")
        if size % PAGE:
            raise InputError(f"{path}: size: expected a multiple of 4096 bytes (raw image, offset = "
                             f"guest physical address), got {size} (truncated?)")
        super().__init__(path, [Region(0, size // PAGE, 0)])
